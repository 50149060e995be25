import assert from 'node:assert/strict';
import { createApplication } from '../../src/registry/applications.js';
import { createUser } from '../../src/registry/users.js';
import { authorizeInBrowser, Browser } from './browser.js';
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

/** An application allowed the password grant, created once per server, for user tokens. */
const passwordApps = new WeakMap<TestServer, Promise<{ clientId: string; secret: string }>>();

/** An access token of `user` (password grant). */
export async function userToken(server: TestServer, user: string, password: string): Promise<string> {
  let app = passwordApps.get(server);
  if (app === undefined) {
    app = (async () => {
      const created = await createApplication(registryDeps(server), { name: 'Admin test password client', grantTypes: ['password'] });
      await refreshCache(server);
      return { clientId: created.application.clientId, secret: created.clientSecret ?? '' };
    })();
    passwordApps.set(server, app);
  }
  const { clientId, secret } = await app;
  const res = await tokenRequest(server.url, { basic: [clientId, secret], form: { grant_type: 'password', username: user, password } });
  assert.equal(res.status, 200, res.text);
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

/** Drives /console/login → sign-in page → consent page → /console/callback over HTTP, like a browser. */
export async function consoleSignIn(server: TestServer, username: string, password: string): Promise<ConsoleSignIn> {
  const browser = new Browser(server.url);
  const login = await browser.get('/console/login');
  assert.equal(login.status, 303, login.text);
  assert.ok(login.location !== undefined);
  const authorizeUrl = new URL(login.location, server.url).toString();
  assert.ok(authorizeUrl.startsWith(`${server.url}/oauth/authorize?`), authorizeUrl);
  const answer = await authorizeInBrowser(browser, authorizeUrl, { username, password });
  assert.ok(answer.location !== undefined && answer.location.startsWith(`${server.url}/console/callback?`), answer.location);
  const callback = await browser.get(answer.location);
  return { browser, callback };
}

/** A console session of an admin, with its CSRF token; `call` sends the token unless told not to. */
export async function sessionClient(server: TestServer, username = 'admin', password = ADMIN_PASSWORD): Promise<AdminClient & { browser: Browser; csrf: string; raw: AdminClient }> {
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
    call: (method, path, body, headers) => raw.call(method, path, body, { 'x-csrf-token': csrf, ...(headers ?? {}) }),
  };
}
