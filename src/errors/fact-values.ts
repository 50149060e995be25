import type { FactValue } from '../domain/model.js';

/**
 * Fact values (src/errors/facts.ts) made from what a caller sent: a redirect URI, a JWT's claims, a
 * form field. Bounded (a caller-chosen value cannot bloat the refusal record) and printable (an
 * invisible or control character, which could hide or reorder what `latchkey explain` prints in a
 * terminal, becomes `?`). Never pass a secret, a token, a code, a verifier or an assertion here:
 * their lengths and shapes are facts, their values are not.
 */

const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu;

/** A string as a fact: at most `max` characters, invisible characters replaced; null for anything else. */
export function factString(value: unknown, max = 200): string | null {
  if (typeof value !== 'string') return null;
  const clipped = value.length > max ? `${value.slice(0, max)}...` : value;
  return clipped.replace(INVISIBLE, '?');
}

/** Strings as a fact: the string items (at most `items`), each as factString. */
export function factStrings(value: unknown, items = 10, max = 200): string[] {
  const list = Array.isArray(value) ? value : typeof value === 'string' ? [value] : [];
  return list.filter((v): v is string => typeof v === 'string').slice(0, items).map((v) => factString(v, max) ?? '');
}

/** A time in milliseconds as ISO 8601; null when unknown. */
export function factTime(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined || !Number.isFinite(ms) || Math.abs(ms) > 8.64e15 ? null : new Date(ms).toISOString();
}

/** A JWT NumericDate (seconds since the epoch, RFC 7519 §2) as ISO 8601; null when absent or not a number. */
export function factNumericDate(seconds: unknown): string | null {
  return typeof seconds === 'number' ? factTime(seconds * 1000) : null;
}

/** A JSON claim value (a string, or a list of strings such as aud) as a fact; null for anything else. */
export function factClaim(value: unknown): FactValue {
  if (typeof value === 'string') return factString(value);
  if (Array.isArray(value)) return factStrings(value);
  return null;
}
