import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import express from 'express';
import { decodeJwt } from 'jose';
import * as oauth from 'oauth4webapi';
import { latchkeyExpress } from '../src/middleware/express.js';
import { TOKEN_EXCHANGE_GRANT } from '../src/grants/grant-type.js';
import { createIdentityProvider } from '../src/idp/registry.js';
import { setExchangePolicy } from '../src/registry/exchange-policies.js';
import { addResource } from '../src/registry/resources.js';
import { createIdTokenMinter } from '../src/tokens/id-token.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { buildFixture, CC_PROPERTY, type FixtureApp } from './helpers/fixture.js';
import { startIdpServer, type IdpServer } from './helpers/idp-server.js';
import { assertOAuthError, assertRefusal, refreshCache, registryDeps, tokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminFetch, adminToken } from './helpers/admin.js';

const AT = 'urn:ietf:params:oauth:token-type:access_token';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const ID = 'urn:ietf:params:oauth:token-type:id_token';
const RT = 'urn:ietf:params:oauth:token-type:refresh_token';
const ORDERS = 'https://orders.exchange.test';
const OTHER = 'https://other.exchange.test';
const AUD = 'https://latchkey.exchange.test/api';
const PW = 'a-good-password-1';

type Key = 'web' | 'webJwt' | 'webShort' | 'agent' | 'opaqueAgent' | 'narrow' | 'nopolicy' | 'rs';

let server: TestServer;
let corp: IdpServer;
let apps: Record<Key, FixtureApp>;
let as: oauth.AuthorizationServer;
const insecure = { [oauth.allowInsecureRequests]: true } as const;
let middleware: { url: string; close(): Promise<void> };

const basic = (k: Key) => [apps[k].clientId, apps[k].secret] as const;
const exchange = (k: Key, form: Record<string, string>) => tokenRequest(server.url, { form: { grant_type: TOKEN_EXCHANGE_GRANT, ...form }, basic: basic(k) });

async function ok(res: TokenResponse): Promise<Record<string, unknown>> {
  assert.equal(res.status, 200, res.text);
  return res.json as Record<string, unknown>;
}
/** A user's access token from the password grant of `k` (with its refresh token). */
async function userTokens(k: Key, scope = 'orders.read orders.write'): Promise<{ access: string; refresh: string }> {
  const body = await ok(await tokenRequest(server.url, { form: { grant_type: 'password', username: 'alice', password: PW, scope }, basic: basic(k) }));
  return { access: String(body.access_token), refresh: String(body.refresh_token) };
}
/** The application's own client-credentials token (the actor). */
async function ccToken(k: Key): Promise<string> {
  return String((await ok(await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: basic(k) }))).access_token);
}
async function introspect(token: string): Promise<Record<string, unknown>> {
  return (await ok(await tokenRequest(server.url, { path: '/oauth/introspect', form: { token }, basic: basic('rs') }))) as Record<string, unknown>;
}
async function refused(res: TokenResponse, status: number, error: string, reason: string): Promise<void> {
  assertOAuthError(res, status, error);
  await assertRefusal(server.latchkey.storage, res, reason);
}

before(async () => {
  server = await startTestServer({ apisDir: FIXTURE_APIS, allowPrivateNetworks: true });
  corp = await startIdpServer({ alg: 'ES256', issuerPath: '/realms/corp' });
  const user = (name: string) => ({ userName: name });
  const both = { scopes: ['orders.read', 'orders.write'] };
  const fx = await buildFixture(server, {
    scopes: ['orders.read', 'orders.write'],
    users: [{ userName: 'alice', password: PW }, user('svc-agent'), user('svc-agent2'), user('svc-narrow')],
    properties: { [CC_PROPERTY]: 'true' },
    apps: {
      web: { name: 'Web app', grantTypes: ['password', 'refresh_token'], ...both },
      webJwt: { name: 'Web app (JWT)', grantTypes: ['password', 'refresh_token'], tokenFormat: 'jwt', ...both },
      webShort: { name: 'Web app (short tokens)', grantTypes: ['password', 'refresh_token'], accessTokenLifespan: 60, ...both },
      agent: { name: 'Agent', grantTypes: ['client_credentials', 'token_exchange'], appUser: 'svc-agent', tokenFormat: 'jwt', ...both },
      opaqueAgent: { name: 'Opaque agent', grantTypes: ['client_credentials', 'token_exchange'], appUser: 'svc-agent2', ...both },
      narrow: { name: 'Narrow', grantTypes: ['client_credentials', 'token_exchange'], appUser: 'svc-narrow', ...both },
      nopolicy: { name: 'No policy', grantTypes: ['token_exchange'], ...both },
      rs: { name: 'Orders service', grantTypes: [], canIntrospect: true },
    },
  });
  apps = fx.apps;
  const deps = registryDeps(server);
  await addResource(deps, { uri: ORDERS, name: 'orders', scopes: ['orders.read', 'orders.write'] });
  await addResource(deps, { uri: OTHER, name: 'other' });
  await createIdentityProvider(deps, { name: 'corp', issuer: corp.issuer, metadataUrl: corp.oidcMetadataUrl, audience: AUD, userClaim: 'preferred_username' });
  await setExchangePolicy(deps, apps.agent.clientId, { subjectApplications: [apps.web.clientId, apps.webJwt.clientId], identityProviders: ['corp'], idTokens: true, resources: ['*'], scopes: ['*'], impersonation: false });
  await setExchangePolicy(deps, apps.opaqueAgent.clientId, { subjectApplications: ['*'], resources: ['*'], scopes: ['orders.read'], impersonation: true });
  await setExchangePolicy(deps, apps.narrow.clientId, { subjectApplications: [apps.web.clientId], resources: [ORDERS], scopes: ['*'], impersonation: true });
  await refreshCache(server);
  as = { issuer: server.url, token_endpoint: `${server.url}/oauth/token` };

  const auth = latchkeyExpress({ issuer: server.url, introspection: { clientId: apps.rs.clientId, clientSecret: apps.rs.secret }, cacheTtlMs: 0, clockToleranceSec: 0 });
  const app = express();
  app.get('/me', auth.require(), (req, res) => res.json({ subject: req.latchkey?.subject, act: req.latchkey?.act ?? null, format: req.latchkey?.format }));
  const listening = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => listening.once('listening', () => resolve()));
  middleware = { url: `http://127.0.0.1:${(listening.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => listening.close(() => r())) };
});

after(async () => {
  await middleware?.close();
  await server?.close();
  await corp?.close();
});

async function throughMiddleware(token: string): Promise<Record<string, unknown>> {
  const res = await fetch(`${middleware.url}/me`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  assert.equal(res.status, 200, text);
  return JSON.parse(text) as Record<string, unknown>;
}

describe('token exchange (RFC 8693)', () => {
  it('is advertised in grant_types_supported', async () => {
    const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as { grant_types_supported: string[] };
    assert.ok(meta.grant_types_supported.includes(TOKEN_EXCHANGE_GRANT), meta.grant_types_supported.join(' '));
  });

  it('delegation with oauth4webapi: the act claim is read by a hosted API and the Express middleware (JWT)', async () => {
    const subject = await userTokens('web');
    const actor = await ccToken('agent');
    const client: oauth.Client = { client_id: apps.agent.clientId };
    const response = await oauth.genericTokenEndpointRequest(as, client, oauth.ClientSecretBasic(apps.agent.secret), TOKEN_EXCHANGE_GRANT, { subject_token: subject.access, subject_token_type: AT, actor_token: actor, actor_token_type: AT, scope: 'orders.read' }, insecure);
    const result = await oauth.processGenericTokenEndpointResponse(as, client, response);
    assert.equal(result.issued_token_type, AT);
    assert.equal(result.scope, 'orders.read');
    assert.equal(result.refresh_token, undefined, 'no refresh token');
    const claims = decodeJwt(result.access_token);
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.client_id, apps.agent.clientId);
    assert.deepEqual(claims.act, { sub: 'svc-agent', client_id: apps.agent.clientId });
    // A hosted API's handler sees the caller's act.
    const api = await apiCall(server.url, { path: '/api/test/echo', bearer: result.access_token });
    assert.equal(api.status, 200, api.text);
    assert.equal(api.json.result.caller.user.name, 'alice');
    assert.deepEqual(api.json.result.caller.act, { sub: 'svc-agent', client_id: apps.agent.clientId });
    // The Express middleware (JWT verified locally).
    const seen = await throughMiddleware(result.access_token);
    assert.deepEqual([seen.subject, seen.format, seen.act], ['alice', 'jwt', { sub: 'svc-agent', client_id: apps.agent.clientId }]);
    // Introspection says it too.
    assert.deepEqual((await introspect(result.access_token)).act, { sub: 'svc-agent', client_id: apps.agent.clientId });
  });

  it('delegation to an opaque token: act from its record, at introspection, the hosted API and the middleware', async () => {
    const subject = await userTokens('web', 'orders.read');
    const actor = await ccToken('opaqueAgent');
    const body = await ok(await exchange('opaqueAgent', { subject_token: subject.access, subject_token_type: AT, actor_token: actor, actor_token_type: AT }));
    const token = String(body.access_token);
    assert.match(token, /^lk_at_/);
    const act = { sub: 'svc-agent2', client_id: apps.opaqueAgent.clientId };
    assert.deepEqual((await introspect(token)).act, act);
    const api = await apiCall(server.url, { path: '/api/test/echo', bearer: token });
    assert.equal(api.status, 200, api.text);
    assert.deepEqual(api.json.result.caller.act, act);
    const seen = await throughMiddleware(token);
    assert.deepEqual([seen.subject, seen.format, seen.act], ['alice', 'opaque', act]);
  });

  it('nests act for a chain of delegations (§4.1)', async () => {
    const subject = await userTokens('web', 'orders.read');
    const first = await ok(await exchange('agent', { subject_token: subject.access, subject_token_type: AT, actor_token: await ccToken('agent'), actor_token_type: AT }));
    const second = await ok(await exchange('opaqueAgent', { subject_token: String(first.access_token), subject_token_type: AT, actor_token: await ccToken('opaqueAgent'), actor_token_type: AT }));
    assert.deepEqual((await introspect(String(second.access_token))).act, { sub: 'svc-agent2', client_id: apps.opaqueAgent.clientId, act: { sub: 'svc-agent', client_id: apps.agent.clientId } });
    // Impersonation of a delegated token keeps its chain.
    const third = await ok(await exchange('opaqueAgent', { subject_token: String(first.access_token), subject_token_type: AT }));
    assert.deepEqual((await introspect(String(third.access_token))).act, { sub: 'svc-agent', client_id: apps.agent.clientId });
  });

  it('impersonation: allowed by one policy (no act), refused by a delegation-only one', async () => {
    const subject = await userTokens('web', 'orders.read');
    const body = await ok(await exchange('opaqueAgent', { subject_token: subject.access, subject_token_type: AT }));
    const info = await introspect(String(body.access_token));
    assert.equal(info.username, 'alice');
    assert.equal(info.act, undefined);
    const res = await exchange('agent', { subject_token: subject.access, subject_token_type: AT });
    await refused(res, 400, 'unauthorized_client', 'exchange.impersonation_not_allowed');
    assert.match(String(res.json?.error_description), /latchkey exchange policies set .* --impersonation true/);
  });

  it('IdP JWT subject: validated and mapped to the user; may_act allows or refuses the actor (§4.4)', async () => {
    const actor = await ccToken('agent');
    const allowed = await corp.mint({ preferred_username: 'alice', sub: 'corp-alice', aud: AUD, scope: 'orders.read', may_act: { sub: 'svc-agent' } });
    const body = await ok(await exchange('agent', { subject_token: allowed, subject_token_type: JWT, actor_token: actor, actor_token_type: AT }));
    const claims = decodeJwt(String(body.access_token));
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.scope, 'orders.read', 'within the IdP token scopes');
    assert.deepEqual(claims.act, { sub: 'svc-agent', client_id: apps.agent.clientId });
    const other = await corp.mint({ preferred_username: 'alice', aud: AUD, may_act: { sub: 'someone-else' } });
    await refused(await exchange('agent', { subject_token: other, subject_token_type: JWT, actor_token: actor, actor_token_type: AT }), 400, 'invalid_grant', 'exchange.may_act_refused');
    // Without an actor the requesting client takes the subject's place: may_act must name it.
    await setExchangePolicy(registryDeps(server), apps.opaqueAgent.clientId, { identityProviders: ['corp'] });
    await refreshCache(server);
    await refused(await exchange('opaqueAgent', { subject_token: allowed, subject_token_type: JWT }), 400, 'invalid_grant', 'exchange.may_act_refused');
    const forClient = await corp.mint({ preferred_username: 'alice', aud: AUD, scope: 'orders.read', may_act: { client_id: apps.opaqueAgent.clientId } });
    assert.equal((await exchange('opaqueAgent', { subject_token: forClient, subject_token_type: JWT })).status, 200);
    await setExchangePolicy(registryDeps(server), apps.opaqueAgent.clientId, { identityProviders: [] });
    await refreshCache(server);
    // A provider this application's policy does not name (the opaque agent: applications only).
    await refused(await exchange('narrow', { subject_token: allowed, subject_token_type: JWT, resource: ORDERS }), 400, 'unauthorized_client', 'exchange.subject_not_allowed');
  });

  it('ID token subject: one of ours (for an allowed application)', async () => {
    const alice = await server.latchkey.storage.users.byName('alice');
    assert.ok(alice !== undefined);
    const idToken = await createIdTokenMinter({ keyring: server.latchkey.keyring, issuer: () => server.url })({ application: apps.web.application, userId: alice.id, accessToken: 'x', now: Date.now() });
    const body = await ok(await exchange('agent', { subject_token: idToken, subject_token_type: ID, actor_token: await ccToken('agent'), actor_token_type: AT, scope: 'orders.read' }));
    assert.equal(decodeJwt(String(body.access_token)).sub, 'alice');
    // An access token sent as an ID token is refused.
    const subject = await userTokens('webJwt', 'orders.read');
    await refused(await exchange('agent', { subject_token: subject.access, subject_token_type: ID, actor_token: await ccToken('agent'), actor_token_type: AT }), 400, 'invalid_grant', 'exchange.subject_invalid');
  });

  it('scope: narrowing is fine, widening is refused; the policy bounds it', async () => {
    const subject = await userTokens('web', 'orders.read');
    const actor = await ccToken('agent');
    const narrow = await ok(await exchange('agent', { subject_token: subject.access, subject_token_type: AT, actor_token: actor, actor_token_type: AT, scope: 'orders.read' }));
    assert.equal(narrow.scope, 'orders.read');
    const kept = await ok(await exchange('agent', { subject_token: subject.access, subject_token_type: AT, actor_token: actor, actor_token_type: AT }));
    assert.equal(kept.scope, 'orders.read', 'no scope: the subject token\'s');
    await refused(await exchange('agent', { subject_token: subject.access, subject_token_type: AT, actor_token: actor, actor_token_type: AT, scope: 'orders.read orders.write' }), 400, 'invalid_scope', 'exchange.scope_broader');
    const wide = await userTokens('web');
    await refused(await exchange('opaqueAgent', { subject_token: wide.access, subject_token_type: AT, scope: 'orders.write' }), 400, 'invalid_scope', 'exchange.scope_not_allowed');
    const fitted = await ok(await exchange('opaqueAgent', { subject_token: wide.access, subject_token_type: AT }));
    assert.equal(fitted.scope, 'orders.read', 'the subject\'s scopes the policy allows');
  });

  it('audience and resource: allowed ones become the audience, others are refused (invalid_target)', async () => {
    const subject = await userTokens('web', 'orders.read');
    const byResource = await ok(await exchange('narrow', { subject_token: subject.access, subject_token_type: AT, resource: ORDERS }));
    assert.equal((await introspect(String(byResource.access_token))).aud, ORDERS);
    const byName = await ok(await exchange('narrow', { subject_token: subject.access, subject_token_type: AT, audience: 'orders' }));
    assert.equal((await introspect(String(byName.access_token))).aud, ORDERS);
    await refused(await exchange('narrow', { subject_token: subject.access, subject_token_type: AT, audience: 'ordres' }), 400, 'invalid_target', 'exchange.audience_unknown');
    await refused(await exchange('narrow', { subject_token: subject.access, subject_token_type: AT, resource: OTHER }), 400, 'invalid_target', 'exchange.target_not_allowed');
    await refused(await exchange('narrow', { subject_token: subject.access, subject_token_type: AT }), 400, 'invalid_target', 'exchange.target_not_allowed');
    // The JWT of an exchange for a resource names it as aud.
    const jwt = await ok(await exchange('agent', { subject_token: subject.access, subject_token_type: AT, actor_token: await ccToken('agent'), actor_token_type: AT, resource: ORDERS }));
    assert.equal(decodeJwt(String(jwt.access_token)).aud, ORDERS);
  });

  it('lifetime: never longer than the subject token', async () => {
    const subject = await userTokens('webShort', 'orders.read');
    const body = await ok(await exchange('opaqueAgent', { subject_token: subject.access, subject_token_type: AT }));
    assert.ok(Number(body.expires_in) <= 60 && Number(body.expires_in) >= 55, String(body.expires_in));
    const info = await introspect(String(body.access_token));
    const subjectInfo = await introspect(subject.access);
    assert.ok(Number(info.exp) <= Number(subjectInfo.exp), `${String(info.exp)} <= ${String(subjectInfo.exp)}`);
  });

  it('requested_token_type jwt issues a JWT even for an opaque application', async () => {
    const subject = await userTokens('web', 'orders.read');
    const body = await ok(await exchange('opaqueAgent', { subject_token: subject.access, subject_token_type: AT, requested_token_type: JWT }));
    assert.equal(body.issued_token_type, JWT);
    assert.equal(decodeJwt(String(body.access_token)).sub, 'alice');
  });

  it('revoking the subject\'s family revokes the exchanged token', async () => {
    const subject = await userTokens('web', 'orders.read');
    const body = await ok(await exchange('opaqueAgent', { subject_token: subject.access, subject_token_type: AT, actor_token: await ccToken('opaqueAgent'), actor_token_type: AT }));
    const exchanged = String(body.access_token);
    assert.equal((await introspect(exchanged)).active, true);
    // RFC 7009 by the web app: its refresh token takes the family with it.
    const revoked = await tokenRequest(server.url, { path: '/oauth/revoke', form: { token: subject.refresh, token_type_hint: 'refresh_token' }, basic: basic('web') });
    assert.equal(revoked.status, 200, revoked.text);
    await refreshCache(server);
    assert.equal((await introspect(exchanged)).active, false);
    const api = await apiCall(server.url, { path: '/api/test/echo', bearer: exchanged });
    assert.equal(api.status, 401);
    // And an exchanged token's own refresh-reuse cascade: a subject of a revoked family is refused.
    await refused(await exchange('opaqueAgent', { subject_token: subject.access, subject_token_type: AT }), 400, 'invalid_grant', 'exchange.subject_invalid');
  });

  describe('RFC 8693 §2.2.2 errors', () => {
    it('unauthorized_client: an application without a policy', async () => {
      const subject = await userTokens('web', 'orders.read');
      const res = await exchange('nopolicy', { subject_token: subject.access, subject_token_type: AT });
      await refused(res, 400, 'unauthorized_client', 'exchange.no_policy');
      assert.match(String(res.json?.error_description), /latchkey exchange policies set/);
    });

    it('unauthorized_client: a subject token from a source the policy does not allow', async () => {
      const subject = await userTokens('webJwt', 'orders.read');
      await refused(await exchange('narrow', { subject_token: subject.access, subject_token_type: AT, resource: ORDERS }), 400, 'unauthorized_client', 'exchange.subject_not_allowed');
    });

    it('invalid_request: missing subject_token, unsupported types, actor_token without its type', async () => {
      const subject = await userTokens('web', 'orders.read');
      await refused(await exchange('opaqueAgent', { subject_token_type: AT }), 400, 'invalid_request', 'request.missing_parameter');
      await refused(await exchange('opaqueAgent', { subject_token: subject.access }), 400, 'invalid_request', 'request.missing_parameter');
      await refused(await exchange('opaqueAgent', { subject_token: subject.access, subject_token_type: 'urn:example:weird' }), 400, 'invalid_request', 'exchange.token_type_unsupported');
      const rt = await exchange('opaqueAgent', { subject_token: subject.refresh, subject_token_type: RT });
      await refused(rt, 400, 'invalid_request', 'exchange.token_type_unsupported');
      assert.match(String(rt.json?.error_description), /Refresh tokens are not exchanged/);
      await refused(await exchange('opaqueAgent', { subject_token: subject.access, subject_token_type: AT, requested_token_type: RT }), 400, 'invalid_request', 'exchange.token_type_unsupported');
      await refused(await exchange('opaqueAgent', { subject_token: subject.access, subject_token_type: AT, actor_token: subject.access }), 400, 'invalid_request', 'exchange.actor_type_missing');
      await refused(await exchange('opaqueAgent', { subject_token: subject.access, subject_token_type: AT, actor_token_type: AT }), 400, 'invalid_request', 'exchange.actor_type_missing');
    });

    it('invalid_grant: a bad subject or actor token (unknown, a refresh token, wrong issuer)', async () => {
      const subject = await userTokens('web', 'orders.read');
      await refused(await exchange('opaqueAgent', { subject_token: 'lk_at_not-a-real-token', subject_token_type: AT }), 400, 'invalid_grant', 'exchange.subject_invalid');
      await refused(await exchange('opaqueAgent', { subject_token: subject.refresh, subject_token_type: AT }), 400, 'invalid_grant', 'exchange.subject_invalid');
      const foreign = await corp.mint({ preferred_username: 'alice', aud: AUD });
      await refused(await exchange('opaqueAgent', { subject_token: foreign, subject_token_type: AT }), 400, 'invalid_grant', 'exchange.subject_invalid');
      await refused(await exchange('opaqueAgent', { subject_token: subject.access, subject_token_type: AT, actor_token: 'garbage', actor_token_type: AT }), 400, 'invalid_grant', 'exchange.actor_invalid');
      const forged = await corp.mint({ preferred_username: 'alice', aud: AUD }, { key: await corp.newKey() });
      await refused(await exchange('agent', { subject_token: forged, subject_token_type: JWT, actor_token: await ccToken('agent'), actor_token_type: AT }), 400, 'invalid_grant', 'exchange.subject_invalid');
    });

    it('invalid_target and invalid_scope (covered above), and no 5xx on odd input', async () => {
      const subject = await userTokens('web', 'orders.read');
      const odd = ['', 'a.b.c', 'eyJ.eyJ.x', 'x'.repeat(20_000), '\u0000\u00ff', 'lk_rt_' + 'a'.repeat(49)];
      for (const value of odd) {
        for (const type of [AT, JWT, ID]) {
          const res = await exchange('agent', { subject_token: value, subject_token_type: type, actor_token: subject.access, actor_token_type: type });
          assert.ok(res.status >= 400 && res.status < 500, `${type} ${value.slice(0, 20)}: ${res.status} ${res.text}`);
        }
      }
    });
  });
});

/** A latchkey command on the test server's database, in process. */
async function cli(words: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
  const code = await main(['node', 'latchkey', ...words, '--db', server.db], io);
  return { code, out, err };
}

describe('exchange policies on every surface', () => {
  it('CLI: set, list, show (with a next-step curl), remove; unknown sources refused', async () => {
    const set = await cli(['exchange', 'policies', 'set', apps.nopolicy.clientId, '--subject-apps', apps.web.clientId, '--resources', ORDERS, '--scopes', 'orders.read']);
    assert.equal(set.code, 0, set.err);
    assert.match(set.out, /Token exchange policy of No policy/);
    assert.match(set.out, /curl .*grant_type=urn:ietf:params:oauth:grant-type:token-exchange/);
    assert.match(set.out, /actor_token=/, 'delegation only: the curl sends an actor token');
    const list = await cli(['exchange', 'policies', 'list']);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /APPLICATION +SUBJECT APPS/);
    assert.ok(list.out.includes(apps.nopolicy.clientId));
    const shown = JSON.parse((await cli(['exchange', 'policies', 'show', apps.nopolicy.clientId, '--json'])).out) as { spec: { scopes: string[]; impersonation: boolean } };
    assert.deepEqual([shown.spec.scopes, shown.spec.impersonation], [['orders.read'], false]);
    const bad = await cli(['exchange', 'policies', 'set', apps.nopolicy.clientId, '--idps', 'no-such-idp']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /no identity provider is named "no-such-idp"/);
    const help = await cli(['exchange', 'policies', 'set', '--help']);
    assert.match(help.out, /--impersonation <bool>/);
    const removed = await cli(['exchange', 'policies', 'remove', apps.nopolicy.clientId, '--yes']);
    assert.equal(removed.code, 0, removed.err);
    assert.notEqual((await cli(['exchange', 'policies', 'show', apps.nopolicy.clientId])).code, 0);
  });

  it('admin API: PUT, GET and DELETE a policy', async () => {
    const headers = { authorization: `Bearer ${await adminToken(server)}` };
    const put = await adminFetch(server, 'PUT', `/exchange/policies/${apps.nopolicy.clientId}`, { headers, body: { subjectApplications: ['*'], resources: ['*'], scopes: ['orders.read'], impersonation: true } });
    assert.equal(put.status, 200, put.text);
    assert.equal(put.json.spec.impersonation, true);
    const got = await adminFetch(server, 'GET', '/exchange/policies', { headers });
    assert.ok((got.json as { clientId: string }[]).some((p) => p.clientId === apps.nopolicy.clientId));
    const gone = await adminFetch(server, 'DELETE', `/exchange/policies/${apps.nopolicy.clientId}`, { headers });
    assert.equal(gone.status, 200, gone.text);
    assert.equal((await adminFetch(server, 'GET', `/exchange/policies/${apps.nopolicy.clientId}`, { headers })).status, 404);
  });

  it('inspect shows the actor and the family; doctor reports a policy of a deleted application', async () => {
    const subject = await userTokens('web', 'orders.read');
    const body = await ok(await exchange('opaqueAgent', { subject_token: subject.access, subject_token_type: AT, actor_token: await ccToken('opaqueAgent'), actor_token_type: AT }));
    const inspected = await cli(['inspect', String(body.access_token), '--issuer', server.url]);
    assert.equal(inspected.code, 0, inspected.err);
    assert.match(inspected.out, new RegExp(`Acting for the user \\(act\\) +svc-agent2 \\(client ${apps.opaqueAgent.clientId}\\)`));
    assert.match(inspected.out, /Family\s+tk_\S+ \(the subject token's:\s+revoked with it\)/);
    const json = JSON.parse((await cli(['inspect', String(body.access_token), '--issuer', server.url, '--json'])).out) as { act: unknown; family: string };
    assert.deepEqual(json.act, { sub: 'svc-agent2', client_id: apps.opaqueAgent.clientId });
    await server.latchkey.storage.exchangePolicies.put({ clientId: 'deleted-app', spec: { subjectApplications: ['gone-app'], identityProviders: [], idTokens: false, resources: [], scopes: [], impersonation: false }, createdAt: 1, updatedAt: 1 });
    const doctor = JSON.parse((await cli(['doctor', '--json'])).out) as { findings?: { id: string; target?: string }[] } | { id: string; target?: string }[];
    const findings = Array.isArray(doctor) ? doctor : (doctor.findings ?? []);
    const orphan = findings.find((f) => f.id === 'exchange_policy_orphaned');
    assert.equal(orphan?.target, 'deleted-app', JSON.stringify(findings.map((f) => f.id)));
    // The application allowed the grant without a policy (its policy was removed above).
    assert.ok(findings.some((f) => f.id === 'exchange_policy_missing' && f.target === apps.nopolicy.clientId), JSON.stringify(findings.map((f) => `${f.id} ${f.target ?? ''}`)));
    await server.latchkey.storage.exchangePolicies.delete('deleted-app');
  });

  it('export carries the policies; apply changes one (and --prune removes one the file lacks)', async () => {
    const exported = JSON.parse((await cli(['export', '--format', 'json'])).out) as { exchangePolicies: { clientId: string; scopes: string[]; impersonation: boolean }[] };
    const mine = exported.exchangePolicies.find((p) => p.clientId === apps.opaqueAgent.clientId);
    assert.deepEqual([mine?.scopes, mine?.impersonation], [['orders.read'], true]);
    // Change the narrow policy's scopes through a document, then apply it back as it was.
    const doc = { ...exported, exchangePolicies: exported.exchangePolicies.map((p) => (p.clientId === apps.narrow.clientId ? { ...p, scopes: ['orders.read'] } : p)) };
    const file = join(server.dir, 'registry.json');
    writeFileSync(file, JSON.stringify(doc));
    const applied = await cli(['apply', '-f', file]);
    assert.equal(applied.code, 0, applied.err + applied.out);
    assert.match(applied.out, /exchange policy/);
    assert.deepEqual((await server.latchkey.storage.exchangePolicies.byClientId(apps.narrow.clientId))?.spec.scopes, ['orders.read']);
    writeFileSync(file, JSON.stringify(exported));
    assert.equal((await cli(['apply', '-f', file])).code, 0);
    assert.deepEqual((await server.latchkey.storage.exchangePolicies.byClientId(apps.narrow.clientId))?.spec.scopes, ['*']);
  });
});
