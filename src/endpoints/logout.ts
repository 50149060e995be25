import type { RefusalRecorder } from '../audit/refusals.js';
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { mediaType, type NeutralRequest } from '../core/request.js';
import { parameterName } from '../core/form.js';
import type { Application, SessionRecord } from '../domain/model.js';
import { callerValue } from '../errors/caller-value.js';
import { commandLine } from '../core/shell.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { Keyring } from '../keys/keyring.js';
import type { BackchannelLogout } from '../oidc/backchannel-logout.js';
import type { RegistryCache } from '../registry/cache.js';
import { StorageError, type Storage } from '../storage/types.js';
import { IdTokenHintRejected, verifyIdTokenHint, type IdTokenHint } from '../tokens/id-token-hint.js';
import { readCookie } from '../web/cookies.js';
import type { CsrfGuard } from '../web/csrf.js';
import { LOGOUT_ACTION, LOGOUT_FIELD, LOGOUT_PARAMETERS, logoutConfirmContent, logoutErrorContent, signedOutContent, stillSignedInContent, type LogoutParameter } from '../web/logout-pages.js';
import { formActionSource, htmlResponse, newNonce, redirectHeaders } from '../web/page.js';
import { sessionSid, type Session, type SessionCookies } from '../web/session.js';
import type { WebResponse } from './authorize/context.js';
import { readParams } from './authorize/validate.js';

/**
 * The end-session endpoint (OpenID Connect RP-Initiated Logout 1.0), at /oauth/logout and
 * /logout.do, GET and POST (§2).
 *
 * The request is checked first and any problem shown as a page (never a redirect: §3 lets the OP
 * redirect only to a registered post_logout_redirect_uri): a bad id_token_hint, a client_id that is
 * not the hint's audience (§2 MUST), an unknown client, a post_logout_redirect_uri that is not
 * registered for the client exactly (§3.1), or one sent without any client to check it against.
 *
 * Then, when the browser has a sign-in session for the hint's user (or any session, without a
 * hint), the user is asked "Sign out of Latchkey?" (§2: the OP SHOULD ask) on a form with a CSRF
 * token, unless the hint is an ID token of this very session (its sid and sub): only an
 * application the user signed in to through this session holds one, so its asking is the user's
 * own application asking, and the user is signed out directly. Signing out ends the session on
 * the server (and the console sessions started from it), clears the cookie, and starts back-channel
 * logout; then the browser goes to the post_logout_redirect_uri with `state`, or sees "You are
 * signed out". A hint for another user than the signed-in one signs nobody out (that user's
 * session here is already gone). `ui_locales` is accepted; the pages are in English. `logout_hint`
 * is accepted and only shown to decide nothing: the confirmation names the signed-in user.
 */

export const LOGOUT_PATHS: ReadonlySet<string> = new Set(['/oauth/logout', '/logout.do']);

export interface LogoutEndpointDeps {
  readonly cache: Pick<RegistryCache, 'applicationByClientId'>;
  readonly storage: Pick<Storage, 'sessions' | 'users'>;
  readonly keyring: Pick<Keyring, 'verificationKey' | 'keys'>;
  readonly issuer: () => string;
  readonly clock: Clock;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
  /** The sign-in session cookies and CSRF guard of the authorization endpoint (one cookie for both). */
  readonly sessions: SessionCookies;
  readonly csrf: CsrfGuard;
  readonly backchannel: Pick<BackchannelLogout, 'sessionsEnded'>;
}

export interface LogoutEndpoint {
  handle(req: NeutralRequest): Promise<WebResponse>;
}

type Params = Partial<Record<LogoutParameter, string>>;

/** A checked logout request: the application it names (if any) and where to go afterwards. */
interface Checked {
  readonly params: Params;
  readonly hint: IdTokenHint | undefined;
  readonly app: Application | undefined;
  /** The registered post_logout_redirect_uri sent (undefined: none sent). */
  readonly redirectUri: string | undefined;
}

function refusal(reason: OAuthError['reason'], description: string, status = 400): OAuthError {
  return new OAuthError({ error: 'invalid_request', status, description, reason });
}

/** Ends a sign-in session everywhere: the session, the console sessions started from it; then back-channel logout. */
export async function endSignInSession(deps: Pick<LogoutEndpointDeps, 'storage' | 'backchannel'>, session: Pick<Session, 'id' | 'userId'>, now: number): Promise<void> {
  const children = (await deps.storage.sessions.listForUser(session.userId, now)).filter((s) => s.parentId === session.id);
  const ended: Pick<SessionRecord, 'id' | 'userId' | 'kind'>[] = [];
  if (await deps.storage.sessions.revoke(session.id, now)) ended.push({ id: session.id, userId: session.userId, kind: 'signin' });
  for (const child of children) if (await deps.storage.sessions.revoke(child.id, now)) ended.push(child);
  deps.backchannel.sessionsEnded(ended);
}

/** The parameters of the request (§2: GET query or POST form), each at most once. */
function paramsOf(source: URLSearchParams): Params {
  const { params, repeated } = readParams(source);
  if (repeated.size > 0) {
    throw refusal('request.repeated_parameter', 'A parameter was sent more than once.').withFacts({ repeatedParameter: parameterName([...repeated][0] ?? '') });
  }
  const out: Params = {};
  for (const name of LOGOUT_PARAMETERS) if (params[name] !== undefined) out[name] = params[name];
  return out;
}

async function readHint(deps: LogoutEndpointDeps, params: Params, now: number): Promise<IdTokenHint | undefined> {
  if (params.id_token_hint === undefined) return undefined;
  try {
    return await verifyIdTokenHint(deps, params.id_token_hint, now);
  } catch (error) {
    if (!(error instanceof IdTokenHintRejected)) throw error;
    throw refusal('logout.hint_invalid', `The id_token_hint is not an ID token of this server: ${error.message}`).withFacts({
      hintProblem: error.problem,
      logoutClientId: params.client_id === undefined ? null : callerValue(params.client_id),
    });
  }
}

/** RP-Initiated Logout 1.0 §2, §3.1: the hint, the client and the post-logout redirect URI. */
async function check(deps: LogoutEndpointDeps, params: Params, now: number): Promise<Checked> {
  const hint = await readHint(deps, params, now);
  const clientFacts = { logoutClientId: params.client_id === undefined ? null : callerValue(params.client_id), hintAudience: hint === undefined ? null : hint.aud.map((a) => callerValue(a)) };
  // §2: when both are sent, the OP MUST verify that the client_id matches the hint's aud.
  if (hint !== undefined && params.client_id !== undefined && !hint.aud.includes(params.client_id)) {
    throw refusal('logout.client_mismatch', 'The client_id is not the application the id_token_hint was issued to.').withFacts(clientFacts);
  }
  const clientId = params.client_id ?? hint?.aud[0];
  const app = clientId === undefined ? undefined : await deps.cache.applicationByClientId(clientId);
  if (clientId !== undefined && app === undefined) {
    throw refusal('logout.client_unknown', 'The application named by client_id or the id_token_hint is not registered here.').withFacts(clientFacts);
  }
  const uri = params.post_logout_redirect_uri;
  if (uri === undefined) return { params, hint, app, redirectUri: undefined };
  if (app === undefined) {
    throw refusal('logout.redirect_uri_without_client', 'A post_logout_redirect_uri needs a client_id or an id_token_hint to be checked against.').withFacts({ postLogoutRedirectUri: callerValue(uri, 500) });
  }
  // §3.1: compared exactly with those registered (as redirect URIs are, RFC 6749 §3.1.2.3).
  if (!(app.postLogoutRedirectUris ?? []).includes(uri)) {
    const register = commandLine(['apps', 'update', app.clientId, ...[...(app.postLogoutRedirectUris ?? []), uri].flatMap((u) => ['--post-logout-redirect-uri', u])]);
    throw refusal('logout.redirect_uri_unregistered', `The post_logout_redirect_uri is not registered for ${app.name}.`)
      .withHint(`Application ${app.clientId} registers ${(app.postLogoutRedirectUris ?? []).length === 0 ? 'no post-logout redirect URI' : (app.postLogoutRedirectUris ?? []).join(', ')}; if this one is the application's, register it: ${register}`)
      .withFacts({
      postLogoutRedirectUri: callerValue(uri, 500),
      registeredPostLogoutRedirectUris: [...(app.postLogoutRedirectUris ?? [])],
      logoutClientId: app.clientId,
    });
  }
  return { params, hint, app, redirectUri: uri };
}

/** §3: to the registered URI with state (added to its query), or the signed-out page. */
function finish(c: Checked, cookies: string[], signedOut: boolean, userName?: string): WebResponse {
  if (c.redirectUri !== undefined) {
    const url = new URL(c.redirectUri);
    if (c.params.state !== undefined) url.searchParams.append('state', c.params.state);
    return { status: 303, headers: redirectHeaders(url.href), body: '', cookies };
  }
  const content = signedOut || userName === undefined ? signedOutContent() : stillSignedInContent(userName);
  return { ...htmlResponse(200, { title: signedOut ? 'Signed out' : 'Still signed in', nonce: newNonce(), content }), cookies };
}

export function createLogoutEndpoint(deps: LogoutEndpointDeps): LogoutEndpoint {
  const action = (req: NeutralRequest) => req.path.slice(req.path.lastIndexOf('/') + 1) || 'logout';

  async function signOut(c: Checked, session: Session, now: number): Promise<WebResponse> {
    await endSignInSession(deps, session, now);
    return finish(c, [deps.sessions.clear()], true);
  }

  async function confirmationPage(c: Checked, req: NeutralRequest, userName: string): Promise<WebResponse> {
    const binding = deps.csrf.bind(req);
    const cookies = binding.setCookie === undefined ? [] : [binding.setCookie];
    const content = logoutConfirmContent({ action: action(req), csrf: await deps.csrf.token(binding, LOGOUT_ACTION), userName, appName: c.app?.name ?? null, params: c.params });
    const target = c.redirectUri === undefined ? undefined : formActionSource(c.redirectUri);
    return { ...htmlResponse(200, { title: 'Sign out?', nonce: newNonce(), content, formTargets: target === undefined ? [] : [target] }), cookies };
  }

  /** The signed-in user this request may sign out: a live session whose user still stands, and the hint's user if there is one. */
  async function signedIn(req: NeutralRequest, hint: IdTokenHint | undefined, now: number) {
    const session = await deps.sessions.read(req, now);
    if (session === undefined) return undefined;
    const user = await deps.storage.users.byId(session.userId);
    if (user === undefined || !deps.sessions.validFor(session, user)) return undefined;
    if (hint !== undefined && hint.sub !== user.id) return undefined;
    return { session, user };
  }

  async function process(req: NeutralRequest): Promise<WebResponse> {
    const now = deps.clock.now();
    if (req.method === 'GET' || req.method === 'HEAD') {
      const c = await check(deps, paramsOf(req.query), now);
      const current = await signedIn(req, c.hint, now);
      if (current === undefined) return finish(c, [], true);
      // An ID token of this very session: its application asks; no confirmation needed (see above).
      if (c.hint?.sid !== undefined && c.hint.sid === sessionSid(current.session)) return signOut(c, current.session, now);
      return confirmationPage(c, req, current.user.userName);
    }
    if (req.method !== 'POST') throw refusal('logout.method_not_allowed', 'The end-session endpoint accepts GET and POST.', 405).withFacts({ method: callerValue(req.method, 20) });
    const media = mediaType(req.contentType);
    if (media !== 'application/x-www-form-urlencoded') {
      throw refusal('request.invalid_content_type', 'The request body must be application/x-www-form-urlencoded.').withFacts({ contentType: media === undefined ? null : callerValue(media) });
    }
    const body = new URLSearchParams(req.body ?? '');
    const ours = body.get(LOGOUT_FIELD.action) === LOGOUT_ACTION;
    const csrfToken = body.get(LOGOUT_FIELD.csrf) ?? undefined;
    const decision = body.get(LOGOUT_FIELD.decision);
    for (const field of Object.values(LOGOUT_FIELD)) body.delete(field);
    const c = await check(deps, paramsOf(body), now);
    const current = await signedIn(req, c.hint, now);
    // A logout request sent by POST (§2) is treated as one sent by GET.
    if (!ours) {
      if (current === undefined) return finish(c, [], true);
      if (c.hint?.sid !== undefined && c.hint.sid === sessionSid(current.session)) return signOut(c, current.session, now);
      return confirmationPage(c, req, current.user.userName);
    }
    if (!(await deps.csrf.verify(req, LOGOUT_ACTION, csrfToken))) {
      throw refusal('logout.csrf_failed', 'The sign-out form could not be verified. Go back to the application and sign out again, with cookies allowed for this site.', 403).withFacts({
        csrfCookiePresent: readCookie(req, deps.csrf.name()) !== undefined,
        csrfTokenPresent: csrfToken !== undefined,
      });
    }
    if (current === undefined) return finish(c, [], true);
    if (decision !== 'sign_out') return finish({ ...c, redirectUri: undefined }, [], false, current.user.userName);
    return signOut(c, current.session, now);
  }

  return {
    async handle(req) {
      try {
        return await process(req);
      } catch (error) {
        if (error instanceof OAuthError) {
          await deps.refusals.record({ requestId: req.requestId, endpoint: 'logout', remoteAddress: req.remoteAddress, error });
          const content = logoutErrorContent({ message: error.description, requestId: req.requestId });
          const headers: Record<string, string> = error.status === 405 ? { allow: 'GET, POST' } : {};
          return { ...htmlResponse(error.status, { title: 'Sign-out refused', nonce: newNonce(), content, headers }), cookies: [] };
        }
        const unavailable = error instanceof StorageError && error.code === 'unavailable';
        deps.logger.error({ requestId: req.requestId, err: error }, unavailable ? 'storage unavailable' : 'end-session endpoint failed');
        const content = logoutErrorContent({ message: unavailable ? 'The service is temporarily unavailable. Try again shortly.' : 'An internal error stopped this request.', requestId: req.requestId });
        return { ...htmlResponse(unavailable ? 503 : 500, { title: 'Error', nonce: newNonce(), content, headers: unavailable ? { 'retry-after': '1' } : {} }), cookies: [] };
      }
    },
  };
}
