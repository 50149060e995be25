/**
 * Scripted REST APIs as code. An API module in the APIs folder default-exports `defineApi({...})`:
 *
 *   export default defineApi({
 *     namespace: 'acme', id: 'orders', versions: ['v1'],
 *     security: { scopes: ['orders.read'] },
 *     resources: [{ method: 'GET', path: '/{id}', handler: ({ params, caller }) => ({ body: { id: params.id } }) }],
 *   });
 *
 * Served at /api/<namespace>/<version>/<id>/<path> and, for the default version, /api/<namespace>/<id>/<path>.
 */

import type { AuthMethod, Caller } from '../domain/caller.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
export const HTTP_METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];

/** How a caller may authenticate to an API, and who is calling, as a handler sees it (src/domain/caller.ts: identity-provider tokens name callers too). */
export type { AuthMethod, Caller } from '../domain/caller.js';

export interface SecuritySettings {
  /** Requires authentication (default true, as on the platform). */
  readonly requiresAuthentication?: boolean;
  /** The caller must hold at least one of these roles (none listed: no role needed). */
  readonly roles?: readonly string[];
  /** The token must carry at least one of these scopes (`useraccount` satisfies any). */
  readonly scopes?: readonly string[];
  /** Accepted methods; default bearer only. Basic user credentials only where an API opts in. */
  readonly authMethods?: readonly AuthMethod[];
}


export interface ApiRequest {
  readonly method: HttpMethod;
  readonly path: string;
  readonly params: Readonly<Record<string, string>>;
  /** Query values as arrays (a name may repeat). */
  readonly query: Readonly<Record<string, readonly string[]>>;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Parsed body: JSON value, form fields (as arrays), or the raw text for other types. */
  readonly body: unknown;
  readonly caller: Caller;
  readonly requestId: string;
}

export interface ApiResponse {
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Objects and arrays are sent as JSON; strings as text/plain unless a content-type is set. */
  readonly body?: unknown;
}

export type Handler = (request: ApiRequest) => ApiResponse | Promise<ApiResponse>;

export interface ResourceDefinition {
  readonly method: HttpMethod;
  /** Path template relative to the API: '/', '/{id}', '/user/{id}/orders'. */
  readonly path: string;
  readonly handler: Handler;
  /** Overrides the API's settings for this resource, field by field. */
  readonly security?: SecuritySettings;
  readonly description?: string;
}

export interface ApiDefinition {
  readonly namespace: string;
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  /** Versions served, for example ['v1', 'v2']; the default is the last one unless `defaultVersion` is set. */
  readonly versions?: readonly string[];
  readonly defaultVersion?: string;
  readonly security?: SecuritySettings;
  /**
   * Requests per window this API accepts from all its authenticated callers together, as
   * `<requests>/<window>` (`'1000/1m'`) or `'off'`; absent: the instance's latchkey.rate_limit.api.
   * Past it, 429 with Retry-After (docs/metrics.md, rate limits).
   */
  readonly rateLimit?: string;
  /** Requests per window from one user (or application user), same syntax; absent: latchkey.rate_limit.api_user. */
  readonly userRateLimit?: string;
  readonly resources: readonly ResourceDefinition[];
}

/** Marks a module's export as an API definition (typed helper; validation happens at load). */
export function defineApi(definition: ApiDefinition): ApiDefinition {
  return definition;
}

/**
 * Marks ApiErrors from every copy of this module. TypeScript API modules are imported through tsx
 * in their own namespace, so their `latchkey/api` is a separate copy of this module and a plain
 * prototype check would not recognise their ApiError (a 409 would become a 500).
 */
const API_ERROR_BRAND = Symbol.for('latchkey.api.ApiError');

/** Raised by a handler to answer with a specific status and the platform's error shape. */
export class ApiError extends Error {
  /** `x instanceof ApiError` holds for an ApiError created by any copy of this module. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== ApiError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[API_ERROR_BRAND] === true;
  }

  constructor(
    readonly status: number,
    message: string,
    readonly detail = '',
  ) {
    super(message);
    this.name = 'ApiError';
    Object.defineProperty(this, API_ERROR_BRAND, { value: true });
  }
}

/**
 * Hosted MCP servers. An API module may instead default-export `defineMcpServer({...})`: a Model
 * Context Protocol server on the official SDK's Streamable HTTP transport, served at
 * `/mcp/<namespace>/<id>` (its resource identifier, `<issuer>/mcp/<namespace>/<id>`):
 *
 *   export default defineMcpServer({
 *     namespace: 'acme', id: 'orders', name: 'Orders',
 *     security: { scopes: ['mcp.orders'] },
 *     tools: [{
 *       name: 'order_status', description: 'The status of an order',
 *       inputSchema: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] },
 *       security: { scopes: ['orders.read'] },
 *       handler: ({ arguments: args, caller }) => `Order ${String(args.id)} is on its way`,
 *     }],
 *   });
 *
 * Every request is authenticated like a hosted API call (bearer tokens; the same refusals,
 * explanations, rate limits and metrics); a `tools/call` of a tool whose scopes the token lacks is
 * refused with 403 `insufficient_scope` naming them (the MCP step-up), before the MCP SDK sees it.
 */

/** Scope and role requirements of one tool (override the server's, field by field). */
export interface McpToolSecurity {
  readonly roles?: readonly string[];
  readonly scopes?: readonly string[];
}

/** The server's settings: as an API's, bearer tokens only (MCP clients send no Basic credentials). */
export interface McpServerSecurity extends McpToolSecurity {
  /** Requires authentication (default true). false: anyone may list and call the tools. */
  readonly requiresAuthentication?: boolean;
}

/** What a tool handler gets. */
export interface McpToolRequest {
  /** The call's arguments, validated against the tool's inputSchema. */
  readonly arguments: Readonly<Record<string, unknown>>;
  readonly caller: Caller;
  readonly requestId: string;
  /** The tool called. */
  readonly tool: string;
}

/** One content block of a tool result (MCP CallToolResult.content). */
export type McpContent = { readonly type: 'text'; readonly text: string } | { readonly type: string; readonly [key: string]: unknown };

/**
 * A tool's answer: a string (one text block), an MCP CallToolResult (`{ content: [...] }`, with
 * `isError`, `structuredContent` as you like), or any other JSON value (sent as JSON text and as
 * structuredContent when it is an object).
 */
export type McpToolResult = string | { readonly content: readonly McpContent[]; readonly isError?: boolean; readonly structuredContent?: Record<string, unknown> } | unknown;

export interface McpToolDefinition {
  /** The tool's name as clients call it: letters, digits, _ - . (at most 64). */
  readonly name: string;
  readonly title?: string;
  readonly description: string;
  /** A JSON Schema object describing the arguments (`{ type: 'object', properties: {...} }`). */
  readonly inputSchema: Readonly<Record<string, unknown>>;
  readonly security?: McpToolSecurity;
  readonly handler: (request: McpToolRequest) => McpToolResult | Promise<McpToolResult>;
}

export interface McpServerDefinition {
  readonly namespace: string;
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  /** The server's version as told to clients at initialize (default 1.0.0). */
  readonly version?: string;
  readonly security?: McpServerSecurity;
  /** As an API's rateLimit and userRateLimit (docs/metrics.md, rate limits). */
  readonly rateLimit?: string;
  readonly userRateLimit?: string;
  readonly tools: readonly McpToolDefinition[];
}

/** Marks an MCP server definition (any copy of this module: see API_ERROR_BRAND). */
export const MCP_SERVER_BRAND = Symbol.for('latchkey.api.McpServer');

/** Marks a module's export as a hosted MCP server (validation happens at load). */
export function defineMcpServer(definition: McpServerDefinition): McpServerDefinition {
  Object.defineProperty(definition, MCP_SERVER_BRAND, { value: true, enumerable: false });
  return definition;
}

/** True when a module's export is an MCP server definition (made by defineMcpServer, or a plain object with tools and no resources). */
export function isMcpServerDefinition(value: unknown): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if ((value as Record<symbol, unknown>)[MCP_SERVER_BRAND] === true) return true;
  return 'tools' in value && !('resources' in value);
}
