import { invalidGrant, invalidRequest } from '../../errors/errors.js';
import { OAuthError } from '../../errors/oauth-error.js';
import { passwordRefusal } from '../../errors/password-refusal.js';
import type { Application } from '../../domain/model.js';
import { FIELD } from '../../web/authorize-pages.js';
import { properties, record, type AuthorizeKit, type Ctx, type WebResponse } from './context.js';
import { consentOrApprove } from './first-party.js';
import { signInPage } from './pages.js';
import { countAddress } from '../rate-limit.js';
import type { Pending } from './pending.js';

/**
 * The sign-in step: the user name and password posted from the sign-in page. Success starts a
 * session and shows the consent page (for the built-in console, the code at once: first-party.ts);
 * every refusal is recorded and shows the sign-in page again,
 * with the refusal's status and headers (Retry-After while throttled or busy). The password check
 * and its throttling are the password grant's (registry/lockout.ts).
 */

const BAD_CREDENTIALS = 'The user name or password is wrong.';
/** Shown when a signed-in user comes back to consent with a session after being deactivated (a sign-in with the password is answered as a wrong one). */
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
    return signInPage(kit, ctx, app, pending, error.status, message, name, error.headers);
  };
  if (username === undefined || password === undefined) {
    const missing = username === undefined ? FIELD.username : FIELD.password;
    return again(invalidRequest.withReason('request.missing_parameter').withDescription('Enter your user name and password.').withFacts({ missingParameter: missing }), 'Enter your user name and password.', username);
  }
  const name = username.slice(0, 100);
  ctx.refusal.userName = username.slice(0, 200);
  try {
    const byAddress = countAddress(deps.rateLimits, { counted: 0, verdict: undefined }, 'sign-in', ctx.req);
    if (byAddress !== undefined) await byAddress;
  } catch (error) {
    if (error instanceof OAuthError) return again(error, error.description, name);
    throw error;
  }
  const props = await properties(kit);
  // The same answers, in the same time, whether or not the user exists, is inactive or locked
  // (RFC 6749 §10.10, registry/lockout.ts): only an active user's right password is 'ok'.
  const checked = await deps.passwords.check(username, password, ctx.req.remoteAddress, props);
  if (checked.kind !== 'ok') {
    const error = passwordRefusal(checked, invalidGrant.withReason('user.bad_credentials').withDescription(BAD_CREDENTIALS));
    return again(error, error.description, name);
  }
  const { user } = checked;
  const started = await kit.sessions.start(user, deps.clock.now());
  ctx.cookies.push(started.cookie);
  return consentOrApprove(kit, ctx, app, pending, user, started.session);
}
