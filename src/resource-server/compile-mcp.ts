import { z } from 'zod';
import type { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { mcpSdk } from './mcp-sdk.js';
import type { JsonSchemaType, jsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/types.js';
import { ApiDefinitionError } from '../errors/api.js';
import { parseRateLimit, type RateLimitSetting } from '../domain/rate-limit.js';
import type { McpServerDefinition, McpToolDefinition } from './define.js';

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/i;
/** MCP tool names (2025-11-25 §Tools: 1–128 of A–Z a–z 0–9 _ - .); we keep them to 64. */
const TOOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

const toolSecurity = z
  .object({
    roles: z.array(z.string().min(1)).optional(),
    scopes: z.array(z.string().regex(SCOPE, 'a scope name has no spaces, quotes or backslashes')).optional(),
  })
  .strict();

const serverSecurity = toolSecurity.extend({ requiresAuthentication: z.boolean().optional() }).strict();

const rateLimitText = z.string().superRefine((v, ctx) => {
  const parsed = parseRateLimit(v);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
});

const tool = z
  .object({
    name: z.string().regex(TOOL_NAME, 'a tool name is 1 to 64 letters, digits, _ - or .'),
    title: z.string().optional(),
    description: z.string().min(1, 'describe the tool: clients show it to the model'),
    inputSchema: z
      .record(z.string(), z.unknown())
      .refine((s) => s.type === 'object', 'inputSchema must be a JSON Schema object with type "object" (MCP tools take named arguments)'),
    security: toolSecurity.optional(),
    handler: z.custom<McpToolDefinition['handler']>((v) => typeof v === 'function', 'handler must be a function'),
  })
  .strict();

const server = z
  .object({
    namespace: z.string().regex(NAME, 'letters, digits, _ and -'),
    id: z.string().regex(NAME, 'letters, digits, _ and -'),
    name: z.string().optional(),
    description: z.string().optional(),
    version: z.string().min(1).max(64).optional(),
    security: serverSecurity.optional(),
    rateLimit: rateLimitText.optional(),
    userRateLimit: rateLimitText.optional(),
    tools: z.array(tool).min(1, 'an MCP server needs at least one tool'),
  })
  .strict();

/** Security in force for one tool: the server's settings overridden field by field. */
export interface McpEffectiveSecurity {
  readonly requiresAuthentication: boolean;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  /** Bearer only: MCP clients authenticate with OAuth access tokens. */
  readonly authMethods: readonly ['bearer'];
}

export interface CompiledMcpTool {
  readonly name: string;
  readonly title: string | undefined;
  readonly description: string;
  readonly inputSchema: Readonly<Record<string, unknown>>;
  readonly security: McpEffectiveSecurity;
  readonly handler: McpToolDefinition['handler'];
  /** The arguments' validator, compiled once at load. */
  readonly validate: (args: unknown) => { valid: true } | { valid: false; errorMessage: string };
}

export interface CompiledMcpServer {
  readonly kind: 'mcp';
  readonly file: string;
  readonly namespace: string;
  readonly id: string;
  readonly name: string;
  readonly description: string | undefined;
  readonly version: string;
  /** What every request to the server needs (initialize, tools/list): the server-level settings. */
  readonly security: McpEffectiveSecurity;
  readonly rateLimit: RateLimitSetting | undefined;
  readonly userRateLimit: RateLimitSetting | undefined;
  readonly tools: readonly CompiledMcpTool[];
  readonly toolsByName: ReadonlyMap<string, CompiledMcpTool>;
}

function rateSetting(text: string | undefined): RateLimitSetting | undefined {
  if (text === undefined) return undefined;
  const parsed = parseRateLimit(text);
  return parsed.ok ? parsed.value : undefined;
}

let validators: jsonSchemaValidator | undefined;

/** One JSON Schema validator (one Ajv) for the process: the tools' inputSchemas, and every per-request SDK Server (which makes an Ajv of its own when given none: milliseconds per request). */
// Typed by the SDK's validator interface, not the Ajv class: the declarations a consumer of the
// package type-checks then never reach the SDK's Ajv provider (whose types need its Ajv version).
export function sharedSchemaValidator(): jsonSchemaValidator {
  validators ??= new (mcpSdk().AjvJsonSchemaValidator)();
  return validators;
}

/** Validates an MCP server definition (the zod schema above) and compiles each tool's inputSchema; ApiDefinitionError names the file and the setting. Needs the SDK loaded (await loadMcpSdk(), as load.ts does). */
export function compileMcpServer(file: string, value: unknown): CompiledMcpServer {
  const parsed = server.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    const message = issue?.code === 'unrecognized_keys' ? `unknown setting ${(issue as { keys: string[] }).keys.map((k) => `"${k}"`).join(', ')}` : issue?.message;
    throw new ApiDefinitionError(file, `invalid MCP server definition: ${where}${message ?? 'invalid'}`);
  }
  const def = parsed.data as McpServerDefinition;
  const base = def.security;
  const security: McpEffectiveSecurity = { requiresAuthentication: base?.requiresAuthentication ?? true, roles: base?.roles ?? [], scopes: base?.scopes ?? [], authMethods: ['bearer'] };
  const toolsByName = new Map<string, CompiledMcpTool>();
  validators = sharedSchemaValidator();
  const tools = def.tools.map((t) => {
    if (toolsByName.has(t.name)) throw new ApiDefinitionError(file, `invalid MCP server definition: two tools are named "${t.name}"`);
    let validate: CompiledMcpTool['validate'];
    try {
      const check = (validators as AjvJsonSchemaValidator).getValidator(t.inputSchema as JsonSchemaType);
      validate = (args) => {
        const result = check(args);
        return result.valid ? { valid: true } : { valid: false, errorMessage: result.errorMessage ?? 'the arguments do not match the inputSchema' };
      };
    } catch (error) {
      throw new ApiDefinitionError(file, `invalid MCP server definition: tool "${t.name}": inputSchema is not a valid JSON Schema (${(error as Error).message.split('\n')[0]?.slice(0, 200)})`);
    }
    const compiled: CompiledMcpTool = {
      name: t.name,
      title: t.title,
      description: t.description,
      inputSchema: t.inputSchema,
      security: { ...security, scopes: t.security?.scopes ?? security.scopes, roles: t.security?.roles ?? security.roles },
      handler: t.handler,
      validate,
    };
    toolsByName.set(t.name, compiled);
    return compiled;
  });
  return {
    kind: 'mcp',
    file,
    namespace: def.namespace,
    id: def.id,
    name: def.name ?? def.id,
    description: def.description,
    version: def.version ?? '1.0.0',
    security,
    rateLimit: rateSetting(def.rateLimit),
    userRateLimit: rateSetting(def.userRateLimit),
    tools,
    toolsByName,
  };
}

/** Every scope any tool (or the server) requires, in first-seen order. */
export function mcpServerScopes(server: Pick<CompiledMcpServer, 'security' | 'tools'>): string[] {
  return [...new Set([...server.security.scopes, ...server.tools.flatMap((t) => t.security.scopes)])];
}
