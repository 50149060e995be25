import { z } from 'zod';
import { ADMIN_ROLE } from '../../registry/bootstrap.js';
import { listLocks, unlockUser } from '../../registry/locks.js';
import { checkAdministratorKept } from '../../registry/guards.js';
import { createRole } from '../../registry/roles.js';
import { createUser, findUser, updateUser } from '../../registry/users.js';
import { AdminError, badRequest } from '../http.js';
import { deps, intParam, refreshed } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';
import { byName, userView } from './views.js';

/** Users and roles. */

/** OpenID Connect Core §5.1 fields by their model names; null or '' clears one (update), absent keeps it. Checked by the registry (registry/user-profile.ts). */
const text = z.string().max(4096).nullable().optional();
const flag = z.boolean().nullable().optional();
const Profile = z.strictObject({
  name: text, givenName: text, familyName: text, email: text, emailVerified: flag, phoneNumber: text, phoneNumberVerified: flag,
  locale: text, zoneinfo: text, picture: text,
  address: z.strictObject({ formatted: text, streetAddress: text, locality: text, region: text, postalCode: text, country: text }).nullable().optional(),
});

const CreateUser = z.strictObject({
  userName: z.string().min(1).max(100),
  password: z.string().max(1024).optional(),
  roles: z.array(z.string().max(80)).max(100).optional(),
  active: z.boolean().optional(),
  profile: Profile.optional(),
});
const UpdateUser = z.strictObject({
  password: z.string().max(1024).optional(),
  roles: z.array(z.string().max(80)).max(100).optional(),
  active: z.boolean().optional(),
  profile: Profile.optional(),
});
const CreateRole = z.strictObject({ name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$/, 'letters, digits, ".", "_", "-", at most 80'), description: z.string().max(500).optional() });

/**
 * An admin may not lock themself out: no deactivating yourself, no dropping your own admin role.
 * When nobody else is an active administrator, the registry's refusal (last_administrator, which
 * says what to do first) is the one given.
 */
async function checkSelfChange(ctx: RouteContext, name: string, body: z.infer<typeof UpdateUser>): Promise<void> {
  if (name === ctx.caller.userName && (body.active === false || (body.roles !== undefined && !body.roles.includes(ADMIN_ROLE)))) {
    const current = await findUser(deps(ctx), name);
    await checkAdministratorKept(deps(ctx), current, { ...current, active: body.active ?? current.active, roles: body.roles ?? current.roles });
    throw new AdminError(409, 'conflict', 'You cannot deactivate yourself or remove your own admin role here; another administrator must do it.', body.active === false ? 'active' : 'roles');
  }
}

export const USER_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/users',
    tag: 'users',
    summary: 'The users (never their password hashes)',
    async handler(ctx) {
      return (await ctx.latchkey.storage.users.list()).sort((a, b) => a.userName.localeCompare(b.userName)).map(userView);
    },
  },
  {
    method: 'POST',
    path: '/users',
    tag: 'users',
    status: 201,
    summary: 'Creates a user; roles are created on first use',
    body: CreateUser,
    async handler(ctx) {
      const created = await refreshed(ctx, await createUser(deps(ctx), ctx.body as z.infer<typeof CreateUser>));
      return { user: userView(created.user), createdRoles: created.createdRoles };
    },
  },
  {
    method: 'PATCH',
    path: '/users/:userName',
    tag: 'users',
    summary: 'Changes a user: active, roles, password, profile (OpenID Connect claims); ends its sessions (and, on a password change or deactivation, revokes its tokens) and says how many',
    body: UpdateUser,
    async handler(ctx) {
      const name = ctx.params.userName ?? '';
      const body = ctx.body as z.infer<typeof UpdateUser>;
      await checkSelfChange(ctx, name, body);
      const updated = await refreshed(ctx, await updateUser(deps(ctx), name, body));
      return { user: userView(updated.user), createdRoles: updated.createdRoles, ended: updated.ended };
    },
  },
  {
    method: 'GET',
    path: '/locks',
    tag: 'users',
    summary: 'Failed password attempts being counted (per user name and source, and per user name), with what they lock; unknown user names too',
    query: [
      { name: 'locked', description: 'true: only those that refuse attempts now', type: 'boolean' },
      { name: 'limit', description: '1-1000, default 100 (most recent failure first)', type: 'integer' },
    ],
    async handler(ctx) {
      const locked = ctx.query.get('locked');
      if (locked !== null && locked !== 'true' && locked !== 'false') throw badRequest('locked must be true or false.', 'locked');
      const limit = intParam(ctx.query, 'limit', { min: 1, max: 1000, fallback: 100 });
      return listLocks(ctx.latchkey, { lockedOnly: locked === 'true', ...(limit === undefined ? {} : { limit }) });
    },
  },
  {
    method: 'DELETE',
    path: '/users/:userName/lock',
    tag: 'users',
    summary: "Clears a user name's failed password attempts from every source, so it may sign in at once (audited as user.unlock); the name need not exist",
    async handler(ctx) {
      const name = ctx.params.userName ?? '';
      const { cleared, locks } = await unlockUser(deps(ctx), name);
      return { userName: name, cleared, wasLocked: locks.some((v) => v.lockedUntil !== null) };
    },
  },
  {
    method: 'GET',
    path: '/roles',
    tag: 'users',
    summary: 'The roles',
    handler: async (ctx) => byName(await ctx.latchkey.storage.roles.list()),
  },
  {
    method: 'POST',
    path: '/roles',
    tag: 'users',
    status: 201,
    summary: 'Creates a role',
    body: CreateRole,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof CreateRole>;
      return refreshed(ctx, await createRole(deps(ctx), body.name, body.description ?? ''));
    },
  },
];
