import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from '../core/logger.js';
import type { NeutralRequest } from '../core/request.js';

/**
 * The two ends of every Fastify route that hands its work to the framework-free core: the
 * neutral request built from Fastify's, and a neutral (or static-file) response written back.
 */

/** Builds the neutral request the core works with. */
export function toNeutral(req: FastifyRequest): NeutralRequest {
  const q = req.url.indexOf('?');
  return {
    method: req.method,
    path: q === -1 ? req.url : req.url.slice(0, q),
    query: new URLSearchParams(q === -1 ? '' : req.url.slice(q + 1)),
    headers: req.headers,
    body: typeof req.body === 'string' ? req.body : undefined,
    contentType: req.headers['content-type'],
    remoteAddress: req.ip,
    requestId: req.id,
  };
}

export interface WritableResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

/** Writes a core response; `cookies` become separate Set-Cookie headers (a header map cannot hold several). */
export function send(reply: FastifyReply, res: WritableResponse, cookies: readonly string[] = []): FastifyReply {
  if (cookies.length > 0) reply.header('set-cookie', [...cookies]);
  return reply.code(res.status).headers(res.headers).send(res.body);
}

/** An error Fastify raised or a handler threw: a 4xx (body too large, unreadable body) keeps its status; anything else is a 500. */
export type HostError = Error & { statusCode?: number; code?: string };

/** The status and client-safe message every surface answers a HostError with (a 500 names only the request id). */
export function hostFailure(error: HostError, requestId: string, bodyLimit: number): { readonly status: number; readonly message: string } {
  const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
  const message =
    error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
      ? `The request body is larger than ${bodyLimit} bytes.`
      : status === 500
        ? `Internal error. Quote request id ${requestId}.`
        : 'The request could not be read.';
  return { status, message };
}

/** The JSON error of the OAuth endpoints, the admin API and the console for what Fastify refused. */
export function sendJsonFailure(reply: FastifyReply, status: number, message: string): FastifyReply {
  return reply.code(status).send({ error: status === 500 ? 'server_error' : 'invalid_request', error_description: message });
}

/** The error handler of the surfaces that answer in that JSON shape: a 500 is logged, never detailed. */
export function jsonErrorHandler(logger: Logger, bodyLimit: number) {
  return async (error: HostError, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    // A route may accept more than the host (the admin API's apply): name its own limit.
    const { status, message } = hostFailure(error, req.id, req.routeOptions?.bodyLimit ?? bodyLimit);
    if (status === 500) logger.error({ requestId: req.id, err: error }, 'request failed');
    return sendJsonFailure(reply, status, message);
  };
}

/** Their JSON 404 for a route that does not exist. */
export function sendJsonNotFound(req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const path = req.url.split('?')[0] ?? '/';
  return reply.code(404).send({ error: 'not_found', error_description: `No route for ${req.method} ${path.slice(0, 200)}` });
}
