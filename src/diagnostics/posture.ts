import type { Clock } from '../core/clock.js';
import type { Application, Refusal, Rule, UsageRow } from '../domain/model.js';
import { usageDayOf, USAGE_DAY_MS } from '../audit/usage.js';
import { resolveProperties } from '../registry/properties.js';
import { ALL_ACCESS_SCOPE } from '../registry/scopes.js';
import type { Storage } from '../storage/types.js';
import { SECRET_ROTATION_PROPERTY } from './checks-credentials.js';
import { postureFindings, sortPostureFindings, SEVERITY_RANK, type PostureFinding, type PostureSeverity } from './posture-findings.js';

/**
 * Client posture: for every application, how it is used and how exposed it is, with the findings
 * an administrator should act on, each with its fix. The one builder of `latchkey apps posture`,
 * GET /admin/api/v1/posture and the console's Posture page; `latchkey doctor` reads its dormancy.
 *
 * Usage comes from the per-day counters (audit/usage.ts, storage.usage, 90 days); the report-only
 * rules an application would break from the "would refuse" records of the last 30 days.
 */

export { type PostureFinding, type PostureFindingId, type PostureSeverity } from './posture-findings.js';

export const DORMANT_DAYS_PROPERTY = 'latchkey.posture.dormant_days';
const DAY = USAGE_DAY_MS;
/** Records read for the "would refuse" and refusal findings (newest first): bounded, like every list. */
const RECORDS_READ = 10_000;

/** Authentication method strength, weakest first: a public client proves nothing, a secret is shared, a private key is not. */
export type AuthStrength = 'none' | 'secret' | 'private_key_jwt';
export const AUTH_STRENGTHS: readonly AuthStrength[] = ['none', 'secret', 'private_key_jwt'];

export interface Counts {
  readonly last7Days: number;
  readonly last30Days: number;
}

export interface ScopePosture {
  readonly scope: string;
  /** Tokens issued with it and API calls it admitted, in 30 days. */
  readonly tokens30Days: number;
  readonly calls30Days: number;
  /** The last time a token carried it or it admitted a call (within the 90 days kept); null: never seen. */
  readonly lastUsedAt: number | null;
}

export interface WouldRefuse {
  readonly ruleId: string;
  readonly kind: Rule['kind'];
  readonly target: string;
  /** "Would refuse" records of the last 30 days, the latest first. */
  readonly count: number;
  readonly lastAt: number;
  readonly latestRequestId: string;
  readonly reason: string;
}

export interface ApplicationPosture {
  readonly clientId: string;
  readonly name: string;
  readonly active: boolean;
  readonly public: boolean;
  /** The last token issued or API call admitted (within the 90 days kept); null: none counted. */
  readonly lastUseAt: number | null;
  /** Whole days with no use: since the last use, else since counting started or the application was created (the later). */
  readonly idleDays: number;
  readonly dormant: boolean;
  readonly tokens: Counts;
  readonly calls: Counts;
  readonly refusals: Counts;
  /** The client secret; null for a public application. */
  readonly secret: { readonly setAt: number; readonly ageDays: number; readonly rotationDueAt: number | null; readonly rotationDue: boolean } | null;
  readonly authentication: { readonly strength: AuthStrength; readonly methods: readonly string[] };
  /** Allowed the all-access scope `useraccount`. */
  readonly allAccess: boolean;
  readonly scopes: readonly ScopePosture[];
  /** Allowed scopes no token carried and no API call needed in 30 days (only once 30 days of use are counted). */
  readonly unusedScopes: readonly string[];
  readonly wouldRefuse: readonly WouldRefuse[];
  /** Worst first. */
  readonly findings: readonly PostureFinding[];
  /** The worst finding's severity; null when none. */
  readonly worst: PostureSeverity | null;
}

export interface PostureReport {
  readonly generatedAt: number;
  readonly dormantDays: number;
  readonly rotationDays: number;
  /** The earliest day usage is counted from (within the 90 days kept); null: nothing counted yet, so nothing is dormant. */
  readonly countingStartedAt: number | null;
  /** Worst first. */
  readonly applications: readonly ApplicationPosture[];
}

export interface PostureDeps {
  readonly storage: Pick<Storage, 'applications' | 'properties' | 'usage' | 'refusals' | 'rules'>;
  readonly clock: Clock;
}

/** How long the application has gone unused, and whether that makes it dormant. */
export function dormancy(app: Application, lastUseAt: number | null, countingSince: number | null, now: number, dormantDays: number): { idleDays: number; dormant: boolean } {
  // Nothing counted yet (a new install, or just upgraded): no application can be told idle.
  const idleSince = lastUseAt ?? (countingSince === null ? now : Math.max(app.createdAt, countingSince));
  const idleDays = Math.max(0, Math.floor((now - idleSince) / DAY));
  return { idleDays, dormant: app.active && idleDays >= dormantDays };
}

/** Each client's last use over the rows (totals rows only). */
export function lastUses(rows: readonly UsageRow[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of rows) if (r.scope === '' && r.lastUseAt > 0) out.set(r.clientId, Math.max(out.get(r.clientId) ?? 0, r.lastUseAt));
  return out;
}

/** The posture of every application (or of `only`), worst first. */
export async function buildPosture(deps: PostureDeps, only?: Application): Promise<PostureReport> {
  const now = deps.clock.now();
  const today = usageDayOf(now);
  const [apps, rows, firstDay, would, refused, rules, props] = await Promise.all([
    only === undefined ? deps.storage.applications.list() : Promise.resolve([only]),
    deps.storage.usage.list(only === undefined ? { since: today - 89 * DAY } : { since: today - 89 * DAY, clientId: only.clientId }),
    deps.storage.usage.firstDay(),
    deps.storage.refusals.list({ outcome: 'would_refuse', since: now - 30 * DAY, limit: RECORDS_READ }),
    deps.storage.refusals.list({ since: now - 7 * DAY, limit: RECORDS_READ }),
    deps.storage.rules.list(),
    deps.storage.properties.list(),
  ]);
  const values = resolveProperties(props);
  const dormantDays = values[DORMANT_DAYS_PROPERTY];
  const rotationDays = values[SECRET_ROTATION_PROPERTY];
  const countingSince = firstDay ?? null;
  const byClient = groupBy(rows, (r) => r.clientId);
  const reporting = new Map(rules.filter((r) => r.mode === 'report').map((r) => [r.id, r]));
  const wouldByClient = groupBy(would, (r) => r.clientId ?? '');
  const latestRefusal = new Map<string, Refusal>();
  for (const r of refused) if (r.clientId !== null && !latestRefusal.has(r.clientId)) latestRefusal.set(r.clientId, r);
  const applications = apps.map((app) => {
    const base = figures(app, byClient.get(app.clientId) ?? [], { now, today, countingSince, dormantDays, rotationDays });
    const wouldRefuse = wouldRefuseOf(wouldByClient.get(app.clientId) ?? [], reporting);
    const partial = { ...base, wouldRefuse };
    const findings = sortPostureFindings(postureFindings(app, partial, { dormantDays, rotationDays, countingSince, latestRefusal: latestRefusal.get(app.clientId) }));
    return { ...partial, findings, worst: findings[0]?.severity ?? null };
  });
  return { generatedAt: now, dormantDays, rotationDays, countingStartedAt: countingSince, applications: sortApplications(applications) };
}

interface FigureContext {
  readonly now: number;
  readonly today: number;
  readonly countingSince: number | null;
  readonly dormantDays: number;
  readonly rotationDays: number;
}

function figures(app: Application, rows: readonly UsageRow[], c: FigureContext): Omit<ApplicationPosture, 'wouldRefuse' | 'findings' | 'worst'> {
  const from7 = c.today - 6 * DAY;
  const from30 = c.today - 29 * DAY;
  const totals = rows.filter((r) => r.scope === '');
  const count = (pick: (r: UsageRow) => number, from: number) => totals.reduce((n, r) => (r.day >= from ? n + pick(r) : n), 0);
  const counts = (pick: (r: UsageRow) => number): Counts => ({ last7Days: count(pick, from7), last30Days: count(pick, from30) });
  const lastUseAt = lastUses(totals).get(app.clientId) ?? null;
  const { idleDays, dormant } = dormancy(app, lastUseAt, c.countingSince, c.now, c.dormantDays);
  const scopes = app.scopes.map((scope): ScopePosture => {
    const mine = rows.filter((r) => r.scope === scope);
    const last = Math.max(0, ...mine.map((r) => r.lastUseAt));
    const recent = mine.filter((r) => r.day >= from30);
    return { scope, tokens30Days: recent.reduce((n, r) => n + r.tokens, 0), calls30Days: recent.reduce((n, r) => n + r.calls, 0), lastUsedAt: last === 0 ? null : last };
  });
  // Unused is only said of an application observed (and used) for the whole 30 days.
  const observedSince = c.countingSince === null ? c.now : Math.max(app.createdAt, c.countingSince);
  const observed = app.active && !dormant && c.now - observedSince >= 30 * DAY;
  const unusedScopes = observed ? scopes.filter((s) => s.tokens30Days + s.calls30Days === 0).map((s) => s.scope) : [];
  return {
    clientId: app.clientId,
    name: app.name,
    active: app.active,
    public: app.public,
    lastUseAt,
    idleDays,
    dormant,
    tokens: counts((r) => r.tokens),
    calls: counts((r) => r.calls),
    refusals: counts((r) => r.refusals),
    secret: secretOf(app, c),
    authentication: authenticationOf(app),
    allAccess: app.scopes.includes(ALL_ACCESS_SCOPE),
    scopes,
    unusedScopes,
  };
}

function secretOf(app: Application, c: FigureContext): ApplicationPosture['secret'] {
  if (app.public || app.secretHash === null) return null;
  const setAt = app.secretRotatedAt ?? app.createdAt;
  const rotationDueAt = c.rotationDays <= 0 ? null : setAt + c.rotationDays * DAY;
  return { setAt, ageDays: Math.floor((c.now - setAt) / DAY), rotationDueAt, rotationDue: rotationDueAt !== null && c.now >= rotationDueAt };
}

/** The methods the application can authenticate with, and the strongest of them (its secret keeps working beside keys). */
export function authenticationOf(app: Application): ApplicationPosture['authentication'] {
  if (app.public || app.secretHash === null) return { strength: 'none', methods: ['none'] };
  const keys = app.jwks !== null || app.jwksUri !== null;
  return { strength: keys ? 'private_key_jwt' : 'secret', methods: keys ? ['client_secret_basic', 'client_secret_post', 'private_key_jwt'] : ['client_secret_basic', 'client_secret_post'] };
}

function wouldRefuseOf(records: readonly Refusal[], reporting: ReadonlyMap<string, Rule>): WouldRefuse[] {
  const out: WouldRefuse[] = [];
  for (const [ruleId, list] of groupBy(records, (r) => r.ruleId ?? '')) {
    const rule = reporting.get(ruleId);
    const latest = list[0];
    // A rule since enforced refuses for real (its refusals show); a deleted one breaks nothing.
    if (rule === undefined || latest === undefined) continue;
    out.push({ ruleId, kind: rule.kind, target: rule.target, count: list.length, lastAt: latest.at, latestRequestId: latest.requestId, reason: latest.reason });
  }
  return out.sort((a, b) => b.count - a.count || (a.ruleId < b.ruleId ? -1 : 1));
}

function groupBy<T>(items: readonly T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = out.get(k);
    if (list === undefined) out.set(k, [item]);
    else list.push(item);
  }
  return out;
}

/** Worst first: by the worst finding, then by how much is found (an error outweighs any number of warnings), then by name. */
function sortApplications(apps: readonly ApplicationPosture[]): ApplicationPosture[] {
  const weight = (a: ApplicationPosture) => a.findings.reduce((n, f) => n + [1000, 30, 1][SEVERITY_RANK[f.severity]]!, 0);
  const rank = (a: ApplicationPosture) => (a.worst === null ? 3 : SEVERITY_RANK[a.worst]);
  return [...apps].sort((a, b) => rank(a) - rank(b) || weight(b) - weight(a) || a.name.localeCompare(b.name) || (a.clientId < b.clientId ? -1 : 1));
}
