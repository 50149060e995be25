import type { RefusalRecorder } from '../audit/refusals.js';
import type { Clock } from '../core/clock.js';
import { mintOpaque, verifyPassword } from '../core/crypto.js';
import type { Logger } from '../core/logger.js';
import { mediaType, type NeutralRequest, type NeutralResponse } from '../core/request.js';
import { invalidGrant, invalidRequest, unauthorizedClient } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import { CACHE_DERIVED_REASONS } from '../errors/reasons.js';
import { parseScopeParam, resolveRequestedScopes } from '../grants/scope.js';
import type { RefusalContext } from '../grants/types.js';
import type { RegistryCache } from '../registry/cache.js';
import type { PasswordLockout } from '../registry/lockout.js';
import { StorageError, type Application, type Storage, type User } from '../storage/types.js';
import { consentContent, errorContent, FIELD, signInContent, type AppView, type FormAction, type ScopeView } from '../web/authorize-pages.js';
import { CsrfGuard, type CsrfBinding } from '../web/csrf.js';
import { formActionSource, htmlResponse, newNonce, redirectHeaders } from '../web/page.js';
import { SessionCookies, type Session } from '../web/session.js';
import { keyCache, KEY_PURPOSE, seal, unseal, type SecretDeriver } from '../web/signing.js';

/**
 * The authorization endpoint: the authorization code flow with PKCE, sign-in and consent pages.
 * @see RFC 6749 §3.1, §4.1; RFC 7636; RFC 9207; RFC 9700 (OAuth 2.0 Security BCP)
 *
 * A request goes: authorization request (GET, or POST per RFC 6749 §3.1) → sign-in page (unless a
 * session cookie names an active user) → consent page → redirect with code, state and iss. The
 * request travels between the pages as a signed hidden field (10 minutes); forms carry CSRF tokens
 * bound to a pre-session cookie. Until the client and redirect URI are known to be good, errors are
 * shown as a page and never redirected (RFC 6749 §4.1.2.1); after that, they go to the client.
 */

export const AUTHORIZE_PATHS: ReadonlySet<string> = new Set(['/oauth/authorize', '/oauth_auth.do']);

/** RFC 6749 §4.1.2: "A maximum authorization code lifetime of 10 minutes is RECOMMENDED"; ours is much shorter. */
export const CODE_LIFETIME_MS = 60_000;
/** How long the sign-in and consent pages of one request stay usable. */
export const PENDING_REQUEST_LIFETIME_MS = 10 * 60_000;
export const MAX_STATE_LENGTH = 2048;
/** Prefix of authorization codes (the tokenKey shape: lk_xx_ + time + 256 random bits). */
export const CODE_PREFIX = 'lk_ac_';

const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const OAUTH_ACTIVE = 'com.snc.platform.security.oauth.is.active';
const BAD_CREDENTIALS = 'The user name or password is wrong.';

export interface AuthorizeEndpointDeps {
  readonly cache: Pick<RegistryCache, 'applicationByClientId' | 'peekApplicationByClientId' | 'properties' | 'peekProperties' | 'check' | 'userByName'>;
  readonly storage: Pick<Storage, 'codes' | 'scopes' | 'users'>;
  readonly clock: Clock;
  readonly lockout: PasswordLockout;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
  readonly issuer: () => string;
  /** HMAC keys for session cookies, CSRF tokens and pending requests, derived from the KEK. */
  readonly secrets: SecretDeriver;
}

/** A page or redirect, with the cookies to set (a header that cannot be folded into one string). */
export interface WebResponse extends NeutralResponse {
  readonly cookies: readonly string[];
}

export interface AuthorizeEndpoint {
  handle(req: NeutralRequest): Promise<WebResponse>;
  /** The session cookies, for other pages (the admin console) to share. */
  readonly sessions: SessionCookies;
  readonly csrf: CsrfGuard;
}

/** The authorization request, validated, as it travels between the pages (signed, not encrypted). */
interface Pending {
  readonly v: 1;
  /** client_id */
  readonly c: string;
  /** The redirect URI in effect (sent, or the single registered one). */
  readonly r: string;
  /** Whether redirect_uri was in the request (then the token request must repeat it). */
  readonly rs: boolean;
  readonly s: readonly string[];
  readonly st: string | null;
  /** S256 code_challenge, or null. */
  readonly cc: string | null;
  readonly exp: number;
}

function isPending(value: unknown): value is Pending {
  const p = value as Partial<Pending> | null;
  return (
    typeof p === 'object' && p !== null && p.v === 1 &&
    typeof p.c === 'string' && typeof p.r === 'string' && typeof p.rs === 'boolean' &&
    Array.isArray(p.s) && p.s.every((x) => typeof x === 'string') &&
    (p.st === null || typeof p.st === 'string') && (p.cc === null || typeof p.cc === 'string') &&
    Number.isSafeInteger(p.exp)
  );
}

/** An error that goes back to the client's (validated) redirect URI. */
class RedirectError extends Error {
  constructor(
    readonly error: OAuthError,
    readonly target: Target,
  ) {
    super(error.message);
  }
}

interface Target {
  readonly redirectUri: string;
  readonly state: string | null;
}

/** A redirected error is answered with 303; the record says so. */
function redirected(error: OAuthError): OAuthError {
  return new OAuthError({ error: error.error, status: 303, description: error.description, reason: error.reason, ...(error.hint === undefined ? {} : { hint: error.hint }) });
}

/** Page errors: 400 unless said otherwise. */
function pageError(reason: OAuthError['reason'], description: string, status = 400, error: OAuthError['error'] = 'invalid_request'): OAuthError {
  return new OAuthError({ error, status, description, reason });
}

/** The query or form parameters; empty values count as omitted (RFC 6749 §3.1); repeated names are noted. */
function readParams(source: URLSearchParams): { params: Record<string, string>; repeated: Set<string> } {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const [name, value] of source) {
    if (seen.has(name)) repeated.add(name);
    seen.add(name);
    if (value !== '' && params[name] === undefined) params[name] = value;
  }
  return { params, repeated };
}

/** Appends parameters to a redirect URI, keeping its own query (RFC 6749 §3.1.2). */
function withParams(uri: string, params: Record<string, string | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null) q.append(k, v);
  const sep = !uri.includes('?') ? '?' : uri.endsWith('?') || uri.endsWith('&') ? '' : '&';
  return `${uri}${sep}${q.toString()}`;
}

function clip(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

const ERROR_TITLES: Partial<Record<OAuthError['reason'], string>> = {
  'authorize.csrf_failed': 'This form could not be verified',
  'authorize.request_expired': 'This sign-in request has expired',
  'client_auth.unknown_client': 'Unknown application',
  'client_auth.application_inactive': 'Application unavailable',
};

export function createAuthorizeEndpoint(deps: AuthorizeEndpointDeps): AuthorizeEndpoint {
  const key = keyCache(deps.secrets);
  const secure = (): boolean => {
    try {
      return deps.issuer().startsWith('https:');
    } catch {
      return false;
    }
  };
  const sessions = new SessionCookies({ key: () => key(KEY_PURPOSE.session), secure });
  const csrf = new CsrfGuard({ key: () => key(KEY_PURPOSE.csrf), secure });
  const requestKey = () => key(KEY_PURPOSE.authorizeRequest);

  /** What a response shares: the request, a nonce, cookies to set, and the refusal context. */
  interface Ctx {
    readonly req: NeutralRequest;
    readonly refusal: RefusalContext;
    readonly cookies: string[];
    /** The form's action: the endpoint path relative to the page (works behind a path prefix). */
    readonly action: string;
  }

  async function properties() {
    return deps.cache.peekProperties() ?? (await deps.cache.properties());
  }

  async function application(clientId: string): Promise<Application | undefined> {
    return deps.cache.peekApplicationByClientId(clientId) ?? (await deps.cache.applicationByClientId(clientId));
  }

  /**
   * Checks that allow redirecting at all: a known, active application and a redirect URI that is
   * registered for it, compared as exact strings. Failures are pages, never redirects.
   */
  async function checkClient(clientId: string | undefined, redirectUri: string | undefined, repeated: ReadonlySet<string>, ctx: Ctx): Promise<{ app: Application; target: Target['redirectUri']; sent: boolean }> {
    if (clientId === undefined) throw pageError('authorize.client_id_missing', 'The request has no client_id, so the application that sent you here is not known.');
    if (repeated.has('client_id')) throw pageError('request.repeated_parameter', 'The parameter client_id was sent more than once.');
    ctx.refusal.clientId = clientId;
    const app = await application(clientId);
    if (app === undefined) {
      throw pageError('client_auth.unknown_client', `The application that sent you here is not registered with this server (client id ${clip(clientId)}).`);
    }
    ctx.refusal.applicationName = app.name;
    if (!app.active) throw pageError('client_auth.application_inactive', `The application ${app.name} is inactive. An administrator must activate it.`);
    if (repeated.has('redirect_uri')) throw pageError('request.repeated_parameter', 'The parameter redirect_uri was sent more than once.');
    if (redirectUri !== undefined) {
      // RFC 9700 §4.1.3: exact string matching, nothing else.
      if (!app.redirectUris.includes(redirectUri)) {
        throw pageError('authorize.redirect_uri_mismatch', `The redirect URI is not registered for the application ${app.name}, so you cannot be sent back to it.`)
          .withHint(`redirect_uri ${clip(redirectUri, 500)} is not one of: ${app.redirectUris.join(' ') || '(none registered)'}`);
      }
      return { app, target: redirectUri, sent: true };
    }
    const only = app.redirectUris.length === 1 ? app.redirectUris[0] : undefined;
    if (only === undefined) {
      throw pageError(
        'authorize.redirect_uri_missing',
        app.redirectUris.length === 0
          ? `The application ${app.name} has no registered redirect URI, so you cannot be sent back to it.`
          : `The request has no redirect_uri and the application ${app.name} has several registered, so you cannot be sent back to it.`,
      );
    }
    return { app, target: only, sent: false };
  }

  /** The checks on a validated client that are answered by redirecting (RFC 6749 §4.1.2.1). */
  function checkRequest(app: Application, params: Record<string, string>, repeated: ReadonlySet<string>): { scopes: string[]; challenge: string | null } {
    if (!app.grantTypes.includes('authorization_code')) {
      throw unauthorizedClient
        .withReason('grant.not_allowed_for_application')
        .withDescription(`The application ${app.name} is not allowed the authorization_code grant. An administrator must add it to the application's grant types.`);
    }
    const again = [...repeated][0];
    if (again !== undefined) {
      const name = /^[A-Za-z0-9_.-]{1,64}$/.test(again) ? again : 'a parameter';
      throw invalidRequest.withReason('request.repeated_parameter').withDescription(`The parameter ${name} was sent more than once.`);
    }
    if (params.state !== undefined && params.state.length > MAX_STATE_LENGTH) {
      throw invalidRequest.withReason('authorize.state_too_long').withDescription(`The state parameter may have at most ${MAX_STATE_LENGTH} characters.`);
    }
    const responseType = params.response_type;
    if (responseType === undefined) throw invalidRequest.withReason('authorize.response_type_missing').withDescription('The response_type parameter is required; send response_type=code.');
    if (responseType !== 'code') {
      throw new OAuthError({ error: 'unsupported_response_type', status: 400, reason: 'authorize.unsupported_response_type', description: 'Only response_type=code is supported.' });
    }
    const scopes = resolveRequestedScopes(app, parseScopeParam(params.scope));
    const challenge = params.code_challenge;
    const method = params.code_challenge_method;
    if (challenge === undefined) {
      if (method !== undefined) throw invalidRequest.withReason('pkce.challenge_missing').withDescription('code_challenge_method was sent without code_challenge.');
      if (app.public) {
        throw invalidRequest
          .withReason('pkce.challenge_missing')
          .withDescription('PKCE is required for public clients: send code_challenge and code_challenge_method=S256.');
      }
      return { scopes, challenge: null };
    }
    // RFC 7636 §4.3: an omitted method means plain, which we do not support (RFC 9700 §2.1.1).
    if (method !== 'S256') {
      throw invalidRequest
        .withReason('pkce.method_unsupported')
        .withDescription(method === undefined ? 'code_challenge_method is required and must be S256 (plain is not supported).' : 'Only code_challenge_method=S256 is supported.');
    }
    if (!S256_CHALLENGE.test(challenge)) {
      throw invalidRequest.withReason('pkce.challenge_malformed').withDescription('code_challenge must be 43 base64url characters (an S256 challenge).');
    }
    return { scopes, challenge };
  }

  function appView(app: Application): AppView {
    return { name: app.name, logoUri: app.logoUri ?? null };
  }

  async function sealPending(pending: Pending): Promise<string> {
    return seal(await requestKey(), 'authorize-request', pending);
  }

  async function bindCsrf(ctx: Ctx): Promise<CsrfBinding> {
    const binding = csrf.bind(ctx.req);
    if (binding.setCookie !== undefined) ctx.cookies.push(binding.setCookie);
    return binding;
  }

  function respond(ctx: Ctx, res: NeutralResponse): WebResponse {
    return { ...res, cookies: ctx.cookies };
  }

  async function signInPage(ctx: Ctx, app: Application, pending: Pending, status = 200, error?: string, username?: string): Promise<WebResponse> {
    const binding = await bindCsrf(ctx);
    const nonce = newNonce();
    const content = signInContent({
      app: appView(app),
      action: ctx.action,
      request: await sealPending(pending),
      csrf: await csrf.token(binding, 'sign_in'),
      ...(error === undefined ? {} : { error }),
      ...(username === undefined ? {} : { username }),
    });
    // A sign-in can end in a redirect to the client too (the application changed meanwhile).
    const target = formActionSource(pending.r);
    return respond(ctx, htmlResponse(status, { title: `Sign in to ${app.name}`, nonce, content, formTargets: target === undefined ? [] : [target] }));
  }

  async function scopeViews(scopes: readonly string[]): Promise<ScopeView[]> {
    return Promise.all(scopes.map(async (name) => ({ name, description: (await deps.storage.scopes.byName(name))?.description ?? '' })));
  }

  async function consentPage(ctx: Ctx, app: Application, pending: Pending, user: User): Promise<WebResponse> {
    const binding = await bindCsrf(ctx);
    const nonce = newNonce();
    const content = consentContent({
      app: appView(app),
      action: ctx.action,
      request: await sealPending(pending),
      csrf: await csrf.token(binding, 'consent'),
      switchCsrf: await csrf.token(binding, 'switch_user'),
      userName: user.userName,
      scopes: await scopeViews(pending.s),
      redirectUri: pending.r,
    });
    const target = formActionSource(pending.r);
    return respond(ctx, htmlResponse(200, { title: `Allow ${app.name}?`, nonce, content, formTargets: target === undefined ? [] : [target] }));
  }

  function errorPage(ctx: Ctx, error: OAuthError): WebResponse {
    const content = errorContent({ title: ERROR_TITLES[error.reason] ?? 'This sign-in request cannot continue', message: error.description, requestId: ctx.req.requestId });
    const headers: Record<string, string> = error.status === 405 ? { allow: 'GET, POST' } : {};
    return respond(ctx, htmlResponse(error.status, { title: 'Request refused', nonce: newNonce(), content, headers }));
  }

  function redirect(ctx: Ctx, location: string): WebResponse {
    return respond(ctx, { status: 303, headers: redirectHeaders(location), body: '' });
  }

  /** The signed-in user of the request's session, when it is valid and the user active. */
  async function sessionUser(ctx: Ctx): Promise<{ session: Session; user: User } | { session: Session | undefined; user: undefined; inactive?: User }> {
    const session = await sessions.read(ctx.req, deps.clock.now());
    if (session === undefined) return { session, user: undefined };
    // Read from storage, not the cache: a deactivation must stop the next consent at once.
    const user = await deps.storage.users.byId(session.userId);
    if (user !== undefined && sessions.validFor(session, user)) return { session, user };
    return user !== undefined && !user.active && user.passwordChangedAt === session.passwordChangedAt ? { session, user: undefined, inactive: user } : { session, user: undefined };
  }

  /** After a valid authorization request or a good form: consent when signed in, else sign-in. */
  async function nextPage(ctx: Ctx, app: Application, pending: Pending): Promise<WebResponse> {
    const current = await sessionUser(ctx);
    if (current.user !== undefined) {
      ctx.cookies.push(await sessions.touch(current.session, deps.clock.now()));
      ctx.refusal.userName = current.user.userName;
      return consentPage(ctx, app, pending, current.user);
    }
    if (current.session !== undefined) ctx.cookies.push(sessions.clear());
    return signInPage(ctx, app, pending);
  }

  async function authorizationRequest(ctx: Ctx, source: URLSearchParams): Promise<WebResponse> {
    const { params, repeated } = readParams(source);
    if (!(await properties())[OAUTH_ACTIVE]) {
      throw pageError('instance.oauth_inactive', 'OAuth is disabled on this server. An administrator must set com.snc.platform.security.oauth.is.active to true.');
    }
    const client = await checkClient(params.client_id, params.redirect_uri, repeated, ctx);
    const target: Target = { redirectUri: client.target, state: params.state ?? null };
    let checked: { scopes: string[]; challenge: string | null };
    try {
      checked = checkRequest(client.app, params, repeated);
    } catch (error) {
      if (error instanceof OAuthError) throw new RedirectError(error, target);
      throw error;
    }
    const pending: Pending = {
      v: 1,
      c: client.app.clientId,
      r: client.target,
      rs: client.sent,
      s: checked.scopes,
      st: target.state,
      cc: checked.challenge,
      exp: deps.clock.now() + PENDING_REQUEST_LIFETIME_MS,
    };
    return nextPage(ctx, client.app, pending);
  }

  /** Re-checks a pending request's client when a form comes back: the registry may have changed. */
  async function recheck(ctx: Ctx, pending: Pending): Promise<{ app: Application; target: Target }> {
    if (!(await properties())[OAUTH_ACTIVE]) {
      throw pageError('instance.oauth_inactive', 'OAuth is disabled on this server. An administrator must set com.snc.platform.security.oauth.is.active to true.');
    }
    const client = await checkClient(pending.c, pending.rs ? pending.r : undefined, new Set(), ctx);
    if (client.target !== pending.r) throw pageError('authorize.redirect_uri_mismatch', `The redirect URI is no longer registered for the application ${client.app.name}.`);
    const target: Target = { redirectUri: pending.r, state: pending.st };
    try {
      if (!client.app.grantTypes.includes('authorization_code')) {
        throw unauthorizedClient
          .withReason('grant.not_allowed_for_application')
          .withDescription(`The application ${client.app.name} is not allowed the authorization_code grant. An administrator must add it to the application's grant types.`);
      }
      resolveRequestedScopes(client.app, pending.s);
    } catch (error) {
      if (error instanceof OAuthError) throw new RedirectError(error, target);
      throw error;
    }
    return { app: client.app, target };
  }

  async function record(ctx: Ctx, error: OAuthError): Promise<void> {
    await deps.refusals.record({ requestId: ctx.req.requestId, endpoint: 'authorize', remoteAddress: ctx.req.remoteAddress, error, ...ctx.refusal });
  }

  async function signIn(ctx: Ctx, app: Application, pending: Pending, params: Record<string, string>): Promise<WebResponse> {
    const username = params[FIELD.username];
    const password = params[FIELD.password];
    const again = async (error: OAuthError, message: string, name?: string): Promise<WebResponse> => {
      await record(ctx, error);
      return signInPage(ctx, app, pending, error.status, message, name);
    };
    if (username === undefined || password === undefined) {
      return again(invalidRequest.withReason('request.missing_parameter').withDescription('Enter your user name and password.'), 'Enter your user name and password.', username);
    }
    const name = username.slice(0, 100);
    ctx.refusal.userName = username.slice(0, 200);
    const now = deps.clock.now();
    const props = await properties();
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
    if (!user.active) {
      const message = 'Your account is inactive. Ask an administrator to activate it.';
      return again(new OAuthError({ error: 'access_denied', status: 403, reason: 'user.inactive', description: message }), message, name);
    }
    ctx.cookies.push(await sessions.start(user, now));
    return consentPage(ctx, app, pending, user);
  }

  async function consent(ctx: Ctx, app: Application, target: Target, pending: Pending, params: Record<string, string>): Promise<WebResponse> {
    const current = await sessionUser(ctx);
    if (current.user === undefined) {
      if (current.session !== undefined) ctx.cookies.push(sessions.clear());
      if ('inactive' in current && current.inactive !== undefined) {
        ctx.refusal.userName = current.inactive.userName;
        const message = 'Your account is inactive. Ask an administrator to activate it.';
        await record(ctx, new OAuthError({ error: 'access_denied', status: 403, reason: 'user.inactive', description: message }));
        return signInPage(ctx, app, pending, 403, message);
      }
      return signInPage(ctx, app, pending, 200, 'Your sign-in has expired. Sign in again.');
    }
    const user = current.user;
    ctx.refusal.userName = user.userName;
    const iss = deps.issuer();
    if (params[FIELD.decision] !== 'allow') {
      const error = new OAuthError({ error: 'access_denied', status: 303, reason: 'authorize.consent_denied', description: 'The user denied access.' });
      await record(ctx, error);
      return redirect(ctx, withParams(target.redirectUri, { error: error.error, error_description: error.description, state: target.state, iss }));
    }
    const now = deps.clock.now();
    // 256 random bits; only the hash is stored (RFC 6749 §10.5, §10.10).
    const { token: code, key: hash } = mintOpaque(CODE_PREFIX, now);
    await deps.storage.codes.insert({
      hash,
      applicationId: app.id,
      userId: user.id,
      redirectUri: pending.rs ? pending.r : null,
      scopes: pending.s,
      codeChallenge: pending.cc,
      issuedAt: now,
      expiresAt: now + CODE_LIFETIME_MS,
      usedAt: null,
    });
    ctx.cookies.push(await sessions.touch(current.session, now));
    // RFC 9207: iss in every authorization response, so a client can tell which server answered.
    return redirect(ctx, withParams(target.redirectUri, { code, state: target.state, iss }));
  }

  async function form(ctx: Ctx, params: Record<string, string>): Promise<WebResponse> {
    const action = params[FIELD.action] as FormAction | undefined;
    const sealed = unseal(await requestKey(), 'authorize-request', params[FIELD.request]);
    const pending = isPending(sealed) ? sealed : undefined;
    if (pending !== undefined) ctx.refusal.clientId = pending.c;
    if (action !== 'sign_in' && action !== 'consent' && action !== 'switch_user') {
      throw pageError('authorize.request_invalid', 'The form sent is not one of ours. Go back to the application and start again.');
    }
    if (!(await csrf.verify(ctx.req, action, params[FIELD.csrf]))) {
      throw pageError('authorize.csrf_failed', 'The form could not be verified. Go back to the application and start again, with cookies allowed for this site.', 403, 'access_denied');
    }
    if (pending === undefined) throw pageError('authorize.request_invalid', 'The sign-in request was altered or is not one of ours. Go back to the application and start again.');
    if (pending.exp <= deps.clock.now()) throw pageError('authorize.request_expired', 'The sign-in request has expired. Go back to the application and start again.');
    const { app, target } = await recheck(ctx, pending);
    switch (action) {
      case 'sign_in':
        return signIn(ctx, app, pending, params);
      case 'consent':
        return consent(ctx, app, target, pending, params);
      case 'switch_user':
        ctx.cookies.push(sessions.clear());
        return signInPage(ctx, app, pending);
    }
  }

  async function process(ctx: Ctx): Promise<WebResponse> {
    const { req } = ctx;
    if (req.method === 'GET' || req.method === 'HEAD') return authorizationRequest(ctx, req.query);
    if (req.method !== 'POST') {
      throw pageError('request.method_not_allowed', 'The authorization endpoint accepts GET and POST.', 405);
    }
    if (mediaType(req.contentType) !== 'application/x-www-form-urlencoded') {
      throw pageError('request.invalid_content_type', 'The request body must be application/x-www-form-urlencoded (RFC 6749 section 3.1).');
    }
    const body = new URLSearchParams(req.body ?? '');
    // Our own forms carry lk_action; anything else is an authorization request sent by POST (RFC 6749 §3.1).
    if (!body.has(FIELD.action)) return authorizationRequest(ctx, body);
    const { params, repeated } = readParams(body);
    if (repeated.size > 0) throw pageError('request.repeated_parameter', 'A form field was sent more than once.');
    return form(ctx, params);
  }

  function newCtx(req: NeutralRequest): Ctx {
    return { req, refusal: {}, cookies: [], action: req.path.slice(req.path.lastIndexOf('/') + 1) || 'authorize' };
  }

  function reasonOf(error: unknown): OAuthError['reason'] | undefined {
    if (error instanceof OAuthError) return error.reason;
    if (error instanceof RedirectError) return error.error.reason;
    return undefined;
  }

  return {
    sessions,
    csrf,
    async handle(req) {
      let ctx = newCtx(req);
      try {
        try {
          return await process(ctx);
        } catch (error) {
          // As at the token endpoint: a refusal decided on cached registry state is decided again
          // once the cache is known to be current (a redirect URI registered a moment ago).
          const reason = reasonOf(error);
          if (reason === undefined || !CACHE_DERIVED_REASONS.has(reason) || !(await deps.cache.check())) throw error;
          ctx = newCtx(req);
          return await process(ctx);
        }
      } catch (error) {
        if (error instanceof RedirectError) {
          const refusal = redirected(error.error);
          await record(ctx, refusal);
          const location = withParams(error.target.redirectUri, { error: refusal.error, error_description: refusal.description, state: error.target.state, iss: deps.issuer() });
          return redirect(ctx, location);
        }
        if (error instanceof OAuthError) {
          await record(ctx, error);
          return errorPage(ctx, error);
        }
        const unavailable = error instanceof StorageError && error.code === 'unavailable';
        deps.logger.error({ requestId: req.requestId, err: error }, unavailable ? 'storage unavailable' : 'authorization endpoint failed');
        const content = errorContent({
          title: unavailable ? 'Temporarily unavailable' : 'Something went wrong',
          message: unavailable ? 'The service is temporarily unavailable. Try again shortly.' : 'An internal error stopped this request.',
          requestId: req.requestId,
        });
        const res = htmlResponse(unavailable ? 503 : 500, { title: 'Error', nonce: newNonce(), content, headers: unavailable ? { 'retry-after': '1' } : {} });
        return { ...res, cookies: [] };
      }
    },
  };
}
