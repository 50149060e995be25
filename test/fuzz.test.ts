import assert from 'node:assert/strict';
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { basicHeader, pool, tokenRequest } from './helpers/oauth.js';
import { buildFixture } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const RUNS = 10_000;
const BODY_LIMIT = 4096;
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_128);
const TOKEN_PATHS = new Set(['/oauth_token.do', '/oauth/token']);
const OAUTH_ERRORS = new Set(['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope']);
const ALICE_PW = 'alice-fuzz-password';

interface Sample {
  readonly method: string;
  readonly path: string;
  readonly contentType: string | undefined;
  readonly authorization: string | undefined;
  readonly body: string | Uint8Array | undefined;
  readonly chunked: boolean;
  /** Whether the request carried the right client credentials (Basic or body): only then may it get 200. */
  readonly rightCredentials: boolean;
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** Percent-encodes every UTF-8 byte outside the unreserved set; never throws (lone surrogates become U+FFFD). */
const pctEncode = (s: string) => [...Buffer.from(s, 'utf8')].map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`)).join('');
/** Characters Node accepts in a header value. */
const headerChar = fc.integer({ min: 0x20, max: 0xff }).filter((c) => c !== 0x7f).map((c) => String.fromCharCode(c));
const headerString = (maxLength: number) => fc.string({ unit: headerChar, maxLength });

function arbitraries(ids: { clientId: string; secret: string; otherId: string; refreshTokens: string[] }) {
  const right = { clientId: ids.clientId, secret: ids.secret };
  const name = fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom('grant_type', 'client_id', 'client_secret', 'username', 'password', 'refresh_token', 'scope') },
    { weight: 1, arbitrary: fc.constantFrom('code', 'client_assertion', 'redirect_uri', '', 'gr%61nt_type', '%zz', 'a b', 'scope[]') },
    { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  );
  const value = fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom('client_credentials', 'password', 'refresh_token', 'authorization_code', 'urn:x', ids.clientId, ids.secret, ids.otherId, 'alice', ALICE_PW, 'export.read', 'export.read export.write', 'export.read  export.write', 'admin.all', '"', '', ...ids.refreshTokens) },
    { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }) },
    { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
    { weight: 1, arbitrary: fc.constantFrom('%zz', '%', '%e9', '%ff%fe', '%00', '\u0000', 'a\u0000b', '%C0%AF', '+', '%2B', '&', '=', '\ud800', '\u{1F600}') },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: BODY_LIMIT + 300 }).map((n) => 'x'.repeat(n)) },
  );
  const pair = fc.tuple(name, value, fc.boolean()).map(([n, v, encode]) => (encode ? `${pctEncode(n)}=${pctEncode(v)}` : `${n}=${v}`));
  const bodyCredentials = fc.constantFrom('none', 'none', 'right', 'wrong', 'idOnly');
  const credentialPairs = (creds: string) =>
    creds === 'right' ? [`client_id=${right.clientId}`, `client_secret=${right.secret}`] : creds === 'wrong' ? [`client_id=${right.clientId}`, 'client_secret=lk_cs_wrong'] : creds === 'idOnly' ? [`client_id=${right.clientId}`] : [];
  /** Anything goes: random names and values, repeated parameters, raw or encoded. */
  const chaoticForm = fc.tuple(fc.array(pair, { maxLength: 8 }), bodyCredentials, fc.nat(8)).map(([pairs, creds, at]) => {
    const all = [...pairs];
    all.splice(Math.min(at, all.length), 0, ...credentialPairs(creds));
    return { body: all.join('&'), right: creds === 'right' };
  });
  /** Plausible requests (one valid grant type, each parameter at most once) with random values, to reach the grants. */
  const field = (plausible: readonly string[]) => fc.option(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...plausible) }, { weight: 1, arbitrary: value }), { nil: undefined });
  const plausibleForm = fc
    .record({
      grant_type: fc.oneof({ weight: 8, arbitrary: fc.constantFrom('client_credentials', 'password', 'refresh_token') }, { weight: 1, arbitrary: value }),
      username: field(['alice', 'svc', 'bob']),
      password: field([ALICE_PW, 'wrong-password']),
      refresh_token: field([...ids.refreshTokens, 'lk_rt_unknown']),
      scope: field(['export.read', 'export.write', 'export.read export.write', 'admin.all', 'export.read  export.write', 'export"read']),
      creds: bodyCredentials,
      encode: fc.boolean(),
    })
    .map((f) => {
      const enc = f.encode ? pctEncode : (x: string) => x;
      const pairs = (['grant_type', 'username', 'password', 'refresh_token', 'scope'] as const).flatMap((k) => (f[k] === undefined ? [] : [`${k}=${enc(f[k])}`]));
      return { body: [...pairs, ...credentialPairs(f.creds)].join('&'), right: f.creds === 'right' };
    });
  const body = fc.oneof(
    { weight: 12, arbitrary: plausibleForm },
    { weight: 6, arbitrary: chaoticForm },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((b) => ({ body: b, right: false })) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => ({ body: b as string | Uint8Array, right: false })) },
    { weight: 1, arbitrary: fc.integer({ min: BODY_LIMIT - 100, max: BODY_LIMIT + 200 }).map((n) => ({ body: `grant_type=client_credentials&pad=${'x'.repeat(n)}`, right: false })) },
    { weight: 1, arbitrary: fc.constant({ body: undefined as string | undefined, right: false }) },
  );
  const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
  const authorization = fc.oneof(
    { weight: 4, arbitrary: fc.constant({ header: undefined as string | undefined, right: false }) },
    { weight: 3, arbitrary: fc.constantFrom(basicHeader(right.clientId, right.secret), `basic  ${b64(`${right.clientId}:${right.secret}`)}`).map((header) => ({ header, right: true })) },
    { weight: 2, arbitrary: fc.string({ maxLength: 50 }).map((s) => ({ header: basicHeader(right.clientId, s), right: false })) },
    { weight: 1, arbitrary: fc.tuple(fc.string({ maxLength: 40 }), fc.string({ maxLength: 40 })).map(([a, b]) => ({ header: basicHeader(a, b), right: false })) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map((s) => ({ header: `Basic ${b64(s)}`, right: false })) },
    { weight: 1, arbitrary: fc.constantFrom('Basic !!!', 'Basic', 'Basic ', 'Basic Og==', 'Basic OmZvbw==', `Basic ${b64('%zz:%zz')}`, `Basic ${b64(`${ids.otherId}:x`)}`, 'Bearer lk_at_junk', 'Digest realm="x"', `Basic ${b64(right.clientId)}`).map((header) => ({ header, right: false })) },
    { weight: 1, arbitrary: headerString(80).map((header) => ({ header, right: false })) },
  );
  const contentType = fc.oneof(
    { weight: 16, arbitrary: fc.constant('application/x-www-form-urlencoded') },
    { weight: 3, arbitrary: fc.constantFrom(undefined, 'application/x-www-form-urlencoded; charset=utf-8', 'APPLICATION/X-WWW-FORM-URLENCODED', 'application/json', 'text/plain', 'multipart/form-data; boundary=x', ';', '', 'application/x-www-form-urlencoded;;', '*/*') },
    { weight: 1, arbitrary: headerString(40) },
  );
  const method = fc.oneof({ weight: 30, arbitrary: fc.constant('POST') }, { weight: 3, arbitrary: fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS') });
  const query = fc.oneof(
    { weight: 12, arbitrary: fc.constant('') },
    { weight: 1, arbitrary: fc.constantFrom('?', '?x=1', '?client_secret=abc', '?grant_type=client_credentials', '?%zz', `?client_id=${right.clientId}`, '?scope=a&scope=b') },
    { weight: 1, arbitrary: fc.string({ maxLength: 20 }).map((s) => `?${pctEncode(s)}=${pctEncode(s)}`) },
  );
  const path = fc.tuple(fc.oneof({ weight: 10, arbitrary: fc.constantFrom('/oauth_token.do', '/oauth/token') }, { weight: 1, arbitrary: fc.constantFrom('/oauth_token.do/', '/OAUTH_TOKEN.DO', '/oauth/token/x', '/oauth') }), query).map(([p, q]) => p + q);
  return fc.record({ method, path, contentType, authorization, body, chunked: fc.boolean() }).map(
    (r): Sample => ({ method: r.method, path: r.path, contentType: r.contentType, authorization: r.authorization.header, body: r.body.body, chunked: r.chunked, rightCredentials: r.authorization.right || r.body.right }),
  );
}

function send(agent: Agent, port: number, s: Sample): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {};
    if (s.contentType !== undefined) headers['content-type'] = s.contentType;
    if (s.authorization !== undefined) headers.authorization = s.authorization;
    const body = s.body === undefined ? undefined : Buffer.from(s.body as string);
    if (body !== undefined) {
      // Node's client frames bodies of GET, HEAD, DELETE and OPTIONS as chunked only when told to.
      if (s.chunked) headers['transfer-encoding'] = 'chunked';
      else headers['content-length'] = body.length;
    }
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

/** Every property one exchange must satisfy; returns what is wrong, or undefined. */
function check(s: Sample, r: Reply): string | undefined {
  if (r.status >= 500) return `status ${r.status}`;
  if (r.status === 200 && !s.rightCredentials) return '200 without the right client credentials';
  const tokenPath = TOKEN_PATHS.has(s.path.split('?')[0] ?? '');
  if (!tokenPath) return r.status >= 400 && r.status < 500 ? undefined : `status ${r.status} on a non-token path`;
  if (![200, 400, 401].includes(r.status)) return `status ${r.status} on the token endpoint`;
  if (typeof r.headers['x-request-id'] !== 'string') return 'no x-request-id';
  if (r.headers['cache-control'] !== 'no-store') return `cache-control ${String(r.headers['cache-control'])}`;
  if (s.method === 'HEAD') return undefined;
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(r.body) as Record<string, unknown>;
  } catch {
    return `body is not JSON: ${r.body.slice(0, 100)}`;
  }
  if (r.status === 200) return json.token_type === 'Bearer' && typeof json.access_token === 'string' ? undefined : `bad success body ${r.body}`;
  if (!OAUTH_ERRORS.has(String(json.error))) return `error ${String(json.error)}`;
  if (typeof json.error_description !== 'string' || !/^[\x20\x21\x23-\x5b\x5d-\x7e]*$/.test(json.error_description)) return `error_description ${JSON.stringify(json.error_description)}`;
  if ((r.status === 401) !== (json.error === 'invalid_client')) return `${r.status} with ${String(json.error)}`;
  if (r.status === 401 && typeof r.headers['www-authenticate'] !== 'string') return '401 without WWW-Authenticate';
  return undefined;
}

const show = (s: Sample) => JSON.stringify({ ...s, body: typeof s.body === 'string' ? s.body.slice(0, 300) : s.body === undefined ? undefined : `<${s.body.length} bytes>` });

describe('fuzzing the token endpoint', () => {
  let server: TestServer;
  let ids: { clientId: string; secret: string; otherId: string; refreshTokens: string[] };
  const agent = new Agent({ keepAlive: true, maxSockets: 16 });

  before(async () => {
    server = await startTestServer({ bodyLimit: BODY_LIMIT });
    const { apps } = await buildFixture(server, {
      scopes: ['export.read', 'export.write'],
      users: [{ userName: 'svc' }, { userName: 'alice', password: ALICE_PW }],
      properties: {
        'glide.oauth.inbound.client.credential.grant_type.enabled': 'true',
        // Every refusal's record is checked below: no anonymous budget (test/disk-bounds.test.ts proves the budget).
        'latchkey.refusals.anonymous_per_minute': '1000000',
      },
      apps: {
        app: { name: 'Fuzz', grantTypes: ['client_credentials', 'password'], appUser: 'svc', scopes: ['export.read', 'export.write'] },
        other: { name: 'Other', grantTypes: ['client_credentials'], appUser: 'svc' },
      },
    });
    ids = { clientId: apps.app.clientId, secret: apps.app.secret, otherId: apps.other.clientId, refreshTokens: [] };
    for (let i = 0; i < 3; i++) {
      const r = await tokenRequest(server.url, { form: { grant_type: 'password', username: 'alice', password: ALICE_PW }, basic: [ids.clientId, ids.secret] });
      assert.equal(r.status, 200, r.text);
      ids.refreshTokens.push(String(r.json?.refresh_token));
    }
  });
  after(async () => {
    agent.destroy();
    await server.close();
  });

  it(`survives ${RUNS} random and malformed token requests (seed ${SEED})`, async () => {
    const samples = fc.sample(arbitraries(ids), { numRuns: RUNS, seed: SEED });
    const port = Number(new URL(server.url).port);
    const statuses = new Map<number, number>();
    const violations: string[] = [];
    const refusalIds: string[] = [];
    let sent = 0;
    const started = Date.now();
    await pool(samples.length, 16, async (i) => {
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
      const problem = check(s, r);
      if (problem !== undefined) violations.push(`#${i} ${problem}: ${show(s)} -> ${r.status} ${r.body.slice(0, 200)}`);
      const id = r.headers['x-request-id'];
      if ((r.status === 400 || r.status === 401) && typeof id === 'string' && TOKEN_PATHS.has(s.path.split('?')[0] ?? '')) refusalIds.push(id);
    });
    const elapsed = Date.now() - started;
    const summary = `${sent} requests in ${elapsed} ms, statuses ${JSON.stringify(Object.fromEntries(statuses))}`;
    assert.deepEqual(violations.slice(0, 5), [], `${violations.length} violations; ${summary}`);
    assert.ok(sent >= RUNS, summary);
    assert.ok(elapsed < 60_000, summary);
    // The generator reaches every outcome, so the properties above are not vacuous.
    for (const status of [200, 400, 401, 404]) assert.ok((statuses.get(status) ?? 0) > 0, `no ${status}: ${summary}`);
    // Every refusal on the token endpoint was recorded (checked on a sample).
    for (const id of refusalIds.filter((_, i) => i % 50 === 0)) assert.ok((await server.latchkey.storage.refusals.byRequestId(id)) !== undefined, `refusal ${id} not recorded`);
    const reasons = new Map<string, number>();
    for (const r of await server.latchkey.storage.refusals.list({ limit: 100_000 })) reasons.set(r.reason, (reasons.get(r.reason) ?? 0) + 1);
    assert.ok(reasons.size >= 15, `the generator reached only ${reasons.size} refusal reasons: ${[...reasons.keys()].join(', ')}`);
    console.log(`# fuzz: ${summary}; reasons ${JSON.stringify(Object.fromEntries([...reasons].sort((a, b) => b[1] - a[1])))}`);
  });

  it('still issues a token afterwards', async () => {
    const r = await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [ids.clientId, ids.secret] });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json?.token_type, 'Bearer');
    assert.equal(r.json?.expires_in, 1800);
  });
});
