import { z } from 'zod';
import { createScope } from '../../registry/scopes.js';
import { listProperties, setProperty } from '../../registry/settings.js';
import { badRequest } from '../http.js';
import { formatRateLimit } from '../../domain/rate-limit.js';
import { declaredScopes, hostedProtectedResources } from '../../resource-server/protected-resource-metadata.js';
import { hostedMcpResources } from '../../resource-server/mcp.js';
import { deps, refreshed } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';
import { byName, propertyView } from './views.js';

/** Auth scopes, instance properties and the loaded REST APIs. */

const CreateScope = z.strictObject({ name: z.string().min(1).max(100), description: z.string().max(500).optional() });
const SetProperty = z.strictObject({ value: z.union([z.boolean(), z.number(), z.string().max(100)]) });

async function findProperty(ctx: RouteContext, name: string) {
  return (await listProperties(ctx.latchkey)).find((p) => p.name === name);
}

/** A boolean or a number must match the property's type (strings are parsed by the registry). */
async function checkPropertyType(ctx: RouteContext, name: string, value: z.infer<typeof SetProperty>['value']): Promise<void> {
  const before = await findProperty(ctx, name);
  if (before !== undefined && typeof value !== 'string' && typeof value !== (before.type === 'boolean' ? 'boolean' : 'number')) {
    throw badRequest(`Property ${name} is ${before.type === 'boolean' ? 'a boolean: send true or false' : 'an integer: send a number'} (got ${JSON.stringify(value)}).`, 'value');
  }
}

export const SCOPE_PROPERTY_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/scopes',
    tag: 'scopes',
    summary: 'The auth scopes',
    handler: async (ctx) => byName(await ctx.latchkey.storage.scopes.list()),
  },
  {
    method: 'POST',
    path: '/scopes',
    tag: 'scopes',
    status: 201,
    summary: 'Creates an auth scope',
    body: CreateScope,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof CreateScope>;
      return refreshed(ctx, await createScope(deps(ctx), body.name, body.description ?? ''));
    },
  },
  {
    method: 'GET',
    path: '/properties',
    tag: 'properties',
    summary: 'Every instance property with its value, default, type and meaning',
    handler: async (ctx) => (await listProperties(ctx.latchkey)).map(propertyView),
  },
  {
    method: 'PUT',
    path: '/properties/:name',
    tag: 'properties',
    summary: 'Sets a property; the value is checked against its type and range',
    body: SetProperty,
    async handler(ctx) {
      const name = ctx.params.name ?? '';
      const { value } = ctx.body as z.infer<typeof SetProperty>;
      await checkPropertyType(ctx, name, value);
      await setProperty(deps(ctx), name, String(value));
      await ctx.latchkey.cache.check();
      const view = await findProperty(ctx, name);
      return { property: view === undefined ? undefined : propertyView(view) };
    },
  },
  {
    method: 'GET',
    path: '/apis',
    tag: 'apis',
    summary: 'Every loaded REST API with its routes and their effective security',
    async handler(ctx) {
      const issuer = ctx.latchkey.issuer();
      return ctx.latchkey.router.list().map((api) => ({
        namespace: api.namespace,
        id: api.id,
        name: api.name,
        versions: api.versions,
        defaultVersion: api.defaultVersion,
        // RFC 8707 / RFC 9728: the resource identifiers (canonical first, then one per version) and their metadata.
        scopes: declaredScopes(api),
        resources: hostedProtectedResources([api], issuer).map((r) => ({ resource: r.resource, metadataUrl: r.metadataUrl, version: r.version ?? null })),
        // Its own rate limits ('1000/1m', 'off'); null: the instance's (latchkey.rate_limit.api / api_user).
        rateLimit: api.rateLimit === undefined ? null : formatRateLimit(api.rateLimit),
        userRateLimit: api.userRateLimit === undefined ? null : formatRateLimit(api.userRateLimit),
        routes: api.resources.map((r) => ({ method: r.method, path: r.template, ...(r.description === undefined ? {} : { description: r.description }), security: r.security })),
      }));
    },
  },
  {
    method: 'GET',
    path: '/mcp-servers',
    tag: 'apis',
    summary: 'Every hosted MCP server (/mcp/<namespace>/<id>) with its tools and their effective security',
    async handler(ctx) {
      const issuer = ctx.latchkey.issuer();
      const servers = ctx.latchkey.router.mcpServers();
      // RFC 8707 / RFC 9728: each server's resource identifier, its metadata URL, every scope it and its tools declare.
      const resources = hostedProtectedResources([], issuer, hostedMcpResources(issuer, servers));
      return servers.map((s, i) => ({
        kind: 'mcp',
        namespace: s.namespace,
        id: s.id,
        name: s.name,
        ...(s.description === undefined ? {} : { description: s.description }),
        path: `/mcp/${s.namespace}/${s.id}`,
        resource: resources[i]?.resource ?? null,
        metadataUrl: resources[i]?.metadataUrl ?? null,
        scopes: resources[i]?.scopes ?? [],
        rateLimit: s.rateLimit === undefined ? null : formatRateLimit(s.rateLimit),
        userRateLimit: s.userRateLimit === undefined ? null : formatRateLimit(s.userRateLimit),
        security: { requiresAuthentication: s.security.requiresAuthentication, scopes: s.security.scopes, roles: s.security.roles },
        tools: s.tools.map((t) => ({ name: t.name, description: t.description, security: { scopes: t.security.scopes, roles: t.security.roles } })),
      }));
    },
  },
];
