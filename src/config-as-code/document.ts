import { z } from 'zod';
import { IDP_USER_FIELDS } from '../idp/registry.js';
import { DEFAULT_ACCESS_TOKEN_LIFESPAN, DEFAULT_REFRESH_TOKEN_LIFESPAN } from '../registry/applications.js';
import { RULE_KINDS, RULE_MODES } from '../domain/model.js';
import { PROPERTY_DEFINITIONS, PROPERTY_NAMES, type PropertyDefinition } from '../registry/properties.js';
import { RULE_ID } from '../registry/rules.js';
import { SCOPE_TOKEN } from '../registry/scopes.js';
import { ROLE_NAME as ROLE_NAME_PATTERN, USER_NAME as USER_NAME_PATTERN } from '../registry/users.js';
import { HTTP_METHODS } from '../resource-server/define.js';

/**
 * The registry document: an instance's configuration as one file (`latchkey export`, `latchkey
 * apply`, docs/configuration-as-code.md). This zod schema is the one definition of the format: it
 * validates what `apply` reads (naming the path of every problem), types what `export` writes, and
 * is the source of the published JSON Schema (docs/schema/registry-v1.schema.json,
 * `latchkey export --schema`). A field left out of an entry means its default, so an entry
 * describes the whole object.
 */

export const API_VERSION = 'latchkey/v1';
export const KIND = 'Registry';
/** Where the JSON Schema is published in the repository (and its `$id`'s last segment). */
export const SCHEMA_FILE = 'docs/schema/registry-v1.schema.json';

/**
 * A client id `apply` may give an application: RFC 3986 unreserved characters (safe in a URL and
 * in HTTP Basic, where a ':' would end it), starting with a letter or digit. Generated ones are 32
 * hex digits.
 */
export const CLIENT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~-]{0,99}$/;

const text = (max: number) => z.string().max(max);
const nullableText = (max: number, description: string) => z.string().min(1).max(max).nullable().default(null).describe(description);

const role = z
  .strictObject({
    name: z.string().regex(ROLE_NAME_PATTERN).describe('Role name: letters, digits, ".", "_", "-" (1-80).'),
    description: text(500).default(''),
  })
  .describe('A role users carry. The built-in role admin is not listed (every instance has it).');

const scope = z
  .strictObject({
    name: z.string().max(100).regex(SCOPE_TOKEN).describe('Scope name: printable ASCII without spaces, \'"\' or \'\\\' (RFC 6749 §3.3).'),
    description: text(500).default(''),
  })
  .describe('An auth scope. The built-in scopes useraccount and latchkey.admin are not listed.');

const profileText = (max: number, description: string) => z.string().min(1).max(max).optional().describe(description);
const address = z
  .strictObject({
    formatted: profileText(500, 'The full mailing address, formatted for display (line breaks allowed).'),
    streetAddress: profileText(300, 'street_address: house number, street, and so on.'),
    locality: profileText(100, 'City or locality.'),
    region: profileText(100, 'State, province or region.'),
    postalCode: profileText(20, 'Zip or postal code.'),
    country: profileText(100, 'Country name.'),
  })
  .describe('OpenID Connect Core 5.1.1 address claim.');
const profile = z
  .strictObject({
    name: profileText(200, 'Full name (claim name).'),
    givenName: profileText(100, 'Given name (claim given_name).'),
    familyName: profileText(100, 'Family name (claim family_name).'),
    email: profileText(254, 'Email address (claim email).'),
    emailVerified: z.boolean().optional().describe('Whether the email address is verified (claim email_verified); kept only with an email.'),
    phoneNumber: profileText(40, 'Phone number in E.164 form, +14155550123 (claim phone_number).'),
    phoneNumberVerified: z.boolean().optional().describe('Whether the phone number is verified (claim phone_number_verified); kept only with a phone number.'),
    locale: profileText(35, 'BCP 47 language tag, en-US (claim locale).'),
    zoneinfo: profileText(64, 'IANA time zone, Europe/Paris (claim zoneinfo).'),
    picture: profileText(2048, 'Profile picture URL: https, or http on localhost (claim picture).'),
    address: address.optional(),
  })
  .default({})
  .describe('The user\'s OpenID Connect Core 5.1 profile (UserInfo claims, docs/openid-connect-claims.md); a field left out is cleared.');

const user = z
  .strictObject({
    userName: z.string().regex(USER_NAME_PATTERN).describe('The user name (the identity of a user: it cannot be renamed).'),
    active: z.boolean().default(true),
    roles: z.array(z.string().regex(ROLE_NAME_PATTERN)).default([]).describe('Roles the user carries; a role not listed under roles is created with no description.'),
    profile,
  })
  .describe('A user, without any password: a user apply creates has none (set one with `latchkey users update <name> --password-stdin`); an existing password is kept.');

const jwks = z
  .looseObject({ keys: z.array(z.record(z.string(), z.unknown())).min(1) })
  .nullable()
  .default(null)
  .describe('The application\'s public keys (RFC 7517 JWKS), for private_key_jwt and the JWT bearer grant. Exclusive with jwksUri.');

const application = z
  .strictObject({
    clientId: z
      .string()
      .regex(CLIENT_ID_PATTERN)
      .optional()
      .describe('The client id: the identity of an application. Left out, the application is matched by its (unique) name, and one that does not exist is created with a generated client id.'),
    name: z.string().min(1).max(200),
    active: z.boolean().default(true),
    public: z.boolean().default(false).describe('A public client has no secret (a browser or native app).'),
    grantTypes: z.array(z.string().min(1).max(200)).default([]).describe('Grant types by name or alias (client_credentials, password, authorization_code, jwt_bearer, ...); those a grant implies are added (password: refresh_token).'),
    redirectUris: z.array(z.string().min(1).max(2000)).default([]),
    scopes: z.array(z.string().min(1).max(100)).default([]).describe('Auth scopes the application may request; latchkey.admin follows adminApi and is not listed.'),
    appUser: z.string().regex(USER_NAME_PATTERN).nullable().default(null).describe('The user client-credentials tokens act as ("OAuth Application User").'),
    accessTokenLifespan: z.number().int().min(1).default(DEFAULT_ACCESS_TOKEN_LIFESPAN).describe('Seconds.'),
    refreshTokenLifespan: z.number().int().min(1).default(DEFAULT_REFRESH_TOKEN_LIFESPAN).describe('Seconds.'),
    tokenFormat: z.enum(['opaque', 'jwt']).default('opaque'),
    logoUri: nullableText(2000, 'Logo shown on the consent page (https, or http on localhost).'),
    audience: nullableText(500, 'The aud of its JWT access tokens; null: the issuer.'),
    jwks,
    jwksUri: nullableText(2000, 'Where its public keys are published. Exclusive with jwks.'),
    canIntrospect: z.boolean().default(false).describe('May call the introspection endpoint about any token.'),
    adminApi: z.boolean().default(false).describe('May administer the instance (adds the scope latchkey.admin).'),
    rateLimit: z.string().min(1).max(40).nullable().default(null).describe("Its own rate limit at the token and introspection endpoints: <requests>/<window> with the window in s, m, h or d (100/1m), or off; null: the instance's latchkey.rate_limit.client."),
    idTokenSignedResponseAlg: z.enum(['RS256', 'ES256']).default('RS256').describe('OpenID Connect: the algorithm of its ID tokens (id_token_signed_response_alg).'),
    claimMappings: z
      .record(z.string().min(1).max(64), z.string().min(1).max(40))
      .nullable()
      .default(null)
      .describe('Custom UserInfo claims: claim name to user field (id, userName, roles, name, givenName, familyName, email, emailVerified, phoneNumber, phoneNumberVerified, locale, zoneinfo, picture, address), sent with the scope profile; null: none.'),
    postLogoutRedirectUris: z.array(z.string().min(1).max(2000)).default([]).describe('OpenID Connect RP-Initiated Logout: where the end-session endpoint may send the browser after sign-out (exact match; the rules of redirect URIs).'),
    backchannelLogoutUri: nullableText(2000, 'OpenID Connect Back-Channel Logout: where logout tokens are POSTed when a session ends (https; allowed by the outbound rules); null: none.'),
    backchannelLogoutSessionRequired: z.boolean().default(false).describe('OpenID Connect Back-Channel Logout: the application needs sid in logout tokens (backchannel_logout_session_required).'),
    resources: z.array(z.string().min(1).max(2000)).max(100).nullable().default(null).describe('RFC 8707 resource indicators: the only resources (identifiers, as `latchkey resources list` shows them) its tokens may be requested for; null: any known resource.'),
    parRequired: z.boolean().default(false).describe('RFC 9126 require_pushed_authorization_requests: the authorization endpoint accepts its requests only by a request_uri from POST /oauth/par.'),
    dpopRequired: z.boolean().default(false).describe('RFC 9449: token requests must carry a DPoP proof, so every token of the application is bound to the client key (DPoP).'),
  })
  .describe('An application (OAuth client), without its secret: apply generates a secret for each confidential application it creates and shows it once. The built-in console application is not listed, nor are clients that registered themselves (RFC 7591) or are named by a client ID metadata document: those are runtime data.');

const identityProvider = z
  .strictObject({
    name: z.string().min(1).max(100).describe('The identity of a provider (a provider of the same issuer under another name is renamed).'),
    issuer: z.string().min(1).max(2000).describe('The exact iss of its tokens.'),
    metadataUrl: nullableText(2000, 'Its discovery document (RFC 8414 / OpenID). Exactly one of metadataUrl and jwksUri.'),
    jwksUri: nullableText(2000, 'Its JWKS. Exactly one of metadataUrl and jwksUri.'),
    audience: z.string().min(1).max(500).describe('The aud its tokens must carry for this instance.'),
    userClaim: z.string().min(1).max(100).default('sub'),
    userField: z.enum(IDP_USER_FIELDS as [string, ...string[]]).default('user_name').describe('The local user field the claim is matched against.'),
    active: z.boolean().default(true),
  })
  .superRefine((idp, ctx) => {
    if ((idp.metadataUrl === null) === (idp.jwksUri === null)) {
      ctx.addIssue({ code: 'custom', path: ['metadataUrl'], message: 'give exactly one of metadataUrl and jwksUri (where its keys are)' });
    }
  })
  .describe('An external identity provider whose JWTs the hosted APIs accept. Apply does not fetch its metadata: `latchkey doctor` checks it.');

const ruleNames = (max: number, description: string) => z.array(z.string().min(1).max(max)).optional().describe(description);

const rule = z
  .strictObject({
    id: z
      .string()
      .regex(RULE_ID)
      .optional()
      .describe('The rule id (rule_ and 12 lowercase letters or digits): the identity of a rule, the same on every instance. Left out, the rule is matched by what it says (kind, target and the fields of its kind), and one that does not exist is created with a generated id.'),
    kind: z.enum(RULE_KINDS as [string, ...string[]]).describe('api_requirement, property, application or rate_limit (docs/rules.md).'),
    target: z
      .string()
      .min(1)
      .max(300)
      .describe('api_requirement: namespace/api, or METHOD namespace/api/template for one resource; mcp:namespace/server for a hosted MCP server, or mcp:namespace/server/tool for one of its tools. property: the property name. application: the client id. rate_limit: instance, or a client id.'),
    scopes: ruleNames(100, 'api_requirement: the token must carry one of these scopes. application: the application\'s new scope list.'),
    roles: ruleNames(80, 'api_requirement: the caller must hold one of these roles.'),
    grantTypes: ruleNames(200, 'application: the application\'s new grant types.'),
    value: z
      .union([z.string().min(1).max(40), z.boolean(), z.number()])
      .optional()
      .describe('property: the new (refusing) value. rate_limit: the new limit (a whole number for target instance; 100/1m for an application).'),
    mode: z
      .enum(RULE_MODES as [string, ...string[]])
      .default('report')
      .describe('report: requests it would refuse succeed and are recorded as "would refuse"; enforce: an api_requirement refuses, the other kinds applied their change when enforced.'),
    note: nullableText(500, 'Why the rule exists.'),
  })
  .describe('A rule: a change that refuses requests, introduced in report mode first (docs/rules.md). Its kind, target, fields and note are fixed once created; apply changes only its mode.');

function propertySchema(def: PropertyDefinition): z.ZodType {
  const base =
    def.type === 'boolean'
      ? z.boolean()
      : def.type === 'sha256'
        ? z.string().regex(/^(?:[0-9a-f]{64})?$/, 'a SHA-256 as 64 lowercase hex digits, or empty')
        : def.type === 'host_patterns'
          ? z.string().max(26000).describe('host names or *.example.com patterns separated by commas, or empty')
          : def.type === 'origin_patterns'
            ? z.string().max(26000).describe('* for any origin, or web origins (https://app.example.com, https://*.example.com) separated by commas, or empty')
          : def.type === 'enum'
            ? z.enum(def.values as [string, ...string[]])
          : z.number().int().min(def.min ?? Number.MIN_SAFE_INTEGER).max(def.max ?? Number.MAX_SAFE_INTEGER);
  return base.optional().describe(`${def.description} Default: ${String(def.default)}.`);
}

const properties = z
  .strictObject(Object.fromEntries(PROPERTY_NAMES.map((name) => [name, propertySchema(PROPERTY_DEFINITIONS[name])])))
  .default({})
  .describe('Instance properties whose value is not the default (a property left out has its default with --prune, and is left as it is without).');

const apiRoute = z.strictObject({
  method: z.enum(HTTP_METHODS as [string, ...string[]]),
  path: z.string(),
  requiresAuthentication: z.boolean(),
  authMethods: z.array(z.string()),
  scopes: z.array(z.string()),
  roles: z.array(z.string()),
});

const api = z
  .strictObject({
    namespace: z.string(),
    id: z.string(),
    versions: z.array(z.string()),
    defaultVersion: z.string(),
    routes: z.array(apiRoute),
  })
  .describe('A hosted REST API and the security of its routes, as its module (code, in the APIs folder) declares them.');

const resource = z
  .strictObject({
    uri: z.string().min(1).max(2000).describe('The resource identifier (RFC 8707): an absolute http(s) URI without fragment, as clients send it in resource; stored in its canonical form (lower-case scheme and host, no default port, no trailing slash).'),
    name: z.string().min(1).max(100).optional().describe('A name for people; left out: the host.'),
    description: z.string().max(500).default(''),
    scopes: z.array(z.string().min(1).max(100)).default([]).describe('The scopes a token for it may carry; empty: any scope the application is allowed.'),
  })
  .describe('A registered external resource (RFC 8707 resource indicators): a service outside this instance that clients may request tokens for. Hosted APIs and MCP servers are resources without being listed.');

const policyList = (description: string) => z.array(z.string().min(1).max(300)).max(100).nullable().default(null).describe(`${description}; null: any.`);

const registrationPolicy = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/).describe('The policy name; default applies to open registrations and initial access tokens that name none.'),
    description: nullableText(500, 'What it is for.'),
    grantTypes: policyList('The grant types a registered client may have (authorization_code, refresh_token)'),
    scopes: policyList('The scopes it may have (a registration naming none gets these)'),
    redirectHosts: policyList('The hosts its redirect URIs may use (*.example.com for subdomains)'),
    tokenFormats: policyList('Its access token formats (opaque, jwt; the first is the default)'),
    authMethods: policyList('Its token_endpoint_auth_method values (none, client_secret_basic, client_secret_post, private_key_jwt)'),
    applicationTypes: policyList('Its application_type values (web, native)'),
  })
  .describe('A registration policy: what a dynamically registered client (RFC 7591) may have (docs/agents-and-mcp.md). Initial access tokens and the registered clients are runtime data, never exported.');

const exchangeList = (description: string) => z.array(z.string().min(1).max(300)).max(100).default([]).describe(`${description}; * alone: any; []: none.`);
const exchangePolicy = z
  .strictObject({
    clientId: z.string().min(1).max(200).describe('The client id of the application the policy is for.'),
    subjectApplications: exchangeList('Client ids whose access tokens (and our ID tokens) it may exchange (self: its own)'),
    identityProviders: exchangeList('Identity providers (by name) whose JWTs it may exchange'),
    idTokens: z.boolean().default(false).describe('Whether ID tokens may be subject tokens.'),
    resources: exchangeList('Resources the exchanged token may be for'),
    scopes: exchangeList('Scopes the exchanged token may carry (always within the subject token\'s)'),
    impersonation: z.boolean().default(false).describe('Whether exchanges without an actor token (impersonation) are allowed; false: delegation only.'),
  })
  .describe('A token exchange policy (RFC 8693, docs/token-exchange.md): which tokens an application may exchange, for which resources and scopes.');

/** The schema of each kind of entry (their defaults describe a new object). */
export const ENTRY_SCHEMAS = { role, scope, user, application, identityProvider, rule, resource, registrationPolicy, exchangePolicy } as const;

export const registryDocumentSchema = z
  .strictObject({
    apiVersion: z.literal(API_VERSION),
    kind: z.literal(KIND),
    properties,
    roles: z.array(role).default([]),
    scopes: z.array(scope).default([]),
    users: z.array(user).default([]),
    applications: z.array(application).default([]),
    identityProviders: z.array(identityProvider).default([]),
    rules: z.array(rule).default([]).describe('Report-only and enforced rules (docs/rules.md).'),
    resources: z.array(resource).default([]).describe('Registered external resources (RFC 8707, `latchkey resources`).'),
    registrationPolicies: z.array(registrationPolicy).default([]).describe('Registration policies of dynamic client registration (RFC 7591).'),
    exchangePolicies: z.array(exchangePolicy).default([]).describe('Token exchange policies (RFC 8693), one per application by client id.'),
    apis: z
      .array(api)
      .optional()
      .describe('Read-only: the APIs the exporting instance served. APIs are code (their modules are deployed with the instance); apply never changes them, it warns when a scope or role they require is missing, or when they differ from the APIs the instance serves.'),
  })
  .meta({
    title: 'Latchkey registry document (latchkey/v1)',
    description: 'An instance\'s registry as code: written by `latchkey export`, applied by `latchkey apply -f <file>`. See docs/configuration-as-code.md.',
  });

/** A document as read (defaults filled in). */
export type RegistryDocument = z.output<typeof registryDocumentSchema>;
export type DocumentRole = RegistryDocument['roles'][number];
export type DocumentScope = RegistryDocument['scopes'][number];
export type DocumentUser = RegistryDocument['users'][number];
export type DocumentApplication = RegistryDocument['applications'][number];
export type DocumentIdentityProvider = RegistryDocument['identityProviders'][number];
export type DocumentRule = RegistryDocument['rules'][number];
export type DocumentResource = RegistryDocument['resources'][number];
export type DocumentRegistrationPolicy = RegistryDocument['registrationPolicies'][number];
export type DocumentExchangePolicy = RegistryDocument['exchangePolicies'][number];
export type DocumentApi = NonNullable<RegistryDocument['apis']>[number];
export type DocumentProperties = Readonly<Record<string, boolean | number>>;

/** The JSON Schema of the format (draft 2020-12), as published in docs/schema/registry-v1.schema.json. */
export function registryJsonSchema(): Record<string, unknown> {
  return z.toJSONSchema(registryDocumentSchema, { io: 'input', target: 'draft-2020-12' }) as Record<string, unknown>;
}
