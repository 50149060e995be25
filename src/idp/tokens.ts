import { decodeJwt, type JWTPayload } from 'jose';
import { jwtFacts, secondsAhead } from '../assertions/facts.js';
import { ALLOWED_ALGORITHMS, KeySets } from '../assertions/keys.js';
import { factString } from '../errors/fact-values.js';
import { JwtRejected, verifyJwt, type JwtFailure } from '../assertions/verify.js';
import type { Clock } from '../core/clock.js';
import { invalidToken } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { ReasonCode } from '../errors/reasons.js';
import { fetchProviderMetadata, ProviderFetchError, type FetchOptions } from './metadata.js';
import { refusalIn } from '../outbound/fetch.js';
import { outboundFacts } from '../outbound/facts.js';
import type { RegistryCache } from '../registry/cache.js';
import type { PropertyValues } from '../registry/properties.js';
import type { Caller } from '../domain/caller.js';
import type { Facts, IdentityProvider, User } from '../domain/model.js';
import type { Storage } from '../storage/types.js';

/**
 * Bearer tokens issued by external identity providers (an enterprise IdP, a cloud identity
 * service): JWTs whose `iss` is a registered, active identity provider are verified against that
 * provider's published keys and mapped to a local user, who then calls our APIs with their own
 * roles. Nothing is stored per token: the provider's keys are fetched (with a timeout), cached,
 * and refetched when a token names an unknown key id (at most once per cooldown).
 * @see RFC 9068 (JWT access tokens), RFC 8414 (metadata), RFC 7517 (JWKS), RFC 6750 §3.1
 */
export interface ExternalTokenValidator {
  /** Validates a JWT whose unverified `iss` is not ours; throws an invalid_token OAuthError with a reason code. */
  validate(token: string, iss: string): Promise<{ readonly caller: Caller; readonly expiresAt: number }>;
}


export interface ExternalTokenDeps extends FetchOptions {
  readonly storage: Pick<Storage, 'identityProviders'>;
  readonly cache: Pick<RegistryCache, 'userByName' | 'userById' | 'peekUserById' | 'onInvalidate' | 'properties' | 'peekProperties'>;
  readonly clock: Clock;
  /** Shared key sets (one key set per JWKS URI); a private one over `fetcher` when omitted. */
  readonly keySets?: KeySets;
  /** How long a provider's discovered jwks_uri is kept before its metadata is fetched again (default 1 hour). */
  readonly metadataMaxAgeMs?: number;
}

const METADATA_MAX_AGE_MS = 60 * 60_000;
/** After a failed metadata fetch, requests fail fast for this long instead of each waiting on the timeout. */
const METADATA_RETRY_MS = 5_000;

const REASONS: Record<JwtFailure, ReasonCode> = {
  malformed: 'idp.malformed',
  missing_claim: 'idp.claim_missing',
  algorithm_not_allowed: 'idp.algorithm_not_allowed',
  unknown_key: 'idp.unknown_key',
  bad_signature: 'idp.bad_signature',
  wrong_issuer: 'token.unknown_issuer',
  wrong_audience: 'idp.wrong_audience',
  expired: 'idp.token_expired',
  not_yet_valid: 'idp.not_yet_valid',
  lifetime_too_long: 'idp.lifetime_too_long',
  invalid_keys: 'idp.jwks_unavailable',
  keys_unavailable: 'idp.jwks_unavailable',
  keys_refused: 'outbound.refused',
};

const DESCRIPTIONS: Record<string, string> = {
  'token.unknown_issuer': 'The access token was issued by an issuer this instance does not trust.',
  'idp.malformed': 'The access token is not a valid JWT.',
  'idp.claim_missing': 'The access token lacks a required claim.',
  'idp.algorithm_not_allowed': 'The access token is signed with an algorithm that is not accepted.',
  'idp.unknown_key': 'The access token is signed with a key its issuer does not publish.',
  'idp.bad_signature': 'The access token signature is not valid.',
  'idp.wrong_audience': 'The access token was issued for another audience.',
  'idp.token_expired': 'The access token has expired.',
  'idp.not_yet_valid': 'The access token is not valid yet.',
  'idp.lifetime_too_long': 'The access token lives longer than this server accepts.',
  'idp.unknown_user': 'The user of this access token is not known here.',
};

/**
 * The provider's keys could not be fetched: a 503, not a verdict on the token. An outage is worth
 * retrying; a URL the outbound rules refuse (outbound.refused) is not, until an administrator acts.
 */
function unavailable(hint: string, refused = false): OAuthError {
  return new OAuthError({
    error: 'temporarily_unavailable',
    status: 503,
    description: refused ? 'The keys of the token issuer could not be fetched.' : 'The keys of the token issuer could not be fetched. Retry shortly.',
    reason: refused ? 'outbound.refused' : 'idp.jwks_unavailable',
    hint: hint.slice(0, 500),
    ...(refused ? {} : { headers: { 'retry-after': '5' } }),
  });
}

function refusal(reason: ReasonCode, hint: string): OAuthError {
  if (reason === 'idp.jwks_unavailable') return unavailable(hint);
  if (reason === 'outbound.refused') return unavailable(hint, true);
  return invalidToken(reason, DESCRIPTIONS[reason] ?? 'The access token is not valid.').withHint(hint.slice(0, 500));
}

/** RFC 9068 §2.2.3 `scope` (space-separated), or the `scp` array some providers use instead. */
function scopesOf(claims: JWTPayload): string[] {
  const { scope, scp } = claims as { scope?: unknown; scp?: unknown };
  if (typeof scope === 'string') return [...new Set(scope.split(' ').filter((s) => s !== ''))];
  if (Array.isArray(scp)) return [...new Set(scp.filter((s): s is string => typeof s === 'string' && s !== ''))];
  if (typeof scp === 'string') return [...new Set(scp.split(' ').filter((s) => s !== ''))];
  return [];
}

/**
 * The facts of a refusal of `provider`'s token (src/errors/facts.ts), built only when refusing:
 * what the token said (as presented) against what the provider's registration expects.
 */
function providerFacts(provider: IdentityProvider, token: string): Facts {
  const jwt = jwtFacts(token);
  return {
    identityProvider: provider.name,
    expectedIssuer: provider.issuer,
    expectedAudience: provider.audience,
    ...jwt,
    userClaim: provider.userClaim,
    userField: provider.userField,
  };
}

type MetadataEntry = { readonly jwksUri: string; readonly at: number } | { readonly error: ProviderFetchError; readonly at: number } | { readonly pending: Promise<string> };

export class IdentityProviderTokens implements ExternalTokenValidator {
  /** Active providers by exact issuer, loaded on first use and dropped on every registry change. */
  private providers: Promise<Map<string, IdentityProvider>> | undefined;
  /** Discovered jwks_uri by metadata URL and issuer; kept across registry changes (they are about the provider's site). */
  private readonly metadata = new Map<string, MetadataEntry>();
  private readonly keySets: KeySets;

  constructor(private readonly deps: ExternalTokenDeps) {
    this.keySets = deps.keySets ?? new KeySets({ fetcher: deps.fetcher });
    deps.cache.onInvalidate(() => {
      this.providers = undefined;
    });
  }

  private activeProviders(): Promise<Map<string, IdentityProvider>> {
    if (this.providers !== undefined) return this.providers;
    const loading = this.deps.storage.identityProviders.list().then((list) => new Map(list.filter((p) => p.active).map((p) => [p.issuer, p])));
    this.providers = loading;
    // A failed load (storage unavailable) is not kept: the next request tries again.
    loading.catch(() => {
      if (this.providers === loading) this.providers = undefined;
    });
    return loading;
  }

  /** The provider's JWKS URI: given, or discovered from its metadata (cached; failures fail fast briefly). */
  private async jwksUriOf(provider: IdentityProvider): Promise<string> {
    if (provider.jwksUri !== null) return provider.jwksUri;
    const url = provider.metadataUrl ?? '';
    const key = `${url} ${provider.issuer}`;
    const now = performance.now();
    const entry = this.metadata.get(key);
    if (entry !== undefined) {
      if ('pending' in entry) return entry.pending;
      if ('jwksUri' in entry && now - entry.at < (this.deps.metadataMaxAgeMs ?? METADATA_MAX_AGE_MS)) return entry.jwksUri;
      if ('error' in entry && now - entry.at < METADATA_RETRY_MS) throw entry.error;
    }
    const pending = fetchProviderMetadata(url, provider.issuer, this.deps).then(
      (m) => {
        this.metadata.set(key, { jwksUri: m.jwksUri, at: performance.now() });
        return m.jwksUri;
      },
      (error: unknown) => {
        const failure = error instanceof ProviderFetchError ? error : new ProviderFetchError(String(error));
        // A refusal by the outbound rules cost no wait, and must end as soon as the property changes.
        if (refusalIn(failure) === undefined) this.metadata.set(key, { error: failure, at: performance.now() });
        else this.metadata.delete(key);
        throw failure;
      },
    );
    if (this.metadata.size >= 1_000) this.metadata.clear();
    this.metadata.set(key, { pending });
    return pending;
  }

  async validate(token: string, iss: string): Promise<{ readonly caller: Caller; readonly expiresAt: number }> {
    const providers = await this.activeProviders();
    const provider = providers.get(iss);
    if (provider === undefined) {
      throw refusal('token.unknown_issuer', `No active identity provider has the issuer ${JSON.stringify(iss.slice(0, 200))}; register it with \`latchkey idps add\`.`).withFacts({
        tokenIssuer: iss.slice(0, 200),
        providerIssuers: [...providers.keys()],
      });
    }
    const label = `Identity provider "${provider.name}"`;
    let jwksUri: string;
    try {
      jwksUri = await this.jwksUriOf(provider);
    } catch (error) {
      const refused = refusalIn(error) !== undefined;
      throw unavailable(`${label}: ${error instanceof Error ? error.message : String(error)}`, refused)
        .withCause(error)
        .withFacts({ ...providerFacts(provider, token), idpJwksUri: provider.jwksUri, idpMetadataUrl: provider.metadataUrl, fetchError: factString(error instanceof Error ? error.message : String(error), 300), ...(refused ? { identityProvider: provider.name, ...outboundFacts(error) } : {}) });
    }
    const props = this.deps.cache.peekProperties() ?? (await this.deps.cache.properties());
    let claims: JWTPayload;
    try {
      claims = await verifyJwt(token, {
        getKey: this.keySets.remoteSet(jwksUri),
        now: this.deps.clock.now(),
        skewSeconds: props['latchkey.assertion.max_skew_seconds'],
        required: ['exp'],
        issuer: provider.issuer,
        audiences: [provider.audience],
        // A stolen token must not work for years: bound what a provider's exp may claim.
        maxTotalLifetimeSeconds: props['latchkey.idp.max_token_lifetime_seconds'],
      });
    } catch (error) {
      if (error instanceof JwtRejected) {
        const refused = refusal(REASONS[error.code], `${label}: ${error.detail}`).withCause(error).withFacts(this.rejectionFacts(provider, token, jwksUri, error, props));
        throw error.code === 'keys_refused' ? refused.withFacts({ identityProvider: provider.name, ...outboundFacts(error) }) : refused;
      }
      throw error;
    }
    const name = claims[provider.userClaim];
    if (typeof name !== 'string' || name === '' || name.length > 500) {
      throw refusal('idp.claim_missing', `${label}: the token has no string claim ${JSON.stringify(provider.userClaim)} to name the user.`).withFacts({ ...providerFacts(provider, token), claim: provider.userClaim });
    }
    const user = await this.userOf(provider, name);
    if (user === undefined) {
      throw refusal('idp.unknown_user', `${label}: no user has the ${provider.userField === 'id' ? 'id' : 'user name'} ${JSON.stringify(name.slice(0, 200))} (claim ${provider.userClaim}).`)
        .withFacts({ ...providerFacts(provider, token), userClaimValue: factString(name), userExists: false });
    }
    if (!user.active) {
      throw invalidToken('token.user_inactive', 'The user of this token is inactive.')
        .withHint(`${label}: user ${user.userName} is inactive.`)
        .withSubject({ userName: user.userName })
        .withFacts({ identityProvider: provider.name, tokenIssuer: iss.slice(0, 200) });
    }
    // Shared by every request with this token: frozen so no handler can change what others see.
    const caller: Caller = Object.freeze({
      authenticated: true,
      method: 'bearer',
      user: Object.freeze({ id: user.id, name: user.userName, roles: Object.freeze([...user.roles]) }),
      application: null,
      scopes: Object.freeze(scopesOf(claims)),
    });
    return { caller, expiresAt: (claims.exp as number) * 1000 };
  }

  /** The facts of a JWT-level refusal, by its failure: the keys for key failures, the settings for time ones. */
  private rejectionFacts(provider: IdentityProvider, token: string, jwksUri: string, error: JwtRejected, props: PropertyValues): Facts {
    const base = providerFacts(provider, token);
    const keys = () => ({ idpJwksUri: jwksUri, idpMetadataUrl: provider.metadataUrl, publishedKids: this.keySets.publishedKids(jwksUri) ?? [] });
    switch (error.code) {
      case 'malformed':
      case 'missing_claim':
        return { ...base, claim: error.claim ?? null };
      case 'algorithm_not_allowed':
        return { ...base, allowedAlgorithms: [...ALLOWED_ALGORITHMS] };
      case 'unknown_key':
      case 'bad_signature':
        return { ...base, ...keys() };
      case 'invalid_keys':
      case 'keys_unavailable':
      case 'keys_refused':
        return { ...base, ...keys(), fetchError: factString(error.detail, 300) };
      case 'expired':
      case 'not_yet_valid':
        return { ...base, maxSkewSeconds: props['latchkey.assertion.max_skew_seconds'] };
      case 'lifetime_too_long': {
        const claims = this.claimsOf(token);
        const lifetime = typeof claims.exp === 'number' && typeof claims.iat === 'number' ? Math.round(claims.exp - claims.iat) : secondsAhead(claims, this.deps.clock.now());
        return { ...base, lifetimeSeconds: lifetime, maxLifetimeSeconds: props['latchkey.idp.max_token_lifetime_seconds'], maxSkewSeconds: props['latchkey.assertion.max_skew_seconds'] };
      }
      default:
        return base;
    }
  }

  private claimsOf(token: string): JWTPayload {
    try {
      return decodeJwt(token);
    } catch {
      return {};
    }
  }

  private async userOf(provider: IdentityProvider, value: string): Promise<User | undefined> {
    if (provider.userField === 'id') return this.deps.cache.peekUserById(value) ?? (await this.deps.cache.userById(value));
    return this.deps.cache.userByName(value);
  }
}

/** The validator the bearer-token check delegates to for JWTs whose issuer is not this instance. */
export function createExternalTokenValidator(deps: ExternalTokenDeps): ExternalTokenValidator {
  return new IdentityProviderTokens(deps);
}
