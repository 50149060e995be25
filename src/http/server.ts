import { createServer } from 'node:http';
import Fastify, { type FastifyInstance, type FastifyReply } from 'fastify';
import type { Latchkey } from '../app.js';
import { DEFAULTS } from '../config/config.js';
import { assignRequestId, createAccessLog, requestIdOf } from './access-log.js';
import { createRawFormHandler, createRawTokenHandler, INTROSPECTION_PATHS, REVOCATION_PATHS, TOKEN_PATHS } from './raw-token.js';
import { registerAdmin } from './admin-plugin.js';
import { jsonErrorHandler, send, type WritableResponse } from './fastify-neutral.js';
import { API_PREFIX, apiFailure, hostedApiPlugin } from './api-plugin.js';
import { MCP_PREFIX, hostedMcpPlugin } from './mcp-plugin.js';
import { oauthPlugin } from './oauth-plugin.js';
import { toNeutral } from './fastify-neutral.js';
import { METRICS_PATH } from '../metrics/endpoint.js';
import { UNMATCHED_ROUTE } from '../metrics/instance.js';
import { applyCorsHeaders, createCors, type CorsDecision } from './cors.js';

/**
 * How a surface answers a request Fastify refused before routing (a URL with bad percent-encoding,
 * an unparsable Content-Type), by the prefix it was registered with; the OAuth error shape for
 * every other path.
 */
const FRAMEWORK_ERRORS: readonly { readonly prefix: string; answer(status: number, message: string, requestId: string): WritableResponse }[] = [
  { prefix: API_PREFIX, answer: apiFailure },
  { prefix: MCP_PREFIX, answer: apiFailure },
];

function oauthFrameworkError(status: number, message: string): WritableResponse {
  return { status, headers: { 'content-type': 'application/json; charset=utf-8' }, body: JSON.stringify({ error: 'invalid_request', error_description: `${message}.` }) };
}

export interface HttpOptions {
  readonly bodyLimit: number;
  /** One log line per request (LATCHKEY_ACCESS_LOG; src/http/access-log.ts). Default off. */
  readonly accessLog?: boolean;
  /**
   * How long an idle keep-alive connection stays open (LATCHKEY_KEEP_ALIVE_TIMEOUT). Default
   * DEFAULT_KEEP_ALIVE_TIMEOUT_MS, above the 60 s idle timeout of common proxies (Config).
   */
  readonly keepAliveTimeoutMs?: number;
}

/**
 * 72 s (config DEFAULTS), Fastify's own default. The server below is made by serverFactory, which
 * Fastify leaves as it is, so without this it kept Node's 5 s: a proxy keeping idle connections to
 * Latchkey for 60 s (nginx's upstream keepalive, AWS ALB) then sent requests on connections
 * Latchkey was closing.
 */
export const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = DEFAULTS.keepAliveTimeoutSeconds * 1000;

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
  // Several PostgreSQL hosts: which is in use, and what the others are (docs/high-availability.md).
  const hosts = storage.stats?.hosts?.();
  const database = hosts === undefined ? {} : { hosts: hosts.map((h) => ({ host: h.host, role: h.role, inUse: h.inUse, ...(h.detail === undefined ? {} : { detail: h.detail }), ...(h.timeline === undefined ? {} : { timeline: h.timeline }), checkedAt: new Date(h.checkedAt).toISOString() })) };
  const unavailable = (reason: string): Readiness => ({ status: 503, body: { status: 'unavailable', reason, ...database } });
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
    return { status: 200, body: { status: 'ready', storage: storage.kind, schema: current, ...database } };
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
  // The form endpoints on the raw path (raw-token.ts), by exact path: the token endpoint,
  // introspection and revocation. Fastify keeps routes for the last two (oauth-plugin.ts) for
  // requests injected into it without the server (tests, embedders using fastify.inject).
  const raw = new Map<string, ReturnType<typeof createRawTokenHandler>>();
  const rawToken = createRawTokenHandler(latchkey, options.bodyLimit);
  for (const p of TOKEN_PATHS) raw.set(p, rawToken);
  const rawIntrospect = createRawFormHandler(latchkey, options.bodyLimit, { endpoint: 'introspect', handle: (req) => latchkey.introspectionEndpoint.handle(req) });
  for (const p of INTROSPECTION_PATHS) raw.set(p, rawIntrospect);
  const rawRevoke = createRawFormHandler(latchkey, options.bodyLimit, { endpoint: 'revoke', handle: (req) => latchkey.revocationEndpoint.handle(req) });
  for (const p of REVOCATION_PATHS) raw.set(p, rawRevoke);
  const state: HostState = { draining: false };
  const logAccess = options.accessLog === true ? createAccessLog(latchkey.logger) : undefined;
  // CORS for browser-based clients (src/http/cors.ts): by path, in front of every surface, with the
  // current properties (a change applies to the next request).
  const cors = createCors({ properties: () => latchkey.cache.peekProperties() ?? latchkey.cache.properties(), logger: latchkey.logger, requestId: requestIdOf });
  const app = Fastify({
    // The token endpoint is answered before Fastify's router (see raw-token.ts); everything else
    // goes through Fastify.
    serverFactory: (handler) => {
      const server = createServer((req, res) => {
        const url = req.url ?? '/';
        const q = url.indexOf('?');
        const path = q === -1 ? url : url.slice(0, q);
        // Draining: answer, then close the connection, so keep-alive clients reconnect elsewhere.
        if (state.draining) res.shouldKeepAlive = false;
        assignRequestId(req);
        if (logAccess !== undefined) logAccess(req, res);
        const route = (decision?: CorsDecision) => {
          const direct = raw.get(path);
          if (direct !== undefined) direct(req, res, path, q === -1 ? '' : url.slice(q + 1), decision?.headers);
          else {
            if (decision !== undefined) applyCorsHeaders(res, decision);
            handler(req, res);
          }
        };
        const decided = cors(req, res, path);
        if (!(decided instanceof Promise)) {
          if (!decided.answered) route(decided);
          return;
        }
        decided.then(
          (d) => {
            if (!d.answered) route(d);
          },
          // The properties could not be read (storage down): serve the request without CORS headers.
          () => route(),
        );
      });
      server.keepAliveTimeout = options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS;
      return server;
    },
    logger: false,
    bodyLimit: options.bodyLimit,
    // Never trust an incoming id: ours key the refusal records (the one the access log writes too).
    genReqId: (req) => requestIdOf(req),
    requestIdHeader: false,
    return503OnClosing: true,
    // Requests Fastify refuses before routing (a URL with bad percent-encoding, an unparsable
    // Content-Type) still get a request id and the shape of the surface that was called.
    frameworkErrors: (error, req, reply) => {
      reply.header(REQUEST_ID_HEADER, req.id);
      const status = error.statusCode !== undefined && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
      const message = error.code === 'FST_ERR_BAD_URL' ? 'The request path is not valid' : 'The request could not be read';
      const surface = FRAMEWORK_ERRORS.find((s) => req.url.startsWith(`${s.prefix}/`));
      void send(reply as unknown as FastifyReply, surface === undefined ? oauthFrameworkError(status, message) : surface.answer(status, message, req.id));
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
  // /metrics: every answer by its route pattern (never the raw URL: unbounded labels), method and status.
  const metrics = latchkey.metrics;
  app.addHook('onResponse', (req, reply, done) => {
    metrics.observeRequest(req.routeOptions.url ?? UNMATCHED_ROUTE, req.routeOptions.url === undefined ? 'other' : req.method, reply.statusCode, reply.elapsedTime / 1000);
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
  // Prometheus (docs/metrics.md): on unless latchkey.metrics.enabled is false; a bearer token when
  // latchkey.metrics.token_sha256 is set. HEAD works too.
  app.get(METRICS_PATH, async (req, reply) => send(reply, await latchkey.metricsEndpoint.handle(toNeutral(req))));
  app.get('/readyz', async (_req, reply) => {
    const r = await readiness(latchkey.storage, state.draining);
    return reply.code(r.status).header('cache-control', 'no-store').send(r.body);
  });

  // One Fastify plugin per surface, each with its own error and not-found handler: the OAuth
  // endpoints (every path no other surface owns), the admin API and the console, the hosted APIs.
  void app.register(oauthPlugin(latchkey, options.bodyLimit));
  registerAdmin(app, latchkey, { bodyLimit: options.bodyLimit });
  void app.register(hostedApiPlugin(latchkey, options.bodyLimit), { prefix: API_PREFIX });
  void app.register(hostedMcpPlugin(latchkey, options.bodyLimit), { prefix: MCP_PREFIX });

  // The host's own routes (/healthz, /readyz): what they throw is answered in the OAuth shape.
  app.setErrorHandler(jsonErrorHandler(latchkey.logger, options.bodyLimit));

  return app;
}
