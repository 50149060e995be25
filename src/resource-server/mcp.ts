/**
 * Hosted MCP servers (define.ts defineMcpServer): each is served at /mcp/<namespace>/<id> on the
 * official SDK's Streamable HTTP transport, stateless (no session id; a fresh SDK Server and
 * transport per request, which costs a few object allocations), JSON responses.
 *
 * Before a request reaches the SDK, this module does what the API provider does for a REST call,
 * with the same code: the per-address limit, bearer validation (authenticate.ts, bearer.ts: the
 * same refusals, recorded with their reasons and facts for `latchkey explain`), the server's
 * scopes and roles, then — having parsed the JSON-RPC body — each `tools/call`'s tool's scopes and
 * roles: a token that lacks them gets HTTP 403 with `WWW-Authenticate: Bearer
 * error="insufficient_scope", scope="…"`, the MCP authorization specification's step-up signal,
 * and the tool never runs. Report-only rules on the server (`mcp:<ns>/<id>`, every request) and
 * on a tool (`mcp:<ns>/<id>/<tool>`, its calls) are checked as the API provider checks an API's
 * (rules.ts checkMcpRules): a reporting one records "would refuse" and lets the request through,
 * an enforced one refuses it like the tool's own scopes. Then the server's own rate limits, the
 * usage counters, the metrics.
 *
 * `tools/list` lists every tool (a client sees what it could ask for, and steps up when it needs to).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Server } from '@modelcontextprotocol/sdk/server/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { JsonRpcErrorCode as ErrorCode, loadMcpSdk, mcpSdk } from './mcp-sdk.js';
import type { ActivityCounter } from '../audit/activity.js';
import type { RefusalRecorder } from '../audit/refusals.js';
import type { UsageCounter } from '../audit/usage.js';
import type { Logger } from '../core/logger.js';
import { mediaType, type NeutralRequest, type NeutralResponse } from '../core/request.js';
import { mcpResourceUri, protectedResourceMetadataUrl } from '../domain/resource-uri.js';
import { OAuthError } from '../errors/oauth-error.js';
import { countAddress, withRateHeaders, type RateState } from '../endpoints/rate-limit.js';
import type { RegistryCache } from '../registry/cache.js';
import { refusalReason, refusedOnStaleCache } from '../registry/fresh-cache.js';
import type { RateLimits } from '../registry/rate-limits.js';
import { StorageError } from '../storage/types.js';
import { authenticateCaller, type ApiAuthDeps } from './authenticate.js';
import { mcpServerScopes, sharedSchemaValidator, type CompiledMcpServer, type CompiledMcpTool, type McpEffectiveSecurity } from './compile-mcp.js';
import { ApiError, type Caller } from './define.js';
import { authorizeCaller, challengeHeaders, failure, lacksRole, lacksScope, refusalFacts, type ChallengeTarget } from './provider.js';
import { countApiCall } from './rate-limit.js';
import { checkMcpRules, type ApiRuleContext } from './rules.js';
import type { RuleBook } from '../registry/rule-book.js';
import type { WouldRefuseReporter } from '../audit/would-refuse.js';

const ANONYMOUS: Caller = { authenticated: false, method: 'none', user: null, application: null, scopes: [] };
const JSON_TYPE = 'application/json; charset=utf-8';

export interface McpProviderDeps extends ApiAuthDeps {
  readonly cache: ApiAuthDeps['cache'] & Pick<RegistryCache, 'check'>;
  readonly servers: (path: string) => CompiledMcpServer | undefined;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
  readonly activity?: Pick<ActivityCounter, 'count'>;
  readonly rateLimits?: RateLimits;
  readonly usage?: Pick<UsageCounter, 'apiCall'>;
  /** The rules in force (registry/rule-book.ts): api_requirement rules with an `mcp:` target; none when omitted. */
  readonly rules?: RuleBook;
  /** Where "would refuse" matches go (audit/would-refuse.ts). */
  readonly wouldRefuse?: Pick<WouldRefuseReporter, 'report'>;
  /** Told of every request answered (the metrics: latchkey_api_calls_total{api="mcp:<ns>/<id>"}). */
  readonly observe?: (server: CompiledMcpServer | undefined, status: number, seconds: number) => void;
  /** The issuer: challenges name the server's protected resource metadata under it (RFC 9728 §5.1); absent or unknown, they do not. */
  readonly issuer?: () => string;
}

/**
 * What a 401 from a hosted MCP server names as `scope` (RFC 6750 §3, the MCP specification's scope
 * selection): the server's own scopes, which every request needs; a server without any names every
 * scope its tools require (what a client would take from scopes_supported anyway). A tool's own
 * scopes are named when the 401 is that tool's (an open server whose tool needs a token), and a
 * 403 insufficient_scope names the tool's scopes (provider.ts challengeHeaders).
 */
export function mcpChallengeScopes(server: Pick<CompiledMcpServer, 'security' | 'tools'>): readonly string[] {
  return server.security.scopes.length > 0 ? server.security.scopes : mcpServerScopes(server);
}

/** The protected resource a request to `server` reached, for its challenges; undefined while no issuer is known. */
export function mcpChallengeTarget(issuer: (() => string) | undefined, server: CompiledMcpServer, scopes: readonly string[]): ChallengeTarget | undefined {
  let base: string;
  try {
    if (issuer === undefined) return undefined;
    base = issuer();
  } catch {
    return undefined;
  }
  const resource = mcpResourceUri(base, server);
  return { resource, metadataUrl: protectedResourceMetadataUrl(resource), scopes };
}

/** What admit() decided: answer now (a refusal, a 404, a 405, a parse error), or hand the request to the SDK. */
export type McpAdmission =
  | { readonly kind: 'respond'; readonly response: NeutralResponse; readonly server: CompiledMcpServer | undefined }
  | { readonly kind: 'serve'; readonly server: CompiledMcpServer; readonly caller: Caller; readonly body: unknown; readonly headers: Readonly<Record<string, string>> };

/** A JSON-RPC error answered by us, before the SDK (HTTP 400: the body is not JSON-RPC we can read). */
function jsonRpcError(status: number, code: number, message: string, extra: Record<string, string> = {}): NeutralResponse {
  return { status, headers: { 'content-type': JSON_TYPE, ...extra }, body: JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }) };
}

/** The tools a JSON-RPC message (or batch) calls, by name; messages that are not tools/call are not looked at. */
function calledTools(body: unknown): string[] {
  const messages = Array.isArray(body) ? body : [body];
  const names: string[] = [];
  for (const m of messages) {
    if (typeof m !== 'object' || m === null || (m as { method?: unknown }).method !== 'tools/call') continue;
    const name = (m as { params?: { name?: unknown } }).params?.name;
    if (typeof name === 'string') names.push(name);
  }
  return names;
}

/** What the resources and protected-resource registries need of a hosted MCP server. */
export interface HostedMcpResource {
  /** Its resource identifier (RFC 8707, RFC 9728 `resource`): `<issuer>/mcp/<namespace>/<id>`. */
  readonly resource: string;
  /** Every scope the server or one of its tools requires (scopes_supported). */
  readonly scopes: readonly string[];
  /** Its display name (resource_name). */
  readonly name: string;
  readonly namespace: string;
  readonly id: string;
  readonly requiresAuthentication: boolean;
}

/**
 * The hosted MCP servers as protected resources: one entry per server, with its resource
 * identifier, the scopes it and its tools require, and its name. This is the one function the
 * resource registry (RFC 8707 known resources) and the RFC 9728 metadata of hosted resources call
 * to include the MCP servers.
 */
export function hostedMcpResources(issuer: string, servers: readonly CompiledMcpServer[]): HostedMcpResource[] {
  return servers.map((s) => ({
    resource: mcpResourceUri(issuer, s),
    scopes: mcpServerScopes(s),
    name: s.name,
    namespace: s.namespace,
    id: s.id,
    requiresAuthentication: s.security.requiresAuthentication,
  }));
}

type RefusalContext = { userName?: string; clientId?: string; applicationName?: string; authenticated?: boolean };

/** Renders a tool handler's return value as an MCP CallToolResult. */
function toolResult(value: unknown): CallToolResult {
  if (typeof value === 'string') return { content: [{ type: 'text', text: value }] };
  if (typeof value === 'object' && value !== null && Array.isArray((value as { content?: unknown }).content)) return value as CallToolResult;
  if (value === undefined) return { content: [] };
  const text = JSON.stringify(value) ?? 'null';
  const structured = typeof value === 'object' && value !== null && !Array.isArray(value) ? { structuredContent: value as Record<string, unknown> } : {};
  return { content: [{ type: 'text', text }], ...structured };
}

export function createMcpProvider(deps: McpProviderDeps) {
  const ruleContext: ApiRuleContext = {
    reporter: deps.wouldRefuse,
    authorize: authorizeCaller,
    admits: (caller, scopes, roles) => !lacksScope(caller, scopes) && !lacksRole(caller, roles),
    facts: (error, req) => refusalFacts(deps.bearer, req, error),
  };
  async function refused(req: NeutralRequest, server: CompiledMcpServer, error: OAuthError, context: RefusalContext, challengeScopes: readonly string[]): Promise<NeutralResponse> {
    deps.activity?.count('api.refused');
    const facts = await refusalFacts(deps.bearer, req, error);
    await deps.refusals.record({ requestId: req.requestId, endpoint: `mcp ${server.namespace}/${server.id}`, remoteAddress: req.remoteAddress, error: error.withFacts(facts), ...context, ...error.subject });
    const headers = challengeHeaders(error, mcpChallengeTarget(deps.issuer, server, challengeScopes));
    return failure(error.status, error.description, `reason ${error.reason}; request id ${req.requestId}`, headers);
  }

  /** A server's resource identifier, once the issuer is known (none: the audience is not checked). */
  function identifiers(server: CompiledMcpServer): readonly string[] {
    try {
      return deps.issuer === undefined ? [] : [mcpResourceUri(deps.issuer(), server)];
    } catch {
      return [];
    }
  }

  /** Authenticates for `security` (throws the refusal), re-checking refusals on cached state as the API provider does. */
  async function authenticate(req: NeutralRequest, server: CompiledMcpServer, security: McpEffectiveSecurity, context: RefusalContext): Promise<Caller> {
    const once = async () => {
      const found = authenticateCaller(deps, req, undefined, security, context);
      const caller = found instanceof Promise ? await found : found;
      // RFC 8707: a token issued for resources must name this server before its scopes count.
      deps.bearer.requireAudience(caller, identifiers(server));
      const denied = authorizeCaller(caller, { security });
      if (denied !== undefined) throw denied;
      return caller;
    };
    try {
      return await once();
    } catch (error) {
      if (!(await refusedOnStaleCache(deps.cache, refusalReason(error)))) throw error;
      return once();
    }
  }

  /** A tool's own scopes and roles for a caller already admitted to the server; throws the step-up refusal. */
  async function admitTool(req: NeutralRequest, server: CompiledMcpServer, tool: CompiledMcpTool, caller: Caller, context: RefusalContext): Promise<Caller> {
    if (tool.security.scopes.length === 0 && tool.security.roles.length === 0) return caller;
    try {
      // A server open to anyone may still have tools that need a token: authenticate now.
      if (!caller.authenticated) return await authenticate(req, server, tool.security, context);
      const denied = authorizeCaller(caller, tool);
      if (denied === undefined) return caller;
      if (!(await refusedOnStaleCache(deps.cache, refusalReason(denied)))) throw denied;
      return await authenticate(req, server, tool.security, context);
    } catch (error) {
      throw error instanceof OAuthError ? error.withHint(`MCP tool ${tool.name} of ${server.namespace}/${server.id}`) : error;
    }
  }

  async function decide(req: NeutralRequest, server: CompiledMcpServer | undefined): Promise<McpAdmission> {
    if (server === undefined) return { kind: 'respond', server, response: failure(404, 'Requested URI does not represent any MCP server', req.path.slice(0, 200)) };
    // Stateless Streamable HTTP: no server-initiated stream (GET) and no session to end (DELETE).
    if (req.method !== 'POST') return { kind: 'respond', server, response: jsonRpcError(405, ErrorCode.ConnectionClosed, 'Method not allowed: this MCP server is stateless; send JSON-RPC requests with POST.', { allow: 'POST' }) };
    deps.activity?.count('api.call');
    const rate: RateState = { counted: 0, verdict: undefined };
    const context: RefusalContext = {};
    // The scopes a 401 names: the server's, until a tool of an open server asks for a token of its own.
    let challengeScopes = mcpChallengeScopes(server);
    try {
      const byAddress = countAddress(deps.rateLimits, rate, 'api', req);
      if (byAddress !== undefined) await byAddress;
      let caller = server.security.requiresAuthentication ? await authenticate(req, server, server.security, context) : ANONYMOUS;
      const type = mediaType(req.contentType);
      if (type !== 'application/json') return { kind: 'respond', server, response: jsonRpcError(415, ErrorCode.InvalidRequest, 'Unsupported Media Type: Content-Type must be application/json') };
      let body: unknown;
      try {
        body = JSON.parse(req.body ?? '');
      } catch {
        return { kind: 'respond', server, response: jsonRpcError(400, ErrorCode.ParseError, 'Parse error: the body is not valid JSON') };
      }
      if (typeof body !== 'object' || body === null) return { kind: 'respond', server, response: jsonRpcError(400, ErrorCode.InvalidRequest, 'Invalid Request: the body must be a JSON-RPC message') };
      const called = calledTools(body);
      const required = new Set<string>();
      const endpoint = `mcp ${server.namespace}/${server.id}`;
      const book = deps.rules === undefined ? undefined : (deps.rules.peek() ?? (await deps.rules.load()));
      const rules = book?.mcp === true ? book : undefined;
      if (rules !== undefined && caller.authenticated) checkMcpRules(ruleContext, rules, req, endpoint, server, undefined, caller);
      for (const name of called) {
        const tool = server.toolsByName.get(name);
        if (tool === undefined) continue; // the SDK answers "unknown tool"
        if (!caller.authenticated) challengeScopes = tool.security.scopes;
        caller = await admitTool(req, server, tool, caller, context);
        if (rules !== undefined && caller.authenticated) {
          // An enforced rule on the tool is a step-up like the tool's own scopes: its 401 names them.
          checkMcpRules(ruleContext, rules, req, endpoint, server, tool, caller);
        }
        for (const s of tool.security.scopes) required.add(s);
      }
      const counting = countApiCall(deps.rateLimits, rate, server, caller);
      if (counting !== undefined) await counting;
      if (caller.application !== null && called.length > 0) deps.usage?.apiCall(caller.application.clientId, [...required, ...server.security.scopes], caller.scopes);
      return { kind: 'serve', server, caller, body, headers: withRateHeaders({}, rate) };
    } catch (error) {
      if (error instanceof OAuthError) return { kind: 'respond', server, response: await refused(req, server, error, context, challengeScopes) };
      if (error instanceof StorageError && error.code === 'unavailable') return { kind: 'respond', server, response: failure(503, 'Service temporarily unavailable', 'Retry shortly.', { 'retry-after': '1' }) };
      throw error;
    }
  }

  /** A fresh SDK server for one request: tools/list and tools/call, with the admitted caller. */
  function sdkServer(server: CompiledMcpServer, caller: Caller, requestId: string): Server {
    const { Server, ListToolsRequestSchema, CallToolRequestSchema, McpError } = mcpSdk();
    const sdk = new Server({ name: server.name, version: server.version }, { capabilities: { tools: { listChanged: false } }, jsonSchemaValidator: sharedSchemaValidator(), ...(server.description === undefined ? {} : { instructions: server.description }) });
    sdk.setRequestHandler(ListToolsRequestSchema, () => ({
      tools: server.tools.map((t) => ({ name: t.name, ...(t.title === undefined ? {} : { title: t.title }), description: t.description, inputSchema: t.inputSchema as { type: 'object' } })),
    }));
    sdk.setRequestHandler(CallToolRequestSchema, async (request) => {
      const tool = server.toolsByName.get(request.params.name);
      if (tool === undefined) throw new McpError(ErrorCode.InvalidParams, `Unknown tool: ${request.params.name.slice(0, 64)}`);
      const args = request.params.arguments ?? {};
      const checked = tool.validate(args);
      // Input validation errors are tool execution errors (isError), which the model can correct.
      if (!checked.valid) return { content: [{ type: 'text', text: `Invalid arguments for ${tool.name}: ${checked.errorMessage}` }], isError: true };
      try {
        return toolResult(await tool.handler({ arguments: args, caller, requestId, tool: tool.name }));
      } catch (error) {
        if (error instanceof ApiError) return { content: [{ type: 'text', text: error.detail === '' ? error.message : `${error.message}: ${error.detail}` }], isError: true };
        deps.logger.error({ requestId, mcp: `${server.namespace}/${server.id}`, tool: tool.name, err: error }, 'MCP tool handler failed');
        return { content: [{ type: 'text', text: `The tool ${tool.name} failed. Quote request id ${requestId}.` }], isError: true };
      }
    });
    return sdk;
  }

  return {
    /** The MCP server at a request's path, if any (the metrics label). */
    server: (req: NeutralRequest) => deps.servers(req.path),

    /** Everything before the SDK: routing, authentication, scopes and roles (server and tools), limits. */
    admit(req: NeutralRequest): Promise<McpAdmission> {
      return decide(req, deps.servers(req.path));
    },

    /**
     * Hands an admitted request to the SDK's Streamable HTTP transport, which writes the answer on
     * `res` (the host has given the raw response up: fastify reply.hijack()).
     */
    async serve(admission: Extract<McpAdmission, { kind: 'serve' }>, req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
      const { StreamableHTTPServerTransport } = await loadMcpSdk();
      const sdk = sdkServer(admission.server, admission.caller, requestId);
      const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
      res.on('close', () => {
        void transport.close().catch(() => undefined);
        void sdk.close().catch(() => undefined);
      });
      for (const [k, v] of Object.entries(admission.headers)) res.setHeader(k, v);
      await sdk.connect(transport);
      await transport.handleRequest(req, res, admission.body);
    },

    observe: deps.observe,
  };
}

export type McpProvider = ReturnType<typeof createMcpProvider>;
