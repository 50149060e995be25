import type { NeutralRequest } from '../../core/request.js';
import type { OAuthError } from '../../errors/oauth-error.js';
import type { Application, User } from '../../domain/model.js';
import { consentContent, errorContent, signInContent, type AppView, type ScopeView } from '../../web/authorize-pages.js';
import type { CsrfBinding } from '../../web/csrf.js';
import { formActionSource, htmlResponse, newNonce } from '../../web/page.js';
import { respond, type AuthorizeKit, type Ctx, type WebResponse } from './context.js';
import { sealPending, type Pending } from './pending.js';
import { isMetadataDocumentApplication } from '../../registry/client-metadata-documents.js';

const LOCAL_HOSTS: ReadonlySet<string> = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether a redirect URI returns to this machine: http(s) on localhost or a loopback address, or a private-use scheme (an app on the device). */
function isLocal(uri: string): boolean {
  try {
    const url = new URL(uri);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return true;
    const host = url.hostname.toLowerCase();
    return LOCAL_HOSTS.has(host) || host.endsWith('.localhost') || /^127\./.test(host);
  } catch {
    return false;
  }
}

/** What the consent page says of a client known by its metadata document (never a first-party application). */
function documentView(app: Application): { host: string; localOnly: boolean } | undefined {
  if (!isMetadataDocumentApplication(app)) return undefined;
  let host: string;
  try {
    host = new URL(app.clientId).host;
  } catch {
    return undefined;
  }
  return { host, localOnly: app.redirectUris.length > 0 && app.redirectUris.every(isLocal) };
}

/**
 * The endpoint's pages: sign-in, consent, and the error pages for what cannot go back to the
 * client. Each form carries the signed pending request and a CSRF token bound to a pre-session
 * cookie (RFC 6749 §10.12); the content comes from web/authorize-pages.ts.
 */

const ERROR_TITLES: Partial<Record<OAuthError['reason'], string>> = {
  'authorize.csrf_failed': 'This form could not be verified',
  'authorize.request_expired': 'This sign-in request has expired',
  'client_auth.unknown_client': 'Unknown application',
  'client_auth.application_inactive': 'Application unavailable',
};

function appView(app: Application): AppView {
  return { name: app.name, logoUri: app.logoUri ?? null };
}

async function bindCsrf(kit: AuthorizeKit, ctx: Ctx): Promise<CsrfBinding> {
  const binding = kit.csrf.bind(ctx.req);
  if (binding.setCookie !== undefined) ctx.cookies.push(binding.setCookie);
  return binding;
}

async function scopeViews(kit: AuthorizeKit, scopes: readonly string[]): Promise<ScopeView[]> {
  return Promise.all(scopes.map(async (name) => ({ name, description: (await kit.deps.storage.scopes.byName(name))?.description ?? '' })));
}

/** The CSP form-action sources: the page's forms can end in a redirect to the client. */
function formTargets(pending: Pending): string[] {
  const target = formActionSource(pending.r);
  return target === undefined ? [] : [target];
}

/** What else a sign-in page shows: why it is shown again, and (prompt=select_account) the user signed in. */
export interface SignInExtras {
  readonly notice?: string;
  readonly current?: User;
}

export async function signInPage(kit: AuthorizeKit, ctx: Ctx, app: Application, pending: Pending, status = 200, error?: string, username?: string, headers: Readonly<Record<string, string>> = {}, extras: SignInExtras = {}): Promise<WebResponse> {
  const binding = await bindCsrf(kit, ctx);
  const nonce = newNonce();
  // login_hint (or the user an id_token_hint names) prefills the user name (Core 1.0 §3.1.2.1).
  const name = username ?? pending.lh;
  const content = signInContent({
    app: appView(app),
    action: ctx.action,
    request: await sealPending(kit, pending),
    csrf: await kit.csrf.token(binding, 'sign_in'),
    ...(error === undefined ? {} : { error }),
    ...(name === undefined ? {} : { username: name }),
    ...(extras.notice === undefined ? {} : { notice: extras.notice }),
    ...(extras.current === undefined ? {} : { current: { userName: extras.current.userName, csrf: await kit.csrf.token(binding, 'continue') } }),
  });
  // A sign-in can end in a redirect to the client too (the application changed meanwhile).
  // Only Retry-After and the RateLimit-* headers are taken from a refusal: its other headers
  // (WWW-Authenticate) are not for a page.
  const retry: Record<string, string> = {};
  for (const name of ['retry-after', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset']) {
    const value = headers[name];
    if (value !== undefined) retry[name] = value;
  }
  return respond(ctx, htmlResponse(status, { title: `Sign in to ${app.name}`, nonce, content, formTargets: formTargets(pending), headers: retry, lang: pending.lg ?? 'en' }));
}

export async function consentPage(kit: AuthorizeKit, ctx: Ctx, app: Application, pending: Pending, user: User): Promise<WebResponse> {
  const binding = await bindCsrf(kit, ctx);
  const nonce = newNonce();
  const content = consentContent({
    app: appView(app),
    action: ctx.action,
    request: await sealPending(kit, pending),
    csrf: await kit.csrf.token(binding, 'consent'),
    switchCsrf: await kit.csrf.token(binding, 'switch_user'),
    userName: user.userName,
    scopes: await scopeViews(kit, pending.s),
    redirectUri: pending.r,
    ...(documentView(app) === undefined ? {} : { metadataDocument: documentView(app) }),
    ...(pending.rsc === undefined ? {} : { resources: pending.rsc }),
  });
  return respond(ctx, htmlResponse(200, { title: `Allow ${app.name}?`, nonce, content, formTargets: formTargets(pending), lang: pending.lg ?? 'en' }));
}

/** A refusal that cannot go back to the client (RFC 6749 §4.1.2.1): shown to the user instead. */
export function errorPage(ctx: Ctx, error: OAuthError): WebResponse {
  const content = errorContent({ title: ERROR_TITLES[error.reason] ?? 'This sign-in request cannot continue', message: error.description, requestId: ctx.req.requestId });
  // RFC 9110 §15.5.6: a 405 names the methods that are allowed.
  const headers: Record<string, string> = error.status === 405 ? { allow: 'GET, POST' } : {};
  return respond(ctx, htmlResponse(error.status, { title: 'Request refused', nonce: newNonce(), content, headers }));
}

/** A failure rather than a refusal: 503 when storage is unavailable (retry shortly), else 500. Sets no cookies. */
export function failurePage(req: NeutralRequest, unavailable: boolean): WebResponse {
  const content = errorContent({
    title: unavailable ? 'Temporarily unavailable' : 'Something went wrong',
    message: unavailable ? 'The service is temporarily unavailable. Try again shortly.' : 'An internal error stopped this request.',
    requestId: req.requestId,
  });
  const res = htmlResponse(unavailable ? 503 : 500, { title: 'Error', nonce: newNonce(), content, headers: unavailable ? { 'retry-after': '1' } : {} });
  return { ...res, cookies: [] };
}
