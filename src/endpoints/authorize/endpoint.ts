import { mediaType, type NeutralRequest } from '../../core/request.js';
import { parameterName } from '../../core/form.js';
import { callerValue } from '../../errors/caller-value.js';
import { OAuthError } from '../../errors/oauth-error.js';
import { decideWithFreshCache } from '../../registry/fresh-cache.js';
import { StorageError } from '../../storage/types.js';
import { FIELD } from '../../web/authorize-pages.js';
import { CsrfGuard } from '../../web/csrf.js';
import { SessionCookies } from '../../web/session.js';
import { keyCache, KEY_PURPOSE } from '../../web/signing.js';
import { newCtx, record, type AuthorizeEndpoint, type AuthorizeEndpointDeps, type AuthorizeKit, type Ctx, type WebResponse } from './context.js';
import { form } from './form.js';
import { errorPage, failurePage } from './pages.js';
import { redirectRefusal } from './redirect.js';
import { reasonOf, RedirectError, pageError } from './refusals.js';
import { authorizationRequest, checkAuthorization } from './request.js';
import { readParams } from './validate.js';

/**
 * The authorization endpoint: the authorization code flow with PKCE, sign-in and consent pages.
 * @see RFC 6749 §3.1, §4.1; RFC 7636; RFC 9207; RFC 9700 (OAuth 2.0 Security BCP)
 *
 * A request goes: authorization request (GET, or POST per RFC 6749 §3.1) → sign-in page (unless a
 * session cookie names an active user) → consent page → redirect with code, state and iss. The
 * request travels between the pages as a signed hidden field (10 minutes); forms carry CSRF tokens
 * bound to a pre-session cookie. Until the client and redirect URI are known to be good, errors are
 * shown as a page and never redirected (RFC 6749 §4.1.2.1); after that, they go to the client.
 */

export const AUTHORIZE_PATHS: ReadonlySet<string> = new Set(['/oauth/authorize', '/oauth_auth.do']);

function createKit(deps: AuthorizeEndpointDeps): AuthorizeKit {
  const key = keyCache(deps.secrets);
  // Secure cookies (and the __Host- prefix) when the issuer is https; an issuer not yet known is not.
  const secure = (): boolean => {
    try {
      return deps.issuer().startsWith('https:');
    } catch {
      return false;
    }
  };
  const sessions = new SessionCookies({ store: deps.storage.sessions, kind: 'signin', secure });
  const csrf = new CsrfGuard({ key: () => key(KEY_PURPOSE.csrf), secure });
  return { deps, sessions, csrf, requestKey: () => key(KEY_PURPOSE.authorizeRequest) };
}

/** Routes a request: an authorization request (GET, or POST per RFC 6749 §3.1), or one of our forms. */
async function process(kit: AuthorizeKit, ctx: Ctx): Promise<WebResponse> {
  const { req } = ctx;
  if (req.method === 'GET' || req.method === 'HEAD') return authorizationRequest(kit, ctx, req.query);
  if (req.method !== 'POST') {
    throw pageError('request.method_not_allowed', 'The authorization endpoint accepts GET and POST.', 405).withFacts({ method: callerValue(req.method, 20) });
  }
  const media = mediaType(req.contentType);
  if (media !== 'application/x-www-form-urlencoded') {
    throw pageError('request.invalid_content_type', 'The request body must be application/x-www-form-urlencoded (RFC 6749 section 3.1).').withFacts({ contentType: media === undefined ? null : callerValue(media) });
  }
  const body = new URLSearchParams(req.body ?? '');
  // Our own forms carry lk_action; anything else is an authorization request sent by POST (RFC 6749 §3.1).
  if (!body.has(FIELD.action)) return authorizationRequest(kit, ctx, body);
  const { params, repeated } = readParams(body);
  if (repeated.size > 0) throw pageError('request.repeated_parameter', 'A form field was sent more than once.').withFacts({ repeatedParameter: parameterName([...repeated][0] ?? '') });
  return form(kit, ctx, params);
}

/**
 * As at the token endpoint: a refusal decided on cached registry state is decided again once the
 * cache is known to be current (a redirect URI registered a moment ago). Returns the answer and
 * the context of the attempt that gave it, for the refusal record.
 */
async function processWithRetry(kit: AuthorizeKit, req: NeutralRequest, attempt: { ctx: Ctx }): Promise<WebResponse> {
  return await decideWithFreshCache(kit.deps.cache, () => process(kit, attempt.ctx), {
    reasonOf,
    again: () => {
      attempt.ctx = newCtx(req);
      return process(kit, attempt.ctx);
    },
  });
}

/** Answers what processing threw: a refusal to the client or as a page; anything else as a failure page. */
async function answerThrown(kit: AuthorizeKit, ctx: Ctx, error: unknown): Promise<WebResponse> {
  if (error instanceof RedirectError) return redirectRefusal(kit, ctx, error);
  if (error instanceof OAuthError) {
    await record(kit, ctx, error);
    return errorPage(ctx, error);
  }
  const unavailable = error instanceof StorageError && error.code === 'unavailable';
  kit.deps.logger.error({ requestId: ctx.req.requestId, err: error }, unavailable ? 'storage unavailable' : 'authorization endpoint failed');
  return failurePage(ctx.req, unavailable);
}

export function createAuthorizeEndpoint(deps: AuthorizeEndpointDeps): AuthorizeEndpoint {
  const kit = createKit(deps);
  return {
    sessions: kit.sessions,
    csrf: kit.csrf,
    async checkPushed(req, source, refusal) {
      const ctx: Ctx = { req, refusal, cookies: [], action: 'authorize' };
      try {
        await checkAuthorization(kit, ctx, source, { pushed: true });
      } catch (error) {
        // Answered as JSON by the pushed authorization request endpoint (RFC 9126 §2.3), never redirected.
        if (error instanceof RedirectError) throw error.error;
        throw error;
      }
    },
    async handle(req) {
      const attempt = { ctx: newCtx(req) };
      try {
        return await processWithRetry(kit, req, attempt);
      } catch (error) {
        return answerThrown(kit, attempt.ctx, error);
      }
    },
  };
}
