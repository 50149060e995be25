import { createTokenVerifier, protectedResourceServing, TokenRejected, type ProtectedResourceServing, type TokenVerifier, type VerifiedToken, type VerifierOptions } from './verifier.js';

/**
 * Express (4 and 5) middleware: `import { latchkeyExpress } from 'latchkey/express'`.
 *
 *   const auth = latchkeyExpress({ issuer: 'https://auth.example.com' });
 *   app.get('/orders', auth.require('orders.read'), (req, res) => res.json({ user: req.latchkey.subject }));
 *
 * Refusals are RFC 6750 answers: 401 with `WWW-Authenticate: Bearer …` (error="invalid_token" for a
 * bad token), 403 insufficient_scope naming the scopes that would do, 400 for a malformed header,
 * 503 when Latchkey cannot be reached to check the token.
 *
 * With `resource` (this service's resource identifier), `app.use(auth.metadata)` serves its
 * protected resource metadata (RFC 9728) and every challenge names it, so an MCP client finds the
 * authorization server from the first 401:
 *
 *   const auth = latchkeyExpress({ issuer: 'https://auth.example.com', resource: 'https://svc.example.com/mcp' });
 *   app.use(auth.metadata);   // GET /.well-known/oauth-protected-resource/mcp
 */

/** The parts of Express's request/response this middleware uses (no dependency on express itself). */
export interface ExpressLikeRequest {
  headers: Record<string, string | string[] | undefined>;
  method?: string;
  /** The path and query as the router in which this runs sees it (a mounted router strips its mount path). */
  url?: string;
  /** The path and query as the client sent it (Express keeps it whole under a mount: app.use('/x', router)). */
  originalUrl?: string;
  latchkey?: VerifiedToken;
}
export interface ExpressLikeResponse {
  status(code: number): ExpressLikeResponse;
  setHeader(name: string, value: string): unknown;
  json(body: unknown): unknown;
  end?(body?: string): unknown;
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
  /**
   * Serves the protected resource metadata (RFC 9728) at its well-known path (`app.use(auth.metadata)`);
   * passes every other request on. Without the `resource` option it passes everything on.
   */
  readonly metadata: ExpressMiddleware;
  /** The protected resource (the `resource` option), or undefined without it. */
  readonly resource: ProtectedResourceServing | undefined;
}

export function latchkeyExpress(options: LatchkeyExpressOptions): LatchkeyExpress {
  const verifier = createTokenVerifier(options);
  const realm = options.realm ?? 'api';
  const resource = protectedResourceServing(options);
  return {
    verifier,
    resource,
    metadata(req, res, next) {
      // The well-known path is the whole request path: under app.use('/.well-known', router), req.url has lost the mount.
      const url = req.originalUrl ?? req.url ?? '/';
      const q = url.indexOf('?');
      const answer = resource?.answer(req.method ?? 'GET', q === -1 ? url : url.slice(0, q));
      if (answer === undefined) return next();
      for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
      res.status(answer.status);
      if (res.end === undefined) throw new TypeError('the response has no end()');
      res.end(req.method === 'HEAD' ? undefined : answer.body);
    },
    require(...scopes) {
      resource?.note(scopes);
      const target = resource === undefined ? undefined : { metadataUrl: resource.metadataUrl, scopes };
      return (req, res, next) => {
        const header = req.headers.authorization;
        const host = req.headers.host;
        verifier.authenticate(Array.isArray(header) ? header.join(',') : header, scopes, { method: req.method ?? 'GET', path: req.originalUrl ?? req.url ?? '/', proof: req.headers.dpop, host: Array.isArray(host) ? host[0] : host }).then(
          (verified) => {
            req.latchkey = verified;
            next();
          },
          (error: unknown) => {
            if (!(error instanceof TokenRejected)) return next(error);
            res.setHeader('cache-control', 'no-store');
            if (error.status === 503) res.setHeader('retry-after', '1');
            else res.setHeader('www-authenticate', error.challenge(realm, target));
            res.status(error.status).json(error.body());
          },
        );
      };
    },
  };
}

export { TokenRejected, type ProtectedResourceServing, type VerifiedToken, type VerifierOptions } from './verifier.js';

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** The verified caller, set by latchkeyExpress().require(). */
      latchkey?: VerifiedToken;
    }
  }
}
