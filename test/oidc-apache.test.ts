import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createApplication, findApplication, updateApplication } from '../src/registry/applications.js';
import { createUser } from '../src/registry/users.js';
import { decodeEntities, formFor, formsOf, type Form } from './helpers/browser.js';
import { refreshCache, registryDeps } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { freePort } from './helpers/ports.js';

/**
 * Apache httpd with mod_auth_openidc (Debian's apache2 and libapache2-mod-auth-openidc, installed
 * by .ci/run) as a relying party of Latchkey: a real, independently written OpenID Connect client
 * discovers Latchkey, sends the browser to it with PKCE, redeems the code with its client secret,
 * validates the ID token, calls UserInfo, and hands the claims to a CGI page. The browser is
 * a small HTTP client with a cookie jar; every redirect is followed by hand.
 *
 * LATCHKEY_APACHE (default /usr/sbin/apache2) and LATCHKEY_APACHE_MODULES (default
 * /usr/lib/apache2/modules) point it at another build; LATCHKEY_APACHE_LOG_LEVEL=debug makes the
 * module's error log (quoted in failure messages) say what it did — at debug it logs tokens, so
 * only on a developer's machine.
 */

const APACHE = process.env.LATCHKEY_APACHE ?? '/usr/sbin/apache2';
const MODULES = process.env.LATCHKEY_APACHE_MODULES ?? '/usr/lib/apache2/modules';
const NEEDED_MODULES = ['mpm_prefork', 'authn_core', 'authz_core', 'authz_user', 'auth_openidc', 'mime', 'dir', 'cgi'] as const;
/** Compiled into Debian's apache2 (`apache2 -l`); loaded from MODULES by builds that have them shared. */
const BUILT_IN_MODULES = ['unixd', 'log_config'] as const;

function whatIsMissing(): string | undefined {
  if (!existsSync(APACHE)) return `Apache httpd is not installed (${APACHE} not found)`;
  const absent = NEEDED_MODULES.filter((m) => !existsSync(join(MODULES, `mod_${m}.so`)));
  if (absent.length > 0) return `Apache modules not found in ${MODULES}: ${absent.map((m) => `mod_${m}`).join(', ')}`;
  return undefined;
}

const MISSING = whatIsMissing();
const INSTALL = 'Install them with: apt-get install apache2 libapache2-mod-auth-openidc (.ci/run does this in CI).';
// In CI a missing Apache is a failure (before() throws); elsewhere the suite is skipped, saying why.
const SKIP = MISSING !== undefined && process.env.CI !== 'true' ? `${MISSING}. ${INSTALL}` : false;

const ADA_PW = 'ada-apache-password';
const HOME_PAGE = '<p>Public home page</p>\n';

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: '127.0.0.1', port });
    c.setTimeout(500);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('timeout', () => {
      c.destroy();
      resolve(false);
    });
    c.once('error', () => resolve(false));
  });
}

interface Cookie {
  readonly name: string;
  readonly value: string;
  readonly path: string;
}

/**
 * A browser as far as this flow needs one: cookies per host, like a real browser (RFC 6265 §8.5:
 * cookies do not isolate by port, so Latchkey's and Apache's cookies, both on 127.0.0.1, travel
 * to both — their names differ), path-matched, deleted by Max-Age=0 or a past Expires. No
 * redirect is followed automatically; the test follows each one itself.
 */
class Browser {
  private readonly jar = new Map<string, Map<string, Cookie>>();

  private cookiesFor(url: URL): string | undefined {
    const cookies = [...(this.jar.get(url.hostname)?.values() ?? [])].filter((c) => url.pathname === c.path || url.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`));
    return cookies.length === 0 ? undefined : cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  }

  private absorb(url: URL, setCookies: readonly string[]): void {
    const host = this.jar.get(url.hostname) ?? new Map<string, Cookie>();
    this.jar.set(url.hostname, host);
    for (const line of setCookies) {
      const [pair = '', ...attrs] = line.split(';').map((s) => s.trim());
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      const attr = (n: string) => attrs.find((a) => a.toLowerCase().startsWith(`${n}=`))?.slice(n.length + 1);
      const path = attr('path') ?? '/';
      const maxAge = attr('max-age');
      const expires = attr('expires');
      const gone = (maxAge !== undefined && Number(maxAge) <= 0) || (maxAge === undefined && expires !== undefined && Date.parse(expires) <= Date.now());
      if (gone || value === '') host.delete(name);
      else host.set(name, { name, value, path });
    }
  }

  /** Names of the cookies held for a host (for assertions; values stay out of messages). */
  cookieNames(hostname: string): string[] {
    return [...(this.jar.get(hostname)?.keys() ?? [])];
  }

  async request(url: string, form?: Record<string, string>): Promise<{ url: URL; status: number; location: string | undefined; text: string }> {
    const target = new URL(url);
    // A top-level navigation, as a browser sends it. Not fetch: it always sends Sec-Fetch-Mode:
    // cors, and mod_auth_openidc (rightly) answers such XHR-looking requests 401 instead of
    // redirecting them to the provider.
    const headers: Record<string, string> = { 'user-agent': 'latchkey-apache-test', accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.8', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };
    const cookie = this.cookiesFor(target);
    if (cookie !== undefined) headers.cookie = cookie;
    let body: string | undefined;
    if (form !== undefined) {
      body = new URLSearchParams(form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers['content-length'] = String(Buffer.byteLength(body));
    }
    const res = await new Promise<{ status: number; headers: IncomingHttpHeaders; text: string }>((resolve, reject) => {
      const req = httpRequest(target, { method: body === undefined ? 'GET' : 'POST', headers, timeout: 10_000 }, (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (c: Buffer) => chunks.push(c));
        answer.on('end', () => resolve({ status: answer.statusCode ?? 0, headers: answer.headers, text: Buffer.concat(chunks).toString('utf8') }));
        answer.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error(`no answer from ${target.origin}${target.pathname} within 10 s`)));
      req.on('error', reject);
      req.end(body);
    });
    this.absorb(target, res.headers['set-cookie'] ?? []);
    const location = res.headers.location;
    return { url: target, status: res.status, location: location === undefined ? undefined : new URL(location, target).toString(), text: res.text };
  }

  submit(page: { url: URL }, form: Form, extra: Record<string, string> = {}) {
    return this.request(new URL(form.action, page.url).toString(), { ...form.fields, ...extra });
  }
}

/** The page the protected CGI script prints: `NAME=value` lines of the OIDC_CLAIM_* variables and the two JSON payloads. */
function parsePage(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) vars.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return vars;
}

describe('Apache httpd with mod_auth_openidc as a relying party', { skip: SKIP }, () => {
  let server: TestServer;
  let dir: string;
  let apache: ChildProcess | undefined;
  let apacheExit: Promise<void> | undefined;
  let site: string;
  let clientId: string;
  let adaId: string;
  const errorLog = () => (dir === undefined || !existsSync(join(dir, 'logs', 'error.log')) ? '' : readFileSync(join(dir, 'logs', 'error.log'), 'utf8'));

  before(async () => {
    if (MISSING !== undefined) throw new Error(`${MISSING}. ${INSTALL}`);
    server = await startTestServer();
    let port = await freePort();
    site = `http://127.0.0.1:${port}`;
    const deps = registryDeps(server);
    const app = await createApplication(deps, {
      name: 'Apache site',
      grantTypes: ['authorization_code', 'refresh_token'],
      redirectUris: [`${site}/protected/redirect_uri`],
      scopes: ['openid', 'profile', 'email'],
    });
    clientId = app.application.clientId;
    const secret = app.clientSecret ?? '';
    assert.ok(secret !== '', 'a confidential client');
    adaId = (await createUser(deps, { userName: 'ada', password: ADA_PW, profile: { name: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.com', emailVerified: true } })).user.id;
    await refreshCache(server);

    dir = mkdtempSync(join(tmpdir(), 'latchkey-apache-'));
    for (const sub of ['logs', 'run', 'htdocs', 'htdocs/protected']) mkdirSync(join(dir, sub), { recursive: true });
    writeFileSync(join(dir, 'htdocs', 'index.html'), HOME_PAGE);
    writeFileSync(join(dir, 'htdocs', 'signed-out.html'), '<p>You are signed out of the site</p>\n');
    // The protected page: the claims mod_auth_openidc passes as environment variables. Only
    // claims: the access and refresh tokens (OIDC_access_token, ...) are never printed.
    writeFileSync(
      join(dir, 'htdocs', 'protected', 'index.cgi'),
      `#!/bin/sh
printf 'Content-Type: text/plain\\r\\n\\r\\n'
printf 'REMOTE_USER=%s\\n' "$REMOTE_USER"
env | grep '^OIDC_CLAIM_' | sort
printf 'OIDC_id_token_payload=%s\\n' "$OIDC_id_token_payload"
printf 'OIDC_userinfo_json=%s\\n' "$OIDC_userinfo_json"
`,
    );
    chmodSync(join(dir, 'htdocs', 'protected', 'index.cgi'), 0o755);
    // Apache started as root runs its children as User (www-data): they read the documents and run the script.
    const root = process.getuid?.() === 0;
    if (root) for (const d of ['', 'htdocs', 'htdocs/protected']) chmodSync(join(dir, d), 0o755);
    const passphrase = randomBytes(24).toString('base64url');
    const config = () => `# Written by test/oidc-apache.test.ts
ServerRoot "${dir}"
ServerName 127.0.0.1
Listen 127.0.0.1:${port}
PidFile "${dir}/run/httpd.pid"
DefaultRuntimeDir "${dir}/run"
Mutex file:${dir}/run default
ErrorLog "${dir}/logs/error.log"
LogLevel warn auth_openidc:${process.env.LATCHKEY_APACHE_LOG_LEVEL ?? 'info'}
${BUILT_IN_MODULES.map((m) => `<IfModule !${m}_module>\n  LoadModule ${m}_module ${MODULES}/mod_${m}.so\n</IfModule>`).join('\n')}
${NEEDED_MODULES.map((m) => `LoadModule ${m}_module ${MODULES}/mod_${m}.so`).join('\n')}
${root ? 'User www-data\nGroup www-data' : ''}
StartServers 1
MinSpareServers 1
MaxSpareServers 2
LogFormat "%h \\"%r\\" %>s" short
CustomLog "${dir}/logs/access.log" short
TypesConfig /dev/null
DocumentRoot "${dir}/htdocs"
DirectoryIndex index.html index.cgi
<Directory "${dir}/htdocs">
  Require all granted
</Directory>
<Directory "${dir}/htdocs/protected">
  Options +ExecCGI
  AddHandler cgi-script .cgi
</Directory>

OIDCProviderMetadataURL ${server.url}/.well-known/openid-configuration
OIDCClientID ${clientId}
OIDCClientSecret ${secret}
OIDCRedirectURI ${site}/protected/redirect_uri
OIDCCryptoPassphrase ${passphrase}
OIDCScope "openid profile email"
OIDCPKCEMethod S256
OIDCRemoteUserClaim sub
OIDCPassClaimsAs environment
OIDCPassIDTokenAs claims payload
OIDCPassUserInfoAs claims json
OIDCCacheType shm
OIDCHTTPTimeoutLong 10
OIDCHTTPTimeoutShort 5
<Location /protected>
  AuthType openid-connect
  Require valid-user
</Location>
`;
    // Debian's own apache2.conf reads APACHE_RUN_DIR, APACHE_LOG_DIR, ...; this configuration names
    // every place itself, so the server gets a bare environment (and nothing of the test's).
    const env = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', LANG: 'C' };
    // The port was free a moment ago; should another process take it first, Apache cannot bind
    // and exits: then another port (and the redirect URI registered again), at most three times.
    for (let attempt = 1; ; attempt++) {
      writeFileSync(join(dir, 'httpd.conf'), config(), { mode: 0o600 });
      const outcome = await startApache(env, port);
      if (outcome === 'listening') break;
      if (attempt === 3) throw new Error(`apache2 found no free port in 3 attempts: ${outcome}`);
      port = await freePort();
      site = `http://127.0.0.1:${port}`;
      await updateApplication(deps, clientId, { redirectUris: [`${site}/protected/redirect_uri`] });
      await refreshCache(server);
    }
  });

  /**
   * Runs apache2 in the foreground until it answers the public page, or says why not: a port
   * taken by another process is 'port taken: …', anything else throws with its output and log.
   */
  async function startApache(env: NodeJS.ProcessEnv, port: number): Promise<'listening' | `port taken: ${string}`> {
    // Its own process group (detached): at shutdown the prefork MPM signals its whole group, which
    // would otherwise include this test process.
    const child = spawn(APACHE, ['-f', join(dir, 'httpd.conf'), '-DFOREGROUND'], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    apache = child;
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    apacheExit = new Promise((resolve) => child.once('exit', () => resolve()));
    let exited = false;
    void apacheExit.then(() => (exited = true));
    const deadline = Date.now() + 10_000;
    for (;;) {
      // Our page, not merely an open port: whoever else holds the port does not serve it.
      const home = (await canConnect(port)) ? await new Browser().request(`${site}/`).catch(() => undefined) : undefined;
      if (!exited && home?.status === 200 && home.text === HOME_PAGE) return 'listening';
      if (exited) {
        if (/Address already in use|could not bind/.test(output)) return `port taken: ${output.trim().split('\n')[0] ?? ''}`;
        throw new Error(`apache2 exited at start:\n${output}\n${errorLog()}`);
      }
      if (Date.now() > deadline) throw new Error(`apache2 did not serve ${site}/ within 10 s:\n${output}\n${errorLog()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  after(async () => {
    if (apache !== undefined && apache.exitCode === null) {
      apache.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const stopped = await Promise.race([apacheExit?.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 5000)))]);
      clearTimeout(timer);
      if (stopped !== true && apache.pid !== undefined) process.kill(-apache.pid, 'SIGKILL');
    }
    if (server !== undefined) await server.close();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  /** Asserts a redirect and returns where to. */
  function redirectOf(page: { status: number; location: string | undefined; text: string }, what: string): URL {
    assert.ok([302, 303].includes(page.status) && page.location !== undefined, `${what}: expected a redirect, got ${page.status}\n${page.text.slice(0, 1500)}\n${errorLog().slice(-3000)}`);
    return new URL(page.location);
  }

  /**
   * GET /protected/ as a browser without a session at the site, through Latchkey's sign-in (when
   * asked) and consent pages, back to Apache's redirect URI and on to the page. Returns the page's
   * variables and the browser.
   */
  async function signInThroughApache(browser: Browser, expectSignIn: boolean) {
    // 1. The site sends the browser to Latchkey's authorization endpoint (PKCE S256, state, nonce).
    const start = await browser.request(`${site}/protected/`);
    const authorize = redirectOf(start, 'GET /protected/ without a session');
    assert.equal(`${authorize.origin}${authorize.pathname}`, `${server.url}/oauth/authorize`);
    const q = authorize.searchParams;
    assert.equal(q.get('response_type'), 'code');
    assert.equal(q.get('client_id'), clientId);
    assert.equal(q.get('redirect_uri'), `${site}/protected/redirect_uri`);
    assert.deepEqual(q.get('scope')?.split(' ').sort(), ['email', 'openid', 'profile']);
    assert.equal(q.get('code_challenge_method'), 'S256');
    assert.match(q.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.ok((q.get('state') ?? '') !== '', 'a state');
    assert.ok((q.get('nonce') ?? '') !== '', 'a nonce');
    assert.ok(browser.cookieNames('127.0.0.1').some((n) => n.startsWith('mod_auth_openidc_state_')), 'the state cookie of the site');

    // 2. Latchkey: the sign-in form (with its CSRF token), then the consent form.
    let page = await browser.request(authorize.toString());
    assert.equal(page.status, 200, `the authorization page: ${page.status} ${page.text.slice(0, 800)}`);
    assert.equal(formsOf(page.text).some((f) => f.fields.lk_action === 'sign_in'), expectSignIn, expectSignIn ? 'Latchkey asks Ada to sign in' : 'Ada is still signed in to Latchkey');
    if (expectSignIn) {
      const signIn = formFor(page.text, 'sign_in');
      assert.ok(Object.keys(signIn.fields).some((f) => /csrf/i.test(f)), `a CSRF field in the sign-in form: ${Object.keys(signIn.fields).join(', ')}`);
      page = await browser.submit(page, signIn, { username: 'ada', password: ADA_PW });
      assert.equal(page.status, 200, `after sign-in: ${page.status} ${page.text.slice(0, 1500)}`);
    }
    const consent = formFor(page.text, 'consent');
    assert.match(decodeEntities(page.text), /Apache site/, 'the consent page names the application');
    const decided = await browser.submit(page, consent, { decision: 'allow' });

    // 3. Back to the site's redirect URI with the code (and iss, RFC 9207).
    const callback = redirectOf(decided, 'after consent');
    assert.equal(`${callback.origin}${callback.pathname}`, `${site}/protected/redirect_uri`);
    assert.match(callback.searchParams.get('code') ?? '', /\S/);
    assert.equal(callback.searchParams.get('state'), q.get('state'));
    assert.equal(callback.searchParams.get('iss'), server.url);

    // 4. Apache redeems the code (client_secret_basic, the PKCE verifier), validates the ID token,
    // calls UserInfo, starts its session and sends the browser on to the page it first asked for.
    const redeemed = await browser.request(callback.toString());
    const back = redirectOf(redeemed, 'the redirect URI with the code');
    assert.equal(back.toString(), `${site}/protected/`);
    assert.ok(browser.cookieNames('127.0.0.1').includes('mod_auth_openidc_session'), 'the site session cookie');

    // 5. The page, with the claims.
    const shown = await browser.request(back.toString());
    assert.equal(shown.status, 200, `the protected page: ${shown.status} ${shown.text.slice(0, 800)}\n${errorLog().slice(-3000)}`);
    return parsePage(shown.text);
  }

  it('signs a user in: /protected/ → Latchkey sign-in and consent → redirect URI → the page sees sub, name and email', async () => {
    const browser = new Browser();
    const vars = await signInThroughApache(browser, true);
    assert.equal(vars.get('REMOTE_USER'), adaId, 'REMOTE_USER is the sub');
    assert.equal(vars.get('OIDC_CLAIM_sub'), adaId);
    assert.equal(vars.get('OIDC_CLAIM_iss'), server.url);
    assert.equal(vars.get('OIDC_CLAIM_aud'), clientId);
    assert.equal(vars.get('OIDC_CLAIM_name'), 'Ada Lovelace');
    assert.equal(vars.get('OIDC_CLAIM_given_name'), 'Ada');
    assert.equal(vars.get('OIDC_CLAIM_family_name'), 'Lovelace');
    assert.equal(vars.get('OIDC_CLAIM_email'), 'ada@example.com');
    assert.ok(['1', 'true'].includes(vars.get('OIDC_CLAIM_email_verified') ?? ''), `email_verified: ${vars.get('OIDC_CLAIM_email_verified')}`);
    // Where each came from: the ID token (validated by the module) and the UserInfo answer.
    const idToken = JSON.parse(vars.get('OIDC_id_token_payload') ?? '{}') as Record<string, unknown>;
    assert.equal(idToken.iss, server.url);
    assert.equal(idToken.sub, adaId);
    assert.equal(idToken.aud, clientId);
    assert.equal(typeof idToken.nonce, 'string');
    assert.deepEqual(idToken.amr, ['pwd']);
    const userinfo = JSON.parse(vars.get('OIDC_userinfo_json') ?? '{}') as Record<string, unknown>;
    assert.equal(typeof userinfo.updated_at, 'number');
    assert.deepEqual(
      { ...userinfo, updated_at: 0 },
      { sub: adaId, name: 'Ada Lovelace', given_name: 'Ada', family_name: 'Lovelace', preferred_username: 'ada', updated_at: 0, email: 'ada@example.com', email_verified: true },
      'UserInfo: the claims of the profile and email scopes',
    );
    assert.equal(vars.get('OIDC_CLAIM_preferred_username'), 'ada');
    for (const name of vars.keys()) assert.doesNotMatch(name, /access_token|refresh_token/, 'no token on the page');

    // The session holds: the page again, with no trip to Latchkey.
    const again = await browser.request(`${site}/protected/`);
    assert.equal(again.status, 200);
    assert.equal(parsePage(again.text).get('OIDC_CLAIM_sub'), adaId);
    // The public page needs no sign-in.
    assert.equal((await new Browser().request(`${site}/`)).status, 200);
  });

  it('signs out through Latchkey (RP-Initiated Logout: the discovery end_session_endpoint)', async (t) => {
    const discovery = (await (await fetch(`${server.url}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000) })).json()) as Record<string, unknown>;
    if (typeof discovery.end_session_endpoint !== 'string') {
      t.skip('Latchkey does not list an end_session_endpoint yet (RP-Initiated Logout)');
      return;
    }
    const endSession = discovery.end_session_endpoint;
    const signedOut = `${site}/signed-out.html`;
    // Register the post-logout redirect URI (RP-Initiated Logout 1.0 §3.1: exact match).
    const deps = registryDeps(server);
    await updateApplication(deps, clientId, { postLogoutRedirectUris: [signedOut] });
    assert.deepEqual((await findApplication(deps, clientId)).postLogoutRedirectUris, [signedOut], 'the application holds the post-logout redirect URI');
    await refreshCache(server);

    const browser = new Browser();
    await signInThroughApache(browser, true);

    // mod_auth_openidc's logout: GET <redirect URI>?logout=<return URL>. It ends its own session
    // and, the provider listing an end_session_endpoint, sends the browser there with the ID token
    // as id_token_hint and the return URL as post_logout_redirect_uri.
    const logout = await browser.request(`${site}/protected/redirect_uri?logout=${encodeURIComponent(signedOut)}`);
    const toLatchkey = redirectOf(logout, 'the site logout');
    assert.equal(`${toLatchkey.origin}${toLatchkey.pathname}`, endSession);
    assert.match(toLatchkey.searchParams.get('id_token_hint') ?? '', /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(toLatchkey.searchParams.get('post_logout_redirect_uri'), signedOut);
    assert.ok(!browser.cookieNames('127.0.0.1').includes('mod_auth_openidc_session'), 'the site session cookie is cleared');

    // Latchkey: a confirmation page with a form (or, the hint naming this very session, a
    // direct sign-out); then the redirect to the registered post-logout URI.
    let page = await browser.request(toLatchkey.toString());
    if (page.status === 200) {
      const forms = formsOf(page.text).filter((f) => Object.keys(f.fields).some((k) => /csrf/i.test(k)));
      assert.equal(forms.length, 1, `one confirmation form (with its CSRF token) on the logout page:\n${page.text.slice(0, 1500)}`);
      const form = forms[0]!;
      const confirm = form.buttons.find((b) => /sign out|log out|yes/i.test(b.label)) ?? form.buttons[0];
      page = await browser.submit(page, form, confirm === undefined || confirm.name === '' ? {} : { [confirm.name]: confirm.value });
    }
    const returned = redirectOf(page, 'the end of Latchkey logout');
    assert.equal(`${returned.origin}${returned.pathname}`, signedOut);
    const landing = await browser.request(returned.toString());
    assert.equal(landing.status, 200);
    assert.match(landing.text, /signed out of the site/);

    // Signed out of both: the site sends the browser to Latchkey again, and Latchkey asks for the password.
    const start = await browser.request(`${site}/protected/`);
    const authorize = redirectOf(start, 'GET /protected/ after logout');
    assert.equal(`${authorize.origin}${authorize.pathname}`, `${server.url}/oauth/authorize`);
    const asked = await browser.request(authorize.toString());
    assert.equal(asked.status, 200);
    assert.ok(formsOf(asked.text).some((f) => f.fields.lk_action === 'sign_in'), 'Latchkey asks for sign-in again');
  });
});
