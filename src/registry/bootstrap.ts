import type { Clock } from '../core/clock.js';
import { generatePassword } from '../core/crypto.js';
import type { Storage } from '../storage/types.js';
import { ALL_ACCESS_SCOPE } from './scopes.js';
import { createUser } from './users.js';

export const ADMIN_ROLE = 'admin';
export const ADMIN_USER = 'admin';

export interface BootstrapResult {
  /** Set when the admin user was created with a generated password (print it once). */
  readonly generatedAdminPassword?: string;
  readonly createdAdmin: boolean;
}

/**
 * Puts the built-ins in place (idempotent): the admin role, the all-access scope, and on an empty
 * database the admin user, with LATCHKEY_ADMIN_PASSWORD or a generated password.
 */
export async function bootstrap(
  deps: { storage: Pick<Storage, 'users' | 'roles' | 'scopes'>; clock: Clock },
  adminPassword: string | undefined,
): Promise<BootstrapResult> {
  if ((await deps.storage.roles.byName(ADMIN_ROLE)) === undefined) {
    await deps.storage.roles.create({ name: ADMIN_ROLE, description: 'Full administration of this instance', builtIn: true }).catch(ignoreConflict);
  }
  if ((await deps.storage.scopes.byName(ALL_ACCESS_SCOPE)) === undefined) {
    await deps.storage.scopes.create({ name: ALL_ACCESS_SCOPE, description: 'All access: satisfies every API scope requirement', builtIn: true }).catch(ignoreConflict);
  }
  if ((await deps.storage.users.list()).length > 0) return { createdAdmin: false };
  const password = adminPassword ?? generatePassword();
  try {
    await createUser(deps, { userName: ADMIN_USER, password, roles: [ADMIN_ROLE] });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'user_exists' || (error as { code?: unknown }).code === 'conflict') return { createdAdmin: false };
    throw error;
  }
  return adminPassword === undefined ? { createdAdmin: true, generatedAdminPassword: password } : { createdAdmin: true };
}

function ignoreConflict(error: unknown): void {
  if ((error as { code?: unknown }).code !== 'conflict') throw error;
}
