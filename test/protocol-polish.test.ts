/**
 * Protocol details real clients tripped on (issue 13, item 8):
 * - a token response with no granted scope has no `scope` member (RFC 6749 §3.3: a scope is one or
 *   more scope tokens; `"scope":""` is none of them), and one with scopes still has it;
 * - revocation answers 200 with an application/json `{}` (RFC 7009 §2.2 lets the body be anything;
 *   clients that parse every answer as JSON, such as simple-oauth2's revokeAll(), refused the empty
 *   text/plain body and then left the refresh token valid). Through openid-client and
 *   oauth4webapi, then what a JSON-only client does: parse the body by its content type.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import * as openid from 'openid-client';
import { buildFixture, CC_PROPERTY } from './helpers/fixture.js';
import { tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PW = 'polish-user-password';

describe('protocol polish', () => {
  let server: TestServer;
  let noScopes: { clientId: string; secret: string };
  let scoped: { clientId: string; secret: string };
  let portal: { clientId: string; secret: string };

  before(async () => {
    server = await startTestServer();
    const { apps } = await buildFixture(server, {
      scopes: ['orders.read'],
      users: [{ userName: 'svc-polish' }, { userName: 'polly', password: PW }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: {
        bare: { name: 'No scopes', grantTypes: ['client_credentials'], appUser: 'svc-polish', scopes: [] },
        scoped: { name: 'Scoped', grantTypes: ['client_credentials'], appUser: 'svc-polish', scopes: ['orders.read'] },
        portal: { name: 'Portal', grantTypes: ['password', 'refresh_token'], scopes: [] },
      },
    });
    noScopes = { clientId: apps.bare.clientId, secret: apps.bare.secret };
    scoped = { clientId: apps.scoped.clientId, secret: apps.scoped.secret };
    portal = { clientId: apps.portal.clientId, secret: apps.portal.secret };
  });
  after(async () => server.close());

  it('no granted scope: no "scope" member (client credentials, password with a refresh token); granted scopes: there', async () => {
    const bare = await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [noScopes.clientId, noScopes.secret] });
    assert.equal(bare.status, 200, bare.text);
    assert.deepEqual(Object.keys(bare.json ?? {}).sort(), ['access_token', 'expires_in', 'token_type']);
    assert.doesNotMatch(bare.text, /"scope"/);
    const password = await tokenRequest(server.url, { form: { grant_type: 'password', username: 'polly', password: PW }, basic: [portal.clientId, portal.secret] });
    assert.equal(password.status, 200, password.text);
    assert.deepEqual(Object.keys(password.json ?? {}).sort(), ['access_token', 'expires_in', 'refresh_token', 'token_type']);
    const refreshed = await tokenRequest(server.url, { form: { grant_type: 'refresh_token', refresh_token: String(password.json?.refresh_token) }, basic: [portal.clientId, portal.secret] });
    assert.equal(refreshed.status, 200, refreshed.text);
    assert.equal('scope' in (refreshed.json ?? {}), false);
    const withScope = await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [scoped.clientId, scoped.secret] });
    assert.equal(withScope.json?.scope, 'orders.read');
  });

  it('oauth4webapi reads a scope-less response as no scope', async () => {
    const as: oauth.AuthorizationServer = { issuer: server.url, token_endpoint: `${server.url}/oauth/token` };
    const client: oauth.Client = { client_id: noScopes.clientId };
    const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(noScopes.secret), new URLSearchParams(), { [oauth.allowInsecureRequests]: true });
    const result = await oauth.processClientCredentialsResponse(as, client, response);
    assert.equal(result.scope, undefined);
  });

  describe('revocation', () => {
    it('answers 200 application/json {} that a JSON-only client parses; the refresh token is then refused', async () => {
      const tokens = await tokenRequest(server.url, { form: { grant_type: 'password', username: 'polly', password: PW }, basic: [portal.clientId, portal.secret] });
      const refresh = String(tokens.json?.refresh_token);
      for (const path of ['/oauth/revoke', '/oauth_revoke_token.do']) {
        const res = await fetch(`${server.url}${path}`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${portal.clientId}:${portal.secret}`).toString('base64')}` },
          body: new URLSearchParams({ token: refresh, token_type_hint: 'refresh_token' }),
        });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
        assert.equal(res.headers.get('cache-control'), 'no-store');
        // What simple-oauth2 (through @hapi/wreck, json: 'force') does with every answer.
        assert.deepEqual(JSON.parse(await res.text()), {});
      }
      const again = await tokenRequest(server.url, { form: { grant_type: 'refresh_token', refresh_token: refresh }, basic: [portal.clientId, portal.secret] });
      assert.equal(again.status, 400);
      assert.equal(again.json?.error, 'invalid_grant');
    });

    it('openid-client tokenRevocation() and oauth4webapi processRevocationResponse() accept the answer, for both tokens', async () => {
      const c = new openid.Configuration({ issuer: server.url, token_endpoint: `${server.url}/oauth_token.do`, revocation_endpoint: `${server.url}/oauth/revoke` }, portal.clientId, portal.secret);
      openid.allowInsecureRequests(c);
      const tokens = await openid.genericGrantRequest(c, 'password', { username: 'polly', password: PW });
      assert.equal(tokens.scope, undefined);
      await openid.tokenRevocation(c, tokens.access_token, { token_type_hint: 'access_token' });
      await openid.tokenRevocation(c, String(tokens.refresh_token), { token_type_hint: 'refresh_token' });
      await assert.rejects(openid.refreshTokenGrant(c, String(tokens.refresh_token)), (e: unknown) => e instanceof openid.ResponseBodyError && e.error === 'invalid_grant');

      const as: oauth.AuthorizationServer = { issuer: server.url, token_endpoint: `${server.url}/oauth/token`, revocation_endpoint: `${server.url}/oauth_revoke_token.do` };
      const client: oauth.Client = { client_id: portal.clientId };
      const auth = oauth.ClientSecretBasic(portal.secret);
      const second = await openid.genericGrantRequest(c, 'password', { username: 'polly', password: PW });
      const response = await oauth.revocationRequest(as, client, auth, String(second.refresh_token), { [oauth.allowInsecureRequests]: true });
      assert.equal(await oauth.processRevocationResponse(response), undefined);
      await assert.rejects(openid.refreshTokenGrant(c, String(second.refresh_token)));
    });
  });
});
