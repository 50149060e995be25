import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { main } from '../src/cli/main.js';
import type { IO } from '../src/cli/context.js';
import { createApplication } from '../src/registry/applications.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser, updateUser } from '../src/registry/users.js';
import { ADMIN_PASSWORD, adminFetch, consoleSignIn, ensureUser, sessionClient } from './helpers/admin.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { authorizeUrl, pkcePair } from './helpers/authorize-flow.js';
import { Browser, formFor, hasForm } from './helpers/browser.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Everything that ends, ends on the server (issue 11): a sign-out, a password change, a role change
 * and a deactivation end sessions and tokens for every copy of the cookie and on every instance.
 * Before, sessions were stateless signed cookies (sign-out only cleared the browser's copy) and a
 * password change left the user's access and refresh tokens valid.
 */
describe('sessions and tokens end on the server', () => {
  let server: TestServer;
  /** A second instance on the same database (as behind a load balancer). */
  let peer: TestServer;
  const PW = 'a-good-password-1';

  async function cli(args: readonly string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => stdin };
    const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
    return { code, out, err };
  }

  const cookieOf = (browser: Browser) => [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    peer = await startTestServer({ shareDb: { db: server.db, storageKind: server.storageKind }, issuer: server.url, apisDir: FIXTURE_APIS });
    await setProperty(registryDeps(server), 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
    await refreshCache(server);
  });
  after(async () => {
    await peer?.close();
    await server?.close();
  });

  it('console sign-out ends the session for a copied cookie too, on every instance, and signing in again asks for the password', async () => {
    await ensureUser(server, 'ops-admin', PW, ['admin']);
    const session = await sessionClient(server, 'ops-admin', PW);
    const stolen = session.browserCookie();
    const copy = (s: TestServer) => adminFetch(s, 'GET', '/users', { headers: { cookie: stolen } });
    assert.equal((await copy(server)).status, 200);
    assert.equal((await copy(peer)).status, 200, 'the session is shared by every instance');
    const out = await session.call('POST', '/session/logout');
    assert.equal(out.status, 200, out.text);
    for (const s of [server, peer]) {
      const res = await copy(s);
      assert.equal(res.status, 401, res.text);
      assert.equal(res.json.reason, 'admin.session_ended');
    }
    // The copied cookies include the authorization server's sign-in session: it ended too, so
    // "Sign in again" shows the sign-in page instead of going straight in.
    const thief = new Browser(server.url);
    for (const part of stolen.split('; ')) {
      const eq = part.indexOf('=');
      thief.cookies.set(part.slice(0, eq), part.slice(eq + 1));
    }
    const login = await thief.get('/console/login');
    const page = await thief.get(new URL(login.location ?? '', server.url).toString());
    assert.equal(page.status, 200);
    assert.ok(hasForm(page, 'sign_in'), 'asked to sign in, not to consent');
  });

  it('a password change ends sessions and revokes access and refresh tokens family by family, and says how many', async () => {
    await createUser(registryDeps(server), { userName: 'pat', password: PW, roles: ['admin'] });
    const app = await createApplication(registryDeps(server), { name: 'Pat mobile', grantTypes: ['password'] });
    await refreshCache(server);
    const grant = async () => {
      const res = await tokenRequest(server.url, { basic: [app.application.clientId, app.clientSecret ?? ''], form: { grant_type: 'password', username: 'pat', password: PW } });
      assert.equal(res.status, 200, res.text);
      return { access: res.json?.access_token as string, refresh: res.json?.refresh_token as string };
    };
    const [first, second] = [await grant(), await grant()];
    const console = await consoleSignIn(server, 'pat', PW);
    assert.equal(console.callback.status, 303);
    const cookie = cookieOf(console.browser);
    assert.equal((await apiCall(peer.url, { path: '/api/test/echo', bearer: first.access })).status, 200);
    const changed = await cli(['users', 'update', 'pat', '--password-stdin'], 'another-good-password-2');
    assert.equal(changed.code, 0, changed.err);
    assert.match(changed.out, /On every instance: ended 2 sessions \(sign-in and console\); revoked 4 tokens of 2 sign-ins\./);
    // Instances drop cached token records when they next see the change version move (a poll, at
    // most pollMs later): the CLI can finish inside one interval, so take that poll now.
    for (const s of [server, peer]) await refreshCache(s);
    for (const s of [server, peer]) {
      for (const t of [first.access, second.access]) {
        const res = await apiCall(s.url, { path: '/api/test/echo', bearer: t });
        assert.equal(res.status, 401, res.text);
        assert.match(res.text, /token\.revoked/);
      }
      assert.equal((await adminFetch(s, 'GET', '/users', { headers: { cookie } })).status, 401);
    }
    const refreshed = await tokenRequest(server.url, { basic: [app.application.clientId, app.clientSecret ?? ''], form: { grant_type: 'refresh_token', refresh_token: second.refresh } });
    assert.equal(refreshed.status, 400, refreshed.text);
    assert.equal(refreshed.json?.error, 'invalid_grant');
    const audit = await server.latchkey.storage.audit.list({ target: 'pat', action: 'user.sessions_ended' });
    assert.equal(audit.length, 1);
    assert.match(audit[0]?.after ?? '', /password changed/);
  });

  it("a deactivation revokes the user's tokens, client-credentials tokens of its applications too: activating again revives none", async () => {
    const deps = registryDeps(server);
    await createUser(deps, { userName: 'svc-nightly' });
    const app = await createApplication(deps, { name: 'Nightly', grantTypes: ['client_credentials'], appUser: 'svc-nightly' });
    await refreshCache(server);
    const res = await tokenRequest(server.url, { basic: [app.application.clientId, app.clientSecret ?? ''], form: { grant_type: 'client_credentials' } });
    const token = res.json?.access_token as string;
    const { ended } = await updateUser(deps, 'svc-nightly', { active: false });
    assert.deepEqual(ended, { sessions: 0, tokens: 1, families: 1 });
    await updateUser(deps, 'svc-nightly', { active: true });
    await refreshCache(server);
    const after = await apiCall(server.url, { path: '/api/test/echo', bearer: token });
    assert.equal(after.status, 401, after.text);
    assert.match(after.text, /token\.revoked/);
  });

  it("a role change ends the user's sign-in session: the next authorization asks for the password again", async () => {
    await createUser(registryDeps(server), { userName: 'quinn', password: PW, roles: ['itil'] });
    const app = await createApplication(registryDeps(server), { name: 'Quinn portal', grantTypes: ['authorization_code'], redirectUris: ['https://quinn.example.com/cb'] });
    await refreshCache(server);
    const browser = new Browser(server.url);
    const url = authorizeUrl(server, { response_type: 'code', client_id: app.application.clientId, redirect_uri: 'https://quinn.example.com/cb', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });
    const signIn = await browser.get(url);
    const form = formFor(signIn, 'sign_in');
    const consent = await browser.submit(url, form, { username: 'quinn', password: PW });
    assert.ok(hasForm(consent, 'consent'));
    assert.ok(hasForm(await browser.get(url), 'consent'), 'signed in: straight to consent');
    await updateUser(registryDeps(server), 'quinn', { roles: ['itil', 'approver'] });
    assert.ok(hasForm(await browser.get(url), 'sign_in'), 'the session ended with the role change');
  });

  it('the admin password stays usable for the suite (sanity)', async () => {
    const again = await consoleSignIn(server, 'admin', ADMIN_PASSWORD);
    assert.equal(again.callback.status, 303);
  });
});
