import { lookup as dnsLookup } from 'node:dns/promises';
import type { IncomingMessage } from 'node:http';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { rootCertificates } from 'node:tls';
import type { LookupFunction } from 'node:net';
import { addressRefusal } from './address.js';
import { checkOutboundUrl, type OutboundPolicy } from './url.js';
import { OutboundFailed, OutboundRefused } from '../errors/outbound.js';

export { OutboundFailed, OutboundRefused };

/**
 * The one way Latchkey makes a request to a URL an administrator registered (application JWKS
 * URIs, identity-provider metadata and JWKS): GET only, the outbound rules checked on the URL and
 * on every address its host resolves to, the connection made to the checked address only (so a
 * second DNS answer cannot swap in another: no DNS rebinding), no redirects, a size cap and one
 * deadline for the whole exchange. TLS still verifies the certificate for the host name.
 */

/** How long one outbound fetch may take, DNS to last byte. */
export const FETCH_TIMEOUT_MS = 3_000;
/** A discovery document or key set larger than this is not one. */
export const MAX_RESPONSE_BYTES = 1024 * 1024;

export interface ResolvedAddress {
  readonly address: string;
  readonly family: number;
}
export type Resolver = (hostname: string) => Promise<readonly ResolvedAddress[]>;

/** The OutboundRefused in an error or its chain of causes (jose and callers wrap it), if any. */
export function refusalIn(error: unknown): OutboundRefused | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof OutboundRefused) return e;
  }
  return undefined;
}

export interface OutboundResponse {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly body: Buffer;
  /** The caching headers of the response (client ID metadata documents are cached by them), when sent. */
  readonly cacheControl?: string | undefined;
  readonly expires?: string | undefined;
  readonly date?: string | undefined;
}

export interface OutboundFetcherOptions {
  /** Read on every fetch, so a property change applies to the next fetch. */
  readonly policy: () => OutboundPolicy | Promise<OutboundPolicy>;
  /** Injected for tests; default: the system resolver (all addresses). */
  readonly resolve?: Resolver;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
  /**
   * Extra certificate authorities (PEM) trusted for https besides the system's (Node's bundled
   * roots and NODE_EXTRA_CA_CERTS): a private CA, or a test's self-signed certificate. The host
   * name is still verified.
   */
  readonly extraCa?: string | readonly string[] | undefined;
}

export interface GetOptions {
  readonly accept?: string;
  /** A lower size cap than the fetcher's for this request (a client ID metadata document: a few KB). */
  readonly maxBytes?: number;
  /** A shorter deadline than the fetcher's for this request, in ms. */
  readonly timeoutMs?: number;
  /** An extra abort signal (jose's own timeout); the fetcher's deadline applies as well. */
  readonly signal?: AbortSignal;
}

export interface OutboundFetcher {
  get(url: string, options?: GetOptions): Promise<OutboundResponse>;
  /**
   * POSTs an application/x-www-form-urlencoded body (Back-Channel Logout 1.0 §2.5), under the same
   * rules, timeout and size limit as get. Redirects are not followed.
   */
  postForm?(url: string, form: Readonly<Record<string, string>>, options?: GetOptions): Promise<OutboundResponse>;
}

const systemResolver: Resolver = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/** A lookup that answers only the address already checked, whatever the socket asks. */
function pinned(address: string, family: number): LookupFunction {
  return ((_host: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
    if (options?.all === true) callback(null, [{ address, family }]);
    else callback(null, address, family);
  }) as unknown as LookupFunction;
}

/** Rejects when the signal aborts, with its reason. */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason as Error);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason as Error);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function readBody(res: IncomingMessage, url: string, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBytes) {
      res.destroy();
      reject(new OutboundFailed(`GET ${url} returned more than ${maxBytes} bytes`));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > maxBytes) {
        res.destroy();
        reject(new OutboundFailed(`GET ${url} returned more than ${maxBytes} bytes`));
      } else chunks.push(chunk);
    });
    res.on('end', () => resolve(Buffer.concat(chunks)));
    res.on('error', reject);
    res.on('close', () => reject(new OutboundFailed(`GET ${url}: the connection closed before the response was complete`)));
  });
}

export function createOutboundFetcher(options: OutboundFetcherOptions): OutboundFetcher {
  const resolve = options.resolve ?? systemResolver;
  const timeoutMs = options.timeoutMs ?? FETCH_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? MAX_RESPONSE_BYTES;
  const extra = options.extraCa === undefined ? [] : typeof options.extraCa === 'string' ? [options.extraCa] : [...options.extraCa];
  // Node's `ca` replaces the default roots: give them back beside the extra ones.
  const ca = extra.length === 0 ? undefined : [...rootCertificates, ...extra];

  /** The one address to connect to: every address of the host must pass the rules. */
  async function addressOf(url: string, host: string, literal: number, policy: OutboundPolicy, signal: AbortSignal): Promise<ResolvedAddress> {
    if (literal !== 0) return { address: host, family: literal };
    let found: readonly ResolvedAddress[];
    try {
      found = await abortable(resolve(host), signal);
    } catch (error) {
      if (signal.aborted) throw error;
      const code = (error as { code?: unknown }).code;
      throw new OutboundFailed(`GET ${url} failed: ${host} could not be resolved${typeof code === 'string' ? ` (${code})` : ''}`, { cause: error });
    }
    if (found.length === 0) throw new OutboundFailed(`GET ${url} failed: ${host} has no address`);
    // A host with one public and one private address is refused: the socket could reach either.
    for (const a of found) {
      const why = addressRefusal(a.address, policy.allowPrivateNetworks, `${host} resolves to ${a.address}, which is`);
      if (why !== undefined) throw new OutboundRefused(url, why, policy.allowPrivateNetworks);
    }
    return found[0] as ResolvedAddress;
  }

  function send(checked: URL, host: string, target: ResolvedAddress, accept: string, signal: AbortSignal, limit: number, body?: string): Promise<OutboundResponse> {
    const url = checked.href;
    const headers: Record<string, string> = { accept, 'accept-encoding': 'identity', 'user-agent': 'latchkey' };
    if (body !== undefined) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const request = checked.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise<OutboundResponse>((resolveResponse, reject) => {
      const req = request(
        {
          protocol: checked.protocol,
          hostname: host,
          port: checked.port === '' ? undefined : Number(checked.port),
          path: `${checked.pathname}${checked.search}`,
          method: body === undefined ? 'GET' : 'POST',
          headers,
          agent: false,
          lookup: pinned(target.address, target.family),
          signal,
          ...(ca === undefined || checked.protocol !== 'https:' ? {} : { ca }),
        },
        (res) => {
          readBody(res, url, limit).then(
            (body) =>
              resolveResponse({
                status: res.statusCode ?? 0,
                contentType: res.headers['content-type'],
                body,
                cacheControl: res.headers['cache-control'],
                expires: res.headers.expires,
                date: res.headers.date,
              }),
            reject,
          );
        },
      );
      req.on('error', (error) => reject(signal.aborted ? (signal.reason as Error) : error));
      req.end(body);
    });
  }

  async function fetchOnce(method: 'GET' | 'POST', url: string, getOptions: GetOptions, body?: string): Promise<OutboundResponse> {
    const policy = await options.policy();
    const checked = checkOutboundUrl(url, policy);
    if ('refused' in checked) throw new OutboundRefused(url, checked.refused, policy.allowPrivateNetworks);
    const ms = Math.min(timeoutMs, getOptions.timeoutMs ?? timeoutMs);
    const deadline = AbortSignal.timeout(ms);
    const signal = getOptions.signal === undefined ? deadline : AbortSignal.any([deadline, getOptions.signal]);
    try {
      const target = await addressOf(url, checked.host, checked.literal, policy, signal);
      return await send(checked.url, checked.host, target, getOptions.accept ?? 'application/json', signal, Math.min(maxBytes, getOptions.maxBytes ?? maxBytes), body);
    } catch (error) {
      if (error instanceof OutboundRefused || error instanceof OutboundFailed) throw error;
      // The caller's own signal keeps its reason (jose turns a TimeoutError into JWKSTimeout).
      if (getOptions.signal?.aborted === true) throw getOptions.signal.reason as Error;
      if (deadline.aborted) throw new OutboundFailed(`${method} ${url} timed out after ${ms} ms`, { cause: error });
      const code = (error as { code?: unknown }).code;
      throw new OutboundFailed(`${method} ${url} failed: ${error instanceof Error ? error.message : String(error)}${typeof code === 'string' && !String(error).includes(code) ? ` (${code})` : ''}`, { cause: error });
    }
  }

  return {
    get: (url, getOptions = {}) => fetchOnce('GET', url, getOptions),
    postForm: (url, form, postOptions = {}) => fetchOnce('POST', url, { accept: '*/*', ...postOptions }, new URLSearchParams(form as Record<string, string>).toString()),
  };
}

/**
 * jose's `customFetch` (jose v6 createRemoteJWKSet), routed through the fetcher, so jose keeps its
 * caching and cooldown and every JWKS fetch follows the outbound rules.
 */
export function joseFetch(fetcher: OutboundFetcher): (url: string, init: { signal?: AbortSignal; headers?: unknown }) => Promise<Response> {
  return async (url, init) => {
    const res = await fetcher.get(url, { accept: 'application/json, application/jwk-set+json', ...(init.signal === undefined ? {} : { signal: init.signal }) });
    if (res.status !== 200) throw new OutboundFailed(statusMessage(url, res.status));
    return new Response(new Uint8Array(res.body), { status: 200, headers: { 'content-type': res.contentType ?? 'application/json' } });
  };
}

/** "GET <url> answered 302, not 200 (redirects are not followed: give the final URL)". */
export function statusMessage(url: string, status: number): string {
  return `GET ${url} answered ${status}, not 200${status >= 300 && status < 400 ? ' (redirects are not followed: give the final URL)' : ''}`;
}
