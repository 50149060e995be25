import { z } from 'zod';
import type { Latchkey } from '../app.js';
import { recordChange } from '../audit/log.js';
import { tokenHandle } from '../core/crypto.js';
import { runDoctor } from '../diagnostics/doctor.js';
import { inspectToken } from '../diagnostics/inspect.js';
import { isReasonCode, reasonInfo } from '../errors/reasons.js';
import { createIdentityProvider, listIdentityProviders, removeIdentityProvider, updateIdentityProvider } from '../idp/registry.js';
import { DEFAULT_PREPUBLISH_MS, keyStates, SIGNING_ALGORITHMS } from '../keys/keyring.js';
import { createApplication, findApplication, rotateSecret, updateApplication } from '../registry/applications.js';
import { ADMIN_ROLE } from '../registry/bootstrap.js';
import { RegistryError } from '../registry/errors.js';
import { createScope } from '../registry/scopes.js';
import { PROPERTY_DEFINITIONS, type PropertyDefinition } from '../registry/properties.js';
import { listProperties, setProperty, type PropertyView } from '../registry/settings.js';
import { createUser, findUser, updateUser } from '../registry/users.js';
import { JWT_BEARER_GRANT, StorageError, type Application, type GrantType, type IdentityProvider, type Refusal, type Storage, type TokenRecord, type User } from '../storage/types.js';
import type { AdminCaller } from './auth.js';
import type { ConsoleAuth } from './console-auth.js';
import { AdminError, badRequest, notFound } from './http.js';
import { settingLink } from './links.js';

/**
 * The admin API's routes: one table that the HTTP host registers (src/admin/register.ts), the
 * OpenAPI document describes (src/admin/openapi.ts) and the access tests walk, so a route cannot
 * be added without being authenticated, documented and tested.
 */

export type AdminMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContext {
  readonly latchkey: Latchkey;
  readonly auth: ConsoleAuth;
  readonly caller: AdminCaller;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: unknown;
  /** Set-Cookie values to send (logout). */
  readonly cookies: string[];
}

export interface QueryParam {
  readonly name: string;
  readonly description: string;
  readonly type?: 'string' | 'integer' | 'boolean';
}

export interface AdminRoute {
  readonly method: AdminMethod;
  /** Below /admin/api/v1, Fastify style (`:name` parameters). */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  readonly body?: z.ZodType;
  readonly query?: readonly QueryParam[];
  /** Status of a successful answer (default 200). */
  readonly status?: number;
  handler(ctx: RouteContext): Promise<unknown>;
}

export const ADMIN_API_PREFIX = '/admin/api/v1';

// ---- views: records as the API shows them (no hashes, ever) ------------------------------------

type Names = { apps: Map<string, Application>; users: Map<string, User> };

async function names(storage: Storage): Promise<Names> {
  const [apps, users] = await Promise.all([storage.applications.list(), storage.users.list()]);
  return { apps: new Map(apps.map((a) => [a.id, a])), users: new Map(users.map((u) => [u.id, u])) };
}

function applicationView(app: Application, users?: Map<string, User>) {
  const { secretHash, ...rest } = app;
  return { ...rest, hasSecret: secretHash !== null, appUser: app.appUserId === null ? null : (users?.get(app.appUserId)?.userName ?? null) };
}

function userView(user: User) {
  const { passwordHash, ...rest } = user;
  return { ...rest, hasPassword: passwordHash !== null };
}

function tokenFormatOf(key: string): 'opaque' | 'jwt' {
  const rest = key.slice(key.indexOf('.') + 1);
  return rest.length === 43 ? 'opaque' : 'jwt';
}

function tokenStatus(t: TokenRecord, now: number): string {
  return t.status === 'active' && t.expiresAt <= now ? 'expired' : t.status;
}

function tokenView(t: TokenRecord, n: Names, now: number) {
  const app = n.apps.get(t.applicationId);
  return {
    id: t.hash,
    kind: t.kind,
    format: tokenFormatOf(t.hash),
    application: app?.clientId ?? null,
    applicationName: app?.name ?? null,
    user: t.userId === null ? null : (n.users.get(t.userId)?.userName ?? null),
    scopes: [...t.scopes],
    grantType: t.grantType,
    issuedAt: t.issuedAt,
    expiresAt: t.expiresAt,
    status: tokenStatus(t, now),
    revokedAt: t.revokedAt,
  };
}

function refusalView(r: Refusal) {
  const info = isReasonCode(r.reason) ? reasonInfo(r.reason) : undefined;
  return {
    ...r,
    explanation: info?.explanation ?? null,
    fix: info?.fix ?? null,
    setting: info?.setting ?? null,
    link: settingLink(info?.setting, { clientId: r.clientId, userName: r.userName }) ?? null,
  };
}

/** A property with its range (integer properties) and its console link. */
function propertyView(p: PropertyView) {
  const def: PropertyDefinition = PROPERTY_DEFINITIONS[p.name];
  return { ...p, ...(def.min === undefined ? {} : { min: def.min }), ...(def.max === undefined ? {} : { max: def.max }), link: settingLink(p.name) ?? null };
}

function idpView(idp: IdentityProvider) {
  return idp;
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

// ---- helpers ---------------------------------------------------------------------------------

/** Registry deps carrying the actor, so the registry audits the change under the admin's name. */
function deps(ctx: RouteContext) {
  const d = { storage: ctx.latchkey.storage, clock: ctx.latchkey.clock, actor: ctx.caller.userName };
  return d;
}

/** Records an audit entry for changes made outside the registry functions (tokens, roles). */
async function audit(ctx: RouteContext, entry: { action: string; target: string; before?: object | null; after?: object | null }): Promise<void> {
  await recordChange(deps(ctx), { action: entry.action, target: entry.target, before: entry.before ?? null, after: entry.after ?? null });
}

function intParam(query: URLSearchParams, name: string, options: { min: number; max: number; fallback?: number }): number | undefined {
  const raw = query.get(name);
  if (raw === null || raw === '') return options.fallback;
  if (!/^-?\d+$/.test(raw)) throw badRequest(`${name} must be a whole number (got "${raw.slice(0, 50)}").`, name);
  const n = Number(raw);
  if (n < options.min || n > options.max) throw badRequest(`${name} must be between ${options.min} and ${options.max}.`, name);
  return n;
}

/** `since` as ms since the epoch, an ISO date, or a duration back from now (30m, 24h, 7d). */
function sinceParam(ctx: RouteContext): number | undefined {
  const raw = ctx.query.get('since');
  if (raw === null || raw === '') return undefined;
  const m = /^(\d+)([smhd])$/.exec(raw);
  if (m !== null) return ctx.latchkey.clock.now() - Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d+$/.test(raw)) return Number(raw);
  const t = Date.parse(raw);
  if (Number.isNaN(t)) throw badRequest('since must be ms since the epoch, an ISO date or a duration such as 24h.', 'since');
  return t;
}

function issuer(ctx: RouteContext): string {
  return ctx.latchkey.issuer();
}

/** A ready-to-run request for the application's main grant. */
export function curlFor(app: Application, secret: string | null, issuerUrl: string): string {
  const token = `${issuerUrl}/oauth_token.do`;
  const auth = secret === null ? `-d client_id=${app.clientId}` : `-u "${app.clientId}:${secret}"`;
  if (app.grantTypes.includes('client_credentials')) return `curl ${auth} -d grant_type=client_credentials ${token}`;
  if (app.grantTypes.includes('password')) return `curl ${auth} -d grant_type=password --data-urlencode "username=<user>" --data-urlencode "password=<password>" ${token}`;
  if (app.grantTypes.includes(JWT_BEARER_GRANT)) return `curl ${auth} -d grant_type=${encodeURIComponent(JWT_BEARER_GRANT)} -d assertion=<signed JWT> ${token}`;
  if (app.grantTypes.includes('authorization_code')) {
    return `curl ${auth} -d grant_type=authorization_code -d code=<code> -d code_verifier=<verifier>${app.redirectUris[0] === undefined ? '' : ` --data-urlencode "redirect_uri=${app.redirectUris[0]}"`} ${token}`;
  }
  return `curl ${auth} -d grant_type=<grant> ${token}`;
}

async function findings(ctx: RouteContext): Promise<unknown[]> {
  const { latchkey } = ctx;
  return runDoctor({ storage: latchkey.storage, router: latchkey.router, clock: latchkey.clock, keyring: latchkey.keyring });
}

// ---- bodies ----------------------------------------------------------------------------------

const KINDS = ['client_credentials', 'password', 'authorization_code', 'jwt_bearer'] as const;
const PRESETS: Record<(typeof KINDS)[number], GrantType[]> = {
  client_credentials: ['client_credentials'],
  password: ['password', 'refresh_token'],
  authorization_code: ['authorization_code', 'refresh_token'],
  jwt_bearer: [JWT_BEARER_GRANT],
};

const applicationFields = {
  name: z.string().min(1).max(200),
  grantTypes: z.array(z.string()).max(10),
  appUser: z.string().max(100).nullable(),
  scopes: z.array(z.string().max(100)).max(200),
  redirectUris: z.array(z.string().max(2000)).max(50),
  public: z.boolean(),
  tokenFormat: z.enum(['opaque', 'jwt']),
  accessTokenLifespan: z.number().int(),
  refreshTokenLifespan: z.number().int(),
  logoUri: z.string().max(2000).nullable(),
  audience: z.string().max(500).nullable(),
  jwks: z.union([z.string(), z.record(z.string(), z.unknown())]).nullable(),
  jwksUri: z.string().max(2000).nullable(),
  canIntrospect: z.boolean(),
};

const CreateApplication = z.strictObject({
  name: applicationFields.name,
  kind: z.enum(KINDS),
  grantTypes: applicationFields.grantTypes.optional(),
  appUser: applicationFields.appUser.optional(),
  scopes: applicationFields.scopes.optional(),
  redirectUris: applicationFields.redirectUris.optional(),
  public: applicationFields.public.optional(),
  tokenFormat: applicationFields.tokenFormat.optional(),
  accessTokenLifespan: applicationFields.accessTokenLifespan.optional(),
  refreshTokenLifespan: applicationFields.refreshTokenLifespan.optional(),
  logoUri: applicationFields.logoUri.optional(),
  audience: applicationFields.audience.optional(),
  jwks: applicationFields.jwks.optional(),
  jwksUri: applicationFields.jwksUri.optional(),
  canIntrospect: applicationFields.canIntrospect.optional(),
});

const UpdateApplication = z.strictObject({
  ...Object.fromEntries(Object.entries(applicationFields).map(([k, v]) => [k, v.optional()])),
  active: z.boolean().optional(),
} as { [K in keyof typeof applicationFields]: z.ZodOptional<(typeof applicationFields)[K]> } & { active: z.ZodOptional<z.ZodBoolean> });

const CreateUser = z.strictObject({
  userName: z.string().min(1).max(100),
  password: z.string().max(1024).optional(),
  roles: z.array(z.string().max(80)).max(100).optional(),
  active: z.boolean().optional(),
});
const UpdateUser = z.strictObject({
  password: z.string().max(1024).optional(),
  roles: z.array(z.string().max(80)).max(100).optional(),
  active: z.boolean().optional(),
});
const CreateRole = z.strictObject({ name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/, 'letters, digits, ".", "_", "-", at most 80'), description: z.string().max(500).optional() });
const CreateScope = z.strictObject({ name: z.string().min(1).max(100), description: z.string().max(500).optional() });
const SetProperty = z.strictObject({ value: z.union([z.boolean(), z.number(), z.string().max(100)]) });
const RevokeAll = z.strictObject({ application: z.string().max(200).optional(), user: z.string().max(100).optional() });
const Inspect = z.strictObject({ token: z.string().min(1).max(16_384) });
const RotateKey = z.strictObject({ alg: z.enum(SIGNING_ALGORITHMS as unknown as [string, ...string[]]).optional(), now: z.boolean().optional() });
const idpFields = {
  name: z.string().min(1).max(100),
  issuer: z.string().max(2000),
  metadataUrl: z.string().max(2000),
  jwksUri: z.string().max(2000),
  audience: z.string().max(500),
  userClaim: z.string().max(100),
  userField: z.enum(['user_name', 'id']),
  active: z.boolean(),
  check: z.boolean(),
};
const CreateIdp = z.strictObject({
  name: idpFields.name,
  issuer: idpFields.issuer,
  metadataUrl: idpFields.metadataUrl.optional(),
  jwksUri: idpFields.jwksUri.optional(),
  audience: idpFields.audience,
  userClaim: idpFields.userClaim.optional(),
  userField: idpFields.userField.optional(),
  active: idpFields.active.optional(),
  check: idpFields.check.optional(),
});
const UpdateIdp = CreateIdp.partial();

function jwksText(value: string | Record<string, unknown> | null | undefined): string | null | undefined {
  return value === undefined || value === null || typeof value === 'string' ? value : JSON.stringify(value);
}

// ---- the routes ------------------------------------------------------------------------------

export const ADMIN_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/session',
    tag: 'session',
    summary: 'The signed-in admin, the CSRF token to send in x-csrf-token, and when the session ends',
    async handler(ctx) {
      const s = ctx.caller.session;
      return {
        user: { name: ctx.caller.userName, roles: ctx.caller.roles },
        via: ctx.caller.via,
        csrfToken: s === undefined ? null : await ctx.auth.csrfToken(s),
        expiresAt: s === undefined ? null : ctx.auth.expiresAt({ ...s, lastSeen: ctx.latchkey.clock.now() }),
      };
    },
  },
  {
    method: 'POST',
    path: '/session/logout',
    tag: 'session',
    summary: 'Ends the console session (clears the cookie)',
    async handler(ctx) {
      ctx.cookies.push(ctx.auth.clear());
      return { signedOut: true };
    },
  },
  {
    method: 'GET',
    path: '/overview',
    tag: 'diagnostics',
    summary: 'Counts for the home page and the doctor findings',
    async handler(ctx) {
      const { storage, clock } = ctx.latchkey;
      const now = clock.now();
      const [apps, users, tokens, refusals, found] = await Promise.all([
        storage.applications.list(),
        storage.users.list(),
        storage.tokens.list({ activeOnly: true, now, limit: 100_000 }),
        storage.refusals.list({ since: now - 86_400_000, limit: 100_000 }),
        findings(ctx),
      ]);
      return { counts: { applications: apps.length, users: users.length, activeTokens: tokens.length, refusals24h: refusals.length }, findings: found };
    },
  },
  {
    method: 'GET',
    path: '/findings',
    tag: 'diagnostics',
    summary: 'The doctor findings (as `latchkey doctor`), each with its fix',
    handler: (ctx) => findings(ctx),
  },
  {
    method: 'POST',
    path: '/inspect',
    tag: 'diagnostics',
    summary: 'Token debugger: what a pasted token is, whether it is valid and which APIs accept it',
    body: Inspect,
    async handler(ctx) {
      const { token } = ctx.body as z.infer<typeof Inspect>;
      return inspectToken(ctx.latchkey, token);
    },
  },
  // ---- applications
  {
    method: 'GET',
    path: '/applications',
    tag: 'applications',
    summary: 'The registered applications; q filters by name or client id',
    query: [{ name: 'q', description: 'case-insensitive substring of the name or client id' }],
    async handler(ctx) {
      const n = await names(ctx.latchkey.storage);
      const q = (ctx.query.get('q') ?? '').trim().toLowerCase();
      return [...n.apps.values()]
        .filter((a) => q === '' || a.name.toLowerCase().includes(q) || a.clientId.toLowerCase().includes(q))
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((a) => applicationView(a, n.users));
    },
  },
  {
    method: 'POST',
    path: '/applications',
    tag: 'applications',
    status: 201,
    summary: 'Registers an application from a kind preset; the client secret is in this answer only',
    body: CreateApplication,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof CreateApplication>;
      if (body.kind === 'authorization_code' && (body.redirectUris ?? []).filter((u) => u.trim() !== '').length === 0) {
        throw badRequest('An authorization_code application needs at least one redirect URI.', 'redirectUris');
      }
      if (body.kind === 'jwt_bearer' && (body.jwks ?? null) === null && (body.jwksUri ?? null) === null) {
        throw badRequest('A jwt_bearer application needs its public keys: jwks (a JWKS document) or jwksUri.', 'jwks');
      }
      const { kind, jwks, ...rest } = body;
      const created = await createApplication(deps(ctx), { ...rest, grantTypes: body.grantTypes ?? PRESETS[kind], jwks: jwksText(jwks) });
      await ctx.latchkey.cache.check();
      const n = await names(ctx.latchkey.storage);
      return { application: applicationView(created.application, n.users), clientSecret: created.clientSecret, curl: curlFor(created.application, created.clientSecret, issuer(ctx)) };
    },
  },
  {
    method: 'GET',
    path: '/applications/:clientId',
    tag: 'applications',
    summary: 'One application (never its secret)',
    async handler(ctx) {
      const app = await findApplication(ctx.latchkey, ctx.params.clientId ?? '');
      return applicationView(app, (await names(ctx.latchkey.storage)).users);
    },
  },
  {
    method: 'PATCH',
    path: '/applications/:clientId',
    tag: 'applications',
    summary: 'Changes any field of an application, active included',
    body: UpdateApplication,
    async handler(ctx) {
      const body = ctx.body as { jwks?: string | Record<string, unknown> | null } & Record<string, unknown>;
      const updated = await updateApplication(deps(ctx), ctx.params.clientId ?? '', { ...body, jwks: jwksText(body.jwks) });
      await ctx.latchkey.cache.check();
      const n = await names(ctx.latchkey.storage);
      return { application: applicationView(updated.application, n.users), clientSecret: updated.clientSecret };
    },
  },
  {
    method: 'POST',
    path: '/applications/:clientId/rotate-secret',
    tag: 'applications',
    summary: 'Replaces the client secret (the old one stops working at once); the new one is in this answer only',
    async handler(ctx) {
      const rotated = await rotateSecret(deps(ctx), ctx.params.clientId ?? '');
      await ctx.latchkey.cache.check();
      const n = await names(ctx.latchkey.storage);
      return { application: applicationView(rotated.application, n.users), clientSecret: rotated.clientSecret, curl: curlFor(rotated.application, rotated.clientSecret, issuer(ctx)) };
    },
  },
  // ---- users and roles
  {
    method: 'GET',
    path: '/users',
    tag: 'users',
    summary: 'The users (never their password hashes)',
    async handler(ctx) {
      return (await ctx.latchkey.storage.users.list()).sort((a, b) => a.userName.localeCompare(b.userName)).map(userView);
    },
  },
  {
    method: 'POST',
    path: '/users',
    tag: 'users',
    status: 201,
    summary: 'Creates a user; roles are created on first use',
    body: CreateUser,
    async handler(ctx) {
      const created = await createUser(deps(ctx), ctx.body as z.infer<typeof CreateUser>);
      await ctx.latchkey.cache.check();
      return { user: userView(created.user), createdRoles: created.createdRoles };
    },
  },
  {
    method: 'PATCH',
    path: '/users/:userName',
    tag: 'users',
    summary: 'Changes a user: active, roles, password',
    body: UpdateUser,
    async handler(ctx) {
      const name = ctx.params.userName ?? '';
      const body = ctx.body as z.infer<typeof UpdateUser>;
      if (name === ctx.caller.userName && (body.active === false || (body.roles !== undefined && !body.roles.includes(ADMIN_ROLE)))) {
        throw new AdminError(409, 'conflict', 'You cannot deactivate yourself or remove your own admin role here; another administrator must do it.', body.active === false ? 'active' : 'roles');
      }
      const updated = await updateUser(deps(ctx), name, body);
      await ctx.latchkey.cache.check();
      return { user: userView(updated.user), createdRoles: updated.createdRoles };
    },
  },
  {
    method: 'GET',
    path: '/roles',
    tag: 'users',
    summary: 'The roles',
    handler: async (ctx) => (await ctx.latchkey.storage.roles.list()).sort((a, b) => a.name.localeCompare(b.name)),
  },
  {
    method: 'POST',
    path: '/roles',
    tag: 'users',
    status: 201,
    summary: 'Creates a role',
    body: CreateRole,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof CreateRole>;
      if ((await ctx.latchkey.storage.roles.byName(body.name)) !== undefined) throw new AdminError(409, 'role_exists', `A role named "${body.name}" already exists.`, 'name');
      const role = { name: body.name, description: body.description ?? '', builtIn: false };
      await ctx.latchkey.storage.roles.create(role);
      await audit(ctx, { action: 'role.create', target: role.name, after: role });
      return role;
    },
  },
  // ---- scopes, properties, APIs
  {
    method: 'GET',
    path: '/scopes',
    tag: 'scopes',
    summary: 'The auth scopes',
    handler: async (ctx) => (await ctx.latchkey.storage.scopes.list()).sort((a, b) => a.name.localeCompare(b.name)),
  },
  {
    method: 'POST',
    path: '/scopes',
    tag: 'scopes',
    status: 201,
    summary: 'Creates an auth scope',
    body: CreateScope,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof CreateScope>;
      const scope = await createScope(deps(ctx), body.name, body.description ?? '');
      await ctx.latchkey.cache.check();
      return scope;
    },
  },
  {
    method: 'GET',
    path: '/properties',
    tag: 'properties',
    summary: 'Every instance property with its value, default, type and meaning',
    handler: async (ctx) => (await listProperties(ctx.latchkey)).map(propertyView),
  },
  {
    method: 'PUT',
    path: '/properties/:name',
    tag: 'properties',
    summary: 'Sets a property; the value is checked against its type and range',
    body: SetProperty,
    async handler(ctx) {
      const name = ctx.params.name ?? '';
      const { value } = ctx.body as z.infer<typeof SetProperty>;
      const before = (await listProperties(ctx.latchkey)).find((p) => p.name === name);
      if (before !== undefined && typeof value !== 'string' && typeof value !== (before.type === 'boolean' ? 'boolean' : 'number')) {
        throw badRequest(`Property ${name} is ${before.type === 'boolean' ? 'a boolean: send true or false' : 'an integer: send a number'} (got ${JSON.stringify(value)}).`, 'value');
      }
      await setProperty(deps(ctx), name, String(value));
      await ctx.latchkey.cache.check();
      const view = (await listProperties(ctx.latchkey)).find((p) => p.name === name);
      return { property: view === undefined ? undefined : propertyView(view) };
    },
  },
  {
    method: 'GET',
    path: '/apis',
    tag: 'apis',
    summary: 'Every loaded REST API with its routes and their effective security',
    async handler(ctx) {
      return ctx.latchkey.router.list().map((api) => ({
        namespace: api.namespace,
        id: api.id,
        name: api.name,
        versions: api.versions,
        defaultVersion: api.defaultVersion,
        routes: api.resources.map((r) => ({ method: r.method, path: r.template, ...(r.description === undefined ? {} : { description: r.description }), security: r.security })),
      }));
    },
  },
  // ---- tokens
  {
    method: 'GET',
    path: '/tokens',
    tag: 'tokens',
    summary: 'Issued tokens, newest first; rows carry the stored key (a hash), never a token',
    query: [
      { name: 'application', description: 'client id' },
      { name: 'user', description: 'user name' },
      { name: 'active', description: 'true (default): only active unexpired tokens; false: all', type: 'boolean' },
      { name: 'limit', description: '1-1000, default 200', type: 'integer' },
    ],
    async handler(ctx) {
      const { latchkey, query } = ctx;
      const now = latchkey.clock.now();
      const application = query.get('application');
      const user = query.get('user');
      const applicationId = application === null || application === '' ? undefined : (await findApplication(latchkey, application)).id;
      const userId = user === null || user === '' ? undefined : (await findUser(latchkey, user)).id;
      const limit = intParam(query, 'limit', { min: 1, max: 1000, fallback: 200 });
      const list = await latchkey.storage.tokens.list({ applicationId, userId, activeOnly: query.get('active') !== 'false', now, limit });
      const n = await names(latchkey.storage);
      return list.map((t) => tokenView(t, n, now));
    },
  },
  {
    method: 'POST',
    path: '/tokens/:id/revoke',
    tag: 'tokens',
    summary: 'Revokes one token by its stored key (a refresh token takes its whole family with it)',
    async handler(ctx) {
      const { storage, clock } = ctx.latchkey;
      const record = await storage.tokens.byHash(ctx.params.id ?? '');
      if (record === undefined) throw notFound('No token has this id. List them with GET /admin/api/v1/tokens.');
      const now = clock.now();
      const revoked = record.kind === 'refresh' ? await storage.tokens.revokeFamily(record.familyId, now) : (await storage.tokens.revoke(record.hash, now)) ? 1 : 0;
      const n = await names(storage);
      await audit(ctx, { action: 'token.revoke', target: tokenHandle(record.hash), before: { ...tokenView(record, n, now), id: tokenHandle(record.hash) }, after: { kind: record.kind, status: 'revoked', revoked } });
      await ctx.latchkey.cache.check();
      return { revoked };
    },
  },
  {
    method: 'POST',
    path: '/tokens/revoke-all',
    tag: 'tokens',
    summary: 'Revokes every active token of an application or of a user',
    body: RevokeAll,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof RevokeAll>;
      const { latchkey } = ctx;
      if (body.application === undefined && body.user === undefined) throw badRequest('Name an application (client id) or a user whose tokens to revoke.', 'application');
      const applicationId = body.application === undefined ? undefined : (await findApplication(latchkey, body.application)).id;
      const userId = body.user === undefined ? undefined : (await findUser(latchkey, body.user)).id;
      const now = latchkey.clock.now();
      let revoked = 0;
      const families = new Set<string>();
      for (;;) {
        const page = await latchkey.storage.tokens.list({ applicationId, userId, activeOnly: true, now, limit: 1000 });
        if (page.length === 0) break;
        for (const t of page) {
          if (t.kind === 'refresh') {
            if (!families.has(t.familyId)) revoked += await latchkey.storage.tokens.revokeFamily(t.familyId, now);
            families.add(t.familyId);
          }
          if (t.kind === 'access' && (await latchkey.storage.tokens.revoke(t.hash, now))) revoked++;
        }
        if (page.length < 1000) break;
      }
      await audit(ctx, { action: 'token.revoke_all', target: body.application ?? body.user ?? '', after: { application: body.application ?? null, user: body.user ?? null, revoked } });
      await latchkey.cache.check();
      return { revoked };
    },
  },
  // ---- refusals, activity, audit
  {
    method: 'GET',
    path: '/refusals',
    tag: 'refusals',
    summary: 'Recent refusals, newest first, each with explanation, fix, setting and console link',
    query: [
      { name: 'reason', description: 'reason code, e.g. client_auth.secret_mismatch' },
      { name: 'endpoint', description: 'token, authorize, introspect, revoke, api' },
      { name: 'since', description: 'ms since the epoch, ISO date, or a duration such as 1h' },
      { name: 'limit', description: '1-1000, default 100', type: 'integer' },
    ],
    async handler(ctx) {
      const limit = intParam(ctx.query, 'limit', { min: 1, max: 1000, fallback: 100 }) ?? 100;
      const reason = ctx.query.get('reason') || undefined;
      const endpoint = ctx.query.get('endpoint') || undefined;
      const since = sinceParam(ctx);
      const rows = await ctx.latchkey.storage.refusals.list({ reason, since, limit: endpoint === undefined ? limit : 5000 });
      return rows.filter((r) => endpoint === undefined || r.endpoint === endpoint).slice(0, limit).map(refusalView);
    },
  },
  {
    method: 'GET',
    path: '/refusals/:requestId',
    tag: 'refusals',
    summary: 'One refusal by the request id the client was given',
    async handler(ctx) {
      const r = await ctx.latchkey.storage.refusals.byRequestId(ctx.params.requestId ?? '');
      if (r === undefined) throw notFound('No refusal was recorded for this request id (refusals are kept for a limited time).');
      return refusalView(r);
    },
  },
  {
    method: 'GET',
    path: '/activity',
    tag: 'activity',
    summary: 'Per-minute counts of tokens issued, API calls and refusals, and refusals by reason',
    query: [{ name: 'hours', description: '1-168, default 24', type: 'integer' }],
    async handler(ctx) {
      const hours = intParam(ctx.query, 'hours', { min: 1, max: 168, fallback: 24 }) ?? 24;
      const { storage, clock } = ctx.latchkey;
      const since = clock.now() - hours * 3_600_000;
      const activity = (storage as Partial<Pick<Storage, 'activity'>>).activity;
      const series = async (metric: string): Promise<[number, number][]> =>
        activity === undefined || typeof activity.series !== 'function' ? [] : (await activity.series(metric, since)).map((b) => [b.bucket, b.count]);
      const merge = (...lists: [number, number][][]): [number, number][] => {
        const sum = new Map<number, number>();
        for (const list of lists) for (const [t, n] of list) sum.set(t, (sum.get(t) ?? 0) + n);
        return [...sum].sort((a, b) => a[0] - b[0]);
      };
      const [tokenIssued, apiCalls, tokenRefused, apiRefused, refusals] = await Promise.all([
        series('token.issued'),
        series('api.call'),
        series('token.refused'),
        series('api.refused'),
        storage.refusals.list({ since, limit: 100_000 }),
      ]);
      const byReason = new Map<string, number>();
      for (const r of refusals) byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1);
      return {
        bucketMs: 60_000,
        since,
        series: { tokenIssued, apiCalls, refusals: merge(tokenRefused, apiRefused) },
        refusalsByReason: [...byReason].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason)),
      };
    },
  },
  {
    method: 'GET',
    path: '/audit',
    tag: 'audit',
    summary: 'The audit log, newest first: who changed what, before and after',
    query: [
      { name: 'since', description: 'ms since the epoch, ISO date, or a duration such as 24h' },
      { name: 'target', description: 'client id, user name, property name, ...' },
      { name: 'action', description: 'e.g. application.create' },
      { name: 'limit', description: '1-1000, default 100', type: 'integer' },
    ],
    async handler(ctx) {
      const store = (ctx.latchkey.storage as Partial<Pick<Storage, 'audit'>>).audit;
      if (store === undefined || typeof store.list !== 'function') return [];
      const limit = intParam(ctx.query, 'limit', { min: 1, max: 1000, fallback: 100 });
      const target = ctx.query.get('target') || undefined;
      const action = ctx.query.get('action') || undefined;
      const entries = await store.list({ since: sinceParam(ctx), target, action, limit });
      return entries.map((e) => ({ ...e, before: parseJson(e.before), after: parseJson(e.after) }));
    },
  },
  // ---- keys and identity providers
  {
    method: 'GET',
    path: '/keys',
    tag: 'keys',
    summary: 'The signing keys and their states (public parts only)',
    async handler(ctx) {
      const now = ctx.latchkey.clock.now();
      const list = [...(await ctx.latchkey.storage.keys.list())].sort((a, b) => a.activatesAt - b.activatesAt || a.createdAt - b.createdAt);
      const states = keyStates(list, now);
      return list.map((k) => ({ kid: k.kid, alg: k.alg, state: states.get(k.kid) ?? null, publicJwk: parseJson(k.publicJwk), createdAt: k.createdAt, activatesAt: k.activatesAt, retiresAt: k.retiresAt, publishUntil: k.publishUntil }));
    },
  },
  {
    method: 'POST',
    path: '/keys/rotate',
    tag: 'keys',
    summary: 'Adds a new signing key (signing after 10 minutes, or at once with now: true)',
    body: RotateKey,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof RotateKey>;
      if (!ctx.latchkey.keyring.canSign) throw new AdminError(409, 'no_key_encryption_key', 'This instance has no key-encryption key, so it cannot create signing keys: set LATCHKEY_KEY_ENCRYPTION_KEY.');
      // The keyring audits the rotation under this actor.
      const result = await ctx.latchkey.keyring.rotate({ ...(body.alg === undefined ? {} : { alg: body.alg as 'ES256' | 'RS256' }), prepublishMs: body.now === true ? 0 : DEFAULT_PREPUBLISH_MS, actor: ctx.caller.userName });
      if (!result.rotated) throw new AdminError(409, 'conflict', 'Another rotation is running on this database right now. Try again in a moment.');
      return { key: { kid: result.key.kid, alg: result.key.alg, activatesAt: result.key.activatesAt }, retired: result.retired.map((k) => k.kid) };
    },
  },
  {
    method: 'GET',
    path: '/idps',
    tag: 'idps',
    summary: 'The identity providers whose JWTs the APIs accept',
    handler: async (ctx) => (await listIdentityProviders(ctx.latchkey)).map(idpView),
  },
  {
    method: 'POST',
    path: '/idps',
    tag: 'idps',
    status: 201,
    summary: 'Registers an identity provider (its metadata / JWKS are fetched to check them unless check: false)',
    body: CreateIdp,
    async handler(ctx) {
      const saved = await createIdentityProvider(deps(ctx), ctx.body as z.infer<typeof CreateIdp>);
      await ctx.latchkey.cache.check();
      return saved;
    },
  },
  {
    method: 'PATCH',
    path: '/idps/:name',
    tag: 'idps',
    summary: 'Changes an identity provider',
    body: UpdateIdp,
    async handler(ctx) {
      const saved = await updateIdentityProvider(deps(ctx), ctx.params.name ?? '', ctx.body as z.infer<typeof UpdateIdp>);
      await ctx.latchkey.cache.check();
      return saved;
    },
  },
  {
    method: 'DELETE',
    path: '/idps/:name',
    tag: 'idps',
    summary: 'Removes an identity provider',
    async handler(ctx) {
      const removed = await removeIdentityProvider(deps(ctx), ctx.params.name ?? '');
      await ctx.latchkey.cache.check();
      return { removed: idpView(removed) };
    },
  },
];

/** Maps registry and storage errors to the API's error shape; anything else is rethrown. */
export function mapError(error: unknown): AdminError {
  if (error instanceof AdminError) return error;
  if (error instanceof z.ZodError) {
    const issue = error.issues[0];
    const field = issue?.path.map(String).join('.') || undefined;
    return badRequest(issue === undefined ? 'The request body is not valid.' : `${field === undefined ? 'body' : field}: ${issue.message}`, field);
  }
  if (error instanceof RegistryError) {
    const status = error.code.endsWith('_not_found') ? 404 : error.code.endsWith('_exists') ? 409 : 400;
    return new AdminError(status, error.code, error.message);
  }
  if (error instanceof StorageError && error.code === 'conflict') return new AdminError(409, 'conflict', error.message);
  if (error instanceof StorageError && error.code === 'not_found') return new AdminError(404, 'not_found', error.message);
  throw error;
}
