import type { z } from 'zod';
import type { Latchkey } from '../../app.js';
import type { AdminCaller } from '../auth.js';
import type { ConsoleAuth } from '../console-auth.js';

/** The shape of an admin API route and of what its handler is given. */

export type AdminMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RouteContext {
  readonly latchkey: Latchkey;
  readonly auth: ConsoleAuth;
  readonly caller: AdminCaller;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  readonly body: unknown;
  /** Set-Cookie values to send (logout). */
  readonly cookies: string[];
  /** The request's headers (lower-case names). */
  readonly headers?: Readonly<Record<string, string | string[] | undefined>>;
  /** The body as sent, for a route with `textBody` (it parses the body itself). */
  readonly rawBody?: string | undefined;
}

/** A body the handler reads as text (ctx.rawBody) rather than as JSON checked by `body`: a registry document in YAML or JSON. */
export interface TextBody {
  /** What the body holds, for the OpenAPI document. */
  readonly schema: z.ZodType;
  readonly contentTypes: readonly string[];
  /** The largest body accepted (in bytes), when more than the instance's body limit. */
  readonly limit: number;
}

export interface QueryParam {
  readonly name: string;
  readonly description: string;
  readonly type?: 'string' | 'integer' | 'boolean';
}

export interface AdminRoute {
  readonly method: AdminMethod;
  /** Below /admin/api/v1, Fastify style (`:name` parameters). */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  readonly body?: z.ZodType;
  readonly textBody?: TextBody;
  /** Media types of a successful answer, when not only JSON (default: application/json). */
  readonly produces?: readonly string[];
  readonly query?: readonly QueryParam[];
  /** Status of a successful answer (default 200). */
  readonly status?: number;
  handler(ctx: RouteContext): Promise<unknown>;
}

export const ADMIN_API_PREFIX = '/admin/api/v1';
