import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import * as openid from 'openid-client';
import { buildFixture } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const ALICE_PW = 'alice-library-password';

/** Interoperability with widely used OAuth client libraries, as a client developer would use them. */
describe('standard client libraries against the token endpoint', () => {
  let server: TestServer;
  let as: oauth.AuthorizationServer;
  let exportApp: { id: string; secret: string };
  let portalApp: { id: string; secret: string };
  const insecure = { [oauth.allowInsecureRequests]: true } as const;

  before(async () => {
    server = await startTestServer();
    const { apps } = await buildFixture(server, {
      scopes: ['export.read', 'export.write'],
      users: [{ userName: 'svc-integration' }, { userName: 'alice', password: ALICE_PW }],
      properties: { [CC]: 'true' },
      apps: {
        export: { name: 'Nightly export', grantTypes: ['client_credentials'], appUser: 'svc-integration', scopes: ['export.read', 'export.write'] },
        portal: { name: 'Portal', grantTypes: ['password'], scopes: ['export.read'] },
      },
    });
    exportApp = { id: apps.export.clientId, secret: apps.export.secret };
    portalApp = { id: apps.portal.clientId, secret: apps.portal.secret };
    as = { issuer: server.url, token_endpoint: `${server.url}/oauth/token` };
  });
  after(async () => server.close());

  describe('oauth4webapi', () => {
    it('obtains a client-credentials token with client_secret_basic', async () => {
      const client: oauth.Client = { client_id: exportApp.id };
      const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(exportApp.secret), new URLSearchParams({ scope: 'export.read' }), insecure);
      const result = await oauth.processClientCredentialsResponse(as, client, response);
      assert.match(result.access_token, /^lk_at_/);
      assert.equal(result.token_type, 'bearer');
      assert.equal(result.expires_in, 1800);
      assert.equal(result.scope, 'export.read');
      assert.equal(result.refresh_token, undefined);
    });

    it('obtains a password-grant token with client_secret_post, then refreshes it', async () => {
      const client: oauth.Client = { client_id: portalApp.id };
      const auth = oauth.ClientSecretPost(portalApp.secret);
      const response = await oauth.genericTokenEndpointRequest(as, client, auth, 'password', new URLSearchParams({ username: 'alice', password: ALICE_PW }), insecure);
      const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
      assert.equal(result.token_type, 'bearer');
      assert.equal(result.expires_in, 1800);
      assert.equal(result.scope, 'export.read');
      assert.match(String(result.refresh_token), /^lk_rt_/);
      const refreshed = await oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, auth, String(result.refresh_token), insecure));
      assert.match(String(refreshed.refresh_token), /^lk_rt_/);
      assert.notEqual(refreshed.refresh_token, result.refresh_token);
      assert.notEqual(refreshed.access_token, result.access_token);
    });

    it('surfaces a wrong secret as a 401 Basic challenge, and an invalid_grant as a response body error', async () => {
      const client: oauth.Client = { client_id: exportApp.id };
      const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic('lk_cs_wrong'), new URLSearchParams(), insecure);
      await assert.rejects(oauth.processClientCredentialsResponse(as, client, response), (error: unknown) => {
        assert.ok(error instanceof oauth.WWWAuthenticateChallengeError, String(error));
        assert.equal(error.status, 401);
        assert.equal(error.cause[0]?.scheme, 'basic');
        assert.equal(error.cause[0]?.parameters.realm, 'latchkey');
        return true;
      });
      const portal: oauth.Client = { client_id: portalApp.id };
      const bad = await oauth.genericTokenEndpointRequest(as, portal, oauth.ClientSecretBasic(portalApp.secret), 'password', new URLSearchParams({ username: 'alice', password: 'wrong-password' }), insecure);
      await assert.rejects(oauth.processGenericTokenEndpointResponse(as, portal, bad), (error: unknown) => {
        assert.ok(error instanceof oauth.ResponseBodyError, String(error));
        assert.equal(error.status, 400);
        assert.equal(error.error, 'invalid_grant');
        assert.equal(error.error_description, 'The user name or password is wrong.');
        return true;
      });
    });
  });

  describe('openid-client', () => {
    function config(id: string, secret: string, auth?: openid.ClientAuth): openid.Configuration {
      const c = new openid.Configuration({ issuer: server.url, token_endpoint: `${server.url}/oauth_token.do` }, id, secret, auth);
      openid.allowInsecureRequests(c);
      return c;
    }

    it('obtains a client-credentials token (default client authentication)', async () => {
      const tokens = await openid.clientCredentialsGrant(config(exportApp.id, exportApp.secret), { scope: 'export.write' });
      assert.match(tokens.access_token, /^lk_at_/);
      assert.equal(tokens.token_type, 'bearer');
      assert.equal(tokens.expires_in, 1800); // expiresIn() counts down from the response time
      assert.equal(tokens.scope, 'export.write');
    });

    it('obtains a client-credentials token with client_secret_basic', async () => {
      const tokens = await openid.clientCredentialsGrant(config(exportApp.id, exportApp.secret, openid.ClientSecretBasic(exportApp.secret)));
      assert.equal(tokens.scope, 'export.read export.write');
    });

    it('runs the password grant through genericGrantRequest and refreshes', async () => {
      const c = config(portalApp.id, portalApp.secret);
      const tokens = await openid.genericGrantRequest(c, 'password', { username: 'alice', password: ALICE_PW });
      assert.match(String(tokens.refresh_token), /^lk_rt_/);
      const refreshed = await openid.refreshTokenGrant(c, String(tokens.refresh_token));
      assert.match(String(refreshed.refresh_token), /^lk_rt_/);
      await assert.rejects(openid.refreshTokenGrant(c, String(tokens.refresh_token)), (error: unknown) => {
        assert.ok(error instanceof openid.ResponseBodyError, String(error));
        assert.equal(error.error, 'invalid_grant');
        return true;
      });
    });
  });
});
