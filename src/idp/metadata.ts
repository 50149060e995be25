import { FETCH_TIMEOUT_MS } from '../assertions/keys.js';

/**
 * Fetching an identity provider's discovery document (RFC 8414 authorization server metadata, or
 * OpenID Connect Discovery 1.0) and key set: with a timeout, no redirects, and a size cap.
 */

/** A discovery document or key set larger than this is not one. */
const MAX_DOCUMENT_BYTES = 1024 * 1024;

export type FetchLike = typeof fetch;

/** Plain http is accepted only for these hosts (local development and tests). */
export const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

export interface FetchOptions {
  readonly timeoutMs?: number;
  readonly fetch?: FetchLike;
}

/** A document could not be fetched or is not what it should be; the message says which. */
export class ProviderFetchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ProviderFetchError';
  }
}

export interface ProviderMetadata {
  readonly issuer: string;
  readonly jwksUri: string;
}

function reason(error: unknown): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) return 'timed out';
  const cause = error instanceof Error ? (error as { cause?: unknown }).cause : undefined;
  const code = typeof cause === 'object' && cause !== null && 'code' in cause ? ` (${String((cause as { code: unknown }).code)})` : '';
  return `${error instanceof Error ? error.message : String(error)}${code}`;
}

/** GETs a JSON document: 200 only, no redirects followed, at most 1 MiB, within the timeout. */
export async function fetchJson(url: string, options: FetchOptions = {}): Promise<unknown> {
  const timeoutMs = options.timeoutMs ?? FETCH_TIMEOUT_MS;
  const signal = AbortSignal.timeout(timeoutMs);
  let res: Response;
  try {
    res = await (options.fetch ?? fetch)(url, { method: 'GET', redirect: 'manual', signal, headers: { accept: 'application/json, application/jwk-set+json' } });
  } catch (error) {
    throw new ProviderFetchError(`GET ${url} failed: ${reason(error)}`, { cause: error });
  }
  try {
    if (res.status !== 200) throw new ProviderFetchError(`GET ${url} answered ${res.status}, not 200${res.status >= 300 && res.status < 400 ? ' (redirects are not followed: give the final URL)' : ''}`);
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body !== null) {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > MAX_DOCUMENT_BYTES) throw new ProviderFetchError(`GET ${url} returned more than ${MAX_DOCUMENT_BYTES} bytes`);
        chunks.push(chunk);
      }
    }
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
    } catch {
      throw new ProviderFetchError(`GET ${url} did not return JSON`);
    }
  } catch (error) {
    if (error instanceof ProviderFetchError) throw error;
    throw new ProviderFetchError(`GET ${url} failed: ${reason(error)}`, { cause: error });
  } finally {
    // Whatever was not read is dropped, so the connection is not left waiting.
    if (res.body !== null && !res.bodyUsed) void res.body.cancel().catch(() => undefined);
  }
}

/**
 * Fetches a discovery document and checks it names `expectedIssuer` exactly (RFC 8414 §3.3, OpenID
 * Connect Discovery §4.3: otherwise another party's keys could be substituted) and has a jwks_uri.
 */
export async function fetchProviderMetadata(metadataUrl: string, expectedIssuer: string, options: FetchOptions = {}): Promise<ProviderMetadata> {
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
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK_HOSTS.has(url.hostname))) {
    throw new ProviderFetchError(`The metadata at ${metadataUrl} has a jwks_uri that is not https: ${JSON.stringify(jwksUri.slice(0, 200))}`);
  }
  return { issuer, jwksUri };
}

/** Fetches a JWKS and checks it holds at least one key; returns how many it holds. */
export async function checkJwksUri(jwksUri: string, options: FetchOptions = {}): Promise<number> {
  const doc = await fetchJson(jwksUri, options);
  const keys = typeof doc === 'object' && doc !== null ? (doc as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys)) throw new ProviderFetchError(`${jwksUri} is not a JSON Web Key Set (no "keys" array)`);
  if (keys.length === 0) throw new ProviderFetchError(`The JSON Web Key Set at ${jwksUri} has no keys`);
  return keys.length;
}
