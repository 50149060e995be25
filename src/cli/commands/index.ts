import type { Command } from 'commander';
import type { GrantModule } from '../../grants/types.js';
import { isoTimesReplacer } from '../../core/timestamps.js';
import { withStorage, type CliContext, type IO } from '../context.js';
import { registerApis } from './apis.js';
import { registerApps } from './apps.js';
import { registerAudit } from './audit.js';
import { registerConfigAsCode } from './config-as-code.js';
import { registerDoctor } from './doctor.js';
import { registerInspect } from './inspect.js';
import { registerExplain } from './explain.js';
import { registerExchange } from './exchange.js';
import { registerDevices } from './devices.js';
import { registerKeys } from './keys.js';
import { registerIdps } from './idps.js';
import { registerInit } from './init.js';
import { registerMigrateDb } from './migrate-db.js';
import { registerMetrics } from './metrics.js';
import { registerProperties } from './properties.js';
import { registerReasons } from './reasons.js';
import { registerRegistration } from './registration.js';
import { registerRoles } from './roles.js';
import { registerRules } from './rules.js';
import { registerScopes } from './scopes.js';
import { registerResources } from './resources.js';
import { registerTokens } from './tokens.js';
import { registerUsers } from './users.js';
import { registerLogin } from './login.js';

/** Options every data command takes. */
export interface CommonOptions {
  readonly json?: boolean;
  readonly db?: string;
}

/** How a command writes: results to stdout (JSON with --json), warnings to stderr. */
export interface Output {
  readonly json: boolean;
  /** With --json, `value` as JSON and nothing else; otherwise the text. */
  result(value: unknown, text: string | (() => string)): void;
  /** Human guidance (next steps); suppressed with --json so stdout stays machine-readable. */
  note(text: string): void;
  /** A non-fatal problem, always on stderr. */
  warn(text: string): void;
}

/** What the command modules get from the registry: the IO and the way to run an action. */
export interface Kit {
  readonly io: IO;
  /** The grant catalogue (built-ins plus --grant-module): what help texts and the registry read. */
  readonly grants: readonly GrantModule[];
  /** Adds --json and --db to a command. */
  common(cmd: Command): Command;
  /** The --db a command was given, after its name or before it (`latchkey --db x apps list`). */
  db(opts: CommonOptions): string | undefined;
  /** Opens the database named by --db, runs `body`, and hands its exit code (default 0) to main. */
  withDb(opts: CommonOptions, body: (ctx: CliContext, out: Output) => Promise<number | void>): void;
  /** Runs `body` without a database. */
  plain(opts: CommonOptions, body: (out: Output) => Promise<number | void>): void;
}

export const DB_HELP = 'SQLite file or postgres:// URL (env LATCHKEY_DB, default ./data/latchkey.db); also accepted before the command';

function makeOutput(io: IO, json: boolean): Output {
  return {
    json,
    result(value, text) {
      // Times as ISO 8601 text, as the admin API writes them (core/timestamps.ts), whichever command built the value.
      if (json) io.out(`${JSON.stringify(value, isoTimesReplacer, 2)}\n`);
      else io.out(typeof text === 'function' ? text() : text);
    },
    note(text) {
      if (!json) io.out(text);
    },
    warn(text) {
      io.err(`warning: ${text}\n`);
    },
  };
}

/**
 * The --db given to the program (main.ts defines it on the program too): commander hands a
 * program option to the program wherever it appears, before or after the command's name.
 */
export function programDb(program: Command, opts: CommonOptions): string | undefined {
  return opts.db ?? (program.opts() as CommonOptions).db;
}

function makeKit(program: Command, io: IO, run: (p: Promise<number>) => void, grants: readonly GrantModule[]): Kit {
  return {
    io,
    grants,
    common: (cmd) => cmd.option('--json', 'print machine-readable JSON').option('--db <location>', DB_HELP),
    db: (opts) => programDb(program, opts),
    withDb(opts, body) {
      const out = makeOutput(io, opts.json === true);
      run(withStorage(programDb(program, opts), io, async (ctx) => (await body(ctx, out)) ?? 0, grants));
    },
    plain(opts, body) {
      const out = makeOutput(io, opts.json === true);
      run(body(out).then((code) => code ?? 0));
    },
  };
}

/** Registers the registry, token and diagnostics commands. */
export function registerCommands(program: Command, io: IO, run: (p: Promise<number>) => void, grants: readonly GrantModule[]): void {
  const kit = makeKit(program, io, run, grants);
  registerInit(program, kit);
  registerUsers(program, kit);
  registerRoles(program, kit);
  registerScopes(program, kit);
  registerResources(program, kit);
  registerApps(program, kit);
  registerIdps(program, kit);
  registerProperties(program, kit);
  registerApis(program, kit);
  registerRules(program, kit);
  registerRegistration(program, kit);
  registerExchange(program, kit);
  registerDevices(program, kit);
  registerTokens(program, kit);
  registerKeys(program, kit);
  registerExplain(program, kit);
  registerReasons(program, kit);
  registerDoctor(program, kit);
  registerInspect(program, kit);
  registerMigrateDb(program, kit);
  registerAudit(program, kit);
  registerConfigAsCode(program, kit);
  registerMetrics(program, kit);
  registerLogin(program, kit);
}
