/**
 * A small keep-alive HTTP client for load and fault tests: every exchange is recorded with its
 * start and end time (performance.now()), status, headers and body, or the transport error
 * (ECONNRESET, socket hang up, …) instead of a status.
 */
import { Agent, request, type IncomingHttpHeaders } from 'node:http';
import { performance } from 'node:perf_hooks';
import { basicHeader } from './oauth.js';

export interface Exchange {
  readonly label: string;
  readonly target: string;
  readonly start: number;
  readonly end: number;
  readonly ms: number;
  /** Absent when the request failed at the transport level. */
  readonly status?: number;
  readonly headers?: IncomingHttpHeaders;
  readonly body?: string;
  /** The transport error code or message, when there was no response. */
  readonly error?: string;
}

export const keepAliveAgent = (maxSockets = 64): Agent => new Agent({ keepAlive: true, maxSockets, scheduling: 'fifo' });

export interface HttpCall {
  readonly method?: string;
  readonly path: string;
  readonly headers?: Record<string, string>;
  readonly body?: string;
  /** Client-side give-up time (default 15 s): well above anything the server may take. */
  readonly timeoutMs?: number;
}

/** One exchange; never rejects. `onSent` fires once the request is fully written. */
export function exchange(agent: Agent, baseUrl: string, label: string, call: HttpCall, onSent?: () => void): Promise<Exchange> {
  const url = new URL(call.path, baseUrl);
  const start = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const done = (x: Omit<Exchange, 'label' | 'target' | 'start' | 'end' | 'ms'>) => {
      if (settled) return;
      settled = true;
      const end = performance.now();
      resolve({ label, target: baseUrl, start, end, ms: end - start, ...x });
    };
    const headers: Record<string, string> = { ...(call.headers ?? {}) };
    if (call.body !== undefined) headers['content-length'] = String(Buffer.byteLength(call.body));
    const req = request(url, { method: call.method ?? 'GET', agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    });
    req.setTimeout(call.timeoutMs ?? 15_000, () => req.destroy(Object.assign(new Error('client timeout'), { code: 'CLIENT_TIMEOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => done({ error: e.code ?? e.message }));
    req.end(call.body, onSent);
  });
}

/** POST /oauth_token.do with client_secret_basic. */
export function tokenCall(form: Record<string, string>, client: { clientId: string; clientSecret: string }): HttpCall {
  return {
    method: 'POST',
    path: '/oauth_token.do',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicHeader(client.clientId, client.clientSecret) },
    body: new URLSearchParams(form).toString(),
  };
}

export function bearerCall(path: string, token: string): HttpCall {
  return { path, headers: { authorization: `Bearer ${token}` } };
}

/** The parsed JSON body, or undefined. */
export function jsonOf(x: Exchange): any {
  try {
    return x.body === undefined ? undefined : JSON.parse(x.body);
  } catch {
    return undefined;
  }
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

/** "n=…, p50=… ms, p99=… ms, max=… ms" for a list of exchanges. */
export function latencySummary(xs: readonly Exchange[]): string {
  const ms = xs.map((x) => x.ms);
  if (ms.length === 0) return 'n=0';
  return `n=${ms.length}, p50=${Math.round(percentile(ms, 50))} ms, p99=${Math.round(percentile(ms, 99))} ms, max=${Math.round(largest(ms))} ms`;
}

/** Counts by "status" (or the transport error). */
export function statusCounts(xs: readonly Exchange[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) {
    const k = x.status === undefined ? `error:${x.error}` : String(x.status);
    out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** The largest value, -Infinity for none (Math.max(...xs) overflows the stack past ~100 000 values, which a fast machine issues). */
export function largest(xs: readonly number[]): number {
  let max = -Infinity;
  for (const x of xs) if (x > max) max = x;
  return max;
}
