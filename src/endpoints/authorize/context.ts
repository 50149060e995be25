import type { ResourceLookup } from '../../grants/resource.js';
import type { RefusalRecorder } from '../../audit/refusals.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import type { NeutralRequest, NeutralResponse } from '../../core/request.js';
import type { OAuthError } from '../../errors/oauth-error.js';
import type { RefusalContext } from '../../grants/types.js';
import type { RegistryCache } from '../../registry/cache.js';
import type { PasswordGuard } from '../../registry/lockout.js';
import type { Storage } from '../../storage/types.js';
import type { CsrfGuard } from '../../web/csrf.js';
import type { SessionCookies } from '../../web/session.js';
import type { SecretDeriver } from '../../web/signing.js';
import type { RateLimits } from '../../registry/rate-limits.js';
import type { IdTokenHintDeps } from '../../tokens/id-token-hint.js';
import type { BackchannelLogout } from '../../oidc/backchannel-logout.js';

/**
 * What every step of the authorization endpoint shares: the endpoint's dependencies and web
 * machinery (one per endpoint), and the context of the request being answered (one per attempt).
 */

export interface AuthorizeEndpointDeps {
  readonly cache: Pick<RegistryCache, 'applicationByClientId' | 'peekApplicationByClientId' | 'properties' | 'peekProperties' | 'check' | 'userByName'>;
  readonly storage: Pick<Storage, 'codes' | 'scopes' | 'users' | 'sessions' | 'pushedRequests' | 'applications'>;
  readonly clock: Clock;
  readonly passwords: Pick<PasswordGuard, 'check'>;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
  readonly issuer: () => string;
  /** HMAC keys for session cookies, CSRF tokens and pending requests, derived from the KEK. */
  readonly secrets: SecretDeriver;
  /** Rate limits: sign-in attempts per source address (registry/rate-limits.ts); none when omitted. */
  readonly rateLimits?: RateLimits;
  /** The keys an id_token_hint is verified with (tokens/id-token-hint.ts); absent: every hint is refused as unverifiable. */
  readonly keyring?: IdTokenHintDeps['keyring'];
  /** Back-channel logout, for a sign-out on the consent page ("Sign in as someone else"); none when omitted. */
  readonly backchannel?: Pick<BackchannelLogout, 'sessionsEnded'>;
  /** The known resources (RFC 8707 resource indicators); absent: every `resource` parameter is unknown. */
  readonly resources?: ResourceLookup;
}

/** A page or redirect, with the cookies to set (a header that cannot be folded into one string). */
export interface WebResponse extends NeutralResponse {
  readonly cookies: readonly string[];
}

export interface AuthorizeEndpoint {
  handle(req: NeutralRequest): Promise<WebResponse>;
  /**
   * RFC 9126 §2.1: checks pushed parameters exactly as an authorization request (client, redirect
   * URI, every parameter); throws the OAuthError its page or redirect would have carried.
   */
  checkPushed(req: NeutralRequest, source: URLSearchParams, refusal: RefusalContext): Promise<void>;
  /** The session cookies, for other pages (the admin console) to share. */
  readonly sessions: SessionCookies;
  readonly csrf: CsrfGuard;
}

/** The endpoint's dependencies with the web machinery built from them, made once per endpoint. */
export interface AuthorizeKit {
  readonly deps: AuthorizeEndpointDeps;
  readonly sessions: SessionCookies;
  readonly csrf: CsrfGuard;
  /** The HMAC key that signs pending requests. */
  readonly requestKey: () => Promise<Uint8Array>;
}

/** What a response shares: the request, a nonce, cookies to set, and the refusal context. */
export interface Ctx {
  readonly req: NeutralRequest;
  readonly refusal: RefusalContext;
  readonly cookies: string[];
  /** The form's action: the endpoint path relative to the page (works behind a path prefix). */
  readonly action: string;
}

export function newCtx(req: NeutralRequest): Ctx {
  return { req, refusal: {}, cookies: [], action: req.path.slice(req.path.lastIndexOf('/') + 1) || 'authorize' };
}

/** A response carrying the cookies the request collected on its way. */
export function respond(ctx: Ctx, res: NeutralResponse): WebResponse {
  return { ...res, cookies: ctx.cookies };
}

/** Records a refusal with what the request has learnt so far (client, application, user). */
export async function record(kit: AuthorizeKit, ctx: Ctx, error: OAuthError): Promise<void> {
  await kit.deps.refusals.record({ requestId: ctx.req.requestId, endpoint: 'authorize', remoteAddress: ctx.req.remoteAddress, error, ...ctx.refusal });
}

/** The instance properties, from the cache without waiting when it has them. */
export async function properties(kit: AuthorizeKit) {
  return kit.deps.cache.peekProperties() ?? (await kit.deps.cache.properties());
}
