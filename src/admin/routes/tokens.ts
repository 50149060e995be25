import { z } from 'zod';
import { tokenHandle } from '../../core/crypto.js';
import { findApplication } from '../../registry/applications.js';
import { findUser } from '../../registry/users.js';
import type { Storage } from '../../storage/types.js';
import { badRequest, notFound } from '../http.js';
import { audit, intParam, refreshed } from './helpers.js';
import type { AdminRoute } from './types.js';
import { names, tokenView } from './views.js';

/** Issued tokens: list, revoke one, revoke all of an application or a user. */

const RevokeAll = z.strictObject({ application: z.string().max(200).optional(), user: z.string().max(100).optional() });

type Owner = { applicationId: string | undefined; userId: string | undefined };

/** Revokes every active token of the owner, page by page; a refresh token takes its family with it. */
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

export const TOKEN_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/tokens',
    tag: 'tokens',
    summary: 'Issued tokens, newest first; rows carry the stored key (a hash), never a token',
    query: [
      { name: 'application', description: 'client id' },
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
    path: '/tokens/:id/revoke',
    tag: 'tokens',
    summary: 'Revokes one token by its stored key (a refresh token takes its whole family with it)',
    async handler(ctx) {
      const { storage, clock } = ctx.latchkey;
      const record = await storage.tokens.byHash(ctx.params.id ?? '');
      if (record === undefined) throw notFound('No token has this id. List them with GET /admin/api/v1/tokens.');
      const now = clock.now();
      const revoked = record.kind === 'refresh' ? await storage.tokens.revokeFamily(record.familyId, now) : (await storage.tokens.revoke(record.hash, now)) ? 1 : 0;
      const n = await names(storage);
      const handle = tokenHandle(record.hash);
      await audit(ctx, { action: 'token.revoke', target: handle, before: { ...tokenView(record, n, now), id: handle }, after: { kind: record.kind, status: 'revoked', revoked } });
      return refreshed(ctx, { revoked });
    },
  },
  {
    method: 'POST',
    path: '/tokens/revoke-all',
    tag: 'tokens',
    summary: 'Revokes every active token of an application or of a user',
    body: RevokeAll,
    async handler(ctx) {
      const body = ctx.body as z.infer<typeof RevokeAll>;
      const { latchkey } = ctx;
      if (body.application === undefined && body.user === undefined) throw badRequest('Name an application (client id) or a user whose tokens to revoke.', 'application');
      const applicationId = body.application === undefined ? undefined : (await findApplication(latchkey, body.application)).id;
      const userId = body.user === undefined ? undefined : (await findUser(latchkey, body.user)).id;
      const revoked = await revokeActive(latchkey.storage, { applicationId, userId }, latchkey.clock.now());
      await audit(ctx, { action: 'token.revoke_all', target: body.application ?? body.user ?? '', after: { application: body.application ?? null, user: body.user ?? null, revoked } });
      return refreshed(ctx, { revoked });
    },
  },
];
