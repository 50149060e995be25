import { readFileSync } from 'node:fs';
import { Argument, Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config.js';
import { RegistryError } from '../registry/errors.js';
import { ApiDefinitionError } from '../resource-server/compile.js';
import { BUILT_IN_GRANTS } from '../grants/index.js';
import { grantCatalogue } from './grant-modules.js';
import type { GrantModule } from '../grants/types.js';
import { CliError, GRANT_MODULE_HELP, processIO, type IO } from './context.js';
import { DB_HELP, registerCommands } from './commands/index.js';
import { completionScript, SHELLS, type Shell } from './completion.js';
import { registerServe } from './commands/serve.js';

/** The version in package.json (dist/src/cli/main.js is three folders below it). */
export function latchkeyVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

/** `latchkey completion bash|zsh|fish`: a script generated from this very program's commands and options. */
function registerCompletion(program: Command, io: IO): void {
  program
    .command('completion')
    .description('Print a shell completion script (commands, subcommands and options) for bash, zsh or fish')
    .addArgument(new Argument('<shell>', 'bash, zsh or fish').choices(SHELLS))
    .addHelpText('after', `
Install:
  bash: echo 'source <(latchkey completion bash)' >> ~/.bashrc
  zsh:  latchkey completion zsh > "\${fpath[1]}/_latchkey"     (then restart zsh; compinit must be on)
  fish: latchkey completion fish > ~/.config/fish/completions/latchkey.fish
Commands from --grant-module / LATCHKEY_GRANTS show up too when given here.
`)
    .action((shell: Shell) => io.out(completionScript(program, shell)));
}

/** Builds the `latchkey` program. Every subcommand has --help; data commands have --json and --db. */
export function buildProgram(io: IO, run: (p: Promise<number>) => void, grants: readonly GrantModule[] = BUILT_IN_GRANTS): Command {
  const program = new Command('latchkey')
    .description('Latchkey: an OAuth 2.0 authorization server that explains every refusal.')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .version(latchkeyVersion(), '-V, --version', 'print the version of Latchkey')
    // Before or after the command: `latchkey --db x apps list` is `latchkey apps list --db x`.
    .option('--db <location>', DB_HELP)
    .option('--grant-module <file>', GRANT_MODULE_HELP)
    .exitOverride();
  registerServe(program, io, run, grants);
  registerCommands(program, io, run, grants);
  registerCompletion(program, io);
  program.addHelpText('after', `
Quick start:
  latchkey init                                     # a new instance in ./data (or: npm start, which also creates it)
  npm start                                         # server on http://localhost:8080
  latchkey users create svc-integration --roles itil
  latchkey apps create --name "Nightly export" --grants client_credentials --app-user svc-integration
  latchkey properties set glide.oauth.inbound.client.credential.grant_type.enabled true
  latchkey explain <request-id>                     # why was a request refused?
`);
  return program;
}

function describe(error: unknown): { message: string; code: number } {
  if (error instanceof CliError) return { message: error.message, code: error.exitCode };
  if (error instanceof RegistryError) return { message: error.message, code: 1 };
  if (error instanceof ConfigError) return { message: error.message, code: 1 };
  if (error instanceof ApiDefinitionError) return { message: `cannot start: ${error.message}`, code: 1 };
  return { message: error instanceof Error ? error.message : String(error), code: 1 };
}

/** Runs the CLI; resolves to the process exit code. */
/**
 * Takes --grant-module <file> (or --grant-module=<file>) out of the arguments, wherever it is:
 * the grants must be loaded before the commands (their help texts list the grants) are built.
 */
export function takeGrantModule(argv: readonly string[]): { readonly argv: string[]; readonly file: string | undefined } {
  const rest: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--grant-module' && i + 1 < argv.length) file = argv[++i];
    else if (a.startsWith('--grant-module=')) file = a.slice('--grant-module='.length);
    else rest.push(a);
  }
  return { argv: rest, file };
}

export async function main(argv: readonly string[], io: IO = processIO): Promise<number> {
  let pending: Promise<number> | undefined;
  try {
    const taken = takeGrantModule(argv);
    const program = buildProgram(io, (p) => {
      pending = p;
    }, await grantCatalogue(taken.file));
    await program.parseAsync(taken.argv);
    return pending === undefined ? 0 : await pending;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version are "errors" that exit 0 in commander's model.
      return error.exitCode === 0 ? 0 : 2;
    }
    const { message, code } = describe(error);
    io.err(`latchkey: ${message}\n`);
    return code;
  }
}
