import type { WouldRefuseReporter } from '../audit/would-refuse.js';
import { secretPostRefusal, SECRET_POST_PROPERTY } from '../client-auth/authenticate.js';
import type { ClientAuthMethod, ClientAuthMethodName } from '../client-auth/types.js';
import type { NeutralRequest } from '../core/request.js';
import type { Application, Rule } from '../domain/model.js';
import { parseRateLimit, type RateLimitSpec } from '../domain/rate-limit.js';
import { invalidRequest, unauthorizedClient } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import { parseScopeParam, resolveRequestedScopes, scopesFact } from '../grants/scope.js';
import type { Grant } from '../grants/types.js';
import type { PropertyName, PropertyValues } from '../registry/properties.js';
import type { LimitInForce, RateLimits } from '../registry/rate-limits.js';
import type { CompiledRules } from '../registry/rule-book.js';
import { describeRule } from '../registry/rules.js';

const OAUTH_ACTIVE = 'com.snc.platform.security.oauth.is.active';

export interface TokenRuleContext {
  readonly book: CompiledRules;
  readonly reporter: Pick<WouldRefuseReporter, 'report'>;
  readonly clientAuthMethods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>;
  readonly rateLimits: RateLimits | undefined;
}

/** One issued token request, as the reporting rules look at it. */
export interface IssuedRequest {
  readonly req: NeutralRequest;
  readonly endpoint: string;
  readonly grant: Grant;
  readonly app: Application;
  readonly authMethod: string;
  readonly properties: PropertyValues;
  /** The scope parameter as sent (undefined: none asked, the application's default). */
  readonly scope: string | undefined;
  readonly userName: string | undefined;
}

function noted(error: OAuthError, rule: Rule): OAuthError {
  return error.withHint(`Rule ${rule.id} (${describeRule(rule)}) reports only: this request succeeded, and would be refused once the rule is enforced.`).withFacts({ rule: rule.id, ruleMode: rule.mode });
}

/** What a reporting property rule would refuse of this (successful) request, if anything. */
function propertyRefusal(ctx: TokenRuleContext, r: IssuedRequest, name: string, rule: Rule): OAuthError | undefined {
  const value = rule.spec.value === 'true';
  if (name === OAUTH_ACTIVE) {
    return value
      ? undefined
      : invalidRequest
          .withReason('instance.oauth_inactive')
          .withDescription(`OAuth is disabled on this instance. An administrator must set ${OAUTH_ACTIVE} to true.`)
          .withFacts({ property: OAUTH_ACTIVE });
  }
  if (name === SECRET_POST_PROPERTY) return secretPostRefusal(ctx.clientAuthMethods, { method: r.authMethod as ClientAuthMethodName }, value);
  return r.grant.descriptor.switchedOff?.({ ...r.properties, [name as PropertyName]: value } as PropertyValues);
}

/** What a reporting application rule (new grant types, new scopes) would refuse of this request. */
function applicationRefusal(r: IssuedRequest, rule: Rule): OAuthError | undefined {
  const grants = rule.spec.grantTypes;
  if (grants !== undefined && !grants.includes(r.grant.grantType)) {
    return unauthorizedClient
      .withReason('grant.not_allowed_for_application')
      .withDescription(`The application ${r.app.name} is not allowed the ${r.grant.grantType} grant. An administrator must add it to the application's grant types.`)
      .withFacts({ requestedGrant: r.grant.grantType, allowedGrants: [...grants] });
  }
  const scopes = rule.spec.scopes;
  if (scopes === undefined || r.scope === undefined) return undefined;
  try {
    const asked = parseScopeParam(r.scope);
    resolveRequestedScopes({ ...r.app, scopes: [...scopes] }, asked);
    return undefined;
  } catch (error) {
    if (!(error instanceof OAuthError)) return undefined;
    const asked = parseScopeParam(r.scope) ?? [];
    return error.withFacts({ requestedScopes: scopesFact(asked), allowedScopes: [...scopes], missingScopes: scopesFact(asked.filter((s) => !scopes.includes(s))) });
  }
}

/** The client limit a reporting rate_limit rule sets. */
function limitOf(rule: Rule, properties: PropertyValues): LimitInForce | undefined {
  const text = rule.spec.value ?? '';
  if (/^\d+$/.test(text)) {
    const requests = Number(text);
    const spec: RateLimitSpec = { requests, windowSeconds: properties['latchkey.rate_limit.window_seconds'] };
    return requests > 0 ? { kind: 'client', spec, own: false, requestsText: text } : undefined;
  }
  const parsed = parseRateLimit(text);
  return parsed.ok && parsed.value !== 'off' ? { kind: 'client', spec: parsed.value, own: true, requestsText: String(parsed.value.requests) } : undefined;
}

/**
 * Counts the request under a reporting rate_limit rule, on counters of its own (shared by every
 * instance where the counters are); over the limit, reports the 429 it would have been.
 */
function countRateRule(ctx: TokenRuleContext, r: IssuedRequest, rule: Rule): void {
  const limits = ctx.rateLimits;
  const limit = limitOf(rule, r.properties);
  if (limits === undefined || limit === undefined) return;
  const key = `${rule.id}|${r.app.id}`;
  const subject = () => ({
    who: `Application ${JSON.stringify(r.app.name)} (client id ${r.app.clientId})`,
    change: `Rule ${rule.id} would set this limit; raise it (delete the rule and add another) before enforcing it.`,
  });
  const over = (error: unknown) => {
    if (error instanceof OAuthError) report(ctx, r, rule, noted(error, rule));
  };
  try {
    if (limits.enforceNow(limit, key, subject) !== null) return;
  } catch (error) {
    over(error);
    return;
  }
  limits.enforce(limit, key, subject).catch(over);
}

function report(ctx: TokenRuleContext, r: IssuedRequest, rule: Rule, error: OAuthError): void {
  ctx.reporter.report(rule.id, r.app.clientId, () => ({
    ruleId: rule.id,
    requestId: r.req.requestId,
    endpoint: r.endpoint,
    remoteAddress: r.req.remoteAddress,
    error,
    clientId: r.app.clientId,
    applicationName: r.app.name,
    userName: r.userName,
  }));
}

/**
 * The reporting rules on a token request that succeeded (src/registry/rules.ts): each that would
 * have refused it leaves a "would refuse" record. Synchronous: nothing is awaited.
 */
export function reportTokenRules(ctx: TokenRuleContext, r: IssuedRequest): void {
  for (const [name, rule] of ctx.book.properties) {
    const error = propertyRefusal(ctx, r, name, rule);
    if (error !== undefined) report(ctx, r, rule, noted(error, rule));
  }
  for (const rule of ctx.book.applications.get(r.app.clientId) ?? []) {
    const error = applicationRefusal(r, rule);
    if (error !== undefined) report(ctx, r, rule, noted(error, rule));
  }
  for (const rule of ctx.book.rateLimits.get(r.app.clientId) ?? []) countRateRule(ctx, r, rule);
  // The instance default applies to applications without a limit of their own.
  if (r.app.rateLimit === null || r.app.rateLimit === undefined) for (const rule of ctx.book.instanceRateLimits) countRateRule(ctx, r, rule);
}
