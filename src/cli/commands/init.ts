import { existsSync } from 'node:fs';
import type { Command } from 'commander';
import { parseDbLocation, resolveDb } from '../../config/config.js';
import { systemClock } from '../../core/clock.js';
import { commandLine } from '../../core/shell.js';
import { ADMIN_USER, bootstrap } from '../../registry/bootstrap.js';
import { openStorage } from '../../storage/open.js';
import { describePostgresUrl } from '../../storage/postgres/errors.js';
import { dbArguments, quickStartCommands } from '../next-steps.js';
import type { CommonOptions, Kit, Output } from './index.js';

/** What `init` did, as `--json` prints it. */
export interface InitResult {
  /** The SQLite file, or user@host:port/database (never a password). */
  readonly db: string;
  readonly kind: 'sqlite' | 'postgres';
  /** False when there already was an instance there: then nothing was changed. */
  readonly created: boolean;
  readonly adminUser: string | null;
  /** The generated admin password, shown only this once; null when LATCHKEY_ADMIN_PASSWORD chose it, or nothing was created. */
  readonly adminPassword: string | null;
}

function where(db: string): { readonly text: string; readonly kind: 'sqlite' | 'postgres'; readonly file: string | undefined } {
  const location = parseDbLocation(db);
  return location.kind === 'sqlite' ? { text: location.path, kind: 'sqlite', file: location.path === ':memory:' ? undefined : location.path } : { text: describePostgresUrl(location.url), kind: 'postgres', file: undefined };
}

function existing(out: Output, db: string, result: InitResult): number {
  const { flag } = dbArguments(db);
  out.result(result, `There is already a Latchkey database at ${result.db}; nothing was changed.\nStart it with: npx latchkey serve${flag}\nCheck its configuration with: npx latchkey doctor${flag}\n`);
  return 0;
}

function created(out: Output, db: string, result: InitResult): number {
  const { flag } = dbArguments(db);
  const password =
    result.adminPassword === null
      ? `The admin user's password is the one in LATCHKEY_ADMIN_PASSWORD.\n`
      : `The admin user's generated password, shown only this once:\n\n    ${result.adminPassword}\n\nChange it with: printf %s "$NEW_PASSWORD" | ${commandLine(['users', 'update', ADMIN_USER, '--password-stdin'])}${flag}\n`;
  const next = ['Next steps:', `  npx latchkey serve${flag}    # start the server on http://localhost:8080`, ...quickStartCommands(db)].join('\n');
  out.result(result, `Created a new Latchkey instance at ${result.db} (${result.kind}).\n\n${password}\n${next}\n`);
  return 0;
}

/**
 * Creates a database (SQLite file, or the tables in an empty PostgreSQL database), applies the
 * migrations and puts the built-ins and the admin user in place. An existing instance is left as
 * it is.
 */
export async function init(flag: string | undefined, out: Output): Promise<number> {
  const db = resolveDb(flag);
  const place = where(db);
  const none: InitResult = { db: place.text, kind: place.kind, created: false, adminUser: null, adminPassword: null };
  // Opening a SQLite file migrates it: an existing file is not even opened.
  if (place.file !== undefined && existsSync(place.file)) return existing(out, db, none);
  const storage = await openStorage(db);
  try {
    if ((await storage.users.list()).length > 0) return existing(out, db, none);
    const boot = await bootstrap({ storage, clock: systemClock }, process.env.LATCHKEY_ADMIN_PASSWORD || undefined);
    if (!boot.createdAdmin) return existing(out, db, none);
    return created(out, db, { ...none, created: true, adminUser: ADMIN_USER, adminPassword: boot.generatedAdminPassword ?? null });
  } finally {
    await storage.close();
  }
}

export function registerInit(program: Command, kit: Kit): void {
  const cmd = program
    .command('init')
    .description('Create a new instance: the database, its tables, the built-ins and the admin user (prints the admin password once). Only init and serve create a database')
    .addHelpText('after', `
On a database that already holds an instance, init says so and changes nothing (exit 0).
Set LATCHKEY_ADMIN_PASSWORD beforehand to choose the admin password instead of a generated one.
Every other command refuses a SQLite file that does not exist, so a mistyped --db or the wrong
folder never starts a second, empty instance.

Examples:
  latchkey init                                  # ./data/latchkey.db
  latchkey init --db /var/lib/latchkey/latchkey.db --json
  LATCHKEY_ADMIN_PASSWORD="$PW" latchkey init --db postgres://latchkey@db.internal:5432/latchkey
`);
  kit.common(cmd).action((opts: CommonOptions) => kit.plain(opts, (out) => init(kit.db(opts), out)));
}
