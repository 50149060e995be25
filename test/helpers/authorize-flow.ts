import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Clock } from '../../src/core/clock.js';
import { createApplication } from '../../src/registry/applications.js';
import { createUser } from '../../src/registry/users.js';
import { authorizeInBrowser, Browser, formFor, type Page } from './browser.js';
import { refreshCache, registryDeps, tokenRequest, type TokenResponse } from './oauth.js';
import type { TestServer } from './server.js';

/**
 * A self-contained authorization-code setup for tests that need codes without caring how they are
 * obtained (test/reasons.test.ts): one user, a confidential and a public application, created on
 * first use per server, and codes obtained by driving the pages like a browser.
 */
export interface CodeFixture {
  readonly user: string;
  readonly password: string;
  readonly redirectUri: string;
  readonly confidential: { readonly clientId: string; readonly secret: string };
  readonly public: { readonly clientId: string };
  /** An application allowed the grant but with no redirect URI registered. */
  readonly unregistered: { readonly clientId: string };
}

const fixtures = new WeakMap<TestServer, Promise<CodeFixture>>();

export const FIXTURE_REDIRECT_URI = 'https://code-client.example.com/cb';

export function codeFixture(server: TestServer, clock?: Clock): Promise<CodeFixture> {
  let fixture = fixtures.get(server);
  if (fixture === undefined) {
    fixture = (async () => {
      const deps = registryDeps(server, clock);
      const user = 'code-flow-user';
      const password = 'code-flow-password-1';
      await createUser(deps, { userName: user, password });
      const conf = await createApplication(deps, { name: 'Code flow (confidential)', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [FIXTURE_REDIRECT_URI] });
      const pub = await createApplication(deps, { name: 'Code flow (public)', public: true, grantTypes: ['authorization_code'], redirectUris: [FIXTURE_REDIRECT_URI] });
      const none = await createApplication(deps, { name: 'Code flow (no redirect URI)', grantTypes: ['authorization_code'] });
      await refreshCache(server);
      return {
        user,
        password,
        redirectUri: FIXTURE_REDIRECT_URI,
        confidential: { clientId: conf.application.clientId, secret: conf.clientSecret ?? '' },
        public: { clientId: pub.application.clientId },
        unregistered: { clientId: none.application.clientId },
      };
    })();
    fixtures.set(server, fixture);
  }
  return fixture;
}

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(server: TestServer, params: Record<string, string>): string {
  return `${server.url}/oauth/authorize?${new URLSearchParams(params).toString()}`;
}

/** A valid authorization request for the fixture's confidential (or public) client. */
export function requestParams(fx: CodeFixture, options: { client?: 'confidential' | 'public'; challenge?: string | null; state?: string } = {}): Record<string, string> {
  const params: Record<string, string> = {
    response_type: 'code',
    client_id: options.client === 'public' ? fx.public.clientId : fx.confidential.clientId,
    redirect_uri: fx.redirectUri,
    state: options.state ?? 'fixture-state',
  };
  if (options.challenge !== null && options.challenge !== undefined) Object.assign(params, { code_challenge: options.challenge, code_challenge_method: 'S256' });
  return params;
}

/** A fresh code, consented to by the fixture user; with PKCE unless `pkce` is false. */
export async function issueCode(server: TestServer, fx: CodeFixture, options: { client?: 'confidential' | 'public'; pkce?: boolean } = {}): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkcePair();
  const params = requestParams(fx, { ...(options.client === undefined ? {} : { client: options.client }), challenge: options.pkce === false ? null : challenge });
  const answer = await authorizeInBrowser(new Browser(server.url), authorizeUrl(server, params), { username: fx.user, password: fx.password });
  const code = new URL(answer.location ?? '').searchParams.get('code');
  assert.ok(code !== null, answer.location);
  return { code, verifier };
}

/** The sign-in page of a fresh browser for a valid request, and that browser. */
export async function signInPage(server: TestServer, fx: CodeFixture): Promise<{ browser: Browser; url: string; page: Page }> {
  const browser = new Browser(server.url);
  const url = authorizeUrl(server, requestParams(fx, { challenge: pkcePair().challenge }));
  const page = await browser.get(url);
  formFor(page, 'sign_in');
  return { browser, url, page };
}

/** Asserts an error page (never a redirect) and returns its request id. */
export function assertErrorPage(page: Page, status: number): { requestId: string } {
  assert.equal(page.status, status, page.text.slice(0, 500));
  assert.equal(page.location, undefined);
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.ok(page.text.includes(page.requestId));
  return { requestId: page.requestId };
}

/** Asserts an error redirect to the fixture's redirect URI and returns its request id. */
export function assertErrorRedirect(page: Page, error: string, state: string | null): { requestId: string } {
  assert.equal(page.status, 303, page.text.slice(0, 500));
  assert.ok(page.location?.startsWith(`${FIXTURE_REDIRECT_URI}?`), page.location);
  const p = new URL(page.location ?? '').searchParams;
  assert.equal(p.get('error'), error);
  assert.equal(p.get('state'), state);
  assert.ok(p.get('iss') !== null);
  return { requestId: page.requestId };
}

/** A token request for the authorization_code grant as the fixture's confidential client (HTTP Basic) or public client (client_id). */
export function redeemCode(server: TestServer, fx: CodeFixture, form: Record<string, string>, client: 'confidential' | 'public' = 'confidential'): Promise<TokenResponse> {
  return client === 'public'
    ? tokenRequest(server.url, { form: { grant_type: 'authorization_code', client_id: fx.public.clientId, ...form } })
    : tokenRequest(server.url, { form: { grant_type: 'authorization_code', ...form }, basic: [fx.confidential.clientId, fx.confidential.secret] });
}
