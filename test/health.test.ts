/**
 * /healthz and /readyz for load balancers: ready over SQLite and PostgreSQL, unavailable (quickly,
 * with a reason) when the storage is unreachable, silent or on another schema, unavailable while
 * draining, and ready again by itself when the database returns. Servers are built here with
 * createLatchkey + buildHttpServer (not test/helpers/server.ts), so each test picks its storage.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { ForwardingProxy } from './helpers/forwarding-proxy.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createLatchkey } from '../src/app.js';
import { buildHttpServer, markDraining } from '../src/http/server.js';
import { bootstrap } from '../src/registry/bootstrap.js';
import { compileApi } from '../src/resource-server/compile.js';
import { defineApi } from '../src/resource-server/define.js';
import { ApiRouter } from '../src/resource-server/router.js';
import { createMemoryStorage } from '../src/storage/memory/adapter.js';
import { openPostgresStorage } from '../src/storage/postgres/adapter.js';
import { POSTGRES_SCHEMA_VERSION } from '../src/storage/postgres/migrations.js';
import { openSqliteStorage } from '../src/storage/sqlite/adapter.js';
import { SQLITE_SCHEMA_VERSION } from '../src/storage/sqlite/migrations.js';
import type { Storage } from '../src/storage/types.js';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server over `storage` on a loopback port; `close` stops it (the storage is the caller's). */
async function serve(storage: Storage, router?: ApiRouter) {
  await bootstrap({ storage, clock: { now: () => Date.now() } }, 'admin-password-for-tests').catch(() => undefined);
  const latchkey = createLatchkey({ storage, pollMs: 100, ...(router === undefined ? {} : { router }) });
  await latchkey.start().catch(() => undefined);
  const http = await buildHttpServer(latchkey, { bodyLimit: 16 * 1024 });
  const url = await http.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    http,
    async get(path: string, init: RequestInit = {}) {
      const started = Date.now();
      const res = await fetch(`${url}${path}`, init);
      const text = await res.text();
      return { status: res.status, headers: res.headers, body: text === '' ? undefined : (JSON.parse(text) as Record<string, unknown>), ms: Date.now() - started };
    },
    async close() {
      await http.close();
      await latchkey.stop();
    },
  };
}


async function eventually<T>(what: string, ms: number, probe: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (ok(v)) return v;
    if (Date.now() > until) assert.fail(`${what} within ${ms} ms (last: ${JSON.stringify(v)})`);
    await sleep(50);
  }
}

describe('health and readiness', () => {
  const dirs: string[] = [];
  const dbs: TestDatabase[] = [];
  after(async () => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
    await Promise.all(dbs.map((d) => d.drop()));
  });

  it('over SQLite: alive and ready with the storage kind and schema; draining makes it unready but still alive', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-health-'));
    dirs.push(dir);
    const storage = openSqliteStorage({ path: join(dir, 'h.db') });
    const server = await serve(storage);
    try {
      const health = await server.get('/healthz');
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: 'ok' });
      assert.equal(health.headers.get('cache-control'), 'no-store');
      const ready = await server.get('/readyz');
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.body, { status: 'ready', storage: 'sqlite', schema: SQLITE_SCHEMA_VERSION });
      assert.equal((await server.get('/readyz', { method: 'HEAD' })).status, 200);
      markDraining(server.http);
      const draining = await server.get('/readyz');
      assert.equal(draining.status, 503);
      assert.deepEqual(draining.body, { status: 'unavailable', reason: 'shutting down' });
      assert.equal(draining.headers.get('connection'), 'close', 'keep-alive clients are sent elsewhere');
      assert.equal((await server.get('/healthz')).status, 200);
    } finally {
      await server.close();
      await storage.close();
    }
  });

  it('answers 503 with a reason, within about a second, when the storage fails, hangs, or has another schema', async () => {
    const base = createMemoryStorage();
    let mode: 'ok' | 'reject' | 'hang' | 'newer' = 'ok';
    const storage: Storage = {
      ...base,
      ping: () => (mode === 'reject' ? Promise.reject(new Error('database unavailable (ECONNREFUSED)')) : mode === 'hang' ? new Promise(() => undefined) : Promise.resolve()),
      schemaVersion: async () => (mode === 'newer' ? { current: 3, expected: 2 } : { current: 1, expected: 1 }),
    };
    const server = await serve(storage);
    try {
      assert.deepEqual((await server.get('/readyz')).body, { status: 'ready', storage: 'memory', schema: 1 });
      mode = 'reject';
      const rejected = await server.get('/readyz');
      assert.equal(rejected.status, 503);
      assert.equal(rejected.body?.status, 'unavailable');
      assert.match(String(rejected.body?.reason), /unreachable: database unavailable \(ECONNREFUSED\)/);
      mode = 'hang';
      const hung = await server.get('/readyz');
      assert.equal(hung.status, 503);
      assert.match(String(hung.body?.reason), /did not answer within 1000 ms/);
      assert.ok(hung.ms >= 900 && hung.ms < 2_000, `answered in ${hung.ms} ms`);
      mode = 'newer';
      const newer = await server.get('/readyz');
      assert.equal(newer.status, 503);
      assert.match(String(newer.body?.reason), /schema is version 3, this Latchkey expects 2; .*upgrade this instance/);
      assert.equal((await server.get('/healthz')).status, 200, 'alive throughout');
      mode = 'ok';
      assert.equal((await server.get('/readyz')).status, 200);
    } finally {
      await server.close();
    }
  });

  it('over PostgreSQL: ready, 503 fast while the database is unreachable or silent, and ready again by itself when it returns', async () => {
    const db = await createTestDatabase();
    dbs.push(db);
    const real = new URL(db.url);
    const proxy = new ForwardingProxy({ host: real.hostname, port: Number(real.port || 5432) });
    await proxy.start();
    const via = new URL(db.url);
    via.hostname = '127.0.0.1';
    via.port = String(proxy.port);
    const storage = await openPostgresStorage({ url: via.toString(), connectTimeoutMs: 500, statementTimeoutMs: 500 });
    const server = await serve(storage);
    try {
      const ready = await server.get('/readyz');
      assert.deepEqual(ready.body, { status: 'ready', storage: 'postgres', schema: POSTGRES_SCHEMA_VERSION });
      await proxy.stop();
      const down = await server.get('/readyz');
      assert.equal(down.status, 503);
      assert.equal(down.body?.status, 'unavailable');
      assert.match(String(down.body?.reason), /postgres/);
      assert.ok(down.ms < 1_500, `answered in ${down.ms} ms`);
      // The token endpoint fails fast too, with a clear error rather than a hang.
      const started = Date.now();
      const token = await fetch(`${server.url}/oauth_token.do`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from('some-client:some-secret').toString('base64')}` },
        body: 'grant_type=client_credentials',
      });
      assert.equal(token.status, 503);
      assert.equal(((await token.json()) as { error: string }).error, 'temporarily_unavailable');
      assert.ok(Date.now() - started < 2_500, `token endpoint answered in ${Date.now() - started} ms`);
      assert.equal((await server.get('/healthz')).status, 200);
      await proxy.start(proxy.port);
      await eventually('ready again', 5_000, () => server.get('/readyz'), (r) => r.status === 200);
      proxy.silent = true;
      const silent = await server.get('/readyz');
      assert.equal(silent.status, 503);
      assert.ok(silent.ms < 1_500, `answered in ${silent.ms} ms`);
      proxy.silent = false;
      await eventually('ready again after the silence', 5_000, () => server.get('/readyz'), (r) => r.status === 200);
    } finally {
      await server.close();
      await storage.close().catch(() => undefined);
      await proxy.stop();
    }
  });

  it('drains: once draining, /readyz says unavailable, and a request in flight when close() starts is still answered', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const api = compileApi('slow.ts', defineApi({
      namespace: 'test',
      id: 'slow',
      security: { requiresAuthentication: false },
      resources: [{ method: 'GET', path: '/', handler: async () => (await gate, { body: { finished: true } }) }],
    }));
    const server = await serve(createMemoryStorage(), new ApiRouter([api]));
    const inFlight = fetch(`${server.url}/api/test/slow`).then(async (r) => ({ status: r.status, body: await r.json() }));
    await sleep(100);
    // What SIGTERM does (serve.ts): announce the drain, then close, which waits for requests in flight.
    markDraining(server.http);
    const during = await fetch(`${server.url}/readyz`);
    assert.equal(during.status, 503);
    assert.deepEqual(await during.json(), { status: 'unavailable', reason: 'shutting down' });
    const closing = server.http.close();
    await sleep(100);
    release();
    assert.deepEqual(await inFlight, { status: 200, body: { result: { finished: true } } });
    await closing;
  });
});
