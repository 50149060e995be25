import { verifyPassword } from '../../core/crypto.js';
import { invalidGrant, invalidRequest } from '../../errors/errors.js';
import { OAuthError } from '../../errors/oauth-error.js';
import type { Application } from '../../storage/types.js';
import { FIELD } from '../../web/authorize-pages.js';
import { properties, record, type AuthorizeKit, type Ctx, type WebResponse } from './context.js';
import { consentPage, signInPage } from './pages.js';
import type { Pending } from './pending.js';

/**
 * The sign-in step: the user name and password posted from the sign-in page. Success starts a
 * session and shows the consent page; every refusal is recorded and shows the sign-in page again.
 * Lockout is checked first, so a locked account costs no password hash.
 */

const BAD_CREDENTIALS = 'The user name or password is wrong.';
/** Shown when an inactive user signs in, or comes back to consent with a session. */
export const INACTIVE = 'Your account is inactive. Ask an administrator to activate it.';

/** The refusal of an inactive user: access_denied, 403 (RFC 6749 §4.1.2.1). */
export function inactiveUser(): OAuthError {
  return new OAuthError({ error: 'access_denied', status: 403, reason: 'user.inactive', description: INACTIVE });
}

export async function signIn(kit: AuthorizeKit, ctx: Ctx, app: Application, pending: Pending, params: Record<string, string>): Promise<WebResponse> {
  const { deps } = kit;
  const username = params[FIELD.username];
  const password = params[FIELD.password];
  const again = async (error: OAuthError, message: string, name?: string): Promise<WebResponse> => {
    await record(kit, ctx, error);
    return signInPage(kit, ctx, app, pending, error.status, message, name);
  };
  if (username === undefined || password === undefined) {
    return again(invalidRequest.withReason('request.missing_parameter').withDescription('Enter your user name and password.'), 'Enter your user name and password.', username);
  }
  const name = username.slice(0, 100);
  ctx.refusal.userName = username.slice(0, 200);
  const now = deps.clock.now();
  const props = await properties(kit);
  if (deps.lockout.isLocked(username, now)) {
    const message = 'Too many failed attempts for this user. Try again later.';
    return again(invalidGrant.withReason('user.locked_out').withDescription(message), message, name);
  }
  const user = await deps.cache.userByName(username);
  // The same work whether or not the user exists, and the same message (RFC 6749 §10.10).
  const ok = await verifyPassword(password, user?.passwordHash ?? null);
  if (user === undefined || !ok) {
    if (user !== undefined) deps.lockout.recordFailure(username, now, props);
    return again(invalidGrant.withReason('user.bad_credentials').withDescription(BAD_CREDENTIALS), BAD_CREDENTIALS, name);
  }
  deps.lockout.reset(username);
  if (!user.active) return again(inactiveUser(), INACTIVE, name);
  ctx.cookies.push((await kit.sessions.start(user, now)).cookie);
  return consentPage(kit, ctx, app, pending, user);
}
