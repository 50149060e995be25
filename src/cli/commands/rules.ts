/**
 * `latchkey rules`: report-only rules (src/registry/rules.ts). A change that would refuse requests
 * is added in report mode (`rules add`); while it reports, the requests it would refuse succeed and
 * leave a "would refuse" record; `rules show` says who would be refused and why (diagnostics/rules.ts);
 * `rules enforce` is the one audited step that makes it refuse (or applies the change it describes).
 */
import { Argument, type Command } from 'commander';
import { commandLine, type Word } from '../../core/shell.js';
import { RULE_KINDS, type Rule } from '../../domain/model.js';
import { ruleReport, ruleReports, RULE_REPORT_DAYS, type RuleClientReport, type RuleReport } from '../../diagnostics/rules.js';
import { appliedBy, createRule, deleteRule, describeRule, enforceRule, findRule, INSTANCE_TARGET, reportRule, RULE_PROPERTIES, RULE_PROPERTY_NAMES } from '../../registry/rules.js';
import { ApiDefinitionError } from '../../resource-server/compile.js';
import { CliError, confirmChange, confirmDelete, parseList, type CliContext } from '../context.js';
import { dbArguments } from '../next-steps.js';
import { isoTime, renderRecord, renderTable, terminalWidth, wrap } from '../table.js';
import { APIS_HELP, loadApisFor } from './doctor.js';
import type { CommonOptions, Kit, Output } from './index.js';

interface ShowOptions extends CommonOptions {
  readonly days?: string;
}
interface AddOptions extends CommonOptions {
  readonly scopes?: string;
  readonly roles?: string;
  readonly grantTypes?: string;
  readonly value?: string;
  readonly note?: string;
  readonly enforce?: boolean;
  readonly apis?: string;
}
interface YesOptions extends CommonOptions {
  readonly yes?: boolean;
}

/** How far back `rules show --days` may look: the activity counters are kept 90 days. */
const MAX_DAYS = 90;
const RULE_ID_HELP = 'the rule id (rule_…, see `latchkey rules list`)';

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const byWhom = (at: number | null, by: string | null): string | null => (at === null ? null : `${isoTime(at)} by ${by ?? 'unknown'}`);

/** A rule for --json: the record (times as ISO text), the one-line summary, and what enforcing does or did. */
function ruleJson(rule: Rule) {
  return { ...rule, summary: describeRule(rule), enforcing: appliedBy(rule) };
}

/** The report for --json: the `since` time as ISO text like every other time the CLI prints. */
function reportJson(r: RuleReport, days: number) {
  return { rule: ruleJson(r.rule), summary: r.summary, enforcing: r.enforcing, days, since: isoTime(r.since), total: r.total, clients: r.clients };
}

/** What enforcing a reporting rule will do, after "Enforcing it": `sets the property … to false`. */
function enforcingWill(rule: Rule): string {
  const s = rule.spec;
  switch (rule.kind) {
    case 'api_requirement':
      return `refuses the calls to ${rule.target} that lack what it requires (${[...(s.scopes?.length ? ['api.scope_missing'] : []), ...(s.roles?.length ? ['api.role_missing'] : [])].join(', ')}, naming the rule)`;
    case 'property':
      return `sets the property ${rule.target} to ${s.value ?? ''}`;
    case 'application': {
      const parts = [...(s.grantTypes !== undefined ? [`the grant types ${s.grantTypes.join(', ') || '(none)'}`] : []), ...(s.scopes !== undefined ? [`the scopes ${s.scopes.join(' ') || '(none)'}`] : [])];
      return `gives application ${rule.target} ${parts.join(' and ')} (replacing its own)`;
    }
    case 'rate_limit':
      return rule.target === INSTANCE_TARGET ? `sets latchkey.rate_limit.client to ${s.value ?? ''}` : `sets the rate limit of application ${rule.target} to ${s.value ?? ''}`;
  }
}

/** Prose for the terminal: wrapped to its width (commands are printed on lines of their own instead). */
function para(text: string): string {
  return `${wrap(text, terminalWidth()).join('\n')}\n`;
}

/** What a reporting rule records, as a sentence: which requests succeed now and would be refused once it is enforced. */
function reports(rule: Rule): string {
  const meanwhile = 'succeed meanwhile, each recorded as "would refuse" with its explanation';
  switch (rule.kind) {
    case 'api_requirement':
      return `Calls to ${rule.target} whose caller lacks what it requires ${meanwhile}.`;
    case 'property':
      return `It would refuse ${RULE_PROPERTIES[rule.target as keyof typeof RULE_PROPERTIES]?.refuses ?? 'the requests the property turns away'}: they ${meanwhile}.`;
    case 'application':
      return `Token requests of application ${rule.target} with a grant type or scope the new lists lack ${meanwhile}.`;
    case 'rate_limit':
      return rule.target === INSTANCE_TARGET
        ? `Token requests of applications without a limit of their own beyond ${rule.spec.value ?? ''} per latchkey.rate_limit.window_seconds ${meanwhile}.`
        : `Token requests of application ${rule.target} beyond ${rule.spec.value ?? ''} ${meanwhile}.`;
  }
}

/**
 * `latchkey …` commands to paste, each under its comment, with the instance's --db (not on a
 * `--help`): on lines of their own, so a command is never wrapped on a narrow terminal.
 */
function steps(ctx: CliContext, lines: readonly (readonly [readonly Word[], string])[]): string {
  const { flag, note } = dbArguments(ctx.db);
  const body = lines.map(([words, comment]) => `  # ${comment}\n  ${commandLine(words)}${words.includes('--help') ? '' : flag}`);
  return `\nNext steps:\n${note === undefined ? '' : `  # ${note}\n`}${body.join('\n')}\n`;
}

function clientCell(c: RuleClientReport): string {
  return c.clientId ?? '(no client)';
}

/** An application's name; for requests without a client (Basic calls act as a user), the users. */
function applicationCell(c: RuleClientReport): string | null {
  if (c.applicationName !== null) return c.applicationName;
  return c.userNames.length === 0 ? null : `users ${c.userNames.join(', ')}`;
}

/**
 * Who would be refused, one row per client. The client id and the request id are copied whole, so
 * they are never wrapped; when both do not fit the terminal, the request ids go (each client's is
 * in a `latchkey explain` command below the table instead): `ids` says whether they are in it.
 */
function clientsTable(r: RuleReport, width = terminalWidth()): { readonly text: string; readonly ids: boolean } {
  const headers = ['CLIENT ID', 'APPLICATION', 'REQUESTS', 'LATEST AT', 'REASON', 'LATEST REQUEST ID'];
  const rows = r.clients.map((c) => [clientCell(c), applicationCell(c), c.count, isoTime(c.latestAt), c.reason, c.latestRequestId]);
  const full = renderTable(headers, rows, width, { whole: [0, 5] });
  if (full.split('\n').every((l) => l.length <= width)) return { text: full, ids: true };
  return { text: renderTable(headers.slice(0, 5), rows.map((row) => row.slice(0, 5)), width, { whole: [0] }), ids: false };
}

function parseDays(raw: string | undefined): number {
  if (raw === undefined) return RULE_REPORT_DAYS;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > MAX_DAYS) throw new CliError(`--days takes a whole number of days from 1 to ${MAX_DAYS} (got "${raw}").`, 2);
  return Number(raw);
}

function ruleRecord(rule: Rule): string {
  return renderRecord([
    ['Id', rule.id],
    ['Kind', rule.kind],
    ['Mode', rule.mode === 'report' ? 'report (the requests it would refuse succeed, recorded as "would refuse")' : 'enforce'],
    ['Rule', describeRule(rule)],
    ['Note', rule.note],
    ['Created', byWhom(rule.createdAt, rule.createdBy)],
    ['Enforced', rule.mode === 'enforce' ? byWhom(rule.enforcedAt ?? rule.updatedAt, rule.enforcedBy) : 'no'],
    rule.mode === 'enforce' ? ['Enforcing did', appliedBy(rule)] : ['Enforcing it', enforcingWill(rule)],
  ]);
}

function showText(ctx: CliContext, r: RuleReport, days: number): string {
  const rule = r.rule;
  const period = `in the last ${plural(days, 'day')} (since ${isoTime(r.since)})`;
  const parts = [`Rule ${rule.id}: ${r.summary}\n\n${ruleRecord(rule)}`];
  const table = clientsTable(r);
  if (rule.mode === 'enforce') {
    const applied =
      rule.kind === 'api_requirement'
        ? 'it refuses those calls now, each recorded as a refusal that names the rule (`latchkey explain` shows it).'
        : 'it applied its change then, and stays as the record of it; setting it back undoes the change.';
    parts.push(`\n${para(`Enforced: ${applied}`)}`);
    if (r.clients.length > 0) parts.push(`\n${para(`While it reported, ${period}, it would have refused ${plural(r.total, 'request')} of ${plural(r.clients.length, 'client')}:`)}${table.text}`);
  } else if (r.clients.length === 0) {
    parts.push(`\n${para(`Who would be refused: nobody ${period}. ${reports(rule)} A new rule sees the requests that come after it; the counts reach the database within a minute.`)}`);
  } else {
    parts.push(`\n${para(`Who would be refused and why, ${period}: ${plural(r.total, 'request')} of ${plural(r.clients.length, 'client')}, most first.`)}${table.text}`);
  }
  // An explanation per client: the three with most requests, or up to ten when the table has no room for the request ids.
  const next: [Word[], string][] = r.clients
    .filter((c) => c.latestRequestId !== null)
    .slice(0, table.ids ? 3 : 10)
    .map((c) => [['explain', c.latestRequestId as string], `why the latest request of ${c.applicationName === null ? (c.clientId ?? 'a caller without a client') : `"${c.applicationName}"`} ${rule.mode === 'report' ? 'would be' : 'would have been'} refused, and the fix`]);
  if (rule.mode === 'report') {
    next.push([['rules', 'enforce', rule.id], r.clients.length === 0 ? 'when it has reported long enough: refuse from then on (asks first)' : 'once nobody above should keep working: refuse them (asks first)']);
    next.push([['rules', 'delete', rule.id], 'drop the change instead']);
  } else if (rule.kind === 'api_requirement') {
    next.push([['rules', 'report', rule.id], 'back to report: those calls succeed again, recorded as "would refuse"']);
  } else {
    next.push([['audit', '--target', rule.id], 'who enforced it, and when']);
  }
  return parts.join('') + steps(ctx, next);
}

function registerList(rules: Command, kit: Kit): void {
  const cmd = rules
    .command('list')
    .description(`Every rule: its kind, mode and what it says, who added and enforced it, and the requests it matched in the last ${RULE_REPORT_DAYS} days with how many clients`)
    .addHelpText('after', `
MATCHED is the requests of the last ${RULE_REPORT_DAYS} days the rule would have refused (while it reports), counted
on every instance; CLIENTS how many clients sent them. \`latchkey rules show <rule-id>\` names them.

Examples:
  latchkey rules list
  latchkey rules list --json | jq '.[] | select(.mode == "report" and .requests > 0) | .id'
`);
  kit.common(cmd).action((opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const list = await ruleReports({ storage: ctx.storage, clock: ctx.clock });
      const views = list.map((r) => ({ ...ruleJson(r.rule), days: RULE_REPORT_DAYS, since: isoTime(r.since), requests: r.total, clients: r.clients.length }));
      out.result(views, () => listText(ctx, list));
    }),
  );
}

function listText(ctx: CliContext, list: readonly RuleReport[]): string {
  if (list.length === 0) {
    return (
      'No rules yet. A rule brings in a change that would refuse requests in report mode\n' +
      'first: the requests it would refuse succeed and are recorded, so you see who would\n' +
      'be refused, and why, before you enforce it.\n' +
      steps(ctx, [
        [['rules', 'add', 'property', 'latchkey.api.basic_auth.enabled', '--value', 'false'], 'who still calls the APIs with HTTP Basic?'],
        [['rules', 'add', 'api_requirement', 'acme/orders', '--scopes', 'orders.read'], 'an API of yours to require a scope (see `latchkey apis list`)'],
        [['rules', 'add', '--help'], 'every kind, with an example each'],
      ])
    );
  }
  const day = (ms: number | null) => isoTime(ms)?.slice(0, 10) ?? '';
  // Short cells, so the table fits 80 columns; what each rule says follows, one line each.
  // MODE: report, or enforce with when and by whom; CREATED: when and by whom.
  const table = renderTable(
    ['ID', 'KIND', 'MODE', 'CREATED', 'MATCHED', 'CLIENTS'],
    list.map((r) => [
      r.rule.id,
      r.rule.kind,
      r.rule.mode === 'enforce' ? `enforce ${day(r.rule.enforcedAt ?? r.rule.updatedAt)} ${r.rule.enforcedBy ?? 'unknown'}` : 'report',
      `${day(r.rule.createdAt)} ${r.rule.createdBy}`,
      r.total,
      r.clients.length,
    ]),
    undefined,
    { whole: [0] },
  );
  const width = terminalWidth();
  const indent = ' '.repeat(list.reduce((n, r) => Math.max(n, r.rule.id.length), 0) + 4);
  const says = list.map((r) => {
    const lines = [...wrap(r.summary, Math.max(20, width - indent.length)), ...(r.rule.note === null ? [] : wrap(`Note: ${r.rule.note}`, Math.max(20, width - indent.length)))];
    return lines.map((l, i) => `${i === 0 ? `  ${r.rule.id}`.padEnd(indent.length) : indent}${l}`).join('\n');
  });
  const reporting = list.filter((r) => r.rule.mode === 'report');
  const top = [...reporting].sort((a, b) => b.total - a.total)[0] ?? list[0];
  const next: [Word[], string][] = [];
  if (top !== undefined) next.push([['rules', 'show', top.rule.id], 'who it would refuse, and why']);
  if (top !== undefined && top.rule.mode === 'report') next.push([['rules', 'enforce', top.rule.id], 'refuse from now on (shows the count, asks first)']);
  next.push([['rules', 'add', '--help'], 'add another: every kind, with an example each']);
  const head = `${wrap(`${plural(list.length, 'rule')}, ${reporting.length} reporting. MATCHED: the requests of the last ${RULE_REPORT_DAYS} days it would have refused while reporting; CLIENTS: how many clients sent them.`, width).join('\n')}\n\n`;
  return `${head}${table}\nWhat each says:\n${says.join('\n')}\n${steps(ctx, next)}`;
}

function registerShow(rules: Command, kit: Kit): void {
  const cmd = rules
    .command('show')
    .argument('<rule-id>', RULE_ID_HELP)
    .description('A rule and who it would refuse, and why: per client, the requests it matched, the latest with its reason and request id (for `latchkey explain`)')
    .option('--days <n>', `how far back to look, in days (default ${RULE_REPORT_DAYS}, at most ${MAX_DAYS})`)
    .addHelpText('after', `
Each match is counted (on every instance); a few a minute are kept one by one with the full
explanation (latchkey.rules.report_per_minute): \`latchkey explain <request-id>\` shows one.

Examples:
  latchkey rules show rule_0123456789ab
  latchkey rules show rule_0123456789ab --days 30 --json | jq '.clients[] | {clientId, count, reason}'
`);
  kit.common(cmd).action((id: string, opts: ShowOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const days = parseDays(opts.days);
      const rule = await findRule(ctx, id);
      const report = await ruleReport({ storage: ctx.storage, clock: ctx.clock }, rule, { days });
      out.result(reportJson(report, days), () => showText(ctx, report, days));
    }),
  );
}

/** The hosted APIs as `serve` loads them, for api_requirement targets; a module that does not load says so. */
async function hostedApis(opts: AddOptions) {
  try {
    const router = await loadApisFor(opts);
    return { apis: router.list(), mcpServers: router.mcpServers() };
  } catch (error) {
    if (error instanceof ApiDefinitionError) throw new CliError(`--apis: ${error.message}. Nothing was added.`);
    throw error;
  }
}

function addHelp(): string {
  const switches = RULE_PROPERTY_NAMES.map((name) => `                     ${name} --value ${String(RULE_PROPERTIES[name]?.refusing)}\n                       refuses ${RULE_PROPERTIES[name]?.refuses ?? ''}`).join('\n');
  return `
Kinds and targets:
  api_requirement  namespace/api (the whole API) or "METHOD namespace/api/template" (one resource),
                   or mcp:namespace/server (every request to a hosted MCP server) or
                   mcp:namespace/server/tool (one tool's calls), with --scopes and/or --roles it
                   would require on top of the definition (one of the scopes, and one of the
                   roles); the API or MCP server must be one the instance serves (--apis)
  property         an instance switch, with --value the setting that refuses:
${switches}
  application      an application (client id, or its name when no other has it), with --grant-types
                   and/or --scopes: its new lists, replacing its own
  rate_limit       instance (latchkey.rate_limit.client), with --value a count per
                   latchkey.rate_limit.window_seconds; or an application, with --value 100/1m

The rule reports first: the requests it would refuse succeed, each counted and a few a minute kept
with the full explanation. \`latchkey rules show <rule-id>\` says who would be refused and why;
\`latchkey rules enforce <rule-id>\` makes it refuse (an api_requirement) or applies the change (the
others). Audited as rule.create (and rule.enforce with --enforce).

Examples:
  latchkey rules add api_requirement acme/orders --scopes orders.read --note "from 1 March"
  latchkey rules add api_requirement "PUT acme/orders/{id}" --roles order_admin
  latchkey rules add api_requirement mcp:acme/desk/ticket_create --scopes desk.admin
  latchkey rules add property latchkey.api.basic_auth.enabled --value false
  latchkey rules add property latchkey.client_auth.client_secret_post.enabled --value false
  latchkey rules add application "Nightly export" --grant-types client_credentials --scopes export.read
  latchkey rules add rate_limit instance --value 100
  latchkey rules add rate_limit "Nightly export" --value 100/1m
`;
}

function registerAdd(rules: Command, kit: Kit): void {
  const cmd = rules
    .command('add')
    .addArgument(new Argument('<kind>', 'what the rule changes').choices(RULE_KINDS))
    .argument('<target>', 'what it applies to: an API or resource, a property, an application, or instance (see below)')
    .description('Add a rule in report mode: the requests it would refuse succeed and are recorded, until you enforce it')
    .option('--scopes <list>', 'api_requirement: scopes it would require (any one); application: the new scope list (comma-separated)')
    .option('--roles <list>', 'api_requirement: roles it would require (any one), comma-separated')
    .option('--grant-types <list>', 'application: the new grant types, comma-separated')
    .option('--value <value>', 'property: the value that refuses; rate_limit: the new limit (100 for instance, 100/1m for an application)')
    .option('--note <text>', 'why the rule exists (at most 500 characters), shown with it')
    .option('--enforce', 'enforce it at once instead of reporting first (nothing is reported before it refuses)')
    .option('--apis <folder>', `${APIS_HELP}: the APIs an api_requirement may name`)
    .addHelpText('after', addHelp());
  kit.common(cmd).action((kind: string, target: string, opts: AddOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const apis = kind === 'api_requirement' ? await hostedApis(opts) : undefined;
      const input = { kind, target, scopes: parseList(opts.scopes), roles: parseList(opts.roles), grantTypes: parseList(opts.grantTypes), value: opts.value, note: opts.note };
      const rule = await createRule({ ...ctx, apis }, input, { mode: opts.enforce === true ? 'enforce' : 'report' });
      addResult(ctx, out, rule);
    }),
  );
}

function addResult(ctx: CliContext, out: Output, rule: Rule): void {
  if (rule.mode === 'enforce') {
    out.result(ruleJson(rule), () => para(`Added rule ${rule.id}, enforced at once: ${describeRule(rule)}.`) + para(appliedBy(rule)));
    const next: [Word[], string][] = [[['rules', 'show', rule.id], 'the rule']];
    if (rule.kind === 'api_requirement') next.push([['rules', 'report', rule.id], 'back to report: calls it refuses succeed again, recorded']);
    out.note(steps(ctx, next));
    return;
  }
  out.result(ruleJson(rule), () => para(`Added rule ${rule.id} in report mode: ${describeRule(rule)}.`) + para(reports(rule)) + para(`Enforcing it ${enforcingWill(rule)}.`));
  out.note(
    steps(ctx, [
      [['rules', 'show', rule.id], 'who it would refuse, and why, as requests come in'],
      [['rules', 'enforce', rule.id], 'once nobody who should keep working would be refused (asks first)'],
    ]),
  );
}

function registerEnforce(rules: Command, kit: Kit): void {
  const cmd = rules
    .command('enforce')
    .argument('<rule-id>', RULE_ID_HELP)
    .description('Enforce a reporting rule: an api_requirement refuses from now on; the other kinds apply their change (set the property, update the application). Shows what it would refuse and asks first on a terminal')
    .option('--yes', 'enforce without asking (for scripts; without a terminal the command refuses unless --yes is given)')
    .option('--days <n>', `the period the count before asking covers, in days (default ${RULE_REPORT_DAYS})`)
    .addHelpText('after', `
One step, audited as rule.enforce (and property.set or application.update for what it applies). An
enforced api_requirement goes back to report with \`latchkey rules report <rule-id>\`; the change of the
other kinds is undone by setting it back (\`latchkey properties set\`, \`latchkey apps update\`).

Examples:
  latchkey rules enforce rule_0123456789ab
  latchkey rules enforce rule_0123456789ab --yes --json
`);
  kit.common(cmd).action((id: string, opts: YesOptions & ShowOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const days = parseDays(opts.days);
      const current = await findRule(ctx, id);
      const report = await ruleReport({ storage: ctx.storage, clock: ctx.clock }, current, { days });
      const matched = `In the last ${plural(days, 'day')} it matched ${plural(report.total, 'request')} of ${plural(report.clients.length, 'client')}${clientsNamed(report)}`;
      // An enforced rule is refused by the registry, naming when and by whom: no question first.
      if (current.mode === 'report') {
        await confirmChange(kit.io, opts.yes, `Enforce rule ${current.id} (${report.summary})? ${matched}. Enforcing it ${enforcingWill(current)}.`, { done: 'changed', verb: 'enforce' });
      }
      const rule = await enforceRule(ctx, current.id);
      const value = { ...ruleJson(rule), applied: appliedBy(rule), days, requests: report.total, clients: report.clients.length };
      const refused = `${matched}: such ${rule.kind === 'api_requirement' ? 'calls' : 'requests'} are refused from now on.`;
      out.result(value, () => para(`Enforced rule ${rule.id}: ${report.summary}.`) + para(appliedBy(rule)) + para(refused));
      const next: [Word[], string][] = [[['rules', 'show', rule.id], 'the rule, and who it refused while it reported']];
      if (rule.kind === 'api_requirement') next.push([['rules', 'report', rule.id], 'back to report if something that matters is refused']);
      next.push([['audit', '--target', rule.id], 'the audit entries of the rule']);
      out.note(steps(ctx, next));
    }),
  );
}

/** ` ("Nightly export", "Billing" and 3 more)`: the clients, most requests first. */
function clientsNamed(r: RuleReport): string {
  if (r.clients.length === 0) return '';
  const names = r.clients.map((c) => (c.applicationName !== null ? `"${c.applicationName}"` : (c.clientId ?? 'requests without a client')));
  return ` (${names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`})`;
}

function registerReport(rules: Command, kit: Kit): void {
  const cmd = rules
    .command('report')
    .argument('<rule-id>', RULE_ID_HELP)
    .description('Put an enforced api_requirement back to report: the calls it refuses succeed again, recorded as "would refuse"')
    .addHelpText('after', `
Only an api_requirement: the other kinds applied their change when enforced (set the property or the
application back to undo it, and add a new rule to report again). Audited as rule.report.

Example:
  latchkey rules report rule_0123456789ab
`);
  kit.common(cmd).action((id: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const rule = await reportRule(ctx, id);
      out.result(ruleJson(rule), () => para(`Rule ${rule.id} reports again: ${describeRule(rule)}.`) + para(reports(rule)));
      out.note(steps(ctx, [[['rules', 'show', rule.id], 'who it would refuse, and why']]));
    }),
  );
}

function registerDelete(rules: Command, kit: Kit): void {
  const cmd = rules
    .command('delete')
    .argument('<rule-id>', RULE_ID_HELP)
    .description('Delete a rule: a reporting one stops reporting, an enforced api_requirement stops refusing; asks first on a terminal')
    .option('--yes', 'delete without asking (for scripts; without a terminal the command refuses unless --yes is given)')
    .addHelpText('after', `
Deleting an enforced property, application or rate_limit rule does not undo its change (set it back
with \`latchkey properties set\` or \`latchkey apps update\`); only the rule goes. Its "would refuse"
records stay until they expire. Audited as rule.delete.

Example:
  latchkey rules delete rule_0123456789ab --yes
`);
  kit.common(cmd).action((id: string, opts: YesOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const current = await findRule(ctx, id);
      const effect =
        current.mode === 'report' ? 'It stops reporting.' : current.kind === 'api_requirement' ? 'It stops refusing: the calls it refuses succeed again.' : `Its change stays (${appliedBy(current).replace(/\.$/, '')}): only the rule goes.`;
      await confirmDelete(kit.io, opts.yes, `Delete rule ${current.id} (${describeRule(current)}, ${current.mode})? ${effect}`);
      const deleted = await deleteRule(ctx, current.id);
      out.result({ deleted: 'rule', id: deleted.id, kind: deleted.kind, mode: deleted.mode, summary: describeRule(deleted) }, () => para(`Deleted rule ${deleted.id} (${describeRule(deleted)}). ${effect}`));
    }),
  );
}

export function registerRules(program: Command, kit: Kit): void {
  const rules = program
    .command('rules')
    .description('Report-only rules: bring in a change that would refuse requests in report mode first, see who it would refuse and why, then enforce it in one audited step');
  registerList(rules, kit);
  registerShow(rules, kit);
  registerAdd(rules, kit);
  registerEnforce(rules, kit);
  registerReport(rules, kit);
  registerDelete(rules, kit);
}
