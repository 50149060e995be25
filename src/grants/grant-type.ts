/** Grant-type identifiers: a leaf module, imported by the domain model and every layer above. */

/** RFC 7523 §2.1: the JWT bearer authorization grant. */
export const JWT_BEARER_GRANT = 'urn:ietf:params:oauth:grant-type:jwt-bearer';
/** RFC 8628 §3.4: the device authorization grant. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';
/** RFC 8693 §2.1: the token exchange grant. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** The grant types Latchkey ships (BUILT_IN_GRANTS in src/grants/index.ts is their catalogue, in order). */
export type BuiltInGrantType = 'client_credentials' | 'password' | 'refresh_token' | 'authorization_code' | typeof JWT_BEARER_GRANT | typeof DEVICE_CODE_GRANT | typeof TOKEN_EXCHANGE_GRANT;
/**
 * A grant_type identifier (RFC 6749 §4.5: a registered name or an absolute URI). Open: a grant
 * passed to createLatchkey({ grants }) brings its own; the built-in ones autocomplete.
 */
export type GrantType = BuiltInGrantType | (string & {});
