import { z } from 'zod';
import { createApplication, findApplication, rotateSecret, updateApplication, type CreatedApplication } from '../../registry/applications.js';
import { exampleRequest, kinds } from '../../grants/index.js';
import type { GrantDescriptor } from '../../grants/types.js';
import { shellCommand } from '../../core/shell.js';
import { badRequest } from '../http.js';
import { curlFor, deps, issuer, jwksText } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';
import { applicationView, names } from './views.js';
import { registrationInfo } from '../../registry/registration.js';

/** Applications: list, register from a kind preset, read, change, rotate the secret. */

/** A kind of application is a grant with a preset, named by its alias or else its grant type. */
export const kindName = (g: GrantDescriptor) => g.alias ?? g.grantType;

/** The grant types of the kind, after refusing a kind whose essentials (redirect URIs, public keys) are missing. */
function presetOf(ctx: RouteContext, body: z.infer<typeof CreateApplication>): readonly string[] {
  const grant = kinds(ctx.latchkey.catalogue).find((g) => kindName(g) === body.kind);
  if (grant?.preset === undefined) {
    throw badRequest(`Unknown kind "${body.kind.slice(0, 100)}". Kinds: ${kinds(ctx.latchkey.catalogue).map(kindName).join(', ')} (GET /admin/api/v1/grants lists them).`, 'kind');
  }
  const need = grant.kindNeeds?.({ redirectUris: body.redirectUris ?? [], jwks: body.jwks ?? null, jwksUri: body.jwksUri ?? null });
  if (need !== undefined) throw badRequest(need.message, need.field);
  return grant.preset;
}

const applicationFields = {
  name: z.string().min(1).max(200),
  grantTypes: z.array(z.string()).max(10),
  appUser: z.string().max(100).nullable(),
  scopes: z.array(z.string().max(100)).max(200),
  // Above the registry's 2000-character limit, so the registry refuses an overlong URI with its own message (what is accepted).
  redirectUris: z.array(z.string().max(4096)).max(50),
  public: z.boolean(),
  tokenFormat: z.enum(['opaque', 'jwt']),
  accessTokenLifespan: z.number().int(),
  refreshTokenLifespan: z.number().int(),
  logoUri: z.string().max(2000).nullable(),
  audience: z.string().max(500).nullable(),
  jwks: z.union([z.string(), z.record(z.string(), z.unknown())]).nullable(),
  jwksUri: z.string().max(2000).nullable(),
  canIntrospect: z.boolean(),
  adminApi: z.boolean(),
  /** `100/1m`, `off`; null or '' for the instance default (latchkey.rate_limit.client). Checked by the registry. */
  rateLimit: z.string().max(40).nullable(),
  /** OpenID Connect id_token_signed_response_alg. */
  idTokenSignedResponseAlg: z.enum(['RS256', 'ES256']),
  /** Custom UserInfo claims: claim name → user field (registry/claim-mappings.ts checks both); null or {} for none. */
  claimMappings: z.record(z.string().max(100), z.string().max(100)).nullable(),
  /** OpenID Connect RP-Initiated Logout post_logout_redirect_uris; the registry checks them as redirect URIs. */
  postLogoutRedirectUris: z.array(z.string().max(4096)).max(50),
  /** OpenID Connect Back-Channel Logout backchannel_logout_uri; null or '' for none. Checked by the registry (https, outbound rules). */
  backchannelLogoutUri: z.string().max(4096).nullable(),
  /** OpenID Connect Back-Channel Logout backchannel_logout_session_required. */
  backchannelLogoutSessionRequired: z.boolean(),
  /** RFC 8707: the only resources its tokens may be requested for (identifiers; the registry canonicalises them); null: any. */
  resources: z.array(z.string().max(2000)).max(100).nullable(),
  /** RFC 9126 require_pushed_authorization_requests: authorization requests only through POST /oauth/par. */
  parRequired: z.boolean(),
  /** RFC 9449: token requests must carry a DPoP proof (dpop_bound_access_tokens). */
  dpopRequired: z.boolean(),
};

const CreateApplication = z.strictObject({
  name: applicationFields.name,
  // A kind of the instance's grant catalogue (GET /grants): checked by the handler.
  kind: z.string().min(1).max(500),
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
  adminApi: applicationFields.adminApi.optional(),
  rateLimit: applicationFields.rateLimit.optional(),
  idTokenSignedResponseAlg: applicationFields.idTokenSignedResponseAlg.optional(),
  claimMappings: applicationFields.claimMappings.optional(),
  postLogoutRedirectUris: applicationFields.postLogoutRedirectUris.optional(),
  backchannelLogoutUri: applicationFields.backchannelLogoutUri.optional(),
  backchannelLogoutSessionRequired: applicationFields.backchannelLogoutSessionRequired.optional(),
  resources: applicationFields.resources.optional(),
  parRequired: applicationFields.parRequired.optional(),
  dpopRequired: applicationFields.dpopRequired.optional(),
});

const UpdateApplication = z.strictObject({
  ...Object.fromEntries(Object.entries(applicationFields).map(([k, v]) => [k, v.optional()])),
  active: z.boolean().optional(),
} as { [K in keyof typeof applicationFields]: z.ZodOptional<(typeof applicationFields)[K]> } & { active: z.ZodOptional<z.ZodBoolean> });

/** After a change: has the cache pick it up, then answers the application's view and its new secret. */
async function changed(ctx: RouteContext, result: CreatedApplication) {
  await ctx.latchkey.cache.check();
  const n = await names(ctx.latchkey.storage);
  return { application: applicationView(result.application, n.users), clientSecret: result.clientSecret };
}

/** As changed(), plus a ready-to-run curl request carrying the new secret. */
async function changedWithCurl(ctx: RouteContext, result: CreatedApplication) {
  return { ...(await changed(ctx, result)), curl: curlFor(result.application, result.clientSecret, issuer(ctx), ctx.latchkey.catalogue) };
}

/** GET /grants: the instance's grant catalogue, for people and the console (its application kinds). */
export const GrantView = z.strictObject({
  grantType: z.string(),
  alias: z.string().nullable(),
  label: z.string(),
  summary: z.string(),
  parameters: z.array(z.strictObject({ name: z.string(), required: z.boolean(), description: z.string() })),
  clientAuth: z.enum(['confidential', 'public_allowed', 'identifies_client']),
  /** The grant types an application of this kind gets; null when the grant is not a kind of its own. */
  preset: z.array(z.string()).nullable(),
  adminApi: z.boolean(),
  /** A token request to run, with placeholders in <angle brackets>; null when the grant has none. */
  example: z.string().nullable(),
});
const GrantList = z.array(GrantView);

function grantView(g: GrantDescriptor, issuerUrl: string): z.infer<typeof GrantView> {
  const auth = g.clientAuth === 'identifies_client' ? [] : ['-u', '<client-id>:<client-secret>'];
  const words = exampleRequest(g, undefined, { user: '<user>' });
  return {
    grantType: g.grantType,
    alias: g.alias ?? null,
    label: g.label,
    summary: g.summary,
    parameters: g.parameters.map((p) => ({ name: p.name, required: p.required, description: p.description })),
    clientAuth: g.clientAuth,
    preset: g.preset === undefined ? null : [...g.preset],
    adminApi: g.adminApi,
    example: words === undefined ? null : shellCommand(['curl', ...auth, ...words, `${issuerUrl}/oauth_token.do`]),
  };
}

export const APPLICATION_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/grants',
    tag: 'applications',
    summary: 'The grant types this instance serves (its grant catalogue): parameters, client authentication, the kind preset, an example request',
    async handler(ctx) {
      return GrantList.parse(ctx.latchkey.catalogue.map((g) => grantView(g, issuer(ctx))));
    },
  },
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
      const preset = presetOf(ctx, body);
      const { kind, jwks, ...rest } = body;
      const created = await createApplication(deps(ctx), { ...rest, grantTypes: body.grantTypes ?? preset, jwks: jwksText(jwks) });
      return changedWithCurl(ctx, created);
    },
  },
  {
    method: 'GET',
    path: '/applications/:clientId',
    tag: 'applications',
    summary:
      'One application (never its secret). Its registration member is null, except for a dynamically registered client (origin registration): {clientId, source (iat:<id> or ip:<address>), sourceText, policy, registeredAt, updatedAt, lastUsedAt, reapAfterDays, reapAt, reapDue, registrationClientUri}, or null when its record is gone',
    async handler(ctx) {
      const app = await findApplication(ctx.latchkey, ctx.params.clientId ?? '');
      const registration = app.origin === 'registration' ? ((await registrationInfo(ctx.latchkey, app.clientId, issuer(ctx))) ?? null) : null;
      return { ...applicationView(app, (await names(ctx.latchkey.storage)).users), registration };
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
      return changed(ctx, updated);
    },
  },
  {
    method: 'POST',
    path: '/applications/:clientId/rotate-secret',
    tag: 'applications',
    summary: 'Replaces the client secret (the old one stops working at once); the new one is in this answer only',
    async handler(ctx) {
      return changedWithCurl(ctx, await rotateSecret(deps(ctx), ctx.params.clientId ?? ''));
    },
  },
];
