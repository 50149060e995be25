import type { Clock } from '../core/clock.js';
import { generatePassword, newId } from '../core/crypto.js';
import type { Storage } from '../storage/types.js';
import { ADMIN_ROLE, ADMIN_SCOPE, ALL_ACCESS_SCOPE, CLAIM_SCOPE_DESCRIPTIONS } from './scopes.js';
import { OIDC_BUILT_IN_SCOPES } from './oidc-scopes.js';
import { createUser } from './users.js';
import { ADMIN_USER, CONSOLE_APPLICATION_NAME, CONSOLE_CLIENT_ID } from './built-ins.js';

export { ADMIN_ROLE };
export { ADMIN_USER, CONSOLE_APPLICATION_NAME, CONSOLE_CLIENT_ID };

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
  if ((await deps.storage.scopes.byName(ADMIN_SCOPE)) === undefined) {
    const description = 'The admin API: only for applications allowed to administer the instance (--admin-api); never granted on a consent page';
    await deps.storage.scopes.create({ name: ADMIN_SCOPE, description, builtIn: true }).catch(ignoreConflict);
  }
  for (const scope of OIDC_BUILT_IN_SCOPES) {
    if ((await deps.storage.scopes.byName(scope.name)) === undefined) await deps.storage.scopes.create({ ...scope, builtIn: true }).catch(ignoreConflict);
  }
  // OpenID Connect claim scopes (Core §5.4); an instance that made one of these names itself keeps its own.
  for (const [name, description] of Object.entries(CLAIM_SCOPE_DESCRIPTIONS)) {
    if ((await deps.storage.scopes.byName(name)) === undefined) await deps.storage.scopes.create({ name, description, builtIn: true }).catch(ignoreConflict);
  }
  if ((await deps.storage.users.list()).length > 0) return { createdAdmin: false };
  const password = adminPassword ?? generatePassword();
  try {
    // Audited as the instance itself (actor 'system'), whoever opened the database.
    await createUser({ storage: deps.storage, clock: deps.clock }, { userName: ADMIN_USER, password, roles: [ADMIN_ROLE] });
  } catch (error) {
    if ((error as { code?: unknown }).code === 'user_exists' || (error as { code?: unknown }).code === 'conflict') return { createdAdmin: false };
    throw error;
  }
  return adminPassword === undefined ? { createdAdmin: true, generatedAdminPassword: password } : { createdAdmin: true };
}

function ignoreConflict(error: unknown): void {
  if ((error as { code?: unknown }).code !== 'conflict') throw error;
}


/** The console's redirect URI for an issuer. */
export function consoleRedirectUri(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/console/callback`;
}

/**
 * Creates or repairs the built-in "Latchkey Console" application (idempotent): public, the
 * authorization_code grant only, redirect URI `${issuer}/console/callback`, allowed the admin API
 * with the scope latchkey.admin only. Call once the issuer is
 * known (after listening). An administrator's deactivation is kept; everything else is put back.
 */
export async function ensureConsoleApplication(deps: { storage: Pick<Storage, 'applications'>; clock: Clock }, issuer: string): Promise<void> {
  const redirectUri = consoleRedirectUri(issuer);
  const now = deps.clock.now();
  const current = await deps.storage.applications.byClientId(CONSOLE_CLIENT_ID);
  if (current === undefined) {
    await deps.storage.applications
      .create({
        id: newId(),
        clientId: CONSOLE_CLIENT_ID,
        name: CONSOLE_APPLICATION_NAME,
        secretHash: null,
        secretRotatedAt: null,
        active: true,
        public: true,
        grantTypes: ['authorization_code'],
        redirectUris: [redirectUri],
        scopes: [ADMIN_SCOPE],
        accessTokenLifespan: 300,
        refreshTokenLifespan: 300,
        tokenFormat: 'opaque',
        appUserId: null,
        logoUri: null,
        audience: null,
        jwks: null,
        jwksUri: null,
        canIntrospect: false,
        adminApi: true,
        createdAt: now,
        updatedAt: now,
      })
      .catch(ignoreConflict);
    return;
  }
  const same =
    current.public && current.secretHash === null && current.name === CONSOLE_APPLICATION_NAME && current.tokenFormat === 'opaque' &&
    current.grantTypes.length === 1 && current.grantTypes[0] === 'authorization_code' &&
    current.redirectUris.length === 1 && current.redirectUris[0] === redirectUri &&
    current.adminApi && current.scopes.length === 1 && current.scopes[0] === ADMIN_SCOPE;
  if (same) return;
  await deps.storage.applications.update({
    ...current,
    name: CONSOLE_APPLICATION_NAME,
    public: true,
    secretHash: null,
    secretRotatedAt: null,
    grantTypes: ['authorization_code'],
    redirectUris: [redirectUri],
    tokenFormat: 'opaque',
    // The console signs administrators in: it needs the admin API scope, and nothing else.
    adminApi: true,
    scopes: [ADMIN_SCOPE],
    updatedAt: now,
  });
}
