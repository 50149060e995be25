import { formatWindow, parseRateLimit } from '../domain/rate-limit.js';
import { appLabel, appLink, commandLine, type Finding, type Snapshot } from './findings.js';

/** Checks on /metrics and the rate limits (issue 13): limits too low to live with, metrics open to the network. */

const LOOPBACK = /^https?:\/\/(localhost|127(?:\.\d{1,3}){3}|\[::1\])(?::\d+)?(?:\/|$)/i;

/**
 * An application's limit (its own, or latchkey.rate_limit.client) that allows fewer than two token
 * requests per access-token lifespan: the client cannot even renew its token before it expires
 * (one request per lifespan, plus a retry), so the limit refuses it in normal use.
 */
export function rateLimitsTooLow(s: Snapshot): Finding[] {
  const out: Finding[] = [];
  const requests = s.props['latchkey.rate_limit.client'];
  const window = s.props['latchkey.rate_limit.window_seconds'];
  for (const app of s.active) {
    const own = app.rateLimit ?? null;
    let limit: { requests: number; windowSeconds: number } | undefined;
    if (own !== null) {
      const parsed = parseRateLimit(own);
      if (parsed.ok && parsed.value !== 'off') limit = parsed.value;
    } else if (requests > 0) limit = { requests, windowSeconds: window };
    if (limit === undefined) continue;
    // Requests allowed within one access-token lifespan.
    const perLifespan = (limit.requests * app.accessTokenLifespan) / limit.windowSeconds;
    if (perLifespan >= 2) continue;
    const from = own !== null ? `its own rate limit ${own}` : `latchkey.rate_limit.client = ${requests} per ${formatWindow(window)}`;
    out.push({
      id: 'rate_limit_too_low',
      severity: 'warning',
      title: 'A rate limit leaves an application no room to renew its token',
      detail: `Application ${appLabel(app)} may make ${limit.requests} token requests per ${formatWindow(limit.windowSeconds)} (${from}), fewer than two per access-token lifespan (${app.accessTokenLifespan} s): one failed or repeated request and it is refused with 429 until the window ends.`,
      fix: 'Allow at least a few requests per access-token lifespan (clients renew once per lifespan, and retry).',
      command: commandLine(['apps', 'update', app.clientId, '--rate-limit', `${Math.max(10, Math.ceil((10 * limit.windowSeconds) / app.accessTokenLifespan))}/${formatWindow(limit.windowSeconds)}`]),
      link: appLink(app),
      target: app.clientId,
    });
  }
  return out;
}

/** /metrics served without a token on an instance whose address (its issuer) is not loopback: anyone who reaches it reads it. */
export function metricsUnprotected(s: Snapshot, listening: string | undefined): Finding[] {
  if (listening === undefined || LOOPBACK.test(listening)) return [];
  if (!s.props['latchkey.metrics.enabled'] || s.props['latchkey.metrics.token_sha256'] !== '') return [];
  return [
    {
      id: 'metrics_unprotected',
      severity: 'warning',
      title: '/metrics is open to anyone who reaches this instance',
      detail: `This instance is reached at ${listening}, not a loopback address, and serves /metrics without a token: request rates, refusals by reason code, the APIs and the signing keys' ages are readable by anyone who can reach it.`,
      fix: 'Require a bearer token (Prometheus: authorization: { type: Bearer, credentials_file: <file> }), or block /metrics at the proxy, or switch it off (latchkey.metrics.enabled false).',
      command: commandLine(['metrics', 'token']),
      link: '#/properties/latchkey.metrics.token_sha256',
      target: 'latchkey.metrics.token_sha256',
    },
  ];
}
