import type { Command } from 'commander';
import { DEFAULT_APIS } from '../../config/config.js';
import type { CompiledApi, CompiledResource } from '../../resource-server/compile.js';
import { loadApis } from '../../resource-server/load.js';
import { renderTable } from '../table.js';
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

/** The APIs with rate limits of their own (rateLimit, userRateLimit), one line each. */
function limitsNote(apis: readonly CompiledApi[]): string {
  const lines = apis
    .filter((a) => a.rateLimit !== undefined || a.userRateLimit !== undefined)
    .map((a) => `  ${a.namespace}/${a.id}: ${a.rateLimit === undefined ? 'latchkey.rate_limit.api' : formatRateLimit(a.rateLimit)} for all callers, ${a.userRateLimit === undefined ? 'latchkey.rate_limit.api_user' : formatRateLimit(a.userRateLimit)} per user`);
  return lines.length === 0 ? '' : `\nRate limits of their own (the others: latchkey.rate_limit.api and latchkey.rate_limit.api_user):\n${lines.join('\n')}\n`;
}

export function registerApis(program: Command, kit: Kit): void {
  const apis = program.command('apis').description('REST APIs served by this instance (modules in the APIs folder)');
  const cmd = apis
    .command('list')
    .description('Load every API module (as `serve` would) and list each route with its security settings')
    .option('--apis <folder>', `folder of API modules (env LATCHKEY_APIS, default ${DEFAULT_APIS})`)
    .addHelpText('after', `
A module that fails to load is reported with its file name and the problem, exactly as at start-up.
Routes are served at /api/<namespace>/<version>/<api>/<path>, and without the version for the default.
`);
  kit.common(cmd).action((opts: ListOptions) =>
    kit.plain(opts, async (out) => {
      const folder = opts.apis ?? process.env.LATCHKEY_APIS ?? DEFAULT_APIS;
      const router = await loadApis(folder, { required: opts.apis !== undefined || process.env.LATCHKEY_APIS !== undefined });
      const list = rows(router.list());
      out.result(list, () =>
        renderTable(
          ['API', 'METHOD', 'ROUTE', 'VERSIONS', 'AUTH', 'ACCEPTS', 'SCOPES (any)', 'ROLES (any)'],
          list.map((r) => [r.api, r.method, r.route, r.versions.map((v) => (v === r.defaultVersion ? `${v}*` : v)), r.requiresAuthentication ? 'required' : 'none', r.requiresAuthentication ? r.authMethods : null, r.scopes, r.roles]),
        ) + (list.length > 0 ? '\n* default version: also served without the version segment.\n' : `\nNo API modules in ${folder}.\n`) + limitsNote(router.list()),
      );
    }),
  );
}
