import { header, type NeutralRequest } from '../core/request.js';

/**
 * Reads one cookie from the Cookie header (RFC 6265 §5.4). When a name appears more than once
 * (a cookie planted for another path or a parent domain) the first, most specific one wins, as
 * browsers send it first; our values are all MAC-checked anyway.
 */
export function readCookie(req: Pick<NeutralRequest, 'headers'>, name: string): string | undefined {
  const cookieHeader = header(req, 'cookie');
  if (cookieHeader === undefined || cookieHeader.length > 16_384) return undefined;
  for (const part of cookieHeader.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    if (part.slice(0, eq).trim() !== name) continue;
    let value = part.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    return value;
  }
  return undefined;
}

export interface CookieOptions {
  /** Seconds; omitted: a browser-session cookie. 0 deletes it. */
  readonly maxAge?: number;
  readonly secure: boolean;
  /** Default Lax: sent on top-level navigations from elsewhere (the sign-in redirects need that). */
  readonly sameSite?: 'Lax' | 'Strict';
}

/**
 * A Set-Cookie value: always HttpOnly and Path=/, SameSite=Lax unless told Strict; Secure when the
 * instance is served over https. Names and values are ours (base64url and dots), never request data.
 */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', `SameSite=${options.sameSite ?? 'Lax'}`];
  if (options.secure) parts.push('Secure');
  if (options.maxAge !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(options.maxAge))}`);
  return parts.join('; ');
}

/**
 * The cookie name to use: with Secure, the `__Host-` prefix (RFC 6265bis §4.1.3.2), which browsers
 * accept only when Secure, Path=/ and no Domain: a sibling subdomain cannot plant or shadow it.
 */
export function cookieName(base: string, secure: boolean): string {
  return secure ? `__Host-${base}` : base;
}
