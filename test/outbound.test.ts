import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { createIdentityProvider } from '../src/idp/registry.js';
import { createApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { JWT_BEARER_GRANT } from '../src/grants/grant-type.js';
import { ADMIN_PASSWORD, adminToken, bearerClient, type AdminClient } from './helpers/admin.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { signAssertion, startIdpServer, type IdpServer } from './helpers/idp-server.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * The outbound rules (issue 11 item 5) on a running server: every request Latchkey makes to a URL
 * an administrator registered is https to a public address, unless
 * latchkey.outbound.allow_private_networks is true. Without them, a JWKS URI or metadata URL
 * pointing inside the network turns every anonymous token request into a probe of that address
 * (blind SSRF). The address and URL rules and the fetcher itself are in outbound-rules.test.ts.
 */

const ALLOW = 'latchkey.outbound.allow_private_networks';

/**
 * The attacks over HTTP, on a server with the default setting (allow_private_networks false): the
 * URLs point at loopback servers, as an attacker's would point at internal ones.
 */
describe('outbound rules on a running server', () => {
  let server: TestServer;
  let admin: AdminClient;
  /** Serves the application's JWKS, and the identity provider's metadata and JWKS, on 127.0.0.1. */
  let internal: IdpServer;
  let clientId: string;

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    internal = await startIdpServer({ alg: 'ES256', issuerPath: '/internal' });
    admin = bearerClient(server, await adminToken(server, 'admin', ADMIN_PASSWORD));
    const deps = registryDeps(server);
    await createScope(deps, 'export.read');
    await createUser(deps, { userName: 'svc' });
    await createUser(deps, { userName: 'jdoe' });
    // Registered while the property was on (a lab), then switched off: what a stored URL meets.
    await server.latchkey.storage.properties.set(ALLOW, 'true', Date.now());
    const app = await createApplication(deps, { name: 'Keys on an internal host', grantTypes: [JWT_BEARER_GRANT], appUser: 'svc', scopes: ['export.read'], jwksUri: internal.jwksUri });
    clientId = app.application.clientId;
    await createIdentityProvider(deps, { name: 'internal', issuer: internal.issuer, metadataUrl: internal.oidcMetadataUrl, audience: 'api://latchkey', userClaim: 'sub', check: false });
    await server.latchkey.storage.properties.set(ALLOW, 'false', Date.now());
    await refreshCache(server);
  });
  after(async () => {
    await server?.close();
    await internal?.close();
  });

  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
    const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
    return { code, out, err };
  }

  const bearerGrant = async () => {
    const assertion = await signAssertion(internal.current, { iss: clientId, sub: 'svc', aud: server.url });
    return tokenRequest(server.url, { form: { grant_type: JWT_BEARER_GRANT, assertion } });
  };

  it('registration: the admin API refuses a JWKS URI or metadata URL on a loopback or private address at once, saying why', async () => {
    const app = await admin.call('POST', '/applications', { name: 'Probe', kind: 'jwt_bearer', jwksUri: `http://127.0.0.1:${new URL(internal.origin).port}/jwks` });
    assert.equal(app.status, 400, app.text);
    assert.equal(app.json.error, 'outbound_refused');
    assert.match(app.json.message, /is refused by the outbound rules: it uses http; the scheme must be https/);
    const literal = await admin.call('POST', '/applications', { name: 'Probe', kind: 'jwt_bearer', jwksUri: 'https://192.168.1.20/jwks' });
    assert.equal(literal.status, 400, literal.text);
    assert.match(literal.json.message, /192\.168\.1\.20 is a private address \(192\.168\.0\.0\/16\); set latchkey\.outbound\.allow_private_networks to true only for test networks/);
    const idp = await admin.call('POST', '/idps', { name: 'probe', issuer: 'https://idp.example.com', metadataUrl: 'https://169.254.169.254/latest/meta-data', audience: 'api://latchkey', check: false });
    assert.equal(idp.status, 400, idp.text);
    assert.equal(idp.json.error, 'outbound_refused');
    assert.match(idp.json.message, /The metadata URL "https:\/\/169\.254\.169\.254\/latest\/meta-data" is refused by the outbound rules: 169\.254\.169\.254 is the cloud metadata address/);
    const listed = await admin.call('GET', '/applications?q=Probe');
    assert.deepEqual(listed.json, [], 'nothing refused was stored');
  });

  it('a stored JWKS URI on loopback: the assertion is refused with 503 outbound.refused, nothing is fetched, and explain says why', async () => {
    const before = internal.requests.jwks;
    const res = await bearerGrant();
    assert.equal(res.status, 503, res.text);
    assert.equal(res.json?.error, 'temporarily_unavailable');
    assert.equal(res.headers.get('retry-after'), null, 'retrying does not help until an administrator acts');
    assert.equal(internal.requests.jwks, before, 'no request reached the internal address');
    const refusal = await server.latchkey.storage.refusals.byRequestId(res.requestId);
    assert.equal(refusal?.reason, 'outbound.refused');
    assert.match(refusal?.hint ?? '', /refused by the outbound rules: it uses http; the scheme must be https \(http only while latchkey\.outbound\.allow_private_networks is true/);
    const explained = await cli('explain', res.requestId);
    assert.equal(explained.code, 0, explained.err);
    assert.match(explained.out, /outbound\.refused/);
    assert.match(explained.out, /refused by the outbound rules/);
    assert.match(explained.out, /latchkey\.outbound\.allow_private_networks/);
  });

  it('a stored metadata URL on loopback: an anonymous bearer token naming the issuer gets 503 outbound.refused and causes no request', async () => {
    const before = internal.requests.metadata + internal.requests.jwks;
    const token = await internal.mint({ aud: 'api://latchkey', sub: 'jdoe' });
    for (let i = 0; i < 3; i++) {
      const res = await apiCall(server.url, { path: '/api/test/echo', bearer: token });
      assert.equal(res.status, 503, res.text);
      const refusal = await server.latchkey.storage.refusals.byRequestId(res.requestId);
      assert.equal(refusal?.reason, 'outbound.refused');
      assert.match(refusal?.hint ?? '', /^Identity provider "internal": GET http:\/\/127\.0\.0\.1:\d+\/internal\/\.well-known\/openid-configuration was refused by the outbound rules: it uses http/);
    }
    assert.equal(internal.requests.metadata + internal.requests.jwks, before, 'no request reached the internal address');
  });

  it('latchkey idps check and doctor report the refusal; switching the property on (a test network) lets the same requests through', async () => {
    const check = await cli('idps', 'check', 'internal');
    assert.equal(check.code, 1);
    assert.match(check.err, /was refused by the outbound rules: it uses http/);
    const doctor = JSON.parse((await cli('doctor', '--json', '--apis', FIXTURE_APIS)).out) as { id: string; target?: string; detail: string; command?: string }[];
    const findings = doctor.filter((f) => f.id === 'outbound_url_refused');
    assert.deepEqual(findings.map((f) => f.target).sort(), [clientId, 'internal'].sort());
    assert.ok(findings.find((f) => f.target === clientId)?.command?.includes(`apps update ${clientId} --jwks-uri '<https-url>'`));

    await setProperty(registryDeps(server), ALLOW, 'true');
    await refreshCache(server);
    try {
      const res = await bearerGrant();
      assert.equal(res.status, 200, res.text);
      const api = await apiCall(server.url, { path: '/api/test/echo', bearer: await internal.mint({ aud: 'api://latchkey', sub: 'jdoe' }) });
      assert.equal(api.status, 200, api.text);
      assert.equal((await cli('idps', 'check', 'internal')).code, 0);
    } finally {
      await setProperty(registryDeps(server), ALLOW, 'false');
      await refreshCache(server);
    }
  });
});

