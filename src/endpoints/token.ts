import type { ActivityCounter } from '../audit/activity.js';
import type { UsageCounter } from '../audit/usage.js';
import type { RefusalRecorder } from '../audit/refusals.js';
import { authenticateClient, presentedClient, presentsCredentials, secretPostRefusal, SECRET_POST_PROPERTY, type ClientContext } from '../client-auth/authenticate.js';
import type { WouldRefuseReporter } from '../audit/would-refuse.js';
import type { RuleBook } from '../registry/rule-book.js';
import { reportTokenRules } from './rules.js';
import { checkResources, type ResourceLookup } from '../grants/resource.js';
import type { ClientAuthMethod, ClientAuthMethodName } from '../client-auth/types.js';
import { parseForm } from '../core/form.js';
import type { Logger } from '../core/logger.js';
import type { NeutralRequest, NeutralResponse } from '../core/request.js';
import { invalidRequest, unauthorizedClient, unsupportedGrantType } from '../errors/errors.js';
import type { Grant, GrantContext, GrantParameter, RefusalContext } from '../grants/types.js';
import type { RegistryCache } from '../registry/cache.js';
import type { GrantType } from '../grants/grant-type.js';
import { answer, checkTransport, JSON_NO_STORE, type TransportRules } from './shared.js';
import { countAddress, countClient, withRateHeaders, type RateState } from './rate-limit.js';
import type { RateLimits } from '../registry/rate-limits.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { PropertyValues } from '../registry/properties.js';
import { DpopRejected, dpopHeader, dpopSettings, verifyDpopProof, type DpopNonces, type DpopVerifierDeps } from '../tokens/dpop.js';

export { errorResponse } from './shared.js';

const TRANSPORT: TransportRules = {
  name: 'token endpoint',
  section: 'RFC 6749 section 3.2',
  // Parameters that must never travel in a URL, where proxies and logs keep them.
  sensitiveQuery: ['client_secret', 'client_id', 'password', 'username', 'refresh_token', 'grant_type', 'code', 'code_verifier', 'client_assertion', 'scope', 'device_code'],
};

export interface TokenEndpointDeps {
  readonly cache: Pick<RegistryCache, 'applicationByClientId' | 'peekApplicationByClientId' | 'properties' | 'peekProperties' | 'check' | 'rememberVerifiedSecret' | 'verifiedSecret'>;
  readonly grants: ReadonlyMap<GrantType, Grant>;
  readonly clientAuthMethods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
  /** Counts token.issued / token.refused (audit/activity.ts): a synchronous add, nothing awaited. */
  readonly activity?: Pick<ActivityCounter, 'count'>;
  /** Rate limits per source address and per application (registry/rate-limits.ts); none when omitted. */
  readonly rateLimits?: RateLimits;
  /** Told of each token response issued, by grant and token format (the metrics). Synchronous. */
  readonly issued?: (grantType: GrantType, format: string) => void;
  /** The rules in force (registry/rule-book.ts): reporting ones leave "would refuse" records through wouldRefuse. */
  readonly rules?: RuleBook;
  readonly wouldRefuse?: Pick<WouldRefuseReporter, 'report'>;
  /** Counts each token issued per application and scope (audit/usage.ts): a synchronous add, nothing awaited. */
  readonly usage?: Pick<UsageCounter, 'tokenIssued'>;
  /** The known resources (RFC 8707 resource indicators); absent: every `resource` parameter is unknown. */
  readonly resources?: ResourceLookup;
  /** RFC 9449: verifies DPoP proofs (replay store, clock, nonces, issuer); absent: a DPoP header is refused as unsupported. */
  readonly dpop?: DpopVerifierDeps;
}

export interface TokenEndpoint {
  handle(req: NeutralRequest): Promise<NeutralResponse>;
}

function grantFor(grants: TokenEndpointDeps['grants'], params: Record<string, string>): Grant {
  const grantType = params.grant_type;
  if (grantType === undefined) {
    throw invalidRequest.withReason('request.missing_grant_type').withDescription('The grant_type parameter is required.');
  }
  const grant = grants.get(grantType as GrantType);
  if (grant === undefined) {
    const shaped = /^[\x21-\x7e]{1,64}$/.test(grantType);
    const name = shaped ? grantType : 'sent';
    throw unsupportedGrantType
      .withReason('grant.unsupported')
      .withDescription(`The grant type ${name} is not supported. Supported: ${[...grants.keys()].join(', ')}.`)
      .withFacts({ requestedGrant: shaped && !grantType.startsWith('lk_') ? grantType : '(not shown: not printable, longer than 64 characters or shaped like a token)' });
  }
  return grant;
}

/**
 * Parameters every grant's handler sees: the grant type, the scope and the client authentication
 * parameters (client-auth/); the token endpoint reads these itself.
 */
export const COMMON_PARAMETERS: readonly string[] = ['grant_type', 'scope', 'client_id', 'client_secret', 'client_assertion', 'client_assertion_type'];

/**
 * The parameters the grant's handler sees: its declared ones and the common ones. Others are
 * dropped, not refused (RFC 6749 §3.2: "unrecognized request parameters" are ignored).
 */
function grantParams(names: readonly string[], params: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of names) {
    const value = params[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/** Refuses a request missing a parameter the grant declares required, with the grant's description. */
function checkRequired(grant: Grant, required: readonly GrantParameter[], params: Readonly<Record<string, string>>): void {
  for (let i = 0; i < required.length; i++) {
    const p = required[i] as GrantParameter;
    if (params[p.name] === undefined) {
      throw invalidRequest
        .withReason('request.missing_parameter')
        .withDescription(p.missing ?? `The ${p.name} parameter is required.`)
        .withFacts({ missingParameter: p.name, requestedGrant: grant.grantType });
    }
  }
}

function success(body: object, rate: RateState, nonce?: string): NeutralResponse {
  const headers = withRateHeaders(JSON_NO_STORE, rate);
  return { status: 200, headers: nonce === undefined ? headers : { ...headers, 'dpop-nonce': nonce }, body: JSON.stringify(body) };
}

/** A DPoP proof refused at the token endpoint: 400 invalid_dpop_proof, or use_dpop_nonce with a fresh DPoP-Nonce (RFC 9449 §5, §8). */
export async function dpopTokenRefusal(error: DpopRejected, nonces: DpopNonces | undefined): Promise<OAuthError> {
  const refused = new OAuthError({ error: error.nonceProblem ? 'use_dpop_nonce' : 'invalid_dpop_proof', status: 400, reason: error.reason, description: error.message, facts: error.facts });
  return error.nonceProblem && nonces !== undefined ? refused.withHeaders({ 'dpop-nonce': await nonces.current() }) : refused;
}

/** Proofs verified per request: a decision taken again with a fresh cache (shared.ts answer) must not see its own proof as a replay. */
const verifiedProofs = new WeakMap<NeutralRequest, string>();

/**
 * RFC 9449 §5 (and §10.1 at the pushed authorization request endpoint): the request's DPoP proof
 * (htm POST, htu the endpoint's URL on the issuer), its key's thumbprint; undefined without a
 * DPoP header. Throws the refusal (invalid_dpop_proof, or use_dpop_nonce with a fresh nonce).
 */
export async function tokenRequestProof(deps: { readonly dpop?: DpopVerifierDeps }, req: NeutralRequest, properties: PropertyValues): Promise<string | undefined> {
  const seen = verifiedProofs.get(req);
  if (seen !== undefined) return seen;
  const dpop = deps.dpop;
  let proof: string | undefined;
  try {
    proof = dpopHeader(req.headers.dpop);
    if (proof === undefined) return undefined;
    if (dpop === undefined) throw invalidRequest.withReason('dpop.proof_malformed').withDescription('DPoP is not supported here.').withFacts({ dpopProblem: 'DPoP not configured' });
    const settings = dpopSettings(properties);
    const verified = await verifyDpopProof(dpop, proof, { method: 'POST', url: `${dpop.issuer()}${req.path}`, maxAgeSeconds: settings.maxAgeSeconds, nonceRequired: settings.nonceRequired });
    verifiedProofs.set(req, verified.jkt);
    return verified.jkt;
  } catch (error) {
    if (error instanceof DpopRejected) throw await dpopTokenRefusal(error, dpop?.nonces);
    throw error;
  }
}

/**
 * POST /oauth_token.do and /oauth/token.
 * @see RFC 6749 §3.2, §4.3, §4.4, §5, §6
 */
export function createTokenEndpoint(deps: TokenEndpointDeps): TokenEndpoint {
  // Per grant, once: the parameter names its handler may see, and the ones it requires.
  const declared = new Map(
    [...deps.grants.values()].map((g) => [g, { names: [...COMMON_PARAMETERS, ...g.descriptor.parameters.map((p) => p.name)], required: g.descriptor.parameters.filter((p) => p.required) }]),
  );
  async function process(req: NeutralRequest, refusal: RefusalContext, rate: RateState): Promise<NeutralResponse> {
    const byAddress = countAddress(deps.rateLimits, rate, 'token', req);
    if (byAddress !== undefined) await byAddress;
    // RFC 6749 §3.2: "The client MUST use the HTTP POST method when making access token requests."
    checkTransport(req, TRANSPORT);
    // RFC 8707 §2: resource may be sent more than once (one per resource); every other parameter once.
    const resourceParams: string[] = [];
    const params = parseForm(req.body, { name: 'resource', values: resourceParams });
    const properties = deps.cache.peekProperties() ?? (await deps.cache.properties());
    if (!properties['com.snc.platform.security.oauth.is.active']) {
      throw invalidRequest
        .withReason('instance.oauth_inactive')
        .withDescription('OAuth is disabled on this instance. An administrator must set com.snc.platform.security.oauth.is.active to true.')
        .withFacts({ property: 'com.snc.platform.security.oauth.is.active' });
    }
    const grant = grantFor(deps.grants, params);
    const shape = declared.get(grant);
    const own = grantParams(shape?.names ?? COMMON_PARAMETERS, params);
    const required = shape?.required ?? [];
    const context: ClientContext = {};
    try {
      // RFC 7523 §3.1: a grant that proves the client itself (JWT bearer) needs no separate client authentication.
      const identifies = grant.identifyClient !== undefined && !presentsCredentials(deps.clientAuthMethods, req, params);
      if (identifies) checkRequired(grant, required, own);
      let authMethod = 'none';
      let client;
      if (identifies && grant.identifyClient !== undefined) {
        client = await grant.identifyClient(req, own, context);
        authMethod = client.method;
      } else {
        const presented = presentedClient(deps.clientAuthMethods, req, params);
        const off = secretPostRefusal(deps.clientAuthMethods, presented, properties[SECRET_POST_PROPERTY]);
        if (off !== undefined) throw off;
        authMethod = presented.method;
        client = await authenticateClient(deps.cache, presented, context);
      }
      refusal.applicationName = client.application.name;
      refusal.authenticated = true;
      const app = client.application;
      const byClient = countClient(deps.rateLimits, rate, app);
      if (byClient !== undefined) await byClient;
      if (app.public && grant.descriptor.clientAuth === 'confidential') {
        throw unauthorizedClient
          .withReason(grant.descriptor.publicClientReason ?? 'grant.client_credentials_public_client')
          .withDescription(`The application ${app.name} is public; the ${grant.grantType} grant needs a confidential client.`)
          .withFacts({ requestedGrant: grant.grantType });
      }
      if (!app.grantTypes.includes(grant.grantType)) {
        throw unauthorizedClient
          .withReason('grant.not_allowed_for_application')
          .withDescription(`The application ${app.name} is not allowed the ${grant.grantType} grant. An administrator must add it to the application's grant types.`)
          .withFacts({ requestedGrant: grant.grantType });
      }
      const off = grant.descriptor.switchedOff?.(properties);
      if (off !== undefined) throw off;
      checkRequired(grant, required, own);
      // RFC 8707: each resource canonical, known and allowed for the application (invalid_target otherwise).
      const resources = await checkResources(deps.resources, app, resourceParams);
      // RFC 9449 §5: a DPoP header makes the request DPoP (its tokens bound to the proof key); no header costs nothing.
      const dpopJkt = req.headers.dpop === undefined ? undefined : await tokenRequestProof(deps, req, properties);
      if (dpopJkt === undefined && app.dpopRequired === true) {
        throw new OAuthError({
          error: 'invalid_dpop_proof',
          status: 400,
          reason: 'dpop.required',
          description: `The application ${app.name} requires DPoP: send a DPoP proof with the token request.`,
          facts: { requestedGrant: grant.grantType },
        });
      }
      const ctx: GrantContext =
        dpopJkt === undefined
          ? { req, params: own, client, properties, refusal, ...(resources.length === 0 ? {} : { resources }) }
          : { req, params: own, client, properties, refusal, ...(resources.length === 0 ? {} : { resources }), dpopJkt };
      const plan = await grant.validate(ctx);
      const body = await grant.issue(plan, ctx);
      const rules = deps.rules;
      if (rules !== undefined && deps.wouldRefuse !== undefined) {
        const book = rules.peek() ?? (await rules.load());
        if (book.token) {
          reportTokenRules(
            { book, reporter: deps.wouldRefuse, clientAuthMethods: deps.clientAuthMethods, rateLimits: deps.rateLimits },
            { req, endpoint: 'token', grant, app, authMethod, properties, scope: params.scope, userName: refusal.userName },
          );
        }
      }
      const answered = dpopJkt !== undefined && deps.dpop?.nonces !== undefined && properties['latchkey.dpop.nonce_required'] ? success(body, rate, await deps.dpop.nonces.current()) : success(body, rate);
      deps.issued?.(grant.grantType, app.tokenFormat);
      deps.usage?.tokenIssued(app.clientId, body.scope);
      return answered;
    } finally {
      if (context.clientId !== undefined) refusal.clientId = context.clientId;
      if (context.applicationName !== undefined) refusal.applicationName = context.applicationName;
    }
  }

  return {
    handle: (req) => {
      const activity = deps.activity;
      // Per request: what was counted against the rate limits, so a decision taken again with a
      // fresh cache (shared.ts answer) does not count the request twice.
      const rate: RateState = { counted: 0, verdict: undefined };
      const response = answer(deps, 'token', req, (r, refusal) => process(r, refusal, rate));
      if (activity === undefined) return response;
      return response.then((r) => {
        if (r.status === 200) activity.count('token.issued');
        else if (r.status >= 400 && r.status < 500) activity.count('token.refused');
        return r;
      });
    },
  };
}
