import type { RefusalRecorder } from '../../audit/refusals.js';
import type { Clock } from '../../core/clock.js';
import type { Logger } from '../../core/logger.js';
import { mediaType, type NeutralRequest } from '../../core/request.js';
import type { Application, DeviceAuthorization, User } from '../../domain/model.js';
import { callerValue } from '../../errors/caller-value.js';
import { invalidGrant } from '../../errors/errors.js';
import { factString } from '../../errors/fact-values.js';
import { OAuthError } from '../../errors/oauth-error.js';
import { passwordRefusal } from '../../errors/password-refusal.js';
import { displayUserCode, normalisedLength, normaliseUserCode, userCodeHash } from '../../grants/device-code-format.js';
import { DEVICE_CODE_GRANT } from '../../grants/grant-type.js';
import type { RefusalContext } from '../../grants/types.js';
import type { RegistryCache } from '../../registry/cache.js';
import { sourceOf, type PasswordGuard } from '../../registry/lockout.js';
import type { RateLimits } from '../../registry/rate-limits.js';
import { StorageError, type Storage } from '../../storage/types.js';
import { FIELD, signInContent } from '../../web/authorize-pages.js';
import type { CsrfGuard } from '../../web/csrf.js';
import { readCookie } from '../../web/cookies.js';
import { codeEntryContent, deviceConsentContent, deviceDoneContent, deviceErrorContent, USER_CODE_FIELD } from '../../web/device-pages.js';
import { htmlResponse, newNonce } from '../../web/page.js';
import type { Session, SessionCookies } from '../../web/session.js';
import { keyCache, KEY_PURPOSE, seal, unseal, userCodeKeys, type SecretDeriver } from '../../web/signing.js';
import type { WebResponse } from '../authorize/context.js';

/**
 * The user-code page of the device flow (RFC 8628 §3.3) on the sign-in UI: GET /oauth/device shows
 * a form for the code (prefilled from verification_uri_complete's ?user_code=); the code posted is
 * counted against the brute-force limits (per source address and overall, through the shared rate
 * counters) and looked up by its hash; then the sign-in page (the authorization endpoint's, with
 * its session cookie and password throttling) unless a session is there, then a consent page that
 * shows the application, scopes, resources and the code to compare; the decision is stored in one
 * statement. The code travels between these pages inside a signed ticket, so only its entry is
 * counted, and the later forms cannot be used to guess codes. Every form carries a CSRF token.
 */

export interface DevicePageDeps {
  readonly cache: Pick<RegistryCache, 'applicationById' | 'peekApplicationById' | 'properties' | 'peekProperties'>;
  readonly storage: Pick<Storage, 'deviceCodes' | 'scopes' | 'users' | 'rateCounters'>;
  readonly clock: Clock;
  readonly passwords: Pick<PasswordGuard, 'check'>;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
  readonly issuer: () => string;
  readonly rateLimits?: RateLimits;
  /** The sign-in session cookies and CSRF guard of the authorization endpoint (one sign-in for both). */
  readonly sessions: SessionCookies;
  readonly csrf: CsrfGuard;
  readonly secrets: SecretDeriver;
}

export interface DevicePage {
  handle(req: NeutralRequest): Promise<WebResponse>;
}

/** How long the sign-in and consent pages of one entered code stay usable (at most the code's own life). */
const TICKET_LIFETIME_MS = 10 * 60_000;
const TICKET_LABEL = 'device-ticket';
/** The brute-force window of user-code entries (the properties count per 15 minutes). */
const ENTRY_WINDOW_SECONDS = 900;

interface Ticket {
  /** The normalised user code. */
  readonly u: string;
  readonly exp: number;
}

interface Ctx {
  readonly req: NeutralRequest;
  readonly refusal: RefusalContext;
  readonly cookies: string[];
  readonly action: string;
}

const INVALID_CODE = 'That code is not valid. Check the code on your device and enter it again; it may have expired.';

function pageRefusal(reason: OAuthError['reason'], description: string, status = 400, error: 'invalid_request' | 'access_denied' | 'invalid_grant' = 'invalid_request'): OAuthError {
  return new OAuthError({ error, status, reason, description });
}

export function createDevicePage(deps: DevicePageDeps): DevicePage {
  const key = keyCache(deps.secrets);
  const ticketKey = () => key(KEY_PURPOSE.deviceTicket);
  const userCodeKey = userCodeKeys(deps.secrets);

  const record = (ctx: Ctx, error: OAuthError) => deps.refusals.record({ requestId: ctx.req.requestId, endpoint: 'device', remoteAddress: ctx.req.remoteAddress, error, ...ctx.refusal });
  const properties = async () => deps.cache.peekProperties() ?? (await deps.cache.properties());
  const page = (ctx: Ctx, status: number, title: string, content: ReturnType<typeof codeEntryContent>, headers: Record<string, string> = {}): WebResponse => ({
    ...htmlResponse(status, { title, nonce: newNonce(), content, headers }),
    cookies: ctx.cookies,
  });
  const csrfToken = async (ctx: Ctx, form: string) => {
    const binding = deps.csrf.bind(ctx.req);
    if (binding.setCookie !== undefined && !ctx.cookies.includes(binding.setCookie)) ctx.cookies.push(binding.setCookie);
    return deps.csrf.token(binding, form);
  };

  async function entryPage(ctx: Ctx, status: number, userCode?: string, error?: string, headers: Record<string, string> = {}): Promise<WebResponse> {
    const content = codeEntryContent({ action: ctx.action, csrf: await csrfToken(ctx, 'device_code'), ...(userCode === undefined ? {} : { userCode }), ...(error === undefined ? {} : { error }) });
    return page(ctx, status, 'Connect a device', content, headers);
  }

  async function signInPage(ctx: Ctx, app: Application, ticket: string, status = 200, error?: string, username?: string, headers: Record<string, string> = {}): Promise<WebResponse> {
    const content = signInContent({
      app: { name: app.name, logoUri: app.logoUri ?? null },
      action: ctx.action,
      request: ticket,
      csrf: await csrfToken(ctx, 'device_sign_in'),
      ...(error === undefined ? {} : { error }),
      ...(username === undefined ? {} : { username }),
    });
    const retry: Record<string, string> = {};
    for (const name of ['retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']) if (headers[name] !== undefined) retry[name] = headers[name] as string;
    return page(ctx, status, `Sign in to ${app.name}`, content, retry);
  }

  async function consentPage(ctx: Ctx, app: Application, device: DeviceAuthorization, userCode: string, ticket: string, user: User): Promise<WebResponse> {
    const scopes = await Promise.all(device.scopes.map(async (name) => ({ name, description: (await deps.storage.scopes.byName(name))?.description ?? '' })));
    const content = deviceConsentContent({
      app: { name: app.name, logoUri: app.logoUri ?? null },
      action: ctx.action,
      ticket,
      csrf: await csrfToken(ctx, 'device_consent'),
      userName: user.userName,
      userCode: displayUserCode(userCode),
      scopes,
      resources: device.resources,
    });
    return page(ctx, 200, `Allow ${app.name}?`, content);
  }

  /** The signed-in, active user of the request's session, if any (read from storage, not the cache). */
  async function sessionUser(ctx: Ctx): Promise<{ session: Session; user: User } | undefined> {
    const session = await deps.sessions.read(ctx.req, deps.clock.now());
    if (session === undefined) return undefined;
    const user = await deps.storage.users.byId(session.userId);
    return user !== undefined && deps.sessions.validFor(session, user) ? { session, user } : undefined;
  }

  /** RFC 8628 §5.1: user codes are guessable in principle, so entries are limited per source and overall. */
  async function countEntry(ctx: Ctx): Promise<void> {
    const props = await properties();
    const perSource = props['latchkey.device.user_code_attempts'];
    const total = props['latchkey.device.user_code_attempts_total'];
    const limits: [number, string, string][] = [
      [perSource, `source|${sourceOf(ctx.req.remoteAddress)}`, 'this source address'],
      [total, 'all', 'all sources'],
    ];
    for (const [requests, key, scope] of limits) {
      if (requests <= 0) continue;
      const count = await deps.storage.rateCounters.consume('device_user_code', key, { requests, windowSeconds: ENTRY_WINDOW_SECONDS });
      if (!count.allowed) {
        throw new OAuthError({
          error: 'too_many_requests',
          status: 429,
          reason: 'device.user_code_rate_limited',
          description: 'Too many codes were entered. Wait a few minutes, then try again.',
          headers: { 'retry-after': String(Math.max(1, Math.ceil(count.resetMs / 1000))) },
          facts: { userCodeLimit: requests, userCodeLimitScope: scope },
        });
      }
    }
  }

  /** The pending authorization of a normalised code, with its application (active, still allowed the grant), or undefined. */
  async function pendingOf(userCode: string): Promise<{ device: DeviceAuthorization; app: Application } | undefined> {
    const device = await deps.storage.deviceCodes.byUserHash(userCodeHash(userCode, await userCodeKey()));
    if (device === undefined || device.status !== 'pending' || device.expiresAt <= deps.clock.now()) return undefined;
    const app = deps.cache.peekApplicationById(device.applicationId) ?? (await deps.cache.applicationById(device.applicationId));
    if (app === undefined || !app.active || !app.grantTypes.includes(DEVICE_CODE_GRANT)) return undefined;
    return { device, app };
  }

  async function enterCode(ctx: Ctx, typed: string): Promise<WebResponse> {
    await countEntry(ctx);
    const userCode = normaliseUserCode(typed);
    const found = userCode === undefined ? undefined : await pendingOf(userCode);
    if (userCode === undefined || found === undefined) {
      const error = pageRefusal('device.user_code_unknown', INVALID_CODE).withFacts({ userCodeLength: normalisedLength(typed) });
      await record(ctx, error);
      return entryPage(ctx, 400, typed.slice(0, 20), INVALID_CODE);
    }
    ctx.refusal.clientId = found.app.clientId;
    ctx.refusal.applicationName = found.app.name;
    const ticket = seal(await ticketKey(), TICKET_LABEL, { u: userCode, exp: Math.min(found.device.expiresAt, deps.clock.now() + TICKET_LIFETIME_MS) } satisfies Ticket);
    const current = await sessionUser(ctx);
    if (current === undefined) return signInPage(ctx, found.app, ticket);
    return consentPage(ctx, found.app, found.device, userCode, ticket, current.user);
  }

  /** The ticket of a sign-in or consent form, verified and unexpired, with its still-pending authorization. */
  async function openTicket(ctx: Ctx, value: string | undefined): Promise<{ userCode: string; device: DeviceAuthorization; app: Application; ticket: string } | undefined> {
    const t = unseal(await ticketKey(), TICKET_LABEL, value) as Ticket | undefined;
    if (t === undefined || typeof t.u !== 'string' || typeof t.exp !== 'number' || t.exp <= deps.clock.now() || value === undefined) return undefined;
    const found = await pendingOf(t.u);
    if (found === undefined) return undefined;
    ctx.refusal.clientId = found.app.clientId;
    ctx.refusal.applicationName = found.app.name;
    return { userCode: t.u, ticket: value, ...found };
  }

  async function signIn(ctx: Ctx, params: URLSearchParams): Promise<WebResponse> {
    const opened = await openTicket(ctx, params.get(FIELD.request) ?? undefined);
    if (opened === undefined) return expired(ctx);
    const username = params.get(FIELD.username) ?? undefined;
    const password = params.get(FIELD.password) ?? undefined;
    if (username === undefined || password === undefined || username === '') return signInPage(ctx, opened.app, opened.ticket, 400, 'Enter your user name and password.', username);
    ctx.refusal.userName = username.slice(0, 200);
    const checked = await deps.passwords.check(username, password, ctx.req.remoteAddress, await properties());
    if (checked.kind !== 'ok') {
      const error = passwordRefusal(checked, invalidGrant.withReason('user.bad_credentials').withDescription('The user name or password is wrong.'));
      await record(ctx, error);
      return signInPage(ctx, opened.app, opened.ticket, error.status, error.description, username.slice(0, 100), error.headers);
    }
    const started = await deps.sessions.start(checked.user, deps.clock.now());
    ctx.cookies.push(started.cookie);
    return consentPage(ctx, opened.app, opened.device, opened.userCode, opened.ticket, checked.user);
  }

  async function consent(ctx: Ctx, params: URLSearchParams): Promise<WebResponse> {
    const opened = await openTicket(ctx, params.get(FIELD.request) ?? undefined);
    if (opened === undefined) return expired(ctx);
    const current = await sessionUser(ctx);
    if (current === undefined) {
      const error = pageRefusal('device.not_signed_in', 'Your sign-in has expired. Sign in again.', 401, 'access_denied').withFacts({ userCodeLength: opened.userCode.length });
      await record(ctx, error);
      return signInPage(ctx, opened.app, opened.ticket, 200, undefined, undefined);
    }
    ctx.refusal.userName = current.user.userName;
    const now = deps.clock.now();
    const approve = params.get(FIELD.decision) === 'allow';
    const decided = await deps.storage.deviceCodes.decide(userCodeHash(opened.userCode, await userCodeKey()), { approve, userId: current.user.id, authTime: current.session.issuedAt, at: now });
    if (decided === undefined) return expired(ctx);
    await deps.sessions.touch(current.session, now);
    return page(ctx, 200, approve ? 'Device connected' : 'Access denied', deviceDoneContent({ app: { name: opened.app.name, logoUri: opened.app.logoUri ?? null }, approved: approve }));
  }

  /** The code was decided meanwhile, expired, or the ticket is not ours: start over (nothing is recorded: nothing was guessed). */
  async function expired(ctx: Ctx): Promise<WebResponse> {
    return entryPage(ctx, 400, undefined, 'This code has expired or was already used. Start again on your device, then enter the new code.');
  }

  async function process(ctx: Ctx): Promise<WebResponse> {
    const { req } = ctx;
    if (req.method === 'GET' || req.method === 'HEAD') {
      const prefill = req.query.get(USER_CODE_FIELD);
      return entryPage(ctx, 200, prefill === null ? undefined : prefill.slice(0, 20));
    }
    if (req.method !== 'POST') throw pageRefusal('request.method_not_allowed', 'This page accepts GET and POST.', 405).withFacts({ method: callerValue(req.method, 20) });
    const media = mediaType(req.contentType);
    if (media !== 'application/x-www-form-urlencoded') {
      throw pageRefusal('request.invalid_content_type', 'The form must be sent as application/x-www-form-urlencoded.').withFacts({ contentType: media === undefined ? null : callerValue(media) });
    }
    const params = new URLSearchParams(req.body ?? '');
    const action = params.get(FIELD.action) ?? '';
    const form = action === 'device_code' ? 'device_code' : action === 'sign_in' ? 'device_sign_in' : action === 'device_consent' ? 'device_consent' : undefined;
    if (form === undefined) throw pageRefusal('request.missing_parameter', 'The form sent is not one of ours. Open the page again.').withFacts({ missingParameter: FIELD.action });
    if (!(await deps.csrf.verify(req, form, params.get(FIELD.csrf) ?? undefined))) {
      throw pageRefusal('authorize.csrf_failed', 'The form could not be verified. Open the page again, with cookies allowed for this site.', 403, 'access_denied').withFacts({
        formAction: factString(action, 64),
        csrfCookiePresent: readCookie(req, deps.csrf.name()) !== undefined,
        csrfTokenPresent: params.has(FIELD.csrf),
      });
    }
    if (form === 'device_code') return enterCode(ctx, params.get(USER_CODE_FIELD) ?? '');
    if (form === 'device_sign_in') return signIn(ctx, params);
    return consent(ctx, params);
  }

  return {
    async handle(req) {
      const ctx: Ctx = { req, refusal: {}, cookies: [], action: 'device' };
      try {
        return await process(ctx);
      } catch (error) {
        if (error instanceof OAuthError) {
          await record(ctx, error);
          if (error.reason === 'device.user_code_rate_limited') {
            return page(ctx, 429, 'Too many attempts', deviceErrorContent({ title: 'Too many attempts', message: error.description, requestId: req.requestId }), error.headers as Record<string, string>);
          }
          const headers: Record<string, string> = error.status === 405 ? { allow: 'GET, POST' } : {};
          return page(ctx, error.status, 'Request refused', deviceErrorContent({ title: 'This page cannot continue', message: error.description, requestId: req.requestId, again: ctx.action }), headers);
        }
        const unavailable = error instanceof StorageError && error.code === 'unavailable';
        deps.logger.error({ requestId: req.requestId, err: error }, unavailable ? 'storage unavailable' : 'device page failed');
        const content = deviceErrorContent({ title: unavailable ? 'Temporarily unavailable' : 'Something went wrong', message: unavailable ? 'The service is temporarily unavailable. Try again shortly.' : 'An internal error stopped this request.', requestId: req.requestId });
        return { ...htmlResponse(unavailable ? 503 : 500, { title: 'Error', nonce: newNonce(), content, headers: unavailable ? { 'retry-after': '1' } : {} }), cookies: [] };
      }
    },
  };
}
