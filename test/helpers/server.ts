import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLatchkey, type Latchkey } from '../../src/app.js';
import type { Clock } from '../../src/core/clock.js';
import type { FilesAtRest } from '../../src/diagnostics/checks-files.js';
import { buildHttpServer } from '../../src/http/server.js';
import { bootstrap, ensureConsoleApplication } from '../../src/registry/bootstrap.js';
import { openStorage } from '../../src/storage/open.js';
import { openSqliteStorage } from '../../src/storage/sqlite/adapter.js';
import type { Storage } from '../../src/storage/types.js';
import type { FastifyInstance } from 'fastify';
import { loadApis } from '../../src/resource-server/load.js';
import type { GrantModule } from '../../src/grants/types.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export type TestStorageKind = 'sqlite' | 'postgres';

/**
 * The storage integration tests run on: LATCHKEY_TEST_STORAGE=postgres puts every test server on
 * its own throwaway database on the machine's PostgreSQL (test/helpers/postgres.ts); anything else
 * (or nothing) means a fresh SQLite file. scripts/run-tests.mjs runs the integration files once
 * each way.
 */
export function testStorageKind(env: NodeJS.ProcessEnv = process.env): TestStorageKind {
  const raw = (env.LATCHKEY_TEST_STORAGE ?? 'sqlite').trim().toLowerCase();
  if (raw === '' || raw === 'sqlite') return 'sqlite';
  if (raw === 'postgres' || raw === 'postgresql' || raw === 'pg') return 'postgres';
  throw new Error(`LATCHKEY_TEST_STORAGE must be sqlite or postgres (got "${env.LATCHKEY_TEST_STORAGE}")`);
}

export interface TestServer {
  readonly url: string;
  /** Which storage this server runs on (LATCHKEY_TEST_STORAGE). */
  readonly storageKind: TestStorageKind;
  /** The database location as `--db` takes it: the SQLite file path, or the PostgreSQL URL. */
  readonly db: string;
  /** The SQLite file, or the PostgreSQL URL on PostgreSQL (kept for older callers; prefer `db`). */
  readonly dbPath: string;
  /** A temporary folder owned by this server, removed on close (exists on both storages). */
  readonly dir: string;
  readonly latchkey: Latchkey;
  readonly http: FastifyInstance;
  close(): Promise<void>;
}

export interface TestServerOptions {
  clock?: Clock;
  pollMs?: number;
  bodyLimit?: number;
  /** A folder of API modules to serve (loaded exactly as `latchkey serve --apis` does). */
  apisDir?: string;
  /** Overrides LATCHKEY_TEST_STORAGE for this server (tests that read the SQLite file pass 'sqlite'). */
  storage?: TestStorageKind;
  /** The key-encryption key (default TEST_KEK); null for an instance without one (cannot sign JWTs). */
  kek?: string | null;
  /** A configured issuer (as --issuer); default: the listening address. */
  issuer?: string;
  /**
   * Another instance on an existing database (a TestServer's `db`): nothing is created or dropped,
   * the two share everything through the database, as instances behind a load balancer do.
   */
  shareDb?: { readonly db: string; readonly storageKind: TestStorageKind };
  /**
   * Sets latchkey.outbound.allow_private_networks to true before the server starts. The stand-in
   * identity providers and JWKS servers of the tests listen on 127.0.0.1 over http, which the
   * outbound rules refuse by default (src/outbound); tests that fetch from them switch this on.
   */
  allowPrivateNetworks?: boolean;
  /**
   * The local files the doctor checks (as `serve` passes them). Default on SQLite: the database
   * file, with the key-encryption key given as LATCHKEY_KEY_ENCRYPTION_KEY would be; none on PostgreSQL.
   */
  files?: FilesAtRest;
  /** Password-hashing bounds (core/password-hashing.ts); default: the machine's. */
  passwordHashing?: { concurrency?: number; maxQueue?: number };
  /** The grant catalogue (createLatchkey({ grants })); default the built-in grants. */
  grants?: readonly GrantModule[];
  /** The logger of the instance (createLatchkey({ logger })); default silent. */
  logger?: import('../../src/core/logger.js').Logger;
  /** Extra CA certificates (PEM) the outbound fetcher trusts (createLatchkey({ outboundCa })): a test https server's self-signed certificate. */
  outboundCa?: string;
}

/** The key-encryption key test servers use unless told otherwise. */
export const TEST_KEK = 'test-key-encryption-key-0123456789abcdef';

/**
 * A real Latchkey on a loopback port over fresh storage: a new SQLite file, or (with
 * LATCHKEY_TEST_STORAGE=postgres) a new PostgreSQL database that is dropped again on close.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const kind = options.shareDb?.storageKind ?? options.storage ?? testStorageKind();
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  let database: TestDatabase | undefined;
  let storage: Storage | undefined;
  let http: FastifyInstance | undefined;
  let latchkey: Latchkey | undefined;
  let db: string;
  /** Undoes whatever was set up so far; safe to call twice. */
  let closing: Promise<void> | undefined;
  const teardown = () =>
    (closing ??= (async () => {
      try {
        if (http !== undefined) await http.close();
        if (latchkey !== undefined) await latchkey.stop();
        if (storage !== undefined) await storage.close();
      } finally {
        try {
          if (database !== undefined) await database.drop();
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }
    })());
  try {
    if (options.shareDb !== undefined) {
      db = options.shareDb.db;
      storage = kind === 'postgres' ? await openStorage(db) : openSqliteStorage({ path: db, backgroundCheckpoints: {} });
    } else if (kind === 'postgres') {
      database = await createTestDatabase();
      db = database.url;
      storage = await openStorage(db);
    } else {
      db = join(dir, 'latchkey.db');
      // As `latchkey serve` opens it: WAL checkpoints in a worker thread (storage/sqlite/checkpointer.ts).
      storage = openSqliteStorage({ path: db, backgroundCheckpoints: {} });
    }
    const clock = options.clock ?? { now: () => Date.now() };
    await bootstrap({ storage, clock }, 'admin-password-for-tests');
    if (options.allowPrivateNetworks === true) await storage.properties.set('latchkey.outbound.allow_private_networks', 'true', clock.now());
    const router = options.apisDir === undefined ? undefined : await loadApis(options.apisDir, { required: true });
    const kek = options.kek === undefined ? TEST_KEK : options.kek;
    const files = options.files ?? (kind === 'sqlite' ? { database: db, kek: { source: 'env' as const } } : undefined);
    latchkey = createLatchkey({
      storage,
      clock,
      pollMs: options.pollMs ?? 100,
      ...(router === undefined ? {} : { router }),
      ...(kek === null ? {} : { kek }),
      ...(options.issuer === undefined ? {} : { issuer: options.issuer }),
      ...(files === undefined ? {} : { files }),
      ...(options.passwordHashing === undefined ? {} : { passwordHashing: options.passwordHashing }),
      ...(options.grants === undefined ? {} : { grants: options.grants }),
      ...(options.outboundCa === undefined ? {} : { outboundCa: options.outboundCa }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
    });
    await latchkey.start();
    http = await buildHttpServer(latchkey, { bodyLimit: options.bodyLimit ?? 16 * 1024 });
    const address = await http.listen({ port: 0, host: '127.0.0.1' });
    latchkey.setDefaultIssuer(address);
    await ensureConsoleApplication({ storage, clock }, latchkey.issuer());
    return { url: address, storageKind: kind, db, dbPath: db, dir, latchkey, http, close: teardown };
  } catch (error) {
    await teardown().catch(() => undefined);
    throw error;
  }
}
