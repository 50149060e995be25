import type { Command } from 'commander';
import { commandLine, placeholder } from '../../core/shell.js';
import { createScope, updateScope } from '../../registry/scopes.js';
import { renderRecord, renderTable } from '../table.js';
import type { CommonOptions, Kit } from './index.js';
import { registerDeletes } from './lifecycle.js';

interface CreateOptions extends CommonOptions {
  readonly description?: string;
}

function registerCreate(scopes: Command, kit: Kit): void {
  const cmd = scopes
    .command('create')
    .argument('<name>', 'scope name (printable ASCII without spaces, \'"\' or \'\\\', RFC 6749 §3.3)')
    .description('Create an auth scope that applications may be allowed and tokens may carry')
    .option('--description <text>', 'what the scope allows')
    .addHelpText('after', `
Example:
  latchkey scopes create export.read --description "Read the nightly export"
  latchkey apps update <client-id|name> --scopes export.read
`);
  kit.common(cmd).action((name: string, opts: CreateOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const scope = await createScope(ctx, name, opts.description ?? '');
      out.result(scope, () => `Created auth scope ${scope.name}.\n\n${renderRecord([['Name', scope.name], ['Description', scope.description || null]])}`);
      out.note(`\nAllow it for an application with: ${commandLine(['apps', 'update', placeholder('client-id'), '--scopes', scope.name])}\n`);
    }),
  );
}

function registerList(scopes: Command, kit: Kit): void {
  const cmd = scopes.command('list').description(`List auth scopes (useraccount is the built-in all-access scope)`);
  kit.common(cmd).action((opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const list = await ctx.storage.scopes.list();
      out.result(list, () => renderTable(['NAME', 'BUILT-IN', 'DESCRIPTION'], list.map((s) => [s.name, s.builtIn, s.description || null])));
    }),
  );
}

function registerUpdate(scopes: Command, kit: Kit): void {
  const cmd = scopes
    .command('update')
    .argument('<name>', 'scope name')
    .description("Change a scope's description (its name is its identity: tokens carry it), shown on the consent page")
    .requiredOption('--description <text>', 'the new description ("" to clear; at most 500 characters)');
  kit.common(cmd).action((name: string, opts: CreateOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const scope = await updateScope(ctx, name, opts.description ?? '');
      out.result(scope, () => `Updated auth scope ${scope.name}.\n\n${renderRecord([['Name', scope.name], ['Description', scope.description || null]])}`);
    }),
  );
}

export function registerScopes(program: Command, kit: Kit): void {
  const scopes = program.command('scopes').description('Manage auth scopes');
  registerCreate(scopes, kit);
  registerList(scopes, kit);
  registerUpdate(scopes, kit);
  registerDeletes({ scopes }, kit);
}
