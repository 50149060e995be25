import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { DEVICE_CODE_GRANT } from '../../grants/grant-type.js';
import { createApplication, findApplication, rotateSecret, updateApplication, type ApplicationInput } from '../../registry/applications.js';
import { commandLine, shellCommand } from '../../core/shell.js';
import { exampleRequest, grantWarnings } from '../../grants/index.js';
import type { GrantDescriptor } from '../../grants/types.js';
import { resolveProperties } from '../../registry/properties.js';
import { APPLICATION_ORIGINS, type Application, type ApplicationOrigin } from '../../domain/model.js';
import { DURATION_SYNTAX, formatDuration } from '../../core/duration.js';
import { CliError, parseBool, parseDurationFlag, parseList, type CliContext } from '../context.js';
import { applicationView } from '../../registry/application-view.js';
import { RATE_LIMIT_SYNTAX } from '../../domain/rate-limit.js';
import { isoTime, renderRecord, renderTable, terminalWidth } from '../table.js';
import type { CommonOptions, Kit, Output } from './index.js';
import { registerDeletes } from './lifecycle.js';
import { registerPosture } from './posture.js';
import { registrationInfo, type RegistrationInfo } from '../../registry/registration.js';
import { DEFAULTS, parseIssuer } from '../../config/config.js';
import { applyClaimPairs, CLAIM_SOURCE_FIELDS } from '../../registry/claim-mappings.js';

const collectClaims = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

const TOKEN_URL = 'http://localhost:8080/oauth_token.do';
const PAR_URL = 'http://localhost:8080/oauth/par';
const DEVICE_AUTHORIZATION_URL = 'http://localhost:8080/oauth/device_authorization';
/** Every command that names an application takes its client id or its unique name (registry findApplication). */
const APP_REF_HELP = "the application's client id, or its name when no other application has it";

interface SharedOptions extends CommonOptions {
  readonly name?: string;
  readonly grants?: string;
  readonly scopes?: string;
  readonly redirectUris?: string;
  /** Repeatable --redirect-uri, one URI each (for URIs with commas). */
  readonly redirectUri?: string[];
  readonly accessTokenLifespan?: string;
  readonly refreshTokenLifespan?: string;
  readonly tokenFormat?: string;
  readonly logoUri?: string;
  readonly audience?: string;
  readonly jwks?: string;
  readonly jwksUri?: string;
  readonly rateLimit?: string;
  readonly idTokenAlg?: string;
  /** Repeatable --post-logout-redirect-uri (RP-Initiated Logout). */
  readonly postLogoutRedirectUri?: string[];
  readonly backchannelLogoutUri?: string;
  /** --backchannel-logout-session-required alone is true; or true|false. */
  readonly backchannelLogoutSessionRequired?: string | boolean;
  /** RFC 8707: comma-separated resource identifiers, or `any`. */
  readonly resources?: string;
  /** RFC 9126: --par-required alone is true; or true|false. */
  readonly parRequired?: string | boolean;
}
interface CreateOptions extends SharedOptions {
  readonly appUser?: string;
  readonly public?: boolean;
  readonly inactive?: boolean;
  readonly canIntrospect?: boolean;
  readonly adminApi?: string;
  readonly dpopRequired?: string;
}
interface UpdateOptions extends SharedOptions {
  /** A user name, or false for --no-app-user. */
  readonly appUser?: string | false;
  readonly active?: string;
  readonly public?: string;
  readonly canIntrospect?: string;
  readonly adminApi?: string;
  readonly dpopRequired?: string;
  /** Repeatable --claim name=field (name= removes it). */
  readonly claim?: string[];
}

/** --redirect-uris (comma-separated) and every --redirect-uri, together; undefined when neither was given. */
function redirectUris(opts: SharedOptions): string[] | undefined {
  const listed = parseList(opts.redirectUris);
  if (listed === undefined && opts.redirectUri === undefined) return undefined;
  return [...(listed ?? []), ...(opts.redirectUri ?? [])];
}

/**
 * --jwks takes inline JSON (starting with "{") or the path of a file holding it; "" clears. The
 * registry checks the content (public keys only).
 */
function readJwks(raw: string | undefined): string | undefined {
  if (raw === undefined || raw.trim() === '' || raw.trim().startsWith('{')) return raw;
  try {
    return readFileSync(raw.trim(), 'utf8');
  } catch (error) {
    const code = (error as { code?: string }).code;
    throw new CliError(
      code === 'ENOENT'
        ? `--jwks: there is no file "${raw}". Give the path of a JWKS file, or the JWKS itself as JSON ({"keys":[...]}).`
        : `--jwks: could not read "${raw}" (${code ?? (error as Error).message}).`,
      2,
    );
  }
}

/** --resources: `any` (or "") lifts the limit; otherwise the comma-separated resource identifiers. */
function resourcesInput(raw: string | undefined): readonly string[] | null | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === '' || raw.trim().toLowerCase() === 'any') return null;
  return parseList(raw) ?? [];
}

function sharedInput(opts: SharedOptions): ApplicationInput {
  return {
    name: opts.name,
    grantTypes: parseList(opts.grants),
    scopes: parseList(opts.scopes),
    redirectUris: redirectUris(opts),
    accessTokenLifespan: parseDurationFlag('--access-token-lifespan', opts.accessTokenLifespan),
    refreshTokenLifespan: parseDurationFlag('--refresh-token-lifespan', opts.refreshTokenLifespan),
    tokenFormat: opts.tokenFormat,
    logoUri: opts.logoUri,
    audience: opts.audience,
    jwks: readJwks(opts.jwks),
    jwksUri: opts.jwksUri,
    rateLimit: opts.rateLimit,
    idTokenSignedResponseAlg: opts.idTokenAlg,
    postLogoutRedirectUris: opts.postLogoutRedirectUri,
    backchannelLogoutUri: opts.backchannelLogoutUri,
    resources: resourcesInput(opts.resources),
    backchannelLogoutSessionRequired:
      typeof opts.backchannelLogoutSessionRequired === 'string'
        ? parseBool('--backchannel-logout-session-required', opts.backchannelLogoutSessionRequired)
        : opts.backchannelLogoutSessionRequired,
    parRequired: typeof opts.parRequired === 'string' ? parseBool('--par-required', opts.parRequired) : opts.parRequired,
  };
}

function updateInput(opts: UpdateOptions, claimMappings?: ApplicationInput['claimMappings']): ApplicationInput {
  const input: ApplicationInput = {
    claimMappings,
    ...sharedInput(opts),
    appUser: opts.appUser === false ? null : opts.appUser,
    active: opts.active === undefined ? undefined : parseBool('--active', opts.active),
    public: opts.public === undefined ? undefined : parseBool('--public', opts.public),
    canIntrospect: opts.canIntrospect === undefined ? undefined : parseBool('--can-introspect', opts.canIntrospect),
    adminApi: opts.adminApi === undefined ? undefined : parseBool('--admin-api', opts.adminApi),
    dpopRequired: opts.dpopRequired === undefined ? undefined : parseBool('--dpop-required', opts.dpopRequired),
  };
  if (Object.values(input).every((v) => v === undefined)) {
    throw new CliError('Nothing to change: give at least one option (see `latchkey apps update --help`).', 2);
  }
  return input;
}

async function appUserName(ctx: CliContext, app: Application): Promise<string | null> {
  if (app.appUserId === null) return null;
  return (await ctx.storage.users.byId(app.appUserId))?.userName ?? `(deleted user ${app.appUserId})`;
}

/** The stored JWKS (JSON text the registry checked); a row written otherwise shows as no keys rather than failing. */
function parseJwks(jwks: string | null): { keys: Record<string, unknown>[] } | null {
  if (jwks === null) return null;
  try {
    const doc = JSON.parse(jwks) as { keys?: unknown };
    return { ...doc, keys: Array.isArray(doc.keys) ? (doc.keys as Record<string, unknown>[]) : [] };
  } catch {
    return { keys: [] };
  }
}

/**
 * An application as the CLI shows it (and `--json` prints it): the application view the admin API
 * answers (registry/application-view.ts; times as ISO 8601 text), with the JWKS as a document and
 * a gone application user as "(deleted user <id>)", as the CLI has always printed them.
 */
export function appView(app: Application, appUser: string | null) {
  return {
    ...applicationView(app, appUser),
    /** The public keys (a JWKS document), as registered. */
    jwks: parseJwks(app.jwks),
  };
}

/** "2 keys: kid-a (EC P-256), RSA key 2" */
function describeJwks(jwks: { keys: Record<string, unknown>[] } | null): string | null {
  if (jwks === null) return null;
  const keys = jwks.keys.map((k, i) => {
    const type = [k.kty, k.crv].filter((x) => typeof x === 'string').join(' ');
    return typeof k.kid === 'string' ? `${k.kid} (${type})` : `${type} key ${i + 1}`;
  });
  return `${keys.length} ${keys.length === 1 ? 'key' : 'keys'}: ${keys.join(', ')}`;
}

/** How `apps show` says where an application came from (Application.origin). */
const ORIGIN_TEXT: Record<ApplicationOrigin, string> = {
  admin: 'made by an administrator',
  registration: 'dynamic client registration (RFC 7591)',
  metadata_document: 'client ID metadata document (its client id is the document URL)',
};
/** The short form in the list's TYPE column; nothing for admin-made applications. */
const ORIGIN_SHORT: Record<ApplicationOrigin, string> = { admin: '', registration: ' (registered)', metadata_document: ' (metadata document)' };

function appRecord(v: ReturnType<typeof appView>): string {
  return renderRecord([
    ['Name', v.name],
    ['Client id', v.clientId],
    ['Active', v.active],
    ['Client type', v.public ? 'public (no secret)' : 'confidential'],
    ['Origin', ORIGIN_TEXT[v.origin]],
    ['Grant types', v.grantTypes],
    ['Application user', v.appUser],
    ['Scopes', v.scopes],
    ['Redirect URIs', v.redirectUris],
    ['Access token lifespan', formatDuration(v.accessTokenLifespan)],
    ['Refresh token lifespan', formatDuration(v.refreshTokenLifespan)],
    ['Token format', v.tokenFormat],
    ['Audience', v.audience ?? (v.tokenFormat === 'jwt' ? '(the issuer)' : null)],
    ['Resources (RFC 8707)', v.resources === null ? '(any known resource)' : v.resources.length === 0 ? '(none: no resource may be requested)' : v.resources],
    ['ID token algorithm', v.idTokenSignedResponseAlg],
    ['Post-logout redirect URIs', v.postLogoutRedirectUris],
    ['Back-channel logout URI', v.backchannelLogoutUri === null ? null : `${v.backchannelLogoutUri}${v.backchannelLogoutSessionRequired ? ' (sid required)' : ''}`],
    ['PAR required (RFC 9126)', v.parRequired ? 'yes: authorization requests only through POST /oauth/par' : 'no'],
    ['Logo', v.logoUri],
    ['Public keys (JWKS)', describeJwks(v.jwks)],
    ['JWKS URI', v.jwksUri],
    ['May introspect', v.canIntrospect],
    ['Rate limit', v.rateLimit === null ? '(the instance default, latchkey.rate_limit.client)' : v.rateLimit === 'off' ? 'off (no limit)' : `${v.rateLimit} (token and introspection requests)`],
    ['Custom claims', v.claimMappings === null ? null : Object.entries(v.claimMappings).map(([claim, field]) => `${claim}=${field}`)],
    ['DPoP required', v.dpopRequired ? 'yes (token requests need a DPoP proof)' : false],
    ['Admin API', v.adminApi ? 'allowed (tokens with scope latchkey.admin whose user has the admin role)' : false],
    ['Secret rotated', v.secretRotatedAt],
    ['Created', v.createdAt],
    ['Updated', v.updatedAt],
  ]);
}

function secretBlock(clientId: string, secret: string): string {
  return `\nClient secret (shown only this once; Latchkey stores only its hash):\n\n    ${secret}\n\nIf it is lost, replace it with: ${commandLine(['apps', 'rotate-secret', clientId])}\n`;
}

/** Copy-pasteable token requests for the grants the application allows (every value quoted for the shell). */
function nextSteps(catalogue: readonly GrantDescriptor[], app: Application, secret: string | null): string {
  const auth = app.public ? ['-d', `client_id=${app.clientId}`] : ['-u', `${app.clientId}:${secret ?? '<client-secret>'}`];
  const lines: string[] = [];
  // An application allowed the admin API asks for its scope: the admin API needs exactly it.
  const scope = app.adminApi ? ['-d', 'scope=latchkey.admin'] : [];
  // The grants whose example runs as soon as the application exists (no browser, no signed assertion).
  for (const g of catalogue.filter((x) => x.example?.immediate === true && app.grantTypes.includes(x.grantType))) {
    lines.push(`  ${shellCommand(['curl', ...auth, ...(exampleRequest(g, app, { user: '<user-name>', extra: scope }) ?? []), TOKEN_URL])}`);
  }
  if (lines.length > 0 && app.adminApi) lines.push('  curl -H "Authorization: Bearer $TOKEN" http://localhost:8080/admin/api/v1/applications');
  const tokens = lines.length === 0 ? '' : `\nNext step: request a token (server started with \`npm start\`):\n${lines.join('\n')}\n`;
  return tokens + pushStep(app, auth) + deviceStep(app, auth);
}

/** RFC 9126: an application that must push its authorization requests gets the push to start from (docs/par.md). */
function pushStep(app: Application, auth: readonly string[]): string {
  if (app.parRequired !== true || !app.grantTypes.includes('authorization_code')) return '';
  const push = shellCommand(['curl', ...auth, '-d', 'response_type=code', '-d', `redirect_uri=${app.redirectUris[0] ?? '<redirect-uri>'}`, '-d', 'code_challenge=<S256 challenge>', '-d', 'code_challenge_method=S256', PAR_URL]);
  return `\nPAR is required: push each authorization request, then send the browser to /oauth/authorize?client_id=${app.clientId}&request_uri=<request_uri>:\n  ${push}\n`;
}

/** RFC 8628: an application allowed the device grant gets the command that runs the flow (a public one) or the request that starts it (docs/device-flow.md). */
function deviceStep(app: Application, auth: readonly string[]): string {
  if (!app.grantTypes.includes(DEVICE_CODE_GRANT)) return '';
  const start = shellCommand(['curl', ...auth, ...(app.scopes.length === 0 ? [] : ['-d', `scope=${app.scopes.join(' ')}`]), DEVICE_AUTHORIZATION_URL]);
  const login = app.public ? `  ${commandLine(['login', '--device', '--issuer', 'http://localhost:8080', '--client-id', app.clientId])}
  # or start it by hand, then poll the token endpoint with the device_code:
` : '';
  return `
Next step: sign a person in from a device (server started with \`npm start\`; they enter the code at http://localhost:8080/oauth/device):
${login}  ${start}
`;
}

/** Configuration that will make token requests fail, each with the command that fixes it: the checks of the application's grants. */
async function configWarnings(ctx: CliContext, app: Application): Promise<string[]> {
  const [rows, users] = await Promise.all([ctx.storage.properties.list(), ctx.storage.users.list()]);
  const byName = new Map(users.map((u) => [u.userName, u]));
  const appUser = users.find((u) => u.id === app.appUserId);
  const input = { application: app, appUser, properties: resolveProperties(rows), userNamed: (name: string) => byName.get(name) };
  const warnings = grantWarnings(ctx.grants, input).flatMap((w) => (w.text === undefined ? [] : [w.text]));
  if (!app.active) warnings.push(`the application is inactive, so every token request is refused. Fix: ${commandLine(['apps', 'update', app.clientId, '--active', 'true'])}`);
  return warnings;
}

/** Prints the application (and a new secret), then any next step, then warnings last where they are seen. */
async function report(ctx: CliContext, out: Output, app: Application, secret: string | null, headline: string, next = ''): Promise<void> {
  const view = appView(app, await appUserName(ctx, app));
  const warnings = await configWarnings(ctx, app);
  out.result({ ...view, clientSecret: secret, warnings }, () => `${headline}\n\n${appRecord(view)}${secret === null ? '' : secretBlock(app.clientId, secret)}`);
  out.note(next);
  for (const w of warnings) out.warn(w);
}

const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** --grants: the catalogue's grant types, an alias in place of its grant type. */
function grantsHelp(catalogue: readonly GrantDescriptor[]): string {
  const aliased = catalogue.filter((g) => g.alias !== undefined);
  const stored = aliased.length === 0 ? '' : ` (stored as ${aliased.map((g) => g.grantType).join(', ')})`;
  return `comma-separated grant types: ${catalogue.map((g) => g.alias ?? g.grantType).join(', ')}${stored}`;
}

/** The grants of the catalogue, for `apps create --help`: each with its label, summary and what a kind of application of it gets. */
function grantsList(catalogue: readonly GrantDescriptor[]): string {
  const lines = catalogue.map((g) => {
    const preset = g.preset === undefined ? '' : ` An application of this kind: --grants ${g.preset.map((t) => catalogue.find((x) => x.grantType === t)?.alias ?? t).join(',')}`;
    return `  ${g.alias ?? g.grantType}: ${g.label}. ${g.summary}${preset}`;
  });
  return `\nGrant types (--grants; --grant-module <file> or LATCHKEY_GRANTS adds a host's own):\n${lines.join('\n')}\n`;
}

function lifespanOptions(cmd: Command): Command {
  return cmd
    .option('--access-token-lifespan <duration>', `how long its access tokens live: ${DURATION_SYNTAX} (default 30m)`)
    .option('--refresh-token-lifespan <duration>', `how long its refresh tokens live, e.g. 30d (default 100d)`);
}

/** Options create and update share for token format, consent-page logo and the application's keys. */
function tokenAndKeyOptions(cmd: Command, clear: string): Command {
  return cmd
    .option('--redirect-uri <uri>', 'one exact redirect URI (https; http only on 127.0.0.1, [::1] or localhost; or a private-use scheme such as com.example.app:/callback); repeat for several (adds to --redirect-uris)', collect)
    .option('--token-format <opaque|jwt>', 'access tokens as opaque strings (default) or signed JWTs (RFC 9068)')
    .option('--id-token-alg <RS256|ES256>', 'OpenID Connect: the algorithm of its ID tokens (id_token_signed_response_alg; default RS256)')
    .option('--post-logout-redirect-uri <uri>', `OpenID Connect: where the end-session endpoint (/oauth/logout) may send the browser after sign-out, exact match, the rules of --redirect-uri; repeat for several${clear === '' ? '' : ' (replaces the list; "" clears it)'}`, collect)
    .option('--backchannel-logout-uri <url>', `OpenID Connect: where logout tokens are POSTed when a session ends (https; allowed by the outbound rules)${clear}`)
    .option('--backchannel-logout-session-required [true|false]', 'OpenID Connect: the application needs sid in logout tokens (default false)')
    .option('--audience <aud>', `the "aud" of its JWT access tokens (default: the issuer)${clear}`)
    .option('--resources <uri,...|any>', 'RFC 8707: the only resources its tokens may be requested for (identifiers as `latchkey resources list` shows them); any (the default) lifts the limit')
    .option('--par-required [true|false]', 'RFC 9126: its authorization requests must be pushed (POST /oauth/par) and sent by request_uri (default false)')
    .option('--logo-uri <url>', `logo shown on the consent page (https, or http on localhost)${clear}`)
    .option('--jwks <file-or-json>', `its public keys, for private_key_jwt and the JWT bearer grant: a JWKS file, or the JSON itself${clear}`)
    .option('--jwks-uri <url>', `or where it publishes them (https on a public address; http and private addresses only while latchkey.outbound.allow_private_networks is true)${clear}`);
}

/** --rate-limit, for create and update (domain/rate-limit.ts: one syntax everywhere). */
function rateLimitOption(cmd: Command, clear: string): Command {
  return cmd.option('--rate-limit <limit>', `its own limit at the token and introspection endpoints: ${RATE_LIMIT_SYNTAX}; past it, 429 (default: latchkey.rate_limit.client)${clear}`);
}

function registerCreate(apps: Command, kit: Kit): void {
  const cmd = apps
    .command('create')
    .description('Register an application (OAuth client); prints its client id and, once, its secret')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--grants <list>', grantsHelp(kit.grants))
    .option('--app-user <user>', 'user that client_credentials tokens act as (the "OAuth Application User")')
    .option('--scopes <list>', 'comma-separated auth scopes the application may request')
    .option('--redirect-uris <list>', 'comma-separated absolute redirect URIs');
  tokenAndKeyOptions(rateLimitOption(lifespanOptions(cmd), ''), '')
    .option('--public', 'a public client: no secret (cannot use client_credentials)')
    .option('--inactive', 'create the application inactive')
    .option('--can-introspect', 'may call the introspection endpoint (RFC 7662): for a resource server\'s application')
    .option('--admin-api <true|false>', 'may administer this instance through the admin API (adds the scope latchkey.admin; default false)')
    .option('--dpop-required <true|false>', 'token requests must carry a DPoP proof (RFC 9449): every token is bound to the client key (default false)')
    .addHelpText('after', `
Examples:
  latchkey apps create --name "Nightly export" --grants client_credentials --app-user svc-integration --json
  latchkey apps create --name "Portal" --grants authorization_code,refresh_token --redirect-uri https://portal.example.com/callback \\
    --logo-uri https://portal.example.com/logo.png
  latchkey apps create --name "Orders sync" --grants jwt_bearer --jwks ./orders-sync.jwks.json --token-format jwt
  latchkey apps create --name "Admin scripts" --grants client_credentials --app-user svc-admin --admin-api true
  latchkey apps create --name "Team wiki" --grants authorization_code,refresh_token --scopes openid \
    --redirect-uri https://wiki.example.com/oauth/callback --post-logout-redirect-uri https://wiki.example.com/signed-out \
    --backchannel-logout-uri https://wiki.example.com/oauth/backchannel-logout --backchannel-logout-session-required
  latchkey apps create --name "Bank portal" --grants authorization_code --redirect-uri https://bank.example.com/cb --par-required
${grantsList(kit.grants)}`);
  kit.common(cmd).action((opts: CreateOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const input: ApplicationInput = { ...sharedInput(opts), appUser: opts.appUser, public: opts.public === true, active: !opts.inactive, canIntrospect: opts.canIntrospect === true, adminApi: opts.adminApi === undefined ? undefined : parseBool('--admin-api', opts.adminApi), dpopRequired: opts.dpopRequired === undefined ? undefined : parseBool('--dpop-required', opts.dpopRequired) };
      const { application, clientSecret } = await createApplication(ctx, input);
      await report(ctx, out, application, clientSecret, `Created application "${application.name}".`, nextSteps(ctx.grants, application, clientSecret));
    }),
  );
}

function registerUpdate(apps: Command, kit: Kit): void {
  const cmd = apps
    .command('update')
    .argument('<client-id|name>', APP_REF_HELP)
    .description('Change an application; lists replace the current values')
    .option('--name <name>', 'display name')
    .option('--grants <list>', grantsHelp(kit.grants))
    .option('--app-user <user>', 'user that client_credentials tokens act as')
    .option('--no-app-user', 'remove the application user')
    .option('--scopes <list>', 'comma-separated auth scopes ("" for none)')
    .option('--redirect-uris <list>', 'comma-separated redirect URIs ("" for none)');
  tokenAndKeyOptions(rateLimitOption(lifespanOptions(cmd), ' ("" for the default)'), ' ("" to clear)')
    .option('--active <true|false>', 'activate or deactivate the application')
    .option('--public <true|false>', 'public (no secret) or confidential; becoming confidential generates a secret')
    .option('--can-introspect <true|false>', 'allow or forbid calling the introspection endpoint (RFC 7662)')
    .option('--admin-api <true|false>', 'allow or forbid administering this instance through the admin API (scope latchkey.admin)')
    .option('--dpop-required <true|false>', 'require or stop requiring a DPoP proof (RFC 9449) with every token request')
    .option('--claim <name=field>', `a custom UserInfo claim from a user field, sent with the scope profile (repeatable; name= removes it; fields: ${CLAIM_SOURCE_FIELDS.join(', ')})`, collectClaims)
    .addHelpText('after', `
Examples:
  latchkey apps update <client-id> --claim roles=roles --claim department=familyName
  latchkey apps update <client-id> --app-user svc-integration
  latchkey apps update <client-id> --grants client_credentials,password --scopes export.read
  latchkey apps update <client-id> --token-format jwt --audience https://api.example.com
  latchkey apps update <client-id> --access-token-lifespan 15m --refresh-token-lifespan 30d
  latchkey apps update <client-id> --jwks ./new-keys.jwks.json
  latchkey apps update <client-id> --rate-limit 100/1m
  latchkey apps update <client-id> --post-logout-redirect-uri https://wiki.example.com/signed-out --backchannel-logout-uri https://wiki.example.com/oauth/backchannel-logout
`);
  kit.common(cmd).action((ref: string, opts: UpdateOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      // --claim changes the current mappings one claim at a time.
      const claimMappings = opts.claim === undefined ? undefined : applyClaimPairs((await findApplication(ctx, ref)).claimMappings, opts.claim);
      const { application, clientSecret } = await updateApplication(ctx, ref, updateInput(opts, claimMappings));
      const next = clientSecret === null ? '' : nextSteps(ctx.grants, application, clientSecret);
      await report(ctx, out, application, clientSecret, `Updated application "${application.name}".`, next);
    }),
  );
}

function registerRotate(apps: Command, kit: Kit): void {
  const cmd = apps
    .command('rotate-secret')
    .argument('<client-id|name>', APP_REF_HELP)
    .description('Replace the client secret; the old one stops working at once. Prints the new one once');
  kit.common(cmd).action((clientId: string, opts: CommonOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const { application: app, clientSecret } = await rotateSecret(ctx, clientId);
      const value = { clientId: app.clientId, name: app.name, clientSecret, secretRotatedAt: isoTime(app.secretRotatedAt) };
      out.result(value, () => `New secret for "${app.name}" (client id ${app.clientId}). The old secret no longer works.\n${secretBlock(app.clientId, clientSecret ?? '')}`);
    }),
  );
}

function registerList(apps: Command, kit: Kit): void {
  const cmd = apps
    .command('list')
    .description('List applications')
    .option('--origin <origin>', `only applications of this origin: ${APPLICATION_ORIGINS.join(', ')} (admin: made by an administrator; registration: RFC 7591; metadata_document: an https client id)`);
  kit.common(cmd).action((opts: CommonOptions & { origin?: string }) =>
    kit.withDb(opts, async (ctx, out) => {
      if (opts.origin !== undefined && !(APPLICATION_ORIGINS as readonly string[]).includes(opts.origin)) {
        throw new CliError(`Unknown origin "${opts.origin}". Use one of: ${APPLICATION_ORIGINS.join(', ')}.`, 2);
      }
      const [all, users] = await Promise.all([ctx.storage.applications.list(), ctx.storage.users.list()]);
      const list = opts.origin === undefined ? all : all.filter((a) => (a.origin ?? 'admin') === opts.origin);
      const names = new Map(users.map((u) => [u.id, u.userName]));
      const views = list.map((a) => appView(a, a.appUserId === null ? null : (names.get(a.appUserId) ?? `(deleted user ${a.appUserId})`)));
      out.result(views, () =>
        renderTable(
          ['NAME', 'CLIENT ID', 'ACTIVE', 'TYPE', 'GRANTS', 'APP USER', 'SCOPES'],
          views.map((v) => [v.name, v.clientId, v.active, `${v.public ? 'public' : 'confidential'}${ORIGIN_SHORT[v.origin]}`, v.grantTypes, v.appUser, v.scopes]),
        ),
      );
    }),
  );
}

/** The Registration block of `apps show` for a dynamically registered client (origin registration), indented by 2. */
export function registrationRecord(r: RegistrationInfo): string {
  const reap =
    r.reapAt === null
      ? 'never (latchkey.registration.reap_after_days is 0)'
      : r.reapDue
        ? `due: the next reap deletes it (unused for ${r.reapAfterDays} days)`
        : `${isoTime(r.reapAt)}, ${r.reapAfterDays} days after its last use`;
  const block = renderRecord(
    [
      ['Source', r.sourceText],
      ['Policy', r.policy ?? '(none)'],
      ['Registered at', isoTime(r.registeredAt)],
      ['Last used', r.lastUsedAt === null ? 'never' : isoTime(r.lastUsedAt)],
      ['Reaped', reap],
    ],
    terminalWidth() - 2,
  );
  // The configuration endpoint on a line of its own, never wrapped (it is pasted).
  const uri = r.registrationClientUri === null ? '' : `  Configuration endpoint (RFC 7592, with its registration access token):\n    ${r.registrationClientUri}\n`;
  return `${block.replace(/^(?=.)/gm, '  ')}${uri}`;
}

interface ShowOptions extends CommonOptions {
  readonly issuer?: string;
}

function registerShow(apps: Command, kit: Kit): void {
  const cmd = apps
    .command('show')
    .argument('<client-id|name>', APP_REF_HELP)
    .description('Show one application and any configuration problems (and, for a registered client, its registration)')
    .option('--issuer <url>', `the instance's public URL, for a registered client's registration_client_uri (env LATCHKEY_ISSUER, default http://${DEFAULTS.host}:${DEFAULTS.port})`);
  kit.common(cmd).action((clientId: string, opts: ShowOptions) =>
    kit.withDb(opts, async (ctx, out) => {
      const app = await findApplication(ctx, clientId);
      const view = appView(app, await appUserName(ctx, app));
      const warnings = await configWarnings(ctx, app);
      const given = opts.issuer ?? (process.env.LATCHKEY_ISSUER || undefined);
      const issuer = given === undefined ? `http://${DEFAULTS.host}:${DEFAULTS.port}` : parseIssuer(given);
      const registration = app.origin === 'registration' ? ((await registrationInfo(ctx, app.clientId, issuer)) ?? null) : null;
      out.result({ ...view, registration, warnings }, () => {
        const base = appRecord(view);
        if (app.origin !== 'registration') return base;
        if (registration === null) return `${base}\nRegistration: no registration record (it was deleted; the client cannot manage itself by RFC 7592).\n`;
        return `${base}\nRegistration (RFC 7591):\n${registrationRecord(registration)}`;
      });
      for (const w of warnings) out.warn(w);
    }),
  );
}

export function registerApps(program: Command, kit: Kit): void {
  const apps = program.command('apps').description('Manage applications (OAuth clients) in the registry');
  registerCreate(apps, kit);
  registerUpdate(apps, kit);
  registerRotate(apps, kit);
  registerList(apps, kit);
  registerShow(apps, kit);
  registerPosture(apps, kit);
  registerDeletes({ apps }, kit);
}
