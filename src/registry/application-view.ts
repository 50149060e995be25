import { z } from 'zod';
import { isoTimestamp } from '../core/timestamps.js';
import type { Application } from '../domain/model.js';

/**
 * The one shape of an application outside the registry: the admin API's answers (and so the
 * console's, console/src/api.ts), and the base of `latchkey apps show/list --json`. Never the
 * secret hash: `hasSecret` says whether there is one. `appUser` is the application user's name.
 */
export const applicationViewSchema = z
  .object({
    id: z.string(),
    clientId: z.string(),
    name: z.string(),
    /** When the secret was last generated (ISO 8601, UTC); null before any. */
    secretRotatedAt: z.iso.datetime().nullable(),
    active: z.boolean(),
    public: z.boolean(),
    grantTypes: z.array(z.string()),
    redirectUris: z.array(z.string()),
    scopes: z.array(z.string()),
    accessTokenLifespan: z.number(),
    refreshTokenLifespan: z.number(),
    tokenFormat: z.enum(['opaque', 'jwt']),
    appUserId: z.string().nullable(),
    logoUri: z.string().nullable(),
    audience: z.string().nullable(),
    /** The registered JWKS document as JSON text. */
    jwks: z.string().nullable(),
    jwksUri: z.string().nullable(),
    canIntrospect: z.boolean(),
    adminApi: z.boolean(),
    /** Its own rate limit (`100/1m`, `off`); null: the instance's latchkey.rate_limit.client. */
    rateLimit: z.string().nullable(),
    /** OpenID Connect: the algorithm of its ID tokens (RS256 or ES256). */
    idTokenSignedResponseAlg: z.enum(['RS256', 'ES256']),
    /** Custom UserInfo claims: claim name → user field (registry/claim-mappings.ts); null: none. */
    claimMappings: z.record(z.string(), z.string()).nullable(),
    /** OpenID Connect RP-Initiated Logout: post_logout_redirect_uris (exact match). */
    postLogoutRedirectUris: z.array(z.string()),
    /** OpenID Connect Back-Channel Logout: backchannel_logout_uri; null: none. */
    backchannelLogoutUri: z.string().nullable(),
    /** OpenID Connect Back-Channel Logout: backchannel_logout_session_required. */
    backchannelLogoutSessionRequired: z.boolean(),
    /** How it came to be: admin (made by an administrator), registration (RFC 7591) or metadata_document (an https client_id URL). */
    origin: z.enum(['admin', 'registration', 'metadata_document']),
    /** RFC 8707: the only resources its tokens may be requested for; null: any known resource. */
    resources: z.array(z.string()).nullable(),
    /** RFC 9126 require_pushed_authorization_requests: authorization requests only through POST /oauth/par. */
    parRequired: z.boolean(),
    /** RFC 9449: token requests must carry a DPoP proof. */
    dpopRequired: z.boolean(),
    createdAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    hasSecret: z.boolean(),
    appUser: z.string().nullable(),
  })
  .strict();

export type ApplicationView = z.infer<typeof applicationViewSchema>;

/** `appUser`: the name of the application user (app.appUserId), or null for none or a user that is gone. */
export function applicationView(app: Application, appUser: string | null): ApplicationView {
  return {
    id: app.id,
    clientId: app.clientId,
    name: app.name,
    secretRotatedAt: app.secretRotatedAt === null ? null : isoTimestamp(app.secretRotatedAt),
    active: app.active,
    public: app.public,
    grantTypes: [...app.grantTypes],
    redirectUris: [...app.redirectUris],
    scopes: [...app.scopes],
    accessTokenLifespan: app.accessTokenLifespan,
    refreshTokenLifespan: app.refreshTokenLifespan,
    tokenFormat: app.tokenFormat,
    appUserId: app.appUserId,
    logoUri: app.logoUri,
    audience: app.audience,
    jwks: app.jwks,
    jwksUri: app.jwksUri,
    canIntrospect: app.canIntrospect,
    adminApi: app.adminApi,
    rateLimit: app.rateLimit ?? null,
    idTokenSignedResponseAlg: app.idTokenAlg ?? 'RS256',
    claimMappings: app.claimMappings === undefined || app.claimMappings === null ? null : { ...app.claimMappings },
    postLogoutRedirectUris: [...(app.postLogoutRedirectUris ?? [])],
    backchannelLogoutUri: app.backchannelLogoutUri ?? null,
    backchannelLogoutSessionRequired: app.backchannelLogoutSessionRequired ?? false,
    origin: app.origin ?? 'admin',
    resources: app.resources === undefined || app.resources === null ? null : [...app.resources],
    parRequired: app.parRequired ?? false,
    dpopRequired: app.dpopRequired ?? false,
    createdAt: isoTimestamp(app.createdAt),
    updatedAt: isoTimestamp(app.updatedAt),
    hasSecret: app.secretHash !== null,
    appUser,
  };
}

/**
 * A dynamically registered client's registration as the admin API answers it (registration.ts
 * RegistrationInfo, times as ISO 8601 text): GET /applications/:clientId's `registration` member.
 */
export const registrationInfoSchema = z
  .object({
    clientId: z.string(),
    /** iat:<initial access token id>, or ip:<address> for open registration. */
    source: z.string(),
    sourceText: z.string(),
    policy: z.string().nullable(),
    registeredAt: z.iso.datetime(),
    updatedAt: z.iso.datetime(),
    /** Its last use as reaping sees it (a token, an API call, its registration read or changed); null: never. */
    lastUsedAt: z.iso.datetime().nullable(),
    /** latchkey.registration.reap_after_days (0: reaping off). */
    reapAfterDays: z.number(),
    /** When reaping deletes it unless it is used before; null when reaping is off. */
    reapAt: z.iso.datetime().nullable(),
    /** The next reap deletes it. */
    reapDue: z.boolean(),
    /** Its client configuration endpoint (RFC 7592). */
    registrationClientUri: z.string().nullable(),
  })
  .strict();

/** GET /applications/:clientId: the view and `registration` (null but for origin registration, or when its record is gone). */
export const applicationDetailSchema = applicationViewSchema.extend({ registration: registrationInfoSchema.nullable() }).strict();
export type ApplicationDetailView = z.infer<typeof applicationDetailSchema>;
