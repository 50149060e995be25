import { decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type KeyObject } from 'jose';
import { refusalIn } from '../outbound/fetch.js';
import { ALLOWED_ALGORITHMS, InvalidKeySet, KeySourceUnavailable } from './keys.js';
import { JwtRejected, type JwtFailure } from '../errors/jwt.js';

export { JwtRejected, type JwtFailure };

/**
 * Verifies a JWT signed by someone else (a client's assertion, an identity provider's access
 * token) with jose, and sorts every failure into one reason, so each refusal can say exactly what
 * was wrong. Claims are checked here rather than by jose's options so that a missing claim, a wrong
 * audience and an expiry are told apart.
 */

export interface JwtCheck {
  readonly getKey: JWTVerifyGetKey;
  /** Milliseconds since the epoch (the instance clock). */
  readonly now: number;
  readonly skewSeconds: number;
  /** Claims that must be present (checked for type too: strings, or numbers for exp/nbf/iat). */
  readonly required: readonly string[];
  /** When set, `iss` must equal it exactly. */
  readonly issuer?: string;
  /** When set, `aud` (a string or an array) must contain one of these. */
  readonly audiences?: readonly string[];
  /** With `audiences`: `aud` must be one string, not an array. */
  readonly singleAudience?: boolean;
  /** When set, exp may be at most this many seconds (plus skew) ahead of now. */
  readonly maxLifetimeSeconds?: number;
  /**
   * When set, the token's whole lifetime, exp - iat, may be at most this many seconds; a token
   * without iat may have exp at most this far (plus skew) ahead of now.
   */
  readonly maxTotalLifetimeSeconds?: number;
}

const STRING_CLAIMS = new Set(['iss', 'sub', 'jti']);
const TIME_CLAIMS = new Set(['exp', 'nbf', 'iat']);

/** The claims and header without verifying anything; throws JwtRejected('malformed'). */
export function peekJwt(token: string): { readonly claims: JWTPayload; readonly alg: string | undefined; readonly kid: string | undefined } {
  try {
    const header = decodeProtectedHeader(token);
    if (token.split('.').length !== 3) throw new Error('not a JWS compact serialization');
    return { claims: decodeJwt(token), alg: typeof header.alg === 'string' ? header.alg : undefined, kid: typeof header.kid === 'string' ? header.kid : undefined };
  } catch (error) {
    throw new JwtRejected('malformed', `Not a signed JWT: ${error instanceof Error ? error.message : String(error)}.`);
  }
}

/** jose's verification, trying each candidate when several keys match a token without a kid. */
async function joseVerify(token: string, check: JwtCheck): Promise<JWTPayload> {
  const options = { algorithms: [...ALLOWED_ALGORITHMS], clockTolerance: check.skewSeconds, currentDate: new Date(check.now) };
  try {
    return (await jwtVerify(token, check.getKey, options)).payload;
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) throw error;
    let last: unknown = new errors.JWSSignatureVerificationFailed();
    for await (const key of error as unknown as AsyncIterable<KeyObject | CryptoKey>) {
      try {
        return (await jwtVerify(token, key, options)).payload;
      } catch (inner) {
        last = inner;
        if (!(inner instanceof errors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw last;
  }
}

function classify(error: unknown, alg: string | undefined, kid: string | undefined): JwtRejected {
  if (error instanceof JwtRejected) return error;
  // The cause stays: an outbound refusal's URL and rule become facts of the refusal (src/outbound/facts.ts).
  if (error instanceof KeySourceUnavailable) return new JwtRejected(refusalIn(error) === undefined ? 'keys_unavailable' : 'keys_refused', error.message, { cause: error });
  if (error instanceof InvalidKeySet) return new JwtRejected('invalid_keys', error.message);
  if (error instanceof errors.JOSEAlgNotAllowed) return new JwtRejected('algorithm_not_allowed', `The JWT is signed with alg ${alg ?? '(none)'}; accepted: ${ALLOWED_ALGORITHMS.join(', ')}.`);
  if (error instanceof errors.JWKSNoMatchingKey) return new JwtRejected('unknown_key', `No registered key matches kid ${kid === undefined ? '(none)' : JSON.stringify(kid)} and alg ${alg ?? '(none)'}.`);
  if (error instanceof errors.JWSSignatureVerificationFailed) return new JwtRejected('bad_signature', `The signature does not verify with the key${kid === undefined ? '' : ` ${JSON.stringify(kid)}`}.`);
  if (error instanceof errors.JWTExpired) return new JwtRejected('expired', 'The exp claim is in the past (beyond the allowed clock skew).');
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf' && error.reason === 'check_failed') return new JwtRejected('not_yet_valid', 'The nbf claim is in the future (beyond the allowed clock skew).');
    return new JwtRejected('malformed', `The ${error.claim} claim is not valid: ${error.message}.`, { claim: error.claim });
  }
  return new JwtRejected('malformed', `The JWT could not be verified: ${error instanceof Error ? error.message : String(error)}.`);
}

/** exp - iat (or, without iat, exp - now) within `max` seconds; throws lifetime_too_long. */
function checkTotalLifetime(claims: JWTPayload, nowSeconds: number, skew: number, max: number): void {
  if (typeof claims.exp !== 'number') return;
  if (typeof claims.iat === 'number') {
    if (claims.exp - claims.iat > max) throw new JwtRejected('lifetime_too_long', `The token lives ${Math.round(claims.exp - claims.iat)} s (exp - iat); at most ${max} s is accepted.`);
  } else if (claims.exp > nowSeconds + max + skew) {
    throw new JwtRejected('lifetime_too_long', `The token has no iat and its exp is ${Math.round(claims.exp - nowSeconds)} s ahead; at most ${max} s is accepted.`);
  }
}

/**
 * Verifies signature (allow-listed algorithms only) and claims; returns the claims or throws
 * JwtRejected. The signature is checked before any claim, so claim-level refusals describe a token
 * that really comes from the key holder.
 */
export async function verifyJwt(token: string, check: JwtCheck): Promise<JWTPayload> {
  const { alg, kid } = peekJwt(token);
  let claims: JWTPayload;
  try {
    claims = await joseVerify(token, check);
  } catch (error) {
    throw classify(error, alg, kid);
  }
  for (const name of check.required) {
    const value = claims[name];
    if (value === undefined || value === null || value === '') throw new JwtRejected('missing_claim', `The ${name} claim is missing.`, { claim: name });
  }
  for (const name of STRING_CLAIMS) {
    const value = claims[name];
    if (value !== undefined && (typeof value !== 'string' || value.length > 1000)) throw new JwtRejected('malformed', `The ${name} claim must be a string (of at most 1000 characters).`, { claim: name });
  }
  for (const name of TIME_CLAIMS) {
    const value = claims[name];
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value))) throw new JwtRejected('malformed', `The ${name} claim must be a number of seconds since the epoch.`, { claim: name });
  }
  const nowSeconds = check.now / 1000;
  if (typeof claims.iat === 'number' && claims.iat > nowSeconds + check.skewSeconds) {
    throw new JwtRejected('not_yet_valid', `The iat claim is ${Math.round(claims.iat - nowSeconds)} s in the future (allowed skew ${check.skewSeconds} s).`);
  }
  if (check.issuer !== undefined && claims.iss !== check.issuer) {
    throw new JwtRejected('wrong_issuer', `The iss claim ${JSON.stringify(claims.iss)} is not ${JSON.stringify(check.issuer)}.`);
  }
  if (check.audiences !== undefined) {
    const aud = claims.aud;
    const values = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : undefined;
    if (values === undefined) throw new JwtRejected('missing_claim', 'The aud claim is missing.', { claim: 'aud' });
    if (check.singleAudience === true && typeof aud !== 'string') {
      throw new JwtRejected('wrong_audience', `The aud claim ${JSON.stringify(aud).slice(0, 300)} is an array; it must be one string: ${check.audiences.join(' or ')}.`);
    }
    if (!values.some((v) => typeof v === 'string' && check.audiences!.includes(v))) {
      throw new JwtRejected('wrong_audience', `The aud claim ${JSON.stringify(aud).slice(0, 300)} names none of the accepted audiences: ${check.audiences.join(', ')}.`);
    }
  }
  if (check.maxLifetimeSeconds !== undefined && typeof claims.exp === 'number' && claims.exp > nowSeconds + check.maxLifetimeSeconds + check.skewSeconds) {
    throw new JwtRejected('lifetime_too_long', `The exp claim is ${Math.round(claims.exp - nowSeconds)} s ahead; at most ${check.maxLifetimeSeconds} s is accepted.`);
  }
  if (check.maxTotalLifetimeSeconds !== undefined) checkTotalLifetime(claims, nowSeconds, check.skewSeconds, check.maxTotalLifetimeSeconds);
  return claims;
}
