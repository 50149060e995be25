import type { Command } from 'commander';
import { changedFields, type FieldChange } from '../../audit/log.js';
import type { AuditEntry } from '../../domain/model.js';
import { DURATION_SYNTAX, formatDuration } from '../../core/duration.js';
import { CliError, parseDurationFlag } from '../context.js';
import { isoTime, renderTable } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

interface AuditOptions extends CommonOptions {
  readonly since?: string;
  readonly target?: string;
  readonly action?: string;
  readonly limit?: string;
}

/** Bookkeeping fields left out of the CHANGES column (they are in --json). */
const QUIET_FIELDS: ReadonlySet<string> = new Set(['id', 'createdAt', 'updatedAt']);

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return 100;
  if (!/^\d+$/.test(raw) || Number(raw) < 1) throw new CliError(`--limit takes a positive whole number (got "${raw}").`, 2);
  return Number(raw);
}

function compact(value: unknown, field = ''): string {
  if (value === undefined || value === null) return '-';
  if (typeof value === 'number' && /At$/.test(field)) return isoTime(value) ?? '-';
  if (typeof value === 'number' && /Lifespan$/.test(field)) return formatDuration(value);
  if (Array.isArray(value)) return value.length === 0 ? '[]' : value.map((v) => compact(v)).join(',');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** `field: before→after; …` for a change, `field=value; …` for a creation, `deleted` for a deletion. */
export function describeChanges(entry: Pick<AuditEntry, 'before' | 'after'>): string {
  if (entry.after === null) return 'deleted';
  const fields = changedFields(entry).filter((c: FieldChange) => !QUIET_FIELDS.has(c.field));
  if (entry.before === null) return fields.map((c) => `${c.field}=${compact(c.after, c.field)}`).join('; ') || 'created';
  return fields.map((c) => `${c.field}: ${compact(c.before, c.field)}→${compact(c.after, c.field)}`).join('; ') || '(no change)';
}

function parseJson(text: string | null): unknown {
  if (text === null) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

export function registerAudit(program: Command, kit: Kit): void {
  const cmd = program
    .command('audit')
    .description('Show the audit log, newest first: who changed what (applications, users, roles, scopes, properties, keys, identity providers, token revocations), before and after')
    .option('--since <duration>', `only entries from this long ago: ${DURATION_SYNTAX}`)
    .option('--target <name>', 'only entries about this client id, user name, property name, key id or token handle (tk_…)')
    .option('--action <action>', 'only this action, e.g. application.update, property.set, token.revoke')
    .option('--limit <n>', 'at most this many entries (default 100)')
    .addHelpText('after', `
Secrets never appear: a rotated client secret or a changed password shows as "secret: set→rotated"
or "password: set→changed"; hashes are not stored in the log.

Examples:
  latchkey audit --since 1d
  latchkey audit --target <client-id> --json
`);
  kit.common(cmd).action((opts: AuditOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const since = opts.since === undefined ? undefined : ctx.clock.now() - (parseDurationFlag('--since', opts.since) ?? 0) * 1000;
      const entries = await ctx.storage.audit.list({ since, target: opts.target, action: opts.action, limit: parseLimit(opts.limit) });
      const views = entries.map((e) => ({
        id: e.id,
        at: isoTime(e.at),
        actor: e.actor,
        action: e.action,
        target: e.target,
        before: parseJson(e.before),
        after: parseJson(e.after),
        changes: describeChanges(e),
      }));
      out.result(views, () =>
        renderTable(['WHEN', 'ACTOR', 'ACTION', 'TARGET', 'CHANGES'], views.map((v) => [v.at, v.actor, v.action, v.target, v.changes])),
      );
    }),
  );
}
