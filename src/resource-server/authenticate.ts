import { header, type NeutralRequest } from '../core/request.js';
import type { Facts } from '../domain/model.js';
import { OAuthError } from '../errors/oauth-error.js';
import { passwordRefusal } from '../errors/password-refusal.js';
import type { ReasonCode } from '../errors/reasons.js';
import type { RegistryCache } from '../registry/cache.js';
import type { PasswordGuard } from '../registry/lockout.js';
import { BearerValidator, REALM } from './bearer.js';
import type { EffectiveSecurity } from './compile.js';
import type { AuthMethod, Caller } from './define.js';
import { tokenHandle, tokenHint } from '../core/crypto.js';
import type { PropertyValues } from '../registry/properties.js';
import { DPOP_ALGS, DpopRejected, dpopHeader, dpopSettings, verifyDpopProof, type DpopVerifierDeps } from '../tokens/dpop.js';

const SCHEME_NAMES: Record<AuthMethod, string> = { bearer: 'Bearer', basic: 'Basic' };

function challenge(methods: readonly AuthMethod[]): string {
  return methods.map((m) => `${SCHEME_NAMES[m]} realm="${REALM}"`).join(', ');
}

/**
 * A 401 or 400 refusal on an API, with the challenge for the methods the API accepts; `facts` (what
 * was sent where) and the accepted methods are for the administrator's explanation only.
 */
function refuse(status: 400 | 401, reason: ReasonCode, description: string, methods: readonly AuthMethod[], facts: Facts = {}): OAuthError {
  const www: Record<string, string> = status === 401 ? { 'www-authenticate': challenge(methods) } : {};
  return new OAuthError({ error: 'invalid_request', status, description, reason, headers: www, facts: { acceptedAuthMethods: [...methods], ...facts } });
}

/**
 * The facts of a refused Authorization header (called only when refusing: presented() runs on every
 * API call): where it was, and its scheme as lowercase letters, digits and '-', at most 20 (it
 * comes from the caller).
 */
function headerFacts(scheme: string): Facts {
  return { credentialLocations: ['header'], authMethod: scheme.replace(/[^a-z0-9-]/g, '?').slice(0, 20) };
}

export interface ApiAuthDeps {
  readonly bearer: BearerValidator;
  readonly cache: Pick<RegistryCache, 'properties'>;
  readonly passwords: Pick<PasswordGuard, 'check'>;
  /** RFC 9449: verifies DPoP proofs sent with `Authorization: DPoP <token>`; absent: the DPoP scheme is not supported. */
  readonly dpop?: DpopVerifierDeps;
}

/** RFC 6750 §2.1 b64token (RFC 9449 §7.1 token68 for DPoP): 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=". */
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

/** What the caller presented, found in exactly one place; `dpop`: sent with the DPoP scheme (RFC 9449 §7.1). */
type Presented = { method: 'bearer'; token: string; dpop?: true } | { method: 'basic'; userName: string; password: string } | { method: 'none' };
const NOTHING_PRESENTED: Presented = Object.freeze({ method: 'none' });

/**
 * Finds the caller's credential. RFC 6750 §2: a token in the query or body is refused here (it
 * leaks into logs and caches), and so is more than one credential.
 */
export function presented(req: NeutralRequest, body: unknown, methods: readonly AuthMethod[]): Presented {
  const authorization = header(req, 'authorization');
  const inQuery = req.query.size > 0 && req.query.has('access_token');
  const inBody = typeof body === 'object' && body !== null && !Array.isArray(body) && 'access_token' in body && req.contentType?.startsWith('application/x-www-form-urlencoded') === true;
  if (inQuery || inBody) {
    const credentialLocations = [...(authorization === undefined ? [] : ['header']), ...(inQuery ? ['query'] : []), ...(inBody ? ['body'] : [])];
    if (authorization !== undefined || (inQuery && inBody)) {
      throw refuse(400, 'api.multiple_credentials', 'Send the access token in one place only: the Authorization header.', methods, { credentialLocations });
    }
    throw refuse(400, 'api.malformed_authorization', 'Send the access token in the Authorization header, not in the URL or the body.', methods, { credentialLocations, authMethod: 'bearer' });
  }
  if (authorization === undefined) return NOTHING_PRESENTED;
  // The common case first, without lower-casing or trimming copies: "Bearer <token>". Anything
  // else (another spelling of the scheme, extra spaces, a malformed token) takes the general path.
  if (authorization.startsWith('Bearer ')) {
    const token = authorization.slice(7);
    if (TOKEN68.test(token)) return { method: 'bearer', token };
  }
  const space = authorization.indexOf(' ');
  const scheme = (space === -1 ? authorization : authorization.slice(0, space)).toLowerCase();
  const credential = space === -1 ? '' : authorization.slice(space + 1).trim();
  if (scheme === 'bearer') {
    // RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
    if (!TOKEN68.test(credential)) {
      throw refuse(400, 'api.malformed_authorization', 'The Authorization header must be Bearer followed by one token.', methods, headerFacts(scheme));
    }
    return { method: 'bearer', token: credential };
  }
  if (scheme === 'dpop') {
    // RFC 9449 §7.1: token68, as for Bearer.
    if (!TOKEN68.test(credential)) {
      throw refuse(400, 'api.malformed_authorization', 'The Authorization header must be DPoP followed by one token.', methods, headerFacts(scheme));
    }
    return { method: 'bearer', token: credential, dpop: true };
  }
  if (scheme === 'basic') {
    const decoded = /^[A-Za-z0-9+/]+=*$/.test(credential) ? Buffer.from(credential, 'base64').toString('utf8') : '';
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw refuse(400, 'api.malformed_authorization', 'The Basic credentials must be user:password, base64-encoded.', methods, headerFacts(scheme));
    return { method: 'basic', userName: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  throw refuse(401, 'api.malformed_authorization', 'The Authorization scheme is not supported here.', methods, headerFacts(scheme));
}

type RefusalContext = { userName?: string; clientId?: string; applicationName?: string; authenticated?: boolean };

function noteBearer(caller: Caller, context: RefusalContext): Caller {
  context.authenticated = true;
  if (caller.user !== null) context.userName = caller.user.name;
  if (caller.application !== null) {
    context.clientId = caller.application.clientId;
    context.applicationName = caller.application.name;
  }
  return caller;
}

/**
 * Authenticates the caller for a resource's security settings; throws an OAuthError refusal. A
 * bearer token seen before is answered synchronously (no promise on the hot path).
 */
export function authenticateCaller(deps: ApiAuthDeps, req: NeutralRequest, body: unknown, security: EffectiveSecurity, context: RefusalContext): Caller | Promise<Caller> {
  const methods = security.authMethods;
  const p = presented(req, body, methods);
  if (p.method === 'none') {
    // RFC 6750 §3.1: no error code when the request lacked any authentication information.
    throw refuse(401, 'api.credentials_missing', 'This API requires authentication: send Authorization: Bearer <access token>.', methods, { authMethod: 'none' });
  }
  if (!methods.includes(p.method)) {
    throw refuse(401, 'api.method_not_accepted', `This API does not accept ${SCHEME_NAMES[p.method]} credentials. Accepted: ${methods.map((m) => SCHEME_NAMES[m]).join(', ')}.`, methods, { authMethod: p.method });
  }
  if (p.method === 'bearer') {
    if (p.dpop === true) return dpopCaller(deps, req, p.token, context);
    const caller = deps.bearer.validate(p.token);
    return caller instanceof Promise ? caller.then((c) => notBound(deps, noteBearer(c, context))) : notBound(deps, noteBearer(caller, context));
  }
  return basicCaller(deps, p, req.remoteAddress, methods, context);
}

/** The DPoP challenge (RFC 9449 §7.1), with an error when a DPoP request was refused. */
export function dpopChallenge(error?: string, description?: string): string {
  return `DPoP algs="${DPOP_ALGS.join(' ')}"${error === undefined ? '' : `, error="${error}"`}${description === undefined ? '' : `, error_description="${description}"`}`;
}

/** A refusal of a DPoP-scheme request (or of a bound token sent as Bearer), with the DPoP challenge. */
function dpopRefusal(error: 'invalid_token' | 'invalid_dpop_proof' | 'use_dpop_nonce', reason: ReasonCode, description: string, facts: Facts = {}, extra: Record<string, string> = {}): OAuthError {
  return new OAuthError({ error, status: 401, description, reason, headers: { 'www-authenticate': dpopChallenge(error, description), ...extra }, facts });
}

/** RFC 9449 §7.2: a token bound to a DPoP key is not accepted as a bearer token. A WeakMap lookup on the bearer path. */
function notBound(deps: ApiAuthDeps, caller: Caller): Caller {
  const bound = deps.bearer.bindingOf(caller);
  if (bound === undefined) return caller;
  throw dpopRefusal('invalid_token', 'token.dpop_bound_as_bearer', 'The access token is bound to a DPoP key: send it as Authorization: DPoP with a DPoP proof.', { token: tokenHandle(bound.hash), boundJkt: bound.jkt }).withHint(tokenHint(bound.hash));
}

/**
 * `Authorization: DPoP <token>` (RFC 9449 §7.1): the token is valid, bound to a key, and the one
 * DPoP proof (htm the method, htu the URL on the issuer, ath the token's hash) is signed with it.
 */
async function dpopCaller(deps: ApiAuthDeps, req: NeutralRequest, token: string, context: RefusalContext): Promise<Caller> {
  const dpop = deps.dpop;
  let proof: string | undefined;
  try {
    proof = dpopHeader(req.headers.dpop);
  } catch (error) {
    if (error instanceof DpopRejected) throw dpopRefusal('invalid_dpop_proof', error.reason, error.message, error.facts);
    throw error;
  }
  if (proof === undefined || dpop === undefined) throw dpopRefusal('invalid_token', 'token.dpop_proof_missing', 'A DPoP access token needs a DPoP proof: send the DPoP header.');
  const caller = noteBearer(await deps.bearer.validate(token), context);
  const bound = deps.bearer.bindingOf(caller);
  if (bound === undefined) throw dpopRefusal('invalid_token', 'token.dpop_not_bound', 'The access token is not bound to a DPoP key: send it as Authorization: Bearer.');
  const properties = (await deps.cache.properties()) as PropertyValues;
  const settings = dpopSettings(properties);
  let jkt: string;
  try {
    jkt = (await verifyDpopProof(dpop, proof, { method: req.method, url: `${dpop.issuer()}${req.path}`, accessToken: token, maxAgeSeconds: settings.maxAgeSeconds, nonceRequired: settings.nonceRequired })).jkt;
  } catch (error) {
    if (!(error instanceof DpopRejected)) throw error;
    if (error.nonceProblem && dpop.nonces !== undefined) throw dpopRefusal('use_dpop_nonce', error.reason, error.message, error.facts, { 'dpop-nonce': await dpop.nonces.current() });
    throw dpopRefusal('invalid_dpop_proof', error.reason, error.message, { ...error.facts, token: tokenHandle(bound.hash) });
  }
  if (jkt !== bound.jkt) {
    throw dpopRefusal('invalid_token', 'token.dpop_key_mismatch', 'The DPoP proof is not signed with the key the access token is bound to.', { token: tokenHandle(bound.hash), dpopJkt: jkt, boundJkt: bound.jkt }).withHint(tokenHint(bound.hash));
  }
  return caller;
}

/** The property that switches HTTP Basic off on every hosted API (report it first with a rule: src/registry/rules.ts). */
export const BASIC_AUTH_PROPERTY = 'latchkey.api.basic_auth.enabled';

/** api.basic_auth_disabled: Basic sent to an API whose definition accepts it, while the instance switch is off. */
export function basicAuthDisabled(methods: readonly AuthMethod[]): OAuthError {
  const others = methods.filter((m) => m !== 'basic');
  return refuse(401, 'api.basic_auth_disabled', 'HTTP Basic is switched off on this instance\'s APIs: send Authorization: Bearer <access token>.', others.length > 0 ? others : ['bearer'], { authMethod: 'basic', property: BASIC_AUTH_PROPERTY });
}

async function basicCaller(deps: ApiAuthDeps, p: { userName: string; password: string }, remoteAddress: string, methods: readonly AuthMethod[], context: RefusalContext): Promise<Caller> {
  const properties = await deps.cache.properties();
  // Before the password is checked: the same answer for every user name, and no lockout counted.
  if (!properties[BASIC_AUTH_PROPERTY]) throw basicAuthDisabled(methods);
  context.userName = p.userName.slice(0, 200);
  const bad = refuse(401, 'api.basic_bad_credentials', 'The user name or password is wrong.', methods, { authMethod: 'basic' });
  // The password grant's check and throttling (registry/lockout.ts): Basic is no way around them.
  // Only an active user's right password is 'ok'; an inactive one is answered as `bad`, byte for byte.
  const checked = await deps.passwords.check(p.userName, p.password, remoteAddress, properties);
  // API answers show their reason code (provider.ts), so an inactive user keeps api.basic_bad_credentials.
  if (checked.kind !== 'ok') throw passwordRefusal(checked, bad, { showsReason: true });
  const { user } = checked;
  context.authenticated = true;
  // Basic credentials act as the user with all of the user's access; auth scopes restrict tokens.
  return { authenticated: true, method: 'basic', user: { id: user.id, name: user.userName, roles: user.roles }, application: null, scopes: [] };
}
