/**
 * Token revocation (RFC 7009) over real HTTP: 200 with an empty body, and the token then refused
 * at our APIs and inactive at introspection (on this instance at once, on another instance over
 * the same database within the poll interval); refresh tokens take their family with them; a
 * token of another client is refused and stays valid; public clients; refusals recorded under
 * `revoke`; 503 when the storage is down; oauth4webapi as a real client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { createLatchkey } from '../src/app.js';
import { buildHttpServer } from '../src/http/server.js';
import { loadApis } from '../src/resource-server/load.js';
import { openStorage } from '../src/storage/open.js';
import { openSqliteStorage } from '../src/storage/sqlite/adapter.js';
import { StorageError } from '../src/storage/types.js';
import { apiCall, FIXTURE_APIS, type ApiReply } from './helpers/api.js';
import { assertOAuthError, assertRefusal, ManualClock, tokenRequest, type TokenRequest, type TokenResponse } from './helpers/oauth.js';
import { buildFixture } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const PW = 'a-good-password-1';
const ECHO = '/api/test/echo';

type App = { readonly clientId: string; readonly secret: string };

describe('revocation endpoint (RFC 7009)', () => {
  const clock = new ManualClock();
  let server: TestServer;
  const apps: Record<string, App> = {};

  const post = (req: TokenRequest) => tokenRequest(server.url, req);
  const basic = (name: string) => [apps[name]!.clientId, apps[name]!.secret] as const;
  const revoke = (token: string, as = 'client', extra: Record<string, string> = {}, path = '/oauth/revoke') => post({ path, form: { token, ...extra }, basic: basic(as) });
  const introspect = (token: string) => post({ path: '/oauth/introspect', form: { token }, basic: basic('rs') });
  const api = (token: string, base = server.url): Promise<ApiReply> => apiCall(base, { path: ECHO, bearer: token });

  async function issue(name: string, form: Record<string, string>, publicClient = false): Promise<Record<string, unknown>> {
    const res = publicClient ? await post({ form: { ...form, client_id: apps[name]!.clientId } }) : await post({ form, basic: basic(name) });
    assert.equal(res.status, 200, res.text);
    return res.json!;
  }
  const cc = async (name = 'client') => String((await issue(name, { grant_type: 'client_credentials' })).access_token);
  const passwordGrant = (name = 'client', publicClient = false) => issue(name, { grant_type: 'password', username: 'alice', password: PW }, publicClient);
  const refreshGrant = (name: string, refreshToken: string) => issue(name, { grant_type: 'refresh_token', refresh_token: refreshToken });

  /** RFC 7009 §2.2: 200; the body (ignored by clients) is the empty JSON object, as application/json. */
  function assertRevoked(res: TokenResponse): void {
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, '{}');
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(res.headers.get('cache-control'), 'no-store');
  }
  async function assertValid(token: string, kind: 'access' | 'refresh' = 'access'): Promise<void> {
    const res = await introspect(token);
    assert.equal(res.json?.active, true, `expected an active token: ${res.text}`);
    if (kind === 'access') assert.equal((await api(token)).status, 200);
  }
  async function assertDead(token: string, kind: 'access' | 'refresh' = 'access'): Promise<void> {
    assert.equal((await introspect(token)).text, '{"active":false}');
    if (kind === 'access') {
      const res = await api(token);
      assert.equal(res.status, 401, res.text);
      assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    }
  }

  before(async () => {
    server = await startTestServer({ clock, apisDir: FIXTURE_APIS });
    const built = await buildFixture(
      server,
      {
        scopes: ['export.read'],
        users: [{ userName: 'svc' }, { userName: 'alice', password: PW }],
        properties: { [CC]: 'true' },
        appDefaults: { scopes: ['export.read'] },
        apps: {
          client: { name: 'Client', grantTypes: ['client_credentials', 'password'], appUser: 'svc' },
          other: { name: 'Other client', grantTypes: ['client_credentials', 'password'], appUser: 'svc' },
          public: { name: 'Public client', grantTypes: ['password'], public: true },
          short: { name: 'Short-lived', grantTypes: ['client_credentials'], appUser: 'svc', accessTokenLifespan: 1 },
          rs: { name: 'Resource server', grantTypes: [], canIntrospect: true },
          jwt: { name: 'JWT client', grantTypes: ['client_credentials', 'password'], appUser: 'svc', tokenFormat: 'jwt' },
        },
      },
      clock,
    );
    Object.assign(apps, built.apps);
  });
  after(async () => server.close());

  describe('revoking (RFC 7009 §2.1, §2.2)', () => {
    it('an access token: 200 with an empty body, then refused at the API and inactive, at once', async () => {
      const token = await cc();
      await assertValid(token); // the API has now cached it
      assertRevoked(await revoke(token));
      await assertDead(token);
    });

    it('at /oauth_revoke_token.do too', async () => {
      const token = await cc();
      await assertValid(token);
      assertRevoked(await revoke(token, 'client', {}, '/oauth_revoke_token.do'));
      await assertDead(token);
    });

    it('an access token alone: its refresh token and the rest of the family stay valid', async () => {
      const first = await passwordGrant();
      const second = await refreshGrant('client', String(first.refresh_token));
      assertRevoked(await revoke(String(second.access_token)));
      await assertDead(String(second.access_token));
      await assertValid(String(first.access_token));
      await assertValid(String(second.refresh_token), 'refresh');
      await refreshGrant('client', String(second.refresh_token));
    });

    it('a refresh token: the whole family, access tokens included', async () => {
      const first = await passwordGrant();
      const second = await refreshGrant('client', String(first.refresh_token));
      await assertValid(String(first.access_token));
      await assertValid(String(second.access_token));
      assertRevoked(await revoke(String(second.refresh_token), 'client', { token_type_hint: 'refresh_token' }));
      await assertDead(String(first.access_token));
      await assertDead(String(second.access_token));
      await assertDead(String(second.refresh_token), 'refresh');
      await assertDead(String(first.refresh_token), 'refresh');
      const res = await post({ form: { grant_type: 'refresh_token', refresh_token: String(second.refresh_token) }, basic: basic('client') });
      assertOAuthError(res, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, res, 'refresh_token.revoked');
    });

    it('a rotated refresh token still takes its family (the client is done with the grant)', async () => {
      const first = await passwordGrant();
      const second = await refreshGrant('client', String(first.refresh_token));
      assertRevoked(await revoke(String(first.refresh_token)));
      await assertDead(String(second.access_token));
      await assertDead(String(second.refresh_token), 'refresh');
    });

    it('another family is untouched', async () => {
      const mine = await passwordGrant();
      const other = await passwordGrant();
      assertRevoked(await revoke(String(mine.refresh_token)));
      await assertValid(String(other.access_token));
      await assertValid(String(other.refresh_token), 'refresh');
    });

    it('token_type_hint is only a hint: a wrong or unknown one still finds the token; unsupported_token_type is never sent', async () => {
      const a = await cc();
      assertRevoked(await revoke(a, 'client', { token_type_hint: 'refresh_token' }));
      await assertDead(a);
      const b = await cc();
      assertRevoked(await revoke(b, 'client', { token_type_hint: 'urn:example:mystery' }));
      await assertDead(b);
      const tokens = await passwordGrant();
      assertRevoked(await revoke(String(tokens.refresh_token), 'client', { token_type_hint: 'access_token' }));
      await assertDead(String(tokens.access_token));
    });

    it('invalid tokens get 200 (§2.2): unknown, malformed, already revoked, expired', async () => {
      for (const token of [`lk_at_${'0'.repeat(12)}${'A'.repeat(43)}`, 'not a token', 'a.b.c', '☃', 'A'.repeat(8000)]) assertRevoked(await revoke(token));
      const token = await cc();
      assertRevoked(await revoke(token));
      assertRevoked(await revoke(token));
      const short = await cc('short');
      clock.advance(1000);
      assertRevoked(await revoke(short, 'short'));
    });

    it('a public client identifies with its client_id (§2.1) and revokes its own token', async () => {
      const tokens = await passwordGrant('public', true);
      await assertValid(String(tokens.access_token));
      assertRevoked(await post({ path: '/oauth/revoke', form: { token: String(tokens.refresh_token), client_id: apps.public!.clientId } }));
      await assertDead(String(tokens.access_token));
      await assertDead(String(tokens.refresh_token), 'refresh');
    });
  });

  describe('refused: the token stays valid', () => {
    async function refused(res: TokenResponse, status: number, error: string, reason: string): Promise<void> {
      assertOAuthError(res, status, error);
      await assertRefusal(server.latchkey.storage, res, reason);
      assert.equal((await server.latchkey.storage.refusals.byRequestId(res.requestId))?.endpoint, 'revoke');
    }

    it('an oversized body, at both paths: 400 invalid_request, no-store, recorded; the token stays valid', async () => {
      const token = await cc('client');
      for (const path of ['/oauth/revoke', '/oauth_revoke_token.do']) {
        const res = await revoke(token, 'client', { pad: 'x'.repeat(20_000) }, path);
        await refused(res, 400, 'invalid_request', 'request.body_too_large');
        assert.equal(res.headers.get('cache-control'), 'no-store');
      }
      await assertValid(token);
    });

    it('a token issued to another client: 400 unauthorized_client, still valid at the API and at introspection', async () => {
      const token = await cc('other');
      await assertValid(token);
      const res = await revoke(token, 'client');
      await refused(res, 400, 'unauthorized_client', 'revoke.wrong_client');
      const refusal = await server.latchkey.storage.refusals.byRequestId(res.requestId);
      assert.equal(refusal?.clientId, apps.client!.clientId);
      assert.equal(refusal?.applicationName, 'Client');
      await assertValid(token);
      // And a refresh token of another client: its family untouched.
      const tokens = await passwordGrant('other');
      await refused(await revoke(String(tokens.refresh_token), 'client'), 400, 'unauthorized_client', 'revoke.wrong_client');
      await assertValid(String(tokens.access_token));
      await assertValid(String(tokens.refresh_token), 'refresh');
      // A public client cannot revoke a confidential client's token either.
      await refused(await post({ path: '/oauth/revoke', form: { token, client_id: apps.public!.clientId } }), 400, 'unauthorized_client', 'revoke.wrong_client');
      await assertValid(token);
    });

    it('no client authentication: 401 invalid_client with WWW-Authenticate: Basic', async () => {
      const token = await cc();
      const res = await post({ path: '/oauth/revoke', form: { token } });
      await refused(res, 401, 'invalid_client', 'client_auth.missing');
      assert.match(res.headers.get('www-authenticate') ?? '', /^Basic realm="latchkey"/);
      await assertValid(token);
    });

    it('a wrong secret, or a confidential client sending only its client_id: 401', async () => {
      const token = await cc();
      await refused(await post({ path: '/oauth/revoke', form: { token }, basic: [apps.client!.clientId, 'lk_cs_wrong'] }), 401, 'invalid_client', 'client_auth.secret_mismatch');
      await refused(await post({ path: '/oauth/revoke', form: { token, client_id: apps.client!.clientId } }), 401, 'invalid_client', 'client_auth.secret_required');
      await assertValid(token);
    });

    it('no token parameter: 400 invalid_request', async () => {
      await refused(await post({ path: '/oauth/revoke', form: { token_type_hint: 'access_token' }, basic: basic('client') }), 400, 'invalid_request', 'request.missing_parameter');
    });

    it('wrong method, wrong content type, the token in the query: 400, nothing revoked', async () => {
      const token = await cc();
      const get = await post({ path: '/oauth/revoke', method: 'GET', basic: basic('client') });
      await refused(get, 400, 'invalid_request', 'request.method_not_allowed');
      assert.equal(get.headers.get('allow'), 'POST');
      await refused(await post({ path: '/oauth/revoke', contentType: 'application/json', body: JSON.stringify({ token }), basic: basic('client') }), 400, 'invalid_request', 'request.invalid_content_type');
      await refused(await post({ path: '/oauth_revoke_token.do', query: `token=${token}`, form: {}, basic: basic('client') }), 400, 'invalid_request', 'request.credentials_in_query');
      await assertValid(token);
    });

    it('the storage unavailable: 503 with Retry-After, and the token is not revoked', async () => {
      const token = await cc();
      await assertValid(token);
      const store = server.latchkey.storage.tokens as { byHash: typeof server.latchkey.storage.tokens.byHash };
      const byHash = store.byHash;
      store.byHash = () => Promise.reject(new StorageError('unavailable', 'test: storage down'));
      let res: TokenResponse;
      try {
        res = await revoke(token);
      } finally {
        store.byHash = byHash;
      }
      assert.equal(res.status, 503, res.text);
      assert.equal(res.json?.error, 'temporarily_unavailable');
      assert.match(res.headers.get('retry-after') ?? '', /^\d+$/);
      // Nothing was decided, and the answer quotes the request id the server logged it under.
      const requestId = res.headers.get('x-request-id') ?? '';
      assert.ok(requestId.length > 0);
      assert.equal(res.json?.error_description, `The service is temporarily unavailable and nothing was decided. Retry shortly. If it persists, quote request id ${requestId}.`);
      await assertValid(token);
      // §2.2.1: the client retries later, and then it works.
      assertRevoked(await revoke(token));
      await assertDead(token);
    });
  });

  it('reaches another instance on the same database: its API stops accepting the token it had cached', async () => {
    // A second instance over the same database (the same SQLite file, or the same PostgreSQL database).
    const storage = server.storageKind === 'postgres' ? await openStorage(server.db) : openSqliteStorage({ path: server.db });
    const latchkey = createLatchkey({ storage, clock, pollMs: 100, issuer: server.url, router: await loadApis(FIXTURE_APIS, { required: true }) });
    await latchkey.start();
    const http = await buildHttpServer(latchkey, { bodyLimit: 16 * 1024 });
    try {
      const other = await http.listen({ port: 0, host: '127.0.0.1' });
      const token = await cc();
      assert.equal((await api(token, other)).status, 200); // cached by the other instance now
      assertRevoked(await revoke(token));
      // Introspection at the other instance reads the shared storage: inactive at once.
      const asked = await tokenRequest(other, { path: '/oauth/introspect', form: { token }, basic: basic('rs') });
      assert.equal(asked.text, '{"active":false}');
      // Its API drops the cached answer within the poll interval (bounded wait: 3 s).
      const started = Date.now();
      let status = 200;
      while (status === 200 && Date.now() - started < 3_000) {
        await new Promise((r) => setTimeout(r, 50));
        status = (await api(token, other)).status;
      }
      assert.equal(status, 401, 'the other instance still accepts the revoked token');
      assert.ok(Date.now() - started < 1_500, `took ${Date.now() - started} ms`);
    } finally {
      await http.close();
      await latchkey.stop();
      await storage.close();
    }
  });

  describe('JWT access tokens', () => {
    it('a JWT access token is revoked by its jti: refused at the API, inactive at introspection', async () => {
      const token = await cc('jwt');
      assert.equal(token.split('.').length, 3, 'the application issues JWTs');
      await assertValid(token);
      // Another client cannot revoke it.
      assertOAuthError(await revoke(token, 'client'), 400, 'unauthorized_client');
      await assertValid(token);
      assertRevoked(await revoke(token, 'jwt'));
      await assertDead(token);
    });

    it('a JWT client\'s refresh token takes its JWT access tokens with it', async () => {
      const tokens = await passwordGrant('jwt');
      await assertValid(String(tokens.access_token));
      assertRevoked(await revoke(String(tokens.refresh_token), 'jwt'));
      await assertDead(String(tokens.access_token));
    });

    it('an altered JWT revokes nothing (200, the real token stays valid)', async () => {
      const token = await cc('jwt');
      const [h, p, s] = token.split('.') as [string, string, string];
      assertRevoked(await revoke(`${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`, 'jwt'));
      await assertValid(token);
    });
  });

  describe('oauth4webapi as the client', () => {
    const insecure = { [oauth.allowInsecureRequests]: true } as const;
    const as = () => ({ issuer: server.url, revocation_endpoint: `${server.url}/oauth/revoke` });

    it('revocationRequest / processRevocationResponse with client_secret_basic and with a public client', async () => {
      const token = await cc();
      const client: oauth.Client = { client_id: apps.client!.clientId };
      assert.equal(await oauth.processRevocationResponse(await oauth.revocationRequest(as(), client, oauth.ClientSecretBasic(apps.client!.secret), token, insecure)), undefined);
      await assertDead(token);
      const tokens = await passwordGrant('public', true);
      const pub: oauth.Client = { client_id: apps.public!.clientId };
      await oauth.processRevocationResponse(
        await oauth.revocationRequest(as(), pub, oauth.None(), String(tokens.refresh_token), { ...insecure, additionalParameters: { token_type_hint: 'refresh_token' } }),
      );
      await assertDead(String(tokens.access_token));
    });

    it('surfaces another client\'s token as a response body error', async () => {
      const token = await cc('other');
      const client: oauth.Client = { client_id: apps.client!.clientId };
      await assert.rejects(oauth.processRevocationResponse(await oauth.revocationRequest(as(), client, oauth.ClientSecretPost(apps.client!.secret), token, insecure)), (error: unknown) => {
        assert.ok(error instanceof oauth.ResponseBodyError, String(error));
        assert.equal(error.status, 400);
        assert.equal(error.error, 'unauthorized_client');
        return true;
      });
      await assertValid(token);
    });
  });
});
