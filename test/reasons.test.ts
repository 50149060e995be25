import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { REASON_CODES, type ReasonCode } from '../src/errors/reasons.js';
import { createApplication, updateApplication, type ApplicationInput } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser, updateUser } from '../src/registry/users.js';
import type { Refusal } from '../src/storage/types.js';
import { apiCall, assertApiRefusal, FIXTURE_APIS, type ApiCall, type ApiReply } from './helpers/api.js';
import { assertOAuthError, ManualClock, refreshCache, registryDeps, storedTokenKey, tokenRequest, type TokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const ROPC_OFF = 'glide.oauth.inbound.ropc.grant_type.disabled';
const OAUTH_ACTIVE = 'com.snc.platform.security.oauth.is.active';
const LOCKOUT = 'latchkey.password.lockout.threshold';
const PW = 'a-good-password-1';

type App = { clientId: string; secret: string; name: string };
const apps: Record<string, App> = {};
const clock = new ManualClock();
let server: TestServer;

interface Case {
  readonly code: ReasonCode;
  readonly status: number;
  readonly error: string;
  /** The endpoint the refusal is recorded for (default: token). */
  readonly endpoint?: string;
  /** Fields the refusal record must carry besides the reason. */
  readonly record?: (r: Refusal) => void;
  readonly run: () => Promise<TokenResponse>;
}

const post = (req: TokenRequest) => tokenRequest(server.url, req);
const basic = (name: string) => [apps[name]!.clientId, apps[name]!.secret] as const;
const cc = (name: string, extra: Record<string, string> = {}) => post({ form: { grant_type: 'client_credentials', ...extra }, basic: basic(name) });
const password = (name: string, username: string, pw: string, extra: Record<string, string> = {}) =>
  post({ form: { grant_type: 'password', username, password: pw, ...extra }, basic: basic(name) });
const refresh = (name: string, token: string, extra: Record<string, string> = {}) => post({ form: { grant_type: 'refresh_token', refresh_token: token, ...extra }, basic: basic(name) });

async function withProperty<T>(name: string, value: string, restore: string, fn: () => Promise<T>): Promise<T> {
  await setProperty(registryDeps(server, clock), name, value);
  await refreshCache(server);
  try {
    return await fn();
  } finally {
    await setProperty(registryDeps(server, clock), name, restore);
    await refreshCache(server);
  }
}

async function refreshTokenOf(res: TokenResponse): Promise<string> {
  assert.equal(res.status, 200, res.text);
  return String(res.json?.refresh_token);
}

const CASES: Case[] = [
  { code: 'request.invalid_content_type', status: 400, error: 'invalid_request', run: () => post({ contentType: 'application/json', body: '{"grant_type":"client_credentials"}', basic: basic('conf') }) },
  { code: 'request.body_too_large', status: 400, error: 'invalid_request', run: () => post({ form: { grant_type: 'client_credentials', pad: 'x'.repeat(20_000) }, basic: basic('conf') }) },
  { code: 'request.repeated_parameter', status: 400, error: 'invalid_request', run: () => post({ form: { grant_type: 'client_credentials', scope: ['export.read', 'export.read'] }, basic: basic('conf') }) },
  { code: 'request.credentials_in_query', status: 400, error: 'invalid_request', run: () => post({ query: 'client_secret=abc', form: { grant_type: 'client_credentials' }, basic: basic('conf') }) },
  { code: 'request.missing_grant_type', status: 400, error: 'invalid_request', run: () => post({ form: { scope: 'export.read' }, basic: basic('conf') }) },
  { code: 'request.missing_parameter', status: 400, error: 'invalid_request', record: (r) => assert.equal(r.applicationName, 'Confidential'), run: () => post({ form: { grant_type: 'password', username: 'alice' }, basic: basic('conf') }) },
  { code: 'request.method_not_allowed', status: 400, error: 'invalid_request', run: () => post({ method: 'GET', basic: basic('conf') }) },
  { code: 'client_auth.multiple_methods', status: 400, error: 'invalid_request', run: () => post({ form: { grant_type: 'client_credentials', client_id: apps.conf!.clientId, client_secret: apps.conf!.secret }, basic: basic('conf') }) },
  { code: 'client_auth.malformed_header', status: 401, error: 'invalid_client', run: () => post({ form: { grant_type: 'client_credentials' }, headers: { authorization: 'Basic !!!' } }) },
  { code: 'client_auth.missing', status: 401, error: 'invalid_client', run: () => post({ form: { grant_type: 'client_credentials' } }) },
  {
    code: 'client_auth.unknown_client', status: 401, error: 'invalid_client',
    record: (r) => { assert.equal(r.clientId, 'no-such-client'); assert.equal(r.applicationName, null); },
    run: () => post({ form: { grant_type: 'client_credentials' }, basic: ['no-such-client', 'whatever'] }),
  },
  {
    code: 'client_auth.secret_mismatch', status: 401, error: 'invalid_client',
    record: (r) => { assert.equal(r.clientId, apps.conf!.clientId); assert.equal(r.applicationName, 'Confidential'); },
    run: () => post({ form: { grant_type: 'client_credentials' }, basic: [apps.conf!.clientId, 'wrong'] }),
  },
  { code: 'client_auth.secret_required', status: 401, error: 'invalid_client', run: () => post({ form: { grant_type: 'client_credentials', client_id: apps.conf!.clientId } }) },
  { code: 'client_auth.public_client_secret', status: 401, error: 'invalid_client', run: () => post({ form: { grant_type: 'password', username: 'alice', password: PW, client_id: apps.pub!.clientId, client_secret: 'made-up' } }) },
  { code: 'client_auth.application_inactive', status: 401, error: 'invalid_client', run: () => cc('inactive') },
  { code: 'instance.oauth_inactive', status: 400, error: 'invalid_request', run: () => withProperty(OAUTH_ACTIVE, 'false', 'true', () => cc('conf')) },
  { code: 'grant.unsupported', status: 400, error: 'unsupported_grant_type', run: () => post({ form: { grant_type: 'urn:example:magic' }, basic: basic('conf') }) },
  { code: 'grant.not_allowed_for_application', status: 400, error: 'unauthorized_client', run: () => cc('pwOnly') },
  { code: 'grant.client_credentials_disabled', status: 400, error: 'unauthorized_client', run: () => withProperty(CC, 'false', 'true', () => cc('conf')) },
  { code: 'grant.client_credentials_public_client', status: 400, error: 'unauthorized_client', run: () => post({ form: { grant_type: 'client_credentials', client_id: apps.pubcc!.clientId } }) },
  { code: 'grant.ropc_disabled', status: 400, error: 'unauthorized_client', run: () => withProperty(ROPC_OFF, 'true', 'false', () => password('conf', 'alice', PW)) },
  { code: 'application_user.missing', status: 400, error: 'unauthorized_client', run: () => cc('noUser') },
  { code: 'application_user.inactive', status: 400, error: 'unauthorized_client', record: (r) => assert.equal(r.userName, 'svc-off'), run: () => cc('offUser') },
  { code: 'user.bad_credentials', status: 400, error: 'invalid_grant', record: (r) => assert.equal(r.userName, 'alice'), run: () => password('conf', 'alice', 'not-the-password') },
  { code: 'user.inactive', status: 400, error: 'invalid_grant', run: () => password('conf', 'bob', PW) },
  {
    code: 'user.locked_out', status: 400, error: 'invalid_grant',
    run: () =>
      withProperty(LOCKOUT, '2', '5', async () => {
        for (let i = 0; i < 2; i++) assertOAuthError(await password('conf', 'carol', 'wrong-password'), 400, 'invalid_grant');
        return password('conf', 'carol', PW); // the right password, but locked out
      }),
  },
  { code: 'scope.not_allowed', status: 400, error: 'invalid_scope', run: () => cc('conf', { scope: 'admin.all' }) },
  { code: 'scope.malformed', status: 400, error: 'invalid_request', run: () => cc('conf', { scope: 'export.read  export.write' }) },
  {
    code: 'scope.broader_than_grant', status: 400, error: 'invalid_scope',
    run: async () => refresh('conf', await refreshTokenOf(await password('conf', 'alice', PW, { scope: 'export.read' })), { scope: 'export.write' }),
  },
  { code: 'refresh_token.unknown', status: 400, error: 'invalid_grant', run: () => refresh('conf', 'lk_rt_this-was-never-issued') },
  {
    code: 'refresh_token.expired', status: 400, error: 'invalid_grant',
    run: async () => {
      const rt = await refreshTokenOf(await password('short', 'alice', PW));
      clock.advance(2000);
      return refresh('short', rt);
    },
  },
  {
    code: 'refresh_token.revoked', status: 400, error: 'invalid_grant',
    run: async () => {
      // Reuse of rt1 revokes the family, so the newest refresh token rt2 is now revoked.
      const rt1 = await refreshTokenOf(await password('conf', 'alice', PW));
      const rt2 = await refreshTokenOf(await refresh('conf', rt1));
      assertOAuthError(await refresh('conf', rt1), 400, 'invalid_grant');
      return refresh('conf', rt2);
    },
  },
  {
    code: 'refresh_token.reused', status: 400, error: 'invalid_grant',
    run: async () => {
      const rt = await refreshTokenOf(await password('conf', 'alice', PW));
      await refreshTokenOf(await refresh('conf', rt));
      return refresh('conf', rt);
    },
  },
  {
    code: 'refresh_token.wrong_client', status: 400, error: 'invalid_grant',
    run: async () => {
      const rt = await refreshTokenOf(await password('conf', 'alice', PW));
      return post({ form: { grant_type: 'refresh_token', refresh_token: rt, client_id: apps.pub!.clientId } });
    },
  },
  // --- token endpoint cases: authorization code (issue 4) ---
  // --- token endpoint cases: JWT bearer grant and private_key_jwt (issue 4) ---
];

/** A refusal by a REST API (the fixture APIs in test/fixtures/apis): platform error shape, not RFC 6749 §5.2. */
interface ApiCase {
  readonly code: ReasonCode;
  readonly status: number;
  readonly error: string;
  /** `api <namespace>/<id>` */
  readonly endpoint: string;
  /** The WWW-Authenticate header: exact value, pattern, or null for none. */
  readonly wwwAuthenticate: string | RegExp | null;
  readonly record?: (r: Refusal) => void;
  readonly run: () => Promise<ApiReply>;
}

const api = (c: ApiCall) => apiCall(server.url, c);
async function accessToken(res: TokenResponse): Promise<string> {
  assert.equal(res.status, 200, res.text);
  return String(res.json?.access_token);
}
const BEARER_ONLY = 'Bearer realm="latchkey"';
const INVALID_TOKEN = /^Bearer realm="latchkey", error="invalid_token", error_description="[^"]+"$/;

const API_CASES: ApiCase[] = [
  { code: 'api.credentials_missing', status: 401, error: 'invalid_request', endpoint: 'api test/echo', wwwAuthenticate: BEARER_ONLY, run: () => api({ path: '/api/test/echo' }) },
  { code: 'api.malformed_authorization', status: 400, error: 'invalid_request', endpoint: 'api test/echo', wwwAuthenticate: null, run: () => api({ path: '/api/test/echo', headers: { authorization: 'Bearer two tokens' } }) },
  {
    code: 'api.multiple_credentials', status: 400, error: 'invalid_request', endpoint: 'api test/echo', wwwAuthenticate: null,
    run: async () => {
      const t = await accessToken(await cc('api'));
      return api({ path: `/api/test/echo?access_token=${encodeURIComponent(t)}`, bearer: t });
    },
  },
  {
    code: 'api.method_not_accepted', status: 401, error: 'invalid_request', endpoint: 'api test/echo', wwwAuthenticate: BEARER_ONLY,
    record: (r) => assert.equal(r.userName, null),
    run: () => api({ path: '/api/test/echo', basic: ['dora', PW] }),
  },
  {
    code: 'api.basic_bad_credentials', status: 401, error: 'invalid_request', endpoint: 'api acme/reports', wwwAuthenticate: 'Bearer realm="latchkey", Basic realm="latchkey"',
    record: (r) => assert.equal(r.userName, 'dora'),
    run: () => api({ path: '/api/acme/reports', basic: ['dora', 'not-the-password'] }),
  },
  {
    code: 'token.unknown', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      // A real, well-formed token, issued by another instance.
      const other = await startTestServer();
      let foreign: string;
      try {
        const deps = registryDeps(other);
        await createUser(deps, { userName: 'svc' });
        await setProperty(deps, CC, 'true');
        const app = await createApplication(deps, { name: 'Elsewhere', grantTypes: ['client_credentials'], appUser: 'svc' });
        await refreshCache(other);
        foreign = await accessToken(await tokenRequest(other.url, { form: { grant_type: 'client_credentials' }, basic: [app.application.clientId, app.clientSecret ?? ''] }));
      } finally {
        await other.close();
      }
      assert.match(foreign, /^lk_at_/);
      return api({ path: '/api/test/echo', bearer: foreign });
    },
  },
  {
    code: 'token.not_access_token', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => api({ path: '/api/test/echo', bearer: await refreshTokenOf(await password('conf', 'alice', PW)) }),
  },
  {
    code: 'token.expired', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const t = await accessToken(await cc('apiShort'));
      clock.advance(2000);
      return api({ path: '/api/test/echo', bearer: t });
    },
  },
  {
    code: 'token.revoked', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const t = await accessToken(await cc('api'));
      assert.equal((await api({ path: '/api/test/echo', bearer: t })).status, 200);
      assert.ok(await server.latchkey.storage.tokens.revoke(storedTokenKey(t), clock.now()));
      await refreshCache(server);
      return api({ path: '/api/test/echo', bearer: t });
    },
  },
  {
    code: 'token.application_inactive', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const t = await accessToken(await cc('apiDoomed'));
      await updateApplication(registryDeps(server, clock), apps.apiDoomed!.clientId, { active: false });
      await refreshCache(server);
      return api({ path: '/api/test/echo', bearer: t });
    },
  },
  {
    code: 'token.user_inactive', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const t = await accessToken(await cc('apiTemp'));
      await updateUser(registryDeps(server, clock), 'svc-temp', { active: false });
      await refreshCache(server);
      return api({ path: '/api/test/echo', bearer: t });
    },
  },
  {
    code: 'api.scope_missing', status: 403, error: 'insufficient_scope', endpoint: 'api acme/orders', wwwAuthenticate: /^Bearer realm="latchkey", error="insufficient_scope", scope="orders\.read", error_description="[^"]+"$/,
    record: (r) => {
      assert.equal(r.clientId, apps.conf!.clientId);
      assert.equal(r.applicationName, 'Confidential');
      assert.equal(r.userName, 'svc');
    },
    run: async () => api({ path: '/api/acme/orders/1', bearer: await accessToken(await cc('conf')) }),
  },
  {
    code: 'api.role_missing', status: 403, error: 'access_denied', endpoint: 'api acme/desk', wwwAuthenticate: null,
    record: (r) => assert.equal(r.userName, 'svc'),
    run: async () => api({ path: '/api/acme/desk/tickets', bearer: await accessToken(await cc('conf')) }),
  },
  // --- API cases: JWT access tokens (issue 4) ---
  // --- API cases: external identity providers (issue 4) ---
];

/**
 * Refusals of other endpoints (authorize, introspect, revoke, …) whose responses are not token-
 * endpoint JSON: `run` makes the request, asserts the response itself, and returns the request id
 * the refusal must be recorded under.
 */
interface OtherCase {
  readonly code: ReasonCode;
  /** The endpoint the refusal is recorded for. */
  readonly endpoint: string;
  readonly record?: (r: Refusal) => void;
  readonly run: () => Promise<{ readonly requestId: string }>;
}

const OTHER_CASES: OtherCase[] = [
  // --- authorization endpoint cases (issue 4) ---
  // --- introspection and revocation cases (issue 4) ---
  // --- JWKS, keys and metadata cases (issue 4) ---
];

describe('every refusal reason is produced over HTTP and recorded', () => {
  const produced = new Set<string>();

  before(async () => {
    server = await startTestServer({ clock, apisDir: FIXTURE_APIS });
    const deps = registryDeps(server, clock);
    for (const s of ['export.read', 'export.write', 'admin.all']) await createScope(deps, s);
    await createUser(deps, { userName: 'svc' });
    await createUser(deps, { userName: 'svc-off', active: false });
    await createUser(deps, { userName: 'alice', password: PW });
    await createUser(deps, { userName: 'bob', password: PW, active: false });
    await createUser(deps, { userName: 'carol', password: PW });
    await createScope(deps, 'orders.read');
    await createUser(deps, { userName: 'svc-itil', roles: ['itil'] });
    await createUser(deps, { userName: 'svc-temp', roles: ['itil'] });
    await createUser(deps, { userName: 'dora', password: PW });
    await setProperty(deps, CC, 'true');
    const scopes = ['export.read', 'export.write'];
    const make = async (key: string, input: ApplicationInput) => {
      const created = await createApplication(deps, { scopes, ...input });
      apps[key] = { clientId: created.application.clientId, secret: created.clientSecret ?? '', name: created.application.name };
    };
    await make('conf', { name: 'Confidential', grantTypes: ['client_credentials', 'password'], appUser: 'svc' });
    await make('pub', { name: 'Public', grantTypes: ['password'], public: true });
    await make('pubcc', { name: 'Public CC', grantTypes: ['client_credentials'], public: true, appUser: 'svc' });
    await make('noUser', { name: 'No app user', grantTypes: ['client_credentials'] });
    await make('offUser', { name: 'Inactive app user', grantTypes: ['client_credentials'], appUser: 'svc-off' });
    await make('inactive', { name: 'Inactive', grantTypes: ['client_credentials'], appUser: 'svc', active: false });
    await make('pwOnly', { name: 'Password only', grantTypes: ['password'] });
    await make('short', { name: 'Short refresh', grantTypes: ['password'], refreshTokenLifespan: 1 });
    await make('api', { name: 'API caller', grantTypes: ['client_credentials'], appUser: 'svc-itil', scopes: ['orders.read'] });
    await make('apiShort', { name: 'API short-lived', grantTypes: ['client_credentials'], appUser: 'svc-itil', scopes: ['orders.read'], accessTokenLifespan: 1 });
    await make('apiDoomed', { name: 'API to deactivate', grantTypes: ['client_credentials'], appUser: 'svc-itil' });
    await make('apiTemp', { name: 'API user to deactivate', grantTypes: ['client_credentials'], appUser: 'svc-temp' });
    await refreshCache(server);
  });
  after(async () => server.close());

  it('the setup issues tokens (so refusals below are caused by the case, not the setup)', async () => {
    assert.equal((await cc('conf')).status, 200);
    assert.equal((await password('conf', 'alice', PW)).status, 200);
    assert.equal((await post({ form: { grant_type: 'password', username: 'alice', password: PW, client_id: apps.pub!.clientId } })).status, 200);
  });

  for (const c of CASES) {
    it(`${c.code} -> ${c.status} ${c.error}`, async () => {
      const res = await c.run();
      assertOAuthError(res, c.status, c.error);
      const refusal = await server.latchkey.storage.refusals.byRequestId(res.requestId);
      assert.ok(refusal !== undefined, `no refusal recorded for ${res.requestId}`);
      assert.equal(refusal.reason, c.code);
      assert.equal(refusal.status, c.status);
      assert.equal(refusal.error, c.error);
      assert.equal(refusal.description, res.json?.error_description);
      assert.equal(refusal.endpoint, c.endpoint ?? 'token');
      assert.equal(refusal.remoteAddress, '127.0.0.1');
      c.record?.(refusal);
      produced.add(refusal.reason);
    });
  }

  it('the API setup serves a token (so API refusals below are caused by the case)', async () => {
    const r = await api({ path: '/api/acme/orders/1', bearer: await accessToken(await cc('api')) });
    assert.equal(r.status, 200, r.text);
  });

  for (const c of API_CASES) {
    it(`${c.code} -> ${c.status} ${c.error} (API)`, async () => {
      const res = await c.run();
      const refusal = await assertApiRefusal(server.latchkey.storage, res, { status: c.status, reason: c.code, error: c.error, endpoint: c.endpoint, wwwAuthenticate: c.wwwAuthenticate });
      assert.equal(refusal.remoteAddress, '127.0.0.1');
      c.record?.(refusal);
      produced.add(refusal.reason);
    });
  }

  for (const c of OTHER_CASES) {
    it(`${c.code} (${c.endpoint})`, async () => {
      const { requestId } = await c.run();
      const refusal = await server.latchkey.storage.refusals.byRequestId(requestId);
      assert.ok(refusal !== undefined, `no refusal recorded for ${requestId}`);
      assert.equal(refusal.reason, c.code);
      assert.equal(refusal.endpoint, c.endpoint);
      assert.equal(refusal.remoteAddress, '127.0.0.1');
      c.record?.(refusal);
      produced.add(refusal.reason);
    });
  }

  it('covers the whole reason catalogue, and nothing outside it', () => {
    const all = [...CASES, ...API_CASES, ...OTHER_CASES].map((c) => c.code);
    assert.equal(new Set(all).size, all.length, 'a reason is listed twice');
    const missing = REASON_CODES.filter((code) => !produced.has(code));
    const unknown = [...produced].filter((code) => !(REASON_CODES as readonly string[]).includes(code));
    // A reason added to the catalogue needs a case above that produces it over HTTP.
    assert.deepEqual({ missing, unknown }, { missing: [], unknown: [] });
    assert.equal(produced.size, REASON_CODES.length);
  });
});
