import { errors } from 'jose';
import { LatchkeyError } from './base.js';

/** A KEK that is missing, too short, or not the one the stored keys were encrypted with. */
export class KeyEncryptionError extends LatchkeyError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('KeyEncryptionError', message, options);
  }
}

/**
 * The key source could not be reached (timeout, connection refused, a non-200 answer, not a JWKS).
 * Distinct from an unknown key id, which is the token's fault.
 */
export class KeySourceUnavailable extends LatchkeyError {
  constructor(
    readonly uri: string,
    cause: unknown,
  ) {
    super('KeySourceUnavailable', `The key set at ${uri} could not be fetched: ${describeCause(cause)}`, { cause });
  }
}

/** The registered JWKS document is not a valid key set (an administrator must fix it). */
export class InvalidKeySet extends LatchkeyError {
  constructor(cause: unknown) {
    super('InvalidKeySet', `The registered JWKS is not a valid JSON Web Key Set: ${describeCause(cause)}`, { cause });
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof errors.JWKSTimeout) return 'timed out';
  if (cause instanceof Error) {
    const inner = (cause as { cause?: unknown }).cause;
    const code = typeof inner === 'object' && inner !== null && 'code' in inner ? ` (${String((inner as { code: unknown }).code)})` : '';
    return `${cause.message}${code}`;
  }
  return String(cause);
}
