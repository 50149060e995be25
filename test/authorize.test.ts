import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import * as openid from 'openid-client';
import { tokenKey } from '../src/core/crypto.js';
import { createApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { createUser } from '../src/registry/users.js';
import { authorizeInBrowser, Browser, formFor, formsOf, hasForm, redirectParams } from './helpers/browser.js';
import { refreshCache, registryDeps, storedTokenKey, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const ALICE_PW = 'alice-authorize-password';
const SPA_CALLBACK = 'http://127.0.0.1:8765/callback';
const WEB_CALLBACK = 'https://portal.example.com/oauth/callback';
const WEB_CALLBACK_2 = 'https://portal.example.com/other-callback';

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The authorization code flow through the pages, as users and client developers meet it. */
describe('authorization code flow', () => {
  let server: TestServer;
  let spa: { clientId: string };
  let web: { clientId: string; secret: string };
  let single: { clientId: string; secret: string };
  let noCode: { clientId: string; secret: string };

  before(async () => {
    server = await startTestServer();
    const deps = registryDeps(server);
    await createScope(deps, 'profile.read', 'Read your profile');
    await createScope(deps, 'orders.write', 'Create and change orders');
    await createUser(deps, { userName: 'alice', password: ALICE_PW });
    const s = await createApplication(deps, {
      name: 'Single-page app',
      public: true,
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [SPA_CALLBACK],
      scopes: ['profile.read'],
      logoUri: 'https://cdn.example.com/spa-logo.png',
    });
    spa = { clientId: s.application.clientId };
    const w = await createApplication(deps, {
      name: 'Customer portal',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [WEB_CALLBACK, WEB_CALLBACK_2],
      scopes: ['profile.read', 'orders.write'],
    });
    web = { clientId: w.application.clientId, secret: w.clientSecret ?? '' };
    const one = await createApplication(deps, { name: 'One callback', grantTypes: ['authorization_code'], redirectUris: [WEB_CALLBACK], scopes: ['profile.read'] });
    single = { clientId: one.application.clientId, secret: one.clientSecret ?? '' };
    const nc = await createApplication(deps, { name: 'No code grant', grantTypes: ['password'], redirectUris: [WEB_CALLBACK], scopes: ['profile.read'] });
    noCode = { clientId: nc.application.clientId, secret: nc.clientSecret ?? '' };
    await refreshCache(server);
  });
  after(async () => server.close());

  const insecure = { execute: [openid.allowInsecureRequests] };
  const discover = (clientId: string, auth: openid.ClientAuth) => openid.discovery(new URL(server.url), clientId, undefined, auth, { ...insecure, algorithm: 'oauth2' });

  describe('openid-client v6 (discovery, PKCE S256, state, iss)', () => {
    it('completes the flow for a public client and refreshes the token', async () => {
      const config = await discover(spa.clientId, openid.None());
      assert.equal(config.serverMetadata().authorization_endpoint, `${server.url}/oauth/authorize`);
      const pkceCodeVerifier = openid.randomPKCECodeVerifier();
      const state = openid.randomState();
      const url = openid.buildAuthorizationUrl(config, {
        redirect_uri: SPA_CALLBACK,
        scope: 'profile.read',
        code_challenge: await openid.calculatePKCECodeChallenge(pkceCodeVerifier),
        code_challenge_method: 'S256',
        state,
      });
      assert.equal(url.origin + url.pathname, `${server.url}/oauth/authorize`);
      const answer = await authorizeInBrowser(new Browser(server.url), url.toString(), { username: 'alice', password: ALICE_PW });
      const callback = new URL(answer.location ?? '');
      assert.equal(callback.origin + callback.pathname, SPA_CALLBACK);
      assert.equal(callback.searchParams.get('iss'), server.url);
      assert.match(callback.searchParams.get('code') ?? '', /^lk_ac_[0-9a-f]{12}[A-Za-z0-9_-]{43}$/);

      const tokens = await openid.authorizationCodeGrant(config, callback, { pkceCodeVerifier, expectedState: state });
      assert.match(tokens.access_token, /^lk_at_/);
      assert.equal(tokens.token_type, 'bearer');
      assert.equal(tokens.scope, 'profile.read');
      assert.match(String(tokens.refresh_token), /^lk_rt_/);

      // The tokens act as alice, were issued by this grant, and belong to the code's family.
      const record = await server.latchkey.storage.tokens.byHash(storedTokenKey(tokens.access_token));
      const alice = await server.latchkey.storage.users.byName('alice');
      assert.equal(record?.userId, alice?.id);
      assert.equal(record?.grantType, 'authorization_code');
      assert.equal(record?.familyId, tokenKey(callback.searchParams.get('code') ?? ''));

      const refreshed = await openid.refreshTokenGrant(config, String(tokens.refresh_token));
      assert.match(refreshed.access_token, /^lk_at_/);
      assert.notEqual(refreshed.refresh_token, tokens.refresh_token);
    });

    it('completes the flow for a confidential client (client_secret_basic), redirect_uri and all', async () => {
      const config = await discover(web.clientId, openid.ClientSecretBasic(web.secret));
      const pkceCodeVerifier = openid.randomPKCECodeVerifier();
      const state = openid.randomState();
      const url = openid.buildAuthorizationUrl(config, {
        redirect_uri: WEB_CALLBACK_2,
        scope: 'profile.read orders.write',
        code_challenge: await openid.calculatePKCECodeChallenge(pkceCodeVerifier),
        code_challenge_method: 'S256',
        state,
      });
      const answer = await authorizeInBrowser(new Browser(server.url), url.toString(), { username: 'alice', password: ALICE_PW });
      assert.ok(answer.location?.startsWith(`${WEB_CALLBACK_2}?`), answer.location);
      const tokens = await openid.authorizationCodeGrant(config, new URL(answer.location ?? ''), { pkceCodeVerifier, expectedState: state });
      assert.equal(tokens.scope, 'profile.read orders.write');
      assert.match(String(tokens.refresh_token), /^lk_rt_/);
    });

    it('rejects, in the library, an answer whose state is not the one it sent', async () => {
      const config = await discover(spa.clientId, openid.None());
      const pkceCodeVerifier = openid.randomPKCECodeVerifier();
      const url = openid.buildAuthorizationUrl(config, {
        redirect_uri: SPA_CALLBACK,
        code_challenge: await openid.calculatePKCECodeChallenge(pkceCodeVerifier),
        code_challenge_method: 'S256',
        state: 'sent-state',
      });
      const answer = await authorizeInBrowser(new Browser(server.url), url.toString(), { username: 'alice', password: ALICE_PW });
      await assert.rejects(openid.authorizationCodeGrant(config, new URL(answer.location ?? ''), { pkceCodeVerifier, expectedState: 'another-state' }), (error: Error & { cause?: unknown; code?: string }) => {
        assert.match(`${error.message} ${(error.cause as Error | undefined)?.message ?? ''}`, /state/i);
        return true;
      });
    });
  });

  describe('pages', () => {
    const authorizeUrl = (params: Record<string, string>, path = '/oauth/authorize') => `${server.url}${path}?${new URLSearchParams(params).toString()}`;
    const spaParams = () => {
      const { verifier, challenge } = pkcePair();
      return { verifier, params: { response_type: 'code', client_id: spa.clientId, redirect_uri: SPA_CALLBACK, code_challenge: challenge, code_challenge_method: 'S256', state: 'st-1' } };
    };

    it('the sign-in page is accessible: headings, labels, the application named, a CSRF field, its logo', async () => {
      const page = await new Browser(server.url).get(authorizeUrl(spaParams().params));
      assert.equal(page.status, 200);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html; charset=utf-8/);
      assert.match(page.text, /<html lang="en">/);
      assert.match(page.text, /<h1>Sign in<\/h1>/);
      assert.match(page.text, /Single-page app/);
      assert.match(page.text, /<label for="username">User name<\/label>\s*<input type="text" id="username" name="username"/);
      assert.match(page.text, /<label for="password">Password<\/label>\s*<input type="password" id="password" name="password" autocomplete="current-password"/);
      assert.match(page.text, /<button type="submit" class="primary full">Sign in<\/button>/);
      assert.match(page.text, /<img src="https:\/\/cdn\.example\.com\/spa-logo\.png"/);
      const form = formFor(page, 'sign_in');
      assert.equal(form.action, 'authorize');
      assert.match(form.fields.lk_csrf ?? '', /^[A-Za-z0-9_-]{43}$/);
      assert.ok((form.fields.lk_request ?? '').length > 20);
      assert.equal(formsOf(page.text).length, 1);
    });

    it('the consent page lists the scopes with their descriptions and offers Allow and Deny', async () => {
      const browser = new Browser(server.url);
      const url = authorizeUrl({ response_type: 'code', client_id: web.clientId, redirect_uri: WEB_CALLBACK, scope: 'profile.read orders.write', state: 'x' });
      const signIn = await browser.get(url);
      const consent = await browser.submit(url, formFor(signIn, 'sign_in'), { username: 'alice', password: ALICE_PW });
      assert.equal(consent.status, 200);
      assert.match(consent.text, /<h1 id="consent-title">Allow Customer portal to access your account\?<\/h1>/);
      assert.match(consent.text, /Signed in as <strong>alice<\/strong>/);
      assert.match(consent.text, /<span class="scope">profile\.read<\/span><br><span class="muted">Read your profile<\/span>/);
      assert.match(consent.text, /<span class="scope">orders\.write<\/span><br><span class="muted">Create and change orders<\/span>/);
      assert.match(consent.text, /portal\.example\.com/);
      const form = formFor(consent, 'consent');
      assert.deepEqual(form.buttons.map((b) => [b.name, b.value, b.label]), [['decision', 'deny', 'Deny'], ['decision', 'allow', 'Allow']]);
      assert.ok(hasForm(consent, 'switch_user'));
      // No logo registered: none shown.
      assert.doesNotMatch(consent.text, /<img/);
      // The consent answer redirects to the client: the form-action directive allows its origin.
      assert.match(consent.headers.get('content-security-policy') ?? '', /form-action 'self' https:\/\/portal\.example\.com;/);
    });

    it('Deny sends access_denied with state and iss back to the client, and is recorded', async () => {
      const { params } = spaParams();
      const answer = await authorizeInBrowser(new Browser(server.url), authorizeUrl(params), { username: 'alice', password: ALICE_PW }, 'deny');
      const p = redirectParams(answer);
      assert.equal(p.get('error'), 'access_denied');
      assert.equal(p.get('state'), 'st-1');
      assert.equal(p.get('iss'), server.url);
      assert.equal(p.get('code'), null);
      const refusal = await server.latchkey.storage.refusals.byRequestId(answer.requestId);
      assert.equal(refusal?.reason, 'authorize.consent_denied');
      assert.equal(refusal?.endpoint, 'authorize');
      assert.equal(refusal?.userName, 'alice');
      assert.equal(refusal?.clientId, spa.clientId);
    });

    it('a signed-in browser goes straight to consent on the next request', async () => {
      const browser = new Browser(server.url);
      await authorizeInBrowser(browser, authorizeUrl(spaParams().params), { username: 'alice', password: ALICE_PW });
      const next = await browser.get(authorizeUrl(spaParams().params));
      assert.ok(!hasForm(next, 'sign_in'));
      assert.ok(hasForm(next, 'consent'));
      // "Sign in as someone else" ends the session and shows the sign-in page.
      const switched = await browser.submit(authorizeUrl({}), formFor(next, 'switch_user'));
      assert.equal(switched.status, 200);
      assert.ok(hasForm(switched, 'sign_in'));
      assert.ok(switched.setCookies.some((c) => /^latchkey_session=;.*Max-Age=0/.test(c)), switched.setCookies.join('\n'));
    });

    it('the same message for an unknown user and a wrong password; the user name is kept in the form', async () => {
      const browser = new Browser(server.url);
      const url = authorizeUrl(spaParams().params);
      const page = await browser.get(url);
      const wrong = await browser.submit(url, formFor(page, 'sign_in'), { username: 'alice', password: 'not-her-password' });
      const unknown = await browser.submit(url, formFor(page, 'sign_in'), { username: 'nobody-here', password: 'not-her-password' });
      for (const p of [wrong, unknown]) {
        assert.equal(p.status, 400);
        assert.match(p.text, /<p class="alert" role="alert">The user name or password is wrong\.<\/p>/);
        assert.ok(hasForm(p, 'sign_in'));
        assert.equal(p.setCookies.filter((c) => c.startsWith('latchkey_session=')).length, 0);
        const refusal = await server.latchkey.storage.refusals.byRequestId(p.requestId);
        assert.equal(refusal?.reason, 'user.bad_credentials');
        assert.equal(refusal?.endpoint, 'authorize');
      }
      assert.match(wrong.text, /name="username" value="alice"/);
      assert.equal((await server.latchkey.storage.refusals.byRequestId(unknown.requestId))?.userName, 'nobody-here');
    });

    it('redirect_uri may be omitted when exactly one is registered; the token request then omits it too', async () => {
      const browser = new Browser(server.url);
      const answer = await authorizeInBrowser(browser, authorizeUrl({ response_type: 'code', client_id: single.clientId, state: 's' }, '/oauth_auth.do'), { username: 'alice', password: ALICE_PW });
      assert.ok(answer.location?.startsWith(`${WEB_CALLBACK}?code=`), answer.location);
      const code = redirectParams(answer).get('code') ?? '';
      const res = await tokenRequest(server.url, { form: { grant_type: 'authorization_code', code }, basic: [single.clientId, single.secret] });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json?.scope, 'profile.read');
      assert.equal(res.json?.refresh_token, undefined, 'no refresh token without the refresh_token grant');
      assert.equal(res.headers.get('cache-control'), 'no-store');
    });

    it('accepts the authorization request by POST (RFC 6749 section 3.1)', async () => {
      const browser = new Browser(server.url);
      const { params, verifier } = spaParams();
      const page = await browser.request(`${server.url}/oauth/authorize`, { form: params });
      assert.equal(page.status, 200);
      const consent = await browser.submit(`${server.url}/oauth/authorize`, formFor(page, 'sign_in'), { username: 'alice', password: ALICE_PW });
      const answer = await browser.submit(`${server.url}/oauth/authorize`, formFor(consent, 'consent'), { decision: 'allow' });
      const code = redirectParams(answer).get('code') ?? '';
      const res = await tokenRequest(server.url, { form: { grant_type: 'authorization_code', code, redirect_uri: SPA_CALLBACK, code_verifier: verifier, client_id: spa.clientId } });
      assert.equal(res.status, 200, res.text);
    });

    it('keeps a query already in the redirect URI', async () => {
      const deps = registryDeps(server);
      const app = await createApplication(deps, { name: 'Query callback', grantTypes: ['authorization_code'], redirectUris: ['https://q.example.com/cb?tenant=a%20b'] });
      await refreshCache(server);
      const answer = await authorizeInBrowser(new Browser(server.url), authorizeUrl({ response_type: 'code', client_id: app.application.clientId, state: 'z' }), { username: 'alice', password: ALICE_PW });
      assert.match(answer.location ?? '', /^https:\/\/q\.example\.com\/cb\?tenant=a%20b&code=lk_ac_[^&]+&state=z&iss=/);
    });

    describe('errors sent back to the client (after client and redirect URI are verified)', () => {
      const expectRedirectError = async (params: Record<string, string>, error: string, reason: string, callback = SPA_CALLBACK) => {
        const page = await new Browser(server.url).get(authorizeUrl(params));
        assert.equal(page.status, 303, page.text);
        assert.ok(page.location?.startsWith(`${callback}?`), page.location);
        const p = redirectParams(page);
        assert.equal(p.get('error'), error);
        assert.ok((p.get('error_description') ?? '').length > 0);
        assert.equal(p.get('state'), params.state ?? null);
        assert.equal(p.get('iss'), server.url);
        assert.equal(page.headers.get('cache-control'), 'no-store');
        assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
        const refusal = await server.latchkey.storage.refusals.byRequestId(page.requestId);
        assert.equal(refusal?.reason, reason);
        assert.equal(refusal?.endpoint, 'authorize');
        assert.equal(refusal?.error, error);
      };

      it('response_type token: unsupported_response_type', async () => {
        await expectRedirectError({ ...spaParams().params, response_type: 'token' }, 'unsupported_response_type', 'authorize.unsupported_response_type');
      });
      it('no response_type: invalid_request', async () => {
        const { response_type: _omitted, ...params } = spaParams().params;
        await expectRedirectError(params, 'invalid_request', 'authorize.response_type_missing');
      });
      it('a scope the application is not allowed: invalid_scope', async () => {
        await expectRedirectError({ ...spaParams().params, scope: 'orders.write' }, 'invalid_scope', 'scope.not_allowed');
      });
      it('a public client without PKCE: invalid_request', async () => {
        const { code_challenge: _c, code_challenge_method: _m, ...params } = spaParams().params;
        await expectRedirectError(params, 'invalid_request', 'pkce.challenge_missing');
      });
      it('code_challenge_method plain, or omitted (which means plain): invalid_request', async () => {
        await expectRedirectError({ ...spaParams().params, code_challenge_method: 'plain' }, 'invalid_request', 'pkce.method_unsupported');
        const { code_challenge_method: _m, ...params } = spaParams().params;
        await expectRedirectError(params, 'invalid_request', 'pkce.method_unsupported');
      });
      it('a challenge that is not an S256 value: invalid_request', async () => {
        await expectRedirectError({ ...spaParams().params, code_challenge: 'too-short' }, 'invalid_request', 'pkce.challenge_malformed');
      });
      it('an application without the authorization_code grant: unauthorized_client', async () => {
        await expectRedirectError({ response_type: 'code', client_id: noCode.clientId, redirect_uri: WEB_CALLBACK, state: 'q' }, 'unauthorized_client', 'grant.not_allowed_for_application', WEB_CALLBACK);
      });
      it('a repeated parameter: invalid_request', async () => {
        const params = new URLSearchParams(spaParams().params);
        params.append('scope', 'profile.read');
        params.append('scope', 'profile.read');
        const page = await new Browser(server.url).get(`${server.url}/oauth/authorize?${params.toString()}`);
        assert.equal(redirectParams(page).get('error'), 'invalid_request');
        assert.equal((await server.latchkey.storage.refusals.byRequestId(page.requestId))?.reason, 'request.repeated_parameter');
      });
    });
  });
});
