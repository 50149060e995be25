import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openSqliteStorage } from '../src/storage/sqlite/adapter.js';
import { createFixture, spawnServer, WHOAMI, type Fixture, type ServerProcess } from './helpers/instances.js';
import { bearerCall, exchange, jsonOf, keepAliveAgent, statusCounts, tokenCall, type Exchange } from './helpers/load.js';

/**
 * Bounded disk use (issue 11), on real `latchkey serve` processes over SQLite:
 * - 60 s of token issuance never lets the WAL file pass its limit (before: 1.65 GB after 30 s);
 * - 100 000 refused requests of callers that did not authenticate grow the database by less than
 *   5 MiB (before: a row each), while every refusal of an authenticated client is still recorded;
 * - a full disk answers 503 with Retry-After (never 500) and makes /readyz not ready, then service
 *   comes back by itself once there is space, and every token a client received works.
 */

const MiB = 1024 * 1024;
const size = (path: string): number => {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
};

/** Runs `task` from `concurrency` loops until `untilMs` (performance.now()) or `count` exchanges. */
async function drive(concurrency: number, limit: { untilMs?: number; count?: number }, task: (i: number) => Promise<Exchange>): Promise<Exchange[]> {
  const out: Exchange[] = [];
  let next = 0;
  const more = () => (limit.count === undefined || next < limit.count) && (limit.untilMs === undefined || performance.now() < limit.untilMs);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (more()) out.push(await task(next++));
    }),
  );
  return out;
}

describe('bounded disk use', { timeout: 300_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-disk-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('60 s of token issuance: the WAL never passes its 64 MiB limit, every request answered 200', { timeout: 120_000 }, async () => {
    const db = join(dir, 'wal', 'latchkey.db');
    mkdirSync(join(dir, 'wal'));
    const fx = await createFixture(db, 'wal');
    const server = await spawnServer('wal', db);
    try {
      const agent = keepAliveAgent(32);
      let maxWal = 0;
      const sampler = setInterval(() => (maxWal = Math.max(maxWal, size(`${db}-wal`))), 20);
      const xs = await drive(32, { untilMs: performance.now() + 60_000 }, () => exchange(agent, server.url, 'cc', tokenCall({ grant_type: 'client_credentials' }, fx.cc)));
      clearInterval(sampler);
      agent.destroy();
      const counts = statusCounts(xs);
      assert.deepEqual(Object.keys(counts), ['200'], JSON.stringify(counts));
      assert.ok(xs.length > 20_000, `only ${xs.length} tokens in 60 s`);
      assert.ok(maxWal <= 64 * MiB, `the WAL reached ${(maxWal / MiB).toFixed(1)} MiB`);
      // The tokens are committed: the last one is valid.
      const last = jsonOf(xs[xs.length - 1] as Exchange)?.access_token as string;
      const call = await exchange(keepAliveAgent(1), server.url, 'api', bearerCall(WHOAMI, last));
      assert.equal(call.status, 200, call.body);
      process.stderr.write(`# ${xs.length} tokens in 60 s, largest WAL ${(maxWal / MiB).toFixed(1)} MiB\n`);
    } finally {
      await server.stop();
    }
  });

  it('100 000 anonymous refused requests grow the database by less than 5 MiB; authenticated refusals are all recorded', { timeout: 180_000 }, async () => {
    const db = join(dir, 'anon', 'latchkey.db');
    mkdirSync(join(dir, 'anon'));
    const fx: Fixture = await createFixture(db, 'anon');
    const before = size(db) + size(`${db}-wal`);
    const server = await spawnServer('anon', db);
    const requestIds: string[] = [];
    try {
      const agent = keepAliveAgent(32);
      const xs = await drive(32, { count: 100_000 }, (i) => {
        // Every 2000th: an authenticated client asking for a scope it is not allowed, one that does not exist (scope.unknown; recorded one by one).
        if (i % 2000 === 0) return exchange(agent, server.url, 'auth', tokenCall({ grant_type: 'client_credentials', scope: 'not.allowed' }, fx.cc));
        if (i % 2 === 0) return exchange(agent, server.url, 'client', tokenCall({ grant_type: 'client_credentials' }, { clientId: `random-${i}`, clientSecret: 'guess' }));
        return exchange(agent, server.url, 'bearer', bearerCall(WHOAMI, `lk_at_garbage${i}`));
      });
      agent.destroy();
      const counts = statusCounts(xs);
      assert.deepEqual(Object.keys(counts).sort(), ['400', '401'], JSON.stringify(counts));
      for (const x of xs) if (x.label === 'auth') requestIds.push(String(x.headers?.['x-request-id']));
      assert.equal(requestIds.length, 50);
    } finally {
      await server.stop();
    }
    const grown = size(db) + size(`${db}-wal`) - before;
    process.stderr.write(`# 100 000 refusals grew the database by ${(grown / MiB).toFixed(2)} MiB\n`);
    assert.ok(grown < 5 * MiB, `grew by ${(grown / MiB).toFixed(1)} MiB`);
    const storage = openSqliteStorage({ path: db });
    try {
      for (const id of requestIds) assert.equal((await storage.refusals.byRequestId(id))?.reason, 'scope.unknown', `authenticated refusal ${id} recorded`);
      const counted = (await storage.activity.list('refusals.unrecorded|', 0)).reduce((n, r) => n + r.count, 0);
      const recorded = (await storage.refusals.exportAll(undefined, 200_000)).length;
      assert.equal(counted + recorded, 100_000, 'every refusal is either recorded or counted');
      assert.ok(recorded < 5_000, `${recorded} recorded one by one`);
    } finally {
      await storage.close();
    }
  });

  describe('a full disk', () => {
    const mount = join(dir, 'small');
    let server: ServerProcess | undefined;
    before(() => {
      mkdirSync(mount);
      try {
        // A small file system of its own: the real condition, without filling the machine's disk.
        execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mount], { stdio: 'pipe' });
      } catch (error) {
        throw new Error(`this test mounts a small tmpfs (it needs root, as CI runs): ${(error as Error).message}`, { cause: error });
      }
    });
    after(async () => {
      await server?.stop();
      try {
        execFileSync('umount', [mount], { stdio: 'pipe' });
      } catch {
        // Already gone.
      }
    });

    it('answers 503 with Retry-After and is not ready while writes fail, then recovers by itself, losing no token a client received', { timeout: 60_000 }, async () => {
      const db = join(mount, 'latchkey.db');
      const fx = await createFixture(db, 'full');
      server = await spawnServer('full', db);
      const agent = keepAliveAgent(8);
      const token = () => exchange(agent, (server as ServerProcess).url, 'cc', tokenCall({ grant_type: 'client_credentials' }, fx.cc));
      assert.equal((await token()).status, 200);
      // Fill what is left of the file system.
      const filler = join(mount, 'filler');
      try {
        writeFileSync(filler, Buffer.alloc(8 * MiB));
      } catch {
        // ENOSPC: as full as it gets; the part written stays.
      }
      const during = await drive(8, { count: 4000 }, () => token());
      const counts = statusCounts(during);
      assert.ok(counts['503'] !== undefined && counts['503'] > 0, `no 503 while the disk is full: ${JSON.stringify(counts)}`);
      assert.equal(counts['500'], undefined, JSON.stringify(counts));
      const refused = during.find((x) => x.status === 503) as Exchange;
      assert.equal(jsonOf(refused)?.error, 'temporarily_unavailable');
      assert.ok(refused.headers?.['retry-after'] !== undefined);
      const notReady = await exchange(agent, server.url, 'ready', { path: '/readyz' });
      assert.equal(notReady.status, 503, notReady.body);
      assert.match(String(jsonOf(notReady)?.reason), /writes are failing .*full/);
      // Space again: ready by itself (the probe write succeeds), and tokens are issued.
      rmSync(filler, { force: true });
      let ready: Exchange | undefined;
      for (let i = 0; i < 50 && ready?.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 100));
        ready = await exchange(agent, server.url, 'ready', { path: '/readyz' });
      }
      assert.equal(ready?.status, 200, ready?.body);
      assert.equal((await token()).status, 200);
      // Every token a client was given is stored: each works on the API.
      const given = during.filter((x) => x.status === 200).map((x) => jsonOf(x)?.access_token as string);
      for (const t of given) {
        const res = await exchange(agent, server.url, 'api', bearerCall(WHOAMI, t));
        assert.equal(res.status, 200, res.body);
      }
      agent.destroy();
      process.stderr.write(`# full disk: ${JSON.stringify(counts)}; ${given.length} tokens given during it, all valid\n`);
    });
  });
});
