import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../core/logger.js';
import { METADATA_PATH, OPENID_CONFIGURATION_PATH } from '../endpoints/metadata.js';
import { USERINFO_PATHS } from '../endpoints/userinfo.js';
import { DEVICE_AUTHORIZATION_PATH } from '../endpoints/device-authorization.js';
import { originMatches, type PropertyValues } from '../registry/properties.js';
import { PROTECTED_RESOURCE_WELL_KNOWN } from '../resource-server/protected-resource-metadata.js';
import { API_PREFIX } from './api-plugin.js';
import { MCP_PREFIX } from './mcp-plugin.js';
import { TOKEN_PATHS } from './raw-token.js';
import { JWKS_PATHS } from './routes/keys.js';

/**
 * CORS for browser-based clients (docs/agents-and-mcp.md, "Browser clients (CORS)"): the MCP
 * Inspector, web agents and single-page apps call the credential-less endpoints from another
 * origin. Answered in front of every surface (the token endpoint is not routed through Fastify),
 * by path: the cookie endpoints (authorization, sign-in, consent, logout, the console, the admin
 * API) are in no class here, so they never carry a CORS header. Never
 * Access-Control-Allow-Credentials: a browser sends no cookie or HTTP authentication it cached to
 * another origin's request, and the responses are not shared if it did.
 */

/** The endpoint classes that answer CORS, each with the methods its preflight allows. */
export type CorsClass = 'discovery' | 'token' | 'userinfo' | 'registration' | 'mcp' | 'api';

const METHODS: Readonly<Record<CorsClass, string>> = {
  discovery: 'GET, HEAD, OPTIONS',
  token: 'POST, OPTIONS',
  userinfo: 'GET, POST, OPTIONS',
  registration: 'GET, POST, PUT, DELETE, OPTIONS',
  mcp: 'GET, POST, DELETE, OPTIONS',
  api: 'GET, POST, PUT, PATCH, DELETE, OPTIONS',
};

/** The request headers a preflight allows (beyond the CORS-safelisted ones). */
export const CORS_ALLOW_HEADERS = 'authorization, content-type, accept, dpop, mcp-protocol-version, mcp-session-id, last-event-id';
/** The response headers a browser client may read: the 401 challenge above all (MCP discovery starts from it). */
export const CORS_EXPOSE_HEADERS = 'WWW-Authenticate, Mcp-Session-Id, Retry-After, X-Request-Id, DPoP-Nonce';
/** How long a browser may cache a preflight answer, in seconds (Chromium caps it at 7200). */
export const CORS_MAX_AGE_SECONDS = 7200;

const TOKEN_LIKE = new Set<string>([...TOKEN_PATHS, '/oauth/revoke', '/oauth_revoke_token.do', '/oauth/introspect', DEVICE_AUTHORIZATION_PATH, '/oauth/par']);
const USERINFO = new Set<string>(USERINFO_PATHS);
const JWKS = new Set<string>(JWKS_PATHS);

const under = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

/** The CORS class of a path (without its query); undefined: never CORS (the cookie endpoints and everything else). */
export function corsClassOf(path: string): CorsClass | undefined {
  if (TOKEN_LIKE.has(path)) return 'token';
  if (JWKS.has(path) || under(path, METADATA_PATH) || path === OPENID_CONFIGURATION_PATH || path.endsWith(OPENID_CONFIGURATION_PATH) || under(path, PROTECTED_RESOURCE_WELL_KNOWN)) return 'discovery';
  if (USERINFO.has(path)) return 'userinfo';
  if (under(path, '/oauth/register')) return 'registration';
  if (path.startsWith(`${MCP_PREFIX}/`)) return 'mcp';
  if (path.startsWith(`${API_PREFIX}/`)) return 'api';
  return undefined;
}

/** The property that governs a class. */
export function corsPropertyOf(cls: CorsClass): 'latchkey.cors.allowed_origins' | 'latchkey.cors.api_allowed_origins' {
  return cls === 'api' ? 'latchkey.cors.api_allowed_origins' : 'latchkey.cors.allowed_origins';
}

export interface CorsDecision {
  /** true: the request was a preflight and has been answered; the caller stops. */
  readonly answered: boolean;
  /**
   * The CORS headers the answer must carry, as a flat [name, value, …] list the caller writes with
   * its own headers. Not set on `res` here: a header set with setHeader before writeHead(status,
   * list) sends Node down its slow path (every listed header removed, then appended one by one).
   */
  readonly headers?: readonly string[];
}

const NOT_ANSWERED: CorsDecision = { answered: false };
const VARY_ORIGIN: CorsDecision = { answered: false, headers: ['vary', 'Origin'] };
const ANY_ORIGIN: CorsDecision = { answered: false, headers: ['access-control-allow-origin', '*', 'access-control-expose-headers', CORS_EXPOSE_HEADERS] };

/** Writes a decision's headers on `res` (for answers written through setHeader, such as Fastify's). */
export function applyCorsHeaders(res: ServerResponse, decision: CorsDecision): void {
  const headers = decision.headers;
  if (headers === undefined) return;
  for (let i = 0; i < headers.length; i += 2) res.setHeader(headers[i] as string, headers[i + 1] as string);
}

export interface CorsDeps {
  readonly properties: () => PropertyValues | Promise<PropertyValues>;
  readonly logger: Logger;
  readonly requestId: (req: IncomingMessage) => string;
  readonly now?: () => number;
}

/** How often one refused origin is logged per class: once a minute, for at most LOG_KEYS origins at a time. */
const LOG_EVERY_MS = 60_000;
const LOG_KEYS = 1_000;

/**
 * The CORS step in front of the surfaces. For a path in a CORS class: a preflight (OPTIONS with
 * Origin and Access-Control-Request-Method) from an allowed origin is answered 204 with the
 * methods, headers and max-age; from another origin 403 without any CORS header (the Fetch
 * standard fails the preflight on either a non-ok status or a missing Access-Control-Allow-Origin;
 * 403 says so to someone trying it with curl). Every other request gets its
 * Access-Control-Allow-Origin (`*` when any origin is allowed, the origin echoed with Vary: Origin
 * for a list) and Access-Control-Expose-Headers in the decision's `headers`, which the caller
 * writes with the surface's answer.
 * A refused origin is logged as cors.origin_not_allowed (not recorded as a refusal: the request
 * itself is served, only the browser withholds the answer from the page).
 */
export function createCors(deps: CorsDeps): (req: IncomingMessage, res: ServerResponse, path: string) => Promise<CorsDecision> | CorsDecision {
  const logged = new Map<string, number>();
  const now = deps.now ?? Date.now;
  function logRefused(req: IncomingMessage, origin: string, cls: CorsClass, path: string): void {
    const key = `${cls} ${origin}`;
    const at = now();
    const last = logged.get(key);
    if (last !== undefined && at - last < LOG_EVERY_MS) return;
    if (logged.size >= LOG_KEYS) logged.clear();
    logged.set(key, at);
    deps.logger.warn(
      { event: 'cors.origin_not_allowed', origin: origin.slice(0, 200), path: path.slice(0, 200), property: corsPropertyOf(cls), requestId: deps.requestId(req) },
      `CORS: origin not allowed by ${corsPropertyOf(cls)}; the browser will not let the page read the answer`,
    );
  }
  function decide(req: IncomingMessage, res: ServerResponse, path: string, cls: CorsClass, props: PropertyValues): CorsDecision {
    const allowed = props[corsPropertyOf(cls)];
    const origin = typeof req.headers.origin === 'string' ? req.headers.origin : undefined;
    const preflight = req.method === 'OPTIONS' && origin !== undefined && req.headers['access-control-request-method'] !== undefined;
    const any = allowed === '*';
    const ok = origin !== undefined && originMatches(origin, allowed);
    const vary = !any && allowed !== '';
    if (origin !== undefined && !ok && !any && !sameOrigin(req, origin)) {
      logRefused(req, origin, cls, path);
      if (preflight) {
        res.writeHead(403, { 'x-request-id': deps.requestId(req), 'content-length': '0', 'cache-control': 'no-store', ...(allowed === '' ? {} : { vary: 'Origin' }) });
        res.end();
        return { answered: true };
      }
      return vary ? VARY_ORIGIN : NOT_ANSWERED;
    }
    if (!any && !ok) return vary ? VARY_ORIGIN : NOT_ANSWERED;
    const allowOrigin = any ? '*' : (origin as string);
    if (preflight) {
      res.writeHead(204, {
        'x-request-id': deps.requestId(req),
        'access-control-allow-origin': allowOrigin,
        'access-control-allow-methods': METHODS[cls],
        'access-control-allow-headers': CORS_ALLOW_HEADERS,
        'access-control-max-age': String(CORS_MAX_AGE_SECONDS),
        ...(any ? {} : { vary: 'Origin' }),
      });
      res.end();
      return { answered: true };
    }
    if (any) return ANY_ORIGIN;
    return { answered: false, headers: ['vary', 'Origin', 'access-control-allow-origin', allowOrigin, 'access-control-expose-headers', CORS_EXPOSE_HEADERS] };
  }
  return (req, res, path) => {
    const cls = corsClassOf(path);
    if (cls === undefined) return NOT_ANSWERED;
    const props = deps.properties();
    return props instanceof Promise ? props.then((p) => decide(req, res, path, cls, p)) : decide(req, res, path, cls, props);
  };
}

/** A same-origin request (a POST carries Origin too): no CORS header is needed, and it is not a refused origin. */
function sameOrigin(req: IncomingMessage, origin: string): boolean {
  const host = req.headers.host;
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host.toLowerCase();
  } catch {
    return false;
  }
}
