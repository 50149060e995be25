import { z } from 'zod';
import type { ExchangePolicy } from '../../domain/model.js';
import { describeExchangePolicy, findExchangePolicy, removeExchangePolicy, setExchangePolicy } from '../../registry/exchange-policies.js';
import { deps } from './helpers.js';
import type { AdminRoute, RouteContext } from './types.js';

/**
 * Token exchange (RFC 8693) policies, one per application by client id: which subject tokens it
 * may exchange, for which resources and scopes, and whether it may impersonate. Every change goes
 * through the registry functions, which audit it under the admin's name.
 */

const list = z.array(z.string().max(300)).max(100).optional();
const SetExchangePolicy = z.strictObject({
  subjectApplications: list,
  identityProviders: list,
  idTokens: z.boolean().optional(),
  resources: list,
  scopes: list,
  impersonation: z.boolean().optional(),
});

function policyView(p: ExchangePolicy) {
  return { ...p, summary: describeExchangePolicy(p.spec) };
}

const clientId = (ctx: RouteContext) => ctx.params.clientId ?? '';

export const EXCHANGE_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/exchange/policies',
    tag: 'exchange',
    summary: 'Every token exchange policy (RFC 8693), by client id: subject token sources, resources, scopes, impersonation (an application without one may not exchange)',
    async handler(ctx) {
      return (await ctx.latchkey.storage.exchangePolicies.list()).map(policyView);
    },
  },
  {
    method: 'GET',
    path: '/exchange/policies/:clientId',
    tag: 'exchange',
    summary: 'The token exchange policy of one application',
    async handler(ctx) {
      return policyView(await findExchangePolicy(deps(ctx), clientId(ctx)));
    },
  },
  {
    method: 'PUT',
    path: '/exchange/policies/:clientId',
    tag: 'exchange',
    summary: 'Creates an application\'s token exchange policy or changes the fields given (a list replaces the policy\'s, * alone means any, a field left out stays)',
    body: SetExchangePolicy,
    async handler(ctx) {
      return policyView((await setExchangePolicy(deps(ctx), clientId(ctx), ctx.body as z.infer<typeof SetExchangePolicy>)).policy);
    },
  },
  {
    method: 'DELETE',
    path: '/exchange/policies/:clientId',
    tag: 'exchange',
    summary: 'Deletes an application\'s token exchange policy: it may no longer exchange tokens',
    async handler(ctx) {
      const p = await removeExchangePolicy(deps(ctx), clientId(ctx));
      return { deleted: true, clientId: p.clientId };
    },
  },
];
