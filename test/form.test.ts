import assert from 'node:assert/strict';
import { parse } from 'node:querystring';
import { describe, it } from 'node:test';
import { parseForm } from '../src/core/form.js';
import { OAuthError } from '../src/errors/oauth-error.js';
import { clientSecretBasic } from '../src/client-auth/client-secret-basic.js';
import type { NeutralRequest } from '../src/core/request.js';

/**
 * What parseForm answered before its plain-body fast path (querystring.parse, then the rules):
 * the reference the fast path must agree with.
 */
function reference(body: string, repeatable?: string): { params: Record<string, string>; values: string[] } | 'repeated' {
  const parsed = parse(body, '&', '=', { maxKeys: 0 });
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  const values: string[] = [];
  for (const name of Object.keys(parsed)) {
    const value = parsed[name];
    if (name === repeatable) {
      for (const v of Array.isArray(value) ? value : [value]) if (v !== undefined && v !== '') values.push(v);
      continue;
    }
    if (Array.isArray(value)) return 'repeated';
    if (value !== undefined && value !== '') params[name] = value;
  }
  return { params: { ...params }, values };
}

function actual(body: string, repeatable?: string): { params: Record<string, string>; values: string[] } | 'repeated' {
  const values: string[] = [];
  try {
    const params = parseForm(body, repeatable === undefined ? undefined : { name: repeatable, values });
    return { params: { ...params }, values };
  } catch (error) {
    if (error instanceof OAuthError && error.reason === 'request.repeated_parameter') return 'repeated';
    throw error;
  }
}

/** A pseudo-random plain body (no '%' or '+': the fast path) from a small alphabet, so names repeat and pairs come empty. */
function randomBody(seed: number): string {
  let x = seed;
  const next = (n: number) => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x % n;
  };
  const pieces = ['a', 'b', 'scope', 'resource', 'grant_type', 'constructor', '__proto__', 'toString', 'x.y', 'é', ''];
  let body = '';
  const pairs = next(6);
  for (let i = 0; i < pairs; i++) {
    if (i > 0) body += next(8) === 0 ? '&&' : '&';
    body += pieces[next(pieces.length)];
    const shape = next(4);
    if (shape === 0) continue; // no '='
    body += '=';
    if (shape === 1) continue; // empty value
    body += pieces[next(pieces.length)] + (next(3) === 0 ? '=tail' : '');
  }
  return body;
}

describe('parseForm', () => {
  it('answers a plain body exactly as querystring.parse with the rules did (20,000 generated bodies)', () => {
    for (let seed = 1; seed <= 20_000; seed++) {
      const body = randomBody(seed);
      for (const repeatable of [undefined, 'resource']) {
        const want = reference(body, repeatable);
        const got = actual(body, repeatable);
        // Which of two repeated names is reported may differ; that a body is refused may not.
        assert.deepEqual(got, want, `body ${JSON.stringify(body)} (repeatable ${String(repeatable)})`);
      }
    }
  });

  it('keeps parameter names that are Object.prototype members as plain values, inheriting nothing', () => {
    const params = parseForm('constructor=c&__proto__=p&hasOwnProperty=h&grant_type=client_credentials');
    assert.deepEqual(Object.keys(params), ['constructor', '__proto__', 'hasOwnProperty', 'grant_type']);
    assert.equal(params.constructor, 'c');
    assert.equal(params.__proto__, 'p');
    const none = parseForm('grant_type=client_credentials');
    for (const name of ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']) assert.equal(none[name], undefined, name);
    assert.equal('toString' in none, false);
  });

  it('reads a body at the size limit made of thousands of distinct empty names, and still finds a repeat at its end', () => {
    const names = Array.from({ length: 3000 }, (_, i) => `n${i}`);
    assert.deepEqual({ ...parseForm(`${names.join('&')}&grant_type=client_credentials`) }, { grant_type: 'client_credentials' });
    assert.equal(actual(`${names.join('&')}&n0=x`), 'repeated');
  });

  it('refuses a name sent twice even when one of the two values is empty', () => {
    for (const body of ['scope=&scope=a', 'scope=a&scope=', 'scope&scope=a', 'a=1&scope=&b=2&scope=']) {
      assert.equal(actual(body), 'repeated', body);
    }
  });
});

describe('client_secret_basic decoding', () => {
  const request = (authorization: string): NeutralRequest => ({ method: 'POST', path: '/oauth_token.do', query: new URLSearchParams(), headers: { authorization }, body: undefined, contentType: undefined, remoteAddress: '127.0.0.1', requestId: 't' });
  const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

  it('decodes the same header to the same credentials every time, and more headers than it remembers', () => {
    const headers = Array.from({ length: 1500 }, (_, i) => [`client-${i}`, `secret ${i}:é+%`] as const);
    for (let round = 0; round < 2; round++) {
      for (const [id, secret] of headers) {
        const got = clientSecretBasic.extract(request(basic(id, secret)), {});
        assert.deepEqual(got, { method: 'client_secret_basic', clientId: id, clientSecret: secret });
      }
    }
  });

  it('decodes a header longer than it remembers (a long secret) the same way', () => {
    const secret = 'x'.repeat(2000);
    for (let i = 0; i < 3; i++) assert.deepEqual(clientSecretBasic.extract(request(basic('long-client', secret)), {}), { method: 'client_secret_basic', clientId: 'long-client', clientSecret: secret });
  });

  it('refuses a malformed header each time it is sent (refusals are never remembered)', () => {
    for (const header of ['Basic !!!', 'Bearer abc', `Basic ${Buffer.from('no-colon').toString('base64')}`, `Basic ${Buffer.from(':secret').toString('base64')}`]) {
      for (let i = 0; i < 3; i++) {
        assert.throws(() => clientSecretBasic.extract(request(header), {}), (e: unknown) => e instanceof OAuthError && e.reason === 'client_auth.malformed_header', header);
      }
    }
  });
});
