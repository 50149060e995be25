import type { Session } from '../../web/session.js';
import type { User } from '../../domain/model.js';
import type { AuthorizeKit, Ctx } from './context.js';

/**
 * Who the browser is signed in as, if anyone: the session cookie is only a claim until the user is
 * read back and found active (a password change or a deactivation also ends the session itself).
 */

/** A valid session and its user; or no user, with the session (to clear) and an inactive user (to say so). */
export type SessionUser =
  | { readonly session: Session; readonly user: User }
  | { readonly session: Session | undefined; readonly user: undefined; readonly inactive?: User };

/** The signed-in user of the request's session, when it is valid and the user active. */
export async function sessionUser(kit: AuthorizeKit, ctx: Ctx): Promise<SessionUser> {
  const { sessions } = kit;
  const session = await sessions.read(ctx.req, kit.deps.clock.now());
  if (session === undefined) return { session, user: undefined };
  // Read from storage, not the cache: a deactivation must stop the next consent at once.
  const user = await kit.deps.storage.users.byId(session.userId);
  if (user !== undefined && sessions.validFor(session, user)) return { session, user };
  return user !== undefined && user.id === session.userId && !user.active ? { session, user: undefined, inactive: user } : { session, user: undefined };
}
