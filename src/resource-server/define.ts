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
