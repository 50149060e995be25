import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { decodeJwt } from 'jose';
import { createApplication } from '../src/registry/applications.js';
import { CONSOLE_CLIENT_ID, consoleRedirectUri } from '../src/registry/bootstrap.js';
import { createUser } from '../src/registry/users.js';
import { Browser, decodeEntities, formFor, formsOf, hasForm, type Page } from './helpers/browser.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PW = 'authorize-params-password';
const CALLBACK = 'https://rp.example.com/callback';

/**
 * OpenID Connect Core 1.0 §3.1.2.1 authorization request parameters over HTTP: prompt, max_age,
 * login_hint, id_token_hint, ui_locales, response_mode (query, form_post), the claims parameter
 * (§5.5), and the OpenID errors of §3.1.2.6 going back to the redirect URI with their reasons.
 */
describe('OpenID Connect authorization request parameters', () => {
  let server: TestServer;
  let now = Date.UTC(2026, 0, 5, 9, 0, 0);
  const clock = { now: () => now };
  let rp: { clientId: string; secret: string };
  let aliceId: string;

  before(async () => {
    server = await startTestServer({ clock });
    const deps = registryDeps(server, clock);
    aliceId = (await createUser(deps, { userName: 'alice', password: PW, profile: { name: 'Alice Liddell', email: 'alice@example.test', emailVerified: true } })).user.id;
    await createUser(deps, { userName: 'bob', password: PW });
    const a = await createApplication(deps, { name: 'Relying party', grantTypes: ['authorization_code'], redirectUris: [CALLBACK], scopes: ['openid', 'profile', 'email'] });
    rp = { clientId: a.application.clientId, secret: a.clientSecret ?? '' };
    await refreshCache(server);
  });
  after(async () => server.close());

  interface Flow {
    readonly url: string;
    readonly verifier: string;
  }

  function authUrl(extra: Record<string, string> = {}): Flow {
    const verifier = randomBytes(32).toString('base64url');
    const q = new URLSearchParams({
      response_type: 'code',
      client_id: rp.clientId,
      redirect_uri: CALLBACK,
      scope: 'openid',
      state: 'st-1',
      code_challenge: createHash('sha256').update(verifier).digest('base64url'),
      code_challenge_method: 'S256',
      ...extra,
    });
    return { url: `${server.url}/oauth/authorize?${q.toString()}`, verifier };
  }

  async function signIn(browser: Browser, flow: Flow, page: Page, username = 'alice'): Promise<Page> {
    assert.ok(hasForm(page, 'sign_in'), `a sign-in page: ${page.status} ${page.text.slice(0, 400)}`);
    return browser.submit(flow.url, formFor(page, 'sign_in'), { username, password: PW });
  }

  /** A browser signed in as `username` (through one flow it does not finish). */
  async function signedIn(username = 'alice'): Promise<Browser> {
    const browser = new Browser(server.url);
    const flow = authUrl();
    const consent = await signIn(browser, flow, await browser.get(flow.url), username);
    assert.ok(hasForm(consent, 'consent'));
    return browser;
  }

  async function allow(browser: Browser, flow: Flow, page: Page): Promise<Page> {
    return browser.submit(flow.url, formFor(page, 'consent'), { decision: 'allow' });
  }

  function callback(page: Page): URLSearchParams {
    assert.equal(page.status, 303, `a redirect: ${page.status} ${page.text.slice(0, 400)}`);
    const location = page.location ?? '';
    assert.ok(location.startsWith(`${CALLBACK}?`), location);
    return new URL(location).searchParams;
  }

  async function redeem(flow: Flow, code: string): Promise<Record<string, unknown>> {
    const res = await tokenRequest(server.url, { path: '/oauth/token', basic: [rp.clientId, rp.secret], form: { grant_type: 'authorization_code', code, redirect_uri: CALLBACK, code_verifier: flow.verifier } });
    assert.equal(res.status, 200, res.text);
    return res.json ?? {};
  }

  async function reasonOf(page: Page): Promise<string | undefined> {
    return (await server.latchkey.storage.refusals.byRequestId(page.requestId))?.reason;
  }

  /** An OpenID error at the redirect URI, with state and iss, and its recorded reason. */
  async function assertRedirectedError(page: Page, error: string, reason: string): Promise<void> {
    const q = callback(page);
    assert.equal(q.get('error'), error);
    assert.equal(q.get('state'), 'st-1');
    assert.equal(q.get('iss'), server.url);
    assert.ok((q.get('error_description') ?? '').length > 0);
    assert.equal(await reasonOf(page), reason);
  }

  describe('prompt', () => {
    it('none without a session: login_required at the redirect URI', async () => {
      const page = await new Browser(server.url).get(authUrl({ prompt: 'none' }).url);
      await assertRedirectedError(page, 'login_required', 'authorize.login_required');
      const refusal = await server.latchkey.storage.refusals.byRequestId(page.requestId);
      assert.equal(refusal?.facts?.loginRequiredBecause, 'no_session');
    });

    it('none with a session, for an application that asks consent: consent_required', async () => {
      const browser = await signedIn();
      await assertRedirectedError(await browser.get(authUrl({ prompt: 'none' }).url), 'consent_required', 'authorize.consent_required');
    });

    it('none with another value, or an unknown value: invalid_request', async () => {
      const browser = new Browser(server.url);
      await assertRedirectedError(await browser.get(authUrl({ prompt: 'none login' }).url), 'invalid_request', 'authorize.prompt_invalid');
      await assertRedirectedError(await browser.get(authUrl({ prompt: 'create' }).url), 'invalid_request', 'authorize.prompt_invalid');
    });

    it('login: the sign-in page despite a live session, and the new sign-in is the auth_time', async () => {
      const browser = await signedIn();
      const firstSignIn = now;
      now += 30_000;
      const flow = authUrl({ prompt: 'login' });
      const page = await browser.get(flow.url);
      assert.ok(hasForm(page, 'sign_in') && !hasForm(page, 'consent'));
      // The consent form of the old session cannot skip the new sign-in.
      const consent = await signIn(browser, flow, page);
      const q = callback(await allow(browser, flow, consent));
      const idToken = decodeJwt(String((await redeem(flow, q.get('code') ?? '')).id_token));
      assert.equal(idToken.auth_time, Math.floor(now / 1000));
      assert.notEqual(idToken.auth_time, Math.floor(firstSignIn / 1000));
    });

    it('login: a consent form of the old session, carrying the prompt=login request, does not skip the sign-in', async () => {
      const browser = await signedIn();
      const plainFlow = authUrl();
      const consent = formFor(await browser.get(plainFlow.url), 'consent');
      now += 1000;
      const flow = authUrl({ prompt: 'login' });
      const loginPage = await browser.get(flow.url);
      const pendingLogin = formFor(loginPage, 'sign_in').fields.lk_request ?? '';
      const forged = await browser.submit(flow.url, consent, { decision: 'allow', lk_request: pendingLogin });
      assert.equal(forged.status, 200, `no code: ${forged.status} ${forged.location ?? ''}`);
      assert.ok(hasForm(forged, 'sign_in'));
      // The same consent form with its own request still works (the check is the request's, not the form's).
      assert.ok(callback(await browser.submit(plainFlow.url, consent, { decision: 'allow' })).get('code'));
    });

    it('select_account: the sign-in page offers to continue as the signed-in user', async () => {
      const browser = await signedIn();
      const flow = authUrl({ prompt: 'select_account' });
      const page = await browser.get(flow.url);
      const cont = formFor(page, 'continue');
      assert.match(cont.buttons[0]?.label ?? '', /Continue as alice/);
      assert.ok(hasForm(page, 'sign_in'), 'or sign in as someone else');
      const consent = await browser.submit(flow.url, cont);
      assert.ok(hasForm(consent, 'consent'), consent.text.slice(0, 400));
      assert.ok(callback(await allow(browser, flow, consent)).get('code'));
    });

    it('consent: the consent page (also shown without it: this application always asks)', async () => {
      const browser = await signedIn();
      const page = await browser.get(authUrl({ prompt: 'consent' }).url);
      assert.ok(hasForm(page, 'consent'));
    });
  });

  describe('prompt with the built-in console (it skips the consent page)', () => {
    function consoleUrl(extra: Record<string, string> = {}): string {
      const verifier = randomBytes(32).toString('base64url');
      const q = new URLSearchParams({
        response_type: 'code',
        client_id: CONSOLE_CLIENT_ID,
        redirect_uri: consoleRedirectUri(server.url),
        state: 'console-state',
        code_challenge: createHash('sha256').update(verifier).digest('base64url'),
        code_challenge_method: 'S256',
        ...extra,
      });
      return `${server.url}/oauth/authorize?${q.toString()}`;
    }
    const codeOf = (page: Page): string | null => {
      assert.equal(page.status, 303, page.text.slice(0, 400));
      assert.ok(page.location?.startsWith(consoleRedirectUri(server.url)), page.location);
      return new URL(page.location ?? '').searchParams.get('code');
    };

    it('none answers with the code at once; consent shows the consent page anyway', async () => {
      const browser = await signedIn();
      assert.ok(codeOf(await browser.get(consoleUrl())), 'no page without prompt');
      assert.ok(codeOf(await browser.get(consoleUrl({ prompt: 'none' }))), 'prompt=none: the code, no page');
      const page = await browser.get(consoleUrl({ prompt: 'consent' }));
      assert.ok(hasForm(page, 'consent'), page.text.slice(0, 400));
      assert.ok(codeOf(await browser.submit(consoleUrl(), formFor(page, 'consent'), { decision: 'allow' })));
    });
  });

  describe('max_age', () => {
    it('a fresh session is enough; a stale one needs a sign-in; with prompt=none, login_required', async () => {
      const browser = await signedIn();
      now += 120_000;
      assert.ok(hasForm(await browser.get(authUrl({ max_age: '600' }).url), 'consent'), 'signed in 2 minutes ago, max_age 10 minutes');
      const flow = authUrl({ max_age: '60' });
      const page = await browser.get(flow.url);
      assert.ok(hasForm(page, 'sign_in') && !hasForm(page, 'consent'), 'signed in 2 minutes ago, max_age 1 minute');
      const q = callback(await allow(browser, flow, await signIn(browser, flow, page)));
      const idToken = decodeJwt(String((await redeem(flow, q.get('code') ?? '')).id_token));
      assert.equal(idToken.auth_time, Math.floor(now / 1000), 'max_age: the ID token carries auth_time');
      now += 120_000;
      const none = await browser.get(authUrl({ max_age: '60', prompt: 'none' }).url);
      await assertRedirectedError(none, 'login_required', 'authorize.login_required');
      assert.equal((await server.latchkey.storage.refusals.byRequestId(none.requestId))?.facts?.loginRequiredBecause, 'max_age');
    });

    it('max_age=0 always asks to sign in; a malformed one is invalid_request', async () => {
      const browser = await signedIn();
      now += 1000;
      assert.ok(hasForm(await browser.get(authUrl({ max_age: '0' }).url), 'sign_in'));
      for (const bad of ['-1', '1.5', 'soon']) await assertRedirectedError(await browser.get(authUrl({ max_age: bad }).url), 'invalid_request', 'authorize.max_age_malformed');
    });
  });

  describe('login_hint, id_token_hint, ui_locales', () => {
    it('login_hint prefills the user name, escaped', async () => {
      const page = await new Browser(server.url).get(authUrl({ login_hint: '<b>"alice"' }).url);
      assert.ok(page.text.includes('value="&lt;b&gt;&quot;alice&quot;"'), page.text.slice(0, 1500));
      assert.ok(!page.text.includes('<b>"alice"'));
      const long = await new Browser(server.url).get(authUrl({ login_hint: 'x'.repeat(500) }).url);
      assert.equal(long.status, 200);
      assert.ok(!long.text.includes('x'.repeat(101)), 'a hint longer than the field is not used');
    });

    it('id_token_hint: the same user continues; another user is asked to sign in as the hinted one; garbage is refused', async () => {
      const browser = await signedIn();
      const flow = authUrl();
      const q = callback(await allow(browser, flow, await browser.get(flow.url)));
      const idToken = String((await redeem(flow, q.get('code') ?? '')).id_token);
      assert.equal(decodeJwt(idToken).sub, aliceId);
      assert.ok(hasForm(await browser.get(authUrl({ id_token_hint: idToken }).url), 'consent'), 'the hinted user is signed in');

      const bob = await signedIn('bob');
      const mismatch = await bob.get(authUrl({ id_token_hint: idToken }).url);
      assert.ok(hasForm(mismatch, 'sign_in') && !hasForm(mismatch, 'consent'));
      assert.match(decodeEntities(mismatch.text), /sign in as another user than bob/);
      assert.ok(mismatch.text.includes('value="alice"'), 'prefilled with the hinted user');
      const none = await bob.get(authUrl({ id_token_hint: idToken, prompt: 'none' }).url);
      await assertRedirectedError(none, 'login_required', 'authorize.login_required');
      assert.equal((await server.latchkey.storage.refusals.byRequestId(none.requestId))?.facts?.loginRequiredBecause, 'id_token_hint_user');

      const garbage = await bob.get(authUrl({ id_token_hint: 'not.a.jwt' }).url);
      await assertRedirectedError(garbage, 'invalid_request', 'authorize.id_token_hint_invalid');
      assert.equal((await server.latchkey.storage.refusals.byRequestId(garbage.requestId))?.facts?.idTokenHintProblem, 'malformed');
    });

    it('ui_locales are accepted, never refused; the pages are English', async () => {
      for (const locales of ['fr-CA en', 'de', '!!! ' + 'x'.repeat(400)]) {
        const page = await new Browser(server.url).get(authUrl({ ui_locales: locales }).url);
        assert.equal(page.status, 200);
        assert.ok(hasForm(page, 'sign_in'));
        assert.match(page.text, /<html lang="en">/);
      }
    });
  });

  describe('response_mode', () => {
    function formPost(page: Page): Record<string, string> {
      assert.equal(page.status, 200, page.text.slice(0, 400));
      const form = formsOf(page.text).find((f) => f.action === CALLBACK);
      assert.ok(form !== undefined, page.text.slice(0, 1500));
      assert.match(form.html, /method="post"/);
      const csp = page.headers.get('content-security-policy') ?? '';
      assert.match(csp, /form-action 'self' https:\/\/rp\.example\.com/);
      const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
      assert.ok(nonce !== undefined, csp);
      assert.ok(page.text.includes(`<script nonce="${nonce}">`), 'the auto-submit runs under the nonce');
      return form.fields;
    }

    it('form_post: the code, state and iss are POSTed to the redirect URI by an auto-submitting form', async () => {
      const browser = await signedIn();
      const flow = authUrl({ response_mode: 'form_post' });
      const fields = formPost(await allow(browser, flow, await browser.get(flow.url)));
      assert.equal(fields.state, 'st-1');
      assert.equal(fields.iss, server.url);
      assert.ok((await redeem(flow, fields.code ?? '')).access_token);
    });

    it('form_post carries errors too; an unknown mode is invalid_request in the query', async () => {
      const page = await new Browser(server.url).get(authUrl({ response_mode: 'form_post', prompt: 'none' }).url);
      const fields = formPost(page);
      assert.equal(fields.error, 'login_required');
      assert.equal(fields.state, 'st-1');
      assert.equal(await reasonOf(page), 'authorize.login_required');
      await assertRedirectedError(await new Browser(server.url).get(authUrl({ response_mode: 'fragment' }).url), 'invalid_request', 'authorize.response_mode_unsupported');
    });
  });

  describe('request objects (Core 1.0 §6): not supported, and said so', () => {
    it('request is request_not_supported and request_uri request_uri_not_supported, at the redirect URI with state and iss', async () => {
      const unsigned = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"scope":"openid"}').toString('base64url')}.`;
      await assertRedirectedError(await new Browser(server.url).get(authUrl({ request: unsigned }).url), 'request_not_supported', 'authorize.request_object_unsupported');
      await assertRedirectedError(await new Browser(server.url).get(authUrl({ request_uri: 'https://rp.example.com/request.jwt' }).url), 'request_uri_not_supported', 'authorize.request_uri_unsupported');
      const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal(discovery.request_parameter_supported, false);
      assert.equal(discovery.request_uri_parameter_supported, false);
    });

    it('unknown parameters, display and acr_values are ignored (Core 1.0 §3.1.2.1: not understood, ignored)', async () => {
      const browser = await signedIn();
      const extras: Record<string, string>[] = [{ display: 'page' }, { display: 'popup' }, { acr_values: 'urn:mace:incommon:iap:silver' }, { claims_locales: 'fr-CA' }, { extra_thing: 'x' }];
      for (const extra of extras) {
        const flow = authUrl(extra);
        const page = await browser.get(flow.url);
        assert.ok(hasForm(page, 'consent'), `${JSON.stringify(extra)}: the consent page as without it`);
      }
    });
  });

  describe('the claims parameter', () => {
    it('its userinfo member reaches UserInfo and its id_token member the ID token, with scope openid alone', async () => {
      const browser = await signedIn();
      const claims = JSON.stringify({ userinfo: { email: { essential: true }, email_verified: null }, id_token: { name: null, picture: null } });
      const flow = authUrl({ claims });
      const q = callback(await allow(browser, flow, await browser.get(flow.url)));
      const tokens = await redeem(flow, q.get('code') ?? '');
      const idToken = decodeJwt(String(tokens.id_token));
      assert.equal(idToken.name, 'Alice Liddell');
      assert.equal(idToken.picture, undefined, 'no value: left out');
      assert.equal(idToken.email, undefined, 'not asked for the ID token');
      const res = await fetch(`${server.url}/oauth/userinfo`, { headers: { authorization: `Bearer ${String(tokens.access_token)}` } });
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), { sub: aliceId, email: 'alice@example.test', email_verified: true });
    });

    it('without it, scope openid gives only sub', async () => {
      const browser = await signedIn();
      const flow = authUrl();
      const tokens = await redeem(flow, callback(await allow(browser, flow, await browser.get(flow.url))).get('code') ?? '');
      assert.equal(decodeJwt(String(tokens.id_token)).name, undefined);
      const res = await fetch(`${server.url}/oauth/userinfo`, { headers: { authorization: `Bearer ${String(tokens.access_token)}` } });
      assert.deepEqual(await res.json(), { sub: aliceId });
    });

    it('malformed is refused as invalid_request', async () => {
      const browser = new Browser(server.url);
      for (const bad of ['{', '[]', '{"userinfo":[]}', '{"id_token":{"name":true}}']) {
        await assertRedirectedError(await browser.get(authUrl({ claims: bad }).url), 'invalid_request', 'authorize.claims_malformed');
      }
    });
  });
});
