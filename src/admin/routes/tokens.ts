import { z } from 'zod';
import { findApplication } from '../../registry/applications.js';
import { findUser } from '../../registry/users.js';
import type { Storage } from '../../storage/types.js';
import { findToken, revokeApplicationTokens, revokeToken, revokeUserTokens } from '../../tokens/revocation.js';
import { HANDLE_PREFIX } from '../../core/crypto.js';
import { badRequest, notFound } from '../http.js';
import { audit, deps, intParam, refreshed } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';
import { names, tokenView } from './views.js';

/**
 * Issued tokens: list, revoke one (by its handle, core/crypto.ts tokenHandle), revoke every token
 * of an application or a user. Revocations go through src/tokens/revocation.ts, as the CLI's.
 */

const RevokeAll = z.strictObject({ application: z.string().max(200).optional(), user: z.string().max(100).optional() });
const Revoke = z.strictObject({
  handle: z.string().max(100).optional(),
  token: z.string().max(16_384).optional(),
  application: z.string().max(200).optional(),
  user: z.string().max(100).optional(),
});

type Owner = { applicationId: string | undefined; userId: string | undefined };

/** Revokes every active token of the owner (an application AND a user), page by page; a refresh token takes its family with it. */
async function revokeActive(storage: Storage, owner: Owner, now: number): Promise<number> {
  let revoked = 0;
  const families = new Set<string>();
  for (;;) {
    const page = await storage.tokens.list({ ...owner, activeOnly: true, now, limit: 1000 });
    if (page.length === 0) break;
    for (const t of page) {
      if (t.kind === 'refresh') {
        if (!families.has(t.familyId)) revoked += await storage.tokens.revokeFamily(t.familyId, now);
        families.add(t.familyId);
      }
      if (t.kind === 'access' && (await storage.tokens.revoke(t.hash, now))) revoked++;
    }
    if (page.length < 1000) break;
  }
  return revoked;
}

/** One token by its handle or the token itself: what it was, and how many tokens changed. */
async function revokeOne(ctx: RouteContext, ref: string) {
  const result = await revokeToken(deps(ctx), await findToken(ctx.latchkey, ref));
  return refreshed(ctx, result);
}

/** Every token of an application or of a user. */
async function revokeOwner(ctx: RouteContext, body: { application?: string | undefined; user?: string | undefined }) {
  const all = body.application !== undefined ? await revokeApplicationTokens(deps(ctx), body.application) : await revokeUserTokens(deps(ctx), body.user ?? '');
  return refreshed(ctx, { ...all, revoked: all.tokens });
}

export const TOKEN_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/tokens',
    tag: 'tokens',
    summary: 'Issued tokens, newest first; each named by its handle (tk_…, a prefix of the stored key), never by a token',
    query: [
      { name: 'application', description: 'client id or unique name' },
      { name: 'user', description: 'user name' },
      { name: 'active', description: 'true (default): only active unexpired tokens; false: all', type: 'boolean' },
      { name: 'limit', description: '1-1000, default 200', type: 'integer' },
    ],
    async handler(ctx) {
      const { latchkey, query } = ctx;
      const now = latchkey.clock.now();
      const application = query.get('application');
      const user = query.get('user');
      const applicationId = application === null || application === '' ? undefined : (await findApplication(latchkey, application)).id;
      const userId = user === null || user === '' ? undefined : (await findUser(latchkey, user)).id;
      const limit = intParam(query, 'limit', { min: 1, max: 1000, fallback: 200 });
      const list = await latchkey.storage.tokens.list({ applicationId, userId, activeOnly: query.get('active') !== 'false', now, limit });
      const n = await names(latchkey.storage);
      return list.map((t) => tokenView(t, n, now));
    },
  },
  {
    method: 'POST',
    path: '/tokens/revoke',
    tag: 'tokens',
    summary: 'Revokes one token (by handle, or the token itself) or every token of an application or a user: give exactly one of handle, token, application, user',
    body: Revoke,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof Revoke>;
      const given = (['handle', 'token', 'application', 'user'] as const).filter((k) => body[k] !== undefined);
      if (given.length !== 1) throw badRequest('Give exactly one of handle, token, application (client id or name) and user.', given[1] ?? 'handle');
      if (body.handle !== undefined) return revokeOne(ctx, body.handle);
      if (body.token !== undefined) return revokeOne(ctx, body.token);
      return revokeOwner(ctx, body);
    },
  },
  {
    method: 'POST',
    path: '/tokens/:id/revoke',
    tag: 'tokens',
    summary: 'Revokes one token by its handle (a refresh token takes its whole family with it)',
    async handler(ctx) {
      const id = ctx.params.id ?? '';
      // Only a handle here: a token in a URL path would reach access logs; POST /tokens/revoke {token} takes one in the body.
      if (!id.startsWith(HANDLE_PREFIX)) throw notFound('No token has this handle (tk_…). List them with GET /admin/api/v1/tokens; to revoke by the token itself, POST /admin/api/v1/tokens/revoke {"token"}.');
      return revokeOne(ctx, id);
    },
  },
  {
    method: 'POST',
    path: '/tokens/revoke-all',
    tag: 'tokens',
    summary: 'Revokes every active token of an application, of a user, or of both together',
    body: RevokeAll,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof RevokeAll>;
      const { latchkey } = ctx;
      if (body.application === undefined && body.user === undefined) throw badRequest('Name an application (client id or name) or a user whose tokens to revoke.', 'application');
      if (body.application === undefined || body.user === undefined) return revokeOwner(ctx, body);
      const applicationId = (await findApplication(latchkey, body.application)).id;
      const userId = (await findUser(latchkey, body.user)).id;
      const revoked = await revokeActive(latchkey.storage, { applicationId, userId }, latchkey.clock.now());
      await audit(ctx, { action: 'token.revoke_all', target: body.application, after: { application: body.application, user: body.user, revoked } });
      return refreshed(ctx, { revoked });
    },
  },
];
