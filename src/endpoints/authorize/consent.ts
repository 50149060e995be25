import { OAuthError } from '../../errors/oauth-error.js';
import type { Application } from '../../domain/model.js';
import { FIELD } from '../../web/authorize-pages.js';
import { record, type AuthorizeKit, type Ctx, type WebResponse } from './context.js';
import { issueCode } from './code.js';
import { unmetSignIn } from './first-party.js';
import { signInPage } from './pages.js';
import type { Pending } from './pending.js';
import { authorizationResponse } from './redirect.js';
import type { Target } from './refusals.js';
import { sessionUser, type SessionUser } from './session-user.js';
import { INACTIVE, inactiveUser } from './sign-in.js';

/**
 * The consent step: the user's decision posted from the consent page. Allow issues a code and
 * redirects with it; deny redirects with access_denied (RFC 6749 §4.1.2.1). The session is read
 * again, so a sign-out, password change or deactivation since the page was shown stops it.
 */

/** The consent form came without a usable session: back to the sign-in page, saying why. */
async function signedOut(kit: AuthorizeKit, ctx: Ctx, app: Application, pending: Pending, current: SessionUser): Promise<WebResponse> {
  // A cookie whose session ended on the server (sign-out, deactivation …) is dropped too.
  if (current.session !== undefined || kit.sessions.presented(ctx.req)) ctx.cookies.push(kit.sessions.clear());
  if ('inactive' in current && current.inactive !== undefined) {
    ctx.refusal.userName = current.inactive.userName;
    const error = inactiveUser();
    await record(kit, ctx, error);
    return signInPage(kit, ctx, app, pending, 403, INACTIVE);
  }
  return signInPage(kit, ctx, app, pending, 200, 'Your sign-in has expired. Sign in again.');
}

export async function consent(kit: AuthorizeKit, ctx: Ctx, app: Application, target: Target, pending: Pending, params: Record<string, string>): Promise<WebResponse> {
  const current = await sessionUser(kit, ctx);
  if (current.user === undefined) return signedOut(kit, ctx, app, pending, current);
  const user = current.user;
  ctx.refusal.userName = user.userName;
  ctx.refusal.authenticated = true;
  const iss = kit.deps.issuer();
  if (params[FIELD.decision] !== 'allow') {
    const error = new OAuthError({
      error: 'access_denied',
      status: 303,
      reason: 'authorize.consent_denied',
      description: 'The user denied access.',
      facts: { requestedScopes: [...pending.s], requestedRedirectUri: target.redirectUri },
    });
    await record(kit, ctx, error);
    return authorizationResponse(ctx, target, { error: error.error, error_description: error.description, state: target.state, iss });
  }
  // prompt=login, max_age, id_token_hint: a consent form from an older or another sign-in is not enough.
  const unmet = unmetSignIn(pending, user, current.session);
  if (unmet !== undefined) return signInPage(kit, ctx, app, pending, 200, undefined, undefined, {}, { notice: unmet });
  const now = kit.deps.clock.now();
  const code = await issueCode(kit, app, user, pending, now, current.session);
  await kit.sessions.touch(current.session, now);
  // RFC 9207: iss in every authorization response, so a client can tell which server answered.
  return authorizationResponse(ctx, target, { code, state: target.state, iss });
}
