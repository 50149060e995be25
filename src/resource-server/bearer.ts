import type { Clock } from '../core/clock.js';
import { tokenKey } from '../core/crypto.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { ReasonCode } from '../errors/reasons.js';
import { effectiveScopes } from '../grants/scope.js';
import type { RegistryCache } from '../registry/cache.js';
import type { Storage } from '../storage/types.js';
import type { Caller } from './define.js';

export const REALM = 'latchkey';

/** An RFC 6750 §3.1 invalid_token refusal: 401 with the error in WWW-Authenticate. */
export function invalidToken(reason: ReasonCode, description: string): OAuthError {
  return new OAuthError({
    error: 'invalid_token',
    status: 401,
    description,
    reason,
    headers: { 'www-authenticate': `Bearer realm="${REALM}", error="invalid_token", error_description="${description}"` },
  });
}

/**
 * Validates opaque access tokens for our APIs. A token is valid only while it is unexpired,
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
  private callers = new Map<string, { readonly caller: Caller; readonly expiresAt: number }>();
  private generation = 0;
  private readonly maxEntries = 100_000;

  constructor(
    private readonly deps: {
      readonly storage: Pick<Storage, 'tokens'>;
      readonly cache: Pick<RegistryCache, 'applicationById' | 'userById' | 'peekApplicationById' | 'peekUserById' | 'onInvalidate'>;
      readonly clock: Clock;
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
    return this.resolve(token);
  }

  private async resolve(token: string): Promise<Caller> {
    const gen = this.generation;
    const record = await this.deps.storage.tokens.byHash(tokenKey(token));
    if (record === undefined) throw invalidToken('token.unknown', 'The access token is not valid on this instance.');
    if (record.kind !== 'access') throw invalidToken('token.not_access_token', 'A refresh token cannot be used as an access token.');
    if (record.status !== 'active') throw invalidToken('token.revoked', 'The access token has been revoked.');
    if (record.expiresAt <= this.deps.clock.now()) throw invalidToken('token.expired', 'The access token has expired.');
    const app = this.deps.cache.peekApplicationById(record.applicationId) ?? (await this.deps.cache.applicationById(record.applicationId));
    if (app === undefined || !app.active) throw invalidToken('token.application_inactive', 'The application of this token is inactive.');
    const user = record.userId === null ? undefined : (this.deps.cache.peekUserById(record.userId) ?? (await this.deps.cache.userById(record.userId)));
    if (record.userId !== null && (user === undefined || !user.active)) {
      throw invalidToken('token.user_inactive', 'The user of this token is inactive.');
    }
    // Shared by every request with this token: frozen so no handler can change what others see.
    const caller: Caller = Object.freeze({
      authenticated: true,
      method: 'bearer',
      user: user === undefined ? null : Object.freeze({ id: user.id, name: user.userName, roles: Object.freeze([...user.roles]) }),
      application: Object.freeze({ clientId: app.clientId, name: app.name }),
      scopes: Object.freeze(effectiveScopes(record.scopes, app)),
    });
    if (gen === this.generation) {
      if (this.callers.size >= this.maxEntries) this.callers = new Map();
      this.callers.set(token, { caller, expiresAt: record.expiresAt });
    }
    return caller;
  }
}
