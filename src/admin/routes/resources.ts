import { z } from 'zod';
import { hostedResources } from '../../app.js';
import { addResource, externalResource, removeResource, updateResource } from '../../registry/resources.js';
import { deps, refreshed } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';

/** Resource indicators (RFC 8707): the known resources, and the registered external ones. */

const Scopes = z.array(z.string().min(1).max(100)).max(200);
const AddResource = z.strictObject({ uri: z.string().min(1).max(2000), name: z.string().max(100).optional(), description: z.string().max(500).optional(), scopes: Scopes.optional() });
const UpdateResource = z.strictObject({ name: z.string().max(100).optional(), description: z.string().max(500).optional(), scopes: Scopes.optional() });

function hosted(ctx: RouteContext) {
  return hostedResources(ctx.latchkey.issuer(), ctx.latchkey.router);
}

export const RESOURCE_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/resources',
    tag: 'resources',
    summary: 'Every resource clients may name with resource (RFC 8707): hosted APIs (each identifier), hosted MCP servers, registered external resources, with their kind and accepted scopes',
    async handler(ctx) {
      const registered = await ctx.latchkey.storage.resources.list();
      return [...hosted(ctx), ...registered.map((r) => ({ ...externalResource(r), createdAt: new Date(r.createdAt).toISOString(), updatedAt: new Date(r.updatedAt).toISOString() }))];
    },
  },
  {
    method: 'POST',
    path: '/resources',
    tag: 'resources',
    status: 201,
    summary: 'Registers an external resource (stored in its canonical form); refused for a hosted identifier or one registered already',
    body: AddResource,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof AddResource>;
      return refreshed(ctx, await addResource({ ...deps(ctx), hosted: hosted(ctx).map((r) => r.uri) }, body));
    },
  },
  {
    method: 'PUT',
    path: '/resources/:uri',
    tag: 'resources',
    summary: "Changes a registered resource's name, description or accepted scopes (the identifier, URL-encoded in the path, is its identity)",
    body: UpdateResource,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof UpdateResource>;
      return refreshed(ctx, await updateResource(deps(ctx), ctx.params.uri ?? '', body));
    },
  },
  {
    method: 'DELETE',
    path: '/resources/:uri',
    tag: 'resources',
    summary: 'Removes a registered resource: new requests naming it are refused (resource.unknown); tokens issued for it keep it as their audience',
    async handler(ctx) {
      return refreshed(ctx, { removed: await removeResource(deps(ctx), ctx.params.uri ?? '') });
    },
  },
];
