import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createIdentityProvider } from '../src/idp/registry.js';
import { createApplication, updateApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser, updateUser } from '../src/registry/users.js';
import { JWT_BEARER_GRANT } from '../src/grants/grant-type.js';
import { ADMIN_PASSWORD, adminFetch, type AdminReply } from './helpers/admin.js';
import { authorizeUrl, pkcePair } from './helpers/authorize-flow.js';
import { authorizeInBrowser, Browser, redirectParams } from './helpers/browser.js';
import { generateTestKey, jwksOf, signAssertion, startIdpServer, type IdpServer } from './helpers/idp-server.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Admin authority is explicit (issue 11): the admin API accepts a bearer token only when it carries
 * the scope latchkey.admin, was issued by this instance to an application allowed the admin API,
 * by a grant that may administer, and its user has the admin role now. Each attack below worked
 * before: any token of a user with the admin role could create applications and grant roles.
 */
describe('admin authority', () => {
  let server: TestServer;
  let idp: IdpServer;
  const REDIRECT = 'https://orders-portal.example.com/cb';

  const bearer = (token: string, method = 'GET', path = '/users', body?: unknown) =>
    adminFetch(server, method, path, { headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { body }) });

  /** A refused admin call: the status, the reason in the answer, and the refusal recorded under that request id. */
  async function assertRefused(res: AdminReply, status: number, reason: string): Promise<void> {
    assert.equal(res.status, status, res.text);
    assert.equal(res.json.reason, reason, res.text);
    const requestId = res.headers.get('x-request-id') ?? '';
    assert.equal(res.json.requestId, requestId);
    const recorded = await server.latchkey.storage.refusals.byRequestId(requestId);
    assert.equal(recorded?.reason, reason);
    assert.equal(recorded?.endpoint, 'admin');
  }

  async function token(clientId: string, secret: string, form: Record<string, string>): Promise<string> {
    const res = await tokenRequest(server.url, { basic: [clientId, secret], form });
    assert.equal(res.status, 200, res.text);
    return res.json?.access_token as string;
  }

  before(async () => {
    // The stand-in identity provider listens on 127.0.0.1 over http (refused by default, src/outbound).
    server = await startTestServer({ allowPrivateNetworks: true });
    const deps = registryDeps(server);
    await createScope(deps, 'orders.read');
    await setProperty(deps, 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
    idp = await startIdpServer({ issuerPath: '/authority' });
    await createIdentityProvider(deps, { name: 'Corp SSO', issuer: idp.issuer, metadataUrl: idp.oidcMetadataUrl, audience: 'api://latchkey', userClaim: 'preferred_username' });
    await refreshCache(server);
  });
  after(async () => {
    await idp?.close();
    await server?.close();
  });

  it('an application an admin consented to (scope orders.read) cannot administer', async () => {
    const deps = registryDeps(server);
    const app = await createApplication(deps, { name: 'Orders portal', grantTypes: ['authorization_code'], redirectUris: [REDIRECT], scopes: ['orders.read'] });
    await refreshCache(server);
    const { verifier, challenge } = pkcePair();
    const url = authorizeUrl(server, { response_type: 'code', client_id: app.application.clientId, redirect_uri: REDIRECT, scope: 'orders.read', code_challenge: challenge, code_challenge_method: 'S256', state: 's1' });
    const code = redirectParams(await authorizeInBrowser(new Browser(server.url), url, { username: 'admin', password: ADMIN_PASSWORD })).get('code') ?? '';
    const access = await token(app.application.clientId, app.clientSecret ?? '', { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier });
    await assertRefused(await bearer(access, 'POST', '/users', { userName: 'planted', roles: ['admin'] }), 403, 'admin.application_not_allowed');
    assert.equal(await server.latchkey.storage.users.byName('planted'), undefined, 'no user was created');
  });

  it('a password-grant token of the admin at an ordinary application cannot administer', async () => {
    const app = await createApplication(registryDeps(server), { name: 'Any password client', grantTypes: ['password'] });
    await refreshCache(server);
    const access = await token(app.application.clientId, app.clientSecret ?? '', { grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD });
    await assertRefused(await bearer(access), 403, 'admin.application_not_allowed');
  });

  it('a JWT bearer assertion with sub=admin cannot administer, even from an application allowed the admin API', async () => {
    const key = await generateTestKey('ES256');
    const app = await createApplication(registryDeps(server), { name: 'Signs for anyone', grantTypes: [JWT_BEARER_GRANT], jwks: jwksOf(key), adminApi: true });
    await refreshCache(server);
    const assertion = await signAssertion(key, { iss: app.application.clientId, sub: 'admin', aud: server.url });
    const res = await tokenRequest(server.url, { form: { grant_type: JWT_BEARER_GRANT, assertion, scope: 'latchkey.admin' } });
    assert.equal(res.status, 200, res.text);
    await assertRefused(await bearer(res.json?.access_token as string), 403, 'admin.grant_not_allowed');
  });

  it("an identity provider's token whose preferred_username is admin cannot administer", async () => {
    const external = await idp.mint({ aud: 'api://latchkey', sub: 'attacker-42', preferred_username: 'admin', scope: 'latchkey.admin' });
    await assertRefused(await bearer(external), 403, 'admin.external_token');
  });

  it('the all-access scope does not stand in for latchkey.admin', async () => {
    const deps = registryDeps(server);
    await createUser(deps, { userName: 'svc-root', roles: ['admin'] });
    const app = await createApplication(deps, { name: 'All access admin app', grantTypes: ['client_credentials'], appUser: 'svc-root', scopes: ['useraccount'], adminApi: true });
    await refreshCache(server);
    const access = await token(app.application.clientId, app.clientSecret ?? '', { grant_type: 'client_credentials', scope: 'useraccount' });
    await assertRefused(await bearer(access), 403, 'admin.scope_missing');
  });

  it('a consent page never grants latchkey.admin to an application other than the console', async () => {
    const app = await createApplication(registryDeps(server), { name: 'Wants admin', grantTypes: ['authorization_code'], redirectUris: [REDIRECT], adminApi: true });
    await refreshCache(server);
    const { challenge } = pkcePair();
    const url = authorizeUrl(server, { response_type: 'code', client_id: app.application.clientId, redirect_uri: REDIRECT, scope: 'latchkey.admin', code_challenge: challenge, code_challenge_method: 'S256', state: 's2' });
    const page = await new Browser(server.url).get(url);
    assert.equal(page.status, 303, page.text.slice(0, 300));
    const params = redirectParams(page);
    assert.equal(params.get('error'), 'invalid_scope');
    const recorded = await server.latchkey.storage.refusals.list({ reason: 'scope.admin_not_grantable', limit: 1 });
    assert.equal(recorded.length, 1);
    // Without the scope requested, the consent page grants the rest and leaves latchkey.admin out.
    assert.deepEqual(app.application.scopes, ['latchkey.admin']);
  });

  it('an application allowed the admin API administers while its user has the admin role; switching either off refuses at once', async () => {
    const deps = registryDeps(server);
    await createUser(deps, { userName: 'svc-ops', roles: ['admin'] });
    const app = await createApplication(deps, { name: 'Ops scripts', grantTypes: ['client_credentials'], appUser: 'svc-ops', adminApi: true });
    assert.deepEqual(app.application.scopes, ['latchkey.admin'], '--admin-api adds the scope');
    await refreshCache(server);
    const access = await token(app.application.clientId, app.clientSecret ?? '', { grant_type: 'client_credentials', scope: 'latchkey.admin' });
    const ok = await bearer(access);
    assert.equal(ok.status, 200, ok.text);
    await updateUser(deps, 'svc-ops', { roles: ['itil'] });
    await refreshCache(server);
    await assertRefused(await bearer(access), 403, 'admin.role_missing');
    await updateUser(deps, 'svc-ops', { roles: ['admin'] });
    await updateApplication(deps, app.application.clientId, { adminApi: false });
    await refreshCache(server);
    // The application no longer allows the scope, so the token's scopes in effect lose it too.
    await assertRefused(await bearer(access), 403, 'admin.application_not_allowed');
  });

  it('the scope is reserved: listing it without the admin API is refused with the fix', async () => {
    await assert.rejects(
      createApplication(registryDeps(server), { name: 'Sneaky', grantTypes: ['client_credentials'], scopes: ['latchkey.admin'] }),
      /reserved for applications allowed to administer.*--admin-api true/,
    );
  });

  it('a bad token is refused with its own reason, recorded under the admin endpoint', async () => {
    await assertRefused(await bearer('lk_at_not-a-real-token'), 401, 'token.unknown');
    await assertRefused(await adminFetch(server, 'GET', '/users'), 401, 'admin.credentials_missing');
  });
});
