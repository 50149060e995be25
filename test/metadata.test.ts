import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { createScope } from '../src/registry/scopes.js';
import { refreshCache, registryDeps } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const WELL_KNOWN = '/.well-known/oauth-authorization-server';

/** GET over node:http with a Host header of our choosing (fetch does not let a caller set Host). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host, 'x-forwarded-host': host, 'x-forwarded-proto': 'https' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('authorization server metadata (RFC 8414) and JWKS', () => {
  let server: TestServer;
  let meta: Record<string, any>;

  before(async () => {
    server = await startTestServer();
    await createScope(registryDeps(server), 'export.read');
    await refreshCache(server);
    const res = await fetch(`${server.url}${WELL_KNOWN}`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    meta = (await res.json()) as Record<string, any>;
  });
  after(async () => server.close());

  it('names the issuer and every endpoint under it', () => {
    assert.equal(meta.issuer, server.url);
    assert.equal(meta.token_endpoint, `${server.url}/oauth/token`);
    assert.equal(meta.authorization_endpoint, `${server.url}/oauth/authorize`);
    assert.equal(meta.introspection_endpoint, `${server.url}/oauth/introspect`);
    assert.equal(meta.revocation_endpoint, `${server.url}/oauth/revoke`);
    assert.equal(meta.jwks_uri, `${server.url}/oauth/jwks`);
    assert.deepEqual(meta.response_types_supported, ['code']);
    assert.deepEqual(meta.code_challenge_methods_supported, ['S256']);
    assert.equal(meta.authorization_response_iss_parameter_supported, true);
    // RFC 9126 §5: the pushed authorization request endpoint; not required by default (latchkey.par.required).
    assert.equal(meta.pushed_authorization_request_endpoint, `${server.url}/oauth/par`);
    assert.equal(meta.require_pushed_authorization_requests, false);
  });

  it('lists exactly the registered grants and client authentication methods, and the registry scopes', async () => {
    assert.deepEqual(meta.grant_types_supported, [...server.latchkey.grants.keys()]);
    assert.ok(meta.grant_types_supported.includes('client_credentials'));
    assert.deepEqual(meta.token_endpoint_auth_methods_supported, [...server.latchkey.clientAuthMethods.keys()]);
    assert.ok(meta.token_endpoint_auth_methods_supported.includes('client_secret_basic'));
    assert.ok(!meta.introspection_endpoint_auth_methods_supported.includes('none'), 'introspection needs an authenticated client');
    assert.ok(Array.isArray(meta.revocation_endpoint_auth_methods_supported));
    if (meta.token_endpoint_auth_methods_supported.includes('private_key_jwt')) {
      assert.ok(meta.token_endpoint_auth_signing_alg_values_supported.includes('ES256'));
      assert.ok(!meta.token_endpoint_auth_signing_alg_values_supported.some((a: string) => a === 'none' || a.startsWith('HS')));
    }
    assert.ok(meta.scopes_supported.includes('export.read'));
    assert.ok(meta.scopes_supported.includes('useraccount'));
    // A scope created later is listed once the registry change is seen.
    await createScope(registryDeps(server), 'reports.read');
    await refreshCache(server);
    const again = (await (await fetch(`${server.url}${WELL_KNOWN}`)).json()) as Record<string, any>;
    assert.ok(again.scopes_supported.includes('reports.read'));
  });

  it('every endpoint it lists answers (none is a 404)', async () => {
    const endpoints = ['token_endpoint', 'introspection_endpoint', 'revocation_endpoint', 'pushed_authorization_request_endpoint'];
    for (const name of endpoints) {
      const res = await fetch(meta[name], { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: '' });
      assert.notEqual(res.status, 404, `${name} ${meta[name]}`);
      assert.ok(res.status < 500, `${name}: ${res.status}`);
      await res.arrayBuffer();
    }
    const authorize = await fetch(meta.authorization_endpoint, { redirect: 'manual' });
    assert.notEqual(authorize.status, 404, 'authorization_endpoint');
    assert.ok(authorize.status < 500);
    await authorize.arrayBuffer();
    const jwks = await fetch(meta.jwks_uri);
    assert.equal(jwks.status, 200);
    await jwks.arrayBuffer();
  });

  it('takes the issuer from configuration, never from the Host header', async () => {
    const res = await getWithHost(`${server.url}${WELL_KNOWN}`, 'evil.example.com');
    assert.equal(res.status, 200);
    const doc = JSON.parse(res.body) as Record<string, string>;
    assert.equal(doc.issuer, server.url);
    assert.ok(!res.body.includes('evil.example.com'));
  });

  it('oauth4webapi accepts the document (its issuer matches the discovery URL)', async () => {
    const issuer = new URL(server.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }));
    assert.equal(as.token_endpoint, `${server.url}/oauth/token`);
  });

  it('serves the JWKS at /oauth/jwks and /api/now/oauth/jwks (not swallowed by /api/*): public keys only, cacheable for 5 minutes', async () => {
    const a = await fetch(`${server.url}/oauth/jwks`);
    const b = await fetch(`${server.url}/api/now/oauth/jwks`);
    for (const res of [a, b]) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type'), 'application/jwk-set+json; charset=utf-8');
      assert.equal(res.headers.get('cache-control'), 'public, max-age=300');
    }
    const [ja, jb] = [(await a.json()) as { keys: Record<string, string>[] }, (await b.json()) as { keys: Record<string, string>[] }];
    assert.deepEqual(ja, jb);
    assert.equal(ja.keys.length, 1);
    const key = ja.keys[0]!;
    assert.equal(key.kty, 'EC');
    assert.equal(key.crv, 'P-256');
    assert.equal(key.alg, 'ES256');
    assert.equal(key.use, 'sig');
    assert.equal(typeof key.kid, 'string');
    assert.equal(key.d, undefined, 'no private part');
    const head = await fetch(`${server.url}/api/now/oauth/jwks`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    // Other methods on that path still belong to the API surface (platform error shape).
    const post = await fetch(`${server.url}/api/now/oauth/jwks`, { method: 'POST' });
    assert.equal(post.status, 404);
    assert.equal(((await post.json()) as { status: string }).status, 'failure');
  });

  it('answers 404 at a well-known path with a suffix when the issuer has no path', async () => {
    const res = await fetch(`${server.url}${WELL_KNOWN}/tenant-a`);
    assert.equal(res.status, 404);
    await res.arrayBuffer();
  });
});

describe('metadata for a configured issuer with a path', () => {
  let server: TestServer;
  const ISSUER = 'https://auth.example.com/tenant-a';

  before(async () => {
    server = await startTestServer({ issuer: `${ISSUER}/` });
  });
  after(async () => server.close());

  it('is served at the path-inserted location (RFC 8414 §3.1) and at the plain one, naming the configured issuer', async () => {
    for (const path of [`${WELL_KNOWN}/tenant-a`, WELL_KNOWN]) {
      const res = await fetch(`${server.url}${path}`);
      assert.equal(res.status, 200, path);
      const doc = (await res.json()) as Record<string, string>;
      assert.equal(doc.issuer, ISSUER);
      assert.equal(doc.token_endpoint, `${ISSUER}/oauth/token`);
      assert.equal(doc.jwks_uri, `${ISSUER}/oauth/jwks`);
    }
    const other = await fetch(`${server.url}${WELL_KNOWN}/tenant-b`);
    assert.equal(other.status, 404);
    await other.arrayBuffer();
  });
});
