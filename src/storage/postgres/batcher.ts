import type { NewTokenRecord, Refusal } from '../../domain/model.js';
import { isUnavailable } from './errors.js';
import { BATCH_SIZE_BUCKETS, BucketHistogram, LATENCY_BUCKETS } from '../../core/histogram.js';

/** One caller's write: its tokens (all or nothing) or one refusal. */
export interface BatchWrite {
  readonly tokens: readonly NewTokenRecord[];
  readonly refusals: readonly Refusal[];
}

interface Pending extends BatchWrite {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Group commit for PostgreSQL, the asynchronous counterpart of the SQLite WriteBatcher. Writes queued
 * during one turn of the event loop are committed together by `commit` (one statement, so one
 * transaction and one WAL flush), and every caller's promise resolves only after that commit.
 *
 * At most `maxInFlight` batches are committing at once, so token writes never take the whole pool
 * from readers; writes arriving while all slots are busy wait and join the next batch, which is how
 * batches grow with load. If a batch fails for a reason other than the database being unavailable,
 * each caller's write is retried alone, so one bad row (a duplicate key) cannot fail its neighbours
 * while a caller's own tokens stay all-or-nothing.
 *
 * When a batch fails because the database is unavailable, the writes still waiting for a slot fail
 * with it. Otherwise a write that queued behind commits hanging on a connection (the network to the
 * database cut) would wait out their connection timeout and then its own: twice the bound a caller
 * is promised before a 503. A write that arrives after that failure starts a new commit as usual.
 */
export class PgWriteBatcher {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly active = new Set<Promise<void>>();
  /** Per commit, for /metrics (StorageStats): two numbers per batch, never per write. */
  readonly commitSeconds = new BucketHistogram(LATENCY_BUCKETS);
  readonly commitWrites = new BucketHistogram(BATCH_SIZE_BUCKETS);

  constructor(
    /** Commits the given rows atomically; rejects with the driver's error. */
    private readonly commit: (tokens: readonly NewTokenRecord[], refusals: readonly Refusal[]) => Promise<void>,
    /** Translates a driver error for the caller of `write`. */
    private readonly translate: (error: unknown, write: BatchWrite) => unknown,
    private readonly maxInFlight = 4,
    /** Start a commit at once when this many writes are waiting: bounds one burst's added latency. */
    private readonly maxBatch = 256,
  ) {}

  enqueue(write: BatchWrite): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      // A plain literal, not `{ ...write, resolve, reject }`: objects made by that spread were
      // promoted to V8's old generation at a high rate under load, although each lives only until
      // its commit (under 5 ms here), and the heap grew by megabytes a second until the next full
      // GC (docs/benchmarks.md, "Peak memory on PostgreSQL"; bench/gc-promotion.mjs measures it).
      this.queue.push({ tokens: write.tokens, refusals: write.refusals, resolve, reject });
      if (this.queue.length >= this.maxBatch) {
        this.drain();
        return;
      }
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.drain();
        });
      }
    });
  }

  /** Commits everything queued so far and waits for every commit in flight (for close). */
  async flush(): Promise<void> {
    for (;;) {
      this.drain();
      if (this.active.size === 0 && this.queue.length === 0) return;
      await Promise.allSettled([...this.active]);
    }
  }

  /** Starts commits for queued writes while slots are free. */
  private drain(): void {
    while (this.queue.length > 0 && this.active.size < this.maxInFlight) {
      const batch = this.queue.splice(0, this.maxBatch);
      const done: Promise<void> = this.run(batch).finally(() => {
        this.active.delete(done);
        if (this.queue.length > 0) this.drain();
      });
      this.active.add(done);
    }
  }

  private async run(batch: readonly Pending[]): Promise<void> {
    const started = performance.now();
    try {
      await this.commit(batch.flatMap((p) => p.tokens), batch.flatMap((p) => p.refusals));
      this.commitSeconds.observe((performance.now() - started) / 1000);
      this.commitWrites.observe(batch.length);
      for (const p of batch) p.resolve();
      return;
    } catch (error) {
      if (isUnavailable(error)) {
        // Everything queued behind this commit would only wait for the same outcome.
        this.failWaiting(error, batch);
        return;
      }
      if (batch.length === 1) {
        for (const p of batch) p.reject(this.translate(error, p));
        return;
      }
    }
    // One at a time: the retries hold this batch's slot rather than flooding the pool's queue.
    for (let i = 0; i < batch.length; i++) {
      const p = batch[i]!;
      try {
        await this.commit(p.tokens, p.refusals);
        p.resolve();
      } catch (error) {
        p.reject(this.translate(error, p));
        // The database went away during the retries: the rest would each wait out a timeout in turn.
        if (isUnavailable(error)) {
          this.failWaiting(error, batch.slice(i + 1));
          return;
        }
      }
    }
  }

  /** Rejects `rest` and every write still queued with `error` (the database is unavailable). */
  private failWaiting(error: unknown, rest: readonly Pending[]): void {
    const waiting = this.queue.splice(0, this.queue.length);
    for (const p of [...rest, ...waiting]) p.reject(this.translate(error, p));
  }
}
