import type { RefusalRecorder } from '../audit/refusals.js';
import { authenticateClient, presentedClient, type ClientContext } from '../client-auth/authenticate.js';
import type { ClientAuthMethod, ClientAuthMethodName } from '../client-auth/types.js';
import { parseForm } from '../core/form.js';
import type { Logger } from '../core/logger.js';
import { mediaType, type NeutralRequest, type NeutralResponse } from '../core/request.js';
import { invalidRequest, unauthorizedClient, unsupportedGrantType } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import { CACHE_DERIVED_REASONS } from '../errors/reasons.js';
import type { Grant, GrantContext, RefusalContext } from '../grants/types.js';
import type { RegistryCache } from '../registry/cache.js';
import { StorageError, type GrantType } from '../storage/types.js';

/** RFC 6749 §5.1: "The authorization server MUST include ... Cache-Control: no-store". */
const TOKEN_HEADERS = { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', pragma: 'no-cache' } as const;

/** Parameters that must never travel in a URL, where proxies and logs keep them. */
const SENSITIVE_QUERY = ['client_secret', 'client_id', 'password', 'username', 'refresh_token', 'grant_type', 'code', 'code_verifier', 'client_assertion', 'scope'];

export interface TokenEndpointDeps {
  readonly cache: Pick<RegistryCache, 'applicationByClientId' | 'peekApplicationByClientId' | 'properties' | 'peekProperties' | 'check' | 'rememberVerifiedSecret' | 'verifiedSecret'>;
  readonly grants: ReadonlyMap<GrantType, Grant>;
  readonly clientAuthMethods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
}

export interface TokenEndpoint {
  handle(req: NeutralRequest): Promise<NeutralResponse>;
}

function checkTransport(req: NeutralRequest): void {
  // RFC 6749 §3.2: "The client MUST use the HTTP POST method when making access token requests."
  if (req.method !== 'POST') {
    throw invalidRequest
      .withReason('request.method_not_allowed')
      .withDescription('The token endpoint accepts only POST.')
      .withHeaders({ allow: 'POST' });
  }
  for (const name of SENSITIVE_QUERY) {
    if (req.query.has(name)) {
      throw invalidRequest
        .withReason('request.credentials_in_query')
        .withDescription(`The parameter ${name} was sent in the URL query. Send it in the form-encoded request body.`);
    }
  }
  if (mediaType(req.contentType) !== 'application/x-www-form-urlencoded') {
    throw invalidRequest
      .withReason('request.invalid_content_type')
      .withDescription('The request body must be application/x-www-form-urlencoded (RFC 6749 section 3.2).');
  }
}

function grantFor(grants: TokenEndpointDeps['grants'], params: Record<string, string>): Grant {
  const grantType = params.grant_type;
  if (grantType === undefined) {
    throw invalidRequest.withReason('request.missing_grant_type').withDescription('The grant_type parameter is required.');
  }
  const grant = grants.get(grantType as GrantType);
  if (grant === undefined) {
    const name = /^[\x21-\x7e]{1,64}$/.test(grantType) ? grantType : 'sent';
    throw unsupportedGrantType.withDescription(`The grant type ${name} is not supported. Supported: ${[...grants.keys()].join(', ')}.`);
  }
  return grant;
}

function success(body: object): NeutralResponse {
  return { status: 200, headers: TOKEN_HEADERS, body: JSON.stringify(body) };
}

export function errorResponse(error: OAuthError): NeutralResponse {
  return { status: error.status, headers: { ...TOKEN_HEADERS, ...error.headers }, body: JSON.stringify(error.toBody()) };
}

/**
 * POST /oauth_token.do and /oauth/token.
 * @see RFC 6749 §3.2, §4.3, §4.4, §5, §6
 */
export function createTokenEndpoint(deps: TokenEndpointDeps): TokenEndpoint {
  async function process(req: NeutralRequest, refusal: RefusalContext): Promise<NeutralResponse> {
    checkTransport(req);
    const params = parseForm(req.body);
    const properties = deps.cache.peekProperties() ?? (await deps.cache.properties());
    if (!properties['com.snc.platform.security.oauth.is.active']) {
      throw invalidRequest
        .withReason('instance.oauth_inactive')
        .withDescription('OAuth is disabled on this instance. An administrator must set com.snc.platform.security.oauth.is.active to true.');
    }
    const grant = grantFor(deps.grants, params);
    const context: ClientContext = {};
    try {
      const client = await authenticateClient(deps.cache, presentedClient(deps.clientAuthMethods, req, params), context);
      refusal.applicationName = client.application.name;
      const app = client.application;
      if (app.public && !grant.publicClients) {
        throw unauthorizedClient
          .withReason('grant.client_credentials_public_client')
          .withDescription(`The application ${app.name} is public; the ${grant.grantType} grant needs a confidential client.`);
      }
      if (!app.grantTypes.includes(grant.grantType)) {
        throw unauthorizedClient.withDescription(`The application ${app.name} is not allowed the ${grant.grantType} grant. An administrator must add it to the application's grant types.`);
      }
      const ctx: GrantContext = { req, params, client, properties, refusal };
      const plan = await grant.validate(ctx);
      return success(await grant.issue(plan, ctx));
    } finally {
      if (context.clientId !== undefined) refusal.clientId = context.clientId;
      if (context.applicationName !== undefined) refusal.applicationName = context.applicationName;
    }
  }

  return {
    async handle(req) {
      let refusal: RefusalContext = {};
      try {
        try {
          return await process(req, refusal);
        } catch (error) {
          // Before refusing on cached state, make sure it is current: a setting changed a moment
          // ago (the property an administrator just switched on) must not refuse this request.
          // Successes keep using the cache; only refusals pay the one version check.
          if (!(error instanceof OAuthError) || !CACHE_DERIVED_REASONS.has(error.reason) || !(await deps.cache.check())) throw error;
          refusal = {};
          return await process(req, refusal);
        }
      } catch (error) {
        if (error instanceof OAuthError) {
          await deps.refusals.record({ requestId: req.requestId, endpoint: 'token', remoteAddress: req.remoteAddress, error, ...refusal });
          return errorResponse(error);
        }
        if (error instanceof StorageError && error.code === 'unavailable') {
          deps.logger.error({ requestId: req.requestId, err: error }, 'storage unavailable');
          return { status: 503, headers: { ...TOKEN_HEADERS, 'retry-after': '1' }, body: JSON.stringify({ error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable. Retry shortly.' }) };
        }
        deps.logger.error({ requestId: req.requestId, err: error }, 'token endpoint failed');
        return { status: 500, headers: TOKEN_HEADERS, body: JSON.stringify({ error: 'server_error', error_description: `Internal error. Quote request id ${req.requestId}.` }) };
      }
    },
  };
}
