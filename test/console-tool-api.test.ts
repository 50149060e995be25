import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ACTIVITY_PERIODS, autoPeriod, bucketize, periodNamed, periodSince } from '../src/admin/routes/activity-period.js';
import { CONSOLE_CLIENT_ID } from '../src/registry/bootstrap.js';
import { createApplication } from '../src/registry/applications.js';
import { createUser } from '../src/registry/users.js';
import { ADMIN_PASSWORD, adminToken, bearerClient, consoleSignIn, sessionClient, type AdminClient } from './helpers/admin.js';
import { authorizeUrl, pkcePair } from './helpers/authorize-flow.js';
import { Browser, formFor, hasForm } from './helpers/browser.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * The admin API and sign-in behind the console as a complete tool (issue 13, item 4): one user,
 * its sessions by handle (never the cookie), ending them; the built-in console signs in with the
 * password alone while every other application keeps its consent page; refusals grouped by reason
 * and client; activity over a period that fits the data. The console's side: test/console-admin
 * and test/console-fit.
 */

const PW = 'a-good-password-13';
const MINUTE = 60_000;

describe('activity periods (pure)', () => {
  const now = Date.UTC(2026, 11, 1, 12, 30, 20);
  it('each period has its bucket size; buckets cover [since, now] aligned in UTC, zeros included', () => {
    assert.deepEqual(ACTIVITY_PERIODS.map((p) => [p.name, p.bucketMs / MINUTE]), [['1h', 1], ['6h', 5], ['24h', 15], ['7d', 360], ['30d', 1440]]);
    const hour = periodNamed('1h');
    assert.equal(periodSince(hour, now), Date.UTC(2026, 11, 1, 11, 31));
    const b = bucketize([[Date.UTC(2026, 11, 1, 11, 0), 9], [Date.UTC(2026, 11, 1, 12, 5), 2], [Date.UTC(2026, 11, 1, 12, 30), 1]], hour, now);
    assert.equal(b.length, 60);
    assert.deepEqual(b.filter(([, n]) => n > 0), [[Date.UTC(2026, 11, 1, 12, 5), 2], [Date.UTC(2026, 11, 1, 12, 30), 1]]);
    const day = bucketize([[Date.UTC(2026, 11, 1, 12, 5), 2], [Date.UTC(2026, 11, 1, 12, 14), 3]], periodNamed('24h'), now);
    assert.equal(day.length, 96);
    assert.deepEqual(day.filter(([, n]) => n > 0), [[Date.UTC(2026, 11, 1, 12, 0), 5]]);
    assert.throws(() => periodNamed('2w'), /period must be auto or one of 1h, 6h, 24h, 7d, 30d/);
  });
  it('auto: the shortest period that holds the oldest counted minute; 24 hours when nothing was counted', () => {
    assert.equal(autoPeriod(now - 40 * MINUTE, now).name, '1h');
    assert.equal(autoPeriod(now - 3 * 60 * MINUTE, now).name, '6h');
    assert.equal(autoPeriod(now - 20 * 60 * MINUTE, now).name, '24h');
    assert.equal(autoPeriod(now - 3 * 1440 * MINUTE, now).name, '7d');
    assert.equal(autoPeriod(now - 20 * 1440 * MINUTE, now).name, '30d');
    assert.equal(autoPeriod(undefined, now).name, '24h');
  });
});

describe('admin API for the console: users, sessions, refusal groups, activity', () => {
  let server: TestServer;
  let bearer: AdminClient;
  let codeApp: { clientId: string; redirectUri: string };

  before(async () => {
    server = await startTestServer();
    bearer = bearerClient(server, await adminToken(server, 'admin', ADMIN_PASSWORD));
    await createUser(registryDeps(server), { userName: 'pat', password: PW, roles: ['itil'] });
    await createUser(registryDeps(server), { userName: 'quinn', password: PW });
    const app = await createApplication(registryDeps(server), { name: 'Pat portal', grantTypes: ['authorization_code'], redirectUris: ['https://pat.example.com/cb'] });
    codeApp = { clientId: app.application.clientId, redirectUri: 'https://pat.example.com/cb' };
    await refreshCache(server);
  });
  after(async () => server?.close());

  /** A browser signed in as pat on the authorization pages (a sign-in session), at the consent page. */
  async function signedInBrowser(clientId = codeApp.clientId, redirectUri = codeApp.redirectUri, username = 'pat'): Promise<{ browser: Browser; url: string }> {
    const browser = new Browser(server.url);
    const url = authorizeUrl(server, { response_type: 'code', client_id: clientId, redirect_uri: redirectUri, code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });
    const page = await browser.get(url);
    const consent = await browser.submit(url, formFor(page, 'sign_in'), { username, password: PW });
    assert.ok(hasForm(consent, 'consent'), 'another application: the consent page');
    return { browser, url };
  }

  it('the console signs in with the password alone; every other application, one named like the console too, still asks for consent', async () => {
    // consoleSignIn asserts the 303 straight from the sign-in form to /console/callback.
    const signedIn = await consoleSignIn(server, 'admin', ADMIN_PASSWORD);
    assert.equal(signedIn.callback.status, 303);
    assert.equal(signedIn.callback.location, '/console/');
    // Signed in already (the sign-in session): /console/login goes through without any page.
    const again = await signedIn.browser.get('/console/login');
    const authorize = await signedIn.browser.get(new URL(again.location ?? '', server.url).toString());
    assert.equal(authorize.status, 303, authorize.text.slice(0, 500));
    assert.match(authorize.location ?? '', new RegExp(`^${server.url}/console/callback\\?code=`));
    assert.match(authorize.location ?? '', /&iss=/);
    // An ordinary application: consent.
    await signedInBrowser(codeApp.clientId, codeApp.redirectUri, 'quinn');
    // An application named like the console (another client id): consent, never skipped.
    const lookalike = await createApplication(registryDeps(server), { name: 'Latchkey Console', grantTypes: ['authorization_code'], redirectUris: ['https://lookalike.example.com/cb'] });
    await refreshCache(server);
    assert.notEqual(lookalike.application.clientId, CONSOLE_CLIENT_ID);
    await signedInBrowser(lookalike.application.clientId, 'https://lookalike.example.com/cb', 'quinn');
    // A signed-in browser asking the console's client id for another redirect URI is refused as ever.
    const wrong = await signedIn.browser.get(authorizeUrl(server, { response_type: 'code', client_id: CONSOLE_CLIENT_ID, redirect_uri: 'https://evil.example.com/console/callback', code_challenge: pkcePair().challenge, code_challenge_method: 'S256', scope: 'latchkey.admin' }));
    assert.equal(wrong.status, 400);
    assert.equal(wrong.location, undefined);
  });

  it('GET /users/:userName: one user, never its password hash; 404 for an unknown one', async () => {
    const pat = await bearer.call('GET', '/users/pat');
    assert.equal(pat.status, 200, pat.text);
    assert.equal(pat.json.userName, 'pat');
    assert.equal(pat.json.hasPassword, true);
    assert.equal(pat.json.passwordHash, undefined);
    assert.ok(!pat.text.includes('$argon2') && !pat.text.includes('scrypt'), pat.text);
    const missing = await bearer.call('GET', '/users/nobody-here');
    assert.equal(missing.status, 404);
    assert.equal(missing.json.error, 'user_not_found');
  });

  it("sessions: listed by handle (never the cookie), the caller's own marked; one ended by handle signs that browser out; end all", async () => {
    const first = await signedInBrowser();
    const second = await signedInBrowser();
    const cookies = [first, second].map((b) => b.browser.cookies.get('latchkey_session') ?? '');
    const listed = await bearer.call('GET', '/users/pat/sessions');
    assert.equal(listed.status, 200, listed.text);
    assert.equal(listed.json.sessions.length, 2);
    for (const s of listed.json.sessions) {
      assert.match(s.handle, /^[A-Za-z0-9_-]{12}$/);
      assert.equal(s.kind, 'signin');
      assert.equal(s.current, false);
      assert.ok(Date.parse(s.endsAt) > Date.now() && Date.parse(s.endsAt) <= Date.parse(s.expiresAt), 'ISO times: it ends in the future, at the latest when it expires');
    }
    for (const c of cookies) assert.ok(c.length > 40 && !listed.text.includes(c) && !listed.text.includes(c.slice(6, 30)), 'no cookie value in the answer');
    // The console session asking sees itself (and the sign-in it came from) as current.
    const admin = await sessionClient(server);
    const mine = await admin.call('GET', '/users/admin/sessions');
    assert.equal(mine.status, 200, mine.text);
    assert.deepEqual(mine.json.sessions.filter((s: { current: boolean }) => s.current).map((s: { kind: string }) => s.kind).sort(), ['console', 'signin']);

    // End the newest one (second's): that browser is asked to sign in again, the other is not.
    const [newest] = listed.json.sessions as { handle: string }[];
    const ended = await admin.call('DELETE', `/users/pat/sessions/${newest?.handle}`);
    assert.equal(ended.status, 200, ended.text);
    assert.equal(ended.json.ended, 1);
    assert.ok(hasForm(await second.browser.get(second.url), 'sign_in'), 'the ended session asks for the password');
    assert.ok(hasForm(await first.browser.get(first.url), 'consent'), 'the other session stands');
    assert.equal((await bearer.call('DELETE', `/users/pat/sessions/${newest?.handle}`)).status, 404, 'ended already');
    assert.equal((await bearer.call('DELETE', '/users/pat/sessions/not-a-handle')).status, 404);
    // Without the CSRF token a cookie session changes nothing.
    assert.equal((await admin.raw.call('DELETE', '/users/pat/sessions')).status, 403);

    const all = await bearer.call('DELETE', '/users/pat/sessions');
    assert.equal(all.status, 200, all.text);
    assert.equal(all.json.ended, 1);
    assert.ok(hasForm(await first.browser.get(first.url), 'sign_in'));
    assert.deepEqual((await bearer.call('GET', '/users/pat/sessions')).json.sessions, []);
    const audit = await server.latchkey.storage.audit.list({ target: 'pat', action: 'user.sessions_ended' });
    assert.equal(audit.length, 2);
    assert.match(audit[0]?.after ?? '', /ended by an administrator/);
    assert.equal(audit[0]?.actor, 'admin');
  });

  it("ending a console session's sign-in ends the console session too; ending your own signs you out", async () => {
    const admin = await sessionClient(server);
    const mine = (await admin.call('GET', '/users/admin/sessions')).json.sessions as { handle: string; kind: string; current: boolean }[];
    const signIn = mine.find((s) => s.current && s.kind === 'signin');
    assert.ok(signIn !== undefined);
    const ended = await admin.call('DELETE', `/users/admin/sessions/${signIn.handle}`);
    assert.equal(ended.status, 200, ended.text);
    assert.equal(ended.json.ended, 2);
    const after = await admin.raw.call('GET', '/session');
    assert.equal(after.status, 401);
  });

  it("PATCH /users/:userName with a password: not echoed, the user's sessions end; your own last-admin deactivation gets the registry's message", async () => {
    const { browser, url } = await signedInBrowser();
    const changed = await bearer.call('PATCH', '/users/pat', { password: 'pat-new-password-13' });
    assert.equal(changed.status, 200, changed.text);
    assert.ok(!changed.text.includes('pat-new-password-13'));
    assert.equal(changed.json.ended.sessions, 1);
    assert.ok(hasForm(await browser.get(url), 'sign_in'));
    const tooShort = await bearer.call('PATCH', '/users/pat', { password: 'short' });
    assert.equal(tooShort.status, 400);
    assert.match(tooShort.json.message, /at least 8 characters/);
    // The only active administrator deactivating itself: the registry's refusal says what to do first.
    const self = await bearer.call('PATCH', '/users/admin', { active: false });
    assert.equal(self.status, 409, self.text);
    assert.equal(self.json.error, 'last_administrator');
    assert.match(self.json.message, /would leave this instance with no active administrator/);
    // With another administrator, your own deactivation is still refused (another admin must do it).
    await createUser(registryDeps(server), { userName: 'second-admin', password: PW, roles: ['admin'] });
    const notLast = await bearer.call('PATCH', '/users/admin', { active: false });
    assert.equal(notLast.status, 409);
    assert.equal(notLast.json.error, 'conflict');
    // The console application cannot be deactivated (registry guard, answered 409).
    const consoleApp = await bearer.call('PATCH', `/applications/${CONSOLE_CLIENT_ID}`, { active: false });
    assert.equal(consoleApp.status, 409, consoleApp.text);
    assert.equal(consoleApp.json.error, 'built_in');
    assert.equal(consoleApp.json.field, 'active');
  });

  it('GET /refusals/groups: one group per reason and client with count, first and last seen and the latest requests; GET /refusals?client=', async () => {
    const app = await createApplication(registryDeps(server), { name: 'Nightly export', grantTypes: ['password'] });
    await refreshCache(server);
    const wrong = () => tokenRequest(server.url, { basic: [app.application.clientId, 'not-the-secret'], form: { grant_type: 'password', username: 'pat', password: 'x' } });
    for (let i = 0; i < 12; i++) assert.equal((await wrong()).status, 401);
    for (let i = 0; i < 2; i++) assert.equal((await tokenRequest(server.url, { basic: ['no-such-client', 'x'], form: { grant_type: 'client_credentials' } })).status, 401);
    const res = await bearer.call('GET', '/refusals/groups?endpoint=token');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.complete, true);
    const groups = res.json.groups as { reason: string; clientId: string | null; applicationName: string | null; count: number; firstAt: string; lastAt: string; requests: { requestId: string }[]; fix: string | null; endpoints: string[] }[];
    const mismatch = groups.find((g) => g.reason === 'client_auth.secret_mismatch' && g.clientId === app.application.clientId);
    assert.ok(mismatch !== undefined, res.text);
    assert.equal(mismatch.count, 12);
    assert.equal(mismatch.applicationName, 'Nightly export');
    assert.equal(mismatch.requests.length, 10);
    assert.ok(Date.parse(mismatch.firstAt) <= Date.parse(mismatch.lastAt));
    assert.deepEqual(mismatch.endpoints, ['token']);
    assert.ok(typeof mismatch.fix === 'string' && mismatch.fix.length > 0);
    assert.equal(groups.filter((g) => g.reason === 'client_auth.secret_mismatch').length, 1, 'one row for the twelve');
    assert.ok(groups.some((g) => g.reason === 'client_auth.unknown_client' && g.count === 2));
    // Newest group first.
    for (let i = 1; i < groups.length; i++) assert.ok(Date.parse(groups[i - 1]?.lastAt ?? '') >= Date.parse(groups[i]?.lastAt ?? ''));
    // The group's requests are the flat list's, filtered by client.
    const flat = await bearer.call('GET', `/refusals?reason=client_auth.secret_mismatch&client=${app.application.clientId}&limit=50`);
    assert.equal(flat.json.length, 12);
    assert.deepEqual(mismatch.requests.map((r) => r.requestId), flat.json.slice(0, 10).map((r: { requestId: string }) => r.requestId));
    assert.equal((await bearer.call('GET', '/refusals/groups?limit=0')).status, 400);
  });

  it('GET /activity?period=: auto picks the period from the data, every bucket listed; an unknown period is a 400', async () => {
    const now = Date.now();
    const minute = now - (now % MINUTE);
    await server.latchkey.storage.activity.add([
      { bucket: minute - 20 * 60 * MINUTE, metric: 'token.issued', count: 4 },
      { bucket: minute - 2 * MINUTE, metric: 'token.issued', count: 3 },
    ]);
    const auto = await bearer.call('GET', '/activity?period=auto');
    assert.equal(auto.status, 200, auto.text);
    assert.equal(auto.json.period, '24h');
    assert.equal(auto.json.auto, true);
    assert.equal(auto.json.bucketMs, 15 * MINUTE);
    assert.equal(auto.json.timeZone, 'UTC');
    assert.equal(auto.json.series.tokenIssued.length, 96);
    const total = (auto.json.series.tokenIssued as [number, number][]).reduce((n, [, c]) => n + c, 0);
    assert.ok(total >= 7, `${total}`);
    const hour = await bearer.call('GET', '/activity?period=1h');
    assert.equal(hour.json.bucketMs, MINUTE);
    assert.equal(hour.json.series.tokenIssued.length, 60);
    const bad = await bearer.call('GET', '/activity?period=fortnight');
    assert.equal(bad.status, 400);
    assert.equal(bad.json.field, 'period');
    // The per-minute form stays as it was.
    const legacy = await bearer.call('GET', '/activity?hours=1');
    assert.equal(legacy.json.bucketMs, MINUTE);
  });
});
