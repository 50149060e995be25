import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import BetterSqlite3, { type Database } from 'better-sqlite3';
import { openSqliteStorage } from '../../src/storage/sqlite/adapter.js';
import { BackgroundCheckpointer } from '../../src/storage/sqlite/checkpointer.js';
import { makeApp, makeToken } from './contract.js';

/** A WAL database with one table of 2 KiB rows: 500 rows are ~250 pages of WAL. */
function walDatabase(dir: string): { db: Database; path: string; write: (rows: number) => void } {
  const path = join(dir, 'wal.db');
  const db = new BetterSqlite3(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)');
  const insert = db.prepare('INSERT INTO t (v) VALUES (?)');
  const blob = Buffer.alloc(2048, 7);
  // One transaction per 50 rows, like the server's group commits.
  const batch = db.transaction((n: number) => {
    for (let i = 0; i < n; i++) insert.run(blob);
  });
  return { db, path, write: (rows) => { for (let done = 0; done < rows; done += 50) batch(Math.min(50, rows - done)); } };
}

interface Fixture {
  readonly db: Database;
  readonly path: string;
  readonly dir: string;
  readonly write: (rows: number) => void;
}

/** A WAL database in a fresh folder, with a checkpointer made by `start`; both closed and removed after `run`. */
async function withCheckpointer(start: (f: Fixture) => BackgroundCheckpointer, run: (f: Fixture, checkpointer: BackgroundCheckpointer) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-ckpt-'));
  const fixture = { ...walDatabase(dir), dir };
  const checkpointer = start(fixture);
  try {
    await run(fixture, checkpointer);
  } finally {
    await checkpointer.close();
    fixture.db.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Runs `run` while another connection (another process, say `latchkey tokens list`) holds a read
 * snapshot of the database, as a reader in the middle of its query does.
 */
async function whileReading(path: string, run: () => Promise<void>): Promise<void> {
  const reader = new BetterSqlite3(path, { readonly: true });
  try {
    reader.prepare('BEGIN').run();
    reader.prepare('SELECT count(*) FROM t').get();
    await run();
    reader.prepare('COMMIT').run();
  } finally {
    reader.close();
  }
}

describe('SQLite checkpoints in a worker thread (the server)', () => {
  it('takes checkpoints out of commits: the WAL grows past SQLite\'s 1000 pages until the worker copies it', () =>
    withCheckpointer(({ db, path }) => new BackgroundCheckpointer(db, path, { intervalMs: 3_600_000 }), async ({ db, path, write }, checkpointer) => {
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 0, 'the server connection no longer checkpoints on commit');
      const before = statSync(path).size;
      write(3000); // ~1500 WAL pages: SQLite alone would have checkpointed in a commit by now
      assert.equal(statSync(path).size, before, 'no commit copied pages into the database file');
      assert.ok(statSync(`${path}-wal`).size > 5_000_000);
      await checkpointer.checkpointNow();
      const stats = checkpointer.stats();
      assert.equal(stats.active, true);
      assert.ok(stats.lastLog > 1000, `WAL frames at the checkpoint: ${stats.lastLog}`);
      assert.equal(stats.lastCheckpointed, stats.lastLog, 'a PASSIVE checkpoint with no reader in the way copies every frame');
      assert.ok(statSync(path).size > 5_000_000, 'the pages are in the database file');
      assert.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 3000);
    }));

  it('when the worker falls behind (a slow disk), the writer checkpoints itself past three quarters of the limit: the WAL stays under it', () =>
    // The worker's own checks are an hour apart here: only the writer's afterCommit() bounds the WAL.
    withCheckpointer(({ db, path }) => new BackgroundCheckpointer(db, path, { intervalMs: 3_600_000, walLimitBytes: 2 * 1024 * 1024 }), async ({ db, path, write }, checkpointer) => {
      let largest = 0;
      for (let i = 0; i < 80; i++) {
        write(50); // one group commit, ~100 KiB of WAL
        checkpointer.afterCommit();
        // afterCommit looks at the file at most every 5 ms: commits here come at about that pace.
        await new Promise((r) => setTimeout(r, 6));
        largest = Math.max(largest, statSync(`${path}-wal`).size);
      }
      const stats = checkpointer.stats();
      assert.ok(stats.blockingRestarts >= 2, `writer-side restarts: ${stats.blockingRestarts}`);
      assert.ok(largest <= 2 * 1024 * 1024, `the WAL reached ${largest} bytes (limit 2 MiB); ~8 MiB were written`);
      assert.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 4000);
    }));

  it('the writer never waits for another process reading below seven eighths of the limit (a CLI command must not stall the server)', () =>
    withCheckpointer(
      ({ db, path }) => {
        db.pragma('busy_timeout = 5000'); // as the server's connection has it
        return new BackgroundCheckpointer(db, path, { intervalMs: 3_600_000, walLimitBytes: 4 * 1024 * 1024 });
      },
      async ({ db, path, write }, checkpointer) => {
        write(50);
        await whileReading(path, async () => {
          let slowest = 0;
          for (let i = 0; i < 32 && statSync(`${path}-wal`).size < 3.4 * 1024 * 1024; i++) {
            write(50);
            await new Promise((r) => setTimeout(r, 6));
            const started = performance.now();
            checkpointer.afterCommit();
            slowest = Math.max(slowest, performance.now() - started);
          }
          const size = statSync(`${path}-wal`).size;
          assert.ok(size > 3 * 1024 * 1024 && size <= 3.5 * 1024 * 1024, `the WAL is between 3/4 and 7/8 of the limit: ${size}`);
          assert.ok(slowest < 1000, `afterCommit waited ${slowest.toFixed(0)} ms for the reader`);
          assert.equal(db.pragma('busy_timeout', { simple: true }), 5000, 'the connection keeps its busy timeout');
        });
      },
    ));

  it("the worker's RESTART gives up quickly on a reader: it never holds the server's writes for the reader's time", () =>
    withCheckpointer(
      ({ db, path }) => {
        db.pragma('busy_timeout = 5000'); // as the server's connection has it
        return new BackgroundCheckpointer(db, path, { intervalMs: 20, walLimitBytes: 2 * 1024 * 1024 });
      },
      async ({ path, write }, checkpointer) => {
        write(50);
        // Past the restart size (1 MiB): the worker tries RESTART every look while the reader holds its snapshot.
        await whileReading(path, async () => {
          let slowest = 0;
          const until = performance.now() + 1500;
          while (performance.now() < until) {
            const started = performance.now();
            write(50);
            slowest = Math.max(slowest, performance.now() - started);
            await new Promise((r) => setTimeout(r, 5));
          }
          assert.ok(statSync(`${path}-wal`).size > 1024 * 1024, 'the WAL passed the restart size');
          assert.ok(slowest < 500, `a commit waited ${slowest.toFixed(0)} ms behind the worker's pending RESTART`);
        });
        assert.ok(checkpointer.stats().runs > 0);
      },
    ));

  it('checkpoints on its own schedule, while the connection keeps writing', () =>
    withCheckpointer(({ db, path }) => new BackgroundCheckpointer(db, path, { intervalMs: 20 }), async ({ db, write }, checkpointer) => {
      for (let round = 0; round < 5; round++) {
        write(200);
        await new Promise((r) => setTimeout(r, 25));
      }
      await until('two scheduled checkpoints', () => checkpointer.stats().runs >= 2);
      await until('a checkpoint that copied everything', () => checkpointer.stats().lastCheckpointed === checkpointer.stats().lastLog);
      assert.equal((db.prepare('SELECT count(*) AS n FROM t').get() as { n: number }).n, 1000);
    }));

  it('when the worker cannot run, says why once and gives checkpoints back to the connection', () => {
    const problems: string[] = [];
    // The worker opens the file by path with fileMustExist: a path that does not exist fails it.
    return withCheckpointer(({ db, dir }) => new BackgroundCheckpointer(db, join(dir, 'missing.db'), { intervalMs: 20, onProblem: (m) => problems.push(m) }), async ({ db, path, write }, checkpointer) => {
      await until('the worker to fail', () => !checkpointer.stats().active);
      assert.equal(problems.length, 1);
      assert.match(problems[0]!, /WAL checkpoint worker .*SQLite checkpoints on commit again/);
      assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000);
      await checkpointer.checkpointNow(); // resolves: nothing to wait for
      write(3000);
      assert.ok(statSync(path).size > 1_000_000, 'SQLite checkpointed by itself');
    });
  });

  it('close() stops the worker cleanly and hands checkpoints back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-ckpt-'));
    const { db, path, write } = walDatabase(dir);
    const problems: string[] = [];
    const checkpointer = new BackgroundCheckpointer(db, path, { intervalMs: 20, onProblem: (m) => problems.push(m) });
    write(100);
    await checkpointer.close();
    await checkpointer.close(); // twice is fine
    assert.equal(checkpointer.stats().active, false);
    assert.equal(db.pragma('wal_autocheckpoint', { simple: true }), 1000);
    assert.deepEqual(problems, [], 'a requested stop is not a problem');
    db.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a storage opened for the server keeps every token, and leaves one complete file at close', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-ckpt-'));
    const path = join(dir, 'server.db');
    try {
      const storage = openSqliteStorage({ path, backgroundCheckpoints: { intervalMs: 20 } });
      const app = makeApp();
      await storage.applications.create(app);
      const tokens = Array.from({ length: 400 }, () => makeToken({ kind: 'access', applicationId: app.id }));
      for (let i = 0; i < tokens.length; i += 40) await storage.tokens.insert(tokens.slice(i, i + 40));
      await new Promise((r) => setTimeout(r, 60));
      await storage.close();
      assert.equal(existsSync(`${path}-wal`), false, 'the WAL was folded into the database file');
      const reopened = openSqliteStorage({ path });
      try {
        for (const t of [tokens[0]!, tokens[399]!]) assert.equal((await reopened.tokens.byHash(t.hash))?.hash, t.hash);
      } finally {
        await reopened.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
