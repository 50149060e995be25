import type { Command } from 'commander';
import { createRole, updateRole } from '../../registry/roles.js';
import { renderRecord, renderTable } from '../table.js';
import type { CommonOptions, Kit } from './index.js';
import { registerDeletes } from './lifecycle.js';

interface DescribedOptions extends CommonOptions {
  readonly description?: string;
}

function registerList(roles: Command, kit: Kit): void {
  const cmd = roles.command('list').description('List roles and how many users carry each');
  kit.common(cmd).action((opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const [list, users] = await Promise.all([ctx.storage.roles.list(), ctx.storage.users.list()]);
      const rows = list.map((r) => ({ ...r, users: users.filter((u) => u.roles.includes(r.name)).length }));
      out.result(rows, () =>
        renderTable(['NAME', 'BUILT-IN', 'USERS', 'DESCRIPTION'], rows.map((r) => [r.name, r.builtIn, r.users, r.description || null])),
      );
    }),
  );
}

function registerCreate(roles: Command, kit: Kit): void {
  const cmd = roles
    .command('create')
    .argument('<name>', "role name: 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit")
    .description('Create a role with a description (roles are also created on first use by `users create/update --roles`)')
    .option('--description <text>', 'what the role allows (at most 500 characters)')
    .addHelpText('after', `
Example:
  latchkey roles create reporting --description "Reads the nightly reports"
  latchkey users update alice --roles reporting
`);
  kit.common(cmd).action((name: string, opts: DescribedOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const role = await createRole(ctx, name, opts.description ?? '');
      out.result(role, () => `Created role ${role.name}.\n\n${renderRecord([['Name', role.name], ['Description', role.description || null]])}`);
    }),
  );
}

function registerUpdate(roles: Command, kit: Kit): void {
  const cmd = roles
    .command('update')
    .argument('<name>', 'role name')
    .description("Change a role's description (its name is its identity: users and APIs carry it)")
    .requiredOption('--description <text>', 'the new description ("" to clear; at most 500 characters)');
  kit.common(cmd).action((name: string, opts: DescribedOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const role = await updateRole(ctx, name, opts.description ?? '');
      out.result(role, () => `Updated role ${role.name}.\n\n${renderRecord([['Name', role.name], ['Description', role.description || null]])}`);
    }),
  );
}

export function registerRoles(program: Command, kit: Kit): void {
  const roles = program
    .command('roles')
    .description('Roles carried by users (created here, or on first use by `latchkey users create/update --roles`)');
  registerCreate(roles, kit);
  registerList(roles, kit);
  registerUpdate(roles, kit);
  registerDeletes({ roles }, kit);
}
