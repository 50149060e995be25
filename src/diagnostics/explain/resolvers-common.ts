/**
 * Resolvers of the facts many reasons share: the application's and the user's settings now, the
 * stored token and who ended it, the secret's rotation, the properties, and the nearest valid
 * value of a typo (administrator only: these never reach a caller).
 */
import { tokenHandle } from '../../core/crypto.js';
import { nearest } from '../../core/nearest.js';
import type { AuditEntry, FactValue } from '../../domain/model.js';
import type { FactName } from '../../errors/facts.js';
import { PROPERTY_NAMES } from '../../registry/properties.js';
import { iso, type ExplainContext, type FactResolver } from '../explain.js';

const strings = (v: FactValue | undefined): string[] => (Array.isArray(v) ? [...v] : typeof v === 'string' && v !== '' ? v.split(/\s+/) : []);
const stringOf = (v: FactValue | undefined): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** An audit entry's before/after JSON as a record (undefined when absent or not an object). */
export function parse(text: string | null): Record<string, unknown> | undefined {
  if (text === null) return undefined;
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
const listIn = (record: Record<string, unknown> | undefined, key: string): string[] => {
  const v = record?.[key];
  return Array.isArray(v) ? v.map(String) : [];
};

/** The scopes the request asked: the recorded fact. */
async function requested(ctx: ExplainContext): Promise<string[]> {
  return strings(await ctx.fact('requestedScopes'));
}

async function existingScopes(ctx: ExplainContext): Promise<Set<string>> {
  return new Set((await ctx.deps.storage.scopes.list()).map((s) => s.name));
}

/**
 * The audited changes that revoke tokens, by what they are recorded under (src/tokens/revocation.ts,
 * src/registry/*): one token by its handle; every token of an application (revoke all, delete) or
 * one family of it (a refresh token's reuse, recorded by the system); of
 * a user (revoke all, a password change or deactivation, delete); of a scope (its delete).
 */
const REVOKED_BY: Readonly<Record<'handle' | 'application' | 'user' | 'scope', readonly string[]>> = {
  handle: ['token.revoke'],
  application: ['token.revoke_all', 'token.revoke_family', 'application.delete'],
  user: ['token.revoke_all', 'user.sessions_ended', 'user.delete'],
  scope: ['scope.delete'],
};
/** An entry is written just after the revocation it records: up to this long after (a bulk revocation takes a while), a little before for another instance's clock. */
const ENTRY_AFTER_MS = 10 * 60_000;
const ENTRY_BEFORE_MS = 5_000;

/**
 * The audit entry of the change that revoked the token: revoked by its handle, else with every
 * token of its application, its user or one of its scopes at that time; for an application or user
 * deleted since, their delete entry (found by id). Undefined when no audited change did it.
 */
async function revocationEntry(ctx: ExplainContext): Promise<AuditEntry | undefined> {
  const token = await ctx.token();
  if (token === undefined || token.revokedAt === null) return undefined;
  const at = token.revokedAt;
  const closest = (entries: readonly AuditEntry[]) =>
    entries.filter((e) => e.at >= at - ENTRY_BEFORE_MS && e.at <= at + ENTRY_AFTER_MS).sort((a, b) => Math.abs(a.at - at) - Math.abs(b.at - at))[0];
  const app = await ctx.deps.storage.applications.byId(token.applicationId).catch(() => undefined);
  const user = token.userId === null ? undefined : await ctx.deps.storage.users.byId(token.userId).catch(() => undefined);
  const targets: [string, readonly string[]][] = [[tokenHandle(token.hash), REVOKED_BY.handle]];
  if (app !== undefined) targets.push([app.clientId, REVOKED_BY.application]);
  if (user !== undefined) targets.push([user.userName, REVOKED_BY.user]);
  for (const scope of token.scopes) targets.push([scope, REVOKED_BY.scope]);
  for (const [target, actions] of targets) {
    const entry = closest((await Promise.all(actions.map((action) => ctx.audit(target, action)))).flat());
    if (entry !== undefined) return entry;
  }
  const deleted: [string, string | null][] = [['application.delete', app === undefined ? token.applicationId : null], ['user.delete', user === undefined ? token.userId : null]];
  for (const [action, id] of deleted) {
    if (id === null) continue;
    const entries = await ctx.deps.storage.audit.list({ action, since: at - ENTRY_BEFORE_MS, limit: 100 }).catch(() => []);
    const entry = closest(entries.filter((e) => parse(e.before)?.id === id));
    if (entry !== undefined) return entry;
  }
  return undefined;
}

/** "admin (token.revoke)", "cli:ops (user.sessions_ended: password changed)": who, and the change that did it. */
function revokedByText(entry: AuditEntry): string {
  const after = parse(entry.after);
  const detail = entry.action === 'user.sessions_ended' && typeof after?.reason === 'string' ? after.reason : entry.action === 'scope.delete' ? `scope ${entry.target}` : '';
  return `${entry.actor} (${entry.action}${detail === '' ? '' : `: ${detail}`})`;
}

/** The latest application.update that took `scopes` away from the application. */
async function withdrawal(ctx: ExplainContext): Promise<AuditEntry | undefined> {
  const app = await ctx.application();
  const gone = strings(await ctx.fact('withdrawnScopes'));
  if (app === undefined || gone.length === 0) return undefined;
  for (const entry of await ctx.audit(app.clientId, 'application.update')) {
    const before = listIn(parse(entry.before), 'scopes');
    const after = listIn(parse(entry.after), 'scopes');
    if (gone.some((s) => before.includes(s) && !after.includes(s))) return entry;
  }
  return undefined;
}

/**
 * The property.set entry in force when the request was refused: the newest at or before it (a later
 * change did not cause the refusal), of the value the refusing code recorded when it did.
 */
async function nothingWithdrawn(ctx: ExplainContext): Promise<boolean> {
  const gone = await ctx.fact('withdrawnScopes');
  return Array.isArray(gone) && gone.length === 0;
}

async function propertyEntry(ctx: ExplainContext): Promise<AuditEntry | undefined> {
  const name = stringOf(await ctx.fact('property'));
  if (name === undefined) return undefined;
  const entries = (await ctx.audit(name, 'property.set')).filter((e) => e.at <= ctx.refusal.at);
  const value = ctx.recorded.propertyValue;
  const applied = value === undefined || value === null ? undefined : entries.find((e) => parse(e.after)?.value === String(value));
  return applied ?? entries[0];
}

async function appUser(ctx: ExplainContext) {
  const app = await ctx.application();
  return app?.appUserId === null || app === undefined ? undefined : ctx.deps.storage.users.byId(app.appUserId);
}

export const COMMON_RESOLVERS: Partial<Record<FactName, FactResolver>> = {
  // ---- the application and the user now ----
  allowedGrants: async (ctx) => (await ctx.application())?.grantTypes,
  allowedScopes: async (ctx) => (await ctx.application())?.scopes,
  tokenFormat: async (ctx) => (await ctx.application())?.tokenFormat,
  audience: async (ctx) => {
    const app = await ctx.application();
    return app === undefined ? undefined : app.audience;
  },
  applicationActive: async (ctx) => (await ctx.application())?.active,
  applicationPublic: async (ctx) => (await ctx.application())?.public,
  registeredRedirectUris: async (ctx) => (await ctx.application())?.redirectUris,
  appUser: async (ctx) => {
    const app = await ctx.application();
    if (app === undefined) return undefined;
    return app.appUserId === null ? null : ((await appUser(ctx))?.userName ?? null);
  },
  appUserActive: async (ctx) => (await appUser(ctx))?.active,
  userExists: async (ctx) => (ctx.refusal.userName === null ? undefined : (await ctx.user()) !== undefined),
  userActive: async (ctx) => (await ctx.user())?.active,
  userRoles: async (ctx) => (await ctx.user())?.roles,
  passwordChangedAt: async (ctx) => {
    const user = await ctx.user();
    return user === undefined ? undefined : iso(user.passwordChangedAt);
  },
  secretRotatedAt: async (ctx) => {
    const app = await ctx.application();
    return app === undefined || app.public ? undefined : iso(app.secretRotatedAt ?? app.createdAt);
  },
  secretRotatedBy: async (ctx) => {
    const app = await ctx.application();
    if (app === undefined || app.public) return undefined;
    const entry = (await ctx.audit(app.clientId, 'application.rotate_secret'))[0] ?? (await ctx.audit(app.clientId, 'application.create'))[0];
    return entry?.actor ?? null;
  },
  supportedGrants: async (ctx) => [...ctx.deps.supportedGrants],
  // ---- the token ----
  token: async (ctx) => {
    const t = await ctx.token();
    return t === undefined ? undefined : tokenHandle(t.hash);
  },
  tokenKind: async (ctx) => (await ctx.token())?.kind,
  tokenScopes: async (ctx) => (await ctx.token())?.scopes,
  tokenGrant: async (ctx) => (await ctx.token())?.grantType,
  issuedAt: async (ctx) => {
    const t = await ctx.token();
    return t === undefined ? undefined : iso(t.issuedAt);
  },
  expiredAt: async (ctx) => {
    const t = await ctx.token();
    return t === undefined ? undefined : iso(t.expiresAt);
  },
  revokedAt: async (ctx) => {
    const t = await ctx.token();
    return t === undefined ? undefined : iso(t.revokedAt);
  },
  revokedBy: async (ctx) => {
    const entry = await revocationEntry(ctx);
    if (entry !== undefined) return revokedByText(entry);
    const token = await ctx.token();
    if (token === undefined || token.revokedAt === null) return undefined;
    if (token.status === 'rotated') return 'its rotation: the refresh token was exchanged for a new one (refresh_token grant)';
    return 'no audited change: the client itself (the revocation endpoint, RFC 7009), a reuse of its refresh token or authorization code (which revokes the family), or a console sign-out';
  },
  withdrawnScopes: async (ctx) => {
    const app = await ctx.application();
    const held = strings(await ctx.fact('tokenScopes'));
    return app === undefined ? undefined : held.filter((s) => !app.scopes.includes(s));
  },
  // Null when nothing was withdrawn (known: the token never had it), undefined when it cannot be known.
  withdrawnAt: async (ctx) => {
    if (await nothingWithdrawn(ctx)) return null;
    const entry = await withdrawal(ctx);
    return entry === undefined ? undefined : iso(entry.at);
  },
  withdrawnBy: async (ctx) => ((await nothingWithdrawn(ctx)) ? null : (await withdrawal(ctx))?.actor),
  // ---- scopes asked ----
  missingScopes: async (ctx) => {
    const app = await ctx.application();
    return app === undefined ? undefined : (await requested(ctx)).filter((s) => !app.scopes.includes(s));
  },
  unknownScopes: async (ctx) => {
    const exist = await existingScopes(ctx);
    return (await requested(ctx)).filter((s) => !exist.has(s));
  },
  scopeExists: async (ctx) => {
    const asked = await requested(ctx);
    if (asked.length === 0) return undefined;
    const exist = await existingScopes(ctx);
    return asked.every((s) => exist.has(s));
  },
  // ---- properties ----
  propertyValue: async (ctx) => {
    const name = stringOf(await ctx.fact('property'));
    if (name === undefined) return undefined;
    const row = (await ctx.deps.storage.properties.list()).find((p) => p.name === name);
    return row?.value ?? null;
  },
  propertySetAt: async (ctx) => {
    const entry = await propertyEntry(ctx);
    return entry === undefined ? null : iso(entry.at);
  },
  propertySetBy: async (ctx) => (await propertyEntry(ctx))?.actor ?? null,
  // ---- the nearest valid value of a typo ----
  nearestGrant: async (ctx) => {
    const asked = stringOf(await ctx.fact('requestedGrant'));
    return asked === undefined ? undefined : (nearest(asked, ctx.deps.supportedGrants) ?? null);
  },
  nearestScope: async (ctx) => {
    const exist = await existingScopes(ctx);
    const unknown = (await requested(ctx)).filter((s) => !exist.has(s));
    if (unknown.length === 0) return undefined;
    return unknown.map((s) => nearest(s, exist)).filter((s): s is string => s !== undefined);
  },
  nearestProperty: async (ctx) => {
    const asked = stringOf(await ctx.fact('requestedProperty'));
    return asked === undefined ? undefined : (nearest(asked, PROPERTY_NAMES) ?? null);
  },
  nearestRedirectUri: async (ctx) => {
    const asked = stringOf(await ctx.fact('requestedRedirectUri'));
    const app = await ctx.application();
    return asked === undefined || app === undefined ? undefined : (nearest(asked, app.redirectUris) ?? null);
  },
  nearestClientId: async (ctx) => {
    if (ctx.refusal.clientId === null) return undefined;
    const apps = await ctx.deps.storage.applications.list();
    return nearest(ctx.refusal.clientId, apps.map((a) => a.clientId)) ?? null;
  },
};
