import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Latchkey } from '../app.js';
import type { NeutralRequest, NeutralResponse } from '../core/request.js';
import { errorResponse } from '../endpoints/token.js';
import { invalidRequest } from '../errors/errors.js';
import { requestIdOf } from './access-log.js';

export const TOKEN_PATHS: ReadonlySet<string> = new Set(['/oauth_token.do', '/oauth/token']);
export const INTROSPECTION_PATHS: ReadonlySet<string> = new Set(['/oauth/introspect']);
export const REVOCATION_PATHS: ReadonlySet<string> = new Set(['/oauth/revoke', '/oauth_revoke_token.do']);

/**
 * The raw path's answers, written together once per turn of the event loop (in its check phase,
 * setImmediate) instead of each as soon as it is decided. Every answer is still one write of its
 * own socket; what changes is that the writes of one turn come one after another, after the turn
 * has read every request that had arrived. On the benchmark VM that made introspection, whose
 * answers were each written as soon as its request was read, 1.57x faster (7,916 -> 12,409 req/s,
 * same run; docs/benchmarks.md): the kernel time of a write (waking the reader on the other core)
 * fell when writes came in a row. Token answers already came in a row (the group commit releases
 * them together) and did not change. The delay is the rest of the current turn: nothing at low
 * load, at most the other requests read in the same turn under load.
 */
export class AnswerQueue {
  private readonly queued: { res: ServerResponse; status: number; headers: string[]; body: string }[] = [];
  private scheduled = false;

  constructor(private readonly onError: (error: unknown) => void) {}

  send(res: ServerResponse, status: number, headers: string[], body: string): void {
    this.queued.push({ res, status, headers, body });
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  private flush(): void {
    this.scheduled = false;
    const queued = this.queued.splice(0, this.queued.length);
    for (const a of queued) {
      // The client may have gone meanwhile: nothing to write to.
      if (a.res.destroyed) continue;
      try {
        a.res.writeHead(a.status, a.headers);
        a.res.end(a.body);
      } catch (error) {
        // One answer that cannot be written must not keep the others of the turn from theirs.
        this.onError(error);
        a.res.destroy();
      }
    }
  }
}

/** An endpoint the raw path serves: its name in refusal records, and the core's handler. */
export interface RawEndpoint {
  readonly endpoint: 'token' | 'introspect' | 'revoke';
  readonly handle: (req: NeutralRequest) => Promise<NeutralResponse>;
  /** Counted in the activity log when an oversized body is refused (the token endpoint's refusals). */
  readonly refusedActivity?: 'token.refused';
}
export const REQUEST_ID_HEADER = 'x-request-id';
/** Shared by every request without a query string (the core never mutates it). */
const NO_QUERY = new URLSearchParams();

/**
 * The token endpoint served straight from node:http, ahead of Fastify's router. It is the hot path
 * of the whole product (every client, every 30 minutes), and Fastify's request/reply objects,
 * hooks and content-type machinery cost about as much as everything the endpoint itself does
 * (measured: ~45 % of a token request). The transport work here is small and explicit: a body
 * size limit, reading the body as text, the request id. The protocol work stays in the core.
 * Introspection and revocation, the resource servers' hot path, are served the same way
 * (createRawFormHandler): form-encoded POSTs answered with JSON, with no cookie and no redirect.
 */
export function createRawTokenHandler(latchkey: Latchkey, bodyLimit: number) {
  return createRawFormHandler(latchkey, bodyLimit, { endpoint: 'token', handle: (req) => latchkey.tokenEndpoint.handle(req), refusedActivity: 'token.refused' });
}

/** The raw path for one form endpoint (see createRawTokenHandler). */
export function createRawFormHandler(latchkey: Latchkey, bodyLimit: number, target: RawEndpoint) {
  const metrics = latchkey.metrics;
  const answers = new AnswerQueue((error) => latchkey.logger.error({ err: error }, `${target.endpoint} answer could not be written`));
  function write(res: ServerResponse, requestId: string, response: NeutralResponse, path: string, method: string, started: number, cors: readonly string[] | undefined): void {
    // A flat [name, value, …] list: Node writes it without copying into its header map
    // (measured: ~15 % of a token request's HTTP cost goes to spreading a header object). Nothing
    // may be set on `res` with setHeader before: Node would then take its slow path for the list
    // (remove each name, append each value), which is why CORS hands its headers over as a list.
    const headers: string[] = cors === undefined ? [] : cors.slice();
    for (const name in response.headers) headers.push(name, response.headers[name] as string);
    headers.push(REQUEST_ID_HEADER, requestId, 'content-length', String(Buffer.byteLength(response.body)));
    // Shutting down (SIGTERM: the server has stopped listening): the client must not reuse this
    // connection. Node keeps a keep-alive connection open after close() until it idles out, so a
    // client that keeps sending would otherwise hold the drain, and the process, open.
    if ((res.socket as { server?: { listening?: boolean } } | null)?.server?.listening === false) headers.push('connection', 'close');
    answers.send(res, response.status, headers, response.body);
    metrics.observeRequest(path, method, response.status, (performance.now() - started) / 1000);
  }

  /** `bodyBytes`: the declared Content-Length, or what had arrived when reading stopped. */
  async function tooLarge(req: IncomingMessage, res: ServerResponse, requestId: string, path: string, started: number, bodyBytes: number, cors: readonly string[] | undefined): Promise<void> {
    const error = invalidRequest
      .withReason('request.body_too_large')
      .withDescription(`The request body is larger than ${bodyLimit} bytes.`)
      .withFacts({ bodyBytes, bodyLimit });
    if (target.refusedActivity !== undefined) latchkey.activity.count(target.refusedActivity);
    await latchkey.refusals.record({ requestId, endpoint: target.endpoint, remoteAddress: req.socket.remoteAddress ?? '', error });
    // Close the connection: the rest of the oversized body is not read.
    write(res, requestId, errorResponse(error), path, req.method ?? 'POST', started, cors === undefined ? ['connection', 'close'] : [...cors, 'connection', 'close']);
    req.resume();
  }

  /** `cors`: the CORS headers of the answer (cors.ts), as a flat list. */
  return function handle(req: IncomingMessage, res: ServerResponse, path: string, query: string, cors?: readonly string[]): void {
    const started = performance.now();
    const requestId = requestIdOf(req);
    const declared = Number(req.headers['content-length']);
    if (declared > bodyLimit) {
      void tooLarge(req, res, requestId, path, started, declared, cors);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let aborted = false;
    req.on('data', (chunk: Buffer) => {
      if (aborted) return;
      size += chunk.length;
      if (size > bodyLimit) {
        aborted = true;
        void tooLarge(req, res, requestId, path, started, size, cors);
        return;
      }
      chunks.push(chunk);
    });
    req.on('error', () => {
      aborted = true;
    });
    req.on('end', () => {
      if (aborted) return;
      const neutral: NeutralRequest = {
        method: req.method ?? 'GET',
        path,
        query: query === '' ? NO_QUERY : new URLSearchParams(query),
        headers: req.headers,
        body: size === 0 ? undefined : chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8'),
        contentType: req.headers['content-type'],
        remoteAddress: req.socket.remoteAddress ?? '',
        requestId,
      };
      target.handle(neutral).then(
        (response) => write(res, requestId, response, path, neutral.method, started, cors),
        (error: unknown) => {
          latchkey.logger.error({ requestId, err: error }, `${target.endpoint} endpoint failed`);
          if (!res.headersSent) write(res, requestId, { status: 500, headers: { 'content-type': 'application/json' }, body: '{"error":"server_error"}' }, path, neutral.method, started, cors);
        },
      );
    });
  };
}
