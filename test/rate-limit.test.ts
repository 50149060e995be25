/**
 * Rate limits, off by default, over real HTTP: per application (its rateLimit field, else
 * latchkey.rate_limit.client) at the token and introspection endpoints, per source address at the
 * token endpoint and the sign-in page, per hosted API and per user (the API definition's rateLimit
 * and userRateLimit, else the properties). Over a limit: 429 with Retry-After and RateLimit-Limit /
 * -Remaining / -Reset (also on answers within the limit), the endpoint's own error shape, a refusal
 * with its reason code and a hint naming the limit and the setting to change (`latchkey explain`),
 * and, past the refusal budget, counted instead of recorded. SQLite (counters in the process) and,
 * with LATCHKEY_TEST_STORAGE=postgres, PostgreSQL (counters in rate_limit_counters).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { setProperty } from '../src/registry/settings.js';
import { updateApplication } from '../src/registry/applications.js';
import { apiCall, ROOT } from './helpers/api.js';
import { adminToken, bearerClient } from './helpers/admin.js';
import { authorizeUrl, codeFixture, pkcePair, requestParams } from './helpers/authorize-flow.js';
import { Browser, formFor } from './helpers/browser.js';
import { buildFixture, CC_PROPERTY, type Fixture } from './helpers/fixture.js';
import { registryDeps, tokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const LIMITED_APIS = join(ROOT, 'test', 'fixtures', 'limited-apis');
type Apps = 'a' | 'b' | 'twoPerMinute' | 'exempt' | 'defaulted' | 'introspector' | 'flood';

describe('rate limits', () => {
  let server: TestServer;
  let fx: Fixture<Apps>;

  const cc = (app: Apps, from?: string): Promise<TokenResponse> =>
    tokenRequest(server.url, { basic: [fx.apps[app].clientId, fx.apps[app].secret], form: { grant_type: 'client_credentials' }, ...(from === undefined ? {} : { from }) });
  async function property(name: string, value: string): Promise<void> {
    await setProperty(registryDeps(server), name, value);
    await server.latchkey.cache.check();
  }
  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
    const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
    return { code, out, err };
  }
  function assertLimited(res: { status: number; headers: Headers; text: string }, limit: number): number {
    assert.equal(res.status, 429, res.text);
    const retry = Number(res.headers.get('retry-after'));
    assert.ok(retry >= 1 && retry <= 60, `Retry-After ${res.headers.get('retry-after')}`);
    assert.equal(res.headers.get('ratelimit-limit'), String(limit));
    assert.equal(res.headers.get('ratelimit-remaining'), '0');
    assert.equal(res.headers.get('ratelimit-reset'), String(retry));
    return retry;
  }

  before(async () => {
    server = await startTestServer({ apisDir: LIMITED_APIS });
    const cc = { grantTypes: ['client_credentials'] };
    fx = await buildFixture<Apps>(server, {
      users: [{ userName: 'svc-a', roles: [] }, { userName: 'svc-b', roles: [] }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: {
        a: { ...cc, name: 'App A', appUser: 'svc-a' },
        b: { ...cc, name: 'App B', appUser: 'svc-b' },
        twoPerMinute: { ...cc, name: 'Two a minute', appUser: 'svc-a', rateLimit: '2/1m' },
        exempt: { ...cc, name: 'Exempt', appUser: 'svc-a', rateLimit: 'off' },
        defaulted: { ...cc, name: 'Defaulted', appUser: 'svc-a' },
        introspector: { ...cc, name: 'Resource server', appUser: 'svc-a', canIntrospect: true, rateLimit: '2/1m' },
        flood: { ...cc, name: 'Flood', appUser: 'svc-a', rateLimit: '1/1h' },
      },
    });
  });
  after(async () => server?.close());

  it('is off by default: no RateLimit headers, nothing counted', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await cc('a');
      assert.equal(res.status, 200, res.text);
      assert.equal(res.headers.get('ratelimit-limit'), null);
    }
  });

  it("an application's own limit: RateLimit headers while within it, then 429 too_many_requests recorded as rate_limit.client_exceeded, and explain names the field to change", async () => {
    const first = await cc('twoPerMinute');
    assert.equal(first.status, 200, first.text);
    assert.equal(first.headers.get('ratelimit-limit'), '2');
    assert.equal(first.headers.get('ratelimit-remaining'), '1');
    assert.ok(Number(first.headers.get('ratelimit-reset')) >= 59);
    assert.equal((await cc('twoPerMinute')).headers.get('ratelimit-remaining'), '0');
    const over = await cc('twoPerMinute');
    assertLimited(over, 2);
    assert.equal(over.json?.error, 'too_many_requests');
    assert.match(String(over.json?.error_description), /^Too many requests from this client: at most 2 per 1m\. Retry after \d+ s\.$/);
    assert.equal(over.headers.get('cache-control'), 'no-store');
    const refusal = await server.latchkey.storage.refusals.byRequestId(over.requestId);
    assert.equal(refusal?.reason, 'rate_limit.client_exceeded');
    assert.equal(refusal?.clientId, fx.apps.twoPerMinute.clientId);
    assert.equal(refusal?.status, 429);
    const explained = await cli('explain', over.requestId, '--json');
    assert.equal(explained.code, 0, explained.err);
    const story = JSON.parse(explained.out) as { reason: string; hint: string; setting: string };
    assert.equal(story.reason, 'rate_limit.client_exceeded');
    assert.match(story.hint, /its own rate limit 2\/1m/);
    assert.ok(story.hint.includes(`latchkey apps update ${fx.apps.twoPerMinute.clientId} --rate-limit`), story.hint);
    assert.equal(story.setting, 'application.rate_limit / latchkey.rate_limit.client');
    // Other applications are not affected.
    assert.equal((await cc('b')).status, 200);
  });

  it('the instance default latchkey.rate_limit.client applies to applications without a limit of their own; `off` exempts one', async () => {
    await property('latchkey.rate_limit.client', '2');
    try {
      for (let i = 0; i < 2; i++) assert.equal((await cc('defaulted')).status, 200);
      const over = await cc('defaulted');
      assertLimited(over, 2);
      const explained = JSON.parse((await cli('explain', over.requestId, '--json')).out) as { hint: string };
      assert.match(explained.hint, /latchkey\.rate_limit\.client = 2 per latchkey\.rate_limit\.window_seconds = 60 s/);
      for (let i = 0; i < 4; i++) {
        const exempt = await cc('exempt');
        assert.equal(exempt.status, 200, exempt.text);
        assert.equal(exempt.headers.get('ratelimit-limit'), null);
      }
    } finally {
      await property('latchkey.rate_limit.client', '0');
    }
    assert.equal((await cc('defaulted')).status, 200, 'no limit once the property is 0 again');
  });

  it('per source address at the token endpoint, before authentication: garbage credentials count too; another address is not affected', async () => {
    await property('latchkey.rate_limit.address', '3');
    try {
      const bad = await tokenRequest(server.url, { basic: ['no-such-client', 'x'], form: { grant_type: 'client_credentials' }, from: '127.0.0.22' });
      assert.equal(bad.status, 401);
      assert.equal(bad.headers.get('ratelimit-limit'), null, 'refusals other than 429 carry no RateLimit headers');
      assert.equal((await cc('a', '127.0.0.22')).headers.get('ratelimit-remaining'), '1');
      assert.equal((await cc('a', '127.0.0.22')).status, 200);
      const over = await cc('a', '127.0.0.22');
      assertLimited(over, 3);
      assert.match(String(over.json?.error_description), /from this address/);
      const refusal = await server.latchkey.storage.refusals.byRequestId(over.requestId);
      assert.equal(refusal?.reason, 'rate_limit.address_exceeded');
      assert.match(refusal?.hint ?? '', /^Address 127\.0\.0\.22 \(token endpoint\) went over 3 requests in 1m; the limit in force is latchkey\.rate_limit\.address = 3/);
      assert.equal((await cc('a', '127.0.0.23')).status, 200, 'another source address has its own count');
    } finally {
      await property('latchkey.rate_limit.address', '0');
    }
  });

  it('the sign-in page: per source address, a 429 page with Retry-After and the RateLimit headers', async () => {
    const code = await codeFixture(server);
    await property('latchkey.rate_limit.address', '2');
    try {
      const browser = new Browser(server.url, '127.0.0.24');
      const url = authorizeUrl(server, requestParams(code, { challenge: pkcePair().challenge }));
      let page = await browser.get(url);
      for (let i = 0; i < 2; i++) {
        page = await browser.submit(url, formFor(page, 'sign_in'), { username: code.user, password: 'wrong-password' });
        assert.equal(page.status, 400, page.text.slice(0, 300));
        assert.equal(page.headers.get('ratelimit-limit'), null);
      }
      page = await browser.submit(url, formFor(page, 'sign_in'), { username: code.user, password: code.password });
      assertLimited(page, 2);
      assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(page.text, /Too many requests from this address/);
      assert.equal((await server.latchkey.storage.refusals.byRequestId(page.requestId))?.reason, 'rate_limit.address_exceeded');
    } finally {
      await property('latchkey.rate_limit.address', '0');
    }
  });

  it("introspection: the resource server's own limit, in the OAuth error shape", async () => {
    const token = String((await cc('a')).json?.access_token);
    const introspect = () => tokenRequest(server.url, { path: '/oauth/introspect', basic: [fx.apps.introspector.clientId, fx.apps.introspector.secret], form: { token } });
    const ok = await introspect();
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json?.active, true);
    assert.equal(ok.headers.get('ratelimit-remaining'), '1');
    assert.equal((await introspect()).status, 200);
    const over = await introspect();
    assertLimited(over, 2);
    assert.equal(over.json?.error, 'too_many_requests');
    assert.equal((await server.latchkey.storage.refusals.byRequestId(over.requestId))?.reason, 'rate_limit.client_exceeded');
  });

  it("hosted APIs: the definition's rateLimit for all callers and userRateLimit per user, in the APIs' error shape", async () => {
    const tokenA = String((await cc('a')).json?.access_token);
    const tokenB = String((await cc('b')).json?.access_token);
    const call = (bearer: string) => apiCall(server.url, { path: '/api/acme/limited', bearer });
    const a1 = await call(tokenA);
    assert.equal(a1.status, 200, a1.text);
    assert.equal(a1.headers.get('ratelimit-limit'), '2', 'the limit closest to exhaustion: the per-user one');
    assert.equal(a1.headers.get('ratelimit-remaining'), '1');
    assert.equal((await call(tokenA)).status, 200);
    const a3 = await call(tokenA);
    assertLimited(a3, 2);
    assert.equal(a3.json?.status, 'failure');
    assert.match(String(a3.json?.error?.message), /to this API from this user/);
    assert.match(String(a3.json?.error?.detail), /^reason rate_limit\.api_user_exceeded; request id /);
    assert.match((await server.latchkey.storage.refusals.byRequestId(a3.requestId))?.hint ?? '', /^User "svc-a" calling API acme\/limited went over 2 requests in 1m; the limit in force is its own rate limit 2\/1m\. Raise userRateLimit/);
    // svc-a's three calls took three of the API's four; svc-b gets the fourth, then the API's limit.
    assert.equal((await call(tokenB)).status, 200);
    const b2 = await call(tokenB);
    assertLimited(b2, 4);
    assert.match(String(b2.json?.error?.detail), /^reason rate_limit\.api_exceeded; /);
    // An API without limits of its own: the instance's per-user default.
    await property('latchkey.rate_limit.api_user', '1');
    try {
      const open = (bearer: string) => apiCall(server.url, { path: '/api/acme/open', bearer });
      assert.equal((await open(tokenA)).status, 200);
      const over = await open(tokenA);
      assertLimited(over, 1);
      assert.match((await server.latchkey.storage.refusals.byRequestId(over.requestId))?.hint ?? '', /latchkey\.rate_limit\.api_user = 1/);
      assert.equal((await open(tokenB)).status, 200, 'each user has their own count');
    } finally {
      await property('latchkey.rate_limit.api_user', '0');
    }
    // Every surface shows the API's own limits: the admin API (and so the console), `apis list`.
    const listed = await bearerClient(server, await adminToken(server)).call('GET', '/apis');
    assert.equal(listed.status, 200, listed.text);
    type Listed = { id: string; rateLimit: string | null; userRateLimit: string | null }[];
    const views = (Array.isArray(listed.json) ? listed.json : (listed.json as { apis: unknown }).apis) as Listed;
    const limited = views.find((x) => x.id === 'limited');
    assert.deepEqual([limited?.rateLimit, limited?.userRateLimit], ['4/1m', '2/1m']);
    assert.equal(views.find((x) => x.id === 'open')?.rateLimit, null);
    const cliList = await cli('apis', 'list', '--apis', LIMITED_APIS);
    assert.match(cliList.out, /acme\/limited: 4\/1m for all callers, 2\/1m per user/);
    // Unauthenticated calls are refused as before and spend no API budget.
    assert.equal((await apiCall(server.url, { path: '/api/acme/open' })).status, 401);
  });

  it('`apps create|update --rate-limit` and `apps show`: one syntax, checked; the admin API view carries it', async () => {
    const bad = await cli('apps', 'update', fx.apps.a.clientId, '--rate-limit', '100');
    assert.equal(bad.code === 0, false);
    assert.match(bad.err, /<requests>\/<window> with the window in s, m, h or d/);
    const set = await cli('apps', 'update', fx.apps.a.clientId, '--rate-limit', '6000/60m', '--json');
    assert.equal(set.code, 0, set.err);
    assert.equal(JSON.parse(set.out).rateLimit, '6000/1h');
    const shown = await cli('apps', 'show', fx.apps.a.clientId);
    assert.match(shown.out, /Rate limit\s+6000\/1h \(token and introspection requests\)/);
    const cleared = await cli('apps', 'update', fx.apps.a.clientId, '--rate-limit', '', '--json');
    assert.equal(JSON.parse(cleared.out).rateLimit, null);
    assert.match((await cli('apps', 'show', fx.apps.a.clientId)).out, /Rate limit\s+\(the instance default, latchkey\.rate_limit\.client\)/);
    await server.latchkey.cache.check();
  });

  it('429s share the refusal budget even from authenticated clients: past it they are counted (metrics, activity), not stored one by one', async () => {
    await property('latchkey.refusals.anonymous_per_minute', '0');
    try {
      assert.equal((await cc('flood')).status, 200);
      const before = server.latchkey.metrics.refusalCount('token', 'rate_limit.client_exceeded').value;
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const over = await cc('flood');
        assert.equal(over.status, 429);
        ids.push(over.requestId);
      }
      for (const id of ids) assert.equal(await server.latchkey.storage.refusals.byRequestId(id), undefined, 'not stored one by one');
      assert.equal(server.latchkey.metrics.refusalCount('token', 'rate_limit.client_exceeded').value, before + 5);
      await server.latchkey.activity.flush();
      const unrecorded = await server.latchkey.storage.activity.list('refusals.unrecorded|token|rate_limit.client_exceeded|', 0);
      assert.ok(unrecorded.reduce((n, r) => n + r.count, 0) >= 5, JSON.stringify(unrecorded));
      // A refusal of an authenticated client that is no 429 is still recorded whatever the budget.
      await updateApplication({ ...registryDeps(server), grants: server.latchkey.catalogue }, fx.apps.b.clientId, { scopes: [] });
      await server.latchkey.cache.check();
      const scoped = await tokenRequest(server.url, { basic: [fx.apps.b.clientId, fx.apps.b.secret], form: { grant_type: 'client_credentials', scope: 'not-allowed' } });
      assert.equal(scoped.status, 400);
      assert.ok((await server.latchkey.storage.refusals.byRequestId(scoped.requestId)) !== undefined);
    } finally {
      await property('latchkey.refusals.anonymous_per_minute', '1000');
    }
  });
});
