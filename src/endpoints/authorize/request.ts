import type { Application } from '../../domain/model.js';
import { OAuthError } from '../../errors/oauth-error.js';
import { scopeRefusal } from '../../grants/scope.js';
import { checkResources, fitScopes } from '../../grants/resource.js';
import type { AuthorizeKit, Ctx, WebResponse } from './context.js';
import { consentOrApprove, showsConsent } from './first-party.js';
import { checkIdTokenHint, checkOidcParams, checkResponseMode, pageLanguage, type OidcParams, type ResponseMode } from './oidc-params.js';
import { invalidRequest } from '../../errors/errors.js';
import { CONSOLE_CLIENT_ID } from '../../registry/bootstrap.js';
import { properties } from './context.js';
import { PAR_REQUIRED_PROPERTY, pushedParameters } from './pushed.js';
import { signInPage } from './pages.js';
import { PENDING_REQUEST_LIFETIME_MS, type Pending } from './pending.js';
import { RedirectError, refusedToClient, type Target } from './refusals.js';
import { sessionUser } from './session-user.js';
import { checkClient, checkRequest, readParams, requireOAuthActive, type CheckedClient, type CheckedRequest } from './validate.js';

/**
 * The authorization request itself (RFC 6749 §4.1.1, OpenID Connect Core 1.0 §3.1.2.1), by GET or
 * by POST (RFC 6749 §3.1): validated, then turned into a pending request and shown as the consent
 * page, or the sign-in page first. prompt, max_age and id_token_hint decide whether a live session
 * is enough; prompt=none answers without any page, or with login_required / consent_required.
 */

type Why = 'no_session' | 'max_age' | 'id_token_hint_user';

/** prompt=none could not be answered without a page (Core 1.0 §3.1.2.6). */
function promptNoneRefusal(target: Target, error: 'login_required' | 'consent_required', why?: Why): RedirectError {
  const description =
    error === 'consent_required' ? 'prompt=none was sent, but the user must consent to this application on a page.'
    : why === 'max_age' ? 'prompt=none was sent, but the user signed in longer ago than max_age allows.'
    : why === 'id_token_hint_user' ? 'prompt=none was sent, but the user signed in is not the one the id_token_hint names.'
    : 'prompt=none was sent, but no user is signed in.';
  const refusal = new OAuthError({
    error,
    status: 400,
    reason: error === 'login_required' ? 'authorize.login_required' : 'authorize.consent_required',
    description,
    hint: 'The application should send the user to the authorization endpoint again without prompt=none, so the page can be shown.',
    facts: { requestedPrompt: 'none', ...(why === undefined ? {} : { loginRequiredBecause: why }) },
  });
  return new RedirectError(refusal, target);
}

/** After a valid authorization request: the code (prompt=none, the console), the consent page, or the sign-in page. */
async function nextPage(kit: AuthorizeKit, ctx: Ctx, app: Application, pending: Pending, oidc: OidcParams, target: Target): Promise<WebResponse> {
  const current = await sessionUser(kit, ctx);
  const now = kit.deps.clock.now();
  const none = oidc.prompt.has('none');
  if (current.user !== undefined) {
    const { user, session } = current;
    await kit.sessions.touch(session, now);
    ctx.refusal.userName = user.userName;
    ctx.refusal.authenticated = true;
    // max_age (Core 1.0 §3.1.2.1): a session signed in longer ago needs a new sign-in.
    const stale = oidc.maxAge !== undefined && now - session.issuedAt > oidc.maxAge * 1000;
    if (none) {
      if (pending.hs !== undefined && pending.hs !== user.id) throw promptNoneRefusal(target, 'login_required', 'id_token_hint_user');
      if (stale) throw promptNoneRefusal(target, 'login_required', 'max_age');
      if (showsConsent(app, pending)) throw promptNoneRefusal(target, 'consent_required');
      return consentOrApprove(kit, ctx, app, pending, user, session);
    }
    // prompt=login and a stale session: the sign-in page, and only a sign-in from now on answers.
    if (oidc.prompt.has('login') || stale) return signInPage(kit, ctx, app, { ...pending, la: now }, 200, undefined, undefined, {}, oidc.prompt.has('login') ? {} : { notice: 'The application asks you to sign in again.' });
    // prompt=select_account: the sign-in page, offering to continue as the user signed in.
    if (oidc.prompt.has('select_account')) return signInPage(kit, ctx, app, pending, 200, undefined, undefined, {}, { current: user });
    return consentOrApprove(kit, ctx, app, pending, user, session);
  }
  if (none) throw promptNoneRefusal(target, 'login_required', 'no_session');
  if (current.session !== undefined || kit.sessions.presented(ctx.req)) ctx.cookies.push(kit.sessions.clear());
  return signInPage(kit, ctx, app, oidc.prompt.has('login') ? { ...pending, la: now } : pending);
}

/** The user name the id_token_hint's user signs in with, to prefill the sign-in page. */
async function hintedUserName(kit: AuthorizeKit, sub: string | undefined): Promise<string | undefined> {
  if (sub === undefined) return undefined;
  const user = await kit.deps.storage.users.byId(sub);
  return user?.active === true ? user.userName : undefined;
}

/** An authorization request validated: the client, where answers go, and every parameter checked. */
export interface CheckedAuthorization {
  readonly app: Application;
  readonly client: CheckedClient;
  readonly target: Target;
  readonly mode: ResponseMode;
  readonly checked: CheckedRequest;
  readonly oidc: OidcParams;
  readonly resources: string[];
  readonly hintSub: string | undefined;
  /** RFC 9449 §10: the DPoP key thumbprint the code is bound to (dpop_jkt), checked for shape. */
  readonly dpopJkt: string | undefined;
}

/** How the parameters came: by the front channel (default), or pushed (RFC 9126: at /oauth/par, or used by request_uri). */
export interface CheckHow {
  readonly pushed?: boolean;
}

/**
 * Every check of an authorization request, the same at the authorization endpoint and at the
 * pushed authorization request endpoint (RFC 9126 §2.1: "the same manner as for authorization
 * requests"): the client and redirect URI (pages), then the rest (RedirectErrors).
 */
export async function checkAuthorization(kit: AuthorizeKit, ctx: Ctx, source: URLSearchParams, how: CheckHow = {}): Promise<CheckedAuthorization> {
  const { params, repeated } = readParams(source);
  // RFC 8707 §2: resource may repeat (one per resource).
  repeated.delete('resource');
  const resourceParams = source.getAll('resource').filter((v) => v !== '');
  await requireOAuthActive(kit);
  const client = await checkClient(kit, ctx, params.client_id, params.redirect_uri, repeated);
  const plain: Target = { redirectUri: client.target, state: params.state ?? null };
  // The response mode first, so every later refusal goes back in it (an unsupported one: in the query).
  const mode = refusedToClient(plain, () => checkResponseMode(params.response_mode));
  const target: Target = { ...plain, ...(mode === 'form_post' ? { mode } : {}) };
  // RFC 9126 §5/§6: an application (or instance) that requires PAR takes no front-channel request.
  if (how.pushed !== true) await requirePushedUnlessAllowed(kit, client.app, target);
  let checked: CheckedRequest;
  let oidc: OidcParams;
  let resources: string[];
  try {
    checked = checkRequest(client.app, params, repeated);
    oidc = checkOidcParams(params);
    // RFC 8707: each resource canonical, known and allowed (invalid_target, back to the client); the scopes fit them.
    const known = await checkResources(kit.deps.resources, client.app, resourceParams);
    checked = { ...checked, scopes: fitScopes(known, checked.scopes, params.scope !== undefined) };
    resources = known.map((r) => r.uri);
    // RFC 9449 §10: dpop_jkt is the base64url SHA-256 thumbprint (RFC 7638) of the client's DPoP key.
    if (params.dpop_jkt !== undefined && !/^[A-Za-z0-9_-]{43}$/.test(params.dpop_jkt)) {
      throw invalidRequest.withReason('dpop.jkt_malformed').withDescription('The dpop_jkt parameter must be the base64url SHA-256 JWK thumbprint (43 characters) of the DPoP key.').withFacts({ dpopProblem: `dpop_jkt of ${params.dpop_jkt.length} characters` });
    }
  } catch (error) {
    // A scope that is no auth scope at all is scope.unknown (grants/scope.ts); answered to the client as any other.
    const refusal = await scopeRefusal(kit.deps.storage, error);
    throw refusal instanceof OAuthError ? new RedirectError(refusal, target) : refusal;
  }
  let hintSub: string | undefined;
  try {
    hintSub = await checkIdTokenHint(kit, params.id_token_hint);
  } catch (error) {
    if (error instanceof OAuthError) throw new RedirectError(error, target);
    throw error;
  }
  return { app: client.app, client, target, mode, checked, oidc, resources, hintSub, dpopJkt: params.dpop_jkt };
}

/**
 * RFC 9126 §6 require_pushed_authorization_requests: per application, or latchkey.par.required for
 * all but the built-in console, whose own sign-in (first-party, on this server) must keep working.
 */
async function requirePushedUnlessAllowed(kit: AuthorizeKit, app: Application, target: Target): Promise<void> {
  if (app.clientId === CONSOLE_CLIENT_ID) return;
  const byApp = app.parRequired === true;
  if (!byApp && !(await properties(kit))[PAR_REQUIRED_PROPERTY]) return;
  const refusal = invalidRequest
    .withReason('par.required')
    .withDescription(
      byApp
        ? `The application ${app.name} must push its authorization requests: POST them to /oauth/par and send request_uri and client_id here (or an administrator runs \`latchkey apps update ${app.clientId} --par-required false\`).`
        : `This server requires pushed authorization requests (latchkey.par.required): POST the parameters to /oauth/par and send request_uri and client_id here.`,
    )
    .withFacts({ parRequiredBy: byApp ? 'application' : 'instance', property: byApp ? null : PAR_REQUIRED_PROPERTY });
  throw new RedirectError(refusal, target);
}

export async function authorizationRequest(kit: AuthorizeKit, ctx: Ctx, front: URLSearchParams): Promise<WebResponse> {
  // RFC 9126 §4: a request_uri of ours stands for the pushed parameters (the query's others are ignored).
  const pushed = await pushedParameters(kit, ctx, front);
  const source = pushed ?? front;
  const { app, client, target, mode, checked, oidc, resources, hintSub, dpopJkt } = await checkAuthorization(kit, ctx, source, { pushed: pushed !== undefined });
  const now = kit.deps.clock.now();
  const loginHint = oidc.loginHint ?? (await hintedUserName(kit, hintSub));
  const language = pageLanguage(oidc.uiLocales);
  const pending: Pending = {
    v: 1,
    c: app.clientId,
    r: client.target,
    rs: client.sent,
    s: checked.scopes,
    st: target.state,
    cc: checked.challenge,
    n: checked.nonce,
    ...(oidc.prompt.has('consent') ? { p: ['consent'] } : {}),
    // max_age: only a sign-in no older than this answers (a stale session gets `la: now` in nextPage).
    ...(oidc.maxAge === undefined ? {} : { la: now - oidc.maxAge * 1000 }),
    ...(loginHint === undefined ? {} : { lh: loginHint }),
    ...(hintSub === undefined ? {} : { hs: hintSub }),
    ...(mode === 'form_post' ? { rm: mode } : {}),
    ...(oidc.claims === null ? {} : { cl: { u: [...oidc.claims.userinfo], i: [...oidc.claims.idToken] } }),
    ...(language === 'en' ? {} : { lg: language }),
    ...(resources.length === 0 ? {} : { rsc: resources }),
    ...(dpopJkt === undefined ? {} : { dj: dpopJkt }),
    exp: now + PENDING_REQUEST_LIFETIME_MS,
  };
  return nextPage(kit, ctx, app, pending, oidc, target);
}
