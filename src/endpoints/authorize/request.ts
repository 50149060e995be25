import type { Application } from '../../domain/model.js';
import type { AuthorizeKit, Ctx, WebResponse } from './context.js';
import { consentOrApprove } from './first-party.js';
import { signInPage } from './pages.js';
import { PENDING_REQUEST_LIFETIME_MS, type Pending } from './pending.js';
import { OAuthError } from '../../errors/oauth-error.js';
import { scopeRefusal } from '../../grants/scope.js';
import { RedirectError, type Target } from './refusals.js';
import { sessionUser } from './session-user.js';
import { checkClient, checkRequest, readParams, requireOAuthActive, type CheckedRequest } from './validate.js';

/**
 * The authorization request itself (RFC 6749 §4.1.1), by GET or by POST (RFC 6749 §3.1): validated,
 * then turned into a pending request and shown as the consent page, or the sign-in page first.
 */

/** After a valid authorization request: consent when signed in (the console: the code), else sign-in. */
async function nextPage(kit: AuthorizeKit, ctx: Ctx, app: Application, pending: Pending): Promise<WebResponse> {
  const current = await sessionUser(kit, ctx);
  if (current.user !== undefined) {
    await kit.sessions.touch(current.session, kit.deps.clock.now());
    ctx.refusal.userName = current.user.userName;
    ctx.refusal.authenticated = true;
    return consentOrApprove(kit, ctx, app, pending, current.user, current.session);
  }
  if (current.session !== undefined || kit.sessions.presented(ctx.req)) ctx.cookies.push(kit.sessions.clear());
  return signInPage(kit, ctx, app, pending);
}

export async function authorizationRequest(kit: AuthorizeKit, ctx: Ctx, source: URLSearchParams): Promise<WebResponse> {
  const { params, repeated } = readParams(source);
  await requireOAuthActive(kit);
  const client = await checkClient(kit, ctx, params.client_id, params.redirect_uri, repeated);
  const target: Target = { redirectUri: client.target, state: params.state ?? null };
  let checked: CheckedRequest;
  try {
    checked = checkRequest(client.app, params, repeated);
  } catch (error) {
    // A scope that is no auth scope at all is scope.unknown (grants/scope.ts); answered to the client as any other.
    const refusal = await scopeRefusal(kit.deps.storage, error);
    throw refusal instanceof OAuthError ? new RedirectError(refusal, target) : refusal;
  }
  const pending: Pending = {
    v: 1,
    c: client.app.clientId,
    r: client.target,
    rs: client.sent,
    s: checked.scopes,
    st: target.state,
    cc: checked.challenge,
    n: checked.nonce,
    exp: kit.deps.clock.now() + PENDING_REQUEST_LIFETIME_MS,
  };
  return nextPage(kit, ctx, client.app, pending);
}
