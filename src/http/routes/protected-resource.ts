import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Latchkey } from '../../app.js';
import { PROTECTED_RESOURCE_WELL_KNOWN } from '../../resource-server/protected-resource-metadata.js';
import { send } from '../fastify-neutral.js';

/**
 * RFC 9728 protected resource metadata: GET (and HEAD, and the CORS preflight OPTIONS) on
 * /.well-known/oauth-protected-resource (the instance) and below it (each hosted API, each
 * versioned path). An unknown path is the JSON 404 of the OAuth surface.
 */
export function registerProtectedResourceRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply) => {
    const q = req.url.indexOf('?');
    const res = latchkey.protectedResourceMetadata.handle(req.method, q === -1 ? req.url : req.url.slice(0, q));
    if (res === undefined) return reply.callNotFound();
    return send(reply, res);
  };
  for (const url of [PROTECTED_RESOURCE_WELL_KNOWN, `${PROTECTED_RESOURCE_WELL_KNOWN}/*`]) app.route({ method: ['GET', 'OPTIONS'], url, handler });
}
