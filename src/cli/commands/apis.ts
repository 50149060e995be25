import type { Command } from 'commander';
import { DEFAULT_APIS } from '../../config/config.js';
import type { CompiledApi, CompiledResource } from '../../resource-server/compile.js';
import type { CompiledMcpServer } from '../../resource-server/compile-mcp.js';
import { loadApis } from '../../resource-server/load.js';
import { renderTable, terminalWidth } from '../table.js';
import { formatRateLimit } from '../../domain/rate-limit.js';
import type { CommonOptions, Kit } from './index.js';

interface ListOptions extends CommonOptions {
  readonly apis?: string;
}

function route(api: CompiledApi, version: string | null, r: CompiledResource): string {
  const v = version === null ? '' : `/${version}`;
  return `/api/${api.namespace}${v}/${api.id}${r.template === '/' ? '' : r.template}`;
}

function rows(apis: readonly CompiledApi[]) {
  return apis.flatMap((api) =>
    api.resources.map((r) => ({
      api: `${api.namespace}/${api.id}`,
      file: api.file,
      method: r.method,
      route: route(api, api.defaultVersion, r),
      defaultRoute: route(api, null, r),
      versions: api.versions,
      defaultVersion: api.defaultVersion,
      requiresAuthentication: r.security.requiresAuthentication,
      authMethods: r.security.authMethods,
      scopes: r.security.scopes,
      roles: r.security.roles,
      description: r.description ?? null,
      rateLimit: api.rateLimit === undefined ? null : formatRateLimit(api.rateLimit),
      userRateLimit: api.userRateLimit === undefined ? null : formatRateLimit(api.userRateLimit),
    })),
  );
}

/** One row per tool of each hosted MCP server (kind mcp), after the REST routes in --json. */
function mcpRows(servers: readonly CompiledMcpServer[]) {
  return servers.flatMap((s) =>
    s.tools.map((t) => ({
      kind: 'mcp' as const,
      api: `${s.namespace}/${s.id}`,
      file: s.file,
      name: s.name,
      route: `/mcp/${s.namespace}/${s.id}`,
      tool: t.name,
      description: t.description,
      requiresAuthentication: s.security.requiresAuthentication,
      scopes: t.security.scopes,
      roles: t.security.roles,
      rateLimit: s.rateLimit === undefined ? null : formatRateLimit(s.rateLimit),
      userRateLimit: s.userRateLimit === undefined ? null : formatRateLimit(s.userRateLimit),
    })),
  );
}

function mcpTable(servers: readonly CompiledMcpServer[]): string {
  const list = mcpRows(servers);
  if (list.length === 0) return '';
  const table = renderTable(
    ['MCP SERVER', 'ENDPOINT', 'TOOL', 'AUTH', 'SCOPES (any)', 'ROLES (any)'],
    list.map((r) => [r.api, r.route, r.tool, r.requiresAuthentication || r.scopes.length > 0 || r.roles.length > 0 ? 'bearer' : 'none', r.scopes, r.roles]),
    terminalWidth(),
    { whole: [0, 1, 2] },
  );
  return `\nMCP servers (a tools/call without the tool's scope: 403 insufficient_scope):\n${table}`;
}

/** The APIs with rate limits of their own (rateLimit, userRateLimit), one line each. */
function limitsNote(apis: readonly CompiledApi[]): string {
  const lines = apis
    .filter((a) => a.rateLimit !== undefined || a.userRateLimit !== undefined)
    .map((a) => `  ${a.namespace}/${a.id}: ${a.rateLimit === undefined ? 'latchkey.rate_limit.api' : formatRateLimit(a.rateLimit)} for all callers, ${a.userRateLimit === undefined ? 'latchkey.rate_limit.api_user' : formatRateLimit(a.userRateLimit)} per user`);
  return lines.length === 0 ? '' : `\nRate limits of their own (the others: latchkey.rate_limit.api and latchkey.rate_limit.api_user):\n${lines.join('\n')}\n`;
}

export function registerApis(program: Command, kit: Kit): void {
  const apis = program.command('apis').description('REST APIs and hosted MCP servers served by this instance (modules in the APIs folder)');
  const cmd = apis
    .command('list')
    .description('Load every API module (as `serve` would) and list each route, and each tool of the MCP servers, with its security settings')
    .option('--apis <folder>', `folder of API modules (env LATCHKEY_APIS, default ${DEFAULT_APIS})`)
    .addHelpText('after', `
A module that fails to load is reported with its file name and the problem, exactly as at start-up.
Routes are served at /api/<namespace>/<version>/<api>/<path>, and without the version for the default.
MCP servers (defineMcpServer) are served at /mcp/<namespace>/<id>; each tool is listed with the scopes
and roles a tools/call needs. --json: the REST routes, then one row per tool with "kind": "mcp".
`);
  kit.common(cmd).action((opts: ListOptions) =>
    kit.plain(opts, async (out) => {
      const folder = opts.apis ?? process.env.LATCHKEY_APIS ?? DEFAULT_APIS;
      const router = await loadApis(folder, { required: opts.apis !== undefined || process.env.LATCHKEY_APIS !== undefined });
      const list = rows(router.list());
      const servers = router.mcpServers();
      out.result([...list, ...mcpRows(servers)], () =>
        renderTable(
          ['API', 'METHOD', 'ROUTE', 'VERSIONS', 'AUTH', 'ACCEPTS', 'SCOPES (any)', 'ROLES (any)'],
          list.map((r) => [r.api, r.method, r.route, r.versions.map((v) => (v === r.defaultVersion ? `${v}*` : v)), r.requiresAuthentication ? 'required' : 'none', r.requiresAuthentication ? r.authMethods : null, r.scopes, r.roles]),
        ) + (list.length > 0 ? '\n* default version: also served without the version segment.\n' : servers.length > 0 ? '\nNo REST APIs.\n' : `\nNo API modules in ${folder}.\n`) + limitsNote(router.list()) + mcpTable(servers),
      );
    }),
  );
}
