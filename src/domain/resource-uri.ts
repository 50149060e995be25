/**
 * Resource identifiers (RFC 8707 §2, RFC 9728 §1.2) and their canonical form, as the Model Context
 * Protocol authorization specification defines it ("Canonical Server URI"): an absolute URI, no
 * fragment, scheme and host in lower case, no default port, and no trailing slash unless the path
 * is more than "/" and ends in one on purpose (we drop a single trailing slash: one form per
 * resource, so `https://mcp.example.com/` and `https://mcp.example.com` name the same resource).
 *
 * Everything that compares a `resource` parameter with a known resource, stores a token's
 * audience or prints a resource goes through `canonicalResource`, so the comparison is exact on
 * one spelling.
 *
 * Hosted resources: every API module is a protected resource whose identifier derives from the
 * issuer and its path (`<issuer>/api/<namespace>/<id>`, and the versioned path for each version);
 * a hosted MCP server is `<issuer>/mcp/<namespace>/<id>`. Their RFC 9728 metadata lives at the
 * path-inserted well-known URL (`protectedResourceMetadataUrl`).
 */

export type ResourceUriProblem = 'empty' | 'not_absolute' | 'fragment' | 'bad_scheme' | 'credentials' | 'too_long';

export type ResourceUriResult =
  | { readonly ok: true; readonly uri: string }
  | { readonly ok: false; readonly problem: ResourceUriProblem; readonly message: string };

/** Longer than any real resource identifier; keeps a hostile value out of logs and storage. */
export const MAX_RESOURCE_URI_LENGTH = 2000;

/**
 * Validates a resource indicator and returns its canonical form. `http` and `https` only (the
 * resources this server can describe and protect); a query is kept (RFC 8707 says SHOULD NOT, not
 * MUST NOT), a fragment is refused (MUST NOT), user information is refused.
 */
export function canonicalResource(value: string): ResourceUriResult {
  if (value.length === 0) return { ok: false, problem: 'empty', message: 'The resource is empty.' };
  if (value.length > MAX_RESOURCE_URI_LENGTH) {
    return { ok: false, problem: 'too_long', message: `The resource is longer than ${MAX_RESOURCE_URI_LENGTH} characters.` };
  }
  if (!/^[A-Za-z][A-Za-z0-9+.-]*:/.test(value)) {
    return { ok: false, problem: 'not_absolute', message: 'The resource is not an absolute URI (RFC 8707 §2): it needs a scheme, as in https://api.example.com/orders.' };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return { ok: false, problem: 'not_absolute', message: 'The resource is not an absolute URI (RFC 8707 §2).' };
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    return { ok: false, problem: 'bad_scheme', message: `The resource has the scheme ${url.protocol.slice(0, 20)}; resources here are http or https URLs.` };
  }
  if (value.includes('#')) {
    return { ok: false, problem: 'fragment', message: 'The resource has a fragment (#...), which RFC 8707 §2 forbids.' };
  }
  if (url.username !== '' || url.password !== '') {
    return { ok: false, problem: 'credentials', message: 'The resource carries user information (user:password@); name the resource without it.' };
  }
  let path = url.pathname;
  if (path.length > 1 && path.endsWith('/')) path = path.slice(0, -1);
  if (path === '/') path = '';
  return { ok: true, uri: `${url.protocol}//${url.host}${path}${url.search}` };
}

/** The issuer without a trailing slash: the base hosted resource identifiers hang off. */
function base(issuer: string): string {
  return issuer.endsWith('/') ? issuer.slice(0, -1) : issuer;
}

export interface HostedApiShape {
  readonly namespace: string;
  readonly id: string;
  readonly versions?: readonly string[];
}

/**
 * The resource identifiers of a hosted API: the canonical one first (`<issuer>/api/<ns>/<id>`,
 * the default-version path), then one per versioned path. A token whose audience is any of them
 * is meant for this API.
 */
export function apiResourceUris(issuer: string, api: HostedApiShape): string[] {
  const b = base(issuer);
  const uris = [`${b}/api/${api.namespace}/${api.id}`];
  for (const version of api.versions ?? []) uris.push(`${b}/api/${api.namespace}/${version}/${api.id}`);
  return uris;
}

/** The canonical resource identifier of a hosted API (what `resources list` shows for it). */
export function apiResourceUri(issuer: string, api: HostedApiShape): string {
  return `${base(issuer)}/api/${api.namespace}/${api.id}`;
}

/** The resource identifier (and endpoint) of a hosted MCP server. */
export function mcpResourceUri(issuer: string, server: { readonly namespace: string; readonly id: string }): string {
  return `${base(issuer)}/mcp/${server.namespace}/${server.id}`;
}

/**
 * RFC 9728 §3.1: the protected resource metadata URL, the well-known segment inserted between
 * the host and the path (`https://h/api/x/y` → `https://h/.well-known/oauth-protected-resource/api/x/y`).
 */
export function protectedResourceMetadataUrl(resourceUri: string): string {
  const url = new URL(resourceUri);
  const path = url.pathname === '/' ? '' : url.pathname;
  return `${url.protocol}//${url.host}/.well-known/oauth-protected-resource${path}${url.search}`;
}
