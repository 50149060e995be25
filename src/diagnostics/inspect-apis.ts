import { OAuthError } from '../errors/oauth-error.js';
import { ALL_ACCESS_SCOPE } from '../registry/scopes.js';
import { ADMIN_ROLE } from '../registry/bootstrap.js';
import type { CompiledApi, CompiledResource } from '../resource-server/compile.js';
import type { CompiledMcpServer } from '../resource-server/compile-mcp.js';
import type { Caller } from '../resource-server/define.js';
import { authorizeCaller } from '../resource-server/provider.js';
import type { Rule } from '../domain/model.js';
import type { CompiledRules } from '../registry/rule-book.js';
import { describeRule } from '../registry/rules.js';
import { apiResourceUri, apiResourceUris, mcpResourceUri, protectedResourceMetadataUrl } from '../domain/resource-uri.js';

/** Whether one API route would accept the token, and why (what the API provider would decide). */
export interface ApiVerdict {
  readonly namespace: string;
  readonly id: string;
  /** The default version: the route is also served as /api/<namespace>/<version>/<id>/…. */
  readonly version: string;
  readonly method: string;
  readonly path: string;
  readonly accepted: boolean;
  readonly why: string;
  /** The refusal reason the API would record, or null when it accepts the token. */
  readonly reason: string | null;
  /** The API's resource identifier (RFC 8707: what a token for it names as its audience); null when no issuer is known. */
  readonly resource: string | null;
  /** Where its protected resource metadata is (RFC 9728); null when no issuer is known. */
  readonly resourceMetadata: string | null;
  /** For a hosted MCP server (method MCP): the tool judged. */
  readonly tool?: string;
}

/** The bearer validation outcome, computed once per token (the same for every route). */
export type BearerOutcome = { readonly caller: Caller } | { readonly error: OAuthError };

function list(values: readonly string[]): string {
  return values.length === 0 ? 'none' : values.join(', ');
}

/**
 * The API provider's own scope and role decision (resource-server/provider.ts authorizeCaller) for an
 * authenticated bearer caller, explained in words: what is in effect, and what would be needed.
 */
function authorizeBearer(caller: Caller, resource: Pick<CompiledResource, 'security'>): { accepted: boolean; why: string; reason: string | null } {
  const { scopes, roles } = resource.security;
  const userRoles = caller.user?.roles ?? [];
  const denied = authorizeCaller(caller, resource);
  if (denied !== undefined) {
    const held = denied.reason === 'api.scope_missing'
      ? `scopes in effect: ${list(caller.scopes)}`
      : caller.user === null ? 'the token acts as no user' : `user ${caller.user.name} has ${list(userRoles)}`;
    return { accepted: false, reason: denied.reason, why: `${denied.description} ${held} (${denied.reason})` };
  }
  const reasons: string[] = [];
  if (scopes.length > 0) {
    const has = scopes.filter((s) => caller.scopes.includes(s));
    reasons.push(has.length > 0 ? `scope ${has.join(', ')} in effect` : `all-access scope ${ALL_ACCESS_SCOPE} in effect`);
  }
  if (roles.length > 0) {
    const has = roles.filter((r) => userRoles.includes(r));
    reasons.push(has.length > 0 ? `role ${has.join(', ')}` : `role ${ADMIN_ROLE}`);
  }
  return { accepted: true, reason: null, why: reasons.length > 0 ? `valid bearer token; ${reasons.join('; ')}` : 'valid bearer token; no scope or role required' };
}

function routeOf(api: CompiledApi, r: CompiledResource): string {
  return `/api/${api.namespace}/${api.id}${r.template === '/' ? '' : r.template}`;
}

/**
 * For every route of every loaded API, what the API provider would answer to a request carrying
 * the token as `Authorization: Bearer`: open routes accept anything; routes that do not accept
 * bearer tokens refuse with api.method_not_accepted; otherwise the bearer outcome, then scopes and roles.
 */
/** A verdict with the rules on its resource applied (src/registry/rules.ts): an enforced one refuses, a reporting one is named. */
function withRules(verdict: ApiVerdict, caller: Caller, rules: readonly Rule[]): ApiVerdict {
  if (!verdict.accepted) return verdict;
  let out = verdict;
  for (const rule of rules) {
    const denied = authorizeCaller(caller, { security: { scopes: rule.spec.scopes ?? [], roles: rule.spec.roles ?? [] } });
    if (denied === undefined) continue;
    if (rule.mode === 'enforce') return { ...out, accepted: false, reason: denied.reason, why: `${denied.description} Rule ${rule.id} requires it (${describeRule(rule)}) (${denied.reason})` };
    out = { ...out, why: `${out.why}; report-only rule ${rule.id} would refuse it (${denied.reason}: ${describeRule(rule)})` };
  }
  return out;
}

/** RFC 8707: a token issued for resources reaches only them (bearer.ts requireAudience); undefined when it may go on. */
function audienceRefusal(audience: readonly string[] | null | undefined, identifiers: readonly string[]): { accepted: false; reason: string; why: string } | undefined {
  if (audience === null || audience === undefined || audience.length === 0 || identifiers.length === 0) return undefined;
  if (identifiers.some((uri) => audience.includes(uri))) return undefined;
  return { accepted: false, reason: 'token.wrong_resource', why: `The access token was issued for ${audience.join(', ')}, not for ${identifiers[0]} (token.wrong_resource)` };
}

export function judgeApis(apis: readonly CompiledApi[], outcome: BearerOutcome, book?: CompiledRules, issuer?: string, audience?: readonly string[] | null): ApiVerdict[] {
  return apis.flatMap((api) =>
    api.resources.map((r): ApiVerdict => {
      const resource = issuer === undefined ? null : apiResourceUri(issuer, api);
      const base = { namespace: api.namespace, id: api.id, version: api.defaultVersion, method: r.method, path: routeOf(api, r), resource, resourceMetadata: resource === null ? null : protectedResourceMetadataUrl(resource) };
      const sec = r.security;
      if (!sec.requiresAuthentication) return { ...base, accepted: true, reason: null, why: 'open: no authentication required' };
      if (!sec.authMethods.includes('bearer')) {
        return { ...base, accepted: false, reason: 'api.method_not_accepted', why: `accepts ${sec.authMethods.join(', ')} credentials only, not bearer tokens (api.method_not_accepted)` };
      }
      if ('error' in outcome) return { ...base, accepted: false, reason: outcome.error.reason, why: `${outcome.error.description} (${outcome.error.reason})` };
      const elsewhere = audienceRefusal(audience, issuer === undefined ? [] : apiResourceUris(issuer, api));
      if (elsewhere !== undefined) return { ...base, ...elsewhere };
      const judged: ApiVerdict = { ...base, ...authorizeBearer(outcome.caller, r) };
      return book === undefined ? judged : withRules(judged, outcome.caller, book.forResource(r, api.namespace, api.id, r.method, r.template));
    }),
  );
}

/**
 * For every tool of every hosted MCP server, what the MCP provider (resource-server/mcp.ts) would
 * answer to a `tools/call` carrying the token: the server's requirements, then the tool's (method
 * `MCP`, path `/mcp/<namespace>/<id>`, `tool` its name).
 */
/** The verdict of each tool of each hosted MCP server; with `book`, the rules on the server (`mcp:<ns>/<id>`) and on the tool (`mcp:<ns>/<id>/<tool>`) as the MCP provider checks them. */
export function judgeMcpServers(servers: readonly CompiledMcpServer[], outcome: BearerOutcome, issuer?: string, audience?: readonly string[] | null, book?: CompiledRules): ApiVerdict[] {
  return servers.flatMap((server) =>
    server.tools.map((tool): ApiVerdict => {
      const resource = issuer === undefined ? null : mcpResourceUri(issuer, server);
      const base = {
        namespace: server.namespace,
        id: server.id,
        version: '',
        method: 'MCP',
        path: `/mcp/${server.namespace}/${server.id} tool ${tool.name}`,
        tool: tool.name,
        resource,
        resourceMetadata: resource === null ? null : protectedResourceMetadataUrl(resource),
      };
      const needsToken = server.security.requiresAuthentication || tool.security.scopes.length > 0 || tool.security.roles.length > 0;
      if (!needsToken) return { ...base, accepted: true, reason: null, why: 'open: no authentication required' };
      if ('error' in outcome) return { ...base, accepted: false, reason: outcome.error.reason, why: `${outcome.error.description} (${outcome.error.reason})` };
      const elsewhere = audienceRefusal(audience, resource === null ? [] : [resource]);
      if (elsewhere !== undefined) return { ...base, ...elsewhere };
      if (server.security.requiresAuthentication) {
        const atServer = authorizeBearer(outcome.caller, { security: server.security });
        if (!atServer.accepted) return { ...base, ...atServer };
      }
      const judged: ApiVerdict = { ...base, ...authorizeBearer(outcome.caller, { security: tool.security }) };
      if (book === undefined || !book.mcp || !outcome.caller.authenticated) return judged;
      return withRules(judged, outcome.caller, [...book.forMcp(server, server.namespace, server.id), ...book.forMcp(tool, server.namespace, server.id, tool.name)]);
    }),
  );
}
