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
  readonly query?: readonly QueryParam[];
  /** Status of a successful answer (default 200). */
  readonly status?: number;
  handler(ctx: RouteContext): Promise<unknown>;
}

export const ADMIN_API_PREFIX = '/admin/api/v1';
