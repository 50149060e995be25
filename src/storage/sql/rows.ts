import type { ActClaim, ExchangePolicy, ExchangePolicySpec } from '../../domain/model.js';
import type { Application, ApplicationOrigin, ResourceRecord, AttemptKind, AttemptRecord, AuditEntry, AuthorizationCode, ClaimsRequest, IdentityProvider, IdpUserField, Refusal, UserProfile, Role, Rule, RuleKind, RuleMode, RuleSpec, Facts, FactValue, Scope, SessionKind, SessionRecord, SigningAlgorithm, SigningKey, TokenFormat, TokenKind, TokenRecord, TokenStatus, User, InitialAccessToken, RegistrationPolicy, RegistrationPolicySpec, RegistrationRecord, PushedRequest } from '../../domain/model.js';
import type { GrantType } from '../../grants/grant-type.js';
import type { SqlBool, SqlDialect, SqlList } from './dialect.js';

/**
 * The tables both SQL adapters share: their column lists (the order every insert, select and
 * parameter list uses), the rows as a driver returns them, and the mapping to domain records and
 * back, written once; the dialect's codecs turn the columns that differ (booleans, string lists).
 * The schemas themselves are the adapters' migrations.
 */
export const COLUMNS = {
  users: ['id', 'user_name', 'password_hash', 'active', 'roles', 'created_at', 'updated_at', 'password_changed_at', 'profile'],
  named: ['name', 'description', 'built_in'],
  applications: [
    'id', 'client_id', 'name', 'secret_hash', 'secret_rotated_at', 'active', 'public', 'grant_types', 'redirect_uris', 'scopes',
    'access_token_lifespan', 'refresh_token_lifespan', 'token_format', 'app_user_id', 'created_at', 'updated_at',
    'logo_uri', 'audience', 'jwks', 'jwks_uri', 'can_introspect', 'admin_api', 'rate_limit', 'id_token_alg', 'claim_mappings',
    'post_logout_redirect_uris', 'backchannel_logout_uri', 'backchannel_logout_session_required',
    'origin', 'resources',
    'par_required',
    'dpop_required',
  ],
  signingKeys: ['kid', 'alg', 'public_jwk', 'private_key_enc', 'created_at', 'activates_at', 'retires_at', 'publish_until', 'purpose'],
  codes: ['hash', 'application_id', 'user_id', 'redirect_uri', 'scopes', 'code_challenge', 'issued_at', 'expires_at', 'used_at', 'nonce', 'auth_time', 'sid', 'claims', 'resources', 'dpop_jkt'],
  identityProviders: ['id', 'name', 'issuer', 'metadata_url', 'jwks_uri', 'audience', 'user_claim', 'user_field', 'active', 'created_at', 'updated_at'],
  tokens: ['hash', 'kind', 'application_id', 'user_id', 'scopes', 'grant_type', 'issued_at', 'expires_at', 'family_id', 'status', 'revoked_at', 'audience', 'jkt', 'act'],
  refusals: ['request_id', 'at', 'endpoint', 'status', 'error', 'reason', 'description', 'hint', 'client_id', 'application_name', 'user_name', 'remote_address', 'facts', 'rule_id'],
  rules: ['id', 'kind', 'target', 'spec', 'mode', 'note', 'created_at', 'created_by', 'updated_at', 'enforced_at', 'enforced_by'],
  audit: ['id', 'at', 'actor', 'action', 'target', 'before', 'after'],
  sessions: ['id', 'kind', 'user_id', 'created_at', 'last_seen_at', 'expires_at', 'parent_id', 'revoked_at'],
  resources: ['uri', 'name', 'description', 'scopes', 'created_at', 'updated_at'],
  attempts: ['kind', 'user_name', 'source', 'failures', 'window_start', 'last_at', 'expires_at'],
  initialAccessTokens: ['id', 'hash', 'policy', 'uses_left', 'expires_at', 'created_at', 'created_by', 'last_used_at', 'revoked_at'],
  registrationPolicies: ['name', 'description', 'spec', 'created_at', 'updated_at'],
  exchangePolicies: ['client_id', 'spec', 'created_at', 'updated_at'],
  registrations: ['client_id', 'application_id', 'token_hash', 'source', 'fingerprint', 'metadata', 'policy', 'created_at', 'updated_at', 'last_used_at'],
  pushedRequests: ['hash', 'application_id', 'parameters', 'created_at', 'expires_at', 'used_at'],
} as const satisfies Record<string, readonly string[]>;

/** A table's columns as a select or insert list (`id, user_name, …`). */
export const columnList = (table: keyof typeof COLUMNS): string => COLUMNS[table].join(', ');

export const USER_COLUMNS = columnList('users');
export const NAMED_COLUMNS = columnList('named');
export const APPLICATION_COLUMNS = columnList('applications');
export const SIGNING_KEY_COLUMNS = columnList('signingKeys');
export const CODE_COLUMNS = columnList('codes');
export const PUSHED_REQUEST_COLUMNS = columnList('pushedRequests');
export const IDP_COLUMNS = columnList('identityProviders');
export const TOKEN_COLUMNS = columnList('tokens');
export const REFUSAL_COLUMNS = columnList('refusals');
export const AUDIT_COLUMNS = columnList('audit');
export const RULE_COLUMNS = columnList('rules');
export const SESSION_COLUMNS = columnList('sessions');
export const ATTEMPT_COLUMNS = columnList('attempts');
export const RESOURCE_COLUMNS = columnList('resources');
export const IAT_COLUMNS = columnList('initialAccessTokens');
export const REGISTRATION_POLICY_COLUMNS = columnList('registrationPolicies');
export const REGISTRATION_COLUMNS = columnList('registrations');
export const EXCHANGE_POLICY_COLUMNS = columnList('exchangePolicies');

export interface ExchangePolicyRow {
  client_id: string;
  spec: string;
  created_at: number | string;
  updated_at: number | string;
}

/** Token exchange policies (RFC 8693): the spec is JSON. */
export const exchangeRows = {
  exchangePolicyFromRow: (r: ExchangePolicyRow): ExchangePolicy => ({
    clientId: r.client_id,
    spec: jsonObject<ExchangePolicySpec>(r.spec) ?? { subjectApplications: [], identityProviders: [], idTokens: false, resources: [], scopes: [], impersonation: false },
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  }),
  exchangePolicyParams: (p: ExchangePolicy): unknown[] => [p.clientId, JSON.stringify(p.spec), p.createdAt, p.updatedAt],
};

export interface InitialAccessTokenRow {
  id: string;
  hash: string;
  policy: string | null;
  uses_left: number | null;
  expires_at: number | null;
  created_at: number;
  created_by: string;
  last_used_at: number | null;
  revoked_at: number | null;
}

export interface RegistrationPolicyRow {
  name: string;
  description: string | null;
  spec: string;
  created_at: number;
  updated_at: number;
}

export interface RegistrationRow {
  client_id: string;
  application_id: string;
  token_hash: string;
  source: string;
  fingerprint: string;
  metadata: string;
  policy: string | null;
  created_at: number;
  updated_at: number;
  last_used_at: number | null;
}

/** The dynamic registration tables hold text and integers only: the same mapping for every dialect. */
export const registrationRows = {
  iatFromRow: (r: InitialAccessTokenRow): InitialAccessToken => ({
    id: r.id,
    hash: r.hash,
    policy: r.policy,
    usesLeft: r.uses_left === null ? null : Number(r.uses_left),
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    createdAt: Number(r.created_at),
    createdBy: r.created_by,
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
    revokedAt: r.revoked_at === null ? null : Number(r.revoked_at),
  }),
  iatParams: (t: InitialAccessToken): unknown[] => [t.id, t.hash, t.policy, t.usesLeft, t.expiresAt, t.createdAt, t.createdBy, t.lastUsedAt, t.revokedAt],
  policyFromRow: (r: RegistrationPolicyRow): RegistrationPolicy => ({
    name: r.name,
    description: r.description,
    spec: jsonObject<RegistrationPolicySpec>(r.spec) ?? {},
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  }),
  policyParams: (p: RegistrationPolicy): unknown[] => [p.name, p.description, JSON.stringify(p.spec), p.createdAt, p.updatedAt],
  registrationFromRow: (r: RegistrationRow): RegistrationRecord => ({
    clientId: r.client_id,
    applicationId: r.application_id,
    tokenHash: r.token_hash,
    source: r.source,
    fingerprint: r.fingerprint,
    metadata: r.metadata,
    policy: r.policy,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    lastUsedAt: r.last_used_at === null ? null : Number(r.last_used_at),
  }),
  registrationParams: (r: RegistrationRecord): unknown[] => [r.clientId, r.applicationId, r.tokenHash, r.source, r.fingerprint, r.metadata, r.policy, r.createdAt, r.updatedAt, r.lastUsedAt],
};

export interface UserRow {
  id: string;
  user_name: string;
  password_hash: string | null;
  active: SqlBool;
  roles: SqlList;
  created_at: number;
  updated_at: number;
  password_changed_at: number | null;
  /** JSON of the UserProfile (OpenID Connect §5.1 fields); NULL for none. */
  profile: string | null;
}

/** Roles and scopes. */
export interface NamedRow {
  name: string;
  description: string;
  built_in: SqlBool;
}

export interface ApplicationRow {
  id: string;
  client_id: string;
  name: string;
  secret_hash: string | null;
  secret_rotated_at: number | null;
  active: SqlBool;
  public: SqlBool;
  grant_types: SqlList;
  redirect_uris: SqlList;
  scopes: SqlList;
  access_token_lifespan: number;
  refresh_token_lifespan: number;
  token_format: string;
  app_user_id: string | null;
  created_at: number;
  updated_at: number;
  logo_uri: string | null;
  audience: string | null;
  jwks: string | null;
  jwks_uri: string | null;
  can_introspect: SqlBool;
  admin_api: SqlBool;
  rate_limit: string | null;
  id_token_alg: string | null;
  /** JSON of the application's claim mappings (claim name → user field); NULL for none. */
  claim_mappings: string | null;
  post_logout_redirect_uris: SqlList;
  backchannel_logout_uri: string | null;
  backchannel_logout_session_required: SqlBool;
  origin: string;
  /** RFC 8707: the resources the application may request; NULL: any. */
  resources: SqlList | null;
  /** RFC 9126 require_pushed_authorization_requests. */
  par_required: SqlBool;
  /** RFC 9449: token requests must carry a DPoP proof. */
  dpop_required: SqlBool;
}

export interface SigningKeyRow {
  kid: string;
  alg: string;
  public_jwk: string;
  private_key_enc: string;
  created_at: number;
  activates_at: number;
  retires_at: number | null;
  publish_until: number | null;
  purpose: string;
}

export interface AuthorizationCodeRow {
  hash: string;
  application_id: string;
  user_id: string;
  redirect_uri: string | null;
  scopes: SqlList;
  code_challenge: string | null;
  issued_at: number;
  expires_at: number;
  used_at: number | null;
  nonce: string | null;
  auth_time: number | null;
  sid: string | null;
  claims: string | null;
  resources: SqlList;
  /** RFC 9449 §10: the dpop_jkt of the authorization request; NULL: none. */
  dpop_jkt: string | null;
}

export interface PushedRequestRow {
  hash: string;
  application_id: string;
  parameters: string;
  created_at: number;
  expires_at: number;
  used_at: number | null;
}

/** RFC 9126: a pushed request's row and back (no dialect-specific column). */
export function pushedRequestFromRow(r: PushedRequestRow): PushedRequest {
  return { hash: r.hash, applicationId: r.application_id, parameters: r.parameters, createdAt: Number(r.created_at), expiresAt: Number(r.expires_at), usedAt: r.used_at === null ? null : Number(r.used_at) };
}

export function pushedRequestParams(p: PushedRequest): unknown[] {
  return [p.hash, p.applicationId, p.parameters, p.createdAt, p.expiresAt, p.usedAt];
}

export interface IdentityProviderRow {
  id: string;
  name: string;
  issuer: string;
  metadata_url: string | null;
  jwks_uri: string | null;
  audience: string;
  user_claim: string;
  user_field: string;
  active: SqlBool;
  created_at: number;
  updated_at: number;
}

export interface TokenRow {
  hash: string;
  kind: string;
  application_id: string;
  user_id: string | null;
  scopes: SqlList;
  grant_type: string;
  issued_at: number;
  expires_at: number;
  family_id: string;
  status: string;
  revoked_at: number | null;
  /** RFC 8707: the token's resources, space-separated (canonical URIs have no spaces); NULL: none requested. */
  audience: string | null;
  /** RFC 9449: the DPoP key thumbprint the token is bound to; NULL: a bearer token. */
  jkt: string | null;
  /** RFC 8693 §4.1: the actor (JSON); NULL: none. */
  act?: string | null;
}

export interface ResourceRow {
  uri: string;
  name: string;
  description: string;
  scopes: SqlList;
  created_at: number;
  updated_at: number;
}

/** Text and integers only: the same in every dialect. */
export interface RefusalRow {
  request_id: string;
  at: number;
  endpoint: string;
  status: number;
  error: string;
  reason: string;
  description: string;
  hint: string | null;
  client_id: string | null;
  application_name: string | null;
  user_name: string | null;
  remote_address: string | null;
  facts: string | null;
  rule_id: string | null;
}

export interface RuleRow {
  id: string;
  kind: string;
  target: string;
  spec: string;
  mode: string;
  note: string | null;
  created_at: number;
  created_by: string;
  updated_at: number;
  enforced_at: number | null;
  enforced_by: string | null;
}

export interface SessionRow {
  id: string;
  kind: string;
  user_id: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  parent_id: string | null;
  revoked_at: number | null;
}

export interface AttemptRow {
  kind: string;
  user_name: string;
  source: string;
  failures: number;
  window_start: number;
  last_at: number;
  expires_at: number;
}

/** The mappers of one dialect: `…FromRow` reads a row, `…Params` gives the values in COLUMNS order. */
export function sqlRows(d: SqlDialect) {
  const { bool, list, words } = d;
  return {
    userFromRow: (r: UserRow): User => ({
      id: r.id,
      userName: r.user_name,
      passwordHash: r.password_hash,
      active: bool.decode(r.active),
      roles: list.decode(r.roles),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
      passwordChangedAt: r.password_changed_at,
      profile: jsonObject<UserProfile>(r.profile) ?? {},
    }),
    userParams: (u: User): unknown[] => [u.id, u.userName, u.passwordHash, bool.encode(u.active), list.encode(u.roles), u.createdAt, u.updatedAt, u.passwordChangedAt, jsonText(u.profile)],

    namedFromRow: (r: NamedRow): Role & Scope => ({ name: r.name, description: r.description, builtIn: bool.decode(r.built_in) }),
    namedParams: (n: Role | Scope): unknown[] => [n.name, n.description, bool.encode(n.builtIn)],

    applicationFromRow: (r: ApplicationRow): Application => ({
      id: r.id,
      clientId: r.client_id,
      name: r.name,
      secretHash: r.secret_hash,
      secretRotatedAt: r.secret_rotated_at,
      active: bool.decode(r.active),
      public: bool.decode(r.public),
      grantTypes: list.decode(r.grant_types) as GrantType[],
      redirectUris: list.decode(r.redirect_uris),
      scopes: list.decode(r.scopes),
      accessTokenLifespan: r.access_token_lifespan,
      refreshTokenLifespan: r.refresh_token_lifespan,
      tokenFormat: r.token_format as TokenFormat,
      appUserId: r.app_user_id,
      logoUri: r.logo_uri,
      audience: r.audience,
      jwks: r.jwks,
      jwksUri: r.jwks_uri,
      canIntrospect: bool.decode(r.can_introspect),
      adminApi: bool.decode(r.admin_api),
      rateLimit: r.rate_limit ?? null,
      idTokenAlg: (r.id_token_alg ?? null) as SigningAlgorithm | null,
      claimMappings: jsonObject<Record<string, string>>(r.claim_mappings ?? null) ?? null,
      postLogoutRedirectUris: list.decode(r.post_logout_redirect_uris),
      backchannelLogoutUri: r.backchannel_logout_uri ?? null,
      backchannelLogoutSessionRequired: bool.decode(r.backchannel_logout_session_required),
      origin: (r.origin ?? 'admin') as ApplicationOrigin,
      resources: r.resources === null || r.resources === undefined ? null : list.decode(r.resources),
      parRequired: bool.decode(r.par_required),
      dpopRequired: r.dpop_required === undefined || r.dpop_required === null ? false : bool.decode(r.dpop_required),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }),
    applicationParams: (a: Application): unknown[] => [
      a.id, a.clientId, a.name, a.secretHash, a.secretRotatedAt, bool.encode(a.active), bool.encode(a.public),
      list.encode(a.grantTypes), list.encode(a.redirectUris), list.encode(a.scopes),
      a.accessTokenLifespan, a.refreshTokenLifespan, a.tokenFormat, a.appUserId, a.createdAt, a.updatedAt,
      a.logoUri, a.audience, a.jwks, a.jwksUri, bool.encode(a.canIntrospect), bool.encode(a.adminApi), a.rateLimit ?? null, a.idTokenAlg ?? null, jsonText(a.claimMappings ?? undefined),
      list.encode(a.postLogoutRedirectUris ?? []), a.backchannelLogoutUri ?? null, bool.encode(a.backchannelLogoutSessionRequired ?? false),
      a.origin ?? 'admin', a.resources === undefined || a.resources === null ? null : list.encode(a.resources),
      bool.encode(a.parRequired ?? false),
      bool.encode(a.dpopRequired ?? false),
    ],

    signingKeyFromRow,
    signingKeyParams: (k: SigningKey): unknown[] => [k.kid, k.alg, k.publicJwk, k.privateKeyEnc, k.createdAt, k.activatesAt, k.retiresAt, k.publishUntil, k.purpose ?? 'access'],

    codeFromRow: (r: AuthorizationCodeRow): AuthorizationCode => ({
      hash: r.hash,
      applicationId: r.application_id,
      userId: r.user_id,
      redirectUri: r.redirect_uri,
      scopes: list.decode(r.scopes),
      codeChallenge: r.code_challenge,
      issuedAt: r.issued_at,
      expiresAt: r.expires_at,
      usedAt: r.used_at,
      nonce: r.nonce,
      authTime: r.auth_time,
      sid: r.sid,
      claims: claimsRequestDecode(r.claims),
      ...(r.resources === null || r.resources === undefined || list.decode(r.resources).length === 0 ? {} : { resources: list.decode(r.resources) }),
      ...(r.dpop_jkt === null || r.dpop_jkt === undefined ? {} : { dpopJkt: r.dpop_jkt }),
    }),
    codeParams: (c: AuthorizationCode): unknown[] => [c.hash, c.applicationId, c.userId, c.redirectUri, list.encode(c.scopes), c.codeChallenge, c.issuedAt, c.expiresAt, c.usedAt, c.nonce ?? null, c.authTime ?? null, c.sid ?? null, claimsRequestEncode(c.claims), list.encode(c.resources ?? []), c.dpopJkt ?? null],

    identityProviderFromRow: (r: IdentityProviderRow): IdentityProvider => ({
      id: r.id,
      name: r.name,
      issuer: r.issuer,
      metadataUrl: r.metadata_url,
      jwksUri: r.jwks_uri,
      audience: r.audience,
      userClaim: r.user_claim,
      userField: r.user_field as IdpUserField,
      active: bool.decode(r.active),
      createdAt: r.created_at,
      updatedAt: r.updated_at,
    }),
    identityProviderParams: (p: IdentityProvider): unknown[] => [p.id, p.name, p.issuer, p.metadataUrl, p.jwksUri, p.audience, p.userClaim, p.userField, bool.encode(p.active), p.createdAt, p.updatedAt],

    tokenFromRow: (r: TokenRow): TokenRecord => ({
      hash: r.hash,
      kind: r.kind as TokenKind,
      applicationId: r.application_id,
      userId: r.user_id,
      scopes: words.decode(r.scopes),
      grantType: r.grant_type,
      issuedAt: r.issued_at,
      expiresAt: r.expires_at,
      familyId: r.family_id,
      status: r.status as TokenStatus,
      revokedAt: r.revoked_at,
      // Only when set, so records of tokens without a resource keep their shape.
      ...(r.audience === null || r.audience === undefined ? {} : { audience: audienceDecode(r.audience) }),
      ...(r.jkt === null || r.jkt === undefined ? {} : { jkt: r.jkt }),
      // RFC 8693: only when set, as for the audience.
      ...(r.act === null || r.act === undefined ? {} : { act: jsonObject<ActClaim>(r.act) ?? null }),
    }),

    resourceFromRow: (r: ResourceRow): ResourceRecord => ({ uri: r.uri, name: r.name, description: r.description, scopes: list.decode(r.scopes), createdAt: r.created_at, updatedAt: r.updated_at }),
    resourceParams: (x: ResourceRecord): unknown[] => [x.uri, x.name, x.description, list.encode(x.scopes), x.createdAt, x.updatedAt],

    refusalFromRow,
    refusalParams: (f: Refusal): unknown[] => [f.requestId, f.at, f.endpoint, f.status, f.error, f.reason, f.description, f.hint, f.clientId, f.applicationName, f.userName, f.remoteAddress, factsText(f.facts), f.ruleId ?? null],

    ruleFromRow,
    ruleParams: (r: Rule): unknown[] => [r.id, r.kind, r.target, JSON.stringify(r.spec), r.mode, r.note, r.createdAt, r.createdBy, r.updatedAt, r.enforcedAt, r.enforcedBy],

    /** Audit rows have the record's own shape (text and integers); a copy, so callers may keep it. */
    auditFromRow: (e: AuditEntry): AuditEntry => ({ ...e }),
    auditParams: (e: AuditEntry): unknown[] => [e.id, e.at, e.actor, e.action, e.target, e.before, e.after],

    sessionFromRow: (r: SessionRow): SessionRecord => ({
      id: r.id,
      kind: r.kind as SessionKind,
      userId: r.user_id,
      createdAt: r.created_at,
      lastSeenAt: r.last_seen_at,
      expiresAt: r.expires_at,
      parentId: r.parent_id,
      revokedAt: r.revoked_at,
    }),
    sessionParams: (s: SessionRecord): unknown[] => [s.id, s.kind, s.userId, s.createdAt, s.lastSeenAt, s.expiresAt, s.parentId, s.revokedAt],

    attemptFromRow: (r: AttemptRow): AttemptRecord => ({
      kind: r.kind as AttemptKind,
      userName: r.user_name,
      source: r.source,
      failures: r.failures,
      windowStart: r.window_start,
      lastAt: r.last_at,
      expiresAt: r.expires_at,
    }),
  };
}

export type SqlRows = ReturnType<typeof sqlRows>;

function signingKeyFromRow(r: SigningKeyRow): SigningKey {
  return {
    kid: r.kid,
    alg: r.alg as SigningAlgorithm,
    publicJwk: r.public_jwk,
    privateKeyEnc: r.private_key_enc,
    createdAt: r.created_at,
    activatesAt: r.activates_at,
    retiresAt: r.retires_at,
    publishUntil: r.publish_until,
    purpose: r.purpose === 'id_token' ? 'id_token' : 'access',
  };
}

function refusalFromRow(r: RefusalRow): Refusal {
  return {
    requestId: r.request_id,
    at: r.at,
    endpoint: r.endpoint,
    status: r.status,
    error: r.error,
    reason: r.reason,
    description: r.description,
    hint: r.hint,
    clientId: r.client_id,
    applicationName: r.application_name,
    userName: r.user_name,
    remoteAddress: r.remote_address,
    facts: factsFrom(r.facts),
    ruleId: r.rule_id,
  };
}

/** The most a refusal's facts take as JSON; past it, each list is cut to its first ten names. */
export const FACTS_MAX_CHARS = 8_000;

/** Facts as stored (JSON text), bounded: a caller-chosen value cannot bloat the row. */
export function factsText(facts: Facts | null | undefined): string | null {
  if (facts === undefined || facts === null || Object.keys(facts).length === 0) return null;
  const text = JSON.stringify(facts);
  if (text.length <= FACTS_MAX_CHARS) return text;
  const cut: Record<string, FactValue> = {};
  for (const [k, v] of Object.entries(facts)) cut[k] = Array.isArray(v) ? v.slice(0, 10).map((x) => String(x).slice(0, 200)) : typeof v === 'string' ? v.slice(0, 500) : v;
  const again = JSON.stringify(cut);
  return again.length <= FACTS_MAX_CHARS ? again : null;
}

function factsFrom(text: string | null): Facts | null {
  if (text === null) return null;
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Facts) : null;
  } catch {
    return null;
  }
}

function ruleFromRow(r: RuleRow): Rule {
  let spec: RuleSpec = {};
  try {
    spec = JSON.parse(r.spec) as RuleSpec;
  } catch {
    spec = {};
  }
  return {
    id: r.id,
    kind: r.kind as RuleKind,
    target: r.target,
    spec,
    mode: r.mode as RuleMode,
    note: r.note,
    createdAt: r.created_at,
    createdBy: r.created_by,
    updatedAt: r.updated_at,
    enforcedAt: r.enforced_at,
    enforcedBy: r.enforced_by,
  };
}

/** Keys in one fixed order, so concurrent multi-key writes take row locks in the same order. */
export function sortedAttemptKeys<K extends { kind: string; userName: string; source: string }>(keys: readonly K[]): K[] {
  const key = (k: K) => `${k.kind}\u0000${k.userName}\u0000${k.source}`;
  return [...keys].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The smallest string greater than every string that starts with `prefix` (a range scan's upper bound). */
export function prefixEnd(prefix: string): string {
  if (prefix === '') return '\u{10ffff}';
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}

/** A JSON object column (user profiles, claim mappings): NULL for an empty or absent object. */
function jsonText(value: object | null | undefined): string | null {
  return value === undefined || value === null || Object.keys(value).length === 0 ? null : JSON.stringify(value);
}

function jsonObject<T extends object>(text: string | null): T | undefined {
  if (text === null || text === '') return undefined;
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as T) : undefined;
}

/** A token's actor (RFC 8693 act) as stored: JSON, or NULL for none. */
export function actEncode(act: ActClaim | null | undefined): string | null {
  return act === undefined || act === null ? null : JSON.stringify(act);
}

/** A token's audience (RFC 8707 resources) as stored: space-separated text, or NULL for none. */
export function audienceEncode(audience: readonly string[] | null | undefined): string | null {
  return audience === undefined || audience === null || audience.length === 0 ? null : audience.join(' ');
}

export function audienceDecode(stored: string): string[] {
  return stored === '' ? [] : stored.split(' ');
}

/** A code's ClaimsRequest as stored: JSON {"userinfo":[...],"id_token":[...]}, or NULL. */
export function claimsRequestEncode(claims: ClaimsRequest | null | undefined): string | null {
  return claims === undefined || claims === null ? null : JSON.stringify({ userinfo: [...claims.userinfo], id_token: [...claims.idToken] });
}

/** The stored ClaimsRequest of a code; a value that is not ours reads as none. */
export function claimsRequestDecode(text: string | null): ClaimsRequest | null {
  if (text === null) return null;
  try {
    const v = JSON.parse(text) as { userinfo?: unknown; id_token?: unknown };
    const names = (x: unknown): string[] => (Array.isArray(x) ? x.filter((n): n is string => typeof n === 'string') : []);
    return { userinfo: names(v.userinfo), idToken: names(v.id_token) };
  } catch {
    return null;
  }
}
