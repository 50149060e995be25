import type { RefusalRecorder } from '../audit/refusals.js';
import type { ClientAuthMethod, ClientAuthMethodName } from '../client-auth/types.js';
import type { Clock } from '../core/clock.js';
import { randomToken } from '../core/crypto.js';
import { parseForm } from '../core/form.js';
import type { Logger } from '../core/logger.js';
import type { NeutralRequest, NeutralResponse } from '../core/request.js';
import { callerValue } from '../errors/caller-value.js';
import { invalidRequest } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { RefusalContext } from '../grants/types.js';
import type { RegistryCache } from '../registry/cache.js';
import type { RateLimits } from '../registry/rate-limits.js';
import type { Storage } from '../storage/types.js';
import type { AuthorizeEndpoint } from './authorize/context.js';
import { PAR_LIFETIME_PROPERTY, PAR_URN_PREFIX, pushedRequestKey } from './authorize/pushed.js';
import { countAddress, countClient, withRateHeaders, type RateState } from './rate-limit.js';
import { tokenRequestProof } from './token.js';
import type { DpopVerifierDeps } from '../tokens/dpop.js';
import { answer, authenticateCaller, checkTransport, JSON_NO_STORE, type TransportRules } from './shared.js';

/**
 * POST /oauth/par: the pushed authorization request endpoint (RFC 9126). A client sends the
 * parameters of an authorization request straight to the server, authenticated as at the token
 * endpoint (a public client names itself with client_id, §2); they are checked exactly as the
 * authorization endpoint checks them (authorize/request.ts checkAuthorization), every refusal
 * answered here as JSON 400/401 (§2.3) and never redirected. What passes is kept (the request_uri
 * hashed, the parameters without the client's credentials) for latchkey.par.lifetime seconds and
 * answered 201 with a request_uri the browser then carries to the authorization endpoint, used
 * once (authorize/pushed.ts).
 * @see RFC 9126 §2
 */

const TRANSPORT: TransportRules = {
  name: 'pushed authorization request endpoint',
  section: 'RFC 9126 section 2.1',
  // Client credentials never in a URL; the authorization parameters are read from the body only.
  sensitiveQuery: ['client_secret', 'client_assertion', 'client_assertion_type'],
};

/** The client authentication parameters (RFC 6749 §2.3, RFC 7523 §2.2): checked here, never stored with the request. */
const CLIENT_AUTH_PARAMETERS: ReadonlySet<string> = new Set(['client_secret', 'client_assertion', 'client_assertion_type']);

export interface ParEndpointDeps {
  readonly cache: Pick<RegistryCache, 'applicationByClientId' | 'peekApplicationByClientId' | 'properties' | 'peekProperties' | 'check' | 'rememberVerifiedSecret' | 'verifiedSecret'>;
  readonly storage: Pick<Storage, 'pushedRequests'>;
  readonly clientAuthMethods: ReadonlyMap<ClientAuthMethodName, ClientAuthMethod>;
  /** The authorization endpoint, whose checks the pushed parameters pass. */
  readonly authorize: Pick<AuthorizeEndpoint, 'checkPushed'>;
  readonly clock: Clock;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
  /** Rate limits per source address and per application, as at the token endpoint; none when omitted. */
  readonly rateLimits?: RateLimits;
  /** RFC 9449 §10.1: a DPoP proof sent with the pushed request binds the code to its key (as dpop_jkt); absent: DPoP headers are refused. */
  readonly dpop?: DpopVerifierDeps;
}

export interface ParEndpoint {
  handle(req: NeutralRequest): Promise<NeutralResponse>;
}

export function createParEndpoint(deps: ParEndpointDeps): ParEndpoint {
  async function process(req: NeutralRequest, refusal: RefusalContext, rate: RateState): Promise<NeutralResponse> {
    const byAddress = countAddress(deps.rateLimits, rate, 'par', req);
    if (byAddress !== undefined) await byAddress;
    // RFC 9126 §2.3: "405: If the request did not use the POST method".
    if (req.method !== 'POST') {
      throw new OAuthError({ error: 'invalid_request', status: 405, reason: 'request.method_not_allowed', description: 'The pushed authorization request endpoint accepts only POST (RFC 9126 section 2).', headers: { allow: 'POST' }, facts: { method: callerValue(req.method, 20) } });
    }
    checkTransport(req, TRANSPORT);
    // RFC 8707 §2: resource may repeat; any other parameter sent twice is refused (request.repeated_parameter).
    const resources: string[] = [];
    const params = parseForm(req.body, { name: 'resource', values: resources });
    const client = await authenticateCaller(deps, req, params, refusal);
    const app = client.application;
    refusal.applicationName = app.name;
    const byClient = countClient(deps.rateLimits, rate, app);
    if (byClient !== undefined) await byClient;
    // RFC 9126 §2.1: "The request_uri authorization request parameter is one exception, and it MUST NOT be provided."
    if (params.request_uri !== undefined) {
      throw invalidRequest
        .withReason('par.request_uri_in_request')
        .withDescription('A pushed authorization request must not carry request_uri (RFC 9126 section 2.1): send the authorization parameters themselves.')
        .withFacts({ requestUriLength: params.request_uri.length });
    }
    const properties = deps.cache.peekProperties() ?? (await deps.cache.properties());
    // RFC 9449 §10.1: a DPoP proof here stands for dpop_jkt; when both are sent they must name one key.
    const proofJkt = req.headers.dpop === undefined ? undefined : await tokenRequestProof(deps, req, properties);
    if (proofJkt !== undefined && params.dpop_jkt !== undefined && params.dpop_jkt !== proofJkt) {
      throw new OAuthError({
        error: 'invalid_dpop_proof',
        status: 400,
        reason: 'dpop.par_jkt_mismatch',
        description: 'The pushed request carries both a DPoP proof and a dpop_jkt naming another key (RFC 9449 section 10.1): send one of them, or both for the same key.',
        facts: { dpopJkt: params.dpop_jkt.slice(0, 64), boundJkt: proofJkt },
      });
    }
    // A client_id in the body that is not the authenticated client's was refused by client authentication (client_auth.multiple_methods).
    const pushed = new URLSearchParams();
    for (const name in params) if (!CLIENT_AUTH_PARAMETERS.has(name)) pushed.append(name, params[name] as string);
    if (proofJkt !== undefined) pushed.set('dpop_jkt', proofJkt);
    for (const r of resources) pushed.append('resource', r);
    if (params.client_id === undefined) pushed.set('client_id', app.clientId);
    // Exactly the authorization endpoint's checks; what it would show as a page or redirect is answered as JSON.
    await deps.authorize.checkPushed(req, pushed, refusal);
    const lifetime = properties[PAR_LIFETIME_PROPERTY];
    const now = deps.clock.now();
    // 256 random bits: the request_uri is a bearer reference to the pushed request (§7.1); only its hash is kept.
    const requestUri = PAR_URN_PREFIX + randomToken('');
    await deps.storage.pushedRequests.insert({ hash: pushedRequestKey(requestUri), applicationId: app.id, parameters: pushed.toString(), createdAt: now, expiresAt: now + lifetime * 1000, usedAt: null });
    // RFC 9126 §2.2: 201 Created, request_uri and expires_in.
    return { status: 201, headers: withRateHeaders(JSON_NO_STORE, rate), body: JSON.stringify({ request_uri: requestUri, expires_in: lifetime }) };
  }

  return {
    handle: (req) => {
      // Per request, as at the token endpoint: a decision taken again with a fresh cache does not count twice.
      const rate: RateState = { counted: 0, verdict: undefined };
      return answer(deps, 'par', req, (r, refusal) => process(r, refusal, rate));
    },
  };
}
