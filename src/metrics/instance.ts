import { readFileSync } from 'node:fs';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Clock } from '../core/clock.js';
import { LATENCY_BUCKETS } from '../core/histogram.js';
import { REGISTRY_CACHES, type RegistryCache } from '../registry/cache.js';
import { FRESH_CACHE_STATS } from '../registry/fresh-cache.js';
import type { Keyring } from '../keys/keyring.js';
import { keyState } from '../keys/keyring.js';
import type { CompiledApi } from '../resource-server/compile.js';
import type { Storage } from '../storage/types.js';
import { CollectedFamily, CounterFamily, histogramValues, HistogramFamily, type CounterChild, type Sample } from './families.js';

/**
 * Every metric one Latchkey instance serves at GET /metrics (docs/metrics.md lists them; the
 * Grafana dashboard in deploy/grafana/ reads them). Two kinds:
 *
 * - counted on the request path, through children looked up once (families.ts): requests by route
 *   pattern, method and status with their latency, tokens issued by grant and format, refusals by
 *   endpoint and reason code, hosted-API calls by API and status with their latency;
 * - read at scrape time, costing nothing per request: the registry caches' hits and misses, the
 *   storage's group commits and pool, the signing keys' ages, the rate-limit counters' fallbacks.
 *
 * Process metrics (CPU, memory, event-loop lag, GC: prom-client's defaults) are the process's, not
 * the instance's: one registry per process (processRegistry), written after the instance's.
 */

export interface MetricSources {
  readonly storage: Pick<Storage, 'kind' | 'stats' | 'writeHealth' | 'rateCounters'>;
  readonly cache: Pick<RegistryCache, 'stats' | 'sizes' | 'peekProperties'>;
  readonly keyring: Pick<Keyring, 'keys'>;
  readonly clock: Clock;
}

/** The route label of a request no route matched (a 404): never the raw URL. */
export const UNMATCHED_ROUTE = '(unmatched)';

let processMetrics: Registry | undefined;

/** prom-client's default process metrics, collected once per process (started on the first scrape). */
export function processRegistry(): Registry {
  if (processMetrics === undefined) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export class InstanceMetrics {
  readonly registry = new Registry();
  private readonly requests = new CounterFamily('latchkey_http_requests_total', 'HTTP requests answered, by route pattern (never the raw URL), method and status.', ['route', 'method', 'status']).register(this.registry);
  private readonly durations = new HistogramFamily('latchkey_http_request_duration_seconds', 'Time to answer an HTTP request, by route pattern.', ['route'], LATENCY_BUCKETS).register(this.registry);
  private readonly issued = new CounterFamily('latchkey_tokens_issued_total', 'Token responses issued by the token endpoint, by grant type and access-token format.', ['grant_type', 'format']).register(this.registry);
  private readonly refusals = new CounterFamily('latchkey_refusals_total', 'Refusals (4xx answers with a reason code), by endpoint and reason code; also those past the anonymous budget that were only counted.', ['endpoint', 'reason']).register(this.registry);
  private readonly apiCalls = new CounterFamily('latchkey_api_calls_total', 'Calls to the hosted APIs, by API (namespace/id; "none" when no API matched) and status.', ['api', 'status']).register(this.registry);
  private readonly apiDurations = new HistogramFamily('latchkey_api_call_duration_seconds', 'Time to answer a hosted-API call (authentication, rate limits and the handler), by API.', ['api'], LATENCY_BUCKETS).register(this.registry);
  /** API labels, computed once per loaded API. */
  private readonly apiNames = new WeakMap<object, string>();
  private sources: MetricSources | undefined;

  /** One request answered: `route` is the route pattern (UNMATCHED_ROUTE for a 404 no route owns). */
  observeRequest(route: string, method: string, status: number, seconds: number): void {
    this.requests.labels3(route, method, status).inc();
    this.durations.labels1(route).observe(seconds);
  }

  /** A child to increment for one (grant type, format): the token endpoint's hot path. */
  tokenIssued(grantType: string, format: string): void {
    this.issued.labels2(grantType, format).inc();
  }

  refused(endpoint: string, reason: string): void {
    this.refusals.labels2(endpoint, reason).inc();
  }

  /** The refusal counter of one (endpoint, reason), for tests and dashboards that want one number. */
  refusalCount(endpoint: string, reason: string): CounterChild {
    return this.refusals.labels2(endpoint, reason);
  }

  apiCall(api: (Pick<CompiledApi, 'namespace' | 'id'> & { readonly kind?: 'mcp' }) | undefined, status: number, seconds: number): void {
    let name = 'none';
    if (api !== undefined) {
      // A hosted MCP server is labelled "mcp:<namespace>/<id>" (an API may have the same namespace and id).
      name = this.apiNames.get(api) ?? `${api.kind === 'mcp' ? 'mcp:' : ''}${api.namespace}/${api.id}`;
      this.apiNames.set(api, name);
    }
    this.apiCalls.labels2(name, status).inc();
    this.apiDurations.labels1(name).observe(seconds);
  }

  /** Adds the families read at scrape time from the instance's parts (createLatchkey calls it once). */
  attach(sources: MetricSources): void {
    if (this.sources !== undefined) return;
    this.sources = sources;
    const { storage, cache, keyring, clock } = sources;
    const version = packageVersion();
    const reg = this.registry;
    new CollectedFamily('latchkey_info', 'Always 1; the labels say which Latchkey and which storage.', 'gauge', () => [{ labels: { version, storage: storage.kind }, value: 1 }]).register(reg);
    new CollectedFamily('latchkey_registry_cache_lookups_total', 'Registry cache lookups (src/registry/cache.ts), by cache and result (hit: from memory, miss: read from storage). Hit rate = hit / (hit + miss).', 'counter', () =>
      REGISTRY_CACHES.flatMap((name) => [
        { labels: { cache: name, result: 'hit' }, value: cache.stats.hits[name] },
        { labels: { cache: name, result: 'miss' }, value: cache.stats.misses[name] },
      ]),
    ).register(reg);
    new CollectedFamily('latchkey_registry_cache_entries', 'Entries each registry cache holds now.', 'gauge', () => {
      const sizes = cache.sizes();
      return REGISTRY_CACHES.map((name) => ({ labels: { cache: name }, value: sizes[name] }));
    }).register(reg);
    new CollectedFamily('latchkey_registry_cache_clears_total', 'Whole-cache clears: a registry change seen (change version moved) or the storage unreachable.', 'counter', () => [{ labels: {}, value: cache.stats.clears }]).register(reg);
    new CollectedFamily('latchkey_fresh_cache_decisions_total', 'Refusals made from cached registry state that were checked against storage first (src/registry/fresh-cache.ts), by outcome: stood, or decided again on a fresh cache. Per process.', 'counter', () => [
      { labels: { outcome: 'stood' }, value: FRESH_CACHE_STATS.checked - FRESH_CACHE_STATS.decidedAgain },
      { labels: { outcome: 'decided_again' }, value: FRESH_CACHE_STATS.decidedAgain },
    ]).register(reg);
    new CollectedFamily('latchkey_storage_commit_duration_seconds', 'Duration of each group commit of tokens and refusals (src/storage/*/batcher.ts).', 'histogram', () =>
      storage.stats === undefined ? [] : histogramValues('latchkey_storage_commit_duration_seconds', { storage: storage.kind }, storage.stats.commitSeconds),
    ).register(reg);
    new CollectedFamily('latchkey_storage_commit_writes', 'Writes (token requests, refusals) carried by each group commit.', 'histogram', () =>
      storage.stats === undefined ? [] : histogramValues('latchkey_storage_commit_writes', { storage: storage.kind }, storage.stats.commitWrites),
    ).register(reg);
    new CollectedFamily('latchkey_storage_pool_connections', 'PostgreSQL pool: connections open (total), idle, callers waiting for one, and the maximum.', 'gauge', () => {
      const pool = storage.stats?.pool?.();
      if (pool === undefined) return [];
      return (['total', 'idle', 'waiting', 'max'] as const).map((state) => ({ labels: { state }, value: pool[state] }));
    }).register(reg);
    new CollectedFamily('latchkey_storage_write_failing', '1 while writes fail (disk full, read-only database), else 0.', 'gauge', () => [{ labels: { storage: storage.kind }, value: storage.writeHealth().failing ? 1 : 0 }]).register(reg);
    new CollectedFamily('latchkey_rate_limit_fallback_total', 'Requests counted by the local fallback because the shared rate-limit counters (PostgreSQL) failed.', 'counter', () => [{ labels: {}, value: storage.rateCounters.fallbacks() }]).register(reg);
    new CollectedFamily('latchkey_signing_key_age_seconds', 'Age of each signing key still published (since it was created), by kid, algorithm and state (next, signing, retired).', 'gauge', async () => keyAges(await keyring.keys(), clock.now())).register(reg);
    new CollectedFamily('latchkey_signing_key_rotation_seconds', 'The scheduled rotation age (latchkey.keys.rotation_days in seconds; 0: off): a signing key older than this is rotated within the hour.', 'gauge', () => {
      const days = cache.peekProperties()?.['latchkey.keys.rotation_days'];
      return days === undefined ? [] : [{ labels: {}, value: days * 86_400 }];
    }).register(reg);
  }

  /** The Prometheus text of this instance, then the process's. */
  async text(): Promise<string> {
    return `${await this.registry.metrics()}\n${await processRegistry().metrics()}`;
  }
}

function keyAges(keys: Awaited<ReturnType<Keyring['keys']>>, now: number): Sample[] {
  const samples: Sample[] = [];
  for (const key of keys) {
    const state = keyState(key, now);
    if (state === 'expired') continue;
    samples.push({ labels: { kid: key.kid, alg: key.alg, state }, value: Math.max(0, Math.round((now - key.createdAt) / 1000)) });
  }
  return samples;
}

/** The content type of the Prometheus text format, version 0.0.4. */
export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;
