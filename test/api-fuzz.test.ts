import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { createApplication } from '../src/registry/applications.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { apiCall, assertNoStack, basicUserHeader, FIXTURE_APIS, resultOf } from './helpers/api.js';
import { ManualClock, pool, refreshCache, registryDeps, storedTokenKey, tokenRequest } from './helpers/oauth.js';
import { buildFixture } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const RUNS = 10_000;
const CONCURRENCY = 16;
const BODY_LIMIT = 4096;
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_129);
const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const PW = 'api-fuzz-Passw0rd';

/** How the request authenticated, as the generator knows it. */
type CredentialClass = 'none' | 'valid' | 'invalid' | 'malformed';

interface Sample {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body: string | Uint8Array | undefined;
  /** Whether the Authorization header carries a credential that is good somewhere. */
  readonly credential: CredentialClass;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

interface Tokens {
  readonly valid: readonly string[];
  readonly invalid: readonly string[];
}

/** Percent-encodes every UTF-8 byte outside the unreserved set (lone surrogates become U+FFFD). */
const pctEncode = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');
/** Characters Node accepts in a header value. */
const headerChar = fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c));
const headerString = (maxLength: number) => fc.string({ unit: headerChar, maxLength });
/** Characters Node's client accepts unescaped in a request path. */
const pathChar = fc.integer({ min: 0x21, max: 0x7e }).filter((c) => c !== 0x3f && c !== 0x2f).map((c) => String.fromCharCode(c));

function arbitraries(tokens: Tokens) {
  const mixCase = (s: string) => fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((up) => [...s].map((ch, i) => (up[i] ? ch.toUpperCase() : ch.toLowerCase())).join(''));
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

  const authorization: fc.Arbitrary<{ header: string | undefined; credential: CredentialClass }> = fc.oneof(
    { weight: 4, arbitrary: fc.constant({ header: undefined, credential: 'none' as const }) },
    {
      weight: 6,
      arbitrary: fc.tuple(mixCase('bearer'), fc.constantFrom(...tokens.valid), fc.constantFrom(' ', ' ', '  ')).map(([scheme, t, sp]) => ({ header: `${scheme}${sp}${t}`, credential: 'valid' as const })),
    },
    { weight: 4, arbitrary: fc.constantFrom(...tokens.invalid).map((t) => ({ header: `Bearer ${t}`, credential: 'invalid' as const })) },
    { weight: 2, arbitrary: fc.constant({ header: basicUserHeader('alice', PW), credential: 'valid' as const }) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom('alice', 'bob', 'nobody', 'svc-orders', ''), fc.string({ maxLength: 20 })).map(([u, p]) => ({ header: basicUserHeader(u, p), credential: 'invalid' as const })),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom('Bearer', 'Bearer ', 'Bearer a b', `Bearer ${tokens.valid[0]} ${tokens.valid[0]}`, 'Bearer "x"', 'Bearer x,y', 'Basic', 'Basic !!!', `Basic ${b64('nocolon')}`, 'Digest realm="x"', 'Negotiate abc', 'Token abc', `Bearer\t${tokens.valid[0]}`)
        .map((header) => ({ header, credential: 'malformed' as const })),
    },
    { weight: 1, arbitrary: headerString(80).map((header) => ({ header, credential: 'malformed' as const })) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map((s) => ({ header: `Basic ${b64(s)}`, credential: 'malformed' as const })) },
  );

  const randomSegment = fc.oneof(
    { weight: 3, arbitrary: fc.string({ unit: pathChar, minLength: 1, maxLength: 12 }) },
    { weight: 3, arbitrary: fc.string({ unit: 'grapheme', maxLength: 12 }).map(pctEncode) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }).map(pctEncode) },
    { weight: 2, arbitrary: fc.constantFrom('%zz', '%', '%e9', '%ff%fe', '%C0%AF', '%00', '%2F', '%2f..', '..', '.', '%2e%2e', '{id}', '%7Bid%7D', 'me', '%6De', 'ME', '', '~', 'v1', 'v2') },
  );
  const known = (...segments: string[]) => fc.constant(segments);
  /** Resources of each fixture API, as segment lists (with values where the template has {params}). */
  const resources: Record<string, fc.Arbitrary<string[]>> = {
    'test/echo': fc.oneof(known(), known('items', '42'), known('items', 'a%20b'), known('user', 'me'), known('user', '42'), known('user', '1', 'orders', '2'), known('created'), known('text'), known('plain'), known('conflict'), known('boom')),
    'acme/orders': fc.oneof(known(), known('7'), known('health', 'check'), known('7', 'lock'), known('x%2Fy')),
    'acme/desk': fc.oneof(known('tickets'), known('tickets', 'INC1'), known('tickets', 'INC1', 'close'), known('boom')),
    'acme/reports': known(),
    'acme/status': fc.oneof(known(), known('private')),
  };
  const api = fc.oneof(
    { weight: 12, arbitrary: fc.constantFrom(...Object.keys(resources)).map((k) => k.split('/') as [string, string]) },
    { weight: 1, arbitrary: fc.tuple(fc.oneof(fc.constantFrom('acme', 'test', 'now'), randomSegment), fc.oneof(fc.constantFrom('orders', 'echo', 'whoami', 'v1'), randomSegment)) },
  );
  const structuredPath = fc
    .record({
      api,
      version: fc.oneof({ weight: 10, arbitrary: fc.constant(undefined) }, { weight: 3, arbitrary: fc.constant('v1') }, { weight: 1, arbitrary: fc.constant('v2') }, { weight: 1, arbitrary: fc.constantFrom('v3', 'v0', 'V1', 'v1.1') }),
      known: fc.oneof(...Object.values(resources)),
      random: fc.array(randomSegment, { maxLength: 4 }),
      which: fc.integer({ min: 0, max: 9 }),
      trailing: fc.oneof({ weight: 10, arbitrary: fc.constant('') }, { weight: 1, arbitrary: fc.constantFrom('/', '//') }),
    })
    .chain((p) => {
      const own = resources[p.api.join('/')];
      // Mostly the API's own resources; sometimes another API's, a random tail or a mix.
      const tail = own !== undefined && p.which < 8 ? own : fc.constant(p.which < 8 ? p.known : p.which < 9 ? p.random : [...p.known, ...p.random]);
      return tail.map((rest) => `/api/${[p.api[0], ...(p.version === undefined ? [] : [p.version]), p.api[1], ...rest].join('/')}${p.trailing}`);
    });
  const chaoticPath = fc.array(randomSegment, { minLength: 0, maxLength: 6 }).map((segs) => `/api/${segs.join('/')}`);
  const query = fc.oneof(
    { weight: 10, arbitrary: fc.constant('') },
    { weight: 2, arbitrary: fc.constantFrom('?', '?a=1&a=2', '?tag=x&tag=y&z', '?%zz=%zz', '?access_token=abc', `?access_token=${tokens.valid[0]}`, '?a=%ff', '?a=b=c&&') },
    { weight: 2, arbitrary: fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 })), { maxLength: 4 }).map((pairs) => `?${pairs.map(([k, v]) => `${pctEncode(k)}=${pctEncode(v)}`).join('&')}`) },
  );
  const path = fc.tuple(fc.oneof({ weight: 12, arbitrary: structuredPath }, { weight: 1, arbitrary: chaoticPath }), query).map(([p, q]) => p + q);

  const body = fc.oneof(
    { weight: 6, arbitrary: fc.constant({ body: undefined as string | Uint8Array | undefined, type: undefined as string | undefined }) },
    { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => ({ body: JSON.stringify(v) ?? 'null', type: 'application/json' as string | undefined })) },
    { weight: 2, arbitrary: fc.constantFrom('{', '{"a":', '[1,]', 'nul', '"\\ud800"', '{"access_token":"x"}', '').map((b) => ({ body: b as string | Uint8Array | undefined, type: 'application/json' as string | undefined })) },
    {
      weight: 3,
      arbitrary: fc
        .array(fc.tuple(fc.constantFrom('a', 'b', 'access_token', 'x y', '%zz', ''), fc.string({ maxLength: 16 })), { maxLength: 5 })
        .map((pairs) => ({ body: pairs.map(([k, v]) => `${pctEncode(k)}=${pctEncode(v)}`).join('&') as string | Uint8Array | undefined, type: 'application/x-www-form-urlencoded' as string | undefined })),
    },
    { weight: 2, arbitrary: fc.tuple(fc.string({ maxLength: 200 }), fc.constantFrom('text/plain', 'application/xml', undefined)).map(([b, type]) => ({ body: b as string | Uint8Array | undefined, type })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }).map((b) => ({ body: b as string | Uint8Array | undefined, type: 'application/octet-stream' as string | undefined })) },
    { weight: 1, arbitrary: fc.integer({ min: BODY_LIMIT - 50, max: BODY_LIMIT + 500 }).map((n) => ({ body: `{"pad":"${'x'.repeat(n)}"}` as string | Uint8Array | undefined, type: 'application/json' as string | undefined })) },
  );
  const contentType = fc.oneof(
    { weight: 12, arbitrary: fc.constant('(body)') },
    { weight: 2, arbitrary: fc.constantFrom('application/json; charset=utf-8', 'APPLICATION/JSON', 'application/vnd.api+json', 'application/x-www-form-urlencoded; charset=utf-8', 'multipart/form-data; boundary=x', 'text/plain', ';', '', '*/*') },
    { weight: 1, arbitrary: headerString(40) },
  );
  const extraHeader = fc.option(
    fc.tuple(fc.constantFrom('accept', 'x-random', 'x-forwarded-for', 'cookie', 'x-request-id', 'accept-language', 'user-agent', 'origin', 'if-none-match'), headerString(60)),
    { nil: undefined },
  );
  const method = fc.oneof(
    { weight: 10, arbitrary: fc.constant('GET') },
    { weight: 6, arbitrary: fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE') },
    { weight: 3, arbitrary: fc.constantFrom('HEAD', 'OPTIONS') },
  );

  return fc.record({ method, path, authorization, body, contentType, extraHeader }).map((r): Sample => {
    const headers: Record<string, string> = {};
    if (r.extraHeader !== undefined) headers[r.extraHeader[0]] = r.extraHeader[1];
    if (r.authorization.header !== undefined) headers.authorization = r.authorization.header;
    const type = r.contentType === '(body)' ? r.body.type : r.contentType;
    if (type !== undefined && r.body.body !== undefined) headers['content-type'] = type;
    return { method: r.method, path: r.path, headers, body: r.body.body, credential: r.authorization.credential };
  });
}

function send(agent: Agent, port: number, s: Sample): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = { ...s.headers };
    const body = s.body === undefined ? undefined : Buffer.from(s.body as string);
    if (body !== undefined) headers['content-length'] = body.length;
    const req = request({ host: '127.0.0.1', port, method: s.method, path: s.path, headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end(body);
  });
}

/** Whether a response body is one of Fastify's own shapes (answered before the /api/* route ran). */
function frameworkShape(r: Reply): string | undefined {
  try {
    const j = JSON.parse(r.body) as Record<string, unknown>;
    if (typeof j.code === 'string' && j.code.startsWith('FST_')) return j.code;
    if (j.error === 'not_found') return 'not_found handler';
  } catch {
    // not JSON
  }
  return undefined;
}

const show = (s: Sample) => JSON.stringify({ ...s, body: typeof s.body === 'string' ? s.body.slice(0, 200) : s.body === undefined ? undefined : `<${s.body.length} bytes>` });

describe('fuzzing the REST API surface', () => {
  const clock = new ManualClock();
  let server: TestServer;
  let tokens: Tokens;
  let goodToken: string;
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  before(async () => {
    server = await startTestServer({ clock, apisDir: FIXTURE_APIS, bodyLimit: BODY_LIMIT });
    const { apps } = await buildFixture(
      server,
      {
        scopes: ['orders.read', 'orders.write'],
        users: [{ userName: 'svc-orders', roles: ['itil'] }, { userName: 'svc-plain' }, { userName: 'alice', password: PW }],
        properties: {
          [CC]: 'true',
          // Every refusal's record is checked below: no anonymous budget (test/disk-bounds.test.ts proves the budget).
          'latchkey.refusals.anonymous_per_minute': '1000000',
        },
        apps: {
          reader: { name: 'Reader', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read', 'orders.write'] },
          plain: { name: 'Plain', grantTypes: ['client_credentials'], appUser: 'svc-plain', scopes: ['orders.write'] },
          portal: { name: 'Portal', grantTypes: ['password'], scopes: ['useraccount', 'orders.read'] },
          short: { name: 'Short', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read'], accessTokenLifespan: 60 },
        },
      },
      clock,
    );
    const { reader, plain, portal, short } = apps;
    const issue = async (app: typeof reader, form: Record<string, string>) => {
      const r = await tokenRequest(server.url, { form, basic: [app.clientId, app.secret] });
      assert.equal(r.status, 200, r.text);
      return { access: String(r.json?.access_token), refresh: typeof r.json?.refresh_token === 'string' ? r.json.refresh_token : '' };
    };
    const readerToken = (await issue(reader, { grant_type: 'client_credentials' })).access;
    const plainToken = (await issue(plain, { grant_type: 'client_credentials' })).access;
    const alice = await issue(portal, { grant_type: 'password', username: 'alice', password: PW, scope: 'useraccount' });
    const expired = (await issue(short, { grant_type: 'client_credentials' })).access;
    const revoked = (await issue(reader, { grant_type: 'client_credentials' })).access;
    assert.ok(await server.latchkey.storage.tokens.revoke(storedTokenKey(revoked), clock.now()));
    clock.advance(61_000);
    // A real token from another instance.
    const other = await startTestServer();
    let foreign: string;
    try {
      const od = registryDeps(other);
      await createUser(od, { userName: 'svc-orders', roles: ['itil'] });
      await setProperty(od, CC, 'true');
      const oa = await createApplication(od, { name: 'Reader', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: [] });
      await refreshCache(other);
      const r = await tokenRequest(other.url, { form: { grant_type: 'client_credentials' }, basic: [oa.application.clientId, oa.clientSecret ?? ''] });
      foreign = String(r.json?.access_token);
    } finally {
      await other.close();
    }
    await refreshCache(server);
    goodToken = readerToken;
    tokens = {
      valid: [readerToken, plainToken, alice.access],
      invalid: [revoked, expired, alice.refresh, foreign, `lk_at_${randomBytes(32).toString('base64url')}`, 'not-a-token', 'eyJhbGciOiJub25lIn0.e30.x'],
    };
    // The classes hold before the run: valid tokens are let in, invalid ones are not.
    for (const t of tokens.valid) assert.equal((await apiCall(server.url, { path: '/api/test/echo', bearer: t })).status, 200);
    for (const t of tokens.invalid) assert.equal((await apiCall(server.url, { path: '/api/test/echo', bearer: t })).status, 401, t);
  });

  after(async () => {
    agent.destroy();
    await server.close();
  });

  it(`survives ${RUNS} random requests to /api/… (seed ${SEED}) with no 5xx but from the handlers that throw on purpose`, async () => {
    const samples = fc.sample(arbitraries(tokens), { numRuns: RUNS, seed: SEED });
    const port = Number(new URL(server.url).port);
    const statuses = new Map<number, number>();
    const frameworkShapes = new Map<string, number>();
    const violations: string[] = [];
    const refusalIds: string[] = [];
    let sent = 0;
    let boom500 = 0;
    let allowedAuth2xx = 0;
    const started = Date.now();
    await pool(samples.length, CONCURRENCY, async (i) => {
      const s = samples[i]!;
      let r: Reply;
      try {
        r = await send(agent, port, s);
      } catch (error) {
        violations.push(`#${i} request failed (${(error as Error).message}): ${show(s)}`);
        return;
      }
      sent++;
      statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
      const problems: string[] = [];
      const pathOnly = s.path.split('?')[0] ?? '';
      const match = server.latchkey.router.match(s.method, pathOnly);
      const resource = match.kind === 'found' ? match.resource : undefined;
      if (r.status >= 500) {
        if (r.status === 500 && resource?.template === '/boom') boom500++;
        else problems.push(`status ${r.status}`);
      }
      try {
        assertNoStack(r.body);
      } catch (error) {
        problems.push((error as Error).message);
      }
      if (r.status === 401 && typeof r.headers['www-authenticate'] !== 'string') problems.push('401 without WWW-Authenticate');
      if (r.status === 405 && typeof r.headers.allow !== 'string') problems.push('405 without Allow');
      if (r.status >= 200 && r.status < 300 && resource?.security.requiresAuthentication === true) {
        allowedAuth2xx++;
        if (s.credential !== 'valid') problems.push(`${r.status} on a protected resource with a ${s.credential} credential`);
        if (/[?&]access_token=/.test(s.path)) problems.push(`${r.status} with a token in the query string`);
      }
      if (resource?.security.requiresAuthentication === true && s.credential === 'none' && !/[?&]access_token=/.test(s.path) && ![400, 401, 413, 415].includes(r.status)) {
        problems.push(`${r.status} without credentials on a protected resource`);
      }
      const shape = frameworkShape(r);
      if (shape !== undefined) frameworkShapes.set(shape, (frameworkShapes.get(shape) ?? 0) + 1);
      else if (s.method !== 'HEAD' && r.status >= 400) {
        // Everything the API provider answers is in the platform shape.
        try {
          const j = JSON.parse(r.body) as { error?: { message?: unknown; detail?: unknown }; status?: unknown };
          if (j.status !== 'failure' || typeof j.error?.message !== 'string' || typeof j.error.detail !== 'string') problems.push(`not the platform error shape: ${r.body.slice(0, 200)}`);
        } catch {
          problems.push(`error body is not JSON: ${r.body.slice(0, 200)}`);
        }
        const id = r.headers['x-request-id'];
        if (typeof id !== 'string') problems.push('no x-request-id');
        else if ((r.status === 401 || r.status === 403 || (r.status === 400 && r.body.includes('"reason '))) && refusalIds.length < 100_000) refusalIds.push(id);
      }
      if (problems.length > 0) violations.push(`#${i} ${problems.join('; ')}: ${show(s)} -> ${r.status} ${r.body.slice(0, 200)}`);
    });
    const elapsed = Date.now() - started;
    const summary = `${sent} requests in ${elapsed} ms, statuses ${JSON.stringify(Object.fromEntries([...statuses].sort((a, b) => a[0] - b[0])))}, framework-shaped ${JSON.stringify(Object.fromEntries(frameworkShapes))}, boom 500s ${boom500}, 2xx on protected ${allowedAuth2xx}`;
    assert.deepEqual(violations.slice(0, 5), [], `${violations.length} violations; ${summary}`);
    assert.ok(sent >= RUNS, summary);
    assert.ok(elapsed < 60_000, summary);
    // The generator reaches every outcome, so the properties above are not vacuous.
    for (const status of [200, 201, 204, 400, 401, 403, 404, 405, 409, 413]) assert.ok((statuses.get(status) ?? 0) > 0, `no ${status}: ${summary}`);
    assert.ok(boom500 > 0, `the throwing handlers were never reached: ${summary}`);
    assert.ok(allowedAuth2xx > 100, summary);
    // Refusals are recorded (checked on a sample) and span the catalogue.
    for (const id of refusalIds.filter((_, i) => i % 50 === 0)) assert.ok((await server.latchkey.storage.refusals.byRequestId(id)) !== undefined, `refusal ${id} not recorded`);
    const reasons = new Map<string, number>();
    for (const r of await server.latchkey.storage.refusals.list({ limit: 100_000 })) reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
    const apiReasons = [...reasons.keys()].filter((k) => k.startsWith('api.') || k.startsWith('token.'));
    assert.ok(apiReasons.length >= 10, `the generator reached only ${apiReasons.length} API refusal reasons: ${apiReasons.join(', ')}`);
    console.log(`# api fuzz: ${summary}; reasons ${JSON.stringify(Object.fromEntries([...reasons].sort((a, b) => b[1] - a[1])))}`);
  });

  it('still serves a valid request afterwards', async () => {
    const r = resultOf(await apiCall(server.url, { path: '/api/acme/orders/42', bearer: goodToken }));
    assert.deepEqual(r, { id: '42', path: '/api/acme/orders/42', scopes: ['orders.read', 'orders.write'], user: 'svc-orders' });
    const echo = resultOf(await apiCall(server.url, { method: 'POST', path: '/api/test/echo?x=1', bearer: goodToken, json: { ok: true } }));
    assert.deepEqual(echo.body, { ok: true });
    assert.deepEqual(echo.query, { x: ['1'] });
  });
});
