import { ANONYMOUS_BUDGET_PROPERTY, createRefusalRecorder, type RefusalRecorder } from './audit/refusals.js';
import { WouldRefuseReporter } from './audit/would-refuse.js';
import { RuleBook } from './registry/rule-book.js';
import { PROPERTY_DEFINITIONS } from './registry/properties.js';
import { ActivityCounter } from './audit/activity.js';
import { UsageCounter } from './audit/usage.js';
import { ALL_ACCESS_SCOPE } from './registry/scopes.js';
import { defaultClientAuthMethods } from './client-auth/authenticate.js';
import { systemClock, type Clock } from './core/clock.js';
import { silentLogger, type Logger } from './core/logger.js';
import { createTokenEndpoint, type TokenEndpoint } from './endpoints/token.js';
import { createAuthorizeEndpoint, type AuthorizeEndpoint } from './endpoints/authorize.js';
import { createIntrospectionEndpoint, type IntrospectionEndpoint } from './endpoints/introspect.js';
import { createRevocationEndpoint, type RevocationEndpoint } from './endpoints/revoke.js';
import { createRegistrationEndpoint, type RegistrationEndpoint } from './endpoints/register.js';
import { createDeviceAuthorizationEndpoint, type DeviceAuthorizationEndpoint } from './endpoints/device-authorization.js';
import { createDevicePage, type DevicePage } from './endpoints/device/page.js';
import { createParEndpoint, type ParEndpoint } from './endpoints/par.js';
import { createTokenLocator } from './endpoints/shared.js';
import { BUILT_IN_GRANTS, createGrants } from './grants/index.js';
import { RegistryCache } from './registry/cache.js';
import { PasswordGuard } from './registry/lockout.js';
import { PasswordHasher, type PasswordHashingOptions } from './core/password-hashing.js';
import type { TokenFormat } from './domain/model.js';
import type { GrantType } from './grants/grant-type.js';
import type { Storage } from './storage/types.js';
import type { ClientAuthMethod, ClientAuthMethodName } from './client-auth/types.js';
import { createMinter, opaqueFormat, type AccessTokenFormat } from './tokens/issuer.js';
import { DPOP_NONCE_KEY_PURPOSE, DpopNonces, type DpopVerifierDeps } from './tokens/dpop.js';
import { BackchannelLogout } from './oidc/backchannel-logout.js';
import { createLogoutEndpoint, type LogoutEndpoint } from './endpoints/logout.js';
import { createUserInfoEndpoint, type UserInfoEndpoint } from './endpoints/userinfo.js';
import { BearerValidator } from './resource-server/bearer.js';
import type { OutboundFetcher } from './outbound/fetch.js';
import { cachedFetcher } from './registry/outbound-policy.js';
import { ClientMetadataDocuments } from './registry/client-metadata-documents.js';
import { createJwksEndpoint, type JwksEndpoint } from './endpoints/jwks.js';
import { createMetadataEndpoint, type MetadataEndpoint } from './endpoints/metadata.js';
import { createKeyEncryption } from './keys/encryption.js';
import { Keyring } from './keys/keyring.js';
import { createIdTokenMinter } from './tokens/id-token.js';
import { requestedIdTokenClaims } from './oidc/claims.js';
import { jwtFormat } from './tokens/jwt.js';
import { createExternalTokenValidator, type ExternalTokenValidator } from './idp/tokens.js';
import { KeySets } from './assertions/keys.js';
import type { Grant, GrantModule } from './grants/types.js';
import { createApiProvider } from './resource-server/provider.js';
import { createMcpProvider, hostedMcpResources, type McpProvider } from './resource-server/mcp.js';
import { ApiRouter } from './resource-server/router.js';
import { ResourceCatalogue, type KnownResource } from './registry/resources.js';
import { apiResourceUris } from './domain/resource-uri.js';
import { createProtectedResourceMetadataEndpoint, declaredScopes, hostedProtectedResources, instanceProtectedResource, type ProtectedResourceMetadataEndpoint } from './resource-server/protected-resource-metadata.js';
import type { FilesAtRest } from './diagnostics/checks-files.js';
import { RateLimits } from './registry/rate-limits.js';
import { InstanceMetrics } from './metrics/instance.js';
import { createMetricsEndpoint } from './metrics/endpoint.js';

/** The budget of "would refuse" records kept one by one per minute (audit/would-refuse.ts). */
const RULES_REPORT_PROPERTY = 'latchkey.rules.report_per_minute';

export interface LatchkeyOptions {
  readonly storage: Storage;
  readonly clock?: Clock;
  readonly logger?: Logger;
  /** How often to look for registry changes made elsewhere (ms). */
  readonly pollMs?: number;
  /** The loaded REST APIs (resource-server/load.ts); none when omitted. */
  readonly router?: ApiRouter;
  /**
   * The issuer identifier (RFC 8414 §2): --issuer / LATCHKEY_ISSUER. Never taken from a request's
   * Host header. When omitted, the host sets it from the address it listens on (setDefaultIssuer).
   */
  readonly issuer?: string;
  /**
   * The key-encryption key (LATCHKEY_KEY_ENCRYPTION_KEY, or the key file beside a SQLite database:
   * keys/kek.ts). It seals the private signing keys and derives session keys. Without it the
   * instance publishes and verifies keys but cannot create one or sign (JWT access tokens fail).
   */
  readonly kek?: string;
  /** Validates bearer JWTs of other issuers on our APIs; default: the registered identity providers (src/idp/tokens.ts). */
  readonly external?: ExternalTokenValidator;
  /**
   * Where this instance's database and key-encryption key files are, when they are local files
   * (`serve` passes what it opened), so `latchkey doctor`'s file checks also run in the admin API
   * and on the console's home page.
   */
  readonly files?: FilesAtRest;
  /** How many password hashes run at once and how many may wait (core/password-hashing.ts); defaults fit the machine. */
  readonly passwordHashing?: PasswordHashingOptions;
  /**
   * The grant catalogue: the grant modules this instance serves, in order (default BUILT_IN_GRANTS).
   * Add one with `grants: [...BUILT_IN_GRANTS, myGrant]`; a grant type named twice is refused.
   */
  readonly grants?: readonly GrantModule[];
  /**
   * Extra certificate authorities (PEM text) the outbound fetcher trusts for https besides the
   * system's: a private CA in front of client ID metadata documents, JWKS URIs or identity
   * providers, or a test's self-signed certificate. For `latchkey serve`, NODE_EXTRA_CA_CERTS (a PEM
   * file, read by Node at start-up) does the same.
   */
  readonly outboundCa?: string | readonly string[];
}

/** The framework-free instance: everything a host needs to serve requests. */
export interface Latchkey {
  readonly storage: Storage;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly cache: RegistryCache;
  readonly refusals: RefusalRecorder;
  /** Per-minute activity counters (tokens issued/refused, API calls/refusals), flushed to storage.activity. */
  readonly activity: ActivityCounter;
  /** Per-application usage by day (tokens, API calls, refusals, scopes used), flushed to storage.usage: what posture reads. */
  readonly usage: UsageCounter;
  readonly tokenEndpoint: TokenEndpoint;
  /** POST /oauth/introspect (RFC 7662). */
  readonly introspectionEndpoint: IntrospectionEndpoint;
  /** POST /oauth/revoke and /oauth_revoke_token.do (RFC 7009). */
  readonly revocationEndpoint: RevocationEndpoint;
  /** Dynamic client registration (RFC 7591) and the client configuration endpoint (RFC 7592). */
  readonly registrationEndpoint: RegistrationEndpoint;
  /** POST /oauth/device_authorization (RFC 8628 §3.1): device and user codes. */
  readonly deviceAuthorizationEndpoint: DeviceAuthorizationEndpoint;
  /** GET and POST /oauth/device: the user-code page of the sign-in UI (RFC 8628 §3.3). */
  readonly devicePage: DevicePage;
  /** POST /oauth/par: pushed authorization requests (RFC 9126). */
  readonly parEndpoint: ParEndpoint;
  /** OpenID Connect UserInfo (Core §5.3): the signed-in user's claims for a bearer token with openid. */
  readonly userInfoEndpoint: UserInfoEndpoint;
  readonly router: ApiRouter;
  /** The resources (RFC 8707) clients may name: hosted APIs, hosted MCP servers, registered external resources. */
  readonly resources: ResourceCatalogue;
  readonly bearer: BearerValidator;
  /** RFC 9449: what DPoP proofs are verified with (replay store, clock, issuer, nonces). */
  readonly dpop: DpopVerifierDeps;
  /** The fetcher of every outbound request (src/outbound): the outbound rules, per the current properties. */
  readonly outbound: OutboundFetcher;
  /** Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document): https client_id URLs, fetched, validated, cached, materialized as applications. */
  readonly clientMetadataDocuments: ClientMetadataDocuments;
  readonly apis: ReturnType<typeof createApiProvider>;
  /** The hosted MCP servers (/mcp/<namespace>/<id>): admission here, then the MCP SDK's transport. */
  readonly mcp: McpProvider;
  /** The signing keys (JWT access tokens). */
  readonly keyring: Keyring;
  /** The registered grants by grant_type, and client authentication methods by name (metadata lists these). */
  readonly grants: ReadonlyMap<GrantType, Grant>;
  /** The grant catalogue (LatchkeyOptions.grants): what the admin API's grant list, presets and registry checks read. */
  readonly catalogue: readonly GrantModule[];
  readonly clientAuthMethods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>;
  /** Keys derived from the key-encryption key: derive('sessions') for session cookies, etc. Throws without a KEK. */
  readonly secrets: { derive(purpose: string): Buffer };
  /** GET and POST /oauth/authorize and /oauth_auth.do: sign-in, consent, authorization codes. */
  readonly authorizeEndpoint: AuthorizeEndpoint;
  /** GET and POST /oauth/logout and /logout.do: OpenID Connect RP-Initiated Logout 1.0. */
  readonly logoutEndpoint: LogoutEndpoint;
  /** OpenID Connect Back-Channel Logout 1.0: tells the applications of a sign-in session that ended. */
  readonly backchannel: BackchannelLogout;
  /** GET /oauth/jwks and /api/now/oauth/jwks. */
  readonly jwksEndpoint: JwksEndpoint;
  /** GET /.well-known/oauth-authorization-server (RFC 8414). */
  readonly metadataEndpoint: MetadataEndpoint;
  /** GET /.well-known/oauth-protected-resource[/<resource path>] (RFC 9728): the instance, every hosted API (and its versions). */
  readonly protectedResourceMetadata: ProtectedResourceMetadataEndpoint;
  /** What GET /metrics serves (src/metrics/): counters the hosts and endpoints feed, and what is read at scrape time. */
  readonly metrics: InstanceMetrics;
  /** GET /metrics: the Prometheus text, behind latchkey.metrics.enabled and latchkey.metrics.token_sha256. */
  readonly metricsEndpoint: ReturnType<typeof createMetricsEndpoint>;
  /** The rate limits of every surface (registry/rate-limits.ts): per client, address, API and user. */
  readonly rateLimits: RateLimits;
  /** The report-only and enforced rules, compiled (registry/rule-book.ts). */
  readonly rules: RuleBook;
  /** Where "would refuse" matches of reporting rules go (audit/would-refuse.ts). */
  readonly wouldRefuse: WouldRefuseReporter;
  /** The local files the doctor checks (LatchkeyOptions.files); undefined when none were given. */
  readonly files: FilesAtRest | undefined;
  /** Password hashing with bounded concurrency: every password check and new password goes through it. */
  readonly passwordHasher: PasswordHasher;
  /** The password check with its throttling, shared by the password grant, the sign-in page and Basic on APIs. */
  readonly passwords: PasswordGuard;
  /** The issuer identifier: the configured one, else the listening address the host gave. */
  issuer(): string;
  /** Sets the issuer from the listening address, unless one was configured (then a no-op). */
  setDefaultIssuer(url: string): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** The hosted resources (RFC 8707) of a router: every API at each of its identifiers, every MCP server. */
export function hostedResources(issuer: string, router: ApiRouter): KnownResource[] {
  const out: KnownResource[] = [];
  for (const api of router.list()) {
    const scopes = declaredScopes(api);
    const uris = apiResourceUris(issuer, api);
    uris.forEach((uri, i) => {
      const version = i === 0 ? undefined : api.versions[i - 1];
      out.push({ uri, kind: 'api', name: api.name, description: version === undefined ? `hosted API ${api.namespace}/${api.id}` : `hosted API ${api.namespace}/${api.id}, version ${version}`, scopes, key: `${api.namespace}/${api.id}`, ...(version === undefined ? {} : { version }) });
    });
  }
  for (const server of hostedMcpResources(issuer, router.mcpServers())) {
    out.push({ uri: server.resource, kind: 'mcp', name: server.name, description: `hosted MCP server ${server.namespace}/${server.id}`, scopes: server.scopes, key: `${server.namespace}/${server.id}` });
  }
  return out;
}

export function createLatchkey(options: LatchkeyOptions): Latchkey {
  const { storage } = options;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? silentLogger;
  const cache = new RegistryCache({ storage });
  const activity = new ActivityCounter({ store: storage.activity, clock, logger });
  const metrics = new InstanceMetrics();
  const rateLimits = new RateLimits({ counters: storage.rateCounters, cache, logger });
  const usage = new UsageCounter({ store: storage.usage, clock, logger, known: (clientId) => cache.peekApplicationByClientId(clientId) !== undefined, allAccessScope: ALL_ACCESS_SCOPE });
  const recorder = createRefusalRecorder({
    storage,
    logger,
    clock,
    counts: activity,
    observe: (endpoint, reason) => metrics.refused(endpoint, reason),
    budget: () => cache.peekProperties()?.[ANONYMOUS_BUDGET_PROPERTY] ?? PROPERTY_DEFINITIONS[ANONYMOUS_BUDGET_PROPERTY].default,
  });
  // Every refusal of every endpoint passes here: counted for its application (a "would refuse" record is not a refusal).
  const refusals: RefusalRecorder = {
    record(input) {
      if (input.ruleId === undefined) usage.refused(input.clientId);
      return recorder.record(input);
    },
  };
  // Report-only rules (registry/rules.ts): compiled once per change version; matches counted, a few kept a minute.
  const rules = new RuleBook({ storage, cache });
  const wouldRefuse = new WouldRefuseReporter({
    refusals,
    counts: activity,
    clock,
    logger,
    perMinute: () => cache.peekProperties()?.[RULES_REPORT_PROPERTY] ?? PROPERTY_DEFINITIONS[RULES_REPORT_PROPERTY].default,
  });
  const formats = new Map<TokenFormat, AccessTokenFormat>([[opaqueFormat.format, opaqueFormat]]);
  const passwordHasher = new PasswordHasher(options.passwordHashing);
  const passwords = new PasswordGuard({ storage, cache, clock, hasher: passwordHasher });
  const encryption = options.kek === undefined ? undefined : createKeyEncryption(options.kek);
  const keyring = new Keyring({ storage, clock, encryption, cache, logger });
  // issuerOf is defined below; it is only called once requests arrive.
  formats.set('jwt', jwtFormat({ keyring, issuer: () => issuerOf(), cache }));
  // Every outbound request (JWKS URIs, identity-provider metadata) goes through this one fetcher.
  const outbound = cachedFetcher(cache, options.outboundCa);
  // RFC 7523: one key set per JWKS URI, shared by private_key_jwt, the JWT bearer grant and identity providers.
  const keySets = new KeySets({ fetcher: outbound });
  const assertions = { issuer: () => issuerOf(), clock, storage, cache, keySets };
  const catalogue = options.grants ?? BUILT_IN_GRANTS;
  const router = options.router ?? new ApiRouter([]);
  // RFC 8707: the resources a client may name: the hosted APIs and MCP servers, and the registered external ones.
  const resources = new ResourceCatalogue({ storage, cache, hosted: () => hostedResources(issuerOf(), router) });
  // The identity providers' tokens: accepted on our APIs (bearer) and as token exchange subjects.
  const external = options.external ?? createExternalTokenValidator({ storage, cache, clock, keySets, fetcher: outbound });
  const exchange = { issuer: () => issuerOf(), keyring, external, storage };
  const grants = createGrants(catalogue, { ...assertions, cache, storage, resources, mint: createMinter(formats), passwords, idTokens: createIdTokenMinter({ keyring, issuer: () => issuerOf() }), idTokenClaims: requestedIdTokenClaims, exchange });
  const clientAuthMethods = defaultClientAuthMethods(assertions);
  // An https client_id URL names its metadata document: the authorization and token endpoints resolve it.
  const clientMetadataDocuments = new ClientMetadataDocuments({ storage, cache, clock, fetcher: outbound, logger, grants: catalogue });
  // RFC 9449: DPoP proofs at the token endpoint and the hosted APIs; nonces from a key every instance sharing the KEK derives.
  const dpop: DpopVerifierDeps = { storage, clock, issuer: () => issuerOf(), nonces: new DpopNonces({ clock, ...(encryption === undefined ? {} : { derive: () => encryption.derive(DPOP_NONCE_KEY_PURPOSE) }) }) };
  const tokenEndpoint = createTokenEndpoint({ resources, cache: clientMetadataDocuments.view(cache), grants, clientAuthMethods, refusals, logger, activity, usage, rateLimits, rules, wouldRefuse, issued: (grantType, format) => metrics.tokenIssued(grantType, format), dpop });
  const bearer = new BearerValidator({ storage, cache, clock, keyring, issuer: () => issuerOf(), external });
  const apis = createApiProvider({ router, bearer, dpop, cache, passwords, refusals, logger, activity, usage, rateLimits, rules, wouldRefuse, issuer: () => issuerOf(), observe: (api, status, seconds) => metrics.apiCall(api, status, seconds) });
  const mcp = createMcpProvider({ servers: (path) => router.matchMcp(path), bearer, dpop, cache, passwords, refusals, logger, activity, usage, rateLimits, rules, wouldRefuse, issuer: () => issuerOf(), observe: (server, status, seconds) => metrics.apiCall(server, status, seconds) });
  let issuer = options.issuer === undefined ? undefined : options.issuer.replace(/\/+$/, '');
  const configuredIssuer = issuer !== undefined;
  const issuerOf = () => {
    if (issuer === undefined) throw new Error('The issuer is not known yet: configure it (--issuer) or call setDefaultIssuer after listening.');
    return issuer;
  };
  // Opaque tokens and our JWT access tokens, by their storage key (tokens/jwt.ts).
  const locate = createTokenLocator({ keyring, issuer: issuerOf, clock }, cache);
  const introspectionEndpoint = createIntrospectionEndpoint({ cache, storage, clientAuthMethods, locate, issuer: issuerOf, clock, refusals, logger, rateLimits });
  const revocationEndpoint = createRevocationEndpoint({ cache, storage, clientAuthMethods, locate, clock, refusals, logger });
  const registrationEndpoint = createRegistrationEndpoint({ storage, cache, clock, refusals, logger, rateLimits, issuer: issuerOf, grants: catalogue });
  const jwksEndpoint = createJwksEndpoint({ keyring, clock });
  const userInfoEndpoint = createUserInfoEndpoint({ bearer, cache, codes: storage.codes, refusals, logger });
  const metadataEndpoint = createMetadataEndpoint({ issuer: issuerOf, grants, clientAuthMethods, storage, cache });
  // Hosted MCP servers are protected resources of their own (/.well-known/oauth-protected-resource/mcp/<ns>/<id>).
  const mcpResources = (iss: string) => hostedMcpResources(iss, router.mcpServers()).map((m) => ({ kind: 'mcp' as const, resource: m.resource, scopes: m.scopes, name: m.name, key: `${m.namespace}/${m.id}` }));
  const protectedResourceMetadata = createProtectedResourceMetadataEndpoint({
    issuer: issuerOf,
    resources: (iss) => hostedProtectedResources(router.list(), iss, mcpResources(iss)),
    instance: (iss) => instanceProtectedResource(iss, router.list(), mcpResources(iss)),
  });
  const secrets = {
    derive(purpose: string): Buffer {
      if (encryption === undefined) throw new Error('No key-encryption key: set LATCHKEY_KEY_ENCRYPTION_KEY (or give createLatchkey a kek).');
      return encryption.derive(purpose);
    },
  };
  const backchannel = new BackchannelLogout({ storage, keyring, issuer: issuerOf, fetcher: outbound, clock, logger });
  const authorizeEndpoint = createAuthorizeEndpoint({ resources, cache: clientMetadataDocuments.view(cache, { asPage: true }), storage, clock, passwords, refusals, logger, issuer: issuerOf, secrets, rateLimits, keyring, backchannel });
  const deviceAuthorizationEndpoint = createDeviceAuthorizationEndpoint({ cache: clientMetadataDocuments.view(cache), storage, clientAuthMethods, refusals, logger, clock, issuer: issuerOf, rateLimits, resources, secrets });
  const devicePage = createDevicePage({ cache, storage, clock, passwords, refusals, logger, issuer: issuerOf, rateLimits, sessions: authorizeEndpoint.sessions, csrf: authorizeEndpoint.csrf, secrets });
  const parEndpoint = createParEndpoint({ cache: clientMetadataDocuments.view(cache), storage, clientAuthMethods, authorize: authorizeEndpoint, clock, refusals, logger, rateLimits, dpop });
  const logoutEndpoint = createLogoutEndpoint({ cache, storage, keyring, issuer: issuerOf, clock, refusals, logger, sessions: authorizeEndpoint.sessions, csrf: authorizeEndpoint.csrf, backchannel });
  metrics.attach({ storage, cache, keyring, clock });
  const metricsEndpoint = createMetricsEndpoint({ metrics, cache, refusals });
  return {
    storage,
    clock,
    logger,
    cache,
    refusals,
    activity,
    usage,
    tokenEndpoint,
    introspectionEndpoint,
    revocationEndpoint,
    registrationEndpoint,
    deviceAuthorizationEndpoint,
    devicePage,
    parEndpoint,
    userInfoEndpoint,
    mcp,
    router,
    resources,
    bearer,
    dpop,
    outbound,
    clientMetadataDocuments,
    apis,
    keyring,
    grants,
    catalogue,
    clientAuthMethods,
    secrets,
    jwksEndpoint,
    metadataEndpoint,
    protectedResourceMetadata,
    authorizeEndpoint,
    logoutEndpoint,
    backchannel,
    files: options.files,
    metrics,
    metricsEndpoint,
    rateLimits,
    rules,
    wouldRefuse,
    passwordHasher,
    passwords,
    issuer: issuerOf,
    setDefaultIssuer: (url) => {
      if (!configuredIssuer) issuer = url.replace(/\/+$/, '');
    },
    start: async () => {
      await cache.start(options.pollMs);
      activity.start();
      usage.start();
      // The first start on a database creates the signing key; a wrong KEK stops the start here.
      await keyring.ensureKey();
      // The dummy hash and a first timing, before the first sign-in needs them.
      await passwordHasher.warmUp();
    },
    stop: async () => {
      // Deliveries under way finish (each is bounded: a few attempts with a timeout).
      await backchannel.idle();
      await activity.stop();
      await usage.stop();
      await cache.stop();
    },
  };
}
