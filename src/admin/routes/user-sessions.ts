import { sessionHandle } from '../../core/crypto.js';
import { sessionSid } from '../../web/session.js';
import type { SessionRecord, User } from '../../domain/model.js';
import { findUser } from '../../registry/users.js';
import { notFound } from '../http.js';
import { audit, deps } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';
import { userView } from './views.js';

/**
 * One user, and the sessions it has signed in with: the authorization server's sign-in sessions
 * (the authorize pages) and console sessions. A session is stored under the hash of its cookie
 * value (web/session.ts); the API shows a short handle of that hash, never the cookie value, and
 * ends a session by its handle. Ending a sign-in session also ends the console sessions started
 * from it (its children), as signing out of the console ends both.
 */

export interface SessionView {
  /** 12 characters of the stored hash: names the session, cannot be turned into its cookie. */
  readonly handle: string;
  readonly kind: SessionRecord['kind'];
  readonly startedAt: number;
  readonly lastSeenAt: number;
  /** When it ends if unused: the idle end, capped by the absolute end. */
  readonly endsAt: number;
  /** The absolute end (8 hours after sign-in). */
  readonly expiresAt: number;
  /** The sign-in session a console session started from. */
  readonly parent: string | null;
  /** The caller's own browser: the console session making this request, or the sign-in it came from. */
  readonly current: boolean;
  /** A sign-in session's `sid` (as in its ID tokens and logout tokens); null for a console session. */
  readonly sid: string | null;
  /** The applications given an ID token through this sign-in session (told by back-channel logout when it ends). */
  readonly applications: readonly { readonly clientId: string; readonly name: string }[];
}

const handleOf = (id: string): string => sessionHandle(id);

/** How long each kind of session lasts unused (web/session.ts, admin/console-auth.ts). */
function idleMs(ctx: RouteContext, kind: SessionRecord['kind']): number {
  return kind === 'console' ? ctx.auth.idleMs : ctx.latchkey.authorizeEndpoint.sessions.idleMs;
}

/** The user's sessions that still stand: not ended, not past their absolute end, not idle too long. */
async function liveSessions(ctx: RouteContext, user: User, now: number): Promise<SessionRecord[]> {
  const all = await ctx.latchkey.storage.sessions.listForUser(user.id, now);
  return all.filter((s) => now - s.lastSeenAt < idleMs(ctx, s.kind));
}

/** The applications signed in through a sign-in session (by its sid), by client id and name. */
async function applicationsOf(ctx: RouteContext, s: SessionRecord): Promise<SessionView['applications']> {
  if (s.kind !== 'signin') return [];
  const out: { clientId: string; name: string }[] = [];
  for (const id of await ctx.latchkey.storage.sessions.clientsOf(sessionSid(s))) {
    const app = await ctx.latchkey.storage.applications.byId(id);
    if (app !== undefined) out.push({ clientId: app.clientId, name: app.name });
  }
  return out;
}

async function sessionView(ctx: RouteContext, s: SessionRecord, now: number): Promise<SessionView> {
  const mine = ctx.caller.session;
  const current = mine !== undefined && (s.id === mine.id || s.id === mine.parentId);
  return {
    handle: handleOf(s.id),
    kind: s.kind,
    startedAt: s.createdAt,
    lastSeenAt: s.lastSeenAt,
    endsAt: Math.min(Math.max(s.lastSeenAt, now) + idleMs(ctx, s.kind), s.expiresAt),
    expiresAt: s.expiresAt,
    parent: s.parentId === null ? null : handleOf(s.parentId),
    current,
    sid: s.kind === 'signin' ? sessionSid(s) : null,
    applications: await applicationsOf(ctx, s),
  };
}

/** Ends the sessions (and their children among `live`); returns the handles ended, audited under the user. */
async function endSessions(ctx: RouteContext, user: User, chosen: readonly SessionRecord[], live: readonly SessionRecord[], now: number): Promise<string[]> {
  const ids = new Set(chosen.map((s) => s.id));
  for (const s of live) if (s.parentId !== null && ids.has(s.parentId)) ids.add(s.id);
  const ended: string[] = [];
  const records: SessionRecord[] = [];
  for (const id of ids) {
    if (!(await ctx.latchkey.storage.sessions.revoke(id, now))) continue;
    ended.push(handleOf(id));
    const record = live.find((x) => x.id === id) ?? chosen.find((x) => x.id === id);
    if (record !== undefined) records.push(record);
  }
  // Back-Channel Logout 1.0: the applications signed in through them are told (after this answer).
  ctx.latchkey.backchannel.sessionsEnded(records);
  if (ended.length > 0) await audit(ctx, { action: 'user.sessions_ended', target: user.userName, after: { reason: 'ended by an administrator', sessions: ended.length, handles: ended } });
  return ended;
}

export const USER_SESSION_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/users/:userName',
    tag: 'users',
    summary: 'One user (never its password hash): roles, active, whether it has a password and when it last changed',
    async handler(ctx) {
      return userView(await findUser(deps(ctx), ctx.params.userName ?? ''));
    },
  },
  {
    method: 'GET',
    path: '/users/:userName/sessions',
    tag: 'users',
    summary: "The user's live sessions (sign-in and console), newest first, by handle (a short hash, never the cookie), with a sign-in session's sid and the applications signed in through it; current marks the caller's own browser",
    async handler(ctx) {
      const user = await findUser(deps(ctx), ctx.params.userName ?? '');
      const now = ctx.latchkey.clock.now();
      return { userName: user.userName, sessions: await Promise.all((await liveSessions(ctx, user, now)).map((s) => sessionView(ctx, s, now))) };
    },
  },
  {
    method: 'DELETE',
    path: '/users/:userName/sessions',
    tag: 'users',
    summary: "Ends every session of the user on every instance (signed out at the next request; tokens already issued stay valid: revoke them on /tokens); the applications signed in through them get a back-channel logout token; audited as user.sessions_ended",
    async handler(ctx) {
      const user = await findUser(deps(ctx), ctx.params.userName ?? '');
      const now = ctx.latchkey.clock.now();
      const live = await liveSessions(ctx, user, now);
      const ended = await endSessions(ctx, user, live, live, now);
      return { userName: user.userName, ended: ended.length, handles: ended };
    },
  },
  {
    method: 'DELETE',
    path: '/users/:userName/sessions/:handle',
    tag: 'users',
    summary: 'Ends one session of the user by its handle (a sign-in session with the console sessions started from it); the applications signed in through it get a back-channel logout token; audited as user.sessions_ended',
    async handler(ctx) {
      const user = await findUser(deps(ctx), ctx.params.userName ?? '');
      const now = ctx.latchkey.clock.now();
      const live = await liveSessions(ctx, user, now);
      const handle = ctx.params.handle ?? '';
      const chosen = live.filter((s) => handleOf(s.id) === handle);
      if (chosen.length === 0) throw notFound(`User ${user.userName} has no live session with the handle "${handle.slice(0, 40)}". List them with GET /admin/api/v1/users/${encodeURIComponent(user.userName)}/sessions.`);
      const ended = await endSessions(ctx, user, chosen, live, now);
      return { userName: user.userName, ended: ended.length, handles: ended };
    },
  },
];
