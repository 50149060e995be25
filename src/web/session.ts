import type { NeutralRequest } from '../core/request.js';
import type { User } from '../storage/types.js';
import { cookieName, readCookie, serializeCookie } from './cookies.js';
import { seal, unseal } from './signing.js';

/** Idle timeout: a session not used for this long is over. */
export const SESSION_IDLE_MS = 60 * 60 * 1000;
/** Absolute lifetime: a session ends this long after sign-in however much it is used. */
export const SESSION_ABSOLUTE_MS = 8 * 60 * 60 * 1000;

/** A signed-in browser. Stateless: everything is in the HMAC-signed cookie. */
export interface Session {
  readonly userId: string;
  /** When the user signed in (absolute expiry counts from here). */
  readonly issuedAt: number;
  /** When the session was last used (idle expiry counts from here). */
  readonly lastSeen: number;
  /** The user's passwordChangedAt at sign-in: a password change ends every session. */
  readonly passwordChangedAt: number | null;
}

interface Payload {
  readonly u: string;
  readonly iat: number;
  readonly seen: number;
  readonly pw: number | null;
}

function isPayload(value: unknown): value is Payload {
  const p = value as Partial<Payload> | null;
  return (
    typeof p === 'object' && p !== null &&
    typeof p.u === 'string' && p.u.length > 0 && p.u.length <= 200 &&
    Number.isSafeInteger(p.iat) && Number.isSafeInteger(p.seen) &&
    (p.pw === null || Number.isSafeInteger(p.pw))
  );
}

export interface SessionCookieOptions {
  /** The HMAC key (derived from the key-encryption key for this purpose only). */
  readonly key: () => Promise<Uint8Array>;
  /** Whether cookies get Secure (and the __Host- name): the issuer is https. */
  readonly secure: () => boolean;
  readonly idleMs?: number;
  readonly absoluteMs?: number;
  /** Base cookie name; other consoles can keep sessions apart by name. */
  readonly name?: string;
}

const LABEL = 'session';

/**
 * Stateless session cookies: HttpOnly, SameSite=Lax, Path=/, Secure on https, HMAC-signed, with
 * idle and absolute expiry checked on the server (Max-Age only tells the browser when to drop it).
 * Shared by the sign-in pages and, later, the admin console.
 */
export class SessionCookies {
  readonly idleMs: number;
  readonly absoluteMs: number;
  private readonly base: string;

  constructor(private readonly options: SessionCookieOptions) {
    this.idleMs = options.idleMs ?? SESSION_IDLE_MS;
    this.absoluteMs = options.absoluteMs ?? SESSION_ABSOLUTE_MS;
    this.base = options.name ?? 'latchkey_session';
  }

  name(): string {
    return cookieName(this.base, this.options.secure());
  }

  /** The session the request carries, if its signature verifies and it has not expired. */
  async read(req: Pick<NeutralRequest, 'headers'>, now: number): Promise<Session | undefined> {
    const value = readCookie(req, this.name());
    if (value === undefined) return undefined;
    const payload = unseal(await this.options.key(), LABEL, value, 2048);
    if (!isPayload(payload)) return undefined;
    if (now - payload.iat >= this.absoluteMs || now - payload.seen >= this.idleMs || payload.iat > now + 60_000) return undefined;
    return { userId: payload.u, issuedAt: payload.iat, lastSeen: payload.seen, passwordChangedAt: payload.pw };
  }

  /** Whether the session still stands for this user: it exists, is active, and kept its password. */
  validFor(session: Session, user: User | undefined): boolean {
    return user !== undefined && user.id === session.userId && user.active && user.passwordChangedAt === session.passwordChangedAt;
  }

  /** Set-Cookie for a new session after a successful sign-in. */
  async start(user: User, now: number): Promise<string> {
    return this.write({ u: user.id, iat: now, seen: now, pw: user.passwordChangedAt }, now);
  }

  /** Set-Cookie that extends the idle timeout of a session in use (never its absolute end). */
  async touch(session: Session, now: number): Promise<string> {
    return this.write({ u: session.userId, iat: session.issuedAt, seen: now, pw: session.passwordChangedAt }, now);
  }

  /** Set-Cookie that ends the session in the browser. */
  clear(): string {
    return serializeCookie(this.name(), '', { secure: this.options.secure(), maxAge: 0 });
  }

  private async write(payload: Payload, now: number): Promise<string> {
    const value = seal(await this.options.key(), LABEL, payload);
    const maxAge = Math.ceil((payload.iat + this.absoluteMs - now) / 1000);
    return serializeCookie(this.name(), value, { secure: this.options.secure(), maxAge });
  }
}
