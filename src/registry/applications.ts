import { checkClaimMappings } from './claim-mappings.js';
import { didYouMean } from '../core/nearest.js';
import { formatRateLimit, parseRateLimit } from '../domain/rate-limit.js';
import { importJWK, type JWK } from 'jose';
import type { Clock } from '../core/clock.js';
import { generateClientId, hashSecret, newId, randomToken, TOKEN_PREFIX } from '../core/crypto.js';
import { type Application, type ApplicationOrigin, type SigningAlgorithm, type TokenFormat } from '../domain/model.js';
import type { GrantType } from '../grants/grant-type.js';
import { type Storage } from '../storage/types.js';
import { recordChange } from '../audit/log.js';
import { storedPolicy } from './outbound-policy.js';
import { outboundRefusalText, type OutboundPolicy } from '../outbound/url.js';
import { commandLine, shown } from '../core/shell.js';
import { RegistryError } from './errors.js';
import { checkResourceUri } from './resources.js';
import { checkPostLogoutRedirectUris, checkRedirectUris, judgeRedirectUri } from './redirect-uris.js';
import { findUser } from './users.js';
import { ADMIN_SCOPE } from './scopes.js';
import { checkConsoleApplicationKept } from './guards.js';

/** `actor` (default 'system') and `storage.audit` are for the audit log (src/audit/log.ts). */
/** `properties`: the outbound rules' setting, which a JWKS URI is checked against. */
/**
 * `grants`: the instance's grant catalogue (Latchkey.catalogue; src/grants/index.ts): an application may
 * list any of them, by type or alias. The registry sits below the grants, so it names only what it
 * reads of a grant module ({@link CatalogueEntry}) and is handed the catalogue.
 */
type Deps = {
  storage: Pick<Storage, 'applications' | 'users' | 'scopes' | 'properties'> & Partial<Pick<Storage, 'audit'>>;
  clock: Clock;
  actor?: string | undefined;
  grants: readonly CatalogueEntry[];
};
/** What the functions that never check grant types need. */
type BaseDeps = Omit<Deps, 'grants'>;

/** What the registry reads of a grant module's descriptor (src/grants/types.ts GrantDescriptor). */
export interface CatalogueEntry {
  readonly grantType: GrantType;
  readonly alias?: string | undefined;
  /** Grant types an application listing this one gets too (password → refresh_token). */
  readonly implies?: readonly GrantType[] | undefined;
}

/** Platform defaults: 30 minutes for access tokens, 100 days for refresh tokens. */
export const DEFAULT_ACCESS_TOKEN_LIFESPAN = 1800;
export const DEFAULT_REFRESH_TOKEN_LIFESPAN = 8_640_000;
const MAX_LIFESPAN = 10 * 365 * 86400;
const TOKEN_FORMATS: readonly TokenFormat[] = ['opaque', 'jwt'];
const MAX_AUDIENCE = 500;
const MAX_URI = 2000;
/** A JWKS larger than this is not a list of a few public keys. */
const MAX_JWKS = 64 * 1024;
/** JWK members that only a private (or symmetric) key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 §2). */
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface ApplicationInput {
  readonly name?: string | undefined;
  readonly grantTypes?: readonly string[] | undefined;
  /** User name of the application user, or null to clear it. */
  readonly appUser?: string | null | undefined;
  readonly scopes?: readonly string[] | undefined;
  readonly redirectUris?: readonly string[] | undefined;
  readonly accessTokenLifespan?: number | undefined;
  readonly refreshTokenLifespan?: number | undefined;
  readonly public?: boolean | undefined;
  readonly active?: boolean | undefined;
  readonly tokenFormat?: string | undefined;
  /** Logo for the consent page (https, or http on localhost); null or '' clears it. */
  readonly logoUri?: string | null | undefined;
  /** `aud` of its JWT access tokens; null or '' means the issuer. */
  readonly audience?: string | null | undefined;
  /** Public keys as JWKS JSON text; null or '' clears them. Exclusive with jwksUri. */
  readonly jwks?: string | null | undefined;
  /** Where its public keys are published (a URL the outbound rules allow); null or '' clears it. */
  readonly jwksUri?: string | null | undefined;
  readonly canIntrospect?: boolean | undefined;
  /** May administer the instance (admin API); turning it on allows the scope latchkey.admin, off removes it. */
  readonly adminApi?: boolean | undefined;
  /** RFC 9449: its token requests must carry a DPoP proof (its tokens are always sender-constrained). */
  readonly dpopRequired?: boolean | undefined;
  /** Its own rate limit (`100/1m`, `off`: domain/rate-limit.ts); null or '' means the instance's (latchkey.rate_limit.client). */
  readonly rateLimit?: string | null | undefined;
  /** OpenID Connect id_token_signed_response_alg: RS256 (the default) or ES256. */
  readonly idTokenSignedResponseAlg?: string | undefined;
  /** Custom UserInfo claims: claim name → user field (registry/claim-mappings.ts); null or {} clears them, absent keeps them. */
  readonly claimMappings?: Readonly<Record<string, string>> | null | undefined;
  /** RP-Initiated Logout 1.0 post_logout_redirect_uris (the rules of redirect URIs, exact match). */
  readonly postLogoutRedirectUris?: readonly string[] | undefined;
  /** Back-Channel Logout 1.0 backchannel_logout_uri: https (http on loopback), allowed by the outbound rules; null or '' clears it. */
  readonly backchannelLogoutUri?: string | null | undefined;
  /** Back-Channel Logout 1.0 backchannel_logout_session_required. */
  readonly backchannelLogoutSessionRequired?: boolean | undefined;
  /** RFC 8707: the only resources its tokens may be requested for (resource identifiers); null: any known resource. */
  readonly resources?: readonly string[] | null | undefined;
  /** RFC 9126 require_pushed_authorization_requests: authorization requests only through POST /oauth/par. */
  readonly parRequired?: boolean | undefined;
}

/** An application's resource limit as stored: canonical identifiers, once each, in the order given; null: any. */
export function checkResourceLimit(value: readonly string[] | null): string[] | null {
  if (value === null) return null;
  const out: string[] = [];
  for (const v of value) {
    if (v.trim() === '') continue;
    const uri = checkResourceUri(v, 'resources');
    if (!out.includes(uri)) out.push(uri);
  }
  if (out.length > 100) throw new RegistryError('invalid_input', 'An application may be limited to at most 100 resources.', 'resources');
  return out;
}

/** The algorithms an application's ID tokens may be signed with (keys/keyring.ts ID_TOKEN_ALGORITHMS; RS256 first, the default). */
export const ID_TOKEN_SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256'];

function checkIdTokenAlg(alg: string): SigningAlgorithm {
  if (!(ID_TOKEN_SIGNING_ALGORITHMS as readonly string[]).includes(alg)) {
    throw new RegistryError('invalid_input', `Unknown ID token signing algorithm "${alg}". Supported: ${ID_TOKEN_SIGNING_ALGORITHMS.join(', ')}.`, 'idTokenSignedResponseAlg');
  }
  return alg as SigningAlgorithm;
}

/** A rate limit as stored: its canonical text (`100/1m`, `off`), or null for the instance default. */
function checkRateLimit(value: string | null | undefined, current: string | null): string | null {
  if (value === undefined) return current;
  if (value === null || value.trim() === '') return null;
  const parsed = parseRateLimit(value);
  if (!parsed.ok) throw new RegistryError('invalid_input', parsed.message, 'rateLimit');
  return formatRateLimit(parsed.value);
}

function checkName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > 200 || /[\x00-\x1f\x7f]/.test(trimmed)) {
    throw new RegistryError('invalid_input', 'An application name needs 1-200 printable characters.', 'name');
  }
  return trimmed;
}

/** Grant types by name or alias (an alias is stored as its grant type), each in the catalogue; plus what each implies. */
export function checkGrants(grants: readonly string[], catalogue: readonly CatalogueEntry[]): GrantType[] {
  // A caller in JavaScript (a script, a host) may not know the registry needs the catalogue.
  if (!Array.isArray(catalogue)) throw new TypeError('The registry needs the instance\'s grant catalogue to check grant types: pass deps.grants (Latchkey.catalogue, or BUILT_IN_GRANTS from src/grants/index.ts).');
  const names = grants.map((g) => g.trim()).filter((g) => g !== '');
  const unique: GrantType[] = [];
  const add = (g: GrantType) => {
    if (!unique.includes(g)) unique.push(g);
  };
  const found = names.map((g) => {
    const grant = catalogue.find((d) => d.grantType === g || d.alias === g);
    if (grant === undefined) {
      const supported = catalogue.map((d) => (d.alias === undefined ? d.grantType : `${d.alias} (= ${d.grantType})`));
      throw new RegistryError('invalid_input', `Unknown grant type "${g}".${didYouMean(g, catalogue.flatMap((d) => (d.alias === undefined ? [d.grantType] : [d.grantType, d.alias])))} Supported: ${supported.join(', ')}.`, 'grantTypes');
    }
    return grant;
  });
  for (const grant of found) add(grant.grantType);
  // E.g. as on the platform, the password grant always comes with refresh tokens (RFC 6749 §4.3.3).
  for (const grant of found) for (const g of grant.implies ?? []) add(g);
  return unique;
}

function checkLifespan(label: string, value: number, field: string): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_LIFESPAN) {
    throw new RegistryError('invalid_input', `${label} must be a whole number of seconds from 1 to ${MAX_LIFESPAN} (got ${value}).`, field);
  }
  return value;
}

export async function checkScopes(deps: BaseDeps, scopes: readonly string[]): Promise<string[]> {
  const unique = [...new Set(scopes.map((s) => s.trim()).filter((s) => s !== ''))];
  for (const scope of unique) {
    if ((await deps.storage.scopes.byName(scope)) === undefined) {
      const near = didYouMean(scope, (await deps.storage.scopes.list()).map((s) => s.name));
      throw new RegistryError('scope_not_found', `No auth scope named ${JSON.stringify(scope)}.${near} Create it with: ${commandLine(['scopes', 'create', scope])}`, 'scopes');
    }
  }
  return unique;
}

async function resolveAppUser(deps: BaseDeps, appUser: string | null | undefined, current: string | null): Promise<string | null> {
  if (appUser === undefined) return current;
  if (appUser === null || appUser === '') return null;
  return (await findUser(deps, appUser)).id;
}

function checkFormat(format: string): TokenFormat {
  if (!(TOKEN_FORMATS as readonly string[]).includes(format)) {
    throw new RegistryError('invalid_input', `Unknown token format "${format}". Supported: ${TOKEN_FORMATS.join(', ')}.`, 'tokenFormat');
  }
  return format as TokenFormat;
}

/** '' and null both clear an optional field; undefined keeps `current`. */
function optional<T>(value: string | null | undefined, current: T | null, check: (v: string) => T | Promise<T>): T | null | Promise<T | null> {
  if (value === undefined) return current;
  if (value === null || value.trim() === '') return null;
  return check(value.trim());
}

/**
 * An absolute http(s) URL that browsers load (the logo; the server never fetches it): https
 * anywhere, http only on loopback (local development). No credentials, no fragment.
 */
export function checkWebUrl(label: string, field: string, value: string): string {
  const refuse = (message: string) => new RegistryError('invalid_input', message, field);
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw refuse(`${label} "${value}" is not an absolute URL.`);
  }
  if (value.length > MAX_URI) throw refuse(`${label} is longer than ${MAX_URI} characters.`);
  // `new URL` drops tabs and newlines, so the stored text would not be the URL that is fetched or shown.
  if (/[\p{Cc}\p{Cf}\p{Z}]/u.test(value)) throw refuse(`${label} ${shown(value)} must not contain whitespace or control characters.`);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw refuse(`${label} "${value}" must use https (http is accepted only on localhost, 127.0.0.1 or [::1]).`);
  }
  if (url.username !== '' || url.password !== '') throw refuse(`${label} "${value}" must not contain a user name or password.`);
  if (url.hash !== '' || value.includes('#')) throw refuse(`${label} "${value}" must not contain a fragment.`);
  return value;
}

/**
 * A JWKS URI is fetched by the server when a client assertion names the application, so it must
 * pass the outbound rules (src/outbound) under the current setting: the administrator is told now,
 * not on the first refused assertion. A host name is resolved and checked at fetch time.
 */
export function checkJwksUri(value: string, policy: OutboundPolicy): string {
  if (value.length > MAX_URI) throw new RegistryError('invalid_input', `The JWKS URI is longer than ${MAX_URI} characters.`, 'jwksUri');
  if (/[\x00-\x20\x7f-\x9f]/.test(value)) throw new RegistryError('invalid_input', `The JWKS URI ${shown(value)} contains a space or a control character.`, 'jwksUri');
  if (!URL.canParse(value)) throw new RegistryError('invalid_input', `The JWKS URI ${shown(value)} is not an absolute URL.`, 'jwksUri');
  const refused = outboundRefusalText('The JWKS URI', value, policy);
  if (refused !== undefined) throw new RegistryError('outbound_refused', refused, 'jwksUri');
  if (value.includes('#')) throw new RegistryError('invalid_input', `The JWKS URI ${shown(value)} must not contain a fragment.`, 'jwksUri');
  return value;
}

/**
 * Back-Channel Logout 1.0 §2.2: the server POSTs logout tokens to backchannel_logout_uri, so it is
 * an absolute http(s) URL without a fragment (MUST NOT), https off loopback as for redirect URIs,
 * and it must pass the outbound rules (src/outbound) under the current setting, as a JWKS URI.
 */
export function checkBackchannelLogoutUri(value: string, policy: OutboundPolicy): string {
  const label = 'The back-channel logout URI';
  const field = 'backchannelLogoutUri';
  if (value.length > MAX_URI) throw new RegistryError('invalid_input', `${label} is longer than ${MAX_URI} characters.`, field);
  if (/[\x00-\x20\x7f-\x9f]/.test(value)) throw new RegistryError('invalid_input', `${label} ${shown(value)} contains a space or a control character.`, field);
  if (!/^https?:\/\//i.test(value) || !URL.canParse(value)) throw new RegistryError('invalid_input', `${label} ${shown(value)} is not an absolute https URL (https://app.example.com/backchannel-logout).`, field);
  if (value.includes('#')) throw new RegistryError('invalid_input', `${label} ${shown(value)} must not contain a fragment (Back-Channel Logout 1.0 section 2.2).`, field);
  const verdict = judgeRedirectUri(value);
  if (!verdict.ok) throw new RegistryError('invalid_input', `${label} ${shown(value)} ${verdict.problem}.`, field);
  const refused = outboundRefusalText(label, value, policy);
  if (refused !== undefined) throw new RegistryError('outbound_refused', refused, field);
  return value;
}

function checkAudience(value: string): string {
  if (value.length > MAX_AUDIENCE || /[\x00-\x1f\x7f]/.test(value)) {
    throw new RegistryError('invalid_input', `An audience needs 1-${MAX_AUDIENCE} printable characters.`, 'audience');
  }
  return value;
}

/** The default algorithm for a public JWK that does not name one (importJWK needs one). */
function defaultAlg(jwk: JWK): string | undefined {
  if (jwk.kty === 'RSA') return 'RS256';
  if (jwk.kty === 'EC') return ({ 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' } as Record<string, string>)[jwk.crv ?? ''];
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return 'EdDSA';
  return undefined;
}

/**
 * A JWKS document of public signing keys, each usable (jose imports it). Any private or symmetric
 * key material is refused, naming the key and the member, so a leaked private key is not stored.
 * Returns the document re-serialised compactly.
 */
export async function checkJwks(text: string): Promise<string> {
  if (text.length > MAX_JWKS) throw new RegistryError('invalid_input', `The JWKS is larger than ${MAX_JWKS / 1024} KiB; it should hold a few public keys.`, 'jwks');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw new RegistryError('invalid_input', `The JWKS is not valid JSON (${(error as Error).message}).`, 'jwks');
  }
  const keys = (doc as { keys?: unknown } | null)?.keys;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc) || !Array.isArray(keys)) {
    throw new RegistryError('invalid_input', 'The JWKS must be a JSON object with a "keys" array (RFC 7517 §5), for example {"keys":[{"kty":"EC",...}]}.', 'jwks');
  }
  if (keys.length === 0) throw new RegistryError('invalid_input', 'The JWKS has no keys; add at least one public key.', 'jwks');
  for (const [i, key] of keys.entries()) {
    if (typeof key !== 'object' || key === null || Array.isArray(key)) throw new RegistryError('invalid_input', `JWKS key ${i + 1} is not a JSON object.`, 'jwks');
    const jwk = key as JWK;
    const name = `JWKS key ${i + 1}${typeof jwk.kid === 'string' ? ` (kid "${jwk.kid}")` : ''}`;
    const secret = PRIVATE_JWK_MEMBERS.filter((m) => m in jwk);
    if (secret.length > 0) {
      throw new RegistryError(
        'invalid_input',
        jwk.kty === 'oct' || secret.includes('k')
          ? `${name} is a symmetric (shared secret) key, member "k"; give only public keys. Treat that secret as exposed.`
          : `${name} is a private key (it has the private member${secret.length > 1 ? 's' : ''} ${secret.map((m) => `"${m}"`).join(', ')}); give only the public key. Treat that private key as exposed and replace it.`,
        'jwks',
      );
    }
    if (jwk.use !== undefined && jwk.use !== 'sig') throw new RegistryError('invalid_input', `${name} has "use": "${String(jwk.use)}"; only signature keys ("sig") are used.`, 'jwks');
    const alg = typeof jwk.alg === 'string' ? jwk.alg : defaultAlg(jwk);
    if (alg === undefined) throw new RegistryError('invalid_input', `${name} has an unsupported key type "${String(jwk.kty)}"${jwk.crv ? ` (curve "${jwk.crv}")` : ''}; use an RSA, EC (P-256, P-384, P-521) or Ed25519 public key.`, 'jwks');
    try {
      await importJWK(jwk, alg);
    } catch (error) {
      throw new RegistryError('invalid_input', `${name} is not a usable ${alg} public key: ${(error as Error).message.replace(/\.$/, '')}.`, 'jwks');
    }
  }
  return JSON.stringify(doc);
}

/**
 * The scope latchkey.admin follows the admin API switch: allowed exactly when the application may
 * administer the instance. Listing it without the switch is refused, so nobody grants it by
 * accident with --scopes.
 */
function adminScopes(scopes: readonly string[], adminApi: boolean, explicit: boolean): string[] {
  if (explicit && scopes.includes(ADMIN_SCOPE) && !adminApi) {
    throw new RegistryError(
      'invalid_input',
      `The scope ${ADMIN_SCOPE} is reserved for applications allowed to administer this instance. Allow the admin API instead: --admin-api true (admin API field adminApi), which adds the scope.`,
      'scopes',
    );
  }
  const rest = scopes.filter((s) => s !== ADMIN_SCOPE);
  return adminApi ? [...rest, ADMIN_SCOPE] : rest;
}

function checkKeySource(jwks: string | null, jwksUri: string | null): void {
  if (jwks !== null && jwksUri !== null) {
    throw new RegistryError('invalid_input', "An application has either a JWKS or a JWKS URI, not both. Clear one (--jwks '' or --jwks-uri '').", 'jwks');
  }
}

export interface CreatedApplication {
  readonly application: Application;
  /** Shown once; only its hash is stored. Null for public applications. */
  readonly clientSecret: string | null;
}

/**
 * `options.clientId`: the client id to give it (`latchkey apply` recreates an application under the
 * client id of its registry document); the caller checks it is free and well formed. Default: generated.
 */
export async function createApplication(
  deps: Deps,
  input: ApplicationInput,
  options: { readonly clientId?: string | undefined; readonly origin?: ApplicationOrigin | undefined } = {},
): Promise<CreatedApplication> {
  if (input.name === undefined) throw new RegistryError('invalid_input', 'An application needs a name (--name).');
  const isPublic = input.public ?? false;
  const clientSecret = isPublic ? null : randomToken(TOKEN_PREFIX.secret);
  const now = deps.clock.now();
  const application: Application = {
    id: newId(),
    clientId: options.clientId ?? generateClientId(),
    name: checkName(input.name),
    secretHash: clientSecret === null ? null : hashSecret(clientSecret),
    secretRotatedAt: clientSecret === null ? null : now,
    active: input.active ?? true,
    public: isPublic,
    grantTypes: checkGrants(input.grantTypes ?? [], deps.grants),
    redirectUris: checkRedirectUris(input.redirectUris ?? []),
    scopes: adminScopes(await checkScopes(deps, input.scopes ?? []), input.adminApi ?? false, input.scopes !== undefined),
    accessTokenLifespan: checkLifespan('The access token lifespan', input.accessTokenLifespan ?? DEFAULT_ACCESS_TOKEN_LIFESPAN, 'accessTokenLifespan'),
    refreshTokenLifespan: checkLifespan('The refresh token lifespan', input.refreshTokenLifespan ?? DEFAULT_REFRESH_TOKEN_LIFESPAN, 'refreshTokenLifespan'),
    tokenFormat: checkFormat(input.tokenFormat ?? 'opaque'),
    appUserId: await resolveAppUser(deps, input.appUser, null),
    logoUri: await optional(input.logoUri, null, (v) => checkWebUrl('The logo URI', 'logoUri', v)),
    audience: await optional(input.audience, null, checkAudience),
    jwks: await optional(input.jwks, null, checkJwks),
    jwksUri: await optional(input.jwksUri, null, async (v) => checkJwksUri(v, await storedPolicy(deps.storage))),
    canIntrospect: input.canIntrospect ?? false,
    adminApi: input.adminApi ?? false,
    dpopRequired: input.dpopRequired ?? false,
    rateLimit: checkRateLimit(input.rateLimit, null),
    idTokenAlg: checkIdTokenAlg(input.idTokenSignedResponseAlg ?? 'RS256'),
    claimMappings: checkClaimMappings(input.claimMappings),
    postLogoutRedirectUris: checkPostLogoutRedirectUris(input.postLogoutRedirectUris ?? []),
    backchannelLogoutUri: await optional(input.backchannelLogoutUri, null, async (v) => checkBackchannelLogoutUri(v, await storedPolicy(deps.storage))),
    backchannelLogoutSessionRequired: input.backchannelLogoutSessionRequired ?? false,
    origin: options.origin ?? 'admin',
    resources: input.resources === undefined ? null : checkResourceLimit(input.resources),
    parRequired: input.parRequired ?? false,
    createdAt: now,
    updatedAt: now,
  };
  checkKeySource(application.jwks, application.jwksUri);
  await deps.storage.applications.create(application);
  await recordChange(deps, { action: 'application.create', target: application.clientId, before: null, after: application });
  return { application, clientSecret };
}

/**
 * The application a client id or a unique name stands for (client ids first: a name that is also
 * another application's client id means that application). A name that several applications share
 * is refused with their client ids.
 */
export async function findApplication(deps: { storage: Pick<Storage, 'applications'> }, ref: string): Promise<Application> {
  const app = await deps.storage.applications.byClientId(ref);
  if (app !== undefined) return app;
  const named = (await deps.storage.applications.list()).filter((a) => a.name === ref);
  if (named.length === 1) return named[0] as Application;
  if (named.length > 1) {
    throw new RegistryError(
      'application_ambiguous',
      `${named.length} applications are named "${ref}": ${named.map((a) => a.clientId).join(', ')}. Name one by its client id (or rename one with \`latchkey apps update <client-id> --name <new name>\`).`,
    );
  }
  throw new RegistryError('application_not_found', `No application has the client id or name "${ref}". List them with \`latchkey apps list\`.`);
}

/** What deleting an application ended: its tokens, revoked on every instance. */
export interface DeletedApplication {
  readonly application: Application;
  readonly tokens: number;
  readonly families: number;
}

/**
 * Asked once every check has passed and before anything is written (the CLI's "Delete …? [y/N]"):
 * it throws to stop the delete. Every delete of the registry takes one.
 */
export type ConfirmDelete<T> = (plan: T) => Promise<void>;

/**
 * Deletes an application (by client id or unique name): first revokes every unexpired token issued
 * to it, then removes it, so its client id stops working at once on every instance. The built-in
 * console application is refused. Audited as `application.delete`.
 */
export async function deleteApplication(
  deps: { storage: Pick<Storage, 'applications' | 'tokens'> & Partial<Pick<Storage, 'audit'>>; clock: Clock; actor?: string | undefined },
  ref: string,
  options: { readonly confirm?: ConfirmDelete<Application> | undefined } = {},
): Promise<DeletedApplication> {
  const current = await findApplication(deps, ref);
  checkConsoleApplicationKept(current, null);
  await options.confirm?.(current);
  const revoked = await deps.storage.tokens.revokeForApplication(current.id, deps.clock.now());
  if (!(await deps.storage.applications.delete(current.id))) {
    throw new RegistryError('application_not_found', `Application "${current.name}" (${current.clientId}) was deleted meanwhile.`);
  }
  await recordChange(deps, { action: 'application.delete', target: current.clientId, before: current, after: { deleted: true, revokedTokens: revoked.tokens } });
  return { application: current, ...revoked };
}

export async function updateApplication(deps: Deps, clientId: string, input: ApplicationInput): Promise<CreatedApplication> {
  const current = await findApplication(deps, clientId);
  const becomesConfidential = input.public === false && current.public;
  const clientSecret = becomesConfidential ? randomToken(TOKEN_PREFIX.secret) : null;
  const isPublic = input.public ?? current.public;
  const now = deps.clock.now();
  const application: Application = {
    ...current,
    name: input.name === undefined ? current.name : checkName(input.name),
    public: isPublic,
    secretHash: isPublic ? null : clientSecret === null ? current.secretHash : hashSecret(clientSecret),
    secretRotatedAt: isPublic ? null : clientSecret === null ? current.secretRotatedAt : now,
    active: input.active ?? current.active,
    grantTypes: input.grantTypes === undefined ? current.grantTypes : checkGrants(input.grantTypes, deps.grants),
    redirectUris: input.redirectUris === undefined ? current.redirectUris : checkRedirectUris(input.redirectUris),
    scopes: adminScopes(input.scopes === undefined ? current.scopes : await checkScopes(deps, input.scopes), input.adminApi ?? current.adminApi, input.scopes !== undefined),
    accessTokenLifespan: checkLifespan('The access token lifespan', input.accessTokenLifespan ?? current.accessTokenLifespan, 'accessTokenLifespan'),
    refreshTokenLifespan: checkLifespan('The refresh token lifespan', input.refreshTokenLifespan ?? current.refreshTokenLifespan, 'refreshTokenLifespan'),
    tokenFormat: input.tokenFormat === undefined ? current.tokenFormat : checkFormat(input.tokenFormat),
    appUserId: await resolveAppUser(deps, input.appUser, current.appUserId),
    logoUri: await optional(input.logoUri, current.logoUri, (v) => checkWebUrl('The logo URI', 'logoUri', v)),
    audience: await optional(input.audience, current.audience, checkAudience),
    jwks: await optional(input.jwks, current.jwks, checkJwks),
    jwksUri: await optional(input.jwksUri, current.jwksUri, async (v) => checkJwksUri(v, await storedPolicy(deps.storage))),
    canIntrospect: input.canIntrospect ?? current.canIntrospect,
    adminApi: input.adminApi ?? current.adminApi,
    dpopRequired: input.dpopRequired ?? current.dpopRequired ?? false,
    rateLimit: checkRateLimit(input.rateLimit, current.rateLimit ?? null),
    idTokenAlg: input.idTokenSignedResponseAlg === undefined ? (current.idTokenAlg ?? 'RS256') : checkIdTokenAlg(input.idTokenSignedResponseAlg),
    claimMappings: input.claimMappings === undefined ? (current.claimMappings ?? null) : checkClaimMappings(input.claimMappings),
    postLogoutRedirectUris: input.postLogoutRedirectUris === undefined ? (current.postLogoutRedirectUris ?? []) : checkPostLogoutRedirectUris(input.postLogoutRedirectUris),
    backchannelLogoutUri: await optional(input.backchannelLogoutUri, current.backchannelLogoutUri ?? null, async (v) => checkBackchannelLogoutUri(v, await storedPolicy(deps.storage))),
    backchannelLogoutSessionRequired: input.backchannelLogoutSessionRequired ?? current.backchannelLogoutSessionRequired ?? false,
    resources: input.resources === undefined ? (current.resources ?? null) : checkResourceLimit(input.resources),
    parRequired: input.parRequired ?? current.parRequired ?? false,
    updatedAt: now,
  };
  checkKeySource(application.jwks, application.jwksUri);
  checkConsoleApplicationKept(current, application);
  await deps.storage.applications.update(application);
  await recordChange(deps, { action: 'application.update', target: application.clientId, before: current, after: application });
  return { application, clientSecret };
}

/** Replaces the secret; the old one stops working at once. Returns the new secret (shown once). */
export async function rotateSecret(deps: BaseDeps, clientId: string): Promise<CreatedApplication> {
  const current = await findApplication(deps, clientId);
  if (current.public) {
    throw new RegistryError('invalid_input', `Application "${current.name}" is public and has no secret. Make it confidential with \`--public false\`.`);
  }
  const clientSecret = randomToken(TOKEN_PREFIX.secret);
  const now = deps.clock.now();
  const application: Application = { ...current, secretHash: hashSecret(clientSecret), secretRotatedAt: now, updatedAt: now };
  await deps.storage.applications.update(application);
  // The entry says "secret: rotated" (see audit/log.ts), never the secret or its hash.
  await recordChange(deps, { action: 'application.rotate_secret', target: application.clientId, before: current, after: application });
  return { application, clientSecret };
}
