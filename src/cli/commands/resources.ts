import type { Command } from 'commander';
import { hostedResources } from '../../app.js';
import { commandLine, placeholder } from '../../core/shell.js';
import type { ResourceRecord } from '../../domain/model.js';
import { addResource, removeResource, updateResource, type KnownResource } from '../../registry/resources.js';
import { DEFAULTS, parseIssuer } from '../../config/config.js';
import { confirmDelete, parseList } from '../context.js';
import { renderRecord, renderTable } from '../table.js';
import { APIS_HELP, loadApisFor } from './doctor.js';
import type { CommonOptions, Kit } from './index.js';

/**
 * `latchkey resources`: the resources (RFC 8707 resource indicators) clients may name with the
 * `resource` parameter: the hosted APIs and MCP servers (from the API modules) and the registered
 * external resources (add, update, remove).
 */

interface AddOptions extends CommonOptions {
  readonly name?: string;
  readonly description?: string;
  readonly scopes?: string;
}

interface ListOptions extends CommonOptions {
  readonly apis?: string;
  readonly issuer?: string;
}

const DEFAULT_ISSUER = `http://${DEFAULTS.host}:${DEFAULTS.port}`;

function view(r: ResourceRecord): [string, unknown][] {
  return [
    ['Resource', r.uri],
    ['Name', r.name],
    ['Description', r.description || null],
    ['Scopes accepted', r.scopes.length === 0 ? '(any the application is allowed)' : r.scopes],
  ];
}

function nextSteps(r: ResourceRecord): string {
  return `
Next steps:
  1. A client requests a token for it with resource=${r.uri} (token and authorization requests):
     curl -s -u <client-id>:<secret> -d grant_type=client_credentials --data-urlencode resource=${r.uri} <issuer>/oauth/token
  2. The service protects itself with the middleware, naming the same identifier:
     latchkeyExpress({ issuer: '<issuer>', resource: '${r.uri}' })
  3. Limit an application to some resources: ${commandLine(['apps', 'update', placeholder('client-id'), '--resources', r.uri])}
`;
}

function registerAdd(resources: Command, kit: Kit): void {
  const cmd = resources
    .command('add')
    .argument('<uri>', 'the resource identifier: an absolute http(s) URI without fragment (stored in its canonical form)')
    .description('Register an external resource (a service behind the middleware, an external MCP server) that clients may request tokens for')
    .option('--name <name>', 'a name for people (default: the host)')
    .option('--description <text>', 'what the resource is')
    .option('--scopes <a,b>', 'the scopes a token for it may carry (default: any scope the application is allowed)')
    .addHelpText('after', `
Example:
  latchkey resources add https://mcp.example.com/mcp --name "Support MCP" --scopes tickets.read,tickets.write

Tokens requested with resource=<uri> have it as their audience (aud; introspection reports it), and
carry only the scopes it accepts. Hosted APIs and hosted MCP servers are resources without being added.
`);
  kit.common(cmd).action((uri: string, opts: AddOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const resource = await addResource(ctx, { uri, name: opts.name, description: opts.description, scopes: parseList(opts.scopes) });
      out.result(resource, () => `Registered resource ${resource.uri}.\n\n${renderRecord(view(resource))}`);
      out.note(nextSteps(resource));
    }),
  );
}

function registerUpdate(resources: Command, kit: Kit): void {
  const cmd = resources
    .command('update')
    .argument('<uri>', 'the registered resource identifier')
    .description("Change a registered resource's name, description or accepted scopes (its identifier is its identity: tokens carry it)")
    .option('--name <name>', 'a name for people')
    .option('--description <text>', 'what the resource is ("" to clear)')
    .option('--scopes <a,b>', 'the scopes a token for it may carry ("" for any)');
  kit.common(cmd).action((uri: string, opts: AddOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const resource = await updateResource(ctx, uri, { name: opts.name, description: opts.description, scopes: opts.scopes === undefined ? undefined : (parseList(opts.scopes) ?? []) });
      out.result(resource, () => `Updated resource ${resource.uri}.\n\n${renderRecord(view(resource))}`);
    }),
  );
}

function registerRemove(resources: Command, kit: Kit): void {
  const cmd = resources
    .command('remove')
    .argument('<uri>', 'the registered resource identifier')
    .description('Remove a registered resource: new token requests naming it are refused (resource.unknown); tokens already issued keep it as their audience until they expire')
    .option('--yes', 'do not ask for confirmation');
  kit.common(cmd).action((uri: string, opts: CommonOptions & { readonly yes?: boolean }) =>
    kit.withDb(opts, async (ctx, out) => {
      await confirmDelete(kit.io, opts.yes, `Remove the resource ${uri}?`);
      const removed = await removeResource(ctx, uri);
      out.result(removed, () => `Removed resource ${removed.uri}.`);
    }),
  );
}

function registerList(resources: Command, kit: Kit): void {
  const cmd = resources
    .command('list')
    .description('List the resources clients may name: hosted APIs and MCP servers (from the API modules) and registered external resources')
    .option('--apis <folder>', APIS_HELP)
    .option('--issuer <url>', `the instance's issuer, which hosted identifiers derive from (env LATCHKEY_ISSUER, default ${DEFAULT_ISSUER})`)
    .addHelpText('after', `
KIND is api (a hosted API; one row per identifier: canonical and versioned), mcp (a hosted MCP
server) or external (registered with \`latchkey resources add\`). SCOPES are those a token for it may
carry (empty: any). A client names one with resource=<RESOURCE> (RFC 8707).
`);
  kit.common(cmd).action((opts: ListOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const router = await loadApisFor(opts);
      const raw = opts.issuer ?? (process.env.LATCHKEY_ISSUER || undefined);
      const issuer = raw === undefined ? DEFAULT_ISSUER : parseIssuer(raw);
      const registered = await ctx.storage.resources.list();
      const all: KnownResource[] = [...hostedResources(issuer, router), ...registered.map((r) => ({ uri: r.uri, kind: 'external' as const, name: r.name, description: r.description, scopes: r.scopes }))];
      out.result(all, () =>
        (all.length === 0
          ? 'No resources: no API modules loaded and none registered.\n'
          : renderTable(['RESOURCE', 'KIND', 'NAME', 'SCOPES'], all.map((r) => [r.uri, r.kind, r.name, r.scopes]))) +
        (registered.length === 0 ? `\nRegister an external resource: ${commandLine(['resources', 'add', placeholder('uri'), '--scopes', placeholder('a,b')])}\n` : ''),
      );
    }),
  );
}

export function registerResources(program: Command, kit: Kit): void {
  const resources = program.command('resources').description('Resources (RFC 8707) clients may request tokens for: hosted APIs and MCP servers, registered external resources');
  registerAdd(resources, kit);
  registerList(resources, kit);
  registerUpdate(resources, kit);
  registerRemove(resources, kit);
}
