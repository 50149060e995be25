import type { Application, AuthorizationCode, IdentityProvider, IdpUserField, Refusal, SigningAlgorithm, SigningKey, TokenFormat, TokenKind, TokenRecord, TokenStatus, User } from '../../domain/model.js';
import type { GrantType } from '../../grants/grant-type.js';

/** Row shapes as SQLite returns them, and their mapping to domain records. */

export interface UserRow {
  id: string;
  user_name: string;
  password_hash: string | null;
  active: number;
  roles: string;
  created_at: number;
  updated_at: number;
  password_changed_at: number | null;
}

export function userFromRow(r: UserRow): User {
  return {
    id: r.id,
    userName: r.user_name,
    passwordHash: r.password_hash,
    active: r.active === 1,
    roles: JSON.parse(r.roles) as string[],
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    passwordChangedAt: r.password_changed_at,
  };
}

export function userParams(u: User): unknown[] {
  return [u.id, u.userName, u.passwordHash, u.active ? 1 : 0, JSON.stringify(u.roles), u.createdAt, u.updatedAt, u.passwordChangedAt];
}

export interface ApplicationRow {
  id: string;
  client_id: string;
  name: string;
  secret_hash: string | null;
  secret_rotated_at: number | null;
  active: number;
  public: number;
  grant_types: string;
  redirect_uris: string;
  scopes: string;
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
  can_introspect: number;
  admin_api: number;
}

export function applicationFromRow(r: ApplicationRow): Application {
  return {
    id: r.id,
    clientId: r.client_id,
    name: r.name,
    secretHash: r.secret_hash,
    secretRotatedAt: r.secret_rotated_at,
    active: r.active === 1,
    public: r.public === 1,
    grantTypes: JSON.parse(r.grant_types) as GrantType[],
    redirectUris: JSON.parse(r.redirect_uris) as string[],
    scopes: JSON.parse(r.scopes) as string[],
    accessTokenLifespan: r.access_token_lifespan,
    refreshTokenLifespan: r.refresh_token_lifespan,
    tokenFormat: r.token_format as TokenFormat,
    appUserId: r.app_user_id,
    logoUri: r.logo_uri,
    audience: r.audience,
    jwks: r.jwks,
    jwksUri: r.jwks_uri,
    canIntrospect: r.can_introspect === 1,
    adminApi: r.admin_api === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** In the column order of statements.ts APPLICATION_COLUMNS (id first). */
export function applicationParams(a: Application): unknown[] {
  return [
    a.id, a.clientId, a.name, a.secretHash, a.secretRotatedAt, a.active ? 1 : 0, a.public ? 1 : 0,
    JSON.stringify(a.grantTypes), JSON.stringify(a.redirectUris), JSON.stringify(a.scopes),
    a.accessTokenLifespan, a.refreshTokenLifespan, a.tokenFormat, a.appUserId, a.createdAt, a.updatedAt,
    a.logoUri, a.audience, a.jwks, a.jwksUri, a.canIntrospect ? 1 : 0, a.adminApi ? 1 : 0,
  ];
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

/** In the column order of statements.ts SIGNING_KEY_COLUMNS. */
export function signingKeyParams(k: SigningKey): unknown[] {
  return [k.kid, k.alg, k.publicJwk, k.privateKeyEnc, k.createdAt, k.activatesAt, k.retiresAt, k.publishUntil];
}

export interface AuthorizationCodeRow {
  hash: string;
  application_id: string;
  user_id: string;
  redirect_uri: string | null;
  scopes: string;
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
    scopes: JSON.parse(r.scopes) as string[],
    codeChallenge: r.code_challenge,
    issuedAt: r.issued_at,
    expiresAt: r.expires_at,
    usedAt: r.used_at,
  };
}

/** In the column order of statements.ts CODE_COLUMNS. */
export function codeParams(c: AuthorizationCode): unknown[] {
  return [c.hash, c.applicationId, c.userId, c.redirectUri, JSON.stringify(c.scopes), c.codeChallenge, c.issuedAt, c.expiresAt, c.usedAt];
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
  active: number;
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
    active: r.active === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
  };
}

/** In the column order of statements.ts IDP_COLUMNS (id first). */
export function identityProviderParams(p: IdentityProvider): unknown[] {
  return [p.id, p.name, p.issuer, p.metadataUrl, p.jwksUri, p.audience, p.userClaim, p.userField, p.active ? 1 : 0, p.createdAt, p.updatedAt];
}

export interface TokenRow {
  hash: string;
  kind: string;
  application_id: string;
  user_id: string | null;
  scopes: string;
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
    scopes: r.scopes === '' ? [] : r.scopes.split(' '),
    grantType: r.grant_type,
    issuedAt: r.issued_at,
    expiresAt: r.expires_at,
    familyId: r.family_id,
    status: r.status as TokenStatus,
    revokedAt: r.revoked_at,
  };
}


export { refusalFromRow, type RefusalRow } from '../sql-rows.js';

export function refusalParams(f: Refusal): unknown[] {
  return [f.requestId, f.at, f.endpoint, f.status, f.error, f.reason, f.description, f.hint, f.clientId, f.applicationName, f.userName, f.remoteAddress];
}
