import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApplication, updateApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser, updateUser } from '../src/registry/users.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * A change an administrator just made must count for the very next request, even though the
 * server's caches only poll for changes: refusals re-check that the cache is current. The poll
 * interval here is one minute, so only that re-check can make these pass.
 */
describe('a setting changed a moment ago applies to the next request', () => {
  let server: TestServer;
  const clock = { now: () => Date.now() };
  let basic = '';
  let clientId = '';
  const deps = () => ({ storage: server.latchkey.storage, clock, grants: server.latchkey.catalogue });

  before(async () => {
    server = await startTestServer({ pollMs: 60_000, apisDir: 'apis' });
    await createUser(deps(), { userName: 'svc-fresh', roles: ['itil'] });
    await createScope(deps(), 'fresh.read');
    const app = await createApplication(deps(), { name: 'Fresh', grantTypes: ['client_credentials'], appUser: 'svc-fresh' });
    clientId = app.application.clientId;
    basic = `Basic ${Buffer.from(`${clientId}:${app.clientSecret}`).toString('base64')}`;
  });
  after(() => server.close());

  const token = () =>
    fetch(`${server.url}/oauth_token.do`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });

  it('the client credentials property switched on', async () => {
    const refused = await token();
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /glide\.oauth\.inbound\.client\.credential\.grant_type\.enabled/);
    await setProperty(deps(), 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
    const ok = await token();
    assert.equal(ok.status, 200, await ok.clone().text());
  });

  it('an application user activated, then a scope allowed', async () => {
    await updateUser(deps(), 'svc-fresh', { active: false });
    // Withdrawals reach the cache by polling (within a second in production); force it here.
    await server.latchkey.cache.check();
    const res = await token();
    assert.equal(res.status, 400);
    await updateUser(deps(), 'svc-fresh', { active: true });
    const ok = await token();
    assert.equal(ok.status, 200);
    // The scope is not allowed yet: invalid_scope, then allowed at once.
    const scoped = () =>
      fetch(`${server.url}/oauth_token.do`, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&scope=fresh.read' });
    assert.equal((await scoped()).status, 400);
    await updateApplication(deps(), clientId, { scopes: ['fresh.read'] });
    const granted = await scoped();
    assert.equal(granted.status, 200);
    const body = (await granted.json()) as { access_token: string; scope: string };
    assert.equal(body.scope, 'fresh.read');
    // The API sees the user, even after the user was deactivated and reactivated a moment ago.
    const whoami = await fetch(`${server.url}/api/now/whoami`, { headers: { authorization: `Bearer ${body.access_token}` } });
    assert.equal(whoami.status, 200);
    assert.equal(((await whoami.json()) as { result: { user: string } }).result.user, 'svc-fresh');
  });
});
