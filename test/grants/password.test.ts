import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { password, ROPC_DISABLED_PROPERTY } from '../../src/grants/password.js';
import { createApplication } from '../../src/registry/applications.js';
import { setProperty } from '../../src/registry/settings.js';
import { createUser } from '../../src/registry/users.js';
import { grantKit, refused } from './kit.js';

const PW = 'alice-password-1';

async function setup() {
  const kit = grantKit();
  await createUser(kit.registry, { userName: 'alice', password: PW });
  await createUser(kit.registry, { userName: 'bob', password: PW, active: false });
  const { application } = await createApplication(kit.registry, { name: 'Portal', grantTypes: ['password'] });
  return { kit, app: await kit.app(application.clientId) };
}

describe('password grant module (memory storage, no HTTP)', () => {
  it('declares username and password required (the token endpoint refuses without them) and stores refresh_token with it', () => {
    assert.deepEqual(password.parameters.filter((p) => p.required).map((p) => p.name), ['username', 'password']);
    assert.deepEqual(password.implies, ['refresh_token']);
  });

  it('issues an access and a refresh token acting as the user', async () => {
    const { kit, app } = await setup();
    assert.deepEqual(app.grantTypes, ['password', 'refresh_token']);
    const body = await kit.run(password, app, { grant_type: 'password', username: 'alice', password: PW });
    assert.match(body.access_token, /^lk_at_/);
    assert.match(body.refresh_token ?? '', /^lk_rt_/);
    const stored = await kit.storage.tokens.list({ activeOnly: true, now: kit.clock.now(), limit: 10 });
    assert.deepEqual(stored.map((t) => t.kind).sort(), ['access', 'refresh']);
  });

  it('refuses a wrong password, an inactive user, and any request while the grant is switched off', async () => {
    const { kit, app } = await setup();
    await refused(kit.run(password, app, { username: 'alice', password: 'wrong' }), 'invalid_grant', 'user.bad_credentials');
    await refused(kit.run(password, app, { username: 'nobody', password: PW }), 'invalid_grant', 'user.bad_credentials');
    await refused(kit.run(password, app, { username: 'bob', password: PW }), 'invalid_grant', 'user.inactive');
    await setProperty(kit.registry, ROPC_DISABLED_PROPERTY, 'true');
    await refused(kit.run(password, app, { username: 'alice', password: PW }), 'unauthorized_client', 'grant.ropc_disabled');
    assert.deepEqual(password.checks?.({ application: app, appUser: undefined, userNamed: () => undefined, properties: await kit.cache.properties() }).map((w) => w.id), ['grant.ropc_disabled']);
  });
});
