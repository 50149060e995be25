import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { FIXTURE_MCP_APIS } from './helpers/mcp.js';
import { buildFixture, CC_PROPERTY as CC } from './helpers/fixture.js';
import { basicHeader, refreshCache, registryDeps } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { launchChromium } from './helpers/chromium.js';
import { setProperty } from '../src/registry/settings.js';
import { originMatches, parsePropertyValue } from '../src/registry/properties.js';
import { corsClassOf } from '../src/http/cors.js';
import type { Logger } from '../src/core/logger.js';
import { adminToken, bearerClient } from './helpers/admin.js';

const ORIGIN = 'https://inspector.example';
const ALLOWED = 'latchkey.cors.allowed_origins';
const API_ALLOWED = 'latchkey.cors.api_allowed_origins';

/** The credential-less endpoints, one path of each kind, with a method their preflight must allow. */
const CORS_PATHS: readonly (readonly [string, string])[] = [
  ['/.well-known/oauth-authorization-server', 'GET'],
  ['/.well-known/openid-configuration', 'GET'],
  ['/.well-known/oauth-protected-resource', 'GET'],
  ['/.well-known/oauth-protected-resource/mcp/acme/desk', 'GET'],
  ['/oauth/jwks', 'GET'],
  ['/oauth/token', 'POST'],
  ['/oauth_token.do', 'POST'],
  ['/oauth/revoke', 'POST'],
  ['/oauth/introspect', 'POST'],
  ['/oauth/userinfo', 'GET'],
  ['/oauth/register', 'POST'],
  ['/oauth/register/some-client', 'PUT'],
  ['/mcp/acme/desk', 'POST'],
];

/** The cookie endpoints: never a CORS header, whatever the properties say. */
const COOKIE_PATHS = ['/oauth/authorize', '/oauth_auth.do', '/oauth/logout', '/logout.do', '/console/', '/console/login', '/admin/api/v1/properties', '/healthz'];

const preflight = (url: string, method: string, origin = ORIGIN) =>
  fetch(url, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type, mcp-protocol-version' } });

describe('CORS for browser-based clients', () => {
  let server: TestServer;
  let clientId = '';
  let secret = '';
  const warnings: Record<string, unknown>[] = [];
  const logger: Logger = { info() {}, error() {}, warn: (obj) => void warnings.push(obj as Record<string, unknown>) };

  async function set(name: string, value: string): Promise<void> {
    await setProperty(registryDeps(server), name, value);
    await refreshCache(server);
  }

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_MCP_APIS, logger });
    const built = await buildFixture(server, {
      scopes: ['desk.write', 'desk.read'],
      users: [{ userName: 'svc-agent', roles: ['itil'] }],
      properties: { [CC]: 'true' },
      apps: { agent: { name: 'Desk agent', grantTypes: ['client_credentials'], appUser: 'svc-agent', scopes: ['desk.write', 'desk.read'] } },
    });
    clientId = built.apps.agent.clientId;
    secret = built.apps.agent.secret;
  });
  after(async () => {
    await server?.close();
  });

  it('origin patterns: normalised when set, refused when malformed, * alone', () => {
    assert.equal(parsePropertyValue(ALLOWED, 'https://App.example.com:443, http://localhost:5173 app.example.org *.agents.example'), 'https://app.example.com,http://localhost:5173,https://app.example.org,https://*.agents.example');
    assert.equal(parsePropertyValue(ALLOWED, ' * '), '*');
    assert.equal(parsePropertyValue(ALLOWED, ''), '');
    for (const bad of ['*, https://a.example', 'ftp://a.example', 'https://a.example/path', 'https://a..example', 'https://a.example:99999', 'https://*']) {
      assert.throws(() => parsePropertyValue(ALLOWED, bad), /property|Property/, bad);
    }
    const list = 'https://app.example.com,http://localhost:5173,https://*.agents.example';
    assert.ok(originMatches('https://app.example.com', list));
    assert.ok(originMatches('https://app.example.com:443', list));
    assert.ok(originMatches('http://localhost:5173', list));
    assert.ok(originMatches('https://a.b.agents.example', list));
    assert.ok(!originMatches('https://agents.example', list));
    assert.ok(!originMatches('http://app.example.com', list));
    assert.ok(!originMatches('http://localhost:5174', list));
    assert.ok(!originMatches('null', list));
    assert.ok(!originMatches('https://evilapp.example.com', list));
    assert.ok(originMatches('null', '*'));
    assert.ok(!originMatches('https://app.example.com', ''));
  });

  it('classes: the credential-less endpoints answer CORS, the cookie endpoints never', () => {
    for (const [path] of CORS_PATHS) assert.notEqual(corsClassOf(path), undefined, path);
    for (const path of COOKIE_PATHS) assert.equal(corsClassOf(path), undefined, path);
    assert.equal(corsClassOf('/api/acme/orders'), 'api');
    assert.equal(corsClassOf('/api/now/oauth/jwks'), 'discovery');
  });

  it('any origin (the default): every preflight 204 with methods, headers and max-age; answers carry * and expose the challenge', async () => {
    for (const [path, method] of CORS_PATHS) {
      const p = await preflight(`${server.url}${path}`, method);
      assert.equal(p.status, 204, path);
      assert.equal(p.headers.get('access-control-allow-origin'), '*', path);
      assert.match(p.headers.get('access-control-allow-methods') ?? '', new RegExp(`\\b${method}\\b`), path);
      for (const h of ['authorization', 'content-type', 'dpop', 'mcp-protocol-version', 'mcp-session-id', 'last-event-id']) assert.match(p.headers.get('access-control-allow-headers') ?? '', new RegExp(`\\b${h}\\b`), `${path} ${h}`);
      assert.ok(Number(p.headers.get('access-control-max-age')) > 0, path);
      assert.equal(p.headers.get('access-control-allow-credentials'), null, path);
    }
    for (const path of ['/.well-known/oauth-authorization-server', '/.well-known/openid-configuration', '/oauth/jwks', '/.well-known/oauth-protected-resource/mcp/acme/desk']) {
      const r = await fetch(`${server.url}${path}`, { headers: { origin: ORIGIN } });
      assert.equal(r.status, 200, path);
      assert.equal(r.headers.get('access-control-allow-origin'), '*', path);
      assert.match(r.headers.get('access-control-expose-headers') ?? '', /WWW-Authenticate/, path);
      assert.equal(r.headers.get('vary'), null, path);
    }
    const token = await fetch(`${server.url}/oauth/token`, { method: 'POST', headers: { origin: ORIGIN, authorization: basicHeader(clientId, secret), 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&scope=desk.read' });
    assert.equal(token.status, 200);
    assert.equal(token.headers.get('access-control-allow-origin'), '*');
    assert.equal(token.headers.get('access-control-allow-credentials'), null);
    // A refused token request is readable too (the browser client shows the OAuth error).
    const refused = await fetch(`${server.url}/oauth_token.do`, { method: 'POST', headers: { origin: ORIGIN, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    assert.equal(refused.status, 401);
    assert.equal(refused.headers.get('access-control-allow-origin'), '*');
    for (const path of ['/oauth/revoke', '/oauth/introspect', '/oauth/register', '/oauth/userinfo']) {
      const r = await fetch(`${server.url}${path}`, { method: 'POST', headers: { origin: ORIGIN, 'content-type': 'application/json' }, body: '{}' });
      assert.ok(r.status >= 400 && r.status < 500, `${path} ${r.status}`);
      assert.equal(r.headers.get('access-control-allow-origin'), '*', path);
    }
  });

  it('a 401 from the MCP endpoint exposes WWW-Authenticate (where a browser client starts discovery)', async () => {
    const r = await fetch(`${server.url}/mcp/acme/desk`, { method: 'POST', headers: { origin: ORIGIN, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body: '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}' });
    assert.equal(r.status, 401);
    assert.equal(r.headers.get('access-control-allow-origin'), '*');
    assert.match(r.headers.get('www-authenticate') ?? '', /resource_metadata=/);
    const exposed = (r.headers.get('access-control-expose-headers') ?? '').toLowerCase().split(/\s*,\s*/);
    for (const h of ['www-authenticate', 'mcp-session-id', 'retry-after', 'x-request-id']) assert.ok(exposed.includes(h), h);
  });

  it('cookie endpoints never carry CORS headers, not even a preflight', async () => {
    for (const path of COOKIE_PATHS) {
      const g = await fetch(`${server.url}${path}`, { headers: { origin: ORIGIN }, redirect: 'manual' });
      assert.equal(g.headers.get('access-control-allow-origin'), null, `GET ${path}`);
      const p = await preflight(`${server.url}${path}`, 'POST');
      assert.equal(p.headers.get('access-control-allow-origin'), null, `OPTIONS ${path}`);
      assert.equal(p.headers.get('access-control-allow-methods'), null, `OPTIONS ${path}`);
    }
  });

  it('hosted APIs: no CORS by default; latchkey.cors.api_allowed_origins opens them, live', async () => {
    const before = await fetch(`${server.url}/api/acme/orders`, { headers: { origin: ORIGIN } });
    assert.equal(before.headers.get('access-control-allow-origin'), null);
    const p0 = await preflight(`${server.url}/api/acme/orders`, 'GET');
    assert.equal(p0.headers.get('access-control-allow-origin'), null);
    await set(API_ALLOWED, ORIGIN);
    try {
      const p = await preflight(`${server.url}/api/acme/orders`, 'GET');
      assert.equal(p.status, 204);
      assert.equal(p.headers.get('access-control-allow-origin'), ORIGIN);
      assert.match(p.headers.get('vary') ?? '', /Origin/);
      const r = await fetch(`${server.url}/api/acme/orders`, { headers: { origin: ORIGIN } });
      assert.equal(r.status, 401);
      assert.equal(r.headers.get('access-control-allow-origin'), ORIGIN);
      assert.match(r.headers.get('access-control-expose-headers') ?? '', /WWW-Authenticate/);
      // The MCP servers and the OAuth endpoints keep their own property (still any origin).
      const m = await fetch(`${server.url}/mcp/acme/desk`, { method: 'POST', headers: { origin: 'https://other.example' }, body: '{}' });
      assert.equal(m.headers.get('access-control-allow-origin'), '*');
    } finally {
      await set(API_ALLOWED, '');
    }
  });

  it('a list of origins: the origin echoed with Vary: Origin; another origin gets no CORS header, a 403 preflight and a log line; live', async () => {
    await set(ALLOWED, `${ORIGIN}, https://*.agents.example`);
    try {
      for (const origin of [ORIGIN, 'https://a.agents.example']) {
        const p = await preflight(`${server.url}/oauth/token`, 'POST', origin);
        assert.equal(p.status, 204);
        assert.equal(p.headers.get('access-control-allow-origin'), origin);
        assert.match(p.headers.get('vary') ?? '', /Origin/);
        const r = await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp/acme/desk`, { headers: { origin } });
        assert.equal(r.headers.get('access-control-allow-origin'), origin);
        assert.match(r.headers.get('vary') ?? '', /Origin/);
      }
      warnings.length = 0;
      const evil = 'https://evil.example';
      const p = await preflight(`${server.url}/oauth/token`, 'POST', evil);
      assert.equal(p.status, 403);
      assert.equal(p.headers.get('access-control-allow-origin'), null);
      assert.equal(p.headers.get('access-control-allow-methods'), null);
      const r = await fetch(`${server.url}/.well-known/oauth-authorization-server`, { headers: { origin: evil } });
      assert.equal(r.status, 200, 'the request itself is served; only the browser withholds it');
      assert.equal(r.headers.get('access-control-allow-origin'), null);
      assert.match(r.headers.get('vary') ?? '', /Origin/);
      const line = warnings.find((w) => w.event === 'cors.origin_not_allowed');
      assert.ok(line !== undefined, JSON.stringify(warnings));
      assert.equal(line.origin, evil);
      assert.equal(line.property, ALLOWED);
      // Once a minute per origin and class: a flood of preflights is not a flood of log lines.
      const logged = warnings.filter((w) => w.event === 'cors.origin_not_allowed').length;
      assert.equal(logged, 2, 'one per class: the token endpoint and the metadata');
      for (let i = 0; i < 5; i += 1) await preflight(`${server.url}/oauth/token`, 'POST', evil);
      assert.equal(warnings.filter((w) => w.event === 'cors.origin_not_allowed').length, logged);
      // A same-origin request (a POST carries Origin) is no refused origin.
      await fetch(`${server.url}/oauth/revoke`, { method: 'POST', headers: { origin: server.url }, body: '' });
      assert.equal(warnings.filter((w) => w.origin === server.url).length, 0);
    } finally {
      await set(ALLOWED, '*');
    }
    const back = await fetch(`${server.url}/.well-known/oauth-authorization-server`, { headers: { origin: 'https://evil.example' } });
    assert.equal(back.headers.get('access-control-allow-origin'), '*');
  });

  it('the admin API sets the origins (normalised, a malformed one refused), and the next request follows', async () => {
    const admin = bearerClient(server, await adminToken(server));
    const bad = await admin.call('PUT', `/properties/${ALLOWED}`, { value: 'https://a.example/path' });
    assert.equal(bad.status, 400, JSON.stringify(bad.json));
    const ok = await admin.call('PUT', `/properties/${ALLOWED}`, { value: 'HTTPS://App.Example.com:443' });
    assert.equal(ok.status, 200, JSON.stringify(ok.json));
    try {
      assert.equal((ok.json as { property: { value: string; type: string } }).property.value, 'https://app.example.com');
      assert.equal((ok.json as { property: { value: string; type: string } }).property.type, 'origin_patterns');
      const r = await fetch(`${server.url}/oauth/jwks`, { headers: { origin: 'https://app.example.com' } });
      assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.example.com');
      const other = await fetch(`${server.url}/oauth/jwks`, { headers: { origin: ORIGIN } });
      assert.equal(other.headers.get('access-control-allow-origin'), null);
      // The admin API itself answers no CORS, even to an allowed origin.
      const own = await fetch(`${server.url}/admin/api/v1/properties`, { headers: { origin: 'https://app.example.com' } });
      assert.equal(own.headers.get('access-control-allow-origin'), null);
    } finally {
      await set(ALLOWED, '*');
    }
  });

  it('none (empty): no CORS header anywhere, and the endpoints still answer', async () => {
    await set(ALLOWED, '');
    try {
      const r = await fetch(`${server.url}/oauth/jwks`, { headers: { origin: ORIGIN } });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('access-control-allow-origin'), null);
      const p = await preflight(`${server.url}/mcp/acme/desk`, 'POST');
      assert.equal(p.headers.get('access-control-allow-origin'), null);
    } finally {
      await set(ALLOWED, '*');
    }
  });

  describe('in Chromium, from a page on another loopback origin', () => {
    let page: Server;
    let pageUrl = '';
    before(async () => {
      page = createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.end('<!doctype html><title>cors</title><p>client</p>');
      });
      await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
      pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`;
    });
    after(async () => {
      await new Promise<void>((resolve) => page.close(() => resolve()));
    });

    for (const mode of ['any', 'list'] as const) {
      it(`reads the metadata, gets a token and reads the MCP 401 challenge (${mode === 'any' ? '*' : 'the page origin listed'})`, { timeout: 90_000 }, async () => {
        const pageOrigin = pageUrl.slice(0, -1);
        if (mode === 'list') await set(ALLOWED, pageOrigin);
        const browser = await launchChromium();
        try {
          const tab = await browser.newPage();
          await tab.goto(pageUrl, { timeout: 30_000 });
          const result = await tab.evaluate(
            async ({ as, basic }) => {
              const meta = await (await fetch(`${as}/.well-known/oauth-authorization-server`)).json();
              const token = await fetch(meta.token_endpoint, { method: 'POST', headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials&scope=desk.read' });
              const tokenJson = await token.json();
              const mcp = await fetch(`${as}/mcp/acme/desk`, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' }, body: '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}' });
              return { issuer: meta.issuer, tokenStatus: token.status, tokenType: tokenJson.token_type, hasToken: typeof tokenJson.access_token === 'string', mcpStatus: mcp.status, challenge: mcp.headers.get('www-authenticate'), requestId: mcp.headers.get('x-request-id') };
            },
            { as: server.url, basic: basicHeader(clientId, secret) },
          );
          assert.equal(result.issuer, server.latchkey.issuer());
          assert.equal(result.tokenStatus, 200);
          assert.equal(result.hasToken, true);
          assert.equal(result.mcpStatus, 401);
          assert.match(result.challenge ?? '', /^Bearer .*resource_metadata="/);
          assert.ok((result.requestId ?? '') !== '');
          // An origin not listed: the browser refuses to hand the answer to the page.
          if (mode === 'list') {
            await set(ALLOWED, 'https://someone-else.example');
            const blocked = await tab.evaluate(async (as) => {
              try {
                await fetch(`${as}/.well-known/oauth-authorization-server`, { cache: 'no-store' });
                return 'read';
              } catch {
                return 'blocked';
              }
            }, server.url);
            assert.equal(blocked, 'blocked');
          }
        } finally {
          await browser.close();
          await set(ALLOWED, '*');
        }
      });
    }
  });
});
