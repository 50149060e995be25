import type { Latchkey } from '../../src/app.js';
import assert from 'node:assert/strict';
import { ManualClock, type Clock } from '../../src/core/clock.js';
import * as crypto from '../../src/core/crypto.js';
import type { Storage } from '../../src/storage/types.js';
import type { TestServer } from './server.js';
import { fetchFrom } from './from-address.js';

/** What a token-endpoint test needs from one HTTP exchange. */
export interface TokenResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly requestId: string;
  /** Parsed JSON body, or undefined when the body was not JSON. */
  readonly json: Record<string, unknown> | undefined;
  readonly text: string;
}

export interface TokenRequest {
  /** Form parameters, encoded with URLSearchParams (arrays repeat the name). */
  readonly form?: Record<string, string | readonly string[]>;
  /** A raw body (wins over form). */
  readonly body?: string;
  /** [clientId, clientSecret] for client_secret_basic, form-encoded as RFC 6749 §2.3.1 says. */
  readonly basic?: readonly [string, string];
  readonly headers?: Record<string, string>;
  readonly method?: string;
  readonly path?: string;
  readonly query?: string;
  readonly contentType?: string | null;
  /** The loopback source address to send from (helpers/from-address.ts); default: the system's choice, 127.0.0.1. */
  readonly from?: string;
}

/** application/x-www-form-urlencoded encoding of one value (RFC 6749 Appendix B). */
export function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

export function basicHeader(clientId: string, clientSecret: string, encode: (s: string) => string = formEncode): string {
  return `Basic ${Buffer.from(`${encode(clientId)}:${encode(clientSecret)}`, 'utf8').toString('base64')}`;
}

/** Every character percent-encoded: still a valid form encoding, so it must decode to the same text. */
export function percentEncodeAll(value: string): string {
  return [...Buffer.from(value, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join('');
}

export function encodeForm(form: Record<string, string | readonly string[]>): string {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(form)) {
    if (typeof v === 'string') p.append(k, v);
    else for (const one of v) p.append(k, one);
  }
  return p.toString();
}

export async function tokenRequest(baseUrl: string, req: TokenRequest = {}): Promise<TokenResponse> {
  const method = req.method ?? 'POST';
  const headers: Record<string, string> = { ...(req.headers ?? {}) };
  if (req.basic !== undefined) headers.authorization = basicHeader(req.basic[0], req.basic[1]);
  const body = method === 'GET' || method === 'HEAD' ? undefined : (req.body ?? (req.form === undefined ? undefined : encodeForm(req.form)));
  if (req.contentType !== null && body !== undefined) headers['content-type'] = req.contentType ?? 'application/x-www-form-urlencoded';
  const url = `${baseUrl}${req.path ?? '/oauth_token.do'}${req.query === undefined ? '' : `?${req.query}`}`;
  // A Uint8Array body makes fetch send no Content-Type of its own (a string would get text/plain).
  const payload = body === undefined ? {} : { body: req.contentType === null ? new Uint8Array(Buffer.from(body, 'utf8')) : body };
  const send = req.from === undefined ? fetch : fetchFrom(req.from);
  const res = await send(url, { method, headers, ...payload });
  const text = await res.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, requestId: res.headers.get('x-request-id') ?? '', json, text };
}

/** Asserts an RFC 6749 §5.2 error response: status, error code, no-store, a request id. */
export function assertOAuthError(res: TokenResponse, status: number, error: string): void {
  assert.equal(res.status, status, `expected ${status} ${error}, got ${res.status} ${res.text}`);
  assert.equal(res.json?.error, error, res.text);
  assert.equal(typeof res.json?.error_description, 'string');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.match(res.requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  if (error === 'invalid_client') assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="latchkey"/);
  else assert.equal(res.headers.get('www-authenticate'), null);
}

/** Asserts the recorded refusal for a response has this reason code. */
export async function assertRefusal(storage: Pick<Storage, 'refusals'>, res: TokenResponse, reason: string): Promise<void> {
  const refusal = await storage.refusals.byRequestId(res.requestId);
  assert.ok(refusal !== undefined, `no refusal recorded for request ${res.requestId} (${res.text})`);
  assert.equal(refusal.reason, reason, `recorded reason for ${res.text}`);
  assert.equal(refusal.status, res.status);
  assert.equal(refusal.error, res.json?.error);
  assert.equal(refusal.description, res.json?.error_description);
}

/** The dependencies the registry functions take, bound to a test server. */
export function registryDeps(server: TestServer, clock?: Clock): { storage: Storage; clock: Clock; grants: Latchkey['catalogue'] } {
  return { storage: server.latchkey.storage, clock: clock ?? server.latchkey.clock, grants: server.latchkey.catalogue };
}

/** Makes the server's registry cache see changes now instead of within its poll interval. */
export async function refreshCache(server: TestServer): Promise<void> {
  await server.latchkey.cache.check();
}

export { ManualClock };

/**
 * The key an issued token is stored under (storage.tokens.byHash). Never the token itself: a hash,
 * possibly with a non-secret time prefix (crypto.tokenKey where the module has it).
 */
export function storedTokenKey(token: string): string {
  const tokenKey = (crypto as unknown as Record<string, unknown>).tokenKey;
  return typeof tokenKey === 'function' ? (tokenKey as (t: string) => string)(token) : crypto.hashSecret(token);
}

/** Runs `tasks` with at most `limit` in flight. */
export async function pool<T>(count: number, limit: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(count);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, count) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= count) return;
      results[i] = await task(i);
    }
  });
  await Promise.all(workers);
  return results;
}
