import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDbLocation } from '../../config/config.js';
import { copyStorage, CopyFailedError, NOT_COPIED, TargetNotEmptyError, type TableCopy } from '../../storage/copy.js';
import { openStorage } from '../../storage/open.js';
import { describePostgresUrl } from '../../storage/postgres/errors.js';
import type { Storage } from '../../storage/types.js';
import { CliError } from '../context.js';
import { renderTable } from '../table.js';
import type { Kit } from './index.js';

interface MigrateOptions {
  readonly from?: string;
  readonly to?: string;
  readonly json?: boolean;
}

/** A location for messages: the file, or user@host:port/database (never a password). */
function describe(db: string): string {
  const location = parseDbLocation(db);
  return location.kind === 'sqlite' ? location.path : describePostgresUrl(location.url);
}

/** The same database named twice (the same file, or the same server, port, database and schema options). */
function sameDatabase(a: string, b: string): boolean {
  const la = parseDbLocation(a);
  const lb = parseDbLocation(b);
  if (la.kind === 'sqlite' && lb.kind === 'sqlite') return la.path === lb.path && la.path !== ':memory:';
  if (la.kind === 'postgres' && lb.kind === 'postgres') {
    const strip = (u: string): string => {
      const url = new URL(u);
      url.password = '';
      return url.toString();
    };
    try {
      return strip(la.url) === strip(lb.url);
    } catch {
      return false;
    }
  }
  return false;
}

function progressLine(t: TableCopy, done: boolean): string {
  const skipped = t.skipped > 0 ? `, ${t.skipped} skipped (${t.note})` : '';
  return `${t.table}: ${t.copied} of ${t.source} copied${skipped}${done ? '' : ' …'}\n`;
}

async function migrate(opts: MigrateOptions, kit: Kit, json: boolean): Promise<number> {
  if (opts.from === undefined || opts.to === undefined) throw new CliError('migrate-db needs both --from <db> and --to <db>.', 2);
  if (sameDatabase(opts.from, opts.to)) throw new CliError('--from and --to name the same database; give a different target.', 2);
  const from = parseDbLocation(opts.from);
  // Opening a missing SQLite file would create an empty one and "migrate" nothing.
  if (from.kind === 'sqlite' && from.path !== ':memory:' && !existsSync(from.path)) {
    throw new CliError(`There is no SQLite database at ${from.path}. Check --from (the file \`latchkey serve\` used; default ./data/latchkey.db).`);
  }
  const started = Date.now();
  const source = await openStorage(opts.from);
  let target: Storage;
  try {
    target = await openStorage(opts.to);
  } catch (error) {
    await source.close();
    throw error;
  }
  kit.io.err(`Copying ${describe(opts.from)} (${source.kind}) to ${describe(opts.to)} (${target.kind}).\n`);
  let tables: TableCopy[];
  try {
    tables = await copyStorage(source, target, {
      now: started,
      onProgress: (t, done) => {
        // Tokens and refusals report every 10 pages (and at the end); the small tables once.
        if (done || t.source % 10_000 === 0) kit.io.err(progressLine(t, done));
      },
    });
  } catch (error) {
    if (error instanceof TargetNotEmptyError) throw new CliError(error.message);
    if (error instanceof CopyFailedError) {
      const sofar = error.tables.map((t) => `${t.table} ${t.copied}`).join(', ');
      throw new CliError(
        `The migration stopped while copying ${error.table} (copied so far: ${sofar}): ${(error.cause as Error | undefined)?.message ?? String(error.cause)}. ` +
          'The source was not changed. The target now holds a partial copy, which migrate-db will refuse: drop and re-create the target ' +
          '(for PostgreSQL: dropdb <name> && createdb <name>), fix the cause, and run the same command again.',
      );
    }
    throw error;
  } finally {
    await Promise.allSettled([source.close(), target.close()]);
  }
  const summary = { from: describe(opts.from), to: describe(opts.to), tables, notCopied: NOT_COPIED, durationMs: Date.now() - started };
  if (json) {
    kit.io.out(`${JSON.stringify(summary, null, 2)}\n`);
  } else {
    kit.io.out(renderTable(['TABLE', 'IN SOURCE', 'COPIED', 'SKIPPED', 'NOTE'], tables.map((t) => [t.table, t.source, t.copied, t.skipped, t.note || null])));
    kit.io.out(`\nNot copied, being short-lived:\n${NOT_COPIED.map((n) => `  - ${n.what}: ${n.why}\n`).join('')}`);
    kit.io.out(`\nDone in ${(summary.durationMs / 1000).toFixed(1)} s. Start Latchkey with --db (or LATCHKEY_DB) set to the target; clients keep their secrets and tokens.\n`);
  }
  return 0;
}

export function registerMigrateDb(program: Command, kit: Kit): void {
  program
    .command('migrate-db')
    .description('Copy everything from one database to another, for example from SQLite to PostgreSQL (the target must be empty)')
    .requiredOption('--from <db>', 'the database to copy: SQLite file or postgres:// URL (its data is only read)')
    .requiredOption('--to <db>', 'the empty database to copy into: SQLite file or postgres:// URL')
    .option('--json', 'print the summary as JSON')
    .addHelpText('after', `
Copies roles, scopes, users (with password hashes), applications (with secret hashes and public
keys), properties, signing keys (still encrypted: give the target's instances the same
key-encryption key), identity providers, every token that has not expired (active, rotated and
revoked, so refresh-token reuse detection survives) and the refusal records. Expired tokens are left
behind, and so are the short-lived authorization codes (a sign-in in progress starts over) and the
one-time ids of client assertions. Progress goes to standard error.

Stop the instances that use the source first: tokens issued during the copy would be missed.
The target must be empty. It may hold only what a first start of Latchkey creates there: the
built-in role admin, the built-in scope useraccount, the user admin if the source has a user
admin too (the source's admin, with its password, then replaces it), and a signing key (retired:
the source's keys take over). If the copy fails part-way,
the source is unchanged; re-create the target and run the command again.

Example:
  createdb latchkey
  latchkey migrate-db --from ./data/latchkey.db --to postgres://latchkey:secret@db.internal:5432/latchkey

See docs/migrate-to-postgres.md.
`)
    .action((opts: MigrateOptions) =>
      kit.plain(opts, (out) => {
        // --db is a program option (accepted anywhere); here it would be ambiguous.
        if (kit.db({}) !== undefined) throw new CliError('migrate-db takes --from <db> and --to <db>, not --db.', 2);
        return migrate(opts, kit, out.json);
      }),
    );
}
