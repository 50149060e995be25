/**
 * Dynamic client registration (RFC 7591) and the client configuration endpoint (RFC 7592) over
 * HTTP against a real server: the three modes, initial access tokens (uses, expiry, revocation),
 * every metadata refusal, registration policies, application_type rules, de-duplication, the
 * per-source rate limit, read/update/delete with the registration access token, reaping with a test
 * clock, and a registered client getting a token through the authorization code flow.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../src/core/clock.js';
import { hashSecret } from '../src/core/crypto.js';
import { createUser } from '../src/registry/users.js';
import { createInitialAccessToken, reapRegistrations, revokeInitialAccessToken, setPolicy } from '../src/registry/registration.js';
import { createScope } from '../src/registry/scopes.js';
import { authorizeInBrowser, Browser } from './helpers/browser.js';
import { pkcePair } from './helpers/authorize-flow.js';
import { fetchFrom } from './helpers/from-address.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { adminFetch, adminToken } from './helpers/admin.js';
import { executePlan, planApply } from '../src/config-as-code/apply.js';
import { exportRegistry } from '../src/config-as-code/snapshot.js';
import { registryDocumentSchema } from '../src/config-as-code/document.js';

interface Reply {
  readonly status: number;
  readonly headers: Headers;
  readonly json: Record<string, unknown>;
  readonly requestId: string;
}

const WEB = { client_name: 'Agent', redirect_uris: ['https://agent.example.com/cb'] };
const NATIVE = { client_name: 'CLI agent', redirect_uris: ['http://127.0.0.1:33418/callback'], token_endpoint_auth_method: 'none' };

async function call(server: TestServer, method: string, path: string, options: { body?: unknown; raw?: string; token?: string; contentType?: string | null; from?: string } = {}): Promise<Reply> {
  const headers: Record<string, string> = {};
  if (options.contentType !== null) headers['content-type'] = options.contentType ?? 'application/json';
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const send = options.from === undefined ? fetch : fetchFrom(options.from);
  const res = await send(`${server.url}${path}`, { method, headers, ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let json: Record<string, unknown> = {};
  try {
    json = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>);
  } catch {
    json = { text };
  }
  return { status: res.status, headers: res.headers, json, requestId: res.headers.get('x-request-id') ?? '' };
}

const register = (server: TestServer, body: unknown, options: { token?: string; from?: string } = {}) => call(server, 'POST', '/oauth/register', { body, ...options });

async function setProperty(server: TestServer, name: string, value: string): Promise<void> {
  await server.latchkey.storage.properties.set(name, value, Date.now());
  await refreshCache(server);
}

async function refusedAs(server: TestServer, res: Reply, status: number, error: string, reason: string): Promise<void> {
  assert.equal(res.status, status, JSON.stringify(res.json));
  assert.equal(res.json.error, error, JSON.stringify(res.json));
  const refusal = await server.latchkey.storage.refusals.byRequestId(res.requestId);
  assert.equal(refusal?.reason, reason, JSON.stringify(res.json));
  assert.equal(refusal?.endpoint, 'register');
}

async function newToken(server: TestServer, input: Parameters<typeof createInitialAccessToken>[1] = {}): Promise<string> {
  return (await createInitialAccessToken({ ...registryDeps(server), actor: 'test' }, input)).token;
}

describe('dynamic client registration (RFC 7591, RFC 7592)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer();
    await createScope(registryDeps(server), 'orders.read', 'Read orders');
    await createScope(registryDeps(server), 'orders.write', 'Write orders');
    // Many registrations from 127.0.0.1 here; the rate limit has its own test below.
    await setProperty(server, 'latchkey.rate_limit.registration', '0');
  });
  after(async () => server.close());

  describe('modes', () => {
    it('token (the default): refuses without a token, registers with one, names the endpoint in discovery', async () => {
      const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      assert.equal(meta.registration_endpoint, `${server.url}/oauth/register`);
      await refusedAs(server, await register(server, WEB), 401, 'invalid_token', 'registration.token_missing');
      const missing = await register(server, WEB);
      assert.match(missing.headers.get('www-authenticate') ?? '', /^Bearer realm="latchkey", error="invalid_token"/);
      await refusedAs(server, await register(server, WEB, { token: 'lk_ia_not-a-real-token' }), 401, 'invalid_token', 'registration.token_unknown');
      const ok = await register(server, { ...WEB, client_name: 'Token mode' }, { token: await newToken(server) });
      assert.equal(ok.status, 201, JSON.stringify(ok.json));
      assert.equal(ok.headers.get('cache-control'), 'no-store');
      assert.equal(typeof ok.json.client_id, 'string');
      assert.match(String(ok.json.client_secret), /^lk_cs_/);
      assert.equal(ok.json.client_secret_expires_at, 0);
      assert.equal(typeof ok.json.client_id_issued_at, 'number');
      assert.match(String(ok.json.registration_access_token), /^lk_ra_/);
      assert.equal(ok.json.registration_client_uri, `${server.url}/oauth/register/${String(ok.json.client_id)}`);
      assert.deepEqual(ok.json.grant_types, ['authorization_code']);
      assert.deepEqual(ok.json.response_types, ['code']);
      assert.equal(ok.json.token_endpoint_auth_method, 'client_secret_basic');
      assert.equal(ok.json.application_type, 'web');
      const app = await server.latchkey.storage.applications.byClientId(String(ok.json.client_id));
      assert.equal(app?.origin, 'registration');
      assert.equal(app?.name, 'Token mode');
      assert.equal(app?.public, false);
      const record = await server.latchkey.storage.registrations.byClientId(String(ok.json.client_id));
      assert.equal(record?.tokenHash, hashSecret(String(ok.json.registration_access_token)), 'only the hash is stored');
      assert.match(record?.source ?? '', /^iat:iat_/);
    });

    it('open: registers without a token, from the source address', async () => {
      await setProperty(server, 'latchkey.registration.mode', 'open');
      try {
        const ok = await register(server, { ...NATIVE, client_name: 'Open mode' });
        assert.equal(ok.status, 201, JSON.stringify(ok.json));
        assert.equal(ok.json.client_secret, undefined, 'a public client gets no secret');
        assert.equal(ok.json.client_secret_expires_at, undefined);
        assert.equal(ok.json.application_type, 'native', 'inferred from a loopback redirect URI');
        assert.equal((await server.latchkey.storage.registrations.byClientId(String(ok.json.client_id)))?.source, 'ip:127.0.0.1');
        await refusedAs(server, await register(server, WEB, { token: 'lk_ia_wrong' }), 401, 'invalid_token', 'registration.token_unknown');
      } finally {
        await setProperty(server, 'latchkey.registration.mode', 'token');
      }
    });

    it('off: 404 with its reason, and discovery does not name the endpoint', async () => {
      await setProperty(server, 'latchkey.registration.mode', 'off');
      try {
        await refusedAs(server, await register(server, WEB, { token: await newToken(server) }), 404, 'invalid_request', 'registration.disabled');
        const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
        assert.equal(meta.registration_endpoint, undefined);
      } finally {
        await setProperty(server, 'latchkey.registration.mode', 'token');
      }
    });

    it('refuses other methods with Allow', async () => {
      const res = await call(server, 'GET', '/oauth/register');
      await refusedAs(server, res, 400, 'invalid_request', 'request.method_not_allowed');
      assert.equal(res.headers.get('allow'), 'POST');
    });
  });

  describe('initial access tokens', () => {
    it('spends its uses, then refuses', async () => {
      const token = await newToken(server, { uses: 2 });
      assert.equal((await register(server, { ...WEB, client_name: 'Use 1' }, { token })).status, 201);
      assert.equal((await register(server, { ...WEB, client_name: 'Use 2' }, { token })).status, 201);
      const third = await register(server, { ...WEB, client_name: 'Use 3' }, { token });
      await refusedAs(server, third, 401, 'invalid_token', 'registration.token_unusable');
      assert.equal((await server.latchkey.storage.refusals.byRequestId(third.requestId))?.facts?.initialAccessTokenState, 'used_up');
    });

    it('expires, and a revoked one registers nothing', async () => {
      const clock = new ManualClock();
      const created = await createInitialAccessToken({ ...registryDeps(server, clock), actor: 'test' }, { expiresInSeconds: 60 });
      clock.advance(-120_000); // created two minutes in the past: expired a minute ago
      const expired = await createInitialAccessToken({ ...registryDeps(server, clock), actor: 'test' }, { expiresInSeconds: 60 });
      assert.equal((await register(server, { ...WEB, client_name: 'Before expiry' }, { token: created.token })).status, 201);
      const late = await register(server, { ...WEB, client_name: 'After expiry' }, { token: expired.token });
      await refusedAs(server, late, 401, 'invalid_token', 'registration.token_unusable');
      assert.equal((await server.latchkey.storage.refusals.byRequestId(late.requestId))?.facts?.initialAccessTokenState, 'expired');
      await revokeInitialAccessToken({ ...registryDeps(server), actor: 'test' }, created.record.id);
      const revoked = await register(server, { ...WEB, client_name: 'After revocation' }, { token: created.token });
      await refusedAs(server, revoked, 401, 'invalid_token', 'registration.token_unusable');
      assert.equal((await server.latchkey.storage.refusals.byRequestId(revoked.requestId))?.facts?.initialAccessTokenState, 'revoked');
    });
  });

  describe('metadata refusals', () => {
    let token: string;
    before(async () => {
      token = await newToken(server);
    });
    const cases: { name: string; body?: unknown; raw?: string; contentType?: string; error: string; reason: string }[] = [
      { name: 'not JSON', raw: '{"client_name":', error: 'invalid_client_metadata', reason: 'registration.body_invalid' },
      { name: 'an array', raw: '[]', error: 'invalid_client_metadata', reason: 'registration.body_invalid' },
      { name: 'a form body', raw: 'client_name=x', contentType: 'application/x-www-form-urlencoded', error: 'invalid_client_metadata', reason: 'registration.body_invalid' },
      { name: 'no redirect URIs', body: { client_name: 'x' }, error: 'invalid_redirect_uri', reason: 'registration.redirect_uris_missing' },
      { name: 'a relative redirect URI', body: { redirect_uris: ['/cb'] }, error: 'invalid_redirect_uri', reason: 'registration.redirect_uri_invalid' },
      { name: 'a redirect URI with a fragment', body: { redirect_uris: ['https://a.example.com/cb#x'] }, error: 'invalid_redirect_uri', reason: 'registration.redirect_uri_invalid' },
      { name: 'a javascript: redirect URI', body: { redirect_uris: ['javascript:alert(1)'] }, error: 'invalid_redirect_uri', reason: 'registration.redirect_uri_invalid' },
      { name: 'redirect_uris not an array', body: { redirect_uris: 'https://a.example.com/cb' }, error: 'invalid_client_metadata', reason: 'registration.redirect_uri_invalid' },
      { name: 'a web client on localhost', body: { application_type: 'web', redirect_uris: ['http://localhost:8080/cb'] }, error: 'invalid_redirect_uri', reason: 'registration.redirect_uri_application_type' },
      { name: 'a web client on a private-use scheme', body: { application_type: 'web', redirect_uris: ['com.example.app:/cb'] }, error: 'invalid_redirect_uri', reason: 'registration.redirect_uri_application_type' },
      { name: 'an unknown grant type', body: { ...WEB, grant_types: ['password'] }, error: 'invalid_client_metadata', reason: 'registration.grant_types_invalid' },
      { name: 'a token response type', body: { ...WEB, response_types: ['token'] }, error: 'invalid_client_metadata', reason: 'registration.grant_types_invalid' },
      { name: 'refresh_token without authorization_code', body: { ...WEB, grant_types: ['refresh_token'] }, error: 'invalid_client_metadata', reason: 'registration.grant_types_invalid' },
      { name: 'authorization_code without the code response type', body: { ...WEB, response_types: [] }, error: 'invalid_client_metadata', reason: 'registration.grant_types_invalid' },
      { name: 'an unsupported auth method', body: { ...WEB, token_endpoint_auth_method: 'client_secret_jwt' }, error: 'invalid_client_metadata', reason: 'registration.auth_method_unsupported' },
      { name: 'private_key_jwt without keys', body: { ...WEB, token_endpoint_auth_method: 'private_key_jwt' }, error: 'invalid_client_metadata', reason: 'registration.keys_invalid' },
      { name: 'both jwks and jwks_uri', body: { ...WEB, jwks: { keys: [] }, jwks_uri: 'https://agent.example.com/jwks' }, error: 'invalid_client_metadata', reason: 'registration.keys_invalid' },
      { name: 'a private key in jwks', body: { ...WEB, token_endpoint_auth_method: 'private_key_jwt', jwks: { keys: [{ kty: 'oct', k: 'c2VjcmV0' }] } }, error: 'invalid_client_metadata', reason: 'registration.keys_invalid' },
      { name: 'a jwks_uri on loopback (outbound rules)', body: { ...WEB, token_endpoint_auth_method: 'private_key_jwt', jwks_uri: 'http://127.0.0.1:1/jwks' }, error: 'invalid_client_metadata', reason: 'registration.keys_invalid' },
      { name: 'an unknown scope', body: { ...WEB, scope: 'orders.read nope' }, error: 'invalid_client_metadata', reason: 'registration.scope_invalid' },
      { name: 'the admin scope', body: { ...WEB, scope: 'latchkey.admin' }, error: 'invalid_client_metadata', reason: 'registration.scope_invalid' },
      { name: 'scope not a string', body: { ...WEB, scope: ['orders.read'] }, error: 'invalid_client_metadata', reason: 'registration.scope_invalid' },
      { name: 'a client_name that is not a string', body: { ...WEB, client_name: 42 }, error: 'invalid_client_metadata', reason: 'registration.field_invalid' },
      { name: 'an http logo_uri', body: { ...WEB, logo_uri: 'http://agent.example.com/logo.png' }, error: 'invalid_client_metadata', reason: 'registration.field_invalid' },
      { name: 'an unknown application_type', body: { ...WEB, application_type: 'desktop' }, error: 'invalid_client_metadata', reason: 'registration.field_invalid' },
      { name: 'contacts not a list', body: { ...WEB, contacts: 'ops@example.com' }, error: 'invalid_client_metadata', reason: 'registration.field_invalid' },
      { name: 'an unknown token format', body: { ...WEB, access_token_format: 'saml' }, error: 'invalid_client_metadata', reason: 'registration.field_invalid' },
    ];
    for (const c of cases) {
      it(`refuses ${c.name}`, async () => {
        const res = await call(server, 'POST', '/oauth/register', { token, ...(c.raw === undefined ? { body: c.body } : { raw: c.raw }), ...(c.contentType === undefined ? {} : { contentType: c.contentType }) });
        await refusedAs(server, res, 400, c.error, c.reason);
        assert.equal(typeof res.json.error_description, 'string');
      });
    }

    it('refuses client_secret_post while it is switched off', async () => {
      await setProperty(server, 'latchkey.client_auth.client_secret_post.enabled', 'false');
      try {
        await refusedAs(server, await register(server, { ...WEB, token_endpoint_auth_method: 'client_secret_post' }, { token }), 400, 'invalid_client_metadata', 'registration.auth_method_unsupported');
      } finally {
        await setProperty(server, 'latchkey.client_auth.client_secret_post.enabled', 'true');
      }
    });

    it('accepts native clients on loopback and private-use schemes, and ignores unknown members', async () => {
      const ok = await register(server, { client_name: 'Native', application_type: 'native', redirect_uris: ['http://[::1]:9000/cb', 'com.example.agent:/cb'], token_endpoint_auth_method: 'none', scope: 'orders.read', x_unknown: 1 }, { token });
      assert.equal(ok.status, 201, JSON.stringify(ok.json));
      assert.equal(ok.json.scope, 'orders.read');
      assert.equal(ok.json.x_unknown, undefined);
      const httpOff = await register(server, { application_type: 'native', redirect_uris: ['http://agent.example.com/cb'] }, { token });
      await refusedAs(server, httpOff, 400, 'invalid_redirect_uri', 'registration.redirect_uri_invalid');
      // The description is ASCII (RFC 6749 §5.2) and still reads: "§" is spelled out, not turned into "?".
      assert.match(String(httpOff.json.error_description), /RFC 8252 section 7\.3/);
    });

    it('names every scope but the reserved ones when none is asked for, and offline_access only with the refresh_token grant', async () => {
      const codeOnly = await register(server, { ...NATIVE, client_name: 'No scope asked' }, { token });
      assert.equal(codeOnly.status, 201, JSON.stringify(codeOnly.json));
      const granted = String(codeOnly.json.scope).split(' ');
      assert.ok(granted.includes('orders.read') && granted.includes('openid'), granted.join(' '));
      assert.ok(!granted.includes('offline_access') && !granted.includes('latchkey.admin') && !granted.includes('useraccount'), granted.join(' '));
      const withRefresh = await register(server, { ...NATIVE, client_name: 'No scope asked, refreshes', grant_types: ['authorization_code', 'refresh_token'] }, { token });
      assert.equal(withRefresh.status, 201, JSON.stringify(withRefresh.json));
      assert.ok(String(withRefresh.json.scope).split(' ').includes('offline_access'), String(withRefresh.json.scope));
    });
  });

  describe('registration policies', () => {
    it('limit grant types, scopes, redirect hosts, token formats, auth methods and application types', async () => {
      const deps = { ...registryDeps(server), actor: 'test' };
      await setPolicy(deps, 'agents', { grantTypes: ['authorization_code'], scopes: ['orders.read'], redirectHosts: ['*.agents.example.com'], tokenFormats: ['jwt'], authMethods: ['none'], applicationTypes: ['web'] });
      const token = await newToken(server, { policy: 'agents' });
      const base = { client_name: 'Policed', redirect_uris: ['https://a.agents.example.com/cb'], token_endpoint_auth_method: 'none' };
      const ok = await register(server, base, { token });
      assert.equal(ok.status, 201, JSON.stringify(ok.json));
      assert.equal(ok.json.scope, 'orders.read', "a registration naming no scope gets the policy's");
      assert.equal(ok.json.access_token_format, 'jwt', "the policy's first token format");
      assert.equal((await server.latchkey.storage.applications.byClientId(String(ok.json.client_id)))?.tokenFormat, 'jwt');
      const refused = [
        { ...base, grant_types: ['authorization_code', 'refresh_token'] },
        { ...base, scope: 'orders.write' },
        { ...base, token_endpoint_auth_method: 'client_secret_basic' },
        { ...base, access_token_format: 'opaque' },
        { ...base, application_type: 'native', redirect_uris: ['com.example.x:/cb'] },
      ];
      for (const body of refused) {
        const res = await register(server, body, { token });
        await refusedAs(server, res, 400, 'invalid_client_metadata', 'registration.policy_refused');
        assert.equal((await server.latchkey.storage.refusals.byRequestId(res.requestId))?.facts?.registrationPolicy, 'agents');
      }
      await refusedAs(server, await register(server, { ...base, redirect_uris: ['https://evil.example.com/cb'] }, { token }), 400, 'invalid_redirect_uri', 'registration.policy_refused');
    });

    it('the policy named default applies to open registration', async () => {
      const deps = { ...registryDeps(server), actor: 'test' };
      await setPolicy(deps, 'default', { scopes: ['orders.read'] });
      await setProperty(server, 'latchkey.registration.mode', 'open');
      try {
        await refusedAs(server, await register(server, { ...NATIVE, scope: 'orders.write' }), 400, 'invalid_client_metadata', 'registration.policy_refused');
        const ok = await register(server, { ...NATIVE, client_name: 'Default policy' });
        assert.equal(ok.json.scope, 'orders.read');
      } finally {
        await setProperty(server, 'latchkey.registration.mode', 'token');
        await server.latchkey.storage.registrationPolicies.delete('default');
      }
    });
  });

  describe('de-duplication', () => {
    it('the same metadata from the same source returns the same client with new credentials; another source gets another', async () => {
      const token = await newToken(server, { uses: 2 });
      const body = { ...WEB, client_name: 'Dedup', scope: 'orders.read' };
      const first = await register(server, body, { token });
      const again = await register(server, body, { token });
      assert.equal(again.status, 201);
      assert.equal(again.json.client_id, first.json.client_id);
      assert.notEqual(again.json.client_secret, first.json.client_secret, 'the secret is rotated');
      assert.notEqual(again.json.registration_access_token, first.json.registration_access_token);
      // The old credentials stop working.
      const stale = await call(server, 'GET', `/oauth/register/${String(first.json.client_id)}`, { token: String(first.json.registration_access_token) });
      assert.equal(stale.status, 401);
      const oldSecret = await tokenRequest(server.url, { form: { grant_type: 'refresh_token', refresh_token: 'x' }, basic: [String(first.json.client_id), String(first.json.client_secret)] });
      assert.equal(oldSecret.json?.error, 'invalid_client');
      const left = await server.latchkey.storage.initialAccessTokens.byHash(hashSecret(token));
      assert.equal(left?.usesLeft, 1, 'a repeat registration spends no use');
      const changed = await register(server, { ...body, client_name: 'Dedup 2' }, { token });
      assert.notEqual(changed.json.client_id, first.json.client_id, 'other metadata: another client');
      await setProperty(server, 'latchkey.registration.mode', 'open');
      try {
        const a = await register(server, { ...NATIVE, client_name: 'Per source' });
        const b = await register(server, { ...NATIVE, client_name: 'Per source' }, { from: '127.0.0.2' });
        const c = await register(server, { ...NATIVE, client_name: 'Per source' });
        assert.notEqual(a.json.client_id, b.json.client_id, 'another source address');
        assert.equal(a.json.client_id, c.json.client_id);
      } finally {
        await setProperty(server, 'latchkey.registration.mode', 'token');
      }
    });
  });

  describe('RFC 7592 management', () => {
    it('reads, updates and deletes with the registration access token; refuses a wrong one', async () => {
      const created = await register(server, { ...WEB, client_name: 'Managed', scope: 'orders.read' }, { token: await newToken(server) });
      const clientId = String(created.json.client_id);
      const rat = String(created.json.registration_access_token);
      const uri = `/oauth/register/${clientId}`;
      const read = await call(server, 'GET', uri, { token: rat });
      assert.equal(read.status, 200, JSON.stringify(read.json));
      assert.equal(read.json.client_id, clientId);
      assert.equal(read.json.client_name, 'Managed');
      assert.equal(read.json.client_secret, undefined, 'the secret is never readable');
      assert.equal(read.json.registration_access_token, undefined);
      for (const wrong of [undefined, 'lk_ra_wrong', String(created.json.client_secret)]) {
        await refusedAs(server, await call(server, 'GET', uri, wrong === undefined ? {} : { token: wrong }), 401, 'invalid_token', 'registration.management_token_invalid');
        await refusedAs(server, await call(server, 'PUT', uri, { token: wrong ?? '', body: { client_id: clientId, ...WEB } }), 401, 'invalid_token', 'registration.management_token_invalid');
        await refusedAs(server, await call(server, 'DELETE', uri, wrong === undefined ? {} : { token: wrong }), 401, 'invalid_token', 'registration.management_token_invalid');
      }
      await refusedAs(server, await call(server, 'GET', '/oauth/register/unknown-client', { token: rat }), 401, 'invalid_token', 'registration.management_token_invalid');
      await refusedAs(server, await call(server, 'PUT', uri, { token: rat, body: { ...WEB, client_id: 'another' } }), 400, 'invalid_client_metadata', 'registration.client_id_mismatch');
      await refusedAs(server, await call(server, 'PUT', uri, { token: rat, body: { client_id: clientId, redirect_uris: ['/relative'] } }), 400, 'invalid_redirect_uri', 'registration.redirect_uri_invalid');
      const updated = await call(server, 'PUT', uri, { token: rat, body: { client_id: clientId, client_secret: created.json.client_secret, client_name: 'Managed v2', redirect_uris: ['https://agent.example.com/v2'], scope: 'orders.read orders.write' } });
      assert.equal(updated.status, 200, JSON.stringify(updated.json));
      assert.equal(updated.json.client_name, 'Managed v2');
      const app = await server.latchkey.storage.applications.byClientId(clientId);
      assert.deepEqual(app?.redirectUris, ['https://agent.example.com/v2']);
      assert.deepEqual(app?.scopes, ['orders.read', 'orders.write']);
      const del = await call(server, 'DELETE', uri, { token: rat });
      assert.equal(del.status, 204);
      assert.equal(await server.latchkey.storage.applications.byClientId(clientId), undefined);
      assert.equal(await server.latchkey.storage.registrations.byClientId(clientId), undefined);
      assert.equal((await call(server, 'GET', uri, { token: rat })).status, 401, 'gone');
    });
  });

  describe('admin API', () => {
    it('creates a token (answered once), lists tokens by id, sets and removes policies, lists registered clients, reaps', async () => {
      const bearer = { authorization: `Bearer ${await adminToken(server)}` };
      const created = await adminFetch(server, 'POST', '/registration/tokens', { headers: bearer, body: { uses: 1, expiresInSeconds: 3600 } });
      assert.equal(created.status, 201, created.text);
      const c = created.json as { id: string; token: string; usesLeft: number; state: string; hash?: string };
      assert.match(c.token, /^lk_ia_/);
      assert.deepEqual([c.usesLeft, c.state, c.hash], [1, 'active', undefined]);
      const listed = await adminFetch(server, 'GET', '/registration/tokens', { headers: bearer });
      assert.ok(!listed.text.includes(c.token), 'the token is answered once only');
      assert.ok((listed.json as { id: string }[]).some((t) => t.id === c.id));
      const reg = await register(server, { ...WEB, client_name: 'Via admin token' }, { token: c.token });
      assert.equal(reg.status, 201);
      const put = await adminFetch(server, 'PUT', '/registration/policies/partners', { headers: bearer, body: { scopes: ['orders.read'], description: 'Partners' } });
      assert.equal(put.status, 200, put.text);
      assert.deepEqual((put.json as { spec: unknown }).spec, { scopes: ['orders.read'] });
      const bad = await adminFetch(server, 'PUT', '/registration/policies/partners', { headers: bearer, body: { authMethods: ['tls_client_auth'] } });
      assert.equal(bad.status, 400, bad.text);
      assert.equal((await adminFetch(server, 'GET', '/registration/policies/partners', { headers: bearer })).status, 200);
      assert.equal((await adminFetch(server, 'DELETE', '/registration/policies/partners', { headers: bearer })).status, 200);
      assert.equal((await adminFetch(server, 'GET', '/registration/policies/partners', { headers: bearer })).status, 404);
      const clients = (await adminFetch(server, 'GET', '/registration/clients', { headers: bearer })).json as { clientId: string; name: string }[];
      assert.ok(clients.some((x) => x.clientId === reg.json.client_id && x.name === 'Via admin token'));
      const summary = (await adminFetch(server, 'GET', '/registration', { headers: bearer })).json as { mode: string; registeredClients: number };
      assert.equal(summary.mode, 'token');
      assert.equal(summary.registeredClients, clients.length);
      const dry = await adminFetch(server, 'POST', '/registration/reap', { headers: bearer, body: { dryRun: true, days: 1 } });
      assert.equal(dry.status, 200, dry.text);
      assert.equal((dry.json as { deleted: number }).deleted, 0);
      assert.equal((await adminFetch(server, 'DELETE', `/registration/tokens/${c.id}`, { headers: bearer })).status, 200);
      assert.equal((await adminFetch(server, 'GET', '/registration/tokens', { })).status, 401, 'the admin API needs credentials');
    });
  });

  describe('configuration as code', () => {
    it('exports policies (not tokens, not registered clients), applies a changed one and prunes a missing one', async () => {
      const deps = { ...registryDeps(server), actor: 'test' };
      await setPolicy(deps, 'exported', { scopes: ['orders.read'], authMethods: ['none'], description: 'As code' });
      const doc = await exportRegistry(server.latchkey.storage);
      const entry = doc.registrationPolicies.find((p) => p.name === 'exported');
      assert.deepEqual(entry, { name: 'exported', description: 'As code', grantTypes: null, scopes: ['orders.read'], redirectHosts: null, tokenFormats: null, authMethods: ['none'], applicationTypes: null });
      assert.ok(!JSON.stringify(doc).includes('lk_ia_'), 'no initial access token');
      assert.ok(doc.applications.every((a) => !a.name.startsWith('Registered client')), 'registered clients are runtime data');
      const changed = registryDocumentSchema.parse({ ...doc, registrationPolicies: [...doc.registrationPolicies.filter((p) => p.name !== 'exported'), { ...entry, scopes: ['orders.read', 'orders.write'] }, { name: 'from-code', tokenFormats: ['jwt'] }] });
      const plan = await planApply(deps, changed, { prune: false });
      assert.deepEqual(plan.changes.filter((c) => c.kind === 'registrationPolicy').map((c) => [c.action, c.name]).sort(), [['create', 'from-code'], ['update', 'exported']]);
      await executePlan(deps, plan);
      assert.deepEqual((await server.latchkey.storage.registrationPolicies.byName('exported'))?.spec.scopes, ['orders.read', 'orders.write']);
      assert.deepEqual((await server.latchkey.storage.registrationPolicies.byName('from-code'))?.spec, { tokenFormats: ['jwt'] });
      const now = await exportRegistry(server.latchkey.storage);
      // A policy a live initial access token names is not pruned: the plan is refused, naming the token.
      await assert.rejects(planApply(deps, registryDocumentSchema.parse({ ...now, registrationPolicies: [] }), { prune: true }), /registration policy "agents" .*is named by the initial access token iat_/s);
      const pruned = registryDocumentSchema.parse({ ...now, registrationPolicies: now.registrationPolicies.filter((p) => p.name === 'agents') });
      const prunePlan = await planApply(deps, pruned, { prune: true });
      const deletions = prunePlan.changes.filter((c) => c.kind === 'registrationPolicy' && c.action === 'delete').map((c) => c.name);
      assert.ok(deletions.includes('from-code') && deletions.includes('exported'), JSON.stringify(prunePlan.changes));
    });
  });

  describe('random metadata (fast-check)', () => {
    it('never answers 5xx: every answer is 201 or an RFC 7591 / RFC 6750 refusal', async () => {
      await setProperty(server, 'latchkey.registration.mode', 'open');
      try {
        const value = fc.oneof(fc.string({ maxLength: 40 }), fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.oneof(fc.string({ maxLength: 30 }), fc.webUrl(), fc.integer()), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 2 }));
        const field = fc.constantFrom('redirect_uris', 'grant_types', 'response_types', 'token_endpoint_auth_method', 'application_type', 'client_name', 'scope', 'logo_uri', 'contacts', 'jwks', 'jwks_uri', 'software_id', 'id_token_signed_response_alg', 'access_token_format', 'client_id', '__proto__', 'constructor');
        await fc.assert(
          fc.asyncProperty(fc.dictionary(field, value, { maxKeys: 6 }), fc.boolean(), async (body, put) => {
            const res = put ? await call(server, 'PUT', '/oauth/register/x', { body, token: 'lk_ra_x' }) : await register(server, { redirect_uris: ['https://agent.example.com/cb'], ...body });
            assert.ok(res.status < 500, `${res.status} ${JSON.stringify(res.json)} for ${JSON.stringify(body)}`);
            assert.ok([201, 400, 401].includes(res.status), `${res.status} ${JSON.stringify(res.json)}`);
            if (res.status !== 201) assert.ok(['invalid_client_metadata', 'invalid_redirect_uri', 'invalid_token'].includes(String(res.json.error)), JSON.stringify(res.json));
          }),
          { numRuns: 150, seed: 20_261_203 },
        );
      } finally {
        await setProperty(server, 'latchkey.registration.mode', 'token');
      }
    });
  });

  describe('a registered client gets a token', () => {
    it('public client, authorization code with PKCE, as the MCP SDK registers', async () => {
      await createUser(registryDeps(server), { userName: 'reg-user', password: 'reg-user-password-1' });
      // What @modelcontextprotocol/sdk's registerClient posts for a loopback OAuth client.
      const sdkMetadata = { client_name: 'MCP client', redirect_uris: ['http://localhost:8090/callback'], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', scope: 'orders.read' };
      const reg = await register(server, sdkMetadata, { token: await newToken(server) });
      assert.equal(reg.status, 201, JSON.stringify(reg.json));
      await refreshCache(server);
      const clientId = String(reg.json.client_id);
      const { verifier, challenge } = pkcePair();
      const params = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: 'http://localhost:8090/callback', scope: 'orders.read', state: 's1', code_challenge: challenge, code_challenge_method: 'S256' });
      const page = await authorizeInBrowser(new Browser(server.url), `${server.url}/oauth/authorize?${params.toString()}`, { username: 'reg-user', password: 'reg-user-password-1' });
      const code = new URL(page.location ?? '').searchParams.get('code');
      assert.ok(code !== null, page.location);
      const tok = await tokenRequest(server.url, { form: { grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: 'http://localhost:8090/callback', code_verifier: verifier } });
      assert.equal(tok.status, 200, tok.text);
      assert.equal(tok.json?.scope, 'orders.read');
      assert.equal(typeof tok.json?.refresh_token, 'string');
    });
  });
});

describe('dynamic client registration: rate limit and reaping', () => {
  let server: TestServer;
  const clock = new ManualClock();
  before(async () => {
    server = await startTestServer({ clock });
  });
  after(async () => server.close());

  it('limits registrations per source address with 429 and Retry-After', async () => {
    await setProperty(server, 'latchkey.rate_limit.registration', '3');
    await setProperty(server, 'latchkey.registration.mode', 'open');
    const from = '127.0.0.3';
    for (let i = 0; i < 3; i++) assert.equal((await register(server, { ...NATIVE, client_name: `Rate ${i}` }, { from })).status, 201);
    const over = await register(server, { ...NATIVE, client_name: 'Rate 4' }, { from });
    await refusedAs(server, over, 429, 'too_many_requests', 'rate_limit.registration_exceeded');
    assert.ok(Number(over.headers.get('retry-after')) >= 1);
    assert.equal((await register(server, { ...NATIVE, client_name: 'Other source' }, { from: '127.0.0.4' })).status, 201, 'another source is not limited');
    await setProperty(server, 'latchkey.rate_limit.registration', '0');
  });

  it('reaps registrations unused for the period, keeping those that got a token', async () => {
    await setProperty(server, 'latchkey.registration.mode', 'open');
    const unused = await register(server, { ...NATIVE, client_name: 'Never used' }, { from: '127.0.0.5' });
    const used = await register(server, { ...NATIVE, client_name: 'Used', redirect_uris: ['http://127.0.0.1:9/cb'] }, { from: '127.0.0.5' });
    const deps = { storage: server.latchkey.storage, clock, actor: 'test' };
    // A token for "used", 20 days on: its usage row moves its last use forward.
    clock.advance(20 * 86_400_000);
    await server.latchkey.storage.usage.add([{ clientId: String(used.json.client_id), day: clock.now() - (clock.now() % 86_400_000), scope: '', tokens: 1, calls: 0, refusals: 0, lastUseAt: clock.now() }]);
    clock.advance(15 * 86_400_000);
    const dry = await reapRegistrations(deps, { dryRun: true });
    assert.equal(dry.days, 30);
    const dryIds = dry.candidates.map((c) => c.clientId);
    assert.ok(dryIds.includes(String(unused.json.client_id)));
    assert.ok(!dryIds.includes(String(used.json.client_id)));
    assert.equal(dry.deleted, 0);
    assert.ok((await server.latchkey.storage.applications.byClientId(String(unused.json.client_id))) !== undefined, 'a dry run deletes nothing');
    const reaped = await reapRegistrations(deps, {});
    assert.ok(reaped.deleted >= 1);
    assert.equal(await server.latchkey.storage.applications.byClientId(String(unused.json.client_id)), undefined);
    assert.equal(await server.latchkey.storage.registrations.byClientId(String(unused.json.client_id)), undefined);
    assert.ok((await server.latchkey.storage.applications.byClientId(String(used.json.client_id))) !== undefined, 'used within the period: kept');
    // --days 0 reaps nothing; a shorter period reaps the used one too.
    assert.equal((await reapRegistrations(deps, { days: 0 })).deleted, 0);
    assert.equal((await reapRegistrations(deps, { days: 10 })).candidates.some((c) => c.clientId === String(used.json.client_id)), true);
  });

  it('a dry run lists every stale registration, past one page of 500', async () => {
    const deps = { storage: server.latchkey.storage, clock, actor: 'test' };
    const old = clock.now() - 40 * 86_400_000;
    const ids = Array.from({ length: 520 }, (_, i) => `stale-${String(i).padStart(4, '0')}`);
    for (const clientId of ids) {
      await server.latchkey.storage.registrations.create({ clientId, applicationId: `app-${clientId}`, tokenHash: `hash-${clientId}`, source: 'ip:127.0.0.9', fingerprint: clientId, metadata: '{}', policy: null, createdAt: old, updatedAt: old, lastUsedAt: null });
    }
    const dry = await reapRegistrations(deps, { dryRun: true });
    const listed = new Set(dry.candidates.map((c) => c.clientId));
    assert.equal(ids.filter((id) => listed.has(id)).length, 520);
    assert.equal((await server.latchkey.storage.registrations.list()).filter((r) => r.clientId.startsWith('stale-')).length, 520, 'a dry run deletes nothing');
    const reaped = await reapRegistrations(deps, {});
    assert.ok(reaped.deleted >= 520);
    assert.equal((await server.latchkey.storage.registrations.list()).filter((r) => r.clientId.startsWith('stale-')).length, 0);
  });
});
