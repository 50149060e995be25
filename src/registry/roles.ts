/**
 * Roles: names users carry (created on first use by `users create/update --roles`, or here with a
 * description). Hosted APIs may require them (src/resource-server/). The built-in `admin` role
 * administers the instance and cannot be deleted.
 */
import type { Clock } from '../core/clock.js';
import type { Role, User } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { recordChange } from '../audit/log.js';
import { RegistryError } from './errors.js';
import type { ApiRequirements } from './scopes.js';
import { ROLE_NAME, updateUser } from './users.js';

type Deps = { storage: Pick<Storage, 'roles'> & Partial<Pick<Storage, 'audit'>>; clock: Clock; actor?: string | undefined };

export async function findRole(deps: { storage: Pick<Storage, 'roles'> }, name: string): Promise<Role> {
  const role = await deps.storage.roles.byName(name);
  if (role === undefined) throw new RegistryError('role_not_found', `No role named "${name}". List them with \`latchkey roles list\`.`);
  return role;
}

function checkDescription(description: string): string {
  if (description.length > 500) throw new RegistryError('invalid_input', 'A role description may have at most 500 characters.', 'description');
  return description;
}

/** Creates a role with a description. Audited as `role.create`. */
export async function createRole(deps: Deps, name: string, description = ''): Promise<Role> {
  if (!ROLE_NAME.test(name)) {
    throw new RegistryError('invalid_input', `"${name}" is not a valid role name: 1-80 letters, digits, '.', '_' or '-', starting with a letter or digit.`, 'name');
  }
  if ((await deps.storage.roles.byName(name)) !== undefined) throw new RegistryError('role_exists', `A role named "${name}" already exists.`, 'name');
  const role: Role = { name, description: checkDescription(description), builtIn: false };
  await deps.storage.roles.create(role);
  await recordChange(deps, { action: 'role.create', target: name, before: null, after: role });
  return role;
}

/** Changes a role's description. Audited as `role.update`. */
export async function updateRole(deps: Deps, name: string, description: string): Promise<Role> {
  const current = await findRole(deps, name);
  const role: Role = { ...current, description: checkDescription(description) };
  await deps.storage.roles.update(role);
  await recordChange(deps, { action: 'role.update', target: name, before: current, after: role });
  return role;
}

/** What deleting a role changed. */
export interface DeletedRole {
  readonly role: Role;
  /** Users it was taken from (with cascade); their sessions ended as for any role change. */
  readonly users: readonly string[];
}

/**
 * Deletes a role. Refused for the built-in admin role, while a hosted API requires it (the routes
 * are named), and while users hold it, unless `cascade`: then it is taken from them (each a user
 * update: audited, their sessions end). Audited as `role.delete`.
 */
export async function deleteRole(
  deps: Omit<Deps, 'storage'> & { storage: Deps['storage'] & Pick<Storage, 'users' | 'sessions' | 'tokens'>; apiRequirements?: ApiRequirements | undefined },
  name: string,
  options: { readonly cascade?: boolean; readonly confirm?: ((plan: { readonly role: Role; readonly users: readonly User[] }) => Promise<void>) | undefined } = {},
): Promise<DeletedRole> {
  const current = await findRole(deps, name);
  if (current.builtIn) throw new RegistryError('built_in', `"${name}" is a built-in role; it cannot be deleted.`);
  const routes = deps.apiRequirements?.('role', name) ?? [];
  if (routes.length > 0) {
    throw new RegistryError('in_use', `Hosted APIs require the role "${name}": ${routes.join(', ')}. Remove it from their security settings (the API modules) first.`, undefined, {
      dependants: { routes, cascade: false },
    });
  }
  const holders = (await deps.storage.users.list()).filter((u) => u.roles.includes(name));
  if (holders.length > 0 && options.cascade !== true) {
    const shown = holders.slice(0, 10).map((u) => u.userName).join(', ') + (holders.length > 10 ? ` and ${holders.length - 10} more` : '');
    throw new RegistryError(
      'in_use',
      `${holders.length === 1 ? 'The user' : `${holders.length} users`} ${shown} ${holders.length === 1 ? 'holds' : 'hold'} the role "${name}". ` +
        'Run the delete again with --cascade (admin API: ?cascade=true) to take it from them too, or change their roles first.',
      undefined,
      { dependants: { users: holders.map((u) => u.userName), cascade: true } },
    );
  }
  await options.confirm?.({ role: current, users: holders });
  for (const user of holders) {
    await updateUser(deps, user.userName, { roles: user.roles.filter((r) => r !== name) });
  }
  if (!(await deps.storage.roles.delete(name))) throw new RegistryError('role_not_found', `Role "${name}" was deleted meanwhile.`);
  await recordChange(deps, { action: 'role.delete', target: name, before: current, after: { deleted: true, fromUsers: holders.map((u) => u.userName) } });
  return { role: current, users: holders.map((u) => u.userName) };
}
