import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ADMIN_ROUTES } from '../src/admin/routes.js';
import { openApiPath } from '../src/admin/openapi.js';
import { registeredAdminRoutes } from '../src/http/admin-plugin.js';
import { JWT_BEARER_GRANT } from '../src/grants/grant-type.js';
import { ADMIN_PASSWORD, adminFetch, adminToken, bearerClient, sessionClient, type AdminClient } from './helpers/admin.js';
import { refreshCache, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const JWKS = JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', use: 'sig', kid: 'k1' }] });

describe('admin API', () => {
  let server: TestServer;
  let bearer: AdminClient;
  let session: Awaited<ReturnType<typeof sessionClient>>;

  before(async () => {
    server = await startTestServer();
    bearer = bearerClient(server, await adminToken(server, 'admin', ADMIN_PASSWORD));
    session = await sessionClient(server);
  });
  after(async () => server?.close());

  it('serves an OpenAPI 3.1 document listing exactly the registered routes', async () => {
    const res = await adminFetch(server, 'GET', '/admin/api/openapi.json');
    assert.equal(res.status, 200);
    assert.equal(res.json.openapi, '3.1.0');
    const documented = new Set<string>();
    for (const [path, ops] of Object.entries(res.json.paths as Record<string, Record<string, unknown>>)) for (const m of Object.keys(ops)) documented.add(`${m.toUpperCase()} ${path}`);
    const registered = new Set(ADMIN_ROUTES.map((r) => `${r.method} ${openApiPath(r)}`));
    assert.deepEqual([...documented].sort(), [...registered].sort());
    // And the other way round: every route the host has below /admin/api/v1 is documented (the
    // catch-all that answers 401/404 for unknown paths aside).
    const served = registeredAdminRoutes(server.http).filter((r) => r.url !== '/admin/api/v1/*');
    assert.ok(served.length >= ADMIN_ROUTES.length);
    for (const r of served) assert.ok(documented.has(`${r.method} ${r.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`), `${r.method} ${r.url} is not in the OpenAPI document`);
    // Every route of the table is really served by the host (not a 404 from the catch-all).
    for (const r of ADMIN_ROUTES) assert.ok(server.http.hasRoute({ method: r.method, url: `/admin/api/v1${r.path}` }), `${r.method} ${r.path} is not registered`);
    assert.ok(res.json.components.securitySchemes.bearer && res.json.components.securitySchemes.consoleSession && res.json.components.securitySchemes.csrfToken);
  });

  it('session: the signed-in admin, the CSRF token and the expiry; security headers on every answer', async () => {
    const res = await session.raw.call('GET', '/session');
    assert.equal(res.status, 200);
    assert.equal(res.json.user.name, 'admin');
    assert.ok(res.json.user.roles.includes('admin'));
    const expiresAt = Date.parse(res.json.expiresAt);
    assert.match(res.json.expiresAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.ok(expiresAt > Date.now() && expiresAt <= Date.now() + 30 * 60_000 + 1000);
    for (const h of [res.headers, (await bearer.call('GET', '/applications')).headers]) {
      assert.equal(h.get('cache-control'), 'no-store');
      assert.equal(h.get('x-frame-options'), 'DENY');
      assert.match(h.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    }
    const cookie = session.browser.cookies.get('latchkey_console');
    assert.ok(cookie !== undefined);
  });

  it('the console cookie is HttpOnly, SameSite=Strict and expires', async () => {
    const { callback } = await (await import('./helpers/admin.js')).consoleSignIn(server, 'admin', ADMIN_PASSWORD);
    const set = callback.setCookies.find((c) => c.startsWith('latchkey_console='));
    assert.ok(set !== undefined, callback.setCookies.join('\n'));
    assert.match(set, /HttpOnly/);
    assert.match(set, /SameSite=Strict/);
    assert.match(set, /Max-Age=28800/);
  });

  for (const via of ['bearer', 'session'] as const) {
    describe(`through ${via === 'bearer' ? 'an admin bearer token' : 'a console session (cookie + CSRF)'}`, () => {
      const client = () => (via === 'bearer' ? bearer : session);

      it('creates an application of each kind; the secret is shown once with a ready-to-run curl', async () => {
        const cc = await client().call('POST', '/applications', { name: `CC ${via}`, kind: 'client_credentials' });
        assert.equal(cc.status, 201, cc.text);
        assert.deepEqual(cc.json.application.grantTypes, ['client_credentials']);
        assert.match(cc.json.clientSecret, /^lk_cs_/);
        assert.equal(cc.json.curl, `curl -u ${cc.json.application.clientId}:${cc.json.clientSecret} -d grant_type=client_credentials ${server.url}/oauth_token.do`);
        assert.equal(cc.json.application.secretHash, undefined);
        // Not retrievable again.
        const again = await client().call('GET', `/applications/${cc.json.application.clientId}`);
        assert.equal(again.status, 200);
        assert.ok(!again.text.includes(cc.json.clientSecret));
        assert.equal(again.json.secretHash, undefined);
        assert.equal(again.json.hasSecret, true);

        const pw = await client().call('POST', '/applications', { name: `PW ${via}`, kind: 'password' });
        assert.equal(pw.status, 201, pw.text);
        assert.deepEqual(pw.json.application.grantTypes, ['password', 'refresh_token']);

        const noRedirect = await client().call('POST', '/applications', { name: `AC ${via}`, kind: 'authorization_code' });
        assert.equal(noRedirect.status, 400);
        assert.equal(noRedirect.json.field, 'redirectUris');
        const ac = await client().call('POST', '/applications', { name: `AC ${via}`, kind: 'authorization_code', redirectUris: ['https://app.example.com/cb'] });
        assert.equal(ac.status, 201, ac.text);
        assert.deepEqual(ac.json.application.grantTypes, ['authorization_code', 'refresh_token']);

        const noKeys = await client().call('POST', '/applications', { name: `JB ${via}`, kind: 'jwt_bearer' });
        assert.equal(noKeys.status, 400);
        const jb = await client().call('POST', '/applications', { name: `JB ${via}`, kind: 'jwt_bearer', jwks: JWKS });
        assert.equal(jb.status, 201, jb.text);
        assert.deepEqual(jb.json.application.grantTypes, [JWT_BEARER_GRANT]);

        const bad = await client().call('POST', '/applications', { name: 'x', kind: 'nope' });
        assert.equal(bad.status, 400);
        assert.equal(bad.json.field, 'kind');
        const list = await client().call('GET', `/applications?q=${encodeURIComponent(`CC ${via}`)}`);
        assert.equal(list.json.length, 1);
      });

      it('rotates a secret: the old one stops working, the new one works', async () => {
        await bearer.call('PUT', '/properties/glide.oauth.inbound.client.credential.grant_type.enabled', { value: true });
        const admin = (await server.latchkey.storage.users.byName('admin'))!;
        const created = await client().call('POST', '/applications', { name: `Rotate ${via}`, kind: 'client_credentials', appUser: admin.userName });
        const id = created.json.application.clientId as string;
        const old = created.json.clientSecret as string;
        await refreshCache(server);
        assert.equal((await tokenRequest(server.url, { basic: [id, old], form: { grant_type: 'client_credentials' } })).status, 200);
        const rotated = await client().call('POST', `/applications/${id}/rotate-secret`);
        assert.equal(rotated.status, 200, rotated.text);
        assert.notEqual(rotated.json.clientSecret, old);
        assert.ok(rotated.json.curl.includes(rotated.json.clientSecret));
        await refreshCache(server);
        assert.equal((await tokenRequest(server.url, { basic: [id, old], form: { grant_type: 'client_credentials' } })).status, 401);
        assert.equal((await tokenRequest(server.url, { basic: [id, rotated.json.clientSecret], form: { grant_type: 'client_credentials' } })).status, 200);
        const patched = await client().call('PATCH', `/applications/${id}`, { active: false });
        assert.equal(patched.status, 200, patched.text);
        assert.equal(patched.json.application.active, false);
        assert.equal((await client().call('PATCH', '/applications/no-such-client', { active: false })).status, 404);
      });

      it('lists tokens without the tokens, revokes one and revokes all', async () => {
        const created = await client().call('POST', '/applications', { name: `Tokens ${via}`, kind: 'password' });
        const id = created.json.application.clientId as string;
        const secret = created.json.clientSecret as string;
        await refreshCache(server);
        const issued: string[] = [];
        for (let i = 0; i < 3; i++) {
          const res = await tokenRequest(server.url, { basic: [id, secret], form: { grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD } });
          assert.equal(res.status, 200, res.text);
          issued.push(res.json?.access_token as string, res.json?.refresh_token as string);
        }
        const list = await client().call('GET', `/tokens?application=${id}`);
        assert.equal(list.status, 200, list.text);
        assert.equal(list.json.length, 6);
        for (const t of issued) assert.ok(!list.text.includes(t), 'a token appears in the list');
        const row = list.json.find((r: { kind: string }) => r.kind === 'access');
        assert.equal(row.user, 'admin');
        assert.equal(row.application, id);
        assert.equal(row.format, 'opaque');
        const one = await client().call('POST', `/tokens/${encodeURIComponent(row.id)}/revoke`);
        assert.equal(one.status, 200, one.text);
        assert.equal(one.json.revoked, 1);
        assert.equal((await client().call('GET', `/tokens?application=${id}`)).json.length, 5);
        const all = await client().call('POST', '/tokens/revoke-all', { application: id });
        assert.equal(all.status, 200, all.text);
        assert.equal(all.json.revoked, 5);
        assert.equal((await client().call('GET', `/tokens?application=${id}`)).json.length, 0);
        assert.equal((await client().call('POST', '/tokens/revoke-all', {})).status, 400);
        assert.equal((await client().call('POST', '/tokens/nothing-here/revoke')).status, 404);
      });

      it('sets properties with type checking', async () => {
        const name = 'latchkey.password.lockout.threshold';
        const ok = await client().call('PUT', `/properties/${name}`, { value: 7 });
        assert.equal(ok.status, 200, ok.text);
        assert.equal(ok.json.property.value, 7);
        const wrongType = await client().call('PUT', `/properties/${name}`, { value: true });
        assert.equal(wrongType.status, 400);
        assert.equal(wrongType.json.field, 'value');
        const range = await client().call('PUT', `/properties/${name}`, { value: 0 });
        assert.equal(range.status, 400);
        assert.equal(range.json.error, 'property_invalid');
        const unknown = await client().call('PUT', '/properties/no.such.property', { value: 1 });
        assert.equal(unknown.status, 400);
        assert.equal(unknown.json.error, 'property_unknown');
        const list = await client().call('GET', '/properties');
        const view = list.json.find((p: { name: string }) => p.name === name);
        assert.deepEqual({ value: view.value, default: view.default, type: view.type }, { value: 7, default: 5, type: 'integer' });
        assert.ok(view.description.length > 10);
        await client().call('PUT', `/properties/${name}`, { value: 5 });
      });

      it('users, roles and scopes', async () => {
        const u = await client().call('POST', '/users', { userName: `user-${via}`, password: 'long-enough-password', roles: [`role-${via}`] });
        assert.equal(u.status, 201, u.text);
        assert.equal(u.json.user.passwordHash, undefined);
        assert.deepEqual(u.json.createdRoles, [`role-${via}`]);
        assert.equal((await client().call('POST', '/users', { userName: `user-${via}` })).status, 409);
        const p = await client().call('PATCH', `/users/user-${via}`, { active: false });
        assert.equal(p.json.user.active, false);
        assert.equal((await client().call('PATCH', '/users/admin', { active: false })).status, 409);
        assert.equal((await client().call('POST', '/roles', { name: `r2-${via}` })).status, 201);
        assert.ok((await client().call('GET', '/roles')).json.some((r: { name: string }) => r.name === `r2-${via}`));
        assert.equal((await client().call('POST', '/scopes', { name: `scope.${via}`, description: 'd' })).status, 201);
        assert.equal((await client().call('POST', '/scopes', { name: `scope.${via}` })).status, 409);
        assert.ok((await client().call('GET', '/scopes')).json.some((s: { name: string }) => s.name === `scope.${via}`));
      });
    });
  }

  it('refusals carry explanation, fix, setting and a console link', async () => {
    await bearer.call('PUT', '/properties/glide.oauth.inbound.client.credential.grant_type.enabled', { value: false });
    const created = await bearer.call('POST', '/applications', { name: 'Refused CC', kind: 'client_credentials' });
    const id = created.json.application.clientId as string;
    await refreshCache(server);
    const res = await tokenRequest(server.url, { basic: [id, created.json.clientSecret], form: { grant_type: 'client_credentials' } });
    assert.equal(res.status, 400, res.text);
    const list = await bearer.call('GET', '/refusals?reason=grant.client_credentials_disabled&endpoint=token');
    assert.equal(list.status, 200, list.text);
    const row = list.json.find((r: { requestId: string }) => r.requestId === res.requestId);
    assert.ok(row !== undefined, list.text);
    assert.ok(row.explanation.length > 0 && row.fix.length > 0);
    assert.equal(row.setting, 'glide.oauth.inbound.client.credential.grant_type.enabled');
    assert.equal(row.link, '#/properties?name=glide.oauth.inbound.client.credential.grant_type.enabled');
    const one = await bearer.call('GET', `/refusals/${res.requestId}`);
    assert.equal(one.json.requestId, res.requestId);
    const wrongSecret = await tokenRequest(server.url, { basic: [id, 'lk_cs_wrong'], form: { grant_type: 'client_credentials' } });
    const secretRow = (await bearer.call('GET', `/refusals/${wrongSecret.requestId}`)).json;
    assert.equal(secretRow.link, `#/applications/${id}`);
    assert.equal((await bearer.call('GET', '/refusals/no-such-request')).status, 404);
    const activity = await bearer.call('GET', '/activity?hours=1');
    assert.equal(activity.status, 200, activity.text);
    assert.equal(activity.json.bucketMs, 60_000);
    assert.ok(activity.json.refusalsByReason.some((r: { reason: string; count: number }) => r.reason === 'grant.client_credentials_disabled' && r.count >= 1));
  });

  it('audit entries carry the admin name, never secrets', async () => {
    const created = await session.call('POST', '/applications', { name: 'Audited', kind: 'client_credentials' });
    const id = created.json.application.clientId as string;
    await session.call('POST', `/applications/${id}/rotate-secret`);
    const entries = await bearer.call('GET', `/audit?target=${id}`);
    assert.equal(entries.status, 200, entries.text);
    const actions = entries.json.map((e: { action: string }) => e.action).sort();
    assert.deepEqual(actions, ['application.create', 'application.rotate_secret']);
    for (const e of entries.json) assert.equal(e.actor, 'admin');
    assert.ok(!entries.text.includes(created.json.clientSecret));
    assert.ok(!/secretHash/.test(entries.text));
    await session.call('PUT', '/properties/latchkey.keys.rotation_days', { value: 30 });
    const prop = await bearer.call('GET', '/audit?target=latchkey.keys.rotation_days');
    assert.equal(prop.json[0]?.actor, 'admin');
    assert.equal(prop.json[0]?.action, 'property.set');
  });

  it('overview, findings, apis, keys, idps and the token debugger', async () => {
    const overview = await bearer.call('GET', '/overview');
    assert.equal(overview.status, 200, overview.text);
    assert.ok(overview.json.counts.applications >= 1 && overview.json.counts.users >= 1);
    assert.ok(Array.isArray(overview.json.findings));
    assert.ok(Array.isArray((await bearer.call('GET', '/findings')).json));
    assert.ok(Array.isArray((await bearer.call('GET', '/apis')).json));
    const keys = await bearer.call('GET', '/keys');
    assert.ok(keys.json.length >= 1);
    assert.ok(!keys.text.includes('privateKeyEnc'));
    const rotated = await session.call('POST', '/keys/rotate', {});
    assert.equal(rotated.status, 200, rotated.text);
    assert.equal((await bearer.call('GET', '/idps')).status, 200);
    const token = await adminToken(server, 'admin', ADMIN_PASSWORD);
    const inspection = await bearer.call('POST', '/inspect', { token });
    assert.equal(inspection.status, 200, inspection.text);
    assert.equal(inspection.json.valid, true);
    assert.ok(!inspection.text.includes(token), 'the debugger echoes the token');
  });

  it('logout ends the console session', async () => {
    const own = await sessionClient(server);
    const out = await own.call('POST', '/session/logout');
    assert.equal(out.status, 200, out.text);
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
  });
});
