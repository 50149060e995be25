import { z } from 'zod';
import { deleteApplication } from '../../registry/applications.js';
import { deleteRole, updateRole } from '../../registry/roles.js';
import { deleteScope, updateScope } from '../../registry/scopes.js';
import { deleteUser } from '../../registry/users.js';
import { apiRequirements } from '../../resource-server/requirements.js';
import { AdminError, badRequest } from '../http.js';
import { deps, refreshed } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';

/**
 * Deleting applications, users, scopes and roles, and describing roles and scopes. The registry
 * (src/registry/) decides what may go, revokes what depended on it and audits under the admin's
 * user name; these routes answer what was ended. A scope or role a hosted API of this instance
 * requires is refused (the router's APIs); `?cascade=true` takes a scope or role from the
 * applications or users that have it.
 */

const Describe = z.strictObject({ description: z.string().max(500) });

const CASCADE = { name: 'cascade', description: 'true: also take it from the applications (scope) or users (role) that have it; otherwise the delete is refused while any does', type: 'boolean' } as const;

function cascadeParam(ctx: RouteContext): boolean {
  const raw = ctx.query.get('cascade');
  if (raw === null || raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw badRequest('cascade must be true or false.', 'cascade');
}

/** The registry deps plus what the hosted APIs of this instance require. */
function withApis(ctx: RouteContext) {
  return { ...deps(ctx), apiRequirements: apiRequirements(ctx.latchkey.router.list(), ctx.latchkey.router.mcpServers()) };
}

export const LIFECYCLE_ROUTES: readonly AdminRoute[] = [
  {
    method: 'DELETE',
    path: '/applications/:clientId',
    tag: 'applications',
    summary: 'Deletes an application (client id or unique name) after revoking every token issued to it; the console application is refused',
    async handler(ctx) {
      const deleted = await refreshed(ctx, await deleteApplication(deps(ctx), ctx.params.clientId ?? ''));
      return { deleted: { clientId: deleted.application.clientId, name: deleted.application.name }, revoked: { tokens: deleted.tokens, families: deleted.families } };
    },
  },
  {
    method: 'DELETE',
    path: '/users/:userName',
    tag: 'users',
    summary: 'Deletes a user: ends its sessions and revokes its tokens; refused while an application acts as it, for the last active administrator and for yourself',
    async handler(ctx) {
      const name = ctx.params.userName ?? '';
      if (name === ctx.caller.userName) throw new AdminError(409, 'conflict', 'You cannot delete yourself; another administrator must do it.');
      const deleted = await refreshed(ctx, await deleteUser(deps(ctx), name));
      return { deleted: { userName: deleted.user.userName }, ended: { sessions: deleted.sessions, tokens: deleted.tokens, families: deleted.families } };
    },
  },
  {
    method: 'PATCH',
    path: '/scopes/:name',
    tag: 'scopes',
    summary: "Changes a scope's description",
    body: Describe,
    async handler(ctx) {
      const { description } = ctx.body as z.infer<typeof Describe>;
      return refreshed(ctx, await updateScope(deps(ctx), ctx.params.name ?? '', description));
    },
  },
  {
    method: 'DELETE',
    path: '/scopes/:name',
    tag: 'scopes',
    summary: 'Deletes an auth scope, revoking every token carrying it; refused for built-in scopes, while a hosted API requires it, and (without cascade) while applications list it',
    query: [CASCADE],
    async handler(ctx) {
      const deleted = await refreshed(ctx, await deleteScope(withApis(ctx), ctx.params.name ?? '', { cascade: cascadeParam(ctx) }));
      return { deleted: { name: deleted.scope.name }, fromApplications: deleted.applications, revoked: { tokens: deleted.tokens } };
    },
  },
  {
    method: 'PATCH',
    path: '/roles/:name',
    tag: 'users',
    summary: "Changes a role's description",
    body: Describe,
    async handler(ctx) {
      const { description } = ctx.body as z.infer<typeof Describe>;
      return refreshed(ctx, await updateRole(deps(ctx), ctx.params.name ?? '', description));
    },
  },
  {
    method: 'DELETE',
    path: '/roles/:name',
    tag: 'users',
    summary: 'Deletes a role; refused for the admin role, while a hosted API requires it, and (without cascade) while users hold it',
    query: [CASCADE],
    async handler(ctx) {
      const deleted = await refreshed(ctx, await deleteRole(withApis(ctx), ctx.params.name ?? '', { cascade: cascadeParam(ctx) }));
      return { deleted: { name: deleted.role.name }, fromUsers: deleted.users };
    },
  },
];
