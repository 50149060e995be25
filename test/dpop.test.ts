/**
 * DPoP (RFC 9449) end to end over HTTP: oauth4webapi as the client (DPoP handle, nonce retry,
 * protectedResourceRequest) at the token endpoint, a hosted API and the Express middleware; every
 * proof error of §4.3, the binding errors of §5, §7 and §10; replay across two instances on one database.
 */
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import * as oauth from 'oauth4webapi';
import { latchkeyExpress } from '../src/middleware/express.js';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { setProperty } from '../src/registry/settings.js';
import { accessTokenHash } from '../src/tokens/dpop.js';
import { FIXTURE_APIS } from './helpers/api.js';
import { authorizeUrl, codeFixture, pkcePair, requestParams } from './helpers/authorize-flow.js';
import { authorizeInBrowser, Browser } from './helpers/browser.js';
import { buildFixture } from './helpers/fixture.js';
import { assertRefusal, refreshCache, registryDeps, tokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const ROPC = 'glide.oauth.inbound.ropc.grant_type.disabled';
const NONCE = 'latchkey.dpop.nonce_required';
const insecure = { [oauth.allowInsecureRequests]: true } as const;

interface ProofKey {
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
  readonly jkt: string;
}

async function proofKey(alg: 'ES256' | 'EdDSA' = 'ES256'): Promise<ProofKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}

let jtiCounter = 0;
/** A DPoP proof by hand (for the error cases oauth4webapi never makes): overrides of header and claims. */
async function proof(key: ProofKey, htm: string, htu: string, opts: { header?: Record<string, unknown>; claims?: Record<string, unknown>; signWith?: CryptoKey; alg?: string } = {}): Promise<string> {
  const claims = { htm, htu, iat: Math.floor(Date.now() / 1000), jti: `jti-${process.pid}-${++jtiCounter}-${Math.random()}`, ...opts.claims };
  return new SignJWT(claims).setProtectedHeader({ alg: opts.alg ?? 'ES256', typ: 'dpop+jwt', jwk: key.jwk, ...opts.header } as never).sign(opts.signWith ?? key.privateKey);
}

/** base64url(JSON) . base64url(JSON) . signature: for the unsigned (alg none) and HMAC cases. */
const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('DPoP (RFC 9449)', () => {
  let server: TestServer;
  let tokenUrl: string;
  let as: oauth.AuthorizationServer;
  const apps: Record<string, { id: string; secret: string }> = {};
  const cc = (app: string, dpop?: string, form: Record<string, string> = {}, headers: Record<string, string> = {}): Promise<TokenResponse> =>
    tokenRequest(server.url, { path: '/oauth/token', form: { grant_type: 'client_credentials', ...form }, basic: [apps[app]!.id, apps[app]!.secret], headers: { ...(dpop === undefined ? {} : { dpop }), ...headers } });
  const api = (path: string, authorization: string, dpop?: string | string[], method = 'GET') => {
    const headers = new Headers({ authorization });
    if (typeof dpop === 'string') headers.set('dpop', dpop);
    else if (Array.isArray(dpop)) for (const d of dpop) headers.append('dpop', d);
    return fetch(`${server.url}${path}`, { method, headers });
  };
  async function boundToken(key: ProofKey, app = 'svc'): Promise<string> {
    const res = await cc(app, await proof(key, 'POST', tokenUrl));
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json?.token_type, 'DPoP');
    return String(res.json?.access_token);
  }
  async function assertProofRefused(res: TokenResponse, reason: string, error = 'invalid_dpop_proof'): Promise<void> {
    assert.equal(res.status, 400, res.text);
    assert.equal(res.json?.error, error, res.text);
    await assertRefusal(server.latchkey.storage, res, reason);
  }
  async function assertApiRefused(res: Response, reason: string, error: string): Promise<void> {
    const text = await res.text();
    assert.equal(res.status, 401, text);
    const www = res.headers.get('www-authenticate') ?? '';
    assert.match(www, /^DPoP algs="ES256 [^"]*"/, www);
    assert.match(www, new RegExp(`error="${error}"`), www);
    assert.match(text, new RegExp(`reason ${reason.replace('.', '\\.')};`), text);
  }

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    tokenUrl = `${server.url}/oauth/token`;
    as = { issuer: server.url, token_endpoint: tokenUrl, introspection_endpoint: `${server.url}/oauth/introspect` };
    const built = await buildFixture(server, {
      scopes: ['orders.read'],
      users: [{ userName: 'svc-dpop' }, { userName: 'alice', password: 'alice-dpop-password' }],
      properties: { [CC]: 'true', [ROPC]: 'false' },
      apps: {
        svc: { name: 'DPoP service', grantTypes: ['client_credentials'], appUser: 'svc-dpop', scopes: ['orders.read'] },
        jwt: { name: 'DPoP JWT service', grantTypes: ['client_credentials'], appUser: 'svc-dpop', scopes: ['orders.read'], tokenFormat: 'jwt' },
        required: { name: 'DPoP required', grantTypes: ['client_credentials'], appUser: 'svc-dpop', dpopRequired: true },
        rs: { name: 'Resource server', grantTypes: ['client_credentials'], appUser: 'svc-dpop', canIntrospect: true },
        mobile: { name: 'Mobile app', public: true, grantTypes: ['password', 'refresh_token'], scopes: ['orders.read'] },
        web: { name: 'Web app', grantTypes: ['password', 'refresh_token'], scopes: ['orders.read'] },
      },
    });
    for (const [name, app] of Object.entries(built.apps)) apps[name] = { id: app.clientId, secret: app.secret };
  });
  after(() => server.close());

  it('binds client-credentials tokens with oauth4webapi: token_type DPoP, cnf.jkt in the JWT and in introspection', async () => {
    const keyPair = await oauth.generateKeyPair('ES256');
    const jkt = await calculateJwkThumbprint(await exportJWK(keyPair.publicKey));
    for (const name of ['svc', 'jwt']) {
      const client: oauth.Client = { client_id: apps[name]!.id };
      const DPoP = oauth.DPoP(client, keyPair);
      const response = await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(apps[name]!.secret), new URLSearchParams({ scope: 'orders.read' }), { ...insecure, DPoP });
      const result = await oauth.processClientCredentialsResponse(as, client, response);
      assert.equal(result.token_type, 'dpop');
      if (name === 'jwt') assert.deepEqual(decodeJwt(result.access_token).cnf, { jkt });
      // RFC 9449 §6.2: introspection says DPoP and names the key.
      const rs: oauth.Client = { client_id: apps.rs!.id };
      const introspected = await oauth.processIntrospectionResponse(as, rs, await oauth.introspectionRequest(as, rs, oauth.ClientSecretBasic(apps.rs!.secret), result.access_token, insecure));
      assert.equal(introspected.active, true);
      assert.equal(introspected.token_type, 'DPoP');
      assert.deepEqual(introspected.cnf, { jkt });
      // A hosted API with the DPoP scheme and a proof of the key (htm, htu, ath made by oauth4webapi).
      const call = await oauth.protectedResourceRequest(result.access_token, 'GET', new URL(`${server.url}/api/test/echo`), new Headers(), null, { ...insecure, DPoP });
      assert.equal(call.status, 200, await call.clone().text());
      const body = (await call.json()) as { result: { caller: { application: { clientId: string } } } };
      assert.equal(body.result.caller.application.clientId, apps[name]!.id);
      // RFC 9449 §7.2: the same token as a bearer token is refused.
      await assertApiRefused(await api('/api/test/echo', `Bearer ${result.access_token}`), 'token.dpop_bound_as_bearer', 'invalid_token');
    }
    // Discovery names the proof algorithms.
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
    assert.ok(Array.isArray(meta.dpop_signing_alg_values_supported) && meta.dpop_signing_alg_values_supported.includes('ES256'));
    assert.ok(!(meta.dpop_signing_alg_values_supported as string[]).some((a) => a === 'none' || a.startsWith('HS')));
  });

  it('refuses a bound token as Bearer at the admin API too', async () => {
    const res = await tokenRequest(server.url, { method: 'GET', path: '/admin/api/v1/applications', headers: { authorization: `Bearer ${await boundToken(await proofKey())}` } });
    assert.equal(res.status, 401, res.text);
    assert.equal((await server.latchkey.storage.refusals.byRequestId(res.requestId))?.reason, 'token.dpop_bound_as_bearer');
  });

  it('keeps bearer tokens as they were, and refuses the DPoP scheme for them', async () => {
    const res = await cc('svc');
    assert.equal(res.json?.token_type, 'Bearer');
    const token = String(res.json?.access_token);
    assert.equal((await api('/api/test/echo', `Bearer ${token}`)).status, 200);
    const key = await proofKey();
    const p = await proof(key, 'GET', `${server.url}/api/test/echo`, { claims: { ath: accessTokenHash(token) } });
    await assertApiRefused(await api('/api/test/echo', `DPoP ${token}`, p), 'token.dpop_not_bound', 'invalid_token');
  });

  it('answers a nonce challenge (use_dpop_nonce + DPoP-Nonce) at the token endpoint and the API; oauth4webapi retries', async () => {
    await setProperty(registryDeps(server), NONCE, 'true');
    await refreshCache(server);
    try {
      const keyPair = await oauth.generateKeyPair('ES256');
      const client: oauth.Client = { client_id: apps.svc!.id };
      const DPoP = oauth.DPoP(client, keyPair);
      const auth = oauth.ClientSecretBasic(apps.svc!.secret);
      const first = await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams(), { ...insecure, DPoP });
      assert.equal(first.status, 400);
      assert.ok(first.headers.get('dpop-nonce'), 'a DPoP-Nonce to retry with');
      let nonceError = false;
      try {
        await oauth.processClientCredentialsResponse(as, client, first);
      } catch (error) {
        nonceError = oauth.isDPoPNonceError(error);
      }
      assert.ok(nonceError, 'oauth4webapi recognises use_dpop_nonce');
      const retried = await oauth.clientCredentialsGrantRequest(as, client, auth, new URLSearchParams(), { ...insecure, DPoP });
      assert.equal(retried.status, 200, await retried.clone().text());
      assert.ok(retried.headers.get('dpop-nonce'), 'a fresh nonce on success');
      const tokens = await oauth.processClientCredentialsResponse(as, client, retried);
      // The API: the handle holds the nonce it learnt; a proof without one is challenged.
      const bare = await proof(await proofKey(), 'GET', `${server.url}/api/test/echo`, { claims: { ath: accessTokenHash(tokens.access_token) } });
      const challenged = await api('/api/test/echo', `DPoP ${tokens.access_token}`, bare);
      assert.equal(challenged.status, 401);
      assert.match(challenged.headers.get('www-authenticate') ?? '', /error="use_dpop_nonce"/);
      assert.ok(challenged.headers.get('dpop-nonce'));
      const call = await oauth.protectedResourceRequest(tokens.access_token, 'GET', new URL(`${server.url}/api/test/echo`), new Headers(), null, { ...insecure, DPoP });
      assert.equal(call.status, 200, await call.clone().text());
      // A nonce this server never gave.
      const forged = await cc('svc', await proof(await proofKey(), 'POST', tokenUrl, { claims: { nonce: '0.forged' } }));
      await assertProofRefused(forged, 'dpop.nonce_invalid', 'use_dpop_nonce');
      const missing = await cc('svc', await proof(await proofKey(), 'POST', tokenUrl));
      await assertProofRefused(missing, 'dpop.nonce_missing', 'use_dpop_nonce');
    } finally {
      await setProperty(registryDeps(server), NONCE, 'false');
      await refreshCache(server);
    }
  });

  it('refuses a replayed proof, at the token endpoint and at the API', async () => {
    const key = await proofKey();
    const p = await proof(key, 'POST', tokenUrl);
    assert.equal((await cc('svc', p)).status, 200);
    await assertProofRefused(await cc('svc', p), 'dpop.replayed');
    const token = await boundToken(key);
    const call = await proof(key, 'GET', `${server.url}/api/test/echo`, { claims: { ath: accessTokenHash(token) } });
    assert.equal((await api('/api/test/echo', `DPoP ${token}`, call)).status, 200);
    await assertApiRefused(await api('/api/test/echo', `DPoP ${token}`, call), 'dpop.replayed', 'invalid_dpop_proof');
  });

  it('refuses every malformed proof of §4.3, each with its own reason', async () => {
    const key = await proofKey();
    const other = await proofKey();
    const now = Math.floor(Date.now() / 1000);
    const full = await generateKeyPair('ES256', { extractable: true });
    const privateJwk = await exportJWK(full.privateKey);
    const cases: [string, string | string[]][] = [
      ['dpop.proof_malformed', 'not-a-jwt'],
      ['dpop.wrong_typ', await proof(key, 'POST', tokenUrl, { header: { typ: 'JWT' } })],
      ['dpop.alg_not_allowed', `${part({ alg: 'none', typ: 'dpop+jwt', jwk: key.jwk })}.${part({ htm: 'POST', htu: tokenUrl, iat: now, jti: 'none-1' })}.`],
      ['dpop.alg_not_allowed', `${part({ alg: 'HS256', typ: 'dpop+jwt', jwk: key.jwk })}.${part({ htm: 'POST', htu: tokenUrl, iat: now, jti: 'hs-1' })}.${Buffer.alloc(32, 1).toString('base64url')}`],
      ['dpop.jwk_private', await proof(key, 'POST', tokenUrl, { header: { jwk: privateJwk }, signWith: full.privateKey })],
      ['dpop.jwk_invalid', await proof(key, 'POST', tokenUrl, { header: { jwk: undefined } })],
      ['dpop.signature_invalid', await proof(key, 'POST', tokenUrl, { signWith: other.privateKey })],
      ['dpop.htm_mismatch', await proof(key, 'GET', tokenUrl)],
      ['dpop.htu_mismatch', await proof(key, 'POST', `${server.url}/oauth/other`)],
      ['dpop.iat_too_old', await proof(key, 'POST', tokenUrl, { claims: { iat: now - 600 } })],
      ['dpop.iat_in_future', await proof(key, 'POST', tokenUrl, { claims: { iat: now + 600 } })],
      ['dpop.jti_missing', await proof(key, 'POST', tokenUrl, { claims: { jti: undefined } })],
      ['dpop.multiple_proofs', [await proof(key, 'POST', tokenUrl), await proof(key, 'POST', tokenUrl)]],
    ];
    for (const [reason, sent] of cases) {
      const res = Array.isArray(sent)
        ? await (async () => {
            const headers = new Headers({ authorization: `Basic ${Buffer.from(`${apps.svc!.id}:${apps.svc!.secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' });
            for (const s of sent) headers.append('dpop', s);
            const r = await fetch(tokenUrl, { method: 'POST', headers, body: 'grant_type=client_credentials' });
            const text = await r.text();
            return { status: r.status, headers: r.headers, requestId: r.headers.get('x-request-id') ?? '', json: JSON.parse(text) as Record<string, unknown>, text };
          })()
        : await cc('svc', sent);
      await assertProofRefused(res, reason);
    }
    // htu is compared without query and fragment, and the other token endpoint path is accepted too.
    assert.equal((await cc('svc', await proof(key, 'POST', `${tokenUrl}?x=1#f`))).status, 200);
    const legacy = await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [apps.svc!.id, apps.svc!.secret], headers: { dpop: await proof(key, 'POST', `${server.url}/oauth_token.do`) } });
    assert.equal(legacy.json?.token_type, 'DPoP', legacy.text);
  });

  it('refuses at the API: no proof, no or wrong ath, another key, wrong htm or htu', async () => {
    const key = await proofKey();
    const token = await boundToken(key);
    const url = `${server.url}/api/test/echo`;
    const ath = accessTokenHash(token);
    await assertApiRefused(await api('/api/test/echo', `DPoP ${token}`), 'token.dpop_proof_missing', 'invalid_token');
    await assertApiRefused(await api('/api/test/echo', `DPoP ${token}`, await proof(key, 'GET', url)), 'dpop.ath_missing', 'invalid_dpop_proof');
    await assertApiRefused(await api('/api/test/echo', `DPoP ${token}`, await proof(key, 'GET', url, { claims: { ath: accessTokenHash('another token') } })), 'dpop.ath_mismatch', 'invalid_dpop_proof');
    await assertApiRefused(await api('/api/test/echo', `DPoP ${token}`, await proof(await proofKey(), 'GET', url, { claims: { ath } })), 'token.dpop_key_mismatch', 'invalid_token');
    await assertApiRefused(await api('/api/test/echo', `DPoP ${token}`, await proof(key, 'POST', url, { claims: { ath } })), 'dpop.htm_mismatch', 'invalid_dpop_proof');
    await assertApiRefused(await api('/api/test/echo', `DPoP ${token}`, await proof(key, 'GET', `${server.url}/api/test/other`, { claims: { ath } })), 'dpop.htu_mismatch', 'invalid_dpop_proof');
    await assertApiRefused(await api('/api/test/echo', `DPoP ${token}`, [await proof(key, 'GET', url, { claims: { ath } }), await proof(key, 'GET', url, { claims: { ath } })]), 'dpop.multiple_proofs', 'invalid_dpop_proof');
    // And the right proof passes, with a query string in the request URL.
    assert.equal((await api('/api/test/echo?x=1', `DPoP ${token}`, await proof(key, 'GET', url, { claims: { ath } }))).status, 200);
  });

  it('refuses a token request without a proof for an application that requires DPoP', async () => {
    const res = await cc('required');
    await assertProofRefused(res, 'dpop.required');
    assert.match(String(res.json?.error_description), /requires DPoP/);
    assert.equal((await cc('required', await proof(await proofKey(), 'POST', tokenUrl))).json?.token_type, 'DPoP');
  });

  it('binds a public client\'s refresh token to its key (§5); a confidential client\'s is not bound', async () => {
    const key = await proofKey();
    const mobile = await tokenRequest(server.url, { path: '/oauth/token', form: { grant_type: 'password', client_id: apps.mobile!.id, username: 'alice', password: 'alice-dpop-password' }, headers: { dpop: await proof(key, 'POST', tokenUrl) } });
    assert.equal(mobile.status, 200, mobile.text);
    assert.equal(mobile.json?.token_type, 'DPoP');
    const rt = String(mobile.json?.refresh_token);
    const refresh = async (dpop?: string) => tokenRequest(server.url, { path: '/oauth/token', form: { grant_type: 'refresh_token', client_id: apps.mobile!.id, refresh_token: rt }, headers: dpop === undefined ? {} : { dpop } });
    await assertProofRefused(await refresh(), 'dpop.key_mismatch');
    await assertProofRefused(await refresh(await proof(await proofKey(), 'POST', tokenUrl)), 'dpop.key_mismatch');
    const ok = await refresh(await proof(key, 'POST', tokenUrl));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json?.token_type, 'DPoP');
    // Confidential: the refresh token is not bound; the new access token is bound to the refresh request's key.
    const web = await tokenRequest(server.url, { path: '/oauth/token', form: { grant_type: 'password', username: 'alice', password: 'alice-dpop-password' }, basic: [apps.web!.id, apps.web!.secret], headers: { dpop: await proof(key, 'POST', tokenUrl) } });
    assert.equal(web.json?.token_type, 'DPoP', web.text);
    const plain = await tokenRequest(server.url, { path: '/oauth/token', form: { grant_type: 'refresh_token', refresh_token: String(web.json?.refresh_token) }, basic: [apps.web!.id, apps.web!.secret] });
    assert.equal(plain.status, 200, plain.text);
    assert.equal(plain.json?.token_type, 'Bearer');
    const rebound = await tokenRequest(server.url, { path: '/oauth/token', form: { grant_type: 'refresh_token', refresh_token: String(plain.json?.refresh_token) }, basic: [apps.web!.id, apps.web!.secret], headers: { dpop: await proof(await proofKey(), 'POST', tokenUrl) } });
    assert.equal(rebound.json?.token_type, 'DPoP', rebound.text);
  });

  it('binds an authorization code by dpop_jkt (§10): another key or no proof is refused', async () => {
    const fx = await codeFixture(server);
    const key = await proofKey();
    const issue = async (extra: Record<string, string>) => {
      const { verifier, challenge } = pkcePair();
      const answer = await authorizeInBrowser(new Browser(server.url), authorizeUrl(server, { ...requestParams(fx, { challenge }), ...extra }), { username: fx.user, password: fx.password });
      const code = new URL(answer.location ?? '').searchParams.get('code');
      assert.ok(code !== null, answer.location);
      return { code, verifier };
    };
    const redeem = (c: { code: string; verifier: string }, dpop?: string) =>
      tokenRequest(server.url, { path: '/oauth/token', form: { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: fx.redirectUri }, basic: [fx.confidential.clientId, fx.confidential.secret], headers: dpop === undefined ? {} : { dpop } });
    const refused = await redeem(await issue({ dpop_jkt: key.jkt }), await proof(await proofKey(), 'POST', tokenUrl));
    assert.equal(refused.json?.error, 'invalid_grant', refused.text);
    await assertRefusal(server.latchkey.storage, refused, 'dpop.jkt_mismatch');
    const without = await redeem(await issue({ dpop_jkt: key.jkt }));
    await assertRefusal(server.latchkey.storage, without, 'dpop.jkt_mismatch');
    const ok = await redeem(await issue({ dpop_jkt: key.jkt }), await proof(key, 'POST', tokenUrl));
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json?.token_type, 'DPoP');
  });

  it('verifies DPoP in the Express middleware (JWT cnf.jkt and introspection), refusing a bound token as Bearer', async () => {
    const key = await proofKey();
    for (const mode of ['jwt', 'introspection'] as const) {
      const auth = latchkeyExpress({ issuer: server.url, ...(mode === 'introspection' ? { introspection: { clientId: apps.rs!.id, clientSecret: apps.rs!.secret } } : {}) });
      const app = express();
      app.get('/orders', auth.require('orders.read'), (req, res) => void res.json({ clientId: req.latchkey?.clientId }));
      const listener = app.listen(0, '127.0.0.1');
      await new Promise<void>((resolve) => listener.once('listening', () => resolve()));
      try {
        const base = `http://127.0.0.1:${(listener.address() as AddressInfo).port}`;
        const token = await boundToken(key, mode === 'jwt' ? 'jwt' : 'svc');
        const ath = accessTokenHash(token);
        const ok = await fetch(`${base}/orders`, { headers: { authorization: `DPoP ${token}`, dpop: await proof(key, 'GET', `${base}/orders`, { claims: { ath } }) } });
        assert.equal(ok.status, 200, `${mode}: ${await ok.clone().text()}`);
        assert.deepEqual(await ok.json(), { clientId: apps[mode === 'jwt' ? 'jwt' : 'svc']!.id });
        const asBearer = await fetch(`${base}/orders`, { headers: { authorization: `Bearer ${token}` } });
        assert.equal(asBearer.status, 401);
        assert.match(asBearer.headers.get('www-authenticate') ?? '', /^DPoP algs="/);
        assert.equal(((await asBearer.json()) as { reason: string }).reason, 'token.dpop_bound_as_bearer');
        const otherKey = await fetch(`${base}/orders`, { headers: { authorization: `DPoP ${token}`, dpop: await proof(await proofKey(), 'GET', `${base}/orders`, { claims: { ath } }) } });
        assert.equal(((await otherKey.json()) as { reason: string }).reason, 'token.dpop_key_mismatch');
        const replayedProof = await proof(key, 'GET', `${base}/orders`, { claims: { ath } });
        assert.equal((await fetch(`${base}/orders`, { headers: { authorization: `DPoP ${token}`, dpop: replayedProof } })).status, 200);
        const replayed = await fetch(`${base}/orders`, { headers: { authorization: `DPoP ${token}`, dpop: replayedProof } });
        assert.equal(((await replayed.json()) as { reason: string }).reason, 'dpop.replayed');
      } finally {
        await new Promise<void>((resolve) => listener.close(() => resolve()));
      }
    }
  });

  it('sets "DPoP required" from the CLI and from dynamic registration (dpop_bound_access_tokens, RFC 9449 §5.2)', async () => {
    let err = '';
    let out = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
    assert.equal(await main(['node', 'latchkey', 'apps', 'update', apps.web!.id, '--dpop-required', 'true', '--db', server.db], io), 0, err);
    assert.match(out, /DPoP required\s+yes/);
    assert.equal((await server.latchkey.storage.applications.byClientId(apps.web!.id))?.dpopRequired, true);
    assert.equal(await main(['node', 'latchkey', 'apps', 'update', apps.web!.id, '--dpop-required', 'false', '--db', server.db], io), 0, err);
    await setProperty(registryDeps(server), 'latchkey.registration.mode', 'open');
    await refreshCache(server);
    try {
      const register = (metadata: Record<string, unknown>) => fetch(`${server.url}/oauth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: ['https://dpop-client.example.com/cb'], client_name: `DPoP client ${Math.random()}`, ...metadata }) });
      const ok = await register({ dpop_bound_access_tokens: true });
      const body = (await ok.json()) as Record<string, unknown>;
      assert.equal(ok.status, 201, JSON.stringify(body));
      assert.equal(body.dpop_bound_access_tokens, true);
      assert.equal((await server.latchkey.storage.applications.byClientId(String(body.client_id)))?.dpopRequired, true);
      const bad = await register({ dpop_bound_access_tokens: 'yes' });
      assert.equal(bad.status, 400);
      assert.equal(((await bad.json()) as { error: string }).error, 'invalid_client_metadata');
    } finally {
      await setProperty(registryDeps(server), 'latchkey.registration.mode', 'token');
      await refreshCache(server);
    }
  });

  it('fuzzes the DPoP header a little: never a 5xx', async () => {
    const samples = ['', '.', '..', 'a.b.c', `${part({ typ: 'dpop+jwt', alg: 'ES256', jwk: { kty: 'EC' } })}.${part({})}.AA`, `${part({ typ: 'dpop+jwt', alg: 'ES256', jwk: 'x' })}.e30.AA`, 'x'.repeat(9000), `${part({ typ: 'dpop+jwt', alg: 'RS256', jwk: { kty: 'RSA', n: 'AA', e: 'AQAB' } })}.${part({ htm: 'POST' })}.AA`];
    for (const s of samples) {
      const res = await cc('svc', s);
      assert.ok(res.status === 400, `${JSON.stringify(s.slice(0, 40))}: ${res.status} ${res.text}`);
    }
  });
});

describe('DPoP replay across two instances on one database', () => {
  let one: TestServer;
  let two: TestServer;
  let app: { id: string; secret: string };
  before(async () => {
    one = await startTestServer();
    const built = await buildFixture(one, { users: [{ userName: 'svc-two' }], properties: { [CC]: 'true' }, apps: { svc: { name: 'Two instances', grantTypes: ['client_credentials'], appUser: 'svc-two' } } });
    app = { id: built.apps.svc.clientId, secret: built.apps.svc.secret };
    // The second instance shares the database (and the issuer, as instances behind one load balancer do).
    two = await startTestServer({ shareDb: { db: one.db, storageKind: one.storageKind }, issuer: one.url });
    await refreshCache(two);
  });
  after(async () => {
    await two?.close();
    await one?.close();
  });

  it('a proof used at instance 1 is refused at instance 2 (storage.replay is shared)', async () => {
    const key = await proofKey();
    const p = await proof(key, 'POST', `${one.url}/oauth/token`);
    const first = await tokenRequest(one.url, { path: '/oauth/token', form: { grant_type: 'client_credentials' }, basic: [app.id, app.secret], headers: { dpop: p } });
    assert.equal(first.status, 200, first.text);
    assert.equal(first.json?.token_type, 'DPoP');
    const second = await tokenRequest(two.url, { path: '/oauth/token', form: { grant_type: 'client_credentials' }, basic: [app.id, app.secret], headers: { dpop: p } });
    assert.equal(second.status, 400, second.text);
    assert.equal(second.json?.error, 'invalid_dpop_proof');
    await assertRefusal(two.latchkey.storage, second, 'dpop.replayed');
    // A fresh proof works at instance 2, and both instances accept the other's nonces.
    const fresh = await tokenRequest(two.url, { path: '/oauth/token', form: { grant_type: 'client_credentials' }, basic: [app.id, app.secret], headers: { dpop: await proof(key, 'POST', `${one.url}/oauth/token`) } });
    assert.equal(fresh.status, 200, fresh.text);
    const nonce = await one.latchkey.dpop.nonces!.current();
    assert.equal(await two.latchkey.dpop.nonces!.valid(nonce), true);
  });
});
