import type { Logger } from '../core/logger.js';
import { formatWindow, parseRateLimit, type RateLimitSetting, type RateLimitSpec } from '../domain/rate-limit.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { ReasonCode } from '../errors/reasons.js';
import type { RateCounters } from '../storage/rate-counters.js';
import type { RegistryCache } from './cache.js';
import type { PropertyName, PropertyValues } from './properties.js';

/**
 * Rate limiting: which limit is in force for a request, counting it (storage/rate-counters.ts:
 * shared by every instance on PostgreSQL), and the 429 refusal with `Retry-After` and the
 * `RateLimit-Limit` / `RateLimit-Remaining` / `RateLimit-Reset` headers
 * (draft-ietf-httpapi-ratelimit-headers). Off unless a property, an application or an API sets a
 * limit; with every limit off a request costs one property read and no counting.
 *
 * - `client`: per application, at the token and introspection endpoints, after it authenticated
 *   (so nobody can spend another client's budget by sending its client id): the application's
 *   rateLimit, else latchkey.rate_limit.client.
 * - `address`: per source address (IPv6 by /64) and endpoint, before authentication:
 *   latchkey.rate_limit.address.
 * - `api`: per hosted API, its authenticated callers together: the definition's rateLimit, else
 *   latchkey.rate_limit.api. `api_user`: per user and API: userRateLimit, else latchkey.rate_limit.api_user.
 * - `registration`: per source address, at the dynamic client registration endpoint (RFC 7591),
 *   before the initial access token is checked: latchkey.rate_limit.registration.
 */
export type RateLimitKind = 'client' | 'address' | 'api' | 'api_user' | 'registration';

const PROPERTY: Readonly<Record<RateLimitKind, PropertyName>> = {
  client: 'latchkey.rate_limit.client',
  address: 'latchkey.rate_limit.address',
  api: 'latchkey.rate_limit.api',
  api_user: 'latchkey.rate_limit.api_user',
  registration: 'latchkey.rate_limit.registration',
};
export const RATE_LIMIT_WINDOW_PROPERTY = 'latchkey.rate_limit.window_seconds';

const REASON: Readonly<Record<RateLimitKind, ReasonCode>> = {
  client: 'rate_limit.client_exceeded',
  address: 'rate_limit.address_exceeded',
  api: 'rate_limit.api_exceeded',
  api_user: 'rate_limit.api_user_exceeded',
  registration: 'rate_limit.registration_exceeded',
};

const WHOSE: Readonly<Record<RateLimitKind, string>> = {
  client: 'from this client',
  address: 'from this address',
  api: 'to this API',
  api_user: 'to this API from this user',
  registration: 'registering clients from this address',
};

/** A limit in force and where it comes from (for the hint: the setting to change). */
export interface LimitInForce {
  readonly kind: RateLimitKind;
  readonly spec: RateLimitSpec;
  /** True when the application or API set it, false for the instance property. */
  readonly own: boolean;
  /** `spec.requests` as the RateLimit-Limit header says it (made once, not per request). */
  readonly requestsText?: string;
}

/** The count of one request against one limit. */
export interface RateVerdict {
  readonly limit: LimitInForce;
  readonly allowed: boolean;
  readonly remaining: number;
  readonly resetMs: number;
}

/** Who was counted, for the administrator's hint: `Application "Nightly" (client id abc)`, `Address 10.0.0.1`. */
export interface RateSubject {
  readonly who: string;
  /** What to change, for this subject, when the limit is its own (or to give it one). */
  readonly change: string;
}

export interface RateLimitsDeps {
  readonly counters: RateCounters;
  readonly cache: Pick<RegistryCache, 'peekProperties' | 'properties'>;
  readonly logger: Logger;
}

/** Seconds until the window ends, at least 1 (a Retry-After of 0 invites a tight loop). */
const secondsOf = (ms: number): number => Math.max(1, Math.ceil(ms / 1000));

/** The RateLimit-* headers of a counted request (also on successes, as the draft says). */
export function rateLimitHeaders(v: RateVerdict): Record<string, string> {
  return { 'ratelimit-limit': limitText(v), 'ratelimit-remaining': String(v.remaining), 'ratelimit-reset': String(secondsOf(v.resetMs)) };
}

/** The RateLimit-Limit value. */
export function limitText(v: RateVerdict): string {
  return v.limit.requestsText ?? String(v.limit.spec.requests);
}

/** The RateLimit-Reset (and Retry-After) value: whole seconds, at least 1. */
export function resetText(v: RateVerdict): string {
  return String(secondsOf(v.resetMs));
}

/** Of two counts, the one closer to its limit (the draft's "closest to exhaustion"), for the headers. */
export function tighter(a: RateVerdict | undefined, b: RateVerdict | undefined): RateVerdict | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  return b.remaining < a.remaining || (b.remaining === a.remaining && b.resetMs > a.resetMs) ? b : a;
}

export class RateLimits {
  private props: PropertyValues | undefined;
  private instance: Partial<Record<RateLimitKind, LimitInForce>> = {};
  /** Parsed own limits by their text (applications, APIs): parsed once, not per request. */
  private readonly own = new Map<string, LimitInForce | 'off'>();
  /** The same for parsed ones (API definitions), by their object. */
  private readonly specs = new WeakMap<RateLimitSpec, LimitInForce>();
  private lastWarning = 0;

  constructor(private readonly deps: RateLimitsDeps) {}

  /**
   * Undefined when the properties are cached (the usual case: no promise), else a promise that
   * loads them: call it before instanceLimit/inForce so the first request after a registry change
   * is counted like any other.
   */
  ready(): Promise<unknown> | undefined {
    return this.deps.cache.peekProperties() === undefined ? this.deps.cache.properties() : undefined;
  }

  /** The instance default of `kind` (its property, in the window property), or undefined when 0. */
  instanceLimit(kind: RateLimitKind): LimitInForce | undefined {
    const props = this.deps.cache.peekProperties();
    if (props === undefined) return undefined;
    if (props !== this.props) {
      // The cache hands out one object until the next change: recompute the four limits then.
      this.props = props;
      this.instance = {};
      const windowSeconds = props[RATE_LIMIT_WINDOW_PROPERTY];
      for (const k of Object.keys(PROPERTY) as RateLimitKind[]) {
        const requests = props[PROPERTY[k]] as number;
        if (requests > 0) this.instance[k] = { kind: k, spec: { requests, windowSeconds }, own: false, requestsText: String(requests) };
      }
    }
    return this.instance[kind];
  }

  /** The limit in force: an own setting (`100/1m`, `off`) if there is one, else the instance default. */
  inForce(kind: RateLimitKind, own: string | RateLimitSetting | null | undefined): LimitInForce | undefined {
    if (own === null || own === undefined) return this.instanceLimit(kind);
    if (typeof own !== 'string') {
      let limit = this.specs.get(own);
      if (limit === undefined || limit.kind !== kind) this.specs.set(own, (limit = { kind, spec: own, own: true, requestsText: String(own.requests) }));
      return limit;
    }
    const key = `${kind} ${own}`;
    let parsed = this.own.get(key);
    if (parsed === undefined) {
      const result = parseRateLimit(own);
      // A stored value this version cannot read is no limit rather than a refusal of every request.
      parsed = result.ok && result.value !== 'off' ? { kind, spec: result.value, own: true, requestsText: String(result.value.requests) } : 'off';
      if (this.own.size >= 10_000) this.own.clear();
      this.own.set(key, parsed);
    }
    return parsed === 'off' ? undefined : parsed;
  }

  /**
   * Counts one request under `limit`; throws the 429 refusal when it is over (`subject`, made
   * only then, says who for the hint), else returns the
   * count (for the RateLimit-* headers). A counter store that fails lets the request through
   * (logged at most once a minute): rate limiting must not turn a database hiccup into an outage.
   */
  /**
   * As {@link enforce}, at once, where the counters are in this process (SQLite, memory): the
   * verdict, or throws the refusal. null where they are not (PostgreSQL): call enforce.
   */
  enforceNow(limit: LimitInForce, key: string, subject: () => RateSubject): RateVerdict | null {
    const consumeNow = this.deps.counters.consumeNow;
    if (consumeNow === undefined) return null;
    const count = consumeNow(limit.kind, key, limit.spec);
    const verdict: RateVerdict = { limit, allowed: count.allowed, remaining: count.remaining, resetMs: count.resetMs };
    if (!verdict.allowed) throw rateLimitRefusal(verdict, subject());
    return verdict;
  }

  enforce(limit: LimitInForce, key: string, subject: () => RateSubject): Promise<RateVerdict | undefined> {
    // One .then on the counter's promise, no async wrapper: this runs on every counted request.
    return this.deps.counters.consume(limit.kind, key, limit.spec).then(
      (count) => {
        const verdict: RateVerdict = { limit, allowed: count.allowed, remaining: count.remaining, resetMs: count.resetMs };
        if (!verdict.allowed) throw rateLimitRefusal(verdict, subject());
        return verdict;
      },
      (error: unknown) => {
        const now = Date.now();
        if (now - this.lastWarning > 60_000) {
          this.lastWarning = now;
          this.deps.logger.warn({ err: error, limit: limit.kind }, 'rate-limit counters unavailable; requests are not counted meanwhile');
        }
        return undefined;
      },
    );
  }
}

/** Where an own limit (`own: true`) is set, by kind: the setting an administrator changes. */
const OWN_SETTING: Readonly<Record<RateLimitKind, string>> = {
  client: 'application.rate_limit',
  address: 'latchkey.rate_limit.address',
  api: 'api.rateLimit',
  api_user: 'api.userRateLimit',
  registration: 'latchkey.rate_limit.registration',
};

/** The setting that made the limit: the application's or API's own, or the instance property. */
export function limitSourceOf(limit: LimitInForce): string {
  return limit.own ? OWN_SETTING[limit.kind] : PROPERTY[limit.kind];
}

/** The setting that made the limit, in words, for the hint. */
function settingOf(limit: LimitInForce): string {
  const { requests, windowSeconds } = limit.spec;
  if (limit.own) return `its own rate limit ${requests}/${formatWindow(windowSeconds)}`;
  return `${PROPERTY[limit.kind]} = ${requests} per ${RATE_LIMIT_WINDOW_PROPERTY} = ${windowSeconds} s`;
}

/** 429 Too Many Requests (RFC 6585 §4) with Retry-After and the RateLimit-* headers, recorded under its reason code. */
export function rateLimitRefusal(v: RateVerdict, subject: RateSubject): OAuthError {
  const { requests, windowSeconds } = v.limit.spec;
  const retry = secondsOf(v.resetMs);
  const window = formatWindow(windowSeconds);
  return new OAuthError({
    error: 'too_many_requests',
    status: 429,
    description: `Too many requests ${WHOSE[v.limit.kind]}: at most ${requests} per ${window}. Retry after ${retry} s.`,
    reason: REASON[v.limit.kind],
    hint: `${subject.who} went over ${requests} requests in ${window}; the limit in force is ${settingOf(v.limit)}. ${subject.change}`,
    headers: { 'retry-after': String(retry), ...rateLimitHeaders(v) },
    facts: { limit: `${requests}/${window}`, limitSource: limitSourceOf(v.limit), retryAfterSeconds: retry },
  });
}
