import type { Command } from 'commander';
import { DEFAULT_APIS, DEFAULTS, parseIssuer } from '../../config/config.js';
import type { CompiledApi, CompiledResource } from '../../resource-server/compile.js';
import type { CompiledMcpServer } from '../../resource-server/compile-mcp.js';
import { loadApis } from '../../resource-server/load.js';
import { hostedMcpResources } from '../../resource-server/mcp.js';
import { declaredScopes, hostedProtectedResources } from '../../resource-server/protected-resource-metadata.js';
import { CliError } from '../context.js';
import { renderRecord, renderTable, terminalWidth } from '../table.js';
import { formatRateLimit } from '../../domain/rate-limit.js';
import type { CommonOptions, Kit, Output } from './index.js';

interface ListOptions extends CommonOptions {
  readonly apis?: string;
  readonly issuer?: string;
}

/** `serve`'s issuer when none is configured: its default listening address. */
const DEFAULT_ISSUER = `http://${DEFAULTS.host}:${DEFAULTS.port}`;
const ISSUER_HELP = `the instance's issuer, which the resource identifiers derive from (env LATCHKEY_ISSUER, default ${DEFAULT_ISSUER}, serve's default address)`;

function issuerOf(opts: ListOptions): string {
  const raw = opts.issuer ?? (process.env.LATCHKEY_ISSUER || undefined);
  return raw === undefined ? DEFAULT_ISSUER : parseIssuer(raw);
}

/** Each API's protected resources (RFC 9728): the canonical identifier first, then one per version. */
function resourcesOf(api: CompiledApi, issuer: string) {
  return hostedProtectedResources([api], issuer).map((r) => ({ resource: r.resource, metadataUrl: r.metadataUrl, version: r.version ?? null }));
}

function route(api: CompiledApi, version: string | null, r: CompiledResource): string {
  const v = version === null ? '' : `/${version}`;
  return `/api/${api.namespace}${v}/${api.id}${r.template === '/' ? '' : r.template}`;
}

function rows(apis: readonly CompiledApi[], issuer: string) {
  return apis.flatMap((api) => {
    const [canonical] = resourcesOf(api, issuer);
    return api.resources.map((r) => ({
      api: `${api.namespace}/${api.id}`,
      resource: canonical?.resource ?? null,
      resourceMetadata: canonical?.metadataUrl ?? null,
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
    }));
  });
}

/** The resource identifier and metadata URL of each API, two lines each (URLs are never wrapped). */
function resourcesNote(apis: readonly CompiledApi[], issuer: string): string {
  if (apis.length === 0) return '';
  const lines = apis.map((api) => {
    const [canonical] = resourcesOf(api, issuer);
    return `  ${api.namespace}/${api.id}\n    resource  ${canonical?.resource ?? ''}\n    metadata  ${canonical?.metadataUrl ?? ''}`;
  });
  return `\nResource identifiers (RFC 8707) and their metadata (RFC 9728)\nunder the issuer ${issuer}:\n${lines.join('\n')}\nThe versioned identifiers of one API: latchkey apis show <namespace>/<id>\n`;
}

/** A hosted MCP server's protected resource (RFC 9728): its identifier, its metadata URL, every scope it and its tools declare. */
function mcpResourceOf(server: CompiledMcpServer, issuer: string) {
  const [r] = hostedProtectedResources([], issuer, hostedMcpResources(issuer, [server]));
  return { resource: r?.resource ?? '', metadataUrl: r?.metadataUrl ?? '', scopes: r?.scopes ?? [] };
}

/** One row per tool of each hosted MCP server (kind mcp), after the REST routes in --json. */
function mcpRows(servers: readonly CompiledMcpServer[], issuer: string) {
  return servers.flatMap((s) => {
    const { resource, metadataUrl } = mcpResourceOf(s, issuer);
    return s.tools.map((t) => ({
      kind: 'mcp' as const,
      api: `${s.namespace}/${s.id}`,
      resource,
      resourceMetadata: metadataUrl,
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
    }));
  });
}

function mcpTable(servers: readonly CompiledMcpServer[], issuer: string): string {
  const list = mcpRows(servers, issuer);
  if (list.length === 0) return '';
  const table = renderTable(
    ['MCP SERVER', 'ENDPOINT', 'TOOL', 'AUTH', 'SCOPES (any)', 'ROLES (any)'],
    list.map((r) => [r.api, r.route, r.tool, r.requiresAuthentication || r.scopes.length > 0 || r.roles.length > 0 ? 'bearer' : 'none', r.scopes, r.roles]),
    terminalWidth(),
    { whole: [0, 1, 2] },
  );
  // URLs on lines of their own, never wrapped (they are copied).
  const resources = servers.map((s) => {
    const r = mcpResourceOf(s, issuer);
    return `  ${s.namespace}/${s.id}\n    resource  ${r.resource}\n    metadata  ${r.metadataUrl}`;
  });
  return `\nMCP servers (a tools/call without the tool's scope: 403 insufficient_scope):\n${table}\nTheir resource identifiers and metadata (RFC 9728):\n${resources.join('\n')}\nOne MCP server in full: latchkey apis show <namespace>/<id>\n`;
}

/** The APIs with rate limits of their own (rateLimit, userRateLimit), one line each. */
function limitsNote(apis: readonly CompiledApi[]): string {
  const lines = apis
    .filter((a) => a.rateLimit !== undefined || a.userRateLimit !== undefined)
    .map((a) => `  ${a.namespace}/${a.id}: ${a.rateLimit === undefined ? 'latchkey.rate_limit.api' : formatRateLimit(a.rateLimit)} for all callers, ${a.userRateLimit === undefined ? 'latchkey.rate_limit.api_user' : formatRateLimit(a.userRateLimit)} per user`);
  return lines.length === 0 ? '' : `\nRate limits of their own (the others: latchkey.rate_limit.api and latchkey.rate_limit.api_user):\n${lines.join('\n')}\n`;
}

/** `apis show` of a hosted MCP server: its protected resource, its metadata URL, its tools and what each needs. */
function showMcp(out: Output, server: CompiledMcpServer, issuer: string): void {
  const r = mcpResourceOf(server, issuer);
  const tools = mcpRows([server], issuer);
  const view = {
    kind: 'mcp' as const,
    api: `${server.namespace}/${server.id}`,
    name: server.name,
    file: server.file,
    endpoint: `/mcp/${server.namespace}/${server.id}`,
    requiresAuthentication: server.security.requiresAuthentication,
    scopes: r.scopes,
    issuer,
    resource: r.resource,
    resourceMetadata: r.metadataUrl,
    tools: tools.map((t) => ({ tool: t.tool, description: t.description, scopes: t.scopes, roles: t.roles })),
  };
  out.result(view, () =>
    renderRecord([
      ['MCP server', view.api],
      ['Name', view.name],
      ['File', view.file],
      ['Endpoint', view.endpoint],
      ['Authentication', server.security.requiresAuthentication ? `bearer token${server.security.scopes.length > 0 ? ` with ${server.security.scopes.join(' or ')}` : ''}` : 'none (tools with scopes or roles still need a token)'],
      ['Scopes', view.scopes.length === 0 ? 'none' : view.scopes.join(' ')],
      ['Issuer', issuer],
    ]) +
      `\nResource identifier (RFC 8707) and its metadata (RFC 9728):\n    resource  ${r.resource}\n    metadata  ${r.metadataUrl}\n\n` +
      renderTable(['TOOL', 'SCOPES (any)', 'ROLES (any)'], view.tools.map((t) => [t.tool, t.scopes, t.roles]), terminalWidth(), { whole: [0] }),
  );
}

export function registerApis(program: Command, kit: Kit): void {
  const apis = program.command('apis').description('REST APIs and hosted MCP servers served by this instance (modules in the APIs folder)');
  const cmd = apis
    .command('list')
    .description('Load every API module (as `serve` would) and list each route, and each tool of the MCP servers, with its security settings')
    .option('--apis <folder>', `folder of API modules (env LATCHKEY_APIS, default ${DEFAULT_APIS})`)
    .option('--issuer <url>', ISSUER_HELP)
    .addHelpText('after', `
A module that fails to load is reported with its file name and the problem, exactly as at start-up.
Routes are served at /api/<namespace>/<version>/<api>/<path>, and without the version for the default.
Each API is a protected resource: <issuer>/api/<namespace>/<api> (and one per versioned path) is what a
client sends as resource and what its tokens name as their audience; its metadata (RFC 9728) is at
<issuer>/.well-known/oauth-protected-resource/api/<namespace>/<api>. One API in full:
  latchkey apis show acme/orders --issuer https://auth.example.com
MCP servers (defineMcpServer) are served at /mcp/<namespace>/<id>; each tool is listed with the scopes
and roles a tools/call needs. Each is a protected resource too: <issuer>/mcp/<namespace>/<id>, with its
metadata at <issuer>/.well-known/oauth-protected-resource/mcp/<namespace>/<id>.
--json: the REST routes, then one row per tool with "kind": "mcp".
`);
  kit.common(cmd).action((opts: ListOptions) =>
    kit.plain(opts, async (out) => {
      const folder = opts.apis ?? process.env.LATCHKEY_APIS ?? DEFAULT_APIS;
      const router = await loadApis(folder, { required: opts.apis !== undefined || process.env.LATCHKEY_APIS !== undefined });
      const issuer = issuerOf(opts);
      const list = rows(router.list(), issuer);
      const servers = router.mcpServers();
      out.result([...list, ...mcpRows(servers, issuer)], () =>
        renderTable(
          ['API', 'METHOD', 'ROUTE', 'VERSIONS', 'AUTH', 'ACCEPTS', 'SCOPES (any)', 'ROLES (any)'],
          list.map((r) => [r.api, r.method, r.route, r.versions.map((v) => (v === r.defaultVersion ? `${v}*` : v)), r.requiresAuthentication ? 'required' : 'none', r.requiresAuthentication ? r.authMethods : null, r.scopes, r.roles]),
        ) +
          (list.length > 0 ? '\n* default version: also served without the version segment.\n' : servers.length > 0 ? '\nNo REST APIs.\n' : `\nNo API modules in ${folder}.\n`) +
          limitsNote(router.list()) +
          resourcesNote(router.list(), issuer) +
          mcpTable(servers, issuer),
      );
    }),
  );

  const show = apis
    .command('show')
    .argument('<api>', 'the API or MCP server as <namespace>/<id> (as apis list shows it)')
    .description('One API or hosted MCP server in full: its resource identifiers and metadata URLs (RFC 9728), the scopes it declares, its routes or tools')
    .option('--apis <folder>', `folder of API modules (env LATCHKEY_APIS, default ${DEFAULT_APIS})`)
    .option('--issuer <url>', ISSUER_HELP)
    .addHelpText('after', `
Example:
  latchkey apis show acme/orders --issuer https://auth.example.com
  curl -s https://auth.example.com/.well-known/oauth-protected-resource/api/acme/orders
A hosted MCP server (when no API has that name):
  latchkey apis show acme/desk --issuer https://auth.example.com
  curl -s https://auth.example.com/.well-known/oauth-protected-resource/mcp/acme/desk
`);
  kit.common(show).action((name: string, opts: ListOptions) =>
    kit.plain(opts, async (out) => {
      const folder = opts.apis ?? process.env.LATCHKEY_APIS ?? DEFAULT_APIS;
      const router = await loadApis(folder, { required: opts.apis !== undefined || process.env.LATCHKEY_APIS !== undefined });
      const api = router.list().find((a) => `${a.namespace}/${a.id}` === name);
      const mcp = api === undefined ? router.mcpServers().find((m) => `${m.namespace}/${m.id}` === name) : undefined;
      if (mcp !== undefined) {
        showMcp(out, mcp, issuerOf(opts));
        return;
      }
      if (api === undefined) {
        const known = [...router.list(), ...router.mcpServers()].map((a) => `${a.namespace}/${a.id}`);
        throw new CliError(`No API ${name.slice(0, 200)} in ${folder}. ${known.length === 0 ? 'It has no API modules.' : `Known: ${known.join(', ')}.`}\nList them: latchkey apis list${opts.apis === undefined ? '' : ` --apis ${opts.apis}`}`);
      }
      const issuer = issuerOf(opts);
      const resources = resourcesOf(api, issuer);
      const routes = rows([api], issuer);
      const view = {
        api: `${api.namespace}/${api.id}`,
        name: api.name,
        file: api.file,
        versions: api.versions,
        defaultVersion: api.defaultVersion,
        scopes: declaredScopes(api),
        issuer,
        resources,
        routes,
      };
      out.result(view, () =>
        renderRecord([
          ['API', view.api],
          ['Name', view.name],
          ['File', view.file],
          ['Versions', api.versions.map((v) => (v === api.defaultVersion ? `${v} (default)` : v)).join(', ')],
          ['Scopes', view.scopes.length === 0 ? 'none' : view.scopes.join(' ')],
          ['Issuer', issuer],
        ]) +
          // URLs on lines of their own, never wrapped (they are copied).
          `\nResource identifiers (RFC 8707) and their metadata (RFC 9728):\n${resources
            .map((r) => `  ${r.version === null ? 'canonical' : r.version}\n    resource  ${r.resource}\n    metadata  ${r.metadataUrl}`)
            .join('\n')}\n\n` +
          renderTable(
            ['METHOD', 'ROUTE', 'AUTH', 'ACCEPTS', 'SCOPES (any)', 'ROLES (any)'],
            routes.map((r) => [r.method, r.defaultRoute, r.requiresAuthentication ? 'required' : 'none', r.requiresAuthentication ? r.authMethods : null, r.scopes, r.roles]),
          ),
      );
    }),
  );
}
