import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Latchkey } from '../../app.js';
import { METADATA_PATH, OPENID_CONFIGURATION_PATH } from '../../endpoints/metadata.js';
import { send } from '../fastify-neutral.js';

/** The JWKS paths: the OAuth one, and one under the platform's /api/now namespace. */
export const JWKS_PATHS = ['/oauth/jwks', '/api/now/oauth/jwks'] as const;

/**
 * GET (and HEAD) routes for the published keys and the authorization server metadata. Static
 * routes win over the `/api/*` wildcard in Fastify's router, so /api/now/oauth/jwks is answered
 * here, not by the API router (test/metadata.test.ts checks it).
 */
export function registerKeyRoutes(app: FastifyInstance, latchkey: Latchkey): void {
  for (const url of JWKS_PATHS) app.get(url, async (_req, reply) => send(reply, await latchkey.jwksEndpoint.handle()));
  const metadata = async (req: { url: string }, reply: FastifyReply) => {
    const q = req.url.indexOf('?');
    const res = await latchkey.metadataEndpoint.handle(q === -1 ? req.url : req.url.slice(0, q));
    if (res === undefined) return reply.callNotFound();
    return send(reply, res);
  };
  app.get(METADATA_PATH, metadata);
  app.get(`${METADATA_PATH}/*`, metadata);
  // OpenID Connect Discovery 1.0 §4. An issuer with a path (https://host/tenant) publishes it at
  // /tenant/.well-known/openid-configuration: a proxy mapping /tenant onto this instance strips it.
  app.get(OPENID_CONFIGURATION_PATH, metadata);
}
