/**
 * Who a rule would refuse, and why (src/registry/rules.ts): per client, how many of its requests
 * the rule matched (the activity counters: every match, every instance) and the latest "would
 * refuse" record kept with its explanation (a few a minute: audit/would-refuse.ts). The CLI
 * (`latchkey rules show`), the admin API (GET /rules/{id}), the console's Rules page, doctor and the
 * posture view all read this.
 */
import { parseWouldRefuseMetric, WOULD_REFUSE_PREFIX } from '../audit/would-refuse.js';
import type { Refusal, Rule } from '../domain/model.js';
import { appliedBy, describeRule } from '../registry/rules.js';
import type { Storage } from '../storage/types.js';

/** How far back the report looks by default: a week, the activity counters' span. */
export const RULE_REPORT_DAYS = 7;

export interface RuleClientReport {
  /** null: requests with no client (Basic calls to an API act as a user, not an application). */
  readonly clientId: string | null;
  readonly applicationName: string | null;
  /** Requests of this client the rule matched in the period (counted on every instance). */
  readonly count: number;
  /** The latest record kept, with its explanation: `latchkey explain <request id>`. */
  readonly latestAt: number | null;
  readonly latestRequestId: string | null;
  readonly reason: string | null;
  readonly userNames: readonly string[];
}

export interface RuleReport {
  readonly rule: Rule;
  /** The rule in one line. */
  readonly summary: string;
  /** What enforcing does (or did). */
  readonly enforcing: string;
  readonly since: number;
  /** Requests the rule matched in the period, all clients. */
  readonly total: number;
  /** Who it would refuse, most requests first. Empty: nobody since `since` (or it is new). */
  readonly clients: readonly RuleClientReport[];
}

export interface RuleReportDeps {
  readonly storage: Pick<Storage, 'activity' | 'refusals' | 'applications'>;
  readonly clock: { now(): number };
}

/** The report of one rule over the last `days` days. */
export async function ruleReport(deps: RuleReportDeps, rule: Rule, options: { readonly days?: number } = {}): Promise<RuleReport> {
  const since = deps.clock.now() - (options.days ?? RULE_REPORT_DAYS) * 86_400_000;
  const [rows, records] = await Promise.all([
    deps.storage.activity.list(`${WOULD_REFUSE_PREFIX}${rule.id}|`, since),
    deps.storage.refusals.list({ ruleId: rule.id, outcome: 'would_refuse', since, limit: 1000 }),
  ]);
  const counted = new Map<string | null, number>();
  for (const row of rows) {
    const parsed = parseWouldRefuseMetric(row.metric);
    if (parsed === undefined || parsed.ruleId !== rule.id) continue;
    counted.set(parsed.clientId, (counted.get(parsed.clientId) ?? 0) + row.count);
  }
  const byClient = new Map<string | null, Refusal[]>();
  for (const r of records) byClient.set(r.clientId, [...(byClient.get(r.clientId) ?? []), r]);
  const ids = new Set<string | null>([...counted.keys(), ...byClient.keys()]);
  const clients: RuleClientReport[] = [];
  for (const clientId of ids) {
    const kept = byClient.get(clientId) ?? [];
    const latest = kept[0];
    const app = clientId === null ? undefined : await deps.storage.applications.byClientId(clientId).catch(() => undefined);
    clients.push({
      clientId,
      applicationName: app?.name ?? latest?.applicationName ?? null,
      // The counters are flushed once a minute; the records kept since are counted meanwhile.
      count: Math.max(counted.get(clientId) ?? 0, kept.length),
      latestAt: latest?.at ?? null,
      latestRequestId: latest?.requestId ?? null,
      reason: latest?.reason ?? null,
      userNames: [...new Set(kept.map((r) => r.userName).filter((u): u is string => u !== null))].slice(0, 10),
    });
  }
  clients.sort((a, b) => b.count - a.count || String(a.clientId).localeCompare(String(b.clientId)));
  return { rule, summary: describeRule(rule), enforcing: appliedBy(rule), since, total: clients.reduce((n, c) => n + c.count, 0), clients };
}

/** The reports of every rule, oldest rule first. */
export async function ruleReports(deps: RuleReportDeps & { readonly storage: Pick<Storage, 'rules'> }, options: { readonly days?: number } = {}): Promise<RuleReport[]> {
  const rules = await deps.storage.rules.list();
  return Promise.all(rules.map((rule) => ruleReport(deps, rule, options)));
}
