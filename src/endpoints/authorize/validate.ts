import { invalidRequest, invalidScope, unauthorizedClient } from '../../errors/errors.js';
import { CONSOLE_CLIENT_ID } from '../../registry/bootstrap.js';
import { ADMIN_SCOPE } from '../../registry/scopes.js';
import { OAuthError } from '../../errors/oauth-error.js';
import { parseScopeParam, resolveRequestedScopes, scopesFact } from '../../grants/scope.js';
import { parameterName } from '../../core/form.js';
import type { Application } from '../../domain/model.js';
import { factString } from '../../errors/fact-values.js';
import { properties, type AuthorizeKit, type Ctx } from './context.js';
import type { Pending } from './pending.js';
import { pageError, RedirectError, refusedToClient, type Target } from './refusals.js';
import { checkResources } from '../../grants/resource.js';

/**
 * Validation of an authorization request (RFC 6749 §4.1.1): first the client and its redirect URI,
 * whose failures are pages (never redirects, RFC 6749 §4.1.2.1), then the other parameters, whose
 * failures go to the client. A pending request coming back in a form is checked again.
 */

export const MAX_STATE_LENGTH = 2048;

const S256_CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
/** The response types the endpoint supports: the authorization code flow only (no implicit flow, RFC 9700 §2.1.2). */
export const SUPPORTED_RESPONSE_TYPES: readonly string[] = ['code'];
/** The only PKCE method accepted (RFC 9700 §2.1.1: plain is not). */
export const REQUIRED_CHALLENGE_METHOD = 'S256';
const OAUTH_ACTIVE = 'com.snc.platform.security.oauth.is.active';

/** A known, active client and the redirect URI in effect. */
export interface CheckedClient {
  readonly app: Application;
  readonly target: Target['redirectUri'];
  /** Whether redirect_uri was in the request. */
  readonly sent: boolean;
}

/** The parameters checked after the client: the scopes granted and the S256 challenge, if any. */
export interface CheckedRequest {
  readonly scopes: string[];
  readonly challenge: string | null;
  /** OpenID Connect nonce (Core 1.0 §3.1.2.1), or null. */
  readonly nonce: string | null;
}

/** The longest nonce accepted: far beyond any client's (openid-client sends 43 characters). */
export const MAX_NONCE_LENGTH = 512;
/** Printable ASCII (no control characters): the nonce is echoed in a JSON claim and compared exactly. */
const NONCE = /^[\x20-\x7e]+$/;

/** The nonce (Core 1.0 §3.1.2.1: a string value, echoed unmodified in the ID token): bounded, printable. */
function checkNonce(nonce: string | undefined): string | null {
  if (nonce === undefined) return null;
  if (nonce.length > MAX_NONCE_LENGTH || !NONCE.test(nonce)) {
    throw invalidRequest
      .withReason('authorize.nonce_malformed')
      .withDescription(`The nonce parameter must be 1 to ${MAX_NONCE_LENGTH} printable ASCII characters.`)
      .withFacts({ nonceLength: nonce.length, maxNonceLength: MAX_NONCE_LENGTH, nonceInvalidCharacters: [...nonce].filter((c) => !NONCE.test(c)).length });
  }
  return nonce;
}

/** The query or form parameters; empty values count as omitted (RFC 6749 §3.1); repeated names are noted. */
export function readParams(source: URLSearchParams): { params: Record<string, string>; repeated: Set<string> } {
  const params: Record<string, string> = Object.create(null) as Record<string, string>;
  const seen = new Set<string>();
  const repeated = new Set<string>();
  for (const [name, value] of source) {
    if (seen.has(name)) repeated.add(name);
    seen.add(name);
    if (value !== '' && params[name] === undefined) params[name] = value;
  }
  return { params, repeated };
}

function clip(text: string, max = 100): string {
  return text.length > max ? `${text.slice(0, max)}...` : text;
}

export async function requireOAuthActive(kit: AuthorizeKit): Promise<void> {
  if (!(await properties(kit))[OAUTH_ACTIVE]) {
    throw pageError('instance.oauth_inactive', 'OAuth is disabled on this server. An administrator must set com.snc.platform.security.oauth.is.active to true.').withFacts({ property: OAUTH_ACTIVE });
  }
}

async function application(kit: AuthorizeKit, clientId: string): Promise<Application | undefined> {
  return kit.deps.cache.peekApplicationByClientId(clientId) ?? (await kit.deps.cache.applicationByClientId(clientId));
}

/** The redirect URI in effect: the one sent, compared as an exact string, or the only one registered. */
function redirectTarget(app: Application, redirectUri: string | undefined): CheckedClient {
  if (redirectUri !== undefined) {
    // RFC 9700 §4.1.3: exact string matching, nothing else.
    if (!app.redirectUris.includes(redirectUri)) {
      throw pageError('authorize.redirect_uri_mismatch', `The redirect URI is not registered for the application ${app.name}, so you cannot be sent back to it.`)
        .withHint(`redirect_uri ${clip(redirectUri, 500)} is not one of: ${app.redirectUris.join(' ') || '(none registered)'}`)
        .withFacts({ requestedRedirectUri: factString(redirectUri, 500) });
    }
    return { app, target: redirectUri, sent: true };
  }
  // RFC 6749 §3.1.2.3: it may be omitted only when a single one is registered.
  const only = app.redirectUris.length === 1 ? app.redirectUris[0] : undefined;
  if (only === undefined) {
    throw pageError(
      'authorize.redirect_uri_missing',
      app.redirectUris.length === 0
        ? `The application ${app.name} has no registered redirect URI, so you cannot be sent back to it.`
        : `The request has no redirect_uri and the application ${app.name} has several registered, so you cannot be sent back to it.`,
    ).withFacts({ requestedRedirectUri: null });
  }
  return { app, target: only, sent: false };
}

/**
 * Checks that allow redirecting at all: a known, active application and a redirect URI that is
 * registered for it, compared as exact strings. Failures are pages, never redirects.
 */
export async function checkClient(kit: AuthorizeKit, ctx: Ctx, clientId: string | undefined, redirectUri: string | undefined, repeated: ReadonlySet<string>): Promise<CheckedClient> {
  if (clientId === undefined) {
    throw pageError('authorize.client_id_missing', 'The request has no client_id, so the application that sent you here is not known.').withFacts({ requestedRedirectUri: factString(redirectUri, 500) });
  }
  if (repeated.has('client_id')) throw pageError('request.repeated_parameter', 'The parameter client_id was sent more than once.').withFacts({ repeatedParameter: 'client_id' });
  ctx.refusal.clientId = clientId;
  const app = await application(kit, clientId);
  if (app === undefined) {
    throw pageError('client_auth.unknown_client', `The application that sent you here is not registered with this server (client id ${clip(clientId)}).`);
  }
  ctx.refusal.applicationName = app.name;
  if (!app.active) throw pageError('client_auth.application_inactive', `The application ${app.name} is inactive. An administrator must activate it.`);
  if (repeated.has('redirect_uri')) throw pageError('request.repeated_parameter', 'The parameter redirect_uri was sent more than once.').withFacts({ repeatedParameter: 'redirect_uri' });
  return redirectTarget(app, redirectUri);
}

function requireCodeGrant(app: Application): void {
  if (!app.grantTypes.includes('authorization_code')) {
    throw unauthorizedClient
      .withReason('grant.not_allowed_for_application')
      .withDescription(`The application ${app.name} is not allowed the authorization_code grant. An administrator must add it to the application's grant types.`)
      .withFacts({ requestedGrant: 'authorization_code' });
  }
}

/** The PKCE challenge (RFC 7636 §4.2, §4.3): S256 only, required for public clients. */
function checkChallenge(app: Application, challenge: string | undefined, method: string | undefined): string | null {
  try {
    return checkedChallenge(app, challenge, method);
  } catch (error) {
    // The method and the challenge's length, never the challenge (a hash of the client's secret verifier).
    if (error instanceof OAuthError) throw error.withFacts({ challengeMethod: factString(method, 50), challengeLength: challenge?.length ?? null, requiredChallengeMethod: REQUIRED_CHALLENGE_METHOD });
    throw error;
  }
}

function checkedChallenge(app: Application, challenge: string | undefined, method: string | undefined): string | null {
  if (challenge === undefined) {
    if (method !== undefined) throw invalidRequest.withReason('pkce.challenge_missing').withDescription('code_challenge_method was sent without code_challenge.');
    if (app.public) {
      throw invalidRequest
        .withReason('pkce.challenge_missing')
        .withDescription('PKCE is required for public clients: send code_challenge and code_challenge_method=S256.');
    }
    return null;
  }
  // RFC 7636 §4.3: an omitted method means plain, which we do not support (RFC 9700 §2.1.1).
  if (method !== 'S256') {
    throw invalidRequest
      .withReason('pkce.method_unsupported')
      .withDescription(method === undefined ? 'code_challenge_method is required and must be S256 (plain is not supported).' : 'Only code_challenge_method=S256 is supported.');
  }
  if (!S256_CHALLENGE.test(challenge)) {
    throw invalidRequest.withReason('pkce.challenge_malformed').withDescription('code_challenge must be 43 base64url characters (an S256 challenge).');
  }
  return challenge;
}

/**
 * The scopes a consent page may grant: those resolved for the application, never the admin API
 * scope except to the built-in console (a person clicking Allow must not hand an application the
 * administration of the instance). Requested: refused; by default: left out.
 */
export function consentScopes(app: Application, requested: readonly string[] | undefined): string[] {
  const scopes = resolveRequestedScopes(app, requested);
  if (app.clientId === CONSOLE_CLIENT_ID || !scopes.includes(ADMIN_SCOPE)) return scopes;
  if (requested !== undefined) {
    throw invalidScope
      .withReason('scope.admin_not_grantable')
      .withDescription(`The scope ${ADMIN_SCOPE} is never granted on a consent page; request it with the client credentials or password grant of an application allowed the admin API.`)
      .withFacts({ requestedScopes: scopesFact(requested) });
  }
  return scopes.filter((s) => s !== ADMIN_SCOPE);
}

/** The checks on a validated client that are answered by redirecting (RFC 6749 §4.1.2.1). */
export function checkRequest(app: Application, params: Record<string, string>, repeated: ReadonlySet<string>): CheckedRequest {
  requireCodeGrant(app);
  const again = [...repeated][0];
  if (again !== undefined) {
    // Only a name that is safe to echo goes into the description.
    const name = /^[A-Za-z0-9_.-]{1,64}$/.test(again) ? again : 'a parameter';
    throw invalidRequest.withReason('request.repeated_parameter').withDescription(`The parameter ${name} was sent more than once.`).withFacts({ repeatedParameter: parameterName(again) });
  }
  if (params.state !== undefined && params.state.length > MAX_STATE_LENGTH) {
    throw invalidRequest
      .withReason('authorize.state_too_long')
      .withDescription(`The state parameter may have at most ${MAX_STATE_LENGTH} characters.`)
      .withFacts({ stateLength: params.state.length, maxStateLength: MAX_STATE_LENGTH });
  }
  const responseType = params.response_type;
  const asked = { requestedResponseType: factString(responseType, 100), supportedResponseTypes: [...SUPPORTED_RESPONSE_TYPES] };
  if (responseType === undefined) throw invalidRequest.withReason('authorize.response_type_missing').withDescription('The response_type parameter is required; send response_type=code.').withFacts(asked);
  if (responseType !== 'code') {
    throw new OAuthError({ error: 'unsupported_response_type', status: 400, reason: 'authorize.unsupported_response_type', description: 'Only response_type=code is supported.', facts: asked });
  }
  const scopes = consentScopes(app, parseScopeParam(params.scope));
  return { scopes, challenge: checkChallenge(app, params.code_challenge, params.code_challenge_method), nonce: checkNonce(params.nonce) };
}

/** Re-checks a pending request's client when a form comes back: the registry may have changed. */
export async function recheck(kit: AuthorizeKit, ctx: Ctx, pending: Pending): Promise<{ app: Application; target: Target }> {
  await requireOAuthActive(kit);
  const client = await checkClient(kit, ctx, pending.c, pending.rs ? pending.r : undefined, new Set());
  if (client.target !== pending.r) {
    throw pageError('authorize.redirect_uri_mismatch', `The redirect URI is no longer registered for the application ${client.app.name}.`).withFacts({ requestedRedirectUri: factString(pending.r, 500) });
  }
  const target: Target = { redirectUri: pending.r, state: pending.st, ...(pending.rm === undefined ? {} : { mode: pending.rm }) };
  refusedToClient(target, () => {
    requireCodeGrant(client.app);
    consentScopes(client.app, pending.s);
  });
  // RFC 8707: the resources again (a registered resource removed, the application limited since).
  if (pending.rsc !== undefined && pending.rsc.length > 0) {
    try {
      await checkResources(kit.deps.resources, client.app, pending.rsc);
    } catch (error) {
      if (error instanceof OAuthError) throw new RedirectError(error, target);
      throw error;
    }
  }
  return { app: client.app, target };
}
