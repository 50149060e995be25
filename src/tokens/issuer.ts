import { mintOpaque, TOKEN_PREFIX } from '../core/crypto.js';
import type { ActClaim, Application, NewTokenRecord, TokenFormat } from '../domain/model.js';

/** The RFC 6749 §5.1 success body. */
export interface TokenResponseBody {
  readonly access_token: string;
  /** RFC 9449 §5: DPoP for a token bound to the request's proof key, else Bearer. */
  readonly token_type: 'Bearer' | 'DPoP';
  readonly expires_in: number;
  /** The granted scopes, space-separated; absent when none was granted (RFC 6749 §3.3 has no empty scope). */
  readonly scope?: string;
  readonly refresh_token?: string;
  /** OpenID Connect Core 1.0 §3.1.3.3: when the grant has the openid scope (tokens/id-token.ts). */
  readonly id_token?: string;
  /** RFC 8693 §2.2.1: the type of the token issued by token exchange (grants/token-exchange.ts). */
  readonly issued_token_type?: string;
}

export interface MintInput {
  readonly application: Application;
  readonly userId: string | null;
  readonly scopes: readonly string[];
  readonly grantType: string;
  /** Continue an existing family (refresh); a new grant starts a new one. */
  readonly familyId?: string;
  readonly withRefreshToken: boolean;
  /** Absolute expiry for the refresh token; defaults to now + the application's lifespan. */
  readonly refreshExpiresAt?: number;
  readonly now: number;
  /** RFC 8707: the resources the access token is for (its audience; a JWT's aud); absent: none requested. */
  readonly audience?: readonly string[] | undefined;
  /** The scopes the refresh token keeps (the grant's, when the access token's were narrowed to its resources); default: `scopes`. */
  readonly refreshScopes?: readonly string[] | undefined;
  /** The resources the refresh token keeps (the grant's: a refresh may narrow from them); default: `audience`. */
  readonly refreshAudience?: readonly string[] | undefined;
  /** RFC 9449: the DPoP key thumbprint the access token is bound to (cnf.jkt, token_type DPoP); absent: a bearer token. */
  readonly jkt?: string | undefined;
  /** RFC 9449 §5: the key the refresh token is bound to (public clients only); absent: not bound. */
  readonly refreshJkt?: string | undefined;
  /** RFC 8693 §4.1: the actor of a token issued by delegation (a JWT's act claim, the record's act); absent: none. */
  readonly act?: ActClaim | undefined;
  /**
   * The access token's lifetime in seconds when shorter than the application's (token exchange:
   * never past the subject token's end); absent: the application's accessTokenLifespan.
   */
  readonly lifetime?: number | undefined;
}

export interface Minted {
  readonly body: TokenResponseBody;
  /** Records to store (hashes only) before the body is sent. */
  readonly records: NewTokenRecord[];
}

/** The access token a format made, and the key its record is stored under. */
export interface MintedAccessToken {
  readonly token: string;
  readonly hash: string;
}

/**
 * An access-token format: opaque (synchronous: no promise on the hot path) or JWT (RFC 9068,
 * tokens/jwt.ts: asynchronous, it signs). Formats register in a Map by name (app.ts).
 */
export interface AccessTokenFormat {
  readonly format: TokenFormat;
  mint(input: MintInput): MintedAccessToken | Promise<MintedAccessToken>;
}

/** Opaque tokens: prefix, issue time, 256 random bits; the database holds only the key from tokenKey(). */
export const opaqueFormat: AccessTokenFormat = {
  format: 'opaque',
  mint(input) {
    const { token, key } = mintOpaque(TOKEN_PREFIX.access, input.now);
    return { token, hash: key };
  },
};

/**
 * Mints the tokens of one grant. Returns synchronously for opaque access tokens (the hot path pays
 * no promise) and a promise for signed ones: callers write
 * `const m = mint(input); const minted = m instanceof Promise ? await m : m;`.
 */
export function createMinter(formats: ReadonlyMap<TokenFormat, AccessTokenFormat>) {
  return function mint(input: MintInput): Minted | Promise<Minted> {
    const format = formats.get(input.application.tokenFormat) ?? opaqueFormat;
    const access = format.mint(input);
    return access instanceof Promise ? access.then((a) => complete(input, a)) : complete(input, access);
  };
}

function complete(input: MintInput, access: MintedAccessToken): Minted {
  const app = input.application;
  // A new grant's family is named after its first access token's key: unique, time-ordered (so
  // the family index appends), and free to compute.
  const familyId = input.familyId ?? access.hash;
  // Plain literals of one shape (no spreads): this runs on every token request.
  const record = (hash: string, kind: 'access' | 'refresh', expiresAt: number, audience: readonly string[] | null, scopes: readonly string[] = input.scopes, jkt: string | null = input.jkt ?? null): NewTokenRecord => ({
    hash,
    kind,
    applicationId: app.id,
    userId: input.userId,
    scopes,
    grantType: input.grantType,
    issuedAt: input.now,
    expiresAt,
    familyId,
    audience,
    jkt,
  });
  const tokenType = input.jkt === undefined ? 'Bearer' : 'DPoP';
  const expiresIn = input.lifetime === undefined ? app.accessTokenLifespan : Math.min(input.lifetime, app.accessTokenLifespan);
  const audience = input.audience === undefined || input.audience.length === 0 ? null : input.audience;
  const records: NewTokenRecord[] = [record(access.hash, 'access', input.now + expiresIn * 1000, audience)];
  // RFC 8693: the actor only on the access token of an exchange (no other grant pays a spread).
  if (input.act !== undefined) records[0] = { ...(records[0] as NewTokenRecord), act: input.act };
  // RFC 6749 §3.3: a scope is one or more scope tokens, so "no scope granted" is no scope
  // parameter, not "scope":"" (clients that validate the response refuse the empty string).
  const scope = input.scopes.length === 0 ? undefined : input.scopes.join(' ');
  if (!input.withRefreshToken) {
    const body: TokenResponseBody = scope === undefined ? { access_token: access.token, token_type: tokenType, expires_in: expiresIn } : { access_token: access.token, token_type: tokenType, expires_in: expiresIn, scope };
    return { body, records };
  }
  const { token: refreshToken, key: refreshKey } = mintOpaque(TOKEN_PREFIX.refresh, input.now);
  const refreshAudience = input.refreshAudience === undefined ? audience : input.refreshAudience.length === 0 ? null : input.refreshAudience;
  records.push(record(refreshKey, 'refresh', input.refreshExpiresAt ?? input.now + app.refreshTokenLifespan * 1000, refreshAudience, input.refreshScopes ?? input.scopes, input.refreshJkt ?? null));
  const body: TokenResponseBody =
    scope === undefined
      ? { access_token: access.token, token_type: tokenType, expires_in: expiresIn, refresh_token: refreshToken }
      : { access_token: access.token, token_type: tokenType, expires_in: expiresIn, scope, refresh_token: refreshToken };
  return { body, records };
}

export type Mint = ReturnType<typeof createMinter>;
