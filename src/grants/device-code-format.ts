import { createHash, createHmac, randomInt } from 'node:crypto';
import { mintOpaque } from '../core/crypto.js';

/**
 * The codes of the device authorization grant (RFC 8628 §6.1): the device code is an opaque token
 * (256 random bits, stored as its hash, as every token); the user code is 8 characters of an
 * alphabet without vowels or look-alikes (20^8, about 2^34.6), shown as XXXX-XXXX and read back
 * whatever the case, dashes or spaces. A guess is bounded by the brute-force limits of the
 * user-code page and the code's short life; only a hash of its normalised form is stored.
 */

/** RFC 8628 §6.1: "BCDFGHJKLMNPQRSTVWXZ" (no vowels: no words; no 0/O, 1/I). */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;
const ALLOWED = new RegExp(`^[${USER_CODE_ALPHABET}]{${USER_CODE_LENGTH}}$`);
/** The device_code prefix (lk_dc_), recognisable to secret scanners as every token of ours. */
export const DEVICE_CODE_PREFIX = 'lk_dc_';

/** A new device code and its storage key (tokenKey of it). */
export function newDeviceCode(now: number): { readonly code: string; readonly hash: string } {
  const { token, key } = mintOpaque(DEVICE_CODE_PREFIX, now);
  return { code: token, hash: key };
}

/** A new user code, normalised (8 letters of the alphabet, no dash). */
export function newUserCode(): string {
  let out = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) out += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return out;
}

/** How a user code is shown: XXXX-XXXX. */
export function displayUserCode(normalised: string): string {
  return `${normalised.slice(0, 4)}-${normalised.slice(4)}`;
}

/**
 * What the user typed, normalised (RFC 8628 §6.1: case-insensitive, dashes and spaces ignored):
 * uppercase letters of the alphabet only, or undefined when it cannot be a user code of ours.
 */
export function normaliseUserCode(typed: string): string | undefined {
  if (typed.length > 64) return undefined;
  const n = typed.toUpperCase().replace(/[\s-]+/g, '');
  return ALLOWED.test(n) ? n : undefined;
}

/** The length of what was typed after normalisation (a fact of a refusal; never the code). */
export function normalisedLength(typed: string): number {
  return typed.slice(0, 64).toUpperCase().replace(/[\s-]+/g, '').length;
}

/**
 * The stored form of a normalised user code: an HMAC-SHA-256 under a key derived from the
 * key-encryption key (KEY_PURPOSE.deviceUserCode), so that a copy of the database alone does not
 * give the codes back (8 letters are only about 2^34.6 guesses offline); every instance sharing the
 * KEK computes the same. Without a KEK (an embedding that gives none: the user-code page cannot run
 * then either), a SHA-256 under a purpose label.
 */
export function userCodeHash(normalised: string, key: Uint8Array | undefined): string {
  const labelled = `latchkey device user code\u0000${normalised}`;
  return key === undefined ? createHash('sha256').update(labelled).digest('base64url') : createHmac('sha256', key).update(labelled).digest('base64url');
}
