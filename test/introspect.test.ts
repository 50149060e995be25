/**
 * Token introspection (RFC 7662) over real HTTP: every member of an active answer (§2.2), the one
 * bare answer for every inactive token, the endpoint's own authorization, refusals recorded under
 * `introspect`, the 503 when the instance cannot tell, and oauth4webapi as a real client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { createLatchkey } from '../src/app.js';
import { buildHttpServer } from '../src/http/server.js';
import { createApplication, updateApplication } from '../src/registry/applications.js';
import { bootstrap } from '../src/registry/bootstrap.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser, updateUser } from '../src/registry/users.js';
import { openPostgresStorage } from '../src/storage/postgres/adapter.js';
import { StorageError } from '../src/storage/types.js';
import { ForwardingProxy } from './helpers/forwarding-proxy.js';
import { assertOAuthError, assertRefusal, ManualClock, refreshCache, registryDeps, tokenRequest, type TokenRequest, type TokenResponse } from './helpers/oauth.js';
import { createTestDatabase } from './helpers/postgres.js';
import { buildFixture } from './helpers/fixture.js';
import { startTestServer, testStorageKind, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const PW = 'a-good-password-1';
const INTROSPECT = '/oauth/introspect';

type App = { readonly clientId: string; readonly secret: string; readonly id: string };

describe('introspection endpoint (RFC 7662)', () => {
  const clock = new ManualClock();
  let server: TestServer;
  const apps: Record<string, App> = {};

  const post = (req: TokenRequest) => tokenRequest(server.url, req);
  const basic = (name: string) => [apps[name]!.clientId, apps[name]!.secret] as const;

  /** Asks the resource server application `as` (default: rs) about `token`. */
  const introspect = (token: string, extra: Record<string, string> = {}, as = 'rs') => post({ path: INTROSPECT, form: { token, ...extra }, basic: basic(as) });

  async function issue(name: string, form: Record<string, string>): Promise<Record<string, unknown>> {
    const res = await post({ form, basic: basic(name) });
    assert.equal(res.status, 200, res.text);
    return res.json!;
  }
  const cc = async (name: string, scope?: string) => String((await issue(name, { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) })).access_token);
  const passwordGrant = (name: string, username = 'alice') => issue(name, { grant_type: 'password', username, password: PW });
  const refreshGrant = (name: string, refreshToken: string) => issue(name, { grant_type: 'refresh_token', refresh_token: refreshToken });

  /** An active answer: 200, JSON, no-store, active true. */
  function assertActive(res: TokenResponse): Record<string, unknown> {
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.json?.active, true, res.text);
    return res.json!;
  }

  /** RFC 7662 §2.2: an inactive token gets exactly {"active":false}, with nothing about why. */
  function assertInactive(res: TokenResponse): void {
    assert.equal(res.status, 200, res.text);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.equal(res.text, '{"active":false}');
  }

  before(async () => {
    server = await startTestServer({ clock });
    const built = await buildFixture(
      server,
      {
        scopes: ['export.read', 'export.write'],
        users: [{ userName: 'svc' }, { userName: 'svc-temp' }, { userName: 'alice', password: PW }],
        properties: { [CC]: 'true' },
        appDefaults: { scopes: ['export.read', 'export.write'] },
        apps: {
          rs: { name: 'Resource server', grantTypes: [], canIntrospect: true },
          rsPublic: { name: 'Public would-be resource server', grantTypes: [], public: true, canIntrospect: true },
          plain: { name: 'Not a resource server', grantTypes: ['client_credentials'], appUser: 'svc' },
          client: { name: 'Client', grantTypes: ['client_credentials', 'password'], appUser: 'svc' },
          short: { name: 'Short-lived', grantTypes: ['client_credentials', 'password'], appUser: 'svc', accessTokenLifespan: 1, refreshTokenLifespan: 2 },
          narrowing: { name: 'Scopes to narrow', grantTypes: ['client_credentials'], appUser: 'svc' },
          doomed: { name: 'To deactivate', grantTypes: ['client_credentials'], appUser: 'svc' },
          tempUser: { name: 'User to deactivate', grantTypes: ['client_credentials'], appUser: 'svc-temp' },
          audience: { name: 'Audience', grantTypes: ['client_credentials'], appUser: 'svc', audience: 'https://reports.example.com' },
          jwt: { name: 'JWT client', grantTypes: ['client_credentials', 'password'], appUser: 'svc', tokenFormat: 'jwt' },
        },
      },
      clock,
    );
    Object.assign(apps, built.apps);
  });
  after(async () => server.close());

  describe('active tokens (RFC 7662 §2.2)', () => {
    it('an access token: every member, with client_secret_basic', async () => {
      const token = await cc('client', 'export.read');
      const issuedAt = Math.floor(clock.now() / 1000);
      const body = assertActive(await introspect(token));
      assert.deepEqual(body, {
        active: true,
        scope: 'export.read',
        client_id: apps.client!.clientId,
        username: 'svc',
        token_type: 'Bearer',
        exp: issuedAt + 1800,
        iat: issuedAt,
        sub: 'svc',
        aud: server.url,
        iss: server.url,
      });
    });

    it('the same answer with client_secret_post', async () => {
      const token = await cc('client');
      const res = await post({ path: INTROSPECT, form: { token, client_id: apps.rs!.clientId, client_secret: apps.rs!.secret } });
      const body = assertActive(res);
      assert.equal(body.scope, 'export.read export.write');
      assert.equal(body.client_id, apps.client!.clientId);
    });

    it('a password-grant access token names the resource owner', async () => {
      const tokens = await passwordGrant('client');
      const body = assertActive(await introspect(String(tokens.access_token)));
      assert.equal(body.username, 'alice');
      assert.equal(body.sub, 'alice');
      assert.equal(body.token_type, 'Bearer');
    });

    it('a refresh token: active, token_type N_A (not an access token), no audience', async () => {
      const tokens = await passwordGrant('client');
      const issuedAt = Math.floor(clock.now() / 1000);
      const body = assertActive(await introspect(String(tokens.refresh_token)));
      assert.deepEqual(body, {
        active: true,
        scope: 'export.read export.write',
        client_id: apps.client!.clientId,
        username: 'alice',
        token_type: 'N_A',
        exp: issuedAt + 8_640_000,
        iat: issuedAt,
        sub: 'alice',
        iss: server.url,
      });
    });

    it('aud is the application\'s audience when it has one', async () => {
      const body = assertActive(await introspect(await cc('audience')));
      assert.equal(body.aud, 'https://reports.example.com');
    });

    it('token_type_hint is only a hint: a wrong or unknown hint still finds the token (§2.1)', async () => {
      const tokens = await passwordGrant('client');
      assert.equal(assertActive(await introspect(String(tokens.access_token), { token_type_hint: 'refresh_token' })).token_type, 'Bearer');
      assert.equal(assertActive(await introspect(String(tokens.refresh_token), { token_type_hint: 'access_token' })).token_type, 'N_A');
      assert.equal(assertActive(await introspect(String(tokens.access_token), { token_type_hint: 'urn:example:unknown' })).token_type, 'Bearer');
    });

    it('scope is the scope in effect: removing one from the application shows at once', async () => {
      const token = await cc('narrowing');
      assert.equal(assertActive(await introspect(token)).scope, 'export.read export.write');
      await updateApplication(registryDeps(server, clock), apps.narrowing!.clientId, { scopes: ['export.read'] });
      await refreshCache(server);
      assert.equal(assertActive(await introspect(token)).scope, 'export.read');
    });
  });

  describe('inactive tokens: {"active":false} and nothing else', () => {
    it('unknown: well-formed but never issued here', async () => {
      assertInactive(await introspect(`lk_at_${'0'.repeat(12)}${'A'.repeat(43)}`));
      assertInactive(await introspect(`lk_rt_${'0'.repeat(12)}${'A'.repeat(43)}`));
    });

    it('malformed: any string at all', async () => {
      for (const token of ['x', 'not a token', 'lk_at_', '\u0000\u00ff☃', 'a.b.c', 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.', 'A'.repeat(8000)]) {
        assertInactive(await introspect(token));
      }
    });

    it('a JWT from another issuer (a key that is not ours)', async () => {
      const { privateKey } = await generateKeyPair('ES256');
      const foreign = await new SignJWT({ client_id: apps.client!.clientId, scope: 'export.read' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'foreign' })
        .setIssuer(server.url)
        .setSubject('svc')
        .setAudience(server.url)
        .setIssuedAt(Math.floor(clock.now() / 1000))
        .setExpirationTime(Math.floor(clock.now() / 1000) + 600)
        .setJti(`${Math.floor(clock.now()).toString(16).padStart(12, '0')}${'A'.repeat(22)}`)
        .sign(privateKey);
      assertInactive(await introspect(foreign));
    });

    it('expired', async () => {
      const token = await cc('short');
      assertActive(await introspect(token));
      clock.advance(1000);
      assertInactive(await introspect(token));
    });

    it('revoked', async () => {
      const token = await cc('client');
      assertActive(await introspect(token));
      const res = await post({ path: '/oauth/revoke', form: { token }, basic: basic('client') });
      assert.equal(res.status, 200, res.text);
      assertInactive(await introspect(token));
    });

    it('a rotated refresh token; and after its reuse, the whole family', async () => {
      const first = await passwordGrant('client');
      const second = await refreshGrant('client', String(first.refresh_token));
      assertInactive(await introspect(String(first.refresh_token)));
      assertActive(await introspect(String(second.refresh_token)));
      assertActive(await introspect(String(second.access_token)));
      // Reuse of the rotated token revokes the family (RFC 9700 §4.14.2).
      const reuse = await post({ form: { grant_type: 'refresh_token', refresh_token: String(first.refresh_token) }, basic: basic('client') });
      assertOAuthError(reuse, 400, 'invalid_grant');
      assertInactive(await introspect(String(second.refresh_token)));
      assertInactive(await introspect(String(second.access_token)));
    });

    it('of an inactive application, active again when it is reactivated', async () => {
      const token = await cc('doomed');
      assertActive(await introspect(token));
      await updateApplication(registryDeps(server, clock), apps.doomed!.clientId, { active: false });
      await refreshCache(server);
      assertInactive(await introspect(token));
      // No refreshCache here: an inactive answer from cached state is checked against the storage first.
      await updateApplication(registryDeps(server, clock), apps.doomed!.clientId, { active: true });
      assertActive(await introspect(token));
    });

    it('of a deactivated user: inactive, and still inactive after activating the user again (deactivation revoked it)', async () => {
      const token = await cc('tempUser');
      assertActive(await introspect(token));
      await updateUser(registryDeps(server, clock), 'svc-temp', { active: false });
      await refreshCache(server);
      assertInactive(await introspect(token));
      await updateUser(registryDeps(server, clock), 'svc-temp', { active: true });
      await refreshCache(server);
      assertInactive(await introspect(token));
      assertActive(await introspect(await cc('tempUser')));
    });
  });

  describe('who may ask, and refusals (recorded under "introspect")', () => {
    async function refused(res: TokenResponse, status: number, error: string, reason: string): Promise<void> {
      assertOAuthError(res, status, error);
      await assertRefusal(server.latchkey.storage, res, reason);
      const refusal = await server.latchkey.storage.refusals.byRequestId(res.requestId);
      assert.equal(refusal?.endpoint, 'introspect');
      assert.equal(res.json?.active, undefined);
    }

    it('no client authentication: 401 invalid_client with a Basic challenge', async () => {
      const token = await cc('client');
      await refused(await post({ path: INTROSPECT, form: { token } }), 401, 'invalid_client', 'client_auth.missing');
    });

    it('an oversized body: 400 invalid_request, no-store, recorded (like the token endpoint)', async () => {
      const token = await cc('client');
      const res = await post({ path: INTROSPECT, form: { token, pad: 'x'.repeat(20_000) }, basic: [apps.rs!.clientId, apps.rs!.secret] });
      await refused(res, 400, 'invalid_request', 'request.body_too_large');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.match(res.json?.error_description as string, /larger than 16384 bytes/);
    });

    it('a wrong secret: 401, and the token is not described', async () => {
      const token = await cc('client');
      await refused(await post({ path: INTROSPECT, form: { token }, basic: [apps.rs!.clientId, 'lk_cs_wrong'] }), 401, 'invalid_client', 'client_auth.secret_mismatch');
    });

    it('a public client (client_id only) cannot introspect, even when allowed to', async () => {
      const token = await cc('client');
      const res = await post({ path: INTROSPECT, form: { token, client_id: apps.rsPublic!.clientId } });
      await refused(res, 401, 'invalid_client', 'introspect.client_authentication_required');
      const refusal = await server.latchkey.storage.refusals.byRequestId(res.requestId);
      assert.equal(refusal?.clientId, apps.rsPublic!.clientId);
    });

    it('an application not allowed to introspect: 403 unauthorized_client, allowed at once when an administrator allows it', async () => {
      const token = await cc('client');
      const res = await introspect(token, {}, 'plain');
      await refused(res, 403, 'unauthorized_client', 'introspect.not_allowed');
      const refusal = await server.latchkey.storage.refusals.byRequestId(res.requestId);
      assert.equal(refusal?.applicationName, 'Not a resource server');
      // Not even its own tokens.
      await refused(await introspect(await cc('plain'), {}, 'plain'), 403, 'unauthorized_client', 'introspect.not_allowed');
      // No refreshCache: a refusal decided from the cache is checked against the storage first.
      await updateApplication(registryDeps(server, clock), apps.plain!.clientId, { canIntrospect: true });
      assertActive(await introspect(token, {}, 'plain'));
      await updateApplication(registryDeps(server, clock), apps.plain!.clientId, { canIntrospect: false });
      await refreshCache(server);
    });

    it('no token parameter: 400 invalid_request', async () => {
      await refused(await post({ path: INTROSPECT, form: { token_type_hint: 'access_token' }, basic: basic('rs') }), 400, 'invalid_request', 'request.missing_parameter');
    });

    it('wrong method: 400 with Allow: POST', async () => {
      const res = await post({ path: INTROSPECT, method: 'GET', basic: basic('rs') });
      await refused(res, 400, 'invalid_request', 'request.method_not_allowed');
      assert.equal(res.headers.get('allow'), 'POST');
    });

    it('wrong content type: 400', async () => {
      const token = await cc('client');
      await refused(await post({ path: INTROSPECT, contentType: 'application/json', body: JSON.stringify({ token }), basic: basic('rs') }), 400, 'invalid_request', 'request.invalid_content_type');
      await refused(await post({ path: INTROSPECT, contentType: null, body: `token=${token}`, basic: basic('rs') }), 400, 'invalid_request', 'request.invalid_content_type');
    });

    it('the token in the URL query: 400, never looked up', async () => {
      const token = await cc('client');
      await refused(await post({ path: INTROSPECT, query: `token=${token}`, form: {}, basic: basic('rs') }), 400, 'invalid_request', 'request.credentials_in_query');
    });

    it('a repeated parameter: 400', async () => {
      const token = await cc('client');
      await refused(await post({ path: INTROSPECT, form: { token: [token, token] }, basic: basic('rs') }), 400, 'invalid_request', 'request.repeated_parameter');
    });
  });

  describe('when the instance cannot tell: 503, never active:false', () => {
    function assertUnavailable(res: TokenResponse): void {
      assert.equal(res.status, 503, res.text);
      assert.equal(res.json?.error, 'temporarily_unavailable');
      assert.equal(res.json?.active, undefined);
      assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
    }

    it('the token store reports unavailable: 503 with Retry-After; the answer returns with the storage', async () => {
      const token = await cc('client');
      const tokens = server.latchkey.storage.tokens as { byHash: typeof server.latchkey.storage.tokens.byHash };
      const byHash = tokens.byHash;
      tokens.byHash = () => Promise.reject(new StorageError('unavailable', 'test: storage down'));
      try {
        assertUnavailable(await introspect(token));
        assertUnavailable(await introspect('not-a-token-at-all'));
      } finally {
        tokens.byHash = byHash;
      }
      assertActive(await introspect(token));
    });

    it('the signing keys cannot be read (a JWT): 503, not "not ours"', async () => {
      const token = await cc('jwt');
      const keyring = server.latchkey.keyring as { verificationKey: typeof server.latchkey.keyring.verificationKey };
      keyring.verificationKey = () => Promise.reject(new StorageError('unavailable', 'test: keys unreadable'));
      try {
        assertUnavailable(await introspect(token));
      } finally {
        delete (keyring as Partial<typeof keyring>).verificationKey; // back to the prototype's
      }
      assertActive(await introspect(token));
    });

    it('PostgreSQL unreachable (a real outage through a proxy): 503, then active again', { skip: testStorageKind() !== 'postgres' && 'PostgreSQL pass only' }, async () => {
      const db = await createTestDatabase();
      const real = new URL(db.url);
      const proxy = new ForwardingProxy({ host: real.hostname, port: Number(real.port || 5432) });
      await proxy.start();
      const via = new URL(db.url);
      via.hostname = '127.0.0.1';
      via.port = String(proxy.port);
      const storage = await openPostgresStorage({ url: via.toString(), connectTimeoutMs: 500, statementTimeoutMs: 500 });
      const latchkey = createLatchkey({ storage, pollMs: 100 });
      const http = await buildHttpServer(latchkey, { bodyLimit: 16 * 1024 });
      try {
        const deps = { storage, clock: latchkey.clock, grants: latchkey.catalogue };
        await bootstrap(deps, 'admin-password-for-tests');
        await createUser(deps, { userName: 'svc' });
        await setProperty(deps, CC, 'true');
        const client = await createApplication(deps, { name: 'Client', grantTypes: ['client_credentials'], appUser: 'svc' });
        const rs = await createApplication(deps, { name: 'RS', grantTypes: [], canIntrospect: true });
        await latchkey.start();
        const url = await http.listen({ port: 0, host: '127.0.0.1' });
        latchkey.setDefaultIssuer(url);
        const tokenRes = await tokenRequest(url, { form: { grant_type: 'client_credentials' }, basic: [client.application.clientId, client.clientSecret ?? ''] });
        const token = String(tokenRes.json?.access_token);
        const ask = () => tokenRequest(url, { path: INTROSPECT, form: { token }, basic: [rs.application.clientId, rs.clientSecret ?? ''] });
        assertActive(await ask());
        await proxy.stop();
        const started = Date.now();
        // Until the change poll (100 ms here) finds the database gone and clears the caches, the
        // record remembered from the answer above may still answer active: never active:false,
        // and a 503 as soon as the instance must read the database to tell.
        let down = await ask();
        while (down.status === 200 && Date.now() - started < 3_000) {
          assertActive(down);
          await new Promise((r) => setTimeout(r, 50));
          down = await ask();
        }
        assertUnavailable(down);
        assert.ok(Date.now() - started < 3_000, `answered 503 after ${Date.now() - started} ms`);
        await proxy.start(proxy.port);
        let last: TokenResponse | undefined;
        for (let i = 0; i < 50 && last?.status !== 200; i++) {
          await new Promise((r) => setTimeout(r, 100));
          last = await ask();
        }
        assertActive(last!);
      } finally {
        await http.close();
        await latchkey.stop();
        await storage.close().catch(() => undefined);
        await proxy.stop();
        await db.drop();
      }
    });
  });

  describe('JWT access tokens (RFC 9068)', () => {
    it('active: the members match the token\'s claims, jti included', async () => {
      const token = await cc('jwt', 'export.read');
      assert.equal(token.split('.').length, 3, 'the application issues JWTs');
      const claims = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
      const body = assertActive(await introspect(token));
      assert.deepEqual(body, {
        active: true,
        scope: 'export.read',
        client_id: apps.jwt!.clientId,
        username: 'svc',
        token_type: 'Bearer',
        exp: claims.exp,
        iat: claims.iat,
        sub: claims.sub,
        aud: claims.aud,
        iss: server.url,
        jti: claims.jti,
      });
      assert.equal(claims.sub, 'svc');
    });

    it('inactive once revoked, expired, or altered', async () => {
      const token = await cc('jwt');
      assertActive(await introspect(token));
      // Altered: one character of the signature changed.
      const [h, p, s] = token.split('.') as [string, string, string];
      const flipped = `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
      assertInactive(await introspect(flipped));
      // Claims changed under the same signature.
      const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Record<string, unknown>;
      const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, scope: 'export.read export.write admin' })).toString('base64url')}.${s}`;
      assertInactive(await introspect(forged));
      const revoked = await post({ path: '/oauth/revoke', form: { token }, basic: basic('jwt') });
      assert.equal(revoked.status, 200, revoked.text);
      assertInactive(await introspect(token));
      const other = await cc('jwt');
      assertActive(await introspect(other));
      clock.advance(1_801_000);
      assertInactive(await introspect(other));
    });

    it('a JWT client\'s refresh token (opaque) introspects as N_A', async () => {
      const tokens = await passwordGrant('jwt');
      assert.equal(assertActive(await introspect(String(tokens.refresh_token))).token_type, 'N_A');
      assert.equal(assertActive(await introspect(String(tokens.access_token))).token_type, 'Bearer');
    });
  });

  describe('oauth4webapi as the resource server', () => {
    const insecure = { [oauth.allowInsecureRequests]: true } as const;
    const as = () => ({ issuer: server.url, introspection_endpoint: `${server.url}${INTROSPECT}`, revocation_endpoint: `${server.url}/oauth/revoke` });

    it('introspectionRequest / processIntrospectionResponse: active, then inactive after revocation', async () => {
      const rs: oauth.Client = { client_id: apps.rs!.clientId };
      const token = await cc('client', 'export.write');
      const active = await oauth.processIntrospectionResponse(as(), rs, await oauth.introspectionRequest(as(), rs, oauth.ClientSecretBasic(apps.rs!.secret), token, insecure));
      assert.equal(active.active, true);
      assert.equal(active.scope, 'export.write');
      assert.equal(active.client_id, apps.client!.clientId);
      assert.equal(active.token_type, 'Bearer');
      assert.equal(typeof active.exp, 'number');
      const client: oauth.Client = { client_id: apps.client!.clientId };
      await oauth.processRevocationResponse(await oauth.revocationRequest(as(), client, oauth.ClientSecretPost(apps.client!.secret), token, insecure));
      const inactive = await oauth.processIntrospectionResponse(as(), rs, await oauth.introspectionRequest(as(), rs, oauth.ClientSecretPost(apps.rs!.secret), token, insecure));
      assert.deepEqual(inactive, { active: false });
    });

    it('private_key_jwt: a resource server with no shared secret introspects (every registered method works)', async () => {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const jwk = { ...(await exportJWK(publicKey)), kid: 'rs-key-1', alg: 'ES256', use: 'sig' };
      const created = await createApplication(registryDeps(server, clock), { name: 'Keyed resource server', grantTypes: [], canIntrospect: true, jwks: JSON.stringify({ keys: [jwk] }) });
      await refreshCache(server);
      // The server runs on a manual clock that earlier tests moved forward: tell the client.
      const rs: oauth.Client = { client_id: created.application.clientId, [oauth.clockSkew]: Math.round((clock.now() - Date.now()) / 1000) };
      const token = await cc('client');
      const info = await oauth.processIntrospectionResponse(as(), rs, await oauth.introspectionRequest(as(), rs, oauth.PrivateKeyJwt({ key: privateKey, kid: 'rs-key-1' }), token, insecure));
      assert.equal(info.active, true);
      assert.equal(info.client_id, apps.client!.clientId);
    });

    it('surfaces a non-introspecting client as a 403 body error, and a wrong secret as a Basic challenge', async () => {
      const token = await cc('client');
      const plain: oauth.Client = { client_id: apps.plain!.clientId };
      await assert.rejects(oauth.processIntrospectionResponse(as(), plain, await oauth.introspectionRequest(as(), plain, oauth.ClientSecretBasic(apps.plain!.secret), token, insecure)), (error: unknown) => {
        assert.ok(error instanceof oauth.ResponseBodyError, String(error));
        assert.equal(error.status, 403);
        assert.equal(error.error, 'unauthorized_client');
        return true;
      });
      const rs: oauth.Client = { client_id: apps.rs!.clientId };
      await assert.rejects(oauth.processIntrospectionResponse(as(), rs, await oauth.introspectionRequest(as(), rs, oauth.ClientSecretBasic('lk_cs_wrong'), token, insecure)), (error: unknown) => {
        assert.ok(error instanceof oauth.WWWAuthenticateChallengeError, String(error));
        assert.equal(error.status, 401);
        assert.equal(error.cause[0]?.scheme, 'basic');
        return true;
      });
    });
  });

  it('the answer for a token never carries the token or a secret', async () => {
    const token = await cc('client');
    const res = await introspect(token);
    assert.ok(!res.text.includes(token));
    assert.ok(!res.text.includes(apps.rs!.secret));
    assert.ok(!res.text.includes(apps.client!.secret));
  });
});
