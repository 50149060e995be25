import { redirectHeaders } from '../../web/page.js';
import { record, respond, type AuthorizeKit, type Ctx, type WebResponse } from './context.js';
import { redirected, type RedirectError } from './refusals.js';

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

/** Sends a refusal back to the client's redirect URI (RFC 6749 §4.1.2.1), and records it. */
export async function redirectRefusal(kit: AuthorizeKit, ctx: Ctx, error: RedirectError): Promise<WebResponse> {
  const refusal = redirected(error.error);
  await record(kit, ctx, refusal);
  const location = withParams(error.target.redirectUri, { error: refusal.error, error_description: refusal.description, state: error.target.state, iss: kit.deps.issuer() });
  return redirect(ctx, location);
}
