/**
 * The device authorization grant (RFC 8628) over real HTTP, with oauth4webapi as the device and a
 * cookie-keeping HTTP client as the user's browser on the user-code page: the whole flow (code
 * entry, sign-in with CSRF, consent, approval), every error of §3.5, single use under concurrent
 * polls, the brute-force limit on user codes, normalisation, and the polling interval shared by two
 * instances on one database. Runs on SQLite and on PostgreSQL (LATCHKEY_TEST_STORAGE).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oauth from 'oauth4webapi';
import { DEVICE_CODE_GRANT } from '../src/grants/grant-type.js';
import { createApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { Browser, formFor, hasForm, type Page } from './helpers/browser.js';
import { ManualClock, refreshCache, registryDeps } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { main } from '../src/cli/main.js';
import { userCodeHash } from '../src/grants/device-code-format.js';
import { KEY_PURPOSE } from '../src/web/signing.js';
import { adminFetch, adminToken } from './helpers/admin.js';
import { launchChromium } from './helpers/chromium.js';

const PW = 'correct horse battery staple 42';
const insecure = { [oauth.allowInsecureRequests]: true } as const;

describe('device authorization grant (RFC 8628)', () => {
  const clock = new ManualClock();
  let server: TestServer;
  let as: oauth.AuthorizationServer;
  let client: oauth.Client;
  let other: oauth.Client;

  before(async () => {
    server = await startTestServer({ clock });
    const deps = registryDeps(server, clock);
    await createScope(deps, 'read');
    await createUser(deps, { userName: 'alice', password: PW });
    const app = await createApplication(deps, { name: 'Device CLI', public: true, grantTypes: [DEVICE_CODE_GRANT, 'refresh_token'], scopes: ['openid', 'read'] });
    const second = await createApplication(deps, { name: 'Other CLI', public: true, grantTypes: [DEVICE_CODE_GRANT], scopes: ['read'] });
    await refreshCache(server);
    client = { client_id: app.application.clientId };
    other = { client_id: second.application.clientId };
    as = await oauth.processDiscoveryResponse(new URL(server.url), await oauth.discoveryRequest(new URL(server.url), { ...insecure, algorithm: 'oauth2' }));
  });
  after(async () => server.close());

  const start = async (c: oauth.Client = client, scope = 'openid read') =>
    oauth.processDeviceAuthorizationResponse(as, c, await oauth.deviceAuthorizationRequest(as, c, oauth.None(), { scope }, insecure));
  const poll = async (deviceCode: string, c: oauth.Client = client) => oauth.processDeviceCodeResponse(as, c, await oauth.deviceCodeGrantRequest(as, c, oauth.None(), deviceCode, insecure));
  /** The RFC 6749 §5.2 error code a poll is refused with. */
  const refusedWith = async (deviceCode: string, c: oauth.Client = client): Promise<string> => {
    try {
      await poll(deviceCode, c);
    } catch (error) {
      if (error instanceof oauth.ResponseBodyError) return error.error;
      throw error;
    }
    assert.fail('the poll was answered with tokens');
  };
  const waitInterval = (seconds: number) => clock.advance(seconds * 1000 + 1);

  /** The user, in a browser: opens the verification URI, enters the code (if not prefilled), signs in, decides. */
  async function approveInBrowser(url: string, decision: 'allow' | 'deny', typed?: string, browser = new Browser(server.url)): Promise<Page> {
    const entry = await browser.get(url);
    assert.equal(entry.status, 200, entry.text.slice(0, 500));
    const form = formFor(entry, 'device_code');
    // A browser sends the text field as shown (prefilled from verification_uri_complete) unless the user types.
    const shown = /name="user_code" value="([^"]*)"/.exec(entry.text)?.[1] ?? '';
    let page = await browser.submit(url, form, { user_code: typed ?? shown });
    if (hasForm(page, 'sign_in')) {
      assert.match(page.text, /Sign in/);
      page = await browser.submit(url, formFor(page, 'sign_in'), { username: 'alice', password: PW });
    }
    assert.equal(page.status, 200, page.text.slice(0, 1500));
    const consent = formFor(page, 'device_consent');
    const done = await browser.submit(url, consent, { decision });
    assert.equal(done.status, 200, done.text.slice(0, 1500));
    return page;
  }

  it('advertises the device authorization endpoint and the grant', () => {
    assert.equal(as.device_authorization_endpoint, `${server.url}/oauth/device_authorization`);
    assert.ok(as.grant_types_supported?.includes(DEVICE_CODE_GRANT));
  });

  it('runs the whole flow: pending until the user approves on the user-code page, then tokens with an ID token', async () => {
    const d = await start();
    assert.match(d.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
    assert.equal(d.verification_uri, `${server.url}/oauth/device`);
    assert.equal(d.verification_uri_complete, `${server.url}/oauth/device?user_code=${d.user_code}`);
    assert.equal(d.expires_in, 600);
    assert.equal(d.interval, 5);
    assert.match(d.device_code, /^lk_dc_/);
    assert.equal(await refusedWith(d.device_code), 'authorization_pending');
    // From verification_uri_complete the field is prefilled: the user only confirms.
    const browser = new Browser(server.url);
    const entry = await browser.get(d.verification_uri_complete ?? '');
    assert.ok(entry.text.includes(`value="${d.user_code}"`), 'the code is prefilled');
    assert.match(entry.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    const consentPage = await approveInBrowser(d.verification_uri_complete ?? '', 'allow', undefined, browser);
    assert.ok(consentPage.text.includes(d.user_code), 'the consent page shows the code to compare');
    assert.match(consentPage.text, /Device CLI/);
    assert.match(consentPage.text, /<span class="scope">read<\/span>/);
    waitInterval(5);
    const tokens = await poll(d.device_code);
    assert.equal(tokens.token_type.toLowerCase(), 'bearer');
    assert.equal(tokens.scope, 'openid read');
    assert.ok(typeof tokens.refresh_token === 'string', 'a refresh token: the application allows refresh_token');
    const claims = oauth.getValidatedIdTokenClaims(tokens);
    assert.equal(claims?.aud, client.client_id);
    assert.ok(typeof claims?.auth_time === 'number');
    const record = await server.latchkey.storage.tokens.byHash((await server.latchkey.storage.tokens.list({ limit: 5 })).find((t) => t.kind === 'access')?.hash ?? '');
    assert.equal(record?.grantType, DEVICE_CODE_GRANT);
    // Single use: the approved code gave its tokens; polling again is invalid_grant.
    waitInterval(5);
    assert.equal(await refusedWith(d.device_code), 'invalid_grant');
    // Stored as hashes only.
    const stored = JSON.stringify(await server.latchkey.storage.deviceCodes.exportAll());
    assert.ok(!stored.includes(d.device_code) && !stored.includes(d.user_code) && !stored.includes(d.user_code.replace('-', '')), 'no code in the clear at rest');
  });

  it('answers slow_down to a poll sooner than the interval, and adds 5 seconds each time', async () => {
    const d = await start();
    assert.equal(await refusedWith(d.device_code), 'authorization_pending');
    clock.advance(1000);
    assert.equal(await refusedWith(d.device_code), 'slow_down');
    // The interval is now 10 s: 6 s later is still too soon (and adds 5 more: 15 s).
    clock.advance(6000);
    assert.equal(await refusedWith(d.device_code), 'slow_down');
    waitInterval(15);
    assert.equal(await refusedWith(d.device_code), 'authorization_pending');
    const row = (await server.latchkey.storage.deviceCodes.listPending(clock.now())).find((r) => r.intervalSeconds === 15);
    assert.ok(row !== undefined, 'the grown interval is stored');
  });

  it('answers access_denied when the user denies, and then keeps refusing', async () => {
    const d = await start();
    await approveInBrowser(d.verification_uri, 'deny', d.user_code);
    assert.equal(await refusedWith(d.device_code), 'access_denied');
    waitInterval(5);
    assert.equal(await refusedWith(d.device_code), 'access_denied');
  });

  it('answers expired_token once the code has expired, and the page refuses the code', async () => {
    const d = await start();
    clock.advance(600_001);
    assert.equal(await refusedWith(d.device_code), 'expired_token');
    const browser = new Browser(server.url);
    const entry = await browser.get(d.verification_uri);
    const page = await browser.submit(d.verification_uri, formFor(entry, 'device_code'), { user_code: d.user_code });
    assert.equal(page.status, 400);
    assert.match(page.text, /not valid/);
    const refusal = await server.latchkey.storage.refusals.byRequestId(page.requestId);
    assert.equal(refusal?.reason, 'device.user_code_unknown');
    assert.equal(refusal?.endpoint, 'device');
  });

  it('gives tokens to exactly one of concurrent polls of an approved code', async () => {
    const d = await start(client, 'read');
    await approveInBrowser(d.verification_uri, 'allow', d.user_code);
    waitInterval(5);
    const results = await Promise.allSettled(Array.from({ length: 6 }, () => poll(d.device_code)));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    assert.equal(won.length, 1, JSON.stringify(results.map((r) => r.status)));
    for (const r of lost) assert.equal((r.reason as oauth.ResponseBodyError).error, 'invalid_grant');
  });

  it('normalises the typed user code: case, dashes and spaces do not matter', async () => {
    const d = await start(client, 'read');
    const typed = ` ${d.user_code.toLowerCase().replace('-', ' ')} `;
    await approveInBrowser(d.verification_uri, 'allow', typed);
    waitInterval(5);
    assert.equal((await poll(d.device_code)).scope, 'read');
  });

  it('goes straight to consent when the browser is already signed in (the sign-in session of the authorization endpoint)', async () => {
    const browser = new Browser(server.url);
    const first = await start(client, 'read');
    await approveInBrowser(first.verification_uri, 'allow', first.user_code, browser);
    const second = await start(client, 'read');
    const entry = await browser.get(second.verification_uri);
    const page = await browser.submit(second.verification_uri, formFor(entry, 'device_code'), { user_code: second.user_code });
    assert.ok(!hasForm(page, 'sign_in'), 'no second sign-in');
    assert.match(page.text, /Signed in as <strong>alice<\/strong>/);
    await browser.submit(second.verification_uri, formFor(page, 'device_consent'), { decision: 'allow' });
    waitInterval(5);
    assert.equal((await poll(second.device_code)).scope, 'read');
  });

  it('refuses an unknown device code and a code polled by another client, without consuming it', async () => {
    assert.equal(await refusedWith('lk_dc_000000000000notacodeatallnotacodeatallnotacodeatall'), 'invalid_grant');
    const d = await start(client, 'read');
    const res = await oauth.deviceCodeGrantRequest(as, other, oauth.None(), d.device_code, insecure);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'invalid_grant');
    const refusal = await server.latchkey.storage.refusals.byRequestId(res.headers.get('x-request-id') ?? '');
    assert.equal(refusal?.reason, 'device.wrong_client');
    await approveInBrowser(d.verification_uri, 'allow', d.user_code);
    assert.equal(await refusedWith(d.device_code, other), 'invalid_grant');
    assert.equal((await poll(d.device_code)).scope, 'read', 'the rightful client still gets its tokens');
  });

  it('refuses a device authorization request for an application without the grant, and a scope it is not allowed', async () => {
    const deps = registryDeps(server, clock);
    const cc = await createApplication(deps, { name: 'No device', public: true, grantTypes: ['authorization_code'], redirectUris: ['https://x.test/cb'], scopes: ['read'] });
    await refreshCache(server);
    const res = await oauth.deviceAuthorizationRequest(as, { client_id: cc.application.clientId }, oauth.None(), { scope: 'read' }, insecure);
    assert.equal(res.status, 400);
    assert.equal(((await res.json()) as { error: string }).error, 'unauthorized_client');
    const scoped = await oauth.deviceAuthorizationRequest(as, client, oauth.None(), { scope: 'write' }, insecure);
    assert.equal(scoped.status, 400);
    assert.equal(((await scoped.json()) as { error: string }).error, 'invalid_scope');
    const get = await fetch(`${server.url}/oauth/device_authorization`);
    assert.equal(get.status, 400);
    assert.equal(get.headers.get('allow'), 'POST');
  });

  it('limits user-code entries per source address and shows a clear page when exceeded', async () => {
    await setProperty(registryDeps(server, clock), 'latchkey.device.user_code_attempts', '3');
    await refreshCache(server);
    try {
      const browser = new Browser(server.url);
      const url = `${server.url}/oauth/device`;
      for (let i = 0; i < 3; i++) {
        const entry = await browser.get(url);
        const page = await browser.submit(url, formFor(entry, 'device_code'), { user_code: 'BCDF-GHJK' });
        assert.equal(page.status, 400, `attempt ${i + 1}`);
      }
      const entry = await browser.get(url);
      const limited = await browser.submit(url, formFor(entry, 'device_code'), { user_code: 'BCDF-GHJL' });
      assert.equal(limited.status, 429);
      assert.match(limited.text, /Too many attempts/);
      assert.ok(Number(limited.headers.get('retry-after')) > 0);
      const refusal = await server.latchkey.storage.refusals.byRequestId(limited.requestId);
      assert.equal(refusal?.reason, 'device.user_code_rate_limited');
      // Even a right code is refused while the limit holds.
      const d = await start(client, 'read');
      const again = await browser.submit(url, formFor(await browser.get(url), 'device_code'), { user_code: d.user_code });
      assert.equal(again.status, 429);
    } finally {
      await setProperty(registryDeps(server, clock), 'latchkey.device.user_code_attempts', '10');
      await refreshCache(server);
    }
  });

  it('refuses a consent form without its CSRF token, and a tampered ticket', async () => {
    const d = await start(client, 'read');
    const browser = new Browser(server.url);
    const entry = await browser.get(d.verification_uri);
    const signIn = await browser.submit(d.verification_uri, formFor(entry, 'device_code'), { user_code: d.user_code });
    const form = formFor(signIn, 'sign_in');
    const forged = await browser.submit(d.verification_uri, form, { username: 'alice', password: PW, lk_csrf: 'x' });
    assert.equal(forged.status, 403);
    const tampered = await browser.submit(d.verification_uri, form, { username: 'alice', password: PW, lk_request: `${form.fields.lk_request}x` });
    assert.equal(tampered.status, 400);
    assert.ok(hasForm(tampered, 'device_code'), 'back to the code entry');
  });

  it('shares the polling interval across two instances on one database', async () => {
    const second = await startTestServer({ clock, shareDb: { db: server.db, storageKind: server.storageKind } });
    try {
      const d = await start(client, 'read');
      assert.equal(await refusedWith(d.device_code), 'authorization_pending');
      clock.advance(1000);
      const res = await oauth.deviceCodeGrantRequest({ ...as, token_endpoint: `${second.url}/oauth/token` }, client, oauth.None(), d.device_code, insecure);
      assert.equal(res.status, 400);
      assert.equal(((await res.json()) as { error: string }).error, 'slow_down', 'the other instance knows of the first poll');
    } finally {
      await second.close();
    }
  });

  it('lists pending device authorizations on the admin API and denies one there', async () => {
    const d = await start(client, 'read');
    const bearer = { authorization: `Bearer ${await adminToken(server)}` };
    const list = await adminFetch(server, 'GET', '/device-authorizations', { headers: bearer });
    assert.equal(list.status, 200, list.text);
    const pending = (list.json as { pending: { id: string; clientId: string; scopes: string[] }[] }).pending;
    const mine = pending.find((p) => p.clientId === client.client_id && p.scopes.join(' ') === 'read');
    assert.ok(mine !== undefined, list.text);
    assert.ok(!list.text.includes(d.device_code) && !list.text.includes(d.user_code), 'no code is shown');
    const denied = await adminFetch(server, 'DELETE', `/device-authorizations/${mine.id}`, { headers: bearer });
    assert.equal(denied.status, 200, denied.text);
    assert.equal(await refusedWith(d.device_code), 'access_denied');
    assert.equal((await adminFetch(server, 'DELETE', `/device-authorizations/${mine.id}`, { headers: bearer })).status, 404);
    const [entry] = await server.latchkey.storage.audit.list({ action: 'device.denied', limit: 1 });
    assert.equal(entry?.target, mine.id);
  });

  it('lists pending device authorizations with `latchkey devices list` and denies one with `devices deny`', async () => {
    const d = await start(client, 'read');
    const cli = async (args: string[]) => {
      let out = '';
      let err = '';
      const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t), readStdin: async () => '' };
      const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
      return { code, out, err };
    };
    const listed = await cli(['devices', 'list', '--json']);
    assert.equal(listed.code, 0, listed.err);
    const mine = (JSON.parse(listed.out) as { id: string; clientId: string; scopes: string[] }[]).find((p) => p.clientId === client.client_id && p.scopes.join(' ') === 'read');
    assert.ok(mine !== undefined, listed.out);
    assert.ok(!listed.out.includes(d.device_code) && !listed.out.includes(d.user_code), 'no code is shown');
    assert.ok(!/deviceHash|userHash/.test(listed.out), 'nor their hashes');
    const table = await cli(['devices', 'list']);
    assert.match(table.out, /^ID +APPLICATION +SCOPES +EXPIRES IN +INTERVAL +LAST POLL/m);
    assert.ok(table.out.includes(`latchkey devices deny `), 'the next step to deny one');
    const denied = await cli(['devices', 'deny', mine.id, '--yes']);
    assert.equal(denied.code, 0, denied.err);
    assert.match(denied.out, /denied: its next poll gets access_denied/);
    await refreshCache(server);
    assert.equal(await refusedWith(d.device_code), 'access_denied');
    const again = await cli(['devices', 'deny', mine.id, '--yes']);
    assert.notEqual(again.code, 0);
    assert.match(again.err, /No pending device authorization has the id .*latchkey devices list/s);
  });

  it('`apps create` with the device grant prints how to run the flow', async () => {
    let out = '';
    const io = { out: (t: string) => void (out += t), err: (t: string) => void (out += t), readStdin: async () => '' };
    assert.equal(await main(['node', 'latchkey', 'apps', 'create', '--name', 'Device next step', '--grants', 'device_code', '--public', '--scopes', 'read', '--db', server.db], io), 0, out);
    const clientId = /Client id\s+([0-9a-f]{32})/.exec(out)?.[1];
    assert.ok(clientId !== undefined, out);
    assert.ok(out.includes(`latchkey login --device --issuer http://localhost:8080 --client-id ${clientId}`), out);
    assert.ok(out.includes(`curl -d client_id=${clientId} -d scope=read http://localhost:8080/oauth/device_authorization`), out);
  });

  it('stores the user code only as a hash keyed from the key-encryption key (a database copy alone does not give it back)', async () => {
    const d = await start(client, 'read');
    const normalised = d.user_code.replace('-', '');
    const keyed = userCodeHash(normalised, server.latchkey.secrets.derive(KEY_PURPOSE.deviceUserCode));
    const found = await server.latchkey.storage.deviceCodes.byUserHash(keyed);
    assert.ok(found !== undefined, 'found by the keyed hash');
    assert.equal(found.userHash, keyed);
    assert.equal(await server.latchkey.storage.deviceCodes.byUserHash(userCodeHash(normalised, undefined)), undefined, 'not by the unkeyed SHA-256');
  });

  it('never answers 5xx to odd input', async () => {
    const bodies = ['', 'client_id=', `client_id=${client.client_id}&scope=%00`, `client_id=${client.client_id}&resource=notauri`, `client_id=${client.client_id}&resource=https://unknown.test/`, 'a'.repeat(5000), `client_id=${client.client_id}&client_id=x`];
    for (const body of bodies) {
      const res = await fetch(`${server.url}/oauth/device_authorization`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} for ${body.slice(0, 40)}`);
    }
    const browser = new Browser(server.url);
    const forms: Record<string, string>[] = [{}, { lk_action: 'device_code' }, { lk_action: 'nope' }, { lk_action: 'device_consent', lk_request: 'x.y' }];
    for (const form of forms) {
      const page = await browser.request(`${server.url}/oauth/device`, { form });
      assert.ok(page.status >= 400 && page.status < 500, `${page.status} for ${JSON.stringify(form)}`);
    }
    const odd = await browser.get(`${server.url}/oauth/device?user_code=${'%FF'.repeat(30)}`);
    assert.equal(odd.status, 200);
  });
});

describe('latchkey login --device', () => {
  let server: TestServer;
  let clientId: string;

  before(async () => {
    server = await startTestServer();
    const deps = registryDeps(server);
    await createScope(deps, 'read');
    await createUser(deps, { userName: 'alice', password: PW });
    const app = await createApplication(deps, { name: 'Login CLI', public: true, grantTypes: [DEVICE_CODE_GRANT], scopes: ['read'] });
    clientId = app.application.clientId;
    // One second between polls, so the command finishes quickly.
    await setProperty(deps, 'latchkey.device.interval', '1');
    await refreshCache(server);
  });
  after(async () => server.close());

  /** Runs the command in process; resolves with its exit code and output once it ends. */
  function run(args: string[]) {
    let out = '';
    let err = '';
    const io = { out: (t: string) => void (out += t), err: (t: string) => void (err += t), readStdin: async () => '' };
    const done = main(['node', 'latchkey', 'login', '--device', ...args], io);
    return { done, out: () => out, err: () => err };
  }

  it('shows the code, waits with a progress line, and prints the token response once approved', async () => {
    const cli = run(['--issuer', server.url, '--client-id', clientId, '--scope', 'read']);
    // Bounded wait for the code on standard error.
    const deadline = Date.now() + 10_000;
    let code: string | undefined;
    while (code === undefined && Date.now() < deadline) {
      code = /\n {4}([A-Z]{4}-[A-Z]{4})\n/.exec(cli.err())?.[1];
      if (code === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(code !== undefined, cli.err());
    assert.match(cli.err(), new RegExp(`open ${server.url}/oauth/device and enter the code`));
    assert.ok(cli.err().includes(`${server.url}/oauth/device?user_code=${code}`), 'the complete URL is shown');
    // Let it poll once while pending (one second), then approve in the browser.
    await new Promise((r) => setTimeout(r, 1300));
    const browser = new Browser(server.url);
    const url = `${server.url}/oauth/device`;
    const signIn = await browser.submit(url, formFor(await browser.get(url), 'device_code'), { user_code: code });
    const consent = await browser.submit(url, formFor(signIn, 'sign_in'), { username: 'alice', password: PW });
    assert.equal((await browser.submit(url, formFor(consent, 'device_consent'), { decision: 'allow' })).status, 200);
    assert.equal(await cli.done, 0, cli.err());
    assert.match(cli.err(), /Waiting for approval\.\.\. \d+ s \(polling every 1 s\)/);
    const body = JSON.parse(cli.out()) as { access_token?: string; scope?: string };
    assert.equal(body.scope, 'read');
    assert.ok(typeof body.access_token === 'string');
  });

  it('exits 1 saying so when the user denies, and 2 without the options', async () => {
    const cli = run(['--url', server.url, '--client-id', clientId, '--quiet']);
    const deadline = Date.now() + 10_000;
    let code: string | undefined;
    while (code === undefined && Date.now() < deadline) {
      code = /\n {4}([A-Z]{4}-[A-Z]{4})\n/.exec(cli.err())?.[1];
      if (code === undefined) await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(code !== undefined, cli.err());
    const browser = new Browser(server.url);
    const url = `${server.url}/oauth/device`;
    const signIn = await browser.submit(url, formFor(await browser.get(url), 'device_code'), { user_code: code });
    const consent = await browser.submit(url, formFor(signIn, 'sign_in'), { username: 'alice', password: PW });
    await browser.submit(url, formFor(consent, 'device_consent'), { decision: 'deny' });
    assert.equal(await cli.done, 1);
    assert.match(cli.err(), /error: The request was denied\./);
    assert.equal(cli.out(), '');
    const missing = run(['--client-id', clientId]);
    assert.equal(await missing.done, 2);
    assert.match(missing.err(), /--issuer \(or --url\) and --client-id are required/);
  });

  it('is approved in Chromium: the user-code page from verification_uri_complete, sign-in, consent', async () => {
    const res = await fetch(`${server.url}/oauth/device_authorization`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: clientId, scope: 'read' }).toString() });
    const d = (await res.json()) as { device_code: string; user_code: string; verification_uri_complete: string };
    const chromium = await launchChromium();
    try {
      const page = await chromium.newPage();
      await page.goto(d.verification_uri_complete);
      assert.equal(await page.inputValue('#user_code'), d.user_code, 'prefilled');
      await page.click('button[type=submit]');
      await page.fill('#username', 'alice');
      await page.fill('#password', PW);
      await page.click('button[type=submit]');
      assert.equal(await page.textContent('#device-user-code'), d.user_code, 'the code to compare');
      await page.click('button[value=allow]');
      await page.waitForSelector('text=Device connected');
    } finally {
      await chromium.close();
    }
    const token = await fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: DEVICE_CODE_GRANT, device_code: d.device_code, client_id: clientId }).toString() });
    assert.equal(token.status, 200, await token.clone().text());
    assert.equal(((await token.json()) as { scope: string }).scope, 'read');
  });
});
