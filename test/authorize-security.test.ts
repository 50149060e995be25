import assert from 'node:assert/strict';
import { createMemoryStorage } from '../src/storage/memory/adapter.js';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { CODE_LIFETIME_MS, PENDING_REQUEST_LIFETIME_MS } from '../src/endpoints/authorize.js';
import { createApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { createUser, updateUser } from '../src/registry/users.js';
import { escapeHtml, html, isDisplayableImageUrl } from '../src/web/html.js';
import { formActionSource } from '../src/web/page.js';
import { SESSION_ABSOLUTE_MS, SESSION_IDLE_MS, SessionCookies } from '../src/web/session.js';
import { seal, unseal } from '../src/web/signing.js';
import { authorizeInBrowser, Browser, formFor, hasForm, redirectParams, type Page } from './helpers/browser.js';
import { assertOAuthError, assertRefusal, ManualClock, refreshCache, registryDeps, storedTokenKey, tokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PW = 'security-test-password';
const CALLBACK = 'https://client.example.com/cb';
const CALLBACK_B = 'https://b.example.com/cb';

function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

/** The security properties of the authorization endpoint and the authorization code grant. */
describe('authorization code flow: security', () => {
  const clock = new ManualClock();
  let server: TestServer;
  let pub: { clientId: string };
  let conf: { clientId: string; secret: string };
  let other: { clientId: string; secret: string };

  before(async () => {
    server = await startTestServer({ clock });
    const deps = registryDeps(server, clock);
    await createScope(deps, 'files.read', 'Read <b>your</b> files & folders');
    for (const name of ['mallory', 'dave', 'erin', 'frank']) await createUser(deps, { userName: name, password: PW });
    const p = await createApplication(deps, { name: 'Public app', public: true, grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CALLBACK], scopes: ['files.read'] });
    pub = { clientId: p.application.clientId };
    const c = await createApplication(deps, { name: 'Confidential app', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [CALLBACK], scopes: ['files.read'] });
    conf = { clientId: c.application.clientId, secret: c.clientSecret ?? '' };
    const b = await createApplication(deps, { name: 'Other app', grantTypes: ['authorization_code'], redirectUris: [CALLBACK_B] });
    other = { clientId: b.application.clientId, secret: b.clientSecret ?? '' };
    await refreshCache(server);
  });
  after(async () => server.close());

  const authorizeUrl = (params: Record<string, string>) => `${server.url}/oauth/authorize?${new URLSearchParams(params).toString()}`;

  /** A fresh code for `client` (the confidential app by default), authorized by `user`. */
  async function codeFor(options: { clientId?: string; pkce?: boolean; user?: string; state?: string; redirectUri?: string | null } = {}): Promise<{ code: string; verifier: string; location: URL }> {
    const { verifier, challenge } = pkcePair();
    const params: Record<string, string> = { response_type: 'code', client_id: options.clientId ?? conf.clientId, state: options.state ?? 'state' };
    if (options.redirectUri !== null) params.redirect_uri = options.redirectUri ?? CALLBACK;
    if (options.pkce !== false) Object.assign(params, { code_challenge: challenge, code_challenge_method: 'S256' });
    const answer = await authorizeInBrowser(new Browser(server.url), authorizeUrl(params), { username: options.user ?? 'dave', password: PW });
    const location = new URL(answer.location ?? '');
    const code = location.searchParams.get('code');
    assert.ok(code !== null, answer.location);
    return { code, verifier, location };
  }

  /** A token request for the code grant; `basic` null: no client authentication (public clients). */
  const redeem = (form: Record<string, string>, basic: readonly [string, string] | null = [conf.clientId, conf.secret]): Promise<TokenResponse> =>
    tokenRequest(server.url, { form: { grant_type: 'authorization_code', ...form }, ...(basic === null ? {} : { basic }) });

  async function refusalOf(page: Page) {
    const refusal = await server.latchkey.storage.refusals.byRequestId(page.requestId);
    assert.ok(refusal !== undefined, `no refusal recorded for ${page.requestId}`);
    return refusal;
  }

  function assertErrorPage(page: Page, status: number): void {
    assert.equal(page.status, status, page.text.slice(0, 500));
    assert.equal(page.location, undefined, 'an error page, never a redirect');
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.text, /<h1>/);
    assert.ok(page.text.includes(page.requestId), 'the page names the request id');
    assert.doesNotMatch(page.text, /lk_ac_/);
  }

  describe('redirect URI', () => {
    it('a redirect URI that is not registered: an error page, no redirect, the refusal recorded', async () => {
      const page = await new Browser(server.url).get(authorizeUrl({ response_type: 'code', client_id: conf.clientId, redirect_uri: 'https://attacker.example.net/cb', state: 's' }));
      assertErrorPage(page, 400);
      assert.doesNotMatch(page.text, /attacker\.example\.net/);
      const refusal = await refusalOf(page);
      assert.equal(refusal.reason, 'authorize.redirect_uri_mismatch');
      assert.equal(refusal.endpoint, 'authorize');
      assert.equal(refusal.clientId, conf.clientId);
      assert.equal(refusal.applicationName, 'Confidential app');
      assert.match(refusal.hint ?? '', /attacker\.example\.net/);
    });

    const variants = [
      'https://client.example.com/cb/',
      'https://client.example.com/cbx',
      'https://client.example.com/c',
      'https://client.example.com/cb/evil',
      'https://client.example.com/cb?x=1',
      'https://client.example.com/cb#x',
      'https://CLIENT.example.com/cb',
      'https://client.example.com/CB',
      'HTTPS://client.example.com/cb',
      'http://client.example.com/cb',
      'https://client.example.com:443/cb',
      'https://client.example.com:8443/cb',
      'https://client.example.com.attacker.net/cb',
      'https://attacker.net/https://client.example.com/cb',
      'https://evil@client.example.com/cb',
      'https://client.example.com/cb/../cb',
      'https://client.example.com/%63b',
      'https://client.example.com/cb%00',
      ' https://client.example.com/cb',
      'https://client.example.com/cb ',
    ];
    for (const uri of variants) {
      it(`refuses the variant ${JSON.stringify(uri)} of the registered URI`, async () => {
        const page = await new Browser(server.url).get(authorizeUrl({ response_type: 'code', client_id: conf.clientId, redirect_uri: uri, state: 's' }));
        assertErrorPage(page, 400);
        assert.equal((await refusalOf(page)).reason, 'authorize.redirect_uri_mismatch');
      });
    }

    it('never falls back to a registered URI when several are registered and none is sent', async () => {
      const deps = registryDeps(server, clock);
      const app = await createApplication(deps, { name: 'Two callbacks', grantTypes: ['authorization_code'], redirectUris: [CALLBACK, CALLBACK_B] });
      await refreshCache(server);
      const page = await new Browser(server.url).get(authorizeUrl({ response_type: 'code', client_id: app.application.clientId }));
      assertErrorPage(page, 400);
      assert.equal((await refusalOf(page)).reason, 'authorize.redirect_uri_missing');
    });

    it('an unknown or inactive client: an error page, even with a good-looking redirect URI', async () => {
      const unknown = await new Browser(server.url).get(authorizeUrl({ response_type: 'code', client_id: 'no-such-client', redirect_uri: CALLBACK }));
      assertErrorPage(unknown, 400);
      assert.equal((await refusalOf(unknown)).reason, 'client_auth.unknown_client');
      const missing = await new Browser(server.url).get(authorizeUrl({ response_type: 'code', redirect_uri: CALLBACK }));
      assertErrorPage(missing, 400);
      assert.equal((await refusalOf(missing)).reason, 'authorize.client_id_missing');
      const deps = registryDeps(server, clock);
      const app = await createApplication(deps, { name: 'Switched off', active: false, grantTypes: ['authorization_code'], redirectUris: [CALLBACK] });
      await refreshCache(server);
      const inactive = await new Browser(server.url).get(authorizeUrl({ response_type: 'code', client_id: app.application.clientId, redirect_uri: CALLBACK }));
      assertErrorPage(inactive, 400);
      assert.equal((await refusalOf(inactive)).reason, 'client_auth.application_inactive');
    });

    it('the token request must repeat the redirect_uri of the authorization request exactly', async () => {
      const { code, verifier } = await codeFor();
      const res = await redeem({ code, code_verifier: verifier, redirect_uri: `${CALLBACK}/` });
      assertOAuthError(res, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, res, 'authorization_code.redirect_uri_mismatch');
      const again = await codeFor();
      const omitted = await redeem({ code: again.code, code_verifier: again.verifier });
      assertOAuthError(omitted, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, omitted, 'authorization_code.redirect_uri_mismatch');
    });
  });

  describe('PKCE', () => {
    it('a missing verifier is refused when the code has a challenge', async () => {
      const { code } = await codeFor();
      const res = await redeem({ code, redirect_uri: CALLBACK });
      assertOAuthError(res, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, res, 'pkce.verifier_missing');
    });

    it('a wrong verifier is refused, and the code is used up by the attempt', async () => {
      const { code, verifier } = await codeFor();
      const wrong = await redeem({ code, redirect_uri: CALLBACK, code_verifier: pkcePair().verifier });
      assertOAuthError(wrong, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, wrong, 'pkce.verifier_mismatch');
      const right = await redeem({ code, redirect_uri: CALLBACK, code_verifier: verifier });
      assertOAuthError(right, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, right, 'authorization_code.reused');
    });

    it('a verifier sent for a code issued without a challenge is refused (downgrade)', async () => {
      const { code } = await codeFor({ pkce: false });
      const res = await redeem({ code, redirect_uri: CALLBACK, code_verifier: pkcePair().verifier });
      assertOAuthError(res, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, res, 'pkce.verifier_unexpected');
    });

    it('a confidential client without PKCE redeems its code with its secret', async () => {
      const { code } = await codeFor({ pkce: false });
      const res = await redeem({ code, redirect_uri: CALLBACK });
      assert.equal(res.status, 200, res.text);
    });

    it('a verifier that is not 43-128 unreserved characters is refused before the code is touched', async () => {
      const { code, verifier } = await codeFor();
      for (const bad of ['short', `${verifier}!`, 'a'.repeat(129)]) {
        const res = await redeem({ code, redirect_uri: CALLBACK, code_verifier: bad });
        assertOAuthError(res, 400, 'invalid_request');
        await assertRefusal(server.latchkey.storage, res, 'pkce.verifier_malformed');
      }
      assert.equal((await redeem({ code, redirect_uri: CALLBACK, code_verifier: verifier })).status, 200);
    });

    it('a public client redeems with client_id and the verifier only', async () => {
      const { code, verifier } = await codeFor({ clientId: pub.clientId });
      const missing = await redeem({ code, redirect_uri: CALLBACK, client_id: pub.clientId }, null);
      assertOAuthError(missing, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, missing, 'pkce.verifier_missing');
      const again = await codeFor({ clientId: pub.clientId });
      const ok = await redeem({ code: again.code, redirect_uri: CALLBACK, client_id: pub.clientId, code_verifier: again.verifier }, null);
      assert.equal(ok.status, 200, ok.text);
      assert.equal(verifier.length, 43);
    });
  });

  describe('codes', () => {
    it('a code redeemed twice: the second is refused and every token from the first is revoked', async () => {
      const { code, verifier } = await codeFor();
      const first = await redeem({ code, redirect_uri: CALLBACK, code_verifier: verifier });
      assert.equal(first.status, 200, first.text);
      const access = String(first.json?.access_token);
      const refresh = String(first.json?.refresh_token);
      // A refresh before the reuse: the rotated family must go too.
      const refreshed = await tokenRequest(server.url, { form: { grant_type: 'refresh_token', refresh_token: refresh }, basic: [conf.clientId, conf.secret] });
      assert.equal(refreshed.status, 200, refreshed.text);
      const tokens = [access, refresh, String(refreshed.json?.access_token), String(refreshed.json?.refresh_token)];
      for (const t of tokens) assert.notEqual((await server.latchkey.storage.tokens.byHash(storedTokenKey(t)))?.status, 'revoked');

      const second = await redeem({ code, redirect_uri: CALLBACK, code_verifier: verifier });
      assertOAuthError(second, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, second, 'authorization_code.reused');
      for (const t of tokens) assert.equal((await server.latchkey.storage.tokens.byHash(storedTokenKey(t)))?.status, 'revoked', `token ${t.slice(0, 6)} revoked`);
      // And the protocol agrees: the newest refresh token no longer works.
      const after = await tokenRequest(server.url, { form: { grant_type: 'refresh_token', refresh_token: String(refreshed.json?.refresh_token) }, basic: [conf.clientId, conf.secret] });
      assertOAuthError(after, 400, 'invalid_grant');
    });

    it('concurrent redemptions of one code: at most one succeeds, and then its tokens are revoked', async () => {
      const { code, verifier } = await codeFor();
      const results = await Promise.all(Array.from({ length: 6 }, () => redeem({ code, redirect_uri: CALLBACK, code_verifier: verifier })));
      const ok = results.filter((r) => r.status === 200);
      assert.ok(ok.length <= 1, `${ok.length} redemptions succeeded`);
      for (const r of results.filter((x) => x.status !== 200)) assertOAuthError(r, 400, 'invalid_grant');
      for (const r of ok) {
        for (const t of [r.json?.access_token, r.json?.refresh_token]) {
          assert.equal((await server.latchkey.storage.tokens.byHash(storedTokenKey(String(t))))?.status, 'revoked');
        }
      }
    });

    it('an expired code is refused (60 seconds)', async () => {
      const { code, verifier } = await codeFor();
      clock.advance(CODE_LIFETIME_MS + 1);
      const res = await redeem({ code, redirect_uri: CALLBACK, code_verifier: verifier });
      assertOAuthError(res, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, res, 'authorization_code.expired');
    });

    it('a code issued to client A is refused to client B', async () => {
      const { code, verifier } = await codeFor();
      const res = await redeem({ code, redirect_uri: CALLBACK, code_verifier: verifier }, [other.clientId, other.secret]);
      assertOAuthError(res, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, res, 'authorization_code.wrong_client');
      const pubAttempt = await codeFor();
      const res2 = await redeem({ code: pubAttempt.code, redirect_uri: CALLBACK, code_verifier: pubAttempt.verifier, client_id: pub.clientId }, null);
      assertOAuthError(res2, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, res2, 'authorization_code.wrong_client');
    });

    it('an unknown code is refused, and only the hash of a code is stored', async () => {
      const res = await redeem({ code: `lk_ac_${'0'.repeat(12)}${'A'.repeat(43)}`, redirect_uri: CALLBACK, code_verifier: pkcePair().verifier });
      assertOAuthError(res, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, res, 'authorization_code.unknown');
      if (server.storageKind === 'sqlite') {
        const { code } = await codeFor();
        const { default: Database } = await import('better-sqlite3');
        const db = new Database(server.db, { readonly: true });
        try {
          const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[];
          for (const { name } of tables) {
            for (const row of db.prepare(`SELECT * FROM "${name}"`).all() as Record<string, unknown>[]) {
              assert.ok(!JSON.stringify(row).includes(code), `the code appears in table ${name}`);
            }
          }
        } finally {
          db.close();
        }
      }
    });

    it('a user deactivated after consent cannot redeem the code', async () => {
      const { code, verifier } = await codeFor({ user: 'frank' });
      await updateUser(registryDeps(server, clock), 'frank', { active: false });
      await refreshCache(server);
      const res = await redeem({ code, redirect_uri: CALLBACK, code_verifier: verifier });
      assertOAuthError(res, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, res, 'user.inactive');
      await updateUser(registryDeps(server, clock), 'frank', { active: true });
      await refreshCache(server);
    });
  });

  describe('state', () => {
    const states = ['plain', 'a b&c=d/e?f#g+h%20i', 'ünïcødé ✓ 雪', `<script>alert("x")</script>'`, 'x'.repeat(2048)];
    for (const state of states) {
      it(`echoes state ${JSON.stringify(state.slice(0, 40))} exactly, through sign-in and consent`, async () => {
        const { location } = await codeFor({ state });
        assert.equal(location.searchParams.get('state'), state);
        assert.equal(location.searchParams.getAll('state').length, 1);
      });
    }

    it('echoes state on errors too, and refuses one longer than 2048 characters', async () => {
      const long = 'y'.repeat(2049);
      const page = await new Browser(server.url).get(authorizeUrl({ response_type: 'code', client_id: conf.clientId, redirect_uri: CALLBACK, state: long }));
      const p = redirectParams(page);
      assert.equal(p.get('error'), 'invalid_request');
      assert.equal(p.get('state'), long);
      assert.equal((await refusalOf(page)).reason, 'authorize.state_too_long');
    });
  });

  describe('CSRF and the signed request', () => {
    const start = async (browser: Browser) => {
      const url = authorizeUrl({ response_type: 'code', client_id: conf.clientId, redirect_uri: CALLBACK, state: 'csrf' });
      return { url, page: await browser.get(url) };
    };
    const signedIn = async (browser: Browser) => {
      const { url, page } = await start(browser);
      const consent = await browser.submit(url, formFor(page, 'sign_in'), { username: 'mallory', password: PW });
      assert.ok(hasForm(consent, 'consent'));
      return { url, consent, signIn: page };
    };
    const expectForbidden = async (page: Page) => {
      assertErrorPage(page, 403);
      const refusal = await refusalOf(page);
      assert.equal(refusal.reason, 'authorize.csrf_failed');
      assert.equal(refusal.endpoint, 'authorize');
      assert.equal(refusal.clientId, conf.clientId);
    };

    it('sign-in without a CSRF token, or with a wrong one: 403, recorded, no session', async () => {
      const browser = new Browser(server.url);
      const { url, page } = await start(browser);
      const form = formFor(page, 'sign_in');
      const { lk_csrf: _token, ...withoutToken } = form.fields;
      for (const fields of [withoutToken, { ...form.fields, lk_csrf: 'A'.repeat(43) }]) {
        const res = await browser.submit(url, { ...form, fields }, { username: 'mallory', password: PW });
        await expectForbidden(res);
        assert.ok(!res.setCookies.some((c) => c.startsWith('latchkey_session=')));
      }
    });

    it('consent without a CSRF token, or with a wrong one: 403, recorded, no code', async () => {
      const browser = new Browser(server.url);
      const { url, consent, signIn } = await signedIn(browser);
      const form = formFor(consent, 'consent');
      const { lk_csrf: _token, ...withoutToken } = form.fields;
      await expectForbidden(await browser.submit(url, { ...form, fields: withoutToken }, { decision: 'allow' }));
      // The sign-in form's token is not the consent form's.
      const signInToken = formFor(signIn, 'sign_in').fields.lk_csrf ?? '';
      await expectForbidden(await browser.submit(url, { ...form, fields: { ...form.fields, lk_csrf: signInToken } }, { decision: 'allow' }));
    });

    it('a cross-site POST (the victim has a session, the attacker a token of their own browser): 403', async () => {
      const victim = new Browser(server.url);
      const { url } = await signedIn(victim);
      const attacker = new Browser(server.url);
      const attackerPage = await attacker.get(url);
      const stolen = formFor(attackerPage, 'sign_in');
      const attackerConsent = await attacker.submit(url, stolen, { username: 'mallory', password: PW });
      const forged = formFor(attackerConsent, 'consent');
      // The victim's browser sends the victim's cookies with the attacker's form.
      await expectForbidden(await victim.submit(url, forged, { decision: 'allow' }));
      // Without any pre-session cookie at all (cookies blocked): 403 too.
      const bare = new Browser(server.url);
      await expectForbidden(await bare.submit(url, forged, { decision: 'allow' }));
    });

    it('an altered pending request is refused (400), an expired one too (10 minutes)', async () => {
      const browser = new Browser(server.url);
      const { url, page } = await start(browser);
      const form = formFor(page, 'sign_in');
      const sealed = form.fields.lk_request ?? '';
      const [body = '', mac = ''] = sealed.split('.');
      const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>;
      const altered = `${Buffer.from(JSON.stringify({ ...payload, r: 'https://attacker.example.net/cb' })).toString('base64url')}.${mac}`;
      const res = await browser.submit(url, { ...form, fields: { ...form.fields, lk_request: altered } }, { username: 'mallory', password: PW });
      assertErrorPage(res, 400);
      assert.equal((await refusalOf(res)).reason, 'authorize.request_invalid');

      clock.advance(PENDING_REQUEST_LIFETIME_MS + 1);
      const late = await browser.submit(url, form, { username: 'mallory', password: PW });
      assertErrorPage(late, 400);
      assert.equal((await refusalOf(late)).reason, 'authorize.request_expired');
    });
  });

  describe('pages and cookies', () => {
    function assertPageHeaders(page: Page): void {
      const csp = page.headers.get('content-security-policy') ?? '';
      assert.match(csp, /(^|; )default-src 'none'(;|$)/);
      assert.match(csp, /(^|; )frame-ancestors 'none'(;|$)/);
      assert.match(csp, /(^|; )form-action 'self'/);
      assert.match(csp, /(^|; )img-src https: http:\/\/localhost:\* http:\/\/127\.0\.0\.1:\*(;|$)/);
      assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|script-src/);
      const nonce = /style-src 'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
      assert.ok(nonce !== undefined, csp);
      assert.ok(page.text.includes(`<style nonce="${nonce}">`), 'the inline style carries the nonce');
      assert.doesNotMatch(page.text, /<script/i);
      assert.equal(page.headers.get('x-frame-options'), 'DENY');
      assert.equal(page.headers.get('cache-control'), 'no-store');
      assert.equal(page.headers.get('referrer-policy'), 'no-referrer');
      assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
    }

    it('every page forbids framing and caching: sign-in, consent, error, 403', async () => {
      const browser = new Browser(server.url);
      const url = authorizeUrl({ response_type: 'code', client_id: conf.clientId, redirect_uri: CALLBACK });
      const signIn = await browser.get(url);
      assertPageHeaders(signIn);
      const consent = await browser.submit(url, formFor(signIn, 'sign_in'), { username: 'mallory', password: PW });
      assertPageHeaders(consent);
      assertPageHeaders(await browser.get(authorizeUrl({ client_id: 'nope' })));
      assertPageHeaders(await browser.submit(url, { ...formFor(consent, 'consent'), fields: {} }, { lk_action: 'consent' }));
      // Two nonces are never the same.
      const again = await browser.get(url);
      assert.notEqual(again.headers.get('content-security-policy'), signIn.headers.get('content-security-policy'));
    });

    it('session and CSRF cookies are HttpOnly, SameSite=Lax, Path=/ (and not Secure on an http issuer)', async () => {
      const browser = new Browser(server.url);
      const url = authorizeUrl({ response_type: 'code', client_id: conf.clientId, redirect_uri: CALLBACK });
      const page = await browser.get(url);
      const csrf = page.setCookies.find((c) => c.startsWith('latchkey_csrf='));
      assert.ok(csrf !== undefined, page.setCookies.join('\n'));
      assert.match(csrf, /; Path=\/; HttpOnly; SameSite=Lax$/);
      const consent = await browser.submit(url, formFor(page, 'sign_in'), { username: 'mallory', password: PW });
      const session = consent.setCookies.find((c) => c.startsWith('latchkey_session='));
      assert.ok(session !== undefined, consent.setCookies.join('\n'));
      assert.match(session, /^latchkey_session=lk_ss_[0-9a-f]{12}[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=\d+$/);
      assert.doesNotMatch(session, /Secure|Domain/);
      // The cookie carries only a random id of a session kept on the server: nothing in it names the
      // user, and any other value (one character changed) is no session.
      const value = browser.cookies.get('latchkey_session') ?? '';
      const forged = `${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`;
      browser.cookies.set('latchkey_session', forged);
      const next = await browser.get(url);
      assert.ok(hasForm(next, 'sign_in'), 'a forged session is no session');
    });

    it('cookies are Secure with the __Host- prefix when the issuer is https', async () => {
      const https = await startTestServer({ issuer: 'https://login.example.test' });
      try {
        const deps = registryDeps(https);
        await createUser(deps, { userName: 'henry', password: PW });
        const app = await createApplication(deps, { name: 'TLS app', grantTypes: ['authorization_code'], redirectUris: [CALLBACK] });
        await refreshCache(https);
        const browser = new Browser(https.url);
        const url = `${https.url}/oauth/authorize?${new URLSearchParams({ response_type: 'code', client_id: app.application.clientId, redirect_uri: CALLBACK })}`;
        const page = await browser.get(url);
        assert.ok(page.setCookies.some((c) => /^__Host-latchkey_csrf=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Secure$/.test(c)), page.setCookies.join('\n'));
        const consent = await browser.submit(url, formFor(page, 'sign_in'), { username: 'henry', password: PW });
        assert.ok(consent.setCookies.some((c) => /^__Host-latchkey_session=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=\d+$/.test(c)), consent.setCookies.join('\n'));
        const answer = await browser.submit(url, formFor(consent, 'consent'), { decision: 'allow' });
        assert.equal(redirectParams(answer).get('iss'), 'https://login.example.test');
      } finally {
        await https.close();
      }
    });

    it('a session ends after an hour idle, and when the password changes', async () => {
      const browser = new Browser(server.url);
      const url = authorizeUrl({ response_type: 'code', client_id: conf.clientId, redirect_uri: CALLBACK });
      await authorizeInBrowser(browser, url, { username: 'erin', password: PW });
      assert.ok(hasForm(await browser.get(url), 'consent'));
      clock.advance(SESSION_IDLE_MS + 1);
      assert.ok(hasForm(await browser.get(url), 'sign_in'));

      await authorizeInBrowser(browser, url, { username: 'erin', password: PW });
      clock.advance(1000);
      await updateUser(registryDeps(server, clock), 'erin', { password: `${PW}-new` });
      assert.ok(hasForm(await browser.get(url), 'sign_in'));
    });

    it('a user deactivated between sign-in and consent gets no code: the session ended on the server, signing in again is refused and recorded', async () => {
      const deps = registryDeps(server, clock);
      await createUser(deps, { userName: 'ivan', password: PW });
      const browser = new Browser(server.url);
      const url = authorizeUrl({ response_type: 'code', client_id: conf.clientId, redirect_uri: CALLBACK, state: 'deact' });
      const page = await browser.get(url);
      const consent = await browser.submit(url, formFor(page, 'sign_in'), { username: 'ivan', password: PW });
      assert.ok(hasForm(consent, 'consent'));
      const { ended } = await updateUser(deps, 'ivan', { active: false });
      assert.equal(ended.sessions, 1);
      const answer = await browser.submit(url, formFor(consent, 'consent'), { decision: 'allow' });
      assert.equal(answer.location, undefined, 'no code');
      assert.ok(hasForm(answer, 'sign_in'));
      assert.match(answer.text, /expired/);
      assert.ok(answer.setCookies.some((c) => /^latchkey_session=;.*Max-Age=0/.test(c)));
      // Signing in again as the inactive user is refused, after the password check, with the answer
      // of a wrong password (issue 14: the page tells nothing about the account; the reason does).
      const again = await browser.submit(url, formFor(answer, 'sign_in'), { username: 'ivan', password: PW });
      assert.equal(again.status, 400);
      assert.match(again.text, /The user name or password is wrong\./);
      assert.doesNotMatch(again.text, /inactive/);
      assert.ok(!again.setCookies.some((c) => c.startsWith('latchkey_session=') && !c.includes('Max-Age=0')));
      const refusal = await refusalOf(again);
      assert.equal(refusal.reason, 'user.inactive');
      assert.equal(refusal.endpoint, 'authorize');
      assert.equal(refusal.userName, 'ivan');
    });

    it('escapes every dynamic value: application name, scope description, user name', async () => {
      const deps = registryDeps(server, clock);
      const app = await createApplication(deps, {
        name: '<img src=x onerror=alert(1)> "Evil" & Co',
        grantTypes: ['authorization_code'],
        redirectUris: [CALLBACK],
        scopes: ['files.read'],
        logoUri: 'https://cdn.example.com/logo.png?a=1&b="2"',
      });
      await refreshCache(server);
      const browser = new Browser(server.url);
      const url = authorizeUrl({ response_type: 'code', client_id: app.application.clientId, redirect_uri: CALLBACK });
      const page = await browser.get(url);
      assert.ok(page.text.includes('&lt;img src=x onerror=alert(1)&gt; &quot;Evil&quot; &amp; Co'));
      assert.ok(!page.text.includes('<img src=x'));
      assert.ok(page.text.includes('<img src="https://cdn.example.com/logo.png?a=1&amp;b=&quot;2&quot;"'));
      const wrong = await browser.submit(url, formFor(page, 'sign_in'), { username: '"><script>x</script>', password: 'nope-nope' });
      assert.ok(wrong.text.includes('value="&quot;&gt;&lt;script&gt;x&lt;/script&gt;"'));
      assert.doesNotMatch(wrong.text, /<script/);
      const consent = await browser.submit(url, formFor(page, 'sign_in'), { username: 'mallory', password: PW });
      assert.ok(consent.text.includes('Read &lt;b&gt;your&lt;/b&gt; files &amp; folders'));
    });

    it('shows a logo only from https (or http on the loopback host)', async () => {
      const deps = registryDeps(server, clock);
      const shown = async (logoUri: string): Promise<boolean> => {
        const app = await createApplication(deps, { name: `Logo ${logoUri.slice(0, 40)}`, grantTypes: ['authorization_code'], redirectUris: [CALLBACK], logoUri });
        await refreshCache(server);
        const page = await new Browser(server.url).get(authorizeUrl({ response_type: 'code', client_id: app.application.clientId, redirect_uri: CALLBACK }));
        return /<img /.test(page.text);
      };
      assert.equal(await shown('https://cdn.example.com/a.png'), true);
      assert.equal(await shown('http://localhost:3000/a.png'), true);
      // The registry refuses others; a value stored by other means is still not shown.
      const app = await createApplication(deps, { name: 'Stored logo', grantTypes: ['authorization_code'], redirectUris: [CALLBACK] });
      for (const logoUri of ['http://cdn.example.com/a.png', 'javascript:alert(1)', 'data:image/png;base64,AAAA']) {
        await server.latchkey.storage.applications.update({ ...app.application, logoUri, updatedAt: clock.now() });
        await refreshCache(server);
        const page = await new Browser(server.url).get(authorizeUrl({ response_type: 'code', client_id: app.application.clientId, redirect_uri: CALLBACK }));
        assert.doesNotMatch(page.text, /<img /, logoUri);
      }
    });

    it('locks a user out after repeated failures on the sign-in page, like the password grant', async () => {
      const deps = registryDeps(server, clock);
      await createUser(deps, { userName: 'judy', password: PW });
      const browser = new Browser(server.url);
      const url = authorizeUrl({ response_type: 'code', client_id: conf.clientId, redirect_uri: CALLBACK });
      const form = formFor(await browser.get(url), 'sign_in');
      for (let i = 0; i < 5; i++) assert.equal((await browser.submit(url, form, { username: 'judy', password: 'wrong-wrong' })).status, 400);
      const locked = await browser.submit(url, form, { username: 'judy', password: PW });
      assert.ok(hasForm(locked, 'sign_in'));
      assert.equal((await refusalOf(locked)).reason, 'user.locked_out');
      // The password grant shares the lockout.
      const app = await createApplication(deps, { name: 'ROPC', grantTypes: ['password'] });
      await refreshCache(server);
      const ropc = await tokenRequest(server.url, { form: { grant_type: 'password', username: 'judy', password: PW }, basic: [app.application.clientId, app.clientSecret ?? ''] });
      assertOAuthError(ropc, 400, 'invalid_grant');
      await assertRefusal(server.latchkey.storage, ropc, 'user.locked_out');
    });

    it('never answers 5xx to malformed input', async () => {
      const browser = new Browser(server.url);
      const posts: Array<Record<string, string>> = [
        { lk_action: 'consent' },
        { lk_action: 'nonsense', lk_request: 'x.y', lk_csrf: 'z' },
        { lk_action: 'sign_in', lk_request: '%%%', lk_csrf: '' },
        { lk_action: 'sign_in', lk_request: `${Buffer.from('[1,2]').toString('base64url')}.abc` },
      ];
      for (const form of posts) {
        const res = await browser.request(`${server.url}/oauth/authorize`, { form });
        assert.ok(res.status >= 400 && res.status < 500, `${res.status} for ${JSON.stringify(form)}`);
      }
      const odd = [
        'client_id=%ZZ&redirect_uri=%',
        `client_id=${conf.clientId}&redirect_uri=${encodeURIComponent(CALLBACK)}&scope=%00`,
        `client_id=${conf.clientId}&client_id=${conf.clientId}`,
        `client_id=${conf.clientId}&redirect_uri=${encodeURIComponent(CALLBACK)}&redirect_uri=${encodeURIComponent(CALLBACK)}`,
      ];
      for (const q of odd) {
        const res = await browser.get(`${server.url}/oauth/authorize?${q}`);
        assert.ok(res.status < 500, `${res.status} for ${q}`);
        if (res.status === 303) assert.ok(res.location?.startsWith(CALLBACK));
      }
      const json = await browser.request(`${server.url}/oauth/authorize`, { form: { client_id: conf.clientId }, headers: { 'content-type': 'application/json' } });
      assertErrorPage(json, 400);
      assert.equal((await refusalOf(json)).reason, 'request.invalid_content_type');
    });
  });
});

describe('web building blocks', () => {
  it('html escapes interpolations, in text and attributes, and nests templates without double escaping', () => {
    assert.equal(escapeHtml(`<a href="x" title='y'>&</a>`), '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
    const inner = html`<b>${'<i>'}</b>`;
    assert.equal(html`<p title="${'" onmouseover="x'}">${inner}${['<', '>']}${null}${undefined}${false}</p>`.value, '<p title="&quot; onmouseover=&quot;x"><b>&lt;i&gt;</b>&lt;&gt;</p>');
  });

  it('shows images only from https, or http on the loopback host', () => {
    for (const ok of ['https://cdn.example.com/a.png', 'http://localhost:8080/a.png', 'http://127.0.0.1/a.png']) assert.equal(isDisplayableImageUrl(ok), true, ok);
    for (const bad of ['http://cdn.example.com/a.png', 'javascript:alert(1)', 'data:image/png;base64,AA', '//cdn.example.com/a.png', 'https://user:pw@cdn.example.com/a.png', 'http://localhost.attacker.net/a.png', null, undefined, '']) {
      assert.equal(isDisplayableImageUrl(bad), false, String(bad));
    }
  });

  it('form-action sources: the origin of an http(s) redirect URI, the scheme of a custom one', () => {
    assert.equal(formActionSource('https://app.example.com:8443/cb?x=1'), 'https://app.example.com:8443');
    assert.equal(formActionSource('com.example.app:/oauth/callback'), 'com.example.app:');
    assert.equal(formActionSource('http://[::1]:3000/cb'), 'http:');
    assert.equal(formActionSource('not a url'), undefined);
  });

  it('sealed values: any change to the payload or the MAC, or another label or key, fails', () => {
    const key = randomBytes(32);
    const sealed = seal(key, 'label', { a: 1 });
    assert.deepEqual(unseal(key, 'label', sealed), { a: 1 });
    assert.equal(unseal(key, 'other-label', sealed), undefined);
    assert.equal(unseal(randomBytes(32), 'label', sealed), undefined);
    const [body = '', mac = ''] = sealed.split('.');
    assert.equal(unseal(key, 'label', `${Buffer.from('{"a":2}').toString('base64url')}.${mac}`), undefined);
    // One MAC character changed (to one it is not, so the value always differs).
    assert.equal(unseal(key, 'label', `${body}.${mac[0] === 'A' ? 'B' : 'A'}${mac.slice(1)}`), undefined);
    assert.equal(unseal(key, 'label', `${body}`), undefined);
    assert.equal(unseal(key, 'label', 'x'.repeat(10_000)), undefined);
  });

  it('session cookies: Secure with __Host- on https; only an id in the cookie; idle and absolute expiry; ended on the server', async () => {
    const store = createMemoryStorage().sessions;
    const sessions = new SessionCookies({ store, kind: 'signin', secure: () => true });
    const user = { id: 'u1', userName: 'u', passwordHash: null, active: true, roles: [], createdAt: 0, updatedAt: 0, passwordChangedAt: 5 };
    const t0 = 1_000_000_000_000;
    const { cookie } = await sessions.start(user, t0);
    assert.match(cookie, /^__Host-latchkey_session=lk_ss_[0-9a-f]{12}[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=28800$/);
    const req = (c: string) => ({ headers: { cookie: c.split(';')[0] } });
    const value = cookie.split(';')[0]!.split('=')[1]!;
    const stored = await store.listForUser('u1', t0);
    assert.equal(stored.length, 1);
    assert.ok(!JSON.stringify(stored).includes(value), 'the cookie value is not stored');
    const session = await sessions.read(req(cookie), t0 + 1000);
    assert.equal(session?.userId, 'u1');
    assert.equal(sessions.validFor(session!, user), true);
    assert.equal(sessions.validFor(session!, { ...user, active: false }), false);
    assert.equal(await sessions.read(req(cookie), t0 + SESSION_IDLE_MS), undefined, 'idle');
    // Used every 50 minutes, it still ends 8 hours after sign-in.
    let t = t0;
    while (t + 50 * 60_000 < t0 + SESSION_ABSOLUTE_MS) {
      t += 50 * 60_000;
      const s = await sessions.read(req(cookie), t);
      assert.ok(s !== undefined, `alive at ${(t - t0) / 60_000} min`);
      await sessions.touch(s, t);
    }
    assert.equal(await sessions.read(req(cookie), t0 + SESSION_ABSOLUTE_MS), undefined, 'absolute');
    // The http cookie name is not read on https (and the other way round).
    assert.equal(await sessions.read({ headers: { cookie: cookie.split(';')[0]!.replace('__Host-', '') } }, t0 + 1000), undefined);
    // Ended on the server: the same cookie no longer reads, wherever it is copied to.
    const again = await sessions.start(user, t0);
    const live = await sessions.read(req(again.cookie), t0 + 1);
    await sessions.end(live!, t0 + 2);
    assert.equal(await sessions.read(req(again.cookie), t0 + 3), undefined);
    // Another kind of session is not accepted as this one.
    const consoleSessions = new SessionCookies({ store, kind: 'console', secure: () => true });
    assert.equal(await consoleSessions.read(req(cookie.replace('latchkey_session', 'latchkey_console')), t0 + 1), undefined);
  });
});
