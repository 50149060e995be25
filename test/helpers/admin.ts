import assert from 'node:assert/strict';
import { createApplication } from '../../src/registry/applications.js';
import { createUser } from '../../src/registry/users.js';
import { Browser, formFor, hasForm } from './browser.js';
import { refreshCache, registryDeps, tokenRequest } from './oauth.js';
import type { TestServer } from './server.js';

/** The password test servers give the bootstrap admin user (test/helpers/server.ts). */
export const ADMIN_PASSWORD = 'admin-password-for-tests';

export interface AdminReply {
  readonly status: number;
  readonly headers: Headers;
  readonly json: any;
  readonly text: string;
}

/** How a test calls the admin API: a bearer token, or a console session (cookies + CSRF token). */
export interface AdminClient {
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<AdminReply>;
}

export async function adminFetch(server: TestServer, method: string, path: string, init: { body?: unknown; headers?: Record<string, string> } = {}): Promise<AdminReply> {
  const url = path.startsWith('/admin/') ? `${server.url}${path}` : `${server.url}/admin/api/v1${path}`;
  const headers: Record<string, string> = { ...(init.headers ?? {}) };
  let body: string | undefined;
  if (init.body !== undefined) {
    body = JSON.stringify(init.body);
    headers['content-type'] ??= 'application/json';
  }
  const res = await fetch(url, { method, headers, redirect: 'manual', ...(body === undefined ? {} : { body }) });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** Applications allowed the password grant, created once per server: an ordinary one, and one allowed the admin API. */
const passwordApps = new WeakMap<TestServer, Map<boolean, Promise<{ clientId: string; secret: string }>>>();

function passwordApp(server: TestServer, adminApi: boolean): Promise<{ clientId: string; secret: string }> {
  let apps = passwordApps.get(server);
  if (apps === undefined) passwordApps.set(server, (apps = new Map()));
  let app = apps.get(adminApi);
  if (app === undefined) {
    app = (async () => {
      const name = adminApi ? 'Admin scripts (password grant)' : 'Admin test password client';
      const created = await createApplication(registryDeps(server), { name, grantTypes: ['password'], adminApi });
      await refreshCache(server);
      return { clientId: created.application.clientId, secret: created.clientSecret ?? '' };
    })();
    apps.set(adminApi, app);
  }
  return app;
}

/** An access token of `user` (password grant) from an ordinary application: it cannot use the admin API. */
export async function userToken(server: TestServer, user: string, password: string): Promise<string> {
  const { clientId, secret } = await passwordApp(server, false);
  const res = await tokenRequest(server.url, { basic: [clientId, secret], form: { grant_type: 'password', username: user, password } });
  assert.equal(res.status, 200, res.text);
  return res.json?.access_token as string;
}

/** An access token of `user` with the scope latchkey.admin, from an application allowed the admin API (password grant). */
export async function adminToken(server: TestServer, user = 'admin', password = ADMIN_PASSWORD): Promise<string> {
  const { clientId, secret } = await passwordApp(server, true);
  const res = await tokenRequest(server.url, { basic: [clientId, secret], form: { grant_type: 'password', username: user, password, scope: 'latchkey.admin' } });
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json?.scope, 'latchkey.admin');
  return res.json?.access_token as string;
}

export function bearerClient(server: TestServer, token: string): AdminClient {
  return { call: (method, path, body, headers) => adminFetch(server, method, path, { ...(body === undefined ? {} : { body }), headers: { authorization: `Bearer ${token}`, ...(headers ?? {}) } }) };
}

/** Creates a user without the admin role (once per name). */
export async function ensureUser(server: TestServer, userName: string, password: string, roles: string[] = []): Promise<void> {
  const deps = registryDeps(server);
  if ((await server.latchkey.storage.users.byName(userName)) === undefined) await createUser(deps, { userName, password, roles });
  await refreshCache(server);
}

export interface ConsoleSignIn {
  readonly browser: Browser;
  /** The callback's answer (303 to /console/ for an admin, 403 page otherwise). */
  readonly callback: { status: number; location: string | undefined; text: string; setCookies: readonly string[]; headers: Headers };
}

/**
 * Drives /console/login → sign-in page → /console/callback over HTTP, like a browser. The console
 * is first-party: no consent page (src/endpoints/authorize/first-party.ts), which this checks.
 */
export async function consoleSignIn(server: TestServer, username: string, password: string, browser = new Browser(server.url)): Promise<ConsoleSignIn> {
  const login = await browser.get('/console/login');
  assert.equal(login.status, 303, login.text);
  assert.ok(login.location !== undefined);
  const authorizeUrl = new URL(login.location, server.url).toString();
  assert.ok(authorizeUrl.startsWith(`${server.url}/oauth/authorize?`), authorizeUrl);
  let answer = await browser.get(authorizeUrl);
  if (answer.status === 200) {
    assert.ok(hasForm(answer, 'sign_in'), `the console asks only for the password: ${answer.text.slice(0, 1500)}`);
    answer = await browser.submit(authorizeUrl, formFor(answer, 'sign_in'), { username, password });
  }
  assert.equal(answer.status, 303, `straight back to the console, no consent page: ${answer.status} ${answer.text.slice(0, 1500)}`);
  assert.ok(answer.location !== undefined && answer.location.startsWith(`${server.url}/console/callback?`), answer.location);
  const callback = await browser.get(answer.location);
  return { browser, callback };
}

/** A console session of an admin, with its CSRF token; `call` sends the token unless told not to. */
export async function sessionClient(server: TestServer, username = 'admin', password = ADMIN_PASSWORD): Promise<AdminClient & { browser: Browser; csrf: string; raw: AdminClient; browserCookie: () => string }> {
  const { browser, callback } = await consoleSignIn(server, username, password);
  assert.equal(callback.status, 303, callback.text);
  assert.equal(callback.location, '/console/');
  const cookie = () => [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  const raw: AdminClient = { call: (method, path, body, headers) => adminFetch(server, method, path, { ...(body === undefined ? {} : { body }), headers: { cookie: cookie(), ...(headers ?? {}) } }) };
  const session = await raw.call('GET', '/session');
  assert.equal(session.status, 200, session.text);
  const csrf = session.json.csrfToken as string;
  assert.ok(typeof csrf === 'string' && csrf.length > 20);
  return {
    browser,
    csrf,
    raw,
    browserCookie: cookie,
    call: (method, path, body, headers) => raw.call(method, path, body, { 'x-csrf-token': csrf, ...(headers ?? {}) }),
  };
}
