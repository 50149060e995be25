import type { Facts } from '../domain/model.js';
import type { ReasonCode } from './reasons.js';

/** RFC 6749 §5.2 error codes, plus the two from §4.1.2.1 and RFC 6750 §3.1 that share the registry. */
export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unauthorized_client'
  | 'unsupported_grant_type'
  | 'invalid_scope'
  /** RFC 8707 §2: resource indicators. */
  | 'invalid_target'
  | 'access_denied'
  | 'unsupported_response_type'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'server_error'
  | 'temporarily_unavailable'
  /** 429: a rate limit (RFC 6585 §4); an extension code (RFC 6749 §8.5), as Auth0's token endpoint answers. */
  | 'too_many_requests'
  /** OpenID Connect Core 1.0 §3.1.2.6: answers to prompt=none and friends, at the authorization endpoint. */
  | 'login_required'
  | 'consent_required'
  | 'interaction_required'
  /** Core 1.0 §3.1.2.6: the request and request_uri parameters (§6) are not supported. */
  | 'request_not_supported'
  | 'request_uri_not_supported'
  /** Core 1.0 §3.1.2.6, RFC 9126 §4: a request_uri that names no usable pushed request (unknown, expired, used, another client's). */
  | 'invalid_request_uri'
  /** RFC 7591 §3.2.2: dynamic client registration refusals. */
  | 'invalid_redirect_uri'
  | 'invalid_client_metadata'
  /** RFC 8628 §3.5: the device authorization grant's polling answers. */
  | 'authorization_pending'
  | 'slow_down'
  | 'expired_token'
  /** RFC 9449 §5, §12.2: a DPoP proof refused at the token endpoint; a server nonce required. */
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce';

export interface OAuthErrorInit {
  readonly error: OAuthErrorCode;
  readonly status: number;
  /** Client-safe text: ASCII, no `"` or `\` (RFC 6749 §5.2 error_description character set). */
  readonly description: string;
  readonly reason: ReasonCode;
  /** Administrator-facing detail, recorded with the refusal, never sent to the caller. */
  readonly hint?: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Whose credential was refused, when known (recorded with the refusal, never sent to the caller). */
  readonly subject?: RefusalSubject;
  /** The facts of this case (src/errors/facts.ts), recorded with the refusal, never sent to the caller. */
  readonly facts?: Facts;
}

export interface RefusalSubject {
  readonly clientId?: string;
  readonly applicationName?: string;
  readonly userName?: string;
}

/**
 * An error as data. Protocol code, status and client-safe description for the caller; reason code
 * and hint for the administrator. Copy-refine with `with…` so shared constants are never mutated.
 */
export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly status: number;
  readonly description: string;
  readonly reason: ReasonCode;
  readonly hint: string | undefined;
  readonly headers: Readonly<Record<string, string>>;
  readonly subject: RefusalSubject | undefined;
  readonly facts: Facts | undefined;

  constructor(init: OAuthErrorInit, cause?: unknown) {
    super(`${init.error}: ${init.description}`, cause === undefined ? undefined : { cause });
    this.name = 'OAuthError';
    this.error = init.error;
    this.status = init.status;
    this.description = sanitizeDescription(init.description);
    this.reason = init.reason;
    this.hint = init.hint;
    this.headers = init.headers ?? {};
    this.subject = init.subject;
    this.facts = init.facts;
  }

  private init(): OAuthErrorInit {
    return {
      error: this.error,
      status: this.status,
      description: this.description,
      reason: this.reason,
      ...(this.hint === undefined ? {} : { hint: this.hint }),
      headers: this.headers,
      ...(this.subject === undefined ? {} : { subject: this.subject }),
      ...(this.facts === undefined ? {} : { facts: this.facts }),
    };
  }

  withReason(reason: ReasonCode): OAuthError {
    return new OAuthError({ ...this.init(), reason }, this.cause);
  }

  withDescription(description: string): OAuthError {
    return new OAuthError({ ...this.init(), description }, this.cause);
  }

  withHint(hint: string): OAuthError {
    return new OAuthError({ ...this.init(), hint }, this.cause);
  }

  withSubject(subject: RefusalSubject): OAuthError {
    return new OAuthError({ ...this.init(), subject }, this.cause);
  }

  /** Adds facts of the case (later values win); for the administrator's explanation only. */
  withFacts(facts: Facts): OAuthError {
    return new OAuthError({ ...this.init(), facts: { ...this.facts, ...facts } }, this.cause);
  }

  withHeaders(headers: Record<string, string>): OAuthError {
    return new OAuthError({ ...this.init(), headers: { ...this.headers, ...headers } }, this.cause);
  }

  /** The lower error this refusal was made from (kept by every later refinement; never sent to the caller). */
  withCause(cause: unknown): OAuthError {
    return new OAuthError(this.init(), cause);
  }

  /** The RFC 6749 §5.2 JSON body. */
  toBody(): { error: OAuthErrorCode; error_description: string } {
    return { error: this.error, error_description: this.description };
  }
}

/** Characters our own messages use, spelled in the ASCII error_description allows. */
const ASCII_SPELLINGS: Readonly<Record<string, string>> = { '§': 'section ', '—': '-', '–': '-', '‘': "'", '’': "'", '“': "'", '”': "'", '…': '...', '→': '->', '×': 'x' };

/** RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E. */
export function sanitizeDescription(text: string): string {
  return text.replace(/[^\x20-\x7e]|["\\]/g, (ch) => (ch === '"' ? "'" : ASCII_SPELLINGS[ch] ?? '?'));
}

/**
 * A shared refusal without a reason (src/errors/errors.ts): protocol code, status, default
 * description and headers. It is not an OAuthError and cannot be recorded or answered as one; the
 * only way to an OAuthError is `withReason(reason)` (or `refuse(template, reason, description)`),
 * so every refusal names its reason.
 */
export class OAuthErrorTemplate {
  readonly error: OAuthErrorCode;
  readonly status: number;
  readonly description: string;
  readonly headers: Readonly<Record<string, string>>;

  constructor(init: Omit<OAuthErrorInit, 'reason' | 'hint' | 'subject'>) {
    this.error = init.error;
    this.status = init.status;
    this.description = sanitizeDescription(init.description);
    this.headers = init.headers ?? {};
  }

  withReason(reason: ReasonCode): OAuthError {
    return new OAuthError({ error: this.error, status: this.status, description: this.description, reason, headers: this.headers });
  }

  withDescription(description: string): OAuthErrorTemplate {
    return new OAuthErrorTemplate({ error: this.error, status: this.status, description, headers: this.headers });
  }
}

/** The refusal `template` for `reason`, with `description` instead of the template's when given. */
export function refuse(template: OAuthErrorTemplate, reason: ReasonCode, description?: string): OAuthError {
  const error = template.withReason(reason);
  return description === undefined ? error : error.withDescription(description);
}

export function isOAuthError(value: unknown): value is OAuthError {
  return value instanceof OAuthError;
}
