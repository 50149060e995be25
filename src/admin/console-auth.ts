import { createHash, randomBytes } from 'node:crypto';
import type { Latchkey } from '../app.js';
import { header, type NeutralRequest, type NeutralResponse } from '../core/request.js';
import { CONSOLE_CLIENT_ID, consoleRedirectUri, ensureConsoleApplication, ADMIN_ROLE } from '../registry/bootstrap.js';
import { ADMIN_SCOPE } from '../registry/scopes.js';
import type { User } from '../domain/model.js';
import { unverifiedRecordKey } from '../tokens/jwt.js';
import { cookieName, readCookie } from '../web/cookies.js';
import { html } from '../web/html.js';
import { htmlResponse, newNonce, redirectHeaders } from '../web/page.js';
import { SessionCookies, type Session, type SessionInspection } from '../web/session.js';
import { keyCache, mac, macEqual, seal, unseal } from '../web/signing.js';
import { adminRoleCommand, CONSOLE_HEADERS } from './http.js';

/**
 * Sign-in to the admin console through the instance's own authorization code flow with PKCE, as
 * the built-in public application "Latchkey Console" (client id latchkey-console):
 *
 *   GET /console/login    → PKCE S256 verifier + state in a short-lived signed cookie, redirect to
 *                           /oauth/authorize (the usual sign-in and consent pages)
 *   GET /console/callback → state checked against the cookie, the code redeemed in process at the
 *                           token endpoint, the admin role required, the console session started
 *
 * The console session lives on the server (web/session.ts, kind 'console'); its cookie carries
 * only a random id: HttpOnly, SameSite=Strict, Path=/, Secure and `__Host-` on https; 30 minutes
 * idle, 8 hours absolute. It remembers the sign-in session it came from, so signing out of the
 * console ends both, on every instance: a copied cookie stops working, and "Sign in again" asks
 * for the password. The CSRF token the console sends in `x-csrf-token` is an HMAC of the session
 * id (key: secrets.derive('console-session')), handed out by GET /admin/api/v1/session.
 */

export const CONSOLE_IDLE_MS = 30 * 60_000;
export const CONSOLE_ABSOLUTE_MS = 8 * 60 * 60_000;
const LOGIN_LIFETIME_MS = 10 * 60_000;
const SESSION_COOKIE = 'latchkey_console';
const LOGIN_COOKIE = 'latchkey_console_login';
const LOGIN_LABEL = 'console-login';

export type ConsoleSession = Session;

/** A console response with the Set-Cookie values to send (several, so not a plain header). */
export interface ConsoleResponse extends NeutralResponse {
  readonly cookies: readonly string[];
}

interface LoginPayload {
  readonly v: string;
  readonly s: string;
  readonly exp: number;
}

function isLoginPayload(value: unknown): value is LoginPayload {
  const p = value as Partial<LoginPayload> | null;
  return typeof p === 'object' && p !== null && typeof p.v === 'string' && typeof p.s === 'string' && Number.isSafeInteger(p.exp);
}

/** Set-Cookie with SameSite as given; always HttpOnly and Path=/. */
function cookie(name: string, value: string, options: { secure: boolean; maxAge: number; sameSite: 'Strict' | 'Lax' }): string {
  const parts = [`${name}=${value}`, 'Path=/', 'HttpOnly', `SameSite=${options.sameSite}`];
  if (options.secure) parts.push('Secure');
  parts.push(`Max-Age=${Math.max(0, Math.floor(options.maxAge))}`);
  return parts.join('; ');
}

export class ConsoleAuth {
  readonly idleMs = CONSOLE_IDLE_MS;
  readonly absoluteMs = CONSOLE_ABSOLUTE_MS;
  private readonly key: (purpose: string) => Promise<Uint8Array>;
  private readonly sessions: SessionCookies;
  private ensured: string | undefined;

  constructor(private readonly latchkey: Latchkey) {
    this.key = keyCache({ derive: (purpose) => latchkey.secrets.derive(purpose) });
    this.sessions = new SessionCookies({
      store: latchkey.storage.sessions,
      kind: 'console',
      secure: () => this.secure(),
      idleMs: CONSOLE_IDLE_MS,
      absoluteMs: CONSOLE_ABSOLUTE_MS,
      name: SESSION_COOKIE,
      sameSite: 'Strict',
    });
  }

  secure(): boolean {
    try {
      return this.latchkey.issuer().startsWith('https:');
    } catch {
      return false;
    }
  }

  private sessionKey(): Promise<Uint8Array> {
    return this.key('console-session');
  }

  sessionCookieName(): string {
    return this.sessions.name();
  }

  private loginCookieName(): string {
    return cookieName(LOGIN_COOKIE, this.secure());
  }

  /** Whether the request carries a console session cookie at all (valid or not). */
  presented(req: Pick<NeutralRequest, 'headers'>): boolean {
    return this.sessions.presented(req);
  }

  /** The live console session the request's cookie names (stored, not ended, not expired). */
  read(req: Pick<NeutralRequest, 'headers'>, now: number): Promise<ConsoleSession | undefined> {
    return this.sessions.read(req, now);
  }

  /** Why the request's cookie names no live console session: for the facts of an admin.session_ended refusal only. */
  inspect(req: Pick<NeutralRequest, 'headers'>, now: number): Promise<SessionInspection> {
    return this.sessions.inspect(req, now);
  }

  /** The session's user when the session still stands: active, admin role. */
  async userOf(session: ConsoleSession): Promise<{ user: User | undefined; admin: boolean }> {
    const user = await this.latchkey.storage.users.byId(session.userId);
    if (!this.sessions.validFor(session, user)) return { user: undefined, admin: false };
    return { user, admin: user?.roles.includes(ADMIN_ROLE) === true };
  }

  async start(user: User, now: number, parentId: string | null): Promise<{ cookie: string; session: ConsoleSession }> {
    return this.sessions.start(user, now, parentId);
  }

  /** Records use (extends the idle timeout, never the absolute end). */
  touch(session: ConsoleSession, now: number): Promise<void> {
    return this.sessions.touch(session, now);
  }

  /**
   * Signs out: ends the console session and the sign-in session it came from on the server, and
   * drops both cookies. Returns the Set-Cookie values.
   */
  async signOut(session: ConsoleSession, now: number): Promise<string[]> {
    await this.sessions.end(session, now, true);
    // The sign-in session it came from ended too: its applications get back-channel logout.
    if (session.parentId !== null) this.latchkey.backchannel.sessionsEnded([{ id: session.parentId, userId: session.userId, kind: 'signin' }]);
    return [this.clear(), this.latchkey.authorizeEndpoint.sessions.clear()];
  }

  clear(): string {
    return this.sessions.clear();
  }

  /** When the session ends if unused: the idle end, capped by the absolute end. */
  expiresAt(session: ConsoleSession, now: number): number {
    return this.sessions.endsAt(session, now);
  }

  async csrfToken(session: ConsoleSession): Promise<string> {
    return mac(await this.sessionKey(), `console-csrf.${session.id}`);
  }

  async csrfValid(session: ConsoleSession, presented: string | undefined): Promise<boolean> {
    if (presented === undefined || presented.length > 200) return false;
    return macEqual(presented, await this.csrfToken(session));
  }

  /** Makes sure the built-in console application exists for the current issuer (once per issuer). */
  private async ensureApplication(): Promise<void> {
    const issuer = this.latchkey.issuer();
    if (this.ensured === issuer) return;
    await ensureConsoleApplication({ storage: this.latchkey.storage, clock: this.latchkey.clock }, issuer);
    await this.latchkey.cache.check();
    this.ensured = issuer;
  }

  /** GET /console/login: starts the authorization code flow with PKCE. */
  async login(req: NeutralRequest): Promise<ConsoleResponse> {
    await this.ensureApplication();
    const issuer = this.latchkey.issuer();
    // The sign-in starts on the issuer's own origin: its cookie must come back with the callback,
    // which goes to the issuer (http://localhost:8080 and http://127.0.0.1:8080 do not share
    // cookies). The Host header only decides whether to move there; it never names the issuer.
    const host = header(req, 'host');
    if (host !== undefined && host.toLowerCase() !== new URL(issuer).host.toLowerCase()) {
      return { status: 303, headers: { ...redirectHeaders(`${issuer}/console/login`), ...CONSOLE_HEADERS }, body: '', cookies: [] };
    }
    const now = this.latchkey.clock.now();
    const verifier = randomBytes(32).toString('base64url');
    const state = randomBytes(16).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const sealed = seal(await this.sessionKey(), LOGIN_LABEL, { v: verifier, s: state, exp: now + LOGIN_LIFETIME_MS } satisfies LoginPayload);
    const params = new URLSearchParams({
      response_type: 'code',
      client_id: CONSOLE_CLIENT_ID,
      redirect_uri: consoleRedirectUri(issuer),
      // The admin API scope: only the console is ever granted it on a consent page.
      scope: ADMIN_SCOPE,
      state,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    return {
      status: 303,
      headers: { ...redirectHeaders(`${issuer}/oauth/authorize?${params.toString()}`), ...CONSOLE_HEADERS },
      body: '',
      // Lax: the callback arrives as a top-level navigation at the end of the sign-in redirects.
      cookies: [cookie(this.loginCookieName(), sealed, { secure: this.secure(), maxAge: LOGIN_LIFETIME_MS / 1000, sameSite: 'Lax' })],
    };
  }

  /** GET /console/callback: redeems the code in process and starts the console session. */
  async callback(req: NeutralRequest): Promise<ConsoleResponse> {
    const issuer = this.latchkey.issuer();
    const now = this.latchkey.clock.now();
    const clearLogin = cookie(this.loginCookieName(), '', { secure: this.secure(), maxAge: 0, sameSite: 'Lax' });
    const login = unseal(await this.sessionKey(), LOGIN_LABEL, readCookie(req, this.loginCookieName()), 2048);
    const state = req.query.get('state') ?? undefined;
    if (!isLoginPayload(login) || login.exp <= now || state === undefined || !macEqual(state, login.s)) {
      return page(400, 'Sign-in could not be completed', 'This sign-in attempt has expired or was not started here. Start again.', [clearLogin], true);
    }
    const error = req.query.get('error');
    if (error !== null) {
      const description = req.query.get('error_description') ?? error;
      return page(error === 'access_denied' ? 403 : 400, 'Sign-in did not complete', description.slice(0, 300), [clearLogin], true);
    }
    const code = req.query.get('code');
    if (code === null || code === '') return page(400, 'Sign-in could not be completed', 'The sign-in answer carried no authorization code. Start again.', [clearLogin], true);
    const body = new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: consoleRedirectUri(issuer), client_id: CONSOLE_CLIENT_ID, code_verifier: login.v }).toString();
    const res = await this.latchkey.tokenEndpoint.handle({
      method: 'POST',
      path: '/oauth/token',
      query: new URLSearchParams(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      contentType: 'application/x-www-form-urlencoded',
      remoteAddress: req.remoteAddress,
      requestId: req.requestId,
    });
    const answer = JSON.parse(res.body) as { access_token?: string; error_description?: string };
    if (res.status !== 200 || typeof answer.access_token !== 'string') {
      return page(400, 'Sign-in could not be completed', answer.error_description ?? 'The authorization code was refused. Start again.', [clearLogin], true);
    }
    const key = unverifiedRecordKey(answer.access_token);
    const record = key === undefined ? undefined : await this.latchkey.storage.tokens.byHash(key);
    // The console needs no token once it knows who signed in: revoke it at once.
    if (record !== undefined) await this.latchkey.storage.tokens.revoke(record.hash, now);
    const user = record?.userId == null ? undefined : await this.latchkey.storage.users.byId(record.userId);
    if (user === undefined || !user.active) return page(403, 'Sign-in refused', 'This account is not active.', [clearLogin], true);
    if (!user.roles.includes(ADMIN_ROLE)) {
      return page(
        403,
        'The admin role is needed',
        `This account lacks the admin role; ask an administrator: ${adminRoleCommand(user.userName)}`,
        [clearLogin],
        false,
      );
    }
    // The browser's sign-in session (the one the code was issued in): signing out ends it too.
    const signIn = await this.latchkey.authorizeEndpoint.sessions.read(req, now);
    const started = await this.start(user, now, signIn?.id ?? null);
    return { status: 303, headers: { ...redirectHeaders('/console/'), ...CONSOLE_HEADERS }, body: '', cookies: [clearLogin, started.cookie] };
  }
}

/** A small server-rendered page (the sign-in pages' layout and headers). */
function page(status: number, title: string, message: string, cookies: string[], retry: boolean): ConsoleResponse {
  const nonce = newNonce();
  const content = html`<h1>${title}</h1>
<p>${message}</p>
${retry ? html`<p><a href="/console/login">Sign in again</a></p>` : html`<p class="muted">Sign in with an account that has the admin role: <a href="/console/login">sign in again</a>.</p>`}`;
  const res = htmlResponse(status, { title, nonce, content });
  return { ...res, cookies };
}
