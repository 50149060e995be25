/**
 * Fact resolvers and live fixes of the token endpoint side (request, client_auth, grant, scope, user, password, refresh_token, instance, application_user, rate_limit reasons).
 *
 * A live fix is written from this case's facts and the registry now: the grants this server
 * supports from its grant registry (never a list typed into the catalogue), the application's
 * grants and scopes as they are, and commands that work when pasted (`latchkey scopes create`
 * before the scope is added to an application, lists that replace the current ones in full).
 */
import { parse } from './resolvers-common.js';
import { formatDuration } from '../../core/duration.js';
import { commandLine } from '../../core/shell.js';
import type { Application, AuditEntry, FactValue, Facts } from '../../domain/model.js';
import type { FactName } from '../../errors/facts.js';
import type { ReasonCode } from '../../errors/reasons.js';
import { iso, type ExplainContext, type FactResolver, type LiveFix } from '../explain.js';

const strings = (v: FactValue | undefined): string[] => (Array.isArray(v) ? [...v] : typeof v === 'string' && v !== '' ? [v] : []);
const stringOf = (v: FactValue | undefined): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const code = (words: Parameters<typeof commandLine>[0]): string => `\`${commandLine(words)}\``;
/** `a`, `a and b`, `a, b and c`. */
const listed = (items: readonly string[]): string => (items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1] ?? ''}`);


/** The audit entry that made the application user inactive: its deactivation, or its creation as inactive. */
async function deactivation(ctx: ExplainContext): Promise<AuditEntry | undefined> {
  const app = await ctx.application();
  if (app === undefined || app.appUserId === null) return undefined;
  const user = await ctx.deps.storage.users.byId(app.appUserId).catch(() => undefined);
  if (user === undefined) return undefined;
  for (const entry of await ctx.audit(user.userName)) {
    if (entry.action !== 'user.create' && entry.action !== 'user.update') continue;
    const before = parse(entry.before);
    if (parse(entry.after)?.active === false && before?.active !== false) return entry;
  }
  return undefined;
}

/** The refresh token that replaced the stored one (the next of its family), among the newest 100 of its application and user. */
async function replacement(ctx: ExplainContext) {
  const token = await ctx.token();
  if (token === undefined || token.kind !== 'refresh') return undefined;
  const tokens = await ctx.deps.storage.tokens.list({ applicationId: token.applicationId, ...(token.userId === null ? {} : { userId: token.userId }), limit: 100 });
  const next = tokens.filter((t) => t.familyId === token.familyId && t.kind === 'refresh' && t.hash !== token.hash && t.issuedAt >= token.issuedAt);
  return next.sort((a, b) => a.issuedAt - b.issuedAt)[0];
}

export const TOKEN_SIDE_RESOLVERS: Partial<Record<FactName, FactResolver>> = {
  refreshTokenLifespan: async (ctx) => (await ctx.application())?.refreshTokenLifespan,
  exchangedAt: async (ctx) => {
    if ((await ctx.token()) === undefined) return undefined;
    const next = await replacement(ctx);
    return next === undefined ? null : iso(next.issuedAt);
  },
  tokenApplication: async (ctx) => {
    const token = await ctx.token();
    if (token === undefined) return undefined;
    const app = await ctx.deps.storage.applications.byId(token.applicationId).catch(() => undefined);
    return app === undefined ? `(deleted application ${token.applicationId})` : `${app.name} (client id ${app.clientId})`;
  },
  appUserDeactivatedAt: async (ctx) => {
    const entry = await deactivation(ctx);
    return entry === undefined ? null : iso(entry.at);
  },
  appUserDeactivatedBy: async (ctx) => (await deactivation(ctx))?.actor ?? null,
};

/** The application's list with `extra` added (in order, once): what `--grants` / `--scopes` must be given, since it replaces the list. */
const withAdded = (current: readonly string[], extra: readonly string[]): string[] => [...new Set([...current, ...extra])];

async function appOf(ctx: ExplainContext): Promise<Application | undefined> {
  return ctx.application();
}

function supportedText(facts: Facts, ctx: ExplainContext): string {
  const supported = strings(facts.supportedGrants);
  return listed(supported.length > 0 ? supported : [...ctx.deps.supportedGrants]);
}

const missingGrantType: LiveFix = (ctx, facts) => `Add grant_type, one of the grant types this server supports: ${supportedText(facts, ctx)}.`;

const unsupportedGrant: LiveFix = (ctx, facts) => {
  const nearest = stringOf(facts.nearestGrant);
  const hint = nearest === undefined ? '' : ` The nearest to the one sent is ${nearest}.`;
  return `Send one of the grant types this server supports, spelled exactly: ${supportedText(facts, ctx)}.${hint}`;
};

const grantNotAllowed: LiveFix = async (ctx, facts) => {
  const app = await appOf(ctx);
  const grant = stringOf(facts.requestedGrant);
  if (app === undefined || grant === undefined) return undefined;
  if (app.grantTypes.includes(grant as (typeof app.grantTypes)[number])) return `The application allows ${grant} now (changed since this refusal): retry the request.`;
  return `Add ${grant} to the application's grant types (the list replaces the current one): ${code(['apps', 'update', app.clientId, '--grants', withAdded(app.grantTypes, [grant]).join(',')])}.`;
};

const appUserMissing: LiveFix = async (ctx) => {
  const app = await appOf(ctx);
  if (app === undefined) return undefined;
  return `Set the user its client credentials tokens act as: ${code(['apps', 'update', app.clientId, '--app-user', { placeholder: 'user-name' }])} (a service user, for example one made with ${code(['users', 'create', { placeholder: 'user-name' }])}).`;
};

const appUserInactive: LiveFix = async (ctx, facts) => {
  const app = await appOf(ctx);
  const user = stringOf(facts.appUser);
  if (app === undefined || user === undefined) return undefined;
  return `Activate the application user: ${code(['users', 'update', user, '--active', 'true'])}; or choose another: ${code(['apps', 'update', app.clientId, '--app-user', { placeholder: 'user-name' }])}.`;
};

const scopeNotAllowed: LiveFix = async (ctx, facts) => {
  const app = await appOf(ctx);
  const missing = strings(facts.missingScopes);
  if (app === undefined) return undefined;
  if (missing.length === 0) return 'The application allows every scope asked now (changed since this refusal): retry the request.';
  const own = app.scopes.length === 0 ? 'the application has none' : `the application's are ${app.scopes.join(' ')}`;
  return `Request only the application's scopes (${own}), or add ${listed(missing)} to them (the list replaces the current one): ${code(['apps', 'update', app.clientId, '--scopes', withAdded(app.scopes, missing).join(',')])}.`;
};

const scopeUnknown: LiveFix = async (ctx, facts) => {
  const app = await appOf(ctx);
  const unknown = strings(facts.unknownScopes);
  if (app === undefined || unknown.length === 0) return undefined;
  const nearest = strings(facts.nearestScope);
  const typo = nearest.length === 0 ? '' : `If it is a typo, request ${listed(nearest)} instead (the nearest existing ${nearest.length === 1 ? 'scope' : 'scopes'}). `;
  const asked = strings(facts.requestedScopes);
  const add = withAdded(app.scopes, asked.filter((s) => !app.scopes.includes(s)));
  const create = unknown.map((s) => code(['scopes', 'create', s])).join(', then ');
  return `${typo}Otherwise ${unknown.length === 1 ? 'the scope does' : 'these scopes do'} not exist yet: create ${unknown.length === 1 ? 'it' : 'them'} first with ${create}, then allow the application ${unknown.length === 1 ? 'it' : 'them'} (the list replaces the current one): ${code(['apps', 'update', app.clientId, '--scopes', add.join(',')])}.`;
};

const scopeWithdrawn: LiveFix = async (ctx, facts) => {
  const app = await appOf(ctx);
  const withdrawn = strings(facts.withdrawnScopes);
  if (app === undefined || withdrawn.length === 0) return undefined;
  const kept = strings(facts.tokenScopes).filter((s) => app.scopes.includes(s));
  const refresh = kept.length === 0 ? 'none of its scopes is left to the application: obtain a new grant' : `refresh with scope=${kept.join(' ')}, or without scope (the scopes still in effect)`;
  const by = stringOf(facts.withdrawnBy);
  const who = by === undefined ? '' : ` (withdrawn by ${by}${stringOf(facts.withdrawnAt) === undefined ? '' : ` at ${String(facts.withdrawnAt)}`})`;
  return `The client asked for ${listed(withdrawn)}, which the application no longer has${who}: ${refresh}. If the withdrawal was a mistake, give ${withdrawn.length === 1 ? 'it' : 'them'} back: ${code(['apps', 'update', app.clientId, '--scopes', withAdded(app.scopes, withdrawn).join(',')])}.`;
};

const refreshExpired: LiveFix = async (ctx, facts) => {
  const app = await appOf(ctx);
  const lifespan = facts.refreshTokenLifespan;
  if (app === undefined || typeof lifespan !== 'number') return undefined;
  return `Obtain a new token with the original grant. This application's refresh tokens live ${formatDuration(lifespan)} (rotation does not extend a family); change it with ${code(['apps', 'update', app.clientId, '--refresh-token-lifespan', { placeholder: 'duration' }])}.`;
};

export const TOKEN_SIDE_FIXES: Partial<Record<ReasonCode, LiveFix>> = {
  'request.missing_grant_type': missingGrantType,
  'grant.unsupported': unsupportedGrant,
  'grant.not_allowed_for_application': grantNotAllowed,
  'application_user.missing': appUserMissing,
  'application_user.inactive': appUserInactive,
  'scope.not_allowed': scopeNotAllowed,
  'scope.unknown': scopeUnknown,
  'scope.withdrawn': scopeWithdrawn,
  'refresh_token.expired': refreshExpired,
};
