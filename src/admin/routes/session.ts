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
        expiresAt: s === undefined ? null : ctx.auth.expiresAt(s, ctx.latchkey.clock.now()),
      };
    },
  },
  {
    method: 'POST',
    path: '/session/logout',
    tag: 'session',
    summary: 'Signs out: ends the console session and the sign-in session it came from, on the server (a copied cookie stops working), and clears both cookies',
    async handler(ctx) {
      const s = ctx.caller.session;
      if (s === undefined) return { signedOut: false };
      ctx.cookies.push(...(await ctx.auth.signOut(s, ctx.latchkey.clock.now())));
      return { signedOut: true };
    },
  },
];
