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

export class RegistryError extends Error {
  constructor(
    readonly code: RegistryErrorCode,
    message: string,
    readonly field?: string,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}
