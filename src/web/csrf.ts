import { randomBytes } from 'node:crypto';
import type { NeutralRequest } from '../core/request.js';
import { cookieName, readCookie, serializeCookie } from './cookies.js';
import { mac, macEqual } from './signing.js';

const COOKIE_VALUE = /^[A-Za-z0-9_-]{43}$/;

export interface CsrfOptions {
  readonly key: () => Promise<Uint8Array>;
  readonly secure: () => boolean;
  readonly name?: string;
}

/** The pre-session value of a request, and the Set-Cookie to send when it was just created. */
export interface CsrfBinding {
  readonly value: string;
  readonly setCookie: string | undefined;
}

/**
 * CSRF protection for our forms: a random pre-session cookie (HttpOnly, SameSite=Lax), and in each
 * form a token = HMAC(key, form name, cookie value). A POST is accepted only when the token matches
 * the cookie it came with. Unlike a plain double-submit, a cookie planted by someone else (a sibling
 * subdomain) does not help an attacker: without the key they cannot compute its token.
 */
export class CsrfGuard {
  private readonly base: string;

  constructor(private readonly options: CsrfOptions) {
    this.base = options.name ?? 'latchkey_csrf';
  }

  name(): string {
    return cookieName(this.base, this.options.secure());
  }

  /** The request's pre-session cookie, or a new one (with its Set-Cookie) when it has none. */
  bind(req: Pick<NeutralRequest, 'headers'>): CsrfBinding {
    const existing = readCookie(req, this.name());
    if (existing !== undefined && COOKIE_VALUE.test(existing)) return { value: existing, setCookie: undefined };
    const value = randomBytes(32).toString('base64url');
    return { value, setCookie: serializeCookie(this.name(), value, { secure: this.options.secure() }) };
  }

  /** The token for one form, bound to the pre-session cookie value. */
  async token(binding: CsrfBinding, form: string): Promise<string> {
    return mac(await this.options.key(), `csrf.${form}.${binding.value}`);
  }

  /** Whether a POSTed token matches this request's cookie for this form (constant time). */
  async verify(req: Pick<NeutralRequest, 'headers'>, form: string, presented: string | undefined): Promise<boolean> {
    const cookie = readCookie(req, this.name());
    if (cookie === undefined || !COOKIE_VALUE.test(cookie) || presented === undefined) return false;
    return macEqual(presented, mac(await this.options.key(), `csrf.${form}.${cookie}`));
  }
}
