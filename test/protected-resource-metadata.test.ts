import { DPOP_ALGS } from '../src/tokens/dpop.js';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { latchkeyExpress } from '../src/middleware/express.js';
import { latchkeyFastify } from '../src/middleware/fastify.js';
import { bearerChallenge, hostedProtectedResources, instanceProtectedResource, protectedResourceMetadata } from '../src/resource-server/protected-resource-metadata.js';
import { adminToken, bearerClient } from './helpers/admin.js';
import { apiCall, challengeParams, FIXTURE_APIS, resultOf } from './helpers/api.js';
import { buildFixture } from './helpers/fixture.js';
import { tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Issue 16 item 2: RFC 9728 protected resource metadata for every hosted API (and the instance),
 * challenges that point at it (RFC 9728 §5.1) with the scopes for a step-up (RFC 6750 §3), and the
 * middleware doing the same for another service with one option. What an MCP client does from the
 * first 401 works end to end: resource_metadata → the metadata → the authorization server's
 * metadata with PKCE S256.
 */

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const WELL_KNOWN = '/.well-known/oauth-protected-resource';
/** The service the middleware protects, as its clients name it. */
const SERVICE_RESOURCE = 'https://svc.example.test/mcp';

async function getJson(url: string, init: RequestInit = {}) {
  const res = await fetch(url, init);
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

describe('the generator (framework-free)', () => {
  it('builds the RFC 9728 §2 document, and lists every API at its canonical and versioned identifiers with every scope it declares', () => {
    assert.deepEqual(protectedResourceMetadata({ resource: 'https://h/api/a/b', issuer: 'https://h/', scopes: ['x', 'y', 'x'], name: 'B', documentation: 'https://h/docs' }), {
      resource: 'https://h/api/a/b',
      authorization_servers: ['https://h'],
      scopes_supported: ['x', 'y'],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: [...DPOP_ALGS],
      resource_name: 'B',
      resource_documentation: 'https://h/docs',
    });
    // No scope: no scopes_supported (an empty list would make a client ask for an empty scope).
    assert.equal('scopes_supported' in protectedResourceMetadata({ resource: 'https://h/x', issuer: 'https://h', scopes: [], name: 'X' }), false);
    const api = {
      namespace: 'acme',
      id: 'orders',
      name: 'Orders',
      versions: ['v1', 'v2'],
      // API-level scopes count even where every resource overrides them.
      scopes: ['orders.read'],
      resources: [{ security: { scopes: ['orders.write'] } }, { security: { scopes: ['orders.admin', 'orders.write'] } }],
    };
    const extra = [{ resource: 'https://h/mcp/acme/tools', scopes: ['tools.call'], name: 'Tools', key: 'acme/tools' }];
    const list = hostedProtectedResources([api], 'https://h', extra);
    assert.deepEqual(
      list.map((r) => [r.kind, r.resource, r.metadataPath, r.metadataUrl, r.scopes, r.name]),
      [
        ['api', 'https://h/api/acme/orders', `${WELL_KNOWN}/api/acme/orders`, `https://h${WELL_KNOWN}/api/acme/orders`, ['orders.read', 'orders.write', 'orders.admin'], 'Orders'],
        ['api', 'https://h/api/acme/v1/orders', `${WELL_KNOWN}/api/acme/v1/orders`, `https://h${WELL_KNOWN}/api/acme/v1/orders`, ['orders.read', 'orders.write', 'orders.admin'], 'Orders v1'],
        ['api', 'https://h/api/acme/v2/orders', `${WELL_KNOWN}/api/acme/v2/orders`, `https://h${WELL_KNOWN}/api/acme/v2/orders`, ['orders.read', 'orders.write', 'orders.admin'], 'Orders v2'],
        ['mcp', 'https://h/mcp/acme/tools', `${WELL_KNOWN}/mcp/acme/tools`, `https://h${WELL_KNOWN}/mcp/acme/tools`, ['tools.call'], 'Tools'],
      ],
    );
    const instance = instanceProtectedResource('https://h/tenant/', [api], extra);
    assert.deepEqual([instance.resource, instance.metadataPath, instance.scopes], ['https://h/tenant', `${WELL_KNOWN}/tenant`, ['orders.read', 'orders.write', 'orders.admin', 'tools.call']]);
  });

  it('writes one challenge order everywhere, with quoted values kept to printable ASCII without quotes', () => {
    assert.equal(bearerChallenge({ realm: 'latchkey' }), 'Bearer realm="latchkey"');
    assert.equal(
      bearerChallenge({ realm: 'latchkey', error: 'insufficient_scope', description: 'needs "a"\n', resourceMetadata: 'https://h/m', scopes: ['a', 'b'] }),
      `Bearer realm="latchkey", error="insufficient_scope", resource_metadata="https://h/m", scope="a b", error_description="needs 'a'?"`,
    );
  });
});

describe('protected resource metadata of the hosted APIs (RFC 9728)', () => {
  let server: TestServer;
  const apps: Record<string, { clientId: string; secret: string }> = {};

  async function token(app: string, scope: string): Promise<string> {
    const a = apps[app]!;
    const res = await tokenRequest(server.url, { form: { grant_type: 'client_credentials', scope }, basic: [a.clientId, a.secret] });
    assert.equal(res.status, 200, res.text);
    return String(res.json?.access_token);
  }

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    const built = await buildFixture(server, {
      scopes: ['orders.read', 'orders.write'],
      users: [{ userName: 'svc-orders' }],
      properties: { [CC]: 'true' },
      apps: { orders: { name: 'Orders client', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read', 'orders.write'] } },
    });
    for (const [key, a] of Object.entries(built.apps)) apps[key] = { clientId: a.clientId, secret: a.secret };
  });
  after(async () => server?.close());

  it('serves the document of an API at its path-inserted well-known URL, for the canonical path and each version: JSON, briefly cacheable, readable from any origin', async () => {
    for (const [path, name] of [['/api/acme/orders', 'Orders'], ['/api/acme/v1/orders', 'Orders v1'], ['/api/acme/v2/orders', 'Orders v2']] as const) {
      const r = await getJson(`${server.url}${WELL_KNOWN}${path}`);
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(r.headers.get('cache-control'), 'public, max-age=300');
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      assert.deepEqual(r.json, {
        resource: `${server.url}${path}`,
        authorization_servers: [server.url],
        // The API-level scope and the PUT resource's own.
        scopes_supported: ['orders.read', 'orders.write'],
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: [...DPOP_ALGS],
        resource_name: name,
      });
    }
    // An API without scopes: no scopes_supported.
    const echo = await getJson(`${server.url}${WELL_KNOWN}/api/test/echo`);
    assert.equal(echo.status, 200, echo.text);
    assert.deepEqual(Object.keys(echo.json).sort(), ['authorization_servers', 'bearer_methods_supported', 'dpop_signing_alg_values_supported', 'resource', 'resource_name']);
    assert.equal(echo.json.resource, `${server.url}/api/test/echo`);
    // HEAD, and the CORS preflight of a browser-based client.
    const head = await fetch(`${server.url}${WELL_KNOWN}/api/acme/orders`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    const preflight = await fetch(`${server.url}${WELL_KNOWN}/api/acme/orders`, { method: 'OPTIONS', headers: { origin: 'https://client.example', 'access-control-request-method': 'GET' } });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
    assert.match(preflight.headers.get('access-control-allow-methods') ?? '', /\bGET\b/);
  });

  it('serves the instance as a whole at the bare well-known path: the issuer, with every API scope', async () => {
    const r = await getJson(`${server.url}${WELL_KNOWN}`);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.deepEqual(r.json, {
      resource: server.url,
      authorization_servers: [server.url],
      scopes_supported: ['orders.read', 'orders.write'],
      bearer_methods_supported: ['header'],
      dpop_signing_alg_values_supported: [...DPOP_ALGS],
      resource_name: 'Latchkey',
    });
  });

  it('answers an unknown path with a JSON 404', async () => {
    for (const path of ['/api/acme/nope', '/api/acme/v9/orders', '/api/acme/orders/7', '/api/acme', '/mcp/acme/orders']) {
      const r = await getJson(`${server.url}${WELL_KNOWN}${path}`);
      assert.equal(r.status, 404, `${path}: ${r.text}`);
      assert.equal(r.json?.error, 'not_found', r.text);
    }
  });

  it('a 401 without a token names the metadata of the API called and the scopes of the route; with a refused token, the error too', async () => {
    const missing = await apiCall(server.url, { path: '/api/acme/orders/7' });
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('www-authenticate'), `Bearer realm="latchkey", resource_metadata="${server.url}${WELL_KNOWN}/api/acme/orders", scope="orders.read"`);
    // The versioned path is its own resource identifier; PUT needs orders.write.
    const versioned = await apiCall(server.url, { method: 'PUT', path: '/api/acme/v1/orders/7', json: {} });
    assert.equal(versioned.headers.get('www-authenticate'), `Bearer realm="latchkey", resource_metadata="${server.url}${WELL_KNOWN}/api/acme/v1/orders", scope="orders.write"`);
    // No scope required: no scope parameter.
    const echo = await apiCall(server.url, { path: '/api/test/echo' });
    assert.equal(echo.headers.get('www-authenticate'), `Bearer realm="latchkey", resource_metadata="${server.url}${WELL_KNOWN}/api/test/echo"`);
    // An API that also accepts Basic: both challenges, the Bearer one with the metadata.
    const reports = await apiCall(server.url, { path: '/api/acme/reports' });
    assert.equal(reports.headers.get('www-authenticate'), `Bearer realm="latchkey", resource_metadata="${server.url}${WELL_KNOWN}/api/acme/reports", Basic realm="latchkey"`);
    // A token presented and refused (RFC 6750 §3.1).
    const bad = await apiCall(server.url, { path: '/api/acme/orders/7', bearer: 'lk_at_not-a-token' });
    assert.equal(bad.status, 401);
    assert.equal(
      bad.headers.get('www-authenticate'),
      `Bearer realm="latchkey", error="invalid_token", resource_metadata="${server.url}${WELL_KNOWN}/api/acme/orders", scope="orders.read", error_description="The access token is not valid on this instance."`,
    );
    // The Host header does not steer the URL: the issuer does.
    const spoofed = await apiCall(server.url, { path: '/api/acme/orders/7', headers: { host: 'evil.example', 'x-forwarded-host': 'evil.example' } });
    assert.equal(challengeParams(spoofed.headers.get('www-authenticate')).params.resource_metadata, `${server.url}${WELL_KNOWN}/api/acme/orders`);
  });

  it('a 403 insufficient_scope names the scopes that would do and the metadata, and a token with them is admitted (step-up)', async () => {
    const writer = await token('orders', 'orders.write');
    const r = await apiCall(server.url, { path: '/api/acme/orders/7', bearer: writer });
    assert.equal(r.status, 403, r.text);
    assert.equal(
      r.headers.get('www-authenticate'),
      `Bearer realm="latchkey", error="insufficient_scope", resource_metadata="${server.url}${WELL_KNOWN}/api/acme/orders", scope="orders.read", error_description="The token needs one of the scopes: orders.read."`,
    );
    const { scope } = challengeParams(r.headers.get('www-authenticate')).params;
    const stepped = await token('orders', scope!);
    assert.equal(resultOf(await apiCall(server.url, { path: '/api/acme/orders/7', bearer: stepped })).id, '7');
    // The other way round on the versioned path: PUT needs orders.write.
    const put = await apiCall(server.url, { method: 'PUT', path: '/api/acme/v2/orders/7', bearer: stepped, json: { x: 1 } });
    assert.equal(put.status, 403);
    assert.equal(
      put.headers.get('www-authenticate'),
      `Bearer realm="latchkey", error="insufficient_scope", resource_metadata="${server.url}${WELL_KNOWN}/api/acme/v2/orders", scope="orders.write", error_description="The token needs one of the scopes: orders.write."`,
    );
  });

  it('MCP-style discovery from the first 401: resource_metadata → the resource\'s metadata → the authorization server\'s metadata with PKCE S256', async () => {
    const requested = `${server.url}/api/acme/v1/orders/7`;
    const first = await fetch(requested);
    assert.equal(first.status, 401);
    const { params } = challengeParams(first.headers.get('www-authenticate'));
    assert.ok(params.resource_metadata !== undefined, 'the challenge names the metadata');
    const prm = await getJson(params.resource_metadata!);
    assert.equal(prm.status, 200, prm.text);
    // RFC 9728 §3.3 (as the MCP SDK checks it): the resource is the one called, a prefix of the URL requested.
    assert.ok(requested.startsWith(`${prm.json.resource}/`), `${prm.json.resource} is not a prefix of ${requested}`);
    assert.equal(prm.json.resource, `${server.url}/api/acme/v1/orders`);
    const [as] = prm.json.authorization_servers as string[];
    const asMetadata = await getJson(`${new URL(as!).origin}/.well-known/oauth-authorization-server${new URL(as!).pathname.replace(/\/$/, '')}`);
    assert.equal(asMetadata.status, 200, asMetadata.text);
    assert.equal(asMetadata.json.issuer, as);
    assert.ok((asMetadata.json.code_challenge_methods_supported as string[]).includes('S256'));
    assert.equal(typeof asMetadata.json.token_endpoint, 'string');
    assert.equal(typeof asMetadata.json.authorization_endpoint, 'string');
    // The scope of the challenge is one the metadata lists.
    assert.ok((prm.json.scopes_supported as string[]).includes(params.scope!));
  });
});

describe('surfaces: apis list, apis show, inspect', () => {
  let server: TestServer;
  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
    const code = await main(['node', 'latchkey', ...args], io);
    return { code, out, err };
  }
  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
  });
  after(async () => server?.close());

  it('apis list names each API\'s resource identifier and metadata URL under the issuer given', async () => {
    const json = await cli('apis', 'list', '--apis', FIXTURE_APIS, '--issuer', 'https://auth.example.com', '--json');
    assert.equal(json.code, 0, json.err);
    const rows = JSON.parse(json.out) as { api: string; resource: string; resourceMetadata: string }[];
    const orders = rows.filter((r) => r.api === 'acme/orders');
    assert.ok(orders.length > 1);
    for (const r of orders) assert.deepEqual([r.resource, r.resourceMetadata], ['https://auth.example.com/api/acme/orders', `https://auth.example.com${WELL_KNOWN}/api/acme/orders`]);
    const text = await cli('apis', 'list', '--apis', FIXTURE_APIS, '--issuer', 'https://auth.example.com');
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /\n  acme\/orders\n    resource  https:\/\/auth\.example\.com\/api\/acme\/orders\n    metadata  https:\/\/auth\.example\.com\/\.well-known\/oauth-protected-resource\/api\/acme\/orders\n/);
  });

  it('apis show lists the canonical and versioned identifiers with their metadata URLs, and the scopes declared; an unknown API exits 1 naming the known ones', async () => {
    const shown = await cli('apis', 'show', 'acme/orders', '--apis', FIXTURE_APIS, '--issuer', 'https://auth.example.com/', '--json');
    assert.equal(shown.code, 0, shown.err);
    const view = JSON.parse(shown.out);
    assert.deepEqual(view.scopes, ['orders.read', 'orders.write']);
    assert.deepEqual(view.resources, [
      { resource: 'https://auth.example.com/api/acme/orders', metadataUrl: `https://auth.example.com${WELL_KNOWN}/api/acme/orders`, version: null },
      { resource: 'https://auth.example.com/api/acme/v1/orders', metadataUrl: `https://auth.example.com${WELL_KNOWN}/api/acme/v1/orders`, version: 'v1' },
      { resource: 'https://auth.example.com/api/acme/v2/orders', metadataUrl: `https://auth.example.com${WELL_KNOWN}/api/acme/v2/orders`, version: 'v2' },
    ]);
    const text = await cli('apis', 'show', 'acme/orders', '--apis', FIXTURE_APIS, '--issuer', 'https://auth.example.com');
    assert.match(text.out, /\n  v1\n    resource  https:\/\/auth\.example\.com\/api\/acme\/v1\/orders\n    metadata  https:\/\/auth\.example\.com\/\.well-known\/oauth-protected-resource\/api\/acme\/v1\/orders\n/);
    const unknown = await cli('apis', 'show', 'acme/nope', '--apis', FIXTURE_APIS);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /No API acme\/nope .*Known: .*acme\/orders/);
  });

  it('the admin API (and so the console) lists each API\'s resource identifiers and metadata URLs, and the scopes it declares', async () => {
    const admin = bearerClient(server, await adminToken(server));
    const res = await admin.call('GET', '/apis');
    assert.equal(res.status, 200);
    const orders = (res.json as { namespace: string; id: string; scopes: string[]; resources: unknown[] }[]).find((a) => a.namespace === 'acme' && a.id === 'orders');
    assert.deepEqual(orders?.scopes, ['orders.read', 'orders.write']);
    assert.deepEqual(orders?.resources, [
      { resource: `${server.url}/api/acme/orders`, metadataUrl: `${server.url}${WELL_KNOWN}/api/acme/orders`, version: null },
      { resource: `${server.url}/api/acme/v1/orders`, metadataUrl: `${server.url}${WELL_KNOWN}/api/acme/v1/orders`, version: 'v1' },
      { resource: `${server.url}/api/acme/v2/orders`, metadataUrl: `${server.url}${WELL_KNOWN}/api/acme/v2/orders`, version: 'v2' },
    ]);
  });

  it('inspect names the resource identifier and metadata URL of each API it judges the token against', async () => {
    const json = await cli('inspect', 'lk_at_not-a-token', '--apis', FIXTURE_APIS, '--issuer', server.url, '--db', server.db, '--json');
    assert.equal(json.code, 0, json.err);
    const inspection = JSON.parse(json.out);
    const orders = (inspection.apis as { namespace: string; id: string; resource: string; resourceMetadata: string }[]).find((a) => a.namespace === 'acme' && a.id === 'orders');
    assert.deepEqual([orders?.resource, orders?.resourceMetadata], [`${server.url}/api/acme/orders`, `${server.url}${WELL_KNOWN}/api/acme/orders`]);
    const text = await cli('inspect', 'lk_at_not-a-token', '--apis', FIXTURE_APIS, '--issuer', server.url, '--db', server.db);
    assert.ok(text.out.includes(`  acme/orders  ${server.url}/api/acme/orders\n    metadata  ${server.url}${WELL_KNOWN}/api/acme/orders\n`), text.out);
  });
});

describe('protected resource metadata under an issuer with a path (https://…/tenant)', () => {
  let server: TestServer;
  const ISSUER = 'https://auth.example.test/tenant';
  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS, issuer: ISSUER });
  });
  after(async () => server?.close());

  it('builds every URL from the issuer, and serves the documents at the path-inserted path and without the issuer\'s path (a proxy strips it)', async () => {
    const missing = await apiCall(server.url, { path: '/api/acme/orders/7' });
    assert.equal(missing.headers.get('www-authenticate'), `Bearer realm="latchkey", resource_metadata="https://auth.example.test${WELL_KNOWN}/tenant/api/acme/orders", scope="orders.read"`);
    for (const path of [`${WELL_KNOWN}/tenant/api/acme/orders`, `${WELL_KNOWN}/api/acme/orders`]) {
      const r = await getJson(`${server.url}${path}`);
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      assert.equal(r.json.resource, `${ISSUER}/api/acme/orders`);
      assert.deepEqual(r.json.authorization_servers, [ISSUER]);
    }
    for (const path of [`${WELL_KNOWN}/tenant`, WELL_KNOWN]) {
      const r = await getJson(`${server.url}${path}`);
      assert.equal(r.status, 200, `${path}: ${r.text}`);
      assert.equal(r.json.resource, ISSUER);
    }
  });
});

interface Service {
  readonly name: string;
  readonly url: string;
  close(): Promise<void>;
}

describe('the middleware with the resource option (latchkey/express, latchkey/fastify)', () => {
  let server: TestServer;
  const apps: Record<string, { clientId: string; secret: string }> = {};
  const services: Service[] = [];

  async function token(app: string, scope: string): Promise<string> {
    const a = apps[app]!;
    const res = await tokenRequest(server.url, { form: { grant_type: 'client_credentials', scope }, basic: [a.clientId, a.secret] });
    assert.equal(res.status, 200, res.text);
    return String(res.json?.access_token);
  }

  before(async () => {
    server = await startTestServer();
    const built = await buildFixture(server, {
      scopes: ['orders.read', 'orders.write'],
      users: [{ userName: 'svc-orders' }],
      properties: { [CC]: 'true' },
      apps: {
        // Its JWTs carry the service's identifier as their audience.
        forService: { name: 'Service caller', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read', 'orders.write'], tokenFormat: 'jwt', audience: SERVICE_RESOURCE },
        // Its JWTs are meant for the instance's own APIs.
        forInstance: { name: 'Instance caller', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read', 'orders.write'], tokenFormat: 'jwt' },
      },
    });
    for (const [key, a] of Object.entries(built.apps)) apps[key] = { clientId: a.clientId, secret: a.secret };
    const options = { issuer: server.url, resource: SERVICE_RESOURCE, clockToleranceSec: 0 };

    const ex = latchkeyExpress(options);
    const app = express();
    app.use(ex.metadata);
    app.get('/mcp', ex.require('orders.read'), (req, res) => res.json({ subject: req.latchkey?.subject }));
    const listening = app.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => listening.once('listening', () => resolve()));
    const { port } = listening.address() as AddressInfo;
    services.push({ name: 'express', url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => listening.close(() => resolve())) });

    const fa = latchkeyFastify(options);
    const fapp: FastifyInstance = Fastify();
    await fapp.register(fa.metadata);
    fapp.get('/mcp', { preHandler: fa.require('orders.read') }, async (req) => ({ subject: req.latchkey?.subject }));
    services.push({ name: 'fastify', url: await fapp.listen({ port: 0, host: '127.0.0.1' }), close: () => fapp.close() });
  });
  after(async () => {
    for (const s of services) await s.close();
    await server?.close();
  });

  for (const kind of ['express', 'fastify']) {
    const svc = () => services.find((s) => s.name === kind)!;
    const metadataUrl = `https://svc.example.test${WELL_KNOWN}/mcp`;

    it(`${kind}: serves the document at the path-inserted well-known path, with the scopes its routes require`, async () => {
      const r = await getJson(`${svc().url}${WELL_KNOWN}/mcp`);
      assert.equal(r.status, 200, r.text);
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      assert.equal(r.headers.get('cache-control'), 'public, max-age=300');
      assert.deepEqual(r.json, { resource: SERVICE_RESOURCE, authorization_servers: [server.url], scopes_supported: ['orders.read'], bearer_methods_supported: ['header'], dpop_signing_alg_values_supported: [...DPOP_ALGS], resource_name: SERVICE_RESOURCE });
      const preflight = await fetch(`${svc().url}${WELL_KNOWN}/mcp`, { method: 'OPTIONS' });
      assert.equal(preflight.status, 204);
      assert.equal(preflight.headers.get('access-control-allow-origin'), '*');
      // Another path is the app's own business.
      assert.equal((await fetch(`${svc().url}${WELL_KNOWN}/other`)).status, 404);
    });

    it(`${kind}: challenges name the metadata and the scopes; a 403 names the scopes for a step-up; tokens must be meant for the resource`, async () => {
      const missing = await fetch(`${svc().url}/mcp`);
      assert.equal(missing.status, 401);
      assert.equal(missing.headers.get('www-authenticate'), `Bearer realm="api", resource_metadata="${metadataUrl}", scope="orders.read"`);
      const writer = await token('forService', 'orders.write');
      const lacking = await fetch(`${svc().url}/mcp`, { headers: { authorization: `Bearer ${writer}` } });
      assert.equal(lacking.status, 403);
      assert.match(lacking.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer realm="api", error="insufficient_scope", resource_metadata="${metadataUrl.replace(/[./]/g, '\\$&')}", scope="orders\\.read", error_description="[^"]+"$`));
      const reader = await token('forService', 'orders.read');
      const ok = await fetch(`${svc().url}/mcp`, { headers: { authorization: `Bearer ${reader}` } });
      assert.equal(ok.status, 200, await ok.text());
      // A token for the instance's own APIs (aud: the issuer) is not meant for this service.
      const other = await fetch(`${svc().url}/mcp`, { headers: { authorization: `Bearer ${await token('forInstance', 'orders.read')}` } });
      assert.equal(other.status, 401);
      assert.match(other.headers.get('www-authenticate') ?? '', new RegExp(`^Bearer realm="api", error="invalid_token", resource_metadata="${metadataUrl.replace(/[./]/g, '\\$&')}", scope="orders\\.read", error_description="The access token was issued for [^"]*, not for this resource \\(https:\\/\\/svc\\.example\\.test\\/mcp\\)[^"]*"$`));
    });

    it(`${kind}: MCP-style discovery from its first 401 reaches the authorization server's metadata with PKCE S256`, async () => {
      const first = await fetch(`${svc().url}/mcp`);
      const { params } = challengeParams(first.headers.get('www-authenticate'));
      // The service is reached on loopback here; its public URL is the resource's.
      const prmPath = new URL(params.resource_metadata!).pathname;
      const prm = await getJson(`${svc().url}${prmPath}`);
      assert.equal(prm.json.resource, SERVICE_RESOURCE);
      const as = (prm.json.authorization_servers as string[])[0]!;
      const asMetadata = await getJson(`${as}/.well-known/oauth-authorization-server`);
      assert.equal(asMetadata.json.issuer, as);
      assert.ok((asMetadata.json.code_challenge_methods_supported as string[]).includes('S256'));
    });
  }

  it('express: served and challenged the same from routers mounted on sub-paths (the metadata reads req.originalUrl)', async () => {
    // The service's routes live in a router mounted at /x; its metadata middleware in another router
    // mounted at /.well-known and once directly under the full well-known prefix: each sees a stripped req.url.
    const resource = 'https://svc.example.test/x/mcp';
    const ex = latchkeyExpress({ issuer: server.url, resource, clockToleranceSec: 0 });
    const routes = express.Router();
    routes.get('/mcp', ex.require('orders.read'), (req, res) => res.json({ subject: req.latchkey?.subject }));
    const wellKnown = express.Router();
    wellKnown.use(ex.metadata);
    const app = express();
    app.use('/x', routes);
    app.use('/.well-known', wellKnown);
    const other = express();
    other.use(`${WELL_KNOWN}`, ex.metadata);
    const started: Service[] = [];
    for (const [name, a] of [['mounted', app], ['prefix', other]] as const) {
      const listening = a.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => listening.once('listening', () => resolve()));
      const { port } = listening.address() as AddressInfo;
      started.push({ name, url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => listening.close(() => resolve())) });
    }
    try {
      const [mounted, prefix] = started as [Service, Service];
      const missing = await fetch(`${mounted.url}/x/mcp`);
      assert.equal(missing.status, 401);
      const { params } = challengeParams(missing.headers.get('www-authenticate'));
      assert.equal(params.resource_metadata, `https://svc.example.test${WELL_KNOWN}/x/mcp`);
      assert.equal(params.scope, 'orders.read');
      for (const svc of [mounted, prefix]) {
        const r = await getJson(`${svc.url}${new URL(params.resource_metadata!).pathname}`);
        assert.equal(r.status, 200, `${svc.name}: ${r.text}`);
        assert.equal(r.json.resource, resource);
        assert.deepEqual(r.json.authorization_servers, [server.url]);
        // The stripped path alone is not the metadata path (it was what req.url showed the middleware).
        assert.equal((await fetch(`${svc.url}/oauth-protected-resource/x/mcp`)).status, 404, svc.name);
      }
      const ok = await fetch(`${mounted.url}/x/mcp`, { headers: { authorization: `Bearer ${await token('forService', 'orders.read')}` } });
      // forService's tokens are for SERVICE_RESOURCE, not this one: refused, and the challenge names this resource's metadata.
      assert.equal(ok.status, 401);
      const refused = challengeParams(ok.headers.get('www-authenticate')).params;
      assert.deepEqual([refused.error, refused.resource_metadata], ['invalid_token', `https://svc.example.test${WELL_KNOWN}/x/mcp`]);
    } finally {
      for (const s of started) await s.close();
    }
  });

  it('refuses a resource that is not an absolute URI, and names the option', () => {
    assert.throws(() => latchkeyExpress({ issuer: server.url, resource: 'svc/mcp' }), /resource: .*absolute URI/);
    assert.throws(() => latchkeyFastify({ issuer: server.url, resource: 'https://svc.example.test/mcp#x' }), /resource: .*fragment/);
  });
});
