/**
 * Changes that would leave the instance without a way to administer it are refused here, for every
 * surface at once (CLI, admin API, console, `latchkey apply`): the built-in console application is
 * never deactivated or deleted, and the last active administrator is never deactivated, stripped of
 * the admin role or deleted. `doctor` reports an instance that got there anyway (an older version, a
 * database edited by hand): src/diagnostics/.
 */
import type { Application, User } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { CONSOLE_CLIENT_ID } from './built-ins.js';
import { RegistryError } from './errors.js';
import { ADMIN_ROLE } from './scopes.js';

/** True for the built-in console application (src/registry/bootstrap.ts). */
export const isConsoleApplication = (app: Pick<Application, 'clientId'>): boolean => app.clientId === CONSOLE_CLIENT_ID;

/** An active user holding the admin role: who can sign in to the console and use the admin API. */
export const isActiveAdministrator = (user: Pick<User, 'active' | 'roles'>): boolean => user.active && user.roles.includes(ADMIN_ROLE);

/** Refuses to deactivate (`after.active` false) or delete (`after` null) the built-in console application. */
export function checkConsoleApplicationKept(before: Application, after: Application | null): void {
  if (!isConsoleApplication(before)) return;
  if (after === null) {
    throw new RegistryError(
      'built_in',
      `"${before.name}" (${before.clientId}) is the built-in application the admin console signs in with; it cannot be deleted.`,
    );
  }
  if (before.active && !after.active) {
    throw new RegistryError(
      'built_in',
      `"${before.name}" (${before.clientId}) is the built-in application the admin console signs in with; deactivating it would lock every administrator out of the console. ` +
        'To keep people out of the console, deactivate their users or take away their admin role instead.',
      'active',
    );
  }
}

/**
 * Refuses a change that takes the last active administrator away: deactivating the user, removing
 * its admin role (`after` the user as it would be) or deleting it (`after` null), when no other
 * active user holds the admin role.
 */
export async function checkAdministratorKept(deps: { storage: Pick<Storage, 'users'> }, before: User, after: User | null): Promise<void> {
  if (!isActiveAdministrator(before)) return;
  if (after !== null && isActiveAdministrator(after)) return;
  const others = (await deps.storage.users.list()).filter((u) => u.id !== before.id && isActiveAdministrator(u));
  if (others.length > 0) return;
  const what = after === null ? 'Deleting' : !after.active ? 'Deactivating' : `Removing the ${ADMIN_ROLE} role from`;
  throw new RegistryError(
    'last_administrator',
    `${what} "${before.userName}" would leave this instance with no active administrator: nobody could sign in to the console or use the admin API. ` +
      `Give another user the ${ADMIN_ROLE} role first, for example: latchkey users update <user> --roles ${ADMIN_ROLE}`,
    after === null ? undefined : !after.active ? 'active' : 'roles',
  );
}
