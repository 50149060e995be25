import type { Rule } from '../domain/model.js';
import { isReasonCode, reasonInfo } from '../errors/reasons.js';
import { INSTANCE_TARGET, parseApiTarget, parseMcpTarget, RULE_PROPERTIES, type McpTarget } from '../registry/rules.js';
import type { PropertyName } from '../registry/properties.js';
import type { Storage } from '../storage/types.js';
import { commandLine, type Finding, type Snapshot } from './findings.js';
import { RULE_REPORT_DAYS, ruleReport, type RuleClientReport, type RuleReport } from './rules.js';

/**
 * Checks on report-only rules (src/registry/rules.ts), from who each one would refuse
 * (diagnostics/rules.ts): a reporting rule that matched requests (enforcing it now would refuse
 * them), one that matched nothing for a week (enforcing it refuses nobody, or it covers nothing),
 * and an enforced API requirement on an API this server does not serve.
 */

/** The rules, and the report of each reporting one over RULE_REPORT_DAYS. */
export interface RulesSnapshot {
  readonly rules: readonly Rule[];
  readonly reports: ReadonlyMap<string, RuleReport>;
}

export type RulesStorage = Partial<Pick<Storage, 'rules' | 'activity' | 'refusals'>> & Pick<Storage, 'applications'>;

export async function loadRules(storage: RulesStorage, clock: { now(): number }): Promise<RulesSnapshot | undefined> {
  const { rules: store, activity, refusals } = storage;
  if (store === undefined || activity === undefined || refusals === undefined) return undefined;
  const rules = await store.list();
  const deps = { storage: { activity, refusals, applications: storage.applications }, clock };
  const reports = await Promise.all(rules.filter((r) => r.mode === 'report').map((r) => ruleReport(deps, r)));
  return { rules, reports: new Map(reports.map((r) => [r.rule.id, r])) };
}

/** The most clients a finding names; the others are counted. */
const NAMED_CLIENTS = 5;

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const ruleLink = (rule: Rule) => `#/rules/${encodeURIComponent(rule.id)}`;

function clientText(c: RuleClientReport): string {
  const who =
    c.clientId === null
      ? `callers with no application${c.userNames.length > 0 ? ` (users ${c.userNames.slice(0, 3).join(', ')})` : ''}`
      : c.applicationName === null
        ? `client id ${c.clientId}`
        : `"${c.applicationName}" (client id ${c.clientId})`;
  return `${who}: ${c.count}`;
}

/** What the clients a rule would refuse lack, in words, by kind. */
function whatTheyLack(rule: Rule): string {
  switch (rule.kind) {
    case 'api_requirement': {
      const parts = [
        ...(rule.spec.scopes?.length ? [`one of the scopes ${rule.spec.scopes.join(', ')}, allowed to their application and requested in their tokens`] : []),
        ...(rule.spec.roles?.length ? [`one of the roles ${rule.spec.roles.join(', ')}, given to their users`] : []),
      ];
      return `Give those clients what ${rule.target} will require: ${parts.join(' and ')}`;
    }
    case 'property':
      return `Move those clients off what ${rule.target} = ${rule.spec.value ?? ''} refuses: ${RULE_PROPERTIES[rule.target as PropertyName]?.refuses ?? 'their requests'}`;
    case 'application':
      return `Move the requests of application ${rule.target} off the grant types and scopes the rule takes away`;
    case 'rate_limit':
      return `Have those clients send fewer requests (or add a rule with a higher limit instead of this one)`;
  }
}

/** rule_would_refuse: a reporting rule that matched requests in the last week. */
function wouldRefuse(report: RuleReport): Finding {
  const { rule } = report;
  const named = report.clients.slice(0, NAMED_CLIENTS).map(clientText);
  const others = report.clients.length - named.length;
  const latest = report.clients.filter((c) => c.latestAt !== null).sort((a, b) => (b.latestAt ?? 0) - (a.latestAt ?? 0))[0];
  const reason = latest?.reason ?? null;
  // What the refusal's own fix says helps where the client lacks something (a scope, a role); for
  // the other kinds it would say to undo the change, which is not the point.
  const reasonFix =
    reason === null ? '' : rule.kind === 'api_requirement' && isReasonCode(reason) ? ` The latest would have been ${reason}: ${reasonInfo(reason).fix}` : ` The latest would have been ${reason}.`;
  return {
    id: 'rule_would_refuse',
    severity: 'warning',
    title: 'A report-only rule would refuse requests once enforced',
    detail:
      `Rule ${rule.id} (${report.summary}) reports only: in the last ${RULE_REPORT_DAYS} days it matched ${plural(report.total, 'request')} it would refuse once enforced, ` +
      `from ${plural(report.clients.length, 'client')}: ${named.join('; ')}${others > 0 ? `; and ${plural(others, 'other client')}` : ''}.` +
      (latest === undefined || latest.latestRequestId === null ? '' : ` The latest kept: ${reason ?? 'refused'}, request ${latest.latestRequestId} (\`latchkey explain ${latest.latestRequestId}\`).`),
    fix: `${whatTheyLack(rule)}.${reasonFix} Then enforce the rule: ${commandLine(['rules', 'enforce', rule.id])}. \`${commandLine(['rules', 'show', rule.id])}\` lists every client it would refuse and why.`,
    command: commandLine(['rules', 'show', rule.id]),
    link: ruleLink(rule),
    target: rule.id,
  };
}

/** Why a rule may cover nothing: its target is not there (an API not served, an application deleted or inactive). */
function coversNothing(s: Snapshot, rule: Rule): string {
  if (rule.kind === 'api_requirement') {
    const missing = missingApi(s, rule);
    return missing === undefined ? '' : ` ${missing}`;
  }
  if (rule.kind === 'application' || (rule.kind === 'rate_limit' && rule.target !== INSTANCE_TARGET)) {
    const app = s.apps.find((a) => a.clientId === rule.target);
    if (app === undefined) return ` No application has the client id ${rule.target} any more.`;
    if (!app.active) return ` Application "${app.name}" (client id ${app.clientId}) is inactive.`;
  }
  return '';
}

/** rule_no_traffic: a rule reporting for over a week that matched no request in the last one. */
function noTraffic(s: Snapshot, report: RuleReport): Finding | undefined {
  const { rule } = report;
  // Reporting since it was added or put back to report (its last change).
  const reportingDays = Math.floor((s.now - rule.updatedAt) / 86_400_000);
  if (report.total > 0 || report.clients.length > 0 || reportingDays < RULE_REPORT_DAYS) return undefined;
  return {
    id: 'rule_no_traffic',
    severity: 'info',
    title: 'A report-only rule matched no request for a week',
    detail: `Rule ${rule.id} (${report.summary}) has reported for ${reportingDays} days and matched no request in the last ${RULE_REPORT_DAYS}: enforcing it would refuse nobody.${coversNothing(s, rule)}`,
    fix: `Enforce it: ${commandLine(['rules', 'enforce', rule.id])} (then: ${report.enforcing.replace(/\.$/, '')}). Or, if it should have matched requests, check its target ${rule.target}: a rule that covers nothing reports nothing (\`${commandLine(['rules', 'show', rule.id])}\`).`,
    command: commandLine(['rules', 'enforce', rule.id]),
    link: ruleLink(rule),
    target: rule.id,
  };
}

/** When this server serves the APIs it knows of but not the API (or resource) the rule names: why, in words. */
function missingApi(s: Snapshot, rule: Rule): string | undefined {
  const mcp = parseMcpTarget(rule.target);
  if (mcp !== undefined) return missingMcp(s, mcp);
  if (s.apis.length === 0) return undefined;
  const target = parseApiTarget(rule.target);
  if (target === undefined) return `Its target ${rule.target} names no API.`;
  const name = `${target.namespace}/${target.id}`;
  const api = s.apis.find((a) => a.namespace === target.namespace && a.id === target.id);
  if (api === undefined) return `This server serves no API ${name} (it serves ${s.apis.map((a) => `${a.namespace}/${a.id}`).join(', ')}).`;
  if (target.method === undefined) return undefined;
  if (api.resources.some((r) => r.method === target.method?.toUpperCase() && r.template === target.template)) return undefined;
  return `API ${name} has no resource ${target.method.toUpperCase()} ${target.template ?? ''} (its resources: ${api.resources.map((r) => `${r.method} ${r.template}`).join(', ')}).`;
}

/** When this server serves MCP servers but not the one (or the tool) an `mcp:` rule names: why, in words. */
function missingMcp(s: Snapshot, target: McpTarget): string | undefined {
  const servers = s.mcpServers;
  if (servers === undefined || (servers.length === 0 && s.apis.length === 0)) return undefined;
  const name = `${target.namespace}/${target.id}`;
  const server = servers.find((m) => m.namespace === target.namespace && m.id === target.id);
  if (server === undefined) return `This server serves no MCP server ${name} (it serves ${servers.map((m) => `mcp:${m.namespace}/${m.id}`).join(', ') || 'none'}).`;
  if (target.tool === undefined || server.toolsByName.has(target.tool)) return undefined;
  return `MCP server ${name} has no tool ${target.tool} (its tools: ${server.tools.map((t) => t.name).join(', ') || 'none'}).`;
}

/** rule_api_not_loaded: an enforced API requirement on an API (or resource) this server does not serve. */
function apiNotLoaded(s: Snapshot, rule: Rule): Finding | undefined {
  if (rule.kind !== 'api_requirement' || rule.mode !== 'enforce') return undefined;
  const missing = missingApi(s, rule);
  if (missing === undefined) return undefined;
  return {
    id: 'rule_api_not_loaded',
    severity: 'warning',
    title: 'An enforced API requirement names an API this server does not serve',
    detail: `Rule ${rule.id} (${rule.target}) is enforced, but it covers nothing here: ${missing} It refuses nothing now, and refuses every call that lacks what it requires as soon as a module of that name is deployed.`,
    fix: `If the API is gone or was renamed, delete the rule (add one with the right target if it is still wanted); if its module should be served, deploy it in the APIs folder (--apis).`,
    command: commandLine(['rules', 'delete', rule.id]),
    link: ruleLink(rule),
    target: rule.id,
  };
}

export function ruleFindings(s: Snapshot, rules: RulesSnapshot | undefined): Finding[] {
  if (rules === undefined) return [];
  const out: Finding[] = [];
  for (const rule of rules.rules) {
    const report = rules.reports.get(rule.id);
    if (report !== undefined) {
      if (report.total > 0) out.push(wouldRefuse(report));
      else {
        const quiet = noTraffic(s, report);
        if (quiet !== undefined) out.push(quiet);
      }
    }
    const notLoaded = apiNotLoaded(s, rule);
    if (notLoaded !== undefined) out.push(notLoaded);
  }
  return out;
}
