import type { RefusalRecorder } from '../audit/refusals.js';
import type { ClientAuthMethod, ClientAuthMethodName, PresentedClient } from '../client-auth/types.js';
import type { Clock } from '../core/clock.js';
import { parseForm } from '../core/form.js';
import type { Logger } from '../core/logger.js';
import type { NeutralRequest, NeutralResponse } from '../core/request.js';
import { invalidClient, invalidRequest } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import { effectiveScopes } from '../grants/scope.js';
import type { RefusalContext } from '../grants/types.js';
import type { RegistryCache } from '../registry/cache.js';
import type { Application, TokenRecord, User, ActClaim } from '../domain/model.js';
import { decideWithFreshCache } from '../registry/fresh-cache.js';
import type { Storage } from '../storage/types.js';
import { tokenVerdict, type TokenInvalidReason } from '../tokens/verdict.js';
import { answer, authenticateCaller, checkTransport, jsonResponse, type TokenLocator, type TransportRules } from './shared.js';
import { countAddress, countClient, withRateHeaders, type RateState } from './rate-limit.js';
import type { RateLimits } from '../registry/rate-limits.js';

const TRANSPORT: TransportRules = {
  name: 'introspection endpoint',
  section: 'RFC 7662 section 2.1',
  sensitiveQuery: ['token', 'client_id', 'client_secret', 'client_assertion'],
};

/**
 * RFC 7662 §2.2: the one answer for every token that is not active, whatever the cause ("the
 * authorization server SHOULD NOT include any additional information about an inactive token,
 * including why the token is inactive"). The cause goes to the log, for the administrator.
 */
const INACTIVE: NeutralResponse = jsonResponse(200, { active: false });

/** RFC 7662 §2.1: a client id alone (`none`) is not authentication; refused before any registry lookup. */
const CLIENT_AUTHENTICATION_REQUIRED = invalidClient
  .withReason('introspect.client_authentication_required')
  .withDescription('The introspection endpoint requires client authentication: send the client id and secret of an application allowed to introspect.');
const refuseUnauthenticated = (presented: PresentedClient): OAuthError | undefined => (presented.method === 'none' ? CLIENT_AUTHENTICATION_REQUIRED.withFacts({ authMethod: 'none' }) : undefined);

/** Why a token is not active: logged, never sent. */
type InactiveCause = 'token.unknown' | 'token.rotated' | TokenInvalidReason;

export interface IntrospectionDeps {
  readonly cache: Pick<
    RegistryCache,
    | 'applicationByClientId'
    | 'peekApplicationByClientId'
    | 'applicationById'
    | 'peekApplicationById'
    | 'userById'
    | 'peekUserById'
    | 'check'
    | 'rememberVerifiedSecret'
    | 'verifiedSecret'
    | 'onInvalidate'
  >;
  readonly storage: Pick<Storage, 'tokens'>;
  readonly clientAuthMethods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>;
  readonly locate: TokenLocator;
  readonly issuer: () => string;
  readonly clock: Clock;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
  /** Rate limits per source address and per application (registry/rate-limits.ts); none when omitted. */
  readonly rateLimits?: RateLimits;
}

export interface IntrospectionEndpoint {
  handle(req: NeutralRequest): Promise<NeutralResponse>;
}

/** The RFC 7662 §2.2 members of an active token. */
export interface IntrospectionBody {
  readonly active: true;
  readonly scope: string;
  readonly client_id: string;
  readonly username?: string;
  /** RFC 9449 §6.2: DPoP for an access token bound to a DPoP key. */
  readonly token_type: 'Bearer' | 'DPoP' | 'N_A';
  readonly exp: number;
  readonly iat: number;
  readonly sub: string;
  readonly aud?: string | readonly string[];
  readonly iss: string;
  readonly jti?: string;
  /** RFC 9449 §6.2: the key a bound token is bound to (its refresh tokens too, for a public client). */
  readonly cnf?: { readonly jkt: string };
  /** RFC 8693 §4.1: who acts for the subject (a token issued by token exchange with an actor token). */
  readonly act?: ActClaim;
}


const seconds = (ms: number) => Math.floor(ms / 1000);

/** Active access-token records kept in memory for introspection (about 300 bytes each): started over when full. */
const MAX_CACHED_RECORDS = 100_000;

/**
 * POST /oauth/introspect: a resource server asks whether a token is active and what it stands for.
 *
 * - The caller must authenticate as an application (every registered client-authentication method
 *   except `none`: RFC 7662 §2.1 "the endpoint MUST also require some form of authorization", and a
 *   client id alone proves nothing), and that application must be allowed to introspect
 *   (`canIntrospect`, for resource servers).
 * - Any token of this instance can be asked about, access or refresh, opaque or JWT; the
 *   `token_type_hint` is ignored (§2.1: the server "MUST extend its search across all of its
 *   supported token types"; our lookup does not depend on the type).
 * - A token is active exactly when our own APIs would accept it (resource-server/bearer.ts): stored,
 *   not revoked or rotated, unexpired, its application and user active. Scopes are those in effect
 *   (granted, intersected with what the application allows now).
 * - Anything else is `{"active":false}` with no detail. But "cannot tell" is not "inactive": when
 *   the storage is unreachable the answer is 503, so a resource server never drops a good token.
 * @see RFC 7662 §2
 */
export function createIntrospectionEndpoint(deps: IntrospectionDeps): IntrospectionEndpoint {
  // The records of active access tokens asked about, by key: a resource server asks about the same
  // token on every call it receives, and the lookup was the largest single cost of an introspection
  // (a SQLite read transaction per request). The same rule as the bearer validator's cache
  // (resource-server/bearer.ts): any revocation, deactivation or scope change moves the storage
  // change version, which clears this map (on another instance within one change poll); expiry and
  // the application's and user's state are checked on every call (tokenVerdict). Only active access
  // tokens are kept: a refresh token's rotation is checked against the database every time, and an
  // unknown token is never remembered (it may be issued by another instance a moment later).
  let records = new Map<string, TokenRecord>();
  let generation = 0;
  deps.cache.onInvalidate(() => {
    generation++;
    records = new Map();
  });
  async function recordOf(key: string): Promise<TokenRecord | undefined> {
    const hit = records.get(key);
    if (hit !== undefined) return hit;
    const gen = generation;
    const record = await deps.storage.tokens.byHash(key);
    if (record !== undefined && record.kind === 'access' && record.status === 'active' && gen === generation) {
      if (records.size >= MAX_CACHED_RECORDS) records = new Map();
      records.set(key, record);
    }
    return record;
  }

  function inactive(req: NeutralRequest, refusal: RefusalContext, cause: InactiveCause): NeutralResponse {
    // Not a refusal (the caller's request succeeded), but the administrator of the resource server
    // that then refuses its caller may want to know why: the cause, never the token.
    deps.logger.info({ requestId: req.requestId, endpoint: 'introspect', clientId: refusal.clientId, cause }, 'introspected token is not active');
    return INACTIVE;
  }

  async function process(req: NeutralRequest, refusal: RefusalContext, rate: RateState): Promise<NeutralResponse> {
    const response = await decide(req, refusal, rate);
    return rate.verdict === undefined ? response : { ...response, headers: withRateHeaders(response.headers, rate) };
  }

  async function decide(req: NeutralRequest, refusal: RefusalContext, rate: RateState): Promise<NeutralResponse> {
    const byAddress = countAddress(deps.rateLimits, rate, 'introspect', req);
    if (byAddress !== undefined) await byAddress;
    checkTransport(req, TRANSPORT);
    const params = parseForm(req.body);
    const client = await authenticateCaller(deps, req, params, refusal, refuseUnauthenticated);
    const app = client.application;
    const byClient = countClient(deps.rateLimits, rate, app);
    if (byClient !== undefined) await byClient;
    if (!app.canIntrospect) {
      // The credentials are good but not sufficient: RFC 9110 §15.5.4 (403: "the server considers
      // them insufficient to grant access"). RFC 7662 §2.3 asks for 401 only when the credentials
      // themselves are invalid, and keeps {"active":false} for a token the caller may not learn
      // about; this application may not use the endpoint at all, and saying so is what lets its
      // administrator fix it. unauthorized_client is RFC 6749 §5.2's "the authenticated client is
      // not authorized" code.
      throw new OAuthError({
        error: 'unauthorized_client',
        status: 403,
        reason: 'introspect.not_allowed',
        description: `The application ${app.name} is not allowed to introspect tokens. An administrator must allow it (can_introspect).`,
        hint: `Application "${app.name}" (${app.clientId}) has canIntrospect false.`,
        facts: { canIntrospect: false, authMethod: client.method },
      });
    }
    const token = params.token;
    if (token === undefined) {
      throw invalidRequest.withReason('request.missing_parameter').withDescription('The token parameter is required (RFC 7662 section 2.1).').withFacts({ missingParameter: 'token' });
    }
    // token_type_hint: read by nobody (see above); unknown values are ignored, as §2.1 allows.

    const located = await deps.locate(token);
    if (located === undefined) return inactive(req, refusal, 'token.unknown');
    const record = await recordOf(located.key);
    if (record === undefined || (located.claims !== undefined && record.kind !== 'access')) return inactive(req, refusal, 'token.unknown');
    // Inactive because of cached registry state (an application or user just reactivated?): make
    // sure the cache is current before saying so, as the token endpoint does before refusing.
    const verdict = await decideWithFreshCache(deps.cache, () => tokenVerdict(deps, record), { refusalOf: (v) => (v.valid ? undefined : v.reason) });
    if (!verdict.valid) return inactive(req, refusal, verdict.rotated === true ? 'token.rotated' : verdict.reason);
    return jsonResponse(200, describe(record, verdict.app, verdict.user, located.claims));
  }

  function describe(record: TokenRecord, app: Application, user: User | undefined, claims: Readonly<Record<string, unknown>> | undefined): IntrospectionBody {
    const access = record.kind === 'access';
    const body: Record<string, unknown> = {
      active: true,
      scope: effectiveScopes(record.scopes, app).join(' '),
      client_id: app.clientId,
    };
    if (user !== undefined) body.username = user.userName;
    // RFC 7662 §2.2: token_type is "as defined in Section 5.1 of OAuth 2.0", i.e. a value of the
    // IANA "OAuth Access Token Types" registry. Access tokens are Bearer (RFC 6750). A refresh token
    // has no access token type; the registry's N_A (RFC 8693 §2.2.1: "not an access token") says so,
    // and a resource server that checks token_type === 'Bearer' will not accept it as one.
    // RFC 9449 §6.2: a DPoP-bound access token is of type DPoP, and cnf.jkt names its key.
    const jkt = record.jkt ?? undefined;
    body.token_type = access ? (jkt === undefined ? 'Bearer' : 'DPoP') : 'N_A';
    body.exp = seconds(record.expiresAt);
    body.iat = seconds(record.issuedAt);
    // sub: the user the token acts as, by name (as in our JWTs), or the client for a token without one.
    body.sub = typeof claims?.sub === 'string' ? claims.sub : user !== undefined ? user.userName : app.clientId;
    // aud: where an access token may be used: the application's audience, else our own APIs (the
    // issuer), as in a JWT access token. A refresh token is only ever presented back to us.
    // RFC 8707: a token issued for resources names them (one: a string, several: an array, as in the JWT).
    const bound = record.audience === undefined || record.audience === null || record.audience.length === 0 ? undefined : record.audience.length === 1 ? record.audience[0] : [...record.audience];
    if (access) body.aud = claims?.aud !== undefined ? claims.aud : (bound ?? app.audience ?? deps.issuer());
    body.iss = deps.issuer();
    if (typeof claims?.jti === 'string') body.jti = claims.jti;
    if (jkt !== undefined) body.cnf = { jkt };
    // RFC 8693 §2.2.1 / §4.1: the actor of an exchanged token, from its record (opaque and JWT alike).
    if (record.act !== undefined && record.act !== null) body.act = record.act;
    return body as unknown as IntrospectionBody;
  }

  return {
    handle: (req) => {
      const rate: RateState = { counted: 0, verdict: undefined };
      return answer(deps, 'introspect', req, (r, refusal) => process(r, refusal, rate));
    },
  };
}
