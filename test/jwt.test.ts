import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import * as oauth from 'oauth4webapi';
import * as openid from 'openid-client';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { isJwtShaped, jtiKey, recordKeyOf, verifyAccessJwt, AccessJwtRejected } from '../src/tokens/jwt.js';
import { apiCall, assertApiRefusal, FIXTURE_APIS } from './helpers/api.js';
import { refreshCache, tokenRequest, type TokenResponse } from './helpers/oauth.js';
import { buildFixture } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const PW = 'alice-jwt-password-1';
const JTI = /^[0-9a-f]{12}[A-Za-z0-9_-]{22}$/;

type App = { id: string; secret: string };

async function accessToken(res: TokenResponse): Promise<string> {
  assert.equal(res.status, 200, res.text);
  return String(res.json?.access_token);
}

/** JWT access tokens (RFC 9068): what standard libraries accept, and what our own APIs accept. */
describe('JWT access tokens', () => {
  let server: TestServer;
  let jwtApp: App;
  let portal: App;
  let opaqueApp: App;
  let elsewhere: App;
  const cc = (app: App, extra: Record<string, string> = {}) => tokenRequest(server.url, { form: { grant_type: 'client_credentials', ...extra }, basic: [app.id, app.secret] });
  const echo = (token: string) => apiCall(server.url, { path: '/api/test/echo', bearer: token });
  const jwtDeps = () => ({ keyring: server.latchkey.keyring, issuer: () => server.latchkey.issuer(), clock: server.latchkey.clock });

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    const { apps } = await buildFixture(server, {
      scopes: ['export.read'],
      users: [{ userName: 'svc-jwt', roles: ['itil'] }, { userName: 'alice', password: PW }],
      properties: { [CC]: 'true' },
      apps: {
        jwtApp: { name: 'JWT export', grantTypes: ['client_credentials'], appUser: 'svc-jwt', scopes: ['export.read'], tokenFormat: 'jwt' },
        portal: { name: 'JWT portal', grantTypes: ['password'], scopes: ['export.read'], tokenFormat: 'jwt' },
        opaqueApp: { name: 'Opaque export', grantTypes: ['client_credentials'], appUser: 'svc-jwt' },
        elsewhere: { name: 'For another API', grantTypes: ['client_credentials'], appUser: 'svc-jwt', tokenFormat: 'jwt', audience: 'https://reports.example.com/api' },
      },
    });
    const app = (a: { clientId: string; secret: string }): App => ({ id: a.clientId, secret: a.secret });
    jwtApp = app(apps.jwtApp);
    portal = app(apps.portal);
    opaqueApp = app(apps.opaqueApp);
    elsewhere = app(apps.elsewhere);
  });
  after(async () => server.close());

  it('issues an RFC 9068 token: typ at+jwt, our kid, and the claims iss, sub, aud, exp, iat, jti, client_id, scope', async () => {
    const res = await cc(jwtApp, { scope: 'export.read' });
    const token = await accessToken(res);
    assert.ok(isJwtShaped(token), token);
    assert.equal(res.json?.token_type, 'Bearer');
    assert.equal(res.json?.expires_in, 1800);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const header = jose.decodeProtectedHeader(token);
    const jwks = await (await fetch(`${server.url}/oauth/jwks`)).json();
    assert.deepEqual(header, { alg: 'ES256', typ: 'at+jwt', kid: jwks.keys[0].kid });
    const claims = jose.decodeJwt(token);
    assert.deepEqual(Object.keys(claims).sort(), ['aud', 'client_id', 'exp', 'iat', 'iss', 'jti', 'scope', 'sub']);
    assert.equal(claims.iss, server.url);
    assert.equal(claims.aud, server.url);
    assert.equal(claims.sub, 'svc-jwt', 'client credentials: the application user');
    assert.equal(claims.client_id, jwtApp.id);
    assert.equal(claims.scope, 'export.read');
    assert.equal((claims.exp ?? 0) - (claims.iat ?? 0), 1800);
    assert.ok(Math.abs((claims.iat ?? 0) - Date.now() / 1000) < 60);
    assert.match(String(claims.jti), JTI);
    // Stored like any token (for revocation, introspection, lists), under the jti's key.
    const record = await server.latchkey.storage.tokens.byHash(jtiKey(String(claims.jti)));
    assert.ok(record !== undefined);
    assert.equal(record.kind, 'access');
    assert.equal(record.status, 'active');
    assert.deepEqual(record.scopes, ['export.read']);
    assert.equal(await recordKeyOf(jwtDeps(), token), jtiKey(String(claims.jti)));
    // Two tokens never share a jti.
    const again = jose.decodeJwt(await accessToken(await cc(jwtApp)));
    assert.notEqual(again.jti, claims.jti);
  });

  it('an opaque-format application still gets opaque tokens', async () => {
    const token = await accessToken(await cc(opaqueApp));
    assert.match(token, /^lk_at_/);
    assert.equal(isJwtShaped(token), false);
  });

  it('jose jwtVerify with createRemoteJWKSet(our /oauth/jwks) accepts the token', async () => {
    const token = await accessToken(await cc(jwtApp));
    const jwks = jose.createRemoteJWKSet(new URL(`${server.url}/oauth/jwks`));
    const { payload, protectedHeader } = await jose.jwtVerify(token, jwks, { issuer: server.url, audience: server.url, typ: 'at+jwt', algorithms: ['ES256'] });
    assert.equal(protectedHeader.typ, 'at+jwt');
    assert.equal(payload.client_id, jwtApp.id);
    // The platform-style path serves the same keys.
    const platform = jose.createRemoteJWKSet(new URL(`${server.url}/api/now/oauth/jwks`));
    assert.equal((await jose.jwtVerify(token, platform, { issuer: server.url })).payload.jti, payload.jti);
  });

  it('oauth4webapi validateJwtAccessToken accepts it, with the server found by discovery from our metadata', async () => {
    const issuer = new URL(server.url);
    const as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', [oauth.allowInsecureRequests]: true }));
    assert.equal(as.jwks_uri, `${server.url}/oauth/jwks`);
    const token = await accessToken(await cc(jwtApp, { scope: 'export.read' }));
    const request = new Request(`${server.url}/api/test/echo`, { headers: { authorization: `Bearer ${token}` } });
    const claims = await oauth.validateJwtAccessToken(as, request, server.url, { [oauth.allowInsecureRequests]: true });
    assert.equal(claims.iss, server.url);
    assert.equal(claims.client_id, jwtApp.id);
    assert.equal(claims.sub, 'svc-jwt');
    // A resource server with another identifier refuses it.
    const other = new Request(`${server.url}/api/test/echo`, { headers: { authorization: `Bearer ${token}` } });
    await assert.rejects(oauth.validateJwtAccessToken(as, other, 'https://someone-else.example', { [oauth.allowInsecureRequests]: true }));
  });

  it('openid-client discovers the server from our metadata and gets a JWT with client credentials', async () => {
    const config = await openid.discovery(new URL(server.url), jwtApp.id, jwtApp.secret, undefined, { execute: [openid.allowInsecureRequests], algorithm: 'oauth2' });
    assert.equal(config.serverMetadata().issuer, server.url);
    const tokens = await openid.clientCredentialsGrant(config, { scope: 'export.read' });
    assert.ok(isJwtShaped(tokens.access_token));
    const { payload } = await jose.jwtVerify(tokens.access_token, jose.createRemoteJWKSet(new URL(String(config.serverMetadata().jwks_uri))), { issuer: server.url, audience: server.url, typ: 'at+jwt' });
    assert.equal(payload.scope, 'export.read');
  });

  it('our APIs accept our JWT (same caller as an opaque token of the same grant)', async () => {
    const r = await echo(await accessToken(await cc(jwtApp, { scope: 'export.read' })));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.caller.method, 'bearer');
    assert.equal(r.json.result.caller.user.name, 'svc-jwt');
    assert.equal(r.json.result.caller.application.clientId, jwtApp.id);
    assert.deepEqual(r.json.result.caller.scopes, ['export.read']);
  });

  it('password grant: sub is the resource owner; the refreshed access token is a new JWT our APIs accept', async () => {
    const first = await tokenRequest(server.url, { form: { grant_type: 'password', username: 'alice', password: PW }, basic: [portal.id, portal.secret] });
    const token = await accessToken(first);
    assert.equal(jose.decodeJwt(token).sub, 'alice');
    assert.match(String(first.json?.refresh_token), /^lk_rt_/);
    const refreshed = await tokenRequest(server.url, { form: { grant_type: 'refresh_token', refresh_token: String(first.json?.refresh_token) }, basic: [portal.id, portal.secret] });
    const next = await accessToken(refreshed);
    assert.ok(isJwtShaped(next));
    assert.notEqual(jose.decodeJwt(next).jti, jose.decodeJwt(token).jti);
    const r = await echo(next);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.caller.user.name, 'alice');
  });

  it('a revoked JWT is refused at our API with token.revoked, even after it was accepted (and cached)', async () => {
    const token = await accessToken(await cc(jwtApp));
    assert.equal((await echo(token)).status, 200);
    const jti = String(jose.decodeJwt(token).jti);
    assert.ok(await server.latchkey.storage.tokens.revoke(jtiKey(jti), Date.now()));
    await refreshCache(server);
    await assertApiRefusal(server.latchkey.storage, await echo(token), { status: 401, reason: 'token.revoked', error: 'invalid_token' });
  });

  it('`latchkey tokens revoke <jwt>` revokes a JWT access token by its jti; our API then refuses it', async () => {
    const token = await accessToken(await cc(jwtApp));
    assert.equal((await echo(token)).status, 200);
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
    const code = await main(['node', 'latchkey', 'tokens', 'revoke', token, '--json', '--db', server.db], io);
    assert.equal(code, 0, err);
    assert.equal(JSON.parse(out).revoked, 1);
    await refreshCache(server);
    await assertApiRefusal(server.latchkey.storage, await echo(token), { status: 401, reason: 'token.revoked', error: 'invalid_token' });
    // A JWT-shaped string that is not one of ours is not found, and says what to check.
    const again = await main(['node', 'latchkey', 'tokens', 'revoke', 'eyJhbGciOiJub25lIn0.eyJ4IjoxfQ.c2ln', '--db', server.db], io);
    assert.equal(again, 1);
    assert.match(err, /No token issued by this instance matches/);
  });

  it('a JWT with an audience elsewhere verifies for that audience but is refused by our APIs (token.wrong_audience)', async () => {
    const token = await accessToken(await cc(elsewhere));
    const { payload } = await jose.jwtVerify(token, jose.createRemoteJWKSet(new URL(`${server.url}/oauth/jwks`)), { issuer: server.url, audience: 'https://reports.example.com/api' });
    assert.equal(payload.aud, 'https://reports.example.com/api');
    await assertApiRefusal(server.latchkey.storage, await echo(token), { status: 401, reason: 'token.wrong_audience', error: 'invalid_token' });
  });

  it('refuses altered, foreign-key, unreadable and foreign-issuer JWTs with distinct reasons', async () => {
    const token = await accessToken(await cc(jwtApp));
    const [h, , s] = token.split('.') as [string, string, string];
    const claims = jose.decodeJwt(token);
    // The payload changed (a wider scope), the signature kept.
    const widened = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'useraccount' })).toString('base64url')}.${s}`;
    await assertApiRefusal(server.latchkey.storage, await echo(widened), { status: 401, reason: 'token.signature_invalid', error: 'invalid_token' });
    // Our issuer, signed by a key we never published.
    const { privateKey } = await jose.generateKeyPair('ES256');
    const forged = await new jose.SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'not-one-of-ours' }).sign(privateKey);
    await assertApiRefusal(server.latchkey.storage, await echo(forged), { status: 401, reason: 'token.unknown_key', error: 'invalid_token' });
    // Our kid, someone else's key.
    const ourKid = await new jose.SignJWT({ ...claims }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: jose.decodeProtectedHeader(token).kid! }).sign(privateKey);
    await assertApiRefusal(server.latchkey.storage, await echo(ourKid), { status: 401, reason: 'token.signature_invalid', error: 'invalid_token' });
    // Three segments, but no issuer to say whose it is.
    await assertApiRefusal(server.latchkey.storage, await echo('e30.e30.e30'), { status: 401, reason: 'token.malformed', error: 'invalid_token' });
    const foreign = await new jose.SignJWT({ ...claims, iss: 'https://idp.example.com' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);
    await assertApiRefusal(server.latchkey.storage, await echo(foreign), { status: 401, reason: 'token.unknown_issuer', error: 'invalid_token' });
  });

  it('verifyAccessJwt and recordKeyOf: our valid token only; AccessJwtRejected says why', async () => {
    const token = await accessToken(await cc(jwtApp));
    const claims = await verifyAccessJwt(jwtDeps(), token);
    assert.equal(claims.client_id, jwtApp.id);
    const { privateKey } = await jose.generateKeyPair('ES256');
    const kid = jose.decodeProtectedHeader(token).kid!;
    const forged = await new jose.SignJWT({ ...jose.decodeJwt(token) }).setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid }).sign(privateKey);
    await assert.rejects(verifyAccessJwt(jwtDeps(), forged), (e: unknown) => e instanceof AccessJwtRejected && e.code === 'signature');
    assert.equal(await recordKeyOf(jwtDeps(), forged), undefined);
    const notAt = await new jose.SignJWT({ ...jose.decodeJwt(token) }).setProtectedHeader({ alg: 'ES256', kid }).sign(privateKey);
    await assert.rejects(verifyAccessJwt(jwtDeps(), notAt), (e: unknown) => e instanceof AccessJwtRejected && (e.code === 'signature' || e.code === 'malformed'));
    await assert.rejects(verifyAccessJwt(jwtDeps(), 'a.b.c'), (e: unknown) => e instanceof AccessJwtRejected && e.code === 'malformed');
    // An opaque token's key is its tokenKey.
    const opaque = await accessToken(await cc(opaqueApp));
    assert.ok((await server.latchkey.storage.tokens.byHash((await recordKeyOf(jwtDeps(), opaque))!)) !== undefined);
  });
});
