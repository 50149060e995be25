import type { Scope } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { systemClock, type Clock } from '../core/clock.js';
import { recordChange } from '../audit/log.js';
import { RegistryError } from './errors.js';

/** RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/** The built-in all-access scope, as on the platform. */
export const ALL_ACCESS_SCOPE = 'useraccount';

/**
 * The built-in scope of the admin API. Only applications allowed to administer the instance
 * (Application.adminApi) may hold it, and the all-access scope never stands in for it: the admin
 * API accepts a bearer token only when it carries exactly this scope (src/admin/auth.ts).
 */
/** The role whose users administer the instance (admin API, console). */
export const ADMIN_ROLE = 'admin';
export const ADMIN_SCOPE = 'latchkey.admin';

export async function createScope(
  deps: { storage: Pick<Storage, 'scopes'> & Partial<Pick<Storage, 'audit'>>; clock?: Clock; actor?: string | undefined },
  name: string,
  description = '',
): Promise<Scope> {
  if (!SCOPE_TOKEN.test(name) || name.length > 100) {
    throw new RegistryError(
      'invalid_input',
      `"${name}" is not a valid scope name: 1-100 printable ASCII characters without spaces, '"' or '\\' (RFC 6749 §3.3).`,
    );
  }
  if ((await deps.storage.scopes.byName(name)) !== undefined) {
    throw new RegistryError('scope_exists', `An auth scope named "${name}" already exists.`);
  }
  const scope: Scope = { name, description, builtIn: false };
  await deps.storage.scopes.create(scope);
  await recordChange({ ...deps, clock: deps.clock ?? systemClock }, { action: 'scope.create', target: name, before: null, after: scope });
  return scope;
}
