import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLatchkey, type Latchkey } from '../../src/app.js';
import type { Clock } from '../../src/core/clock.js';
import { buildHttpServer } from '../../src/http/server.js';
import { bootstrap } from '../../src/registry/bootstrap.js';
import { openSqliteStorage } from '../../src/storage/sqlite/adapter.js';
import type { FastifyInstance } from 'fastify';
import { loadApis } from '../../src/resource-server/load.js';

export interface TestServer {
  readonly url: string;
  readonly dbPath: string;
  readonly dir: string;
  readonly latchkey: Latchkey;
  readonly http: FastifyInstance;
  close(): Promise<void>;
}

/** A real Latchkey on a loopback port over a fresh SQLite file. */
/** `apisDir`: a folder of API modules to serve (loaded exactly as `latchkey serve --apis` does). */
export async function startTestServer(options: { clock?: Clock; pollMs?: number; bodyLimit?: number; apisDir?: string } = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-test-'));
  const dbPath = join(dir, 'latchkey.db');
  const storage = openSqliteStorage({ path: dbPath });
  const clock = options.clock ?? { now: () => Date.now() };
  await bootstrap({ storage, clock }, 'admin-password-for-tests');
  const router = options.apisDir === undefined ? undefined : await loadApis(options.apisDir, { required: true });
  const latchkey = createLatchkey({ storage, clock, pollMs: options.pollMs ?? 100, ...(router === undefined ? {} : { router }) });
  await latchkey.start();
  const http = await buildHttpServer(latchkey, { bodyLimit: options.bodyLimit ?? 16 * 1024 });
  const address = await http.listen({ port: 0, host: '127.0.0.1' });
  return {
    url: address,
    dbPath,
    dir,
    latchkey,
    http,
    async close() {
      await http.close();
      await latchkey.stop();
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
