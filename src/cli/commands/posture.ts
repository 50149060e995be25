import type { Command } from 'commander';
import { buildPosture, type ApplicationPosture, type Counts, type PostureReport } from '../../diagnostics/posture.js';
import { findApplication } from '../../registry/applications.js';
import { renderTable, terminalWidth, wrap } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

interface PostureOptions extends CommonOptions {
  readonly app?: string;
}

const day = (ms: number | null) => (ms === null ? 'never' : new Date(ms).toISOString().slice(0, 10));
const pair = (c: Counts) => `${c.last7Days}/${c.last30Days}`;
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const STRENGTH_TEXT = { none: 'none', secret: 'secret', private_key_jwt: 'private key' } as const;

function lastUse(a: ApplicationPosture): string {
  if (a.lastUseAt === null) return 'never';
  return a.idleDays === 0 ? 'today' : `${a.idleDays} d ago`;
}

function findingsCell(a: ApplicationPosture): string {
  if (!a.active) return 'inactive';
  if (a.worst === null) return 'ok';
  return `${a.worst} (${a.findings.length})`;
}

function secretCell(a: ApplicationPosture): string {
  if (a.secret === null) return 'none';
  return `${a.secret.ageDays} d${a.secret.rotationDue ? ' due' : ''}`;
}

/**
 * The report as `latchkey apps posture` prints it: one row per application (narrow enough for an
 * 80-column terminal: the client ids are in the fixes), then every finding worst first with its
 * fix, each command on a line of its own to paste.
 */
export function postureText(r: PostureReport, width = terminalWidth()): string {
  // Prose wraps to the terminal under its indent; a command stays on one line, to paste whole.
  const para = (text: string, indent: string) => `${wrap(text, Math.max(20, width - indent.length)).map((l) => indent + l).join('\n')}\n`;
  const counting = r.countingStartedAt === null ? 'no use counted yet, so no application is called dormant' : `use counted since ${day(r.countingStartedAt)}`;
  const rotation = r.rotationDays > 0 ? `secrets due after ${r.rotationDays} days (latchkey.secrets.rotation_days)` : 'secret rotation not checked (latchkey.secrets.rotation_days is 0)';
  const head = `${para(`${plural(r.applications.length, 'application')}, worst first. Dormant after ${r.dormantDays} days without use (latchkey.posture.dormant_days); ${rotation}; ${counting}. TOKENS, CALLS and REFUSED: last 7 days / last 30 days.`, '')}\n`;
  const table = renderTable(
    ['APPLICATION', 'LAST USE', 'TOKENS', 'CALLS', 'REFUSED', 'SECRET', 'AUTH', 'FINDINGS'],
    r.applications.map((a) => [a.name, lastUse(a), pair(a.tokens), pair(a.calls), pair(a.refusals), secretCell(a), STRENGTH_TEXT[a.authentication.strength], findingsCell(a)]),
  );
  const fixes: string[] = [];
  for (const a of r.applications) {
    for (const f of a.findings) {
      fixes.push(`${para(`${fixes.length + 1}. [${f.severity}] ${f.id}: ${a.name} (${a.clientId})`, '')}${para(f.detail, '   ')}${para(`Fix: ${f.fix}`, '   ')}${f.command === undefined ? '' : `   ${f.command}\n`}`);
    }
  }
  const count = (s: string) => r.applications.reduce((n, a) => n + a.findings.filter((f) => f.severity === s).length, 0);
  const summary = `${plural(count('error'), 'error')}, ${plural(count('warning'), 'warning')}, ${plural(count('info'), 'note')}.\n`;
  return `${head}${table}${fixes.length === 0 ? '\nNothing to fix.\n' : `\nFindings, worst first:\n${fixes.join('')}\n${summary}`}`;
}

export function registerPosture(apps: Command, kit: Kit): void {
  const cmd = apps
    .command('posture')
    .description("Every application's posture: last use, tokens, calls and refusals over 7 and 30 days, secret age, authentication strength, all-access and unused scopes, dormancy and the report-only rules it would break, each finding with its fix")
    .option('--app <client-id|name>', "only this application (its client id, or its name when no other application has it)")
    .addHelpText('after', `
Findings (worst first): dormant (no use for latchkey.posture.dormant_days, default 30), would_refuse (a report-only
rule would refuse its requests), all_access_scope (useraccount), secret_rotation_due (latchkey.secrets.rotation_days),
refused (refusals in 7 days), scopes_unused (allowed scopes no token carried and no API call needed in 30 days),
weak_authentication (client_credentials with a secret only: none < secret < private_key_jwt). Each names the command
that fixes it (or explains the request to fix). Use is counted per application and UTC day by every instance and
kept 90 days. See docs/posture.md.

Examples:
  latchkey apps posture
  latchkey apps posture --app "Nightly export"
  latchkey apps posture --json | jq '.applications[] | select(.dormant) | .clientId'
`);
  kit.common(cmd).action((opts: PostureOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const only = opts.app === undefined ? undefined : await findApplication(ctx, opts.app);
      const report = await buildPosture({ storage: ctx.storage, clock: ctx.clock }, only);
      out.result(report, () => postureText(report));
    }),
  );
}
