import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JWT_BEARER_GRANT } from '../../src/grants/grant-type.js';
import { jwtBearer } from '../../src/grants/jwt-bearer.js';
import { createApplication } from '../../src/registry/applications.js';
import { createUser } from '../../src/registry/users.js';
import { generateTestKey, jwksOf, signAssertion } from '../helpers/idp-server.js';
import { grantKit, ISSUER, refused, request } from './kit.js';

async function setup() {
  const kit = grantKit();
  const key = await generateTestKey('ES256');
  await createUser(kit.registry, { userName: 'alice' });
  await createUser(kit.registry, { userName: 'bob', active: false });
  const a = await createApplication(kit.registry, { name: 'Signer', grantTypes: ['jwt_bearer'], jwks: jwksOf(key) });
  const app = await kit.app(a.application.clientId);
  const sign = (claims: Record<string, unknown> = {}) => signAssertion(key, { iss: app.clientId, sub: 'alice', aud: ISSUER, ...claims }, {}, kit.clock.now());
  return { kit, app, sign };
}

describe('JWT bearer grant module (memory storage, no HTTP)', () => {
  it('identifies the client by the assertion (no client authentication), then issues a token acting as sub, no refresh token', async () => {
    const { kit, app, sign } = await setup();
    assert.equal(app.grantTypes[0], JWT_BEARER_GRANT);
    const handler = jwtBearer.createHandler(kit.deps);
    const params = { grant_type: JWT_BEARER_GRANT, assertion: await sign() };
    const client = await handler.identifyClient?.(request(params), params, {});
    assert.equal(client?.application.clientId, app.clientId);
    const ctx = await kit.context(app, params, 'private_key_jwt');
    const body = await handler.issue(await handler.validate(ctx), ctx);
    assert.equal(body.refresh_token, undefined);
    const [token] = await kit.storage.tokens.list({ activeOnly: true, now: kit.clock.now(), limit: 10 });
    assert.equal(token?.userId, (await kit.storage.users.byName('alice'))?.id);
  });

  it('refuses an unknown or inactive user, an assertion used twice, an assertion of another issuer', async () => {
    const { kit, app, sign } = await setup();
    await refused(kit.run(jwtBearer, app, { assertion: await sign({ sub: 'nobody' }) }), 'invalid_grant', 'assertion.unknown_user');
    await refused(kit.run(jwtBearer, app, { assertion: await sign({ sub: 'bob' }) }), 'invalid_grant', 'user.inactive');
    const once = await sign();
    await kit.run(jwtBearer, app, { assertion: once });
    await refused(kit.run(jwtBearer, app, { assertion: once }), 'invalid_grant', 'assertion.replayed');
    await refused(kit.run(jwtBearer, app, { assertion: await sign({ iss: 'someone-else' }) }), 'invalid_grant', 'assertion.wrong_client');
    const handler = jwtBearer.createHandler(kit.deps);
    const params = { assertion: await sign({ iss: 'no-such-client' }) };
    await refused(handler.identifyClient?.(request(params), params, {}) ?? Promise.resolve(), 'invalid_grant', 'assertion.unknown_issuer');
  });

  it('the doctor warns of an application that can sign for administrators, with the command that keeps its other grants', async () => {
    const { kit, app } = await setup();
    const users = await kit.storage.users.list();
    assert.deepEqual(jwtBearer.instanceChecks?.({ applications: [app], users, properties: await kit.cache.properties() }), []);
    const admin = { ...users[0]!, userName: 'root', roles: ['admin'], active: true };
    const [finding, ...rest] = jwtBearer.instanceChecks?.({ applications: [{ ...app, grantTypes: [JWT_BEARER_GRANT, 'password'] }], users: [...users, admin], properties: await kit.cache.properties() }) ?? [];
    assert.deepEqual(rest, []);
    assert.equal(finding?.id, 'jwt_bearer_can_act_as_admin');
    assert.equal(finding?.target, app.clientId);
    assert.match(finding?.detail ?? '', /including the administrators root/);
    assert.equal(finding?.command, `latchkey apps update ${app.clientId} --grants password`);
  });

  it('never administers, and its checks name missing keys', async () => {
    const { kit, app } = await setup();
    assert.equal(jwtBearer.adminApi, false);
    assert.deepEqual(jwtBearer.checks?.({ application: { ...app, jwks: null, adminApi: true }, appUser: undefined, userNamed: () => undefined, properties: await kit.cache.properties() }).map((w) => w.id), ['assertion.no_keys', 'admin.grant_not_allowed']);
  });
});
