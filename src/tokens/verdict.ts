import type { Clock } from '../core/clock.js';
import type { Application, TokenRecord, User } from '../domain/model.js';
import type { RegistryCache } from '../registry/cache.js';

/**
 * The one answer to "is this stored token valid now, and if not, why": the bearer validator
 * (our APIs, the admin API) and the introspection endpoint both ask it, so a token is active at
 * introspection exactly when our own APIs accept it. Applications and users come from the registry
 * cache; the reasons application_inactive, user_inactive and wrong_audience are cache-derived
 * (registry/fresh-cache.ts decides them again on a fresh cache). Expiry is checked against the
 * clock on every call.
 */

export type TokenInvalidReason = 'token.revoked' | 'token.expired' | 'token.application_inactive' | 'token.wrong_audience' | 'token.user_inactive';

export type TokenVerdict =
  | { readonly valid: true; readonly app: Application; readonly user: User | undefined; readonly expiresAt: number }
  /** `rotated`: revoked because a refresh token was exchanged for a new one; `app` is set for wrong_audience (the application whose audience is another). */
  | { readonly valid: false; readonly reason: TokenInvalidReason; readonly rotated?: true; readonly app?: Application };

export interface TokenVerdictDeps {
  readonly cache: Pick<RegistryCache, 'applicationById' | 'userById' | 'peekApplicationById' | 'peekUserById'>;
  readonly clock: Clock;
}

export interface TokenVerdictOptions {
  /** An earlier end than the record's (a JWT's exp); the verdict's expiresAt is the earlier of both. */
  readonly notAfter?: number;
  /**
   * The resource server asking (RFC 9068 §4, RFC 8707): a token of an application whose audience
   * is another is refused as token.wrong_audience. Omitted: the audience is not checked.
   */
  readonly audience?: string;
}

export async function tokenVerdict(deps: TokenVerdictDeps, record: TokenRecord, options: TokenVerdictOptions = {}): Promise<TokenVerdict> {
  if (record.status !== 'active') return record.status === 'rotated' ? { valid: false, reason: 'token.revoked', rotated: true } : { valid: false, reason: 'token.revoked' };
  const expiresAt = options.notAfter === undefined ? record.expiresAt : Math.min(record.expiresAt, options.notAfter);
  if (expiresAt <= deps.clock.now()) return { valid: false, reason: 'token.expired' };
  const app = deps.cache.peekApplicationById(record.applicationId) ?? (await deps.cache.applicationById(record.applicationId));
  if (app === undefined || !app.active) return { valid: false, reason: 'token.application_inactive' };
  // A token issued for resources (RFC 8707) names its audience itself: the resource called decides (bearer.ts requireAudience).
  const bound = record.audience !== undefined && record.audience !== null && record.audience.length > 0;
  if (!bound && options.audience !== undefined && app.audience !== null && app.audience !== options.audience) return { valid: false, reason: 'token.wrong_audience', app };
  const user = record.userId === null ? undefined : (deps.cache.peekUserById(record.userId) ?? (await deps.cache.userById(record.userId)));
  if (record.userId !== null && (user === undefined || !user.active)) return { valid: false, reason: 'token.user_inactive' };
  return { valid: true, app, user, expiresAt };
}
