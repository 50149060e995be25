import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { KeyEncryptionError } from '../errors/keys.js';

export { KeyEncryptionError };

/**
 * Encryption at rest for the instance's private signing keys, and the other secrets derived from
 * the key-encryption key (KEK, `LATCHKEY_KEY_ENCRYPTION_KEY`).
 *
 * The KEK itself is never used directly: every purpose gets its own 256-bit key derived from it
 * with HKDF-SHA256 (RFC 5869), `info` = `latchkey/<purpose>`, so a key used to sign session cookies
 * can never decrypt a signing key. Private keys are sealed with AES-256-GCM; the key id is the
 * additional authenticated data, so a ciphertext moved onto another key's row does not decrypt.
 *
 * Stored form: `v1.<iv>.<ciphertext>.<tag>`, each part base64url (12-byte IV, 16-byte tag).
 */

/** The environment variable that holds the KEK; named in every error about it. */
export const KEK_ENV = 'LATCHKEY_KEY_ENCRYPTION_KEY';
/** The shortest KEK accepted, in characters (base64 of 32 random bytes is 44). */
export const KEK_MIN_LENGTH = 32;

const FORMAT_VERSION = 'v1';
const SIGNING_KEYS_PURPOSE = 'signing-keys';

/** Checks a KEK's form; returns it unchanged. */
export function checkKek(kek: string, source = KEK_ENV): string {
  if (kek.length < KEK_MIN_LENGTH) {
    throw new KeyEncryptionError(
      `${source} must be at least ${KEK_MIN_LENGTH} characters (got ${kek.length}). Generate one with: openssl rand -base64 32`,
    );
  }
  return kek;
}

/**
 * A 256-bit key for one purpose, derived from the KEK with HKDF-SHA256 (info `latchkey/<purpose>`).
 * The same KEK and purpose give the same key on every instance; different purposes give
 * independent keys. The KEK's characters are the input keying material as they are (UTF-8), so a
 * base64 KEK is not decoded first: what matters is that every instance is given the same string.
 */
export function deriveKey(kek: string, purpose: string): Buffer {
  if (purpose === '') throw new Error('deriveKey needs a purpose');
  return Buffer.from(hkdfSync('sha256', Buffer.from(kek, 'utf8'), Buffer.alloc(0), `latchkey/${purpose}`, 32));
}

/** Seals and opens private signing keys (JWK JSON text) with a key derived from the KEK. */
export interface KeyEncryption {
  encrypt(kid: string, plaintext: string): string;
  /** Throws KeyEncryptionError naming LATCHKEY_KEY_ENCRYPTION_KEY when the KEK is not the one used to encrypt. */
  decrypt(kid: string, sealed: string): string;
  /** Derives a key for another purpose (session cookies, CSRF tokens); never the signing-key purpose. */
  derive(purpose: string): Buffer;
}

export function createKeyEncryption(kek: string): KeyEncryption {
  checkKek(kek);
  const key = deriveKey(kek, SIGNING_KEYS_PURPOSE);
  return {
    encrypt(kid, plaintext) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      cipher.setAAD(Buffer.from(kid, 'utf8'));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [FORMAT_VERSION, iv.toString('base64url'), ciphertext.toString('base64url'), tag.toString('base64url')].join('.');
    },
    decrypt(kid, sealed) {
      const parts = sealed.split('.');
      if (parts.length !== 4 || parts[0] !== FORMAT_VERSION) {
        throw new KeyEncryptionError(`The stored private key of signing key ${kid} is not in a format this Latchkey reads (expected ${FORMAT_VERSION}.<iv>.<ciphertext>.<tag>).`);
      }
      const [, iv, ciphertext, tag] = parts as [string, string, string, string];
      try {
        const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'));
        decipher.setAAD(Buffer.from(kid, 'utf8'));
        decipher.setAuthTag(Buffer.from(tag, 'base64url'));
        return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
      } catch (error) {
        throw new KeyEncryptionError(
          `Cannot decrypt signing key ${kid}: the key-encryption key (${KEK_ENV}) is not the one it was encrypted with. ` +
            `Every instance on this database must use the same ${KEK_ENV} (or the same latchkey.kek file next to a SQLite database).`,
          { cause: error },
        );
      }
    },
    derive(purpose) {
      if (purpose === SIGNING_KEYS_PURPOSE) throw new Error(`The purpose "${SIGNING_KEYS_PURPOSE}" is reserved for the signing keys.`);
      return deriveKey(kek, purpose);
    },
  };
}
