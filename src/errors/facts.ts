/**
 * The facts an explanation can carry: the data of one refused request that an administrator needs
 * to act, beyond the rule the reason code states (src/errors/reasons.ts). Each reason lists the
 * facts its explanation carries (ReasonInfo.facts); `latchkey explain`, the admin API and the
 * console show them under these names, and docs/reasons.md documents them.
 *
 * Facts come from two places (src/diagnostics/explain.ts): those only the refusing code knows are
 * recorded with the refusal (OAuthError.withFacts: what was asked, counts at that moment); those
 * the registry and the audit log know are looked up when the refusal is explained (who revoked the
 * token, the application's settings now, the nearest valid value of a typo). Times are ISO 8601.
 * A fact never holds a secret, a password or a token; the nearest-value facts never reach a caller.
 */
export interface FactInfo {
  /** The label shown by `latchkey explain` and the console. */
  readonly label: string;
  /** What the fact says, for docs/reasons.md. */
  readonly description: string;
}

export const FACTS = {
  // ---- what the request asked -------------------------------------------------------------
  requestedGrant: { label: 'Grant asked', description: 'The grant_type the request sent.' },
  requestedScopes: { label: 'Scopes asked', description: 'The scopes the request asked for.' },
  requestedRedirectUri: { label: 'Redirect URI sent', description: 'The redirect_uri the request sent.' },
  requestedProperty: { label: 'Property named', description: 'The property name the request or command named.' },
  authMethod: { label: 'Auth method used', description: 'How the caller authenticated (client_secret_basic, client_secret_post, private_key_jwt, none, bearer, basic).' },
  method: { label: 'HTTP method', description: 'The HTTP method of the request.' },
  path: { label: 'Path', description: 'The path of the request.' },
  // ---- what the server and the application allow ------------------------------------------
  supportedGrants: { label: 'Grants this server supports', description: 'Every grant type this server supports, from its grant registry now.' },
  allowedGrants: { label: 'Grants the application allows', description: "The application's grant types now (the registry)." },
  allowedScopes: { label: 'Scopes the application allows', description: "The application's scopes now (the registry)." },
  missingScopes: { label: 'Scopes asked but not allowed', description: 'The asked scopes the application does not list.' },
  unknownScopes: { label: 'Scopes that do not exist', description: 'The asked scopes that are not auth scopes of this instance at all (`latchkey scopes list`).' },
  scopeExists: { label: 'Scope exists', description: 'Whether the scope is an auth scope of this instance at all.' },
  registeredRedirectUris: { label: 'Registered redirect URIs', description: "The application's redirect URIs now (exact match)." },
  tokenFormat: { label: 'Token format', description: "The application's access token format now (opaque or jwt)." },
  audience: { label: 'Audience', description: "The application's token audience now (null: this server's APIs)." },
  applicationActive: { label: 'Application active', description: 'Whether the application is active now.' },
  applicationPublic: { label: 'Public application', description: 'Whether the application is public (no secret).' },
  appUser: { label: 'Application user', description: "The application's application user now (null: none)." },
  appUserActive: { label: 'Application user active', description: 'Whether the application user is active now.' },
  userActive: { label: 'User active', description: 'Whether the user is active now.' },
  userExists: { label: 'User exists', description: 'Whether a user of this name exists.' },
  userRoles: { label: "User's roles", description: "The user's roles now." },
  property: { label: 'Property', description: 'The property (instance switch or limit) involved.' },
  propertyValue: { label: 'Property value', description: 'The value of that property now.' },
  propertySetAt: { label: 'Property set at', description: 'When that property was last set (the audit log).' },
  propertySetBy: { label: 'Property set by', description: 'Who last set that property (the audit log).' },
  // ---- the token ---------------------------------------------------------------------------
  token: { label: 'Token', description: 'The token handle (tk_…), safe to show.' },
  tokenKind: { label: 'Token kind', description: 'access or refresh.' },
  tokenScopes: { label: 'Scopes the token has', description: 'The scopes the presented token carries.' },
  tokenGrant: { label: 'Token issued by grant', description: 'The grant that issued the token.' },
  issuedAt: { label: 'Issued at', description: 'When the token (or code) was issued.' },
  expiredAt: { label: 'Expired at', description: 'When the token (or code) expired.' },
  revokedAt: { label: 'Revoked at', description: 'When the token was revoked.' },
  revokedBy: { label: 'Revoked by', description: 'Who revoked it (the audit log), or the event that did (a rotation, a password change, a delete).' },
  withdrawnScopes: { label: 'Scopes withdrawn after issue', description: "Scopes the token carries that the application no longer lists." },
  withdrawnAt: { label: 'Withdrawn at', description: 'When those scopes were withdrawn from the application (the audit log).' },
  withdrawnBy: { label: 'Withdrawn by', description: 'Who withdrew them (the audit log).' },
  requiredScopes: { label: 'Scopes the API requires', description: 'The scopes the API resource requires (one of them).' },
  requiredRoles: { label: 'Roles the API requires', description: 'The roles the API resource requires (one of them).' },
  tokenAudience: { label: 'Token audience', description: 'The audience (aud) the token carries.' },
  expectedAudience: { label: 'Audience expected', description: 'The audience this server accepts.' },
  // ---- secrets, passwords, lockout -----------------------------------------------------------
  secretRotatedAt: { label: 'Secret last rotated', description: "When the application's secret was set or last rotated: a client sending the old secret since then is told apart from one sending garbage." },
  secretRotatedBy: { label: 'Secret rotated by', description: 'Who rotated it (the audit log).' },
  failures: { label: 'Failures so far', description: 'Failed attempts counted in the lockout window so far.' },
  threshold: { label: 'Lockout threshold', description: 'Failures that lock the user out (latchkey.password.lockout.threshold).' },
  lockedUntil: { label: 'Locked until', description: 'When the lockout ends.' },
  passwordChangedAt: { label: 'Password changed at', description: "When the user's password was last set." },
  // ---- rate limits -----------------------------------------------------------------------------
  limit: { label: 'Limit', description: "The rate limit that applied ('100/1m')." },
  limitSource: { label: 'Limit set by', description: "Where that limit comes from: the application's own or the instance's property." },
  retryAfterSeconds: { label: 'Retry after (s)', description: 'Seconds until the window frees a request.' },
  // ---- the token endpoint's requests, refresh tokens and application users ----------------------
  contentType: { label: 'Content-Type sent', description: 'The media type the request body was sent as (null: no Content-Type header).' },
  bodyBytes: { label: 'Body size (bytes)', description: 'The size of the request body: its Content-Length, or what had arrived when the limit stopped reading it.' },
  bodyLimit: { label: 'Body limit (bytes)', description: 'The largest request body this server reads (LATCHKEY_BODY_LIMIT).' },
  repeatedParameter: { label: 'Parameter sent twice', description: 'The name of the parameter sent more than once (never its value).' },
  queryParameter: { label: 'Parameter sent in the URL', description: 'The name of the parameter sent in the URL query string (never its value).' },
  missingParameter: { label: 'Parameter missing', description: 'The name of the required parameter the request lacked.' },
  scopeProblem: { label: 'What is wrong with scope', description: 'Why the scope parameter is not a list of scope names separated by single spaces (RFC 6749 §3.3).' },
  scopesBeyondGrant: { label: 'Scopes asked beyond the grant', description: 'The asked scopes the refresh token was never granted (RFC 6749 §6).' },
  tokenShape: { label: 'Token presented', description: 'What the presented value is, as far as its form tells (an opaque refresh or access token of this server, a JWT, something else); never the value.' },
  refreshTokenLifespan: { label: 'Refresh token lifespan (s)', description: "The application's refresh token lifespan now, in seconds." },
  exchangedAt: { label: 'Exchanged at', description: 'When the refresh token was exchanged for new tokens (its first use): the issue time of the refresh token that replaced it.' },
  familyRevoked: { label: 'Tokens revoked with it', description: 'How many tokens of its family (every token of the same sign-in) this refusal revoked.' },
  tokenApplication: { label: 'Token issued to', description: 'The application the token was issued to (name and client id).' },
  appUserDeactivatedAt: { label: 'Application user deactivated at', description: 'When the application user was deactivated, or created inactive (the audit log).' },
  appUserDeactivatedBy: { label: 'Application user deactivated by', description: 'Who deactivated it (the audit log).' },
  // ---- typos: the nearest valid value (administrator only) ------------------------------------
  nearestGrant: { label: 'Did you mean (grant)', description: 'The supported grant type nearest to the one asked.' },
  nearestScope: { label: 'Did you mean (scope)', description: 'The existing scope nearest to each unknown one asked.' },
  nearestProperty: { label: 'Did you mean (property)', description: 'The known property nearest to the one named.' },
  nearestRedirectUri: { label: 'Did you mean (redirect URI)', description: "The application's registered redirect URI nearest to the one sent." },
  nearestClientId: { label: 'Did you mean (client id)', description: 'The client id of an application nearest to the one sent.' },
  // ---- API and token validation (api, token, introspect, revoke, admin, metrics, outbound) ------
  acceptedAuthMethods: { label: 'Auth methods the API accepts', description: "The methods the API resource accepts (its security.authMethods: bearer, basic)." },
  credentialLocations: { label: 'Credentials sent in', description: 'Where the request carried credentials: header (Authorization), query (access_token), body (access_token).' },
  claimedIssuedAt: { label: 'Issue time the token carries', description: "The issue time an unknown token carries in itself (an opaque token's time part, a JWT's iat; not checked): long ago means deleted after it expired, recent means another instance or database." },
  tokenProblem: { label: 'What is wrong with the token', description: 'What the check of a JWT-shaped token found: no iss, no kid, typ not at+jwt, a missing claim …' },
  tokenKeyId: { label: 'Key id (kid) of the token', description: 'The signing key a JWT names in its header.' },
  publishedKeyIds: { label: 'Keys this instance publishes', description: "The kids in this instance's JWKS when the token was refused (`latchkey keys list`)." },
  tokenIssuer: { label: 'Token issuer (iss)', description: 'The issuer (iss) a JWT names.' },
  issuer: { label: "This server's issuer", description: 'The issuer identifier of this instance: its own JWTs carry it as iss and aud.' },
  providerIssuers: { label: 'Identity provider issuers', description: 'The issuers of the active identity providers (`latchkey idps list`): a JWT of another issuer is refused.' },
  identityProvider: { label: 'Identity provider', description: 'The registered identity provider whose token it is.' },
  tokenClientId: { label: 'Token issued to', description: 'The client id of the application the token was issued to.' },
  accessTokenLifespan: { label: 'Access token lifespan (s)', description: "The application's access token lifespan now, in seconds." },
  deactivatedAt: { label: 'Deactivated at', description: 'When the application (or user) was made inactive, or created inactive (the audit log).' },
  deactivatedBy: { label: 'Deactivated by', description: 'Who made it inactive (the audit log).' },
  canIntrospect: { label: 'May introspect', description: 'Whether the application may call the introspection endpoint now (can_introspect).' },
  adminApi: { label: 'Allowed the admin API', description: 'Whether the application may administer the instance through the admin API now (admin_api).' },
  session: { label: 'Console session', description: 'The handle of the console session the cookie names (never the cookie).' },
  sessionState: { label: 'Session state', description: 'Why the console session does not stand: ended (signed out, or ended by a change), expired, idle, its user inactive or deleted, or not a session of this instance.' },
  sessionEndedAt: { label: 'Session ended at', description: 'When the console session ended, expired or went idle.' },
  sessionEndedBy: { label: 'Session ended by', description: 'What ended it: the audit entry (a password, role or active change, a delete) with its actor, or the user signing out.' },
  csrfTokenSent: { label: 'x-csrf-token sent', description: 'Whether the request carried an x-csrf-token header (its value is never kept).' },
  requestOrigin: { label: 'Origin sent', description: 'The Origin header of the request (null: none).' },
  expectedOrigin: { label: 'Origin expected', description: "This instance's origin (from its issuer)." },
  outboundUrl: { label: 'URL not fetched', description: 'The JWKS URI or metadata URL the outbound rules refused (without its query).' },
  outboundRefusal: { label: 'Refused because', description: 'Which outbound rule refused it: the scheme, or the address the host is or resolves to.' },
  // ---- report-only rules -------------------------------------------------------------------------
  rule: { label: 'Rule', description: 'The report-only rule that would refuse this request (rule_…).' },
  ruleMode: { label: 'Rule mode', description: 'report or enforce.' },
} as const satisfies Record<string, FactInfo>;

export type FactName = keyof typeof FACTS;
export const FACT_NAMES = Object.keys(FACTS) as FactName[];

export function isFactName(name: string): name is FactName {
  return Object.hasOwn(FACTS, name);
}
