import { badRequest } from '../http.js';

/**
 * The period and bucket size of the activity charts. Counters are stored per minute (audit/activity.ts);
 * a chart of a day drawn by the minute squashes a few busy minutes into one spike at its right
 * edge, so each period has its own bucket size (about 30 to 100 buckets a chart), and `auto` picks
 * the shortest period that holds everything counted in the retention (30 days).
 * Buckets are aligned to multiples of their size since the epoch: UTC minutes, hours and days.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface ActivityPeriod {
  /** The name the admin API takes and answers: 1h, 6h, 24h, 7d, 30d. */
  readonly name: string;
  readonly label: string;
  readonly spanMs: number;
  readonly bucketMs: number;
}

/** Shortest first: `auto` takes the first that holds the data. */
export const ACTIVITY_PERIODS: readonly ActivityPeriod[] = [
  { name: '1h', label: 'Last hour, by minute', spanMs: HOUR, bucketMs: MINUTE },
  { name: '6h', label: 'Last 6 hours, by 5 minutes', spanMs: 6 * HOUR, bucketMs: 5 * MINUTE },
  { name: '24h', label: 'Last 24 hours, by 15 minutes', spanMs: DAY, bucketMs: 15 * MINUTE },
  { name: '7d', label: 'Last 7 days, by 6 hours', spanMs: 7 * DAY, bucketMs: 6 * HOUR },
  { name: '30d', label: 'Last 30 days, by day', spanMs: 30 * DAY, bucketMs: DAY },
];

/** How far back `auto` looks: the activity counters' retention (jobs/cleanup.ts). */
export const AUTO_LOOKBACK_MS = 30 * DAY;

const DEFAULT_PERIOD = ACTIVITY_PERIODS[2] as ActivityPeriod;

export function periodNamed(name: string): ActivityPeriod {
  const found = ACTIVITY_PERIODS.find((p) => p.name === name);
  if (found === undefined) throw badRequest(`period must be auto or one of ${ACTIVITY_PERIODS.map((p) => p.name).join(', ')} (got "${name.slice(0, 20)}").`, 'period');
  return found;
}

/**
 * The shortest period whose first bucket starts at or before `firstAt` (the oldest counted
 * minute), so that everything counted shows; 24 hours when nothing was counted.
 */
export function autoPeriod(firstAt: number | undefined, now: number): ActivityPeriod {
  if (firstAt === undefined) return DEFAULT_PERIOD;
  return ACTIVITY_PERIODS.find((p) => periodSince(p, now) <= firstAt) ?? (ACTIVITY_PERIODS[ACTIVITY_PERIODS.length - 1] as ActivityPeriod);
}

export function bucketStart(t: number, bucketMs: number): number {
  return Math.floor(t / bucketMs) * bucketMs;
}

/** The start of a period's first bucket: the buckets cover [since, now]. */
export function periodSince(period: ActivityPeriod, now: number): number {
  return bucketStart(now - period.spanMs, period.bucketMs) + period.bucketMs;
}

/** Per-minute counts summed into the period's buckets; every bucket of [since, now] present, zeros included, ascending. */
export function bucketize(points: readonly (readonly [number, number])[], period: ActivityPeriod, now: number): [number, number][] {
  const since = periodSince(period, now);
  const sums = new Map<number, number>();
  for (const [t, n] of points) {
    if (t < since) continue;
    const b = bucketStart(t, period.bucketMs);
    sums.set(b, (sums.get(b) ?? 0) + n);
  }
  const out: [number, number][] = [];
  for (let b = since; b <= now; b += period.bucketMs) out.push([b, sums.get(b) ?? 0]);
  return out;
}
