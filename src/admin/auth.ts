import type { Latchkey } from '../app.js';
import { header, type NeutralRequest } from '../core/request.js';
import { commandLine } from '../core/shell.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { ReasonCode } from '../errors/reasons.js';
import { ADMIN_ROLE } from '../registry/bootstrap.js';
import { ADMIN_SCOPE } from '../registry/scopes.js';
import type { Caller } from '../resource-server/define.js';
import type { TokenOrigin } from '../resource-server/bearer.js';
import type { ConsoleAuth, ConsoleSession } from './console-auth.js';
import { AdminError, adminRoleCommand } from './http.js';

/** Who is calling the admin API, and how. */
export interface AdminCaller {
  readonly userId: string;
  readonly userName: string;
  readonly roles: readonly string[];
  readonly via: 'session' | 'bearer';
  /** Cookie sessions only. */
  readonly session?: ConsoleSession;
}

/** Whose request it was, as far as it is known, for the refusal record. */
export interface AdminSubject {
  readonly clientId?: string;
  readonly applicationName?: string;
  readonly userName?: string;
}

/**
 * A refused admin API request: the answer (status, error code, message) and the refusal recorded
 * for `latchkey explain` (its reason code, hint and whose request it was). `authenticated` says
 * whether the caller proved a credential (a valid token or session) before being refused.
 */
export class AdminRefusal extends AdminError {
  constructor(
    status: 401 | 403,
    code: 'unauthenticated' | 'forbidden' | 'csrf',
    readonly refusal: OAuthError,
    readonly subject: AdminSubject,
    readonly authenticated: boolean,
  ) {
    super(status, code, refusal.description, undefined, status === 401 ? { 'www-authenticate': 'Bearer realm="latchkey-admin"' } : {});
  }
}

/** Whether tokens of this grant may administer (the catalogue's adminApi: never the JWT bearer grant, where an application signs for whomever it names). */
function mayAdminister(latchkey: Latchkey, grantType: string | null): boolean {
  return grantType !== null && latchkey.catalogue.some((g) => g.grantType === grantType && g.adminApi);
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SESSION_ENDED = 'The console session has ended. Sign in again.';

function refusal(status: 401 | 403, reason: ReasonCode, description: string, hint?: string): OAuthError {
  return new OAuthError({ error: status === 401 ? 'invalid_token' : 'access_denied', status, reason, description, ...(hint === undefined ? {} : { hint }) });
}

function refuse(status: 401 | 403, reason: ReasonCode, description: string, subject: AdminSubject, authenticated: boolean, hint?: string): AdminRefusal {
  const code = reason === 'admin.csrf_failed' ? 'csrf' : status === 401 ? 'unauthenticated' : 'forbidden';
  return new AdminRefusal(status, code, refusal(status, reason, description, hint), subject, authenticated);
}

function subjectOf(caller: Caller): AdminSubject {
  return {
    ...(caller.application === null ? {} : { clientId: caller.application.clientId, applicationName: caller.application.name }),
    ...(caller.user === null ? {} : { userName: caller.user.name }),
  };
}

/**
 * The decision on a valid bearer token (RFC 6750): it must come from this instance, from a grant
 * that may administer, for an application allowed the admin API, carry the scope latchkey.admin
 * (effective now: the application must still allow it), and act for a user with the admin role now.
 */
async function admitBearer(latchkey: Latchkey, caller: Caller, origin: TokenOrigin): Promise<AdminCaller> {
  const who = subjectOf(caller);
  if (origin.issuer === 'external') {
    throw refuse(403, 'admin.external_token', 'Tokens of external identity providers cannot use the admin API.', who, true);
  }
  if (!mayAdminister(latchkey, origin.grantType)) {
    throw refuse(403, 'admin.grant_not_allowed', 'Tokens of this grant type cannot use the admin API.', who, true, `grant ${origin.grantType ?? '(none)'}`);
  }
  const app = origin.applicationId === null ? undefined : await latchkey.cache.applicationById(origin.applicationId);
  if (app === undefined || !app.adminApi) {
    const name = app === undefined ? 'its application' : `the application ${app.name}`;
    throw refuse(403, 'admin.application_not_allowed', `This token was issued to ${name}, which is not allowed to use the admin API.`, who, true,
      app === undefined ? undefined : commandLine(['apps', 'update', app.clientId, '--admin-api', 'true']));
  }
  if (!caller.scopes.includes(ADMIN_SCOPE)) {
    throw refuse(403, 'admin.scope_missing', `The token lacks the scope ${ADMIN_SCOPE}; request a token with scope=${ADMIN_SCOPE}.`, who, true, `scopes in effect: ${caller.scopes.join(' ') || '(none)'}`);
  }
  if (caller.user === null) {
    throw refuse(403, 'admin.role_missing', 'This token acts for no user; the admin API needs a user with the admin role.', who, true);
  }
  if (!caller.user.roles.includes(ADMIN_ROLE)) {
    throw refuse(403, 'admin.role_missing', `User ${caller.user.name} lacks the admin role.`, who, true, commandLine(['users', 'update', caller.user.name, '--roles', [...caller.user.roles, ADMIN_ROLE].join(',')]));
  }
  return { userId: caller.user.id, userName: caller.user.name, roles: caller.user.roles, via: 'bearer' };
}

async function authenticateBearer(latchkey: Latchkey, authorization: string): Promise<AdminCaller> {
  const m = /^Bearer[ ]+([\x21-\x7e]+)\s*$/i.exec(authorization);
  if (m === null) throw refuse(401, 'admin.credentials_missing', 'The Authorization header must be "Bearer <access token>".', {}, false);
  let found: { caller: Caller; origin: TokenOrigin };
  try {
    found = await latchkey.bearer.validateWithOrigin(m[1] as string);
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    // The token's own refusal (expired, revoked, unknown …), recorded under the admin endpoint.
    throw new AdminRefusal(401, 'unauthenticated', error.withDescription(`The access token was refused: ${error.description}`), error.subject ?? {}, false);
  }
  return admitBearer(latchkey, found.caller, found.origin);
}

/**
 * Authenticates an admin API request: `Authorization: Bearer <access token>` (no CSRF token
 * needed: a browser never adds that header by itself) or else the console session cookie, with
 * `x-csrf-token` on every state-changing method and, when the browser sends Origin, an Origin equal
 * to the issuer's. Throws AdminRefusal (401 / 403, with its reason code).
 */
export async function authenticateAdmin(latchkey: Latchkey, auth: ConsoleAuth, req: NeutralRequest): Promise<AdminCaller> {
  const authorization = header(req, 'authorization');
  if (authorization !== undefined) return authenticateBearer(latchkey, authorization);
  const now = latchkey.clock.now();
  const session = await auth.read(req, now);
  if (session === undefined) {
    const sent = auth.presented(req);
    throw sent
      ? refuse(401, 'admin.session_ended', SESSION_ENDED, {}, false, 'The cookie names no live session: signed out, expired, ended, or never issued.')
      : refuse(401, 'admin.credentials_missing', 'Sign in to the console, or send Authorization: Bearer <access token with scope latchkey.admin>.', {}, false);
  }
  const { user, admin } = await auth.userOf(session);
  // The same answer as for any cookie that names no session: whether the account still exists or
  // is active is not for a caller holding a session that no longer stands.
  if (user === undefined) throw refuse(401, 'admin.session_ended', SESSION_ENDED, {}, false, 'The session was live, but its account changed (deleted, deactivated or a new password) since it started.');
  const who = { userName: user.userName };
  if (!admin) throw refuse(403, 'admin.role_missing', `User ${user.userName} lacks the admin role; ask an administrator: ${adminRoleCommand(user.userName)}`, who, true);
  if (STATE_CHANGING.has(req.method)) {
    const origin = header(req, 'origin');
    if (origin !== undefined && origin !== new URL(latchkey.issuer()).origin) {
      throw refuse(403, 'admin.csrf_failed', `Cross-origin request refused: Origin ${origin.slice(0, 200)} is not this instance.`, who, true);
    }
    if (!(await auth.csrfValid(session, header(req, 'x-csrf-token')))) {
      throw refuse(403, 'admin.csrf_failed', 'The x-csrf-token header is missing or wrong; read the token from GET /admin/api/v1/session.', who, true);
    }
  }
  return { userId: user.id, userName: user.userName, roles: user.roles, via: 'session', session };
}
