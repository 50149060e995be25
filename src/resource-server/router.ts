import type { HttpMethod } from './define.js';
import { ApiDefinitionError, type CompiledApi, type CompiledResource } from './compile.js';
import type { CompiledMcpServer } from './compile-mcp.js';

const VERSION = /^v\d+(\.\d+)*$/;

export type RouteMatch =
  | {
      readonly kind: 'found';
      readonly api: CompiledApi;
      readonly version: string;
      /** True when the path named the version (/api/<ns>/<version>/<id>/…): the versioned resource identifier was called. */
      readonly versioned: boolean;
      readonly resource: CompiledResource;
      readonly params: Record<string, string>;
    }
  | { readonly kind: 'method_not_allowed'; readonly api: CompiledApi; readonly allowed: readonly HttpMethod[] }
  | { readonly kind: 'bad_path' }
  | { readonly kind: 'not_found' };

/**
 * The route table, built once at start-up: APIs by namespace and id, resources matched segment by
 * segment (no regex per request).
 */
export class ApiRouter {
  private readonly apis = new Map<string, CompiledApi>();
  private readonly mcp = new Map<string, CompiledMcpServer>();

  /** The REST APIs and the hosted MCP servers (served below /mcp/, resource-server/mcp.ts). */
  constructor(apis: readonly CompiledApi[], mcpServers: readonly CompiledMcpServer[] = []) {
    for (const api of apis) {
      const key = `${api.namespace}/${api.id}`;
      const other = this.apis.get(key);
      if (other !== undefined) throw new ApiDefinitionError(api.file, `API ${key} is also defined in ${other.file}`);
      this.apis.set(key, api);
    }
    for (const server of mcpServers) {
      const key = `${server.namespace}/${server.id}`;
      const other = this.mcp.get(key);
      if (other !== undefined) throw new ApiDefinitionError(server.file, `MCP server ${key} is also defined in ${other.file}`);
      this.mcp.set(key, server);
    }
  }

  list(): CompiledApi[] {
    return [...this.apis.values()];
  }

  /** The hosted MCP servers, in load order. */
  mcpServers(): CompiledMcpServer[] {
    return [...this.mcp.values()];
  }

  /** The MCP server at a path below /mcp/ (exactly /mcp/<namespace>/<id>, an optional trailing slash). */
  matchMcp(path: string): CompiledMcpServer | undefined {
    if (!path.startsWith('/mcp/')) return undefined;
    const raw = path.slice(5).split('/');
    if (raw.length === 3 && raw[2] === '') raw.pop();
    if (raw.length !== 2) return undefined;
    return this.mcp.get(`${raw[0]}/${raw[1]}`);
  }

  /** Matches a path below /api/ (without the query string). */
  match(method: string, path: string): RouteMatch {
    if (!path.startsWith('/api/')) return { kind: 'not_found' };
    const raw = path.slice(5).split('/');
    if (raw.length > 1 && raw[raw.length - 1] === '') raw.pop();
    let segments: string[];
    try {
      // Most segments hold no escape: decodeURIComponent would hand back the same text.
      segments = raw.map((s) => (s.includes('%') ? decodeURIComponent(s) : s));
    } catch {
      return { kind: 'bad_path' };
    }
    const [ns, second, third] = segments;
    if (ns === undefined || second === undefined) return { kind: 'not_found' };
    let api: CompiledApi | undefined;
    let version: string;
    let rest: string[];
    let named = false;
    const versioned = third !== undefined && VERSION.test(second) ? this.apis.get(`${ns}/${third}`) : undefined;
    if (versioned !== undefined && versioned.versions.includes(second)) {
      api = versioned;
      version = second;
      named = true;
      rest = segments.slice(3);
    } else {
      api = this.apis.get(`${ns}/${second}`);
      if (api === undefined) return { kind: 'not_found' };
      version = api.defaultVersion;
      rest = segments.slice(2);
    }
    // HEAD is served by the GET resource (RFC 9110 §9.3.2; the host sends no body for HEAD).
    const wanted = method === 'HEAD' ? 'GET' : method;
    const allowed: HttpMethod[] = [];
    let best: CompiledResource | undefined;
    let bestLiterals = -1;
    for (const resource of api.resources) {
      const literals = matchingLiterals(resource, rest);
      if (literals === -1) continue;
      if (resource.method !== wanted) {
        allowed.push(resource.method);
        continue;
      }
      // A literal segment beats a parameter: /user/me wins over /user/{id}.
      if (literals > bestLiterals) {
        best = resource;
        bestLiterals = literals;
      }
    }
    // The parameters of the resource chosen only: one object per call, none for the others tried.
    if (best !== undefined) return { kind: 'found', api, version, versioned: named, resource: best, params: paramsOf(best, rest) };
    return allowed.length > 0 ? { kind: 'method_not_allowed', api, allowed: [...new Set(allowed)] } : { kind: 'not_found' };
  }
}

/** How many literal segments of the resource the path matches, or -1 when it does not match. */
function matchingLiterals(resource: CompiledResource, rest: readonly string[]): number {
  if (rest.length !== resource.segments.length) return -1;
  let literals = 0;
  for (let i = 0; i < rest.length; i++) {
    const seg = resource.segments[i];
    const value = rest[i] as string;
    if (seg === undefined) return -1;
    if ('literal' in seg) {
      if (seg.literal !== value) return -1;
      literals++;
    } else if (value === '') {
      return -1;
    }
  }
  return literals;
}

/** The path parameters of a resource the path matched (matchingLiterals). */
function paramsOf(resource: CompiledResource, rest: readonly string[]): Record<string, string> {
  const params: Record<string, string> = {};
  for (let i = 0; i < rest.length; i++) {
    const seg = resource.segments[i];
    if (seg !== undefined && !('literal' in seg)) params[seg.param] = rest[i] as string;
  }
  return params;
}
