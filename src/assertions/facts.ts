import { decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import type { Facts } from '../domain/model.js';
import { factClaim, factNumericDate, factString } from '../errors/fact-values.js';

/**
 * The facts of a refused JWT signed by someone else (a client assertion, an identity provider's
 * token): what its header and claims said, as presented (src/errors/facts.ts, jwt*). Built only
 * when refusing. Never the JWT, its signature or a key: claim values that name things (iss, sub,
 * aud, jti), times as ISO 8601, and the names of the other claims.
 */

/** The header and claims of a JWT as facts; nulls (and no claim names) when it does not decode. */
export function jwtFacts(token: string): Facts {
  let header: Record<string, unknown> = {};
  let claims: JWTPayload = {};
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    // Not a JWS: every fact below is null.
  }
  try {
    claims = decodeJwt(token);
  } catch {
    // Not a JWT payload.
  }
  return claimFacts(claims, header);
}

/** Claims (and the header, when known) as facts. */
export function claimFacts(claims: JWTPayload, header?: Record<string, unknown>): Facts {
  return {
    ...(header === undefined ? {} : { jwtAlg: factString(header.alg, 50), jwtKid: factString(header.kid) }),
    jwtIss: factString(claims.iss),
    jwtSub: factString(claims.sub),
    jwtAud: factClaim(claims.aud),
    jwtExp: factNumericDate(claims.exp),
    jwtIat: factNumericDate(claims.iat),
    jwtNbf: factNumericDate(claims.nbf),
    jwtJti: factString(claims.jti),
    jwtClaimNames: Object.keys(claims).slice(0, 30).map((name) => factString(name, 100) ?? ''),
  };
}

/** How many dot-separated parts a presented assertion has (null: none was sent); never the assertion. */
export function segmentsOf(token: string | undefined): number | null {
  return token === undefined ? null : Math.min(token.split('.').length, 100);
}

/** How far exp is ahead of `nowMs`, in whole seconds (null without a numeric exp). */
export function secondsAhead(claims: JWTPayload, nowMs: number): number | null {
  return typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? Math.round(claims.exp - nowMs / 1000) : null;
}
