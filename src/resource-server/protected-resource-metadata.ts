/**
 * OAuth 2.0 Protected Resource Metadata (RFC 9728), framework-free.
 *
 * - `protectedResourceMetadata()` builds the §2 document of one protected resource: its identifier,
 *   the authorization server that issues tokens for it, the scopes it understands, how the token is
 *   sent (the Authorization header only: RFC 6750 §2.1; the query and the body are refused).
 * - `hostedProtectedResources()` lists the protected resources this instance hosts: every API at its
 *   canonical identifier (`<issuer>/api/<ns>/<id>`) and at each versioned one
 *   (`<issuer>/api/<ns>/<version>/<id>`), each with the path of its metadata document (the
 *   well-known segment inserted before the resource's path: RFC 9728 §3.1). Other kinds of hosted
 *   resources (hosted MCP servers) join the same list through its `extra` argument.
 * - `bearerChallenge()` writes the `WWW-Authenticate: Bearer` challenge of a protected resource
 *   (RFC 6750 §3 with the `resource_metadata` parameter of RFC 9728 §5.1), for the hosted APIs and
 *   for the middleware alike.
 * - `createProtectedResourceMetadataEndpoint()` answers GET on the well-known paths.
 *
 * Every URL derives from the configured issuer, never from a request's Host header.
 */

import { DPOP_ALGS } from '../tokens/dpop.js';
import type { NeutralResponse } from '../core/request.js';
import { apiResourceUris, protectedResourceMetadataUrl } from '../domain/resource-uri.js';

/** RFC 9728 §3: the well-known URI suffix. */
export const PROTECTED_RESOURCE_WELL_KNOWN = '/.well-known/oauth-protected-resource';

/** How long a client may reuse a metadata document (the APIs change only at a restart). */
export const PROTECTED_RESOURCE_MAX_AGE_SECONDS = 300;

export interface ProtectedResourceMetadataInput {
  /** The resource identifier (RFC 9728 §1.2), in its canonical form (domain/resource-uri.ts). */
  readonly resource: string;
  /** The issuer identifier of the authorization server that issues tokens for it. */
  readonly issuer: string;
  /** The scopes the resource understands (scopes_supported); none: the member is omitted. */
  readonly scopes: readonly string[];
  /** Human-readable name (resource_name). */
  readonly name: string;
  /** A page for developers (resource_documentation). */
  readonly documentation?: string | undefined;
}

/** The RFC 9728 §2 document, as served. */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly scopes_supported?: readonly string[];
  readonly bearer_methods_supported: readonly string[];
  /** RFC 9449 §5.1 (RFC 9728 §2): the JWS algorithms of the DPoP proofs the resource accepts. */
  readonly dpop_signing_alg_values_supported: readonly string[];
  readonly resource_name: string;
  readonly resource_documentation?: string;
}

/** The issuer without a trailing slash (the form the metadata and the tokens carry). */
function trimmed(issuer: string): string {
  return issuer.replace(/\/+$/, '');
}

/** RFC 9728 §2: the metadata of one protected resource. */
export function protectedResourceMetadata(input: ProtectedResourceMetadataInput): ProtectedResourceMetadata {
  const scopes = [...new Set(input.scopes)];
  return {
    resource: input.resource,
    authorization_servers: [trimmed(input.issuer)],
    ...(scopes.length === 0 ? {} : { scopes_supported: scopes }),
    // RFC 6750 §2.1 only: our APIs and the middleware refuse a token in the query or the body.
    bearer_methods_supported: ['header'],
    // RFC 9449: hosted APIs, MCP servers and the middleware accept DPoP-bound tokens (Authorization: DPoP).
    dpop_signing_alg_values_supported: [...DPOP_ALGS],
    resource_name: input.name,
    ...(input.documentation === undefined ? {} : { resource_documentation: input.documentation }),
  };
}

/** What kind of hosted thing a protected resource is. */
export type HostedResourceKind = 'instance' | 'api' | 'mcp';

/** One protected resource this instance hosts, with where its metadata is. */
export interface HostedProtectedResource {
  readonly kind: HostedResourceKind;
  /** The resource identifier: what a client sends as `resource` (RFC 8707) and what the token's audience names. */
  readonly resource: string;
  /** The path of its metadata document on this host (RFC 9728 §3.1 path insertion). */
  readonly metadataPath: string;
  /** The full URL of its metadata document (what the challenges name as resource_metadata). */
  readonly metadataUrl: string;
  /** Every scope it declares. */
  readonly scopes: readonly string[];
  readonly name: string;
  readonly documentation?: string | undefined;
  /** `<namespace>/<id>` for an API or MCP server; the version for a versioned API path. */
  readonly key?: string | undefined;
  readonly version?: string | undefined;
}

/** The shape of a loaded API that this needs (resource-server/compile.ts CompiledApi fits). */
export interface ApiForMetadata {
  readonly namespace: string;
  readonly id: string;
  readonly name: string;
  readonly versions: readonly string[];
  /** Scopes declared at the API level, even where every resource overrides them (compile.ts). */
  readonly scopes?: readonly string[];
  readonly resources: readonly { readonly security: { readonly scopes: readonly string[] } }[];
}

/** Another hosted protected resource (a hosted MCP server): its identifier, scopes and name. */
export interface ExtraProtectedResource {
  readonly kind?: HostedResourceKind;
  readonly resource: string;
  readonly scopes: readonly string[];
  readonly name: string;
  readonly documentation?: string;
  readonly key?: string;
}

/** Every scope an API declares: API-level first, then each resource's, in declaration order, once each. */
export function declaredScopes(api: ApiForMetadata): string[] {
  return [...new Set([...(api.scopes ?? []), ...api.resources.flatMap((r) => r.security.scopes)])];
}

/** The path (and query) part of a URL: what this host serves it at. */
function pathOf(url: string): string {
  const u = new URL(url);
  return `${u.pathname}${u.search}`;
}

function hosted(kind: HostedResourceKind, resource: string, scopes: readonly string[], name: string, more: Partial<HostedProtectedResource> = {}): HostedProtectedResource {
  const metadataUrl = protectedResourceMetadataUrl(resource);
  return { kind, resource, metadataPath: pathOf(metadataUrl), metadataUrl, scopes, name, ...more };
}

/** The instance as a whole (resource = the issuer, every scope of every API), at the bare well-known path. */
export function instanceProtectedResource(issuer: string, apis: readonly ApiForMetadata[], extra: readonly ExtraProtectedResource[] = []): HostedProtectedResource {
  const scopes = [...new Set([...apis.flatMap(declaredScopes), ...extra.flatMap((e) => e.scopes)])];
  return hosted('instance', trimmed(issuer), scopes, 'Latchkey');
}

/**
 * The protected resources this instance hosts: each API at its canonical identifier and at each
 * versioned one (the same scopes and name), then `extra` (hosted MCP servers: `mcpResourceUri()`).
 * The instance itself is not in it (instanceProtectedResource).
 */
export function hostedProtectedResources(apis: readonly ApiForMetadata[], issuer: string, extra: readonly ExtraProtectedResource[] = []): HostedProtectedResource[] {
  const out: HostedProtectedResource[] = [];
  for (const api of apis) {
    const scopes = declaredScopes(api);
    const [canonical, ...versioned] = apiResourceUris(issuer, api);
    const key = `${api.namespace}/${api.id}`;
    out.push(hosted('api', canonical as string, scopes, api.name, { key }));
    versioned.forEach((resource, i) => out.push(hosted('api', resource, scopes, `${api.name} ${api.versions[i] ?? ''}`.trim(), { key, version: api.versions[i] })));
  }
  for (const e of extra) out.push(hosted(e.kind ?? 'mcp', e.resource, [...new Set(e.scopes)], e.name, { documentation: e.documentation, key: e.key }));
  return out;
}

/** The metadata document of a hosted resource. */
export function hostedMetadataDocument(hostedResource: HostedProtectedResource, issuer: string): ProtectedResourceMetadata {
  return protectedResourceMetadata({ resource: hostedResource.resource, issuer, scopes: hostedResource.scopes, name: hostedResource.name, documentation: hostedResource.documentation });
}

/** A challenge parameter value as a quoted-string of RFC 9110 §5.6.4 (no `"` or `\`, printable ASCII). */
function quoted(value: string): string {
  return value.replace(/[\\"]/g, "'").replace(/[^\x20-\x7e]/g, '?');
}

export interface BearerChallengeInput {
  readonly realm: string;
  /** RFC 6750 §3.1 error code: only when a token was presented and refused (none for a missing one). */
  readonly error?: string | undefined;
  readonly description?: string | undefined;
  /** RFC 9728 §5.1: where the resource's metadata is. */
  readonly resourceMetadata?: string | undefined;
  /** RFC 6750 §3: the scopes the resource needs (for insufficient_scope: the ones that would do). */
  readonly scopes?: readonly string[] | undefined;
}

/**
 * `Bearer realm="…"[, error="…"][, resource_metadata="…"][, scope="…"][, error_description="…"]`:
 * one order everywhere, so a client (or a test) reads the same header from every surface.
 */
export function bearerChallenge(input: BearerChallengeInput): string {
  const parts = [`Bearer realm="${quoted(input.realm)}"`];
  if (input.error !== undefined) parts.push(`error="${quoted(input.error)}"`);
  if (input.resourceMetadata !== undefined) parts.push(`resource_metadata="${quoted(input.resourceMetadata)}"`);
  if (input.scopes !== undefined && input.scopes.length > 0) parts.push(`scope="${quoted(input.scopes.join(' '))}"`);
  if (input.error !== undefined && input.description !== undefined) parts.push(`error_description="${quoted(input.description)}"`);
  return parts.join(', ');
}

/** The headers of every metadata answer: JSON, briefly cacheable, readable from any origin (browser-based clients). */
export const METADATA_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': `public, max-age=${PROTECTED_RESOURCE_MAX_AGE_SECONDS}`,
  'access-control-allow-origin': '*',
};

/** The answer to a CORS preflight for a metadata document. */
export const METADATA_PREFLIGHT: NeutralResponse = {
  status: 204,
  headers: {
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET, HEAD, OPTIONS',
    'access-control-allow-headers': 'accept, mcp-protocol-version',
    'access-control-max-age': '86400',
  },
  body: '',
};

/**
 * The same documents served by Latchkey's own host: CORS is answered in front of every surface
 * there (src/http/cors.ts, latchkey.cors.allowed_origins), so these carry no CORS header themselves.
 */
const HOSTED_METADATA_HEADERS: Readonly<Record<string, string>> = {
  'content-type': METADATA_HEADERS['content-type'] as string,
  'cache-control': METADATA_HEADERS['cache-control'] as string,
};
/** OPTIONS that is not a CORS preflight (no Origin): the methods, nothing more. */
const HOSTED_OPTIONS: NeutralResponse = { status: 204, headers: { allow: 'GET, HEAD, OPTIONS' }, body: '' };

export interface ProtectedResourceMetadataEndpointDeps {
  readonly issuer: () => string;
  /** The hosted resources for an issuer (app.ts: hostedProtectedResources over the loaded APIs). */
  readonly resources: (issuer: string) => readonly HostedProtectedResource[];
  /** The instance as a whole, served at the bare well-known path. */
  readonly instance: (issuer: string) => HostedProtectedResource;
}

export interface ProtectedResourceMetadataEndpoint {
  /** `path` without the query; undefined: no protected resource there (404). */
  handle(method: string, path: string): NeutralResponse | undefined;
  /** The resources served, by metadata path, for this issuer (built once per issuer). */
  list(): readonly HostedProtectedResource[];
}

/**
 * GET /.well-known/oauth-protected-resource[/<resource path>]. For an issuer with a path
 * (https://host/tenant) the documents are at the path-inserted URL (…/oauth-protected-resource/tenant/api/…)
 * and also without the issuer's path (a proxy that maps /tenant onto this instance strips it), as
 * the authorization server metadata is (endpoints/metadata.ts).
 */
export function createProtectedResourceMetadataEndpoint(deps: ProtectedResourceMetadataEndpointDeps): ProtectedResourceMetadataEndpoint {
  let built: { readonly issuer: string; readonly list: readonly HostedProtectedResource[]; readonly byPath: ReadonlyMap<string, string> } | undefined;
  function table() {
    const issuer = deps.issuer();
    if (built?.issuer === issuer) return built;
    const list = [deps.instance(issuer), ...deps.resources(issuer)];
    const issuerPath = new URL(issuer).pathname.replace(/\/+$/, '');
    const byPath = new Map<string, string>();
    for (const r of list) {
      const body = JSON.stringify(hostedMetadataDocument(r, issuer));
      byPath.set(r.metadataPath, body);
      if (issuerPath !== '' && r.metadataPath.startsWith(`${PROTECTED_RESOURCE_WELL_KNOWN}${issuerPath}`)) {
        const stripped = `${PROTECTED_RESOURCE_WELL_KNOWN}${r.metadataPath.slice(PROTECTED_RESOURCE_WELL_KNOWN.length + issuerPath.length)}`;
        if (!byPath.has(stripped)) byPath.set(stripped, body);
      }
    }
    built = { issuer, list, byPath };
    return built;
  }
  return {
    list: () => table().list,
    handle(method, path) {
      const wanted = path.length > PROTECTED_RESOURCE_WELL_KNOWN.length + 1 && path.endsWith('/') ? path.slice(0, -1) : path;
      const body = table().byPath.get(wanted);
      if (body === undefined) return undefined;
      if (method === 'OPTIONS') return HOSTED_OPTIONS;
      return { status: 200, headers: HOSTED_METADATA_HEADERS, body };
    },
  };
}
