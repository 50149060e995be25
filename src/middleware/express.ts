import { createTokenVerifier, TokenRejected, type TokenVerifier, type VerifiedToken, type VerifierOptions } from './verifier.js';

/**
 * Express (4 and 5) middleware: `import { latchkeyExpress } from 'latchkey/express'`.
 *
 *   const auth = latchkeyExpress({ issuer: 'https://auth.example.com' });
 *   app.get('/orders', auth.require('orders.read'), (req, res) => res.json({ user: req.latchkey.subject }));
 *
 * Refusals are RFC 6750 answers: 401 with `WWW-Authenticate: Bearer …` (error="invalid_token" for a
 * bad token), 403 insufficient_scope naming the scopes that would do, 400 for a malformed header,
 * 503 when Latchkey cannot be reached to check the token.
 */

/** The parts of Express's request/response this middleware uses (no dependency on express itself). */
export interface ExpressLikeRequest {
  headers: Record<string, string | string[] | undefined>;
  latchkey?: VerifiedToken;
}
export interface ExpressLikeResponse {
  status(code: number): ExpressLikeResponse;
  setHeader(name: string, value: string): unknown;
  json(body: unknown): unknown;
}
export type ExpressLikeNext = (error?: unknown) => void;
export type ExpressMiddleware = (req: ExpressLikeRequest, res: ExpressLikeResponse, next: ExpressLikeNext) => void;

export interface LatchkeyExpressOptions extends VerifierOptions {
  /** The realm in WWW-Authenticate (default "api"). */
  readonly realm?: string;
}

export interface LatchkeyExpress {
  /** Requires a valid token carrying at least one of `scopes` (none given: any valid token). */
  require(...scopes: string[]): ExpressMiddleware;
  readonly verifier: TokenVerifier;
}

export function latchkeyExpress(options: LatchkeyExpressOptions): LatchkeyExpress {
  const verifier = createTokenVerifier(options);
  const realm = options.realm ?? 'api';
  return {
    verifier,
    require(...scopes) {
      return (req, res, next) => {
        const header = req.headers.authorization;
        verifier.authenticate(Array.isArray(header) ? header.join(',') : header, scopes).then(
          (verified) => {
            req.latchkey = verified;
            next();
          },
          (error: unknown) => {
            if (!(error instanceof TokenRejected)) return next(error);
            res.setHeader('cache-control', 'no-store');
            if (error.status === 503) res.setHeader('retry-after', '1');
            else res.setHeader('www-authenticate', error.challenge(realm));
            res.status(error.status).json(error.body());
          },
        );
      };
    },
  };
}

export { TokenRejected, type VerifiedToken, type VerifierOptions } from './verifier.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified caller, set by latchkeyExpress().require(). */
      latchkey?: VerifiedToken;
    }
  }
}
