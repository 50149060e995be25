import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { Clock } from '../core/clock.js';
import { tokenHandle, tokenHint, tokenKey } from '../core/crypto.js';
import { invalidToken, REALM } from '../errors/errors.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { ReasonCode } from '../errors/reasons.js';
import { effectiveScopes } from '../grants/scope.js';
import type { Keyring } from '../keys/keyring.js';
import type { RegistryCache } from '../registry/cache.js';
import type { ActClaim, Facts, TokenRecord } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { isJwtShaped, jtiKey, AccessJwtRejected, verifyAccessJwt, type AccessJwtClaims, type AccessJwtRejectReason } from '../tokens/jwt.js';
import { tokenVerdict, type TokenInvalidReason } from '../tokens/verdict.js';
import { claimedIssueTime, tokenRecordFacts } from '../tokens/record-facts.js';
import type { Caller } from './define.js';
import type { ExternalTokenValidator } from '../idp/tokens.js';

export { REALM };

/**
 * Where a validated token came from, for decisions beyond an API's scopes and roles (the admin API
 * accepts only tokens of this instance, from some grants, of applications allowed to administer).
 */
export interface TokenOrigin {
  /** 'self': issued by this instance (opaque or JWT); 'external': a registered identity provider's JWT. */
  readonly issuer: 'self' | 'external';
  /** The grant that issued the token (its record's grant type); null for external tokens. */
  readonly grantType: string | null;
  /** The application it was issued to; null for external tokens. */
  readonly applicationId: string | null;
  /** The token's family (for the authorization code grant: the code's hash); null for external tokens. */
  readonly familyId: string | null;
}

const EXTERNAL: TokenOrigin = Object.freeze({ issuer: 'external', grantType: null, applicationId: null, familyId: null });


/** How each AccessJwtRejected reason is refused. */
const JWT_REFUSALS: Record<AccessJwtRejectReason, readonly [ReasonCode, string]> = {
  signature: ['token.signature_invalid', 'The signature of the access token is not valid.'],
  unknown_kid: ['token.unknown_key', 'The access token is signed with a key this instance does not publish.'],
  expired: ['token.expired', 'The access token has expired.'],
  malformed: ['token.malformed', 'The access token is not a well-formed JWT access token of this instance.'],
  issuer: ['token.unknown_issuer', 'The access token was issued by an issuer this instance does not accept.'],
};

/** How each invalid verdict on a stored token (tokens/verdict.ts) is refused. */
const RECORD_REFUSALS: Record<TokenInvalidReason, readonly [ReasonCode, string]> = {
  'token.revoked': ['token.revoked', 'The access token has been revoked.'],
  'token.expired': ['token.expired', 'The access token has expired.'],
  'token.application_inactive': ['token.application_inactive', 'The application of this token is inactive.'],
  'token.wrong_audience': ['token.wrong_audience', 'The access token is meant for another audience.'],
  'token.user_inactive': ['token.user_inactive', 'The user of this token is inactive.'],
};

/**
 * Validates access tokens for our APIs: opaque tokens by their stored record; our JWT access tokens
 * (RFC 9068) by our published keys and then by their record (found by jti), so revocation and
 * deactivation apply to them exactly as to opaque tokens; JWTs of other issuers by the external
 * validator (registered identity providers). A token is valid only while it is unexpired,
 * unrevoked, its application active and its user active; its scopes in effect are those granted,
 * intersected with what the application allows now.
 *
 * Token records are cached; every revocation, deactivation or scope change bumps the storage
 * change version, which clears this cache (through the registry cache) within one poll interval.
 * Expiry is checked against the clock on every call, so the cache never extends a token's life.
 */
export class BearerValidator {
  /**
   * Callers by token, with the token's expiry: the whole answer for a repeat token, found without
   * hashing (a SHA-256 per call was the largest single cost of bearer validation). Held only in
   * this process's memory, never logged or stored, and dropped on any registry or token change
   * and when the token expires. The database keeps only hashes.
   */
  private callers = new Map<string, { readonly caller: Caller; readonly expiresAt: number; readonly origin: TokenOrigin; readonly record: TokenRecord | undefined }>();
  /** The resource audience (RFC 8707) of the callers of resource-bound tokens, by their (frozen, cached) caller object. */
  private audiences = new WeakMap<Caller, { readonly audience: readonly string[]; readonly hash: string }>();
  /** RFC 9449: the DPoP key thumbprint (cnf.jkt) of the callers of bound tokens, by their (frozen, cached) caller object. */
  private bindings = new WeakMap<Caller, { readonly jkt: string; readonly hash: string }>();
  /**
   * Whether any caller was ever given an audience or a binding: until then both checks on the hot
   * path skip their WeakMap lookup. Never reset (a caller object from before a cache clear may
   * still be in flight), so once true they look up as before.
   */
  private anyAudience = false;
  private anyBinding = false;
  private generation = 0;
  private readonly maxEntries = 100_000;

  constructor(
    private readonly deps: {
      readonly storage: Pick<Storage, 'tokens'>;
      readonly cache: Pick<RegistryCache, 'applicationById' | 'userById' | 'peekApplicationById' | 'peekUserById' | 'onInvalidate'>;
      readonly clock: Clock;
      /** Our signing keys and issuer: JWT access tokens of ours are verified with them (publishedJwks: for the facts of a refusal). */
      readonly keyring?: Pick<Keyring, 'verificationKey'> & Partial<Pick<Keyring, 'publishedJwks'>>;
      readonly issuer?: () => string;
      /** JWTs whose iss is not ours (identity providers); absent: refused as token.unknown_issuer. */
      readonly external?: ExternalTokenValidator;
    },
  ) {
    // Any revocation, deactivation or scope change moves the change version, which clears this.
    deps.cache.onInvalidate(() => {
      this.generation++;
      this.callers = new Map();
    });
  }

  /**
   * Returns the caller a token stands for, or throws an invalid_token OAuthError. A token seen
   * before answers synchronously from memory (expiry is still checked against the clock); this
   * runs on every API call.
   */
  validate(token: string): Caller | Promise<Caller> {
    const hit = this.callers.get(token);
    if (hit !== undefined && hit.expiresAt > this.deps.clock.now()) return hit.caller;
    return this.resolve(token).then((found) => found.caller);
  }

  /** As validate, with where the token came from (the admin API decides on it). */
  async validateWithOrigin(token: string): Promise<{ readonly caller: Caller; readonly origin: TokenOrigin }> {
    const hit = this.callers.get(token);
    if (hit !== undefined && hit.expiresAt > this.deps.clock.now()) return hit;
    return this.resolve(token);
  }

  /**
   * The facts of a token this validator accepted (its handle, kind, grant, the scopes it was granted,
   * when it was issued), for a refusal by scope or role after it (src/errors/facts.ts). Called only
   * when refusing; empty for a token of an identity provider or one not found.
   */
  async facts(token: string): Promise<Facts> {
    let record = this.callers.get(token)?.record;
    if (record === undefined) {
      const key = isJwtShaped(token) ? jtiOf(token) : tokenKey(token);
      record = key === undefined ? undefined : await this.deps.storage.tokens.byHash(key).catch(() => undefined);
    }
    return record === undefined ? {} : tokenRecordFacts(record, { now: this.deps.clock.now() });
  }

  private async resolve(token: string): Promise<{ readonly caller: Caller; readonly origin: TokenOrigin }> {
    if (isJwtShaped(token)) return this.resolveJwt(token);
    const gen = this.generation;
    const record = await this.deps.storage.tokens.byHash(tokenKey(token));
    if (record === undefined) throw unknownToken(token);
    return this.callerOf(token, record, gen, Infinity);
  }

  /**
   * A JWT: ours (iss is our issuer) is verified with our published keys, then checked against its
   * record like an opaque token; any other iss goes to the external validator.
   */
  private async resolveJwt(token: string): Promise<{ readonly caller: Caller; readonly origin: TokenOrigin }> {
    const gen = this.generation;
    let iss: unknown;
    try {
      iss = decodeJwt(token).iss;
    } catch {
      throw invalidToken('token.malformed', JWT_REFUSALS.malformed[1]).withFacts({ tokenProblem: 'Its header or payload is not base64url-encoded JSON.' });
    }
    if (typeof iss !== 'string' || iss === '') throw invalidToken('token.malformed', 'The access token has no issuer (iss).').withFacts({ tokenProblem: 'It has no issuer (iss).' });
    const { keyring, issuer } = this.deps;
    if (keyring === undefined || issuer === undefined || iss !== issuer()) {
      const external = this.deps.external;
      const ours = this.ourIssuer();
      const issuerFacts: Facts = { tokenIssuer: iss.slice(0, 200), ...(ours === undefined ? {} : { issuer: ours }) };
      if (external === undefined) throw invalidToken('token.unknown_issuer', JWT_REFUSALS.issuer[1]).withHint(`iss ${iss.slice(0, 200)}`).withFacts(issuerFacts);
      let found: Awaited<ReturnType<ExternalTokenValidator['validate']>>;
      try {
        found = await external.validate(token, iss);
      } catch (error) {
        throw error instanceof OAuthError && error.reason === 'token.unknown_issuer' ? error.withFacts(issuerFacts) : error;
      }
      this.remember(gen, token, found.caller, found.expiresAt, EXTERNAL, undefined);
      return { caller: found.caller, origin: EXTERNAL };
    }
    let claims: AccessJwtClaims;
    try {
      claims = await verifyAccessJwt({ keyring, issuer, clock: this.deps.clock }, token);
    } catch (error) {
      if (!(error instanceof AccessJwtRejected)) throw error;
      throw await this.jwtRefusal(token, error);
    }
    // RFC 9068 §4: a resource server accepts only tokens meant for it; our APIs are the issuer.
    const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
    if (!audiences.includes(issuer())) {
      // RFC 8707: a token issued for resources names them as its aud; the resource called decides
      // (requireAudience), so it is found by its record like any other.
      const bound = await this.deps.storage.tokens.byHash(jtiKey(claims.jti)).catch(() => undefined);
      if (bound !== undefined && bound.audience !== undefined && bound.audience !== null && bound.audience.length > 0 && sameSet(bound.audience, audiences)) {
        return this.callerOf(token, bound, gen, claims.exp * 1000);
      }
      const hint = `aud ${audiences.join(' ').slice(0, 200)}; this instance is ${issuer()}`;
      const facts: Facts = { tokenAudience: audiences.map((a) => a.slice(0, 200)), expectedAudience: issuer() };
      const record = await this.deps.storage.tokens.byHash(jtiKey(claims.jti)).catch(() => undefined);
      const error = invalidToken('token.wrong_audience', 'The access token is meant for another audience.');
      throw record === undefined ? error.withHint(hint).withFacts(facts) : (await this.refusal(record, error.reason, error.description, claims.exp * 1000)).withHint(hint).withFacts(facts);
    }
    const record = await this.deps.storage.tokens.byHash(jtiKey(claims.jti));
    if (record === undefined) {
      throw unknownToken(token).withFacts({ claimedIssuedAt: new Date(claims.iat * 1000).toISOString(), tokenClientId: claims.client_id.slice(0, 200) });
    }
    return this.callerOf(token, record, gen, claims.exp * 1000);
  }

  /** The refusal of a JWT with our issuer that did not verify, with what the check found (built only when refusing). */
  private async jwtRefusal(token: string, error: AccessJwtRejected): Promise<OAuthError> {
    const [reason, description] = JWT_REFUSALS[error.code];
    const refused = invalidToken(reason, description).withHint(error.message).withCause(error);
    const claims = error.claims;
    if (error.code === 'expired' && claims !== undefined) {
      // Signed by us: its record says whose it was, and its exp when it ended.
      const record = await this.deps.storage.tokens.byHash(jtiKey(claims.jti)).catch(() => undefined);
      if (record !== undefined) return (await this.refusal(record, reason, description, claims.exp * 1000)).withCause(error);
      return refused.withFacts({
        token: tokenHandle(jtiKey(claims.jti)),
        issuedAt: new Date(claims.iat * 1000).toISOString(),
        expiredAt: new Date(claims.exp * 1000).toISOString(),
        tokenScopes: typeof claims.scope === 'string' ? claims.scope.split(' ').filter((s) => s !== '') : [],
      });
    }
    if (error.code === 'malformed') return refused.withFacts({ tokenProblem: error.message });
    if (error.code === 'issuer') return refused.withFacts({ tokenProblem: error.message });
    // A signature that does not verify, or a key we do not publish: which key it names, which we publish.
    const facts: Record<string, Facts[string]> = {};
    try {
      const kid = decodeProtectedHeader(token).kid;
      if (typeof kid === 'string') facts.tokenKeyId = kid.slice(0, 100);
      const iat = decodeJwt(token).iat;
      if (error.code === 'unknown_kid' && typeof iat === 'number' && Number.isFinite(iat)) facts.claimedIssuedAt = new Date(Math.trunc(iat) * 1000).toISOString();
    } catch {
      // decoded before verification, so this does not happen; the refusal stands without these
    }
    const published = await this.deps.keyring?.publishedJwks?.(this.deps.clock.now()).catch(() => undefined);
    if (published !== undefined) facts.publishedKeyIds = published.keys.map((k) => String(k.kid ?? ''));
    return refused.withFacts(facts);
  }

  /**
   * A refusal of a token we issued, naming its application and user for the refusal record (so the
   * Refusals list says whose revoked or expired token was used). Looked up only when refusing.
   */
  private async refusal(record: TokenRecord, reason: ReasonCode, description: string, notAfter = Infinity): Promise<OAuthError> {
    // The hint names the token by its handle, which `latchkey explain` and the console show.
    const error = invalidToken(reason, description).withHint(tokenHint(record.hash)).withFacts(tokenRecordFacts(record, { now: this.deps.clock.now(), notAfter }));
    try {
      const app = this.deps.cache.peekApplicationById(record.applicationId) ?? (await this.deps.cache.applicationById(record.applicationId));
      const user = record.userId === null ? undefined : (this.deps.cache.peekUserById(record.userId) ?? (await this.deps.cache.userById(record.userId)));
      return error.withSubject({
        ...(app === undefined ? {} : { clientId: app.clientId, applicationName: app.name }),
        ...(user === undefined ? {} : { userName: user.userName }),
      });
    } catch {
      return error; // the refusal stands without the names
    }
  }

  /** The caller a token's record stands for (opaque and our JWTs alike), remembered for repeat calls. */
  private async callerOf(token: string, record: TokenRecord, gen: number, notAfter: number): Promise<{ readonly caller: Caller; readonly origin: TokenOrigin }> {
    if (record.kind !== 'access') throw await this.refusal(record, 'token.not_access_token', 'A refresh token cannot be used as an access token.');
    // RFC 9068 §4 / RFC 8707: our APIs accept only tokens meant for this instance. An application
    // whose audience is another resource server gets tokens for that server, opaque ones included;
    // its current audience decides, so changing it applies to tokens already issued.
    const ours = this.ourIssuer();
    const verdict = await tokenVerdict(this.deps, record, { notAfter, ...(ours === undefined ? {} : { audience: ours }) });
    if (!verdict.valid) {
      const [reason, description] = RECORD_REFUSALS[verdict.reason];
      const error = await this.refusal(record, reason, description, notAfter);
      const other = verdict.app;
      if (other === undefined || other.audience === null) throw error;
      throw error
        .withHint(tokenHint(record.hash, `Application "${other.name}" has the audience ${other.audience.slice(0, 200)}; this instance is ${ours}.`))
        .withFacts({ tokenAudience: [other.audience.slice(0, 200)], ...(ours === undefined ? {} : { expectedAudience: ours }) });
    }
    const { app, user, expiresAt } = verdict;
    // Shared by every request with this token: frozen so no handler can change what others see.
    const caller: Caller = Object.freeze({
      authenticated: true,
      method: 'bearer',
      user: user === undefined ? null : Object.freeze({ id: user.id, name: user.userName, roles: Object.freeze([...user.roles]) }),
      application: Object.freeze({ clientId: app.clientId, name: app.name }),
      scopes: Object.freeze(effectiveScopes(record.scopes, app)),
      // RFC 8693: the actor of an exchanged token, from its record (opaque and JWT alike).
      ...(record.act === undefined || record.act === null ? {} : { act: deepFreeze(record.act) }),
    });
    const origin: TokenOrigin = Object.freeze({ issuer: 'self', grantType: record.grantType, applicationId: record.applicationId, familyId: record.familyId });
    if (record.audience !== undefined && record.audience !== null && record.audience.length > 0) {
      this.anyAudience = true;
      this.audiences.set(caller, { audience: record.audience, hash: record.hash });
    }
    if (record.jkt !== undefined && record.jkt !== null) {
      this.anyBinding = true;
      this.bindings.set(caller, { jkt: record.jkt, hash: record.hash });
    }
    this.remember(gen, token, caller, expiresAt, origin, record);
    return { caller, origin };
  }

  /**
   * RFC 8707: the resources the caller's token was issued for (its audience), or null for a token
   * issued without a resource (and for external tokens and Basic callers). Read synchronously.
   */
  audienceOf(caller: Caller): readonly string[] | null {
    return this.anyAudience ? (this.audiences.get(caller)?.audience ?? null) : null;
  }

  /**
   * Refuses (token.wrong_resource, 401 invalid_token) a caller whose token was issued for
   * resources none of which is `resource` (the identifiers of the one called: an API's canonical
   * and versioned ones). A token without a resource audience passes (the application's audience
   * applies to it, as before resource indicators).
   */
  requireAudience(caller: Caller, resource: readonly string[]): void {
    if (!this.anyAudience || resource.length === 0) return;
    const bound = this.audiences.get(caller);
    if (bound === undefined) return;
    for (const uri of resource) if (bound.audience.includes(uri)) return;
    throw wrongResource(bound.audience, resource[0] as string).withHint(tokenHint(bound.hash, `aud ${bound.audience.join(' ').slice(0, 300)}; this resource is ${(resource[0] as string).slice(0, 200)}.`)).withFacts({ token: tokenHandle(bound.hash) });
  }

  /**
   * RFC 9449: the DPoP key the caller's token is bound to (its thumbprint, cnf.jkt) and the token's
   * record key, or undefined for a bearer token. Read synchronously (a WeakMap lookup).
   */
  bindingOf(caller: Caller): { readonly jkt: string; readonly hash: string } | undefined {
    return this.anyBinding ? this.bindings.get(caller) : undefined;
  }

  /** Our issuer, or undefined where none is known yet (a CLI run without --issuer). */
  private ourIssuer(): string | undefined {
    try {
      return this.deps.issuer?.();
    } catch {
      return undefined;
    }
  }

  private remember(gen: number, token: string, caller: Caller, expiresAt: number, origin: TokenOrigin, record: TokenRecord | undefined): void {
    if (gen === this.generation) {
      if (this.callers.size >= this.maxEntries) this.callers = new Map();
      this.callers.set(token, { caller, expiresAt, origin, record });
    }
  }
}

/** An act claim frozen all the way down (shared by every request with the token). */
function deepFreeze(act: ActClaim): ActClaim {
  if (act.act !== undefined) deepFreeze(act.act);
  return Object.freeze(act);
}

/** Whether two lists hold the same strings (a JWT's aud and its record's audience). */
function sameSet(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x) => b.includes(x));
}

/** token.wrong_resource: the token's audience (RFC 8707 resources) does not include the resource called. */
export function wrongResource(audience: readonly string[], expected: string): OAuthError {
  return invalidToken('token.wrong_resource', 'The access token was issued for another resource.')
    .withHint(`aud ${audience.join(' ').slice(0, 300)}; this resource is ${expected.slice(0, 200)}`)
    .withFacts({ tokenAudience: audience.map((a) => a.slice(0, 200)), expectedAudience: expected.slice(0, 200) });
}

/** The storage key of one of our JWTs by its jti, unverified: only for a token this validator accepted before. */
function jtiOf(token: string): string | undefined {
  try {
    const { jti } = decodeJwt(token);
    return typeof jti === 'string' && jti.length === 34 ? jtiKey(jti) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * token.unknown, with what the presented string says of itself (never the string): the kind its
 * prefix names and the issue time it carries, which tell "deleted after it expired" from "issued
 * by another instance".
 */
function unknownToken(token: string): OAuthError {
  const kind = token.startsWith('lk_at_') ? 'access' : token.startsWith('lk_rt_') ? 'refresh' : isJwtShaped(token) ? 'access' : undefined;
  const at = claimedIssueTime(token);
  return invalidToken('token.unknown', 'The access token is not valid on this instance.').withFacts({
    ...(kind === undefined ? {} : { tokenKind: kind }),
    ...(at === undefined || !Number.isFinite(new Date(at).getTime()) ? {} : { claimedIssuedAt: new Date(at).toISOString() }),
  });
}
