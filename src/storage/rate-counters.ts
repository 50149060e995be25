import { createHash } from 'node:crypto';
import type pg from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { RateLimitSpec } from '../domain/rate-limit.js';

/**
 * The counters behind rate limiting (src/registry/rate-limits.ts), by the library
 * rate-limiter-flexible: on PostgreSQL one row per key in `rate_limit_counters`, shared by every
 * instance on the database (an atomic upsert per request that counts); on SQLite and in memory,
 * counters in this process (memoryRateCounters, a fixed window per key), since one SQLite file serves one instance.
 *
 * Fixed windows: a key's window starts with its first request and lasts `windowSeconds`; within it
 * at most `requests` are allowed. A counter is kept per limit (requests and window): changing a
 * limit starts its counts over.
 */
export interface RateCount {
  /** False when this request is over the limit. */
  readonly allowed: boolean;
  /** Requests left in the window after this one (0 when refused). */
  readonly remaining: number;
  /** Milliseconds until the window ends and the count starts over. */
  readonly resetMs: number;
}

export interface RateCounters {
  /** Counts one request of `key` under `spec` (`kind` separates the families: client, address, …). */
  consume(kind: string, key: string, spec: RateLimitSpec): Promise<RateCount>;
  /** The same count at once, where the counters are in this process (no promise on the hot path). */
  readonly consumeNow?: (kind: string, key: string, spec: RateLimitSpec) => RateCount;
  /** Whether the counters are shared across instances (PostgreSQL) or local to this process. */
  readonly shared: boolean;
  /** Requests counted by the local fallback because the shared store failed (PostgreSQL unreachable). */
  readonly fallbacks: () => number;
  /** Stops the periodic deletion of expired rows (storage close). */
  stop(): void;
}

/** The table the PostgreSQL counters live in (created by migration 5, postgres/migrations.ts). */
export const RATE_LIMIT_TABLE = 'rate_limit_counters';
/** Rows whose window ended more than an hour ago are deleted every 5 minutes (one DELETE per instance). */
const PURGE_EVERY_MS = 5 * 60_000;
const PURGE_AFTER_MS = 60 * 60_000;
/** The key column is varchar(255): longer keys (a long client id) are counted under their hash. */
const MAX_KEY = 200;

function storedKey(key: string): string {
  return key.length <= MAX_KEY ? key : `sha256:${createHash('sha256').update(key).digest('base64url')}`;
}

/** A request within the limit: the library resolves with its RateLimiterRes. */
function allowedCount(outcome: RateLimiterRes): RateCount {
  const reset = outcome.msBeforeNext;
  return { allowed: true, remaining: outcome.remainingPoints, resetMs: reset > 0 ? reset : 0 };
}

/** Over the limit the library rejects with a RateLimiterRes; anything else is a store error (rethrown). */
function refusedCount(outcome: unknown): RateCount {
  if (!(outcome instanceof RateLimiterRes)) throw outcome;
  const reset = outcome.msBeforeNext;
  return { allowed: false, remaining: 0, resetMs: reset > 0 ? reset : 0 };
}

function limiterCache(make: (prefix: string, spec: RateLimitSpec) => RateLimiterAbstract) {
  const limiters = new Map<string, RateLimiterAbstract>();
  return (kind: string, spec: RateLimitSpec): RateLimiterAbstract => {
    const prefix = `${kind}:${spec.requests}:${spec.windowSeconds}`;
    let limiter = limiters.get(prefix);
    if (limiter === undefined) {
      // Bounded: a few kinds times the distinct limits configured (applications, APIs, properties).
      if (limiters.size >= 10_000) limiters.clear();
      limiter = make(prefix, spec);
      limiters.set(prefix, limiter);
    }
    return limiter;
  };
}

function countersOver(limiterFor: (kind: string, spec: RateLimitSpec) => RateLimiterAbstract, shared: boolean, fallbacks: () => number, stop: () => void = () => undefined): RateCounters {
  return {
    shared,
    fallbacks,
    stop,
    consume: (kind, key, spec) =>
      limiterFor(kind, spec)
        .consume(storedKey(key))
        .then(allowedCount, refusedCount),
  };
}

/** Counters in this process: SQLite (one instance per file) and the memory storage. */
/**
 * Counters kept in this process (one SQLite file serves one instance): a fixed window per key,
 * opened by its first request and lasting the limit's window — the semantics of
 * rate-limiter-flexible's RateLimiterMemory, which counts the same way but costs about a fifth of
 * the token endpoint's HTTP throughput on this path (measured with bench/metrics-ratelimit.sh: its
 * promise chain, result objects and timers per key on every request). Here a request is one Map
 * lookup and an add; expired windows are swept when the map grows, so it stays bounded.
 */
export function memoryRateCounters(now: () => number = Date.now): RateCounters {
  const windows = new Map<string, { count: number; endsAt: number }>();
  const MAX_KEYS = 100_000;
  const sweep = (at: number): void => {
    for (const [key, w] of windows) if (w.endsAt <= at) windows.delete(key);
    // Still full of live windows (a flood of distinct keys): start over rather than grow without bound.
    if (windows.size >= MAX_KEYS) windows.clear();
  };
  const consumeNow = (kind: string, key: string, spec: RateLimitSpec): RateCount => {
      const at = now();
      const id = `${kind}:${spec.requests}:${spec.windowSeconds}:${key}`;
      let w = windows.get(id);
      if (w === undefined || w.endsAt <= at) {
        if (w === undefined && windows.size >= MAX_KEYS) sweep(at);
        w = { count: 0, endsAt: at + spec.windowSeconds * 1000 };
        windows.set(id, w);
      }
      w.count += 1;
      const allowed = w.count <= spec.requests;
      return { allowed, remaining: allowed ? spec.requests - w.count : 0, resetMs: w.endsAt - at };
  };
  return {
    shared: false,
    fallbacks: () => 0,
    stop: () => windows.clear(),
    consumeNow,
    consume: (kind, key, spec) => Promise.resolve(consumeNow(kind, key, spec)),
  };
}

/**
 * Counters in PostgreSQL, shared by every instance. A key over its limit is then refused from
 * memory until its window ends (`inMemoryBlockOnConsumed`), so a flood past the limit costs the
 * database nothing; if the database fails, a local counter with the same limit takes over
 * (`insuranceLimiter`) rather than letting everything through or refusing everything.
 */
export function postgresRateCounters(pool: pg.Pool): RateCounters {
  let fallbacks = 0;
  const make = (keyPrefix: string, spec: RateLimitSpec): RateLimiterAbstract => {
    const insurance = new RateLimiterMemory({ keyPrefix, points: spec.requests, duration: spec.windowSeconds });
    const consume = insurance.consume.bind(insurance);
    insurance.consume = (...args: Parameters<typeof consume>) => {
      fallbacks++;
      return consume(...args);
    };
    return new RateLimiterPostgres({
      storeClient: pool,
      storeType: 'pool',
      tableName: RATE_LIMIT_TABLE,
      // The migration created it; the library's own CREATE TABLE IF NOT EXISTS races between instances.
      tableCreated: true,
      // Expired rows are deleted below, once per instance, not by a timer in every limiter.
      clearExpiredByTimeout: false,
      keyPrefix,
      points: spec.requests,
      duration: spec.windowSeconds,
      inMemoryBlockOnConsumed: spec.requests,
      insuranceLimiter: insurance,
    });
  };
  const purge = setInterval(() => {
    pool.query(`DELETE FROM ${RATE_LIMIT_TABLE} WHERE expire < $1`, [Date.now() - PURGE_AFTER_MS]).catch(() => undefined);
  }, PURGE_EVERY_MS);
  purge.unref();
  return countersOver(limiterCache(make), true, () => fallbacks, () => clearInterval(purge));
}
