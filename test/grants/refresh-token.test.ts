import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { password } from '../../src/grants/password.js';
import { refreshToken } from '../../src/grants/refresh-token.js';
import { createApplication } from '../../src/registry/applications.js';
import { createUser } from '../../src/registry/users.js';
import { grantKit, refused } from './kit.js';

const PW = 'alice-password-1';

async function setup() {
  const kit = grantKit();
  await createUser(kit.registry, { userName: 'alice', password: PW });
  const portal = await createApplication(kit.registry, { name: 'Portal', grantTypes: ['password'] });
  const other = await createApplication(kit.registry, { name: 'Other', grantTypes: ['password'] });
  const app = await kit.app(portal.application.clientId);
  const first = await kit.run(password, app, { username: 'alice', password: PW });
  return { kit, app, other: await kit.app(other.application.clientId), refresh: first.refresh_token ?? '' };
}

describe('refresh_token grant module (memory storage, no HTTP)', () => {
  it('rotates: a new access and refresh token; the presented one is used up, and using it again revokes the family', async () => {
    const { kit, app, refresh } = await setup();
    const next = await kit.run(refreshToken, app, { grant_type: 'refresh_token', refresh_token: refresh });
    assert.match(next.refresh_token ?? '', /^lk_rt_/);
    assert.notEqual(next.refresh_token, refresh);
    await refused(kit.run(refreshToken, app, { refresh_token: refresh }), 'invalid_grant', 'refresh_token.reused');
    // The whole family, the rotated-to token included, is revoked.
    await refused(kit.run(refreshToken, app, { refresh_token: next.refresh_token ?? '' }), 'invalid_grant', 'refresh_token.revoked');
  });

  it('refuses an unknown token, another client\'s, a broader scope, an expired one', async () => {
    const { kit, app, other, refresh } = await setup();
    await refused(kit.run(refreshToken, app, { refresh_token: 'lk_rt_nothing' }), 'invalid_grant', 'refresh_token.unknown');
    await refused(kit.run(refreshToken, other, { refresh_token: refresh }), 'invalid_grant', 'refresh_token.wrong_client');
    await refused(kit.run(refreshToken, app, { refresh_token: refresh, scope: 'more' }), 'invalid_scope', 'scope.broader_than_grant');
    kit.clock.advance((app.refreshTokenLifespan + 1) * 1000);
    await refused(kit.run(refreshToken, app, { refresh_token: refresh }), 'invalid_grant', 'refresh_token.expired');
  });
});
