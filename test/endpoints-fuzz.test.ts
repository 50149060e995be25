import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { basicHeader, pool, tokenRequest } from './helpers/oauth.js';
import { buildFixture } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const RUNS = 3_000;
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_128);

/** Every input path added with the standards and the console, beside the token endpoint's own fuzz test. */
const PATHS = [
  '/oauth/introspect', '/oauth/revoke', '/oauth_revoke_token.do', '/oauth/authorize', '/oauth_auth.do', '/oauth/jwks', '/api/now/oauth/jwks',
  '/.well-known/oauth-authorization-server', '/.well-known/oauth-authorization-server/x', '/console/login', '/console/callback', '/console/', '/console/../etc/passwd',
  '/admin/api/v1/session', '/admin/api/v1/applications', '/admin/api/v1/applications/x', '/admin/api/v1/properties/com.snc.platform.security.oauth.is.active',
  '/admin/api/v1/tokens/x/revoke', '/admin/api/v1/inspect', '/admin/api/v1/refusals', '/admin/api/v1/activity', '/admin/api/openapi.json',
  '/oauth/logout', '/logout.do',
  '/oauth/register', '/oauth/register/x', '/admin/api/v1/registration/tokens', '/admin/api/v1/registration/policies/x',
];
const NAMES = ['token', 'token_type_hint', 'client_id', 'client_secret', 'response_type', 'redirect_uri', 'code_challenge', 'code_challenge_method', 'state', 'scope', 'csrf', 'pending', 'username', 'password', 'action', 'code', 'hours', 'q', 'client_assertion', 'client_assertion_type', 'id_token_hint', 'post_logout_redirect_uri', 'logout_hint', 'ui_locales', 'lk_action', 'lk_csrf', 'decision'];

interface Reply {
  readonly status: number;
  readonly body: string;
}

describe('new endpoints under random and malformed input (fast-check): never a 5xx, never a crash', () => {
  let server: TestServer;
  let introspector: readonly [string, string];
  let adminToken: string;

  before(async () => {
    server = await startTestServer();
    const { apps } = await buildFixture(server, {
      users: [{ userName: 'svc', roles: ['admin'] }],
      properties: { 'glide.oauth.inbound.client.credential.grant_type.enabled': 'true' },
      apps: { rs: { name: 'Fuzz RS', grantTypes: ['client_credentials'], appUser: 'svc', canIntrospect: true } },
    });
    introspector = [apps.rs.clientId, apps.rs.secret];
    const t = await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: introspector });
    assert.equal(t.status, 200, t.text);
    adminToken = String(t.json?.access_token);
  });
  after(async () => server.close());

  function send(method: string, path: string, headers: Record<string, string>, body: string | undefined): Promise<Reply> {
    const url = new URL(server.url);
    return new Promise((resolve, reject) => {
      // A connection per request: a refusal that closes its connection (an oversized body) must not
      // take a reused keep-alive socket of the next request with it.
      const req = request({ host: url.hostname, port: url.port, method, path, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it(`answers ${RUNS} random requests with 2xx, 3xx or 4xx`, async () => {
    const value = fc.oneof(
      fc.constantFrom('', 'code', 'token', 'S256', 'plain', 'http://127.0.0.1/cb', 'access_token', 'refresh_token', '%zz', '%', '\u0000', 'x'.repeat(5000), adminToken, 'eyJhbGciOiJub25lIn0.e30.', 'lk_at_000000000000.x', 'logout', 'sign_out', 'eyJhbGciOiJSUzI1NiIsImtpZCI6IngifQ.e30.x'),
      fc.string({ unit: 'grapheme', maxLength: 30 }),
      fc.string({ unit: 'binary', maxLength: 30 }),
    );
    const pair = fc.tuple(fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 8 })), value, fc.boolean()).map(([n, v, enc]) => (enc ? `${encodeURIComponent(n)}=${encodeURIComponent(v)}` : `${n}=${v}`));
    const sample = fc.record({
      method: fc.constantFrom('GET', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'),
      path: fc.constantFrom(...PATHS),
      // In the URL everything is percent-encoded (a raw non-ASCII URL cannot be sent at all).
      query: fc.array(fc.tuple(fc.oneof(fc.constantFrom(...NAMES), fc.string({ maxLength: 8 })), value), { maxLength: 6 }).map((p) => p.map(([n, v]) => `${encodeURIComponent(n)}=${encodeURIComponent(v)}`).join('&')),
      body: fc.oneof(fc.array(pair, { maxLength: 8 }).map((p) => p.join('&')), fc.json(), fc.string({ unit: 'binary', maxLength: 200 })),
      contentType: fc.constantFrom('application/x-www-form-urlencoded', 'application/json', 'text/plain', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded; charset=latin1', ''),
      auth: fc.constantFrom('none', 'basic-right', 'basic-wrong', 'bearer-admin', 'bearer-garbage', 'basic-garbage'),
      cookie: fc.constantFrom('', 'latchkey_console=garbage', 'latchkey_session=a.b.c', 'x=y; latchkey_console=' + 'A'.repeat(300)),
      csrf: fc.constantFrom(undefined, '', 'wrong'),
    });
    const samples = fc.sample(sample, { numRuns: RUNS, seed: SEED });
    const failures: string[] = [];
    await pool(samples.length, 8, async (i) => {
      const s = samples[i]!;
      const headers: Record<string, string> = {};
      if (s.contentType !== '') headers['content-type'] = s.contentType;
      if (s.auth === 'basic-right') headers.authorization = basicHeader(introspector[0], introspector[1]);
      if (s.auth === 'basic-wrong') headers.authorization = basicHeader(introspector[0], 'wrong');
      if (s.auth === 'bearer-admin') headers.authorization = `Bearer ${adminToken}`;
      if (s.auth === 'bearer-garbage') headers.authorization = 'Bearer !!!';
      if (s.auth === 'basic-garbage') headers.authorization = 'Basic %%%';
      if (s.cookie !== '') headers.cookie = s.cookie;
      if (s.csrf !== undefined) headers['x-csrf-token'] = s.csrf;
      const path = s.query === '' ? s.path : `${s.path}?${s.query}`;
      const body = s.method === 'GET' || s.method === 'HEAD' ? undefined : s.body;
      // Framed explicitly: Node's client sends a DELETE or OPTIONS body with no length at all.
      if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
      let reply: Reply;
      try {
        reply = await send(s.method, path, headers, body);
      } catch (error) {
        failures.push(`${s.method} ${path.slice(0, 120)} (${s.contentType}, ${s.auth}, body ${body?.length ?? 0} chars) -> connection error ${(error as Error).message}`);
        return;
      }
      if (reply.status >= 500 || reply.status < 200) failures.push(`${s.method} ${path.slice(0, 120)} (${s.contentType}, ${s.auth}) -> ${reply.status} ${reply.body.slice(0, 200)}`);
    });
    assert.deepEqual(failures.slice(0, 10), [], `${failures.length} of ${RUNS} requests got a 5xx`);
    // The server is still healthy afterwards.
    const health = await send('GET', '/healthz', {}, undefined);
    assert.equal(health.status, 200);
  });
});
