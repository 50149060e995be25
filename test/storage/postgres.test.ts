/**
 * The PostgreSQL adapter against the machine's real PostgreSQL (LATCHKEY_TEST_PG, see
 * test/helpers/postgres.ts): the storage contract, then what only a networked, multi-instance
 * database has to get right — migrations racing, group commit, connections failing.
 */
import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { ForwardingProxy } from '../helpers/forwarding-proxy.js';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { ConfigError } from '../../src/config/config.js';
import { openStorage } from '../../src/storage/open.js';
import { openPostgresStorage } from '../../src/storage/postgres/adapter.js';
import { PgWriteBatcher } from '../../src/storage/postgres/batcher.js';
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION, SchemaTooNewError, migratePostgres } from '../../src/storage/postgres/migrations.js';
import { type NewTokenRecord, type Refusal } from '../../src/domain/model.js';
import { StorageError, type Storage } from '../../src/storage/types.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/postgres.js';
import { makeApp, makeCode, makeRefusal, makeSigningKey, makeToken, makeUser, rejectsWith, runStorageContract } from './contract.js';

const ALL_VERSIONS = POSTGRES_MIGRATIONS.map((m) => m.version);

// A fresh database per test: complete isolation (schema, change version) and the migrations run
// every time. The contract closes the storage in its afterEach before calling cleanup.
runStorageContract('postgres', async () => {
  const db = await createTestDatabase();
  try {
    return { storage: await openPostgresStorage({ url: db.url }), cleanup: () => db.drop() };
  } catch (error) {
    await db.drop();
    throw error;
  }
});

/** Databases created by the tests below, dropped at the end even when a test fails. */
const created: TestDatabase[] = [];
async function freshDatabase(): Promise<TestDatabase> {
  const db = await createTestDatabase();
  created.push(db);
  return db;
}
after(async () => {
  await Promise.all(created.map((db) => db.drop()));
});

async function withStorage<T>(url: string, fn: (s: Storage) => Promise<T>): Promise<T> {
  const s = await openPostgresStorage({ url });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

const appliedVersions = async (db: TestDatabase): Promise<number[]> =>
  (await sql<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version', [], db.url)).map((r) => r.version);

/** Rejects (or resolves) within `ms`, or fails the test: nothing may hang. */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('postgres migrations', () => {
  it('applies every migration once, and a second open applies none', async () => {
    const db = await freshDatabase();
    await withStorage(db.url, async () => undefined);
    await withStorage(db.url, async () => undefined);
    assert.deepEqual(await appliedVersions(db), ALL_VERSIONS);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      assert.deepEqual(await migratePostgres(client), []);
    } finally {
      await client.end();
    }
  });

  it('lets instances starting together on a fresh database all succeed, migrating exactly once', async () => {
    const db = await freshDatabase();
    const stores = await Promise.all([1, 2, 3].map(() => openPostgresStorage({ url: db.url })));
    try {
      assert.deepEqual(await appliedVersions(db), ALL_VERSIONS);
      await Promise.all(stores.map((s) => s.ping()));
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
    // The same race one level down: exactly one of the racers applies the steps.
    const db2 = await freshDatabase();
    const clients = [1, 2, 3, 4].map(() => new pg.Client({ connectionString: db2.url }));
    await Promise.all(clients.map((c) => c.connect()));
    try {
      const applied = await Promise.all(clients.map((c) => migratePostgres(c)));
      assert.deepEqual(applied.flat().sort((a, b) => a - b), ALL_VERSIONS);
      assert.equal(applied.filter((a) => a.length > 0).length, 1);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    assert.deepEqual(await appliedVersions(db2), ALL_VERSIONS);
  });

  it('refuses a database written by a newer Latchkey', async () => {
    const db = await freshDatabase();
    await withStorage(db.url, async () => undefined);
    await sql('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [POSTGRES_SCHEMA_VERSION + 1, 'future', Date.now()], db.url);
    await assert.rejects(openPostgresStorage({ url: db.url }), (e: unknown) => e instanceof SchemaTooNewError && /newer than this Latchkey/.test(e.message));
    await assert.rejects(openStorage(db.url), (e: unknown) => e instanceof ConfigError && e.code === 'config.db_open_failed' && /newer than this Latchkey/.test(e.message));
  });

  it('upgrades a version-1 database: applications keep their rows, with no keys, audience or logo and no introspection', async () => {
    const db = await freshDatabase();
    const app = makeApp({ tokenFormat: 'opaque' });
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
      await client.query(POSTGRES_MIGRATIONS[0]!.sql);
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, $1, 0)', [POSTGRES_MIGRATIONS[0]!.name]);
      await client.query(
        `INSERT INTO applications (id, client_id, name, secret_hash, secret_rotated_at, active, public, grant_types, redirect_uris, scopes,
           access_token_lifespan, refresh_token_lifespan, token_format, app_user_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
        [app.id, app.clientId, app.name, app.secretHash, app.secretRotatedAt, app.active, app.public, [...app.grantTypes], [...app.redirectUris], [...app.scopes],
          app.accessTokenLifespan, app.refreshTokenLifespan, app.tokenFormat, app.appUserId, app.createdAt, app.updatedAt],
      );
    } finally {
      await client.end();
    }
    await withStorage(db.url, async (s) => {
      assert.deepEqual(await s.schemaVersion(), { current: POSTGRES_SCHEMA_VERSION, expected: POSTGRES_SCHEMA_VERSION });
      // An application from before OpenID Connect names no ID token algorithm (null: RS256).
      assert.deepEqual(await s.applications.byId(app.id), { ...app, idTokenAlg: null });
      assert.deepEqual(await s.keys.list(), []);
    });
    assert.deepEqual(await appliedVersions(db), ALL_VERSIONS);
  });

  it('is what openStorage opens for a postgres:// location', async () => {
    const db = await freshDatabase();
    const s = await openStorage(db.url);
    try {
      assert.equal(s.kind, 'postgres');
      await s.ping();
    } finally {
      await s.close();
    }
  });
});

describe('postgres group commit and instances', () => {
  let db: TestDatabase;
  let s: Storage;
  before(async () => {
    db = await freshDatabase();
    s = await openPostgresStorage({ url: db.url });
  });
  after(async () => {
    await s?.close();
  });

  it('commits inserts queued together, failing only the caller with a bad row', async () => {
    const taken = makeToken();
    await s.tokens.insert([taken]);
    const good = Array.from({ length: 50 }, () => [makeToken(), makeToken({ kind: 'access' })]);
    const clash = [makeToken(), makeToken({ hash: taken.hash })];
    const dup = makeToken();
    const selfClash = [dup, { ...dup }];
    const refusals = Array.from({ length: 10 }, () => makeRefusal());
    const results = await Promise.allSettled([
      ...good.map((pair) => s.tokens.insert(pair)),
      s.tokens.insert(clash),
      s.tokens.insert(selfClash),
      ...refusals.map((r) => s.refusals.record(r)),
      s.refusals.record(refusals[0]!),
    ]);
    const statuses = results.map((r) => r.status);
    assert.deepEqual(statuses.slice(0, 50), good.map(() => 'fulfilled'));
    for (const r of [results[50], results[51], results[62]]) {
      assert.equal(r?.status, 'rejected');
      assert.ok(r.status === 'rejected' && r.reason instanceof StorageError && r.reason.code === 'conflict', String(r.status === 'rejected' && r.reason));
    }
    assert.deepEqual(statuses.slice(52, 62), refusals.map(() => 'fulfilled'));
    for (const t of good.flat()) assert.equal((await s.tokens.byHash(t.hash))?.status, 'active');
    assert.equal(await s.tokens.byHash(clash[0]!.hash), undefined, "a caller's tokens are all or nothing");
    assert.equal(await s.tokens.byHash(dup.hash), undefined);
    for (const r of refusals) assert.deepEqual(await s.refusals.byRequestId(r.requestId), r);
  });

  it('inserts thousands of tokens in one call', async () => {
    const many = Array.from({ length: 5_000 }, (_, i) => makeToken({ issuedAt: 1_800_000_000_000 + i, scopes: i % 2 ? [] : ['a', `s${i}`] }));
    await s.tokens.insert(many);
    const rows = await sql<{ n: number }>('SELECT count(*)::int AS n FROM tokens WHERE issued_at >= 1800000000000', [], db.url);
    assert.equal(rows[0]?.n, 5_000);
    assert.deepEqual((await s.tokens.byHash(many[42]!.hash))?.scopes, ['a', 's42']);
    assert.deepEqual((await s.tokens.byHash(many[43]!.hash))?.scopes, []);
  });

  it('lets exactly one consumer win across instances, and each instance sees the other’s changes', async () => {
    const other = await openPostgresStorage({ url: db.url, poolSize: 3 });
    try {
      const old = makeToken();
      await s.tokens.insert([old]);
      const before = await other.changes.version();
      const replacements = Array.from({ length: 30 }, () => makeToken({ familyId: old.familyId }));
      const results = await Promise.all(replacements.map((r, i) => (i % 2 ? s : other).tokens.consumeRefresh(old.hash, i, [r])));
      assert.equal(results.filter((r) => r.outcome === 'consumed').length, 1);
      for (const r of results) if (r.outcome === 'not_active') assert.equal(r.token.status, 'rotated');
      const stored = await Promise.all(replacements.map((r) => other.tokens.byHash(r.hash)));
      assert.equal(stored.filter((t) => t !== undefined).length, 1);
      assert.ok((await other.changes.version()) > before);
      const v = await s.changes.version();
      await other.users.create(makeUser());
      assert.ok((await s.changes.version()) > v);
    } finally {
      await other.close();
    }
  });

  it('consumes a code and remembers a one-time id exactly once across instances', async () => {
    const other = await openPostgresStorage({ url: db.url, poolSize: 3 });
    try {
      const code = makeCode();
      await s.codes.insert(code);
      const consumed = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? s : other).codes.consume(code.hash, 1_000 + i)));
      assert.equal(consumed.filter((r) => r.outcome === 'consumed').length, 1);
      assert.equal(consumed.filter((r) => r.outcome === 'used').length, 29);
      const key = `jti-${Math.random()}`;
      const remembered = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? s : other).replay.remember(key, 2_000, 1_000)));
      assert.equal(remembered.filter(Boolean).length, 1);
      const takeover = await Promise.all(Array.from({ length: 30 }, (_, i) => (i % 2 ? s : other).replay.remember(key, 3_000, 2_000)));
      assert.equal(takeover.filter(Boolean).length, 1, 'exactly one takes over the expired entry');
    } finally {
      await other.close();
    }
  });

  it('serialises concurrent key rotations across instances: one unretired key, every other retired', async () => {
    const fresh = await freshDatabase();
    const [a, b] = await Promise.all([openPostgresStorage({ url: fresh.url }), openPostgresStorage({ url: fresh.url })]);
    try {
      const next = Array.from({ length: 12 }, (_, i) => makeSigningKey({ activatesAt: 100 + i }));
      await Promise.all(next.map((k, i) => (i % 2 ? a : b).keys.rotate(k, { retiresAt: k.activatesAt, publishUntil: k.activatesAt + 10 })));
      const keys = await a.keys.list();
      assert.equal(keys.length, 12);
      assert.equal(keys.filter((k) => k.retiresAt === null).length, 1, JSON.stringify(keys.map((k) => [k.kid, k.retiresAt])));
      // A failed rotation (duplicate kid) leaves the current key unretired and the connection usable.
      const current = keys.find((k) => k.retiresAt === null)!;
      await rejectsWith(b.keys.rotate({ ...current }, { retiresAt: 999, publishUntil: 1_000 }), 'conflict');
      assert.equal((await b.keys.list()).find((k) => k.kid === current.kid)?.retiresAt, null);
      await Promise.all(Array.from({ length: 12 }, () => b.ping()));
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });

  it('keeps the old token active when a replacement clashes', async () => {
    const old = makeToken();
    const existing = makeToken();
    await s.tokens.insert([old, existing]);
    const v = await s.changes.version();
    await rejectsWith(s.tokens.consumeRefresh(old.hash, 1, [makeToken(), makeToken({ hash: existing.hash })]), 'conflict');
    assert.equal((await s.tokens.byHash(old.hash))?.status, 'active');
    assert.equal(await s.changes.version(), v);
  });

  it('deletes a large expired backlog in chunks', async () => {
    const expired = Array.from({ length: 12_000 }, () => makeToken({ expiresAt: 5 }));
    await s.tokens.insert(expired);
    assert.equal(await s.tokens.deleteExpired(6), 12_000);
    assert.equal(await s.tokens.byHash(expired[0]!.hash), undefined);
  });

  it('commits pending writes on close, is idempotent, and refuses use afterwards', async () => {
    const s2 = await openPostgresStorage({ url: db.url });
    const t = makeToken();
    const r = makeRefusal();
    const pending = [s2.tokens.insert([t]), s2.refusals.record(r)];
    await Promise.all([s2.close(), s2.close()]);
    await Promise.all(pending);
    await s2.close();
    assert.ok(await s.tokens.byHash(t.hash));
    assert.deepEqual(await s.refusals.byRequestId(r.requestId), r);
    await rejectsWith(s2.ping(), 'unavailable');
    await rejectsWith(s2.tokens.insert([makeToken()]), 'unavailable');
    await rejectsWith(s2.users.byId('x'), 'unavailable');
  });

  it('recovers when the server ends its connections', async () => {
    await s.ping();
    await sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'latchkey'", [db.name]);
    // A connection killed while idle may fail the query that next picks it up, as unavailable.
    await s.ping().catch((e: unknown) => assert.ok(e instanceof StorageError && e.code === 'unavailable', String(e)));
    await new Promise((r) => setTimeout(r, 50));
    await s.ping();
    const t = makeToken();
    await s.tokens.insert([t]);
    assert.ok(await s.tokens.byHash(t.hash));
  });
});

describe('postgres group commit (batcher alone)', () => {
  type Call = { tokens: string[]; refusals: string[] };
  /** A batcher over a fake commit that records its calls and fails on the hashes in `bad`. */
  function harness(options: { bad?: Set<string>; unavailable?: boolean; maxInFlight?: number; delayMs?: number } = {}) {
    const calls: Call[] = [];
    let running = 0;
    let maxRunning = 0;
    const commit = async (tokens: readonly NewTokenRecord[], refusals: readonly Refusal[]): Promise<void> => {
      calls.push({ tokens: tokens.map((t) => t.hash), refusals: refusals.map((r) => r.requestId) });
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, options.delayMs ?? 1));
      running -= 1;
      if (options.unavailable) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
      if (tokens.some((t) => options.bad?.has(t.hash))) throw Object.assign(new Error('duplicate key'), { code: '23505' });
    };
    const translate = (e: unknown): unknown => new StorageError((e as { code?: string }).code === '23505' ? 'conflict' : 'unavailable', String(e));
    const batcher = new PgWriteBatcher(commit, translate, options.maxInFlight ?? 4);
    return { calls, batcher, maxRunning: () => maxRunning };
  }
  const write = (tokens: NewTokenRecord[] = [], refusals: Refusal[] = []) => ({ tokens, refusals });

  it('commits the writes of one event-loop turn in one call, resolving after it', async () => {
    const h = harness();
    const a = [makeToken(), makeToken()];
    const b = [makeToken()];
    const r = makeRefusal();
    let resolved = 0;
    const all = [h.batcher.enqueue(write(a)), h.batcher.enqueue(write(b)), h.batcher.enqueue(write([], [r]))].map((p) => p.then(() => void (resolved += 1)));
    assert.equal(h.calls.length, 0);
    assert.equal(resolved, 0);
    await Promise.all(all);
    assert.deepEqual(h.calls, [{ tokens: [...a, ...b].map((t) => t.hash), refusals: [r.requestId] }]);
    await h.batcher.enqueue(write([makeToken()]));
    assert.equal(h.calls.length, 2);
  });

  it('retries each caller alone after a failed batch, so only the bad caller fails', async () => {
    const bad = makeToken();
    const h = harness({ bad: new Set([bad.hash]) });
    const good1 = [makeToken()];
    const mixed = [makeToken(), bad];
    const good2 = [makeToken()];
    const results = await Promise.allSettled([good1, mixed, good2].map((t) => h.batcher.enqueue(write(t))));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal(h.calls.length, 4);
    assert.deepEqual(h.calls.slice(1).map((c) => c.tokens), [good1, mixed, good2].map((t) => t.map((x) => x.hash)));
  });

  it('does not retry one by one when the database is unavailable', async () => {
    const h = harness({ unavailable: true });
    const results = await Promise.allSettled([1, 2, 3].map(() => h.batcher.enqueue(write([makeToken()]))));
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof StorageError && r.reason.code === 'unavailable'));
    assert.equal(h.calls.length, 1);
  });

  it('fails the writes waiting for a slot with the commit that found the database unavailable', async () => {
    // One slot, held by a commit that ends unavailable (a connection timeout during a network cut):
    // what queued behind it fails with it, rather than waiting for a connection timeout of its own.
    const h = harness({ unavailable: true, maxInFlight: 1, delayMs: 30 });
    const first = h.batcher.enqueue(write([makeToken()]));
    await new Promise((r) => setImmediate(r));
    assert.equal(h.calls.length, 1);
    const queued = [h.batcher.enqueue(write([makeToken()])), h.batcher.enqueue(write([], [makeRefusal()]))];
    const results = await Promise.allSettled([first, ...queued]);
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof StorageError && r.reason.code === 'unavailable'), JSON.stringify(results));
    assert.equal(h.calls.length, 1, 'the queued writes were never committed on their own');
    // A write after the failure starts a commit of its own.
    await assert.rejects(h.batcher.enqueue(write([makeToken()])));
    assert.equal(h.calls.length, 2);
  });

  it('stops retrying one by one when the database becomes unavailable during the retries', async () => {
    const bad = makeToken();
    const calls: string[][] = [];
    const commit = async (tokens: readonly NewTokenRecord[]): Promise<void> => {
      calls.push(tokens.map((t) => t.hash));
      await new Promise((r) => setTimeout(r, 1));
      if (calls.length === 1) throw Object.assign(new Error('duplicate key'), { code: '23505' });
      if (tokens.some((t) => t.hash === bad.hash)) throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
    };
    const translate = (e: unknown): unknown => new StorageError((e as { code?: string }).code === '23505' ? 'conflict' : 'unavailable', String(e));
    const batcher = new PgWriteBatcher(commit, translate, 1);
    const writes = [[makeToken()], [bad], [makeToken()], [makeToken()]];
    const results = await Promise.allSettled(writes.map((t) => batcher.enqueue(write(t))));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'rejected', 'rejected']);
    assert.ok(results.slice(1).every((r) => r.status === 'rejected' && (r.reason as StorageError).code === 'unavailable'));
    assert.equal(calls.length, 3, 'the batch, then the first two alone: the last two not tried once the database was gone');
  });

  it('bounds commits in flight, batches what waits, and flushes everything', async () => {
    const h = harness({ maxInFlight: 2, delayMs: 20 });
    const pending: Promise<void>[] = [];
    for (let turn = 0; turn < 6; turn++) {
      for (let i = 0; i < 5; i++) pending.push(h.batcher.enqueue(write([makeToken()])));
      await new Promise((r) => setImmediate(r));
    }
    await h.batcher.flush();
    assert.equal(h.maxRunning(), 2);
    assert.equal(h.calls.flatMap((c) => c.tokens).length, 30);
    assert.ok(h.calls.length < 6, `writes that waited for a slot share a commit (${h.calls.length} commits)`);
    await Promise.all(pending);
  });

  it('starts a commit at once when the batch is full', async () => {
    const h = harness();
    const pending = Array.from({ length: 256 }, () => h.batcher.enqueue(write([makeToken()])));
    assert.equal(h.calls.length, 1);
    assert.equal(h.calls[0]?.tokens.length, 256);
    await Promise.all(pending);
  });
});


describe('postgres unreachable', () => {
  it('fails fast, as unavailable, when nothing listens (and openStorage names the host, not the password)', async () => {
    const started = Date.now();
    await rejectsWith(within(5_000, openPostgresStorage({ url: 'postgres://latchkey:s3cret-pw@127.0.0.1:1/latchkey' })), 'unavailable');
    await assert.rejects(within(5_000, openStorage('postgres://latchkey:s3cret-pw@127.0.0.1:1/latchkey')), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.code, 'config.db_unreachable');
      assert.match(e.message, /127\.0\.0\.1:1\/latchkey/);
      assert.match(e.message, /ECONNREFUSED/);
      assert.match(e.message, /running/);
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    });
    assert.ok(Date.now() - started < 5_000);
    await assert.rejects(openStorage('postgres://latchkey:s3cret-pw@[bad/latchkey'), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.code, 'config.invalid_db');
      assert.doesNotMatch(e.message, /s3cret/);
      return true;
    });
  });

  it('gives up on a server that accepts connections but never answers', async () => {
    const silent = new Set<Socket>();
    const server = createServer((sock) => {
      silent.add(sock);
      sock.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;
    try {
      const started = Date.now();
      await rejectsWith(within(5_000, openPostgresStorage({ url: `postgres://postgres@127.0.0.1:${port}/x` })), 'unavailable');
      assert.ok(Date.now() - started < 5_000);
    } finally {
      for (const sock of silent) sock.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('answers unavailable, not a hang, when a row stays locked past the statement timeout', async () => {
    const db = await freshDatabase();
    const s = await openPostgresStorage({ url: db.url, statementTimeoutMs: 300 });
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    try {
      const t = makeToken();
      await s.tokens.insert([t]);
      await locker.query('BEGIN');
      await locker.query('SELECT 1 FROM tokens WHERE hash = $1 FOR UPDATE', [t.hash]);
      await rejectsWith(within(3_000, s.tokens.consumeRefresh(t.hash, 1, [makeToken()])), 'unavailable');
      await rejectsWith(within(3_000, s.tokens.revoke(t.hash, 1)), 'unavailable');
      await locker.query('ROLLBACK');
      assert.equal((await s.tokens.consumeRefresh(t.hash, 1, [])).outcome, 'consumed');
    } finally {
      await locker.end();
      await s.close();
    }
  });

  it('answers unavailable when the server goes away after open, and recovers when it is back', async () => {
    const db = await freshDatabase();
    const admin = new URL(db.url);
    const proxy = new ForwardingProxy({ host: admin.hostname, port: Number(admin.port || 5432) });
    await proxy.start();
    const via = new URL(db.url);
    via.hostname = '127.0.0.1';
    via.port = String(proxy.port);
    const s = await openPostgresStorage({ url: via.toString(), statementTimeoutMs: 500, connectTimeoutMs: 1_000 });
    try {
      const t = makeToken();
      await s.tokens.insert([t]);
      // Stops forwarding: queries on open connections get no answer.
      proxy.silent = true;
      await rejectsWith(within(4_000, s.tokens.byHash(t.hash)), 'unavailable');
      await rejectsWith(within(4_000, s.tokens.insert([makeToken()])), 'unavailable');
      proxy.silent = false;
      // Gone altogether: connections cut, new ones refused.
      await proxy.stop();
      await rejectsWith(within(4_000, s.ping()), 'unavailable');
      await rejectsWith(within(4_000, s.tokens.consumeRefresh(t.hash, 1, [])), 'unavailable');
      await rejectsWith(within(4_000, s.refusals.record(makeRefusal())), 'unavailable');
      await proxy.start(proxy.port);
      await within(4_000, s.ping());
      assert.equal((await s.tokens.consumeRefresh(t.hash, 1, [])).outcome, 'consumed');
    } finally {
      await within(4_000, s.close());
      await proxy.stop();
    }
  });
});
