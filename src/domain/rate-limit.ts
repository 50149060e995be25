/**
 * A rate limit as people write it: `<requests>/<window>`, the window with a required unit
 * (`100/1m`, `20/10s`, `5000/1h`, `100000/1d`), or `off`. One syntax for the application field
 * (`latchkey apps update <id> --rate-limit 100/1m`), the API definitions (`rateLimit: '1000/1m'`)
 * and every surface that shows one; the instance defaults are integer properties (requests per
 * `latchkey.rate_limit.window_seconds`).
 */

/** At most `requests` requests per `windowSeconds`. */
export interface RateLimitSpec {
  readonly requests: number;
  readonly windowSeconds: number;
}

/** What an application or API may say: a limit of its own, or no limit at all (`off`). */
export type RateLimitSetting = RateLimitSpec | 'off';

export const MAX_RATE_LIMIT_REQUESTS = 100_000_000;
export const MAX_RATE_LIMIT_WINDOW_SECONDS = 86_400;

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };
const SYNTAX = /^(\d{1,9})\s*\/\s*(\d{1,6})?\s*([smhd])$/;

/** The syntax in one line, for error messages and help texts. */
export const RATE_LIMIT_SYNTAX = '<requests>/<window> with the window in s, m, h or d (100/1m, 20/10s, 5000/1h), or off';

/**
 * Parses `100/1m`, `100/m` (one minute), `off`; returns the message that says what is accepted
 * when the text is not one of these.
 */
export function parseRateLimit(text: string): { readonly ok: true; readonly value: RateLimitSetting } | { readonly ok: false; readonly message: string } {
  const value = text.trim().toLowerCase();
  if (value === 'off') return { ok: true, value: 'off' };
  const m = SYNTAX.exec(value);
  if (m === null) return { ok: false, message: `A rate limit is ${RATE_LIMIT_SYNTAX} (got ${JSON.stringify(text.slice(0, 40))}).` };
  const requests = Number(m[1]);
  const windowSeconds = Number(m[2] ?? '1') * (UNITS[m[3] as string] as number);
  if (requests < 1 || requests > MAX_RATE_LIMIT_REQUESTS) return { ok: false, message: `A rate limit allows 1 to ${MAX_RATE_LIMIT_REQUESTS} requests per window (got ${requests}).` };
  if (windowSeconds < 1 || windowSeconds > MAX_RATE_LIMIT_WINDOW_SECONDS) return { ok: false, message: `A rate limit's window is 1 s to 1 d (got ${windowSeconds} s).` };
  return { ok: true, value: { requests, windowSeconds } };
}

/** The window in the largest unit that divides it: 60 → `1m`, 90 → `90s`, 7200 → `2h`. */
export function formatWindow(seconds: number): string {
  for (const [unit, size] of [['d', 86_400], ['h', 3600], ['m', 60]] as const) if (seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

/** The canonical text of a setting (what is stored and shown): `100/1m`, `off`. */
export function formatRateLimit(setting: RateLimitSetting): string {
  return setting === 'off' ? 'off' : `${setting.requests}/${formatWindow(setting.windowSeconds)}`;
}
