import type { FastifyReply, FastifyRequest } from 'fastify';
import type { NeutralRequest } from './request.js';

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
