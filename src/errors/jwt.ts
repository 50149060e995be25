import type { AccessJwtClaims } from '../domain/access-jwt.js';
import { CodedError } from './base.js';

export type JwtFailure =
  /** Not a JWS compact serialization, or a claim of the wrong type. */
  | 'malformed'
  /** A required claim is absent. */
  | 'missing_claim'
  /** The header's alg is not in the allow-list (none, HS256, ...). */
  | 'algorithm_not_allowed'
  /** No key in the set matches the header's kid (after a refetch, where the keys are remote). */
  | 'unknown_key'
  | 'bad_signature'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'expired'
  /** nbf, or iat, is later than now plus the skew. */
  | 'not_yet_valid'
  /** exp is further ahead than the allowed lifetime. */
  | 'lifetime_too_long'
  /** The registered key set is not a valid JWKS. */
  | 'invalid_keys'
  /** The JWKS URI (or metadata) could not be fetched in time. */
  | 'keys_unavailable'
  /** The JWKS URI was not fetched: the outbound rules refuse it (src/outbound). */
  | 'keys_refused';

/**
 * A refused JWT of someone else (a client's assertion, an identity provider's token): `code` picks the reason code, `detail` is for the administrator (never secret),
 * `claim` names the claim that is missing or of the wrong type, when one is (a fact of the refusal).
 */
export class JwtRejected extends CodedError<JwtFailure> {
  readonly claim: string | undefined;
  constructor(code: JwtFailure, readonly detail: string, options?: { cause?: unknown; claim?: string }) {
    super('JwtRejected', code, detail, options?.cause === undefined ? undefined : { cause: options.cause });
    this.claim = options?.claim;
  }
}

export type AccessJwtRejectReason = 'signature' | 'issuer' | 'expired' | 'malformed' | 'unknown_kid';

/** Why a JWT is not a valid access token of ours (src/tokens/jwt.ts). `claims` is set when the signature was valid. */
export class AccessJwtRejected extends CodedError<AccessJwtRejectReason> {
  constructor(code: AccessJwtRejectReason, message: string, readonly claims?: AccessJwtClaims, options?: { cause?: unknown }) {
    super('AccessJwtRejected', code, message, options);
  }
}
