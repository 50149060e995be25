import { Command, CommanderError } from 'commander';
import { ConfigError } from '../config/config.js';
import { RegistryError } from '../registry/errors.js';
import { ApiDefinitionError } from '../resource-server/compile.js';
import { CliError, processIO, type IO } from './context.js';
import { registerCommands } from './commands/index.js';
import { registerServe } from './commands/serve.js';

/** Builds the `latchkey` program. Every subcommand has --help; data commands have --json and --db. */
export function buildProgram(io: IO, run: (p: Promise<number>) => void): Command {
  const program = new Command('latchkey')
    .description('Latchkey: an OAuth 2.0 authorization server that explains every refusal.')
    .showHelpAfterError('(run with --help for usage)')
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .exitOverride();
  registerServe(program, io, run);
  registerCommands(program, io, run);
  program.addHelpText('after', `
Quick start:
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
export async function main(argv: readonly string[], io: IO = processIO): Promise<number> {
  let pending: Promise<number> | undefined;
  const program = buildProgram(io, (p) => {
    pending = p;
  });
  try {
    await program.parseAsync([...argv]);
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
