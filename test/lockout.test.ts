/**
 * The password lockout as an attacker meets it (issue 11 item 3, docs/lockout.md), over HTTP from
 * real loopback source addresses (127.0.0.x: the server sees each as a different caller): wrong
 * passwords from one source do not lock the user out elsewhere; a source waits 1, 2, 4 … s; the
 * per-user limit refuses new sources but not a known one; an unknown user name gets the same
 * answers, in about the same time, as an existing one.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { createApplication } from '../src/registry/applications.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { authorizeUrl, codeFixture, pkcePair, requestParams, type CodeFixture } from './helpers/authorize-flow.js';
import { sessionClient } from './helpers/admin.js';
import { Browser, formFor, hasForm, type Page } from './helpers/browser.js';
import { ManualClock, refreshCache, registryDeps, tokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const ADMIN_PASSWORD = 'admin-password-for-tests';
const PW = 'lockout-test-password';
const THRESHOLD = 'latchkey.password.lockout.threshold';
const USER_THRESHOLD = 'latchkey.password.lockout.user_threshold';

describe('password lockout over HTTP', () => {
  const clock = new ManualClock();
  let server: TestServer;
  let app: { clientId: string; secret: string };
  let fx: CodeFixture;

  const ropc = (from: string, username: string, password: string): Promise<TokenResponse> =>
    tokenRequest(server.url, { form: { grant_type: 'password', username, password }, basic: [app.clientId, app.secret], from });
  const refusalOf = async (requestId: string) => {
    const r = await server.latchkey.storage.refusals.byRequestId(requestId);
    assert.ok(r !== undefined, `no refusal recorded for ${requestId}`);
    return r;
  };
  /** A fresh browser on the sign-in page, sending from `from`. */
  async function signInFrom(from: string): Promise<{ browser: Browser; url: string; form: ReturnType<typeof formFor> }> {
    const browser = new Browser(server.url, from);
    const url = authorizeUrl(server, requestParams(fx, { challenge: pkcePair().challenge }));
    const page = await browser.get(url);
    return { browser, url, form: formFor(page, 'sign_in') };
  }
  const submit = (s: Awaited<ReturnType<typeof signInFrom>>, username: string, password: string): Promise<Page> => s.browser.submit(s.url, s.form, { username, password });

  before(async () => {
    server = await startTestServer({ clock });
    const deps = registryDeps(server, clock);
    for (const name of ['alice', 'carol', 'dave', 'grace', 'heidi']) await createUser(deps, { userName: name, password: PW });
    const created = await createApplication(deps, { name: 'Password app', grantTypes: ['password'] });
    app = { clientId: created.application.clientId, secret: created.clientSecret ?? '' };
    fx = await codeFixture(server, clock);
    await refreshCache(server);
  });
  after(async () => server?.close());

  it('five wrong passwords for admin on the sign-in page from one source do not lock admin out from another', async () => {
    const attacker = await signInFrom('127.0.0.2');
    for (let i = 0; i < 5; i++) assert.equal((await submit(attacker, 'admin', `wrong-${i}-password`)).status, 400);
    // The administrator, from another address, still signs in on the page and with the password grant…
    const adminPage = await submit(await signInFrom('127.0.0.1'), 'admin', ADMIN_PASSWORD);
    assert.equal(adminPage.status, 200, adminPage.text.slice(0, 500));
    assert.ok(hasForm(adminPage, 'consent'));
    assert.equal((await ropc('127.0.0.1', 'admin', ADMIN_PASSWORD)).status, 200);
    // …while the attacker's own source is throttled, even with the right password.
    const throttled = await submit(attacker, 'admin', ADMIN_PASSWORD);
    assert.equal(throttled.status, 400);
    assert.ok(hasForm(throttled, 'sign_in'));
    assert.match(throttled.text, /Too many failed attempts. Try again in 1 second\./);
    assert.equal(throttled.headers.get('retry-after'), '1');
    const refusal = await refusalOf(throttled.requestId);
    assert.equal(refusal.reason, 'user.locked_out');
    assert.equal(refusal.remoteAddress, '127.0.0.2');
    assert.match(refusal.hint ?? '', /Limit per user and source: 5 failed attempts for admin from 127\.0\.0\.2/);
  });

  it('makes one source wait 1 s, then 2, 4 … s, without counting the attempts it refuses', async () => {
    const from = '127.0.0.3';
    for (let i = 0; i < 5; i++) assert.equal((await ropc(from, 'alice', 'wrong-password')).json?.error, 'invalid_grant');
    const expectLocked = async (seconds: number) => {
      const res = await ropc(from, 'alice', PW);
      assert.equal(res.status, 400, res.text);
      assert.equal(res.json?.error, 'invalid_grant');
      assert.equal(res.json?.error_description, `Too many failed attempts. Try again in ${seconds} second${seconds === 1 ? '' : 's'}.`);
      assert.equal(res.headers.get('retry-after'), String(seconds));
      assert.equal((await refusalOf(res.requestId)).reason, 'user.locked_out');
    };
    await expectLocked(1);
    await expectLocked(1); // refused attempts are not failures: the wait does not grow
    clock.advance(1_000);
    assert.equal((await refusalOf((await ropc(from, 'alice', 'wrong-again')).requestId)).reason, 'user.bad_credentials');
    await expectLocked(2);
    clock.advance(2_000);
    assert.equal((await refusalOf((await ropc(from, 'alice', 'wrong-again')).requestId)).reason, 'user.bad_credentials');
    await expectLocked(4);
    clock.advance(3_000);
    await expectLocked(1);
    clock.advance(1_000);
    // After the wait the right password works, and the success clears this source's count.
    assert.equal((await ropc(from, 'alice', PW)).status, 200);
    assert.equal((await ropc(from, 'alice', 'one-more-wrong')).json?.error_description, 'The user name or password is wrong.');
    assert.equal((await ropc(from, 'alice', PW)).status, 200);
  });

  it('the per-user limit refuses sources the user never signed in from, but not a known one', async () => {
    const deps = registryDeps(server, clock);
    // Stored directly (setProperty checks the pair, below): the same test then runs on older code.
    await server.latchkey.storage.properties.set(THRESHOLD, '2', clock.now());
    await server.latchkey.storage.properties.set(USER_THRESHOLD, '6', clock.now());
    await refreshCache(server);
    try {
      // carol signs in from her usual address: it becomes known.
      assert.equal((await ropc('127.0.0.10', 'carol', PW)).status, 200);
      // A guesser spread over three addresses: two failures each (each address then waits).
      for (const from of ['127.0.0.11', '127.0.0.12', '127.0.0.13']) {
        for (let i = 0; i < 2; i++) assert.equal((await ropc(from, 'carol', `guess-${from}-${i}`)).json?.error_description, 'The user name or password is wrong.');
      }
      // A fourth address, even with the right password, is refused: the per-user limit.
      const fresh = await ropc('127.0.0.14', 'carol', PW);
      assert.equal(fresh.status, 400, fresh.text);
      assert.match(String(fresh.json?.error_description), /^Too many failed attempts\. Try again in \d+ seconds\.$/);
      const refusal = await refusalOf(fresh.requestId);
      assert.equal(refusal.reason, 'user.locked_out');
      assert.match(refusal.hint ?? '', /Limit per user: 6 failed attempts for carol from all sources/);
      // The sign-in page from a new address: the same.
      assert.equal((await submit(await signInFrom('127.0.0.15'), 'carol', PW)).status, 400);
      // carol, from her known address, gets in (the page and the grant).
      assert.equal((await ropc('127.0.0.10', 'carol', PW)).status, 200);
      assert.ok(hasForm(await submit(await signInFrom('127.0.0.10'), 'carol', PW), 'consent'));
      // A success does not reset the per-user count: new sources are still refused.
      assert.equal((await ropc('127.0.0.14', 'carol', PW)).status, 400);
      // When the window has passed, every source may try again.
      clock.advance(901_000);
      assert.equal((await ropc('127.0.0.14', 'carol', PW)).status, 200);
    } finally {
      await setProperty(deps, THRESHOLD, '5');
      await server.latchkey.storage.properties.set(USER_THRESHOLD, '50', clock.now());
      await refreshCache(server);
    }
  });

  it('refuses a user_threshold below the threshold when it is set', async () => {
    const deps = registryDeps(server, clock);
    await assert.rejects(setProperty(deps, USER_THRESHOLD, '3'), /must not be below latchkey\.password\.lockout\.threshold/);
    await assert.rejects(setProperty(deps, THRESHOLD, '60'), /must not be below/);
  });

  it('gives an unknown user name the same answers, after the same number of failures, in about the same time', async () => {
    type Step = { status: number; error: unknown; description: unknown; retryAfter: string | null; ms: number };
    const run = async (from: string, username: string, password: (i: number) => string): Promise<Step[]> => {
      const steps: Step[] = [];
      for (let i = 0; i < 12; i++) {
        const t0 = performance.now();
        const res = await ropc(from, username, password(i));
        steps.push({ status: res.status, error: res.json?.error, description: res.json?.error_description, retryAfter: res.headers.get('retry-after'), ms: performance.now() - t0 });
      }
      return steps;
    };
    // dave exists and, from the 6th attempt on, even presents his right password; nobody is called ghost-user.
    const existing = await run('127.0.0.20', 'dave', (i) => (i < 5 ? `wrong-${i}` : PW));
    const unknown = await run('127.0.0.21', 'ghost-user', (i) => `wrong-${i}`);
    const answers = (steps: Step[]) => steps.map(({ ms: _ms, ...answer }) => answer);
    assert.deepEqual(answers(unknown), answers(existing));
    assert.equal(existing[4]?.description, 'The user name or password is wrong.');
    assert.equal(existing[5]?.description, 'Too many failed attempts. Try again in 1 second.');
    // Timing: a throttled answer waits about as long as a password check instead of hashing. This is a
    // coarse check (medians, a generous factor): before the change, it answered ~40 times faster.
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    for (const steps of [existing, unknown]) {
      const checked = median(steps.slice(0, 5).map((s) => s.ms));
      const throttled = median(steps.slice(5).map((s) => s.ms));
      assert.ok(throttled >= 0.5 * checked, `throttled answers took ${throttled.toFixed(1)} ms (median), checked ones ${checked.toFixed(1)} ms`);
    }
  });

  /** Runs the CLI in-process on the server's database (SQLite file or PostgreSQL URL). */
  async function cli(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
    const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
    return { code, out, err };
  }
  /** Five failures for `name` from `from`: that source is throttled now. */
  async function lockPair(name: string, from: string): Promise<void> {
    for (let i = 0; i < 5; i++) await ropc(from, name, `wrong-${i}`);
    assert.equal((await ropc(from, name, PW)).json?.error_description, 'Too many failed attempts. Try again in 1 second.');
  }

  it('latchkey users locks shows the counts and what they lock; users unlock clears them (audited), and the source gets in at once', async () => {
    await lockPair('grace', '127.0.0.50');
    // A name chosen by an attacker, with a terminal escape sequence in it.
    await ropc('127.0.0.51', 'evil\u001b[2Jname', 'whatever');
    type Lock = { kind: string; userName: string; source: string | null; failures: number; lockedUntil: string | null };
    const r = await cli(['users', 'locks', '--json']);
    assert.equal(r.code, 0, r.err);
    const grace = (JSON.parse(r.out) as Lock[]).filter((l) => l.userName === 'grace').map((l) => ({ kind: l.kind, source: l.source, failures: l.failures, locked: l.lockedUntil !== null }));
    assert.deepEqual(grace.sort((a, b) => a.kind.localeCompare(b.kind)), [
      { kind: 'pair', source: '127.0.0.50', failures: 5, locked: true },
      { kind: 'user', source: null, failures: 5, locked: false },
    ]);
    const lockedOnly = JSON.parse((await cli(['users', 'locks', '--locked', '--json'])).out) as Lock[];
    assert.ok(lockedOnly.every((l) => l.lockedUntil !== null));
    assert.deepEqual(lockedOnly.filter((l) => l.userName === 'grace').map((l) => l.kind), ['pair']);
    const table = await cli(['users', 'locks']);
    assert.match(table.out, /USER NAME +LIMIT +SOURCE +FAILURES +LAST FAILURE +LOCKED UNTIL/);
    assert.match(table.out, /grace +pair +127\.0\.0\.50 +5 /);
    assert.match(table.out, /evil\?\[2Jname/);
    assert.doesNotMatch(table.out, /\u001b/, 'no control character reaches the terminal');
    const unlock = await cli(['users', 'unlock', 'grace']);
    assert.equal(unlock.code, 0, unlock.err);
    assert.equal(unlock.out, 'Cleared 2 records of failed attempts for grace (1 locking).\n');
    assert.equal((await ropc('127.0.0.50', 'grace', PW)).status, 200);
    assert.equal((await cli(['users', 'unlock', 'grace'])).out, 'No failed attempts were counted for grace; nothing to clear.\n');
    const audit = (await server.latchkey.storage.audit.list({})).filter((e) => e.action === 'user.unlock' && e.target === 'grace');
    assert.equal(audit.length, 2);
    assert.ok(audit.every((e) => e.actor.startsWith('cli:')), JSON.stringify(audit.map((e) => e.actor)));
  });

  it("the admin API lists the locks and clears one (audited under the admin's name)", async () => {
    await lockPair('heidi', '127.0.0.60');
    const admin = await sessionClient(server);
    const list = await admin.call('GET', '/locks?locked=true');
    assert.equal(list.status, 200, list.text);
    const heidi = (list.json as Array<{ kind: string; userName: string; source: string | null; failures: number; lockedUntil: string | null }>).filter((l) => l.userName === 'heidi');
    // Times as ISO 8601 text, as every admin API answer writes them.
    assert.deepEqual(heidi.map((l) => [l.kind, l.source, l.failures, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(String(l.lockedUntil))]), [['pair', '127.0.0.60', 5, true]]);
    assert.equal((await admin.call('GET', '/locks?locked=maybe')).status, 400);
    const cleared = await admin.call('DELETE', '/users/heidi/lock');
    assert.equal(cleared.status, 200, cleared.text);
    assert.deepEqual(cleared.json, { userName: 'heidi', cleared: 2, wasLocked: true });
    assert.equal((await ropc('127.0.0.60', 'heidi', PW)).status, 200);
    // Without the CSRF token a console session cannot clear anything.
    assert.equal((await admin.raw.call('DELETE', '/users/heidi/lock')).status, 403);
    const audit = (await server.latchkey.storage.audit.list({})).filter((e) => e.action === 'user.unlock' && e.target === 'heidi');
    assert.deepEqual(audit.map((e) => e.actor), ['admin']);
  });
});
