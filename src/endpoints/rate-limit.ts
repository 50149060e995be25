import type { NeutralRequest } from '../core/request.js';
import type { Application } from '../domain/model.js';
import { sourceOf } from '../registry/lockout.js';
import { limitText, rateLimitHeaders, resetText, tighter, type RateLimits, type RateVerdict } from '../registry/rate-limits.js';
import { JSON_NO_STORE } from './shared.js';

/**
 * The rate limits of the form-posting endpoints (token, introspection): per source address before
 * anything else, per application once it authenticated (registry/rate-limits.ts).
 */

/** What one request counted, so a decision taken again on a fresh cache (shared.ts answer) does not count it twice. */
export interface RateState {
  /** Bits: 1 the address was counted, 2 the client. */
  counted: number;
  /** The count closest to its limit, for the RateLimit-* headers of the answer. */
  verdict: RateVerdict | undefined;
}

const ADDRESS = 1;
const CLIENT = 2;

/** Counter keys by endpoint and remote address (`token|10.0.0.1`, an IPv6 address by its /64), made once per address. */
const addressKeys = new Map<string, Map<string, string>>();
function addressKey(endpoint: string, remoteAddress: string): string {
  let keys = addressKeys.get(endpoint);
  if (keys === undefined) addressKeys.set(endpoint, (keys = new Map()));
  let key = keys.get(remoteAddress);
  if (key === undefined) {
    // Bounded: a flood from many addresses clears it rather than growing it.
    if (keys.size >= 10_000) keys.clear();
    key = `${endpoint}|${sourceOf(remoteAddress)}`;
    keys.set(remoteAddress, key);
  }
  return key;
}

/**
 * Counts the request against latchkey.rate_limit.address for `endpoint`: undefined when nothing is
 * to be counted (no promise, the usual case), else a promise that rejects with the 429 when over.
 * Call as `const p = countAddress(…); if (p !== undefined) await p;` (the hot path pays no await
 * when the limits are off).
 */
export function countAddress(limits: RateLimits | undefined, state: RateState, endpoint: string, req: NeutralRequest): Promise<void> | undefined {
  if (limits === undefined || (state.counted & ADDRESS) !== 0) return undefined;
  state.counted |= ADDRESS;
  const loading = limits.ready();
  if (loading !== undefined) return loading.then(() => countAddressNow(limits, state, endpoint, req));
  return countAddressNow(limits, state, endpoint, req);
}

function countAddressNow(limits: RateLimits, state: RateState, endpoint: string, req: NeutralRequest): Promise<void> | undefined {
  const limit = limits.instanceLimit('address');
  if (limit === undefined) return undefined;
  const key = addressKey(endpoint, req.remoteAddress);
  const subject = () => ({
    who: `Address ${key.slice(endpoint.length + 1)} (${endpoint} endpoint)`,
    change: 'Raise latchkey.rate_limit.address if this address is a legitimate client or a proxy for many (0: no limit).',
  });
  // In-process counters answer at once (a refusal is thrown from here: callers are async functions).
  const now = limits.enforceNow(limit, key, subject);
  if (now !== null) {
    state.verdict = tighter(state.verdict, now);
    return undefined;
  }
  return limits.enforce(limit, key, subject).then((verdict) => {
    state.verdict = tighter(state.verdict, verdict);
  });
}

/** Counts the request against the application's rate limit (or latchkey.rate_limit.client), as countAddress. */
export function countClient(limits: RateLimits | undefined, state: RateState, app: Application): Promise<void> | undefined {
  if (limits === undefined || (state.counted & CLIENT) !== 0) return undefined;
  state.counted |= CLIENT;
  const loading = limits.ready();
  if (loading !== undefined) return loading.then(() => countClientNow(limits, state, app));
  return countClientNow(limits, state, app);
}

function countClientNow(limits: RateLimits, state: RateState, app: Application): Promise<void> | undefined {
  const limit = limits.inForce('client', app.rateLimit);
  if (limit === undefined) return undefined;
  const subject = () => ({
    who: `Application ${JSON.stringify(app.name)} (client id ${app.clientId})`,
    change: limit.own
      ? `Change it with \`latchkey apps update ${app.clientId} --rate-limit <requests>/<window>\` (or off for none).`
      : `Give this application its own with \`latchkey apps update ${app.clientId} --rate-limit <requests>/<window>\`, or raise latchkey.rate_limit.client.`,
  });
  const now = limits.enforceNow(limit, app.id, subject);
  if (now !== null) {
    state.verdict = tighter(state.verdict, now);
    return undefined;
  }
  return limits.enforce(limit, app.id, subject).then((verdict) => {
    state.verdict = tighter(state.verdict, verdict);
  });
}

/** `headers` with the RateLimit-* headers of the count, when a limit applied (a new object only then). */
export function withRateHeaders<H extends Readonly<Record<string, string>>>(headers: H, state: RateState): Readonly<Record<string, string>> {
  const v = state.verdict;
  if (v === undefined) return headers;
  // The token endpoint's answer, on its hot path: one object literal (a spread of two objects
  // measured ~5 % of a token request's CPU).
  if (headers === (JSON_NO_STORE as Readonly<Record<string, string>>)) {
    return {
      'content-type': JSON_NO_STORE['content-type'],
      'cache-control': JSON_NO_STORE['cache-control'],
      pragma: JSON_NO_STORE.pragma,
      'ratelimit-limit': limitText(v),
      'ratelimit-remaining': String(v.remaining),
      'ratelimit-reset': resetText(v),
    };
  }
  return { ...headers, ...rateLimitHeaders(v) };
}
