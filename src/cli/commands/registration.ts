/**
 * `latchkey registration`: dynamic client registration (RFC 7591, src/endpoints/register.ts).
 * Initial access tokens (`tokens create|list|revoke`), registration policies
 * (`policies list|show|set|remove`), the registered clients (`clients [--stale]`) and reaping of registered clients nobody uses (`reap`).
 */
import type { Command } from 'commander';
import { DEFAULTS, parseIssuer } from '../../config/config.js';
import { commandLine, shellCommand } from '../../core/shell.js';
import type { InitialAccessToken, RegistrationPolicy } from '../../domain/model.js';
import {
  APPLICATION_TYPES,
  createInitialAccessToken,
  describePolicy,
  findPolicy,
  iatState,
  reapRegistrations,
  registrationInfos,
  type RegistrationInfo,
  REGISTRABLE_GRANTS,
  REGISTRATION_AUTH_METHODS,
  REGISTRATION_MODE_PROPERTY,
  REGISTRATION_PATH,
  removePolicy,
  revokeInitialAccessToken,
  setPolicy,
  TOKEN_FORMATS,
  DEFAULT_POLICY,
  type PolicyInput,
} from '../../registry/registration.js';
import { listProperties } from '../../registry/settings.js';
import { CliError, confirmDelete, parseDurationFlag, parseList, type CliContext } from '../context.js';
import { dbArguments } from '../next-steps.js';
import { isoTime, renderRecord, renderTable, terminalWidth } from '../table.js';
import type { CommonOptions, Kit, Output } from './index.js';

const DEFAULT_ISSUER = `http://${DEFAULTS.host}:${DEFAULTS.port}`;
const ISSUER_HELP = `the instance's public URL, for the curl example (env LATCHKEY_ISSUER, default ${DEFAULT_ISSUER})`;

interface CreateOptions extends CommonOptions {
  readonly uses?: string;
  readonly expires?: string;
  readonly policy?: string;
  readonly issuer?: string;
}
interface YesOptions extends CommonOptions {
  readonly yes?: boolean;
}
interface PolicySetOptions extends CommonOptions {
  readonly description?: string;
  readonly grantTypes?: string;
  readonly scopes?: string;
  readonly redirectHosts?: string;
  readonly tokenFormats?: string;
  readonly authMethods?: string;
  readonly applicationTypes?: string;
}
interface ReapOptions extends CommonOptions {
  readonly dryRun?: boolean;
  readonly days?: string;
}

function steps(ctx: CliContext, lines: readonly (readonly [readonly string[], string])[]): string {
  const { flag, note } = dbArguments(ctx.db);
  const body = lines.map(([words, comment]) => `  # ${comment}\n  ${commandLine(words)}${flag}`);
  return `\nNext steps:\n${note === undefined ? '' : `  # ${note}\n`}${body.join('\n')}\n`;
}

function iatJson(t: InitialAccessToken, now: number) {
  const { hash: _hash, ...rest } = t;
  return { ...rest, state: iatState(t, now) };
}

function stateText(t: InitialAccessToken, now: number): string {
  const s = iatState(t, now);
  return s === 'used_up' ? 'used up' : s;
}

function policyJson(p: RegistrationPolicy) {
  return { ...p, summary: describePolicy(p.spec) };
}

async function modeOf(ctx: CliContext): Promise<string> {
  return String((await listProperties(ctx)).find((p) => p.name === REGISTRATION_MODE_PROPERTY)?.value ?? 'token');
}

function registerTokens(registration: Command, kit: Kit): void {
  const tokens = registration.command('tokens').description('Initial access tokens (RFC 7591 section 3): what a client sends as Authorization: Bearer to register itself');

  const create = tokens
    .command('create')
    .description('Make an initial access token and print it once (only its SHA-256 is stored), with a curl that registers a client with it')
    .option('--uses <n>', 'how many clients it may register (default: no limit)')
    .option('--expires <duration>', 'how long it works: 30m, 12h, 7d, 1h30m (default: until revoked)')
    .option('--policy <name>', `the registration policy its clients are checked against (default: the policy named ${DEFAULT_POLICY}, if any)`)
    .option('--issuer <url>', ISSUER_HELP)
    .addHelpText('after', `
The token is printed once, on stdout alone (\`> file\` writes just the token);
the curl that follows goes to stderr. Give the token to the client as its
"initial access token" (ServiceNow agents, the MCP SDK, any RFC 7591 client).

Examples:
  latchkey registration tokens create --uses 1 --expires 1h
  latchkey registration tokens create --uses 50 --policy agents > agents.token
`);
  kit.common(create).action((opts: CreateOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      let uses: number | undefined;
      if (opts.uses !== undefined) {
        if (!/^\d+$/.test(opts.uses)) throw new CliError(`--uses takes a whole number (got "${opts.uses}").`, 2);
        uses = Number(opts.uses);
      }
      const expiresInSeconds = parseDurationFlag('--expires', opts.expires);
      const issuer = opts.issuer ?? (process.env.LATCHKEY_ISSUER || undefined);
      const base = issuer === undefined ? DEFAULT_ISSUER : parseIssuer(issuer);
      const created = await createInitialAccessToken(ctx, { uses, expiresInSeconds, policy: opts.policy });
      const mode = await modeOf(ctx);
      out.result({ ...iatJson(created.record, ctx.clock.now()), token: created.token, registrationEndpoint: `${base}${REGISTRATION_PATH}` }, `${created.token}\n`);
      if (out.json) return;
      const curl = shellCommand([
        'curl', '-s', '-X', 'POST', `${base}${REGISTRATION_PATH}`,
        '-H', `Authorization: Bearer ${created.token}`,
        '-H', 'Content-Type: application/json',
        '-d', '{"client_name":"My agent","redirect_uris":["http://127.0.0.1:8400/callback"],"token_endpoint_auth_method":"none"}',
      ]);
      const limits = [uses === undefined ? 'no use limit' : `${uses} ${uses === 1 ? 'use' : 'uses'}`, created.record.expiresAt === null ? 'no expiry' : `expires ${isoTime(created.record.expiresAt)}`, `policy ${created.record.policy ?? `${DEFAULT_POLICY} (if it exists)`}`];
      out.warn(`initial access token ${created.record.id} is shown only once (${limits.join(', ')}). Register a client with it:\n  ${curl}`);
      if (mode !== 'token' && mode !== 'open') out.warn(`${REGISTRATION_MODE_PROPERTY} is ${mode}: the endpoint refuses every registration until you set it to token (\`latchkey properties set ${REGISTRATION_MODE_PROPERTY} token\`).`);
    }),
  );

  const list = tokens
    .command('list')
    .description('Every initial access token: its id (never the token), state, uses left, expiry, policy and who made it')
    .addHelpText('after', `
Examples:
  latchkey registration tokens list
  latchkey registration tokens list --json | jq '.[] | select(.state == "active") | .id'
`);
  kit.common(list).action((opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const now = ctx.clock.now();
      const all = await ctx.storage.initialAccessTokens.list();
      out.result(all.map((t) => iatJson(t, now)), () => {
        if (all.length === 0) return `No initial access tokens.${steps(ctx, [[['registration', 'tokens', 'create', '--uses', '1', '--expires', '1h'], 'make one for one client, valid for an hour']])}`;
        const rows = all.map((t) => [t.id, stateText(t, now), t.usesLeft === null ? 'any' : t.usesLeft, t.expiresAt === null ? 'never' : isoTime(t.expiresAt), t.policy ?? '-', t.createdBy]);
        return renderTable(['ID', 'STATE', 'USES', 'EXPIRES', 'POLICY', 'CREATED BY'], rows, terminalWidth(), { whole: [0, 3] });
      });
    }),
  );

  const revoke = tokens
    .command('revoke')
    .argument('<id>', 'the token id (iat_…, see `latchkey registration tokens list`)')
    .description('Revoke an initial access token: it registers nothing more (the clients it registered stay)')
    .addHelpText('after', `
Example:
  latchkey registration tokens revoke iat_0123456789ab
`);
  kit.common(revoke).action((id: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const t = await revokeInitialAccessToken(ctx, id);
      out.result(iatJson(t, ctx.clock.now()), `Initial access token ${t.id} revoked at ${isoTime(t.revokedAt)}.\n`);
    }),
  );
}

function policyRecord(p: RegistrationPolicy): string {
  return renderRecord([
    ['Name', p.name],
    ['Description', p.description],
    ...describePolicy(p.spec).map((line) => {
      const [label = '', value = ''] = line.split(': ');
      return [label.charAt(0).toUpperCase() + label.slice(1), value] as const;
    }),
    ['Created', isoTime(p.createdAt)],
    ['Updated', isoTime(p.updatedAt)],
  ]);
}

/** A list flag: absent keeps, '' or "any" lifts the restriction, otherwise the comma-separated values. */
function listFlag(raw: string | undefined): readonly string[] | null | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === '' || raw.trim().toLowerCase() === 'any') return null;
  return parseList(raw);
}

function registerPolicies(registration: Command, kit: Kit): void {
  const policies = registration.command('policies').description('Registration policies: what a dynamically registered client may have (grant types, scopes, redirect hosts, token formats, auth methods, application types)');

  const list = policies.command('list').description('Every registration policy, with what it restricts');
  kit.common(list).action((opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const all = await ctx.storage.registrationPolicies.list();
      out.result(all.map(policyJson), () => {
        if (all.length === 0) {
          return `No registration policies: registered clients may have anything the instance supports.${steps(ctx, [[['registration', 'policies', 'set', DEFAULT_POLICY, '--scopes', 'orders.read', '--auth-methods', 'none'], `a policy for open registrations and tokens that name none (the policy named ${DEFAULT_POLICY})`]])}`;
        }
        const rows = all.map((p) => [p.name, p.spec.grantTypes?.join(',') ?? 'any', p.spec.scopes?.join(' ') ?? 'any', p.spec.redirectHosts?.join(',') ?? 'any', p.spec.authMethods?.join(',') ?? 'any']);
        return renderTable(['NAME', 'GRANT TYPES', 'SCOPES', 'REDIRECT HOSTS', 'AUTH METHODS'], rows, terminalWidth(), { whole: [0] });
      });
    }),
  );

  const show = policies.command('show').argument('<name>', 'the policy name').description('One registration policy in full');
  kit.common(show).action((name: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const p = await findPolicy(ctx, name);
      out.result(policyJson(p), () => policyRecord(p));
    }),
  );

  const set = policies
    .command('set')
    .argument('<name>', `the policy name (1-64 letters, digits, . _ -; ${DEFAULT_POLICY} applies to open registrations and tokens that name none)`)
    .description('Create a registration policy, or change the restrictions given of an existing one')
    .option('--description <text>', "what it is for ('' clears it)")
    .option('--grant-types <list>', `comma-separated, among ${REGISTRABLE_GRANTS.join(', ')}`)
    .option('--scopes <list>', 'comma-separated scopes it may have; a registration naming none gets these')
    .option('--redirect-hosts <list>', 'comma-separated hosts its redirect URIs may use (*.example.com for subdomains)')
    .option('--token-formats <list>', `comma-separated, among ${TOKEN_FORMATS.join(', ')} (the first is the default)`)
    .option('--auth-methods <list>', `comma-separated token_endpoint_auth_method values, among ${REGISTRATION_AUTH_METHODS.join(', ')}`)
    .option('--application-types <list>', `comma-separated, among ${APPLICATION_TYPES.join(', ')}`)
    .addHelpText('after', `
A list given replaces the policy's; "any" (or '') lifts the restriction; a list
left out stays as it was. Registered clients keep what they were given.

Examples:
  latchkey registration policies set default --scopes orders.read \\
    --auth-methods none --application-types native
  latchkey registration policies set agents \\
    --redirect-hosts '*.agents.example.com' --token-formats jwt
  latchkey registration tokens create --policy agents --uses 10
`);
  kit.common(set).action((name: string, opts: PolicySetOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const input: PolicyInput = {
        description: opts.description,
        grantTypes: listFlag(opts.grantTypes),
        scopes: listFlag(opts.scopes),
        redirectHosts: listFlag(opts.redirectHosts),
        tokenFormats: listFlag(opts.tokenFormats),
        authMethods: listFlag(opts.authMethods),
        applicationTypes: listFlag(opts.applicationTypes),
      };
      const p = await setPolicy(ctx, name, input);
      out.result(policyJson(p), () => `Registration policy ${p.name} saved.\n${policyRecord(p)}${steps(ctx, [[['registration', 'tokens', 'create', '--policy', p.name, '--uses', '1'], 'a token whose registrations follow it']])}`);
    }),
  );

  const remove = policies
    .command('remove')
    .argument('<name>', 'the policy name')
    .option('-y, --yes', 'do not ask for confirmation')
    .description('Delete a registration policy (refused while an active initial access token names it)');
  kit.common(remove).action((name: string, opts: YesOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      await findPolicy(ctx, name);
      await confirmDelete(kit.io, opts.yes, `Delete registration policy ${name}?`);
      const p = await removePolicy(ctx, name);
      out.result({ deleted: true, name: p.name }, `Registration policy ${p.name} deleted.\n`);
    }),
  );
}

interface ClientsOptions extends CommonOptions {
  readonly stale?: boolean;
  readonly issuer?: string;
}

/** The SOURCE column: the initial access token's id, or the address of an open registration. */
function sourceCell(r: RegistrationInfo): string {
  return r.source.startsWith('iat:') || r.source.startsWith('ip:') ? r.source.slice(r.source.indexOf(':') + 1) : r.source;
}

/** A span in its largest unit, rounded: 45m, 5h, 28d. */
function span(ms: number): string {
  const m = Math.max(0, Math.round(ms / 60_000));
  if (m < 120) return `${m}m`;
  const h = Math.round(m / 60);
  return h < 48 ? `${h}h` : `${Math.round(h / 24)}d`;
}

function lastUsedCell(r: RegistrationInfo, now: number): string {
  return r.lastUsedAt === null ? 'never' : `${span(now - r.lastUsedAt)} ago`;
}

function reapCell(r: RegistrationInfo, now: number): string {
  if (r.reapAt === null) return 'never';
  return r.reapDue ? 'next reap' : `in ${span(r.reapAt - now)}`;
}

function registerClients(registration: Command, kit: Kit): void {
  const clients = registration
    .command('clients')
    .description('Every dynamically registered client: who registered it, its policy, its last use and when reaping would delete it')
    .option('--stale', 'only the clients the next reap would delete')
    .option('--issuer <url>', `${ISSUER_HELP.replace('for the curl example', "for each client's registration_client_uri in --json")}`)
    .addHelpText('after', `
SOURCE is the initial access token that registered the client (iat_…), or the
address of an open registration. USED is how long ago it was last used (a token,
an API call, or its registration read or changed). REAP is how soon reaping
deletes it if it stays unused (latchkey.registration.reap_after_days): "next
reap" when the next reap (\`latchkey registration reap\`, or the hourly job of
\`latchkey serve\`) deletes it, "never" when reaping is off.

Examples:
  latchkey registration clients
  latchkey registration clients --stale
  latchkey apps show <client-id>
`);
  kit.common(clients).action((opts: ClientsOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const issuer = opts.issuer ?? (process.env.LATCHKEY_ISSUER || undefined);
      const all = await registrationInfos(ctx, { issuer: issuer === undefined ? DEFAULT_ISSUER : parseIssuer(issuer) });
      const shown = opts.stale === true ? all.filter((r) => r.reapDue) : all;
      const names = new Map<string, string>();
      for (const r of shown) {
        const app = await ctx.storage.applications.byClientId(r.clientId);
        names.set(r.clientId, app?.name ?? '(application gone)');
      }
      out.result(
        shown.map((r) => ({ ...r, name: names.get(r.clientId) ?? null })),
        () => {
          if (shown.length === 0) {
            if (opts.stale === true) return `No registered client is due for reaping${all.length === 0 ? '' : ` (of ${all.length} registered)`}.\n`;
            return `No dynamically registered clients.${steps(ctx, [[['registration', 'tokens', 'create', '--uses', '1', '--expires', '1h'], 'an initial access token a client registers with']])}`;
          }
          const now = ctx.clock.now();
          const rows = shown.map((r) => [r.clientId, names.get(r.clientId) ?? null, sourceCell(r), r.policy ?? '-', lastUsedCell(r, now), reapCell(r, now)]);
          const table = renderTable(['CLIENT ID', 'NAME', 'SOURCE', 'POLICY', 'USED', 'REAP'], rows, terminalWidth(), { whole: [0, 2] });
          const due = shown.filter((r) => r.reapDue).length;
          const next: (readonly [readonly string[], string])[] = [[['apps', 'show', shown[0]?.clientId ?? '<client-id>'], 'one client in full, with its registration']];
          if (due > 0) next.unshift([['registration', 'reap', '--dry-run'], `what the next reap deletes (${due} ${due === 1 ? 'client' : 'clients'} now)`]);
          return `${table}${steps(ctx, next)}`;
        },
      );
    }),
  );
}

function registerReap(registration: Command, kit: Kit): void {
  const reap = registration
    .command('reap')
    .description('Delete dynamically registered clients that got no token (nor had their registration read or changed) for the period, and client ID metadata document applications never used')
    .option('--dry-run', 'list what would be deleted, delete nothing')
    .option('--days <n>', 'the period in days (default: latchkey.registration.reap_after_days)')
    .addHelpText('after', `
The clean-up job of \`latchkey serve\` does the same every hour. Each client
goes as \`apps delete\` does: its tokens revoked, then the application and its
registration. Active applications made from client ID metadata documents
(shown "(document)") that never got a token or an API call, and were not made or
changed within the period, go too: the document is the registration, the
application is made again on its next use. Deactivated ones are kept.

Examples:
  latchkey registration reap --dry-run
  latchkey registration reap --days 7
`);
  kit.common(reap).action((opts: ReapOptions) =>
    kit.withDb(opts, async (ctx, out) => reapCommand(ctx, out, opts)),
  );
}

async function reapCommand(ctx: CliContext, out: Output, opts: ReapOptions): Promise<void> {
  let days: number | undefined;
  if (opts.days !== undefined) {
    if (!/^\d+$/.test(opts.days)) throw new CliError(`--days takes a whole number of days (got "${opts.days}").`, 2);
    days = Number(opts.days);
  }
  const result = await reapRegistrations(ctx, { days, dryRun: opts.dryRun === true });
  out.result({ ...result, cutoff: isoTime(result.cutoff) }, () => {
    if (result.days === 0) return `Reaping is off (latchkey.registration.reap_after_days is 0, or --days 0): nothing deleted.\n`;
    const documents = result.candidates.filter((c) => c.kind === 'metadata_document').length;
    const registered = result.candidates.length - documents;
    const head =
      `${result.dryRun ? 'Would delete' : 'Deleted'} ${registered} registered ${registered === 1 ? 'client' : 'clients'} unused for ${result.days} days\n(no token and no registration read or change since ${isoTime(result.cutoff)}).\n` +
      (documents === 0 ? '' : `${result.dryRun ? 'Would also delete' : 'Also deleted'} ${documents} client ID metadata document ${documents === 1 ? 'application' : 'applications'} never used.\n`);
    if (result.candidates.length === 0) return head;
    // A document application's name says so (a fifth column would not fit 80 columns beside a URL).
    const rows = result.candidates.map((c) => [c.clientId, c.kind === 'metadata_document' ? `${c.name ?? '-'} (document)` : c.name, isoTime(c.createdAt), c.lastUsedAt === null ? 'never' : isoTime(c.lastUsedAt)]);
    const table = renderTable(['CLIENT ID', 'NAME', 'CREATED AT', 'LAST USED'], rows, terminalWidth(), { whole: [0] });
    return `${head}${table}${result.dryRun ? steps(ctx, [[['registration', 'reap', ...(opts.days === undefined ? [] : ['--days', String(result.days)])], 'delete them']]) : ''}`;
  });
}

export function registerRegistration(program: Command, kit: Kit): void {
  const registration = program
    .command('registration')
    .description('Dynamic client registration (RFC 7591/7592): initial access tokens, registration policies, registered clients, reaping unused ones')
    .addHelpText('after', `
Clients register at POST /oauth/register. latchkey.registration.mode says who
may: off, token (the default: an initial access token is required) or open
(anyone, limited per source address by latchkey.rate_limit.registration).
Registered clients are applications of origin registration
(\`latchkey apps list --origin registration\`).

Examples:
  latchkey registration tokens create --uses 1 --expires 1h
  latchkey registration policies set default --scopes orders.read
  latchkey properties set latchkey.registration.mode open
  latchkey registration clients --stale
  latchkey registration reap --dry-run
`);
  registerTokens(registration, kit);
  registerPolicies(registration, kit);
  registerClients(registration, kit);
  registerReap(registration, kit);
}
