import type { NeutralRequest } from '../core/request.js';
import type { Facts, Rule } from '../domain/model.js';
import type { OAuthError } from '../errors/oauth-error.js';
import type { WouldRefuseReporter } from '../audit/would-refuse.js';
import type { CompiledRules } from '../registry/rule-book.js';
import { describeRule } from '../registry/rules.js';
import { basicAuthDisabled, BASIC_AUTH_PROPERTY } from './authenticate.js';
import type { CompiledApi, CompiledResource } from './compile.js';
import type { Caller } from './define.js';

/** The scope and role decision of one requirement (provider.ts authorizeCaller). */
type Authorize = (caller: Caller, resource: { readonly security: { readonly scopes: readonly string[]; readonly roles: readonly string[] } }) => OAuthError | undefined;

export interface ApiRuleContext {
  readonly book: CompiledRules;
  readonly reporter: Pick<WouldRefuseReporter, 'report'> | undefined;
  readonly authorize: Authorize;
  /** The facts only this request shows (its method and path, the token's), built only for a record kept. */
  readonly facts: (error: OAuthError) => Promise<Facts>;
}

function ruleError(error: OAuthError, rule: Rule): OAuthError {
  const said = rule.mode === 'enforce' ? `Rule ${rule.id} requires it (${describeRule(rule)}), on top of the API's definition.` : `Rule ${rule.id} (${describeRule(rule)}) reports only: this call succeeded, and would be refused once the rule is enforced.`;
  return error.withHint(said).withFacts({ rule: rule.id, ruleMode: rule.mode });
}

/**
 * The rules on one admitted API call (src/registry/rules.ts): an enforced api_requirement the
 * caller does not meet throws its refusal; a reporting one, or the reporting Basic switch, is
 * reported as "would refuse" and the call goes on. Synchronous: nothing is awaited here.
 */
export function checkApiRules(ctx: ApiRuleContext, req: NeutralRequest, endpoint: string, api: CompiledApi, resource: CompiledResource, caller: Caller): void {
  const rules = ctx.book.forResource(resource, api.namespace, api.id, resource.method, resource.template);
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as Rule;
    const denied = ctx.authorize(caller, { security: { scopes: rule.spec.scopes ?? [], roles: rule.spec.roles ?? [] } });
    if (denied === undefined) continue;
    const error = ruleError(denied, rule);
    if (rule.mode === 'enforce') throw error;
    report(ctx, req, endpoint, caller, rule, error);
  }
  if (caller.method === 'basic') {
    const basic = ctx.book.properties.get(BASIC_AUTH_PROPERTY);
    if (basic !== undefined) report(ctx, req, endpoint, caller, basic, ruleError(basicAuthDisabled(resource.security.authMethods), basic));
  }
}

function report(ctx: ApiRuleContext, req: NeutralRequest, endpoint: string, caller: Caller, rule: Rule, error: OAuthError): void {
  ctx.reporter?.report(
    {
      ruleId: rule.id,
      requestId: req.requestId,
      endpoint,
      remoteAddress: req.remoteAddress,
      error,
      clientId: caller.application?.clientId,
      applicationName: caller.application?.name,
      userName: caller.user?.name,
    },
    () => ctx.facts(error),
  );
}
