import { createInterface } from 'node:readline/promises';
import { existsSync } from 'node:fs';
import { systemClock, type Clock } from '../core/clock.js';
import { DEFAULT_DB, parseDbLocation, resolveDb } from '../config/config.js';
import { parseDuration } from '../core/duration.js';
import { commandLine } from '../core/shell.js';
import { cliActor } from '../audit/log.js';
import { bootstrap } from '../registry/bootstrap.js';
import { openStorage } from '../storage/open.js';
import { BUILT_IN_GRANTS } from '../grants/index.js';
import type { GrantModule } from '../grants/types.js';
import type { Storage } from '../storage/types.js';
import { LatchkeyError } from '../errors/base.js';

/** What a CLI command works with. */
export interface CliContext {
  readonly storage: Storage;
  /** The database location the command opened (--db, LATCHKEY_DB or the default), as `serve` takes it. */
  readonly db: string;
  readonly clock: Clock;
  /** Who the audit log says made the changes: `cli:<os user>` (src/audit/log.ts). */
  readonly actor: string;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** The grant catalogue: the built-in grants plus those of --grant-module / LATCHKEY_GRANTS. */
  readonly grants: readonly GrantModule[];
}

/** --grant-module, which every command takes (main.ts reads it before the commands are built). */
export const GRANT_MODULE_HELP = 'ES module whose default export (or grants export) is an array of grant modules added to the built-in grants (env LATCHKEY_GRANTS)';

export interface IO {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Reads all of standard input (for --password-stdin). */
  readonly readStdin: () => Promise<string>;
  /** Whether standard input is a terminal a person answers at (confirmations); absent: not one. */
  readonly interactive?: boolean;
  /** Writes `question` to standard error and reads one line of standard input (without the newline). */
  readonly askLine?: (question: string) => Promise<string>;
}

export const processIO: IO = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  get interactive() {
    return process.stdin.isTTY === true;
  },
  askLine: async (question) => {
    // The question goes to stderr, so `--json` output on stdout stays machine-readable.
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: process.stdin.isTTY === true });
    try {
      return await rl.question(question);
    } finally {
      rl.close();
    }
  },
};

/**
 * Asks before a change that refuses or removes something: nothing with --yes; on a terminal,
 * `question` and "[y/N]" (anything but y or yes stops, exit 1); elsewhere (a script, a pipe, CI)
 * it refuses with exit 2, saying to pass --yes, and never waits for an answer. `words` says what
 * did not happen (`deleted`) and what --yes does (`delete`).
 */
export async function confirmChange(io: IO, yes: boolean | undefined, question: string, words: { readonly done: string; readonly verb: string }): Promise<void> {
  if (yes === true) return;
  if (io.interactive !== true || io.askLine === undefined) {
    throw new CliError(`${question} Standard input is not a terminal, so nobody can answer and nothing was ${words.done}: pass --yes to ${words.verb} without asking.`, 2);
  }
  const answer = (await io.askLine(`${question} [y/N] `)).trim().toLowerCase();
  if (answer !== 'y' && answer !== 'yes') throw new CliError(`Nothing was ${words.done}.`, 1);
}

/** Asks before a delete, as {@link confirmChange}. */
export async function confirmDelete(io: IO, yes: boolean | undefined, question: string): Promise<void> {
  return confirmChange(io, yes, question, { done: 'deleted', verb: 'delete' });
}

/** A failure the CLI reports as `latchkey: <message>` with exit code 1 (2 for usage errors). */
export class CliError extends LatchkeyError {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super('CliError', message);
  }
}

/** Where the database location came from, for messages: the flag, the environment or the default. */
export function dbSource(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  if (flag !== undefined) return '--db';
  if (env.LATCHKEY_DB !== undefined) return 'LATCHKEY_DB';
  return `the default, ${DEFAULT_DB} in ${process.cwd()}`;
}

/**
 * Only `latchkey serve` and `latchkey init` create a database: any other command on a SQLite file
 * that is not there (a command run in the wrong folder, a mistyped --db) stops here, naming the
 * file it looked for and how to point at the right one, instead of answering from a new, empty
 * instance with a new admin password.
 */
export function requireExistingDatabase(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const db = resolveDb(flag, env);
  const location = parseDbLocation(db);
  if (location.kind === 'sqlite' && location.path !== ':memory:' && !existsSync(location.path)) {
    throw new CliError(
      `There is no Latchkey database at ${location.path} (from ${dbSource(flag, env)}).\n` +
        'Point at the instance\'s database with --db <file or postgres:// URL> (before or after the command) or the LATCHKEY_DB environment variable,\n' +
        `or create a new instance there with: ${commandLine(['init', '--db', location.path])}`,
    );
  }
  return db;
}

/**
 * Opens the existing database named by --db / LATCHKEY_DB (default ./data/latchkey.db), puts the
 * built-ins in place, runs the command, and closes the database. Commands write to the same
 * database the server reads; the server sees the change within one poll interval.
 */
export async function withStorage<T>(flag: string | undefined, io: IO, run: (ctx: CliContext) => Promise<T>, grants: readonly GrantModule[] = BUILT_IN_GRANTS): Promise<T> {
  const db = requireExistingDatabase(flag);
  const storage = await openStorage(db);
  try {
    const ctx: CliContext = { storage, db, clock: systemClock, actor: cliActor(), out: io.out, err: io.err, grants };
    await bootstrap(ctx, process.env.LATCHKEY_ADMIN_PASSWORD || undefined).then((r) => {
      if (r.generatedAdminPassword !== undefined) {
        io.err(`Created the admin user with the generated password: ${r.generatedAdminPassword}\n(shown once; change it with \`latchkey users update admin --password-stdin\`)\n`);
      }
    });
    return await run(ctx);
  } finally {
    await storage.close();
  }
}

/** Reads a password from standard input (first line, without the newline). */
export async function readPassword(io: IO): Promise<string> {
  const text = await io.readStdin();
  const line = text.split(/\r?\n/)[0] ?? '';
  if (line === '') throw new CliError('--password-stdin was given but standard input was empty. Pipe the password in, for example: printf %s "$PW" | latchkey …');
  return line;
}

export function parseBool(name: string, raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (v === 'true' || v === 'yes' || v === '1') return true;
  if (v === 'false' || v === 'no' || v === '0') return false;
  throw new CliError(`${name} takes true or false (got "${raw}").`, 2);
}

export function parseList(raw: string | undefined): string[] | undefined {
  return raw === undefined ? undefined : raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** A duration flag (core/duration.ts: `30m`, `12h`, `1h30m`; a bare number is refused) in whole seconds. */
export function parseDurationFlag(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const parsed = parseDuration(name, raw);
  if (!parsed.ok) throw new CliError(parsed.message, 2);
  return parsed.seconds;
}
