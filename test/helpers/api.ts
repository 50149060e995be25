import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Refusal } from '../../src/domain/model.js';
import type { Storage } from '../../src/storage/types.js';
import { encodeForm } from './oauth.js';
import { fetchFrom } from './from-address.js';

/** The repository root (tests run from dist/test/…). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** The fixture API folder (TypeScript and .mjs modules, loaded from source as `serve --apis` does). */
export const FIXTURE_APIS = join(ROOT, 'test', 'fixtures', 'apis');
export const BAD_APIS = join(ROOT, 'test', 'fixtures', 'bad-apis');

export interface ApiCall {
  readonly method?: string;
  /** Path below the server, starting with /api/ (query string allowed). */
  readonly path: string;
  readonly bearer?: string;
  /** [user, password] for Basic user credentials (RFC 7617: raw UTF-8, not form-encoded). */
  readonly basic?: readonly [string, string];
  readonly headers?: Record<string, string>;
  /** Sent as application/json. */
  readonly json?: unknown;
  /** Sent as application/x-www-form-urlencoded. */
  readonly form?: Record<string, string | readonly string[]>;
  /** A raw body; with contentType null, sent with no Content-Type at all. */
  readonly body?: string;
  readonly contentType?: string | null;
  /** The loopback source address to send from (helpers/from-address.ts). */
  readonly from?: string;
}

export interface ApiReply {
  readonly status: number;
  readonly headers: Headers;
  readonly requestId: string;
  readonly text: string;
  /** Parsed JSON body, or undefined. */
  readonly json: any;
}

export const bearerHeader = (token: string) => `Bearer ${token}`;
export const basicUserHeader = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`;

export async function apiCall(baseUrl: string, call: ApiCall): Promise<ApiReply> {
  const headers: Record<string, string> = {};
  if (call.bearer !== undefined) headers.authorization = bearerHeader(call.bearer);
  if (call.basic !== undefined) headers.authorization = basicUserHeader(call.basic[0], call.basic[1]);
  let body: string | Uint8Array<ArrayBuffer> | undefined;
  if (call.json !== undefined) {
    body = JSON.stringify(call.json);
    headers['content-type'] = 'application/json';
  } else if (call.form !== undefined) {
    body = encodeForm(call.form);
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (call.body !== undefined) {
    // A Uint8Array makes fetch add no Content-Type of its own.
    body = call.contentType === null ? new Uint8Array(Buffer.from(call.body, 'utf8')) : call.body;
    if (typeof call.contentType === 'string') headers['content-type'] = call.contentType;
  }
  Object.assign(headers, call.headers ?? {});
  const send = call.from === undefined ? fetch : fetchFrom(call.from);
  const res = await send(`${baseUrl}${call.path}`, { method: call.method ?? 'GET', headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, requestId: res.headers.get('x-request-id') ?? '', text, json };
}

/** Parses the auth-params of the first challenge in a WWW-Authenticate value. */
export function challengeParams(value: string | null): { scheme: string; params: Record<string, string> } {
  assert.ok(value !== null, 'no WWW-Authenticate header');
  const scheme = /^(\S+)/.exec(value)?.[1] ?? '';
  const first = value.split(/,\s*(?=Basic |Bearer )/)[0] ?? value;
  const params: Record<string, string> = {};
  for (const m of first.matchAll(/([a-z_]+)="([^"]*)"/gi)) params[m[1]!.toLowerCase()] = m[2]!;
  return { scheme, params };
}

/** Escapes a literal for a RegExp. */
function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

export interface ExpectedChallenge {
  /** The RFC 6750 error, when a token was presented and refused. */
  readonly error?: 'invalid_token' | 'insufficient_scope';
  /** The scope parameter (the route's scopes on a 401, the ones that would do on a 403). */
  readonly scopes?: readonly string[];
  /** error_description: exactly this text; any non-empty one when omitted. */
  readonly description?: string;
  /** The API also accepts Basic: a Basic challenge follows. */
  readonly basic?: boolean;
  /** The issuer; default any loopback test server (http://127.0.0.1:<port>). */
  readonly issuer?: string;
}

/**
 * The exact WWW-Authenticate of a hosted API (RFC 6750 §3, RFC 9728 §5.1), as a pattern anchored at
 * both ends: `Bearer realm="latchkey"[, error="…"], resource_metadata="<issuer>/.well-known/
 * oauth-protected-resource<resource path>"[, scope="…"][, error_description="…"][, Basic realm="latchkey"]`.
 * `resourcePath` is the API's resource path: /api/<ns>/<id> or /api/<ns>/<version>/<id>.
 */
export function apiChallenge(resourcePath: string, expected: ExpectedChallenge = {}): RegExp {
  const origin = expected.issuer === undefined ? 'http://127\\.0\\.0\\.1:\\d+' : literal(expected.issuer);
  let re = `^Bearer realm="latchkey"`;
  if (expected.error !== undefined) re += `, error="${expected.error}"`;
  re += `, resource_metadata="${origin}/\\.well-known/oauth-protected-resource${literal(resourcePath)}"`;
  if (expected.scopes !== undefined && expected.scopes.length > 0) re += `, scope="${literal(expected.scopes.join(' '))}"`;
  if (expected.error !== undefined) re += `, error_description="${expected.description === undefined ? '[^"]+' : literal(expected.description)}"`;
  if (expected.basic === true) re += ', Basic realm="latchkey"';
  return new RegExp(`${re}$`);
}

/** Fails when a text looks like it carries a stack trace or a source location. */
export function assertNoStack(text: string): void {
  assert.doesNotMatch(text, /\bat [\w.<>]+ \(|\bat (file|node):|\.(ts|js|mjs):\d+|node:internal|\n\s+at /, `looks like a stack trace: ${text.slice(0, 500)}`);
  assert.doesNotMatch(text, /FIXTURE-SECRET/, 'an exception message reached the caller');
}

/** Asserts the platform error shape {"error":{"message","detail"},"status":"failure"}. */
export function assertFailure(res: ApiReply, status: number, message?: string | RegExp): void {
  assert.equal(res.status, status, `expected ${status}, got ${res.status} ${res.text}`);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.ok(res.json !== undefined, `not JSON: ${res.text}`);
  assert.deepEqual(Object.keys(res.json as object).sort(), ['error', 'status'], res.text);
  assert.equal(res.json.status, 'failure');
  assert.deepEqual(Object.keys(res.json.error as object).sort(), ['detail', 'message'], res.text);
  assert.equal(typeof res.json.error.message, 'string');
  assert.equal(typeof res.json.error.detail, 'string');
  assert.ok((res.json.error.message as string).length > 0);
  if (typeof message === 'string') assert.equal(res.json.error.message, message);
  else if (message !== undefined) assert.match(res.json.error.message as string, message);
  assertNoStack(res.text);
  assert.match(res.requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
}

export interface ExpectedRefusal {
  readonly status: number;
  readonly reason: string;
  /** The OAuth error recorded (invalid_token, insufficient_scope, invalid_request, access_denied). */
  readonly error?: string;
  /** `api <namespace>/<id>` */
  readonly endpoint?: string;
  /**
   * The WWW-Authenticate header: an exact value, a pattern, null for "absent", or omitted for
   * "whatever the status implies" (present on 401, absent on 400).
   */
  readonly wwwAuthenticate?: string | RegExp | null;
}

/**
 * Asserts an API refusal end to end: the status, the challenge, the platform error body whose
 * detail names the reason and the request id, and the refusal record (`latchkey explain`).
 */
export async function assertApiRefusal(storage: Pick<Storage, 'refusals'>, res: ApiReply, expected: ExpectedRefusal): Promise<Refusal> {
  assertFailure(res, expected.status);
  const www = res.headers.get('www-authenticate');
  if (expected.wwwAuthenticate === null) assert.equal(www, null, `unexpected WWW-Authenticate: ${www}`);
  else if (typeof expected.wwwAuthenticate === 'string') assert.equal(www, expected.wwwAuthenticate);
  else if (expected.wwwAuthenticate instanceof RegExp) assert.match(www ?? '', expected.wwwAuthenticate);
  else if (expected.status === 401) assert.ok(www !== null, '401 without WWW-Authenticate');
  else if (expected.status === 400) assert.equal(www, null, `400 with WWW-Authenticate: ${www}`);
  assert.equal(res.json.error.detail, `reason ${expected.reason}; request id ${res.requestId}`);
  const refusal = await storage.refusals.byRequestId(res.requestId);
  assert.ok(refusal !== undefined, `no refusal recorded for ${res.requestId} (${res.text})`);
  assert.equal(refusal.reason, expected.reason, res.text);
  assert.equal(refusal.status, expected.status);
  assert.equal(refusal.description, res.json.error.message);
  if (expected.error !== undefined) assert.equal(refusal.error, expected.error);
  if (expected.endpoint !== undefined) assert.equal(refusal.endpoint, expected.endpoint);
  else assert.match(refusal.endpoint, /^api [\w-]+\/[\w-]+$/);
  return refusal;
}

/** Asserts a success body `{"result": …}` and returns the result. */
export function resultOf(res: ApiReply, status = 200): any {
  assert.equal(res.status, status, res.text);
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.deepEqual(Object.keys(res.json as object), ['result'], res.text);
  return res.json.result;
}
