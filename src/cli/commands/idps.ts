import type { Command } from 'commander';
import { commandLine, shown } from '../../core/shell.js';
import {
  checkProvider,
  createIdentityProvider,
  findIdentityProvider,
  IDP_USER_FIELDS,
  listIdentityProviders,
  removeIdentityProvider,
  updateIdentityProvider,
  type IdentityProviderInput,
  type ProviderCheck,
} from '../../idp/registry.js';
import { storedFetcher } from '../../registry/outbound-policy.js';
import type { IdentityProvider } from '../../domain/model.js';
import { CliError, parseBool } from '../context.js';
import { isoTime, renderRecord, renderTable } from '../table.js';
import type { CommonOptions, Kit, Output } from './index.js';

interface SharedOptions extends CommonOptions {
  readonly name?: string;
  readonly issuer?: string;
  readonly metadataUrl?: string;
  readonly jwksUri?: string;
  readonly audience?: string;
  readonly userClaim?: string;
  readonly userField?: string;
  /** false with --no-check. */
  readonly check?: boolean;
}
interface AddOptions extends SharedOptions {
  readonly inactive?: boolean;
}
interface UpdateOptions extends SharedOptions {
  readonly active?: string;
}

/** An identity provider as the CLI shows it. */
export function idpView(p: IdentityProvider) {
  return {
    id: p.id,
    name: p.name,
    issuer: p.issuer,
    metadataUrl: p.metadataUrl,
    jwksUri: p.jwksUri,
    audience: p.audience,
    userClaim: p.userClaim,
    userField: p.userField,
    active: p.active,
    createdAt: isoTime(p.createdAt),
    updatedAt: isoTime(p.updatedAt),
  };
}

function record(v: ReturnType<typeof idpView>, check: ProviderCheck | undefined): string {
  return renderRecord([
    ['Name', v.name],
    ['Issuer (iss)', v.issuer],
    ['Metadata URL', v.metadataUrl],
    ['JWKS URI', v.jwksUri ?? (check === undefined ? '(from the metadata)' : `${check.jwksUri} (from the metadata)`)],
    ['Audience (aud)', v.audience],
    ['User claim', v.userClaim],
    ['Matched against', v.userField === 'id' ? 'user id' : 'user name'],
    ['Active', v.active],
    ...(check === undefined ? [] : [['Keys published', check.keys] as const]),
    ['Created', v.createdAt],
    ['Updated', v.updatedAt],
  ]);
}

function report(out: Output, provider: IdentityProvider, check: ProviderCheck | undefined, headline: string): void {
  const view = idpView(provider);
  out.result({ ...view, check: check ?? null }, () => `${headline}\n\n${record(view, check)}`);
}

function nextSteps(p: IdentityProvider): string {
  return `
Next steps:
  1. Make sure a local user exists for each person or service, named by the token's ${shown(p.userClaim)} claim
     (matched against the ${p.userField === 'id' ? 'user id' : 'user name'}), with the roles your APIs need:
       latchkey users create <claim-value> --roles itil
  2. Get an access token from the provider for the audience ${shown(p.audience)} and call an API with it:
       curl -H "Authorization: Bearer $TOKEN" http://localhost:8080/api/<namespace>/<api>/...
  A refused call answers with a request id; \`latchkey explain <request-id>\` says why.
`;
}

function sharedInput(opts: SharedOptions): IdentityProviderInput {
  if (opts.userField !== undefined && !(IDP_USER_FIELDS as readonly string[]).includes(opts.userField)) {
    throw new CliError(`--user-field takes ${IDP_USER_FIELDS.join(' or ')} (got "${opts.userField}").`, 2);
  }
  if (opts.metadataUrl !== undefined && opts.jwksUri !== undefined) throw new CliError('Give either --metadata-url or --jwks-uri, not both.', 2);
  return {
    name: opts.name,
    issuer: opts.issuer,
    metadataUrl: opts.metadataUrl,
    jwksUri: opts.jwksUri,
    audience: opts.audience,
    userClaim: opts.userClaim,
    userField: opts.userField,
    check: opts.check !== false,
  };
}

function keyOptions(cmd: Command): Command {
  return cmd
    .option('--metadata-url <url>', 'its discovery document: <issuer>/.well-known/openid-configuration or /.well-known/oauth-authorization-server (its issuer must match; its jwks_uri is used)')
    .option('--jwks-uri <url>', 'or its JWKS URI directly (instead of --metadata-url)')
    .option('--user-claim <claim>', 'the token claim that names the local user (default sub), for example preferred_username or email')
    .option('--user-field <field>', 'the local user field that claim is matched against: user_name (default) or id')
    .option('--no-check', 'do not fetch the metadata and JWKS now (tokens are refused until they can be fetched)');
}

function registerAdd(idps: Command, kit: Kit): void {
  const cmd = idps
    .command('add')
    .description('Trust bearer tokens (JWTs) from an external identity provider on your APIs')
    .requiredOption('--name <name>', 'a name for the provider')
    .requiredOption('--issuer <url>', 'the exact iss of its tokens')
    .requiredOption('--audience <aud>', 'the aud its tokens carry for this server; tokens for other audiences are refused');
  keyOptions(cmd)
    .option('--inactive', 'add the provider inactive')
    .addHelpText('after', `
A token from the provider is accepted by an API when its iss is the provider's issuer, its signature
verifies with a key the provider publishes, its aud includes the audience, it has not expired, and
its user claim names an active local user. The call then acts as that user, with the user's roles;
the token's scopes come from its "scope" (space-separated) or "scp" (array) claim.

The metadata URL and JWKS URI must be https on a public address: the server fetches them when
anonymous callers send tokens, so loopback, private and cloud metadata addresses are refused
(http and private addresses only while latchkey.outbound.allow_private_networks is true, for test
networks). Tokens that live longer than latchkey.idp.max_token_lifetime_seconds are refused.

Example (an OpenID Connect provider; tokens name the user in preferred_username):
  latchkey idps add --name corp-sso \\
    --issuer https://login.example.com/realms/corp \\
    --metadata-url https://login.example.com/realms/corp/.well-known/openid-configuration \\
    --audience https://latchkey.example.com \\
    --user-claim preferred_username
  latchkey users create jdoe --roles itil

Example (keys at a JWKS URI, users matched by id):
  latchkey idps add --name ci --issuer https://token.ci.example.com --jwks-uri https://token.ci.example.com/keys \\
    --audience latchkey --user-field id
`);
  kit.common(cmd).action((opts: AddOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      if (opts.metadataUrl === undefined && opts.jwksUri === undefined) throw new CliError('Give --metadata-url <url> or --jwks-uri <url>: where the provider publishes its keys.', 2);
      const { provider, check } = await createIdentityProvider(ctx, { ...sharedInput(opts), active: opts.inactive !== true });
      report(out, provider, check, `Added identity provider "${provider.name}".`);
      out.note(nextSteps(provider));
      if (check === undefined) out.warn(`the metadata and keys were not fetched (--no-check). Check them later with: ${commandLine(['idps', 'check', provider.name])}`);
      if (!provider.active) out.warn(`the provider is inactive, so its tokens are refused. Fix: ${commandLine(['idps', 'update', provider.name, '--active', 'true'])}`);
    }),
  );
}

function registerUpdate(idps: Command, kit: Kit): void {
  const cmd = idps
    .command('update')
    .argument('<name>', 'the provider\'s name (or id)')
    .description('Change an identity provider; takes effect within a second on running servers')
    .option('--name <name>', 'a new name')
    .option('--issuer <url>', 'the exact iss of its tokens')
    .option('--audience <aud>', 'the aud its tokens carry for this server');
  keyOptions(cmd)
    .option('--active <true|false>', 'activate or deactivate the provider (inactive: its tokens are refused)')
    .addHelpText('after', `
Examples:
  latchkey idps update corp-sso --user-claim email
  latchkey idps update corp-sso --jwks-uri https://login.example.com/keys     # replaces --metadata-url
  latchkey idps update corp-sso --active false
`);
  kit.common(cmd).action((name: string, opts: UpdateOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const input: IdentityProviderInput = { ...sharedInput(opts), active: opts.active === undefined ? undefined : parseBool('--active', opts.active) };
      if (Object.entries(input).every(([k, v]) => k === 'check' || v === undefined)) throw new CliError('Nothing to change: give at least one option (see `latchkey idps update --help`).', 2);
      const { provider, check } = await updateIdentityProvider(ctx, name, input);
      report(out, provider, check, `Updated identity provider "${provider.name}".`);
    }),
  );
}

function registerList(idps: Command, kit: Kit): void {
  const cmd = idps.command('list').description('List identity providers whose tokens APIs accept');
  kit.common(cmd).action((opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const views = (await listIdentityProviders(ctx)).map(idpView);
      out.result(views, () =>
        renderTable(
          ['NAME', 'ISSUER', 'AUDIENCE', 'KEYS FROM', 'USER CLAIM', 'ACTIVE'],
          views.map((v) => [v.name, v.issuer, v.audience, v.metadataUrl ?? v.jwksUri, `${v.userClaim} -> ${v.userField}`, v.active]),
        ),
      );
    }),
  );
}

function registerShow(idps: Command, kit: Kit): void {
  const cmd = idps.command('show').argument('<name>', 'the provider\'s name (or id)').description('Show one identity provider');
  kit.common(cmd).action((name: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const view = idpView(await findIdentityProvider(ctx, name));
      out.result(view, () => record(view, undefined));
    }),
  );
}

function registerCheck(idps: Command, kit: Kit): void {
  const cmd = idps
    .command('check')
    .argument('<name>', 'the provider\'s name (or id)')
    .description('Fetch the provider\'s metadata and JWKS now, as the server will, and report what was found');
  kit.common(cmd).action((name: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const provider = await findIdentityProvider(ctx, name);
      const check = await checkProvider({ fetcher: storedFetcher(ctx.storage) }, provider);
      out.result({ name: provider.name, ...check }, () => `Identity provider "${provider.name}" is reachable: ${check.keys} key(s) at ${check.jwksUri}.\n`);
    }),
  );
}

function registerRemove(idps: Command, kit: Kit): void {
  const cmd = idps.command('remove').argument('<name>', 'the provider\'s name (or id)').description('Stop trusting an identity provider: its tokens are refused within a second');
  kit.common(cmd).action((name: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const provider = await removeIdentityProvider(ctx, name);
      out.result({ removed: idpView(provider) }, () => `Removed identity provider "${provider.name}" (issuer ${provider.issuer}). Its tokens are no longer accepted.\n`);
    }),
  );
}

export function registerIdps(program: Command, kit: Kit): void {
  const idps = program
    .command('idps')
    .description('Manage external identity providers whose JWT access tokens your APIs accept')
    .addHelpText('after', `
See docs/jwt-bearer-and-identity-providers.md for a walk-through.
`);
  registerAdd(idps, kit);
  registerUpdate(idps, kit);
  registerList(idps, kit);
  registerShow(idps, kit);
  registerCheck(idps, kit);
  registerRemove(idps, kit);
}
