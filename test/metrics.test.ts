/**
 * GET /metrics, scraped over HTTP and read by a real Prometheus text-format parser
 * (parse-prometheus-text-format): every family the docs and the Grafana dashboard name is there,
 * a token shows up under its grant and format, a refusal under its reason code, requests under
 * their route pattern (never the raw URL, never a client id a caller made up); the optional
 * bearer token (`latchkey metrics token`: only its SHA-256 is stored) and the switch that turns
 * /metrics off. On SQLite and, with LATCHKEY_TEST_STORAGE=postgres, PostgreSQL.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { metricsTokenHash } from '../src/metrics/endpoint.js';
import { ROOT } from './helpers/api.js';
import { buildFixture, CC_PROPERTY, type Fixture } from './helpers/fixture.js';
import { tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

interface ParsedSample {
  readonly labels?: Record<string, string>;
  readonly value?: string;
  readonly buckets?: Record<string, string>;
  readonly count?: string;
  readonly sum?: string;
}
interface ParsedFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'COUNTER' | 'GAUGE' | 'HISTOGRAM' | 'SUMMARY' | 'UNTYPED';
  readonly metrics: readonly ParsedSample[];
}
const parsePrometheus = createRequire(import.meta.url)('parse-prometheus-text-format') as (text: string) => ParsedFamily[];

/**
 * One labelled histogram's samples, read from the text: the parser checks every line's syntax but
 * folds a histogram's label sets into one sample (it handles only histograms without labels).
 */
function histogram(text: string, name: string, label: string): { buckets: [number, number][]; sum: number; count: number } {
  const value = (suffix: string, extra = '') => {
    const lines = text.split('\n').filter((l) => l.startsWith(`${name}_${suffix}{`) && l.includes(label) && l.includes(extra));
    return lines.map((l) => ({ le: /le="([^"]+)"/.exec(l)?.[1] ?? '', v: Number(l.slice(l.lastIndexOf(' ') + 1)) }));
  };
  const buckets = value('bucket').map((b): [number, number] => [b.le === '+Inf' ? Infinity : Number(b.le), b.v]);
  return { buckets, sum: value('sum')[0]?.v ?? NaN, count: value('count')[0]?.v ?? NaN };
}

/** The families the docs promise (docs/metrics.md); each must be in every scrape, samples or not. */
const FAMILIES = [
  'latchkey_info',
  'latchkey_http_requests_total',
  'latchkey_http_request_duration_seconds',
  'latchkey_tokens_issued_total',
  'latchkey_refusals_total',
  'latchkey_api_calls_total',
  'latchkey_api_call_duration_seconds',
  'latchkey_registry_cache_lookups_total',
  'latchkey_registry_cache_entries',
  'latchkey_registry_cache_clears_total',
  'latchkey_fresh_cache_decisions_total',
  'latchkey_storage_commit_duration_seconds',
  'latchkey_storage_commit_writes',
  'latchkey_storage_pool_connections',
  'latchkey_storage_write_failing',
  'latchkey_rate_limit_fallback_total',
  'latchkey_signing_key_age_seconds',
  'latchkey_signing_key_rotation_seconds',
  'process_cpu_seconds_total',
  'nodejs_eventloop_lag_p99_seconds',
];

describe('GET /metrics', () => {
  let server: TestServer;
  let fx: Fixture<'cc'>;

  async function scrape(headers: Record<string, string> = {}) {
    const res = await fetch(`${server.url}/metrics`, { headers });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }
  async function families(): Promise<Map<string, ParsedFamily>> {
    const res = await scrape();
    assert.equal(res.status, 200, res.text);
    return new Map(parsePrometheus(res.text).map((f) => [f.name, f]));
  }
  const sample = (f: ParsedFamily | undefined, labels: Record<string, string>) =>
    f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));

  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
    const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
    return { code, out, err };
  }

  before(async () => {
    server = await startTestServer();
    fx = await buildFixture(server, {
      users: [{ userName: 'svc-metrics', roles: [] }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: { cc: { name: 'Metrics CC', grantTypes: ['client_credentials'], appUser: 'svc-metrics' } },
    });
  });
  after(async () => server?.close());

  it('is the Prometheus text format, parsed by a real parser, with every documented family', async () => {
    const res = await scrape();
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    const parsed = new Map(parsePrometheus(res.text).map((f) => [f.name, f]));
    for (const name of FAMILIES) assert.ok(parsed.has(name), `missing family ${name}`);
    assert.equal(parsed.get('latchkey_tokens_issued_total')?.type, 'COUNTER');
    assert.equal(parsed.get('latchkey_http_request_duration_seconds')?.type, 'HISTOGRAM');
    const info = parsed.get('latchkey_info')?.metrics[0];
    assert.equal(info?.labels?.storage, server.storageKind);
    assert.equal(info?.value, '1');
    // The signing key the instance created at start: its age is a gauge by kid and state.
    const key = parsed.get('latchkey_signing_key_age_seconds')?.metrics.find((m) => m.labels?.state === 'signing');
    assert.ok(key !== undefined && Number(key.value) >= 0, 'a signing key age');
    assert.equal(sample(parsed.get('latchkey_signing_key_rotation_seconds'), {})?.value, String(90 * 86_400));
    if (server.storageKind === 'postgres') {
      assert.equal(sample(parsed.get('latchkey_storage_pool_connections'), { state: 'max' })?.value, '10');
    }
  });

  it('counts a token under its grant and format, a refusal under its reason code, requests by route pattern with their latency', async () => {
    const before = await families();
    const issued0 = Number(sample(before.get('latchkey_tokens_issued_total'), { grant_type: 'client_credentials', format: 'opaque' })?.value ?? 0);
    const refused0 = Number(sample(before.get('latchkey_refusals_total'), { endpoint: 'token', reason: 'client_auth.unknown_client' })?.value ?? 0);

    const ok = await tokenRequest(server.url, { basic: [fx.apps.cc.clientId, fx.apps.cc.secret], form: { grant_type: 'client_credentials' } });
    assert.equal(ok.status, 200, ok.text);
    const invented = ['made-up-client-1', 'made-up-client-2', 'made-up-client-3'];
    for (const id of invented) {
      const refused = await tokenRequest(server.url, { basic: [id, 'nope'], form: { grant_type: 'client_credentials' } });
      assert.equal(refused.status, 401);
    }
    await fetch(`${server.url}/no/such/path?secret=abc`);

    const now = await families();
    assert.equal(Number(sample(now.get('latchkey_tokens_issued_total'), { grant_type: 'client_credentials', format: 'opaque' })?.value), issued0 + 1);
    assert.equal(Number(sample(now.get('latchkey_refusals_total'), { endpoint: 'token', reason: 'client_auth.unknown_client' })?.value), refused0 + 3);
    const requests = now.get('latchkey_http_requests_total');
    assert.ok(Number(sample(requests, { route: '/oauth_token.do', method: 'POST', status: '200' })?.value) >= 1);
    assert.ok(Number(sample(requests, { route: '/oauth_token.do', method: 'POST', status: '401' })?.value) >= 3);
    assert.ok(Number(sample(requests, { route: '(unmatched)', status: '404' })?.value) >= 1);
    // Bounded labels: no raw URL, no client id a caller made up, anywhere in the scrape.
    const text = (await scrape()).text;
    for (const id of invented) assert.ok(!text.includes(id), `label value ${id} leaked into /metrics`);
    assert.ok(!text.includes('/no/such/path') && !text.includes('secret=abc'), 'a raw URL leaked into /metrics');
    // Histograms: cumulative buckets in increasing order, +Inf equal to the count.
    const latency = histogram(text, 'latchkey_http_request_duration_seconds', 'route="/oauth_token.do"');
    assert.ok(latency.buckets.length > 5, 'buckets for the token route');
    for (let i = 1; i < latency.buckets.length; i++) {
      const [le, n] = latency.buckets[i] as [number, number];
      const [lePrev, nPrev] = latency.buckets[i - 1] as [number, number];
      assert.ok(le > lePrev && n >= nPrev, 'buckets are cumulative and ordered');
    }
    assert.equal(latency.buckets.at(-1)?.[0], Infinity);
    assert.equal(latency.buckets.at(-1)?.[1], latency.count);
    assert.ok(latency.count >= 4 && latency.sum > 0);
    // The token's commit went through the group-commit batcher, and the cache answered lookups.
    const commits = histogram(text, 'latchkey_storage_commit_duration_seconds', `storage="${server.storageKind}"`);
    assert.ok(commits.count >= 1, 'a group commit was timed');
    const hits = sample(now.get('latchkey_registry_cache_lookups_total'), { cache: 'properties', result: 'hit' });
    assert.ok(Number(hits?.value) >= 1);
  });

  it('`latchkey metrics token` requires a bearer token, stored only as its SHA-256; refused scrapes are refusals with reason codes', async () => {
    const made = await cli('metrics', 'token');
    assert.equal(made.code, 0, made.err);
    const token = made.out.trim();
    assert.match(token, /^lk_mt_[A-Za-z0-9_-]{43}$/);
    assert.match(made.err, /shown only once/);
    const stored = (await server.latchkey.storage.properties.list()).find((p) => p.name === 'latchkey.metrics.token_sha256');
    assert.equal(stored?.value, metricsTokenHash(token));
    assert.ok(!JSON.stringify(await server.latchkey.storage.audit.list({})).includes(token), 'the token is not in the audit log');
    await server.latchkey.cache.check();

    const missing = await scrape();
    assert.equal(missing.status, 401);
    assert.equal(missing.headers.get('www-authenticate'), 'Bearer realm="latchkey"');
    const missingId = missing.headers.get('x-request-id') ?? '';
    assert.equal((await server.latchkey.storage.refusals.byRequestId(missingId))?.reason, 'metrics.credentials_missing');

    const wrong = await scrape({ authorization: 'Bearer lk_mt_not-the-token' });
    assert.equal(wrong.status, 401);
    assert.match(wrong.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
    const wrongId = wrong.headers.get('x-request-id') ?? '';
    assert.equal((await server.latchkey.storage.refusals.byRequestId(wrongId))?.reason, 'metrics.token_invalid');
    const explained = await cli('explain', wrongId, '--json');
    assert.equal(explained.code, 0, explained.err);
    assert.match((JSON.parse(explained.out) as { fix: string }).fix, /latchkey metrics token/);

    const good = await scrape({ authorization: `Bearer ${token}` });
    assert.equal(good.status, 200);
    const parsed = new Map(parsePrometheus(good.text).map((f) => [f.name, f]));
    assert.ok(Number(sample(parsed.get('latchkey_refusals_total'), { endpoint: 'metrics', reason: 'metrics.token_invalid' })?.value) >= 1);

    const shown = await cli('metrics', 'show', '--json');
    assert.deepEqual(JSON.parse(shown.out), { path: '/metrics', enabled: true, tokenRequired: true });
    const removed = await cli('metrics', 'token', '--remove');
    assert.equal(removed.code, 0, removed.err);
    await server.latchkey.cache.check();
    assert.equal((await scrape()).status, 200);
  });

  it('latchkey.metrics.enabled false: /metrics answers 404', async () => {
    assert.equal((await cli('properties', 'set', 'latchkey.metrics.enabled', 'false')).code, 0);
    await server.latchkey.cache.check();
    const off = await scrape();
    assert.equal(off.status, 404);
    assert.match(off.text, /latchkey\.metrics\.enabled/);
    assert.equal((await cli('properties', 'set', 'latchkey.metrics.enabled', 'true')).code, 0);
    await server.latchkey.cache.check();
    assert.equal((await scrape()).status, 200);
  });

  it('a SHA-256 property refuses anything but 64 hex digits, without echoing the value', async () => {
    const r = await cli('properties', 'set', 'latchkey.metrics.token_sha256', 'lk_mt_pasted-the-token-itself');
    assert.equal(r.code === 0, false);
    assert.match(r.err, /64 hex digits/);
    assert.ok(!r.err.includes('pasted-the-token-itself'));
  });

  it('the Grafana dashboard (deploy/grafana/latchkey.json) is valid JSON and every metric it queries is in /metrics', async () => {
    const dashboard = JSON.parse(readFileSync(join(ROOT, 'deploy', 'grafana', 'latchkey.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };
    const exposed = new Set([...(await families()).values()].map((f) => f.name));
    const referenced = new Set<string>();
    for (const panel of dashboard.panels) {
      assert.ok(panel.targets.length > 0, `panel ${panel.title} has a query`);
      for (const t of panel.targets) {
        for (const m of t.expr.matchAll(/\b((?:latchkey|process|nodejs)_[a-z0-9_]+)\b/g)) referenced.add(m[1] as string);
      }
    }
    assert.ok(referenced.size >= 15, `the dashboard queries ${referenced.size} metrics`);
    for (const name of referenced) {
      const family = name.replace(/_(bucket|sum|count)$/, '');
      assert.ok(exposed.has(name) || exposed.has(family), `the dashboard queries ${name}, which /metrics does not serve`);
    }
  });
});
