import type { Application, User } from '../../domain/model.js';
import type { Session } from '../../web/session.js';
import { isConsoleApplication } from '../../registry/guards.js';
import { issueCode } from './code.js';
import type { AuthorizeKit, Ctx, WebResponse } from './context.js';
import { consentPage } from './pages.js';
import type { Pending } from './pending.js';
import { redirect, withParams } from './redirect.js';

/**
 * The step after a signed-in user is known: the consent page, except for the built-in console.
 *
 * The console (client id latchkey-console) is part of this instance, not a third party asking for
 * access: signing in to it is the consent, and its callback decides who may enter (the admin role,
 * src/admin/console-auth.ts). Nothing else is exempt: not another application, not one named like
 * the console, not one allowed the admin API. The request was validated as any other (registered
 * redirect URI, PKCE S256, scopes), and the code goes only to the console's registered callback,
 * which redeems it only with the state and PKCE verifier of the sign-in it started itself.
 */

/** Whether the application's users are asked to consent (every application but the console). */
export function asksConsent(app: Application): boolean {
  return !isConsoleApplication(app);
}

/** Consent when the application asks for it; for the console, the code at once (RFC 6749 §4.1.2). */
export async function consentOrApprove(kit: AuthorizeKit, ctx: Ctx, app: Application, pending: Pending, user: User, session: Session): Promise<WebResponse> {
  if (asksConsent(app)) return consentPage(kit, ctx, app, pending, user);
  const code = await issueCode(kit, app, user, pending, kit.deps.clock.now(), session);
  // RFC 9207: iss in every authorization response, as consent.ts sends it.
  return redirect(ctx, withParams(pending.r, { code, state: pending.st, iss: kit.deps.issuer() }));
}
