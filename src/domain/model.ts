/**
 * The domain model: the records Latchkey keeps (applications, users, tokens, keys, refusals, ...).
 * Plain data, no behaviour and no imports beyond the grant-type identifier: storage ports
 * (src/storage/types.ts) persist these, and every layer above reads them.
 * Times are integer milliseconds since the epoch.
 */
import type { GrantType } from '../grants/grant-type.js';

export type TokenFormat = 'opaque' | 'jwt';

export interface User {
  readonly id: string;
  readonly userName: string;
  /** scrypt hash in PHC-like form, or null for a user that cannot sign in with a password. */
  readonly passwordHash: string | null;
  readonly active: boolean;
  readonly roles: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly passwordChangedAt: number | null;
  /** OpenID Connect Core §5.1 profile fields (src/registry/user-profile.ts); absent or {} for none. */
  readonly profile?: UserProfile | undefined;
}

/** OpenID Connect Core §5.1.1: the user's postal address; each member optional. */
export interface UserAddress {
  readonly formatted?: string;
  readonly streetAddress?: string;
  readonly locality?: string;
  readonly region?: string;
  readonly postalCode?: string;
  readonly country?: string;
}

/**
 * A user's OpenID Connect Core §5.1 standard claims, as stored (one JSON column): only the members
 * that have a value. Not secret; email, phone and address are personal data (never in log lines).
 */
export interface UserProfile {
  readonly name?: string;
  readonly givenName?: string;
  readonly familyName?: string;
  readonly email?: string;
  readonly emailVerified?: boolean;
  readonly phoneNumber?: string;
  readonly phoneNumberVerified?: boolean;
  readonly locale?: string;
  readonly zoneinfo?: string;
  readonly picture?: string;
  readonly address?: UserAddress;
}

export interface Role {
  readonly name: string;
  readonly description: string;
  readonly builtIn: boolean;
}

export interface Scope {
  readonly name: string;
  readonly description: string;
  readonly builtIn: boolean;
}

/** Where an application came from (Application.origin). */
export type ApplicationOrigin = 'admin' | 'registration' | 'metadata_document';
export const APPLICATION_ORIGINS: readonly ApplicationOrigin[] = ['admin', 'registration', 'metadata_document'];

export interface Application {
  readonly id: string;
  readonly clientId: string;
  readonly name: string;
  /** SHA-256 (base64url) of the generated 256-bit secret; null for public applications. */
  readonly secretHash: string | null;
  readonly secretRotatedAt: number | null;
  readonly active: boolean;
  readonly public: boolean;
  readonly grantTypes: readonly GrantType[];
  readonly redirectUris: readonly string[];
  readonly scopes: readonly string[];
  readonly accessTokenLifespan: number;
  readonly refreshTokenLifespan: number;
  readonly tokenFormat: TokenFormat;
  /** The user that client-credentials tokens act as ("OAuth Application User"). */
  readonly appUserId: string | null;
  /** Shown on the consent page (https, or http on localhost); null for none. */
  readonly logoUri: string | null;
  /** The `aud` of this application's JWT access tokens; null means the instance's issuer (our own APIs). */
  readonly audience: string | null;
  /** The application's public keys as a JWKS document (JSON text), for private_key_jwt and the JWT bearer grant. */
  readonly jwks: string | null;
  /** Or where to fetch them (fetched with a timeout, cached, refetched on an unknown kid). */
  readonly jwksUri: string | null;
  /** May call the introspection endpoint (RFC 7662) about any token: for resource servers. */
  readonly canIntrospect: boolean;
  /**
   * May administer the instance: its tokens that carry the scope `latchkey.admin` (and whose user
   * has the admin role) are accepted by the admin API. Off for every application but the console
   * unless an administrator turns it on (`latchkey apps update <id> --admin-api true`).
   */
  readonly adminApi: boolean;
  /**
   * Its own rate limit at the token and introspection endpoints, as domain/rate-limit.ts writes it
   * (`100/1m`, or `off` for none); null or absent: the instance's, latchkey.rate_limit.client.
   */
  readonly rateLimit?: string | null;
  /**
   * OpenID Connect (Dynamic Client Registration 1.0 §2 `id_token_signed_response_alg`): the
   * algorithm of this application's ID tokens. Null or absent: RS256 (Core 1.0 §15.1).
   */
  readonly idTokenAlg?: SigningAlgorithm | null;
  /**
   * Custom claims for UserInfo (src/oidc/claims.ts): claim name → a user field (domain USER_CLAIM_FIELDS)
   * or `roles`; sent when the token has the scope `profile`. Null or absent: none.
   */
  readonly claimMappings?: Readonly<Record<string, string>> | null;
  /**
   * RP-Initiated Logout 1.0 `post_logout_redirect_uris`: where the end-session endpoint may send
   * the browser after signing out (exact match). Absent: none.
   */
  readonly postLogoutRedirectUris?: readonly string[];
  /** Back-Channel Logout 1.0 `backchannel_logout_uri`: where logout tokens are POSTed. Null or absent: none. */
  readonly backchannelLogoutUri?: string | null;
  /** Back-Channel Logout 1.0 `backchannel_logout_session_required`: logout tokens must carry `sid`. */
  readonly backchannelLogoutSessionRequired?: boolean;
  /**
   * How the application came to be: `admin` (made by an administrator: CLI, admin API, console,
   * configuration as code), `registration` (dynamic client registration, RFC 7591) or
   * `metadata_document` (a client ID metadata document fetched from its https client_id URL).
   * Absent: admin. Set at creation and never changed.
   */
  readonly origin?: ApplicationOrigin;
  /**
   * RFC 8707: the resources (canonical resource identifiers, src/domain/resource-uri.ts) this
   * application may request tokens for with the `resource` parameter. Null or absent: any known
   * resource (hosted APIs, hosted MCP servers, registered external resources).
   */
  readonly resources?: readonly string[] | null;
  /**
   * RFC 9126 §6 `require_pushed_authorization_requests`: the authorization endpoint accepts this
   * application's requests only by reference to a pushed request (POST /oauth/par). Absent: false
   * (the instance property latchkey.par.required may still require it of every application).
   */
  readonly parRequired?: boolean;
  /**
   * RFC 9449: token requests must carry a DPoP proof (`dpop_bound_access_tokens`, §5.2); its tokens
   * are then always sender-constrained. Absent: false.
   */
  readonly dpopRequired?: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * A registered external resource (RFC 8707): a protected resource outside this instance (a
 * service behind the Express/Fastify middleware, an external MCP server) that clients may name
 * with the `resource` parameter. Hosted APIs and hosted MCP servers are resources without being
 * registered (src/registry/resources.ts).
 */
export interface ResourceRecord {
  /** The canonical resource identifier (canonicalResource): the key. */
  readonly uri: string;
  readonly name: string;
  readonly description: string;
  /** The scopes a token for this resource may carry; empty: any scope the application is allowed. */
  readonly scopes: readonly string[];
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type SigningAlgorithm = 'ES256' | 'RS256';

/**
 * A signing key of the instance's keyring. Whether a key is published or signs at a time `t` is
 * a pure function of its times, so every instance decides the same without coordinating:
 * - it signs while `activatesAt <= t` and (`retiresAt` is null or `t < retiresAt`);
 * - it is published in the JWKS while `publishUntil` is null or `t < publishUntil`.
 * A rotation inserts the next key (published at once, signing from its `activatesAt`) and sets
 * `retiresAt` (= the next key's `activatesAt`) and `publishUntil` (= that + the longest access
 * token lifespan + skew) on every key that had no `retiresAt`, in one transaction.
 */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** The public JWK (JSON text, with kid, alg and use). */
  readonly publicJwk: string;
  /** The private JWK encrypted with the key-encryption key (keys/encryption.ts); never plain. */
  readonly privateKeyEnc: string;
  readonly createdAt: number;
  readonly activatesAt: number;
  readonly retiresAt: number | null;
  readonly publishUntil: number | null;
  /**
   * What the key signs: 'access' (JWT access tokens; one timeline, whatever its algorithm) or
   * 'id_token' (OpenID Connect ID tokens; one timeline per algorithm, so RS256 is always there).
   * A rotation retires only the keys of its own timeline. Absent: 'access'.
   */
  readonly purpose?: KeyPurpose;
}

export type KeyPurpose = 'access' | 'id_token';

/** A one-time authorization code (RFC 6749 §4.1.2): only a hash of the code is stored. */
export interface AuthorizationCode {
  /** tokenKey() of the code. Also the family id of every token issued from it, so a reused code revokes them. */
  readonly hash: string;
  readonly applicationId: string;
  readonly userId: string;
  /** The redirect_uri the authorization request carried (the token request must repeat it), or null when it was omitted. */
  readonly redirectUri: string | null;
  readonly scopes: readonly string[];
  /** RFC 7636 S256 challenge, or null when the (confidential) client sent none. */
  readonly codeChallenge: string | null;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** When it was redeemed; null while unused. */
  readonly usedAt: number | null;
  /** OpenID Connect: the authorization request's nonce, echoed in the ID token (Core 1.0 §3.1.2.1); null: none sent. */
  readonly nonce?: string | null;
  /** When the user signed in (the sign-in session's start): the ID token's auth_time. */
  readonly authTime?: number | null;
  /** The sign-in session's `sid` (a one-way derivation of the session id, never the cookie). */
  readonly sid?: string | null;
  /**
   * The `claims` request parameter (OpenID Connect Core 1.0 §5.5), as the claim names of its
   * `userinfo` and `id_token` members; null: none sent. Kept while tokens of the code's family
   * live, so UserInfo answers it for every access token of the grant.
   */
  readonly claims?: ClaimsRequest | null;
  /** RFC 8707: the resources the authorization request named (canonical); the token request may name these or fewer. Absent or empty: none. */
  readonly resources?: readonly string[];
  /** RFC 9449 §10: the dpop_jkt the authorization request named; the token request's proof key must be it. Absent or null: none. */
  readonly dpopJkt?: string | null;
}

/**
 * A pushed authorization request (RFC 9126): the authorization parameters a client POSTed to
 * /oauth/par, validated, kept until the authorization endpoint uses them once or they expire.
 */
export interface PushedRequest {
  /** tokenKey() of the request_uri's random part: the request_uri itself is never stored. */
  readonly hash: string;
  readonly applicationId: string;
  /** The authorization parameters as pushed (application/x-www-form-urlencoded, client authentication removed). */
  readonly parameters: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** When the authorization endpoint used it; null while unused. */
  readonly usedAt: number | null;
}

/** The claim names a `claims` request parameter asks for, per member (Core 1.0 §5.5). */
export interface ClaimsRequest {
  readonly userinfo: readonly string[];
  readonly idToken: readonly string[];
}

export type IdpUserField = 'user_name' | 'id';

/** An external identity provider whose JWTs our APIs accept as bearer tokens. */
export interface IdentityProvider {
  readonly id: string;
  readonly name: string;
  /** Exact `iss` of its tokens. */
  readonly issuer: string;
  /** RFC 8414 / OpenID discovery document URL (its jwks_uri is used), or null when jwksUri is given. */
  readonly metadataUrl: string | null;
  readonly jwksUri: string | null;
  /** The `aud` its tokens must carry for us. */
  readonly audience: string;
  /** The claim that names the user (for example `sub`, `preferred_username`, `email`). */
  readonly userClaim: string;
  /** The local user field that claim is matched against. */
  readonly userField: IdpUserField;
  readonly active: boolean;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export interface PropertyRow {
  readonly name: string;
  readonly value: string;
  readonly updatedAt: number;
}

export type TokenKind = 'access' | 'refresh';
export type TokenStatus = 'active' | 'revoked' | 'rotated';

export interface TokenRecord {
  /** SHA-256 (base64url) of the token string; the token itself is never stored. */
  readonly hash: string;
  readonly kind: TokenKind;
  readonly applicationId: string;
  readonly userId: string | null;
  readonly scopes: readonly string[];
  readonly grantType: string;
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** All tokens descending from one grant share a family; reuse of a rotated refresh token revokes it. */
  readonly familyId: string;
  readonly status: TokenStatus;
  readonly revokedAt: number | null;
  /**
   * RFC 8707: the resources the token was issued for (canonical identifiers): its audience. A
   * refresh token keeps the resources of the grant (a refresh may narrow the access token's).
   * Null or absent: no resource was requested (the application's audience applies, as before).
   */
  readonly audience?: readonly string[] | null;
  /**
   * RFC 9449: the JWK SHA-256 thumbprint of the DPoP key the token is bound to (cnf.jkt); only a
   * request with a proof of that key may use it. Null or absent: a bearer token.
   */
  readonly jkt?: string | null;
  /**
   * RFC 8693 §4.1: the actor of a token issued by token exchange with an actor_token (delegation):
   * who acts for the subject, nested for chains. Null or absent: no actor (the subject itself).
   */
  readonly act?: ActClaim | null;
}

/**
 * RFC 8693 §4.1 `act`: the acting party (`sub`, and `client_id` when it is a client of this
 * instance), and, for a chain of delegations, the prior actor in its own `act`.
 */
export interface ActClaim {
  readonly sub: string;
  readonly client_id?: string;
  readonly iss?: string;
  readonly act?: ActClaim;
}

export type NewTokenRecord = Omit<TokenRecord, 'status' | 'revokedAt'>;

export interface Refusal {
  readonly requestId: string;
  readonly at: number;
  readonly endpoint: string;
  readonly status: number;
  readonly error: string;
  readonly reason: string;
  readonly description: string;
  readonly hint: string | null;
  readonly clientId: string | null;
  readonly applicationName: string | null;
  readonly userName: string | null;
  readonly remoteAddress: string | null;
  /**
   * The facts of this case the administrator needs to act (src/errors/facts.ts): what was asked,
   * the counts and times at the moment of the refusal. Never a secret or a token. Null: none recorded.
   */
  readonly facts?: Facts | null;
  /**
   * Set on a "would refuse" record: the id of the report-only rule (src/registry/rules.ts) that
   * would have refused this request, which succeeded. Null: a real refusal.
   */
  readonly ruleId?: string | null;
}

/** One fact's value: times are ISO 8601 strings, lists are of names. */
export type FactValue = string | number | boolean | null | readonly string[];
/** Facts by name (the names of src/errors/facts.ts). */
export type Facts = Readonly<Record<string, FactValue>>;

/** A rule in report mode lets requests through and records who it would refuse; in enforce mode it refuses. */
export type RuleMode = 'report' | 'enforce';
export const RULE_MODES: readonly RuleMode[] = ['report', 'enforce'];

/**
 * What a rule changes (src/registry/rules.ts):
 * - `api_requirement`: scopes and/or roles a hosted API (target `namespace/api`) or one of its
 *   resources (target `METHOD namespace/api/template`) requires, on top of its definition;
 * - `property`: an instance switch set to a new value (target: the property name);
 * - `application`: an application's grant types and/or scopes replaced (target: the client id);
 * - `rate_limit`: a rate limit (target `instance` for latchkey.rate_limit.client, or a client id).
 */
export type RuleKind = 'api_requirement' | 'property' | 'application' | 'rate_limit';
export const RULE_KINDS: readonly RuleKind[] = ['api_requirement', 'property', 'application', 'rate_limit'];

/** The kind-specific part of a rule, as JSON. */
export interface RuleSpec {
  /** api_requirement: the token must carry one of these scopes. application: the new scope list. */
  readonly scopes?: readonly string[];
  /** api_requirement: the caller must hold one of these roles. */
  readonly roles?: readonly string[];
  /** application: the new grant types. */
  readonly grantTypes?: readonly string[];
  /** property: the new value. rate_limit: the new limit ('100/1m', 'off'). */
  readonly value?: string;
}

export interface Rule {
  /** `rule_` and 12 characters; stable, shown everywhere. */
  readonly id: string;
  readonly kind: RuleKind;
  readonly target: string;
  readonly spec: RuleSpec;
  readonly mode: RuleMode;
  /** Why the rule exists, in the administrator's words. */
  readonly note: string | null;
  readonly createdAt: number;
  readonly createdBy: string;
  readonly updatedAt: number;
  /** When and by whom it was switched to enforce; null while it reports. */
  readonly enforcedAt: number | null;
  readonly enforcedBy: string | null;
}

/**
 * An initial access token (RFC 7591 §3, "initial access token"): a bearer credential an
 * administrator hands out so that its holder may register clients at POST /oauth/register. Only
 * its SHA-256 hash is stored; the token itself is shown once when it is created.
 */
export interface InitialAccessToken {
  /** `iat_` and 12 characters; stable, shown in lists (never the token). */
  readonly id: string;
  /** SHA-256 (base64url) of the token. */
  readonly hash: string;
  /** The registration policy its registrations follow (by name); null: the default policy. */
  readonly policy: string | null;
  /** Registrations it may still make; null: no limit. */
  readonly usesLeft: number | null;
  /** When it stops working; null: never. */
  readonly expiresAt: number | null;
  readonly createdAt: number;
  /** Who created it (audit actor: 'cli:<user>', an admin user name). */
  readonly createdBy: string;
  readonly lastUsedAt: number | null;
  readonly revokedAt: number | null;
}

/** What a registration policy lets a dynamically registered client have; an absent list: no restriction. */
export interface RegistrationPolicySpec {
  readonly grantTypes?: readonly string[];
  /** Scopes it may ask for; a registration that names none gets these. */
  readonly scopes?: readonly string[];
  /** Hosts its redirect URIs may point at (exact, or `*.example.com` for subdomains). */
  readonly redirectHosts?: readonly string[];
  readonly tokenFormats?: readonly TokenFormat[];
  /** token_endpoint_auth_method values (none, client_secret_basic, client_secret_post, private_key_jwt). */
  readonly authMethods?: readonly string[];
  /** OpenID Connect Registration application_type values: web, native. */
  readonly applicationTypes?: readonly string[];
}

/**
 * What an application may obtain by token exchange (RFC 8693, grants/token-exchange.ts). Lists
 * hold names; `*` alone means any. An application without a policy may not exchange at all.
 */
export interface ExchangePolicySpec {
  /** Client ids of the applications whose access tokens (and our ID tokens) it may exchange; `self` is its own; `*`: any. */
  readonly subjectApplications: readonly string[];
  /** Names of the identity providers whose JWTs (and ID tokens) it may exchange; `*`: any active one. */
  readonly identityProviders: readonly string[];
  /** Whether ID tokens may be subject tokens (ours issued to a subject application, or an allowed provider's). */
  readonly idTokens: boolean;
  /** The resources (identifiers) the exchanged token may be for; `*`: any the application may request. Empty: none (no audience). */
  readonly resources: readonly string[];
  /** The scopes the exchanged token may carry (always within the subject token's); `*`: any. */
  readonly scopes: readonly string[];
  /** Impersonation (no actor_token: the new token is the subject's, with no act claim) allowed; false: delegation only. */
  readonly impersonation: boolean;
}

/** An application's exchange policy, by the application's client id. */
export interface ExchangePolicy {
  readonly clientId: string;
  readonly spec: ExchangePolicySpec;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/** A named registration policy (src/registry/registration-policies.ts). */
export interface RegistrationPolicy {
  readonly name: string;
  readonly description: string | null;
  readonly spec: RegistrationPolicySpec;
  readonly createdAt: number;
  readonly updatedAt: number;
}

/**
 * What dynamic registration keeps about a client it registered (RFC 7591/7592), besides its
 * application: how to recognise its management requests and a repeat registration, and when it
 * was last used (for reaping).
 */
export interface RegistrationRecord {
  readonly clientId: string;
  readonly applicationId: string;
  /** SHA-256 (base64url) of the registration access token (RFC 7592 §3). */
  readonly tokenHash: string;
  /** Who registered it: `iat:<initial access token id>`, or `ip:<address>` for open registration. */
  readonly source: string;
  /** SHA-256 of the canonical client metadata: a re-registration with the same metadata from the same source finds it. */
  readonly fingerprint: string;
  /** The client metadata as registered (JSON text), what RFC 7592 §2.1 reads back. */
  readonly metadata: string;
  /** The registration policy it was checked against. */
  readonly policy: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  /** The last time it got a token (from usage counts) or was managed; null: never. */
  readonly lastUsedAt: number | null;
}

/**
 * One audited change to the registry, settings, keys or tokens: who, what, before, after, when.
 * `before`/`after` are JSON text of the record with secret-bearing fields removed (src/audit/log.ts).
 */
export interface AuditEntry {
  /** Time-ordered (sorts by `at`), unique. */
  readonly id: string;
  readonly at: number;
  /** 'admin' user name (console / admin API), 'cli:<os user>', or 'system'. */
  readonly actor: string;
  /** For example 'application.create', 'application.rotate_secret', 'property.set', 'token.revoke'. */
  readonly action: string;
  /** What changed: a client id, a user name, a property name, a token handle (never a token). */
  readonly target: string;
  readonly before: string | null;
  readonly after: string | null;
}

export interface ActivityRow {
  /** Start of the minute, ms since the epoch. */
  readonly bucket: number;
  readonly metric: string;
  readonly count: number;
}

/**
 * Per-application usage of one UTC day (src/audit/usage.ts), summed over every instance: the
 * application's totals (scope '') and, per scope, the tokens issued with it and the API calls it
 * satisfied. Kept 90 days (jobs/cleanup.ts); what `latchkey apps posture` reads.
 */
export interface UsageRow {
  readonly clientId: string;
  /** The UTC day: its midnight, ms since the epoch. */
  readonly day: number;
  /** '' for the application's totals; otherwise the scope this row counts. */
  readonly scope: string;
  /** Tokens issued (with this scope). */
  readonly tokens: number;
  /** API calls admitted (satisfied by this scope). */
  readonly calls: number;
  /** Requests refused (totals row only; 0 on a scope row). */
  readonly refusals: number;
  /** The latest token issued or API call admitted that day; 0 when there was none (only refusals). */
  readonly lastUseAt: number;
}

export type SessionKind = 'signin' | 'console';

/**
 * A signed-in browser, kept on the server so that it can be ended there: sign-out, a password or
 * role change and a deactivation end it on every instance at once. The cookie carries a random
 * session id; only its tokenKey() is stored (`id`).
 */
export interface SessionRecord {
  readonly id: string;
  /** 'signin': the authorization server's sign-in (authorize pages); 'console': the admin console. */
  readonly kind: SessionKind;
  readonly userId: string;
  readonly createdAt: number;
  /** Last use, for the idle timeout (written at most about once a minute). */
  readonly lastSeenAt: number;
  /** The absolute end. */
  readonly expiresAt: number;
  /** A console session: the sign-in session it started from (signing out of the console ends both). */
  readonly parentId: string | null;
  readonly revokedAt: number | null;
}

/**
 * Failed-password bookkeeping (registry/lockout.ts), shared by every instance on the database:
 * - `pair`: failures of one user name from one source address;
 * - `user`: failures of one user name from every source;
 * - `known`: a source a user name signed in from successfully (failures is 0).
 * User names are stored as presented (unknown names too, so they get the same answers).
 */
export type AttemptKind = 'pair' | 'user' | 'known';

export interface AttemptKey {
  readonly kind: AttemptKind;
  readonly userName: string;
  /** The source address (an IPv6 address by its /64); '' for `user`. */
  readonly source: string;
}

export interface AttemptRecord extends AttemptKey {
  readonly failures: number;
  /** When the current counting window started. */
  readonly windowStart: number;
  /** The last failure (or, for `known`, the last success). */
  readonly lastAt: number;
  readonly expiresAt: number;
}

/** Where a device authorization (RFC 8628) stands: waiting for the user, decided, or its tokens issued (single use). */
export type DeviceStatus = 'pending' | 'approved' | 'denied' | 'consumed';

/** What one poll of the token endpoint found (RFC 8628 §3.5), decided atomically with the poll. */
export type DevicePollOutcome = 'pending' | 'slow_down' | 'approved' | 'denied' | 'consumed' | 'expired';

/**
 * A device authorization request (RFC 8628 §3.1): the device code and the user code are kept as
 * hashes only (the user code normalised first), with the scopes and resources asked for, the
 * user's decision and the polling state every instance shares.
 */
export interface DeviceAuthorization {
  /** A random id for administrators (list, deny); never the code. */
  readonly id: string;
  /** tokenKey() of the device code. */
  readonly deviceHash: string;
  /** The keyed hash of the normalised user code (grants/device-code-format.ts). */
  readonly userHash: string;
  readonly applicationId: string;
  readonly scopes: readonly string[];
  /** RFC 8707: the resources the request named (canonical); empty: none. */
  readonly resources: readonly string[];
  readonly status: DeviceStatus;
  /** The user who approved (or denied); null while pending. */
  readonly userId: string | null;
  /** When that user signed in (the ID token's auth_time); null while pending. */
  readonly authTime: number | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** The minimum seconds between polls; grows by 5 on each slow_down (RFC 8628 §3.5). */
  readonly intervalSeconds: number;
  readonly lastPollAt: number | null;
  readonly decidedAt: number | null;
}
