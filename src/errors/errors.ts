import { OAuthError } from './oauth-error.js';

/**
 * Shared error constants, refined by copying: `invalidClient.withReason('client_auth.unknown_client')`.
 * Statuses follow RFC 6749 §5.2: 401 for invalid_client when the client used the Authorization
 * header (we always answer 401 with WWW-Authenticate, which §5.2 permits), 400 for the others.
 */
export const invalidRequest = new OAuthError({
  error: 'invalid_request',
  status: 400,
  description: 'The request is malformed.',
  reason: 'request.missing_parameter',
});

/** The same description for every client-authentication failure, so an unauthenticated caller
 * cannot learn whether a client id exists. The reason recorded for the administrator differs. */
export const CLIENT_AUTH_FAILED = 'Client authentication failed. Check the client id and secret.';

export const invalidClient = new OAuthError({
  error: 'invalid_client',
  status: 401,
  description: CLIENT_AUTH_FAILED,
  reason: 'client_auth.unknown_client',
  headers: { 'www-authenticate': 'Basic realm="latchkey", charset="UTF-8"' },
});

export const invalidGrant = new OAuthError({
  error: 'invalid_grant',
  status: 400,
  description: 'The grant is invalid.',
  reason: 'user.bad_credentials',
});

export const unauthorizedClient = new OAuthError({
  error: 'unauthorized_client',
  status: 400,
  description: 'The client is not authorized to use this grant type.',
  reason: 'grant.not_allowed_for_application',
});

export const unsupportedGrantType = new OAuthError({
  error: 'unsupported_grant_type',
  status: 400,
  description: 'The grant type is not supported.',
  reason: 'grant.unsupported',
});

export const invalidScope = new OAuthError({
  error: 'invalid_scope',
  status: 400,
  description: 'The requested scope is invalid.',
  reason: 'scope.not_allowed',
});
