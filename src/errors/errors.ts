import type { ReasonCode } from './reasons.js';
import { OAuthError, OAuthErrorTemplate } from './oauth-error.js';

export { refuse } from './oauth-error.js';

/**
 * Shared refusal templates without a reason: a refusal always names its own, by
 * `invalidClient.withReason('client_auth.unknown_client')` or `refuse(invalidGrant, 'refresh_token.reused', description)`.
 * Statuses follow RFC 6749 §5.2: 401 for invalid_client when the client used the Authorization
 * header (we always answer 401 with WWW-Authenticate, which §5.2 permits), 400 for the others.
 */
export const invalidRequest = new OAuthErrorTemplate({
  error: 'invalid_request',
  status: 400,
  description: 'The request is malformed.',
});

/** The same description for every client-authentication failure, so an unauthenticated caller
 * cannot learn whether a client id exists. The reason recorded for the administrator differs. */
export const CLIENT_AUTH_FAILED = 'Client authentication failed. Check the client id and secret.';

export const invalidClient = new OAuthErrorTemplate({
  error: 'invalid_client',
  status: 401,
  description: CLIENT_AUTH_FAILED,
  headers: { 'www-authenticate': 'Basic realm="latchkey", charset="UTF-8"' },
});

export const invalidGrant = new OAuthErrorTemplate({
  error: 'invalid_grant',
  status: 400,
  description: 'The grant is invalid.',
});

export const unauthorizedClient = new OAuthErrorTemplate({
  error: 'unauthorized_client',
  status: 400,
  description: 'The client is not authorized to use this grant type.',
});

export const unsupportedGrantType = new OAuthErrorTemplate({
  error: 'unsupported_grant_type',
  status: 400,
  description: 'The grant type is not supported.',
});

export const invalidScope = new OAuthErrorTemplate({
  error: 'invalid_scope',
  status: 400,
  description: 'The requested scope is invalid.',
});

/** RFC 8707 §2: the requested resource is invalid, unknown, or not one the client may have a token for. */
export const invalidTarget = new OAuthErrorTemplate({
  error: 'invalid_target',
  status: 400,
  description: 'The requested resource is invalid, unknown, or malformed.',
});

/** RFC 7591 §3.2.2: "The value of one or more redirection URIs is invalid." */
export const invalidRedirectUri = new OAuthErrorTemplate({
  error: 'invalid_redirect_uri',
  status: 400,
  description: 'A redirect URI is invalid.',
});

/** RFC 7591 §3.2.2: "The value of one of the client metadata fields is invalid". */
export const invalidClientMetadata = new OAuthErrorTemplate({
  error: 'invalid_client_metadata',
  status: 400,
  description: 'The client metadata is invalid.',
});

/** The realm of every Bearer and Basic challenge (RFC 6750 §3, RFC 7617). */
export const REALM = 'latchkey';

/** An RFC 6750 §3.1 invalid_token refusal: 401 with the error in WWW-Authenticate. */
export function invalidToken(reason: ReasonCode, description: string): OAuthError {
  return new OAuthError({
    error: 'invalid_token',
    status: 401,
    description,
    reason,
    headers: { 'www-authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"` },
  });
}
