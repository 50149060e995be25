import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createApplication, updateApplication } from '../src/registry/applications.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser, updateUser } from '../src/registry/users.js';
import { apiCall, apiChallenge, assertApiRefusal, assertFailure, assertNoStack, basicUserHeader, challengeParams, FIXTURE_APIS, resultOf, type ApiCall, type ApiReply } from './helpers/api.js';
import { buildFixture, CC_PROPERTY as CC } from './helpers/fixture.js';
import { ManualClock, refreshCache, registryDeps, storedTokenKey, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const LOCKOUT = 'latchkey.password.lockout.threshold';
const PW = 'api-test-Passw0rd';
const ADMIN_PW = 'admin-password-for-tests'; // test/helpers/server.ts bootstraps the admin with it
// The challenges of the fixture APIs (RFC 6750 §3 with RFC 9728 resource_metadata): none of these routes needs a scope.
const ECHO = apiChallenge('/api/test/echo');
const REPORTS = apiChallenge('/api/acme/reports', { basic: true });
const ECHO_INVALID = apiChallenge('/api/test/echo', { error: 'invalid_token' });

type App = { clientId: string; secret: string; name: string };

describe('REST APIs over HTTP with tokens from the real token endpoint', () => {
  const clock = new ManualClock();
  let server: TestServer;
  const apps: Record<string, App> = {};

  const call = (c: ApiCall) => apiCall(server.url, c);
  const deps = () => registryDeps(server, clock);
  const refused = (res: ApiReply, expected: Parameters<typeof assertApiRefusal>[2]) => assertApiRefusal(server.latchkey.storage, res, expected);

  async function token(app: string, form: Record<string, string>): Promise<{ access: string; refresh: string | undefined }> {
    const a = apps[app]!;
    const r = await tokenRequest(server.url, { form, basic: [a.clientId, a.secret] });
    assert.equal(r.status, 200, r.text);
    return { access: String(r.json?.access_token), refresh: typeof r.json?.refresh_token === 'string' ? r.json.refresh_token : undefined };
  }
  const cc = async (app: string, scope?: string) => (await token(app, { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) })).access;
  const pw = async (app: string, username: string, password: string, scope?: string) =>
    (await token(app, { grant_type: 'password', username, password, ...(scope === undefined ? {} : { scope }) })).access;

  before(async () => {
    server = await startTestServer({ clock, apisDir: FIXTURE_APIS });
    const built = await buildFixture(
      server,
      {
        scopes: ['orders.read', 'orders.write'],
        users: [
          { userName: 'svc-orders', roles: ['itil'] },
          { userName: 'svc-plain' },
          { userName: 'svc-temp', roles: ['itil'] },
          { userName: 'alice', password: PW, roles: ['itil', 'catalog'] },
          { userName: 'bob', password: PW },
          { userName: 'carol', password: PW },
          { userName: 'dave', password: PW },
          { userName: 'erin', password: PW, active: false },
        ],
        properties: { [CC]: 'true' },
        apps: {
          reader: { name: 'Orders reader', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read', 'orders.write'] },
          plain: { name: 'No roles', grantTypes: ['client_credentials'], appUser: 'svc-plain', scopes: ['orders.read'] },
          portal: { name: 'Portal', grantTypes: ['password'], scopes: ['orders.read', 'orders.write', 'useraccount'] },
          short: { name: 'Short lived', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read'], accessTokenLifespan: 60 },
          doomed: { name: 'To be deactivated', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read'] },
          temp: { name: 'Temp user app', grantTypes: ['client_credentials'], appUser: 'svc-temp', scopes: ['orders.read'] },
          shrinking: { name: 'Shrinking', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read', 'orders.write'] },
        },
      },
      clock,
    );
    Object.assign(apps, built.apps);
  });
  after(async () => server.close());

  describe('the handler sees who is calling', () => {
    it('a client-credentials token acts as the application user, with the application and the scopes in effect', async () => {
      const t = await cc('reader', 'orders.read');
      const r = resultOf(await call({ path: '/api/test/echo', bearer: t }));
      assert.equal(r.method, 'GET');
      assert.equal(r.path, '/api/test/echo');
      assert.deepEqual(r.caller.application, { clientId: apps.reader!.clientId, name: 'Orders reader' });
      assert.equal(r.caller.authenticated, true);
      assert.equal(r.caller.method, 'bearer');
      assert.equal(r.caller.user.name, 'svc-orders');
      assert.deepEqual(r.caller.user.roles, ['itil']);
      assert.match(r.caller.user.id, /\S/);
      assert.deepEqual(r.caller.scopes, ['orders.read']);
      assert.match(r.requestId, /^[0-9a-f-]{36}$/);
      // Without a scope parameter the token gets the application's scopes.
      const all = resultOf(await call({ path: '/api/test/echo', bearer: await cc('reader') }));
      assert.deepEqual([...all.caller.scopes].sort(), ['orders.read', 'orders.write']);
    });

    it('a password-grant token acts as the resource owner', async () => {
      const t = await pw('portal', 'alice', PW, 'orders.write');
      const r = resultOf(await call({ method: 'POST', path: '/api/test/echo', bearer: t, json: { hello: 'world' } }));
      assert.equal(r.method, 'POST');
      assert.equal(r.caller.method, 'bearer');
      assert.equal(r.caller.user.name, 'alice');
      assert.deepEqual([...r.caller.user.roles].sort(), ['catalog', 'itil']);
      assert.deepEqual(r.caller.application, { clientId: apps.portal!.clientId, name: 'Portal' });
      assert.deepEqual(r.caller.scopes, ['orders.write']);
      assert.deepEqual(r.body, { hello: 'world' });
      // The same identity through another API (the .mjs one that also takes Basic).
      const rep = resultOf(await call({ path: '/api/acme/reports', bearer: t }));
      assert.deepEqual(rep, { method: 'bearer', user: 'alice', application: { clientId: apps.portal!.clientId, name: 'Portal' }, scopes: ['orders.write'] });
    });
  });

  describe('routing, parameters and bodies', () => {
    let t: string;
    before(async () => {
      t = await cc('reader');
    });

    it('matches path parameters, decoding percent-encoded segments', async () => {
      const r = resultOf(await call({ path: '/api/test/echo/items/42', bearer: t }));
      assert.equal(r.route, '/items/{id}');
      assert.deepEqual(r.params, { id: '42' });
      const enc = resultOf(await call({ path: `/api/test/echo/items/${encodeURIComponent('a b/ü?#')}`, bearer: t }));
      assert.deepEqual(enc.params, { id: 'a b/ü?#' });
      const nested = resultOf(await call({ path: '/api/test/echo/user/u1/orders/o-9', bearer: t }));
      assert.deepEqual(nested, { route: '/user/{id}/orders/{orderId}', params: { id: 'u1', orderId: 'o-9' } });
      // A trailing slash is the same resource.
      assert.deepEqual(resultOf(await call({ path: '/api/test/echo/items/7/', bearer: t })).params, { id: '7' });
    });

    it('prefers a literal route to a parameter route (/user/me vs /user/{id})', async () => {
      assert.deepEqual(resultOf(await call({ path: '/api/test/echo/user/me', bearer: t })), { route: '/user/me', user: 'svc-orders' });
      assert.deepEqual(resultOf(await call({ path: '/api/test/echo/user/%6De', bearer: t })), { route: '/user/me', user: 'svc-orders' });
      assert.deepEqual(resultOf(await call({ path: '/api/test/echo/user/mel', bearer: t })), { route: '/user/{id}', id: 'mel' });
      assert.deepEqual(resultOf(await call({ path: '/api/test/echo/user/123', bearer: t })), { route: '/user/{id}', id: '123' });
    });

    it('hands query values over as arrays', async () => {
      const r = resultOf(await call({ path: '/api/test/echo/items/1?tag=a&tag=b&x=1&empty=&sp=a%20b&plus=a+b', bearer: t }));
      assert.deepEqual(r.query, { tag: ['a', 'b'], x: ['1'], empty: [''], sp: ['a b'], plus: ['a b'] });
      assert.deepEqual(resultOf(await call({ path: '/api/test/echo', bearer: t })).query, {});
    });

    it('parses JSON and form bodies and passes other bodies through raw', async () => {
      const json = resultOf(await call({ method: 'PUT', path: '/api/test/echo', bearer: t, json: { a: [1, 2], b: { c: null }, u: 'ü' } }));
      assert.equal(json.method, 'PUT');
      assert.deepEqual(json.body, { a: [1, 2], b: { c: null }, u: 'ü' });
      const vendor = resultOf(await call({ method: 'PATCH', path: '/api/test/echo', bearer: t, body: '[1,"x"]', contentType: 'application/merge-patch+json' }));
      assert.deepEqual(vendor.body, [1, 'x']);
      const form = resultOf(await call({ method: 'POST', path: '/api/test/echo', bearer: t, form: { a: ['1', '2'], b: 'x y', c: '' } }));
      assert.deepEqual(form.body, { a: ['1', '2'], b: ['x y'], c: [''] });
      assert.equal(form.contentType, 'application/x-www-form-urlencoded');
      const raw = resultOf(await call({ method: 'POST', path: '/api/test/echo', bearer: t, body: 'plain <text> & more', contentType: 'text/plain' }));
      assert.equal(raw.body, 'plain <text> & more');
      const xml = resultOf(await call({ method: 'POST', path: '/api/test/echo', bearer: t, body: '<a>1</a>', contentType: 'application/xml; charset=utf-8' }));
      assert.equal(xml.body, '<a>1</a>');
      const untyped = resultOf(await call({ method: 'POST', path: '/api/test/echo', bearer: t, body: 'no type', contentType: null }));
      assert.equal(untyped.body, 'no type');
      const none = resultOf(await call({ method: 'POST', path: '/api/test/echo', bearer: t }));
      assert.equal(none.body, undefined);
    });

    it('answers a body that is not valid JSON with 400 in the platform shape', async () => {
      assertFailure(await call({ method: 'POST', path: '/api/test/echo', bearer: t, body: '{"a":', contentType: 'application/json' }), 400, 'The request body is not valid JSON.');
    });

    it('sends the status, headers and body types the handler chose', async () => {
      const created = await call({ method: 'POST', path: '/api/test/echo/created', bearer: t, json: { name: 'n' } });
      assert.deepEqual(resultOf(created, 201), { created: true, body: { name: 'n' } });
      assert.equal(created.headers.get('location'), '/api/test/echo/items/42');
      assert.equal(created.headers.get('x-fixture'), 'echo');
      assert.equal(created.headers.get('cache-control'), 'no-store');
      const csv = await call({ path: '/api/test/echo/text', bearer: t });
      assert.equal(csv.status, 200);
      assert.equal(csv.headers.get('content-type'), 'text/csv; charset=utf-8');
      assert.equal(csv.text, 'id,name\n1,one\n');
      const plain = await call({ path: '/api/test/echo/plain', bearer: t });
      assert.equal(plain.headers.get('content-type'), 'text/plain; charset=utf-8');
      assert.equal(plain.text, 'just text');
      const deleted = await call({ method: 'DELETE', path: '/api/test/echo/items/3', bearer: t });
      assert.equal(deleted.status, 204);
      assert.equal(deleted.text, '');
    });

    it('serves every version, and the default version without one', async () => {
      for (const v of ['/v1', '/v2', '']) {
        const r = resultOf(await call({ path: `/api/acme${v}/orders/7`, bearer: t }));
        assert.equal(r.id, '7');
        assert.equal(r.path, `/api/acme${v}/orders/7`);
        assert.deepEqual(resultOf(await call({ path: `/api/acme${v}/orders`, bearer: t })).orders, ['1', '2']);
      }
      assertFailure(await call({ path: '/api/acme/v3/orders/7', bearer: t }), 404);
      // The id is not a version, and an unversioned API has only v1.
      assertFailure(await call({ path: '/api/test/v2/echo', bearer: t }), 404);
      resultOf(await call({ path: '/api/test/v1/echo', bearer: t }));
    });

    it('turns an ApiError into its status in the platform shape (TypeScript and .mjs modules)', async () => {
      const ts = await call({ path: '/api/test/echo/conflict', bearer: t });
      assertFailure(ts, 409, 'The record is locked');
      assert.equal(ts.json.error.detail, 'Record 7 is being edited by another user.');
      const versioned = await call({ method: 'POST', path: '/api/acme/v1/orders/9/lock', bearer: t });
      assertFailure(versioned, 409, 'Order 9 is already locked');
      assert.equal(versioned.json.error.detail, 'Unlock it first.');
      const mjs = await call({ method: 'POST', path: '/api/acme/desk/tickets/INC1/close', bearer: t });
      assertFailure(mjs, 409, 'Ticket INC1 is already closed');
      assert.equal(mjs.json.error.detail, 'Reopen it first.');
    });

    it('answers a handler that throws with 500 in the platform shape, without the message or a stack', async () => {
      for (const path of ['/api/test/echo/boom', '/api/acme/desk/boom']) {
        const r = await call({ path, bearer: t });
        assertFailure(r, 500, 'Internal error in the API handler');
        assert.equal(r.json.error.detail, `Quote request id ${r.requestId}.`);
        assertNoStack(r.text);
        // A failing handler is not a refusal: nothing for `latchkey explain`.
        assert.equal(await server.latchkey.storage.refusals.byRequestId(r.requestId), undefined);
      }
    });

    it('answers unknown paths with 404 and a wrong method with 405 and Allow, in the platform shape', async () => {
      for (const path of ['/api/nope/x', '/api/test/nope', '/api/test/echo/items', '/api/test/echo/items/1/2', '/api/acme/v1', '/api/test/echo/user/me/x', '/api/test//echo']) {
        const r = await call({ path, bearer: t });
        assertFailure(r, 404, 'Requested URI does not represent any resource');
      }
      const r = await call({ method: 'DELETE', path: '/api/test/echo', bearer: t });
      assertFailure(r, 405, 'Method not supported for this resource');
      assert.equal(r.headers.get('allow'), 'GET, POST, PUT, PATCH');
      const one = await call({ method: 'POST', path: '/api/acme/reports', bearer: t });
      assertFailure(one, 405);
      assert.equal(one.headers.get('allow'), 'GET');
      // Routing comes first: a wrong method is 405 even without credentials.
      assertFailure(await call({ method: 'PATCH', path: '/api/acme/reports' }), 405);
    });

    it('answers HEAD like GET, without a body', async () => {
      const r = await call({ method: 'HEAD', path: '/api/test/echo/items/5', bearer: t });
      assert.equal(r.status, 200);
      assert.equal(r.text, '');
      assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
    });

    it(
      'answers a path with bad percent-encoding with 400 in the platform shape',
      async () => {
        for (const path of ['/api/test/echo/items/%zz', '/api/test/echo/items/%E0%A4%A', '/api/%ff/x', '/api/test/echo/items/%']) {
          assertFailure(await call({ path, bearer: t }), 400);
        }
      },
    );

    it('refuses bad percent-encoding with a 400 (whatever the shape) and never a 5xx', async () => {
      for (const path of ['/api/test/echo/items/%zz', '/api/test/echo/items/%E0%A4%A', '/api/%ff/x', '/api/test/echo/items/%']) {
        const r = await call({ path, bearer: t });
        assert.equal(r.status, 400, `${path}: ${r.text}`);
        assertNoStack(r.text);
      }
    });

    it('lets anyone call an API or resource that does not require authentication, and applies resource-level overrides', async () => {
      assert.deepEqual(resultOf(await call({ path: '/api/acme/status' })), { up: true, authenticated: false, method: 'none' });
      assert.deepEqual(resultOf(await call({ method: 'POST', path: '/api/acme/status', json: { n: 1 } })), { received: { n: 1 } });
      // The API is open; its /private resource overrides that.
      await refused(await call({ path: '/api/acme/status/private' }), { status: 401, reason: 'api.credentials_missing', endpoint: 'api acme/status', wwwAuthenticate: apiChallenge('/api/acme/status') });
      assert.deepEqual(resultOf(await call({ path: '/api/acme/status/private', bearer: t })), { user: 'svc-orders' });
      // The orders API needs orders.read; its health check overrides that.
      assert.deepEqual(resultOf(await call({ path: '/api/acme/orders/health/check' })), { ok: true, authenticated: false });
      assert.deepEqual(resultOf(await call({ path: '/api/acme/v1/orders/health/check' })), { ok: true, authenticated: false });
      // PUT overrides the API's scope with orders.write.
      const readOnly = await cc('reader', 'orders.read');
      const r = await refused(await call({ method: 'PUT', path: '/api/acme/orders/7', bearer: readOnly, json: { x: 1 } }), { status: 403, reason: 'api.scope_missing', error: 'insufficient_scope' });
      assert.equal(r.clientId, apps.reader!.clientId);
      const write = await cc('reader', 'orders.write');
      assert.deepEqual(resultOf(await call({ method: 'PUT', path: '/api/acme/orders/7', bearer: write, json: { x: 1 } })), { id: '7', updated: { x: 1 } });
      // ...and orders.write alone does not satisfy the API-level orders.read.
      await refused(await call({ path: '/api/acme/orders/7', bearer: write }), { status: 403, reason: 'api.scope_missing' });
    });
  });

  describe('refusals: 401 invalid or missing credentials', () => {
    it('no credentials: 401 with a bare challenge (no error attribute, RFC 6750 §3.1)', async () => {
      const r = await call({ path: '/api/test/echo' });
      const refusal = await refused(r, { status: 401, reason: 'api.credentials_missing', endpoint: 'api test/echo', wwwAuthenticate: ECHO });
      assert.equal(refusal.remoteAddress, '127.0.0.1');
      assert.doesNotMatch(r.headers.get('www-authenticate') ?? '', /error=/);
      // An API that also accepts Basic challenges for both.
      await refused(await call({ path: '/api/acme/reports' }), { status: 401, reason: 'api.credentials_missing', wwwAuthenticate: REPORTS });
      // POST with a body but no credentials.
      await refused(await call({ method: 'POST', path: '/api/test/echo', json: { a: 1 } }), { status: 401, reason: 'api.credentials_missing', wwwAuthenticate: ECHO });
    });

    it('a well-formed token from another instance: 401 invalid_token', async () => {
      const other = await startTestServer({ apisDir: FIXTURE_APIS });
      try {
        const od = registryDeps(other);
        await createUser(od, { userName: 'svc-orders', roles: ['itil'] });
        await setProperty(od, CC, 'true');
        const app = await createApplication(od, { name: 'Orders reader', grantTypes: ['client_credentials'], appUser: 'svc-orders' });
        await refreshCache(other);
        const res = await tokenRequest(other.url, { form: { grant_type: 'client_credentials' }, basic: [app.application.clientId, app.clientSecret ?? ''] });
        assert.equal(res.status, 200, res.text);
        const foreign = String(res.json?.access_token);
        assert.match(foreign, /^lk_at_/);
        // It works where it was issued...
        assert.equal(resultOf(await apiCall(other.url, { path: '/api/test/echo', bearer: foreign })).caller.user.name, 'svc-orders');
        // ...and not here.
        const r = await call({ path: '/api/test/echo', bearer: foreign });
        await refused(r, { status: 401, reason: 'token.unknown', error: 'invalid_token' });
        const ch = challengeParams(r.headers.get('www-authenticate'));
        assert.equal(ch.scheme, 'Bearer');
        assert.equal(ch.params.realm, 'latchkey');
        assert.equal(ch.params.error, 'invalid_token');
        assert.equal(ch.params.error_description, r.json.error.message);
      } finally {
        await other.close();
      }
      // Made-up tokens of every shape are unknown too.
      for (const fake of [`lk_at_${randomBytes(32).toString('base64url')}`, 'abc', 'eyJhbGciOiJub25lIn0.e30.', 'a'.repeat(300)]) {
        await refused(await call({ path: '/api/test/echo', bearer: fake }), { status: 401, reason: 'token.unknown', wwwAuthenticate: apiChallenge('/api/test/echo', { error: 'invalid_token', description: 'The access token is not valid on this instance.' }) });
      }
    });

    it('a refresh token sent as a bearer token: 401 invalid_token', async () => {
      const { refresh } = await token('portal', { grant_type: 'password', username: 'alice', password: PW });
      assert.ok(refresh !== undefined);
      await refused(await call({ path: '/api/test/echo', bearer: refresh }), { status: 401, reason: 'token.not_access_token', wwwAuthenticate: ECHO_INVALID });
    });

    it('an expired token: 401 invalid_token (the clock moves, nothing else)', async () => {
      const t = await cc('short');
      clock.advance(59_000);
      resultOf(await call({ path: '/api/acme/orders/1', bearer: t }));
      clock.advance(1_001);
      const r = await call({ path: '/api/acme/orders/1', bearer: t });
      await refused(r, { status: 401, reason: 'token.expired', error: 'invalid_token', endpoint: 'api acme/orders', wwwAuthenticate: apiChallenge('/api/acme/orders', { error: 'invalid_token', scopes: ['orders.read'], description: 'The access token has expired.' }) });
    });

    it('a revoked token: 401 invalid_token', async () => {
      const t = await cc('reader');
      const other = await cc('reader');
      resultOf(await call({ path: '/api/test/echo', bearer: t }));
      assert.equal(await server.latchkey.storage.tokens.revoke(storedTokenKey(t), clock.now()), true);
      await refreshCache(server);
      await refused(await call({ path: '/api/test/echo', bearer: t }), { status: 401, reason: 'token.revoked', wwwAuthenticate: ECHO_INVALID });
      // Only that token.
      resultOf(await call({ path: '/api/test/echo', bearer: other }));
    });

    it('a token of an inactive application: 401 invalid_token', async () => {
      const t = await cc('doomed');
      resultOf(await call({ path: '/api/test/echo', bearer: t }));
      await updateApplication(deps(), apps.doomed!.clientId, { active: false });
      await refreshCache(server);
      await refused(await call({ path: '/api/test/echo', bearer: t }), { status: 401, reason: 'token.application_inactive', wwwAuthenticate: ECHO_INVALID });
      await updateApplication(deps(), apps.doomed!.clientId, { active: true });
      await refreshCache(server);
      resultOf(await call({ path: '/api/test/echo', bearer: t }));
    });

    it('a deactivated user: its tokens are revoked, 401 invalid_token (client credentials and password), and activating it again revives none', async () => {
      const t = await cc('temp');
      const p = await pw('portal', 'dave', PW);
      resultOf(await call({ path: '/api/test/echo', bearer: t }));
      resultOf(await call({ path: '/api/test/echo', bearer: p }));
      await updateUser(deps(), 'svc-temp', { active: false });
      await updateUser(deps(), 'dave', { active: false });
      await refreshCache(server);
      const r = await refused(await call({ path: '/api/test/echo', bearer: t }), { status: 401, reason: 'token.revoked', wwwAuthenticate: ECHO_INVALID });
      // The refusal record (for administrators, never the caller) names whose token it was.
      assert.equal(r.userName, 'svc-temp', 'the refusal names the token\'s user');
      await refused(await call({ path: '/api/test/echo', bearer: p }), { status: 401, reason: 'token.revoked' });
      await updateUser(deps(), 'svc-temp', { active: true });
      await updateUser(deps(), 'dave', { active: true });
      await refreshCache(server);
      await refused(await call({ path: '/api/test/echo', bearer: t }), { status: 401, reason: 'token.revoked' });
      resultOf(await call({ path: '/api/test/echo', bearer: await cc('temp') }));
    });
  });

  describe('refusals: 403 scope and role', () => {
    it('a token without the API scope: 403 insufficient_scope naming the scope', async () => {
      const t = await cc('reader', 'orders.write');
      const r = await call({ path: '/api/acme/orders/7', bearer: t });
      const refusal = await refused(r, { status: 403, reason: 'api.scope_missing', error: 'insufficient_scope', endpoint: 'api acme/orders' });
      const ch = challengeParams(r.headers.get('www-authenticate'));
      assert.equal(ch.scheme, 'Bearer');
      assert.equal(ch.params.realm, 'latchkey');
      assert.equal(ch.params.error, 'insufficient_scope');
      assert.equal(ch.params.scope, 'orders.read');
      assert.match(r.json.error.message, /orders\.read/);
      assert.equal(refusal.clientId, apps.reader!.clientId);
      assert.equal(refusal.applicationName, 'Orders reader');
      assert.equal(refusal.userName, 'svc-orders');
    });

    it('removing the scope from the application takes effect on tokens already issued', async () => {
      const t = await cc('shrinking', 'orders.read orders.write');
      assert.deepEqual(resultOf(await call({ path: '/api/acme/orders/1', bearer: t })).scopes, ['orders.read', 'orders.write']);
      await updateApplication(deps(), apps.shrinking!.clientId, { scopes: ['orders.write'] });
      await refreshCache(server);
      await refused(await call({ path: '/api/acme/orders/1', bearer: t }), { status: 403, reason: 'api.scope_missing', wwwAuthenticate: apiChallenge('/api/acme/orders', { error: 'insufficient_scope', scopes: ['orders.read'] }) });
      assert.deepEqual(resultOf(await call({ path: '/api/test/echo', bearer: t })).caller.scopes, ['orders.write']);
    });

    it('useraccount satisfies any scope', async () => {
      const t = await pw('portal', 'alice', PW, 'useraccount');
      assert.deepEqual(resultOf(await call({ path: '/api/acme/orders/3', bearer: t })).scopes, ['useraccount']);
      assert.equal(resultOf(await call({ method: 'PUT', path: '/api/acme/orders/3', bearer: t, json: 1 })).updated, 1);
    });

    it('Basic credentials are not restricted by auth scopes (they carry none)', async () => {
      // reports has no scope; the point is that caller.scopes is empty and nothing breaks.
      assert.deepEqual(resultOf(await call({ path: '/api/acme/reports', basic: ['alice', PW] })).scopes, []);
    });

    it('a user without the API role: 403 naming the role, no challenge', async () => {
      const t = await cc('plain');
      const r = await call({ path: '/api/acme/desk/tickets', bearer: t });
      const refusal = await refused(r, { status: 403, reason: 'api.role_missing', error: 'access_denied', endpoint: 'api acme/desk', wwwAuthenticate: null });
      assert.match(r.json.error.message, /itil/);
      assert.equal(refusal.userName, 'svc-plain');
      const bobToken = await pw('portal', 'bob', PW);
      await refused(await call({ path: '/api/acme/desk/tickets/INC7', bearer: bobToken }), { status: 403, reason: 'api.role_missing' });
      // With the role, it works.
      assert.deepEqual(resultOf(await call({ path: '/api/acme/desk/tickets', bearer: await cc('reader') })), { tickets: [], user: 'svc-orders', roles: ['itil'] });
    });

    it('the admin role satisfies any role', async () => {
      const t = await pw('portal', 'admin', ADMIN_PW);
      assert.deepEqual(resultOf(await call({ path: '/api/acme/desk/tickets', bearer: t })), { tickets: [], user: 'admin', roles: ['admin'] });
    });

    it('a user who gains the role is let in at once', async () => {
      const t = await pw('portal', 'bob', PW);
      await refused(await call({ path: '/api/acme/desk/tickets', bearer: t }), { status: 403, reason: 'api.role_missing' });
      await updateUser(deps(), 'bob', { roles: ['itil'] });
      await refreshCache(server);
      resultOf(await call({ path: '/api/acme/desk/tickets', bearer: t }));
      await updateUser(deps(), 'bob', { roles: [] });
      await refreshCache(server);
    });
  });

  describe('refusals: Basic user credentials', () => {
    it('Basic to a bearer-only API: 401, method not accepted, challenge for Bearer only', async () => {
      const r = await call({ path: '/api/test/echo', basic: ['alice', PW] });
      await refused(r, { status: 401, reason: 'api.method_not_accepted', endpoint: 'api test/echo', wwwAuthenticate: ECHO });
      assert.match(r.json.error.message, /does not accept Basic/);
    });

    it('Basic where the API opts in: the handler sees the user; a wrong password or user is 401', async () => {
      const ok = resultOf(await call({ path: '/api/acme/reports', basic: ['alice', PW] }));
      assert.deepEqual(ok, { method: 'basic', user: 'alice', application: null, scopes: [] });
      // The scheme name is case-insensitive for Basic too.
      assert.equal(resultOf(await call({ path: '/api/acme/reports', headers: { authorization: basicUserHeader('alice', PW).replace('Basic', 'basic') } })).user, 'alice');
      const wrong = await call({ path: '/api/acme/reports', basic: ['alice', 'not-the-password'] });
      const refusal = await refused(wrong, { status: 401, reason: 'api.basic_bad_credentials', endpoint: 'api acme/reports', wwwAuthenticate: REPORTS });
      assert.equal(refusal.userName, 'alice');
      await refused(await call({ path: '/api/acme/reports', basic: ['nobody-here', PW] }), { status: 401, reason: 'api.basic_bad_credentials' });
      // An inactive user with the right password: the same answer (the hint tells the administrator).
      const inactive = await refused(await call({ path: '/api/acme/reports', basic: ['erin', PW] }), { status: 401, reason: 'api.basic_bad_credentials' });
      assert.match(inactive.hint ?? '', /inactive/);
      // A user without a password cannot use Basic.
      await refused(await call({ path: '/api/acme/reports', basic: ['svc-orders', ''] }), { status: 401, reason: 'api.basic_bad_credentials' });
    });

    it('throttles a source after latchkey.password.lockout.threshold failures, shared with the password grant', async () => {
      await setProperty(deps(), LOCKOUT, '3');
      await refreshCache(server);
      try {
        for (let i = 0; i < 3; i++) await refused(await call({ path: '/api/acme/reports', basic: ['carol', `wrong-${i}-password`] }), { status: 401, reason: 'api.basic_bad_credentials' });
        // The right password is refused now from this source (it must wait 1 s), with the limit in the record.
        const lockedRes = await call({ path: '/api/acme/reports', basic: ['carol', PW] });
        const locked = await refused(lockedRes, { status: 401, reason: 'user.locked_out', wwwAuthenticate: REPORTS });
        assert.match(locked.hint ?? '', /Limit per user and source: 3 failed attempts for carol/);
        assert.equal(lockedRes.headers.get('retry-after'), '1');
        // The lockout is per user (alice is unaffected) and shared with the password grant.
        assert.equal(resultOf(await call({ path: '/api/acme/reports', basic: ['alice', PW] })).user, 'alice');
        const grant = await tokenRequest(server.url, { form: { grant_type: 'password', username: 'carol', password: PW }, basic: [apps.portal!.clientId, apps.portal!.secret] });
        assert.equal(grant.status, 400, grant.text);
        // After the window (900 s by default) the right password works again.
        clock.advance(901_000);
        assert.equal(resultOf(await call({ path: '/api/acme/reports', basic: ['carol', PW] })).user, 'carol');
      } finally {
        await setProperty(deps(), LOCKOUT, '5');
        await refreshCache(server);
      }
    });
  });

  describe('refusals: 400 malformed requests', () => {
    let t: string;
    before(async () => {
      t = await cc('reader');
    });

    for (const [label, value] of [
      ['Bearer with two tokens', 'Bearer abc def'],
      ['Bearer with no token', 'Bearer'],
      ['Bearer with a quoted token', 'Bearer "abc"'],
      ['Bearer with a comma', 'Bearer abc,def'],
    ] as const) {
      it(`${label}: 400`, async () => {
        const r = await call({ path: '/api/test/echo', headers: { authorization: value } });
        await refused(r, { status: 400, reason: 'api.malformed_authorization', error: 'invalid_request', wwwAuthenticate: null });
        assert.match(r.json.error.message, /Bearer followed by one token/);
      });
    }

    it('two valid-looking tokens, one of them real: 400, not 200', async () => {
      await refused(await call({ path: '/api/test/echo', headers: { authorization: `Bearer ${t} ${t}` } }), { status: 400, reason: 'api.malformed_authorization' });
    });

    it('Basic that is not base64 user:password (where Basic is accepted): 400', async () => {
      for (const value of ['Basic !!!', 'Basic', `Basic ${Buffer.from('no-colon').toString('base64')}`, `Basic ${Buffer.from(':pw').toString('base64')}`]) {
        await refused(await call({ path: '/api/acme/reports', headers: { authorization: value } }), { status: 400, reason: 'api.malformed_authorization' });
      }
    });

    it('an unsupported scheme: 401 with the challenge', async () => {
      await refused(await call({ path: '/api/test/echo', headers: { authorization: 'Digest username="x"' } }), { status: 401, reason: 'api.malformed_authorization', wwwAuthenticate: ECHO });
    });

    it('the token in the query string or a form body: 400 (RFC 6750 §2.2, §2.3 are not accepted)', async () => {
      const q = await call({ path: `/api/test/echo?access_token=${encodeURIComponent(t)}` });
      await refused(q, { status: 400, reason: 'api.malformed_authorization', wwwAuthenticate: null });
      assert.match(q.json.error.message, /Authorization header/);
      await refused(await call({ method: 'POST', path: '/api/test/echo', form: { access_token: t } }), { status: 400, reason: 'api.malformed_authorization' });
    });

    it('the token in the header and also in the query or body: 400 multiple credentials', async () => {
      await refused(await call({ path: `/api/test/echo?access_token=${encodeURIComponent(t)}`, bearer: t }), { status: 400, reason: 'api.multiple_credentials', wwwAuthenticate: null });
      await refused(await call({ method: 'POST', path: '/api/test/echo', bearer: t, form: { access_token: t, x: '1' } }), { status: 400, reason: 'api.multiple_credentials' });
      await refused(await call({ method: 'POST', path: `/api/test/echo?access_token=${encodeURIComponent(t)}`, form: { access_token: t } }), { status: 400, reason: 'api.multiple_credentials' });
    });

    it('a field named access_token in a JSON body is data, not a credential', async () => {
      assert.deepEqual(resultOf(await call({ method: 'POST', path: '/api/test/echo', bearer: t, json: { access_token: 'x' } })).body, { access_token: 'x' });
    });

    it('the Bearer scheme name is case-insensitive', async () => {
      for (const scheme of ['bearer', 'BEARER', 'BeArEr', 'Bearer']) {
        const r = resultOf(await call({ path: '/api/test/echo', headers: { authorization: `${scheme} ${t}` } }));
        assert.equal(r.caller.user.name, 'svc-orders', scheme);
      }
    });
  });
});
