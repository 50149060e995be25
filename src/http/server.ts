import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Latchkey } from '../app.js';
import { failure } from '../resource-server/provider.js';
import { createRawTokenHandler, TOKEN_PATHS } from './raw-token.js';
import { AUTHORIZE_PATHS } from '../endpoints/authorize.js';
import { errorResponse } from '../endpoints/shared.js';
import { invalidRequest } from '../errors/errors.js';
import { registerKeyRoutes } from './routes/keys.js';
import { registerAdmin } from '../admin/register.js';
import { send, toNeutral } from '../core/fastify-neutral.js';

/** Fastify routes whose refusals are OAuth errors recorded under an endpoint name (the token endpoint has its own path: raw-token.ts). */
const OAUTH_BODY_ENDPOINTS: ReadonlyMap<string, string> = new Map([
  ['/oauth/introspect', 'introspect'],
  ['/oauth/revoke', 'revoke'],
  ['/oauth_revoke_token.do', 'revoke'],
]);

export interface HttpOptions {
  readonly bodyLimit: number;
}

/** How long /readyz waits for the storage before answering 503. */
export const READY_TIMEOUT_MS = 1_000;

interface HostState {
  draining: boolean;
}
const states = new WeakMap<FastifyInstance, HostState>();

/**
 * Marks the server as shutting down: from now on /readyz answers 503 (so a load balancer stops
 * sending new requests) and every response closes its connection, while requests in flight are
 * still answered. `close()` does the same by itself; call this first to announce a drain before it.
 */
export function markDraining(app: FastifyInstance): void {
  const state = states.get(app);
  if (state !== undefined) state.draining = true;
}

type Readiness = { readonly status: number; readonly body: Record<string, unknown> };

/** Ready when the storage answers within READY_TIMEOUT_MS and its schema is the one this code expects. */
async function readiness(storage: Latchkey['storage'], draining: boolean): Promise<Readiness> {
  const unavailable = (reason: string): Readiness => ({ status: 503, body: { status: 'unavailable', reason } });
  if (draining) return unavailable('shutting down');
  const probe = Promise.all([storage.ping(), storage.schemaVersion()]);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS);
  });
  try {
    const outcome = await Promise.race([probe, timeout]);
    if (outcome === 'timeout') {
      probe.catch(() => undefined); // settles later; nobody is waiting for it
      return unavailable(`storage (${storage.kind}) did not answer within ${READY_TIMEOUT_MS} ms`);
    }
    const { current, expected } = outcome[1];
    if (current !== expected) {
      const fix = current > expected ? 'the database was migrated by a newer Latchkey: upgrade this instance' : 'restart this instance to apply the pending migrations';
      return unavailable(`database schema is version ${current}, this Latchkey expects ${expected}; ${fix}`);
    }
    // Reads may work while writes do not (a full disk, a read-only file): not ready, since every
    // token needs a write. A small probe write tells when writes succeed again, without traffic.
    if (storage.writeHealth().failing) {
      const health = await storage.probeWrite();
      if (health.failing) return unavailable(`writes are failing since ${new Date(health.since).toISOString()}: ${health.reason}`);
    }
    return { status: 200, body: { status: 'ready', storage: storage.kind, schema: current } };
  } catch (error) {
    return unavailable(`storage (${storage.kind}) unreachable: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
  }
}

export { REQUEST_ID_HEADER } from './raw-token.js';
import { REQUEST_ID_HEADER } from './raw-token.js';


/**
 * The Fastify host around the protocol core. It owns transport concerns only: body size limit,
 * reading the body as text, the request id header, and turning framework errors into OAuth errors.
 */
export async function buildHttpServer(latchkey: Latchkey, options: HttpOptions): Promise<FastifyInstance> {
  const rawToken = createRawTokenHandler(latchkey, options.bodyLimit);
  const state: HostState = { draining: false };
  const app = Fastify({
    // The token endpoint is answered before Fastify's router (see raw-token.ts); everything else
    // goes through Fastify.
    serverFactory: (handler) =>
      createServer((req, res) => {
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        const path = q === -1 ? url : url.slice(0, q);
        // Draining: answer, then close the connection, so keep-alive clients reconnect elsewhere.
        if (state.draining) res.shouldKeepAlive = false;
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

  states.set(app, state);
  app.addHook('preClose', (done) => {
    state.draining = true;
    done();
  });

  app.addHook('onRequest', (req, reply, done) => {
    reply.header(REQUEST_ID_HEADER, req.id);
    done();
  });
  // A request already in flight when the drain starts must not hold its connection open either.
  app.addHook('onSend', (_req, reply, payload, done) => {
    if (state.draining) reply.raw.shouldKeepAlive = false;
    done(null, payload);
  });

  // Every body is read as text and handed to the core, which decides what it accepts. Fastify's
  // default 415 for unknown types would bypass our error format and refusal records.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => done(null, body));


  // For load balancers and orchestrators: /healthz says the process is alive (never touches the
  // storage, so a database outage does not get healthy instances restarted); /readyz says whether
  // this instance can serve now. HEAD works on both.
  app.get('/healthz', async (_req, reply) => reply.header('cache-control', 'no-store').send({ status: 'ok' }));
  app.get('/readyz', async (_req, reply) => {
    const r = await readiness(latchkey.storage, state.draining);
    return reply.code(r.status).header('cache-control', 'no-store').send(r.body);
  });

  // Introspection (RFC 7662) and revocation (RFC 7009) through Fastify. Every method is routed to
  // the core, which answers anything but POST with invalid_request and Allow: POST (a 404 would
  // hide that the endpoint exists).
  const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
  // OAUTH_BODY_ENDPOINTS (top of this file) names these routes for the error handler.
  const introspect = async (req: FastifyRequest, reply: FastifyReply) => send(reply, await latchkey.introspectionEndpoint.handle(toNeutral(req)));
  app.route({ method: [...methods], url: '/oauth/introspect', handler: introspect });
  const revoke = async (req: FastifyRequest, reply: FastifyReply) => send(reply, await latchkey.revocationEndpoint.handle(toNeutral(req)));
  for (const url of ['/oauth/revoke', '/oauth_revoke_token.do']) app.route({ method: [...methods], url, handler: revoke });

  // JWKS (/oauth/jwks, /api/now/oauth/jwks) and RFC 8414 metadata; static routes, so they win over /api/*.
  registerKeyRoutes(app, latchkey);

  // The authorization endpoint (RFC 6749 §3.1: GET, and POST too) with its sign-in and consent
  // pages. Bodies are limited by bodyLimit like every Fastify route; its cookies go out as
  // separate Set-Cookie headers.
  const authorize = async (req: FastifyRequest, reply: FastifyReply) => {
    const res = await latchkey.authorizeEndpoint.handle(toNeutral(req));
    return send(reply, res, res.cookies);
  };
  for (const url of AUTHORIZE_PATHS) app.route({ method: ['GET', 'POST'], url, handler: authorize });

  // The admin API (/admin/api/v1, OpenAPI at /admin/api/openapi.json) and the console (/console).
  registerAdmin(app, latchkey);

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
    // Introspection and revocation answer an oversized body as the token endpoint does: 400
    // invalid_request with no-store, recorded as a refusal (latchkey explain <request id>).
    const endpoint = OAUTH_BODY_ENDPOINTS.get(req.url.split('?')[0] ?? '');
    if (endpoint !== undefined && error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const refusal = invalidRequest.withReason('request.body_too_large').withDescription(message);
      await latchkey.refusals.record({ requestId: req.id, endpoint, remoteAddress: req.socket.remoteAddress ?? '', error: refusal });
      // The rest of the body is not read: the connection closes after this answer.
      reply.header('connection', 'close');
      return send(reply, errorResponse(refusal));
    }
    return reply.code(status).send({ error: status === 500 ? 'server_error' : 'invalid_request', error_description: message });
  });

  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '/';
    if (path === '/api' || path.startsWith('/api/')) return send(reply, failure(404, 'Requested URI does not represent any resource', path.slice(0, 200)));
    return reply.code(404).send({ error: 'not_found', error_description: `No route for ${req.method} ${path.slice(0, 200)}` });
  });

  return app;
}
