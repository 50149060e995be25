import { decodeJwt } from 'jose';
import type { Latchkey } from '../app.js';
import { header, type NeutralRequest } from '../core/request.js';
import type { Facts } from '../domain/model.js';
import { sessionHandle, tokenHandle } from '../core/crypto.js';
import { commandLine } from '../core/shell.js';
import { OAuthError } from '../errors/oauth-error.js';
import { invalidToken } from '../errors/errors.js';
import type { ReasonCode } from '../errors/reasons.js';
import { ADMIN_ROLE } from '../registry/bootstrap.js';
import { ADMIN_SCOPE } from '../registry/scopes.js';
import type { Caller } from '../resource-server/define.js';
import type { TokenOrigin } from '../resource-server/bearer.js';
import type { ConsoleAuth, ConsoleSession } from './console-auth.js';
import type { SessionInspection } from '../web/session.js';
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

  /** The same refusal with more facts of the case (for the administrator's explanation; the answer is unchanged). */
  withFacts(facts: Facts): AdminRefusal {
    return new AdminRefusal(this.status as 401 | 403, this.code as 'unauthenticated' | 'forbidden' | 'csrf', this.refusal.withFacts(facts), this.subject, this.authenticated);
  }
}

/** Whether tokens of this grant may administer (the catalogue's adminApi: never the JWT bearer grant, where an application signs for whomever it names). */
function mayAdminister(latchkey: Latchkey, grantType: string | null): boolean {
  return grantType !== null && latchkey.catalogue.some((g) => g.grantType === grantType && g.adminApi);
}

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const SESSION_ENDED = 'The console session has ended. Sign in again.';

function refusal(status: 401 | 403, reason: ReasonCode, description: string, hint?: string, facts?: Facts): OAuthError {
  return new OAuthError({ error: status === 401 ? 'invalid_token' : 'access_denied', status, reason, description, ...(hint === undefined ? {} : { hint }), ...(facts === undefined ? {} : { facts }) });
}

function refuse(status: 401 | 403, reason: ReasonCode, description: string, subject: AdminSubject, authenticated: boolean, hint?: string, facts?: Facts): AdminRefusal {
  const code = reason === 'admin.csrf_failed' ? 'csrf' : status === 401 ? 'unauthenticated' : 'forbidden';
  return new AdminRefusal(status, code, refusal(status, reason, description, hint, facts), subject, authenticated);
}

/**
 * The facts of a valid token the admin API refused (built only when refusing): its issuer for an
 * identity provider's token; else its handle, grant, granted scopes and issue time.
 */
async function tokenFacts(latchkey: Latchkey, token: string, origin: TokenOrigin): Promise<Facts> {
  if (origin.issuer === 'external') {
    try {
      const iss = decodeJwt(token).iss;
      return typeof iss === 'string' ? { tokenIssuer: iss.slice(0, 200) } : {};
    } catch {
      return {};
    }
  }
  return latchkey.bearer.facts(token).catch(() => ({}));
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
    throw refuse(403, 'admin.grant_not_allowed', 'Tokens of this grant type cannot use the admin API.', who, true, `grant ${origin.grantType ?? '(none)'}`, { tokenGrant: origin.grantType });
  }
  const app = origin.applicationId === null ? undefined : await latchkey.cache.applicationById(origin.applicationId);
  if (app === undefined || !app.adminApi) {
    const name = app === undefined ? 'its application' : `the application ${app.name}`;
    throw refuse(403, 'admin.application_not_allowed', `This token was issued to ${name}, which is not allowed to use the admin API.`, who, true,
      app === undefined ? undefined : commandLine(['apps', 'update', app.clientId, '--admin-api', 'true']));
  }
  if (!caller.scopes.includes(ADMIN_SCOPE)) {
    throw refuse(403, 'admin.scope_missing', `The token lacks the scope ${ADMIN_SCOPE}; request a token with scope=${ADMIN_SCOPE}.`, who, true, `scopes in effect: ${caller.scopes.join(' ') || '(none)'}`, { requiredScopes: [ADMIN_SCOPE] });
  }
  if (caller.user === null) {
    throw refuse(403, 'admin.role_missing', 'This token acts for no user; the admin API needs a user with the admin role.', who, true, undefined, { requiredRoles: [ADMIN_ROLE], userRoles: [] });
  }
  if (!caller.user.roles.includes(ADMIN_ROLE)) {
    throw refuse(403, 'admin.role_missing', `User ${caller.user.name} lacks the admin role.`, who, true, commandLine(['users', 'update', caller.user.name, '--roles', [...caller.user.roles, ADMIN_ROLE].join(',')]), { requiredRoles: [ADMIN_ROLE] });
  }
  return { userId: caller.user.id, userName: caller.user.name, roles: caller.user.roles, via: 'bearer' };
}

async function authenticateBearer(latchkey: Latchkey, authorization: string): Promise<AdminCaller> {
  const m = /^Bearer[ ]+([\x21-\x7e]+)\s*$/i.exec(authorization);
  if (m === null) {
    const scheme = /^\S*/.exec(authorization)?.[0] ?? '';
    throw refuse(401, 'admin.credentials_missing', 'The Authorization header must be "Bearer <access token>".', {}, false, undefined, { authMethod: scheme.toLowerCase().replace(/[^a-z0-9-]/g, '?').slice(0, 20) });
  }
  const token = m[1] as string;
  let found: { caller: Caller; origin: TokenOrigin };
  try {
    found = await latchkey.bearer.validateWithOrigin(token);
    // RFC 8707: a token issued for resources is for them; the admin API is none of them.
    latchkey.bearer.requireAudience(found.caller, [`${latchkey.issuer()}/admin/api/v1`]);
    // RFC 9449 §7.2: a DPoP-bound token is no bearer token (the admin API takes bearer tokens only).
    const bound = latchkey.bearer.bindingOf(found.caller);
    if (bound !== undefined) throw invalidToken('token.dpop_bound_as_bearer', 'The access token is bound to a DPoP key; the admin API takes bearer tokens only.').withFacts({ token: tokenHandle(bound.hash), boundJkt: bound.jkt });
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    // The token's own refusal (expired, revoked, unknown …), recorded under the admin endpoint.
    throw new AdminRefusal(401, 'unauthenticated', error.withDescription(`The access token was refused: ${error.description}`), error.subject ?? {}, false);
  }
  try {
    return await admitBearer(latchkey, found.caller, found.origin);
  } catch (error) {
    throw error instanceof AdminRefusal ? error.withFacts({ ...(await tokenFacts(latchkey, token, found.origin)), ...(error.refusal.facts ?? {}), authMethod: 'bearer' }) : error;
  }
}

/** What the request's cookie says of the console session that no longer stands (built only when refusing). */
async function endedSession(latchkey: Latchkey, auth: ConsoleAuth, req: NeutralRequest, now: number): Promise<{ facts: Facts; subject: AdminSubject }> {
  const seen: SessionInspection = await auth.inspect(req, now).catch((): SessionInspection => ({ state: 'unknown' }));
  if (!('handle' in seen)) return { facts: { sessionState: 'not a console session of this instance (unknown, deleted, or altered)' }, subject: {} };
  const user = await latchkey.storage.users.byId(seen.userId).catch(() => undefined);
  const facts: Facts = {
    session: seen.handle,
    sessionState: seen.state === 'not_yet_valid' ? 'not valid yet (its start is in the future: check the clocks)' : seen.state,
    ...(seen.endedAt === null ? {} : { sessionEndedAt: new Date(seen.endedAt).toISOString() }),
  };
  return { facts, subject: user === undefined ? {} : { userName: user.userName } };
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
    if (!sent) throw refuse(401, 'admin.credentials_missing', 'Sign in to the console, or send Authorization: Bearer <access token with scope latchkey.admin>.', {}, false, undefined, { authMethod: 'none' });
    const ended = await endedSession(latchkey, auth, req, now);
    throw refuse(401, 'admin.session_ended', SESSION_ENDED, ended.subject, false, 'The cookie names no live session: signed out, expired, ended, or never issued.', ended.facts);
  }
  const { user, admin } = await auth.userOf(session);
  // The same answer as for any cookie that names no session: whether the account still exists or
  // is active is not for a caller holding a session that no longer stands (the facts tell the administrator).
  if (user === undefined) {
    const still = await latchkey.storage.users.byId(session.userId).catch(() => undefined);
    const facts: Facts = { session: sessionHandle(session.id), sessionState: still === undefined ? 'its user was deleted' : 'its user is inactive' };
    throw refuse(401, 'admin.session_ended', SESSION_ENDED, still === undefined ? {} : { userName: still.userName }, false, 'The session was live, but its account changed (deleted, deactivated or a new password) since it started.', facts);
  }
  const who = { userName: user.userName };
  if (!admin) throw refuse(403, 'admin.role_missing', `User ${user.userName} lacks the admin role; ask an administrator: ${adminRoleCommand(user.userName)}`, who, true, undefined, { requiredRoles: [ADMIN_ROLE], authMethod: 'session' });
  if (STATE_CHANGING.has(req.method)) {
    const origin = header(req, 'origin');
    const expected = () => new URL(latchkey.issuer()).origin;
    const csrfFacts = (): Facts => ({ csrfTokenSent: header(req, 'x-csrf-token') !== undefined, requestOrigin: origin === undefined ? null : origin.slice(0, 200), expectedOrigin: expected(), authMethod: 'session' });
    if (origin !== undefined && origin !== expected()) {
      throw refuse(403, 'admin.csrf_failed', `Cross-origin request refused: Origin ${origin.slice(0, 200)} is not this instance.`, who, true, undefined, csrfFacts());
    }
    if (!(await auth.csrfValid(session, header(req, 'x-csrf-token')))) {
      throw refuse(403, 'admin.csrf_failed', 'The x-csrf-token header is missing or wrong; read the token from GET /admin/api/v1/session.', who, true, undefined, csrfFacts());
    }
  }
  return { userId: user.id, userName: user.userName, roles: user.roles, via: 'session', session };
}
