import type { Clock } from '../core/clock.js';
import { generateClientId, hashSecret, newId, randomToken, TOKEN_PREFIX } from '../core/crypto.js';
import { GRANT_TYPES, type Application, type GrantType, type Storage, type TokenFormat } from '../storage/types.js';
import { RegistryError } from './errors.js';
import { findUser } from './users.js';

type Deps = { storage: Pick<Storage, 'applications' | 'users' | 'scopes'>; clock: Clock };

/** Platform defaults: 30 minutes for access tokens, 100 days for refresh tokens. */
export const DEFAULT_ACCESS_TOKEN_LIFESPAN = 1800;
export const DEFAULT_REFRESH_TOKEN_LIFESPAN = 8_640_000;
const MAX_LIFESPAN = 10 * 365 * 86400;
const TOKEN_FORMATS: readonly TokenFormat[] = ['opaque'];

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
}

function checkName(name: string): string {
  const trimmed = name.trim();
  if (trimmed.length === 0 || trimmed.length > 200 || /[\x00-\x1f\x7f]/.test(trimmed)) {
    throw new RegistryError('invalid_input', 'An application name needs 1-200 printable characters.');
  }
  return trimmed;
}

function checkGrants(grants: readonly string[]): GrantType[] {
  const unique = [...new Set(grants.map((g) => g.trim()).filter((g) => g !== ''))];
  for (const g of unique) {
    if (!(GRANT_TYPES as readonly string[]).includes(g)) {
      throw new RegistryError('invalid_input', `Unknown grant type "${g}". Supported: ${GRANT_TYPES.join(', ')}.`);
    }
  }
  // As on the platform, the password grant always comes with refresh tokens (RFC 6749 §4.3.3).
  if (unique.includes('password') && !unique.includes('refresh_token')) unique.push('refresh_token');
  return unique as GrantType[];
}

function checkLifespan(label: string, value: number): number {
  if (!Number.isInteger(value) || value < 1 || value > MAX_LIFESPAN) {
    throw new RegistryError('invalid_input', `${label} must be a whole number of seconds from 1 to ${MAX_LIFESPAN} (got ${value}).`);
  }
  return value;
}

/** Exact-match redirect URIs (RFC 6749 §3.1.2): absolute, no fragment. */
function checkRedirectUris(uris: readonly string[]): string[] {
  const unique = [...new Set(uris.map((u) => u.trim()).filter((u) => u !== ''))];
  for (const uri of unique) {
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      throw new RegistryError('invalid_input', `Redirect URI "${uri}" is not an absolute URL.`);
    }
    if (url.hash !== '' || uri.includes('#')) {
      throw new RegistryError('invalid_input', `Redirect URI "${uri}" must not contain a fragment (RFC 6749 §3.1.2).`);
    }
  }
  return unique;
}

async function checkScopes(deps: Deps, scopes: readonly string[]): Promise<string[]> {
  const unique = [...new Set(scopes.map((s) => s.trim()).filter((s) => s !== ''))];
  for (const scope of unique) {
    if ((await deps.storage.scopes.byName(scope)) === undefined) {
      throw new RegistryError('scope_not_found', `No auth scope named "${scope}". Create it with \`latchkey scopes create ${scope}\`.`);
    }
  }
  return unique;
}

async function resolveAppUser(deps: Deps, appUser: string | null | undefined, current: string | null): Promise<string | null> {
  if (appUser === undefined) return current;
  if (appUser === null || appUser === '') return null;
  return (await findUser(deps, appUser)).id;
}

function checkFormat(format: string): TokenFormat {
  if (!(TOKEN_FORMATS as readonly string[]).includes(format)) {
    throw new RegistryError('invalid_input', `Unknown token format "${format}". Supported: ${TOKEN_FORMATS.join(', ')}.`);
  }
  return format as TokenFormat;
}

export interface CreatedApplication {
  readonly application: Application;
  /** Shown once; only its hash is stored. Null for public applications. */
  readonly clientSecret: string | null;
}

export async function createApplication(deps: Deps, input: ApplicationInput): Promise<CreatedApplication> {
  if (input.name === undefined) throw new RegistryError('invalid_input', 'An application needs a name (--name).');
  const isPublic = input.public ?? false;
  const clientSecret = isPublic ? null : randomToken(TOKEN_PREFIX.secret);
  const now = deps.clock.now();
  const application: Application = {
    id: newId(),
    clientId: generateClientId(),
    name: checkName(input.name),
    secretHash: clientSecret === null ? null : hashSecret(clientSecret),
    secretRotatedAt: clientSecret === null ? null : now,
    active: input.active ?? true,
    public: isPublic,
    grantTypes: checkGrants(input.grantTypes ?? []),
    redirectUris: checkRedirectUris(input.redirectUris ?? []),
    scopes: await checkScopes(deps, input.scopes ?? []),
    accessTokenLifespan: checkLifespan('The access token lifespan', input.accessTokenLifespan ?? DEFAULT_ACCESS_TOKEN_LIFESPAN),
    refreshTokenLifespan: checkLifespan('The refresh token lifespan', input.refreshTokenLifespan ?? DEFAULT_REFRESH_TOKEN_LIFESPAN),
    tokenFormat: checkFormat(input.tokenFormat ?? 'opaque'),
    appUserId: await resolveAppUser(deps, input.appUser, null),
    createdAt: now,
    updatedAt: now,
  };
  await deps.storage.applications.create(application);
  return { application, clientSecret };
}

export async function findApplication(deps: Pick<Deps, 'storage'>, clientId: string): Promise<Application> {
  const app = await deps.storage.applications.byClientId(clientId);
  if (app === undefined) {
    throw new RegistryError('application_not_found', `No application has client id "${clientId}". List them with \`latchkey apps list\`.`);
  }
  return app;
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
    grantTypes: input.grantTypes === undefined ? current.grantTypes : checkGrants(input.grantTypes),
    redirectUris: input.redirectUris === undefined ? current.redirectUris : checkRedirectUris(input.redirectUris),
    scopes: input.scopes === undefined ? current.scopes : await checkScopes(deps, input.scopes),
    accessTokenLifespan: checkLifespan('The access token lifespan', input.accessTokenLifespan ?? current.accessTokenLifespan),
    refreshTokenLifespan: checkLifespan('The refresh token lifespan', input.refreshTokenLifespan ?? current.refreshTokenLifespan),
    tokenFormat: input.tokenFormat === undefined ? current.tokenFormat : checkFormat(input.tokenFormat),
    appUserId: await resolveAppUser(deps, input.appUser, current.appUserId),
    updatedAt: now,
  };
  await deps.storage.applications.update(application);
  return { application, clientSecret };
}

/** Replaces the secret; the old one stops working at once. Returns the new secret (shown once). */
export async function rotateSecret(deps: Deps, clientId: string): Promise<CreatedApplication> {
  const current = await findApplication(deps, clientId);
  if (current.public) {
    throw new RegistryError('invalid_input', `Application "${current.name}" is public and has no secret. Make it confidential with \`--public false\`.`);
  }
  const clientSecret = randomToken(TOKEN_PREFIX.secret);
  const now = deps.clock.now();
  const application: Application = { ...current, secretHash: hashSecret(clientSecret), secretRotatedAt: now, updatedAt: now };
  await deps.storage.applications.update(application);
  return { application, clientSecret };
}
