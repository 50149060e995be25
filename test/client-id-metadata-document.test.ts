import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ManualClock } from '../src/core/clock.js';
import { runDoctor } from '../src/diagnostics/doctor.js';
import { reapRegistrations } from '../src/registry/registration.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { isMetadataDocumentApplication, MAX_DOCUMENT_BYTES } from '../src/registry/client-metadata-documents.js';
import { authorizeInBrowser, Browser, formFor, type Page } from './helpers/browser.js';
import { pkcePair } from './helpers/authorize-flow.js';
import { startDocumentServer, type DocumentServer } from './helpers/document-server.js';
import { refreshCache, registryDeps, tokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Client ID metadata documents (draft-ietf-oauth-client-id-metadata-document) end to end: a
 * loopback https server with a self-signed certificate made here (test/helpers/document-server.ts)
 * serves the documents; the Latchkey under test trusts that certificate through its outbound CA
 * option and has latchkey.outbound.allow_private_networks on (the documents are on 127.0.0.1).
 * Every refusal is checked by its recorded reason, and none is a 5xx.
 */

const USER = 'cimd-user';
const PASSWORD = 'cimd-password-for-tests-1';
const LOCAL_REDIRECT = 'http://127.0.0.1:4999/callback';
const WEB_REDIRECT = 'https://agent.example.com/callback';

let server: TestServer;
let docs: DocumentServer;
const clock = new ManualClock();
let seq = 0;

/** A fresh path (documents are cached per URL). */
const fresh = (name: string) => `/${name}-${++seq}/client.json`;

function authorizeParams(clientId: string, redirectUri: string, challenge: string, extra: Record<string, string> = {}): Record<string, string> {
  return { response_type: 'code', client_id: clientId, redirect_uri: redirectUri, state: 'cimd-state', code_challenge: challenge, code_challenge_method: 'S256', ...extra };
}

const authorizeUrl = (params: Record<string, string>) => `${server.url}/oauth/authorize?${new URLSearchParams(params).toString()}`;

/** The authorization request's first answer (the sign-in page when the client is good). */
function authorize(clientId: string, redirectUri = LOCAL_REDIRECT): Promise<Page> {
  return new Browser(server.url).get(authorizeUrl(authorizeParams(clientId, redirectUri, pkcePair().challenge)));
}

/** The reason recorded for a request. */
async function reasonOf(requestId: string): Promise<string | undefined> {
  return (await server.latchkey.storage.refusals.byRequestId(requestId))?.reason;
}

/** An error page (never a redirect, never 5xx) with the reason recorded. */
async function assertRefusedPage(page: Page, reason: string): Promise<void> {
  assert.equal(page.status, 400, page.text.slice(0, 400));
  assert.equal(page.location, undefined, 'never redirected before the redirect URI is trusted');
  assert.equal(await reasonOf(page.requestId), reason);
}

async function assertTokenRefused(res: TokenResponse, reason: string): Promise<void> {
  assert.equal(res.status, 401, res.text);
  assert.equal(res.json?.error, 'invalid_client');
  assert.equal(await reasonOf(res.requestId), reason);
}

const doc = (extra: Record<string, unknown> = {}) => ({ client_name: 'Test Agent', redirect_uris: [LOCAL_REDIRECT], token_endpoint_auth_method: 'none', grant_types: ['authorization_code', 'refresh_token'], ...extra });

async function setProp(name: string, value: string): Promise<void> {
  await setProperty(registryDeps(server, clock), name, value);
  await refreshCache(server);
}

before(async () => {
  docs = await startDocumentServer();
  server = await startTestServer({ clock, allowPrivateNetworks: true, outboundCa: docs.certificate });
  await createUser(registryDeps(server, clock), { userName: USER, password: PASSWORD });
  await refreshCache(server);
});

after(async () => {
  await server?.close();
  await docs?.close();
});

describe('client ID metadata documents: the authorization code flow', () => {
  it('a client known only by its document URL signs a user in with PKCE, gets tokens and refreshes them', async () => {
    const url = docs.document(fresh('flow'), doc({ client_name: 'Flow Agent' }));
    const { verifier, challenge } = pkcePair();
    const browser = new Browser(server.url);
    const start = authorizeUrl(authorizeParams(url, LOCAL_REDIRECT, challenge));
    // The consent page: the publishing host, the redirect host, and the localhost warning.
    let page = await browser.get(start);
    page = await browser.submit(start, formFor(page, 'sign_in'), { username: USER, password: PASSWORD });
    assert.equal(page.status, 200, page.text.slice(0, 500));
    formFor(page, 'consent');
    const host = new URL(docs.origin).host;
    assert.match(page.text, new RegExp(`verified by ${host.replace(/\./g, '\\.')}`));
    assert.match(page.text, /Flow Agent/);
    assert.match(page.text, /127\.0\.0\.1:4999/);
    assert.match(page.text, /role="alert">Warning: this application only returns to a program on your own computer/);
    const answer = await browser.submit(start, formFor(page, 'consent'), { decision: 'allow' });
    assert.equal(answer.status, 303);
    const location = new URL(answer.location ?? '');
    assert.equal(`${location.origin}${location.pathname}`, LOCAL_REDIRECT);
    const code = location.searchParams.get('code');
    assert.ok(code !== null);
    const token = await tokenRequest(server.url, { form: { grant_type: 'authorization_code', client_id: url, code, redirect_uri: LOCAL_REDIRECT, code_verifier: verifier } });
    assert.equal(token.status, 200, token.text);
    assert.equal(typeof token.json?.access_token, 'string');
    assert.equal(typeof token.json?.refresh_token, 'string');
    const refreshed = await tokenRequest(server.url, { form: { grant_type: 'refresh_token', client_id: url, refresh_token: String(token.json?.refresh_token) } });
    assert.equal(refreshed.status, 200, refreshed.text);
    // Materialized: an application of origin metadata_document whose client id is the URL, public, no secret.
    const app = await server.latchkey.storage.applications.byClientId(url);
    assert.ok(app !== undefined);
    assert.ok(isMetadataDocumentApplication(app));
    assert.deepEqual([app.name, app.public, app.secretHash, [...app.redirectUris], [...app.grantTypes]], ['Flow Agent', true, null, [LOCAL_REDIRECT], ['authorization_code', 'refresh_token']]);
    // The exact redirect URI match applies as for any application.
    const other = await new Browser(server.url).get(authorizeUrl(authorizeParams(url, 'http://127.0.0.1:4999/other', challenge)));
    await assertRefusedPage(other, 'authorize.redirect_uri_mismatch');
  });

  it('an https redirect URI gets no localhost warning, and a CIMD client is always asked for consent', async () => {
    const url = docs.document(fresh('web'), doc({ redirect_uris: [WEB_REDIRECT] }));
    const browser = new Browser(server.url);
    const answer = await authorizeInBrowser(browser, authorizeUrl(authorizeParams(url, WEB_REDIRECT, pkcePair().challenge)), { username: USER, password: PASSWORD });
    assert.ok(answer.location?.startsWith(`${WEB_REDIRECT}?code=`), answer.location);
    // Signed in already: the consent page again (never first-party), without the warning.
    const again = await browser.get(authorizeUrl(authorizeParams(url, WEB_REDIRECT, pkcePair().challenge)));
    formFor(again, 'consent');
    assert.match(again.text, /verified by/);
    assert.doesNotMatch(again.text, /Warning: this application only returns/);
    assert.match(again.text, /agent\.example\.com/);
  });

  it('both discovery documents say client_id_metadata_document_supported while enabled', async () => {
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration']) {
      const meta = (await (await fetch(`${server.url}${path}`)).json()) as Record<string, unknown>;
      assert.equal(meta.client_id_metadata_document_supported, true, path);
    }
  });
});

describe('client ID metadata documents: validation', () => {
  const cases: { name: string; reason: string; route: (path: string) => string }[] = [
    { name: 'not JSON', reason: 'cimd.document_not_json', route: (p) => (docs.routes.set(p, { body: 'client_id=nope' }), docs.url(p)) },
    { name: 'a JSON array', reason: 'cimd.document_not_json', route: (p) => (docs.routes.set(p, { body: '[]' }), docs.url(p)) },
    { name: 'too large', reason: 'cimd.document_too_large', route: (p) => docs.document(p, doc({ padding: 'x'.repeat(MAX_DOCUMENT_BYTES) })) },
    { name: 'client_id of another URL', reason: 'cimd.client_id_mismatch', route: (p) => docs.document(p, (u) => ({ ...doc(), client_id: `${u}/other` })) },
    { name: 'client_id missing', reason: 'cimd.client_id_mismatch', route: (p) => docs.document(p, () => doc()) },
    { name: 'no redirect_uris', reason: 'cimd.invalid_redirect_uris', route: (p) => docs.document(p, doc({ redirect_uris: undefined })) },
    { name: 'empty redirect_uris', reason: 'cimd.invalid_redirect_uris', route: (p) => docs.document(p, doc({ redirect_uris: [] })) },
    { name: 'a relative redirect URI', reason: 'cimd.invalid_redirect_uris', route: (p) => docs.document(p, doc({ redirect_uris: ['/callback'] })) },
    { name: 'a redirect URI with a fragment', reason: 'cimd.invalid_redirect_uris', route: (p) => docs.document(p, doc({ redirect_uris: [`${WEB_REDIRECT}#x`] })) },
    { name: 'an http redirect URI off loopback', reason: 'cimd.invalid_redirect_uris', route: (p) => docs.document(p, doc({ redirect_uris: ['http://agent.example.com/cb'] })) },
    { name: 'client_secret_basic', reason: 'cimd.shared_secret_auth', route: (p) => docs.document(p, doc({ token_endpoint_auth_method: 'client_secret_basic' })) },
    { name: 'client_secret_post', reason: 'cimd.shared_secret_auth', route: (p) => docs.document(p, doc({ token_endpoint_auth_method: 'client_secret_post' })) },
    { name: 'a client_secret', reason: 'cimd.shared_secret_auth', route: (p) => docs.document(p, doc({ client_secret: 'shh' })) },
    { name: 'the client_credentials grant', reason: 'cimd.invalid_document', route: (p) => docs.document(p, doc({ grant_types: ['client_credentials'] })) },
    { name: 'a numeric client_name', reason: 'cimd.invalid_document', route: (p) => docs.document(p, doc({ client_name: 42 })) },
    { name: 'a javascript: logo_uri', reason: 'cimd.invalid_document', route: (p) => docs.document(p, doc({ logo_uri: 'javascript:alert(1)' })) },
    { name: 'private_key_jwt without keys', reason: 'cimd.invalid_document', route: (p) => docs.document(p, doc({ token_endpoint_auth_method: 'private_key_jwt' })) },
    { name: 'response_types token', reason: 'cimd.invalid_document', route: (p) => docs.document(p, doc({ response_types: ['token'] })) },
    { name: 'a 404', reason: 'cimd.fetch_failed', route: (p) => docs.url(p) },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} (${c.reason}) at the authorization endpoint as a page, and at the token endpoint as invalid_client`, async () => {
      const url = c.route(fresh('invalid'));
      await assertRefusedPage(await authorize(url), c.reason);
      await assertTokenRefused(await tokenRequest(server.url, { form: { grant_type: 'authorization_code', client_id: url, code: 'lk_ac_x', code_verifier: pkcePair().verifier } }), c.reason);
      assert.equal(await server.latchkey.storage.applications.byClientId(url), undefined, 'nothing is materialized');
    });
  }

  it('the refusal says what to fix: facts with the document URL and the problem', async () => {
    const url = docs.document(fresh('facts'), doc({ redirect_uris: ['/callback'] }));
    const page = await authorize(url);
    const refusal = await server.latchkey.storage.refusals.byRequestId(page.requestId);
    assert.equal(refusal?.reason, 'cimd.invalid_redirect_uris');
    assert.match(page.text, /redirect_uris of the client ID metadata document are not acceptable: \/callback is not an absolute URI/);
    assert.equal(refusal?.clientId, url);
  });

  it('a private_key_jwt client with jwks is a confidential application without a secret', async () => {
    const { generateTestKey, jwksOf } = await import('./helpers/idp-server.js');
    const key = await generateTestKey('ES256');
    const url = docs.document(fresh('pkjwt'), doc({ token_endpoint_auth_method: 'private_key_jwt', jwks: JSON.parse(jwksOf(key)) }));
    const page = await authorize(url);
    formFor(page, 'sign_in');
    const app = await server.latchkey.storage.applications.byClientId(url);
    assert.deepEqual([app?.public, app?.secretHash, typeof app?.jwks], [false, null, 'string']);
    // No secret works: it has none.
    const res = await tokenRequest(server.url, { form: { grant_type: 'authorization_code', code: 'lk_ac_x', code_verifier: pkcePair().verifier }, basic: [url, 'guess'] });
    assert.equal(res.status, 401);
  });
});

describe('client ID metadata documents: caching', () => {
  it('max-age is honoured: no fetch while fresh, a refetch after, and a changed document updates the application', async () => {
    const path = fresh('max-age');
    const url = docs.document(path, doc({ client_name: 'First name' }), { 'cache-control': 'public, max-age=600' });
    formFor(await authorize(url), 'sign_in');
    formFor(await authorize(url), 'sign_in');
    assert.equal(docs.hits.get(path), 1);
    clock.advance(300_000);
    formFor(await authorize(url), 'sign_in');
    assert.equal(docs.hits.get(path), 1, 'still fresh after 300 s');
    docs.document(path, doc({ client_name: 'Second name' }), { 'cache-control': 'max-age=600' });
    clock.advance(301_000);
    formFor(await authorize(url), 'sign_in');
    assert.equal(docs.hits.get(path), 2, 'fetched again after 601 s');
    assert.equal((await server.latchkey.storage.applications.byClientId(url))?.name, 'Second name');
  });

  it('no-store and no-cache are fetched again after the minimum (60 s), not on every request', async () => {
    for (const header of ['no-store', 'no-cache']) {
      const path = fresh(header);
      const url = docs.document(path, doc(), { 'cache-control': header });
      formFor(await authorize(url), 'sign_in');
      formFor(await authorize(url), 'sign_in');
      assert.equal(docs.hits.get(path), 1, header);
      clock.advance(61_000);
      formFor(await authorize(url), 'sign_in');
      assert.equal(docs.hits.get(path), 2, header);
    }
  });

  it('a long max-age is clamped to the maximum (24 h); Expires is read when there is no max-age', async () => {
    const path = fresh('clamped');
    const url = docs.document(path, doc(), { 'cache-control': 'max-age=31536000' });
    formFor(await authorize(url), 'sign_in');
    clock.advance(86_000_000);
    formFor(await authorize(url), 'sign_in');
    assert.equal(docs.hits.get(path), 1);
    clock.advance(500_000);
    formFor(await authorize(url), 'sign_in');
    assert.equal(docs.hits.get(path), 2, 'refetched after 24 h');
    const expiresPath = fresh('expires');
    const expiresUrl = docs.document(expiresPath, doc(), { date: new Date(0).toUTCString(), expires: new Date(1_200_000).toUTCString() });
    formFor(await authorize(expiresUrl), 'sign_in');
    clock.advance(1_000_000);
    formFor(await authorize(expiresUrl), 'sign_in');
    assert.equal(docs.hits.get(expiresPath), 1, 'Expires - Date = 1200 s');
    clock.advance(300_000);
    formFor(await authorize(expiresUrl), 'sign_in');
    assert.equal(docs.hits.get(expiresPath), 2);
  });

  it('a failed refetch of a known document keeps it within the grace period (1 h), then refuses', async () => {
    const path = fresh('grace');
    const url = docs.document(path, doc(), { 'cache-control': 'max-age=120' });
    formFor(await authorize(url), 'sign_in');
    docs.routes.set(path, { status: 503, body: 'down' });
    clock.advance(121_000);
    formFor(await authorize(url), 'sign_in');
    assert.equal(docs.hits.get(path), 2, 'it was asked');
    clock.advance(30 * 60_000);
    formFor(await authorize(url), 'sign_in');
    clock.advance(31 * 60_000);
    await assertRefusedPage(await authorize(url), 'cimd.fetch_failed');
    // An invalid new document is never covered by the grace.
    const bad = fresh('grace-invalid');
    const badUrl = docs.document(bad, doc(), { 'cache-control': 'max-age=60' });
    formFor(await authorize(badUrl), 'sign_in');
    docs.document(bad, doc({ redirect_uris: [] }));
    clock.advance(61_000);
    await assertRefusedPage(await authorize(badUrl), 'cimd.invalid_redirect_uris');
  });
});

describe('client ID metadata documents: trust policy', () => {
  it('allowed domains are trusted; another domain is refused once unknown domains are not allowed', async () => {
    const url = docs.document(fresh('trusted'), doc());
    try {
      await setProp('latchkey.cimd.allow_unknown_domains', 'false');
      const page = await authorize(url);
      await assertRefusedPage(page, 'cimd.domain_not_trusted');
      assert.match(page.text, /from 127\.0\.0\.1 are not trusted/);
      await setProp('latchkey.cimd.allowed_domains', '*.example.com, 127.0.0.1');
      formFor(await authorize(url), 'sign_in');
      await setProp('latchkey.cimd.allowed_domains', '*.example.com');
      await assertRefusedPage(await authorize(url), 'cimd.domain_not_trusted');
    } finally {
      await setProp('latchkey.cimd.allowed_domains', '');
      await setProp('latchkey.cimd.allow_unknown_domains', 'true');
    }
  });

  it('latchkey.cimd.enabled false refuses every document URL and leaves the flag out of discovery', async () => {
    const path = fresh('disabled');
    const url = docs.document(path, doc());
    try {
      await setProp('latchkey.cimd.enabled', 'false');
      await assertRefusedPage(await authorize(url), 'cimd.disabled');
      assert.equal(docs.hits.get(path), undefined, 'nothing fetched');
      const meta = (await (await fetch(`${server.url}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
      assert.equal(meta.client_id_metadata_document_supported, undefined);
    } finally {
      await setProp('latchkey.cimd.enabled', 'true');
    }
  });

  it('the doctor warns while any domain is trusted, and not once an allowed list narrows it', async () => {
    const ids = async () => (await runDoctor({ storage: server.latchkey.storage, router: server.latchkey.router, clock })).map((f) => f.id);
    assert.ok((await ids()).includes('cimd_trusts_any_domain'));
    try {
      await setProp('latchkey.cimd.allowed_domains', 'agents.example.com');
      assert.ok(!(await ids()).includes('cimd_trusts_any_domain'));
    } finally {
      await setProp('latchkey.cimd.allowed_domains', '');
    }
    await assert.rejects(setProperty(registryDeps(server, clock), 'latchkey.cimd.allowed_domains', 'https://not-a-host/'), /host names or \*\.example\.com patterns/);
  });
});

describe('client ID metadata documents: SSRF through client_id URLs', () => {
  it('a loopback document with latchkey.outbound.allow_private_networks off is not fetched', async () => {
    const path = fresh('loopback');
    const url = docs.document(path, doc());
    try {
      await setProp('latchkey.outbound.allow_private_networks', 'false');
      const page = await authorize(url);
      await assertRefusedPage(page, 'cimd.fetch_refused');
      assert.equal(docs.hits.get(path), undefined);
      const refusal = await server.latchkey.storage.refusals.byRequestId(page.requestId);
      assert.match(refusal?.hint ?? '', /127\.0\.0\.1 is a loopback address/);
    } finally {
      await setProp('latchkey.outbound.allow_private_networks', 'true');
    }
  });

  it('the cloud metadata address is refused even with private networks allowed', async () => {
    await assertRefusedPage(await authorize('https://169.254.169.254/latest/meta-data/client.json'), 'cimd.fetch_refused');
    await assertRefusedPage(await authorize('https://[::ffff:169.254.169.254]/client.json'), 'cimd.fetch_refused');
  });

  it('a redirect (to a private address) is not followed', async () => {
    const path = fresh('redirect');
    docs.routes.set(path, { status: 302, headers: { location: 'https://10.0.0.1/client.json' } });
    const page = await authorize(docs.url(path));
    await assertRefusedPage(page, 'cimd.fetch_failed');
    assert.match((await server.latchkey.storage.refusals.byRequestId(page.requestId))?.hint ?? page.text, /./);
  });

  it('http, a user name and password, a fragment, no path, and dot segments are refused before any fetch', async () => {
    const port = new URL(docs.origin).port;
    for (const url of [
      `http://127.0.0.1:${port}/client.json`,
      `https://user:pass@127.0.0.1:${port}/client.json`,
      `https://127.0.0.1:${port}/client.json#frag`,
      `https://127.0.0.1:${port}/`,
      `https://127.0.0.1:${port}/a/../client.json`,
      `ftp://127.0.0.1/client.json`,
    ]) {
      await assertRefusedPage(await authorize(url), 'cimd.invalid_client_id_url');
    }
    assert.equal([...docs.hits.keys()].filter((p) => p === '/client.json' || p === '/').length, 0);
  });

  it('a huge response (declared or streamed) is cut at 5 KB; a slow one at the deadline', async () => {
    const declared = fresh('huge-declared');
    docs.routes.set(declared, { body: Buffer.alloc(2 * 1024 * 1024, 0x20) });
    await assertRefusedPage(await authorize(docs.url(declared)), 'cimd.document_too_large');
    const streamed = fresh('huge-streamed');
    docs.routes.set(streamed, { headers: { 'transfer-encoding': 'chunked' }, body: Buffer.alloc(64 * 1024, 0x20) });
    await assertRefusedPage(await authorize(docs.url(streamed)), 'cimd.document_too_large');
    const slow = fresh('slow');
    docs.routes.set(slow, { stallMs: 10_000 });
    const page = await authorize(docs.url(slow));
    await assertRefusedPage(page, 'cimd.fetch_failed');
    assert.match(page.text, /could not be fetched/);
  });
});

describe('client ID metadata documents: limits and clean-up', () => {
  it('latchkey.cimd.new_clients_per_hour refuses the next new client of an unknown domain, not a refetch, not an allowed domain', async () => {
    const first = fresh('limit');
    const url1 = docs.document(first, doc({ client_name: 'Limited one' }));
    const url2 = docs.document(fresh('limit'), doc());
    const url3 = docs.document(fresh('limit'), doc());
    const url4 = docs.document(fresh('limit'), doc());
    try {
      await setProp('latchkey.cimd.new_clients_per_hour', '2');
      formFor(await authorize(url1), 'sign_in');
      formFor(await authorize(url2), 'sign_in');
      const refused = await authorize(url3);
      await assertRefusedPage(refused, 'cimd.new_client_limit');
      assert.match(refused.text, /try again later/);
      assert.equal(await server.latchkey.storage.applications.byClientId(url3), undefined, 'nothing stored');
      // A known one fetched again (and changed) is not a new client.
      docs.document(first, doc({ client_name: 'Limited one, renamed' }));
      clock.advance(3_601_000);
      formFor(await authorize(url1), 'sign_in');
      assert.equal(docs.hits.get(first), 2);
      assert.equal((await server.latchkey.storage.applications.byClientId(url1))?.name, 'Limited one, renamed');
      // Hosts in latchkey.cimd.allowed_domains are not counted.
      await setProp('latchkey.cimd.allowed_domains', '127.0.0.1');
      formFor(await authorize(url3), 'sign_in');
      formFor(await authorize(url4), 'sign_in');
      await setProp('latchkey.cimd.allowed_domains', '');
      await assertRefusedPage(await authorize(docs.document(fresh('limit'), doc())), 'cimd.new_client_limit');
      // 0: no limit.
      await setProp('latchkey.cimd.new_clients_per_hour', '0');
      formFor(await authorize(docs.document(fresh('limit'), doc())), 'sign_in');
    } finally {
      await setProp('latchkey.cimd.allowed_domains', '');
      await setProp('latchkey.cimd.new_clients_per_hour', '200');
    }
  });

  it('reaping deletes an active document application never used, keeps a used one and a deactivated one', async () => {
    const storage = server.latchkey.storage;
    const made = async (name: string) => {
      const url = docs.document(fresh(name), doc({ client_name: name }));
      formFor(await authorize(url), 'sign_in');
      const app = await storage.applications.byClientId(url);
      assert.ok(app !== undefined);
      return app;
    };
    const unused = await made('reap-unused');
    const used = await made('reap-used');
    const deactivated = await made('reap-deactivated');
    const day = clock.now() - (clock.now() % 86_400_000);
    await storage.usage.add([{ clientId: used.clientId, day, scope: '', tokens: 1, calls: 0, refusals: 0, lastUseAt: clock.now() }]);
    await storage.applications.update({ ...deactivated, active: false, updatedAt: clock.now() });
    await refreshCache(server);
    const deps = { ...registryDeps(server, clock), actor: 'test' };
    // Within the period nothing of them is a candidate.
    const early = await reapRegistrations(deps, { dryRun: true });
    assert.equal(early.candidates.some((c) => [unused.clientId, used.clientId, deactivated.clientId].includes(c.clientId)), false);
    clock.advance(31 * 86_400_000);
    const dry = await reapRegistrations(deps, { dryRun: true });
    const mine = (r: typeof dry) => r.candidates.filter((c) => [unused.clientId, used.clientId, deactivated.clientId].includes(c.clientId));
    assert.deepEqual(mine(dry).map((c) => [c.kind, c.clientId, c.name, c.lastUsedAt]), [['metadata_document', unused.clientId, 'reap-unused', null]]);
    assert.ok(await storage.applications.byClientId(unused.clientId), 'a dry run deletes nothing');
    const reaped = await reapRegistrations(deps);
    assert.deepEqual(mine(reaped).map((c) => c.clientId), [unused.clientId]);
    assert.ok(reaped.deleted >= 1);
    assert.equal(await storage.applications.byClientId(unused.clientId), undefined);
    assert.ok(await storage.applications.byClientId(used.clientId));
    assert.equal((await storage.applications.byClientId(deactivated.clientId))?.active, false);
    const [entry] = await storage.audit.list({ target: unused.clientId, action: 'application.delete', limit: 1 });
    assert.equal(entry?.actor, 'test');
    // Made again from its document on its next use.
    await refreshCache(server);
    formFor(await authorize(unused.clientId), 'sign_in');
    assert.ok(await storage.applications.byClientId(unused.clientId));
  });
});
