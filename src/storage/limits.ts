/**
 * The one `limit` rule of every storage list and export (see the ports in types.ts), shared by all
 * adapters so that none drifts: an absent or non-finite limit (NaN, ±Infinity) means the list's
 * default; otherwise the limit is rounded down and never below 0. There is no maximum: callers
 * that take a limit from outside (the admin API, the CLI) bound it themselves.
 */

/** The default of `tokens.list`, `refusals.list`, `audit.list` and `attempts.list`. */
export const DEFAULT_LIST_LIMIT = 100;

/** The default page size of the `exportAll` methods. */
export const EXPORT_PAGE = 1000;

/** How many rows a list with this `limit` returns at most (the rule above). */
export function clampLimit(limit: number | undefined, fallback: number): number {
  return limit === undefined || !Number.isFinite(limit) ? fallback : Math.max(0, Math.floor(limit));
}
