import type { FastifyReply, FastifyRequest } from 'fastify';
import { createTokenVerifier, TokenRejected, type TokenVerifier, type VerifiedToken, type VerifierOptions } from './verifier.js';

/**
 * Fastify (4 and 5) pre-handler: `import { latchkeyFastify } from 'latchkey/fastify'`.
 *
 *   const auth = latchkeyFastify({ issuer: 'https://auth.example.com' });
 *   app.get('/orders', { preHandler: auth.require('orders.read') }, async (req) => ({ user: req.latchkey?.subject }));
 *
 * Refusals are RFC 6750 answers, as in latchkey/express.
 */
export interface LatchkeyFastifyOptions extends VerifierOptions {
  /** The realm in WWW-Authenticate (default "api"). */
  readonly realm?: string;
}

export interface LatchkeyFastify {
  /** A preHandler requiring a valid token carrying at least one of `scopes` (none given: any valid token). */
  require(...scopes: string[]): (req: FastifyRequest, reply: FastifyReply) => Promise<void>;
  readonly verifier: TokenVerifier;
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
  return {
    verifier,
    require(...scopes) {
      return async (req, reply) => {
        try {
          req.latchkey = await verifier.authenticate(req.headers.authorization, scopes);
        } catch (error) {
          if (!(error instanceof TokenRejected)) throw error;
          reply.header('cache-control', 'no-store');
          if (error.status === 503) reply.header('retry-after', '1');
          else reply.header('www-authenticate', error.challenge(realm));
          // Returning the reply after send() ends the request here (Fastify's async hook contract).
          return reply.code(error.status).send(error.body());
        }
      };
    },
  };
}

export { TokenRejected, type VerifiedToken, type VerifierOptions } from './verifier.js';
