import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { clientCredentials, CLIENT_CREDENTIALS_PROPERTY } from '../../src/grants/client-credentials.js';
import { createApplication, updateApplication } from '../../src/registry/applications.js';
import { createScope } from '../../src/registry/scopes.js';
import { setProperty } from '../../src/registry/settings.js';
import { createUser, updateUser } from '../../src/registry/users.js';
import { grantKit, refused } from './kit.js';

describe('client_credentials grant module (memory storage, no HTTP)', () => {
  it('issues an access token acting as the application user, no refresh token; stores its record', async () => {
    const kit = grantKit();
    await createUser(kit.registry, { userName: 'svc' });
    await setProperty(kit.registry, CLIENT_CREDENTIALS_PROPERTY, 'true');
    const { application } = await createApplication(kit.registry, { name: 'Export', grantTypes: ['client_credentials'], appUser: 'svc' });
    const body = await kit.run(clientCredentials, await kit.app(application.clientId), { grant_type: 'client_credentials' });
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.refresh_token, undefined);
    const stored = await kit.storage.tokens.list({ activeOnly: true, now: kit.clock.now(), limit: 10 });
    assert.deepEqual(stored.map((t) => [t.kind, t.grantType, t.userId]), [['access', 'client_credentials', (await kit.storage.users.byName('svc'))?.id]]);
  });

  it('refuses while the instance has the grant switched off, without an application user, or with an inactive one', async () => {
    const kit = grantKit();
    await createUser(kit.registry, { userName: 'svc' });
    const { application } = await createApplication(kit.registry, { name: 'Export', grantTypes: ['client_credentials'] });
    await refused(kit.run(clientCredentials, await kit.app(application.clientId), {}), 'unauthorized_client', 'grant.client_credentials_disabled');
    await setProperty(kit.registry, CLIENT_CREDENTIALS_PROPERTY, 'true');
    await refused(kit.run(clientCredentials, await kit.app(application.clientId), {}), 'unauthorized_client', 'application_user.missing');
    await updateApplication(kit.registry, application.clientId, { appUser: 'svc' });
    await updateUser(kit.registry, 'svc', { active: false });
    await refused(kit.run(clientCredentials, await kit.app(application.clientId), {}), 'unauthorized_client', 'application_user.inactive');
    await refused(kit.run(clientCredentials, await kit.app(application.clientId), { scope: 'not allowed' }), 'unauthorized_client', 'application_user.inactive');
  });

  it('refuses a scope the application is not allowed; its checks name what will fail', async () => {
    const kit = grantKit();
    await createUser(kit.registry, { userName: 'svc' });
    await setProperty(kit.registry, CLIENT_CREDENTIALS_PROPERTY, 'true');
    const { application } = await createApplication(kit.registry, { name: 'Export', grantTypes: ['client_credentials'], appUser: 'svc' });
    // A scope that does not exist at all is told apart from one the application lacks (the same answer to the caller).
    await refused(kit.run(clientCredentials, await kit.app(application.clientId), { scope: 'export.write' }), 'invalid_scope', 'scope.unknown');
    await createScope(kit.registry, 'export.write');
    await refused(kit.run(clientCredentials, await kit.app(application.clientId), { scope: 'export.write' }), 'invalid_scope', 'scope.not_allowed');
    const app = await kit.app(application.clientId);
    const checks = clientCredentials.checks?.({ application: { ...app, appUserId: null, public: true }, appUser: undefined, userNamed: () => undefined, properties: { ...(await kit.cache.properties()), [CLIENT_CREDENTIALS_PROPERTY]: false } }) ?? [];
    assert.deepEqual(checks.map((w) => w.id), ['grant.client_credentials_public_client', 'application_user.missing', 'grant.client_credentials_disabled']);
    // One check, two surfaces: the CLI's warning text and the doctor's finding (with the command that creates and sets a service user).
    const missing = checks[1];
    assert.match(missing?.text ?? '', /has no application user, so token requests will be refused \(application_user\.missing\)/);
    assert.equal(missing?.finding?.id, 'application_user_missing');
    assert.equal(missing?.finding?.command, `latchkey users create svc-export && latchkey apps update ${app.clientId} --app-user svc-export`);
  });
});
