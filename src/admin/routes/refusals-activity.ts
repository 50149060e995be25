import { parseUnrecordedMetric, UNRECORDED_PREFIX } from '../../audit/refusals.js';
import type { Storage } from '../../storage/types.js';
import { explainRefusal, factLabel } from '../../diagnostics/explain.js';
import { notFound } from '../http.js';
import { ACTIVITY_PERIODS, AUTO_LOOKBACK_MS, autoPeriod, bucketize, periodNamed, periodSince, type ActivityPeriod } from './activity-period.js';
import { intParam, REFUSAL_FILTER_QUERY, refusalFilter, textParam } from './helpers.js';
import type { AdminRoute } from './types.js';
import { refusalView } from './views.js';

/** Refusals (why a request was turned away) and the activity charts. */

type Series = [number, number][];

/** Why a refusal may not be found: retention, or the anonymous budget. */
export const NOT_RECORDED =
  'No refusal was recorded with this request id. Refusals are kept for 30 days; a request refused before it authenticated, while more than latchkey.refusals.anonymous_per_minute such refusals arrived in its minute, was counted (Activity: unrecorded refusals) but not recorded one by one.';

/** Per-minute counts of one metric since `since`; none when the storage keeps no activity. */
async function series(storage: Storage, metric: string, since: number): Promise<Series> {
  const activity = (storage as Partial<Pick<Storage, 'activity'>>).activity;
  return activity === undefined || typeof activity.series !== 'function' ? [] : (await activity.series(metric, since)).map((b) => [b.bucket, b.count]);
}

/** Sums series bucket by bucket. */
function merge(...lists: Series[]): Series {
  const sum = new Map<number, number>();
  for (const list of lists) for (const [t, n] of list) sum.set(t, (sum.get(t) ?? 0) + n);
  return [...sum].sort((a, b) => a[0] - b[0]);
}

/** Refusal counts by reason, most frequent first: those recorded one by one, plus those only counted. */
function countByReason(refusals: readonly { reason: string }[], unrecorded: readonly UnrecordedCount[] = []) {
  const byReason = new Map<string, number>();
  for (const r of refusals) byReason.set(r.reason, (byReason.get(r.reason) ?? 0) + 1);
  for (const u of unrecorded) byReason.set(u.reason, (byReason.get(u.reason) ?? 0) + u.count);
  return [...byReason].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason));
}

interface UnrecordedCount {
  readonly endpoint: string;
  readonly reason: string;
  readonly source: string;
  readonly count: number;
  /** The last minute it was seen in (start, ms). */
  readonly lastMinute: number;
}

/**
 * Refusals of unauthenticated callers past the per-minute budget (audit/refusals.ts): counted per
 * endpoint, reason and source address, not recorded one by one. Summed over the period, largest first.
 */
export async function unrecordedRefusals(storage: Storage, since: number): Promise<UnrecordedCount[]> {
  const activity = (storage as Partial<Pick<Storage, 'activity'>>).activity;
  if (activity === undefined || typeof activity.list !== 'function') return [];
  const sums = new Map<string, UnrecordedCount>();
  for (const row of await activity.list(UNRECORDED_PREFIX, since)) {
    const parts = parseUnrecordedMetric(row.metric);
    if (parts === undefined) continue;
    const current = sums.get(row.metric);
    sums.set(row.metric, { ...parts, count: (current?.count ?? 0) + row.count, lastMinute: Math.max(current?.lastMinute ?? 0, row.bucket) });
  }
  return [...sums.values()].sort((a, b) => b.count - a.count || a.reason.localeCompare(b.reason) || a.source.localeCompare(b.source));
}

export const REFUSAL_ACTIVITY_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/refusals',
    tag: 'refusals',
    summary: 'Recent refusals, newest first, each with explanation, fix, setting and console link',
    query: [
      ...REFUSAL_FILTER_QUERY,
      { name: 'limit', description: '1-1000, default 100', type: 'integer' },
    ],
    async handler(ctx) {
      const limit = intParam(ctx.query, 'limit', { min: 1, max: 1000, fallback: 100 }) ?? 100;
      const filter = refusalFilter(ctx);
      const rows = await ctx.latchkey.storage.refusals.list({ reason: filter.reason, since: filter.since, limit: filter.narrowed ? 5000 : limit });
      return rows.filter(filter.matches).slice(0, limit).map(refusalView);
    },
  },
  {
    method: 'GET',
    path: '/refusals/:requestId',
    tag: 'refusals',
    summary:
      'One refusal (or "would refuse" record of a report-only rule) by the request id the client was given: the explanation with the facts of this case (times, the actor from the audit log, the settings now, typo suggestions) and a fix written from the live configuration, as `latchkey explain` gives it',
    async handler(ctx) {
      const r = await ctx.latchkey.storage.refusals.byRequestId(ctx.params.requestId ?? '');
      if (r === undefined) throw notFound(NOT_RECORDED);
      const e = await explainRefusal({ storage: ctx.latchkey.storage, supportedGrants: [...ctx.latchkey.grants.keys()] }, r);
      return {
        ...refusalView(r),
        outcome: e.outcome,
        rule: e.rule,
        fix: e.fix,
        facts: e.facts,
        /** The label of each fact, as `latchkey explain` prints it. */
        factLabels: Object.fromEntries(Object.keys(e.facts).map((name) => [name, factLabel(name)])),
      };
    },
  },
  {
    method: 'GET',
    path: '/activity',
    tag: 'activity',
    summary:
      'Counts of tokens issued, API calls and refusals over a period (period=auto picks the shortest that shows everything counted, each period with its bucket size; hours=N: per minute), refusals by reason, and the unauthenticated refusals past the budget (counted by endpoint, reason and source, not recorded one by one)',
    query: [
      { name: 'period', description: `auto, ${ACTIVITY_PERIODS.map((p) => p.name).join(', ')}: buckets of ${ACTIVITY_PERIODS.map((p) => `${p.name} ${p.bucketMs / 60_000} min`).join(', ')}, aligned in UTC; every bucket listed, zeros included` },
      { name: 'hours', description: '1-168, default 24: per-minute counts, only the minutes with counts (when period is not given)', type: 'integer' },
    ],
    async handler(ctx) {
      const { storage, clock } = ctx.latchkey;
      const now = clock.now();
      const periodName = textParam(ctx.query, 'period');
      if (periodName !== undefined) return periodActivity(storage, periodName, now);
      const hours = intParam(ctx.query, 'hours', { min: 1, max: 168, fallback: 24 }) ?? 24;
      const since = now - hours * 3_600_000;
      const counted = await countedSeries(storage, since);
      return { bucketMs: 60_000, since, series: counted.series, ...(await refusalCounts(storage, since)) };
    },
  },
];

/** The three charts' per-minute series since `since`. */
async function countedSeries(storage: Storage, since: number): Promise<{ series: { tokenIssued: Series; apiCalls: Series; refusals: Series } }> {
  const [tokenIssued, apiCalls, tokenRefused, apiRefused] = await Promise.all([
    series(storage, 'token.issued', since),
    series(storage, 'api.call', since),
    series(storage, 'token.refused', since),
    series(storage, 'api.refused', since),
  ]);
  return { series: { tokenIssued, apiCalls, refusals: merge(tokenRefused, apiRefused) } };
}

async function refusalCounts(storage: Storage, since: number) {
  const [refusals, unrecorded] = await Promise.all([storage.refusals.list({ since, limit: 100_000 }), unrecordedRefusals(storage, since)]);
  return {
    refusalsByReason: countByReason(refusals, unrecorded),
    unrecorded: { total: unrecorded.reduce((n, u) => n + u.count, 0), top: unrecorded.slice(0, 50) },
  };
}

/** GET /activity?period=: the period's buckets (auto: the shortest period holding every counted minute of the retention). */
async function periodActivity(storage: Storage, name: string, now: number) {
  const auto = name === 'auto';
  let period = auto ? undefined : periodNamed(name);
  const lookback = now - (auto ? AUTO_LOOKBACK_MS : (period as ActivityPeriod).spanMs + (period as ActivityPeriod).bucketMs);
  const counted = await countedSeries(storage, lookback);
  if (period === undefined) {
    // Each series is ascending: its first minute with a count is its oldest.
    const firsts = Object.values(counted.series).flatMap((s) => s.find(([, n]) => n > 0)?.[0] ?? []);
    period = autoPeriod(firsts.length === 0 ? undefined : Math.min(...firsts), now);
  }
  const p = period;
  const since = periodSince(p, now);
  const { tokenIssued, apiCalls, refusals } = counted.series;
  return {
    period: p.name,
    periodLabel: p.label,
    auto,
    bucketMs: p.bucketMs,
    since,
    until: now,
    timeZone: 'UTC',
    series: { tokenIssued: bucketize(tokenIssued, p, now), apiCalls: bucketize(apiCalls, p, now), refusals: bucketize(refusals, p, now) },
    ...(await refusalCounts(storage, since)),
  };
}
