import type { Latchkey } from '../app.js';
import { header, type NeutralRequest } from '../core/request.js';
import { OAuthError } from '../errors/oauth-error.js';
import { ADMIN_ROLE } from '../registry/bootstrap.js';
import type { ConsoleAuth, ConsoleSession } from './console-auth.js';
import { AdminError, adminRoleCommand, forbidden, unauthenticated } from './http.js';

/** Who is calling the admin API, and how. */
export interface AdminCaller {
  readonly userId: string;
  readonly userName: string;
  readonly roles: readonly string[];
  readonly via: 'session' | 'bearer';
  /** Cookie sessions only. */
  readonly session?: ConsoleSession;
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/**
 * Authenticates an admin API request: `Authorization: Bearer <access token>` (validated like any
 * API call; no CSRF token needed, a browser never adds that header by itself) or else the console
 * session cookie, with `x-csrf-token` on every state-changing method and, when the browser sends
 * Origin, an Origin equal to the issuer's. Throws AdminError 401 / 403.
 */
export async function authenticateAdmin(latchkey: Latchkey, auth: ConsoleAuth, req: NeutralRequest): Promise<AdminCaller> {
  const authorization = header(req, 'authorization');
  if (authorization !== undefined) {
    const m = /^Bearer[ ]+([\x21-\x7e]+)\s*$/i.exec(authorization);
    if (m === null) throw unauthenticated('The Authorization header must be "Bearer <access token>".');
    let caller;
    try {
      caller = await latchkey.bearer.validate(m[1] as string);
    } catch (error) {
      if (error instanceof OAuthError) throw unauthenticated(`The access token was refused: ${error.description}`);
      throw error;
    }
    if (caller.user === null) throw forbidden('This token acts for no user (an application without an application user); the admin API needs a user with the admin role.');
    if (!caller.user.roles.includes(ADMIN_ROLE)) throw forbidden(`User ${caller.user.name} lacks the admin role; ask an administrator: ${adminRoleCommand(caller.user.name)}`);
    return { userId: caller.user.id, userName: caller.user.name, roles: caller.user.roles, via: 'bearer' };
  }
  const now = latchkey.clock.now();
  const session = await auth.read(req, now);
  if (session === undefined) throw unauthenticated();
  const { user, admin } = await auth.userOf(session);
  if (user === undefined) throw unauthenticated('The console session has ended (the account changed). Sign in again.');
  if (!admin) throw forbidden(`User ${user.userName} lacks the admin role; ask an administrator: ${adminRoleCommand(user.userName)}`);
  if (STATE_CHANGING.has(req.method)) {
    const origin = header(req, 'origin');
    if (origin !== undefined && origin !== new URL(latchkey.issuer()).origin) {
      throw new AdminError(403, 'csrf', `Cross-origin request refused: Origin ${origin.slice(0, 200)} is not this instance.`);
    }
    if (!(await auth.csrfValid(session, header(req, 'x-csrf-token')))) {
      throw new AdminError(403, 'csrf', 'The x-csrf-token header is missing or wrong; read the token from GET /admin/api/v1/session.');
    }
  }
  return { userId: user.id, userName: user.userName, roles: user.roles, via: 'session', session };
}
