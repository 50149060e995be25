import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Latchkey } from '../app.js';
import { hostFailure, send, toNeutral, type HostError, type WritableResponse } from './fastify-neutral.js';
import { failure } from '../resource-server/provider.js';

/** Where the hosted APIs live: every path below it is theirs (but static routes such as /api/now/oauth/jwks win). */
export const API_PREFIX = '/api';

/** The answer of the hosted APIs to a request Fastify refused: the platform's error shape. */
export function apiFailure(status: number, message: string, requestId: string): WritableResponse {
  return failure(status, message, `request id ${requestId}`);
}

/**
 * The hosted APIs (/api/*), registered with the prefix API_PREFIX: every method goes to the API
 * provider. Errors and unknown paths are answered in the APIs' own error shape, not OAuth's.
 */
export function hostedApiPlugin(latchkey: Latchkey, bodyLimit: number): FastifyPluginAsync {
  return async (scope: FastifyInstance) => {
    const api = async (req: FastifyRequest, reply: FastifyReply) => send(reply, await latchkey.apis.handle(toNeutral(req)));
    scope.route({ method: ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'], url: '/*', handler: api });
    scope.setErrorHandler(async (error: HostError, req, reply) => {
      const { status, message } = hostFailure(error, req.id, bodyLimit);
      if (status === 500) latchkey.logger.error({ requestId: req.id, err: error }, 'request failed');
      return send(reply, apiFailure(status, message, req.id));
    });
    scope.setNotFoundHandler((req, reply) => {
      const path = req.url.split('?')[0] ?? '/';
      return send(reply, failure(404, 'Requested URI does not represent any resource', path.slice(0, 200)));
    });
  };
}
