import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../core/logger.js';

/**
 * The request id of every request, given once where node:http hands the request over (server.ts),
 * and read by the token endpoint's fast path, by Fastify (genReqId) and by the access log, so the
 * id a client sees in X-Request-Id is the one in the access log line and in the refusal record.
 */
const REQUEST_ID = Symbol('latchkey.requestId');
type WithId = IncomingMessage & { [REQUEST_ID]?: string };

/**
 * Kept on the request itself under a symbol (no client can name it): a WeakMap entry per request
 * cost more (its ephemeron table is work for every garbage collection), and the id lives exactly
 * as long as the request either way.
 */
export function assignRequestId(req: IncomingMessage): string {
  const id = randomUUID();
  (req as WithId)[REQUEST_ID] = id;
  return id;
}

/** The id assign gave `req`; a new one for a request that did not pass through server.ts (a test's bare handler). */
export function requestIdOf(req: IncomingMessage): string {
  return (req as WithId)[REQUEST_ID] ?? assignRequestId(req);
}

/** A field a client chose, bounded and on one line (JSON escapes the rest). */
function clip(value: string | undefined, max: number): string | undefined {
  return value === undefined ? undefined : value.length > max ? `${value.slice(0, max)}…` : value;
}

/**
 * One line per request, when it ends (LATCHKEY_ACCESS_LOG): request id, method, path, status,
 * duration in ms, remote address, user agent, and `aborted` when the client left first. Never the query string (tokens and codes travel in it on
 * some flows), never a header with credentials (Authorization, cookies): the line names the
 * request, the refusal record (`latchkey explain <request-id>`) says what was wrong with it.
 */
export function createAccessLog(logger: Logger): (req: IncomingMessage, res: ServerResponse) => void {
  return function logAccess(req, res) {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const url = req.url ?? '/';
      const q = url.indexOf('?');
      logger.info(
        {
          requestId: requestIdOf(req),
          method: req.method,
          path: clip(q === -1 ? url : url.slice(0, q), 512),
          status: res.statusCode,
          ms: Math.round(Number(process.hrtime.bigint() - started) / 10_000) / 100,
          remoteAddress: req.socket.remoteAddress,
          ...(req.headers['user-agent'] === undefined ? {} : { userAgent: clip(req.headers['user-agent'], 200) }),
          ...(res.writableFinished ? {} : { aborted: true }),
        },
        'request',
      );
    });
  };
}
