import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createFixture, latchkeyCli, spawnServer } from './helpers/instances.js';
import { exchange, keepAliveAgent, largest, percentile, tokenCall, type Exchange } from './helpers/load.js';

/**
 * A CLI command against the database of a loaded SQLite server must not stall it (issue 11): the
 * server's writes wait for any write transaction another process holds. Before, a command's close
 * ran a TRUNCATE checkpoint of the server's whole WAL while holding off every writer (up to a
 * second under load). Measured from outside: the slowest token request while commands run, against
 * the slowest while none do, under the same load.
 */
describe('CLI commands against a loaded server', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-stall-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('never stall its token requests by more than 100 ms', async () => {
    const db = join(dir, 'latchkey.db');
    const fx = await createFixture(db, 'stall');
    const server = await spawnServer('stall', db);
    try {
      const agent = keepAliveAgent(16);
      const xs: Exchange[] = [];
      let running = true;
      const loops = Array.from({ length: 16 }, async () => {
        while (running) xs.push(await exchange(agent, server.url, 'cc', tokenCall({ grant_type: 'client_credentials' }, fx.cc)));
      });
      // Load alone first (the WAL grows, as in production), then commands one after another.
      await new Promise((r) => setTimeout(r, 8_000));
      const quietEnd = performance.now();
      const windows: { label: string; start: number; end: number }[] = [];
      const commands: string[][] = [
        ['users', 'create', 'stall-a', '--roles', 'itil'],
        ['properties', 'set', 'latchkey.secrets.rotation_days', '181'],
        ['apps', 'list'],
        ['users', 'update', 'stall-a', '--roles', 'itil,reader'],
        ['scopes', 'create', 'stall.read'],
        ['tokens', 'list'],
      ];
      for (const args of commands) {
        const start = performance.now();
        await latchkeyCli(db, args);
        windows.push({ label: args.slice(0, 2).join(' '), start, end: performance.now() });
      }
      running = false;
      await Promise.all(loops);
      agent.destroy();
      assert.ok(xs.every((x) => x.status === 200), 'every token request answered 200');
      const quiet = xs.filter((x) => x.start > 2_000 && x.end < quietEnd).map((x) => x.ms);
      const baseline = largest(quiet);
      const report: string[] = [`quiet: n=${quiet.length} p99=${percentile(quiet, 99).toFixed(1)} ms max=${baseline.toFixed(1)} ms`];
      for (const w of windows) {
        const during = xs.filter((x) => x.end > w.start && x.start < w.end).map((x) => x.ms);
        const worst = largest(during);
        report.push(`${w.label}: n=${during.length} max=${worst.toFixed(1)} ms`);
        // A stall adds to the latency of every request in flight: the slowest request while the
        // command runs must stay within 100 ms of the slowest under the same load without it.
        assert.ok(worst < baseline + 100, `${w.label} stalled the server: a request took ${worst.toFixed(0)} ms (without commands at most ${baseline.toFixed(0)} ms)`);
      }
      process.stderr.write(`# ${report.join('; ')}\n`);
    } finally {
      await server.stop();
    }
  });
});
