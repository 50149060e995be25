import { decodeProtectedHeader, errors as joseErrors, jwtVerify } from 'jose';
import { StorageError } from '../errors/storage.js';
import { purposeOf, type Keyring } from '../keys/keyring.js';

/**
 * Reads an ID token this instance issued, given back as a hint: `id_token_hint` at the
 * authorization endpoint (Core 1.0 §3.1.2.1) and at the end-session endpoint (RP-Initiated Logout
 * 1.0 §2). The signature must be ours, by a published key of an ID-token timeline (so an access JWT
 * is not an ID token), and `iss` ours. Expiry is not checked: both specifications let an expired ID
 * token serve as a hint (the key being still published bounds how old it can be). What the hint
 * then means (the same user, a known client, a current session) is the caller's to decide.
 */

export interface IdTokenHintDeps {
  readonly keyring: Pick<Keyring, 'verificationKey' | 'keys'>;
  readonly issuer: () => string;
}

export interface IdTokenHint {
  readonly sub: string;
  /** The audiences (client ids); one for ID tokens of this instance. */
  readonly aud: readonly string[];
  readonly sid?: string;
  /** seconds since the epoch */
  readonly iat?: number;
  readonly exp?: number;
  readonly authTime?: number;
}

/** Why a hint was not accepted (stable codes for reasons and tests). */
export type IdTokenHintProblem = 'malformed' | 'unknown_key' | 'not_id_token' | 'bad_signature' | 'wrong_issuer';

export class IdTokenHintRejected extends Error {
  constructor(
    readonly problem: IdTokenHintProblem,
    message: string,
  ) {
    super(message);
    this.name = 'IdTokenHintRejected';
  }
}

/** Longest hint read: ID tokens of this instance are well under 4 KiB. */
export const MAX_ID_TOKEN_HINT_LENGTH = 8192;

/**
 * Verifies a hint; throws IdTokenHintRejected when it is not an ID token of this instance, and
 * StorageError (rethrown) when the keys cannot be read, which is not a verdict on the hint.
 */
export async function verifyIdTokenHint(deps: IdTokenHintDeps, token: string, now: number): Promise<IdTokenHint> {
  if (token.length === 0 || token.length > MAX_ID_TOKEN_HINT_LENGTH || token.split('.').length !== 3) {
    throw new IdTokenHintRejected('malformed', 'The id_token_hint is not a compact JWT (three base64url parts).');
  }
  let header;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new IdTokenHintRejected('malformed', 'The id_token_hint is not a JWT: its header cannot be read.');
  }
  if (typeof header.kid !== 'string' || header.kid === '') throw new IdTokenHintRejected('malformed', 'The id_token_hint has no kid in its header.');
  const kid = header.kid;
  const key = await deps.keyring.verificationKey(kid, now);
  if (key === undefined) {
    throw new IdTokenHintRejected('unknown_key', `The id_token_hint is signed with a key (kid ${kid.slice(0, 64)}) this instance does not publish: not one of its ID tokens, or one so old that its key is gone.`);
  }
  const stored = (await deps.keyring.keys()).find((k) => k.kid === kid);
  if (stored === undefined || purposeOf(stored) !== 'id_token') {
    throw new IdTokenHintRejected('not_id_token', 'The id_token_hint is signed with an access-token key: it is an access token, not an ID token.');
  }
  try {
    const { payload } = await jwtVerify(token, key.publicKey, {
      issuer: deps.issuer(),
      algorithms: [key.alg],
      currentDate: new Date(now),
      // Expired hints are accepted (Core 1.0 §3.1.2.1, RP-Initiated Logout 1.0 §2).
      clockTolerance: Number.MAX_SAFE_INTEGER,
    });
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new IdTokenHintRejected('malformed', 'The id_token_hint has no sub claim.');
    const aud = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud.filter((a): a is string => typeof a === 'string') : [];
    if (aud.length === 0) throw new IdTokenHintRejected('malformed', 'The id_token_hint has no aud claim.');
    const hint: IdTokenHint = {
      sub: payload.sub,
      aud,
      ...(typeof payload.sid === 'string' ? { sid: payload.sid } : {}),
      ...(typeof payload.iat === 'number' ? { iat: payload.iat } : {}),
      ...(typeof payload.exp === 'number' ? { exp: payload.exp } : {}),
      ...(typeof payload.auth_time === 'number' ? { authTime: payload.auth_time } : {}),
    };
    return hint;
  } catch (error) {
    if (error instanceof IdTokenHintRejected || error instanceof StorageError) throw error;
    if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'iss') {
      throw new IdTokenHintRejected('wrong_issuer', 'The id_token_hint was issued by another issuer.');
    }
    if (error instanceof joseErrors.JWSSignatureVerificationFailed) throw new IdTokenHintRejected('bad_signature', 'The id_token_hint signature does not verify.');
    const detail = error instanceof Error ? error.message : String(error);
    throw new IdTokenHintRejected('malformed', `The id_token_hint is not a well-formed ID token of this instance (${detail.slice(0, 200)}).`);
  }
}
