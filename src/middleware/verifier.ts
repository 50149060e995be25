import { createHash } from 'node:crypto';
import { createRemoteJWKSet, decodeJwt, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { canonicalResource, protectedResourceMetadataUrl } from '../domain/resource-uri.js';
import { DPOP_ALGS, DpopRejected, dpopHeader, verifyDpopProof } from '../tokens/dpop.js';
import { bearerChallenge, METADATA_HEADERS, METADATA_PREFLIGHT, protectedResourceMetadata, type ProtectedResourceMetadata } from '../resource-server/protected-resource-metadata.js';

/**
 * Verifies Latchkey access tokens in another Node.js service (the resource server), framework-free;
 * src/middleware/express.ts and fastify.ts wrap it.
 *
 * - JWT access tokens (RFC 9068) are verified locally against the instance's JWKS, fetched once
 *   and cached; a token signed with a key the cache does not know (after a rotation) makes it
 *   refetch, at most once per cooldown. No call to Latchkey per request.
 * - Opaque tokens (and JWTs too, with `introspectJwts`) are checked by introspection (RFC 7662),
 *   with the answer cached for a short time (never past the token's expiry).
 *
 * Endpoints come from the issuer's metadata (RFC 8414), unless given.
 */
export interface VerifierOptions {
  /** Latchkey's issuer identifier, exactly as in its metadata (e.g. https://auth.example.com). */
  readonly issuer: string;
  /** The audience this service expects in JWTs (default: `resource` when given, else the issuer, which Latchkey uses unless the application sets one). */
  readonly audience?: string | readonly string[];
  /**
   * This service's resource identifier (RFC 8707, RFC 9728), as clients name it in `resource`:
   * `https://svc.example.com/mcp`. With it, the middleware serves the protected resource metadata
   * (RFC 9728) at the path-inserted well-known path (`/.well-known/oauth-protected-resource/mcp`:
   * mount `metadata` of latchkey/express or latchkey/fastify), every 401 and 403 challenge names
   * it (`resource_metadata="…"`, `scope="…"`), and tokens must be meant for it (the default audience).
   */
  readonly resource?: string;
  /** The scopes the metadata lists (scopes_supported); default: every scope a `require()` names. */
  readonly scopesSupported?: readonly string[];
  /** The metadata's resource_name; default: the resource identifier. */
  readonly resourceName?: string;
  /** Overrides the jwks_uri from the metadata. */
  readonly jwksUri?: string;
  /** Credentials of a Latchkey application allowed to introspect (`latchkey apps update <client_id> --can-introspect true`). Needed for opaque tokens. */
  readonly introspection?: { readonly clientId: string; readonly clientSecret: string; readonly endpoint?: string };
  /** Also introspect JWTs, so a revocation reaches this service within `cacheTtlMs` (default false: JWTs are verified locally only). */
  readonly introspectJwts?: boolean;
  /** How long an introspection answer is reused (default 30 s; never past the token's expiry). */
  readonly cacheTtlMs?: number;
  /** Minimum time between two JWKS refetches caused by an unknown key id (default 30 s). */
  readonly jwksCooldownMs?: number;
  /** How long a fetched JWKS is used before it is fetched again (default 10 min). */
  readonly jwksMaxAgeMs?: number;
  /** Timeout for every call to Latchkey (default 5 s). */
  readonly timeoutMs?: number;
  /** Clock skew tolerated on exp/nbf/iat (default 30 s). */
  readonly clockToleranceSec?: number;
  /** JWT signature algorithms accepted (default ES256, RS256: what Latchkey signs with). */
  readonly algorithms?: readonly string[];
  /**
   * RFC 9449: the origin clients call this service at (`https://api.example.com`), for the htu of
   * DPoP proofs; default: the resource's origin, else http:// and the request's Host header.
   */
  readonly publicOrigin?: string;
  /** RFC 9449: how old a DPoP proof may be, in seconds (default 60); its jti is remembered that long, in this process. */
  readonly dpopMaxAgeSec?: number;
}

/** The request a DPoP proof is checked against (RFC 9449 §7.1): method, URL path, its DPoP header(s), its Host. */
export interface DpopRequest {
  readonly method: string;
  /** The path (a query is ignored). */
  readonly path: string;
  readonly proof: string | string[] | undefined;
  readonly host?: string | undefined;
}

/** The caller, as a handler of the protected service sees it. */
export interface VerifiedToken {
  readonly format: 'jwt' | 'opaque';
  /** `sub`: the user name (or the client id for a token without a user). */
  readonly subject: string | undefined;
  readonly clientId: string | undefined;
  readonly username: string | undefined;
  readonly scopes: readonly string[];
  /** Expiry in seconds since the epoch. */
  readonly expiresAt: number | undefined;
  /** Every claim (JWT) or introspection member (opaque). */
  readonly claims: Readonly<Record<string, unknown>>;
  /**
   * RFC 8693 §4.1: who acts for the subject (a token from a token exchange with an actor token):
   * `sub`, `client_id` and the prior actors nested in `act`; undefined when nobody acts for it.
   */
  readonly act: ActClaim | undefined;
}

/** RFC 8693 §4.1 act, as the middleware exposes it. */
export interface ActClaim {
  readonly sub: string;
  readonly client_id?: string;
  readonly iss?: string;
  readonly act?: ActClaim;
}

/** The act claim (or introspection member) when it is an object with a sub; else undefined. */
function actClaim(value: unknown): ActClaim | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  return typeof (value as { sub?: unknown }).sub === 'string' ? (value as ActClaim) : undefined;
}

/** Why a request is refused: maps straight to an RFC 6750 §3 response. */
export class TokenRejected extends Error {
  constructor(
    readonly status: 400 | 401 | 403 | 503,
    /** RFC 6750 §3.1 error code, or undefined when no credentials were sent (§3.1: no error then). */
    readonly error: 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'temporarily_unavailable' | 'invalid_dpop_proof' | undefined,
    readonly description: string,
    /** For insufficient_scope: the scopes that would do. */
    readonly scope?: string,
    /** Latchkey's reason code for the refusal, when it has one (`latchkey explain` / docs/reasons.md): token.wrong_resource. */
    readonly reason?: string,
    /** A refusal of a DPoP request (or of a DPoP-bound token sent as Bearer): the challenge is DPoP's (RFC 9449 §7.1). */
    readonly dpop = false,
  ) {
    super(description);
    this.name = 'TokenRejected';
  }

  /**
   * The WWW-Authenticate header value (RFC 6750 §3). With the protected resource (`resource`
   * option): its metadata URL (RFC 9728 §5.1 resource_metadata) and, on a 401, the scopes the route
   * requires; a 403 insufficient_scope names the scopes that would do either way.
   */
  challenge(realm: string, resource?: { readonly metadataUrl: string; readonly scopes: readonly string[] }): string {
    if (this.dpop) return `DPoP algs="${DPOP_ALGS.join(' ')}"${this.error === undefined ? '' : `, error="${this.error}", error_description="${this.description}"`}`;
    const withError = this.error !== undefined && this.error !== 'temporarily_unavailable';
    return bearerChallenge({
      realm,
      error: withError ? this.error : undefined,
      description: this.error === undefined ? undefined : this.description,
      resourceMetadata: resource?.metadataUrl,
      scopes: this.scope !== undefined ? this.scope.split(' ') : resource?.scopes,
    });
  }

  /** The JSON body sent with the refusal. */
  body(): Record<string, string> {
    const body = this.error === undefined ? { error: 'invalid_request', error_description: this.description } : { error: this.error, error_description: this.description };
    return this.reason === undefined ? body : { ...body, reason: this.reason };
  }
}

/**
 * The protected resource a middleware instance stands for (the `resource` option): its metadata
 * document (RFC 9728 §2) at the path-inserted well-known path (§3.1), and what its challenges name.
 */
export interface ProtectedResourceServing {
  /** The resource identifier, canonical (no trailing slash, lower-case host). */
  readonly resource: string;
  /** Where this service serves the metadata: `/.well-known/oauth-protected-resource<resource path>`. */
  readonly metadataPath: string;
  /** The full metadata URL (resource_metadata in the challenges). */
  readonly metadataUrl: string;
  /** Notes the scopes a route requires (scopes_supported lists them unless `scopesSupported` is given). */
  note(scopes: readonly string[]): void;
  /** The metadata document. */
  document(): ProtectedResourceMetadata;
  /**
   * The answer to a request for `path` (without the query), framework-free: the document on GET
   * and HEAD, the CORS preflight on OPTIONS; undefined for another path or method.
   */
  answer(method: string, path: string): { readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: string } | undefined;
}

/** The protected resource of a middleware instance, or undefined without the `resource` option. Throws a TypeError on an invalid one. */
export function protectedResourceServing(options: Pick<VerifierOptions, 'issuer' | 'resource' | 'scopesSupported' | 'resourceName'>): ProtectedResourceServing | undefined {
  if (options.resource === undefined) return undefined;
  const canonical = canonicalResource(options.resource);
  if (!canonical.ok) throw new TypeError(`resource: ${canonical.message} (got "${options.resource.slice(0, 200)}")`);
  const resource = canonical.uri;
  const metadataUrl = protectedResourceMetadataUrl(resource);
  // Served at the path (a query of the resource identifier stays in metadataUrl only).
  const metadataPath = new URL(metadataUrl).pathname;
  const seen = new Set<string>(options.scopesSupported ?? []);
  const fixed = options.scopesSupported !== undefined;
  const issuer = options.issuer.replace(/\/+$/, '');
  const document = () => protectedResourceMetadata({ resource, issuer, scopes: [...seen], name: options.resourceName ?? resource });
  return {
    resource,
    metadataPath,
    metadataUrl,
    note(scopes) {
      if (!fixed) for (const s of scopes) seen.add(s);
    },
    document,
    answer(method, path) {
      if (path !== metadataPath && path !== `${metadataPath}/`) return undefined;
      if (method === 'OPTIONS') return METADATA_PREFLIGHT;
      if (method !== 'GET' && method !== 'HEAD') return undefined;
      return { status: 200, headers: METADATA_HEADERS, body: JSON.stringify(document()) };
    },
  };
}

interface Metadata {
  readonly jwks_uri?: string;
  readonly introspection_endpoint?: string;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

export interface TokenVerifier {
  /** Verifies a raw access token; throws TokenRejected. */
  verify(token: string): Promise<VerifiedToken>;
  /** Reads the Authorization header (RFC 6750 §2.1 only), verifies, and checks that at least one of `anyOfScopes` is granted. */
  /** `request`: for `Authorization: DPoP` (RFC 9449 §7.1), the request the proof must match; without it DPoP is refused. */
  authenticate(authorization: string | undefined, anyOfScopes?: readonly string[], request?: DpopRequest): Promise<VerifiedToken>;
}

export function createTokenVerifier(options: VerifierOptions): TokenVerifier {
  const issuer = options.issuer.replace(/\/+$/, '');
  try {
    new URL(issuer);
  } catch {
    throw new TypeError(`issuer must be an absolute URL (got "${options.issuer}")`);
  }
  // RFC 8707 / RFC 9068 §4: a service with a resource identifier accepts the tokens meant for it.
  const resource = options.resource === undefined ? undefined : canonicalResource(options.resource);
  if (resource !== undefined && !resource.ok) throw new TypeError(`resource: ${resource.message} (got "${String(options.resource).slice(0, 200)}")`);
  const defaultAudience = resource?.ok === true ? resource.uri : issuer;
  const audience = options.audience === undefined ? defaultAudience : typeof options.audience === 'string' ? options.audience : [...options.audience];
  const timeoutMs = options.timeoutMs ?? 5_000;
  const cacheTtlMs = options.cacheTtlMs ?? 30_000;
  const algorithms = [...(options.algorithms ?? ['ES256', 'RS256'])];
  const clockTolerance = options.clockToleranceSec ?? 30;

  let metadata: Promise<Metadata> | undefined;
  function discover(): Promise<Metadata> {
    const url = new URL(issuer);
    // RFC 8414 §3.1: the well-known segment goes between the host and the issuer's path.
    const wellKnown = `${url.origin}/.well-known/oauth-authorization-server${url.pathname === '/' ? '' : url.pathname}`;
    metadata ??= (async () => {
      const res = await fetch(wellKnown, { signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
      if (!res.ok) throw new Error(`${wellKnown} answered ${res.status}`);
      const body = (await res.json()) as Metadata & { issuer?: string };
      if (body.issuer !== issuer) throw new Error(`the metadata at ${wellKnown} names issuer ${String(body.issuer)}, not ${issuer}`);
      return body;
    })();
    // A failed discovery is retried by the next request rather than cached.
    metadata.catch(() => (metadata = undefined));
    return metadata;
  }

  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  async function keySet(): Promise<ReturnType<typeof createRemoteJWKSet>> {
    if (jwks !== undefined) return jwks;
    const uri = options.jwksUri ?? (await discover()).jwks_uri;
    if (uri === undefined) throw new Error(`the metadata of ${issuer} has no jwks_uri`);
    jwks = createRemoteJWKSet(new URL(uri), {
      timeoutDuration: timeoutMs,
      cooldownDuration: options.jwksCooldownMs ?? 30_000,
      cacheMaxAge: options.jwksMaxAgeMs ?? 600_000,
    });
    return jwks;
  }

  /** Introspection answers by SHA-256 of the token (the token itself is never kept). */
  const answers = new Map<string, { readonly until: number; readonly result: VerifiedToken | TokenRejected }>();
  const MAX_CACHED = 10_000;

  async function introspect(token: string, format: 'jwt' | 'opaque'): Promise<VerifiedToken> {
    const creds = options.introspection;
    if (creds === undefined) {
      throw new TokenRejected(401, 'invalid_token', 'This service accepts only JWT access tokens (no introspection credentials configured).');
    }
    const key = createHash('sha256').update(token).digest('base64url');
    const now = Date.now();
    const cached = answers.get(key);
    if (cached !== undefined && cached.until > now) {
      if (cached.result instanceof TokenRejected) throw cached.result;
      return cached.result;
    }
    let endpoint: string;
    let res: Response;
    try {
      endpoint = creds.endpoint ?? (await discover()).introspection_endpoint ?? `${issuer}/oauth/introspect`;
      const basic = Buffer.from(`${encodeURIComponent(creds.clientId)}:${encodeURIComponent(creds.clientSecret)}`).toString('base64');
      res = await fetch(endpoint, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      throw new TokenRejected(503, 'temporarily_unavailable', `The token could not be checked: the authorization server did not answer (${error instanceof Error ? error.message : String(error)}).`);
    }
    if (!res.ok) {
      // Not an answer about the token (our credentials are wrong, or the server is in trouble):
      // never cached, never reported as an invalid token.
      throw new TokenRejected(503, 'temporarily_unavailable', `The token could not be checked: introspection answered HTTP ${res.status}.`);
    }
    const body = (await res.json()) as Record<string, unknown>;
    let result: VerifiedToken | TokenRejected;
    let until = now + cacheTtlMs;
    if (body.active !== true) {
      result = new TokenRejected(401, 'invalid_token', 'The access token is not active (unknown, expired or revoked).');
    } else if (body.token_type !== undefined && body.token_type !== 'Bearer' && body.token_type !== 'DPoP') {
      result = new TokenRejected(401, 'invalid_token', 'The token is not an access token.');
    } else {
      const exp = typeof body.exp === 'number' ? body.exp : undefined;
      if (exp !== undefined) until = Math.min(until, exp * 1000);
      // RFC 8707 / RFC 9068 §4: with a resource (or audience) configured, the token must be meant for this service.
      const aud = typeof body.aud === 'string' ? [body.aud] : Array.isArray(body.aud) ? body.aud.filter((a): a is string => typeof a === 'string') : [];
      const checkAud = options.resource !== undefined || options.audience !== undefined;
      const expected = typeof audience === 'string' ? [audience] : audience;
      if (checkAud && !aud.some((a) => expected.includes(a))) {
        result = wrongResource(aud, expected);
      } else result = {
        format,
        subject: typeof body.sub === 'string' ? body.sub : undefined,
        clientId: typeof body.client_id === 'string' ? body.client_id : undefined,
        username: typeof body.username === 'string' ? body.username : undefined,
        scopes: typeof body.scope === 'string' ? body.scope.split(' ').filter((s) => s !== '') : [],
        expiresAt: exp,
        claims: Object.freeze({ ...body }),
        act: actClaim(body.act),
      };
    }
    if (answers.size >= MAX_CACHED) answers.clear();
    answers.set(key, { until, result });
    if (result instanceof TokenRejected) throw result;
    return result;
  }

  async function verifyJwt(token: string): Promise<VerifiedToken> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await keySet(), { issuer, audience, typ: 'at+jwt', algorithms, clockTolerance }));
    } catch (error) {
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === 'aud') {
        const aud = error.payload.aud;
        throw wrongResource(typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [], typeof audience === 'string' ? [audience] : audience);
      }
      throw jwtRejection(error);
    }
    const scope = typeof payload.scope === 'string' ? payload.scope : '';
    return {
      format: 'jwt',
      subject: payload.sub,
      clientId: typeof payload.client_id === 'string' ? payload.client_id : undefined,
      username: payload.sub,
      scopes: scope.split(' ').filter((s) => s !== ''),
      expiresAt: payload.exp,
      claims: Object.freeze({ ...payload }),
      act: actClaim(payload.act),
    };
  }

  async function verify(token: string): Promise<VerifiedToken> {
    if (!JWT_SHAPE.test(token)) return introspect(token, 'opaque');
    // Not ours at all (another issuer): say so, rather than a signature error.
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw new TokenRejected(401, 'invalid_token', 'The access token is not a well-formed JWT.');
    }
    if (iss !== issuer) throw new TokenRejected(401, 'invalid_token', `The access token was issued by ${typeof iss === 'string' ? iss.slice(0, 200) : 'an unknown issuer'}, not ${issuer}.`);
    const verified = await verifyJwt(token);
    return options.introspectJwts === true ? introspect(token, 'jwt') : verified;
  }

  // RFC 9449 §11.1: proofs used once; remembered in this process for their acceptance window.
  const dpopMaxAge = options.dpopMaxAgeSec ?? 60;
  const seenProofs = new Map<string, number>();
  const replay = {
    async remember(key: string, expiresAt: number, now: number): Promise<boolean> {
      if (seenProofs.size >= 100_000) for (const [k, until] of seenProofs) if (until <= now) seenProofs.delete(k);
      if (seenProofs.size >= 100_000) seenProofs.clear();
      const until = seenProofs.get(key);
      if (until !== undefined && until > now) return false;
      seenProofs.set(key, expiresAt);
      return true;
    },
    async deleteExpired(): Promise<number> {
      return 0;
    },
  };
  const dpopDeps = { storage: { replay }, clock: { now: () => Date.now() } };
  const origin = (options.publicOrigin ?? (resource?.ok === true ? new URL(resource.uri).origin : undefined))?.replace(/\/+$/, '');

  /** RFC 9449 §7.1: the DPoP proof matches the request, the token and the key the token is bound to. */
  async function checkDpop(token: string, verified: VerifiedToken, request: DpopRequest | undefined): Promise<void> {
    const cnf = verified.claims.cnf as { jkt?: unknown } | undefined;
    const bound = typeof cnf?.jkt === 'string' ? cnf.jkt : undefined;
    if (bound === undefined) throw new TokenRejected(401, 'invalid_token', 'The access token is not bound to a DPoP key: send it as Authorization: Bearer.', undefined, 'token.dpop_not_bound', true);
    if (request === undefined) throw new TokenRejected(401, 'invalid_token', 'This service cannot check DPoP proofs here: send a bearer token.', undefined, 'token.dpop_proof_missing', true);
    let jkt: string;
    try {
      const proof = dpopHeader(request.proof);
      if (proof === undefined) throw new TokenRejected(401, 'invalid_token', 'A DPoP access token needs a DPoP proof: send the DPoP header.', undefined, 'token.dpop_proof_missing', true);
      const base = origin ?? `http://${request.host ?? 'localhost'}`;
      const q = request.path.indexOf('?');
      jkt = (await verifyDpopProof(dpopDeps, proof, { method: request.method, url: `${base}${q === -1 ? request.path : request.path.slice(0, q)}`, accessToken: token, maxAgeSeconds: dpopMaxAge, nonceRequired: false })).jkt;
    } catch (error) {
      if (error instanceof DpopRejected) throw new TokenRejected(401, 'invalid_dpop_proof', error.message, undefined, error.reason, true);
      throw error;
    }
    if (jkt !== bound) throw new TokenRejected(401, 'invalid_token', 'The DPoP proof is not signed with the key the access token is bound to.', undefined, 'token.dpop_key_mismatch', true);
  }

  return {
    verify,
    async authenticate(authorization, anyOfScopes = [], request) {
      if (authorization === undefined || authorization.trim() === '') {
        throw new TokenRejected(401, undefined, 'This resource requires a bearer token: send Authorization: Bearer <access token>.');
      }
      const space = authorization.indexOf(' ');
      const scheme = space === -1 ? authorization : authorization.slice(0, space);
      const token = space === -1 ? '' : authorization.slice(space + 1).trim();
      const lower = scheme.toLowerCase();
      if (lower !== 'bearer' && lower !== 'dpop') throw new TokenRejected(401, undefined, 'This resource accepts only Bearer and DPoP tokens.');
      if (!B64TOKEN.test(token)) throw new TokenRejected(400, 'invalid_request', `The Authorization header must be ${lower === 'dpop' ? 'DPoP' : 'Bearer'} followed by one token.`);
      const verified = await verify(token);
      if (lower === 'dpop') await checkDpop(token, verified, request);
      else if (typeof (verified.claims.cnf as { jkt?: unknown } | undefined)?.jkt === 'string') {
        // RFC 9449 §7.2: a bound token is not a bearer token.
        throw new TokenRejected(401, 'invalid_token', 'The access token is bound to a DPoP key: send it as Authorization: DPoP with a DPoP proof.', undefined, 'token.dpop_bound_as_bearer', true);
      }
      if (anyOfScopes.length > 0 && !anyOfScopes.some((s) => verified.scopes.includes(s))) {
        throw new TokenRejected(403, 'insufficient_scope', `The access token lacks a required scope: one of ${anyOfScopes.join(', ')}.`, anyOfScopes.join(' '));
      }
      return verified;
    },
  };
}

/** token.wrong_resource: the token's audience (RFC 8707 resources) does not name this service. */
function wrongResource(aud: readonly string[], expected: readonly string[]): TokenRejected {
  return new TokenRejected(
    401,
    'invalid_token',
    `The access token was issued for ${aud.length === 0 ? 'no audience' : aud.join(' ').slice(0, 300)}, not for this resource (${expected.join(' ').slice(0, 300)}): request it with resource=${(expected[0] ?? '').slice(0, 300)}.`,
    undefined,
    'token.wrong_resource',
  );
}

function jwtRejection(error: unknown): TokenRejected {
  if (error instanceof joseErrors.JWTExpired) return new TokenRejected(401, 'invalid_token', 'The access token has expired.');
  if (error instanceof joseErrors.JWKSNoMatchingKey) return new TokenRejected(401, 'invalid_token', 'The access token was signed with a key the authorization server does not publish.');
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return new TokenRejected(401, 'invalid_token', 'The access token signature is not valid.');
  if (error instanceof joseErrors.JWTClaimValidationFailed) return new TokenRejected(401, 'invalid_token', `The access token's ${error.claim} claim is not valid here (${error.reason}).`);
  const aboutTheToken = [joseErrors.JWTInvalid, joseErrors.JWSInvalid, joseErrors.JOSEAlgNotAllowed, joseErrors.JOSENotSupported, joseErrors.JWKSMultipleMatchingKeys];
  if (aboutTheToken.some((type) => error instanceof type)) return new TokenRejected(401, 'invalid_token', `The access token is not valid (${(error as joseErrors.JOSEError).code}).`);
  // Anything else (a JWKS or metadata fetch that timed out, failed or answered an error) says
  // nothing about the token: a 503, so the client retries instead of discarding a good token.
  return new TokenRejected(503, 'temporarily_unavailable', `The token could not be checked: the authorization server's keys could not be fetched (${error instanceof Error ? error.message : String(error)}).`);
}
