import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as openid from 'openid-client';
import { sessionSid } from '../src/endpoints/authorize/code.js';
import { createApplication, updateApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { createUser } from '../src/registry/users.js';
import { tokenKey } from '../src/core/crypto.js';
import { authorizeInBrowser, Browser } from './helpers/browser.js';
import { refreshCache, registryDeps } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const ALICE_PW = 'alice-openid-password';
const CALLBACK = 'https://rp.example.com/callback';

/**
 * OpenID Connect Core 1.0 and Discovery 1.0 for the authorization code flow, as a relying party
 * meets them: openid-client (v6) discovers the provider, runs the flow with PKCE and a nonce, and
 * validates the ID token itself (signature against our JWKS, iss, aud, exp, iat, nonce, at_hash).
 */
describe('OpenID Connect: ID tokens, discovery, offline_access', () => {
  let server: TestServer;
  let rp: { clientId: string; secret: string };
  let es: { clientId: string; secret: string };
  let spa: { clientId: string };
  let plain: { clientId: string; secret: string };
  let allScopes: { clientId: string; secret: string };
  let aliceId: string;

  before(async () => {
    server = await startTestServer();
    const deps = registryDeps(server);
    await createScope(deps, 'orders.read', 'Read your orders');
    aliceId = (await createUser(deps, { userName: 'alice', password: ALICE_PW, profile: { name: 'Alice Martin', email: 'alice@example.com', emailVerified: true } })).user.id;
    const grants = ['authorization_code', 'refresh_token'];
    const a = await createApplication(deps, { name: 'Relying party', grantTypes: grants, redirectUris: [CALLBACK], scopes: ['openid', 'offline_access', 'orders.read', 'profile', 'email'] });
    rp = { clientId: a.application.clientId, secret: a.clientSecret ?? '' };
    const b = await createApplication(deps, { name: 'ES256 relying party', grantTypes: grants, redirectUris: [CALLBACK], scopes: ['openid'], idTokenSignedResponseAlg: 'ES256' });
    es = { clientId: b.application.clientId, secret: b.clientSecret ?? '' };
    const c = await createApplication(deps, { name: 'Public relying party', public: true, grantTypes: ['authorization_code'], redirectUris: [CALLBACK], scopes: ['openid', 'orders.read'] });
    spa = { clientId: c.application.clientId };
    const d = await createApplication(deps, { name: 'Not OpenID', grantTypes: grants, redirectUris: [CALLBACK], scopes: ['orders.read'] });
    plain = { clientId: d.application.clientId, secret: d.clientSecret ?? '' };
    const e = await createApplication(deps, { name: 'All claims', grantTypes: grants, redirectUris: [CALLBACK], scopes: ['openid', 'profile', 'email', 'phone', 'address'] });
    allScopes = { clientId: e.application.clientId, secret: e.clientSecret ?? '' };
    await createUser(deps, { userName: 'bea', password: ALICE_PW, profile: { name: 'Bea Stone', email: 'bea@example.com', phoneNumber: '+33123456789', address: { locality: 'Lyon', country: 'FR' } } });
    await refreshCache(server);
  });
  after(async () => server.close());

  const insecure = { execute: [openid.allowInsecureRequests] };
  const discover = (clientId: string, auth: openid.ClientAuth, metadata?: Partial<openid.ClientMetadata>) => openid.discovery(new URL(server.url), clientId, metadata, auth, insecure);

  /** The flow through the sign-in and consent pages; returns the callback URL and what was sent. */
  async function signIn(config: openid.Configuration, scope: string, nonceSent: string | null = openid.randomNonce()) {
    const nonce = nonceSent ?? undefined;
    const pkceCodeVerifier = openid.randomPKCECodeVerifier();
    const state = openid.randomState();
    const url = openid.buildAuthorizationUrl(config, {
      redirect_uri: CALLBACK,
      scope,
      code_challenge: await openid.calculatePKCECodeChallenge(pkceCodeVerifier),
      code_challenge_method: 'S256',
      state,
      ...(nonce === undefined ? {} : { nonce }),
    });
    const browser = new Browser(server.url);
    const answer = await authorizeInBrowser(browser, url.toString(), { username: 'alice', password: ALICE_PW });
    return { callback: new URL(answer.location ?? ''), pkceCodeVerifier, state, nonce };
  }

  async function jwks(): Promise<JSONWebKeySet> {
    const res = await fetch(`${server.url}/oauth/jwks`);
    assert.equal(res.status, 200);
    return (await res.json()) as JSONWebKeySet;
  }

  describe('discovery (/.well-known/openid-configuration)', () => {
    it('is the RFC 8414 document plus the OpenID fields, listing exactly what is supported', async () => {
      const res = await fetch(`${server.url}/.well-known/openid-configuration`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('cache-control'), 'public, max-age=300');
      const doc = (await res.json()) as Record<string, unknown>;
      const oauth = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      for (const [field, value] of Object.entries(oauth)) assert.deepEqual(doc[field], value, field);
      assert.equal(doc.issuer, server.url);
      assert.equal(doc.authorization_endpoint, `${server.url}/oauth/authorize`);
      assert.equal(doc.token_endpoint, `${server.url}/oauth/token`);
      assert.equal(doc.jwks_uri, `${server.url}/oauth/jwks`);
      assert.equal(doc.userinfo_endpoint, `${server.url}/oauth/userinfo`);
      assert.deepEqual(doc.response_types_supported, ['code']);
      assert.deepEqual(doc.response_modes_supported, ['query', 'form_post']);
      assert.deepEqual(doc.subject_types_supported, ['public']);
      assert.deepEqual(doc.id_token_signing_alg_values_supported, ['RS256', 'ES256']);
      assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
      for (const scope of ['openid', 'offline_access', 'orders.read']) assert.ok((doc.scopes_supported as string[]).includes(scope), scope);
      for (const claim of ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'sid', 'at_hash', 'name', 'email', 'email_verified', 'phone_number', 'address']) assert.ok((doc.claims_supported as string[]).includes(claim), claim);
      assert.equal(doc.claims_parameter_supported, true);
      assert.deepEqual(doc.prompt_values_supported, ['none', 'login', 'consent', 'select_account']);
      assert.equal(doc.request_parameter_supported, false);
      assert.equal(doc.request_uri_parameter_supported, false);
      // The OAuth document stays as it was: no OpenID fields.
      assert.equal(oauth.subject_types_supported, undefined);
    });

    it('openid-client discovers the provider (OpenID discovery, its default)', async () => {
      const config = await discover(rp.clientId, openid.ClientSecretBasic(rp.secret));
      const meta = config.serverMetadata();
      assert.equal(meta.issuer, server.url);
      assert.equal(meta.userinfo_endpoint, `${server.url}/oauth/userinfo`);
      assert.ok(meta.supportsPKCE());
    });
  });

  describe('the authorization code flow with openid', () => {
    it('every claim scope at once, in another order, with client_secret_post (Basic OP: oidcc-scope-all, oidcc-ensure-other-scope-order-succeeds, oidcc-server-client-secret-post)', async () => {
      const config = await discover(allScopes.clientId, openid.ClientSecretPost(allScopes.secret));
      const pkceCodeVerifier = openid.randomPKCECodeVerifier();
      const state = openid.randomState();
      const url = openid.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'address email openid phone profile', state, code_challenge: await openid.calculatePKCECodeChallenge(pkceCodeVerifier), code_challenge_method: 'S256' });
      const answer = await authorizeInBrowser(new Browser(server.url), url.toString(), { username: 'bea', password: ALICE_PW });
      const tokens = await openid.authorizationCodeGrant(config, new URL(answer.location ?? ''), { pkceCodeVerifier, expectedState: state, idTokenExpected: true });
      const sub = tokens.claims()?.sub ?? '';
      const info = await openid.fetchUserInfo(config, tokens.access_token, sub);
      assert.equal(info.name, 'Bea Stone');
      assert.equal(info.email, 'bea@example.com');
      assert.equal(info.email_verified, false);
      assert.equal(info.phone_number, '+33123456789');
      assert.equal(info.phone_number_verified, false);
      assert.deepEqual(info.address, { locality: 'Lyon', country: 'FR' });
    });

    it('openid-client completes it with PKCE and a nonce, validates the ID token, calls UserInfo, and refreshes with offline_access', async () => {
      const config = await discover(rp.clientId, openid.ClientSecretBasic(rp.secret));
      const sent = await signIn(config, 'openid offline_access orders.read profile email');
      const tokens = await openid.authorizationCodeGrant(config, sent.callback, { pkceCodeVerifier: sent.pkceCodeVerifier, expectedState: sent.state, expectedNonce: sent.nonce, idTokenExpected: true });
      const claims = tokens.claims();
      assert.ok(claims !== undefined);
      assert.equal(claims.iss, server.url);
      assert.equal(claims.sub, aliceId);
      assert.equal(claims.aud, rp.clientId);
      assert.equal(claims.nonce, sent.nonce);
      assert.deepEqual(claims.amr, ['pwd']);
      assert.equal(typeof claims.auth_time, 'number');
      assert.ok((claims.auth_time ?? 0) <= claims.iat);
      assert.ok(claims.exp > claims.iat && claims.exp - claims.iat <= 3600);
      assert.equal(tokens.scope, 'openid offline_access orders.read profile email');
      assert.match(String(tokens.refresh_token), /^lk_rt_/);
      assert.equal(decodeProtectedHeader(tokens.id_token ?? '').alg, 'RS256');

      // UserInfo (Core 1.0 §5.3), with openid-client's check that sub is the ID token's (§5.3.4).
      const info = await openid.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.deepEqual(info, { sub: aliceId, name: 'Alice Martin', preferred_username: 'alice', updated_at: info.updated_at, email: 'alice@example.com', email_verified: true });
      assert.equal(typeof info.updated_at, 'number');
      await assert.rejects(openid.fetchUserInfo(config, tokens.access_token, 'someone-else'), (e: unknown) => /unexpected JSON attribute value/.test(String(e)) && /"sub"/.test(String((e as Error).cause)));

      // Core 1.0 §12.2: the refreshed ID token has the same iss, sub and aud, a new iat, no nonce.
      const refreshed = await openid.refreshTokenGrant(config, String(tokens.refresh_token));
      assert.ok(refreshed.id_token !== undefined, 'a new ID token');
      assert.notEqual(refreshed.id_token, tokens.id_token);
      const again = refreshed.claims();
      assert.ok(again !== undefined);
      assert.equal(again.iss, claims.iss);
      assert.equal(again.sub, claims.sub);
      assert.equal(again.aud, claims.aud);
      assert.equal(again.nonce, undefined);
      assert.ok(again.iat >= claims.iat);
      // And it verifies with the published keys, with at_hash matching the new access token.
      const { payload } = await jwtVerify(refreshed.id_token, createLocalJWKSet(await jwks()), { issuer: server.url, audience: rp.clientId, algorithms: ['RS256'] });
      assert.equal(payload.at_hash, createHash('sha256').update(refreshed.access_token).digest().subarray(0, 16).toString('base64url'));
    });

    it('the ID token verifies with the published JWKS (jose), with at_hash, sid and auth_time from the sign-in session', async () => {
      const config = await discover(rp.clientId, openid.ClientSecretBasic(rp.secret));
      const sent = await signIn(config, 'openid', 'a nonce: with spaces & symbols ~!');
      const tokens = await openid.authorizationCodeGrant(config, sent.callback, { pkceCodeVerifier: sent.pkceCodeVerifier, expectedState: sent.state, expectedNonce: sent.nonce });
      const idToken = tokens.id_token ?? '';
      const { payload, protectedHeader } = await jwtVerify(idToken, createLocalJWKSet(await jwks()), { issuer: server.url, audience: rp.clientId, algorithms: ['RS256'] });
      assert.equal(protectedHeader.typ, 'JWT');
      assert.equal(payload.nonce, 'a nonce: with spaces & symbols ~!', 'echoed exactly');
      // §3.1.3.6: the left half of SHA-256 of the access token's ASCII octets, base64url.
      assert.equal(payload.at_hash, createHash('sha256').update(tokens.access_token, 'ascii').digest().subarray(0, 16).toString('base64url'));
      // The sign-in session's start and its sid (never the cookie or the stored id).
      const code = await server.latchkey.storage.codes.consume(tokenKey(sent.callback.searchParams.get('code') ?? ''), Date.now());
      assert.equal(code.outcome, 'used');
      if (code.outcome !== 'used') return;
      assert.equal(code.code.nonce, sent.nonce);
      assert.equal(payload.auth_time, Math.floor((code.code.authTime ?? 0) / 1000));
      assert.equal(payload.sid, code.code.sid);
      const sessions = await server.latchkey.storage.sessions.listForUser(aliceId, Date.now());
      assert.ok(sessions.some((s) => sessionSid(s) === payload.sid), 'the sid of one of her sign-in sessions');
      assert.ok(!sessions.some((s) => s.id === payload.sid));
      assert.equal(payload.azp, undefined, 'one audience: no azp');
    });

    it('without a nonce in the request, the ID token has none', async () => {
      const config = await discover(rp.clientId, openid.ClientSecretBasic(rp.secret));
      const sent = await signIn(config, 'openid', null);
      const tokens = await openid.authorizationCodeGrant(config, sent.callback, { pkceCodeVerifier: sent.pkceCodeVerifier, expectedState: sent.state });
      assert.equal(tokens.claims()?.nonce, undefined);
    });

    it('an application with id_token_signed_response_alg ES256 gets ES256 ID tokens (openid-client told so validates them)', async () => {
      const config = await discover(es.clientId, openid.ClientSecretBasic(es.secret), { id_token_signed_response_alg: 'ES256' });
      const sent = await signIn(config, 'openid');
      const tokens = await openid.authorizationCodeGrant(config, sent.callback, { pkceCodeVerifier: sent.pkceCodeVerifier, expectedState: sent.state, expectedNonce: sent.nonce });
      const header = decodeProtectedHeader(tokens.id_token ?? '');
      assert.equal(header.alg, 'ES256');
      const set = await jwks();
      const key = set.keys.find((k) => k.kid === header.kid);
      assert.equal(key?.alg, 'ES256');
      assert.equal(key?.kty, 'EC');
      await jwtVerify(tokens.id_token ?? '', createLocalJWKSet(set), { issuer: server.url, audience: es.clientId, algorithms: ['ES256'] });
      // The RS256 ID token key is published beside it, as is the access-token key.
      assert.ok(set.keys.some((k) => k.alg === 'RS256' && k.kty === 'RSA'));
      // Switched to RS256, the next ID token is RS256.
      await updateApplication(registryDeps(server), es.clientId, { idTokenSignedResponseAlg: 'RS256' });
      await refreshCache(server);
      const config2 = await discover(es.clientId, openid.ClientSecretBasic(es.secret));
      const sent2 = await signIn(config2, 'openid');
      const tokens2 = await openid.authorizationCodeGrant(config2, sent2.callback, { pkceCodeVerifier: sent2.pkceCodeVerifier, expectedState: sent2.state, expectedNonce: sent2.nonce });
      assert.equal(decodeProtectedHeader(tokens2.id_token ?? '').alg, 'RS256');
    });

    it('a public client gets an ID token too (PKCE, no secret)', async () => {
      const config = await discover(spa.clientId, openid.None());
      const sent = await signIn(config, 'openid orders.read');
      const tokens = await openid.authorizationCodeGrant(config, sent.callback, { pkceCodeVerifier: sent.pkceCodeVerifier, expectedState: sent.state, expectedNonce: sent.nonce });
      assert.equal(tokens.claims()?.aud, spa.clientId);
      assert.equal(tokens.refresh_token, undefined, 'no refresh_token grant: no refresh token, as before');
    });
  });

  describe('unchanged without openid', () => {
    it('a request without openid gets no id_token (and its refresh token as before)', async () => {
      const config = await openid.discovery(new URL(server.url), plain.clientId, undefined, openid.ClientSecretBasic(plain.secret), { ...insecure, algorithm: 'oauth2' });
      const sent = await signIn(config, 'orders.read', null);
      const tokens = await openid.authorizationCodeGrant(config, sent.callback, { pkceCodeVerifier: sent.pkceCodeVerifier, expectedState: sent.state });
      assert.equal(tokens.id_token, undefined);
      assert.match(String(tokens.refresh_token), /^lk_rt_/);
      const refreshed = await openid.refreshTokenGrant(config, String(tokens.refresh_token));
      assert.equal(refreshed.id_token, undefined);
    });

    it('an OpenID application asking without openid gets no id_token either', async () => {
      const config = await discover(rp.clientId, openid.ClientSecretBasic(rp.secret));
      const sent = await signIn(config, 'orders.read', null);
      const tokens = await openid.authorizationCodeGrant(config, sent.callback, { pkceCodeVerifier: sent.pkceCodeVerifier, expectedState: sent.state });
      assert.equal(tokens.id_token, undefined);
    });

    it('openid is granted only to an application that lists it (scope.not_allowed)', async () => {
      const url = `${server.url}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: plain.clientId, redirect_uri: CALLBACK, scope: 'openid', state: 's1' }).toString()}`;
      const page = await new Browser(server.url).get(url);
      assert.equal(page.status, 303);
      const p = new URL(page.location ?? '').searchParams;
      assert.equal(p.get('error'), 'invalid_scope');
    });
  });

  describe('nonce checks', () => {
    it('a malformed nonce is refused to the client (authorize.nonce_malformed)', async () => {
      for (const nonce of ['n'.repeat(513), 'line\nbreak', 'caf\u00e9']) {
        const url = `${server.url}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: rp.clientId, redirect_uri: CALLBACK, scope: 'openid', state: 's2', nonce }).toString()}`;
        const page = await new Browser(server.url).get(url);
        assert.equal(page.status, 303);
        const p = new URL(page.location ?? '').searchParams;
        assert.equal(p.get('error'), 'invalid_request');
        assert.equal(p.get('state'), 's2');
        const refusal = await server.latchkey.storage.refusals.byRequestId(page.requestId);
        assert.equal(refusal?.reason, 'authorize.nonce_malformed');
      }
    });
  });
});
