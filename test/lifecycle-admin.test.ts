/**
 * Deleting things and revoking tokens by handle through the admin API, over HTTP with an admin's
 * bearer token (SQLite, or PostgreSQL in the PostgreSQL pass): what each DELETE answers, the
 * refusals with their dependants (and the cascade the console offers from them), that the tokens
 * that depended on what was deleted are refused by the server at once, and the audit entries under
 * the admin's name.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tokenHandle, tokenKey } from '../src/core/crypto.js';
import { createApplication } from '../src/registry/applications.js';
import { createUser } from '../src/registry/users.js';
import { adminToken, bearerClient, type AdminClient } from './helpers/admin.js';
import { apiCall, assertApiRefusal, FIXTURE_APIS } from './helpers/api.js';
import { buildFixture, CC_PROPERTY } from './helpers/fixture.js';
import { registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;
let admin: AdminClient;

const echo = (token: string) => apiCall(server.url, { path: '/api/test/echo', bearer: token });
const enc = encodeURIComponent;

async function ccToken(clientId: string, secret: string, scope?: string): Promise<string> {
  const res = await tokenRequest(server.url, { basic: [clientId, secret], form: { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) } });
  assert.equal(res.status, 200, res.text);
  return String(res.json?.access_token);
}

/** Right after the answer, without waiting for a poll: the route has the cache see its change before answering. */
async function refusedNow(token: string, reason = 'token.revoked'): Promise<void> {
  await assertApiRefusal(server.latchkey.storage, await echo(token), { status: 401, reason });
}

async function audited(action: string, target: string): Promise<string> {
  const [entry] = await server.latchkey.storage.audit.list({ action, target });
  assert.ok(entry !== undefined, `${action} ${target} audited`);
  return entry.actor;
}

before(async () => {
  server = await startTestServer({ apisDir: FIXTURE_APIS });
  admin = bearerClient(server, await adminToken(server));
});

after(async () => server?.close());

describe('admin API: deletes', { timeout: 120_000 }, () => {
  it('DELETE /applications/:clientId (client id or name) revokes its tokens, refused at once; the console application and unknown ones are refused', async () => {
    const fx = await buildFixture(server, {
      users: [{ userName: 'svc-api-del' }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: { job: { name: 'API delete job', grantTypes: ['client_credentials'], appUser: 'svc-api-del' } },
    });
    const token = await ccToken(fx.apps.job.clientId, fx.apps.job.secret);
    assert.equal((await echo(token)).status, 200);
    const r = await admin.call('DELETE', `/applications/${enc('API delete job')}`);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { deleted: { clientId: fx.apps.job.clientId, name: 'API delete job' }, revoked: { tokens: 1, families: 1 } });
    await refusedNow(token);
    assert.equal((await tokenRequest(server.url, { basic: [fx.apps.job.clientId, fx.apps.job.secret], form: { grant_type: 'client_credentials' } })).status, 401);
    assert.equal(await audited('application.delete', fx.apps.job.clientId), 'admin');

    const gone = await admin.call('DELETE', `/applications/${fx.apps.job.clientId}`);
    assert.equal(gone.status, 404);
    assert.equal(gone.json.error, 'application_not_found');
    const builtIn = await admin.call('DELETE', '/applications/latchkey-console');
    assert.equal(builtIn.status, 409);
    assert.equal(builtIn.json.error, 'built_in');
    const deps = registryDeps(server);
    await createApplication(deps, { name: 'Same name', grantTypes: ['password'] });
    await createApplication(deps, { name: 'Same name', grantTypes: ['password'] });
    const ambiguous = await admin.call('DELETE', `/applications/${enc('Same name')}`);
    assert.equal(ambiguous.status, 409);
    assert.equal(ambiguous.json.error, 'application_ambiguous');
  });

  it('DELETE /users/:userName ends its tokens; refused naming the applications acting as it, and for yourself', async () => {
    const fx = await buildFixture(server, {
      users: [{ userName: 'svc-acting-api' }, { userName: 'carol', password: 'carol-password-1' }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: { acting: { name: 'Acting for API test', grantTypes: ['client_credentials'], appUser: 'svc-acting-api' }, portal: { name: 'Carol portal', grantTypes: ['password'] } },
    });
    const acting = await admin.call('DELETE', '/users/svc-acting-api');
    assert.equal(acting.status, 409);
    assert.equal(acting.json.error, 'in_use');
    assert.deepEqual(acting.json.dependants, { applications: [{ clientId: fx.apps.acting.clientId, name: 'Acting for API test' }], cascade: false });
    assert.match(acting.json.message, /Acting for API test/);
    const self = await admin.call('DELETE', '/users/admin');
    assert.equal(self.status, 409);
    assert.match(self.json.message, /cannot delete yourself/);

    const signIn = await tokenRequest(server.url, { basic: [fx.apps.portal.clientId, fx.apps.portal.secret], form: { grant_type: 'password', username: 'carol', password: 'carol-password-1' } });
    const access = String(signIn.json?.access_token);
    assert.equal((await echo(access)).status, 200);
    const r = await admin.call('DELETE', '/users/carol');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { deleted: { userName: 'carol' }, ended: { sessions: 0, tokens: 2, families: 1 } });
    await refusedNow(access);
    assert.equal(await audited('user.delete', 'carol'), 'admin');
    assert.equal((await admin.call('DELETE', '/users/carol')).status, 404);
  });

  it('DELETE /scopes/:name: built-in and API-required refused; listed ones refused with the applications, then ?cascade=true; PATCH changes the description', async () => {
    const fx = await buildFixture(server, {
      scopes: ['ledger.read', 'orders.read'],
      users: [{ userName: 'svc-ledger' }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: { ledger: { name: 'Ledger', grantTypes: ['client_credentials'], appUser: 'svc-ledger', scopes: ['ledger.read'] } },
    });
    const builtIn = await admin.call('DELETE', '/scopes/useraccount');
    assert.deepEqual([builtIn.status, builtIn.json.error], [409, 'built_in']);
    const required = await admin.call('DELETE', '/scopes/orders.read');
    assert.deepEqual([required.status, required.json.error, required.json.dependants.cascade], [409, 'in_use', false]);
    assert.ok(required.json.dependants.routes.includes('GET /api/acme/v2/orders'), required.text);

    const patched = await admin.call('PATCH', '/scopes/ledger.read', { description: 'Read the ledger' });
    assert.deepEqual(patched.json, { name: 'ledger.read', description: 'Read the ledger', builtIn: false });
    assert.equal((await admin.call('PATCH', '/scopes/nope', { description: 'x' })).status, 404);

    const token = await ccToken(fx.apps.ledger.clientId, fx.apps.ledger.secret, 'ledger.read');
    const listed = await admin.call('DELETE', '/scopes/ledger.read');
    assert.equal(listed.status, 409);
    assert.deepEqual(listed.json.dependants, { applications: [{ clientId: fx.apps.ledger.clientId, name: 'Ledger' }], cascade: true });
    assert.equal((await admin.call('DELETE', '/scopes/ledger.read?cascade=maybe')).status, 400);
    const r = await admin.call('DELETE', '/scopes/ledger.read?cascade=true');
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { deleted: { name: 'ledger.read' }, fromApplications: [fx.apps.ledger.clientId], revoked: { tokens: 1 } });
    await refusedNow(token);
    assert.equal(await audited('scope.delete', 'ledger.read'), 'admin');
  });

  it('roles: POST creates with a description, PATCH changes it, DELETE is refused while held (users named) and done with ?cascade=true', async () => {
    const created = await admin.call('POST', '/roles', { name: 'auditor', description: 'Reads the audit log' });
    assert.equal(created.status, 201, created.text);
    assert.deepEqual(created.json, { name: 'auditor', description: 'Reads the audit log', builtIn: false });
    assert.equal((await admin.call('POST', '/roles', { name: 'auditor' })).json.error, 'role_exists');
    assert.equal(await audited('role.create', 'auditor'), 'admin');
    const patched = await admin.call('PATCH', '/roles/auditor', { description: 'Reads it all' });
    assert.equal(patched.json.description, 'Reads it all');
    await createUser(registryDeps(server), { userName: 'dave', roles: ['auditor'] });
    const held = await admin.call('DELETE', '/roles/auditor');
    assert.equal(held.status, 409);
    assert.deepEqual(held.json.dependants, { users: ['dave'], cascade: true });
    assert.deepEqual([(await admin.call('DELETE', '/roles/admin')).json.error], ['built_in']);
    await admin.call('POST', '/roles', { name: 'itil' });
    const required = await admin.call('DELETE', '/roles/itil');
    assert.equal(required.json.dependants.cascade, false);
    assert.ok(required.json.dependants.routes.some((r: string) => r.startsWith('GET /api/acme/v1/desk/')), required.text);
    const r = await admin.call('DELETE', '/roles/auditor?cascade=true');
    assert.deepEqual([r.status, r.json], [200, { deleted: { name: 'auditor' }, fromUsers: ['dave'] }]);
    assert.deepEqual((await server.latchkey.storage.users.byName('dave'))?.roles, []);
    assert.equal(await audited('role.delete', 'auditor'), 'admin');
  });

  it('the OpenAPI document describes the new routes', async () => {
    const doc = await admin.call('GET', '/admin/api/openapi.json');
    const paths = doc.json.paths as Record<string, Record<string, { parameters?: { name: string }[] }>>;
    for (const [path, method] of [['applications/{clientId}', 'delete'], ['users/{userName}', 'delete'], ['scopes/{name}', 'delete'], ['scopes/{name}', 'patch'], ['roles/{name}', 'delete'], ['roles/{name}', 'patch'], ['tokens/revoke', 'post']] as const) {
      assert.ok(paths[`/admin/api/v1/${path}`]?.[method] !== undefined, `${method} ${path}`);
    }
    assert.ok(paths['/admin/api/v1/scopes/{name}']?.delete?.parameters?.some((p) => p.name === 'cascade'));
  });
});

describe('admin API: tokens by handle', { timeout: 120_000 }, () => {
  it('lists handles; POST /tokens/revoke takes a handle, a token, an application or a user (exactly one); /tokens/:handle/revoke too', async () => {
    const fx = await buildFixture(server, {
      users: [{ userName: 'svc-tok' }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: { t: { name: 'Token routes app', grantTypes: ['client_credentials'], appUser: 'svc-tok' } },
    });
    const [t1, t2, t3, t4] = [await ccToken(fx.apps.t.clientId, fx.apps.t.secret), await ccToken(fx.apps.t.clientId, fx.apps.t.secret), await ccToken(fx.apps.t.clientId, fx.apps.t.secret), await ccToken(fx.apps.t.clientId, fx.apps.t.secret)];
    const list = await admin.call('GET', `/tokens?application=${enc('Token routes app')}`);
    assert.deepEqual(new Set(list.json.map((t: { handle: string }) => t.handle)), new Set([t1, t2, t3, t4].map((t) => tokenHandle(tokenKey(t)))));

    const one = await admin.call('POST', '/tokens/revoke', { handle: tokenHandle(tokenKey(t1)) });
    assert.deepEqual(one.json, { handle: tokenHandle(tokenKey(t1)), kind: 'access', revoked: 1 });
    await refusedNow(t1);
    assert.equal(await audited('token.revoke', tokenHandle(tokenKey(t1))), 'admin');
    const byToken = await admin.call('POST', '/tokens/revoke', { token: t2 });
    assert.equal(byToken.json.revoked, 1);
    await refusedNow(t2);
    const byPath = await admin.call('POST', `/tokens/${tokenHandle(tokenKey(t3))}/revoke`);
    assert.deepEqual([byPath.status, byPath.json.revoked], [200, 1]);
    await refusedNow(t3);

    assert.equal((await admin.call('POST', '/tokens/revoke', {})).status, 400);
    assert.equal((await admin.call('POST', '/tokens/revoke', { handle: 'tk_1234', user: 'svc-tok' })).status, 400);
    const unknown = await admin.call('POST', '/tokens/revoke', { handle: 'tk_ffffffffffffAAAAAAAAAA' });
    assert.deepEqual([unknown.status, unknown.json.error], [404, 'token_not_found']);
    const malformed = await admin.call('POST', '/tokens/revoke', { handle: 'tk_!' });
    assert.deepEqual([malformed.status, malformed.json.error], [400, 'invalid_input']);

    const byUser = await admin.call('POST', '/tokens/revoke', { user: 'svc-tok' });
    assert.deepEqual([byUser.json.user, byUser.json.revoked], ['svc-tok', 1]);
    await refusedNow(t4);
    const t5 = await ccToken(fx.apps.t.clientId, fx.apps.t.secret);
    const byApp = await admin.call('POST', '/tokens/revoke', { application: fx.apps.t.clientId });
    assert.deepEqual([byApp.json.application, byApp.json.revoked], [{ clientId: fx.apps.t.clientId, name: 'Token routes app' }, 1]);
    await refusedNow(t5);
    assert.equal(await audited('token.revoke_all', fx.apps.t.clientId), 'admin');
    const t6 = await ccToken(fx.apps.t.clientId, fx.apps.t.secret);
    const all = await admin.call('POST', '/tokens/revoke-all', { application: 'Token routes app' });
    assert.equal(all.json.revoked, 1);
    await refusedNow(t6);
  });
});
