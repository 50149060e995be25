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
  // ---- the browser flow: authorization requests, their forms, codes and PKCE -----------------
  requestedResponseType: { label: 'Response type asked', description: 'The response_type the authorization request sent (null: none).' },
  supportedResponseTypes: { label: 'Response types supported', description: "The response types this server's authorization endpoint supports (code: the authorization code flow, no implicit flow)." },
  redirectUriRegisteredFor: { label: 'Applications registering this redirect URI', description: 'The client ids of the applications that register the redirect URI sent: the application the request most likely came from (the registry now).' },
  stateLength: { label: 'Length of state', description: 'How many characters the state parameter had (never the state itself).' },
  maxStateLength: { label: 'Longest state accepted', description: 'The most characters a state parameter may have.' },
  formAction: { label: 'Form action', description: 'The lk_action field of the posted form: sign_in, consent or switch_user (anything else is not one of our forms).' },
  pendingRequestValid: { label: 'Pending request verified', description: "Whether the form's signed pending request verified with this instance's key (false: altered, truncated, or signed by an instance with another LATCHKEY_KEY_ENCRYPTION_KEY)." },
  requestStartedAt: { label: 'Request started at', description: 'When the authorization request was validated and its sign-in page first shown.' },
  requestExpiredAt: { label: 'Request expired at', description: 'When its pending request stopped being accepted (10 minutes after it started).' },
  csrfCookiePresent: { label: 'CSRF cookie sent', description: "Whether the browser sent the pre-session cookie the form's CSRF token is bound to (false: cookies blocked, or the form was posted from another browser)." },
  csrfTokenPresent: { label: 'CSRF token in the form', description: 'Whether the posted form had a CSRF token at all (the token is never recorded).' },
  challengeMethod: { label: 'code_challenge_method sent', description: 'The code_challenge_method of the authorization request (null: none, which RFC 7636 reads as plain).' },
  challengeLength: { label: 'Length of code_challenge', description: 'How many characters the code_challenge had (an S256 challenge has 43); never the challenge itself.' },
  requiredChallengeMethod: { label: 'code_challenge_method required', description: 'The only code_challenge_method this server accepts.' },
  codeHasChallenge: { label: 'Code issued with a challenge', description: 'Whether the authorization request the code was issued for had a code_challenge.' },
  verifierLength: { label: 'Length of code_verifier', description: 'How many characters the code_verifier had (43 to 128 are allowed); never the verifier itself.' },
  verifierInvalidCharacters: { label: 'Characters outside the verifier alphabet', description: 'How many characters of the code_verifier are not A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1).' },
  codeShape: { label: 'What the code looks like', description: 'What the code presented is by its shape: authorization_code (lk_ac_…), access_token or refresh_token (a token sent as a code), or unrecognised (mistyped, truncated, another server\'s).' },
  codeLength: { label: 'Length of the code', description: 'How many characters the code presented had (ours have 61); never the code itself.' },
  codeClientId: { label: 'Code issued to (client id)', description: 'The client id of the application the authorization code was issued to.' },
  codeRedirectUri: { label: 'Code issued for redirect URI', description: 'The redirect_uri of the authorization request the code was issued for (null: it had none, so any registered one may be sent).' },
  codeUsedAt: { label: 'Code first redeemed at', description: 'When the authorization code was redeemed the first time.' },
  tokensRevoked: { label: 'Tokens revoked', description: 'How many tokens issued from the code were revoked because it was presented again.' },
  // ---- JWTs signed by others: client assertions and identity providers' tokens ---------------
  jwtAlg: { label: 'JWT alg', description: 'The alg of the JWT header (as presented).' },
  jwtKid: { label: 'JWT kid', description: 'The kid of the JWT header (null: none).' },
  jwtIss: { label: 'JWT iss', description: 'The iss claim (as presented; null: absent).' },
  jwtSub: { label: 'JWT sub', description: 'The sub claim (as presented; null: absent).' },
  jwtAud: { label: 'JWT aud', description: 'The aud claim: one string or a list (as presented; null: absent).' },
  jwtExp: { label: 'JWT exp', description: 'The exp claim as a time (null: absent or not a number).' },
  jwtIat: { label: 'JWT iat', description: 'The iat claim as a time (null: absent or not a number).' },
  jwtNbf: { label: 'JWT nbf', description: 'The nbf claim as a time (null: absent or not a number).' },
  jwtJti: { label: 'JWT jti', description: 'The jti claim (null: absent).' },
  jwtClaimNames: { label: 'Claims present', description: 'The names of the claims the JWT carries (never their values).' },
  claim: { label: 'Claim', description: 'The claim that is missing or of the wrong type (null: the JWT itself is not well formed).' },
  assertionType: { label: 'client_assertion_type sent', description: 'The client_assertion_type parameter (null: none, or the JWT bearer grant, which has none).' },
  assertionSegments: { label: 'Assertion segments', description: 'How many dot-separated parts the assertion has (a signed JWT has 3; null: no assertion); never the assertion itself.' },
  expectedIssuer: { label: 'Issuer expected', description: "The iss this server expected: the application's client id (assertions) or the provider's registered issuer." },
  allowedAlgorithms: { label: 'Algorithms accepted', description: 'The signature algorithms accepted on assertions and external tokens (never none or HMAC).' },
  keySource: { label: 'Keys registered as', description: "How the application's public keys are registered: jwks (inline), jwks_uri, or none." },
  appJwksUri: { label: "Application's JWKS URI", description: "The JWKS URI the application's keys are fetched from (null: none registered)." },
  registeredKids: { label: 'Registered key ids', description: "The kids of the application's keys: its inline JWKS, or what its JWKS URI last served (never key material)." },
  publishedKids: { label: "Provider's key ids", description: "The kids the identity provider's JWKS served when last fetched (never key material)." },
  maxSkewSeconds: { label: 'Clock skew allowed (s)', description: 'latchkey.assertion.max_skew_seconds when the JWT was checked.' },
  maxLifetimeSeconds: { label: 'Longest lifetime accepted (s)', description: 'latchkey.assertion.max_lifetime_seconds (assertions) or latchkey.idp.max_token_lifetime_seconds (identity providers\' tokens) when the JWT was checked.' },
  lifetimeSeconds: { label: 'Lifetime claimed (s)', description: "How long the JWT claims to be valid: exp - iat for an identity provider's token that has iat, else how far exp was ahead of the request." },
  fetchError: { label: 'Fetch failed with', description: 'What fetching the keys (or the metadata) ended with: a timeout, a status, not a JWKS.' },
  requestedClientId: { label: 'client_id sent', description: 'The client_id parameter the request sent beside the assertion.' },
  identityProvider: { label: 'Identity provider', description: 'The registered identity provider whose issuer the token names (`latchkey idps show <name>`).' },
  idpJwksUri: { label: "Provider's JWKS URI", description: 'The JWKS URI the provider\'s keys came from: registered, or discovered from its metadata (null: not known yet).' },
  idpMetadataUrl: { label: "Provider's metadata URL", description: "The provider's registered metadata URL (null: a JWKS URI is registered instead)." },
  userClaim: { label: 'User claim', description: "The token claim that names the local user (the provider's user claim)." },
  userField: { label: 'User field', description: 'The local user field the user claim is matched against: user_name or id.' },
  userClaimValue: { label: 'User claim value', description: 'The value of the user claim in the token (a user name or id).' },
  userByOtherField: { label: 'User matching the other field', description: 'The user whose other field (id instead of user name, or the other way round) has that value, if any: then the user field is what is wrong (the registry now).' },
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
  acceptedAuthMethods: { label: 'Auth methods accepted', description: 'The authentication methods the endpoint accepts: at the token endpoint its client authentication methods (the method registry); on a hosted API resource its security.authMethods (bearer, basic).' },
  applicationDeactivatedAt: { label: 'Application deactivated at', description: 'When the application was last made inactive (the audit log; its creation when it was created inactive).' },
  applicationDeactivatedBy: { label: 'Application deactivated by', description: 'Who made it inactive (the audit log).' },
  userDeactivatedAt: { label: 'User deactivated at', description: 'When the user was last made inactive (the audit log; its creation when it was created inactive).' },
  userDeactivatedBy: { label: 'User deactivated by', description: 'Who made the user inactive (the audit log).' },
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
  failures: { label: 'Failures so far', description: 'Failed attempts counted in the lockout window so far: from this source, or from all sources for a per-user lock (lockScope user).' },
  threshold: { label: 'Lockout threshold', description: 'Failures that lock the user out (latchkey.password.lockout.threshold; user_threshold for a per-user lock).' },
  lockedUntil: { label: 'Locked until', description: 'When the lockout ends.' },
  passwordChangedAt: { label: 'Password changed at', description: "When the user's password was last set." },
  userFailures: { label: 'Failures from all sources', description: 'Failed attempts for this user name from every source in the lockout window so far.' },
  userThreshold: { label: 'Per-user threshold', description: 'Failures from all sources after which only known sources may try (latchkey.password.lockout.user_threshold).' },
  lockScope: { label: 'Lock applies to', description: "'source': this user name from this source address (threshold); 'user': this user name from every source it never signed in from (user_threshold)." },
  hashingConcurrency: { label: 'Password checks at once', description: 'Password hashes this instance runs at once (the bounded password-hashing queue).' },
  hashingQueue: { label: 'Password checks that may wait', description: 'Password checks that may wait behind the running ones before new ones are refused.' },
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
  credentialLocations: { label: 'Credentials sent in', description: 'Where the request carried credentials: header (Authorization), query (access_token), body (access_token).' },
  claimedIssuedAt: { label: 'Issue time the token carries', description: "The issue time an unknown token carries in itself (an opaque token's time part, a JWT's iat; not checked): long ago means deleted after it expired, recent means another instance or database." },
  tokenProblem: { label: 'What is wrong with the token', description: 'What the check of a JWT-shaped token found: no iss, no kid, typ not at+jwt, a missing claim …' },
  tokenKeyId: { label: 'Key id (kid) of the token', description: 'The signing key a JWT names in its header.' },
  publishedKeyIds: { label: 'Keys this instance publishes', description: "The kids in this instance's JWKS when the token was refused (`latchkey keys list`)." },
  tokenIssuer: { label: 'Token issuer (iss)', description: 'The issuer (iss) a JWT names.' },
  issuer: { label: "This server's issuer", description: 'The issuer identifier of this instance: its own JWTs carry it as iss and aud.' },
  providerIssuers: { label: 'Identity provider issuers', description: 'The issuers of the active identity providers (`latchkey idps list`): a JWT of another issuer is refused.' },
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
