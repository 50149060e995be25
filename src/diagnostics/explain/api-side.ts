/**
 * Fact resolvers and live fixes of the API side: the api, token, introspect, revoke, admin, metrics
 * and outbound reasons (the browser side's are in browser-side.ts). Resolvers find what the
 * registry and the audit log know now; the refusing code recorded the rest (the token's handle,
 * scopes and times, what the request sent). A live fix is written from this case's facts and the
 * registry now, so the command it offers names this application, this user and this scope, and works.
 */
import { commandLine } from '../../core/shell.js';
import type { AuditEntry, FactValue, Facts } from '../../domain/model.js';
import type { FactName } from '../../errors/facts.js';
import type { ReasonCode } from '../../errors/reasons.js';
import type { ExplainContext, FactResolver, LiveFix } from '../explain.js';

const strings = (v: FactValue | undefined): string[] => (Array.isArray(v) ? [...v] : typeof v === 'string' && v !== '' ? v.split(/\s+/) : []);
const text = (v: FactValue | undefined): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const iso = (ms: number): string => new Date(ms).toISOString();

function parsed(json: string | null): Record<string, unknown> | undefined {
  if (json === null) return undefined;
  try {
    const v: unknown = JSON.parse(json);
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Reasons about a user's active flag (the others that list deactivatedAt are about the application). */
const USER_REASONS: ReadonlySet<string> = new Set(['token.user_inactive', 'user.inactive', 'application_user.inactive']);

/**
 * The audit entry that made the application (or, for a user reason, the user) inactive: the newest
 * update from active to inactive at or before the refusal, else its creation as inactive.
 */
async function deactivation(ctx: ExplainContext): Promise<AuditEntry | undefined> {
  const aboutUser = USER_REASONS.has(ctx.refusal.reason);
  const target = aboutUser ? ctx.refusal.userName : ((await ctx.application())?.clientId ?? ctx.refusal.clientId);
  if (target === null || target === undefined) return undefined;
  const kind = aboutUser ? 'user' : 'application';
  const before = (e: AuditEntry) => e.at <= ctx.refusal.at;
  const updated = (await ctx.audit(target, `${kind}.update`)).find((e) => before(e) && parsed(e.before)?.active === true && parsed(e.after)?.active === false);
  if (updated !== undefined) return updated;
  return (await ctx.audit(target, `${kind}.create`)).find((e) => before(e) && parsed(e.after)?.active === false);
}

/** The console session's end, from the audit log: a change of its user that ended its sessions, or its delete. */
async function sessionEnd(ctx: ExplainContext): Promise<AuditEntry | undefined> {
  const ended = text(ctx.recorded.sessionEndedAt);
  if (ctx.refusal.userName === null || ended === undefined) return undefined;
  const at = Date.parse(ended);
  const near = (e: AuditEntry) => e.at >= at - 5_000 && e.at <= at + 60_000;
  for (const action of ['user.sessions_ended', 'user.delete']) {
    const entry = (await ctx.audit(ctx.refusal.userName, action)).find(near);
    if (entry !== undefined) return entry;
  }
  return undefined;
}

export const API_SIDE_RESOLVERS: Partial<Record<FactName, FactResolver>> = {
  accessTokenLifespan: async (ctx) => (await ctx.application())?.accessTokenLifespan,
  canIntrospect: async (ctx) => (await ctx.application())?.canIntrospect,
  adminApi: async (ctx) => (await ctx.application())?.adminApi,
  deactivatedAt: async (ctx) => {
    const entry = await deactivation(ctx);
    return entry === undefined ? null : iso(entry.at);
  },
  deactivatedBy: async (ctx) => (await deactivation(ctx))?.actor ?? null,
  tokenClientId: async (ctx) => {
    const token = await ctx.token();
    if (token === undefined) return undefined;
    return (await ctx.deps.storage.applications.byId(token.applicationId).catch(() => undefined))?.clientId ?? null;
  },
  identityProvider: async (ctx) => {
    const iss = text(await ctx.fact('tokenIssuer'));
    if (iss === undefined) return undefined;
    return (await ctx.deps.storage.identityProviders.list()).find((p) => p.issuer === iss)?.name ?? null;
  },
  providerIssuers: async (ctx) => (await ctx.deps.storage.identityProviders.list()).filter((p) => p.active).map((p) => p.issuer),
  sessionEndedBy: async (ctx) => {
    const state = text(ctx.recorded.sessionState);
    if (state === 'expired') return 'its absolute lifetime (8 hours from sign-in) ran out';
    if (state === 'idle') return 'it went unused for longer than the idle timeout (30 minutes)';
    if (state !== 'ended') return undefined;
    const entry = await sessionEnd(ctx);
    if (entry === undefined) return 'the user signing out (the console\'s Sign out; not in the audit log)';
    const why = parsed(entry.after)?.reason;
    return `${entry.actor} (${entry.action}${typeof why === 'string' && why !== '' ? `: ${why}` : ''})`;
  },
};

// ---- live fixes -------------------------------------------------------------------------------

const list = (names: readonly string[]): string => names.join(', ');

/**
 * The hosted MCP tool a refusal was about (its hint names it: "MCP tool <name> of <ns>/<id>", or a
 * reporting rule's target "(mcp:<ns>/<id>/<name> requires …)"), or the server alone when the refusal came from the
 * endpoint `mcp <ns>/<id>` before any tool; undefined for a REST API.
 */
function mcpSubject(ctx: ExplainContext): { server: string; tool: string | undefined } | undefined {
  const endpoint = /^mcp ([a-z0-9][a-z0-9_-]*\/[a-z0-9][a-z0-9_-]*)$/i.exec(ctx.refusal.endpoint);
  if (endpoint === null) return undefined;
  const hint = ctx.refusal.hint ?? '';
  const tool = /MCP tool ([A-Za-z0-9_.-]{1,64}) of /.exec(hint) ?? /\(mcp:[a-z0-9_-]+\/[a-z0-9_-]+\/([A-Za-z0-9_.-]{1,64}) requires /i.exec(hint);
  return { server: endpoint[1] as string, tool: tool?.[1] };
}

/** Who requires the scopes or roles, in words: the API, or the MCP tool (or server) by name. */
function requirer(ctx: ExplainContext): string {
  const mcp = mcpSubject(ctx);
  if (mcp === undefined) return 'The API';
  return mcp.tool === undefined ? `The MCP server ${mcp.server}` : `The MCP tool ${mcp.tool} of ${mcp.server}`;
}

/** The last step for a scope: an MCP client with OAuth support steps up on its own once it may. */
function requestStep(ctx: ExplainContext, scope: string): string {
  return mcpSubject(ctx) === undefined
    ? `request a new token with scope=${scope}`
    : `request a new token with scope=${scope} (an MCP client with OAuth support does so itself on the 403 insufficient_scope, the step-up, once the application allows it)`;
}

async function scopeMissingFix(ctx: ExplainContext, facts: Facts): Promise<string | undefined> {
  const app = await ctx.application();
  const required = strings(facts.requiredScopes);
  if (app === undefined || required.length === 0) return undefined;
  const allowed = app.scopes;
  const alreadyAllowed = required.filter((s) => allowed.includes(s));
  if (alreadyAllowed.length > 0) {
    return `${requirer(ctx)} requires one of ${list(required)}. The application "${app.name}" allows ${list(alreadyAllowed)} now, but this token was granted ${list(strings(facts.tokenScopes)) || 'no scopes'}: ${requestStep(ctx, alreadyAllowed[0] as string)}.`;
  }
  const withdrawn = strings(facts.withdrawnScopes).filter((s) => required.includes(s));
  const wanted = withdrawn[0] ?? (required[0] as string);
  const exists = (await ctx.deps.storage.scopes.list()).some((s) => s.name === wanted);
  const steps = [
    ...(exists ? [] : [`create the scope (no auth scope of this instance is named ${wanted}): ${commandLine(['scopes', 'create', wanted])}`]),
    `add it to the application: ${commandLine(['apps', 'update', app.clientId, '--scopes', [...allowed, wanted].join(',')])}`,
    requestStep(ctx, wanted),
  ];
  const why =
    withdrawn.length > 0
      ? `The token was granted ${list(withdrawn)}, but it was withdrawn from the application${text(facts.withdrawnAt) === undefined ? '' : ` at ${String(facts.withdrawnAt)}`}${text(facts.withdrawnBy) === undefined ? '' : ` by ${String(facts.withdrawnBy)}`}. If it should be back, `
      : `${requirer(ctx)} requires one of ${list(required)}; the application "${app.name}" allows ${list(allowed) || 'no scopes'}. `;
  return `${why}${steps.map((s, i) => `${i + 1}. ${s}`).join('; ')}.`;
}

async function roleMissingFix(ctx: ExplainContext, facts: Facts): Promise<string | undefined> {
  const user = await ctx.user();
  const required = strings(facts.requiredRoles);
  if (user === undefined || required.length === 0) return undefined;
  const roles = [...user.roles, required[0] as string];
  const mcp = mcpSubject(ctx);
  const who = mcp === undefined ? 'the resource' : requirer(ctx).replace(/^The /, 'the ');
  return `User ${user.userName} has ${list(user.roles) || 'no roles'}; ${who} requires one of ${list(required)}. If this user should have it: ${commandLine(['users', 'update', user.userName, '--roles', roles.join(',')])}.`;
}

export const API_SIDE_FIXES: Partial<Record<ReasonCode, LiveFix>> = {
  'api.scope_missing': scopeMissingFix,
  'api.role_missing': roleMissingFix,
  'admin.role_missing': roleMissingFix,
  'token.expired': async (ctx, facts) => {
    const app = await ctx.application();
    if (app === undefined) return undefined;
    return `Obtain a new token (this one expired at ${String(facts.expiredAt ?? '?')}). The application "${app.name}" issues access tokens for ${app.accessTokenLifespan} s; change that with ${commandLine(['apps', 'update', app.clientId, '--access-token-lifespan', '<duration>'])}.`;
  },
  'token.revoked': (_ctx, facts) =>
    text(facts.revokedAt) === undefined ? undefined : `Obtain a new token: this one was revoked at ${String(facts.revokedAt)}${text(facts.revokedBy) === undefined ? '' : ` by ${String(facts.revokedBy)}`}.`,
  'token.application_inactive': async (ctx, facts) => {
    const app = await ctx.application();
    if (app === undefined) return undefined;
    if (app.active) return `The application "${app.name}" is active again: the token works once the change reaches every instance; if it is still refused, obtain a new token.`;
    const by = text(facts.deactivatedBy) === undefined ? '' : ` (made inactive at ${String(facts.deactivatedAt)} by ${String(facts.deactivatedBy)})`;
    return `Activate the application "${app.name}"${by}: ${commandLine(['apps', 'update', app.clientId, '--active', 'true'])}.`;
  },
  'token.wrong_audience': async (ctx) => {
    const app = await ctx.application();
    if (app === undefined) return undefined;
    if (app.audience === null) return `The application "${app.name}" has no audience now: obtain a new token; its tokens are for this instance.`;
    return `The application "${app.name}" gets tokens for ${app.audience}: send them there. To call this instance's APIs with its tokens, clear its audience: ${commandLine(['apps', 'update', app.clientId, '--audience', ''])}, then obtain a new token.`;
  },
  'introspect.not_allowed': async (ctx) => {
    const app = await ctx.application();
    if (app === undefined) return undefined;
    return app.canIntrospect
      ? `The application "${app.name}" may introspect now: retry.`
      : `If "${app.name}" is a resource server that should introspect tokens: ${commandLine(['apps', 'update', app.clientId, '--can-introspect', 'true'])}.`;
  },
  'introspect.client_authentication_required': async (ctx) => {
    const app = await ctx.application();
    if (app === undefined || !app.public) return undefined;
    return `The application "${app.name}" is public, so it cannot authenticate. Use a confidential application allowed to introspect, or make this one confidential (a secret is printed once): ${commandLine(['apps', 'update', app.clientId, '--public', 'false', '--can-introspect', 'true'])}.`;
  },
  'revoke.wrong_client': (_ctx, facts) => {
    const owner = text(facts.tokenClientId);
    const handle = text(facts.token);
    if (owner === undefined || handle === undefined) return undefined;
    return `The token was issued to the application ${owner}: revoke it with that application, or as an administrator: ${commandLine(['tokens', 'revoke', handle])}.`;
  },
  'admin.application_not_allowed': async (ctx) => {
    const app = await ctx.application();
    if (app === undefined) return undefined;
    return app.adminApi
      ? `The application "${app.name}" is allowed the admin API now: obtain a new token with scope=latchkey.admin.`
      : `Use an application allowed the admin API, or allow this one if it administers the instance: ${commandLine(['apps', 'update', app.clientId, '--admin-api', 'true'])}, then request a token with scope=latchkey.admin.`;
  },
  'admin.scope_missing': async (ctx) => {
    const app = await ctx.application();
    if (app === undefined) return undefined;
    return app.scopes.includes('latchkey.admin')
      ? `The application "${app.name}" allows latchkey.admin: request the token with scope=latchkey.admin (the all-access scope useraccount does not stand in for it).`
      : `The application "${app.name}" does not list latchkey.admin now: ${commandLine(['apps', 'update', app.clientId, '--admin-api', 'true'])} adds it; then request a token with scope=latchkey.admin.`;
  },
};
