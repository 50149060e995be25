/**
 * Activity counters for the console's charts: tokens issued and refused, API calls and refusals,
 * per minute. Counting is on the hot path (every token request, every API call), so `count` is a
 * plain integer add into an in-memory map keyed by the current minute; nothing is awaited. A timer
 * (unref'd: it never keeps the process alive) flushes the map to `storage.activity` every few
 * seconds, and `stop()` flushes what is left. The store adds (it does not overwrite), so every
 * instance's counts sum. A failed flush is logged and its counts are put back for the next one
 * (bounded: counts older than a day are dropped rather than kept forever); it never reaches a
 * request.
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { ActivityRow } from '../domain/model.js';
import type { ActivityStore } from '../storage/types.js';

export const ACTIVITY_METRICS = ['token.issued', 'token.refused', 'api.call', 'api.refused'] as const;
export type ActivityMetric = (typeof ACTIVITY_METRICS)[number];

/** Bucket width: one minute. */
export const ACTIVITY_BUCKET_MS = 60_000;
/** How often counts are written to storage. */
export const ACTIVITY_FLUSH_MS = 5_000;
/** Counts a failing store could not take are kept this long, then dropped. */
const RETAIN_UNFLUSHED_MS = 24 * 60 * 60_000;

export interface ActivityCounterDeps {
  readonly store: ActivityStore;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly flushMs?: number;
}

/** The minute `at` falls in (its start, ms). */
export function bucketOf(at: number): number {
  return at - (at % ACTIVITY_BUCKET_MS);
}

export class ActivityCounter {
  /** bucket → metric → count not yet written. */
  private pending = new Map<number, Map<string, number>>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly flushMs: number;

  constructor(private readonly deps: ActivityCounterDeps) {
    this.flushMs = deps.flushMs ?? ACTIVITY_FLUSH_MS;
  }

  /** Counts `n` (default 1) of `metric` in the current minute. Synchronous and allocation-light. */
  count(metric: ActivityMetric, n = 1): void {
    this.countMetric(metric, n);
  }

  /** As count, for a grouped counter (audit/refusals.ts: refusals over the anonymous budget). */
  countMetric(metric: string, n = 1): void {
    const bucket = bucketOf(this.deps.clock.now());
    let metrics = this.pending.get(bucket);
    if (metrics === undefined) {
      metrics = new Map();
      this.pending.set(bucket, metrics);
    }
    metrics.set(metric, (metrics.get(metric) ?? 0) + n);
  }

  /** Starts the periodic flush (idempotent). */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Stops the periodic flush and writes what is pending. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Writes pending counts to storage; resolves when written (or, on failure, logged and kept). Never rejects. */
  flush(): Promise<void> {
    // One flush at a time; a flush asked for while one runs follows it.
    const previous = this.flushing ?? Promise.resolve();
    const next = previous.then(() => this.write());
    this.flushing = next;
    void next.finally(() => {
      if (this.flushing === next) this.flushing = undefined;
    });
    return next;
  }

  private async write(): Promise<void> {
    if (this.pending.size === 0) return;
    const taken = this.pending;
    this.pending = new Map();
    const rows: ActivityRow[] = [];
    for (const [bucket, metrics] of taken) for (const [metric, count] of metrics) if (count > 0) rows.push({ bucket, metric, count });
    if (rows.length === 0) return;
    try {
      await this.deps.store.add(rows);
    } catch (error) {
      this.deps.logger?.warn({ err: error, rows: rows.length }, 'activity counters not written; retrying with the next flush');
      const oldest = bucketOf(this.deps.clock.now()) - RETAIN_UNFLUSHED_MS;
      for (const r of rows) {
        if (r.bucket < oldest) continue;
        let metrics = this.pending.get(r.bucket);
        if (metrics === undefined) {
          metrics = new Map();
          this.pending.set(r.bucket, metrics);
        }
        metrics.set(r.metric, (metrics.get(r.metric) ?? 0) + r.count);
      }
    }
  }
}
