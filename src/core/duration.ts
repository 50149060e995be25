/**
 * The one duration syntax of every CLI flag that takes a length of time (token lifespans, key
 * prepublish time, audit --since) and of every duration the CLI prints: whole numbers with a
 * required unit, largest first, each unit at most once: `45s`, `30m`, `12h`, `7d`, `1h30m`,
 * `1d12h`. A bare number is refused: it used to mean seconds in one place and read as minutes
 * next to help text in another.
 *
 * Pure (no Node.js imports): the console's bundle may import it too.
 */

const UNITS = [
  ['d', 86_400],
  ['h', 3_600],
  ['m', 60],
  ['s', 1],
] as const;

const SYNTAX = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;

/** What the help texts say about the syntax. */
export const DURATION_SYNTAX = 'a number with a unit (s, m, h, d), combinable largest first: 30s, 30m, 12h, 7d, 1h30m';

export type DurationParse = { readonly ok: true; readonly seconds: number } | { readonly ok: false; readonly message: string };

/**
 * Reads a duration as whole seconds. `name` (the flag) starts the message of a refusal, which
 * shows the fix: for a bare number, the same length with its unit.
 */
export function parseDuration(name: string, raw: string): DurationParse {
  const text = raw.trim().toLowerCase();
  const m = text === '' ? null : SYNTAX.exec(text);
  if (m === null || m.slice(1).every((g) => g === undefined)) {
    const bare = /^\d+$/.test(text) ? ` A bare number has no unit: for ${text} seconds write ${formatDuration(Number(text))}.` : '';
    return { ok: false, message: `${name} takes a duration: ${DURATION_SYNTAX} (got "${raw}").${bare}` };
  }
  const seconds = UNITS.reduce((sum, [, factor], i) => sum + Number(m[i + 1] ?? 0) * factor, 0);
  if (!Number.isSafeInteger(seconds)) return { ok: false, message: `${name}: "${raw}" is too long a duration.` };
  return { ok: true, seconds };
}

/** Whole seconds in the same syntax, largest units first: 1800 → `30m`, 5400 → `1h30m`, 0 → `0s`. */
export function formatDuration(seconds: number): string {
  let rest = Math.max(0, Math.round(seconds));
  if (rest === 0) return '0s';
  let out = '';
  for (const [unit, factor] of UNITS) {
    const n = Math.floor(rest / factor);
    if (n > 0) out += `${n}${unit}`;
    rest -= n * factor;
  }
  return out;
}
