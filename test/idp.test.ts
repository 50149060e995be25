import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SignJWT } from 'jose';
import { KeySets } from '../src/assertions/keys.js';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { OAuthError } from '../src/errors/oauth-error.js';
import { createIdentityProvider, findIdentityProvider, listIdentityProviders, removeIdentityProvider, updateIdentityProvider } from '../src/idp/registry.js';
import { RegistryError } from '../src/registry/errors.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser, updateUser } from '../src/registry/users.js';
import { createExternalTokenValidator } from '../src/idp/tokens.js';
import { apiCall, apiChallenge, assertApiRefusal, FIXTURE_APIS, type ApiReply } from './helpers/api.js';
import { startIdpServer, type IdpServer } from './helpers/idp-server.js';
import { refreshCache, registryDeps } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const AUD = 'https://latchkey.test/api';
// The challenge of the echo API (RFC 6750 §3 with RFC 9728 resource_metadata).
const INVALID_TOKEN = apiChallenge('/api/test/echo', { error: 'invalid_token' });

let server: TestServer;
/** The provider registered by metadata URL (OpenID discovery); users named by preferred_username. */
let corp: IdpServer;

const echo = (bearer: string) => apiCall(server.url, { path: '/api/test/echo', bearer });

async function refusedOnApi(res: ApiReply, reason: string, status = 401): Promise<void> {
  await assertApiRefusal(server.latchkey.storage, res, { status, reason, wwwAuthenticate: status === 401 ? INVALID_TOKEN : null });
}

async function registryError(fn: () => Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(fn, (error: unknown) => {
    assert.ok(error instanceof RegistryError, String(error));
    assert.equal(error.code, code, error.message);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}

before(async () => {
  server = await startTestServer({ apisDir: FIXTURE_APIS, allowPrivateNetworks: true });
  corp = await startIdpServer({ alg: 'RS256', issuerPath: '/realms/corp' });
  const deps = registryDeps(server);
  await createScope(deps, 'orders.read');
  await createUser(deps, { userName: 'jdoe', roles: ['itil'] });
  await createUser(deps, { userName: 'nroles' });
  await createUser(deps, { userName: 'gone', active: false });
  await createIdentityProvider(deps, { name: 'corp', issuer: corp.issuer, metadataUrl: corp.oidcMetadataUrl, audience: AUD, userClaim: 'preferred_username' });
  await refreshCache(server);
});
after(async () => {
  await server?.close();
  await corp?.close();
});

describe('identity provider registry', () => {
  let other: IdpServer;
  before(async () => {
    other = await startIdpServer({ alg: 'ES256', issuerPath: '/tenant/other' });
  });
  after(async () => other?.close());

  it('discovers the JWKS URI from OpenID discovery or RFC 8414 metadata, checking the issuer', async () => {
    const deps = registryDeps(server);
    const viaOidc = await createIdentityProvider(deps, { name: 'reg-oidc', issuer: other.issuer, metadataUrl: other.oidcMetadataUrl, audience: AUD });
    assert.equal(viaOidc.check?.jwksUri, other.jwksUri);
    assert.equal(viaOidc.check?.keys, 1);
    assert.equal(viaOidc.provider.userClaim, 'sub');
    assert.equal(viaOidc.provider.userField, 'user_name');
    assert.equal(viaOidc.provider.jwksUri, null);
    await removeIdentityProvider(deps, 'reg-oidc');
    const viaOauth = await createIdentityProvider(deps, { name: 'reg-oauth', issuer: other.issuer, metadataUrl: other.oauthMetadataUrl, audience: AUD });
    assert.equal(viaOauth.check?.jwksUri, other.jwksUri);
    await removeIdentityProvider(deps, 'reg-oauth');
  });

  it('refuses metadata naming another issuer (RFC 8414 §3.3), and unreachable metadata, unless --no-check', async () => {
    const deps = registryDeps(server);
    other.metadataIssuer = 'https://attacker.example';
    try {
      await registryError(() => createIdentityProvider(deps, { name: 'reg-bad', issuer: other.issuer, metadataUrl: other.oidcMetadataUrl, audience: AUD }), 'identity_provider_unreachable', /names the issuer "https:\/\/attacker\.example"/);
    } finally {
      other.metadataIssuer = undefined;
    }
    other.failWith = 503;
    try {
      await registryError(() => createIdentityProvider(deps, { name: 'reg-bad', issuer: other.issuer, jwksUri: other.jwksUri, audience: AUD }), 'identity_provider_unreachable', /answered 503/);
      const unchecked = await createIdentityProvider(deps, { name: 'reg-bad', issuer: other.issuer, jwksUri: other.jwksUri, audience: AUD, check: false });
      assert.equal(unchecked.check, undefined);
    } finally {
      other.failWith = undefined;
    }
    await removeIdentityProvider(deps, 'reg-bad');
    assert.equal((await listIdentityProviders(deps)).some((p) => p.name === 'reg-bad'), false);
  });

  it('a metadata URL that hangs is given up within the fetch timeout', async () => {
    other.hang = true;
    try {
      const started = performance.now();
      await registryError(() => createIdentityProvider(registryDeps(server), { name: 'reg-hang', issuer: other.issuer, metadataUrl: other.oidcMetadataUrl, audience: AUD }), 'identity_provider_unreachable', /timed out/);
      assert.ok(performance.now() - started < 5_000);
    } finally {
      other.hang = false;
    }
  });

  it('validates its input', async () => {
    const deps = registryDeps(server);
    const base = { name: 'reg-v', issuer: other.issuer, jwksUri: other.jwksUri, audience: AUD, check: false };
    await registryError(() => createIdentityProvider(deps, { ...base, issuer: 'not a url' }), 'invalid_input', /absolute URL/);
    await registryError(() => createIdentityProvider(deps, { ...base, issuer: 'http://idp.example.com' }), 'invalid_input', /https/);
    await registryError(() => createIdentityProvider(deps, { ...base, issuer: `${other.issuer}?tenant=1` }), 'invalid_input', /query/);
    await registryError(() => createIdentityProvider(deps, { ...base, metadataUrl: other.oidcMetadataUrl }), 'invalid_input', /not both/);
    await registryError(() => createIdentityProvider(deps, { ...base, jwksUri: undefined }), 'invalid_input', /--metadata-url/);
    await registryError(() => createIdentityProvider(deps, { ...base, audience: undefined }), 'invalid_input', /audience/);
    await registryError(() => createIdentityProvider(deps, { ...base, audience: '  ' }), 'invalid_input', /audience/);
    await registryError(() => createIdentityProvider(deps, { ...base, userField: 'email' }), 'invalid_input', /user_name or id/);
    await registryError(() => createIdentityProvider(deps, { ...base, userClaim: 'two words' }), 'invalid_input', /claim name/);
    await registryError(() => createIdentityProvider(deps, { ...base, name: 'corp' }), 'identity_provider_exists', /named "corp"/);
    await registryError(() => createIdentityProvider(deps, { ...base, issuer: corp.issuer }), 'identity_provider_exists', /exact iss/);
  });

  it('updates (switching between metadata URL and JWKS URI), finds by name or id, and removes', async () => {
    const deps = registryDeps(server);
    const { provider } = await createIdentityProvider(deps, { name: 'reg-u', issuer: other.issuer, metadataUrl: other.oidcMetadataUrl, audience: AUD });
    const moved = await updateIdentityProvider(deps, 'reg-u', { jwksUri: other.jwksUri, userClaim: 'email' });
    assert.equal(moved.provider.metadataUrl, null);
    assert.equal(moved.provider.jwksUri, other.jwksUri);
    assert.equal(moved.provider.userClaim, 'email');
    assert.equal(moved.check?.keys, 1, 'a new key source is checked');
    const renamed = await updateIdentityProvider(deps, provider.id, { name: 'reg-u2', active: false });
    assert.equal(renamed.check, undefined, 'a rename fetches nothing');
    assert.equal((await findIdentityProvider(deps, 'reg-u2')).active, false);
    await removeIdentityProvider(deps, 'reg-u2');
    await registryError(() => findIdentityProvider(deps, 'reg-u2'), 'identity_provider_not_found', /latchkey idps list/);
    await registryError(() => removeIdentityProvider(deps, 'reg-u2'), 'identity_provider_not_found');
  });
});

describe('tokens from an identity provider on our APIs', () => {
  const mint = (claims: Record<string, unknown> = {}) => corp.mint({ aud: AUD, preferred_username: 'jdoe', ...claims });

  it('a token reaches the API as the mapped local user, with that user\'s roles and the token\'s scopes', async () => {
    const res = await echo(await mint({ scope: 'orders.read profile', sub: 'f:1234:jdoe' }));
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(res.json.result.caller, {
      authenticated: true,
      method: 'bearer',
      user: { id: (await server.latchkey.storage.users.byName('jdoe'))!.id, name: 'jdoe', roles: ['itil'] },
      application: null,
      scopes: ['orders.read', 'profile'],
    });
  });

  it('scopes from an scp array satisfy an API\'s scope; the user\'s roles satisfy an API\'s role', async () => {
    const orders = await apiCall(server.url, { path: '/api/acme/orders/7', bearer: await mint({ scp: ['orders.read'] }) });
    assert.equal(orders.status, 200, orders.text);
    assert.equal(orders.json.result.user, 'jdoe');
    const noScope = await apiCall(server.url, { path: '/api/acme/orders/7', bearer: await mint() });
    await assertApiRefusal(server.latchkey.storage, noScope, { status: 403, reason: 'api.scope_missing', wwwAuthenticate: /insufficient_scope/ });
    const desk = await apiCall(server.url, { path: '/api/acme/desk/tickets', bearer: await mint() });
    assert.equal(desk.status, 200, desk.text);
    const noRole = await apiCall(server.url, { path: '/api/acme/desk/tickets', bearer: await mint({ preferred_username: 'nroles' }) });
    await assertApiRefusal(server.latchkey.storage, noRole, { status: 403, reason: 'api.role_missing', wwwAuthenticate: null });
  });

  it('the provider\'s JWKS is fetched once and reused across tokens and requests', async () => {
    const before = corp.requests.jwks;
    for (let i = 0; i < 5; i++) assert.equal((await echo(await mint())).status, 200);
    assert.equal(corp.requests.jwks - before, 0, 'already cached by the earlier tests');
    assert.equal(corp.requests.jwks, 2, 'once when registered (the check), once on first use');
    assert.ok(corp.requests.metadata <= 2, `metadata fetched ${corp.requests.metadata} times (registration and first use)`);
  });

  it('refuses an unregistered issuer: token.unknown_issuer', async () => {
    const stranger = await startIdpServer({ issuerPath: '/realms/stranger' });
    try {
      await refusedOnApi(await echo(await stranger.mint({ aud: AUD, preferred_username: 'jdoe' })), 'token.unknown_issuer');
      assert.equal(stranger.requests.jwks + stranger.requests.metadata, 0, 'nothing is fetched from an unregistered issuer');
    } finally {
      await stranger.close();
    }
  });

  it('refuses each invalid token with its reason', async () => {
    const t = Math.floor(Date.now() / 1000);
    await refusedOnApi(await echo(await mint({ aud: 'https://someone-else.example' })), 'idp.wrong_audience');
    await refusedOnApi(await echo(await mint({ aud: undefined })), 'idp.claim_missing');
    await refusedOnApi(await echo(await mint({ exp: undefined })), 'idp.claim_missing');
    await refusedOnApi(await echo(await mint({ preferred_username: undefined })), 'idp.claim_missing');
    await refusedOnApi(await echo(await mint({ preferred_username: ['jdoe'] })), 'idp.claim_missing');
    await refusedOnApi(await echo(await mint({ exp: 'tomorrow' })), 'idp.malformed');
    await refusedOnApi(await echo(await mint({ iat: t - 7200, exp: t - 3600 })), 'idp.token_expired');
    await refusedOnApi(await echo(await mint({ nbf: t + 3600, exp: t + 7200 })), 'idp.not_yet_valid');
    await refusedOnApi(await echo(await mint({ preferred_username: 'no-such-user' })), 'idp.unknown_user');
    await refusedOnApi(await echo(await mint({ preferred_username: 'gone' })), 'token.user_inactive');
    const stranger = await corp.newKey();
    await refusedOnApi(await echo(await corp.mint({ aud: AUD, preferred_username: 'jdoe' }, { key: stranger })), 'idp.unknown_key');
    await refusedOnApi(await echo(await corp.mint({ aud: AUD, preferred_username: 'jdoe' }, { key: stranger, kid: corp.current.kid })), 'idp.bad_signature');
    const hs = await new SignJWT({ iss: corp.issuer, aud: AUD, preferred_username: 'jdoe', exp: t + 300 })
      .setProtectedHeader({ alg: 'HS256', kid: corp.current.kid })
      .sign(new TextEncoder().encode('the-public-key-as-an-hmac-secret'));
    await refusedOnApi(await echo(hs), 'idp.algorithm_not_allowed');
  });

  // Attack (issue 11 item 8b): a token a provider minted with an exp thousands of years ahead (or
  // one forged with a leaked key) would stay usable for ever. Its lifetime is bounded.
  it('refuses a token that lives longer than latchkey.idp.max_token_lifetime_seconds: idp.lifetime_too_long', async () => {
    const t = Math.floor(Date.now() / 1000);
    const mint = (claims: Record<string, unknown>) => corp.mint({ aud: AUD, preferred_username: 'jdoe', ...claims });
    const year5138 = Math.floor(Date.UTC(5138, 0, 1) / 1000);
    const forever = await echo(await mint({ iat: t, exp: year5138 }));
    await refusedOnApi(forever, 'idp.lifetime_too_long');
    const recorded = await server.latchkey.storage.refusals.byRequestId(forever.requestId);
    assert.match(recorded?.hint ?? '', /^Identity provider "corp": The token lives \d+ s \(exp - iat\); at most 86400 s is accepted\.$/);
    // Without iat, exp itself is bounded from now.
    await refusedOnApi(await echo(await mint({ iat: undefined, exp: t + 2 * 86400 })), 'idp.lifetime_too_long');
    // An old iat does not help: exp - iat is what counts.
    await refusedOnApi(await echo(await mint({ iat: t - 86400, exp: t + 60 })), 'idp.lifetime_too_long');
    assert.equal((await echo(await mint({ iat: t, exp: t + 86400 }))).status, 200, 'exactly the maximum is accepted');
    assert.equal((await echo(await mint({ iat: undefined, exp: t + 3600 }))).status, 200);
    // The bound is a property, in force at once.
    await setProperty(registryDeps(server), 'latchkey.idp.max_token_lifetime_seconds', '600');
    await refreshCache(server);
    try {
      await refusedOnApi(await echo(await mint({ iat: t, exp: t + 601 })), 'idp.lifetime_too_long');
      assert.equal((await echo(await mint({ iat: t, exp: t + 600 }))).status, 200);
    } finally {
      await setProperty(registryDeps(server), 'latchkey.idp.max_token_lifetime_seconds', '86400');
      await refreshCache(server);
    }
  });

  it('unknown key ids within the refetch cooldown cause no fetch storm', async () => {
    const before = corp.requests.jwks;
    const tokens = await Promise.all(Array.from({ length: 20 }, async () => corp.mint({ aud: AUD, preferred_username: 'jdoe' }, { key: await corp.newKey() })));
    const replies = await Promise.all(tokens.map((t) => echo(t)));
    for (const r of replies) assert.equal(r.status, 401);
    assert.equal(corp.requests.jwks - before, 0, 'refetches are bounded by the 30 s cooldown');
  });

  it('a user deactivated, a provider deactivated or removed: its tokens are refused at once', async () => {
    const deps = registryDeps(server);
    await createUser(deps, { userName: 'temp', roles: ['itil'] });
    const token = await mint({ preferred_username: 'temp' });
    assert.equal((await echo(token)).status, 200);
    await updateUser(deps, 'temp', { active: false });
    await refreshCache(server);
    await refusedOnApi(await echo(token), 'token.user_inactive');
    const good = await mint();
    assert.equal((await echo(good)).status, 200);
    await updateIdentityProvider(deps, 'corp', { active: false });
    await refreshCache(server);
    await refusedOnApi(await echo(good), 'token.unknown_issuer');
    await updateIdentityProvider(deps, 'corp', { active: true });
    await refreshCache(server);
    assert.equal((await echo(good)).status, 200);
  });

  it('maps by user id (userField id) from another claim', async () => {
    const deps = registryDeps(server);
    const byId = await startIdpServer({ alg: 'ES256', issuerPath: '/by-id' });
    try {
      await createIdentityProvider(deps, { name: 'by-id', issuer: byId.issuer, jwksUri: byId.jwksUri, audience: 'latchkey', userField: 'id' });
      await refreshCache(server);
      const jdoe = (await server.latchkey.storage.users.byName('jdoe'))!;
      const res = await echo(await byId.mint({ aud: ['other', 'latchkey'], sub: jdoe.id }));
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.result.caller.user.name, 'jdoe');
      await refusedOnApi(await echo(await byId.mint({ aud: 'latchkey', sub: 'jdoe' })), 'idp.unknown_user');
    } finally {
      await removeIdentityProvider(deps, 'by-id');
      await byId.close();
    }
  });

  it('a provider whose JWKS URI hangs: 503 idp.jwks_unavailable within the fetch timeout, no crash', async () => {
    const deps = registryDeps(server);
    const slow = await startIdpServer({ issuerPath: '/slow' });
    try {
      await createIdentityProvider(deps, { name: 'slow', issuer: slow.issuer, jwksUri: slow.jwksUri, audience: AUD });
      await refreshCache(server);
      slow.hang = true;
      const started = performance.now();
      const res = await echo(await slow.mint({ aud: AUD, sub: 'x', preferred_username: 'jdoe' }));
      const elapsed = performance.now() - started;
      await refusedOnApi(res, 'idp.jwks_unavailable', 503);
      assert.equal(res.headers.get('retry-after'), '5');
      assert.ok(elapsed >= 2_500 && elapsed < 5_000, `took ${Math.round(elapsed)} ms`);
      // The server still answers, and other providers are unaffected.
      assert.equal((await echo(await mint())).status, 200);
      // Once the provider answers again, its tokens are accepted.
      slow.hang = false;
      const ok = await echo(await slow.mint({ aud: AUD, sub: 'jdoe' }));
      assert.equal(ok.status, 200, ok.text);
    } finally {
      await removeIdentityProvider(deps, 'slow');
      await slow.close();
    }
  });

  it('a provider whose metadata hangs: 503 within the timeout, then failing fast for a few seconds', async () => {
    const deps = registryDeps(server);
    const slow = await startIdpServer({ issuerPath: '/slow-metadata' });
    try {
      await createIdentityProvider(deps, { name: 'slow-metadata', issuer: slow.issuer, metadataUrl: slow.oidcMetadataUrl, audience: AUD, check: false });
      await refreshCache(server);
      slow.hang = true;
      const token = await slow.mint({ aud: AUD, sub: 'jdoe' });
      let started = performance.now();
      await refusedOnApi(await echo(token), 'idp.jwks_unavailable', 503);
      assert.ok(performance.now() - started < 5_000);
      started = performance.now();
      await refusedOnApi(await echo(token), 'idp.jwks_unavailable', 503);
      assert.ok(performance.now() - started < 1_000, 'a recent failure is not waited for again');
    } finally {
      await removeIdentityProvider(deps, 'slow-metadata');
      await slow.close();
    }
  });
});

describe('the external token validator: key rotation and refetch cooldown', () => {
  it('an unknown kid after the cooldown triggers one refetch; the rotated key is then accepted', async () => {
    const deps = registryDeps(server);
    const rotating = await startIdpServer({ alg: 'ES256', issuerPath: '/rotating' });
    try {
      await createIdentityProvider(deps, { name: 'rotating', issuer: rotating.issuer, jwksUri: rotating.jwksUri, audience: AUD, userClaim: 'preferred_username' });
      const cooldownMs = 400;
      const validator = createExternalTokenValidator({ storage: server.latchkey.storage, cache: server.latchkey.cache, clock: server.latchkey.clock, keySets: new KeySets({ cooldownMs, fetcher: server.latchkey.outbound }), fetcher: server.latchkey.outbound });
      const validate = (token: string) => validator.validate(token, rotating.issuer);
      const claims = { aud: AUD, preferred_username: 'jdoe' };
      // The registration checked the JWKS once; count from here.
      rotating.requests.jwks = 0;
      const first = await validate(await rotating.mint(claims));
      assert.equal(first.caller.user?.name, 'jdoe');
      assert.equal(rotating.requests.jwks, 1);

      const next = await rotating.rotate({ dropOld: true });
      // Right after a fetch, an unknown kid is refused without refetching (cooldown).
      await assert.rejects(validate(await rotating.mint(claims)), (e: unknown) => e instanceof OAuthError && e.reason === 'idp.unknown_key');
      assert.equal(rotating.requests.jwks, 1);
      await new Promise((resolve) => setTimeout(resolve, cooldownMs + 50));
      // After the cooldown: a storm of tokens with the new kid causes exactly one refetch, and all pass.
      const results = await Promise.all(Array.from({ length: 25 }, async () => validate(await rotating.mint(claims, { key: next }))));
      assert.equal(results.length, 25);
      assert.equal(rotating.requests.jwks, 2, 'one refetch for the whole storm');
      // Tokens of the dropped key are now unknown.
      await assert.rejects(validate(await rotating.mint(claims, { key: { ...next, kid: 'dropped' } })), (e: unknown) => e instanceof OAuthError && e.reason === 'idp.unknown_key');
      // A storm of random unknown kids after the cooldown: at most one more fetch.
      await new Promise((resolve) => setTimeout(resolve, cooldownMs + 50));
      const strangers = await Promise.all(Array.from({ length: 25 }, async () => rotating.mint(claims, { key: await rotating.newKey() })));
      const outcomes = await Promise.allSettled(strangers.map(validate));
      assert.ok(outcomes.every((o) => o.status === 'rejected'));
      assert.equal(rotating.requests.jwks, 3);
    } finally {
      await removeIdentityProvider(deps, 'rotating');
      await rotating.close();
    }
  });

  it('expiresAt is the token\'s exp, so the bearer cache never outlives the token', async () => {
    const validator = createExternalTokenValidator({ storage: server.latchkey.storage, cache: server.latchkey.cache, clock: server.latchkey.clock, fetcher: server.latchkey.outbound });
    const exp = Math.floor(Date.now() / 1000) + 120;
    const { expiresAt } = await validator.validate(await corp.mint({ aud: AUD, preferred_username: 'jdoe', exp }), corp.issuer);
    assert.equal(expiresAt, exp * 1000);
  });
});

describe('latchkey idps (CLI)', () => {
  let cliIdp: IdpServer;
  before(async () => {
    cliIdp = await startIdpServer({ issuerPath: '/cli' });
    // A wide terminal: the list case reads one provider a line (wrapping is test/cli-output.test.ts).
    process.env.COLUMNS = '400';
  });
  after(async () => cliIdp?.close());

  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
    const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
    return { code, out, err };
  }

  it('--help explains the command with a worked example', async () => {
    const r = await cli('idps', 'add', '--help');
    assert.equal(r.code, 0);
    assert.match(r.out, /--metadata-url <url>/);
    assert.match(r.out, /--jwks-uri <url>/);
    assert.match(r.out, /--user-field <field>/);
    assert.match(r.out, /Example \(an OpenID Connect provider/);
    assert.match(r.out, /latchkey idps add --name corp-sso/);
  });

  it('adds, lists, shows, updates and removes a provider; the server honours each change', async () => {
    process.env.LATCHKEY_ADMIN_PASSWORD = 'admin-password-for-tests';
    const added = await cli('idps', 'add', '--name', 'cli-sso', '--issuer', cliIdp.issuer, '--metadata-url', cliIdp.oidcMetadataUrl, '--audience', AUD, '--json');
    assert.equal(added.code, 0, added.err);
    const view = JSON.parse(added.out) as Record<string, unknown>;
    assert.equal(view.name, 'cli-sso');
    assert.equal(view.issuer, cliIdp.issuer);
    assert.equal(view.userClaim, 'sub');
    assert.deepEqual(view.check, { jwksUri: cliIdp.jwksUri, keys: 1 });

    const text = await cli('idps', 'list');
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^NAME\s+ISSUER\s+AUDIENCE\s+KEYS FROM\s+USER CLAIM\s+ACTIVE/);
    assert.match(text.out, /cli-sso\s+http:\/\/127\.0\.0\.1:\d+\/cli\s/);

    const shown = await cli('idps', 'show', 'cli-sso');
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /Matched against\s+user name/);

    await refreshCache(server);
    assert.equal((await echo(await cliIdp.mint({ aud: AUD, sub: 'jdoe' }))).status, 200);

    const updated = await cli('idps', 'update', 'cli-sso', '--audience', 'another-audience', '--json');
    assert.equal(updated.code, 0, updated.err);
    assert.equal((JSON.parse(updated.out) as Record<string, unknown>).audience, 'another-audience');
    await refreshCache(server);
    await refusedOnApi(await echo(await cliIdp.mint({ aud: AUD, sub: 'jdoe' })), 'idp.wrong_audience');

    const checked = await cli('idps', 'check', 'cli-sso');
    assert.equal(checked.code, 0, checked.err);
    assert.match(checked.out, /reachable: 1 key\(s\)/);

    const removed = await cli('idps', 'remove', 'cli-sso');
    assert.equal(removed.code, 0, removed.err);
    await refreshCache(server);
    await refusedOnApi(await echo(await cliIdp.mint({ aud: 'another-audience', sub: 'jdoe' })), 'token.unknown_issuer');
  });

  it('explains mistakes: both key sources, neither, an unknown provider, nothing to change', async () => {
    const both = await cli('idps', 'add', '--name', 'x', '--issuer', cliIdp.issuer, '--metadata-url', cliIdp.oidcMetadataUrl, '--jwks-uri', cliIdp.jwksUri, '--audience', AUD);
    assert.equal(both.code, 2);
    assert.match(both.err, /either --metadata-url or --jwks-uri/);
    const neither = await cli('idps', 'add', '--name', 'x', '--issuer', cliIdp.issuer, '--audience', AUD);
    assert.equal(neither.code, 2);
    assert.match(neither.err, /--metadata-url <url> or --jwks-uri <url>/);
    const unknown = await cli('idps', 'show', 'nope');
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /No identity provider is named "nope"/);
    const nothing = await cli('idps', 'update', 'corp');
    assert.equal(nothing.code, 2);
    assert.match(nothing.err, /Nothing to change/);
    const badField = await cli('idps', 'update', 'corp', '--user-field', 'email');
    assert.equal(badField.code, 2);
  });
});
