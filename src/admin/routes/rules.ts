import { z } from 'zod';
import { RULE_KINDS, RULE_MODES, type Rule } from '../../domain/model.js';
import { RULE_REPORT_DAYS, ruleReport, ruleReports, type RuleReport } from '../../diagnostics/rules.js';
import { createRule, deleteRule, enforceRule, findRule, reportRule } from '../../registry/rules.js';
import { deps, intParam, refreshed } from './helpers.js';
import type { AdminRoute, QueryParam, RouteContext } from './types.js';

/**
 * Report-only rules (src/registry/rules.ts): list them with who each would refuse, add one (in
 * report mode unless told otherwise), read one's report (diagnostics/rules.ts: who would be
 * refused and why, the latest request of each client to explain with GET /refusals/{id}), enforce
 * it, put an enforced API requirement back to report, delete it. Every change is made by the
 * registry functions, which audit it (rule.create, rule.enforce, rule.report, rule.delete) under
 * the admin's name.
 */

const CreateRule = z.strictObject({
  kind: z.enum(RULE_KINDS as [Rule['kind'], ...Rule['kind'][]]),
  /** `namespace/api` or `METHOD namespace/api/template`; a property name; a client id; `instance`. Checked by the registry. */
  target: z.string().min(1).max(500),
  scopes: z.array(z.string().max(100)).max(200).optional(),
  roles: z.array(z.string().max(100)).max(200).optional(),
  grantTypes: z.array(z.string().max(500)).max(10).optional(),
  /** The refusing value of a property rule (`false`), or the new limit of a rate_limit rule (`100`, `100/1m`). */
  value: z.union([z.string().max(100), z.boolean(), z.number()]).optional(),
  note: z.string().max(500).nullable().optional(),
  mode: z.enum(RULE_MODES as [Rule['mode'], ...Rule['mode'][]]).optional(),
});

const DAYS: QueryParam = { name: 'days', description: `1-30, default ${RULE_REPORT_DAYS}: how far back the report looks (the requests matched, the latest record of each client)`, type: 'integer' };

const daysParam = (ctx: RouteContext) => intParam(ctx.query, 'days', { min: 1, max: 30, fallback: RULE_REPORT_DAYS }) ?? RULE_REPORT_DAYS;

const reportDeps = (ctx: RouteContext) => ({ storage: ctx.latchkey.storage, clock: ctx.latchkey.clock });

/** The registry deps of a rule change: the admin as the actor, the grant catalogue and the APIs this instance serves (an API requirement's target is checked against them). */
function ruleDeps(ctx: RouteContext) {
  return { ...deps(ctx), apis: { apis: ctx.latchkey.router.list(), mcpServers: ctx.latchkey.router.mcpServers() } };
}

/** After a change: the cache (and with it the rule book) picks it up; answers the rule's report. */
async function changed(ctx: RouteContext, rule: Rule): Promise<RuleReport> {
  await ctx.latchkey.cache.check();
  return ruleReport(reportDeps(ctx), rule);
}

const id = (ctx: RouteContext) => ctx.params.id ?? '';

export const RULE_ROUTES: readonly AdminRoute[] = [
  {
    method: 'GET',
    path: '/rules',
    tag: 'rules',
    summary: 'Every report-only or enforced rule, oldest first, with its report over the period: the rule in one line, what enforcing does, the requests it matched and how many clients it would refuse',
    query: [DAYS],
    async handler(ctx) {
      const reports = await ruleReports(reportDeps(ctx), { days: daysParam(ctx) });
      return reports.map(({ clients, ...rest }) => ({ ...rest, clientCount: clients.length }));
    },
  },
  {
    method: 'POST',
    path: '/rules',
    tag: 'rules',
    status: 201,
    summary: 'Adds a rule, in report mode unless mode is enforce: an API requirement (scopes or roles on `namespace/api` or `METHOD namespace/api/template`), an instance switch (property and its refusing value), an application change (grantTypes and/or scopes) or a rate limit (`instance` and a count, or a client id and `100/1m`); answers its report',
    body: CreateRule,
    async handler(ctx) {
      const { mode, value, ...input } = ctx.body as z.infer<typeof CreateRule>;
      const rule = await createRule(ruleDeps(ctx), { ...input, ...(value === undefined ? {} : { value: String(value) }) }, mode === undefined ? {} : { mode });
      return changed(ctx, rule);
    },
  },
  {
    method: 'GET',
    path: '/rules/:id',
    tag: 'rules',
    summary: 'One rule and who it would refuse, and why: per client the requests it matched, the latest one kept (its request id opens with GET /refusals/{requestId}), its reason and users (what `latchkey rules show` reports)',
    query: [DAYS],
    async handler(ctx) {
      const days = daysParam(ctx);
      return ruleReport(reportDeps(ctx), await findRule(ctx.latchkey, id(ctx)), { days });
    },
  },
  {
    method: 'POST',
    path: '/rules/:id/enforce',
    tag: 'rules',
    summary: 'Enforces a reporting rule: an API requirement refuses from now on; the other kinds apply their change (the property set, the application updated) and stay as its record; answers the report, `enforcing` saying what it did',
    async handler(ctx) {
      return changed(ctx, await enforceRule(ruleDeps(ctx), id(ctx)));
    },
  },
  {
    method: 'POST',
    path: '/rules/:id/report',
    tag: 'rules',
    summary: 'Puts an enforced API requirement back to report: the calls it refused succeed again, recorded as "would refuse" (the other kinds applied their change when enforced: change that setting back instead)',
    async handler(ctx) {
      return changed(ctx, await reportRule(ruleDeps(ctx), id(ctx)));
    },
  },
  {
    method: 'DELETE',
    path: '/rules/:id',
    tag: 'rules',
    summary: 'Deletes a rule: a reporting one stops reporting, an enforced API requirement stops refusing (a change another kind applied stays)',
    async handler(ctx) {
      const deleted = await refreshed(ctx, await deleteRule(ruleDeps(ctx), id(ctx)));
      return { deleted };
    },
  },
];
