import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Latchkey } from '../app.js';
import { hostFailure, send, sendJsonFailure, sendJsonNotFound, toNeutral, type HostError } from './fastify-neutral.js';
import { AUTHORIZE_PATHS } from '../endpoints/authorize.js';
import { USERINFO_PATHS } from '../endpoints/userinfo.js';
import { LOGOUT_PATHS } from '../endpoints/logout.js';
import { DEVICE_AUTHORIZATION_PATH, DEVICE_VERIFICATION_PATH } from '../endpoints/device-authorization.js';
import { errorResponse } from '../endpoints/shared.js';
import { invalidRequest } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import { registerKeyRoutes } from './routes/keys.js';
import { registerProtectedResourceRoutes } from './routes/protected-resource.js';

/** The endpoint a route's refusals are recorded under (route config), for the routes whose oversized bodies are refusals. */
interface OAuthRouteConfig {
  readonly endpoint?: string;
}

/**
 * The OAuth endpoints served through Fastify (the token endpoint has its own fast path:
 * raw-token.ts): introspection, revocation, JWKS and metadata, the authorization endpoint with its
 * pages. Its error handler answers in the OAuth error shape; its not-found handler answers every
 * path no other surface owns.
 */
export function oauthPlugin(latchkey: Latchkey, bodyLimit: number): FastifyPluginAsync {
  return async (scope: FastifyInstance) => {
    // Introspection (RFC 7662) and revocation (RFC 7009). Every method is routed to the core, which
    // answers anything but POST with invalid_request and Allow: POST (a 404 would hide that the
    // endpoint exists).
    const methods = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
    const introspect = async (req: FastifyRequest, reply: FastifyReply) => send(reply, await latchkey.introspectionEndpoint.handle(toNeutral(req)));
    scope.route({ method: [...methods], url: '/oauth/introspect', config: { endpoint: 'introspect' } satisfies OAuthRouteConfig, handler: introspect });
    const revoke = async (req: FastifyRequest, reply: FastifyReply) => send(reply, await latchkey.revocationEndpoint.handle(toNeutral(req)));
    for (const url of ['/oauth/revoke', '/oauth_revoke_token.do']) scope.route({ method: [...methods], url, config: { endpoint: 'revoke' } satisfies OAuthRouteConfig, handler: revoke });

    // Pushed authorization requests (RFC 9126 §2): every method reaches the core, which answers
    // anything but POST with invalid_request and Allow: POST; an oversized body is a recorded refusal.
    const par = async (req: FastifyRequest, reply: FastifyReply) => send(reply, await latchkey.parEndpoint.handle(toNeutral(req)));
    scope.route({ method: [...methods], url: '/oauth/par', config: { endpoint: 'par' } satisfies OAuthRouteConfig, handler: par });

    // Dynamic client registration (RFC 7591 §3) and the client configuration endpoint (RFC 7592):
    // every method reaches the core, which answers the ones it does not take with Allow. JSON
    // bodies arrive as text like every body here (server.ts), so the core parses them itself.
    const register = async (req: FastifyRequest, reply: FastifyReply) => send(reply, await latchkey.registrationEndpoint.handle(toNeutral(req)));
    for (const url of ['/oauth/register', '/oauth/register/:clientId']) scope.route({ method: [...methods], url, config: { endpoint: 'register' } satisfies OAuthRouteConfig, handler: register });

    // OpenID Connect UserInfo (Core §5.3): GET and POST; other methods reach the core, which answers
    // 405 with Allow. CORS (bearer tokens, no cookies) is answered in front of it: src/http/cors.ts.
    const userinfo = async (req: FastifyRequest, reply: FastifyReply) => send(reply, await latchkey.userInfoEndpoint.handle(toNeutral(req)));
    for (const url of USERINFO_PATHS) scope.route({ method: [...methods], url, config: { endpoint: 'userinfo' } satisfies OAuthRouteConfig, handler: userinfo });

    // JWKS (/oauth/jwks, /api/now/oauth/jwks) and RFC 8414 metadata; static routes, so they win over /api/*.
    registerKeyRoutes(scope, latchkey);
    // RFC 9728 protected resource metadata of the instance and of every hosted API.
    registerProtectedResourceRoutes(scope, latchkey);

    // The authorization endpoint (RFC 6749 §3.1: GET, and POST too) with its sign-in and consent
    // pages. Bodies are limited by bodyLimit like every Fastify route; its cookies go out as
    // separate Set-Cookie headers.
    const authorize = async (req: FastifyRequest, reply: FastifyReply) => {
      const res = await latchkey.authorizeEndpoint.handle(toNeutral(req));
      return send(reply, res, res.cookies);
    };
    for (const url of AUTHORIZE_PATHS) scope.route({ method: ['GET', 'POST'], url, handler: authorize });

    // RFC 8628: the device authorization endpoint (every method reaches the core, which answers 405
    // with Allow: POST) and the user-code page of the sign-in UI (GET, and its forms by POST).
    const deviceAuthorization = async (req: FastifyRequest, reply: FastifyReply) => send(reply, await latchkey.deviceAuthorizationEndpoint.handle(toNeutral(req)));
    scope.route({ method: [...methods], url: DEVICE_AUTHORIZATION_PATH, config: { endpoint: 'device_authorization' } satisfies OAuthRouteConfig, handler: deviceAuthorization });
    const devicePage = async (req: FastifyRequest, reply: FastifyReply) => {
      const res = await latchkey.devicePage.handle(toNeutral(req));
      return send(reply, res, res.cookies);
    };
    scope.route({ method: ['GET', 'POST'], url: DEVICE_VERIFICATION_PATH, handler: devicePage });

    // The end-session endpoint (RP-Initiated Logout 1.0 §2: GET and POST); other methods reach the
    // core, which answers 405 with Allow.
    const logout = async (req: FastifyRequest, reply: FastifyReply) => {
      const res = await latchkey.logoutEndpoint.handle(toNeutral(req));
      return send(reply, res, res.cookies);
    };
    for (const url of LOGOUT_PATHS) scope.route({ method: [...methods], url, handler: logout });

    // Errors Fastify raises before a handler runs (body too large, unreadable body): a clear 4xx;
    // anything else is logged and answered without detail.
    scope.setErrorHandler(async (error: HostError, req, reply) => {
      const { status, message } = hostFailure(error, req.id, bodyLimit);
      if (status === 500) latchkey.logger.error({ requestId: req.id, err: error }, 'request failed');
      // Introspection and revocation answer an oversized body as the token endpoint does: 400
      // invalid_request with no-store, recorded as a refusal (latchkey explain <request id>).
      const endpoint = (req.routeOptions.config as OAuthRouteConfig).endpoint;
      if (endpoint !== undefined && error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        const declared = Number(req.headers['content-length']);
        const facts = { bodyBytes: Number.isSafeInteger(declared) ? declared : null, bodyLimit };
        // RFC 9126 §2.3: the pushed authorization request endpoint answers 413 (Payload Too Large).
        const refusal =
          endpoint === 'par'
            ? new OAuthError({ error: 'invalid_request', status: 413, reason: 'request.body_too_large', description: message, facts })
            : invalidRequest.withReason('request.body_too_large').withDescription(message).withFacts(facts);
        await latchkey.refusals.record({ requestId: req.id, endpoint, remoteAddress: req.socket.remoteAddress ?? '', error: refusal });
        // The rest of the body is not read: the connection closes after this answer.
        reply.header('connection', 'close');
        return send(reply, errorResponse(refusal));
      }
      return sendJsonFailure(reply, status, message);
    });
    scope.setNotFoundHandler(sendJsonNotFound);
  };
}
