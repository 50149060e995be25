import * as nodeCrypto from 'node:crypto';
import { createHash, randomBytes, randomFillSync, randomUUID, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const oneShotHash = (nodeCrypto as { hash?: (algorithm: string, data: string, encoding: 'base64url') => string }).hash;

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
  /** An initial access token (RFC 7591 §3): lets its bearer register clients. */
  initialAccess: 'lk_ia_',
  /** A registration access token (RFC 7592 §3): lets a registered client read, change or delete its registration. */
  registrationAccess: 'lk_ra_',
} as const;

// CSPRNG output is drawn in 8 KiB blocks and handed out 32 bytes at a time: one call into
// OpenSSL per 256 tokens instead of one per token (randomBytes(32) was 5% of a token request).
// Each slice is used once; the block is refilled, never reused.
const POOL_SIZE = 8192;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

/** `n` (≤ 64) fresh random bytes, as a view valid until the next call: copy or encode at once. */
function pooledRandom(n: number): Buffer {
  if (poolOffset + n > POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const out = pool.subarray(poolOffset, poolOffset + n);
  poolOffset += n;
  return out;
}

/** 32 random bytes, base64url (43 chars), after a recognisable prefix (so secret scanners can find leaks). */
export function randomToken(prefix: string): string {
  return prefix + pooledRandom(32).toString('base64url');
}

/** A ServiceNow-style client id: 32 lowercase hex characters (128 bits; it is an identifier, not a secret). */
export function generateClientId(): string {
  return randomBytes(16).toString('hex');
}

export function newId(): string {
  return randomUUID();
}

// ---- opaque tokens ---------------------------------------------------------------------------

const TOKEN_SHAPE = /^lk_[a-z]{2}_([0-9a-f]{12})[A-Za-z0-9_-]{43}$/;

/**
 * A new opaque token: prefix, the issue time in milliseconds as 12 hex digits, then 256 random bits
 * (43 base64url characters). The time part is not secret (a JWT carries `iat` in the clear too);
 * it makes the storage key below time-ordered.
 */
export function newOpaqueToken(prefix: string, now: number): string {
  return mintOpaque(prefix, now).token;
}

/** A new opaque token and its storage key (the same as tokenKey(token), without re-parsing it). */
export function mintOpaque(prefix: string, now: number): { token: string; key: string } {
  const time = Math.max(0, Math.floor(now)).toString(16).padStart(12, '0').slice(-12);
  const token = prefix + time + pooledRandom(32).toString('base64url');
  return { token, key: `${time}.${hashSecret(token)}` };
}

/**
 * The key a token is stored under: its time part, '.', and the SHA-256 of the whole token. Only
 * the hash of the secret is kept, as for any token; the time-ordered prefix makes every insert land
 * at the right edge of the index instead of on a random page, which measured 4x more inserts per
 * second in SQLite (random keys dirty one page per row; the WAL and checkpoints pay for each).
 * A string that is not one of our tokens gets a key that matches nothing we issued.
 */
export function tokenKey(token: string): string {
  const m = TOKEN_SHAPE.exec(token);
  return m === null ? hashSecret(token) : `${m[1]}.${hashSecret(token)}`;
}

// ---- token handles ----------------------------------------------------------------------------

/** What every token handle starts with. */
export const HANDLE_PREFIX = 'tk_';
/** Characters of the stored key a handle carries: the 12 of the issue time and 10 of the hash (60 bits). */
const HANDLE_KEY_CHARS = 22;
/** A handle, or the start of one (at least 4 characters after tk_), as administrators type it. */
export const HANDLE_SHAPE = /^tk_[0-9A-Za-z_-]{4,22}$/;

/**
 * The one handle of a stored token, shown by every surface (CLI, admin API, console, audit log,
 * refusal records): `tk_` and the first 22 characters of its storage key without the dot, e.g.
 * `tk_018f3a2b4c5dAbCdEfGhIj` (opaque) or `tk_018f3a2b4c5djAbCdEfGhI` (JWT: j + its jti). It is
 * a prefix of what is stored (the issue time and a hash, or a JWT's jti, neither of which opens
 * anything), so it is safe in logs, and a prefix lookup on the primary key finds the token
 * (storage `tokens.byKeyPrefix`, see {@link handleKeyPrefixes}). Tokens of the same millisecond
 * differ in the 60 bits of hash it carries.
 */
export function tokenHandle(key: string): string {
  const plain = key.length > 12 && key[12] === '.' ? key.slice(0, 12) + key.slice(13) : key;
  return HANDLE_PREFIX + plain.slice(0, HANDLE_KEY_CHARS);
}

/**
 * The storage-key prefixes a handle (or the start of one) can stand for: the key of a token we
 * issue has its dot after the 12 characters of time; a key without one (a token stored by an
 * older version, as a bare hash) is matched as it is. Empty when it is not handle-shaped.
 */
export function handleKeyPrefixes(handle: string): string[] {
  if (!HANDLE_SHAPE.test(handle)) return [];
  const plain = handle.slice(HANDLE_PREFIX.length);
  return plain.length <= 12 ? [plain] : [`${plain.slice(0, 12)}.${plain.slice(12)}`, plain];
}

/**
 * The handle of a stored session (12 characters of the hash its key carries): what the admin API
 * and the console name a user's sessions by. Sessions have their own, unlike tokens' `tk_…`.
 */
export function sessionHandle(key: string): string {
  const dot = key.indexOf('.');
  return key.slice(dot + 1, dot + 13);
}

/** "Token tk_…." and the detail: how an administrator-facing hint names the token it is about. */
export function tokenHint(key: string, detail?: string): string {
  return `Token ${tokenHandle(key)}.${detail === undefined || detail === '' ? '' : ` ${detail}`}`;
}

const HANDLE_IN_TEXT = /\btk_[0-9A-Za-z_-]{22}(?![0-9A-Za-z_-])/;

/** The token handle a text (a refusal's hint) names, if any. */
export function handleIn(text: string | null | undefined): string | undefined {
  return text === null || text === undefined ? undefined : HANDLE_IN_TEXT.exec(text)?.[0];
}

/** SHA-256, base64url: how tokens and client secrets are stored. */
export function hashSecret(value: string): string {
  // One-shot crypto.hash (Node >= 20.12) is ~3x cheaper than createHash for short inputs.
  return oneShotHash === undefined ? createHash('sha256').update(value, 'utf8').digest('base64url') : oneShotHash('sha256', value, 'base64url');
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
