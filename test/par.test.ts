import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import * as oauth from 'oauth4webapi';
import { ManualClock } from '../src/core/clock.js';
import { createApplication, updateApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { pushedRequestKey } from '../src/endpoints/authorize/pushed.js';
import { CONSOLE_CLIENT_ID } from '../src/registry/bootstrap.js';
import { authorizeInBrowser, Browser, formFor, hasForm, type Page } from './helpers/browser.js';
import { refreshCache, registryDeps } from './helpers/oauth.js';
import { ADMIN_PASSWORD, adminFetch, adminToken } from './helpers/admin.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CALLBACK = 'https://par-client.example.com/cb';
const PW = 'par-user-password-1';
const URN = 'urn:ietf:params:oauth:request_uri:';

/**
 * Pushed authorization requests (RFC 9126) over real HTTP, with oauth4webapi as the client: the
 * request pushed to /oauth/par, the browser sent to the authorization endpoint with only client_id
 * and request_uri, sign-in and consent on our pages, the code redeemed with PKCE. Then every error
 * the RFC defines (JSON at /oauth/par, a page at the authorization endpoint), single use across two
 * instances on one database, and a little fuzzing of the endpoint.
 */
describe('pushed authorization requests (RFC 9126)', () => {
  const clock = new ManualClock();
  let server: TestServer;
  let as: oauth.AuthorizationServer;
  let web: { client: oauth.Client; secret: string; id: string };
  let spa: { client: oauth.Client; id: string };
  let other: { client: oauth.Client; secret: string };
  const insecure = { [oauth.allowInsecureRequests]: true } as const;

  before(async () => {
    server = await startTestServer({ clock });
    const deps = registryDeps(server, clock);
    await createScope(deps, 'orders.read', 'Read your orders');
    await createUser(deps, { userName: 'pat', password: PW });
    const grants = ['authorization_code', 'refresh_token'];
    const a = await createApplication(deps, { name: 'PAR web client', grantTypes: grants, redirectUris: [CALLBACK, `${CALLBACK}/2`], scopes: ['openid', 'orders.read'] });
    web = { client: { client_id: a.application.clientId }, secret: a.clientSecret ?? '', id: a.application.id };
    const b = await createApplication(deps, { name: 'PAR public client', public: true, grantTypes: ['authorization_code'], redirectUris: [CALLBACK], scopes: ['orders.read'] });
    spa = { client: { client_id: b.application.clientId, token_endpoint_auth_method: 'none' }, id: b.application.id };
    const c = await createApplication(deps, { name: 'Another client', grantTypes: grants, redirectUris: [CALLBACK], scopes: ['orders.read'] });
    other = { client: { client_id: c.application.clientId }, secret: c.clientSecret ?? '' };
    await refreshCache(server);
    const issuer = new URL(server.url);
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure }));
  });
  after(async () => server.close());

  const basic = (secret: string) => oauth.ClientSecretBasic(secret);
  /** The authorization URL of RFC 9126 §4: client_id and request_uri only (plus whatever `extra` adds). */
  const authorizeUrlOf = (clientId: string, requestUri: string, extra: Record<string, string> = {}) => {
    const url = new URL(as.authorization_endpoint ?? '');
    url.searchParams.set('client_id', clientId);
    url.searchParams.set('request_uri', requestUri);
    for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
    return url.toString();
  };
  const pkce = async () => {
    const verifier = oauth.generateRandomCodeVerifier();
    return { verifier, challenge: await oauth.calculatePKCECodeChallenge(verifier) };
  };
  /** Pushes as the web client (HTTP Basic) and returns the request_uri and expires_in. */
  async function push(params: Record<string, string>, who: { client: oauth.Client; auth: oauth.ClientAuth } = { client: web.client, auth: basic(web.secret) }) {
    const res = await oauth.pushedAuthorizationRequest(as, who.client, who.auth, params, insecure);
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    return oauth.processPushedAuthorizationResponse(as, who.client, res);
  }
  /** A raw POST to /oauth/par. */
  async function rawPush(body: string | URLSearchParams, headers: Record<string, string> = {}, method = 'POST') {
    const res = await fetch(`${server.url}/oauth/par`, { method, headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, ...(method === 'GET' ? {} : { body: body.toString() }) });
    const text = await res.text();
    let json: Record<string, unknown> | undefined;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, json, requestId: res.headers.get('x-request-id') ?? '' };
  }
  const basicHeader = (id: string, secret: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}` });
  async function reasonOf(requestId: string): Promise<string | undefined> {
    return (await server.latchkey.storage.refusals.byRequestId(requestId))?.reason;
  }
  /** A PAR refusal: JSON 400 (or 401), the error code, and the reason recorded under the par endpoint. */
  async function assertParRefusal(res: Awaited<ReturnType<typeof rawPush>>, status: number, error: string, reason: string) {
    assert.equal(res.status, status, JSON.stringify(res.json));
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('location'), null, 'never a redirect');
    assert.equal(res.json?.error, error, JSON.stringify(res.json));
    const refusal = await server.latchkey.storage.refusals.byRequestId(res.requestId);
    assert.equal(refusal?.reason, reason);
    assert.equal(refusal?.endpoint, 'par');
  }
  /** An error page (never a redirect) with its recorded reason. */
  async function assertPage(page: Page, status: number, reason: string) {
    assert.equal(page.status, status, page.text.slice(0, 400));
    assert.equal(page.location, undefined, 'never a redirect');
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.equal(await reasonOf(page.requestId), reason);
  }

  describe('a PAR-initiated authorization code flow', () => {
    it('pushes, signs in and consents over HTTP, and redeems the code with PKCE (confidential client)', async () => {
      const { verifier, challenge } = await pkce();
      const state = oauth.generateRandomState();
      const pushed = await push({ redirect_uri: CALLBACK, response_type: 'code', scope: 'openid orders.read', code_challenge: challenge, code_challenge_method: 'S256', state, nonce: 'n-0S6_WzA2Mj' });
      assert.ok(pushed.request_uri.startsWith(URN), pushed.request_uri);
      assert.ok(pushed.request_uri.length >= URN.length + 43, 'at least 256 random bits');
      assert.equal(pushed.expires_in, 60, 'latchkey.par.lifetime by default');
      // Stored by its hash, never as the request_uri itself; without the client secret.
      const stored = await server.latchkey.storage.pushedRequests.consume('nothing', clock.now());
      assert.equal(stored.outcome, 'not_found');
      // Query parameters other than client_id and request_uri are ignored (§4): a scope and state sent here change nothing.
      const url = authorizeUrlOf(web.client.client_id, pushed.request_uri, { scope: 'orders.read', state: 'ignored', redirect_uri: `${CALLBACK}/2` });
      const browser = new Browser(server.url);
      const answer = await authorizeInBrowser(browser, url, { username: 'pat', password: PW });
      const callback = new URL(answer.location ?? '');
      assert.equal(`${callback.origin}${callback.pathname}`, CALLBACK, 'the pushed redirect_uri');
      const params = oauth.validateAuthResponse(as, web.client, callback, state);
      const res = await oauth.authorizationCodeGrantRequest(as, web.client, basic(web.secret), params, CALLBACK, verifier, insecure);
      const tokens = await oauth.processAuthorizationCodeResponse(as, web.client, res, { expectedNonce: 'n-0S6_WzA2Mj', requireIdToken: true });
      assert.equal(typeof tokens.access_token, 'string');
      assert.deepEqual(tokens.scope?.split(' ').sort(), ['openid', 'orders.read'], 'the pushed scope');
      // The request_uri was used: the same link again is refused.
      const again = await new Browser(server.url).get(url);
      await assertPage(again, 400, 'par.request_uri_used');
    });

    it('takes a public client by its client_id (§2) and keeps the pushed parameters across the sign-in page', async () => {
      const { verifier, challenge } = await pkce();
      const state = oauth.generateRandomState();
      const pushed = await push({ redirect_uri: CALLBACK, response_type: 'code', scope: 'orders.read', code_challenge: challenge, code_challenge_method: 'S256', state }, { client: spa.client, auth: oauth.None() });
      const browser = new Browser(server.url);
      const url = authorizeUrlOf(spa.client.client_id, pushed.request_uri);
      const signIn = await browser.get(url);
      assert.equal(signIn.status, 200);
      assert.ok(hasForm(signIn, 'sign_in'));
      const consent = await browser.submit(url, formFor(signIn, 'sign_in'), { username: 'pat', password: PW });
      assert.equal(consent.status, 200, consent.text.slice(0, 500));
      assert.ok(consent.text.includes('Read your orders'), 'the consent page shows the pushed scope');
      const answer = await browser.submit(url, formFor(consent, 'consent'), { decision: 'allow' });
      assert.equal(answer.status, 303);
      const params = oauth.validateAuthResponse(as, spa.client, new URL(answer.location ?? ''), state);
      const res = await oauth.authorizationCodeGrantRequest(as, spa.client, oauth.None(), params, CALLBACK, verifier, insecure);
      const tokens = await oauth.processAuthorizationCodeResponse(as, spa.client, res);
      assert.equal(tokens.scope, 'orders.read');
    });

    it('keeps dpop_jkt as an ordinary pushed parameter (the authorization endpoint reads it as it would from the query)', async () => {
      const { challenge } = await pkce();
      const pushed = await push({ redirect_uri: CALLBACK, response_type: 'code', scope: 'orders.read', code_challenge: challenge, code_challenge_method: 'S256', dpop_jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' });
      const key = pushedRequestKey(pushed.request_uri);
      const consumed = await server.latchkey.storage.pushedRequests.consume(key, clock.now());
      assert.equal(consumed.outcome, 'consumed');
      if (consumed.outcome === 'consumed') {
        const stored = new URLSearchParams(consumed.request.parameters);
        assert.equal(stored.get('dpop_jkt'), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
        assert.equal(stored.get('client_id'), web.client.client_id);
        assert.equal(consumed.request.applicationId, web.id);
        assert.ok(!consumed.request.parameters.includes(web.secret), 'no client credential stored');
      }
    });
  });

  describe('DPoP at /oauth/par (RFC 9449 section 10.1)', () => {
    /** Pushes with a DPoP proof of `key`, signs in and consents; returns the callback parameters and the PKCE verifier. */
    async function pushedWithProof(key: CryptoKeyPair, extra: Record<string, string> = {}) {
      const { verifier, challenge } = await pkce();
      const state = oauth.generateRandomState();
      const res = await oauth.pushedAuthorizationRequest(as, web.client, basic(web.secret), { redirect_uri: CALLBACK, response_type: 'code', scope: 'orders.read', code_challenge: challenge, code_challenge_method: 'S256', state, ...extra }, { DPoP: oauth.DPoP(web.client, key), ...insecure });
      assert.equal(res.status, 201, await res.clone().text());
      const pushed = await oauth.processPushedAuthorizationResponse(as, web.client, res);
      const answer = await authorizeInBrowser(new Browser(server.url), authorizeUrlOf(web.client.client_id, pushed.request_uri), { username: 'pat', password: PW });
      return { params: oauth.validateAuthResponse(as, web.client, new URL(answer.location ?? ''), state), verifier };
    }

    it('binds the code to the proof key: redeemed with that key it gives a DPoP token, with another key it is refused', async () => {
      const key = await oauth.generateKeyPair('ES256');
      const bound = await pushedWithProof(key);
      const res = await oauth.authorizationCodeGrantRequest(as, web.client, basic(web.secret), bound.params, CALLBACK, bound.verifier, { DPoP: oauth.DPoP(web.client, key), ...insecure });
      const tokens = await oauth.processAuthorizationCodeResponse(as, web.client, res);
      assert.equal(tokens.token_type, 'dpop');

      const other = await pushedWithProof(await oauth.generateKeyPair('ES256'));
      const refused = await oauth.authorizationCodeGrantRequest(as, web.client, basic(web.secret), other.params, CALLBACK, other.verifier, { DPoP: oauth.DPoP(web.client, key), ...insecure });
      assert.equal(refused.status, 400);
      const body = (await refused.json()) as { error: string };
      assert.equal(body.error, 'invalid_grant');
      assert.equal(await reasonOf(refused.headers.get('x-request-id') ?? ''), 'dpop.jkt_mismatch');
    });

    it('refuses a proof and a dpop_jkt naming different keys (dpop.par_jkt_mismatch), and a bad proof (invalid_dpop_proof)', async () => {
      const key = await oauth.generateKeyPair('ES256');
      const res = await oauth.pushedAuthorizationRequest(as, web.client, basic(web.secret), { ...{ redirect_uri: CALLBACK, response_type: 'code', scope: 'orders.read' }, dpop_jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' }, { DPoP: oauth.DPoP(web.client, key), ...insecure });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_dpop_proof');
      assert.equal(await reasonOf(res.headers.get('x-request-id') ?? ''), 'dpop.par_jkt_mismatch');
      const bad = await rawPush(new URLSearchParams({ redirect_uri: CALLBACK, response_type: 'code', scope: 'orders.read' }), { ...basicHeader(web.client.client_id, web.secret), dpop: 'not-a-proof' });
      await assertParRefusal(bad, 400, 'invalid_dpop_proof', 'dpop.proof_malformed');
    });
  });

  describe('errors at /oauth/par (JSON, never a redirect: §2.3)', () => {
    const good = () => ({ redirect_uri: CALLBACK, response_type: 'code', scope: 'orders.read' });

    it('refuses a request without client authentication (invalid_client, 401) and a wrong secret', async () => {
      await assertParRefusal(await rawPush(new URLSearchParams(good())), 401, 'invalid_client', 'client_auth.missing');
      await assertParRefusal(await rawPush(new URLSearchParams(good()), basicHeader(web.client.client_id, 'wrong')), 401, 'invalid_client', 'client_auth.secret_mismatch');
      // A confidential client cannot authenticate with its client_id alone.
      const none = await rawPush(new URLSearchParams({ ...good(), client_id: web.client.client_id }));
      assert.equal(none.status, 401);
      assert.equal(none.json?.error, 'invalid_client');
    });

    it('refuses a redirect_uri that is not registered, as JSON 400', async () => {
      const res = await rawPush(new URLSearchParams({ ...good(), redirect_uri: 'https://evil.example.com/cb' }), basicHeader(web.client.client_id, web.secret));
      await assertParRefusal(res, 400, 'invalid_request', 'authorize.redirect_uri_mismatch');
      // oauth4webapi sees the error as the RFC's JSON.
      const viaLib = await oauth.pushedAuthorizationRequest(as, web.client, basic(web.secret), { ...good(), redirect_uri: 'https://evil.example.com/cb' }, insecure);
      await assert.rejects(oauth.processPushedAuthorizationResponse(as, web.client, viaLib), (e: unknown) => e instanceof oauth.ResponseBodyError && e.error === 'invalid_request' && e.status === 400);
    });

    it('refuses request_uri inside a pushed request (§2.1)', async () => {
      const res = await rawPush(new URLSearchParams({ ...good(), request_uri: `${URN}abc` }), basicHeader(web.client.client_id, web.secret));
      await assertParRefusal(res, 400, 'invalid_request', 'par.request_uri_in_request');
    });

    it('refuses a client_id in the body that is not the authenticated client (as the token endpoint does)', async () => {
      const res = await rawPush(new URLSearchParams({ ...good(), client_id: other.client.client_id }), basicHeader(web.client.client_id, web.secret));
      await assertParRefusal(res, 400, 'invalid_request', 'client_auth.multiple_methods');
    });

    it('checks every parameter as the authorization endpoint does: response_type, scope, PKCE, OIDC parameters, resource', async () => {
      const auth = basicHeader(web.client.client_id, web.secret);
      await assertParRefusal(await rawPush(new URLSearchParams({ ...good(), response_type: 'token' }), auth), 400, 'unsupported_response_type', 'authorize.unsupported_response_type');
      await assertParRefusal(await rawPush(new URLSearchParams({ ...good(), scope: 'orders.write' }), auth), 400, 'invalid_scope', 'scope.unknown');
      await assertParRefusal(await rawPush(new URLSearchParams({ ...good(), code_challenge: 'x', code_challenge_method: 'plain' }), auth), 400, 'invalid_request', 'pkce.method_unsupported');
      await assertParRefusal(await rawPush(new URLSearchParams({ ...good(), prompt: 'none login' }), auth), 400, 'invalid_request', 'authorize.prompt_invalid');
      await assertParRefusal(await rawPush(new URLSearchParams({ ...good(), resource: 'https://unknown.example.com/api' }), auth), 400, 'invalid_target', 'resource.unknown');
      await assertParRefusal(await rawPush(new URLSearchParams({ ...good(), request: 'eyJhbGciOiJub25lIn0.e30.' }), auth), 400, 'request_not_supported', 'authorize.request_object_unsupported');
      // A public client without PKCE.
      await assertParRefusal(await rawPush(new URLSearchParams({ ...good(), client_id: spa.client.client_id })), 400, 'invalid_request', 'pkce.challenge_missing');
      const twice = await rawPush(`${new URLSearchParams(good()).toString()}&state=a&state=b`, auth);
      await assertParRefusal(twice, 400, 'invalid_request', 'request.repeated_parameter');
    });

    it('answers only POST, form-encoded, and refuses client credentials in the query', async () => {
      // RFC 9126 §2.3: 405 for another method, with Allow.
      const get = await rawPush('', {}, 'GET');
      assert.equal(get.status, 405);
      assert.equal(get.json?.error, 'invalid_request');
      assert.equal(get.headers.get('allow'), 'POST');
      assert.equal(await reasonOf(get.requestId), 'request.method_not_allowed');
      const json = await rawPush(JSON.stringify(good()), { 'content-type': 'application/json', ...basicHeader(web.client.client_id, web.secret) });
      assert.equal(json.json?.error, 'invalid_request');
      const res = await fetch(`${server.url}/oauth/par?client_secret=${web.secret}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(good()).toString() });
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'invalid_request');
    });

    it('counts pushes against the application\'s rate limit, as at the token endpoint (429 with Retry-After)', async () => {
      const deps = { ...registryDeps(server, clock), actor: 'test' };
      const limited = await createApplication(deps, { name: 'Rate limited PAR client', grantTypes: ['authorization_code'], redirectUris: [CALLBACK], scopes: ['orders.read'], rateLimit: '2/1m' });
      await refreshCache(server);
      const auth = basicHeader(limited.application.clientId, limited.clientSecret ?? '');
      for (let i = 0; i < 2; i++) assert.equal((await rawPush(new URLSearchParams(good()), auth)).status, 201);
      const over = await rawPush(new URLSearchParams(good()), auth);
      await assertParRefusal(over, 429, 'too_many_requests', 'rate_limit.client_exceeded');
      assert.ok(Number(over.headers.get('retry-after')) > 0);
    });

    it('answers an oversized body with a recorded 413 (§2.3), and CORS like the token endpoint', async () => {
      const big = await rawPush(new URLSearchParams({ ...good(), state: 'x'.repeat(2_000_000) }), basicHeader(web.client.client_id, web.secret));
      assert.equal(big.status, 413);
      assert.equal(big.json?.error, 'invalid_request');
      assert.equal(await reasonOf(big.requestId), 'request.body_too_large');
      const preflight = await fetch(`${server.url}/oauth/par`, { method: 'OPTIONS', headers: { origin: 'https://spa.example.com', 'access-control-request-method': 'POST' } });
      const token = await fetch(`${server.url}/oauth/token`, { method: 'OPTIONS', headers: { origin: 'https://spa.example.com', 'access-control-request-method': 'POST' } });
      assert.equal(preflight.status, token.status);
      assert.equal(preflight.headers.get('access-control-allow-methods'), token.headers.get('access-control-allow-methods'));
      await preflight.arrayBuffer();
      await token.arrayBuffer();
    });
  });

  describe('errors at the authorization endpoint (a page: invalid_request_uri)', () => {
    const pushedFor = async () => (await push({ redirect_uri: CALLBACK, response_type: 'code', scope: 'orders.read' })).request_uri;

    it('refuses an unknown request_uri', async () => {
      const page = await new Browser(server.url).get(authorizeUrlOf(web.client.client_id, `${URN}not-one-of-ours`));
      await assertPage(page, 400, 'par.request_uri_unknown');
    });

    it('refuses an expired request_uri (latchkey.par.lifetime)', async () => {
      const uri = await pushedFor();
      clock.advance(61_000);
      const page = await new Browser(server.url).get(authorizeUrlOf(web.client.client_id, uri));
      await assertPage(page, 400, 'par.request_uri_expired');
    });

    it('refuses a reused request_uri', async () => {
      const uri = await pushedFor();
      const first = await new Browser(server.url).get(authorizeUrlOf(web.client.client_id, uri));
      assert.equal(first.status, 200);
      assert.ok(hasForm(first, 'sign_in'));
      const second = await new Browser(server.url).get(authorizeUrlOf(web.client.client_id, uri));
      await assertPage(second, 400, 'par.request_uri_used');
    });

    it('refuses a client_id that is not the client that pushed, and a request_uri without client_id', async () => {
      const uri = await pushedFor();
      const page = await new Browser(server.url).get(authorizeUrlOf(other.client.client_id, uri));
      await assertPage(page, 400, 'par.request_uri_wrong_client');
      const url = new URL(as.authorization_endpoint ?? '');
      url.searchParams.set('request_uri', await pushedFor());
      await assertPage(await new Browser(server.url).get(url.toString()), 400, 'authorize.client_id_missing');
    });

    it('keeps refusing other request_uri values as request_uri_not_supported (Core 1.0 §6.2)', async () => {
      const url = new URL(as.authorization_endpoint ?? '');
      for (const [k, v] of Object.entries({ client_id: web.client.client_id, redirect_uri: CALLBACK, response_type: 'code', request_uri: 'https://rp.example.com/request.jwt' })) url.searchParams.set(k, v);
      const page = await new Browser(server.url).get(url.toString());
      assert.equal(page.status, 303);
      assert.equal(new URL(page.location ?? '').searchParams.get('error'), 'request_uri_not_supported');
      assert.equal(await reasonOf(page.requestId), 'authorize.request_uri_unsupported');
    });
  });

  describe('PAR required', () => {
    it('refuses a front-channel request from an application that requires PAR, saying how to fix, and takes its pushed ones', async () => {
      const deps = { ...registryDeps(server, clock), actor: 'test' };
      await updateApplication(deps, other.client.client_id, { parRequired: true });
      await refreshCache(server);
      try {
        const { challenge } = await pkce();
        const front = new URL(as.authorization_endpoint ?? '');
        for (const [k, v] of Object.entries({ client_id: other.client.client_id, redirect_uri: CALLBACK, response_type: 'code', scope: 'orders.read', state: 's1', code_challenge: challenge, code_challenge_method: 'S256' })) front.searchParams.set(k, v);
        const page = await new Browser(server.url).get(front.toString());
        assert.equal(page.status, 303);
        const back = new URL(page.location ?? '').searchParams;
        assert.equal(back.get('error'), 'invalid_request');
        assert.equal(back.get('state'), 's1');
        assert.match(back.get('error_description') ?? '', /\/oauth\/par.*--par-required false/);
        assert.equal(await reasonOf(page.requestId), 'par.required');
        // The same parameters pushed are accepted.
        const pushed = await push({ redirect_uri: CALLBACK, response_type: 'code', scope: 'orders.read', code_challenge: challenge, code_challenge_method: 'S256' }, { client: other.client, auth: basic(other.secret) });
        const ok = await new Browser(server.url).get(authorizeUrlOf(other.client.client_id, pushed.request_uri));
        assert.equal(ok.status, 200);
        assert.ok(hasForm(ok, 'sign_in'));
      } finally {
        await updateApplication(deps, other.client.client_id, { parRequired: false });
        await refreshCache(server);
      }
    });

    it('latchkey.par.required requires it of every application and says so in the metadata', async () => {
      const deps = { ...registryDeps(server, clock), actor: 'test' };
      await setProperty(deps, 'latchkey.par.required', 'true');
      await refreshCache(server);
      try {
        const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
        assert.equal(meta.require_pushed_authorization_requests, true);
        assert.equal(meta.pushed_authorization_request_endpoint, `${server.url}/oauth/par`);
        const front = new URL(as.authorization_endpoint ?? '');
        for (const [k, v] of Object.entries({ client_id: web.client.client_id, redirect_uri: CALLBACK, response_type: 'code', scope: 'orders.read' })) front.searchParams.set(k, v);
        const page = await new Browser(server.url).get(front.toString());
        assert.equal(page.status, 303);
        assert.equal(new URL(page.location ?? '').searchParams.get('error'), 'invalid_request');
        assert.equal(await reasonOf(page.requestId), 'par.required');
        // The built-in console's own sign-in is exempt: it still gets its sign-in page.
        const consoleApp = await server.latchkey.storage.applications.byClientId(CONSOLE_CLIENT_ID);
        assert.ok(consoleApp !== undefined && consoleApp.redirectUris[0] !== undefined);
        const { challenge } = await pkce();
        const byConsole = new URL(as.authorization_endpoint ?? '');
        for (const [k, v] of Object.entries({ client_id: CONSOLE_CLIENT_ID, redirect_uri: consoleApp.redirectUris[0], response_type: 'code', code_challenge: challenge, code_challenge_method: 'S256' })) byConsole.searchParams.set(k, v);
        const consolePage = await new Browser(server.url).get(byConsole.toString());
        assert.equal(consolePage.status, 200, consolePage.location ?? consolePage.text.slice(0, 300));
        assert.ok(hasForm(consolePage, 'sign_in'));
      } finally {
        await setProperty(deps, 'latchkey.par.required', 'false');
        await refreshCache(server);
      }
    });

    it('the admin API sets and shows parRequired', async () => {
      const token = await adminToken(server, 'admin', ADMIN_PASSWORD);
      const auth = { authorization: `Bearer ${token}` };
      const created = await adminFetch(server, 'POST', '/applications', { headers: auth, body: { name: 'Admin-made PAR client', kind: 'authorization_code', redirectUris: [CALLBACK], parRequired: true } });
      assert.equal(created.status, 201, created.text);
      const clientId = String(created.json.application.clientId);
      assert.equal(created.json.application.parRequired, true);
      const changed = await adminFetch(server, 'PATCH', `/applications/${clientId}`, { headers: auth, body: { parRequired: false } });
      assert.equal(changed.status, 200, changed.text);
      assert.equal(changed.json.application.parRequired, false);
      assert.equal((await server.latchkey.storage.applications.byClientId(clientId))?.parRequired, false);
      const refused = await adminFetch(server, 'PATCH', `/applications/${clientId}`, { headers: auth, body: { parRequired: 'yes' } });
      assert.equal(refused.status, 400);
    });

    it('dynamic registration takes require_pushed_authorization_requests', async () => {
      const deps = { ...registryDeps(server, clock), actor: 'test' };
      await setProperty(deps, 'latchkey.registration.mode', 'open');
      await refreshCache(server);
      try {
        const res = await fetch(`${server.url}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [CALLBACK], client_name: 'Registered PAR', require_pushed_authorization_requests: true }) });
        const body = (await res.json()) as Record<string, unknown>;
        assert.equal(res.status, 201, JSON.stringify(body));
        assert.equal(body.require_pushed_authorization_requests, true);
        const app = await server.latchkey.storage.applications.byClientId(String(body.client_id));
        assert.equal(app?.parRequired, true);
        const bad = await fetch(`${server.url}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [CALLBACK], require_pushed_authorization_requests: 'yes' }) });
        assert.equal(bad.status, 400);
        assert.equal(((await bad.json()) as { error: string }).error, 'invalid_client_metadata');
      } finally {
        await setProperty(deps, 'latchkey.registration.mode', 'token');
        await refreshCache(server);
      }
    });
  });

  describe('single use across two instances on one database', () => {
    it('of concurrent uses of one request_uri at two instances, exactly one gets the sign-in page', async () => {
      const second = await startTestServer({ clock, shareDb: { db: server.db, storageKind: server.storageKind } });
      try {
        for (let round = 0; round < 3; round++) {
          const uri = (await push({ redirect_uri: CALLBACK, response_type: 'code', scope: 'orders.read' })).request_uri;
          const pages = await Promise.all([server.url, second.url, server.url, second.url].map((origin) => new Browser(origin).get(authorizeUrlOf(web.client.client_id, uri).replace(server.url, origin))));
          const won = pages.filter((p) => p.status === 200 && hasForm(p, 'sign_in'));
          assert.equal(won.length, 1, pages.map((p) => p.status).join(','));
          assert.equal(pages.filter((p) => p.status === 400).length, 3);
        }
      } finally {
        await second.close();
      }
    });
  });

  describe('fuzzing /oauth/par', () => {
    it('answers any body with 201 or a 4xx, never a 5xx', async () => {
      const names = fc.constantFrom('client_id', 'redirect_uri', 'response_type', 'scope', 'state', 'code_challenge', 'code_challenge_method', 'request_uri', 'request', 'resource', 'prompt', 'max_age', 'claims', 'nonce', 'id_token_hint', 'response_mode', 'client_secret', 'x');
      const value = fc.oneof(fc.string({ maxLength: 40 }), fc.constantFrom(CALLBACK, 'code', 'orders.read', web.client.client_id, '%', '%zz', '\u0000', '{"userinfo":', 'S256'));
      const started = Date.now();
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(names, value), { maxLength: 8 }), fc.boolean(), async (pairs, authenticated) => {
          if (Date.now() - started > 20_000) return;
          const body = new URLSearchParams(pairs);
          const res = await rawPush(body, authenticated ? basicHeader(web.client.client_id, web.secret) : {});
          assert.ok(res.status === 201 || (res.status >= 400 && res.status < 500), `${res.status} for ${body.toString()}`);
        }),
        { numRuns: 150 },
      );
    });
  });
});
