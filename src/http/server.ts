import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Latchkey } from '../app.js';
import type { NeutralRequest, NeutralResponse } from '../core/request.js';
import { failure } from '../resource-server/provider.js';
import { createRawTokenHandler, TOKEN_PATHS } from './raw-token.js';

export interface HttpOptions {
  readonly bodyLimit: number;
}

export { REQUEST_ID_HEADER } from './raw-token.js';
import { REQUEST_ID_HEADER } from './raw-token.js';

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

export function send(reply: FastifyReply, res: NeutralResponse): FastifyReply {
  return reply.code(res.status).headers(res.headers).send(res.body);
}

/**
 * The Fastify host around the protocol core. It owns transport concerns only: body size limit,
 * reading the body as text, the request id header, and turning framework errors into OAuth errors.
 */
export async function buildHttpServer(latchkey: Latchkey, options: HttpOptions): Promise<FastifyInstance> {
  const rawToken = createRawTokenHandler(latchkey, options.bodyLimit);
  const app = Fastify({
    // The token endpoint is answered before Fastify's router (see raw-token.ts); everything else
    // goes through Fastify.
    serverFactory: (handler) =>
      createServer((req, res) => {
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        const path = q === -1 ? url : url.slice(0, q);
        if (TOKEN_PATHS.has(path)) rawToken(req, res, path, q === -1 ? '' : url.slice(q + 1));
        else handler(req, res);
      }),
    logger: false,
    bodyLimit: options.bodyLimit,
    // Never trust an incoming id: ours key the refusal records.
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    return503OnClosing: true,
    // Requests Fastify refuses before routing (a URL with bad percent-encoding, an unparsable
    // Content-Type) still get a request id and the shape of the surface that was called.
    frameworkErrors: (error, req, reply) => {
      reply.header(REQUEST_ID_HEADER, req.id);
      const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      const message = error.code === 'FST_ERR_BAD_URL' ? 'The request path is not valid' : 'The request could not be read';
      const body = req.url.startsWith('/api/')
        ? failure(status, message, `request id ${req.id}`)
        : { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ error: 'invalid_request', error_description: `${message}.` }) };
      void send(reply as unknown as FastifyReply, body);
    },
  });

  app.addHook('onRequest', (req, reply, done) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    done();
  });

  // Every body is read as text and handed to the core, which decides what it accepts. Fastify's
  // default 415 for unknown types would bypass our error format and refusal records.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));


  const api = async (req: FastifyRequest, reply: FastifyReply) => send(reply, await latchkey.apis.handle(toNeutral(req)));
  app.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url: '/api/*', handler: api });

  // Errors Fastify raises before a handler runs (body too large, unreadable body): a clear 4xx in
  // the shape of the surface that was called; anything else is logged and answered without detail.
  app.setErrorHandler(async (error: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500;
    if (status === 500) latchkey.logger.error({ requestId: req.id, err: error }, 'request failed');
    const message =
      error.code === 'FST_ERR_CTP_BODY_TOO_LARGE'
        ? `The request body is larger than ${options.bodyLimit} bytes.`
        : status === 500
          ? `Internal error. Quote request id ${req.id}.`
          : 'The request could not be read.';
    if (req.url.startsWith('/api/')) return send(reply, failure(status, message, `request id ${req.id}`));
    return reply.code(status).send({ error: status === 500 ? 'server_error' : 'invalid_request', error_description: message });
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    if (path === '/api' || path.startsWith('/api/')) return send(reply, failure(404, 'Requested URI does not represent any resource', path.slice(0, 200)));
    return reply.code(404).send({ error: 'not_found', error_description: `No route for ${req.method} ${path.slice(0, 200)}` });
  });

  return app;
}
