import type { SessionRecord } from '../../domain/model.js';
import { recordChange } from '../../audit/log.js';
import { shellCommand } from '../../core/shell.js';
import { type Application } from '../../domain/model.js';
import { exampleRequest } from '../../grants/index.js';
import type { GrantDescriptor } from '../../grants/types.js';
import { badRequest } from '../http.js';
import type { RouteContext } from './types.js';

/** Helpers the route handlers share: registry deps, auditing, query parameters, curl examples. */

/** Registry deps carrying the actor, so the registry audits the change under the admin's name; new passwords share the instance's hashing queue. */
export function deps(ctx: RouteContext) {
  const d = {
    storage: ctx.latchkey.storage,
    clock: ctx.latchkey.clock,
    actor: ctx.caller.userName,
    hasher: ctx.latchkey.passwordHasher,
    grants: ctx.latchkey.catalogue,
    // Sessions a user change ends (password, roles, deactivation, deletion) get back-channel logout.
    sessionsEnded: (sessions: readonly SessionRecord[]) => ctx.latchkey.backchannel.sessionsEnded(sessions),
  };
  return d;
}

/** Records an audit entry for changes made outside the registry functions (tokens, roles). */
export async function audit(ctx: RouteContext, entry: { action: string; target: string; before?: object | null; after?: object | null }): Promise<void> {
  await recordChange(deps(ctx), { action: entry.action, target: entry.target, before: entry.before ?? null, after: entry.after ?? null });
}

/** After a change: has the cache pick it up, then answers `value`. */
export async function refreshed<T>(ctx: RouteContext, value: T): Promise<T> {
  await ctx.latchkey.cache.check();
  return value;
}

export function intParam(query: URLSearchParams, name: string, options: { min: number; max: number; fallback?: number }): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return options.fallback;
  if (!/^-?\d+$/.test(raw)) throw badRequest(`${name} must be a whole number (got "${raw.slice(0, 50)}").`, name);
  const n = Number(raw);
  if (n < options.min || n > options.max) throw badRequest(`${name} must be between ${options.min} and ${options.max}.`, name);
  return n;
}

/** A text query parameter; missing and empty both read as undefined. */
export function textParam(query: URLSearchParams, name: string): string | undefined {
  return query.get(name) || undefined;
}

/** `since` as ms since the epoch, an ISO date, or a duration back from now (30m, 24h, 7d). */
export function sinceParam(ctx: RouteContext): number | undefined {
  const raw = ctx.query.get('since');
  if (raw === null || raw === '') return undefined;
  const m = /^(\d+)([smhd])$/.exec(raw);
  if (m !== null) return ctx.latchkey.clock.now() - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d+$/.test(raw)) return Number(raw);
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw badRequest('since must be ms since the epoch, an ISO date or a duration such as 24h.', 'since');
  return t;
}

export function issuer(ctx: RouteContext): string {
  return ctx.latchkey.issuer();
}

/**
 * A ready-to-run request for the application's main grant: the first grant of the catalogue it
 * allows that has an example. Every value is quoted for the shell: a redirect URI may legally hold
 * `$`, `(`, `)`, `;`, `&` and `'` (RFC 3986 §2.2), and the console shows this command for pasting.
 */
export function curlFor(app: Application, secret: string | null, issuerUrl: string, catalogue: readonly GrantDescriptor[]): string {
  const auth = secret === null ? ['-d', `client_id=${app.clientId}`] : ['-u', `${app.clientId}:${secret}`];
  const grant = catalogue.find((g) => g.example !== undefined && app.grantTypes.includes(g.grantType));
  const words = grant === undefined ? undefined : exampleRequest(grant, app, { user: '<user>' });
  return shellCommand(['curl', ...auth, ...(words ?? ['-d', 'grant_type=<grant>']), `${issuerUrl}/oauth_token.do`]);
}

/** A JWKS given as a document or as text, stored as text. */
export function jwksText(value: string | Record<string, unknown> | null | undefined): string | null | undefined {
  return value === undefined || value === null || typeof value === 'string' ? value : JSON.stringify(value);
}

/** The refusal filters both refusal lists take (GET /refusals, GET /refusals/groups), documented once. */
export const REFUSAL_FILTER_QUERY = [
  { name: 'reason', description: 'reason code, e.g. client_auth.secret_mismatch' },
  { name: 'endpoint', description: 'token, authorize, introspect, revoke, api' },
  { name: 'client', description: 'client id' },
  { name: 'since', description: 'ms since the epoch, ISO date, or a duration such as 1h' },
] as const;

/**
 * The refusal filters of a request: `reason` and `since` go to the storage query; `matches` applies
 * `endpoint` and `client`, which the storage list does not filter on; `narrowed` says whether it does.
 */
export function refusalFilter(ctx: RouteContext) {
  const endpoint = textParam(ctx.query, 'endpoint');
  const client = textParam(ctx.query, 'client');
  return {
    reason: textParam(ctx.query, 'reason'),
    since: sinceParam(ctx),
    narrowed: endpoint !== undefined || client !== undefined,
    matches: (r: { readonly endpoint: string; readonly clientId: string | null }): boolean =>
      (endpoint === undefined || r.endpoint === endpoint) && (client === undefined || r.clientId === client),
  };
}
