import type { Caller } from '../domain/caller.js';
import { tighter, type LimitInForce, type RateLimits } from '../registry/rate-limits.js';
import type { RateState } from '../endpoints/rate-limit.js';
import type { CompiledApi } from './compile.js';

/** What the limits read of an API or a hosted MCP server (kind 'mcp': its own budget, named "mcp <ns>/<id>"). */
export type RateLimitedApi = Pick<CompiledApi, 'namespace' | 'id' | 'file' | 'rateLimit' | 'userRateLimit'> & { readonly kind?: 'mcp' };

/**
 * The hosted APIs' own limits, counted once the caller is admitted (so a flood of bad tokens
 * spends nobody's budget; it meets the per-address limit instead): the API's callers together
 * (rateLimit, else latchkey.rate_limit.api), then each user (userRateLimit, else
 * latchkey.rate_limit.api_user). Throws the 429 refusal when one is over. Undefined, at once, when
 * no limit is in force (the default; every API call passes here): a promise only when one is, or
 * while the properties load.
 */
export function countApiCall(limits: RateLimits | undefined, state: RateState, api: RateLimitedApi, caller: Caller): Promise<void> | undefined {
  if (limits === undefined || !caller.authenticated) return undefined;
  const loading = limits.ready();
  if (loading !== undefined) return loading.then(() => countInForce(limits, state, api, caller));
  return countInForce(limits, state, api, caller);
}

/** The limits in force for this call, counted; undefined when there is none. */
function countInForce(limits: RateLimits, state: RateState, api: RateLimitedApi, caller: Caller): Promise<void> | undefined {
  const whole = limits.inForce('api', api.rateLimit);
  const each = caller.user === null ? undefined : limits.inForce('api_user', api.userRateLimit);
  return whole === undefined && each === undefined ? undefined : count(limits, state, api, caller, whole, each);
}

async function count(limits: RateLimits, state: RateState, api: RateLimitedApi, caller: Caller, whole: LimitInForce | undefined, each: LimitInForce | undefined): Promise<void> {
  const name = api.kind === 'mcp' ? `mcp ${api.namespace}/${api.id}` : `${api.namespace}/${api.id}`;
  if (whole !== undefined) {
    const verdict = await limits.enforce(whole, name, () => ({
      who: `${api.kind === 'mcp' ? 'MCP server' : 'API'} ${name} (all callers)`,
      change: whole.own ? `Raise rateLimit in its definition (${api.file}).` : `Raise latchkey.rate_limit.api, or give the API its own rateLimit in its definition (${api.file}).`,
    }));
    state.verdict = tighter(state.verdict, verdict);
  }
  const user = caller.user;
  if (user === null || each === undefined) return;
  const verdict = await limits.enforce(each, `${name}|${user.id}`, () => ({
    who: `User ${JSON.stringify(user.name)} calling API ${name}`,
    change: each.own ? `Raise userRateLimit in the API's definition (${api.file}).` : `Raise latchkey.rate_limit.api_user, or give the API its own userRateLimit in its definition (${api.file}).`,
  }));
  state.verdict = tighter(state.verdict, verdict);
}
