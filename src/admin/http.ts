import type { NeutralResponse } from '../core/request.js';
import { commandLine } from '../core/shell.js';
import { isoTimesReplacer } from '../core/timestamps.js';
import { LatchkeyError } from '../errors/base.js';

/**
 * Response helpers of the admin API and the console: JSON in, JSON out, errors as
 * `{"error": code, "message": text, "field"?: name}`, and the headers every response carries
 * (no caching, no framing).
 */

/** Headers on every admin API response. */
export const ADMIN_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json; charset=utf-8',
  'cache-control': 'no-store',
  pragma: 'no-cache',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** CSP of the console's static files (the single-page app). */
export const CONSOLE_CSP =
  "default-src 'self'; img-src 'self' data: https:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/** Headers on every console response (pages, assets, redirects). */
export const CONSOLE_HEADERS: Readonly<Record<string, string>> = {
  'x-frame-options': 'DENY',
  'content-security-policy': CONSOLE_CSP,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** A refusal of the admin API; `status` is the HTTP status. */
export class AdminError extends LatchkeyError {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Readonly<Record<string, string>> = {},
    /** More members of the error body (an in_use refusal's `dependants`). */
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super('AdminError', message);
  }
}

/** An answer of the admin API; its times (fields named like createdAt, lockedUntil) as ISO 8601 text (core/timestamps.ts). */
export function json(status: number, body: unknown, headers: Readonly<Record<string, string>> = {}): NeutralResponse {
  return { status, headers: { ...ADMIN_HEADERS, ...headers }, body: JSON.stringify(body, isoTimesReplacer) };
}

/** `extra`: what a refusal adds for `latchkey explain` (its reason code and the request id). */
export function errorJson(error: AdminError, extra: { readonly reason?: string; readonly requestId?: string } = {}): NeutralResponse {
  return json(error.status, { error: error.code, message: error.message, ...(error.field === undefined ? {} : { field: error.field }), ...(error.details ?? {}), ...extra }, error.headers);
}

/**
 * An answer a route handler builds itself, for what is not the usual JSON of its status: another
 * content type (a YAML export), or another status with a body (an apply that stopped part-way and
 * must still hand out the secrets it generated). The admin headers are added to it.
 */
export class AdminAnswer {
  constructor(
    readonly status: number,
    readonly contentType: string,
    readonly body: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {}

  static json(status: number, value: unknown): AdminAnswer {
    return new AdminAnswer(status, ADMIN_HEADERS['content-type'] as string, JSON.stringify(value));
  }
}

export const notFound = (message: string) => new AdminError(404, 'not_found', message);
/** The command an administrator runs to give a user the admin role (quoted for the shell). */
export const adminRoleCommand = (userName: string): string => commandLine(['users', 'update', userName, '--roles', 'admin']);

export const badRequest = (message: string, field?: string) => new AdminError(400, 'invalid_input', message, field);
