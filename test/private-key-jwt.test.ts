import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as openid from 'openid-client';
import { CLIENT_ASSERTION_TYPE } from '../src/assertions/assertion.js';
import { createApplication, updateApplication, type ApplicationInput } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { generateTestKey, jwksOf, signAssertion, startIdpServer, type IdpKey, type IdpServer } from './helpers/idp-server.js';
import { assertOAuthError, assertRefusal, refreshCache, registryDeps, tokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';

/**
 * private_key_jwt client authentication (RFC 7523 §2.2, §3; OpenID Connect Core §9): the client
 * proves itself with a JWT signed by its own key; no secret is involved.
 */
describe('private_key_jwt client authentication', () => {
  let server: TestServer;
  /** Hosts the JWKS of the application registered by JWKS URI (a client's own key server). */
  let keyHost: IdpServer;
  let es: IdpKey;
  let ed: IdpKey;
  const apps: Record<string, { clientId: string; secret: string }> = {};

  async function make(key: string, input: ApplicationInput): Promise<void> {
    const created = await createApplication(registryDeps(server), { grantTypes: ['client_credentials'], appUser: 'svc', scopes: ['export.read'], ...input });
    apps[key] = { clientId: created.application.clientId, secret: created.clientSecret ?? '' };
  }

  const tokenUrl = () => `${server.url}/oauth/token`;

  /** A client assertion for `app`: iss = sub = its client id, aud = the token endpoint. */
  function assertion(app: string, key: IdpKey, claims: Record<string, unknown> = {}, options: Parameters<typeof signAssertion>[2] = {}): Promise<string> {
    const clientId = apps[app]!.clientId;
    return signAssertion(key, { iss: clientId, sub: clientId, aud: tokenUrl(), ...claims }, options);
  }

  function cc(clientAssertion: string, extra: Record<string, string> = {}, path = '/oauth/token'): Promise<TokenResponse> {
    return tokenRequest(server.url, { path, form: { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: clientAssertion, ...extra } });
  }

  async function refused(res: TokenResponse, reason: string, status = 401, error = 'invalid_client'): Promise<void> {
    assertOAuthError(res, status, error);
    await assertRefusal(server.latchkey.storage, res, reason);
  }

  before(async () => {
    server = await startTestServer({ allowPrivateNetworks: true });
    keyHost = await startIdpServer({ alg: 'RS256' });
    es = await generateTestKey('ES256');
    ed = await generateTestKey('EdDSA');
    const deps = registryDeps(server);
    await createScope(deps, 'export.read');
    await createUser(deps, { userName: 'svc' });
    await setProperty(deps, CC, 'true');
    await make('es', { name: 'ES256 by JWKS', jwks: jwksOf(es, ed) });
    await make('rs', { name: 'RS256 by JWKS URI', jwksUri: keyHost.jwksUri });
    await make('nokeys', { name: 'No keys' });
    await make('off', { name: 'Inactive with keys', jwks: jwksOf(es), active: false });
    await make('introspector', { name: 'Resource server', jwks: jwksOf(es), canIntrospect: true });
    await refreshCache(server);
  });
  after(async () => {
    await server?.close();
    await keyHost?.close();
  });

  describe('accepted', () => {
    it('an ES256 assertion verified with the registered JWKS', async () => {
      const res = await cc(await assertion('es', es));
      assert.equal(res.status, 200, res.text);
      assert.match(String(res.json?.access_token), /\S{20,}/);
      assert.equal(res.json?.scope, 'export.read');
      assert.equal(res.headers.get('cache-control'), 'no-store');
    });

    it('an RS256 assertion verified with keys fetched from the JWKS URI (fetched once, then cached)', async () => {
      const before = keyHost.requests.jwks;
      for (let i = 0; i < 3; i++) {
        const res = await cc(await assertion('rs', keyHost.current));
        assert.equal(res.status, 200, res.text);
      }
      assert.equal(keyHost.requests.jwks - before, 1, 'the JWKS is fetched once and reused');
    });

    it('an EdDSA assertion, and an assertion without kid (the matching key is found)', async () => {
      assert.equal((await cc(await assertion('es', ed))).status, 200);
      const res = await cc(await assertion('es', es, {}, { kid: null }));
      assert.equal(res.status, 200, res.text);
    });

    it('aud may be the issuer or the token endpoint URL, as one string, at any endpoint; client_id may accompany it', async () => {
      assert.equal((await cc(await assertion('es', es, { aud: server.url }))).status, 200);
      // The aliased token endpoint takes the same audiences as the listed one.
      assert.equal((await cc(await assertion('es', es, { aud: tokenUrl() }), {}, '/oauth_token.do')).status, 200);
      assert.equal((await cc(await assertion('es', es, { aud: server.url }), {}, '/oauth_token.do')).status, 200);
      const res = await cc(await assertion('es', es), { client_id: apps.es!.clientId });
      assert.equal(res.status, 200, res.text);
    });

    it('the same method authenticates at the introspection endpoint (aud = the issuer)', async () => {
      const token = String((await cc(await assertion('es', es))).json?.access_token);
      const form = { token, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: await assertion('introspector', es, { aud: server.url }) };
      const res = await tokenRequest(server.url, { path: '/oauth/introspect', form });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json?.active, true);
      assert.equal(res.json?.client_id, apps.es!.clientId);
    });

    it('the server metadata advertises private_key_jwt and its signing algorithms', async () => {
      const res = await fetch(`${server.url}/.well-known/oauth-authorization-server`);
      assert.equal(res.status, 200);
      const metadata = (await res.json()) as Record<string, unknown>;
      assert.ok((metadata.token_endpoint_auth_methods_supported as string[]).includes('private_key_jwt'), JSON.stringify(metadata));
      assert.deepEqual(metadata.token_endpoint_auth_signing_alg_values_supported, ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'EdDSA']);
    });

    it('openid-client with PrivateKeyJwt(...) discovers the server and obtains a client-credentials token', async () => {
      const clientId = apps.es!.clientId;
      const config = await openid.discovery(new URL(server.url), clientId, { token_endpoint_auth_method: 'private_key_jwt' }, openid.PrivateKeyJwt({ key: es.privateKey, kid: es.kid }), {
        execute: [openid.allowInsecureRequests],
        algorithm: 'oauth2',
      });
      assert.equal(config.serverMetadata().token_endpoint, tokenUrl());
      const tokens = await openid.clientCredentialsGrant(config, { scope: 'export.read' });
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal(tokens.scope, 'export.read');
      assert.ok(tokens.access_token.length > 20);
      // Its assertions are single-use, as ours demand: a second grant works with a fresh jti.
      assert.ok((await openid.clientCredentialsGrant(config, { scope: 'export.read' })).access_token.length > 20);
    });
  });

  describe('refused, each with its reason', () => {
    it('client_assertion_type missing or wrong, or no client_assertion -> assertion.malformed', async () => {
      const a = await assertion('es', es);
      await refused(await tokenRequest(server.url, { path: '/oauth/token', form: { grant_type: 'client_credentials', client_assertion: a } }), 'assertion.malformed');
      await refused(await cc(a, { client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:saml2-bearer' }), 'assertion.malformed');
      await refused(await tokenRequest(server.url, { path: '/oauth/token', form: { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE } }), 'assertion.malformed');
    });

    it('not a JWT -> assertion.malformed', async () => {
      await refused(await cc('not.a-jwt'), 'assertion.malformed');
      await refused(await cc('a.b.c'), 'assertion.malformed');
    });

    it('iss differs from sub, or client_id differs from sub -> assertion.wrong_client', async () => {
      await refused(await cc(await assertion('es', es, { iss: apps.rs!.clientId })), 'assertion.wrong_client');
      await refused(await cc(await assertion('es', es), { client_id: apps.rs!.clientId }), 'assertion.wrong_client');
    });

    it('no sub -> assertion.missing_claim; no jti or exp (signature valid) -> assertion.missing_claim', async () => {
      await refused(await cc(await assertion('es', es, { sub: undefined })), 'assertion.missing_claim');
      await refused(await cc(await assertion('es', es, { jti: undefined })), 'assertion.missing_claim');
      await refused(await cc(await assertion('es', es, { exp: undefined })), 'assertion.missing_claim');
      await refused(await cc(await assertion('es', es, { aud: undefined })), 'assertion.missing_claim');
    });

    it('an unknown client id -> client_auth.unknown_client', async () => {
      const a = await signAssertion(es, { iss: 'no-such-client', sub: 'no-such-client', aud: tokenUrl() });
      await refused(await cc(a), 'client_auth.unknown_client');
    });

    it('an application with no keys -> assertion.no_keys (same description as any failed client authentication)', async () => {
      const res = await cc(await assertion('nokeys', es));
      await refused(res, 'assertion.no_keys');
      const other = await cc(await assertion('es', await generateTestKey('ES256')));
      assert.equal(res.json?.error_description, other.json?.error_description, 'registry state is not revealed');
    });

    it('HS256 (or any algorithm outside the allow-list) -> assertion.algorithm_not_allowed', async () => {
      await refused(await cc(await assertion('es', es, {}, { hmacSecret: 'a-shared-secret-the-server-never-had' })), 'assertion.algorithm_not_allowed');
    });

    it('a kid the application did not register -> assertion.unknown_key', async () => {
      await refused(await cc(await assertion('es', await generateTestKey('ES256'))), 'assertion.unknown_key');
    });

    it('signed by another key under a registered kid -> assertion.bad_signature', async () => {
      const forger = await generateTestKey('ES256');
      await refused(await cc(await assertion('es', forger, {}, { kid: es.kid })), 'assertion.bad_signature');
    });

    it('aud naming another server -> assertion.wrong_audience', async () => {
      await refused(await cc(await assertion('es', es, { aud: 'https://other.example/oauth/token' })), 'assertion.wrong_audience');
      await refused(await cc(await assertion('es', es, { aud: `${server.url}/oauth/introspect` })), 'assertion.wrong_audience');
    });

    // Attack (issue 11 item 8a): an assertion accepted with several audiences, or with any endpoint
    // URL, can be made for one party and replayed at another. Only the issuer or the token endpoint
    // URL, as one string, is accepted (draft-ietf-oauth-rfc7523bis).
    it('aud as an array, an unlisted endpoint URL, or the introspection URL at introspection -> assertion.wrong_audience, naming what was sent and what is accepted', async () => {
      const array = await cc(await assertion('es', es, { aud: ['https://elsewhere.example', tokenUrl()] }));
      await refused(array, 'assertion.wrong_audience');
      const recorded = await server.latchkey.storage.refusals.byRequestId(array.requestId);
      assert.match(recorded?.hint ?? '', /is an array; it must be one string:/);
      assert.ok(recorded?.hint?.includes(`${server.url} or ${tokenUrl()}`), recorded?.hint ?? '');
      assert.match(String(array.json?.error_description), /must be one string/);
      await refused(await cc(await assertion('es', es, { aud: [server.url] })), 'assertion.wrong_audience');
      const alias = await cc(await assertion('es', es, { aud: `${server.url}/oauth_token.do` }), {}, '/oauth_token.do');
      await refused(alias, 'assertion.wrong_audience');
      const aliasHint = (await server.latchkey.storage.refusals.byRequestId(alias.requestId))?.hint ?? '';
      assert.ok(aliasHint.includes(`"${server.url}/oauth_token.do" names none of the accepted audiences: ${server.url}, ${tokenUrl()}`), aliasHint);
      const token = String((await cc(await assertion('es', es))).json?.access_token);
      const form = { token, client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: await assertion('introspector', es, { aud: `${server.url}/oauth/introspect` }) };
      const introspection = await tokenRequest(server.url, { path: '/oauth/introspect', form });
      assertOAuthError(introspection, 401, 'invalid_client');
      assert.equal((await server.latchkey.storage.refusals.byRequestId(introspection.requestId))?.reason, 'assertion.wrong_audience');
    });

    it('expired beyond the skew -> assertion.expired; within the skew -> accepted', async () => {
      const t = Math.floor(Date.now() / 1000);
      await refused(await cc(await assertion('es', es, { iat: t - 1000, exp: t - 301 })), 'assertion.expired');
      assert.equal((await cc(await assertion('es', es, { iat: t - 200, exp: t - 100 }))).status, 200);
    });

    it('nbf or iat in the future beyond the skew -> assertion.not_yet_valid', async () => {
      const t = Math.floor(Date.now() / 1000);
      await refused(await cc(await assertion('es', es, { nbf: t + 400, exp: t + 600 })), 'assertion.not_yet_valid');
      await refused(await cc(await assertion('es', es, { iat: t + 400, exp: t + 600 })), 'assertion.not_yet_valid');
    });

    it('exp further ahead than the accepted lifetime -> assertion.lifetime_too_long', async () => {
      const t = Math.floor(Date.now() / 1000);
      await refused(await cc(await assertion('es', es, { exp: t + 86400 })), 'assertion.lifetime_too_long');
    });

    it('the same assertion twice -> the second is assertion.replayed', async () => {
      const a = await assertion('es', es);
      assert.equal((await cc(a)).status, 200);
      await refused(await cc(a), 'assertion.replayed');
    });

    it('the same assertion sent concurrently is accepted exactly once', async () => {
      const a = await assertion('es', es);
      const results = await Promise.all(Array.from({ length: 6 }, () => cc(a)));
      assert.deepEqual(results.map((r) => r.status).sort(), [200, 401, 401, 401, 401, 401]);
    });

    it('a jti is scoped to its client: another client may use the same jti', async () => {
      const jti = `shared-${Date.now()}`;
      assert.equal((await cc(await assertion('es', es, { jti }))).status, 200);
      assert.equal((await cc(await assertion('rs', keyHost.current, { jti }))).status, 200);
    });

    it('a refused assertion does not use up its jti (fixing the cause is enough)', async () => {
      const jti = `retry-${Date.now()}`;
      await refused(await cc(await assertion('es', es, { jti, aud: 'https://other.example' })), 'assertion.wrong_audience');
      assert.equal((await cc(await assertion('es', es, { jti }))).status, 200);
    });

    it('an inactive application with a valid assertion -> client_auth.application_inactive', async () => {
      await refused(await cc(await assertion('off', es)), 'client_auth.application_inactive');
    });

    it('an assertion together with HTTP Basic -> client_auth.multiple_methods', async () => {
      const res = await tokenRequest(server.url, {
        path: '/oauth/token',
        basic: [apps.es!.clientId, apps.es!.secret],
        form: { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: await assertion('es', es) },
      });
      await refused(res, 'client_auth.multiple_methods', 400, 'invalid_request');
    });

    it('keys registered after a refusal are used at once (no stale cache)', async () => {
      const fresh = await generateTestKey('ES256');
      await refused(await cc(await assertion('nokeys', fresh)), 'assertion.no_keys');
      await updateApplication(registryDeps(server), apps.nokeys!.clientId, { jwks: jwksOf(fresh) });
      assert.equal((await cc(await assertion('nokeys', fresh))).status, 200);
    });

    it('a JWKS URI that does not answer -> 503 assertion.jwks_unavailable within the fetch timeout, and the server stays up', async () => {
      const hanging = await startIdpServer({ alg: 'ES256' });
      try {
        hanging.hang = true;
        await make('hang', { name: 'Hanging JWKS URI', jwksUri: hanging.jwksUri });
        await refreshCache(server);
        const started = performance.now();
        const res = await cc(await assertion('hang', hanging.current));
        const elapsed = performance.now() - started;
        assertOAuthError(res, 503, 'temporarily_unavailable');
        assert.equal(res.headers.get('retry-after'), '5');
        await assertRefusal(server.latchkey.storage, res, 'assertion.jwks_unavailable');
        assert.ok(elapsed < 5_000, `took ${Math.round(elapsed)} ms`);
        assert.ok(elapsed >= 2_500, `gave up after ${Math.round(elapsed)} ms, before the timeout`);
        // A JWKS URI answering an error is unavailable too, and fails fast.
        hanging.hang = false;
        hanging.failWith = 500;
        assertOAuthError(await cc(await assertion('hang', hanging.current)), 503, 'temporarily_unavailable');
        assert.equal((await cc(await assertion('es', es))).status, 200, 'other clients are unaffected');
      } finally {
        await hanging.close();
      }
    });
  });
});
