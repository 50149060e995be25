import type { Command } from 'commander';
import { renderTable } from '../table.js';
import type { CommonOptions, Kit } from './index.js';

export function registerRoles(program: Command, kit: Kit): void {
  const roles = program
    .command('roles')
    .description('Roles carried by users (created on first use by `latchkey users create/update --roles`)');
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
