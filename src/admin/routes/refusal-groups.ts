import type { Refusal } from '../../domain/model.js';
import { intParam, REFUSAL_FILTER_QUERY, refusalFilter } from './helpers.js';
import type { AdminRoute } from './types.js';
import { refusalView } from './views.js';

/**
 * Refusals grouped by reason and client: a misconfigured job retrying every minute is one row with
 * a count, not a page of identical rows. Groups are built from the most recent refusals (at most
 * GROUP_SCAN), newest group first; each carries its latest requests for the console to expand.
 */

/** How many of the most recent refusals are grouped. */
export const GROUP_SCAN = 10_000;
/** The requests each group carries, newest first. */
export const GROUP_REQUESTS = 10;

export interface RefusalGroup {
  /** reason + client id ('' for none): stable, for the console's open rows. */
  readonly key: string;
  readonly reason: string;
  /** Null when the request named no client (or an unknown one is not kept). */
  readonly clientId: string | null;
  readonly applicationName: string | null;
  readonly count: number;
  readonly firstAt: number;
  readonly lastAt: number;
  /** Distinct endpoints, HTTP statuses, users and source addresses of the group. */
  readonly endpoints: readonly string[];
  readonly statuses: readonly number[];
  readonly users: readonly string[];
  readonly sources: number;
  readonly explanation: string | null;
  readonly fix: string | null;
  readonly setting: string | null;
  readonly link: string | null;
  /** The latest GROUP_REQUESTS requests (refusal views), newest first. */
  readonly requests: readonly ReturnType<typeof refusalView>[];
}

interface Building {
  readonly rows: Refusal[];
  readonly endpoints: Set<string>;
  readonly statuses: Set<number>;
  readonly users: Set<string>;
  readonly sources: Set<string>;
}

/** Groups refusals (newest first) by reason and client id; the groups in the order of their newest request. */
export function groupRefusals(refusals: readonly Refusal[]): RefusalGroup[] {
  const groups = new Map<string, Building>();
  for (const r of refusals) {
    const key = `${r.reason}|${r.clientId ?? ''}`;
    let g = groups.get(key);
    if (g === undefined) groups.set(key, (g = { rows: [], endpoints: new Set(), statuses: new Set(), users: new Set(), sources: new Set() }));
    g.rows.push(r);
    g.endpoints.add(r.endpoint);
    g.statuses.add(r.status);
    if (r.userName !== null) g.users.add(r.userName);
    if (r.remoteAddress !== null) g.sources.add(r.remoteAddress);
  }
  return [...groups].map(([key, g]) => {
    const latest = refusalView(g.rows[0] as Refusal);
    return {
      key,
      reason: latest.reason,
      clientId: latest.clientId,
      applicationName: g.rows.find((r) => r.applicationName !== null)?.applicationName ?? null,
      count: g.rows.length,
      firstAt: (g.rows[g.rows.length - 1] as Refusal).at,
      lastAt: latest.at,
      endpoints: [...g.endpoints].sort(),
      statuses: [...g.statuses].sort((a, b) => a - b),
      users: [...g.users].sort().slice(0, 20),
      sources: g.sources.size,
      explanation: latest.explanation,
      fix: latest.fix,
      setting: latest.setting,
      link: latest.link,
      requests: g.rows.slice(0, GROUP_REQUESTS).map(refusalView),
    };
  });
}

export const REFUSAL_GROUP_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/refusals/groups',
    tag: 'refusals',
    summary: `Recent refusals grouped by reason and client: count, first and last seen, endpoints, statuses, users, the explanation and fix, and the latest ${GROUP_REQUESTS} requests of each; built from the ${GROUP_SCAN} most recent refusals (scanned, complete say how many and whether that was all)`,
    query: [
      ...REFUSAL_FILTER_QUERY,
      { name: 'limit', description: 'groups, 1-500, default 100 (most recent first)', type: 'integer' },
    ],
    async handler(ctx) {
      const limit = intParam(ctx.query, 'limit', { min: 1, max: 500, fallback: 100 }) ?? 100;
      const filter = refusalFilter(ctx);
      const rows = await ctx.latchkey.storage.refusals.list({ reason: filter.reason, since: filter.since, limit: GROUP_SCAN });
      const matching = rows.filter(filter.matches);
      return { scanned: rows.length, complete: rows.length < GROUP_SCAN, groups: groupRefusals(matching).slice(0, limit) };
    },
  },
];
