import { z } from 'zod';
import type { InitialAccessToken, RegistrationPolicy } from '../../domain/model.js';
import {
  createInitialAccessToken,
  describePolicy,
  findPolicy,
  iatState,
  reapRegistrations,
  registrationInfos,
  REGISTRATION_MODE_PROPERTY,
  removePolicy,
  revokeInitialAccessToken,
  setPolicy,
} from '../../registry/registration.js';
import { badRequest } from '../http.js';
import { deps } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';

/**
 * Dynamic client registration (RFC 7591): initial access tokens (the token itself is answered
 * once, at creation; lists carry ids only), registration policies, the registered clients and
 * reaping. Every change goes through the registry functions, which audit it under the admin's name.
 */

const CreateToken = z.strictObject({
  uses: z.number().int().min(1).max(1_000_000).optional(),
  /** Seconds until it expires. */
  expiresInSeconds: z.number().int().min(1).max(10 * 365 * 86400).optional(),
  policy: z.string().min(1).max(64).optional(),
});

const list = z.array(z.string().max(300)).max(100).nullable().optional();
const SetPolicy = z.strictObject({
  description: z.string().max(500).nullable().optional(),
  grantTypes: list,
  scopes: list,
  redirectHosts: list,
  tokenFormats: list,
  authMethods: list,
  applicationTypes: list,
});

const Reap = z.strictObject({
  dryRun: z.boolean().optional(),
  days: z.number().int().min(0).max(3650).optional(),
});

function tokenView(t: InitialAccessToken, now: number) {
  const { hash: _hash, ...rest } = t;
  return { ...rest, state: iatState(t, now) };
}

function policyView(p: RegistrationPolicy) {
  return { ...p, summary: describePolicy(p.spec) };
}

const name = (ctx: RouteContext) => ctx.params.name ?? '';

export const REGISTRATION_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/registration',
    tag: 'registration',
    summary: 'Dynamic client registration at a glance: the mode (latchkey.registration.mode), the initial access tokens by state, the policies and how many clients are registered',
    async handler(ctx) {
      const s = ctx.latchkey.storage;
      const now = ctx.latchkey.clock.now();
      const [props, tokens, policies, registrations] = await Promise.all([ctx.latchkey.cache.properties(), s.initialAccessTokens.list(), s.registrationPolicies.list(), s.registrations.list()]);
      const byState: Record<string, number> = { active: 0, expired: 0, revoked: 0, used_up: 0 };
      for (const t of tokens) byState[iatState(t, now)] = (byState[iatState(t, now)] ?? 0) + 1;
      return {
        mode: props[REGISTRATION_MODE_PROPERTY],
        rateLimit: props['latchkey.rate_limit.registration'],
        reapAfterDays: props['latchkey.registration.reap_after_days'],
        tokens: byState,
        policies: policies.length,
        registeredClients: registrations.length,
      };
    },
  },
  {
    method: 'GET',
    path: '/registration/tokens',
    tag: 'registration',
    summary: 'Every initial access token, oldest first: its id (never the token), state, uses left, expiry, policy and creator',
    async handler(ctx) {
      const now = ctx.latchkey.clock.now();
      return (await ctx.latchkey.storage.initialAccessTokens.list()).map((t) => tokenView(t, now));
    },
  },
  {
    method: 'POST',
    path: '/registration/tokens',
    tag: 'registration',
    status: 201,
    summary: 'Creates an initial access token (uses, expiresInSeconds, policy: all optional); the answer carries the token once, only its SHA-256 is stored',
    body: CreateToken,
    async handler(ctx) {
      const input = ctx.body as z.infer<typeof CreateToken>;
      const created = await createInitialAccessToken(deps(ctx), input);
      return { ...tokenView(created.record, ctx.latchkey.clock.now()), token: created.token };
    },
  },
  {
    method: 'DELETE',
    path: '/registration/tokens/:id',
    tag: 'registration',
    summary: 'Revokes an initial access token: it registers nothing more (the clients it registered stay)',
    async handler(ctx) {
      return tokenView(await revokeInitialAccessToken(deps(ctx), ctx.params.id ?? ''), ctx.latchkey.clock.now());
    },
  },
  {
    method: 'GET',
    path: '/registration/policies',
    tag: 'registration',
    summary: 'Every registration policy, by name, with what it restricts (the policy named default applies to open registrations and tokens that name none)',
    async handler(ctx) {
      return (await ctx.latchkey.storage.registrationPolicies.list()).map(policyView);
    },
  },
  {
    method: 'GET',
    path: '/registration/policies/:name',
    tag: 'registration',
    summary: 'One registration policy',
    async handler(ctx) {
      return policyView(await findPolicy(deps(ctx), name(ctx)));
    },
  },
  {
    method: 'PUT',
    path: '/registration/policies/:name',
    tag: 'registration',
    summary: 'Creates a registration policy or changes the fields given (a list replaces the policy\'s, null lifts the restriction, a field left out stays)',
    body: SetPolicy,
    async handler(ctx) {
      return policyView(await setPolicy(deps(ctx), name(ctx), ctx.body as z.infer<typeof SetPolicy>));
    },
  },
  {
    method: 'DELETE',
    path: '/registration/policies/:name',
    tag: 'registration',
    summary: 'Deletes a registration policy (409 in_use while an active initial access token names it)',
    async handler(ctx) {
      const p = await removePolicy(deps(ctx), name(ctx));
      return { deleted: true, name: p.name };
    },
  },
  {
    method: 'GET',
    path: '/registration/clients',
    tag: 'registration',
    summary:
      'Every dynamically registered client, oldest first: client id, application name, source (iat:<id> or ip:<address>) and sourceText, policy, registered (createdAt) and last used times (reaping\'s view: usage counts included), when reaping would delete it (reapAt, null when off), whether the next reap does (reapDue), its registrationClientUri',
    query: [{ name: 'stale', description: 'true: only the clients the next reap would delete' }],
    async handler(ctx) {
      const stale = ctx.query.get('stale');
      if (stale !== null && stale !== 'true' && stale !== 'false') throw badRequest('stale is true or false.', 'stale');
      const s = ctx.latchkey.storage;
      const apps = new Map((await s.applications.list()).map((a) => [a.clientId, a]));
      const all = await registrationInfos(ctx.latchkey, { issuer: ctx.latchkey.issuer() });
      return all
        .filter((r) => stale !== 'true' || r.reapDue)
        .map((r) => ({
          clientId: r.clientId,
          name: apps.get(r.clientId)?.name ?? null,
          source: r.source,
          sourceText: r.sourceText,
          policy: r.policy,
          createdAt: r.registeredAt,
          lastUsedAt: r.lastUsedAt,
          reapAfterDays: r.reapAfterDays,
          reapAt: r.reapAt,
          reapDue: r.reapDue,
          registrationClientUri: r.registrationClientUri,
        }));
    },
  },
  {
    method: 'POST',
    path: '/registration/reap',
    tag: 'registration',
    summary: 'Deletes the registered clients unused for the period (days, default latchkey.registration.reap_after_days) and the active client ID metadata document applications never used (candidates of kind metadata_document); dryRun lists them only',
    body: Reap,
    async handler(ctx) {
      const input = ctx.body as z.infer<typeof Reap>;
      const result = await reapRegistrations(deps(ctx), input);
      await ctx.latchkey.cache.check();
      return result;
    },
  },
];
