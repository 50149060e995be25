import { hashSecret } from '../../core/crypto.js';
import type { NeutralRequest } from '../../core/request.js';
import { factString, factTime } from '../../errors/fact-values.js';
import type { OAuthError } from '../../errors/oauth-error.js';
import type { ConsumePushedResult } from '../../storage/types.js';
import type { AuthorizeKit, Ctx } from './context.js';
import { pageError } from './refusals.js';

/**
 * Pushed authorization requests (RFC 9126) at the authorization endpoint: a request_uri of ours
 * (urn:ietf:params:oauth:request_uri:…) with the client_id of the application that pushed it
 * stands for the parameters pushed to /oauth/par. It is used once (consumed atomically, on any
 * instance), within latchkey.par.lifetime; the query's other parameters are ignored (§4). Every
 * refusal here is a page: the redirect URI is only known once the pushed parameters are.
 */

/** RFC 9126 §2.2: the request_uri of a pushed request is this URN and a random part. */
export const PAR_URN_PREFIX = 'urn:ietf:params:oauth:request_uri:';
export const PAR_REQUIRED_PROPERTY = 'latchkey.par.required';
export const PAR_LIFETIME_PROPERTY = 'latchkey.par.lifetime';

/** The storage key of a request_uri: its SHA-256 (the request_uri is a bearer reference, never stored). */
export function pushedRequestKey(requestUri: string): string {
  return hashSecret(requestUri);
}

/**
 * What consuming a request_uri gave, per HTTP request: a refusal decided on stale cache is decided
 * again (endpoint.ts), and must see the same pushed request rather than find it used by itself.
 */
const consumedBy = new WeakMap<NeutralRequest, Promise<ConsumePushedResult>>();

function consumeOnce(kit: AuthorizeKit, req: NeutralRequest, key: string, now: number): Promise<ConsumePushedResult> {
  let result = consumedBy.get(req);
  if (result === undefined) {
    result = kit.deps.storage.pushedRequests.consume(key, now);
    consumedBy.set(req, result);
  }
  return result;
}

const invalidRequestUri = (reason: OAuthError['reason'], description: string): OAuthError => pageError(reason, description, 400, 'invalid_request_uri');

async function clientIdOf(kit: AuthorizeKit, applicationId: string): Promise<string | null> {
  return (await kit.deps.storage.applications.byId(applicationId))?.clientId ?? null;
}

/**
 * The pushed parameters a request_uri stands for, or undefined when the request has no request_uri
 * of ours (a front-channel request; another request_uri is refused later as request_uri_unsupported).
 */
export async function pushedParameters(kit: AuthorizeKit, ctx: Ctx, front: URLSearchParams): Promise<URLSearchParams | undefined> {
  const requestUri = front.get('request_uri');
  if (requestUri === null || !requestUri.startsWith(PAR_URN_PREFIX)) return undefined;
  const clientId = front.get('client_id') ?? '';
  const sent = { requestUriLength: requestUri.length, sentClientId: factString(clientId === '' ? null : clientId, 200) };
  if (clientId === '') {
    throw pageError('authorize.client_id_missing', 'The request has a request_uri but no client_id: RFC 9126 section 4 needs both, so the application that sent you here is not known.').withFacts({ requestedRedirectUri: null });
  }
  ctx.refusal.clientId = clientId;
  const app = kit.deps.cache.peekApplicationByClientId(clientId) ?? (await kit.deps.cache.applicationByClientId(clientId));
  if (app !== undefined) ctx.refusal.applicationName = app.name;
  const now = kit.deps.clock.now();
  const result = await consumeOnce(kit, ctx.req, pushedRequestKey(requestUri), now);
  if (result.outcome === 'not_found') {
    throw invalidRequestUri('par.request_uri_unknown', 'The request_uri is not one this server issued (or it was removed long ago). Go back to the application and start again.').withFacts(sent);
  }
  const { request } = result;
  const times = { pushedAt: factTime(request.createdAt), pushedClientId: await clientIdOf(kit, request.applicationId) };
  if (result.outcome === 'used') {
    throw invalidRequestUri('par.request_uri_used', 'This sign-in link was already used: a request_uri works once. Go back to the application and start again.').withFacts({ ...times, pushedUsedAt: factTime(request.usedAt) });
  }
  if (request.expiresAt <= now) {
    throw invalidRequestUri('par.request_uri_expired', 'This sign-in link has expired. Go back to the application and start again.').withFacts({ ...times, pushedExpiredAt: factTime(request.expiresAt) });
  }
  if (app === undefined || app.id !== request.applicationId) {
    throw invalidRequestUri('par.request_uri_wrong_client', 'The request_uri was pushed by another application than the client_id sent with it. Go back to the application and start again.').withFacts({ sentClientId: sent.sentClientId, pushedClientId: times.pushedClientId });
  }
  return new URLSearchParams(request.parameters);
}
