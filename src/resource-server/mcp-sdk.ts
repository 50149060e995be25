/**
 * The MCP SDK, loaded only when this instance hosts an MCP server. The SDK and what it brings
 * (hono, ajv, zod-to-json-schema) cost about 25 MiB of memory and ~100 ms of start-up; a server
 * that only issues tokens or hosts REST APIs never pays for them. load.ts awaits loadMcpSdk()
 * before compiling the first MCP server definition, so everything after (compile-mcp.ts, mcp.ts)
 * reads the loaded modules synchronously through mcpSdk().
 */
import type * as ServerModule from '@modelcontextprotocol/sdk/server/index.js';
import type * as TransportModule from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type * as TypesModule from '@modelcontextprotocol/sdk/types.js';
import type * as AjvModule from '@modelcontextprotocol/sdk/validation/ajv';

export interface McpSdk {
  readonly Server: typeof ServerModule.Server;
  readonly StreamableHTTPServerTransport: typeof TransportModule.StreamableHTTPServerTransport;
  readonly CallToolRequestSchema: typeof TypesModule.CallToolRequestSchema;
  readonly ListToolsRequestSchema: typeof TypesModule.ListToolsRequestSchema;
  readonly McpError: typeof TypesModule.McpError;
  readonly AjvJsonSchemaValidator: typeof AjvModule.AjvJsonSchemaValidator;
}

let loaded: McpSdk | undefined;
let loading: Promise<McpSdk> | undefined;

/** Loads the SDK once per process (concurrent callers share one import). */
export function loadMcpSdk(): Promise<McpSdk> {
  if (loaded !== undefined) return Promise.resolve(loaded);
  loading ??= Promise.all([
    import('@modelcontextprotocol/sdk/server/index.js'),
    import('@modelcontextprotocol/sdk/server/streamableHttp.js'),
    import('@modelcontextprotocol/sdk/types.js'),
    import('@modelcontextprotocol/sdk/validation/ajv'),
  ]).then(([server, transport, types, ajv]) => {
    loaded = {
      Server: server.Server,
      StreamableHTTPServerTransport: transport.StreamableHTTPServerTransport,
      CallToolRequestSchema: types.CallToolRequestSchema,
      ListToolsRequestSchema: types.ListToolsRequestSchema,
      McpError: types.McpError,
      AjvJsonSchemaValidator: ajv.AjvJsonSchemaValidator,
    };
    return loaded;
  });
  return loading;
}

/** The loaded SDK; throws (a programming error) when loadMcpSdk() was not awaited first. */
export function mcpSdk(): McpSdk {
  if (loaded === undefined) throw new Error('The MCP SDK is not loaded: await loadMcpSdk() before compiling or serving an MCP server.');
  return loaded;
}

/** JSON-RPC 2.0 and MCP error codes (the SDK's ErrorCode), without loading the SDK. */
export const JsonRpcErrorCode = {
  ConnectionClosed: -32000,
  ParseError: -32700,
  InvalidRequest: -32600,
  MethodNotFound: -32601,
  InvalidParams: -32602,
  InternalError: -32603,
} as const;
