import { z } from 'zod';
import { HTTP_METHODS, type ApiDefinition, type AuthMethod, type Handler, type HttpMethod, type SecuritySettings } from './define.js';
import { ApiDefinitionError } from '../errors/api.js';
import { parseRateLimit, type RateLimitSetting } from '../domain/rate-limit.js';

export { ApiDefinitionError };

const NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/i;
const VERSION = /^v\d+(\.\d+)*$/;
const SEGMENT = /^(?:[A-Za-z0-9._~!$&'()*+,;=:@-]+|\{[A-Za-z_][A-Za-z0-9_]*\})$/;

const security = z
  .object({
    requiresAuthentication: z.boolean().optional(),
    roles: z.array(z.string().min(1)).optional(),
    scopes: z.array(z.string().regex(/^[\x21\x23-\x5b\x5d-\x7e]+$/, 'a scope name has no spaces, quotes or backslashes')).optional(),
    authMethods: z.array(z.enum(['bearer', 'basic'])).min(1).optional(),
  })
  .strict();

const resource = z
  .object({
    method: z.enum(HTTP_METHODS as [HttpMethod, ...HttpMethod[]]),
    path: z.string(),
    handler: z.custom<Handler>((v) => typeof v === 'function', 'handler must be a function'),
    security: security.optional(),
    description: z.string().optional(),
  })
  .strict();

/** `1000/1m`, `off` (domain/rate-limit.ts); its error says what is accepted. */
const rateLimitText = z.string().superRefine((v, ctx) => {
  const parsed = parseRateLimit(v);
  if (!parsed.ok) ctx.addIssue({ code: 'custom', message: parsed.message });
});

const api = z
  .object({
    namespace: z.string().regex(NAME, 'letters, digits, _ and -'),
    id: z.string().regex(NAME, 'letters, digits, _ and -').refine((v) => !VERSION.test(v), 'an API id must not look like a version (v1)'),
    name: z.string().optional(),
    description: z.string().optional(),
    versions: z.array(z.string().regex(VERSION, 'versions look like v1, v2, v1.1')).min(1).optional(),
    defaultVersion: z.string().optional(),
    security: security.optional(),
    rateLimit: rateLimitText.optional(),
    userRateLimit: rateLimitText.optional(),
    resources: z.array(resource).min(1, 'an API needs at least one resource'),
  })
  .strict();

/** A rateLimit text the schema accepted, parsed (undefined when absent: the instance default applies). */
function rateSetting(text: string | undefined): RateLimitSetting | undefined {
  if (text === undefined) return undefined;
  const parsed = parseRateLimit(text);
  return parsed.ok ? parsed.value : undefined;
}

/** Security in force for one resource: the API's settings overridden field by field. */
export interface EffectiveSecurity {
  readonly requiresAuthentication: boolean;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  readonly authMethods: readonly AuthMethod[];
}

export interface CompiledResource {
  readonly method: HttpMethod;
  readonly template: string;
  readonly segments: readonly ({ literal: string } | { param: string })[];
  readonly handler: Handler;
  readonly security: EffectiveSecurity;
  readonly description: string | undefined;
}

export interface CompiledApi {
  readonly file: string;
  readonly namespace: string;
  readonly id: string;
  readonly name: string;
  readonly versions: readonly string[];
  readonly defaultVersion: string;
  /** The scopes its API-level security names (each resource's are in its security): the protected resource metadata lists both. */
  readonly scopes: readonly string[];
  /** Its own limits (rateLimit, userRateLimit); undefined: the instance's (registry/rate-limits.ts). */
  readonly rateLimit: RateLimitSetting | undefined;
  readonly userRateLimit: RateLimitSetting | undefined;
  readonly resources: readonly CompiledResource[];
}

function effective(apiLevel: SecuritySettings | undefined, own: SecuritySettings | undefined): EffectiveSecurity {
  const pick = <K extends keyof SecuritySettings>(k: K) => (own?.[k] !== undefined ? own[k] : apiLevel?.[k]);
  return {
    requiresAuthentication: pick('requiresAuthentication') ?? true,
    roles: pick('roles') ?? [],
    scopes: pick('scopes') ?? [],
    authMethods: pick('authMethods') ?? ['bearer'],
  };
}

function compileTemplate(file: string, template: string): CompiledResource['segments'] {
  if (!template.startsWith('/')) throw new ApiDefinitionError(file, `path template "${template}" must start with "/"`);
  const parts = template === '/' ? [] : template.slice(1).replace(/\/$/, '').split('/');
  const names = new Set<string>();
  return parts.map((part) => {
    if (!SEGMENT.test(part)) throw new ApiDefinitionError(file, `path template "${template}" has an invalid segment "${part}" (use literals or {name})`);
    if (part.startsWith('{')) {
      const param = part.slice(1, -1);
      if (names.has(param)) throw new ApiDefinitionError(file, `path template "${template}" uses {${param}} twice`);
      names.add(param);
      return { param };
    }
    return { literal: part };
  });
}

/** Two templates clash when a path could match both at the same position (same shape). */
function shapeOf(segments: CompiledResource['segments']): string {
  return segments.map((s) => ('param' in s ? '{}' : s.literal)).join('/');
}

export function compileApi(file: string, value: unknown): CompiledApi {
  const parsed = api.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
    const message = issue?.code === 'unrecognized_keys' ? `unknown setting ${(issue as { keys: string[] }).keys.map((k) => `"${k}"`).join(', ')}` : issue?.message;
    throw new ApiDefinitionError(file, `invalid API definition: ${where}${message ?? 'invalid'}`);
  }
  const def = parsed.data as ApiDefinition;
  const versions = def.versions ?? ['v1'];
  const defaultVersion = def.defaultVersion ?? versions[versions.length - 1] ?? 'v1';
  if (!versions.includes(defaultVersion)) {
    throw new ApiDefinitionError(file, `defaultVersion "${defaultVersion}" is not one of the versions ${versions.join(', ')}`);
  }
  const seen = new Map<string, string>();
  const resources = def.resources.map((r) => {
    const segments = compileTemplate(file, r.path);
    const key = `${r.method} ${shapeOf(segments)}`;
    const clash = seen.get(key);
    if (clash !== undefined) throw new ApiDefinitionError(file, `duplicate route: ${r.method} ${r.path} and ${r.method} ${clash} match the same paths`);
    seen.set(key, r.path);
    return { method: r.method, template: r.path, segments, handler: r.handler, security: effective(def.security, r.security), description: r.description };
  });
  return { file, namespace: def.namespace, id: def.id, name: def.name ?? def.id, versions, defaultVersion, scopes: def.security?.scopes ?? [], rateLimit: rateSetting(def.rateLimit), userRateLimit: rateSetting(def.userRateLimit), resources };
}
