import { z } from 'zod';
import { runDoctor } from '../../diagnostics/doctor.js';
import { inspectToken } from '../../diagnostics/inspect.js';
import type { Storage } from '../../storage/types.js';
import { intParam, sinceParam, textParam } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';
import { parseJson } from './views.js';

/** The instance's issuer (where clients reach it), or undefined while it is not known. */
function issuerOrUndefined(latchkey: { issuer(): string }): string | undefined {
  try {
    return latchkey.issuer();
  } catch {
    return undefined;
  }
}

/** Diagnostics: the home page counts, the doctor findings, the token debugger and the audit log. */

const Inspect = z.strictObject({ token: z.string().min(1).max(16_384) });

async function findings(ctx: RouteContext): Promise<unknown[]> {
  const { latchkey } = ctx;
  return runDoctor({ storage: latchkey.storage, router: latchkey.router, clock: latchkey.clock, keyring: latchkey.keyring, files: latchkey.files, grants: latchkey.catalogue, listening: issuerOrUndefined(latchkey) });
}

/**
 * What the instance stores its data in, for the home page: the kind and, for a PostgreSQL URL with
 * several hosts, each host as last probed (the same list as /readyz, docs/high-availability.md).
 */
function database(storage: Storage): { kind: Storage['kind']; hosts?: { host: string; role: string; inUse: boolean; detail?: string; timeline?: number; checkedAt: string | null }[] } {
  const hosts = storage.stats?.hosts?.();
  if (hosts === undefined) return { kind: storage.kind };
  return {
    kind: storage.kind,
    hosts: hosts.map((h) => ({ host: h.host, role: h.role, inUse: h.inUse, ...(h.detail === undefined ? {} : { detail: h.detail }), ...(h.timeline === undefined ? {} : { timeline: h.timeline }), checkedAt: h.checkedAt === 0 ? null : new Date(h.checkedAt).toISOString() })),
  };
}

export const DIAGNOSTICS_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/overview',
    tag: 'diagnostics',
    summary: 'Counts for the home page and the doctor findings',
    async handler(ctx) {
      const { storage, clock } = ctx.latchkey;
      const now = clock.now();
      const [apps, users, tokens, refusals, found] = await Promise.all([
        storage.applications.list(),
        storage.users.list(),
        storage.tokens.list({ activeOnly: true, now, limit: 100_000 }),
        storage.refusals.list({ since: now - 86_400_000, limit: 100_000 }),
        findings(ctx),
      ]);
      return { counts: { applications: apps.length, users: users.length, activeTokens: tokens.length, refusals24h: refusals.length }, findings: found, database: database(storage) };
    },
  },
  {
    method: 'GET',
    path: '/findings',
    tag: 'diagnostics',
    summary: 'The doctor findings (as `latchkey doctor`), each with its fix',
    handler: (ctx) => findings(ctx),
  },
  {
    method: 'POST',
    path: '/inspect',
    tag: 'diagnostics',
    summary: 'Token debugger: what a pasted token is, whether it is valid and which APIs accept it',
    body: Inspect,
    async handler(ctx) {
      const { token } = ctx.body as z.infer<typeof Inspect>;
      return inspectToken(ctx.latchkey, token);
    },
  },
];

export const AUDIT_ROUTE: AdminRoute = {
  method: 'GET',
  path: '/audit',
  tag: 'audit',
  summary: 'The audit log, newest first: who changed what, before and after',
  query: [
    { name: 'since', description: 'ms since the epoch, ISO date, or a duration such as 24h' },
    { name: 'target', description: 'client id, user name, property name, ...' },
    { name: 'action', description: 'e.g. application.create' },
    { name: 'limit', description: '1-1000, default 100', type: 'integer' },
  ],
  async handler(ctx) {
    const store = (ctx.latchkey.storage as Partial<Pick<Storage, 'audit'>>).audit;
    if (store === undefined || typeof store.list !== 'function') return [];
    const limit = intParam(ctx.query, 'limit', { min: 1, max: 1000, fallback: 100 });
    const target = textParam(ctx.query, 'target');
    const action = textParam(ctx.query, 'action');
    const entries = await store.list({ since: sinceParam(ctx), target, action, limit });
    return entries.map((e) => ({ ...e, before: parseJson(e.before), after: parseJson(e.after) }));
  },
};
