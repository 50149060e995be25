import { createHash } from 'node:crypto';
import type { RefusalRecorder } from '../audit/refusals.js';
import { constantTimeEqual, randomToken } from '../core/crypto.js';
import { header, type NeutralRequest, type NeutralResponse } from '../core/request.js';
import { REALM } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { RegistryCache } from '../registry/cache.js';
import { METRICS_CONTENT_TYPE, type InstanceMetrics } from './instance.js';

/**
 * GET /metrics: the Prometheus text format (docs/metrics.md). Served unless
 * latchkey.metrics.enabled is false (then 404). When latchkey.metrics.token_sha256 holds a hash,
 * the scrape must send `Authorization: Bearer <token>` whose SHA-256 it is: the token is 256
 * random bits (`latchkey metrics token` makes one), so a plain SHA-256 is a sound way to keep it and
 * the comparison is in constant time; the property, the audit log and every export hold only the
 * hash. A refused scrape is recorded as a refusal (endpoint `metrics`) like any other.
 */

export const METRICS_PATH = '/metrics';
export const METRICS_TOKEN_PREFIX = 'lk_mt_';
const ENABLED = 'latchkey.metrics.enabled';
export const METRICS_TOKEN_PROPERTY = 'latchkey.metrics.token_sha256';

/** The SHA-256 of a token as latchkey.metrics.token_sha256 holds it (64 lowercase hex digits). */
export function metricsTokenHash(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A new /metrics token and the hash to store (the token is shown once). */
export function newMetricsToken(): { token: string; sha256: string } {
  const token = randomToken(METRICS_TOKEN_PREFIX);
  return { token, sha256: metricsTokenHash(token) };
}

export interface MetricsEndpointDeps {
  readonly metrics: Pick<InstanceMetrics, 'text'>;
  readonly cache: Pick<RegistryCache, 'peekProperties' | 'properties'>;
  readonly refusals: RefusalRecorder;
}

const JSON_TYPE = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' } as const;

function refusal(reason: 'metrics.credentials_missing' | 'metrics.token_invalid', description: string): OAuthError {
  const challenge = reason === 'metrics.credentials_missing' ? `Bearer realm="${REALM}"` : `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"`;
  return new OAuthError({ error: 'invalid_token', status: 401, description, reason, headers: { 'www-authenticate': challenge } });
}

/** The bearer token of an Authorization header, or undefined when there is none. */
function bearerOf(req: NeutralRequest): string | undefined {
  const value = header(req, 'authorization');
  if (value === undefined) return undefined;
  const m = /^Bearer +([\x21-\x7e]+) *$/i.exec(value);
  return m === null ? '' : (m[1] as string);
}

export function createMetricsEndpoint(deps: MetricsEndpointDeps) {
  async function refuse(req: NeutralRequest, error: OAuthError): Promise<NeutralResponse> {
    await deps.refusals.record({ requestId: req.requestId, endpoint: 'metrics', remoteAddress: req.remoteAddress, error });
    return { status: error.status, headers: { ...JSON_TYPE, ...error.headers }, body: JSON.stringify(error.toBody()) };
  }

  return {
    async handle(req: NeutralRequest): Promise<NeutralResponse> {
      const props = deps.cache.peekProperties() ?? (await deps.cache.properties());
      if (!props[ENABLED]) return { status: 404, headers: JSON_TYPE, body: JSON.stringify({ error: 'not_found', error_description: `Metrics are switched off on this instance (${ENABLED}).` }) };
      if (req.method !== 'GET' && req.method !== 'HEAD') return { status: 405, headers: { ...JSON_TYPE, allow: 'GET, HEAD' }, body: JSON.stringify({ error: 'invalid_request', error_description: '/metrics answers GET.' }) };
      const expected = props[METRICS_TOKEN_PROPERTY];
      if (expected !== '') {
        const presented = bearerOf(req);
        // The property that requires the token, and what was sent (never the token): for the explanation.
        if (presented === undefined) return refuse(req, refusal('metrics.credentials_missing', 'This instance requires a bearer token for /metrics.').withFacts({ property: METRICS_TOKEN_PROPERTY, authMethod: 'none' }));
        if (!constantTimeEqual(metricsTokenHash(presented), expected)) {
          return refuse(req, refusal('metrics.token_invalid', 'The bearer token is not the one /metrics requires.').withFacts({ property: METRICS_TOKEN_PROPERTY, authMethod: presented === '' ? 'not bearer' : 'bearer' }));
        }
      }
      return { status: 200, headers: { 'content-type': METRICS_CONTENT_TYPE, 'cache-control': 'no-store' }, body: await deps.metrics.text() };
    },
  };
}
