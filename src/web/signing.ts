import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Where the web layer gets its HMAC keys: a key derived from the instance's key-encryption key
 * for one purpose, the same on every instance that shares the KEK (so a session cookie or a
 * pending sign-in made on one instance verifies on another). `latchkey.secrets` implements it.
 */
export interface SecretDeriver {
  derive(purpose: string): Uint8Array | Promise<Uint8Array>;
}

/**
 * Key purposes (HKDF info becomes `latchkey/<purpose>`), versioned so a format change can never
 * verify an old value, and one key per use: a CSRF token can never pass as a session.
 */
export const KEY_PURPOSE = {
  session: 'web-session/v1',
  csrf: 'web-csrf/v1',
  authorizeRequest: 'web-authorize-request/v1',
  /** The device user-code page (RFC 8628): the entered code as it travels to sign-in and consent. */
  deviceTicket: 'web-device-ticket/v1',
  /** The keyed hash of device user codes at rest (grants/device-code-format.ts userCodeHash). */
  deviceUserCode: 'device-user-code/v1',
} as const;

/** The key of device user-code hashes, or undefined without a key-encryption key (then both the endpoint and the page hash unkeyed). */
export function userCodeKeys(secrets: SecretDeriver | undefined): () => Promise<Uint8Array | undefined> {
  if (secrets === undefined) return async () => undefined;
  const key = keyCache(secrets);
  return () => key(KEY_PURPOSE.deviceUserCode).catch(() => undefined);
}

/** Derives each key once and keeps it. */
export function keyCache(deriver: SecretDeriver): (purpose: string) => Promise<Uint8Array> {
  const keys = new Map<string, Promise<Uint8Array>>();
  return (purpose) => {
    let key = keys.get(purpose);
    if (key === undefined) {
      key = new Promise<Uint8Array>((resolve) => resolve(deriver.derive(purpose)));
      // A failure (KEK not readable yet) must not be cached for good.
      key.catch(() => keys.delete(purpose));
      keys.set(purpose, key);
    }
    return key;
  };
}

/** HMAC-SHA-256, base64url. */
export function mac(key: Uint8Array, data: string): string {
  return createHmac('sha256', key).update(data, 'utf8').digest('base64url');
}

/** Constant-time comparison of two MACs (base64url strings). */
export function macEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) return false;
  return timingSafeEqual(ab, bb);
}

/**
 * A signed, self-contained value: base64url(JSON) "." MAC over the label and the payload. The label
 * separates uses that might share a key by mistake. Not encrypted: only for data the holder may see.
 */
export function seal(key: Uint8Array, label: string, payload: unknown): string {
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${body}.${mac(key, `${label}.${body}`)}`;
}

/** The payload of a sealed value whose MAC verifies, else undefined. Never throws. */
export function unseal(key: Uint8Array, label: string, value: string | undefined, maxLength = 8192): unknown {
  if (value === undefined || value.length > maxLength) return undefined;
  const dot = value.lastIndexOf('.');
  if (dot <= 0) return undefined;
  const body = value.slice(0, dot);
  if (!macEqual(value.slice(dot + 1), mac(key, `${label}.${body}`))) return undefined;
  try {
    return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}
