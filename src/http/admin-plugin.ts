import { readFileSync } from 'node:fs';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Latchkey } from '../app.js';
import type { NeutralRequest } from '../core/request.js';
import { AdminRefusal, authenticateAdmin } from '../admin/auth.js';
import { ConsoleAuth, type ConsoleResponse } from '../admin/console-auth.js';
import { assetFile, defaultConsoleDir, indexFile } from '../admin/console-static.js';
import { AdminAnswer, AdminError, ADMIN_HEADERS, adminRoleCommand, CONSOLE_HEADERS, errorJson, json, notFound } from '../admin/http.js';
import { openApiDocument } from '../admin/openapi.js';
import { jsonErrorHandler, send, sendJsonNotFound, toNeutral } from './fastify-neutral.js';
import { ADMIN_API_PREFIX, ADMIN_ROUTES, mapError, type AdminRoute } from '../admin/routes.js';

export interface AdminOptions {
  /** Where the built console is (default dist/console, or LATCHKEY_CONSOLE_DIR). */
  readonly consoleDir?: string;
  /** The host's body limit (named in the answer to an oversized body; default 16 KiB). */
  readonly bodyLimit?: number;
}

/** The admin API's plugin prefix: the API (ADMIN_API_PREFIX) and its OpenAPI document are below it. */
export const ADMIN_SURFACE_PREFIX = '/admin/api';
/** The console's plugin prefix. */
export const CONSOLE_PREFIX = '/console';
export const OPENAPI_PATH = `${ADMIN_SURFACE_PREFIX}/openapi.json`;
/** A path of the admin API relative to its plugin's prefix. */
const inSurface = (path: string): string => path.slice(ADMIN_SURFACE_PREFIX.length);

const registered = new WeakMap<FastifyInstance, { method: string; url: string }[]>();

/**
 * Every route the host registered below /admin/api/v1 (by anyone, after registerAdmin ran), as
 * `METHOD /admin/api/v1/...`: the tests check each one is in the OpenAPI document.
 */
export function registeredAdminRoutes(app: FastifyInstance): { method: string; url: string }[] {
  return [...(registered.get(app) ?? [])];
}


function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/**
 * Registers the admin API (/admin/api/v1/*, its OpenAPI document) and the console
 * (/console/login, /console/callback, /console/*) on the Fastify host: two plugins, each with its
 * own error and not-found handler.
 */
export function registerAdmin(app: FastifyInstance, latchkey: Latchkey, options: AdminOptions = {}): ConsoleAuth {
  const auth = new ConsoleAuth(latchkey);
  const seen: { method: string; url: string }[] = [];
  registered.set(app, seen);
  app.addHook('onRoute', (route) => {
    if (!route.url.startsWith(`${ADMIN_API_PREFIX}/`)) return;
    for (const method of [route.method].flat()) if (method !== 'HEAD') seen.push({ method, url: route.url });
  });
  const bodyLimit = options.bodyLimit ?? 16 * 1024;
  void app.register(adminApiPlugin(latchkey, auth, bodyLimit), { prefix: ADMIN_SURFACE_PREFIX });
  void app.register(consolePlugin(latchkey, auth, options.consoleDir ?? defaultConsoleDir(), bodyLimit), { prefix: CONSOLE_PREFIX });
  return auth;
}

/** The admin API: its routes (ADMIN_ROUTES), anything else below it refused 401 before 404, and its OpenAPI document. */
function adminApiPlugin(latchkey: Latchkey, auth: ConsoleAuth, bodyLimit: number): FastifyPluginAsync {
  return async (app) => {
    let openapi: string | undefined;

    app.get(inSurface(OPENAPI_PATH), async (_req, reply) => send(reply, { status: 200, headers: { ...ADMIN_HEADERS, 'cache-control': 'no-cache' }, body: (openapi ??= JSON.stringify(openApiDocument(packageVersion()))) }));

    /** Records an authentication refusal (latchkey explain <request id>) and answers it with its reason code and request id. */
    const refused = async (req: FastifyRequest, reply: FastifyReply, error: AdminRefusal) => {
      const { refusal, subject } = error;
      // The method and path, for the administrator's explanation (never the query: it is not kept).
      const facts = { method: req.method.slice(0, 10), path: (req.url.split('?')[0] ?? '').slice(0, 200) };
      await latchkey.refusals.record({ requestId: req.id, endpoint: 'admin', remoteAddress: req.socket.remoteAddress ?? '', error: refusal.withFacts(facts), authenticated: error.authenticated, ...subject });
      return send(reply, errorJson(error, { reason: refusal.reason, requestId: req.id }));
  };

  const run = (route: AdminRoute) => async (req: FastifyRequest, reply: FastifyReply) => {
    const request = toNeutral(req);
    const cookies: string[] = [];
    try {
      const caller = await authenticateAdmin(latchkey, auth, request);
      if (caller.session !== undefined) await auth.touch(caller.session, latchkey.clock.now());
      let body: unknown;
      if (route.body !== undefined) {
        let parsed: unknown;
        try {
          parsed = request.body === undefined || request.body.trim() === '' ? {} : JSON.parse(request.body);
        } catch {
          throw new AdminError(400, 'invalid_json', 'The request body is not valid JSON.');
        }
        body = route.body.parse(parsed);
      }
      const rawBody = route.textBody === undefined ? undefined : request.body;
      const result = await route.handler({ latchkey, auth, caller, params: (req.params ?? {}) as Record<string, string>, query: request.query, body, cookies, headers: request.headers, rawBody });
      if (result instanceof AdminAnswer) return send(reply, { status: result.status, headers: { ...ADMIN_HEADERS, 'content-type': result.contentType, ...result.headers }, body: result.body }, cookies);
      return send(reply, json(route.status ?? 200, result), cookies);
    } catch (error) {
      if (error instanceof AdminRefusal) return refused(req, reply, error);
      let mapped: AdminError;
      try {
        mapped = mapError(error);
      } catch (unexpected) {
        latchkey.logger.error({ requestId: req.id, err: unexpected }, 'admin API request failed');
        mapped = new AdminError(500, 'server_error', `Internal error. Quote request id ${req.id}.`);
      }
      return send(reply, errorJson(mapped));
    }
  };
  for (const route of ADMIN_ROUTES) {
    const limit = route.textBody === undefined ? {} : { bodyLimit: Math.max(bodyLimit, route.textBody.limit) };
    app.route({ method: route.method, url: `${inSurface(ADMIN_API_PREFIX)}${route.path}`, handler: run(route), ...limit });
  }

  // Anything else below the API: 401 before 404, so the API's surface is not probed anonymously.
  app.all(`${inSurface(ADMIN_API_PREFIX)}/*`, async (req, reply) => {
    try {
      await authenticateAdmin(latchkey, auth, { ...toNeutral(req), method: 'GET' });
      return send(reply, errorJson(notFound(`No admin API route ${req.method} ${req.url.split('?')[0]?.slice(0, 200)}; see ${OPENAPI_PATH}.`)));
    } catch (error) {
      if (error instanceof AdminRefusal) return refused(req, reply, error);
      return send(reply, errorJson(mapError(error)));
    }
  });

  app.setErrorHandler(jsonErrorHandler(latchkey.logger, bodyLimit));
  app.setNotFoundHandler(sendJsonNotFound);
  };
}

/** The console: sign-in and its callback, the page (for a signed-in admin) and its assets. */
function consolePlugin(latchkey: Latchkey, auth: ConsoleAuth, consoleDir: string, bodyLimit: number): FastifyPluginAsync {
  return async (app) => {
    const web = (handler: (req: NeutralRequest) => Promise<ConsoleResponse>) => async (req: FastifyRequest, reply: FastifyReply) => {
      const res = await handler(toNeutral(req));
      return send(reply, { ...res, headers: { ...res.headers, ...CONSOLE_HEADERS, ...(res.headers['content-security-policy'] === undefined ? {} : { 'content-security-policy': res.headers['content-security-policy'] }) } }, res.cookies);
  };
  app.get('/login', web((req) => auth.login(req)));
  app.get('/callback', web((req) => auth.callback(req)));
  app.get('/', { prefixTrailingSlash: 'no-slash' }, async (_req, reply) => send(reply, { status: 303, headers: { ...CONSOLE_HEADERS, location: '/console/', 'cache-control': 'no-store' }, body: '' }));

  /** The console page itself needs a signed-in admin; without one, off to sign in. */
  const index = async (req: FastifyRequest, reply: FastifyReply) => {
    const request = toNeutral(req);
    const session = await auth.read(request, latchkey.clock.now());
    const who = session === undefined ? undefined : await auth.userOf(session);
    if (session === undefined || who?.user === undefined) {
      return send(reply, { status: 303, headers: { ...CONSOLE_HEADERS, location: '/console/login', 'cache-control': 'no-store' }, body: '' }, session === undefined ? [] : [auth.clear()]);
    }
    if (!who.admin) {
      const text = `This account lacks the admin role; ask an administrator: ${adminRoleCommand(who.user.userName)}\n`;
      return send(reply, { status: 403, headers: { ...CONSOLE_HEADERS, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' }, body: text }, [auth.clear()]);
    }
    await auth.touch(session, latchkey.clock.now());
    return send(reply, indexFile(consoleDir));
  };
  app.get('/', { prefixTrailingSlash: 'slash' }, index);
  app.get('/index.html', index);
  app.get('/*', async (req, reply) => {
    const rest = (req.params as { '*'?: string })['*'] ?? '';
    return send(reply, assetFile(consoleDir, rest));
  });
  app.setErrorHandler(jsonErrorHandler(latchkey.logger, bodyLimit));
  app.setNotFoundHandler(sendJsonNotFound);
  };
}
