import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { decodeJwt } from 'jose';
import { latchkeyExpress } from '../src/middleware/express.js';
import { inspectToken } from '../src/diagnostics/inspect.js';
import { addResource, removeResource } from '../src/registry/resources.js';
import { updateApplication } from '../src/registry/applications.js';
import { apiCall, apiChallenge, assertApiRefusal, FIXTURE_APIS } from './helpers/api.js';
import { assertErrorRedirect, codeFixture, FIXTURE_REDIRECT_URI, pkcePair, type CodeFixture } from './helpers/authorize-flow.js';
import { authorizeInBrowser, Browser, formFor } from './helpers/browser.js';
import { buildFixture, type Fixture } from './helpers/fixture.js';
import { assertOAuthError, assertRefusal, refreshCache, registryDeps, tokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * RFC 8707 resource indicators end to end, on a real server (SQLite or PostgreSQL by
 * LATCHKEY_TEST_STORAGE): the resource parameter at the token and authorization endpoints,
 * validated, bound from the authorization to the token request, narrowed on refresh; the token's
 * audience in introspection and in JWTs; the application's resource limit; the scopes a resource
 * accepts; and a token for resource A refused at resource B, at a hosted API and at a service
 * behind the middleware, with its reason.
 */

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const A = 'https://a.example.test/api';
const B = 'https://b.example.test';

describe('resource indicators (RFC 8707)', () => {
  let server: TestServer;
  let fx: Fixture<'cc' | 'jwt' | 'limited' | 'rs'>;
  let code: CodeFixture;
  let orders: string;
  let ordersV1: string;
  let echo: string;

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    orders = `${server.url}/api/acme/orders`;
    ordersV1 = `${server.url}/api/acme/v1/orders`;
    echo = `${server.url}/api/test/echo`;
    const deps = registryDeps(server);
    await addResource(deps, { uri: A, name: 'Service A', scopes: ['a.read'] });
    await addResource(deps, { uri: `${B}/`, name: 'Service B' });
    fx = await buildFixture(server, {
      scopes: ['orders.read', 'orders.write', 'a.read', 'a.write'],
      users: [{ userName: 'svc-ri' }],
      properties: { [CC]: 'true' },
      apps: {
        cc: { name: 'RI caller', grantTypes: ['client_credentials'], appUser: 'svc-ri', scopes: ['orders.read', 'orders.write', 'a.read', 'a.write'] },
        jwt: { name: 'RI JWT caller', grantTypes: ['client_credentials'], appUser: 'svc-ri', scopes: ['orders.read', 'a.read'], tokenFormat: 'jwt' },
        limited: { name: 'RI limited', grantTypes: ['client_credentials'], appUser: 'svc-ri', scopes: ['a.read'], resources: [A] },
        rs: { name: 'RI resource server', grantTypes: [], canIntrospect: true },
      },
    });
    code = await codeFixture(server);
    await updateApplication(deps, code.confidential.clientId, { scopes: ['orders.read', 'a.read'] });
    await refreshCache(server);
  });
  after(async () => server?.close());

  function cc(app: 'cc' | 'jwt' | 'limited', form: Record<string, string | readonly string[]> = {}): Promise<TokenResponse> {
    return tokenRequest(server.url, { form: { grant_type: 'client_credentials', ...form }, basic: [fx.apps[app].clientId, fx.apps[app].secret] });
  }

  async function introspect(token: string): Promise<Record<string, unknown>> {
    const res = await tokenRequest(server.url, { path: '/oauth/introspect', form: { token }, basic: [fx.apps.rs.clientId, fx.apps.rs.secret] });
    assert.equal(res.status, 200, res.text);
    return res.json ?? {};
  }

  async function refused(res: TokenResponse, status: number, error: string, reason: string): Promise<void> {
    assertOAuthError(res, status, error);
    await assertRefusal(server.latchkey.storage, res, reason);
  }

  describe('validation at the token endpoint', () => {
    it('refuses a resource that is not an absolute URI, or has a fragment: invalid_target resource.invalid', async () => {
      for (const bad of ['/api/acme/orders', 'https://a.example.test/api#x', 'urn:x:y', 'https://user:pw@a.example.test/api']) {
        const res = await cc('cc', { resource: bad });
        await refused(res, 400, 'invalid_target', 'resource.invalid');
      }
    });

    it('refuses an unknown resource (resource.unknown), naming how to register it', async () => {
      const res = await cc('cc', { resource: 'https://nowhere.example.test/x' });
      await refused(res, 400, 'invalid_target', 'resource.unknown');
      assert.match(String(res.json?.error_description), /latchkey resources add https:\/\/nowhere\.example\.test\/x/);
    });

    it('compares in the canonical form: case of scheme and host, default port and a trailing slash do not matter', async () => {
      const res = await cc('cc', { resource: 'HTTPS://A.Example.Test:443/api/', scope: 'a.read' });
      assert.equal(res.status, 200, res.text);
      assert.deepEqual((await introspect(String(res.json?.access_token))).aud, A);
    });

    it('an application limited to some resources may not request another: resource.not_allowed, naming `apps update --resources`', async () => {
      const ok = await cc('limited', { resource: A });
      assert.equal(ok.status, 200, ok.text);
      const res = await cc('limited', { resource: B });
      await refused(res, 400, 'invalid_target', 'resource.not_allowed');
      assert.match(String(res.json?.error_description), /apps update \S+ --resources/);
      // A hosted API is a resource too, and not in its limit.
      await refused(await cc('limited', { resource: orders }), 400, 'invalid_target', 'resource.not_allowed');
    });

    it('scopes must be accepted by the resource: resource.scope_not_accepted (invalid_scope); unrequested scopes are narrowed to those it accepts', async () => {
      const res = await cc('cc', { resource: A, scope: 'a.read orders.read' });
      await refused(res, 400, 'invalid_scope', 'resource.scope_not_accepted');
      assert.match(String(res.json?.error_description), /latchkey resources update https:\/\/a\.example\.test\/api --scopes/);
      // A hosted API accepts the scopes its module declares.
      await refused(await cc('cc', { resource: orders, scope: 'a.read' }), 400, 'invalid_scope', 'resource.scope_not_accepted');
      const narrowed = await cc('cc', { resource: A });
      assert.equal(narrowed.status, 200, narrowed.text);
      assert.equal(narrowed.json?.scope, 'a.read');
      // B was registered without scopes: it accepts any.
      const any = await cc('cc', { resource: B, scope: 'orders.write a.write' });
      assert.equal(any.status, 200, any.text);
      // Two resources: each scope accepted by one of them.
      const two = await cc('cc', { resource: [A, orders], scope: 'a.read orders.read' });
      assert.equal(two.status, 200, two.text);
    });

    it('a request without resource keeps the behaviour of before: the audience is the instance', async () => {
      const res = await cc('cc', { scope: 'orders.read' });
      assert.equal(res.status, 200, res.text);
      assert.equal((await introspect(String(res.json?.access_token))).aud, server.url);
    });
  });

  describe('the audience of the token', () => {
    it('opaque tokens: introspection reports aud (a string for one resource, an array for several)', async () => {
      const one = await cc('cc', { resource: B });
      assert.equal((await introspect(String(one.json?.access_token))).aud, B, 'the canonical form (no trailing slash)');
      const two = await cc('cc', { resource: [A, B], scope: 'a.read' });
      assert.deepEqual((await introspect(String(two.json?.access_token))).aud, [A, B]);
    });

    it('JWT access tokens carry aud = the resource(s), and introspection says the same', async () => {
      const res = await cc('jwt', { resource: A });
      assert.equal(res.status, 200, res.text);
      const token = String(res.json?.access_token);
      assert.equal(decodeJwt(token).aud, A);
      assert.equal((await introspect(token)).aud, A);
      const both = await cc('jwt', { resource: [orders, A] });
      assert.deepEqual(decodeJwt(String(both.json?.access_token)).aud, [orders, A]);
    });
  });

  describe('a token for resource A refused at resource B', () => {
    it('at a hosted API: 401 invalid_token, token.wrong_resource, with the challenge of the API', async () => {
      for (const app of ['cc', 'jwt'] as const) {
        const forA = String((await cc(app, { resource: A, scope: 'a.read' })).json?.access_token);
        const res = await apiCall(server.url, { path: '/api/acme/orders/1', bearer: forA });
        const refusal = await assertApiRefusal(server.latchkey.storage, res, { status: 401, reason: 'token.wrong_resource', error: 'invalid_token', wwwAuthenticate: apiChallenge('/api/acme/orders', { error: 'invalid_token', scopes: ['orders.read'], description: 'The access token was issued for another resource.' }) });
        assert.deepEqual(refusal.facts?.tokenAudience, [A]);
        assert.equal(refusal.facts?.expectedAudience, orders);
        // The explanation names the fix.
        assert.match(refusal.hint ?? '', /aud https:\/\/a\.example\.test\/api; this resource is http:\/\/127\.0\.0\.1:\d+\/api\/acme\/orders/);
      }
    });

    it('a token for a hosted API is accepted there (canonical and versioned paths) and refused at another API', async () => {
      for (const app of ['cc', 'jwt'] as const) {
        const forOrders = String((await cc(app, { resource: orders, scope: 'orders.read' })).json?.access_token);
        assert.equal((await apiCall(server.url, { path: '/api/acme/orders/1', bearer: forOrders })).status, 200);
        assert.equal((await apiCall(server.url, { path: '/api/acme/v1/orders/1', bearer: forOrders })).status, 200);
        await assertApiRefusal(server.latchkey.storage, await apiCall(server.url, { path: '/api/test/echo', bearer: forOrders }), { status: 401, reason: 'token.wrong_resource' });
      }
      const forV1 = String((await cc('cc', { resource: ordersV1, scope: 'orders.read' })).json?.access_token);
      assert.equal((await apiCall(server.url, { path: '/api/acme/orders/1', bearer: forV1 })).status, 200, 'any identifier of the API names it');
      const forEcho = String((await cc('cc', { resource: echo })).json?.access_token);
      assert.equal((await apiCall(server.url, { path: '/api/test/echo', bearer: forEcho })).status, 200);
    });

    it('at a service behind the middleware (resource option): opaque via introspection aud, JWT via aud, with the reason', async () => {
      const auth = latchkeyExpress({ issuer: server.url, resource: A, introspection: { clientId: fx.apps.rs.clientId, clientSecret: fx.apps.rs.secret }, cacheTtlMs: 0 });
      const app = express();
      app.get('/api/things', auth.require('a.read'), (req, res) => void res.json({ aud: req.latchkey?.claims.aud }));
      const http = app.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => http.once('listening', () => resolve()));
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/api/things`;
      try {
        const call = async (token: string) => {
          const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
          return { status: res.status, www: res.headers.get('www-authenticate'), json: (await res.json()) as Record<string, unknown> };
        };
        for (const format of ['cc', 'jwt'] as const) {
          const forA = String((await cc(format, { resource: A, scope: 'a.read' })).json?.access_token);
          const ok = await call(forA);
          assert.equal(ok.status, 200, JSON.stringify(ok.json));
          const forB = String((await cc(format, { resource: B, scope: 'a.read' })).json?.access_token);
          const no = await call(forB);
          assert.equal(no.status, 401, JSON.stringify(no.json));
          assert.equal(no.json.error, 'invalid_token');
          assert.equal(no.json.reason, 'token.wrong_resource');
          assert.match(String(no.json.error_description), /issued for https:\/\/b\.example\.test, not for this resource/);
          assert.match(no.www ?? '', /^Bearer realm="[^"]+", error="invalid_token"/);
          // The challenge names this service's metadata (RFC 9728 §5.1), at the path-inserted URL of its identifier.
          assert.match(no.www ?? '', /resource_metadata="https:\/\/a\.example\.test\/\.well-known\/oauth-protected-resource\/api"/);
        }
      } finally {
        await new Promise<void>((resolve) => http.close(() => resolve()));
      }
    });

    it('latchkey inspect shows the audience and which APIs refuse the token (token.wrong_resource)', async () => {
      const forA = String((await cc('cc', { resource: A, scope: 'a.read' })).json?.access_token);
      const inspected = await inspectToken(server.latchkey, forA);
      assert.equal(inspected.valid, true, inspected.explanation ?? '');
      assert.deepEqual(inspected.audience, [A]);
      const orderRoutes = inspected.apis.filter((a) => a.namespace === 'acme' && a.id === 'orders' && a.reason !== null && a.path !== '/api/acme/orders/health/check');
      assert.ok(orderRoutes.length > 0 && orderRoutes.every((a) => a.reason === 'token.wrong_resource'), JSON.stringify(orderRoutes));
      const forOrders = String((await cc('cc', { resource: orders, scope: 'orders.read' })).json?.access_token);
      const ok = await inspectToken(server.latchkey, forOrders);
      assert.deepEqual(ok.audience, [orders]);
      assert.ok(ok.apis.some((a) => a.id === 'orders' && a.method === 'GET' && a.accepted));
      assert.ok(ok.apis.some((a) => a.id === 'echo' && a.reason === 'token.wrong_resource'));
    });

    it('the admin API refuses a token issued for a resource', async () => {
      const forOrders = String((await cc('cc', { resource: orders, scope: 'orders.read' })).json?.access_token);
      const res = await fetch(`${server.url}/admin/api/v1/applications`, { headers: { authorization: `Bearer ${forOrders}` } });
      assert.equal(res.status, 401);
    });
  });

  describe('binding from the authorization request to the token request', () => {
    function authorizeUrl(resources: readonly string[], challenge: string, scope?: string): string {
      const p = new URLSearchParams({ response_type: 'code', client_id: code.confidential.clientId, redirect_uri: FIXTURE_REDIRECT_URI, state: 'ri-state', code_challenge: challenge, code_challenge_method: 'S256' });
      if (scope !== undefined) p.set('scope', scope);
      for (const r of resources) p.append('resource', r);
      return `${server.url}/oauth/authorize?${p.toString()}`;
    }

    async function codeFor(resources: readonly string[], scope?: string): Promise<{ code: string; verifier: string }> {
      const { verifier, challenge } = pkcePair();
      const answer = await authorizeInBrowser(new Browser(server.url), authorizeUrl(resources, challenge, scope), { username: code.user, password: code.password });
      const issued = new URL(answer.location ?? '').searchParams.get('code');
      assert.ok(issued !== null, answer.location);
      return { code: issued, verifier };
    }

    function redeem(c: { code: string; verifier: string }, resources: readonly string[] = []): Promise<TokenResponse> {
      return tokenRequest(server.url, {
        form: { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: FIXTURE_REDIRECT_URI, ...(resources.length === 0 ? {} : { resource: resources }) },
        basic: [code.confidential.clientId, code.confidential.secret],
      });
    }

    function refresh(token: string, resources: readonly string[] = []): Promise<TokenResponse> {
      return tokenRequest(server.url, {
        form: { grant_type: 'refresh_token', refresh_token: token, ...(resources.length === 0 ? {} : { resource: resources }) },
        basic: [code.confidential.clientId, code.confidential.secret],
      });
    }

    it('the code keeps its resources: the token request may name them or fewer; a refresh may narrow, never widen', async () => {
      const c = await codeFor([orders, A]);
      const res = await redeem(c, [A]);
      assert.equal(res.status, 200, res.text);
      assert.equal((await introspect(String(res.json?.access_token))).aud, A);
      assert.equal(res.json?.scope, 'a.read', 'the scopes the resource named accepts');
      const refreshToken = String(res.json?.refresh_token);
      // The refresh token keeps both resources: a refresh may name the other one.
      const narrowed = await refresh(refreshToken, [orders]);
      assert.equal(narrowed.status, 200, narrowed.text);
      assert.equal((await introspect(String(narrowed.json?.access_token))).aud, orders);
      assert.equal(narrowed.json?.scope, 'orders.read');
      const onOrders = await apiCall(server.url, { path: '/api/acme/orders/1', bearer: String(narrowed.json?.access_token) });
      assert.equal(onOrders.status, 200, onOrders.text);
      // Naming none: every resource of the grant.
      const all = await refresh(String(narrowed.json?.refresh_token));
      assert.equal(all.status, 200, all.text);
      assert.deepEqual((await introspect(String(all.json?.access_token))).aud, [orders, A]);
      // Widening is refused.
      const wider = await refresh(String(all.json?.refresh_token), [B]);
      await refused(wider, 400, 'invalid_target', 'resource.not_granted');
    });

    it('the consent page names the resources the token will be for', async () => {
      const browser = new Browser(server.url);
      const url = authorizeUrl([A, orders], pkcePair().challenge);
      let page = await browser.get(url);
      page = await browser.submit(url, formFor(page, 'sign_in'), { username: code.user, password: code.password });
      assert.equal(page.status, 200, page.text.slice(0, 300));
      assert.ok(page.text.includes(`<code>${A}</code>`) && page.text.includes(`<code>${orders}</code>`), page.text);
    });

    it('a token request naming a resource the code was not issued for is refused: resource.not_granted', async () => {
      const c = await codeFor([A]);
      await refused(await redeem(c, [B]), 400, 'invalid_target', 'resource.not_granted');
      const none = await codeFor([]);
      const res = await redeem(none, [A]);
      await refused(res, 400, 'invalid_target', 'resource.not_granted');
      assert.match(String(res.json?.error_description), /authorized without a resource/);
    });

    it('a code without resources gives a token without a resource audience (as before)', async () => {
      const res = await redeem(await codeFor([]));
      assert.equal(res.status, 200, res.text);
      assert.equal((await introspect(String(res.json?.access_token))).aud, server.url);
    });

    it('at the authorization endpoint, resource errors go back to the client (invalid_target, invalid_scope)', async () => {
      const browser = new Browser(server.url);
      const cases: [readonly string[], string | undefined, string, string][] = [
        [['https://a.example.test/api#frag'], undefined, 'invalid_target', 'resource.invalid'],
        [['https://nowhere.example.test'], undefined, 'invalid_target', 'resource.unknown'],
        [[A], 'orders.read', 'invalid_scope', 'resource.scope_not_accepted'],
      ];
      for (const [resources, scope, error, reason] of cases) {
        const page = await browser.get(authorizeUrl(resources, pkcePair().challenge, scope));
        const { requestId } = assertErrorRedirect(page, error, 'ri-state');
        assert.equal((await server.latchkey.storage.refusals.byRequestId(requestId))?.reason, reason);
      }
      await updateApplication(registryDeps(server), code.confidential.clientId, { resources: [orders] });
      await refreshCache(server);
      try {
        const page = await browser.get(authorizeUrl([A], pkcePair().challenge));
        const { requestId } = assertErrorRedirect(page, 'invalid_target', 'ri-state');
        assert.equal((await server.latchkey.storage.refusals.byRequestId(requestId))?.reason, 'resource.not_allowed');
      } finally {
        await updateApplication(registryDeps(server), code.confidential.clientId, { resources: null });
        await refreshCache(server);
      }
    });
  });

  it('registered resources are live: added and removed without a restart', async () => {
    const C = 'https://c.example.test/mcp';
    await refused(await cc('cc', { resource: C }), 400, 'invalid_target', 'resource.unknown');
    await addResource(registryDeps(server), { uri: C, scopes: ['a.read'] });
    await refreshCache(server);
    const res = await cc('cc', { resource: C });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json?.scope, 'a.read');
    await removeResource(registryDeps(server), C);
    await refreshCache(server);
    await refused(await cc('cc', { resource: C }), 400, 'invalid_target', 'resource.unknown');
  });
});

describe('resource indicators in configuration as code', () => {
  it('exports registered resources and the application limit, and applies them to another instance (and prunes)', async () => {
    const { createMemoryStorage } = await import('../src/storage/memory/adapter.js');
    const { exportRegistry } = await import('../src/config-as-code/snapshot.js');
    const { planApply, executePlan } = await import('../src/config-as-code/apply.js');
    const { createApplication } = await import('../src/registry/applications.js');
    const { BUILT_IN_GRANTS } = await import('../src/grants/index.js');
    const { registryDocumentSchema } = await import('../src/config-as-code/document.js');
    const clock = { now: () => 1_700_000_000_000 };
    const source = createMemoryStorage();
    const target = createMemoryStorage();
    const deps = (storage: typeof source) => ({ storage, clock, grants: BUILT_IN_GRANTS, actor: 'test' });
    await addResource(deps(source), { uri: 'https://Svc.Example.Test/api/', name: 'Svc', scopes: ['b', 'a'] });
    await createApplication(deps(source), { name: 'Limited', grantTypes: ['client_credentials'], resources: ['https://svc.example.test/api'] });
    const doc = await exportRegistry(source);
    assert.deepEqual(doc.resources, [{ uri: 'https://svc.example.test/api', name: 'Svc', description: '', scopes: ['a', 'b'] }]);
    assert.deepEqual(doc.applications.find((a) => a.name === 'Limited')?.resources, ['https://svc.example.test/api']);
    const parsed = registryDocumentSchema.parse(JSON.parse(JSON.stringify(doc)));
    const plan = await planApply(deps(target), parsed, { prune: false });
    assert.ok(plan.changes.some((c) => c.kind === 'resource' && c.action === 'create' && c.name === 'https://svc.example.test/api'), JSON.stringify(plan.changes));
    await executePlan(deps(target), plan);
    assert.deepEqual((await target.resources.list()).map((r) => [r.uri, r.scopes]), [['https://svc.example.test/api', ['a', 'b']]]);
    assert.deepEqual((await target.applications.list()).find((a) => a.name === 'Limited')?.resources, ['https://svc.example.test/api']);
    // Applied again: nothing to do. Without the resource, --prune removes it.
    assert.deepEqual((await planApply(deps(target), parsed, { prune: false })).changes, []);
    const pruned = await planApply(deps(target), { ...parsed, resources: [], applications: parsed.applications.map((a) => ({ ...a, resources: null })) }, { prune: true });
    await executePlan(deps(target), pruned);
    assert.deepEqual(await target.resources.list(), []);
  });
});

describe('resource indicators in the admin API', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
  });
  after(async () => server?.close());

  it('lists hosted and registered resources; adds, updates and removes registered ones; sets an application limit; documents the routes', async () => {
    const { adminToken, bearerClient } = await import('./helpers/admin.js');
    const admin = bearerClient(server, await adminToken(server));
    const created = await admin.call('POST', '/resources', { uri: 'https://Ext.Example.Test/api/', name: 'Ext', scopes: ['x.read'] });
    assert.equal(created.status, 201, created.text);
    assert.equal(created.json.uri, 'https://ext.example.test/api');
    const hosted = await admin.call('POST', '/resources', { uri: `${server.url}/api/acme/orders` });
    assert.equal(hosted.status, 409, hosted.text);
    assert.equal((await admin.call('POST', '/resources', { uri: 'https://ext.example.test/api#x' })).status, 400);
    const listed = await admin.call('GET', '/resources');
    assert.equal(listed.status, 200, listed.text);
    const rows = listed.json as { uri: string; kind: string; scopes: string[] }[];
    assert.ok(rows.some((r) => r.uri === `${server.url}/api/acme/orders` && r.kind === 'api' && r.scopes.includes('orders.read')));
    assert.ok(rows.some((r) => r.uri === 'https://ext.example.test/api' && r.kind === 'external'));
    const path = `/resources/${encodeURIComponent('https://ext.example.test/api')}`;
    const updated = await admin.call('PUT', path, { scopes: ['x.read', 'x.write'] });
    assert.equal(updated.status, 200, updated.text);
    assert.deepEqual(updated.json.scopes, ['x.read', 'x.write']);
    const app = await admin.call('POST', '/applications', { name: 'Limited via admin API', kind: 'client_credentials', resources: ['https://EXT.example.test/api'] });
    assert.equal(app.status, 201, app.text);
    assert.deepEqual(app.json.application.resources, ['https://ext.example.test/api']);
    const cleared = await admin.call('PATCH', `/applications/${app.json.application.clientId}`, { resources: null });
    assert.equal(cleared.status, 200, cleared.text);
    assert.equal(cleared.json.application.resources, null);
    assert.equal((await admin.call('DELETE', path)).status, 200);
    assert.equal((await admin.call('DELETE', path)).status, 404);
    const openapi = await admin.call('GET', '/admin/api/openapi.json');
    assert.ok(openapi.json.paths['/admin/api/v1/resources'] !== undefined && openapi.json.paths['/admin/api/v1/resources/{uri}'] !== undefined, Object.keys(openapi.json.paths).join(' '));
  });
});
