import type { NeutralRequest } from '../core/request.js';
import type { Facts, Rule } from '../domain/model.js';
import type { OAuthError } from '../errors/oauth-error.js';
import type { WouldRefuseReporter } from '../audit/would-refuse.js';
import type { CompiledRules } from '../registry/rule-book.js';
import { describeRule } from '../registry/rules.js';
import { basicAuthDisabled, BASIC_AUTH_PROPERTY } from './authenticate.js';
import type { CompiledApi, CompiledResource } from './compile.js';
import type { CompiledMcpServer, CompiledMcpTool } from './compile-mcp.js';
import type { Caller } from './define.js';

/** The scope and role decision of one requirement (provider.ts authorizeCaller). */
type Authorize = (caller: Caller, resource: { readonly security: { readonly scopes: readonly string[]; readonly roles: readonly string[] } }) => OAuthError | undefined;

export interface ApiRuleContext {
  readonly reporter: Pick<WouldRefuseReporter, 'report'> | undefined;
  readonly authorize: Authorize;
  /** The same decision as a boolean, with no refusal built (it runs on every call a rule covers). */
  readonly admits: (caller: Caller, scopes: readonly string[], roles: readonly string[]) => boolean;
  /** The facts only this request shows (its method and path, the token's), built only for a record kept. */
  readonly facts: (error: OAuthError, req: NeutralRequest) => Promise<Facts>;
}

function ruleError(error: OAuthError, rule: Rule, definition = "the API's definition"): OAuthError {
  const said = rule.mode === 'enforce' ? `Rule ${rule.id} requires it (${describeRule(rule)}), on top of ${definition}.` : `Rule ${rule.id} (${describeRule(rule)}) reports only: this call succeeded, and would be refused once the rule is enforced.`;
  return error.withHint(said).withFacts({ rule: rule.id, ruleMode: rule.mode });
}

/**
 * The rules on one admitted API call (src/registry/rules.ts): an enforced api_requirement the
 * caller does not meet throws its refusal; a reporting one, or the reporting Basic switch, is
 * reported as "would refuse" and the call goes on. Synchronous: nothing is awaited here.
 */
export function checkApiRules(ctx: ApiRuleContext, book: CompiledRules, req: NeutralRequest, endpoint: string, api: CompiledApi, resource: CompiledResource, caller: Caller): void {
  const rules = book.forResource(resource, api.namespace, api.id, resource.method, resource.template);
  const none: readonly string[] = [];
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as Rule;
    const scopes = rule.spec.scopes ?? none;
    const roles = rule.spec.roles ?? none;
    if (ctx.admits(caller, scopes, roles)) continue;
    // The refusal is built only when it is thrown or kept: not for every call a rule reports.
    const refusal = () => ruleError(ctx.authorize(caller, { security: { scopes, roles } }) as OAuthError, rule);
    if (rule.mode === 'enforce') throw refusal();
    report(ctx, req, endpoint, caller, rule, refusal);
  }
  if (caller.method === 'basic') {
    const basic = book.properties.get(BASIC_AUTH_PROPERTY);
    if (basic !== undefined) report(ctx, req, endpoint, caller, basic, () => ruleError(basicAuthDisabled(resource.security.authMethods), basic));
  }
}

/**
 * The rules on one admitted request to a hosted MCP server (target `mcp:namespace/id`: `tool`
 * undefined, every request) or on one `tools/call` of one of its tools (target
 * `mcp:namespace/id/tool`), as checkApiRules does for an API: an enforced requirement the caller
 * does not meet throws its refusal (api.scope_missing or api.role_missing, naming the rule and the
 * tool: a 403 insufficient_scope is the MCP step-up); a reporting one is reported as "would
 * refuse" and the request goes on. Synchronous: nothing is awaited here.
 */
export function checkMcpRules(ctx: ApiRuleContext, book: CompiledRules, req: NeutralRequest, endpoint: string, server: CompiledMcpServer, tool: CompiledMcpTool | undefined, caller: Caller): void {
  const rules = tool === undefined ? book.forMcp(server, server.namespace, server.id) : book.forMcp(tool, server.namespace, server.id, tool.name);
  const none: readonly string[] = [];
  const definition = tool === undefined ? `the MCP server's definition` : `the definition of the MCP tool ${tool.name} of ${server.namespace}/${server.id}`;
  for (let i = 0; i < rules.length; i++) {
    const rule = rules[i] as Rule;
    const scopes = rule.spec.scopes ?? none;
    const roles = rule.spec.roles ?? none;
    if (ctx.admits(caller, scopes, roles)) continue;
    const refusal = () => ruleError(ctx.authorize(caller, { security: { scopes, roles } }) as OAuthError, rule, definition);
    if (rule.mode === 'enforce') throw refusal();
    report(ctx, req, endpoint, caller, rule, refusal);
  }
}

function report(ctx: ApiRuleContext, req: NeutralRequest, endpoint: string, caller: Caller, rule: Rule, refusal: () => OAuthError): void {
  ctx.reporter?.report(
    rule.id,
    caller.application?.clientId,
    () => ({
      ruleId: rule.id,
      requestId: req.requestId,
      endpoint,
      remoteAddress: req.remoteAddress,
      error: refusal(),
      clientId: caller.application?.clientId,
      applicationName: caller.application?.name,
      userName: caller.user?.name,
    }),
    (error) => ctx.facts(error, req),
  );
}
