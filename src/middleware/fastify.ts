import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createTokenVerifier, protectedResourceServing, TokenRejected, type ProtectedResourceServing, type TokenVerifier, type VerifiedToken, type VerifierOptions } from './verifier.js';

/**
 * Fastify (4 and 5) pre-handler: `import { latchkeyFastify } from 'latchkey/fastify'`.
 *
 *   const auth = latchkeyFastify({ issuer: 'https://auth.example.com' });
 *   app.get('/orders', { preHandler: auth.require('orders.read') }, async (req) => ({ user: req.latchkey?.subject }));
 *
 * Refusals are RFC 6750 answers, as in latchkey/express.
 *
 * With `resource` (this service's resource identifier), `app.register(auth.metadata)` serves its
 * protected resource metadata (RFC 9728) and every challenge names it:
 *
 *   const auth = latchkeyFastify({ issuer: 'https://auth.example.com', resource: 'https://svc.example.com/mcp' });
 *   await app.register(auth.metadata);   // GET /.well-known/oauth-protected-resource/mcp
 */
export interface LatchkeyFastifyOptions extends VerifierOptions {
  /** The realm in WWW-Authenticate (default "api"). */
  readonly realm?: string;
}

export interface LatchkeyFastify {
  /** A preHandler requiring a valid token carrying at least one of `scopes` (none given: any valid token). */
  require(...scopes: string[]): (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  readonly verifier: TokenVerifier;
  /** A plugin serving the protected resource metadata (RFC 9728) at its well-known path (`app.register(auth.metadata)`); registers nothing without `resource`. */
  readonly metadata: (app: FastifyInstance) => Promise<void>;
  /** The protected resource (the `resource` option), or undefined without it. */
  readonly resource: ProtectedResourceServing | undefined;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified caller, set by latchkeyFastify().require(). */
    latchkey?: VerifiedToken;
  }
}

export function latchkeyFastify(options: LatchkeyFastifyOptions): LatchkeyFastify {
  const verifier = createTokenVerifier(options);
  const realm = options.realm ?? 'api';
  const resource = protectedResourceServing(options);
  return {
    verifier,
    resource,
    async metadata(app) {
      if (resource === undefined) return;
      const handler = async (req: FastifyRequest, reply: FastifyReply) => {
        const answer = resource.answer(req.method, resource.metadataPath);
        if (answer === undefined) return reply.callNotFound();
        return reply.code(answer.status).headers(answer.headers).send(answer.status === 204 ? undefined : answer.body);
      };
      app.route({ method: ['GET', 'OPTIONS'], url: resource.metadataPath, handler });
    },
    require(...scopes) {
      resource?.note(scopes);
      const target = resource === undefined ? undefined : { metadataUrl: resource.metadataUrl, scopes };
      return async (req, reply) => {
        try {
          req.latchkey = await verifier.authenticate(req.headers.authorization, scopes, { method: req.method, path: req.url, proof: req.headers.dpop, host: req.headers.host });
        } catch (error) {
          if (!(error instanceof TokenRejected)) throw error;
          reply.header('cache-control', 'no-store');
          if (error.status === 503) reply.header('retry-after', '1');
          else reply.header('www-authenticate', error.challenge(realm, target));
          // Returning the reply after send() ends the request here (Fastify's async hook contract).
          return reply.code(error.status).send(error.body());
        }
      };
    },
  };
}

export { TokenRejected, type ProtectedResourceServing, type VerifiedToken, type VerifierOptions } from './verifier.js';
