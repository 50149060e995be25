import { createHash, randomBytes, randomUUID, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * The few cryptographic primitives Latchkey needs, all from node:crypto.
 *
 * Generated secrets and tokens carry 256 bits of randomness, so a single SHA-256 is a sound way to
 * store them (nothing to brute-force) and costs ~1 µs on the hot path. User passwords are chosen by
 * people and get scrypt instead.
 */

export const TOKEN_PREFIX = {
  access: 'lk_at_',
  refresh: 'lk_rt_',
  secret: 'lk_cs_',
} as const;

/** 32 random bytes, base64url (43 chars), after a recognisable prefix (so secret scanners can find leaks). */
export function randomToken(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** A ServiceNow-style client id: 32 lowercase hex characters (128 bits; it is an identifier, not a secret). */
export function generateClientId(): string {
  return randomBytes(16).toString('hex');
}

export function newId(): string {
  return randomUUID();
}

/** SHA-256, base64url: how tokens and client secrets are stored. */
export function hashSecret(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('base64url');
}

/** Compares two strings in time independent of where they differ (lengths are not secret here). */
export function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) {
    // Still spend a comparison so the early exit does not stand out.
    timingSafeEqual(ab, ab);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

/** Verifies a presented secret against a stored SHA-256 hash in constant time. */
export function verifySecret(presented: string, storedHash: string): boolean {
  return constantTimeEqual(hashSecret(presented), storedHash);
}

// ---- passwords ------------------------------------------------------------------------------

const SCRYPT = { N: 16384, r: 8, p: 1, keylen: 32 } as const;

function scrypt(password: string, salt: Buffer, keylen: number, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, keylen, { ...options, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** `scrypt$N$r$p$salt$hash` (salt and hash base64url). Runs on the libuv pool, off the event loop. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, SCRYPT.keylen, { N: SCRYPT.N, r: SCRYPT.r, p: SCRYPT.p });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** A hash that no password matches, used to spend the same time when a user does not exist. */
let dummyHash: Promise<string> | undefined;

export async function verifyPassword(password: string, stored: string | null): Promise<boolean> {
  const encoded = stored ?? (await (dummyHash ??= hashPassword(randomToken(''))));
  const parts = encoded.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyB64, 'base64url');
  const key = await scrypt(password, Buffer.from(saltB64, 'base64url'), expected.length, { N: Number(n), r: Number(r), p: Number(p) });
  return timingSafeEqual(key, expected) && stored !== null;
}

/** A generated password for the first admin: 24 characters from 18 random bytes. */
export function generatePassword(): string {
  return randomBytes(18).toString('base64url');
}
