import { createLocalJWKSet, createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey, type RemoteJWKSet } from 'jose';
import { FETCH_TIMEOUT_MS, joseFetch, type OutboundFetcher } from '../outbound/fetch.js';
import { InvalidKeySet, KeySourceUnavailable } from '../errors/keys.js';
import { factString } from '../errors/fact-values.js';

export { InvalidKeySet, KeySourceUnavailable };

/**
 * Where the public keys that verify a JWT come from: a JWKS document registered inline, or a JWKS
 * URI fetched with a timeout, cached, and refetched when a token names a key id the cached set does
 * not have (at most once per cooldown, so a flood of unknown kids cannot turn into a flood of
 * fetches). jose does the caching; the fetching goes through the outbound fetcher (src/outbound),
 * so a JWKS URI is held to the outbound rules. This module keeps one key set per URI, so the cache
 * and the cooldown are shared by every request and every application naming that URI.
 */

/** Signature algorithms accepted on assertions and external tokens. Never `none`, never HMAC (HS*). */
export const ALLOWED_ALGORITHMS: readonly string[] = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA'];

/** How long one JWKS (or metadata) fetch may take before the request is refused. */
export { FETCH_TIMEOUT_MS };
/** At most one refetch per URI in this interval when tokens name an unknown key id. */
export const REFETCH_COOLDOWN_MS = 30_000;
/** A fetched key set is used for this long before it is fetched again. */
export const KEY_SET_MAX_AGE_MS = 10 * 60_000;

export interface KeySetOptions {
  /** Every JWKS fetch goes through it (the outbound rules). */
  readonly fetcher: OutboundFetcher;
  readonly timeoutMs?: number;
  readonly cooldownMs?: number;
  readonly maxAgeMs?: number;
}

/**
 * Key sets by JWKS URI and by inline JWKS text, each created once and reused across requests.
 * Bounded: a registry with more distinct sources than `maxEntries` starts over (rare; costs one
 * fetch per source).
 */
export class KeySets {
  private remote = new Map<string, JWTVerifyGetKey>();
  /** jose's key set behind each remote resolver: what it last fetched (for the key ids a refusal names). */
  private fetched = new Map<string, RemoteJWKSet>();
  private local = new Map<string, JWTVerifyGetKey>();
  private readonly maxEntries = 1_000;

  constructor(private readonly options: KeySetOptions) {}

  /** The key resolver for a JWKS URI; fetch failures become KeySourceUnavailable. */
  remoteSet(uri: string): JWTVerifyGetKey {
    const hit = this.remote.get(uri);
    if (hit !== undefined) return hit;
    const jwks = createRemoteJWKSet(new URL(uri), {
      timeoutDuration: this.options.timeoutMs ?? FETCH_TIMEOUT_MS,
      cooldownDuration: this.options.cooldownMs ?? REFETCH_COOLDOWN_MS,
      cacheMaxAge: this.options.maxAgeMs ?? KEY_SET_MAX_AGE_MS,
      [customFetch]: joseFetch(this.options.fetcher),
    });
    const resolver: JWTVerifyGetKey = async (header, token) => {
      try {
        return await jwks(header, token);
      } catch (error) {
        // An unknown kid (after the refetch jose did, or while cooling down) and several candidate
        // keys (jose then tries each) are about the token; anything else is about the source.
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys || error instanceof errors.JOSENotSupported) throw error;
        throw new KeySourceUnavailable(uri, error);
      }
    };
    if (this.remote.size >= this.maxEntries) {
      this.remote = new Map();
      this.fetched = new Map();
    }
    this.remote.set(uri, resolver);
    this.fetched.set(uri, jwks);
    return resolver;
  }

  /**
   * The key ids of the JWKS last fetched from `uri` (kids only, never key material), for a
   * refusal's facts; undefined when it has not been fetched (yet, or successfully).
   */
  publishedKids(uri: string): string[] | undefined {
    const set = this.fetched.get(uri)?.jwks();
    return set === undefined ? undefined : kidsOf(set);
  }

  /** The key resolver for a registered JWKS document (JSON text); throws InvalidKeySet. */
  localSet(jwksText: string): JWTVerifyGetKey {
    const hit = this.local.get(jwksText);
    if (hit !== undefined) return hit;
    let resolver: JWTVerifyGetKey;
    try {
      const local = createLocalJWKSet(JSON.parse(jwksText) as Parameters<typeof createLocalJWKSet>[0]);
      resolver = async (header, token) => {
        try {
          return await local(header, token);
        } catch (error) {
          // A private key in the set, or a member that cannot be imported.
          if (error instanceof errors.JWKSInvalid || error instanceof errors.JWKInvalid) throw new InvalidKeySet(error);
          throw error;
        }
      };
    } catch (error) {
      throw new InvalidKeySet(error);
    }
    if (this.local.size >= this.maxEntries) this.local = new Map();
    this.local.set(jwksText, resolver);
    return resolver;
  }
}

/** The key ids of a JWKS (a member without kid counts as "(no kid)"), at most 20; never key material. */
export function kidsOf(jwks: unknown): string[] {
  const keys = (jwks as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) return [];
  return keys.slice(0, 20).map((k) => {
    const kid = (k as { kid?: unknown } | null)?.kid;
    return typeof kid === 'string' ? (factString(kid) ?? '') : '(no kid)';
  });
}

/** The key ids of a registered JWKS document (JSON text); empty when it is not one. */
export function kidsIn(jwksText: string | null): string[] {
  if (jwksText === null) return [];
  try {
    return kidsOf(JSON.parse(jwksText));
  } catch {
    return [];
  }
}
