import type { CompiledApi } from '../resource-server/compile.js';

/** How the CLI and the admin API describe a plan's values, and what the loaded APIs require. */

/** A field value in a plan's text: `[a, b]`, `-` for none, `JWKS (2 keys)`. */
export function describeValue(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return `[${value.map((v) => describeValue(v)).join(', ')}]`;
  if (typeof value === 'object') {
    const keys = (value as { keys?: unknown }).keys;
    return Array.isArray(keys) ? `JWKS (${keys.length} key${keys.length === 1 ? '' : 's'})` : JSON.stringify(value);
  }
  if (typeof value === 'string') return value === '' || /[\s,[\]]/.test(value) ? JSON.stringify(value) : value;
  return String(value);
}

/**
 * Where the loaded APIs require a scope or a role, as `GET /api/<namespace>/<version>/<id>/<path>`
 * per route: what the registry's deletes check (a scope an API requires is not deleted).
 */
export function apiRequirements(apis: readonly CompiledApi[]): (kind: 'scope' | 'role', name: string) => readonly string[] {
  return (kind, name) =>
    apis.flatMap((api) =>
      api.resources
        .filter((r) => (kind === 'scope' ? r.security.scopes : r.security.roles).includes(name))
        .map((r) => `${r.method} /api/${api.namespace}/${api.defaultVersion}/${api.id}${r.template === '/' ? '' : r.template}`),
    );
}
