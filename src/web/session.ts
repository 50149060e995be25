import { createHash } from 'node:crypto';
import { mintOpaque, sessionHandle, tokenKey } from '../core/crypto.js';
import type { NeutralRequest } from '../core/request.js';
import type { SessionKind, SessionRecord, User } from '../domain/model.js';
import type { SessionStore } from '../storage/types.js';
import { cookieName, readCookie, serializeCookie } from './cookies.js';

/** Idle timeout: a session not used for this long is over. */
export const SESSION_IDLE_MS = 60 * 60 * 1000;
/** Absolute lifetime: a session ends this long after sign-in however much it is used. */
export const SESSION_ABSOLUTE_MS = 8 * 60 * 60 * 1000;
/**
 * Use is written back at most this often (one write a minute per active browser, not one per
 * request); the idle timeout is therefore exact to within this much.
 */
export const TOUCH_INTERVAL_MS = 60_000;
/** Prefix of session cookie values (the tokenKey shape: lk_xx_ + time + 256 random bits). */
export const SESSION_PREFIX = 'lk_ss_';

const COOKIE_VALUE = /^lk_ss_[0-9a-f]{12}[A-Za-z0-9_-]{43}$/;

/**
 * Why a cookie names no live session, for the explanation of a refusal: `unknown` when it is not
 * a session of this instance (malformed, never stored or deleted, another kind); otherwise its
 * handle, its user and when it ended (signed out or ended by a change), expired or went idle.
 */
export type SessionInspection =
  | { readonly state: 'none' | 'unknown' }
  | { readonly state: 'ended' | 'expired' | 'idle' | 'not_yet_valid' | 'live'; readonly handle: string; readonly userId: string; readonly endedAt: number | null };

/** A signed-in browser, as the server keeps it. */
export interface Session {
  /** The stored id: tokenKey() of the cookie value (the value itself is never stored). */
  readonly id: string;
  readonly userId: string;
  /** When the user signed in (absolute expiry counts from here). */
  readonly issuedAt: number;
  /** When the session was last used, as stored (idle expiry counts from here). */
  readonly lastSeen: number;
  readonly expiresAt: number;
  /** The session this one started from (a console session's sign-in session). */
  readonly parentId: string | null;
}

export interface SessionCookieOptions {
  /** Where sessions live: every instance on the database sees a sign-out at once. */
  readonly store: SessionStore;
  readonly kind: SessionKind;
  /** Whether cookies get Secure (and the __Host- name): the issuer is https. */
  readonly secure: () => boolean;
  readonly idleMs?: number;
  readonly absoluteMs?: number;
  /** Base cookie name; other pages keep sessions apart by name. */
  readonly name?: string;
  readonly sameSite?: 'Lax' | 'Strict';
}

/**
 * The `sid` of a sign-in session (OpenID Connect Front-/Back-Channel Logout 1.0, in the ID token):
 * a one-way derivation of the stored session id (itself a hash of the cookie), stable for the
 * session, never the cookie or the stored id. 128 bits, base64url.
 */
export function sessionSid(session: Pick<Session, 'id'>): string {
  return createHash('sha256').update(`latchkey-sid\0${session.id}`).digest().subarray(0, 16).toString('base64url');
}

function sessionOf(r: SessionRecord): Session {
  return { id: r.id, userId: r.userId, issuedAt: r.createdAt, lastSeen: r.lastSeenAt, expiresAt: r.expiresAt, parentId: r.parentId };
}

/**
 * Server-side sessions behind an HttpOnly cookie (Path=/, Secure and `__Host-` on https) that
 * carries only a random id (256 bits). The record decides: a sign-out, a password or role change and
 * a deactivation revoke it (registry/users.ts), and every instance sees that on the next request,
 * so a copied cookie stops working when its session ends. Idle and absolute expiry are checked
 * here; Max-Age only tells the browser when to drop the cookie.
 * Shared by the sign-in pages ('signin') and the admin console ('console').
 */
export class SessionCookies {
  readonly idleMs: number;
  readonly absoluteMs: number;
  readonly kind: SessionKind;
  private readonly base: string;

  constructor(private readonly options: SessionCookieOptions) {
    this.idleMs = options.idleMs ?? SESSION_IDLE_MS;
    this.absoluteMs = options.absoluteMs ?? SESSION_ABSOLUTE_MS;
    this.kind = options.kind;
    this.base = options.name ?? 'latchkey_session';
  }

  name(): string {
    return cookieName(this.base, this.options.secure());
  }

  /** Whether the request carries this cookie at all (valid or not). */
  presented(req: Pick<NeutralRequest, 'headers'>): boolean {
    return readCookie(req, this.name()) !== undefined;
  }

  /** The live session the request's cookie names: stored, of this kind, not ended, not expired, not idle. */
  async read(req: Pick<NeutralRequest, 'headers'>, now: number): Promise<Session | undefined> {
    const value = readCookie(req, this.name());
    if (value === undefined || !COOKIE_VALUE.test(value)) return undefined;
    const record = await this.options.store.byId(tokenKey(value));
    if (record === undefined || record.kind !== this.kind || record.revokedAt !== null) return undefined;
    if (now >= record.expiresAt || now - record.lastSeenAt >= this.idleMs || record.createdAt > now + 60_000) return undefined;
    return sessionOf(record);
  }

  /** Why the request's cookie names no live session (read only when refusing; see SessionInspection). */
  async inspect(req: Pick<NeutralRequest, 'headers'>, now: number): Promise<SessionInspection> {
    const value = readCookie(req, this.name());
    if (value === undefined) return { state: 'none' };
    if (!COOKIE_VALUE.test(value)) return { state: 'unknown' };
    const record = await this.options.store.byId(tokenKey(value));
    if (record === undefined || record.kind !== this.kind) return { state: 'unknown' };
    const about = { handle: sessionHandle(record.id), userId: record.userId };
    if (record.revokedAt !== null) return { state: 'ended', ...about, endedAt: record.revokedAt };
    if (now >= record.expiresAt) return { state: 'expired', ...about, endedAt: record.expiresAt };
    if (now - record.lastSeenAt >= this.idleMs) return { state: 'idle', ...about, endedAt: record.lastSeenAt + this.idleMs };
    if (record.createdAt > now + 60_000) return { state: 'not_yet_valid', ...about, endedAt: null };
    return { state: 'live', ...about, endedAt: null };
  }

  /** Whether the session still stands for this user: it exists and is active. */
  validFor(session: Session, user: User | undefined): boolean {
    return user !== undefined && user.id === session.userId && user.active;
  }

  /** Stores a new session after a successful sign-in; returns it and the Set-Cookie that carries it. */
  async start(user: User, now: number, parentId: string | null = null): Promise<{ cookie: string; session: Session }> {
    const { token, key } = mintOpaque(SESSION_PREFIX, now);
    const record: SessionRecord = { id: key, kind: this.kind, userId: user.id, createdAt: now, lastSeenAt: now, expiresAt: now + this.absoluteMs, parentId, revokedAt: null };
    await this.options.store.create(record);
    const cookie = serializeCookie(this.name(), token, { secure: this.options.secure(), maxAge: this.absoluteMs / 1000, sameSite: this.options.sameSite ?? 'Lax' });
    return { cookie, session: sessionOf(record) };
  }

  /** Records use (extends the idle timeout, never the absolute end); at most one write per TOUCH_INTERVAL_MS. */
  async touch(session: Session, now: number): Promise<void> {
    if (now - session.lastSeen >= TOUCH_INTERVAL_MS) await this.options.store.touch(session.id, now);
  }

  /** Ends the session on the server (every instance), and its parent when asked. */
  async end(session: Session, now: number, withParent = false): Promise<void> {
    await this.options.store.revoke(session.id, now);
    if (withParent && session.parentId !== null) await this.options.store.revoke(session.parentId, now);
  }

  /** When the session ends if unused: the idle end, capped by the absolute end. */
  endsAt(session: Session, now: number): number {
    return Math.min(Math.max(session.lastSeen, now) + this.idleMs, session.expiresAt);
  }

  /** Set-Cookie that drops the cookie in the browser. */
  clear(): string {
    return serializeCookie(this.name(), '', { secure: this.options.secure(), maxAge: 0, sameSite: this.options.sameSite ?? 'Lax' });
  }
}
