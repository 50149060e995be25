import { factString, factTime } from '../../errors/fact-values.js';
import { readCookie } from '../../web/cookies.js';
import { FIELD, type FormAction } from '../../web/authorize-pages.js';
import type { AuthorizeKit, Ctx, WebResponse } from './context.js';
import { consent } from './consent.js';
import { signInPage } from './pages.js';
import { openPending, PENDING_REQUEST_LIFETIME_MS, type Pending } from './pending.js';
import type { Application } from '../../domain/model.js';
import { consentOrApprove } from './first-party.js';
import { sessionUser } from './session-user.js';
import { pageError } from './refusals.js';
import { signIn } from './sign-in.js';
import { recheck } from './validate.js';

/**
 * A form posted from one of our pages: sign in, consent, or switch user. The form must be ours
 * (CSRF token, RFC 6749 §10.12), its pending request signed by us and unexpired, and the client
 * still good; then the action runs.
 */

/** prompt=select_account: the user chose to continue as the one signed in. */
async function continueAsCurrent(kit: AuthorizeKit, ctx: Ctx, app: Application, pending: Pending): Promise<WebResponse> {
  const current = await sessionUser(kit, ctx);
  if (current.user === undefined) {
    if (current.session !== undefined || kit.sessions.presented(ctx.req)) ctx.cookies.push(kit.sessions.clear());
    return signInPage(kit, ctx, app, pending, 200, 'Your sign-in has expired. Sign in again.');
  }
  ctx.refusal.userName = current.user.userName;
  ctx.refusal.authenticated = true;
  return consentOrApprove(kit, ctx, app, pending, current.user, current.session);
}

export async function form(kit: AuthorizeKit, ctx: Ctx, params: Record<string, string>): Promise<WebResponse> {
  const action = params[FIELD.action] as FormAction | undefined;
  const pending = await openPending(kit, params[FIELD.request]);
  if (pending !== undefined) ctx.refusal.clientId = pending.c;
  // The facts of a refusal of this form: which form, whether its pending request verified (never a field's value).
  const formFacts = { formAction: factString(params[FIELD.action], 64), pendingRequestValid: pending !== undefined };
  if (action !== 'sign_in' && action !== 'consent' && action !== 'switch_user' && action !== 'continue') {
    throw pageError('authorize.request_invalid', 'The form sent is not one of ours. Go back to the application and start again.').withFacts(formFacts);
  }
  if (!(await kit.csrf.verify(ctx.req, action, params[FIELD.csrf]))) {
    throw pageError('authorize.csrf_failed', 'The form could not be verified. Go back to the application and start again, with cookies allowed for this site.', 403, 'access_denied').withFacts({
      ...formFacts,
      csrfCookiePresent: readCookie(ctx.req, kit.csrf.name()) !== undefined,
      csrfTokenPresent: params[FIELD.csrf] !== undefined,
    });
  }
  if (pending === undefined) throw pageError('authorize.request_invalid', 'The sign-in request was altered or is not one of ours. Go back to the application and start again.').withFacts(formFacts);
  if (pending.exp <= kit.deps.clock.now()) {
    throw pageError('authorize.request_expired', 'The sign-in request has expired. Go back to the application and start again.').withFacts({
      ...formFacts,
      requestStartedAt: factTime(pending.exp - PENDING_REQUEST_LIFETIME_MS),
      requestExpiredAt: factTime(pending.exp),
    });
  }
  const { app, target } = await recheck(kit, ctx, pending);
  switch (action) {
    case 'sign_in':
      return signIn(kit, ctx, app, pending, params);
    case 'consent':
      return consent(kit, ctx, app, target, pending, params);
    case 'switch_user': {
      // Signing in as someone else signs this user out: the session ends on the server too, and
      // the applications signed in through it are told (Back-Channel Logout 1.0).
      const now = kit.deps.clock.now();
      const session = await kit.sessions.read(ctx.req, now);
      if (session !== undefined) {
        await kit.sessions.end(session, now);
        kit.deps.backchannel?.sessionsEnded([{ id: session.id, userId: session.userId, kind: 'signin' }]);
      }
      ctx.cookies.push(kit.sessions.clear());
      return signInPage(kit, ctx, app, pending);
    }
    case 'continue':
      return continueAsCurrent(kit, ctx, app, pending);
  }
}
