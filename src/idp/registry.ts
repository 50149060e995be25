import { recordChange } from '../audit/log.js';
import { systemClock, type Clock } from '../core/clock.js';
import { newId } from '../core/crypto.js';
import { RegistryError } from '../registry/errors.js';
import type { IdentityProvider, IdpUserField } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { refusalIn, type OutboundFetcher } from '../outbound/fetch.js';
import { storedFetcher, storedPolicy } from '../registry/outbound-policy.js';
import { outboundRefusalText, type OutboundPolicy } from '../outbound/url.js';
import { checkJwksUri, fetchProviderMetadata, ProviderFetchError, type FetchOptions } from './metadata.js';

/**
 * The registry of external identity providers whose JWT access tokens our APIs accept as bearer
 * tokens. Each provider is matched by the exact `iss` of a token; its keys come from its JWKS URI,
 * given directly or discovered from its metadata document.
 */

/** `actor` (default 'system') and `storage.audit` are for the audit log (src/audit/log.ts). */
export type IdpDeps = {
  /** `properties`: the outbound rules' setting (latchkey.outbound.allow_private_networks). */
  readonly storage: Pick<Storage, 'identityProviders' | 'properties'> & Partial<Pick<Storage, 'audit'>>;
  readonly clock: Clock;
  readonly actor?: string | undefined;
  /** The fetcher for the network check; default: one reading the setting from storage. */
  readonly fetcher?: OutboundFetcher | undefined;
};

/** Not fetched (an identifier), so it keeps the plain rule: https, or http on loopback. */
const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

export const IDP_USER_FIELDS: readonly IdpUserField[] = ['user_name', 'id'];
const MAX_URL = 2000;
const MAX_AUDIENCE = 500;

export interface IdentityProviderInput {
  readonly name?: string | undefined;
  readonly issuer?: string | undefined;
  /** RFC 8414 / OpenID discovery document URL. Exclusive with jwksUri; setting one clears the other. */
  readonly metadataUrl?: string | undefined;
  readonly jwksUri?: string | undefined;
  readonly audience?: string | undefined;
  readonly userClaim?: string | undefined;
  readonly userField?: string | undefined;
  readonly active?: boolean | undefined;
  /** Fetch the metadata / JWKS now to check them (default true). */
  readonly check?: boolean | undefined;
}

function invalid(message: string): RegistryError {
  return new RegistryError('invalid_input', message);
}

function checkName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > 100 || /[\x00-\x1f\x7f]/.test(trimmed)) throw invalid('An identity provider name needs 1-100 printable characters.');
  return trimmed;
}

/**
 * No credentials, no fragment; a URL the server fetches (`fetched`) must pass the outbound rules
 * under the current setting, others are https (http only on loopback).
 */
function checkUrl(label: string, value: string, options: { noQuery?: boolean; fetched?: OutboundPolicy } = {}): string {
  const text = value.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalid(`${label} "${text}" is not an absolute URL.`);
  }
  if (text.length > MAX_URL) throw invalid(`${label} is longer than ${MAX_URL} characters.`);
  if (options.fetched !== undefined) {
    const refused = outboundRefusalText(label, text, options.fetched);
    if (refused !== undefined) throw new RegistryError('outbound_refused', refused);
  } else if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw invalid(`${label} "${text}" must use https (http is accepted only on localhost, 127.0.0.1 or [::1]).`);
  }
  if (url.username !== '' || url.password !== '') throw invalid(`${label} "${text}" must not contain a user name or password.`);
  if (url.hash !== '' || text.includes('#')) throw invalid(`${label} "${text}" must not contain a fragment.`);
  if (options.noQuery === true && (url.search !== '' || text.includes('?'))) throw invalid(`${label} "${text}" must not contain a query (RFC 8414 section 2).`);
  return text;
}

function checkAudience(value: string): string {
  const text = value.trim();
  if (text.length === 0 || text.length > MAX_AUDIENCE || /[\x00-\x1f\x7f]/.test(text)) throw invalid(`The audience needs 1-${MAX_AUDIENCE} printable characters (the aud its tokens carry for this server).`);
  return text;
}

function checkClaim(value: string): string {
  const text = value.trim();
  if (!/^[\x21-\x7e]{1,100}$/.test(text)) throw invalid(`The user claim "${text}" must be a claim name (1-100 printable characters, no spaces), for example sub, preferred_username or email.`);
  return text;
}

function checkField(value: string): IdpUserField {
  if (!(IDP_USER_FIELDS as readonly string[]).includes(value)) throw invalid(`The user field must be ${IDP_USER_FIELDS.join(' or ')} (got "${value}").`);
  return value as IdpUserField;
}

/** What the network checks found, shown to the administrator. */
export interface ProviderCheck {
  /** The JWKS URI in use (discovered from the metadata, or the one given). */
  readonly jwksUri: string;
  readonly keys: number;
}

/**
 * Fetches the metadata (its issuer must match) and the JWKS, as the validator will, through the
 * same outbound fetcher: a URL the outbound rules refuse (a host that resolves to a private
 * address, say) is reported as such.
 */
export async function checkProvider(deps: FetchOptions, provider: Pick<IdentityProvider, 'issuer' | 'metadataUrl' | 'jwksUri'>): Promise<ProviderCheck> {
  try {
    const jwksUri = provider.metadataUrl !== null ? (await fetchProviderMetadata(provider.metadataUrl, provider.issuer, deps)).jwksUri : (provider.jwksUri ?? '');
    const keys = await checkJwksUri(jwksUri, deps);
    return { jwksUri, keys };
  } catch (error) {
    const refused = refusalIn(error);
    if (refused !== undefined) {
      throw new RegistryError('outbound_refused', `${refused.message}. Register a public https URL (tokens naming this provider are refused while it is refused).`);
    }
    if (error instanceof ProviderFetchError) {
      throw new RegistryError('identity_provider_unreachable', `${error.message}. Fix the URL or the provider, or skip the check with --no-check (tokens are refused until it is reachable).`);
    }
    throw error;
  }
}

async function ensureUnique(deps: IdpDeps, provider: IdentityProvider): Promise<void> {
  for (const other of await deps.storage.identityProviders.list()) {
    if (other.id === provider.id) continue;
    if (other.name === provider.name) throw new RegistryError('identity_provider_exists', `An identity provider is already named "${provider.name}".`);
    if (other.issuer === provider.issuer) {
      throw new RegistryError('identity_provider_exists', `The identity provider "${other.name}" already has the issuer ${provider.issuer}; tokens are matched to a provider by their exact iss.`);
    }
  }
}

function keySource(
  input: IdentityProviderInput,
  current: Pick<IdentityProvider, 'metadataUrl' | 'jwksUri'> | undefined,
  policy: OutboundPolicy,
): { metadataUrl: string | null; jwksUri: string | null } {
  const metadata = input.metadataUrl === undefined || input.metadataUrl.trim() === '' ? undefined : input.metadataUrl;
  const jwks = input.jwksUri === undefined || input.jwksUri.trim() === '' ? undefined : input.jwksUri;
  if (metadata !== undefined && jwks !== undefined) throw invalid('Give either a metadata URL (--metadata-url) or a JWKS URI (--jwks-uri), not both.');
  if (metadata !== undefined) return { metadataUrl: checkUrl('The metadata URL', metadata, { fetched: policy }), jwksUri: null };
  if (jwks !== undefined) return { metadataUrl: null, jwksUri: checkUrl('The JWKS URI', jwks, { fetched: policy }) };
  if (current === undefined) {
    throw invalid('An identity provider needs where its keys are: --metadata-url (its /.well-known/openid-configuration or /.well-known/oauth-authorization-server) or --jwks-uri.');
  }
  return { metadataUrl: current.metadataUrl, jwksUri: current.jwksUri };
}

export interface SavedProvider {
  readonly provider: IdentityProvider;
  /** Present when the network check ran. */
  readonly check: ProviderCheck | undefined;
}

export async function createIdentityProvider(deps: IdpDeps, input: IdentityProviderInput): Promise<SavedProvider> {
  if (input.name === undefined) throw invalid('An identity provider needs a name (--name).');
  if (input.issuer === undefined) throw invalid('An identity provider needs its issuer (--issuer): the exact iss of its tokens.');
  if (input.audience === undefined) throw invalid('An identity provider needs the audience (--audience) its tokens carry for this server: tokens for other audiences are refused.');
  const now = deps.clock.now();
  const provider: IdentityProvider = {
    id: newId(),
    name: checkName(input.name),
    issuer: checkUrl('The issuer', input.issuer, { noQuery: true }),
    ...keySource(input, undefined, await storedPolicy(deps.storage)),
    audience: checkAudience(input.audience),
    userClaim: checkClaim(input.userClaim ?? 'sub'),
    userField: checkField(input.userField ?? 'user_name'),
    active: input.active ?? true,
    createdAt: now,
    updatedAt: now,
  };
  await ensureUnique(deps, provider);
  const check = input.check === false ? undefined : await checkProvider({ fetcher: deps.fetcher ?? storedFetcher(deps.storage) }, provider);
  await deps.storage.identityProviders.create(provider);
  await recordChange(deps, { action: 'idp.create', target: provider.name, before: null, after: provider });
  return { provider, check };
}

/** By name, or by id. */
export async function findIdentityProvider(deps: Pick<IdpDeps, 'storage'>, nameOrId: string): Promise<IdentityProvider> {
  const found = (await deps.storage.identityProviders.byName(nameOrId)) ?? (await deps.storage.identityProviders.byId(nameOrId));
  if (found === undefined) throw new RegistryError('identity_provider_not_found', `No identity provider is named "${nameOrId}". List them with \`latchkey idps list\`.`);
  return found;
}

export async function updateIdentityProvider(deps: IdpDeps, nameOrId: string, input: IdentityProviderInput): Promise<SavedProvider> {
  const current = await findIdentityProvider(deps, nameOrId);
  const provider: IdentityProvider = {
    ...current,
    name: input.name === undefined ? current.name : checkName(input.name),
    issuer: input.issuer === undefined ? current.issuer : checkUrl('The issuer', input.issuer, { noQuery: true }),
    ...keySource(input, current, await storedPolicy(deps.storage)),
    audience: input.audience === undefined ? current.audience : checkAudience(input.audience),
    userClaim: input.userClaim === undefined ? current.userClaim : checkClaim(input.userClaim),
    userField: input.userField === undefined ? current.userField : checkField(input.userField),
    active: input.active ?? current.active,
    updatedAt: deps.clock.now(),
  };
  await ensureUnique(deps, provider);
  // Where the keys come from changed: check the new source (a rename or a new audience needs no fetch).
  const moved = provider.issuer !== current.issuer || provider.metadataUrl !== current.metadataUrl || provider.jwksUri !== current.jwksUri;
  const check = input.check === false || !moved ? undefined : await checkProvider({ fetcher: deps.fetcher ?? storedFetcher(deps.storage) }, provider);
  await deps.storage.identityProviders.update(provider);
  await recordChange(deps, { action: 'idp.update', target: provider.name, before: current, after: provider });
  return { provider, check };
}

export async function removeIdentityProvider(deps: Pick<IdpDeps, 'storage'> & { readonly clock?: Clock; readonly actor?: string | undefined }, nameOrId: string): Promise<IdentityProvider> {
  const provider = await findIdentityProvider(deps, nameOrId);
  if (!(await deps.storage.identityProviders.delete(provider.id))) {
    throw new RegistryError('identity_provider_not_found', `The identity provider "${nameOrId}" was removed meanwhile.`);
  }
  await recordChange({ ...deps, clock: deps.clock ?? systemClock }, { action: 'idp.delete', target: provider.name, before: provider, after: null });
  return provider;
}

export async function listIdentityProviders(deps: Pick<IdpDeps, 'storage'>): Promise<IdentityProvider[]> {
  return (await deps.storage.identityProviders.list()).sort((a, b) => a.name.localeCompare(b.name));
}
