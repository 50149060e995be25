import { isIP } from 'node:net';
import type { Clock } from '../core/clock.js';
import { PasswordHashingBusy, type PasswordHasher } from '../core/password-hashing.js';
import type { AttemptKey, AttemptRecord, Facts } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import type { RegistryCache } from './cache.js';
import type { PropertyValues } from './properties.js';
import { BUSY_MESSAGE, lockedOutMessage, type PasswordCheck } from '../errors/password-refusal.js';

export { BUSY_MESSAGE, lockedOutMessage, type PasswordCheck };

/**
 * The one rule for password checks (password grant, sign-in page, Basic on APIs), counted in
 * storage so every instance on the database sees the same counts (docs/lockout.md):
 *
 * - per user name and source: after `latchkey.password.lockout.threshold` failures within the
 *   window, that source waits 1 s before its next attempt for that name, doubling with each
 *   further failure, at most the window. Another source is not affected, so an anonymous caller
 *   cannot lock a user out of every address (RFC 6749 §10.10 asks for brute-force protection, not
 *   for a switch that anyone can flip);
 * - per user name: after `latchkey.password.lockout.user_threshold` failures from all sources
 *   within the window, only the right password from a source the user signed in from successfully
 *   in the last 30 days gets in, which caps a guesser spread over many addresses while the real
 *   user gets in as usual.
 *
 * Failures are recorded whether or not the user exists, and a refusal while throttled waits about
 * as long as a password check instead of hashing, so neither the answers nor their timing tell
 * which names exist. Failures are recorded only after a hash, so the table grows at most at the
 * hashing rate (bounded, core/password-hashing.ts), and rows expire after the window.
 *
 * Nothing that depends on the user existing changes the answer to an attempt that does not get in
 * (docs/security.md "Answers that tell nothing", docs/lockout.md): an inactive user's right
 * password is counted and answered as a wrong one, and while the per-user limit holds, every source
 * whose own wait is over is checked and counted alike, and every attempt that does not get in is
 * answered with the per-user lock, so a known source (which only an existing user has: behind a
 * proxy, every user's) is told from an unknown one only by getting in with the right password.
 */

/** A source a user signed in from counts as known for this long after the last success. */
export const KNOWN_SOURCE_TTL_MS = 30 * 24 * 60 * 60 * 1000;
/** No user name is longer than 100 characters (registry/users.ts); longer ones are kept this long, so a huge name costs a small row. */
const STORED_NAME_LENGTH = 101;

export interface PasswordGuardDeps {
  readonly storage: Pick<Storage, 'attempts'>;
  readonly cache: Pick<RegistryCache, 'userByName'>;
  readonly clock: Clock;
  readonly hasher: PasswordHasher;
  /** Waits before a throttled refusal (default setTimeout); tests may replace it. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/**
 * The source an attempt counts under: the IPv4 address, or an IPv6 address's /64 (one subscriber
 * gets a whole /64, so counting single IPv6 addresses would give an attacker 2^64 sources).
 * IPv4-mapped IPv6 (::ffff:192.0.2.1) counts as the IPv4 address.
 */
export function sourceOf(remoteAddress: string): string {
  const address = remoteAddress.split('%')[0] ?? '';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1] as string;
  if (isIP(address) !== 6) return address === '' ? 'unknown' : address;
  const [head = '', tail = ''] = address.toLowerCase().split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === '' ? [] : tail.split(':');
  const groups = address.includes('::') ? [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** The user name a record is kept under. */
export function storedName(userName: string): string {
  return userName.length > STORED_NAME_LENGTH ? userName.slice(0, STORED_NAME_LENGTH) : userName;
}

/** The limits in force, from the instance properties. */
export function lockoutLimits(props: PropertyValues) {
  const threshold = props['latchkey.password.lockout.threshold'];
  return {
    threshold,
    // Never below the pair threshold: a narrower user limit would make the pair limit pointless.
    userThreshold: Math.max(threshold, props['latchkey.password.lockout.user_threshold']),
    windowMs: props['latchkey.password.lockout.window_seconds'] * 1000,
  };
}
type Limits = ReturnType<typeof lockoutLimits>;

/** Until when a pair must wait: 1 s after the threshold-th failure, doubling, at most the window; 0 when it need not. */
export function pairLockedUntil(r: AttemptRecord, limits: Limits): number {
  if (r.failures < limits.threshold) return 0;
  const waitMs = Math.min(limits.windowMs, 1000 * 2 ** Math.min(30, r.failures - limits.threshold));
  // When the window that counted these failures is over, the count starts over (AttemptStore.fail).
  return Math.min(r.lastAt + waitMs, r.windowStart + limits.windowMs);
}

/** Until when new sources are refused for the user name; 0 when they are not. */
export function userLockedUntil(r: AttemptRecord, limits: Limits): number {
  return r.failures >= limits.userThreshold ? r.windowStart + limits.windowMs : 0;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The per-user limit while it holds: until when, and what the attempt is answered. */
interface UserLock {
  readonly until: number;
  readonly failures: number;
  readonly windowStart: number;
  readonly known: boolean;
}

export class PasswordGuard {
  private readonly sleep: (ms: number) => Promise<void>;
  constructor(private readonly deps: PasswordGuardDeps) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  /** Checks a presented user name and password from a remote address, under the rule above. */
  async check(userName: string, password: string, remoteAddress: string, props: PropertyValues): Promise<PasswordCheck> {
    const { deps } = this;
    const name = storedName(userName);
    const source = sourceOf(remoteAddress);
    const limits = lockoutLimits(props);
    const now = deps.clock.now();
    const records = await deps.storage.attempts.get(
      [{ kind: 'pair', userName: name, source }, { kind: 'user', userName: name, source: '' }, { kind: 'known', userName: name, source }],
      now,
    );
    const of = (kind: AttemptRecord['kind']) => records.find((r) => r.kind === kind);
    const pair = of('pair');
    const pairUntil = pair === undefined ? 0 : pairLockedUntil(pair, limits);
    if (pair !== undefined && pairUntil > now) {
      // As long as a password check would take, without the CPU: timing must not tell whether the name exists.
      await this.sleep(deps.hasher.typicalMs() * (0.9 + 0.2 * Math.random()));
      const hint = `Limit per user and source: ${pair.failures} failed attempts for ${name} from ${source} since ${iso(pair.windowStart)} (latchkey.password.lockout.threshold ${limits.threshold}); this source may try again at ${iso(pairUntil)}.`;
      return lockedOut(pairUntil, now, hint, { failures: pair.failures, threshold: limits.threshold, lockedUntil: iso(pairUntil), lockScope: 'source' });
    }
    const userRecord = of('user');
    const userUntil = userRecord === undefined ? 0 : userLockedUntil(userRecord, limits);
    const userLock: UserLock | undefined =
      userRecord !== undefined && userUntil > now ? { until: userUntil, failures: userRecord.failures, windowStart: userRecord.windowStart, known: of('known') !== undefined } : undefined;
    const user = await deps.cache.userByName(userName);
    let ok: boolean;
    try {
      ok = await deps.hasher.verify(password, user?.passwordHash ?? null);
    } catch (error) {
      if (error instanceof PasswordHashingBusy) {
        return { kind: 'busy', retryAfterSeconds: error.retryAfterSeconds, facts: { retryAfterSeconds: error.retryAfterSeconds, hashingConcurrency: error.concurrency, hashingQueue: error.maxQueue } };
      }
      throw error;
    }
    const at = deps.clock.now();
    // Only an active user's right password gets in, and while the per-user limit holds, only from a known source.
    if (user !== undefined && ok && user.active && (userLock === undefined || userLock.known)) {
      // A success forgets this source's failures and remembers the source; the user count stays.
      await deps.storage.attempts.succeed(name, source, at, KNOWN_SOURCE_TTL_MS);
      return { kind: 'ok', user };
    }
    const keys: AttemptKey[] = [{ kind: 'pair', userName: name, source }, { kind: 'user', userName: name, source: '' }];
    const counted = await deps.storage.attempts.fail(keys, at, limits.windowMs, limits.windowMs);
    const facts = failureFacts(counted, limits, user !== undefined);
    if (userLock !== undefined) {
      const from = userLock.known ? `${source} is a source it signed in from` : `${source} is not a source it signed in from in the last 30 days`;
      const what = user === undefined ? 'no user has this name' : !ok ? 'the password was wrong' : user.active ? 'the password was right' : 'the password was right, but the user is inactive';
      const hint = `Limit per user: ${userLock.failures} failed attempts for ${name} from all sources since ${iso(userLock.windowStart)} (latchkey.password.lockout.user_threshold ${limits.userThreshold}); ${from}, ${what}; new sources may try again at ${iso(userLock.until)}. The attempt was checked and counted (${failureCounts(counted, source, limits)}).`;
      return lockedOut(userLock.until, at, hint, { ...facts, failures: facts.userFailures ?? userLock.failures, threshold: limits.userThreshold, lockedUntil: iso(userLock.until), lockScope: 'user' });
    }
    if (user !== undefined && ok) {
      return { kind: 'inactive', hint: `User ${user.userName} is inactive; the password was right, and counted as a failure so that the answer tells nothing. ${failureCounts(counted, source, limits)}`, facts: { ...facts, userActive: false } };
    }
    return { kind: 'bad_credentials', hint: failureHint(counted, source, limits, user === undefined), facts };
  }
}

function lockedOut(until: number, now: number, hint: string, facts: Facts): PasswordCheck {
  return { kind: 'locked_out', retryAfterSeconds: secondsUntil(until, now), hint, facts };
}

/** The counts after a failure, as facts: this source's (failures / threshold), all sources' (userFailures / userThreshold), the wait. */
function failureFacts(records: readonly AttemptRecord[], limits: Limits, userExists: boolean): Facts {
  const pair = records.find((r) => r.kind === 'pair');
  const user = records.find((r) => r.kind === 'user');
  const until = pair === undefined ? 0 : pairLockedUntil(pair, limits);
  return {
    userExists,
    failures: pair?.failures ?? 1,
    threshold: limits.threshold,
    userFailures: user?.failures ?? 1,
    userThreshold: limits.userThreshold,
    lockedUntil: until > 0 ? iso(until) : null,
  };
}

function secondsUntil(until: number, now: number): number {
  return Math.max(1, Math.ceil((until - now) / 1000));
}

function failureCounts(records: readonly AttemptRecord[], source: string, limits: Limits): string {
  const pair = records.find((r) => r.kind === 'pair');
  const user = records.find((r) => r.kind === 'user');
  return `Failure ${pair?.failures ?? 1} from ${source} (threshold ${limits.threshold}) and ${user?.failures ?? 1} from all sources (user_threshold ${limits.userThreshold}) within ${limits.windowMs / 1000} s.`;
}

function failureHint(records: readonly AttemptRecord[], source: string, limits: Limits, unknownUser: boolean): string {
  const pair = records.find((r) => r.kind === 'pair');
  const parts = [unknownUser ? 'No user has this name (counted all the same, so the answers do not tell).' : 'Wrong password.', failureCounts(records, source, limits)];
  const until = pair === undefined ? 0 : pairLockedUntil(pair, limits);
  if (until > 0) parts.push(`This source must wait until ${iso(until)}.`);
  return parts.join(' ');
}
