import { recordChange, type AuditDeps } from '../audit/log.js';
import type { AttemptRecord } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { lockoutLimits, pairLockedUntil, userLockedUntil } from './lockout.js';
import { resolveProperties } from './properties.js';

/**
 * What an administrator sees of the password lockout (registry/lockout.ts) and the one thing they
 * may do about it: clear a user name's counts. Served by `latchkey users locks|unlock`, the admin
 * API (/locks, /users/:userName/lock) and the console's Users page.
 */

export interface LockView {
  /** `pair`: one user name from one source; `user`: one user name from every source. */
  readonly kind: 'pair' | 'user';
  /** As presented, existing or not. */
  readonly userName: string;
  /** The source address (an IPv6 address by its /64); null for `user`. */
  readonly source: string | null;
  readonly failures: number;
  readonly windowStart: number;
  readonly lastFailureAt: number;
  /**
   * Until when attempts are refused: this source's (pair), or new sources' (user); null while the
   * failures are counted but below the limit.
   */
  readonly lockedUntil: number | null;
  /** When the record is forgotten. */
  readonly expiresAt: number;
}

type LockDeps = { readonly storage: Pick<Storage, 'attempts' | 'properties'>; readonly clock: { now(): number } };

function view(r: AttemptRecord, limits: ReturnType<typeof lockoutLimits>, now: number): LockView {
  const until = r.kind === 'pair' ? pairLockedUntil(r, limits) : userLockedUntil(r, limits);
  return {
    kind: r.kind === 'pair' ? 'pair' : 'user',
    userName: r.userName,
    source: r.kind === 'pair' ? r.source : null,
    failures: r.failures,
    windowStart: r.windowStart,
    lastFailureAt: r.lastAt,
    lockedUntil: until > now ? until : null,
    expiresAt: r.expiresAt,
  };
}

/** The current failure counts, most recent first (at most `limit`, default 100), with what they lock. */
export async function listLocks(deps: LockDeps, options: { limit?: number; lockedOnly?: boolean } = {}): Promise<LockView[]> {
  const now = deps.clock.now();
  const limits = lockoutLimits(resolveProperties(await deps.storage.properties.list()));
  const views = (await deps.storage.attempts.list(now, options.limit ?? 100)).map((r) => view(r, limits, now));
  return options.lockedOnly === true ? views.filter((v) => v.lockedUntil !== null) : views;
}

/**
 * Clears a user name's failure counts (every source, and the per-user count), so it may try again
 * at once from anywhere. The sources it signed in from stay known. Audited as `user.unlock`.
 */
export async function unlockUser(deps: LockDeps & AuditDeps, userName: string): Promise<{ cleared: number; locks: LockView[] }> {
  const before = (await listLocks(deps, { limit: 1000 })).filter((v) => v.userName === userName);
  const cleared = await deps.storage.attempts.clear(userName);
  await recordChange(deps, {
    action: 'user.unlock',
    target: userName,
    before: { records: cleared, locks: before.map((v) => ({ kind: v.kind, source: v.source, failures: v.failures, lockedUntil: v.lockedUntil })) },
    after: { records: 0 },
  });
  return { cleared, locks: before };
}
