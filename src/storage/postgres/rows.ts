import type { Application, AuthorizationCode, IdentityProvider, IdpUserField, NewTokenRecord, Refusal, Role, Scope, SigningAlgorithm, SigningKey, TokenFormat, TokenKind, TokenRecord, TokenStatus, User } from '../../domain/model.js';
import type { GrantType } from '../../grants/grant-type.js';

/**
 * Row shapes as the adapter's pg pool returns them (BIGINT parsed to number, BOOLEAN to boolean,
 * TEXT[] to a fresh string array per query), and their mapping to domain records and parameters.
 */

export const USER_COLUMNS = 'id, user_name, password_hash, active, roles, created_at, updated_at, password_changed_at';
export interface UserRow {
  id: string;
  user_name: string;
  password_hash: string | null;
  active: boolean;
  roles: string[];
  created_at: number;
  updated_at: number;
  password_changed_at: number | null;
}

export function userFromRow(r: UserRow): User {
  return {
    id: r.id,
    userName: r.user_name,
    passwordHash: r.password_hash,
    active: r.active,
    roles: r.roles,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    passwordChangedAt: r.password_changed_at,
  };
}

/** In USER_COLUMNS order. */
export function userParams(u: User): unknown[] {
  return [u.id, u.userName, u.passwordHash, u.active, [...u.roles], u.createdAt, u.updatedAt, u.passwordChangedAt];
}

export interface NamedRow {
  name: string;
  description: string;
  built_in: boolean;
}

export function namedFromRow(r: NamedRow): Role & Scope {
  return { name: r.name, description: r.description, builtIn: r.built_in };
}

export const APPLICATION_COLUMNS =
  'id, client_id, name, secret_hash, secret_rotated_at, active, public, grant_types, redirect_uris, scopes, access_token_lifespan, refresh_token_lifespan, token_format, app_user_id, created_at, updated_at, logo_uri, audience, jwks, jwks_uri, can_introspect, admin_api';
export interface ApplicationRow {
  id: string;
  client_id: string;
  name: string;
  secret_hash: string | null;
  secret_rotated_at: number | null;
  active: boolean;
  public: boolean;
  grant_types: string[];
  redirect_uris: string[];
  scopes: string[];
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
  can_introspect: boolean;
  admin_api: boolean;
}

export function applicationFromRow(r: ApplicationRow): Application {
  return {
    id: r.id,
    clientId: r.client_id,
    name: r.name,
    secretHash: r.secret_hash,
    secretRotatedAt: r.secret_rotated_at,
    active: r.active,
    public: r.public,
    grantTypes: r.grant_types as GrantType[],
    redirectUris: r.redirect_uris,
    scopes: r.scopes,
    accessTokenLifespan: r.access_token_lifespan,
    refreshTokenLifespan: r.refresh_token_lifespan,
    tokenFormat: r.token_format as TokenFormat,
    appUserId: r.app_user_id,
    logoUri: r.logo_uri,
    audience: r.audience,
    jwks: r.jwks,
    jwksUri: r.jwks_uri,
    canIntrospect: r.can_introspect,
    adminApi: r.admin_api,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** In APPLICATION_COLUMNS order. */
export function applicationParams(a: Application): unknown[] {
  return [
    a.id, a.clientId, a.name, a.secretHash, a.secretRotatedAt, a.active, a.public,
    [...a.grantTypes], [...a.redirectUris], [...a.scopes],
    a.accessTokenLifespan, a.refreshTokenLifespan, a.tokenFormat, a.appUserId, a.createdAt, a.updatedAt,
    a.logoUri, a.audience, a.jwks, a.jwksUri, a.canIntrospect, a.adminApi,
  ];
}

export const SIGNING_KEY_COLUMNS = 'kid, alg, public_jwk, private_key_enc, created_at, activates_at, retires_at, publish_until';
export interface SigningKeyRow {
  kid: string;
  alg: string;
  public_jwk: string;
  private_key_enc: string;
  created_at: number;
  activates_at: number;
  retires_at: number | null;
  publish_until: number | null;
}

export function signingKeyFromRow(r: SigningKeyRow): SigningKey {
  return {
    kid: r.kid,
    alg: r.alg as SigningAlgorithm,
    publicJwk: r.public_jwk,
    privateKeyEnc: r.private_key_enc,
    createdAt: r.created_at,
    activatesAt: r.activates_at,
    retiresAt: r.retires_at,
    publishUntil: r.publish_until,
  };
}

/** In SIGNING_KEY_COLUMNS order. */
export function signingKeyParams(k: SigningKey): unknown[] {
  return [k.kid, k.alg, k.publicJwk, k.privateKeyEnc, k.createdAt, k.activatesAt, k.retiresAt, k.publishUntil];
}

export const CODE_COLUMNS = 'hash, application_id, user_id, redirect_uri, scopes, code_challenge, issued_at, expires_at, used_at';
export interface AuthorizationCodeRow {
  hash: string;
  application_id: string;
  user_id: string;
  redirect_uri: string | null;
  scopes: string[];
  code_challenge: string | null;
  issued_at: number;
  expires_at: number;
  used_at: number | null;
}

export function codeFromRow(r: AuthorizationCodeRow): AuthorizationCode {
  return {
    hash: r.hash,
    applicationId: r.application_id,
    userId: r.user_id,
    redirectUri: r.redirect_uri,
    scopes: r.scopes,
    codeChallenge: r.code_challenge,
    issuedAt: r.issued_at,
    expiresAt: r.expires_at,
    usedAt: r.used_at,
  };
}

/** In CODE_COLUMNS order. */
export function codeParams(c: AuthorizationCode): unknown[] {
  return [c.hash, c.applicationId, c.userId, c.redirectUri, [...c.scopes], c.codeChallenge, c.issuedAt, c.expiresAt, c.usedAt];
}

export const IDP_COLUMNS = 'id, name, issuer, metadata_url, jwks_uri, audience, user_claim, user_field, active, created_at, updated_at';
export interface IdentityProviderRow {
  id: string;
  name: string;
  issuer: string;
  metadata_url: string | null;
  jwks_uri: string | null;
  audience: string;
  user_claim: string;
  user_field: string;
  active: boolean;
  created_at: number;
  updated_at: number;
}

export function identityProviderFromRow(r: IdentityProviderRow): IdentityProvider {
  return {
    id: r.id,
    name: r.name,
    issuer: r.issuer,
    metadataUrl: r.metadata_url,
    jwksUri: r.jwks_uri,
    audience: r.audience,
    userClaim: r.user_claim,
    userField: r.user_field as IdpUserField,
    active: r.active,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** In IDP_COLUMNS order. */
export function identityProviderParams(p: IdentityProvider): unknown[] {
  return [p.id, p.name, p.issuer, p.metadataUrl, p.jwksUri, p.audience, p.userClaim, p.userField, p.active, p.createdAt, p.updatedAt];
}

export const TOKEN_COLUMNS = 'hash, kind, application_id, user_id, scopes, grant_type, issued_at, expires_at, family_id, status, revoked_at';
export interface TokenRow {
  hash: string;
  kind: string;
  application_id: string;
  user_id: string | null;
  scopes: string[];
  grant_type: string;
  issued_at: number;
  expires_at: number;
  family_id: string;
  status: string;
  revoked_at: number | null;
}

export function tokenFromRow(r: TokenRow): TokenRecord {
  return {
    hash: r.hash,
    kind: r.kind as TokenKind,
    applicationId: r.application_id,
    userId: r.user_id,
    scopes: r.scopes,
    grantType: r.grant_type,
    issuedAt: r.issued_at,
    expiresAt: r.expires_at,
    familyId: r.family_id,
    status: r.status as TokenStatus,
    revokedAt: r.revoked_at,
  };
}

/**
 * New tokens as nine column arrays for `unnest`, so one statement with a fixed text (prepared once
 * per connection) inserts any number of rows. A token's scopes travel as a JSON array: PostgreSQL
 * arrays must be rectangular, and scope lists differ in length.
 */
export function tokenColumns(tokens: readonly NewTokenRecord[]): unknown[][] {
  const cols: unknown[][] = [[], [], [], [], [], [], [], [], []];
  for (const t of tokens) {
    cols[0]!.push(t.hash);
    cols[1]!.push(t.kind);
    cols[2]!.push(t.applicationId);
    cols[3]!.push(t.userId);
    cols[4]!.push(JSON.stringify(t.scopes));
    cols[5]!.push(t.grantType);
    cols[6]!.push(t.issuedAt);
    cols[7]!.push(t.expiresAt);
    cols[8]!.push(t.familyId);
  }
  return cols;
}

/**
 * `SELECT` producing rows for `INSERT INTO tokens (TOKEN_COLUMNS)` from the tokenColumns arrays
 * bound at $first…$first+8 (new tokens: active, not revoked), or with `stored`, from the
 * tokenImportColumns arrays at $first…$first+10 (status and revocation time as given).
 */
export function tokenRowsFrom(first: number, stored = false): string {
  const p = (i: number): string => `$${first + i}`;
  const state = stored ? 'st, r' : "'active', NULL::bigint";
  const extra = stored ? `, ${p(9)}::text[], ${p(10)}::bigint[]` : '';
  return `SELECT h, k, a, u, ARRAY(SELECT el.x FROM jsonb_array_elements_text(s) WITH ORDINALITY AS el(x, n) ORDER BY el.n), g, i, e, f, ${state}
    FROM unnest(${p(0)}::text[], ${p(1)}::text[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::jsonb[], ${p(5)}::text[], ${p(6)}::bigint[], ${p(7)}::bigint[], ${p(8)}::text[]${extra})
      AS t(h, k, a, u, s, g, i, e, f${stored ? ', st, r' : ''})`;
}

/** Stored tokens (status and revocation time as given) as eleven column arrays, for importing. */
export function tokenImportColumns(tokens: readonly TokenRecord[]): unknown[][] {
  const cols = tokenColumns(tokens);
  cols.push(tokens.map((t) => t.status), tokens.map((t) => t.revokedAt));
  return cols;
}

export const REFUSAL_COLUMNS = 'request_id, at, endpoint, status, error, reason, description, hint, client_id, application_name, user_name, remote_address';

/** Refusals as twelve column arrays for `unnest`, in REFUSAL_COLUMNS order. */
export function refusalColumns(refusals: readonly Refusal[]): unknown[][] {
  const cols: unknown[][] = Array.from({ length: 12 }, () => []);
  for (const f of refusals) {
    const values = [f.requestId, f.at, f.endpoint, f.status, f.error, f.reason, f.description, f.hint, f.clientId, f.applicationName, f.userName, f.remoteAddress];
    values.forEach((v, i) => cols[i]!.push(v));
  }
  return cols;
}

/** `SELECT` producing refusal rows from the refusalColumns arrays bound at $first…$first+11. */
export function refusalRowsFrom(first: number): string {
  const types = ['text', 'bigint', 'text', 'integer', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text'];
  return `SELECT * FROM unnest(${types.map((t, i) => `$${first + i}::${t}[]`).join(', ')})`;
}

export { refusalFromRow, type RefusalRow } from '../sql-rows.js';
