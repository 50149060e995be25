import { didYouMean } from '../core/nearest.js';
import type { Application, Scope } from '../domain/model.js';
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

/**
 * The OpenID Connect Core §5.4 scopes that release a user's claims at UserInfo (src/oidc/claims.ts),
 * built in so every instance has them (openid and offline_access are built in beside them).
 */
export const CLAIM_SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = {
  profile: 'OpenID Connect: your name, user name, picture, locale and time zone',
  email: 'OpenID Connect: your email address and whether it is verified',
  phone: 'OpenID Connect: your phone number and whether it is verified',
  address: 'OpenID Connect: your postal address',
};

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

type ScopeDeps = { storage: Pick<Storage, 'scopes'> & Partial<Pick<Storage, 'audit'>>; clock?: Clock; actor?: string | undefined };

export async function findScope(deps: { storage: Pick<Storage, 'scopes'> }, name: string): Promise<Scope> {
  const scope = await deps.storage.scopes.byName(name);
  if (scope === undefined) {
    const near = didYouMean(name, (await deps.storage.scopes.list()).map((s) => s.name));
    throw new RegistryError('scope_not_found', `No auth scope named "${name}".${near} List them with \`latchkey scopes list\`.`);
  }
  return scope;
}

/** Changes a scope's description (its name is its identity: tokens carry it). Audited as `scope.update`. */
export async function updateScope(deps: ScopeDeps, name: string, description: string): Promise<Scope> {
  const current = await findScope(deps, name);
  if (description.length > 500) throw new RegistryError('invalid_input', 'A scope description may have at most 500 characters.', 'description');
  const scope: Scope = { ...current, description };
  await deps.storage.scopes.update(scope);
  await recordChange({ ...deps, clock: deps.clock ?? systemClock }, { action: 'scope.update', target: name, before: current, after: scope });
  return scope;
}

/** Where hosted APIs require a scope or a role: "GET /api/x/v1/orders" for each route (given by the server or the CLI, which load the APIs). */
export type ApiRequirements = (kind: 'scope' | 'role', name: string) => readonly string[];

/** What deleting a scope changed. */
export interface DeletedScope {
  readonly scope: Scope;
  /** Client ids of the applications it was taken from (with cascade). */
  readonly applications: readonly string[];
  /** Tokens carrying it, revoked. */
  readonly tokens: number;
}

/**
 * Deletes a scope. Refused for the built-in scopes, while a hosted API requires it (the routes are
 * named: change the API first), and while applications list it, unless `cascade`: then it is taken
 * from those applications (each change audited). Every unexpired token carrying it is revoked, on
 * every instance. Audited as `scope.delete`.
 */
export async function deleteScope(
  deps: { storage: Pick<Storage, 'scopes' | 'applications' | 'tokens'> & Partial<Pick<Storage, 'audit'>>; clock: Clock; actor?: string | undefined; apiRequirements?: ApiRequirements | undefined },
  name: string,
  options: { readonly cascade?: boolean; readonly confirm?: ((plan: { readonly scope: Scope; readonly applications: readonly Application[] }) => Promise<void>) | undefined } = {},
): Promise<DeletedScope> {
  const current = await findScope(deps, name);
  if (current.builtIn) throw new RegistryError('built_in', `"${name}" is a built-in scope; it cannot be deleted.`);
  const routes = deps.apiRequirements?.('scope', name) ?? [];
  if (routes.length > 0) {
    throw new RegistryError(
      'in_use',
      `Hosted APIs require the scope "${name}": ${routes.join(', ')}. Remove it from their security settings (the API modules) first; a token could never be allowed there again.`,
      undefined,
      { dependants: { routes, cascade: false } },
    );
  }
  const listing = (await deps.storage.applications.list()).filter((a) => a.scopes.includes(name));
  if (listing.length > 0 && options.cascade !== true) {
    throw new RegistryError(
      'in_use',
      `${listing.length === 1 ? 'The application' : `${listing.length} applications`} ${listing.map((a) => `"${a.name}" (${a.clientId})`).join(', ')} ${listing.length === 1 ? 'lists' : 'list'} the scope "${name}". ` +
        'Run the delete again with --cascade (admin API: ?cascade=true) to take it from them too, or change their scopes first.',
      undefined,
      { dependants: { applications: listing.map((a) => ({ clientId: a.clientId, name: a.name })), cascade: true } },
    );
  }
  await options.confirm?.({ scope: current, applications: listing });
  const now = deps.clock.now();
  for (const app of listing) {
    const after = { ...app, scopes: app.scopes.filter((s) => s !== name), updatedAt: now };
    await deps.storage.applications.update(after);
    await recordChange(deps, { action: 'application.update', target: app.clientId, before: app, after });
  }
  const revoked = await deps.storage.tokens.revokeWithScope(name, now);
  if (!(await deps.storage.scopes.delete(name))) throw new RegistryError('scope_not_found', `Scope "${name}" was deleted meanwhile.`);
  await recordChange(deps, { action: 'scope.delete', target: name, before: current, after: { deleted: true, fromApplications: listing.map((a) => a.clientId), revokedTokens: revoked.tokens } });
  return { scope: current, applications: listing.map((a) => a.clientId), tokens: revoked.tokens };
}
