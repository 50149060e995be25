import type { Application, User } from '../../domain/model.js';
import type { Session } from '../../web/session.js';
import { isConsoleApplication } from '../../registry/guards.js';
import { issueCode } from './code.js';
import type { AuthorizeKit, Ctx, WebResponse } from './context.js';
import { consentPage, signInPage } from './pages.js';
import type { Pending } from './pending.js';
import { authorizationResponse } from './redirect.js';
import type { Target } from './refusals.js';

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

/** Whether the request shows the consent page: the application asks for it, or prompt=consent (Core 1.0 §3.1.2.1). */
export function showsConsent(app: Application, pending: Pending): boolean {
  return asksConsent(app) || (pending.p?.includes('consent') ?? false);
}

/** Where the pending request's response goes. */
export function targetOf(pending: Pending): Target {
  return { redirectUri: pending.r, state: pending.st, ...(pending.rm === undefined ? {} : { mode: pending.rm }) };
}

/**
 * Why this session cannot answer the pending request without a new sign-in, as the notice of the
 * sign-in page; undefined when it can: prompt=login or max_age want a sign-in no older than `la`
 * (Core 1.0 §3.1.2.1), an id_token_hint wants the user it names.
 */
export function unmetSignIn(pending: Pending, user: User, session: Session): string | undefined {
  if (pending.hs !== undefined && pending.hs !== user.id) return `The application asks you to sign in as another user than ${user.userName}.`;
  if (pending.la !== undefined && session.issuedAt < pending.la) return 'The application asks you to sign in again.';
  return undefined;
}

/** Consent when the application asks for it (or prompt=consent); for the console, the code at once (RFC 6749 §4.1.2). */
export async function consentOrApprove(kit: AuthorizeKit, ctx: Ctx, app: Application, pending: Pending, user: User, session: Session): Promise<WebResponse> {
  const unmet = unmetSignIn(pending, user, session);
  if (unmet !== undefined) return signInPage(kit, ctx, app, pending, 200, undefined, undefined, {}, { notice: unmet });
  if (showsConsent(app, pending)) return consentPage(kit, ctx, app, pending, user);
  const code = await issueCode(kit, app, user, pending, kit.deps.clock.now(), session);
  // RFC 9207: iss in every authorization response, as consent.ts sends it.
  return authorizationResponse(ctx, targetOf(pending), { code, state: pending.st, iss: kit.deps.issuer() });
}
