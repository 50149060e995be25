import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet, type JWTPayload } from 'jose';
import * as openid from 'openid-client';
import { createApplication } from '../src/registry/applications.js';
import { createUser } from '../src/registry/users.js';
import { BACKCHANNEL_ATTEMPTS, BACKCHANNEL_LOGOUT_EVENT } from '../src/oidc/backchannel-logout.js';
import { adminToken, bearerClient } from './helpers/admin.js';
import { authorizeInBrowser, Browser, formFor, hasForm, type Page } from './helpers/browser.js';
import { refreshCache, registryDeps } from './helpers/oauth.js';
import { startTestServer, TEST_KEK, type TestServer } from './helpers/server.js';
import { main } from '../src/cli/main.js';
import type { IO } from '../src/cli/context.js';

const PW = 'alice-logout-password';
const CALLBACK = 'https://rp.example.com/callback';
const SIGNED_OUT = 'https://rp.example.com/signed-out?from=latchkey';

/** A relying party's back-channel logout endpoint on 127.0.0.1: records what it is sent, answers `status`. */
interface Receiver {
  readonly url: string;
  readonly received: { contentType: string | undefined; body: URLSearchParams }[];
  status: number;
  close(): Promise<void>;
}

async function startReceiver(): Promise<Receiver> {
  const received: Receiver['received'] = [];
  const state = { status: 200 };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ contentType: req.headers['content-type'], body: new URLSearchParams(Buffer.concat(chunks).toString('utf8')) });
      res.writeHead(state.status, { 'cache-control': 'no-store' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/backchannel-logout`,
    received,
    get status() {
      return state.status;
    },
    set status(v: number) {
      state.status = v;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('OpenID Connect logout: RP-Initiated Logout 1.0 and Back-Channel Logout 1.0', () => {
  let server: TestServer;
  let receiver: Receiver;
  let rp: { clientId: string; secret: string };
  let other: { clientId: string; secret: string };
  let aliceId: string;
  const insecure = { execute: [openid.allowInsecureRequests] };

  before(async () => {
    // The receiver listens on 127.0.0.1 over http: the outbound rules allow it only on test networks.
    server = await startTestServer({ allowPrivateNetworks: true });
    receiver = await startReceiver();
    const deps = registryDeps(server);
    aliceId = (await createUser(deps, { userName: 'alice', password: PW })).user.id;
    const grants = ['authorization_code', 'refresh_token'];
    const a = await createApplication(deps, {
      name: 'Wiki',
      grantTypes: grants,
      redirectUris: [CALLBACK],
      scopes: ['openid'],
      postLogoutRedirectUris: [SIGNED_OUT],
      backchannelLogoutUri: receiver.url,
      backchannelLogoutSessionRequired: true,
    });
    rp = { clientId: a.application.clientId, secret: a.clientSecret ?? '' };
    const b = await createApplication(deps, { name: 'Other', grantTypes: grants, redirectUris: [CALLBACK], scopes: ['openid'] });
    other = { clientId: b.application.clientId, secret: b.clientSecret ?? '' };
    await refreshCache(server);
  });
  after(async () => {
    await server?.close();
    await receiver?.close();
  });

  const discover = (c: { clientId: string; secret: string }) => openid.discovery(new URL(server.url), c.clientId, undefined, openid.ClientSecretBasic(c.secret), insecure);

  /** Signs alice in through the pages in `browser` and redeems the code: the ID token and its claims. */
  async function signIn(config: openid.Configuration, browser: Browser) {
    const pkceCodeVerifier = openid.randomPKCECodeVerifier();
    const state = openid.randomState();
    const nonce = openid.randomNonce();
    const url = openid.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await openid.calculatePKCECodeChallenge(pkceCodeVerifier), code_challenge_method: 'S256', state, nonce });
    const answer = await authorizeInBrowser(browser, url.toString(), hasForm(await browser.get(url.toString()), 'sign_in') ? { username: 'alice', password: PW } : undefined);
    const tokens = await openid.authorizationCodeGrant(config, new URL(answer.location ?? ''), { pkceCodeVerifier, expectedState: state, expectedNonce: nonce, idTokenExpected: true });
    const claims = tokens.claims();
    assert.ok(claims !== undefined && typeof claims.sid === 'string');
    return { idToken: tokens.id_token ?? '', claims };
  }

  /** Whether the browser is asked to sign in again by a new authorization request. */
  async function asksSignIn(config: openid.Configuration, browser: Browser): Promise<boolean> {
    const url = openid.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', code_challenge: await openid.calculatePKCECodeChallenge(openid.randomPKCECodeVerifier()), code_challenge_method: 'S256', state: 's' });
    const page = await browser.get(url.toString());
    assert.equal(page.status, 200);
    return hasForm(page, 'sign_in');
  }

  async function jwks(): Promise<JSONWebKeySet> {
    return (await (await fetch(`${server.url}/oauth/jwks`)).json()) as JSONWebKeySet;
  }

  /** Back-Channel Logout 1.0 §2.6, as a receiver checks a logout token. */
  async function validateLogoutToken(token: string, expected: { sub: string; sid: string; clientId: string }): Promise<JWTPayload> {
    const header = decodeProtectedHeader(token);
    assert.equal(header.typ, 'logout+jwt');
    const { payload } = await jwtVerify(token, createLocalJWKSet(await jwks()), { issuer: server.url, audience: expected.clientId, typ: 'logout+jwt', algorithms: ['RS256'], maxTokenAge: '2 minutes' });
    assert.equal(typeof payload.iat, 'number');
    assert.equal(typeof payload.exp, 'number');
    assert.ok((payload.exp ?? 0) - (payload.iat ?? 0) <= 120, 'a short lifetime');
    assert.equal(typeof payload.jti, 'string');
    assert.ok((payload.jti ?? '').length >= 16);
    const events = payload.events as Record<string, unknown> | undefined;
    assert.deepEqual(events?.[BACKCHANNEL_LOGOUT_EVENT], {});
    assert.equal(payload.sid, expected.sid);
    assert.equal(payload.sub, expected.sub);
    assert.equal(payload.aud, expected.clientId);
    assert.equal(Object.hasOwn(payload, 'nonce'), false, 'a logout token MUST NOT carry a nonce (§2.4)');
    return payload;
  }

  async function delivered(count: number): Promise<Receiver['received']> {
    const deadline = Date.now() + 20_000;
    while (receiver.received.length < count && Date.now() < deadline) {
      await server.latchkey.backchannel.idle();
      if (receiver.received.length < count) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(receiver.received.length, count, 'logout tokens received');
    return receiver.received;
  }

  async function refusalOf(page: Page) {
    const refusal = await server.latchkey.storage.refusals.byRequestId(page.requestId);
    assert.ok(refusal !== undefined, `a refusal recorded for ${page.requestId}`);
    assert.equal(refusal.endpoint, 'logout');
    return refusal;
  }

  it('discovery names the end-session endpoint and back-channel logout', async () => {
    const config = await discover(rp);
    const meta = config.serverMetadata();
    assert.equal(meta.end_session_endpoint, `${server.url}/oauth/logout`);
    assert.equal(meta.backchannel_logout_supported, true);
    assert.equal(meta.backchannel_logout_session_supported, true);
  });

  it('asks "Sign out of Latchkey?", ends the session, redirects with state and tells the application over the back channel', async () => {
    const config = await discover(rp);
    const browser = new Browser(server.url);
    const { claims } = await signIn(config, browser);
    receiver.received.length = 0;
    const state = openid.randomState();
    const url = openid.buildEndSessionUrl(config, { post_logout_redirect_uri: SIGNED_OUT, state });
    const page = await browser.get(url.toString());
    assert.equal(page.status, 200);
    assert.match(page.text, /Sign out of Latchkey\?/);
    assert.match(page.text, /alice/);
    assert.equal(page.location, undefined);
    // Not signed out by showing the page.
    assert.equal(await asksSignIn(config, browser), false);
    const form = formFor(page, 'logout');
    // A forged CSRF token signs nobody out.
    const forged = await browser.submit(url.toString(), { ...form, fields: { ...form.fields, lk_csrf: 'forged' } }, { decision: 'sign_out' });
    assert.equal(forged.status, 403);
    assert.equal((await refusalOf(forged)).reason, 'logout.csrf_failed');
    assert.equal(await asksSignIn(config, browser), false);

    const done = await browser.submit(url.toString(), form, { decision: 'sign_out' });
    assert.equal(done.status, 303);
    const location = new URL(done.location ?? '');
    assert.equal(`${location.origin}${location.pathname}`, 'https://rp.example.com/signed-out');
    assert.equal(location.searchParams.get('from'), 'latchkey', 'the registered query is kept');
    assert.equal(location.searchParams.get('state'), state);
    assert.ok(done.setCookies.some((c) => /max-age=0/i.test(c)), 'the session cookie is cleared');
    assert.equal(await asksSignIn(config, browser), true, 'a later authorization request asks to sign in again');

    const [got] = await delivered(1);
    assert.equal(got?.contentType, 'application/x-www-form-urlencoded');
    await validateLogoutToken(got?.body.get('logout_token') ?? '', { sub: aliceId, sid: String(claims.sid), clientId: rp.clientId });
    const [entry] = await server.latchkey.storage.audit.list({ target: rp.clientId, action: 'application.backchannel_logout', limit: 1 });
    assert.equal((JSON.parse(entry?.after ?? '{}') as { delivered?: boolean }).delivered, true);
    assert.doesNotMatch(JSON.stringify(entry), /eyJ/, 'no token in the audit log');
  });

  it('signs out directly with an id_token_hint of the current session; "You are signed out" without a redirect URI', async () => {
    const config = await discover(rp);
    const browser = new Browser(server.url);
    const { idToken, claims } = await signIn(config, browser);
    receiver.received.length = 0;
    const page = await browser.get(openid.buildEndSessionUrl(config, { id_token_hint: idToken }).toString());
    assert.equal(page.status, 200);
    assert.match(page.text, /You are signed out/);
    assert.equal(await asksSignIn(config, browser), true);
    const [got] = await delivered(1);
    await validateLogoutToken(got?.body.get('logout_token') ?? '', { sub: aliceId, sid: String(claims.sid), clientId: rp.clientId });
  });

  it('"Stay signed in" keeps the session and does not redirect', async () => {
    const config = await discover(rp);
    const browser = new Browser(server.url);
    await signIn(config, browser);
    const url = openid.buildEndSessionUrl(config, { post_logout_redirect_uri: SIGNED_OUT, state: 'x' });
    const page = await browser.get(url.toString());
    const stay = await browser.submit(url.toString(), formFor(page, 'logout'), { decision: 'stay' });
    assert.equal(stay.status, 200);
    assert.equal(stay.location, undefined);
    assert.match(stay.text, /still signed in/);
    assert.equal(await asksSignIn(config, browser), false);
  });

  it('refuses an unregistered post_logout_redirect_uri with a page, never a redirect', async () => {
    const config = await discover(rp);
    const browser = new Browser(server.url);
    await signIn(config, browser);
    for (const uri of ['https://evil.example.com/', 'https://rp.example.com/signed-out', `${SIGNED_OUT}&x=1`]) {
      const page = await browser.get(openid.buildEndSessionUrl(config, { post_logout_redirect_uri: uri, state: 'x' }).toString());
      assert.equal(page.status, 400, uri);
      assert.equal(page.location, undefined);
      assert.match(page.text, /not registered/);
      const refusal = await refusalOf(page);
      assert.equal(refusal.reason, 'logout.redirect_uri_unregistered');
      assert.deepEqual(refusal.facts?.registeredPostLogoutRedirectUris, [SIGNED_OUT]);
      assert.match(refusal.hint ?? '', new RegExp(`apps update ${rp.clientId} --post-logout-redirect-uri .*signed-out.* --post-logout-redirect-uri `));
      assert.doesNotMatch(page.text, /apps update/, 'the hint is for the administrator, not the page');
    }
    // Without any client it cannot be checked, so it is not used.
    const bare = await browser.get(`/oauth/logout?post_logout_redirect_uri=${encodeURIComponent(SIGNED_OUT)}`);
    assert.equal(bare.status, 400);
    assert.equal((await refusalOf(bare)).reason, 'logout.redirect_uri_without_client');
    assert.equal(await asksSignIn(config, browser), false, 'nobody was signed out');
  });

  it('refuses a bad id_token_hint, a client_id that is not its audience, and an unknown client', async () => {
    const config = await discover(rp);
    const browser = new Browser(server.url);
    const { idToken } = await signIn(config, browser);
    const [h, p, s] = idToken.split('.') as [string, string, string];
    const tampered = `${h}.${p}.${s.slice(0, -4)}AAAA`;
    const bad = await browser.get(`/oauth/logout?id_token_hint=${tampered}`);
    assert.equal(bad.status, 400);
    const refusal = await refusalOf(bad);
    assert.equal(refusal.reason, 'logout.hint_invalid');
    assert.equal(refusal.facts?.hintProblem, 'bad_signature');
    const garbage = await browser.get('/oauth/logout?id_token_hint=not-a-jwt');
    assert.equal((await refusalOf(garbage)).reason, 'logout.hint_invalid');
    const mismatch = await browser.get(`/logout.do?id_token_hint=${idToken}&client_id=${other.clientId}`);
    assert.equal(mismatch.status, 400);
    assert.equal((await refusalOf(mismatch)).reason, 'logout.client_mismatch');
    const unknown = await browser.get('/oauth/logout?client_id=no-such-client');
    assert.equal((await refusalOf(unknown)).reason, 'logout.client_unknown');
    const put = await browser.request('/oauth/logout', { method: 'PUT' });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, POST');
    assert.equal((await refusalOf(put)).reason, 'logout.method_not_allowed');
    assert.equal(await asksSignIn(config, browser), false, 'nobody was signed out');
  });

  it('an administrator ending a session (admin API) sends the logout token; the session lists the application', async () => {
    const config = await discover(rp);
    const browser = new Browser(server.url);
    const { claims } = await signIn(config, browser);
    receiver.received.length = 0;
    const admin = bearerClient(server, await adminToken(server));
    const listed = await admin.call('GET', '/users/alice/sessions');
    assert.equal(listed.status, 200);
    const sessions = (listed.json as { sessions: { handle: string; sid: string | null; applications: { clientId: string }[] }[] }).sessions;
    const mine = sessions.find((x) => x.sid === claims.sid);
    assert.ok(mine !== undefined, 'the sign-in session is listed with its sid');
    assert.deepEqual(mine.applications.map((a) => a.clientId), [rp.clientId]);
    const ended = await admin.call('DELETE', `/users/alice/sessions/${mine.handle}`);
    assert.equal(ended.status, 200);
    const [got] = await delivered(1);
    await validateLogoutToken(got?.body.get('logout_token') ?? '', { sub: aliceId, sid: String(claims.sid), clientId: rp.clientId });
    assert.equal(await asksSignIn(config, browser), true);
  });

  it('a receiver that fails is tried a bounded number of times, and the failure is audited', async () => {
    const config = await discover(rp);
    const browser = new Browser(server.url);
    const admin = bearerClient(server, await adminToken(server));
    // The sessions of the cases above end first, so that only this one is notified below.
    assert.equal((await admin.call('DELETE', '/users/alice/sessions')).status, 200);
    await server.latchkey.backchannel.idle();
    await signIn(config, browser);
    receiver.received.length = 0;
    receiver.status = 503;
    try {
      assert.equal((await admin.call('DELETE', '/users/alice/sessions')).status, 200);
      await delivered(BACKCHANNEL_ATTEMPTS);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(receiver.received.length, BACKCHANNEL_ATTEMPTS, 'no more attempts than the bound');
      const jtis = new Set(receiver.received.map((r) => (JSON.parse(Buffer.from((r.body.get('logout_token') ?? '').split('.')[1] ?? '', 'base64url').toString()) as { jti: string }).jti));
      assert.equal(jtis.size, BACKCHANNEL_ATTEMPTS, 'a fresh jti each attempt');
      const [entry] = await server.latchkey.storage.audit.list({ target: rp.clientId, action: 'application.backchannel_logout', limit: 1 });
      const outcome = JSON.parse(entry?.after ?? '{}') as Record<string, unknown>;
      assert.deepEqual(outcome, { uri: receiver.url, session: outcome.session, delivered: false, attempts: BACKCHANNEL_ATTEMPTS, status: 503, error: 'answered 503' });
      assert.equal(typeof outcome.session, 'string');
    } finally {
      receiver.status = 200;
    }
  });

  it('doctor reports a back-channel logout URI the outbound rules refuse (the property switched off since)', async () => {
    const admin = bearerClient(server, await adminToken(server));
    const findings = async () => ((await admin.call('GET', '/findings')).json as { findings?: { id: string; target?: string; command?: string }[] } | { id: string; target?: string; command?: string }[]);
    const list = async () => {
      const f = await findings();
      return (Array.isArray(f) ? f : (f.findings ?? [])).filter((x) => x.id === 'backchannel_logout_uri_refused');
    };
    assert.deepEqual(await list(), [], 'allowed while the property is on');
    await server.latchkey.storage.properties.set('latchkey.outbound.allow_private_networks', 'false', Date.now());
    await refreshCache(server);
    try {
      const found = await list();
      assert.deepEqual(found.map((f) => f.target), [rp.clientId]);
      assert.match(found[0]?.command ?? '', /apps update .* --backchannel-logout-uri/);
    } finally {
      await server.latchkey.storage.properties.set('latchkey.outbound.allow_private_networks', 'true', Date.now());
      await refreshCache(server);
    }
  });

  /** The CLI in this process on the server's database; answers its exit code and output. */
  async function cli(words: readonly string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
    const code = await main(['node', 'latchkey', ...words, '--db', server.db], io);
    return { code, out, err };
  }

  it('CLI: apps create/show carry the logout settings; a post-logout URI off the rules is refused by field', async () => {
    const made = await cli(['apps', 'create', '--name', 'CLI wiki', '--grants', 'authorization_code', '--redirect-uri', CALLBACK, '--post-logout-redirect-uri', 'https://wiki.example.com/bye', '--post-logout-redirect-uri', 'https://wiki.example.com/bye2', '--backchannel-logout-uri', 'https://wiki.example.com/bcl', '--backchannel-logout-session-required', '--json']);
    assert.equal(made.code, 0, made.err);
    const app = JSON.parse(made.out) as { clientId: string; postLogoutRedirectUris: string[]; backchannelLogoutUri: string; backchannelLogoutSessionRequired: boolean };
    assert.deepEqual([app.postLogoutRedirectUris, app.backchannelLogoutUri, app.backchannelLogoutSessionRequired], [['https://wiki.example.com/bye', 'https://wiki.example.com/bye2'], 'https://wiki.example.com/bcl', true]);
    const shown = await cli(['apps', 'show', app.clientId]);
    assert.match(shown.out, /Post-logout redirect URIs\s+https:\/\/wiki\.example\.com\/bye/);
    assert.match(shown.out, /Back-channel logout URI\s+https:\/\/wiki\.example\.com\/bcl \(sid required\)/);
    const bad = await cli(['apps', 'update', app.clientId, '--post-logout-redirect-uri', 'http://wiki.example.com/bye']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /Post-logout redirect URI "http:\/\/wiki\.example\.com\/bye" must use https/);
    const off = await cli(['apps', 'update', app.clientId, '--backchannel-logout-session-required', 'false', '--backchannel-logout-uri', '', '--json']);
    assert.equal(off.code, 0, off.err);
    const after = JSON.parse(off.out) as { backchannelLogoutUri: string | null; backchannelLogoutSessionRequired: boolean };
    assert.deepEqual([after.backchannelLogoutUri, after.backchannelLogoutSessionRequired], [null, false]);
  });

  it('CLI: users sessions lists sid and applications; --end ends one and sends the logout token', async () => {
    const config = await discover(rp);
    const browser = new Browser(server.url);
    const { claims } = await signIn(config, browser);
    receiver.received.length = 0;
    const listed = await cli(['users', 'sessions', 'alice', '--json']);
    assert.equal(listed.code, 0, listed.err);
    const sessions = (JSON.parse(listed.out) as { sessions: { handle: string; sid: string | null; applications: { clientId: string }[] }[] }).sessions;
    const mine = sessions.find((x) => x.sid === claims.sid);
    assert.ok(mine !== undefined);
    assert.deepEqual(mine.applications.map((a) => a.clientId), [rp.clientId]);
    const table = await cli(['users', 'sessions', 'alice']);
    assert.match(table.out, /SESSION\s+KIND\s+SID\s+STARTED\s+LAST SEEN\s+APPLICATIONS/);
    assert.match(table.out, new RegExp(`${mine.handle}\\s+signin\\s+${String(claims.sid).slice(0, 8)}`));
    assert.match(table.out, /Wiki/);
    const saved = process.env.LATCHKEY_KEY_ENCRYPTION_KEY;
    process.env.LATCHKEY_KEY_ENCRYPTION_KEY = TEST_KEK;
    try {
      const ended = await cli(['users', 'sessions', 'alice', '--end', mine.handle, '--issuer', server.url]);
      assert.equal(ended.code, 0, ended.err);
      assert.match(ended.out, /Ended 1 session of alice/);
      assert.match(ended.out, /Back-channel logout: sent/);
    } finally {
      if (saved === undefined) delete process.env.LATCHKEY_KEY_ENCRYPTION_KEY;
      else process.env.LATCHKEY_KEY_ENCRYPTION_KEY = saved;
    }
    const [got] = await delivered(1);
    await validateLogoutToken(got?.body.get('logout_token') ?? '', { sub: aliceId, sid: String(claims.sid), clientId: rp.clientId });
    assert.equal(await asksSignIn(config, browser), true);
  });

  it('CLI: users update that ends the sessions (a role change) sends the logout token too; without an issuer it says why not', async () => {
    const config = await discover(rp);
    const browser = new Browser(server.url);
    const { claims } = await signIn(config, browser);
    receiver.received.length = 0;
    const saved = process.env.LATCHKEY_KEY_ENCRYPTION_KEY;
    process.env.LATCHKEY_KEY_ENCRYPTION_KEY = TEST_KEK;
    try {
      const updated = await cli(['users', 'update', 'alice', '--roles', 'reader', '--issuer', server.url]);
      assert.equal(updated.code, 0, updated.err);
      assert.match(updated.out, /ended \d+ sessions? \(sign-in and console\)/);
      assert.match(updated.out, /Back-channel logout: sent/);
      const [got] = await delivered(1);
      await validateLogoutToken(got?.body.get('logout_token') ?? '', { sub: aliceId, sid: String(claims.sid), clientId: rp.clientId });
      assert.equal(await asksSignIn(config, browser), true);
      // Without an issuer: the sessions still end, and the output says the applications were not told.
      const again = new Browser(server.url);
      await signIn(config, again);
      const savedIssuer = process.env.LATCHKEY_ISSUER;
      delete process.env.LATCHKEY_ISSUER;
      try {
        const quiet = await cli(['users', 'update', 'alice', '--roles', '', '--json']);
        assert.equal(quiet.code, 0, quiet.err);
        assert.match((JSON.parse(quiet.out) as { backchannel?: string }).backchannel ?? '', /^not sent: no issuer is known here/);
      } finally {
        if (savedIssuer !== undefined) process.env.LATCHKEY_ISSUER = savedIssuer;
      }
      assert.equal(await asksSignIn(config, again), true);
    } finally {
      if (saved === undefined) delete process.env.LATCHKEY_KEY_ENCRYPTION_KEY;
      else process.env.LATCHKEY_KEY_ENCRYPTION_KEY = saved;
    }
  });

  it('export/apply: the logout settings are in the document, and applying a change sets them', async () => {
    const exported = await cli(['export', '--format', 'json']);
    assert.equal(exported.code, 0, exported.err);
    const doc = JSON.parse(exported.out) as { applications: { clientId?: string; postLogoutRedirectUris: string[]; backchannelLogoutUri: string | null; backchannelLogoutSessionRequired: boolean }[] };
    const entry = doc.applications.find((a) => a.clientId === rp.clientId);
    assert.ok(entry !== undefined);
    assert.deepEqual([entry.postLogoutRedirectUris, entry.backchannelLogoutUri, entry.backchannelLogoutSessionRequired], [[SIGNED_OUT], receiver.url, true]);
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-logout-'));
    try {
      const file = join(dir, 'registry.json');
      mkdirSync(join(dir, 'no-apis'));
      entry.postLogoutRedirectUris = [SIGNED_OUT, 'https://rp.example.com/bye'];
      writeFileSync(file, JSON.stringify(doc));
      const applied = await cli(['apply', '-f', file, '--apis', join(dir, 'no-apis')]);
      assert.equal(applied.code, 0, applied.err + applied.out);
      assert.deepEqual((await server.latchkey.storage.applications.byClientId(rp.clientId))?.postLogoutRedirectUris, [SIGNED_OUT, 'https://rp.example.com/bye']);
      entry.postLogoutRedirectUris = ['javascript:alert(1)'];
      writeFileSync(file, JSON.stringify(doc));
      const refused = await cli(['apply', '-f', file, '--apis', join(dir, 'no-apis')]);
      assert.notEqual(refused.code, 0);
      assert.match(refused.err + refused.out, /postLogoutRedirectUris/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
