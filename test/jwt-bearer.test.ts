import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CLIENT_ASSERTION_TYPE } from '../src/assertions/assertion.js';
import { createApplication, type ApplicationInput } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { createUser } from '../src/registry/users.js';
import { JWT_BEARER_GRANT } from '../src/grants/grant-type.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { generateTestKey, jwksOf, signAssertion, startIdpServer, type IdpKey, type IdpServer } from './helpers/idp-server.js';
import { assertOAuthError, assertRefusal, refreshCache, registryDeps, tokenRequest, type TokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * The JWT bearer grant (RFC 7523 §2.1, §3): an application exchanges a JWT signed with its own
 * registered key, naming a user in `sub`, for an access token that acts as that user.
 */
describe('JWT bearer grant (urn:ietf:params:oauth:grant-type:jwt-bearer)', () => {
  let server: TestServer;
  let keyHost: IdpServer;
  let es: IdpKey;
  const apps: Record<string, { clientId: string; secret: string }> = {};

  async function make(key: string, input: ApplicationInput): Promise<void> {
    const created = await createApplication(registryDeps(server), { grantTypes: [JWT_BEARER_GRANT], scopes: ['export.read', 'export.write'], ...input });
    apps[key] = { clientId: created.application.clientId, secret: created.clientSecret ?? '' };
  }

  const tokenUrl = () => `${server.url}/oauth/token`;

  /** A grant assertion by `app` for user `sub`. */
  function assertion(app: string, key: IdpKey, claims: Record<string, unknown> = {}, options: Parameters<typeof signAssertion>[2] = {}): Promise<string> {
    return signAssertion(key, { iss: apps[app]!.clientId, sub: 'alice', aud: tokenUrl(), ...claims }, options);
  }

  function grant(jwt: string | undefined, extra: Record<string, string> = {}, request: Partial<TokenRequest> = {}): Promise<TokenResponse> {
    const form: Record<string, string> = { grant_type: JWT_BEARER_GRANT, ...extra };
    if (jwt !== undefined) form.assertion = jwt;
    return tokenRequest(server.url, { path: '/oauth/token', form, ...request });
  }

  async function refused(res: TokenResponse, reason: string, status = 400, error = 'invalid_grant'): Promise<void> {
    assertOAuthError(res, status, error);
    await assertRefusal(server.latchkey.storage, res, reason);
  }

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS, allowPrivateNetworks: true });
    keyHost = await startIdpServer({ alg: 'RS256' });
    es = await generateTestKey('ES256');
    const deps = registryDeps(server);
    await createScope(deps, 'export.read');
    await createScope(deps, 'export.write');
    await createScope(deps, 'admin.all'); // exists, but no application here is allowed it
    await createUser(deps, { userName: 'alice', roles: ['itil'] });
    await createUser(deps, { userName: 'bob', active: false });
    await make('es', { name: 'Signs with ES256', jwks: jwksOf(es) });
    await make('rs', { name: 'Signs with RS256 (JWKS URI)', jwksUri: keyHost.jwksUri });
    await make('nokeys', { name: 'No keys' });
    await make('notAllowed', { name: 'Keys but no JWT bearer grant', jwks: jwksOf(es), grantTypes: ['password'] });
    await make('off', { name: 'Inactive', jwks: jwksOf(es), active: false });
    await refreshCache(server);
  });
  after(async () => {
    await server?.close();
    await keyHost?.close();
  });

  describe('accepted', () => {
    it('an ES256 assertion (registered JWKS) gives an access token acting as the sub user, without a refresh token', async () => {
      const res = await grant(await assertion('es', es));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json?.token_type, 'Bearer');
      assert.equal(res.json?.scope, 'export.read export.write');
      assert.equal(res.json?.refresh_token, undefined, 'no refresh token: the application signs a new assertion instead');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const api = await apiCall(server.url, { path: '/api/test/echo', bearer: String(res.json?.access_token) });
      assert.equal(api.status, 200, api.text);
      assert.deepEqual(api.json.result.caller.user.name, 'alice');
      assert.deepEqual(api.json.result.caller.user.roles, ['itil']);
      assert.equal(api.json.result.caller.application.clientId, apps.es!.clientId);
    });

    it('an RS256 assertion verified with keys from the JWKS URI', async () => {
      const res = await grant(await assertion('rs', keyHost.current));
      assert.equal(res.status, 200, res.text);
    });

    it('the scope parameter narrows the token, as in other grants', async () => {
      const res = await grant(await assertion('es', es), { scope: 'export.read' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json?.scope, 'export.read');
    });

    it('client authentication is optional; when present (the same client) it is accepted', async () => {
      const withBasic = await grant(await assertion('es', es), {}, { basic: [apps.es!.clientId, apps.es!.secret] });
      assert.equal(withBasic.status, 200, withBasic.text);
      const withClientId = await grant(await assertion('es', es), { client_id: apps.es!.clientId });
      assert.equal(withClientId.status, 200, withClientId.text);
      // private_key_jwt client authentication with the grant: two assertions, two jtis.
      const clientAssertion = await signAssertion(es, { iss: apps.es!.clientId, sub: apps.es!.clientId, aud: tokenUrl() });
      const both = await grant(await assertion('es', es), { client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: clientAssertion });
      assert.equal(both.status, 200, both.text);
    });

    it('aud may be the issuer identifier', async () => {
      assert.equal((await grant(await assertion('es', es, { aud: server.url }))).status, 200);
    });
  });

  describe('refused, each with its reason', () => {
    it('no assertion parameter -> request.missing_parameter', async () => {
      await refused(await grant(undefined), 'request.missing_parameter', 400, 'invalid_request');
    });

    it('not a JWT -> assertion.malformed', async () => {
      await refused(await grant('definitely-not-a-jwt'), 'assertion.malformed');
    });

    it('no iss, sub, jti, exp or aud -> assertion.missing_claim', async () => {
      for (const claim of ['iss', 'sub', 'jti', 'exp', 'aud']) {
        await refused(await grant(await assertion('es', es, { [claim]: undefined })), 'assertion.missing_claim');
      }
    });

    it('iss naming no application -> assertion.unknown_issuer', async () => {
      await refused(await grant(await signAssertion(es, { iss: 'no-such-client', sub: 'alice', aud: tokenUrl() })), 'assertion.unknown_issuer');
    });

    it('an application not allowed the grant -> unauthorized_client', async () => {
      await refused(await grant(await assertion('notAllowed', es)), 'grant.not_allowed_for_application', 400, 'unauthorized_client');
    });

    it('an application with no keys -> assertion.no_keys', async () => {
      await refused(await grant(await assertion('nokeys', es)), 'assertion.no_keys');
    });

    it('HS256 -> assertion.algorithm_not_allowed', async () => {
      await refused(await grant(await assertion('es', es, {}, { hmacSecret: 'guessable' })), 'assertion.algorithm_not_allowed');
    });

    it('an unregistered kid -> assertion.unknown_key; a forged signature -> assertion.bad_signature', async () => {
      const other = await generateTestKey('ES256');
      await refused(await grant(await assertion('es', other)), 'assertion.unknown_key');
      await refused(await grant(await assertion('es', other, {}, { kid: es.kid })), 'assertion.bad_signature');
      // Through the JWKS URI too (an unknown kid within the refetch cooldown is refused without a fetch storm).
      await refused(await grant(await assertion('rs', await generateTestKey('RS256'))), 'assertion.unknown_key');
    });

    it('aud for another server -> assertion.wrong_audience', async () => {
      await refused(await grant(await assertion('es', es, { aud: 'https://idp.example/token' })), 'assertion.wrong_audience');
    });

    it('expired, not yet valid, or valid for too long -> assertion.expired / not_yet_valid / lifetime_too_long', async () => {
      const t = Math.floor(Date.now() / 1000);
      await refused(await grant(await assertion('es', es, { iat: t - 3600, exp: t - 600 })), 'assertion.expired');
      await refused(await grant(await assertion('es', es, { nbf: t + 900, exp: t + 1200 })), 'assertion.not_yet_valid');
      await refused(await grant(await assertion('es', es, { exp: t + 7200 })), 'assertion.lifetime_too_long');
    });

    it('the same assertion twice -> assertion.replayed', async () => {
      const a = await assertion('es', es);
      assert.equal((await grant(a)).status, 200);
      await refused(await grant(a), 'assertion.replayed');
    });

    it('sub naming no user -> assertion.unknown_user; an inactive user -> user.inactive', async () => {
      await refused(await grant(await assertion('es', es, { sub: 'nobody-here' })), 'assertion.unknown_user');
      await refused(await grant(await assertion('es', es, { sub: 'bob' })), 'user.inactive');
    });

    it('a scope the application is not allowed -> scope.not_allowed, one that does not exist -> scope.unknown (and the jti stays unused)', async () => {
      const jti = `scope-${Date.now()}`;
      await refused(await grant(await assertion('es', es, { jti }), { scope: 'admin.all' }), 'scope.not_allowed', 400, 'invalid_scope');
      await refused(await grant(await assertion('es', es, { jti }), { scope: 'export.raed' }), 'scope.unknown', 400, 'invalid_scope');
      assert.equal((await grant(await assertion('es', es, { jti }))).status, 200);
    });

    it('client authentication of another client, or client_id of another client -> assertion.wrong_client', async () => {
      await refused(await grant(await assertion('rs', keyHost.current), {}, { basic: [apps.es!.clientId, apps.es!.secret] }), 'assertion.wrong_client');
      await refused(await grant(await assertion('es', es), { client_id: apps.rs!.clientId }), 'assertion.wrong_client');
    });

    it('wrong client credentials are refused as client authentication failures', async () => {
      await refused(await grant(await assertion('es', es), {}, { basic: [apps.es!.clientId, 'wrong'] }), 'client_auth.secret_mismatch', 401, 'invalid_client');
    });

    it('an inactive application -> client_auth.application_inactive', async () => {
      await refused(await grant(await assertion('off', es)), 'client_auth.application_inactive', 401, 'invalid_client');
    });

    it('a JWKS URI that does not answer -> 503 assertion.jwks_unavailable, bounded by the fetch timeout', async () => {
      const hanging = await startIdpServer({ alg: 'ES256' });
      try {
        hanging.hang = true;
        await make('hang', { name: 'Hanging JWKS URI', jwksUri: hanging.jwksUri });
        await refreshCache(server);
        const started = performance.now();
        const res = await grant(await assertion('hang', hanging.current));
        const elapsed = performance.now() - started;
        await refused(res, 'assertion.jwks_unavailable', 503, 'temporarily_unavailable');
        assert.ok(elapsed < 5_000, `took ${Math.round(elapsed)} ms`);
      } finally {
        await hanging.close();
      }
    });
  });
});
