import type { JWTPayload, JWTVerifyGetKey } from 'jose';
import type { Clock } from '../core/clock.js';
import { commandLine, placeholder } from '../core/shell.js';
import { invalidClient, invalidGrant } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { ReasonCode } from '../errors/reasons.js';
import type { RegistryCache } from '../registry/cache.js';
import type { PropertyValues } from '../registry/properties.js';
import type { Application, Facts } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { factString } from '../errors/fact-values.js';
import { claimFacts, jwtFacts, secondsAhead, segmentsOf } from './facts.js';
import { ALLOWED_ALGORITHMS, InvalidKeySet, kidsIn, type KeySets } from './keys.js';
import { spendSignatureCheck } from './stand-in.js';
import { JwtRejected, peekJwt, verifyJwt, type JwtFailure } from './verify.js';
import { outboundFacts } from '../outbound/facts.js';

/**
 * JWT assertions signed with an application's own key (RFC 7523): the client assertion of
 * private_key_jwt client authentication (§2.2, OpenID Connect Core §9) and the authorization grant
 * of the JWT bearer grant (§2.1). Both are checked the same way (§3): signature with a key the
 * application registered (its `jwks`, or its `jwksUri`), iss, aud naming exactly us, exp present and not
 * too far ahead, nbf/iat not in the future beyond the allowed skew, and a jti used only once.
 */

export const CLIENT_ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

export interface AssertionDeps {
  /** Our issuer identifier (RFC 8414): `aud` must be it or our token endpoint URL. */
  readonly issuer: () => string;
  readonly clock: Clock;
  readonly storage: Pick<Storage, 'replay'>;
  readonly cache: Pick<RegistryCache, 'properties' | 'peekProperties'>;
  readonly keySets: KeySets;
}

/** A client assertion (refused with invalid_client) or a grant assertion (refused with invalid_grant). */
export type AssertionUse = 'client' | 'grant';

export interface VerifiedAssertion {
  readonly claims: JWTPayload;
  readonly iss: string;
  readonly sub: string;
  readonly jti: string;
  /** Until when the jti must be remembered: exp plus the skew, in milliseconds. */
  readonly rememberUntil: number;
}

const REASON: Record<JwtFailure, ReasonCode> = {
  malformed: 'assertion.malformed',
  missing_claim: 'assertion.missing_claim',
  algorithm_not_allowed: 'assertion.algorithm_not_allowed',
  unknown_key: 'assertion.unknown_key',
  bad_signature: 'assertion.bad_signature',
  wrong_issuer: 'assertion.wrong_client',
  wrong_audience: 'assertion.wrong_audience',
  expired: 'assertion.expired',
  not_yet_valid: 'assertion.not_yet_valid',
  lifetime_too_long: 'assertion.lifetime_too_long',
  invalid_keys: 'assertion.no_keys',
  keys_unavailable: 'assertion.jwks_unavailable',
  keys_refused: 'outbound.refused',
};

/**
 * Failures that depend on what is registered (whether the client exists, which keys it has) get
 * the same description for every cause, so an unauthenticated caller learns nothing about the
 * registry; the recorded reason and hint tell the administrator. Failures about the JWT itself are
 * described, so a developer can fix the client.
 */
const REGISTRY_DEPENDENT: ReadonlySet<ReasonCode> = new Set<ReasonCode>(['assertion.no_keys', 'assertion.unknown_key', 'assertion.bad_signature', 'assertion.unknown_issuer']);

const GRANT_INVALID = 'The assertion is not valid.';
const CLIENT_INVALID = 'Client authentication failed. Check the client id and the client assertion.';

const DESCRIPTIONS: Partial<Record<ReasonCode, string>> = {
  'assertion.malformed': 'The assertion is not a valid signed JWT.',
  'assertion.missing_claim': 'The assertion lacks a required claim (RFC 7523 section 3).',
  'assertion.algorithm_not_allowed': 'The assertion is signed with an algorithm that is not accepted. Use ES256, ES384, ES512, RS256, RS384, RS512, PS256, PS384, PS512 or EdDSA (never none or HMAC).',
  'assertion.wrong_client': 'The assertion was issued for another client.',
  'assertion.wrong_audience': 'The aud claim of the assertion must be one string: the issuer identifier of this server, or its token endpoint URL.',
  'assertion.expired': 'The assertion has expired.',
  'assertion.not_yet_valid': 'The assertion is not valid yet (nbf or iat is in the future). Check the clock of the client.',
  'assertion.lifetime_too_long': 'The exp claim of the assertion is too far in the future.',
  'assertion.replayed': 'The assertion was used before: each assertion needs a new jti.',
};

/** The OAuthError for an assertion refusal, shaped for the use (RFC 7523 §3.1, §3.2). */
export function assertionError(use: AssertionUse, reason: ReasonCode, hint: string, description?: string): OAuthError {
  if (reason === 'assertion.jwks_unavailable' || reason === 'outbound.refused') {
    // The registered keys could not be fetched: nothing about the request is known to be wrong,
    // so it is an outage, not a refusal the client should act on. An outage is worth retrying; a
    // JWKS URI the outbound rules refuse is not, until an administrator changes it.
    const outage = reason === 'assertion.jwks_unavailable';
    return new OAuthError({
      error: 'temporarily_unavailable',
      status: 503,
      description: outage ? 'The keys of this client could not be fetched. Retry shortly.' : 'The keys of this client could not be fetched.',
      reason,
      hint: hint.slice(0, 500),
      ...(outage ? { headers: { 'retry-after': '5' } } : {}),
    });
  }
  const known = description ?? (REGISTRY_DEPENDENT.has(reason) ? undefined : DESCRIPTIONS[reason]);
  const base = use === 'client' ? invalidClient : invalidGrant;
  const generic = use === 'client' ? CLIENT_INVALID : GRANT_INVALID;
  const prefix = use === 'client' ? 'Client authentication failed. ' : '';
  return base.withReason(reason).withDescription(known === undefined ? generic : `${prefix}${known}`).withHint(hint.slice(0, 500));
}

/**
 * The claims before any verification, to find out which client the assertion names; throws
 * assertion.malformed, or assertion.algorithm_not_allowed: the algorithm is about the JWT itself,
 * so it is refused before anything is looked up, with the same answer whether or not the client exists.
 * `assertionType` is the client_assertion_type sent with it (a fact of the refusal).
 */
export function unverifiedClaims(use: AssertionUse, token: string, assertionType?: string): JWTPayload {
  let peeked: ReturnType<typeof peekJwt>;
  try {
    peeked = peekJwt(token);
  } catch (error) {
    if (error instanceof JwtRejected) {
      throw assertionError(use, 'assertion.malformed', error.detail).withCause(error).withFacts({ assertionType: factString(assertionType, 100), assertionSegments: segmentsOf(token), claim: null });
    }
    throw error;
  }
  if (peeked.alg === undefined || !ALLOWED_ALGORITHMS.includes(peeked.alg)) {
    throw assertionError(use, 'assertion.algorithm_not_allowed', `The JWT is signed with alg ${peeked.alg ?? '(none)'}; accepted: ${ALLOWED_ALGORITHMS.join(', ')}.`).withFacts({
      ...jwtFacts(token),
      allowedAlgorithms: [...ALLOWED_ALGORITHMS],
      ...(assertionType === undefined ? {} : { assertionType: factString(assertionType, 100) }),
    });
  }
  return peeked.claims;
}

// ---- the facts of a refusal (src/errors/facts.ts): built only when refusing -------------------

/** What the JWT said, against the client and the audience expected. */
export function assertionFacts(deps: Pick<AssertionDeps, 'issuer'>, token: string, app?: Application): Facts {
  let expectedAudience: string[] | null = null;
  try {
    expectedAudience = acceptedAudiences(deps.issuer());
  } catch {
    // The issuer is not known yet: no audience could have matched.
  }
  return { ...jwtFacts(token), ...(app === undefined ? {} : { expectedIssuer: app.clientId }), expectedAudience };
}

/** How the application's keys are registered, and their key ids (what its JWKS URI last served). */
export function keyFacts(deps: Pick<AssertionDeps, 'keySets'>, app: Application): Facts {
  if (app.jwks !== null) return { keySource: 'jwks', appJwksUri: app.jwksUri, registeredKids: kidsIn(app.jwks) };
  if (app.jwksUri !== null) return { keySource: 'jwks_uri', appJwksUri: app.jwksUri, registeredKids: deps.keySets.publishedKids(app.jwksUri) ?? [] };
  return { keySource: 'none', appJwksUri: null, registeredKids: [] };
}

/** The facts of an assertion refusal of `app`'s assertion `token`, by its reason. */
async function refusalFacts(deps: AssertionDeps, use: AssertionUse, token: string, app: Application, error: OAuthError): Promise<Facts> {
  const base = assertionFacts(deps, token, app);
  const rejected = error.cause instanceof JwtRejected ? error.cause : undefined;
  switch (error.reason) {
    case 'assertion.malformed':
      return { ...base, assertionType: use === 'client' ? CLIENT_ASSERTION_TYPE : null, assertionSegments: segmentsOf(token), claim: rejected?.claim ?? null };
    case 'assertion.missing_claim':
      return { ...base, claim: rejected?.claim ?? null };
    case 'assertion.algorithm_not_allowed':
      return { ...base, allowedAlgorithms: [...ALLOWED_ALGORITHMS] };
    case 'assertion.no_keys':
    case 'assertion.unknown_key':
    case 'assertion.bad_signature':
      return { ...base, ...keyFacts(deps, app) };
    case 'assertion.jwks_unavailable':
    case 'outbound.refused':
      return { ...base, ...keyFacts(deps, app), fetchError: factString(rejected?.detail ?? error.hint, 300) };
    case 'assertion.expired':
    case 'assertion.not_yet_valid':
      return { ...base, maxSkewSeconds: (await assertionSettings(deps)).skew };
    case 'assertion.lifetime_too_long': {
      const { skew, maxLifetime } = await assertionSettings(deps);
      let claims: JWTPayload = {};
      try {
        claims = peekJwt(token).claims;
      } catch {
        // Verified far enough to get here: it decodes.
      }
      return { ...base, lifetimeSeconds: secondsAhead(claims, deps.clock.now()), maxLifetimeSeconds: maxLifetime, maxSkewSeconds: skew };
    }
    default:
      return base;
  }
}

/** The key resolver for an application's registered keys; throws when it has none. */
function keysOf(deps: AssertionDeps, use: AssertionUse, app: Application): JWTVerifyGetKey {
  try {
    if (app.jwks !== null) return deps.keySets.localSet(app.jwks);
    if (app.jwksUri !== null) return deps.keySets.remoteSet(app.jwksUri);
  } catch (error) {
    if (error instanceof InvalidKeySet) throw assertionError(use, 'assertion.no_keys', `Application "${app.name}": ${error.message}`).withCause(error);
    throw assertionError(use, 'assertion.no_keys', `Application "${app.name}" has an unusable JWKS URI: ${error instanceof Error ? error.message : String(error)}.`).withCause(error);
  }
  throw assertionError(
    use,
    'assertion.no_keys',
    `Application "${app.name}" has no public keys registered; add them with: ${commandLine(['apps', 'update', app.clientId, '--jwks-uri', placeholder('url')])} (or --jwks).`,
  );
}

export async function assertionSettings(deps: Pick<AssertionDeps, 'cache'>): Promise<{ skew: number; maxLifetime: number }> {
  const props: PropertyValues = deps.cache.peekProperties() ?? (await deps.cache.properties());
  return { skew: props['latchkey.assertion.max_skew_seconds'], maxLifetime: props['latchkey.assertion.max_lifetime_seconds'] };
}

/**
 * The audiences an assertion may name, whichever endpoint it is sent to: our issuer identifier,
 * or the one token endpoint URL our metadata lists (endpoints/metadata.ts). Accepting any endpoint
 * URL, or several values, lets an assertion made for one server or endpoint be replayed at another
 * (draft-ietf-oauth-rfc7523bis §4: aud is the issuer identifier, a single string).
 */
export function acceptedAudiences(issuer: string): string[] {
  return [issuer, `${issuer}/oauth/token`];
}

/**
 * Verifies an assertion against the application's keys. `iss` must be the application's client id;
 * for a client assertion `sub` must be too (RFC 7523 §3 items 1-2). Does not consume the jti: call
 * `consumeJti` once everything else has passed.
 */
export async function verifyAssertion(deps: AssertionDeps, use: AssertionUse, token: string, app: Application): Promise<VerifiedAssertion> {
  try {
    return await checkAssertion(deps, use, token, app);
  } catch (error) {
    if (error instanceof OAuthError) throw error.withFacts(await refusalFacts(deps, use, token, app, error));
    throw error;
  }
}

async function checkAssertion(deps: AssertionDeps, use: AssertionUse, token: string, app: Application): Promise<VerifiedAssertion> {
  let getKey: JWTVerifyGetKey;
  try {
    getKey = keysOf(deps, use, app);
  } catch (error) {
    // No key to check with: spend the check a bad signature costs (stand-in.ts), so the answer tells nothing.
    await spendSignatureCheck(token);
    throw error;
  }
  const { skew, maxLifetime } = await assertionSettings(deps);
  let claims: JWTPayload;
  try {
    claims = await verifyJwt(token, {
      getKey,
      now: deps.clock.now(),
      skewSeconds: skew,
      required: ['iss', 'sub', 'aud', 'exp', 'jti'],
      issuer: app.clientId,
      audiences: acceptedAudiences(deps.issuer()),
      singleAudience: true,
      maxLifetimeSeconds: maxLifetime,
    });
  } catch (error) {
    if (error instanceof JwtRejected) {
      if (error.code === 'unknown_key' || error.code === 'invalid_keys') await spendSignatureCheck(token);
      const refused = assertionError(use, REASON[error.code], `Application "${app.name}": ${error.detail}`).withCause(error);
      throw error.code === 'keys_refused' ? refused.withFacts(outboundFacts(error)) : refused;
    }
    throw error;
  }
  const sub = claims.sub as string;
  if (use === 'client' && sub !== app.clientId) {
    throw assertionError(use, 'assertion.wrong_client', `The client assertion's sub ${JSON.stringify(sub)} is not the client id ${app.clientId} (RFC 7523 section 3).`);
  }
  return { claims, iss: claims.iss as string, sub, jti: claims.jti as string, rememberUntil: ((claims.exp as number) + skew) * 1000 };
}

/** Keys this request already recorded, so a request decided twice (see endpoints/shared.ts) is not its own replay. */
const recordedBy = new WeakMap<object, Set<string>>();

/**
 * Records the jti as used (RFC 7523 §3 item 7: the server MAY ensure single use); throws
 * assertion.replayed when it was used before. `request` scopes the record: a request that is decided
 * again after a cache check does not count as its own replay.
 */
export async function consumeJti(deps: Pick<AssertionDeps, 'storage' | 'clock'>, use: AssertionUse, request: object, clientId: string, verified: VerifiedAssertion): Promise<void> {
  const key = `${use}:${clientId}:${verified.jti}`;
  const mine = recordedBy.get(request);
  if (mine?.has(key) === true) return;
  const first = await deps.storage.replay.remember(key, verified.rememberUntil, deps.clock.now());
  if (!first) throw assertionError(use, 'assertion.replayed', `jti ${JSON.stringify(verified.jti.slice(0, 100))} of client ${clientId} was already used.`).withFacts(claimFacts(verified.claims));
  if (mine === undefined) recordedBy.set(request, new Set([key]));
  else mine.add(key);
}
