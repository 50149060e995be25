/**
 * Deleting things: `apps delete`, `users delete`, `scopes delete`, `roles delete`. Each names what
 * it ends (tokens revoked, sessions ended, applications or users changed), asks first on a terminal
 * (`--yes` for scripts; without a terminal and without --yes it refuses, exit 2), and leaves the
 * checks to the registry (src/registry/): a delete that would leave something dangling is refused
 * with the dependants named, or done with --cascade where that is meaningful.
 */
import type { Command } from 'commander';
import { deleteApplication } from '../../registry/applications.js';
import { deleteRole } from '../../registry/roles.js';
import { deleteScope } from '../../registry/scopes.js';
import { deleteUser } from '../../registry/users.js';
import { apiRequirements } from '../../resource-server/requirements.js';
import { confirmDelete, type CliContext } from '../context.js';
import { APIS_HELP, loadApisFor } from './doctor.js';
import type { CommonOptions, Kit } from './index.js';

interface DeleteOptions extends CommonOptions {
  readonly yes?: boolean;
}
interface CascadeOptions extends DeleteOptions {
  readonly cascade?: boolean;
  readonly apis?: string;
}

const YES_HELP = 'delete without asking (for scripts; without a terminal the command refuses unless --yes is given)';
/** Counting stops here: a prompt says "10000 or more". */
const COUNT_LIMIT = 10_000;

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;
const counted = (n: number, one: string): string => (n >= COUNT_LIMIT ? `${COUNT_LIMIT} or more ${one}s` : plural(n, one));

async function activeTokens(ctx: CliContext, owner: { applicationId?: string; userId?: string }): Promise<number> {
  return (await ctx.storage.tokens.list({ ...owner, activeOnly: true, now: ctx.clock.now(), limit: COUNT_LIMIT })).length;
}

function listed(names: readonly string[]): string {
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`;
}

function registerAppsDelete(apps: Command, kit: Kit): void {
  const cmd = apps
    .command('delete')
    .argument('<client-id|name>', "the application's client id, or its name when no other application has it")
    .description('Delete an application: every token issued to it is revoked first, on every instance; asks first on a terminal')
    .option('--yes', YES_HELP)
    .addHelpText('after', `
The built-in console application cannot be deleted. Audited as application.delete.

Examples:
  latchkey apps delete "Nightly export"
  latchkey apps delete 5f0c9d1e2a3b4c5d6e7f8091a2b3c4d5 --yes --json
`);
  kit.common(cmd).action((ref: string, opts: DeleteOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const deleted = await deleteApplication(ctx, ref, {
        confirm: async (app) => {
          const n = await activeTokens(ctx, { applicationId: app.id });
          await confirmDelete(kit.io, opts.yes, `Delete application "${app.name}" (client id ${app.clientId}) and revoke its ${counted(n, 'active token')}?`);
        },
      });
      const { application: app } = deleted;
      const value = { deleted: 'application', clientId: app.clientId, name: app.name, revokedTokens: deleted.tokens, families: deleted.families };
      out.result(value, `Deleted application "${app.name}" (client id ${app.clientId}). Revoked ${plural(deleted.tokens, 'token')} on every instance.\n`);
    }),
  );
}

function registerUsersDelete(users: Command, kit: Kit): void {
  const cmd = users
    .command('delete')
    .argument('<user>', 'user name')
    .description("Delete a user: ends its sessions and revokes its tokens (its sign-ins and client-credentials tokens acting as it) on every instance; asks first on a terminal")
    .option('--yes', YES_HELP)
    .addHelpText('after', `
Refused while an application acts as the user (its application user: give the application another
one, or delete it, first) and for the last active administrator. Audited as user.delete.

Example:
  latchkey users delete alice
`);
  kit.common(cmd).action((userName: string, opts: DeleteOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const deleted = await deleteUser(ctx, userName, {
        confirm: async (user) => {
          const [sessions, tokens] = await Promise.all([ctx.storage.sessions.listForUser(user.id, ctx.clock.now()), activeTokens(ctx, { userId: user.id })]);
          await confirmDelete(kit.io, opts.yes, `Delete user "${user.userName}", end its ${plural(sessions.length, 'session')} and revoke its ${counted(tokens, 'active token')}?`);
        },
      });
      const value = { deleted: 'user', userName: deleted.user.userName, endedSessions: deleted.sessions, revokedTokens: deleted.tokens, families: deleted.families };
      out.result(value, `Deleted user ${deleted.user.userName}. Ended ${plural(deleted.sessions, 'session')} and revoked ${plural(deleted.tokens, 'token')} on every instance.\n`);
    }),
  );
}

function registerScopesDelete(scopes: Command, kit: Kit): void {
  const cmd = scopes
    .command('delete')
    .argument('<scope>', 'scope name')
    .description('Delete an auth scope: every active token carrying it is revoked, on every instance; asks first on a terminal')
    .option('--cascade', 'also take it from the applications that list it (otherwise the delete is refused while any does)')
    .option('--yes', YES_HELP)
    .option('--apis <folder>', `${APIS_HELP}: a scope a hosted API requires cannot be deleted`)
    .addHelpText('after', `
Refused for the built-in scopes and while a hosted API requires the scope (change the API module
first). Audited as scope.delete (and application.update for each application it is taken from).

Examples:
  latchkey scopes delete export.read
  latchkey scopes delete export.read --cascade --yes
`);
  kit.common(cmd).action((name: string, opts: CascadeOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const router = await loadApisFor(opts);
      const deleted = await deleteScope({ ...ctx, apiRequirements: apiRequirements(router.list(), router.mcpServers()) }, name, {
        cascade: opts.cascade === true,
        confirm: async ({ scope, applications }) => {
          const from = applications.length === 0 ? '' : `, take it from ${plural(applications.length, 'application')} (${listed(applications.map((a) => `"${a.name}"`))})`;
          await confirmDelete(kit.io, opts.yes, `Delete scope "${scope.name}"${from} and revoke every active token that carries it?`);
        },
      });
      const value = { deleted: 'scope', name: deleted.scope.name, fromApplications: deleted.applications, revokedTokens: deleted.tokens };
      const from = deleted.applications.length === 0 ? '' : ` Taken from ${plural(deleted.applications.length, 'application')}: ${listed(deleted.applications)}.`;
      out.result(value, `Deleted scope ${deleted.scope.name}.${from} Revoked ${plural(deleted.tokens, 'token')} carrying it on every instance.\n`);
    }),
  );
}

function registerRolesDelete(roles: Command, kit: Kit): void {
  const cmd = roles
    .command('delete')
    .argument('<name>', 'role name')
    .description('Delete a role; asks first on a terminal')
    .option('--cascade', 'also take it from the users who hold it (their sessions end; otherwise the delete is refused while anyone holds it)')
    .option('--yes', YES_HELP)
    .option('--apis <folder>', `${APIS_HELP}: a role a hosted API requires cannot be deleted`)
    .addHelpText('after', `
Refused for the built-in admin role and while a hosted API requires the role (change the API
module first). Audited as role.delete (and user.update for each user it is taken from).

Examples:
  latchkey roles delete reporting
  latchkey roles delete reporting --cascade --yes
`);
  kit.common(cmd).action((name: string, opts: CascadeOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const router = await loadApisFor(opts);
      const deleted = await deleteRole({ ...ctx, apiRequirements: apiRequirements(router.list(), router.mcpServers()) }, name, {
        cascade: opts.cascade === true,
        confirm: async ({ role, users }) => {
          const from = users.length === 0 ? '' : ` and take it from ${plural(users.length, 'user')} (${listed(users.map((u) => u.userName))}; their sessions end)`;
          await confirmDelete(kit.io, opts.yes, `Delete role "${role.name}"${from}?`);
        },
      });
      const value = { deleted: 'role', name: deleted.role.name, fromUsers: deleted.users };
      const from = deleted.users.length === 0 ? '' : ` Taken from ${plural(deleted.users.length, 'user')}: ${listed(deleted.users)} (their sessions ended).`;
      out.result(value, `Deleted role ${deleted.role.name}.${from}\n`);
    }),
  );
}

/** Adds `delete` to the apps, users, scopes and roles commands (each built by its own module). */
export function registerDeletes(groups: { readonly apps?: Command; readonly users?: Command; readonly scopes?: Command; readonly roles?: Command }, kit: Kit): void {
  if (groups.apps !== undefined) registerAppsDelete(groups.apps, kit);
  if (groups.users !== undefined) registerUsersDelete(groups.users, kit);
  if (groups.scopes !== undefined) registerScopesDelete(groups.scopes, kit);
  if (groups.roles !== undefined) registerRolesDelete(groups.roles, kit);
}
