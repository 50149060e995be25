import { OAuthError } from '../errors/oauth-error.js';
import { CACHE_DERIVED_REASONS, type ReasonCode } from '../errors/reasons.js';
import type { RegistryCache } from './cache.js';

/**
 * "Decide again with a fresh cache", the one rule behind every refusal made from cached registry
 * state (CACHE_DERIVED_REASONS): before such a refusal stands, make sure the cache is current
 * (`cache.check()` reloads it when the storage moved on) and, if it was not, decide once more — a
 * setting changed a moment ago must not refuse this request. Successes keep using the cache, and
 * only refusals pay the one version check. Used by the token, introspection and revocation
 * endpoints (endpoints/shared.ts), the authorization endpoint and the API provider.
 */

type Checkable = Pick<RegistryCache, 'check'>;

/**
 * How often the rule ran in this process (read by /metrics): refusals from cached state that were
 * checked against the storage's change version, and those decided again because the cache was stale.
 */
export const FRESH_CACHE_STATS = { checked: 0, decidedAgain: 0 };

/** The reason of a refusal (an OAuthError), or undefined for anything else. */
export function refusalReason(error: unknown): ReasonCode | undefined {
  return error instanceof OAuthError ? error.reason : undefined;
}

/** True when a refusal for `reason` came from cached state that turned out stale (and is now fresh): decide again. */
export async function refusedOnStaleCache(cache: Checkable, reason: ReasonCode | undefined): Promise<boolean> {
  if (reason === undefined || !CACHE_DERIVED_REASONS.has(reason)) return false;
  FRESH_CACHE_STATS.checked++;
  const stale = await cache.check();
  if (stale) FRESH_CACHE_STATS.decidedAgain++;
  return stale;
}

export interface FreshCacheOptions<T> {
  /** The second decision (default: `decide` again); e.g. with a fresh refusal context. */
  readonly again?: () => Promise<T>;
  /** The reason of what `decide` threw (default: an OAuthError's). */
  readonly reasonOf?: (error: unknown) => ReasonCode | undefined;
  /** For a decision that returns its refusal instead of throwing it: the reason, or undefined when it is no refusal. */
  readonly refusalOf?: (value: T) => ReasonCode | undefined;
}

/** Runs `decide`; a refusal from stale cached state is decided once more on the fresh cache. */
export async function decideWithFreshCache<T>(cache: Checkable, decide: () => Promise<T>, options: FreshCacheOptions<T> = {}): Promise<T> {
  const again = options.again ?? decide;
  let value: T;
  try {
    value = await decide();
  } catch (error) {
    if (!(await refusedOnStaleCache(cache, (options.reasonOf ?? refusalReason)(error)))) throw error;
    return await again();
  }
  if (options.refusalOf !== undefined && (await refusedOnStaleCache(cache, options.refusalOf(value)))) return await again();
  return value;
}
