import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import type { Database } from 'better-sqlite3';

/**
 * WAL checkpoints in a worker thread, for the long-running server.
 *
 * By default SQLite checkpoints inside the commit that pushes the WAL past 1000 pages: that commit
 * copies the pages into the database file and waits for two fsyncs, with the event loop blocked.
 * Measured on the benchmark machine (token rows in 25-row group commits): one commit in ~46 paid
 * ~9 ms, and those stalls were 45 % of all commit time, three quarters of it waiting on the disk.
 * Every request in flight waited with them.
 *
 * Here the server's connection never checkpoints (`wal_autocheckpoint = 0`); a worker with its own
 * connection runs a PASSIVE checkpoint every `intervalMs` (PASSIVE never blocks writers). The disk
 * waits move off the event loop; durability is unchanged (WAL with synchronous=NORMAL).
 * If the worker cannot start or stops, the connection checkpoints by itself again.
 */
export interface CheckpointerOptions {
  readonly intervalMs?: number;
  /**
   * The most the WAL file may grow to (default 64 MiB, LATCHKEY_WAL_LIMIT_MB). Past half of it the
   * worker restarts the WAL (checkpoint-worker.ts), leaving the other half for what is written
   * between two checks.
   */
  readonly walLimitBytes?: number;
  /** Told once when the worker fails, with what happened (the connection checkpoints itself again). */
  readonly onProblem?: (message: string) => void;
}

export const DEFAULT_CHECKPOINT_INTERVAL_MS = 250;
export const DEFAULT_WAL_LIMIT_BYTES = 64 * 1024 * 1024;
/** How often, at most, the server's connection looks at the WAL's size after a commit (afterCommit). */
const STAT_EVERY_MS = 5;
/** SQLite's own default, restored when the worker is gone. */
const AUTOCHECKPOINT_PAGES = 1000;

export interface CheckpointerStats {
  /** Checkpoints the worker has run. */
  readonly runs: number;
  /** WAL frames at the last checkpoint, and how many of them were copied. */
  readonly lastLog: number;
  readonly lastCheckpointed: number;
  /** Whether the worker is running (false: SQLite's own checkpoints are back on). */
  readonly active: boolean;
  /** RESTART checkpoints that started the WAL over, the largest WAL file seen, and the longest restart (ms). */
  readonly restarts: number;
  readonly maxWalBytes: number;
  readonly maxRestartMs: number;
  /**
   * RESTART checkpoints the server's own connection ran because the WAL passed three quarters of
   * its limit (the disk could not keep up with the worker), and the longest one (ms): writes waited
   * that long for the disk.
   */
  readonly blockingRestarts: number;
  readonly maxBlockingMs: number;
}

export class BackgroundCheckpointer {
  private readonly worker: Worker;
  private runs = 0;
  private lastLog = 0;
  private lastCheckpointed = 0;
  private restarts = 0;
  private maxWalBytes = 0;
  private maxRestartMs = 0;
  private blockingRestarts = 0;
  private maxBlockingMs = 0;
  private readonly walPath: string;
  /** Past this the writer tries a RESTART without waiting for anyone; past waitAtBytes it waits. */
  private readonly tryAtBytes: number;
  private readonly waitAtBytes: number;
  private readonly busyTimeoutMs: number;
  private statAt = -Infinity;
  private active = true;
  private closing = false;
  private readonly exited: Promise<void>;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly db: Database,
    path: string,
    private readonly options: CheckpointerOptions = {},
  ) {
    db.pragma('wal_autocheckpoint = 0');
    const limit = options.walLimitBytes ?? DEFAULT_WAL_LIMIT_BYTES;
    this.walPath = `${path}-wal`;
    this.tryAtBytes = Math.floor((limit * 3) / 4);
    this.waitAtBytes = Math.floor((limit * 7) / 8);
    this.busyTimeoutMs = Number(db.pragma('busy_timeout', { simple: true })) || 0;
    // When a writer starts the WAL over, SQLite cuts the file back to this size.
    db.pragma(`journal_size_limit = ${Math.floor(limit / 2)}`);
    this.worker = new Worker(new URL('./checkpoint-worker.js', import.meta.url), {
      workerData: { path, intervalMs: options.intervalMs ?? DEFAULT_CHECKPOINT_INTERVAL_MS, restartAtBytes: Math.floor(limit / 2) },
      // The worker runs one pragma a second and allocates almost nothing: a small heap (V8's
      // defaults would reserve a 16 MiB young generation per thread) keeps the server's memory down.
      resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 24, stackSizeMb: 1 },
    });
    // Never what keeps the process alive.
    this.worker.unref();
    this.worker.on('message', (message: { type: string; log?: number; checkpointed?: number; message?: string; failures?: number; walBytes?: number; restarted?: boolean; ms?: number }) => {
      if (message.type === 'checkpointed') {
        this.runs++;
        this.lastLog = message.log ?? 0;
        this.lastCheckpointed = message.checkpointed ?? 0;
        this.maxWalBytes = Math.max(this.maxWalBytes, message.walBytes ?? 0);
        if (message.restarted === true) {
          this.restarts++;
          this.maxRestartMs = Math.max(this.maxRestartMs, message.ms ?? 0);
        }
        this.flushWaiters();
      } else if (message.type === 'failed' && message.failures === 3) {
        this.fallBack(`background WAL checkpoints are failing (${message.message ?? 'unknown error'}); SQLite checkpoints on commit again`);
      }
    });
    this.worker.on('error', (error) => this.fallBack(`the WAL checkpoint worker stopped (${error.message}); SQLite checkpoints on commit again`));
    this.exited = new Promise((resolve) => this.worker.once('exit', () => {
      if (!this.closing) this.fallBack('the WAL checkpoint worker exited; SQLite checkpoints on commit again');
      resolve();
    }));
  }

  stats(): CheckpointerStats {
    return {
      runs: this.runs,
      lastLog: this.lastLog,
      lastCheckpointed: this.lastCheckpointed,
      active: this.active,
      restarts: this.restarts,
      maxWalBytes: this.maxWalBytes,
      maxRestartMs: Math.round(this.maxRestartMs),
      blockingRestarts: this.blockingRestarts,
      maxBlockingMs: Math.round(this.maxBlockingMs),
    };
  }

  /**
   * Called after each commit of the server's connection: the WAL bound's last line. The worker
   * restarts the WAL past half the limit, but while a checkpoint that a slow disk makes long runs,
   * the server keeps appending (a PASSIVE checkpoint never blocks writers), and the file can pass
   * the limit. So the server's connection runs the RESTART itself:
   * - past three quarters of the limit without waiting for anyone (busy_timeout 0): it gets nowhere
   *   while the worker is checkpointing or another process (a CLI command) is reading, and the
   *   event loop never waits for them;
   * - past seven eighths, waiting as long as any write would (the connection's busy_timeout): only
   *   a checkpoint outrun by the disk, or a reader that holds the WAL for a second or more, gets the
   *   file that far, and then writes wait for the disk instead of the file growing.
   * Costs a stat() every few milliseconds of commits.
   */
  afterCommit(): void {
    if (!this.active || this.closing) return;
    // At most one stat() per STAT_EVERY_MS (measured: a stat() per commit cost 5 % of a token
    // request); the WAL grows by well under 1 MiB in that time at the highest write rates seen.
    const now = performance.now();
    if (now - this.statAt < STAT_EVERY_MS) return;
    this.statAt = now;
    let size: number;
    try {
      size = statSync(this.walPath).size;
    } catch {
      return;
    }
    if (size <= this.tryAtBytes) return;
    const wait = size > this.waitAtBytes;
    const started = performance.now();
    try {
      if (!wait) this.db.pragma('busy_timeout = 0');
      const [row] = this.db.pragma('wal_checkpoint(RESTART)') as { busy: number }[];
      if (row?.busy === 0) this.blockingRestarts++;
    } catch {
      // A full disk, say: the next commit tries again, and the write path reports the disk.
    } finally {
      if (!wait) this.db.pragma(`busy_timeout = ${this.busyTimeoutMs}`);
    }
    this.maxBlockingMs = Math.max(this.maxBlockingMs, performance.now() - started);
  }

  /** Runs a checkpoint now and resolves when it is done (tests, diagnostics). */
  checkpointNow(): Promise<void> {
    if (!this.active) return Promise.resolve();
    return new Promise((resolve) => {
      // Someone is waiting on the worker: it must keep the process alive until it answers.
      this.worker.ref();
      this.waiters.push(resolve);
      this.worker.postMessage({ type: 'checkpoint' });
    });
  }

  /** Stops the worker (its connection closed cleanly); the caller's connection checkpoints itself again. */
  async close(): Promise<void> {
    if (this.closing) return this.exited;
    this.closing = true;
    this.restoreAutocheckpoint();
    this.worker.ref();
    this.worker.postMessage({ type: 'close' });
    const timeout = setTimeout(() => void this.worker.terminate(), 5000);
    timeout.unref();
    await this.exited;
    clearTimeout(timeout);
    this.flushWaiters();
  }

  private fallBack(message: string): void {
    if (!this.active) return;
    this.restoreAutocheckpoint();
    this.flushWaiters();
    this.options.onProblem?.(message);
    void this.worker.terminate();
  }

  private restoreAutocheckpoint(): void {
    this.active = false;
    try {
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
    } catch {
      // The connection is closing; nothing to restore.
    }
  }

  private flushWaiters(): void {
    const waiters = this.waiters;
    this.waiters = [];
    if (!this.closing) this.worker.unref();
    for (const w of waiters) w();
  }
}
