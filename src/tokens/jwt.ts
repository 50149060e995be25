import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import type { Clock } from '../core/clock.js';
import { randomToken, tokenKey } from '../core/crypto.js';
import type { Keyring, SigningMaterial } from '../keys/keyring.js';
import type { RegistryCache } from '../registry/cache.js';
import { StorageError } from '../storage/types.js';
import type { AccessTokenFormat, MintedAccessToken, MintInput } from './issuer.js';
import { SigningTurn } from './signing-turn.js';
import type { AccessJwtClaims } from '../domain/access-jwt.js';
import { AccessJwtRejected, type AccessJwtRejectReason } from '../errors/jwt.js';

export { AccessJwtRejected, type AccessJwtClaims, type AccessJwtRejectReason };

/**
 * JWT access tokens (RFC 9068), signed with the instance's current key (keys/keyring.ts).
 *
 * Header `{ alg, typ: "at+jwt", kid }`; claims `iss`, `sub`, `aud`, `exp`, `iat`, `jti`,
 * `client_id`, `scope`. `sub` is the user name of the user the token acts as (for client
 * credentials, the application user) or, with no user, the client id. `aud` is the application's
 * audience, or the issuer (our own APIs) when it has none.
 *
 * A JWT is stored like any token, so it can be revoked, introspected and listed: its record is
 * keyed by jtiKey(jti). The token itself is not stored (neither is a hash of it: the jti is the
 * handle, and only a token with our valid signature maps to it).
 */

export interface JwtDeps {
  readonly keyring: Pick<Keyring, 'verificationKey'>;
  readonly issuer: () => string;
  readonly clock: Clock;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
/** 12 hex digits of issue time (ms) + 22 base64url characters. */
const JTI_SHAPE = /^[0-9a-f]{12}[A-Za-z0-9_-]{22}$/;
const REQUIRED_CLAIMS = ['sub', 'aud', 'exp', 'iat', 'jti', 'client_id'];

/** Three base64url segments separated by dots (a JWS in compact form); opaque tokens have no dots. */
export function isJwtShaped(token: string): boolean {
  return token.indexOf('.') > 0 && JWT_SHAPE.test(token);
}

/**
 * The storage key of a JWT's record: `<12 hex digits of time>.j<rest of the jti>`. Time-ordered
 * like opaque token keys, and it cannot collide with one (a SHA-256 in base64url is 43 characters).
 */
export function jtiKey(jti: string): string {
  return `${jti.slice(0, 12)}.j${jti.slice(12)}`;
}

/** A new jti: issue time in ms as 12 hex digits, then 22 random base64url characters (≥128 bits). */
export function newJti(now: number): string {
  const time = Math.max(0, Math.floor(now)).toString(16).padStart(12, '0').slice(-12);
  return time + randomToken('').slice(0, 22);
}

function rejectionOf(error: unknown): AccessJwtRejected {
  if (error instanceof AccessJwtRejected) return error;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return new AccessJwtRejected('signature', 'The signature is not valid.');
  if (error instanceof joseErrors.JWTExpired) {
    const claims = error.payload as AccessJwtClaims;
    return new AccessJwtRejected('expired', 'The token has expired.', typeof claims.jti === 'string' && JTI_SHAPE.test(claims.jti) ? claims : undefined);
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'iss') return new AccessJwtRejected('issuer', 'The token was issued by another issuer.');
  const detail = error instanceof Error ? error.message : String(error);
  return new AccessJwtRejected('malformed', `The token is not a well-formed access token of this instance (${detail.slice(0, 200)}).`);
}

/**
 * Verifies one of our JWT access tokens: a published key of ours (by kid) signed it, `typ` is
 * at+jwt, `iss` is our issuer, the required RFC 9068 claims are present and it has not expired (by
 * the clock). Storage state (revocation, the application, the user) is the caller's to check.
 * Throws AccessJwtRejected.
 */
export async function verifyAccessJwt(deps: JwtDeps, token: string): Promise<AccessJwtClaims> {
  const now = deps.clock.now();
  try {
    let header;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new AccessJwtRejected('malformed', 'The token is not a JWT.');
    }
    if (typeof header.kid !== 'string' || header.kid === '') throw new AccessJwtRejected('malformed', 'The token header has no kid.');
    const key = await deps.keyring.verificationKey(header.kid, now);
    if (key === undefined) throw new AccessJwtRejected('unknown_kid', `The token names a signing key (kid ${header.kid.slice(0, 64)}) this instance does not publish.`);
    const { payload } = await jwtVerify(token, key.publicKey, {
      issuer: deps.issuer(),
      typ: 'at+jwt',
      algorithms: [key.alg],
      currentDate: new Date(now),
      requiredClaims: REQUIRED_CLAIMS,
    });
    if (typeof payload.jti !== 'string' || !JTI_SHAPE.test(payload.jti) || typeof payload.client_id !== 'string' || typeof payload.sub !== 'string') {
      throw new AccessJwtRejected('malformed', 'The token claims are not those of an access token of this instance.');
    }
    return payload as AccessJwtClaims;
  } catch (error) {
    // The keys could not be read (database down): not a verdict on the token; callers answer 503.
    if (error instanceof StorageError) throw error;
    throw rejectionOf(error);
  }
}

/**
 * The storage key of any token of ours: an opaque token's tokenKey(), or for a JWT with our valid
 * signature (expired or not) jtiKey(jti); undefined for anything else. Introspection and
 * revocation look tokens up with it.
 */
export async function recordKeyOf(deps: JwtDeps, token: string): Promise<string | undefined> {
  if (!isJwtShaped(token)) return tokenKey(token);
  try {
    return jtiKey((await verifyAccessJwt(deps, token)).jti);
  } catch (error) {
    if (error instanceof StorageError) throw error;
    if (error instanceof AccessJwtRejected && error.code === 'expired' && error.claims !== undefined) return jtiKey(error.claims.jti);
    return undefined;
  }
}

/**
 * The storage key a token would be stored under, WITHOUT verifying a JWT's signature: for
 * administrators' tools that already hold database access (`latchkey tokens revoke`), where a
 * forged JWT can only name a jti the operator could revoke anyway. Never use it to accept a token.
 */
export function unverifiedRecordKey(token: string): string | undefined {
  if (!isJwtShaped(token)) return tokenKey(token);
  try {
    const { jti } = decodeJwt(token);
    return typeof jti === 'string' && JTI_SHAPE.test(jti) ? jtiKey(jti) : undefined;
  } catch {
    return undefined;
  }
}

export interface JwtFormatDeps {
  readonly keyring: Pick<Keyring, 'signingKey' | 'readySigner'>;
  readonly issuer: () => string;
  readonly cache: Pick<RegistryCache, 'peekUserById' | 'userById'>;
  /** Where signatures are made: the tokens of one event-loop turn together (signing-turn.ts). */
  readonly signing?: SigningTurn;
}

/**
 * The 'jwt' access-token format. Once warm (the signing key imported, the user in the registry
 * cache, as on every request after the first) the claims are built at once and the signature is
 * made with the rest of this event-loop turn's (signing-turn.ts).
 */
export function jwtFormat(deps: JwtFormatDeps): AccessTokenFormat {
  const signing = deps.signing ?? new SigningTurn();

  function signWith(signer: SigningMaterial, input: MintInput, sub: string): Promise<MintedAccessToken> {
    const app = input.application;
    const issuer = deps.issuer();
    const jti = newJti(input.now);
    const iat = Math.floor(input.now / 1000);
    // One literal of one shape, claims in RFC 9068 §2.2 order; no scope claim for no scopes.
    const claims = {
      iss: issuer,
      sub,
      // RFC 8707 / RFC 9068 §3: the resources the token was requested for; else the application's audience, else our own APIs.
      aud: input.audience !== undefined && input.audience.length > 0 ? (input.audience.length === 1 ? (input.audience[0] as string) : [...input.audience]) : (app.audience ?? issuer),
      exp: iat + (input.lifetime === undefined ? app.accessTokenLifespan : Math.min(input.lifetime, app.accessTokenLifespan)),
      iat,
      jti,
      client_id: app.clientId,
      scope: input.scopes.length === 0 ? undefined : input.scopes.join(' '),
      // RFC 9449 §6.1: a DPoP-bound token names its key's thumbprint.
      cnf: input.jkt === undefined ? undefined : { jkt: input.jkt },
      // RFC 8693 §4.1: who acts for the subject (token exchange with an actor_token); absent otherwise.
      act: input.act,
    };
    const hash = jtiKey(jti);
    return signing.sign(signer.sign, claims).then((token) => ({ token, hash }));
  }

  async function slow(input: MintInput): Promise<MintedAccessToken> {
    const user = input.userId === null ? undefined : (deps.cache.peekUserById(input.userId) ?? (await deps.cache.userById(input.userId)));
    const signer = deps.keyring.readySigner(input.now) ?? (await deps.keyring.signingKey(input.now));
    return signWith(signer, input, input.userId === null ? input.application.clientId : (user?.userName ?? input.userId));
  }

  return {
    format: 'jwt',
    mint(input: MintInput) {
      // sub: the user the token acts for (the application user for client credentials), else the client.
      const signer = deps.keyring.readySigner(input.now);
      if (signer === undefined) return slow(input);
      if (input.userId === null) return signWith(signer, input, input.application.clientId);
      const user = deps.cache.peekUserById(input.userId);
      return user === undefined ? slow(input) : signWith(signer, input, user.userName);
    },
  };
}
