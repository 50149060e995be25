import { statusMessage, type OutboundFetcher } from '../outbound/fetch.js';
import { ProviderFetchError } from '../errors/idp.js';

export { ProviderFetchError };

/**
 * Fetching an identity provider's discovery document (RFC 8414 authorization server metadata, or
 * OpenID Connect Discovery 1.0) and key set, through the outbound fetcher (src/outbound: the
 * outbound rules, a timeout, no redirects, a size cap).
 */

export interface FetchOptions {
  /** Every fetch goes through it. */
  readonly fetcher: OutboundFetcher;
}

export interface ProviderMetadata {
  readonly issuer: string;
  readonly jwksUri: string;
}

/** GETs a JSON document: 200 only, no redirects followed, at most 1 MiB, within the timeout. */
export async function fetchJson(url: string, options: FetchOptions): Promise<unknown> {
  let res;
  try {
    res = await options.fetcher.get(url, { accept: 'application/json, application/jwk-set+json' });
  } catch (error) {
    throw new ProviderFetchError(error instanceof Error ? error.message : String(error), { cause: error });
  }
  if (res.status !== 200) throw new ProviderFetchError(statusMessage(url, res.status));
  try {
    return JSON.parse(res.body.toString('utf8')) as unknown;
  } catch {
    throw new ProviderFetchError(`GET ${url} did not return JSON`);
  }
}

/**
 * Fetches a discovery document and checks it names `expectedIssuer` exactly (RFC 8414 §3.3, OpenID
 * Connect Discovery §4.3: otherwise another party's keys could be substituted) and has a jwks_uri.
 */
export async function fetchProviderMetadata(metadataUrl: string, expectedIssuer: string, options: FetchOptions): Promise<ProviderMetadata> {
  const doc = await fetchJson(metadataUrl, options);
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw new ProviderFetchError(`The metadata at ${metadataUrl} is not a JSON object`);
  const { issuer, jwks_uri: jwksUri } = doc as { issuer?: unknown; jwks_uri?: unknown };
  if (issuer !== expectedIssuer) {
    throw new ProviderFetchError(`The metadata at ${metadataUrl} names the issuer ${JSON.stringify(issuer)}, not ${JSON.stringify(expectedIssuer)}; the issuer must match exactly (RFC 8414 section 3.3)`);
  }
  if (typeof jwksUri !== 'string') throw new ProviderFetchError(`The metadata at ${metadataUrl} has no jwks_uri`);
  let url: URL;
  try {
    url = new URL(jwksUri);
  } catch {
    throw new ProviderFetchError(`The metadata at ${metadataUrl} has a jwks_uri that is not an absolute URL: ${JSON.stringify(jwksUri.slice(0, 200))}`);
  }
  // The outbound rules (scheme, addresses) are applied when it is fetched, under the current setting.
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw new ProviderFetchError(`The metadata at ${metadataUrl} has a jwks_uri that is not https: ${JSON.stringify(jwksUri.slice(0, 200))}`);
  }
  return { issuer, jwksUri };
}

/** Fetches a JWKS and checks it holds at least one key; returns how many it holds. */
export async function checkJwksUri(jwksUri: string, options: FetchOptions): Promise<number> {
  const doc = await fetchJson(jwksUri, options);
  const keys = typeof doc === 'object' && doc !== null ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new ProviderFetchError(`${jwksUri} is not a JSON Web Key Set (no "keys" array)`);
  if (keys.length === 0) throw new ProviderFetchError(`The JSON Web Key Set at ${jwksUri} has no keys`);
  return keys.length;
}
