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
  | 'application_not_found'
  | 'property_unknown'
  | 'property_invalid'
  | 'identity_provider_not_found'
  | 'identity_provider_exists'
  | 'identity_provider_unreachable'
  /** A URL the server would fetch (JWKS URI, metadata URL) is refused by the outbound rules (src/outbound). */
  | 'outbound_refused';

/** A refused registry change; `code` is stable for scripts and picks the HTTP status (src/admin/routes/errors.ts). */
export class RegistryError extends CodedError<RegistryErrorCode> {
  constructor(code: RegistryErrorCode, message: string, readonly field?: string, options?: { cause?: unknown }) {
    super('RegistryError', code, message, options);
  }
}
