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
  acceptedAuthMethods: { label: 'Auth methods accepted', description: 'The client authentication methods this endpoint accepts (its method registry).' },
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
  // ---- typos: the nearest valid value (administrator only) ------------------------------------
  nearestGrant: { label: 'Did you mean (grant)', description: 'The supported grant type nearest to the one asked.' },
  nearestScope: { label: 'Did you mean (scope)', description: 'The existing scope nearest to each unknown one asked.' },
  nearestProperty: { label: 'Did you mean (property)', description: 'The known property nearest to the one named.' },
  nearestRedirectUri: { label: 'Did you mean (redirect URI)', description: "The application's registered redirect URI nearest to the one sent." },
  nearestClientId: { label: 'Did you mean (client id)', description: 'The client id of an application nearest to the one sent.' },
  // ---- report-only rules -------------------------------------------------------------------------
  rule: { label: 'Rule', description: 'The report-only rule that would refuse this request (rule_…).' },
  ruleMode: { label: 'Rule mode', description: 'report or enforce.' },
} as const satisfies Record<string, FactInfo>;

export type FactName = keyof typeof FACTS;
export const FACT_NAMES = Object.keys(FACTS) as FactName[];

export function isFactName(name: string): name is FactName {
  return Object.hasOwn(FACTS, name);
}
