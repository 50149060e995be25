import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as jose from 'jose';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { mintOpaque, TOKEN_PREFIX, tokenHandle, tokenKey } from '../src/core/crypto.js';
import { inspectToken, type Inspection } from '../src/diagnostics/inspect.js';
import { createIdentityProvider } from '../src/idp/registry.js';
import { createApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser, updateUser } from '../src/registry/users.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { startIdpServer } from './helpers/idp-server.js';

let server: TestServer;
let opaqueApp: { clientId: string; secret: string };
let jwtApp: { clientId: string; secret: string };

async function cli(args: readonly string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => stdin };
  const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
  return { code, out, err };
}

async function passwordToken(app: { clientId: string; secret: string }, user = 'alice', password = 'alice-password-1'): Promise<Record<string, unknown>> {
  const res = await tokenRequest(server.url, { basic: [app.clientId, app.secret], form: { grant_type: 'password', username: user, password } });
  assert.equal(res.status, 200, res.text);
  return res.json as Record<string, unknown>;
}

function verdict(i: Inspection, method: string, path: string) {
  const v = i.apis.find((a) => a.method === method && a.path === path);
  assert.ok(v !== undefined, `no route ${method} ${path}`);
  return v;
}

/** The CLI's output, human and JSON, shows the token only as its first 10 characters. */
async function assertNeverPrinted(token: string): Promise<Inspection> {
  const human = await cli(['inspect', '-', '--apis', FIXTURE_APIS], token);
  assert.equal(human.code, 0, human.err);
  assert.match(human.out, /^API\s+ROUTE\s+ACCEPTS\s+WHY/m);
  const json = await cli(['inspect', '-', '--apis', FIXTURE_APIS, '--json'], token);
  assert.equal(json.code, 0, json.err);
  for (const text of [human.out, human.err, json.out, json.err]) {
    assert.ok(!text.includes(token), 'the full token was printed');
    assert.ok(!text.includes(token.slice(0, 11)), 'more than 10 characters of the token were printed');
  }
  assert.ok(human.out.includes(`${token.slice(0, 10)}…`));
  return JSON.parse(json.out) as Inspection;
}

before(async () => {
  server = await startTestServer({ apisDir: FIXTURE_APIS, allowPrivateNetworks: true });
  const deps = registryDeps(server);
  await createScope(deps, 'orders.read');
  await createScope(deps, 'orders.write');
  await createUser(deps, { userName: 'alice', password: 'alice-password-1', roles: ['itil'] });
  await createUser(deps, { userName: 'bob', password: 'bob-password-12' });
  const a = await createApplication(deps, { name: 'Orders reader', grantTypes: ['password', 'refresh_token'], scopes: ['orders.read'] });
  opaqueApp = { clientId: a.application.clientId, secret: a.clientSecret ?? '' };
  const j = await createApplication(deps, { name: 'Orders reader JWT', grantTypes: ['password'], scopes: ['orders.read'], tokenFormat: 'jwt' });
  jwtApp = { clientId: j.application.clientId, secret: j.clientSecret ?? '' };
  await setProperty(deps, 'glide.oauth.inbound.ropc.grant_type.disabled', 'false');
  await refreshCache(server);
});

after(async () => server.close());

describe('latchkey inspect', () => {
  it('a valid opaque access token: application, user, scopes, expiry; one API accepts it, another refuses for the scope, as the APIs do', async () => {
    const token = (await passwordToken(opaqueApp)).access_token as string;
    const i = await inspectToken(server.latchkey, token);
    assert.deepEqual(i.token, { format: 'opaque', kind: 'access', preview: `${token.slice(0, 10)}…`, handle: tokenHandle(tokenKey(token)) });
    assert.equal(i.found, true);
    assert.equal(i.valid, true);
    assert.equal(i.reason, null);
    assert.deepEqual(i.application, { clientId: opaqueApp.clientId, name: 'Orders reader', active: true, origin: 'admin', registration: null });
    assert.deepEqual(i.user, { name: 'alice', active: true, roles: ['itil'] });
    assert.deepEqual(i.scopes, ['orders.read']);
    assert.deepEqual(i.effectiveScopes, ['orders.read']);
    assert.ok(i.issuedAt !== null && i.expiresAt !== null && i.expiresAt - i.issuedAt === 1800_000);
    const read = verdict(i, 'GET', '/api/acme/orders/{id}');
    const write = verdict(i, 'PUT', '/api/acme/orders/{id}');
    assert.equal(read.accepted, true);
    assert.match(read.why, /scope orders\.read/);
    assert.equal(write.accepted, false);
    assert.equal(write.reason, 'api.scope_missing');
    assert.match(write.why, /orders\.write/);
    assert.equal(verdict(i, 'GET', '/api/acme/desk/tickets').accepted, true);
    assert.equal(verdict(i, 'GET', '/api/acme/orders/health/check').why, 'open: no authentication required');
    // The same answers as the APIs themselves.
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders/7', bearer: token })).status, 200);
    assert.equal((await apiCall(server.url, { method: 'PUT', path: '/api/acme/orders/7', bearer: token, json: {} })).status, 403);
    assert.equal((await apiCall(server.url, { path: '/api/acme/desk/tickets', bearer: token })).status, 200);
    // The CLI agrees (and never prints the token).
    const viaCli = await assertNeverPrinted(token);
    assert.equal(viaCli.valid, true);
    // Without --issuer the CLI cannot know this instance's issuer from an opaque token, so it names
    // no resource identifiers (RFC 8707/9728); everything else is the same.
    assert.deepEqual(viaCli.apis, i.apis.map((a) => ({ ...a, resource: null, resourceMetadata: null })));
  });

  it('a valid JWT access token (the CLI finds the issuer from the token); a role refusal for a user without it', async () => {
    const token = (await passwordToken(jwtApp, 'bob', 'bob-password-12')).access_token as string;
    const i = await inspectToken(server.latchkey, token);
    assert.equal(i.token.format, 'jwt');
    assert.equal(i.valid, true, i.explanation ?? '');
    assert.equal(i.found, true);
    assert.equal(i.issuer, server.url);
    assert.equal(i.handledBy, 'this instance');
    assert.equal(i.application?.clientId, jwtApp.clientId);
    assert.equal(i.user?.name, 'bob');
    assert.equal(verdict(i, 'GET', '/api/acme/orders').accepted, true);
    const desk = verdict(i, 'GET', '/api/acme/desk/tickets');
    assert.equal(desk.accepted, false);
    assert.equal(desk.reason, 'api.role_missing');
    assert.equal((await apiCall(server.url, { path: '/api/acme/desk/tickets', bearer: token })).status, 403);
    const viaCli = await assertNeverPrinted(token);
    assert.equal(viaCli.valid, true);
    assert.equal(viaCli.issuer, server.url);
    assert.deepEqual(viaCli.apis, i.apis);
  });

  it('an expired token: not valid, token.expired, refused everywhere but the open routes', async () => {
    const now = Date.now();
    const app = await server.latchkey.storage.applications.byClientId(opaqueApp.clientId);
    assert.ok(app !== undefined);
    const minted = mintOpaque(TOKEN_PREFIX.access, now - 3_600_000);
    await server.latchkey.storage.tokens.insert([{ hash: minted.key, kind: 'access', applicationId: app.id, userId: null, scopes: ['orders.read'], grantType: 'client_credentials', issuedAt: now - 3_600_000, expiresAt: now - 1_800_000, familyId: minted.key }]);
    const i = await inspectToken(server.latchkey, minted.token);
    assert.equal(i.found, true);
    assert.equal(i.valid, false);
    assert.equal(i.reason, 'token.expired');
    assert.match(i.explanation ?? '', /expired/);
    for (const a of i.apis) assert.equal(a.accepted, a.why.startsWith('open'), `${a.method} ${a.path}: ${a.why}`);
    assert.equal(verdict(i, 'GET', '/api/acme/orders').reason, 'token.expired');
    await assertNeverPrinted(minted.token);
  });

  it('a revoked token (revoked with `latchkey tokens revoke`): token.revoked', async () => {
    const token = (await passwordToken(opaqueApp)).access_token as string;
    const r = await cli(['tokens', 'revoke', '-'], token);
    assert.equal(r.code, 0, r.err);
    await refreshCache(server);
    const i = await inspectToken(server.latchkey, token);
    assert.equal(i.valid, false);
    assert.equal(i.reason, 'token.revoked');
    assert.equal(verdict(i, 'GET', '/api/acme/orders').reason, 'token.revoked');
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: token })).status, 401);
    const viaCli = await assertNeverPrinted(token);
    assert.equal(viaCli.reason, 'token.revoked');
  });

  it("another instance's tokens: an unknown opaque token, a JWT of another issuer, a JWT with our issuer and a key we do not publish", async () => {
    const opaque = mintOpaque(TOKEN_PREFIX.access, Date.now()).token;
    const i = await inspectToken(server.latchkey, opaque);
    assert.equal(i.found, false);
    assert.equal(i.reason, 'token.unknown');
    assert.equal(verdict(i, 'GET', '/api/acme/orders').reason, 'token.unknown');

    const { privateKey } = await jose.generateKeyPair('ES256');
    const sign = (iss: string) =>
      new jose.SignJWT({ client_id: 'x', scope: 'orders.read', jti: '0123456789abABCDEFGHIJKLMNOPQRSTUV' })
        .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt', kid: 'someone-elses-key' })
        .setIssuer(iss)
        .setSubject('alice')
        .setAudience(iss)
        .setIssuedAt()
        .setExpirationTime('10m')
        .sign(privateKey);
    const foreign = await sign('https://other.example.com');
    const f = await inspectToken(server.latchkey, foreign);
    assert.equal(f.token.format, 'jwt');
    assert.equal(f.reason, 'token.unknown_issuer');
    assert.equal(f.issuer, 'https://other.example.com');
    assert.match(f.handledBy, /no identity provider/);
    assert.equal(verdict(f, 'GET', '/api/acme/orders').reason, 'token.unknown_issuer');
    const viaCli = await assertNeverPrinted(foreign);
    assert.equal(viaCli.reason, 'token.unknown_issuer');

    const sameIssuer = await sign(server.url);
    const s = await inspectToken(server.latchkey, sameIssuer);
    assert.equal(s.reason, 'token.unknown_key');
    assert.equal(verdict(s, 'GET', '/api/acme/orders').reason, 'token.unknown_key');
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: sameIssuer })).status, 401);
  });

  it('a JWT of an identity provider: names the provider; validated as the APIs do (user, scopes, roles)', async () => {
    const corp = await startIdpServer({ issuerPath: '/realms/corp' });
    try {
      await createIdentityProvider(registryDeps(server), { name: 'corp', issuer: corp.issuer, jwksUri: corp.jwksUri, audience: 'api://latchkey', userClaim: 'preferred_username' });
      await refreshCache(server);
      const token = await corp.mint({ aud: 'api://latchkey', preferred_username: 'alice', scope: 'orders.read' });
      const i = await inspectToken(server.latchkey, token);
      assert.equal(i.token.format, 'jwt');
      assert.equal(i.issuer, corp.issuer);
      assert.equal(i.handledBy, 'identity provider "corp"');
      assert.equal(i.found, false);
      assert.equal(i.valid, true, i.explanation ?? '');
      assert.equal(i.user?.name, 'alice');
      assert.deepEqual(i.scopes, ['orders.read']);
      assert.equal(verdict(i, 'GET', '/api/acme/orders').accepted, true);
      assert.equal(verdict(i, 'PUT', '/api/acme/orders/{id}').reason, 'api.scope_missing');
      assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: token })).status, 200);
      const wrongAudience = await corp.mint({ aud: 'api://someone-else', preferred_username: 'alice' });
      const w = await inspectToken(server.latchkey, wrongAudience);
      assert.equal(w.valid, false);
      assert.equal(w.reason, 'idp.wrong_audience');
      assert.equal(verdict(w, 'GET', '/api/acme/orders').reason, 'idp.wrong_audience');
    } finally {
      await corp.close();
    }
  });

  it('a refresh token: valid as a refresh token, refused by every API as not an access token', async () => {
    const refresh = (await passwordToken(opaqueApp)).refresh_token as string;
    assert.ok(refresh.startsWith(TOKEN_PREFIX.refresh));
    const i = await inspectToken(server.latchkey, refresh);
    assert.deepEqual(i.token, { format: 'opaque', kind: 'refresh', preview: `${refresh.slice(0, 10)}…`, handle: tokenHandle(tokenKey(refresh)) });
    assert.equal(i.valid, true);
    assert.equal(i.user?.name, 'alice');
    const orders = verdict(i, 'GET', '/api/acme/orders');
    assert.equal(orders.accepted, false);
    assert.equal(orders.reason, 'token.not_access_token');
    await assertNeverPrinted(refresh);
  });

  it('a deactivated user: its token was revoked with the deactivation, the user shown inactive; a pasted "Bearer …" header value works too', async () => {
    const token = (await passwordToken(opaqueApp, 'bob', 'bob-password-12')).access_token as string;
    await updateUser(registryDeps(server), 'bob', { active: false });
    await refreshCache(server);
    try {
      const i = await inspectToken(server.latchkey, `Bearer ${token}`);
      assert.equal(i.found, true);
      assert.equal(i.reason, 'token.revoked');
      assert.equal(i.user?.active, false);
    } finally {
      await updateUser(registryDeps(server), 'bob', { active: true });
      await refreshCache(server);
    }
  });

  it('the CLI refuses an empty token (usage error)', async () => {
    const r = await cli(['inspect', '-'], '');
    assert.equal(r.code, 2);
    assert.match(r.err, /No token given/);
  });
});
