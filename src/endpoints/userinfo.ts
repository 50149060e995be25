import { decodeJwt } from 'jose';
import type { RefusalRecorder } from '../audit/refusals.js';
import { parseForm } from '../core/form.js';
import type { Logger } from '../core/logger.js';
import { header, mediaType, type NeutralRequest, type NeutralResponse } from '../core/request.js';
import type { Facts } from '../domain/model.js';
import { callerValue } from '../errors/caller-value.js';
import { REALM } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { ReasonCode } from '../errors/reasons.js';
import type { RefusalContext } from '../grants/types.js';
import { userClaims } from '../oidc/claims.js';
import type { RegistryCache } from '../registry/cache.js';
import type { AuthorizationCodeStore } from '../storage/types.js';
import { answer, jsonResponse } from './shared.js';

/** Where the UserInfo endpoint is served (OpenID Connect Core §5.3), with the ServiceNow-style alias the other endpoints have. */
export const USERINFO_PATHS = ['/oauth/userinfo', '/oauth_userinfo.do'] as const;

/**
 * What UserInfo needs of the bearer validator (resource-server/bearer.ts BearerValidator, a layer
 * above: passed in by app.ts): the caller and origin of a token, or an invalid_token OAuthError;
 * and the facts of a token it accepted, for a refusal after it.
 */
export interface UserInfoBearer {
  validateWithOrigin(token: string): Promise<{
    readonly caller: { readonly user: { readonly id: string; readonly name: string } | null; readonly application: { readonly clientId: string; readonly name: string } | null; readonly scopes: readonly string[] };
    readonly origin: { readonly issuer: 'self' | 'external'; readonly grantType: string | null; readonly applicationId: string | null; readonly familyId?: string | null };
  }>;
  facts(token: string): Promise<Facts>;
}

export interface UserInfoDeps {
  readonly bearer: UserInfoBearer;
  readonly cache: Pick<RegistryCache, 'userById' | 'applicationById' | 'check'>;
  /** The authorization codes, for the claims request parameter of a token's grant (Core 1.0 §5.5); absent: none honoured. */
  readonly codes?: Pick<AuthorizationCodeStore, 'byHash'>;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
}

export interface UserInfoEndpoint {
  handle(req: NeutralRequest): Promise<NeutralResponse>;
}

/**
 * Grants whose tokens stand for no end-user: the application acting as its application user.
 * Every other grant (authorization_code, password, refresh_token of these, the JWT bearer grant,
 * whose assertion names the user) acts for a user who authorized it.
 */
const NO_END_USER_GRANTS: ReadonlySet<string> = new Set(['client_credentials']);

/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** A refusal of this endpoint; 401 ones carry the Bearer challenge (RFC 6750 §3), with the error code unless none applies (§3.1). */
function refusal(status: 400 | 401 | 403 | 405, error: 'invalid_request' | 'invalid_token' | 'insufficient_scope', reason: ReasonCode, description: string, facts: Facts, extra: Record<string, string> = {}): OAuthError {
  const challenge =
    status === 401 && reason === 'userinfo.credentials_missing' ? `Bearer realm="${REALM}"`
    : status === 401 || status === 403 ? `Bearer realm="${REALM}", error="${error}", error_description="${description}"${status === 403 ? ', scope="openid"' : ''}`
    : undefined;
  const headers = { ...(challenge === undefined ? {} : { 'www-authenticate': challenge }), ...extra };
  return new OAuthError({ error, status, description, reason, headers, facts });
}

/**
 * The token a UserInfo request presents, found in exactly one place: the Authorization header
 * (RFC 6750 §2.1) or, for POST, `access_token` in a form-encoded body (§2.2). The URI query method
 * (§2.3) is refused: proxies and logs keep URLs.
 */
function presentedToken(req: NeutralRequest): string {
  const method = callerValue(req.method, 10);
  const authorization = header(req, 'authorization');
  if (req.query.has('access_token')) {
    throw refusal(400, 'invalid_request', 'userinfo.token_in_query', 'Send the access token in the Authorization header, not in the URL.', { method, credentialLocations: [...(authorization === undefined ? [] : ['header']), 'query'] });
  }
  let inBody: string | undefined;
  if (req.method === 'POST' && mediaType(req.contentType) === 'application/x-www-form-urlencoded') {
    let form: Record<string, string>;
    try {
      form = parseForm(req.body);
    } catch {
      throw refusal(400, 'invalid_request', 'userinfo.multiple_credentials', 'A form parameter was repeated: send access_token once, in one place.', { method, credentialLocations: ['body'] });
    }
    inBody = form.access_token;
  }
  if (authorization !== undefined && inBody !== undefined) {
    throw refusal(400, 'invalid_request', 'userinfo.multiple_credentials', 'Send the access token in one place only: the Authorization header.', { method, credentialLocations: ['header', 'body'] });
  }
  if (inBody !== undefined) {
    if (!B64TOKEN.test(inBody)) throw refusal(401, 'invalid_token', 'userinfo.malformed_authorization', 'The access_token parameter is not a well-formed token.', { method, authMethod: 'bearer', credentialLocations: ['body'] });
    return inBody;
  }
  if (authorization === undefined) {
    throw refusal(401, 'invalid_request', 'userinfo.credentials_missing', 'UserInfo requires an access token: send Authorization: Bearer <access token>.', { method, authMethod: 'none' });
  }
  const space = authorization.indexOf(' ');
  const scheme = (space === -1 ? authorization : authorization.slice(0, space)).toLowerCase();
  const token = space === -1 ? '' : authorization.slice(space + 1).trim();
  const facts: Facts = { method, authMethod: scheme.replace(/[^a-z0-9-]/g, '?').slice(0, 20), credentialLocations: ['header'] };
  if (scheme !== 'bearer') throw refusal(401, 'invalid_token', 'userinfo.malformed_authorization', 'UserInfo accepts only Bearer access tokens.', facts);
  if (!B64TOKEN.test(token)) throw refusal(400, 'invalid_request', 'userinfo.malformed_authorization', 'The Authorization header must be Bearer followed by one token.', facts);
  return token;
}

/** The iss an identity provider's token names (already verified by the validator), for the refusal's facts. */
function issuerFact(token: string): Facts {
  try {
    const iss = decodeJwt(token).iss;
    return typeof iss === 'string' ? { tokenIssuer: iss.slice(0, 200) } : {};
  } catch {
    return {};
  }
}

/**
 * The UserInfo endpoint (OpenID Connect Core 1.0 §5.3): GET or POST with an access token of this
 * instance, granted `openid`, from a grant with an end-user. Answers the user's claims for the
 * token's scopes in effect (oidc/claims.ts), `sub` always, with Cache-Control: no-store. Refusals
 * follow RFC 6750 §3 and are recorded under the endpoint `userinfo`.
 * @see OpenID Connect Core 1.0 §5.3.1, §5.3.2, §5.3.3
 */
export function createUserInfoEndpoint(deps: UserInfoDeps): UserInfoEndpoint {
  async function process(req: NeutralRequest, context: RefusalContext): Promise<NeutralResponse> {
    // §5.3.1: "The UserInfo Endpoint MUST support the use of the HTTP GET and HTTP POST methods".
    if (req.method !== 'GET' && req.method !== 'POST') {
      throw refusal(405, 'invalid_request', 'userinfo.method_not_allowed', 'The UserInfo endpoint accepts GET and POST.', { method: callerValue(req.method, 20) }, { allow: 'GET, POST' });
    }
    const token = presentedToken(req);
    const { caller, origin } = await deps.bearer.validateWithOrigin(token);
    context.authenticated = true;
    if (caller.application !== null) {
      context.clientId = caller.application.clientId;
      context.applicationName = caller.application.name;
    }
    if (caller.user !== null) context.userName = caller.user.name;
    if (origin.issuer !== 'self') {
      throw refusal(401, 'invalid_token', 'userinfo.external_token', 'The access token was not issued by this server.', issuerFact(token));
    }
    // §5.3: the Access Token is one "obtained from an OpenID Connect Authentication Request" (scope openid).
    if (!caller.scopes.includes('openid')) {
      throw refusal(403, 'insufficient_scope', 'userinfo.openid_scope_missing', 'The access token was not granted the scope openid.', { ...(await deps.bearer.facts(token)), requiredScopes: ['openid'] });
    }
    if (caller.user === null || (origin.grantType !== null && NO_END_USER_GRANTS.has(origin.grantType))) {
      throw refusal(401, 'invalid_token', 'userinfo.no_end_user', 'The access token was not issued for a signed-in user.', await deps.bearer.facts(token));
    }
    const user = await deps.cache.userById(caller.user.id);
    // The validator found the user active a moment ago; deleted since: the token is revoked with it.
    if (user === undefined) throw refusal(401, 'invalid_token', 'userinfo.no_end_user', 'The access token was not issued for a signed-in user.', await deps.bearer.facts(token));
    const application = origin.applicationId === null ? undefined : await deps.cache.applicationById(origin.applicationId);
    // §5.5: the claims the authorization request's claims parameter asked UserInfo for. Every token
    // of an authorization code grant (refreshed ones too) has the code's hash as its family.
    let requested: ReadonlySet<string> | undefined;
    if (deps.codes !== undefined && origin.grantType === 'authorization_code' && typeof origin.familyId === 'string') {
      const code = await deps.codes.byHash(origin.familyId);
      if (code?.claims !== undefined && code.claims !== null && code.claims.userinfo.length > 0 && code.userId === user.id) requested = new Set(code.claims.userinfo);
    }
    return jsonResponse(200, userClaims(user, caller.scopes, application, requested));
  }
  return {
    handle: (req) => answer(deps, 'userinfo', req, process),
  };
}
