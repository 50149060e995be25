import { formPostContent } from '../../web/authorize-pages.js';
import { formActionSource, htmlResponse, newNonce, redirectHeaders } from '../../web/page.js';
import { record, respond, type AuthorizeKit, type Ctx, type WebResponse } from './context.js';
import { redirected, type RedirectError, type Target } from './refusals.js';

/**
 * Authorization responses: redirects back to the client with a code or an error.
 * RFC 9207: iss goes in every one, so a client can tell which server answered (mix-up attacks).
 */

/** Appends parameters to a redirect URI, keeping its own query (RFC 6749 §3.1.2). */
export function withParams(uri: string, params: Record<string, string | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null) q.append(k, v);
  const sep = !uri.includes('?') ? '?' : uri.endsWith('?') || uri.endsWith('&') ? '' : '&';
  return `${uri}${sep}${q.toString()}`;
}

/** 303, never 307: a POSTed sign-in form must not be re-posted to the client (RFC 9700 §4.12). */
export function redirect(ctx: Ctx, location: string): WebResponse {
  return respond(ctx, { status: 303, headers: redirectHeaders(location), body: '' });
}

/**
 * An authorization response (code, or error) to the validated redirect URI, in the request's
 * response mode: query (a 303 redirect) or form_post (OAuth 2.0 Form Post Response Mode: a page
 * whose form POSTs the parameters to the redirect URI, its CSP form-action naming that origin).
 */
export function authorizationResponse(ctx: Ctx, target: Target, params: Record<string, string | null>): WebResponse {
  if (target.mode !== 'form_post') return redirect(ctx, withParams(target.redirectUri, params));
  const nonce = newNonce();
  const fields = Object.entries(params).filter((e): e is [string, string] => e[1] !== null);
  const source = formActionSource(target.redirectUri);
  return respond(ctx, htmlResponse(200, { title: 'Returning to the application', nonce, content: formPostContent({ redirectUri: target.redirectUri, params: fields, nonce }), formTargets: source === undefined ? [] : [source], script: true }));
}

/** Sends a refusal back to the client's redirect URI (RFC 6749 §4.1.2.1, Core 1.0 §3.1.2.6), and records it. */
export async function redirectRefusal(kit: AuthorizeKit, ctx: Ctx, error: RedirectError): Promise<WebResponse> {
  const refusal = redirected(error.error);
  await record(kit, ctx, refusal);
  return authorizationResponse(ctx, error.target, { error: refusal.error, error_description: refusal.description, state: error.target.state, iss: kit.deps.issuer() });
}
