/**
 * The OpenID Connect scopes Latchkey knows (Core 1.0 §3.1.2.1, §11). Built in (bootstrap.ts puts
 * them in place), and, as every scope, granted only to an application that lists them.
 */

/** Makes an authorization code request an OpenID Connect request: the token response carries an ID token. */
export const OPENID_SCOPE = 'openid';
/** Core 1.0 §11: a refresh token that works while the user is not signed in. */
export const OFFLINE_ACCESS_SCOPE = 'offline_access';

export const OIDC_BUILT_IN_SCOPES: readonly { readonly name: string; readonly description: string }[] = [
  { name: OPENID_SCOPE, description: 'OpenID Connect: sign the user in to the application (an ID token with the user\'s id)' },
  { name: OFFLINE_ACCESS_SCOPE, description: 'OpenID Connect: keep access while the user is not signed in (a refresh token)' },
];
