import type { AdminRoute } from './types.js';

/** The console session: who is signed in, and signing out. */
export const SESSION_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/session',
    tag: 'session',
    summary: 'The signed-in admin, the CSRF token to send in x-csrf-token, and when the session ends',
    async handler(ctx) {
      const s = ctx.caller.session;
      return {
        user: { name: ctx.caller.userName, roles: ctx.caller.roles },
        via: ctx.caller.via,
        csrfToken: s === undefined ? null : await ctx.auth.csrfToken(s),
        expiresAt: s === undefined ? null : ctx.auth.expiresAt({ ...s, lastSeen: ctx.latchkey.clock.now() }),
      };
    },
  },
  {
    method: 'POST',
    path: '/session/logout',
    tag: 'session',
    summary: 'Ends the console session (clears the cookie)',
    async handler(ctx) {
      ctx.cookies.push(ctx.auth.clear());
      return { signedOut: true };
    },
  },
];
