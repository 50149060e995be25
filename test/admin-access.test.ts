import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CONSOLE_CSP } from '../src/admin/http.js';
import { registeredAdminRoutes } from '../src/http/admin-plugin.js';
import { ADMIN_ROUTES, type AdminRoute } from '../src/admin/routes.js';
import { ManualClock } from '../src/core/clock.js';
import { updateUser } from '../src/registry/users.js';
import { adminFetch, adminToken, consoleSignIn, ensureUser, sessionClient } from './helpers/admin.js';
import { registryDeps } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** A concrete URL path for a route template (parameters filled with harmless values). */
function pathOf(route: AdminRoute): string {
  return route.path.replace(/:([A-Za-z0-9_]+)/g, (_m, name: string) => `sample-${name}`);
}

const stateChanging = (r: AdminRoute) => r.method !== 'GET';
const label = (r: AdminRoute) => `${r.method} /admin/api/v1${r.path}`;

/**
 * Every admin API route and console page is refused to strangers and to non-admins, and a cookie
 * session cannot change anything without the CSRF token. The route list comes from the route table
 * the host registers (src/admin/routes.ts), so a new route is covered without editing this file.
 */
describe('admin access control', () => {
  let server: TestServer;
  let userBearer: string;
  let consoleDir: string;
  const previousDir = process.env.LATCHKEY_CONSOLE_DIR;

  before(async () => {
    consoleDir = mkdtempSync(join(tmpdir(), 'latchkey-console-'));
    process.env.LATCHKEY_CONSOLE_DIR = consoleDir;
    server = await startTestServer();
    await ensureUser(server, 'plain-user', 'plain-user-password', ['reader']);
    // From an application allowed the admin API, with the scope: only the role is missing.
    userBearer = await adminToken(server, 'plain-user', 'plain-user-password');
  });
  after(async () => {
    if (previousDir === undefined) delete process.env.LATCHKEY_CONSOLE_DIR;
    else process.env.LATCHKEY_CONSOLE_DIR = previousDir;
    await server?.close();
    rmSync(consoleDir, { recursive: true, force: true });
  });

  it('the route table is not empty and every route is registered', () => {
    assert.ok(ADMIN_ROUTES.length >= 30);
    for (const r of ADMIN_ROUTES) assert.ok(server.http.hasRoute({ method: r.method, url: `/admin/api/v1${r.path}` }), label(r));
  });

  describe('unauthenticated: 401', () => {
    for (const route of ADMIN_ROUTES) {
      it(label(route), async () => {
        const res = await adminFetch(server, route.method, pathOf(route), stateChanging(route) ? { body: {} } : {});
        assert.equal(res.status, 401, res.text);
        assert.equal(res.json.error, 'unauthenticated');
        assert.equal(res.headers.get('cache-control'), 'no-store');
        assert.equal(res.headers.get('x-frame-options'), 'DENY');
        assert.match(res.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
      });
    }
    it('every route the host registered below /admin/api/v1, table or not', async () => {
      // fetch cannot send TRACE or CONNECT (the catch-all also answers those).
      const served = registeredAdminRoutes(server.http).filter((r) => ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'].includes(r.method));
      assert.ok(served.length > ADMIN_ROUTES.length);
      for (const r of served) {
        const path = r.url.replace('/admin/api/v1', '').replace(/:([A-Za-z0-9_]+)/g, 'sample').replace('*', 'anything');
        const res = await adminFetch(server, r.method, path, r.method === 'GET' || r.method === 'OPTIONS' ? {} : { body: {} });
        assert.equal(res.status, 401, `${r.method} ${r.url}: ${res.text}`);
      }
    });
    it('an unknown route below the API', async () => {
      assert.equal((await adminFetch(server, 'GET', '/no-such-route')).status, 401);
    });
    it('a refused bearer token', async () => {
      const res = await adminFetch(server, 'GET', '/session', { headers: { authorization: 'Bearer lk_at_not-a-real-token' } });
      assert.equal(res.status, 401);
    });
  });

  describe('bearer token of a user without the admin role: 403', () => {
    for (const route of ADMIN_ROUTES) {
      it(label(route), async () => {
        const res = await adminFetch(server, route.method, pathOf(route), { headers: { authorization: `Bearer ${userBearer}` }, ...(stateChanging(route) ? { body: {} } : {}) });
        assert.equal(res.status, 403, res.text);
        assert.equal(res.json.error, 'forbidden');
        assert.match(res.json.message, /admin role/);
      });
    }
  });

  describe('cookie session without the CSRF token on state-changing routes: 403 csrf', () => {
    let session: Awaited<ReturnType<typeof sessionClient>>;
    before(async () => {
      session = await sessionClient(server);
    });
    for (const route of ADMIN_ROUTES.filter(stateChanging)) {
      it(label(route), async () => {
        const missing = await session.raw.call(route.method, pathOf(route), {});
        assert.equal(missing.status, 403, missing.text);
        assert.equal(missing.json.error, 'csrf');
        const wrong = await session.raw.call(route.method, pathOf(route), {}, { 'x-csrf-token': `${session.csrf.slice(0, -2)}xx` });
        assert.equal(wrong.status, 403, wrong.text);
        assert.equal(wrong.json.error, 'csrf');
        const foreign = await session.raw.call(route.method, pathOf(route), {}, { 'x-csrf-token': session.csrf, origin: 'https://evil.example.com' });
        assert.equal(foreign.status, 403, foreign.text);
        assert.equal(foreign.json.error, 'csrf');
      });
    }
    it('with the token, a state-changing call goes through', async () => {
      const res = await session.call('POST', '/scopes', { name: 'csrf.ok' });
      assert.equal(res.status, 201, res.text);
    });
  });

  it('a cookie session of a user who lost the admin role ends on the server: 401 on every route', async () => {
    await ensureUser(server, 'demoted', 'demoted-password', ['admin']);
    const session = await sessionClient(server, 'demoted', 'demoted-password');
    const { ended } = await updateUser(registryDeps(server), 'demoted', { roles: ['reader'] });
    assert.equal(ended.sessions, 2, 'the console session and the sign-in session it came from');
    for (const route of ADMIN_ROUTES) {
      const res = await session.call(route.method, pathOf(route), stateChanging(route) ? {} : undefined);
      assert.equal(res.status, 401, `${label(route)}: ${res.text}`);
      assert.equal(res.json.reason, 'admin.session_ended');
    }
  });

  describe('console pages', () => {
    it('/console/ without a session redirects to /console/login', async () => {
      for (const path of ['/console/', '/console/index.html']) {
        const res = await fetch(`${server.url}${path}`, { redirect: 'manual' });
        assert.equal(res.status, 303, path);
        assert.equal(res.headers.get('location'), '/console/login');
        assert.equal(res.headers.get('x-frame-options'), 'DENY');
      }
      const bare = await fetch(`${server.url}/console`, { redirect: 'manual' });
      assert.equal(bare.headers.get('location'), '/console/');
    });

    it('/console/login starts the authorization code flow with PKCE as latchkey-console', async () => {
      const res = await fetch(`${server.url}/console/login`, { redirect: 'manual' });
      assert.equal(res.status, 303);
      const url = new URL(res.headers.get('location') ?? '');
      assert.equal(url.pathname, '/oauth/authorize');
      assert.equal(url.searchParams.get('client_id'), 'latchkey-console');
      assert.equal(url.searchParams.get('redirect_uri'), `${server.url}/console/callback`);
      assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
      assert.match(url.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
      assert.ok((url.searchParams.get('state') ?? '').length >= 16);
    });

    it('/console/login reached under another host name (localhost for 127.0.0.1) moves to the issuer first, so its cookie comes back with the callback', async () => {
      const { request } = await import('node:http');
      const url = new URL(server.url);
      const res = await new Promise<{ status: number; location: string | undefined; cookies: string[] }>((resolve, reject) => {
        const req = request({ host: url.hostname, port: url.port, path: '/console/login', headers: { host: `localhost:${url.port}` } }, (r) => {
          r.resume();
          resolve({ status: r.statusCode ?? 0, location: r.headers.location, cookies: r.headers['set-cookie'] ?? [] });
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(res.status, 303);
      assert.equal(res.location, `${server.url}/console/login`);
      assert.deepEqual(res.cookies, [], 'no sign-in cookie is set on the other host name');
    });

    it('a non-admin signing in through the real flow gets the 403 page', async () => {
      const { callback } = await consoleSignIn(server, 'plain-user', 'plain-user-password');
      assert.equal(callback.status, 403, callback.text);
      assert.match(callback.text, /lacks the admin role/);
      assert.match(callback.text, /latchkey users update plain-user --roles admin/);
      assert.ok(!callback.setCookies.some((c) => c.startsWith('latchkey_console=') && !/Max-Age=0/.test(c)), 'a session was started');
      assert.equal(callback.headers.get('x-frame-options'), 'DENY');
    });

    it('a callback without the login cookie or with a wrong state is refused', async () => {
      const res = await fetch(`${server.url}/console/callback?code=x&state=y`, { redirect: 'manual' });
      assert.equal(res.status, 400);
    });

    it('console files: 503 until built, then index.html no-store and hashed assets long-cached', async () => {
      const session = await sessionClient(server);
      const cookie = [...session.browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const unbuilt = await fetch(`${server.url}/console/`, { headers: { cookie } });
      assert.equal(unbuilt.status, 503);
      assert.match(await unbuilt.text(), /console not built: run npm run build/);
      mkdirSync(join(consoleDir, 'assets'), { recursive: true });
      writeFileSync(join(consoleDir, 'index.html'), '<!DOCTYPE html><title>Console</title><script type="module" src="/console/assets/index-AbCd1234.js"></script>');
      writeFileSync(join(consoleDir, 'assets', 'index-AbCd1234.js'), 'console.log(1);');
      const page = await fetch(`${server.url}/console/`, { headers: { cookie } });
      assert.equal(page.status, 200);
      assert.equal(page.headers.get('cache-control'), 'no-store');
      assert.equal(page.headers.get('content-security-policy'), CONSOLE_CSP);
      assert.equal(page.headers.get('x-frame-options'), 'DENY');
      const asset = await fetch(`${server.url}/console/assets/index-AbCd1234.js`);
      assert.equal(asset.status, 200);
      assert.match(asset.headers.get('cache-control') ?? '', /immutable/);
      assert.match(asset.headers.get('content-type') ?? '', /javascript/);
      assert.equal(asset.headers.get('content-security-policy'), CONSOLE_CSP);
      for (const bad of ['/console/../package.json', '/console/%2e%2e/%2e%2e/package.json', '/console/assets/nope.js', '/console/.env']) {
        const res = await fetch(`${server.url}${bad}`);
        assert.equal(res.status, 404, bad);
      }
    });
  });

  it('the console session ends after 30 minutes idle and 8 hours in all', async () => {
    const clock = new ManualClock();
    const own = await startTestServer({ clock });
    try {
      const session = await sessionClient(own);
      clock.advance(29 * 60_000);
      assert.equal((await session.call('GET', '/session')).status, 200);
      clock.advance(31 * 60_000);
      const idle = await session.raw.call('GET', '/session');
      assert.equal(idle.status, 401, 'the idle timeout did not end the session');
      const fresh = await sessionClient(own);
      for (let i = 0; i < 17; i++) {
        clock.advance(29 * 60_000);
        const res = await fresh.raw.call('GET', '/session');
        // Keep the refreshed cookie, as a browser would.
        const set = res.headers.getSetCookie().find((c) => c.startsWith('latchkey_console='));
        if (set !== undefined) fresh.browser.cookies.set('latchkey_console', set.split(';')[0]!.slice('latchkey_console='.length));
        if (i < 16) assert.equal(res.status, 200, `after ${(i + 1) * 29} minutes`);
        else assert.equal(res.status, 401, 'the absolute lifetime did not end the session');
      }
    } finally {
      await own.close();
    }
  });
});
