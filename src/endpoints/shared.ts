import type { RefusalRecorder } from '../audit/refusals.js';
import { authenticateClient, presentedClient, secretPostRefusal, SECRET_POST_PROPERTY, type ClientContext } from '../client-auth/authenticate.js';
import type { AuthenticatedClient, ClientAuthMethod, ClientAuthMethodName, PresentedClient } from '../client-auth/types.js';
import { tokenKey } from '../core/crypto.js';
import type { Logger } from '../core/logger.js';
import { mediaType, type NeutralRequest, type NeutralResponse } from '../core/request.js';
import { callerValue } from '../errors/caller-value.js';
import { invalidRequest } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { RefusalContext } from '../grants/types.js';
import type { RegistryCache } from '../registry/cache.js';
import { decideWithFreshCache } from '../registry/fresh-cache.js';
import { StorageError } from '../storage/types.js';
import { isJwtShaped, jtiKey, AccessJwtRejected, verifyAccessJwt, type AccessJwtClaims, type JwtDeps } from '../tokens/jwt.js';

/**
 * What the form-posting OAuth endpoints (token, introspection, revocation) share: the transport
 * checks, the JSON response shapes, and the refusal/outage handling around the protocol work.
 */

/** RFC 6749 §5.1: "The authorization server MUST include ... Cache-Control: no-store". */
export const JSON_NO_STORE = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', pragma: 'no-cache' } as const;

export interface TransportRules {
  /** How descriptions name the endpoint ("The token endpoint accepts only POST."). */
  readonly name: string;
  /** Where the form encoding is required, for the description ("RFC 6749 section 3.2"). */
  readonly section: string;
  /** Parameters that must never travel in a URL, where proxies and logs keep them. */
  readonly sensitiveQuery: readonly string[];
}

/** POST, form-encoded, nothing sensitive in the query string. */
export function checkTransport(req: NeutralRequest, rules: TransportRules): void {
  // RFC 6749 §3.2, RFC 7662 §2.1, RFC 7009 §2.1: these endpoints are called with HTTP POST.
  if (req.method !== 'POST') {
    throw invalidRequest
      .withReason('request.method_not_allowed')
      .withDescription(`The ${rules.name} accepts only POST.`)
      .withHeaders({ allow: 'POST' })
      .withFacts({ method: callerValue(req.method, 20) });
  }
  const sensitive = rules.sensitiveQuery;
  for (let i = 0; i < sensitive.length; i++) {
    const name = sensitive[i] as string;
    if (req.query.has(name)) {
      throw invalidRequest
        .withReason('request.credentials_in_query')
        .withDescription(`The parameter ${name} was sent in the URL query. Send it in the form-encoded request body.`)
        .withFacts({ queryParameter: name });
    }
  }
  const media = mediaType(req.contentType);
  if (media !== 'application/x-www-form-urlencoded') {
    throw invalidRequest
      .withReason('request.invalid_content_type')
      .withDescription(`The request body must be application/x-www-form-urlencoded (${rules.section}).`)
      .withFacts({ contentType: media === undefined ? null : callerValue(media) });
  }
}

export function jsonResponse(status: number, body: object): NeutralResponse {
  return { status, headers: JSON_NO_STORE, body: JSON.stringify(body) };
}

/** An RFC 6749 §5.2 error response (with the error's own headers: WWW-Authenticate, Allow). */
export function errorResponse(error: OAuthError): NeutralResponse {
  return { status: error.status, headers: { ...JSON_NO_STORE, ...error.headers }, body: JSON.stringify(error.toBody()) };
}

/**
 * The storage could not be reached: nothing was decided, so the caller must retry rather than
 * conclude anything (RFC 7009 §2.2.1: after a 503 "the client must assume the token still exists").
 */
export function unavailableResponse(requestId?: string): NeutralResponse {
  const quote = requestId === undefined ? '' : ` If it persists, quote request id ${requestId}.`;
  return {
    status: 503,
    headers: { ...JSON_NO_STORE, 'retry-after': '1' },
    body: JSON.stringify({ error: 'temporarily_unavailable', error_description: `The service is temporarily unavailable and nothing was decided. Retry shortly.${quote}` }),
  };
}

export interface AnswerDeps {
  readonly cache: Pick<RegistryCache, 'check'>;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
}

/**
 * Runs an endpoint's protocol work and turns what it throws into a response: an OAuthError is
 * recorded as a refusal (under `endpoint`) and answered per RFC 6749 §5.2; an unreachable storage
 * is a 503 with Retry-After; anything else a 500 that names the request id and nothing more.
 * A refusal decided from cached registry state is decided once more after making sure the cache
 * is current (a setting changed a moment ago must not refuse this request); successes keep using
 * the cache, and only refusals pay the one version check.
 */
export async function answer(
  deps: AnswerDeps,
  endpoint: string,
  req: NeutralRequest,
  process: (req: NeutralRequest, refusal: RefusalContext) => Promise<NeutralResponse>,
): Promise<NeutralResponse> {
  let refusal: RefusalContext = {};
  try {
    return await decideWithFreshCache(deps.cache, () => process(req, refusal), {
      again: () => {
        refusal = {};
        return process(req, refusal);
      },
    });
  } catch (error) {
    if (error instanceof OAuthError) {
      await deps.refusals.record({ requestId: req.requestId, endpoint, remoteAddress: req.remoteAddress, error, ...refusal });
      return errorResponse(error);
    }
    if (error instanceof StorageError && error.code === 'unavailable') {
      deps.logger.error({ requestId: req.requestId, err: error }, 'storage unavailable');
      return unavailableResponse(req.requestId);
    }
    deps.logger.error({ requestId: req.requestId, err: error }, `${endpoint} endpoint failed`);
    return jsonResponse(500, { error: 'server_error', error_description: `Internal error. Quote request id ${req.requestId}.` });
  }
}

type ClientCache = Parameters<typeof authenticateClient>[0];

/**
 * Client authentication as at the token endpoint (every method in `methods`), noting in the
 * refusal record who the caller is as far as it got. `refuse`, when given, may refuse a method
 * before anything is looked up in the registry (the introspection endpoint refuses `none`).
 * @see RFC 6749 §2.3
 */
export async function authenticateCaller(
  deps: { readonly cache: ClientCache & Partial<Pick<RegistryCache, 'properties' | 'peekProperties'>>; readonly clientAuthMethods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod> },
  req: NeutralRequest,
  params: Readonly<Record<string, string>>,
  refusal: RefusalContext,
  refuse?: (presented: PresentedClient) => OAuthError | undefined,
): Promise<AuthenticatedClient> {
  const context: ClientContext = {};
  try {
    const presented = presentedClient(deps.clientAuthMethods, req, params);
    context.clientId = presented.clientId;
    if (presented.method === 'client_secret_post' && deps.cache.properties !== undefined) {
      const props = deps.cache.peekProperties?.() ?? (await deps.cache.properties());
      const off = secretPostRefusal(deps.clientAuthMethods, presented, props[SECRET_POST_PROPERTY]);
      if (off !== undefined) throw off;
    }
    const refused = refuse?.(presented);
    if (refused !== undefined) throw refused;
    const client = await authenticateClient(deps.cache, presented, context);
    refusal.authenticated = true;
    return client;
  } finally {
    if (context.clientId !== undefined) refusal.clientId = context.clientId;
    if (context.applicationName !== undefined) refusal.applicationName = context.applicationName;
  }
}

/** Where one of our tokens is stored, and, for a JWT access token, its verified claims. */
export interface LocatedToken {
  /** The key of its record (storage.tokens.byHash). */
  readonly key: string;
  readonly claims?: Readonly<Record<string, unknown>>;
}

/**
 * Finds the record key of a presented token: undefined when it cannot be one of ours (a JWT whose
 * signature is not ours). Throws only when it cannot tell (StorageError unavailable).
 */
export type TokenLocator = (token: string) => Promise<LocatedToken | undefined>;

/** Opaque tokens only: the key is a function of the token. */
export const opaqueLocator: TokenLocator = (token) => Promise.resolve({ key: tokenKey(token) });

/**
 * Opaque tokens and our JWT access tokens (tokens/jwt.ts): a JWT maps to its record (jtiKey of its
 * jti) only when our published key signed it, expired or not; any other JWT-shaped string (another
 * issuer's, a forged or mangled one) is not ours. A failure to read the keys is not a verdict about
 * the token: it propagates (StorageError unavailable: 503) instead of becoming "not ours".
 * @see recordKeyOf in tokens/jwt.ts, which this follows (and which answers the key only)
 */
export function createTokenLocator(jwt: JwtDeps, cache?: Pick<RegistryCache, 'onInvalidate'>): TokenLocator {
  /**
   * Verified JWTs by token, until they expire: a signature is checked once (jose's ES256 verify is
   * the largest cost of introspecting a JWT), then the token's record decides as for an opaque
   * token. Memory only, never logged; dropped on any registry change (a key that stops being
   * published), as the bearer validator's cache is.
   */
  let verified = new Map<string, { readonly located: { readonly key: string; readonly claims: AccessJwtClaims }; readonly until: number }>();
  cache?.onInvalidate(() => {
    verified = new Map();
  });
  return async (token) => {
    if (!isJwtShaped(token)) return { key: tokenKey(token) };
    const hit = verified.get(token);
    if (hit !== undefined && hit.until > jwt.clock.now()) return hit.located;
    let keysFailed: { readonly error: unknown } | undefined;
    const keyring: JwtDeps['keyring'] = {
      verificationKey: (kid, now) =>
        jwt.keyring.verificationKey(kid, now).catch((error: unknown) => {
          keysFailed = { error };
          throw error;
        }),
    };
    try {
      const claims = await verifyAccessJwt({ keyring, issuer: jwt.issuer, clock: jwt.clock }, token);
      const located = { key: jtiKey(claims.jti), claims };
      if (verified.size >= 10_000) verified = new Map();
      verified.set(token, { located, until: claims.exp * 1000 });
      return located;
    } catch (error) {
      if (keysFailed !== undefined) throw keysFailed.error;
      if (!(error instanceof AccessJwtRejected)) throw error;
      if (error.code === 'expired' && error.claims !== undefined) return { key: jtiKey(error.claims.jti), claims: error.claims };
      return undefined;
    }
  };
}
