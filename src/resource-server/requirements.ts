import type { ApiRequirements } from '../registry/scopes.js';
import type { CompiledApi } from './compile.js';
import type { CompiledMcpServer } from './compile-mcp.js';

/**
 * Where the hosted APIs require a scope or a role, for the registry's deletes (a scope or role an
 * API requires cannot be deleted: deleteScope, deleteRole). Each route is named as served for its
 * default version ("GET /api/acme/v1/orders"), each MCP tool as "MCP /mcp/acme/desk tool
 * ticket_create". The running server passes its router's APIs and MCP servers; the CLI loads the
 * APIs folder as `serve` would (--apis, LATCHKEY_APIS).
 */
export function apiRequirements(apis: readonly CompiledApi[], mcpServers: readonly CompiledMcpServer[] = []): ApiRequirements {
  return (kind, name) => [
    ...apis.flatMap((api) =>
      api.resources
        .filter((r) => (kind === 'scope' ? r.security.scopes : r.security.roles).includes(name))
        .map((r) => `${r.method} /api/${api.namespace}/${api.defaultVersion}/${api.id}${r.template === '/' ? '' : r.template}`),
    ),
    ...mcpServers.flatMap((s) =>
      s.tools.filter((t) => (kind === 'scope' ? t.security.scopes : t.security.roles).includes(name)).map((t) => `MCP /mcp/${s.namespace}/${s.id} tool ${t.name}`),
    ),
  ];
}
