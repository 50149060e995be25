import { CodedError } from './base.js';

/**
 * A refused registry change (from the CLI and the admin API). `code` is stable for scripts; the
 * message says what is wrong and how to fix it; `field` names the admin API field at fault, so the
 * console can show the message next to it.
 */
export type RegistryErrorCode =
  | 'invalid_input'
  | 'user_exists'
  | 'user_not_found'
  | 'scope_exists'
  | 'scope_not_found'
  | 'role_exists'
  | 'role_not_found'
  | 'application_not_found'
  /** A name given where a client id or a unique name is expected matches several applications. */
  | 'application_ambiguous'
  /** A built-in object (the console application, the admin role, the built-in scopes) cannot be deleted or switched off. */
  | 'built_in'
  /** The change would leave no active administrator (src/registry/guards.ts). */
  | 'last_administrator'
  /** Deleting it would leave something dangling; the message names the dependants (and --cascade, where it applies). */
  | 'in_use'
  /** No stored token has this handle (or is this token). */
  | 'token_not_found'
  /** The start of a handle given matches several tokens. */
  | 'token_ambiguous'
  | 'property_unknown'
  | 'property_invalid'
  | 'identity_provider_not_found'
  | 'identity_provider_exists'
  | 'identity_provider_unreachable'
  /** A URL the server would fetch (JWKS URI, metadata URL) is refused by the outbound rules (src/outbound). */
  | 'outbound_refused'
  /** No report-only rule has this id (src/registry/rules.ts). */
  | 'rule_not_found'
  /** A rule names a hosted API (or one of its resources) that is not loaded. */
  | 'api_not_found'
  /** No registered external resource (RFC 8707) has this identifier (src/registry/resources.ts). */
  | 'resource_not_found'
  /** A resource with this identifier is registered already, or is a hosted API or MCP server. */
  | 'resource_exists'
  /** No registration policy has this name (src/registry/registration.ts). */
  | 'registration_policy_not_found'
  /** No initial access token has this id. */
  | 'initial_access_token_not_found'
  /** The application has no token exchange policy (src/registry/exchange-policies.ts). */
  | 'exchange_policy_not_found'
  /** No pending device authorization (RFC 8628) has this id: decided, expired or unknown (src/registry/device-authorizations.ts). */
  | 'device_authorization_not_found';

/**
 * What an `in_use` refusal names (the admin API answers it as `dependants`, so the console can
 * offer the cascade): the applications, users or hosted API routes that depend on the object.
 */
export interface Dependants {
  readonly applications?: readonly { readonly clientId: string; readonly name: string }[];
  readonly users?: readonly string[];
  /** Hosted API routes ("GET /api/x/v1/orders") that require it: change the API modules first. */
  readonly routes?: readonly string[];
  /** Whether the delete with cascade (--cascade, ?cascade=true) would take it from the dependants. */
  readonly cascade: boolean;
}

/** A refused registry change; `code` is stable for scripts and picks the HTTP status (src/admin/routes/errors.ts). */
export class RegistryError extends CodedError<RegistryErrorCode> {
  readonly dependants: Dependants | undefined;
  constructor(code: RegistryErrorCode, message: string, readonly field?: string, options?: { cause?: unknown; dependants?: Dependants }) {
    super('RegistryError', code, message, options);
    this.dependants = options?.dependants;
  }
}
