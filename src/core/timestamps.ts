/**
 * One format for every time a machine reads: ISO 8601 in UTC with milliseconds, as
 * Date#toISOString writes it (`2026-01-31T09:30:00.123Z`): the admin API's answers, the CLI's
 * --json, the logs' `time`. Records keep milliseconds since the epoch inside the process; the
 * conversion happens where they are written out, by field name, so that a new field named like a
 * time is written like one.
 *
 * Pure (no Node.js imports): the console's bundle may import it too.
 */

export function isoTimestamp(ms: number): string {
  return new Date(ms).toISOString();
}

/**
 * Field names that hold a time: `at`, `…At` (createdAt, expiresAt, lastFailureAt), `…Until`
 * (publishUntil, lockedUntil), `windowStart`, `lastMinute`. Durations are named otherwise
 * (`bucketMs`, `expires_in`, `accessTokenLifespan`) and stay numbers.
 */
export function isTimeField(key: string): boolean {
  return key === 'at' || key === 'windowStart' || key === 'lastMinute' || /[a-z](At|Until)$/.test(key);
}

/** A JSON.stringify replacer: the finite numbers of time fields, at any depth, as ISO text. */
export function isoTimesReplacer(this: unknown, key: string, value: unknown): unknown {
  return typeof value === 'number' && Number.isFinite(value) && isTimeField(key) ? isoTimestamp(value) : value;
}
