import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { Storage } from '../storage/types.js';
import { reapRegistrations } from '../registry/registration.js';
import { scheduleJob, type JobSchedule } from './schedule.js';

/**
 * Scheduled clean-up: deletes tokens and authorization codes that expired more than a grace period
 * ago, one-time ids (client-assertion jti) that expired, signing keys no longer published, and
 * refusal records older than the retention, audit entries older than a year, activity counters
 * older than 30 days (the console charts show at most a week), per-application usage older than 90
 * days (posture reads 30; dormancy at most 90), and expired password-attempt counts
 * (registry/lockout.ts: each expires one lockout window after its last failure), and dynamically
 * registered clients unused for latchkey.registration.reap_after_days (registry/registration.ts). Every instance schedules it; `Storage.tryExclusive` makes sure only one
 * instance at a time does the work (the others log that they skipped), and the deletes are
 * idempotent, so an instance that runs just after another finds (almost) nothing left to delete.
 */

export const CLEANUP_JOB = 'latchkey.cleanup';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export interface CleanupOptions {
  /** Time between runs (default one hour). */
  readonly intervalMs?: number;
  /** Delay before the first run (default one minute), so a start-up is not slowed by it. */
  readonly firstRunMs?: number;
  /** Each delay is stretched by up to this fraction, at random (default 0.1), so instances started together spread out. */
  readonly jitter?: number;
  /** Tokens are deleted this long after they expire (default one day): a token that just expired still explains itself as expired rather than unknown. */
  readonly tokenGraceMs?: number;
  /** Refusal records are kept this long (default 30 days) for `latchkey explain`. */
  readonly refusalRetentionMs?: number;
  /** Audit log entries are kept this long (default 365 days): a year of who changed what. */
  readonly auditRetentionMs?: number;
  /** Per-minute activity counters are kept this long (default 30 days). */
  readonly activityRetentionMs?: number;
  /** Per-application usage by day is kept this long (default 90 days: latchkey.posture.dormant_days at most). */
  readonly usageRetentionMs?: number;
}

export const CLEANUP_DEFAULTS = {
  intervalMs: HOUR,
  firstRunMs: MINUTE,
  jitter: 0.1,
  tokenGraceMs: DAY,
  refusalRetentionMs: 30 * DAY,
  auditRetentionMs: 365 * DAY,
  activityRetentionMs: 30 * DAY,
  usageRetentionMs: 90 * DAY,
} as const satisfies Required<CleanupOptions>;

export interface CleanupDeps {
  readonly storage: Pick<Storage, 'tokens' | 'refusals' | 'codes' | 'replay' | 'keys' | 'tryExclusive'> & Partial<Pick<Storage, 'deviceCodes' | 'audit' | 'activity' | 'usage' | 'attempts' | 'sessions' | 'registrations' | 'applications' | 'properties' | 'pushedRequests'>>;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** What one attempt did: the counts when it ran, or `skipped` when another instance was running it. */
export type CleanupResult =
  | {
      readonly ran: true;
      readonly tokensDeleted: number;
      readonly refusalsDeleted: number;
      readonly codesDeleted: number;
      readonly oneTimeIdsDeleted: number;
      /** Device authorizations (RFC 8628) expired before the token grace. */
      readonly deviceCodesDeleted: number;
      readonly keysDeleted: number;
      readonly auditDeleted: number;
      readonly activityDeleted: number;
      readonly usageDeleted: number;
      readonly attemptsDeleted: number;
      readonly sessionsDeleted: number;
      /** Dynamically registered clients, and never-used client ID metadata document applications, deleted for being unused (latchkey.registration.reap_after_days). */
      readonly registrationsReaped: number;
      /** RFC 9126 pushed authorization requests past their expiry (used or not). */
      readonly pushedRequestsDeleted: number;
      readonly durationMs: number;
    }
  | { readonly ran: false; readonly reason: 'running_elsewhere' };

/** Runs the clean-up once (if no other instance is running it) and logs one JSON line about it. Rejects when storage fails. */
export async function runCleanup(deps: CleanupDeps, options: CleanupOptions = {}): Promise<CleanupResult> {
  const tokenGraceMs = options.tokenGraceMs ?? CLEANUP_DEFAULTS.tokenGraceMs;
  const refusalRetentionMs = options.refusalRetentionMs ?? CLEANUP_DEFAULTS.refusalRetentionMs;
  const auditRetentionMs = options.auditRetentionMs ?? CLEANUP_DEFAULTS.auditRetentionMs;
  const activityRetentionMs = options.activityRetentionMs ?? CLEANUP_DEFAULTS.activityRetentionMs;
  const usageRetentionMs = options.usageRetentionMs ?? CLEANUP_DEFAULTS.usageRetentionMs;
  const work = async (): Promise<CleanupResult> => {
    const started = deps.clock.now();
    const tokensDeleted = await deps.storage.tokens.deleteExpired(started - tokenGraceMs);
    const refusalsDeleted = await deps.storage.refusals.deleteOlderThan(started - refusalRetentionMs);
    // Codes get the tokens' grace: while a used code is kept, presenting it again is still seen as a
    // reuse (which revokes what it issued) rather than as an unknown code.
    const codesDeleted = await deps.storage.codes.deleteExpired(started - tokenGraceMs);
    // An expired one-time id protects nothing: its assertion is refused as expired anyway.
    const oneTimeIdsDeleted = await deps.storage.replay.deleteExpired(started);
    // An expired device authorization answers expired_token for the token grace, then is unknown.
    const deviceCodesDeleted = (await deps.storage.deviceCodes?.deleteExpired(started - tokenGraceMs)) ?? 0;
    // Keys past their publication time verify nothing any more (see SigningKey).
    const keysDeleted = await deps.storage.keys.deleteUnpublished(started);
    const auditDeleted = (await deps.storage.audit?.deleteOlderThan(started - auditRetentionMs)) ?? 0;
    const activityDeleted = (await deps.storage.activity?.deleteOlderThan(started - activityRetentionMs)) ?? 0;
    const usageDeleted = (await deps.storage.usage?.deleteOlderThan(started - usageRetentionMs)) ?? 0;
    // An expired count is already ignored by every check; deleting it keeps the table to live attempts.
    const attemptsDeleted = (await deps.storage.attempts?.deleteExpired(started)) ?? 0;
    // Sessions that ended (expired or signed out) a day ago: kept that long so a late request is told its session ended.
    const sessionsDeleted = (await deps.storage.sessions?.deleteExpired(started - DAY)) ?? 0;
    // A pushed request past its expiry is refused as expired anyway; kept the tokens' grace, so a late use is told it expired (or was used).
    const pushedRequestsDeleted = (await deps.storage.pushedRequests?.deleteExpired(started - tokenGraceMs)) ?? 0;
    // Registered clients nobody used for the period (before usage older than its retention goes: the reaper reads it).
    const { registrations, usage, applications, properties } = deps.storage;
    const registrationsReaped =
      registrations !== undefined && usage !== undefined && applications !== undefined && properties !== undefined
        ? (await reapRegistrations({ storage: { registrations, usage, applications, properties, tokens: deps.storage.tokens, ...(deps.storage.audit === undefined ? {} : { audit: deps.storage.audit }) }, clock: deps.clock, actor: 'system' })).deleted
        : 0;
    return { ran: true, tokensDeleted, refusalsDeleted, codesDeleted, oneTimeIdsDeleted, deviceCodesDeleted, keysDeleted, auditDeleted, activityDeleted, usageDeleted, attemptsDeleted, sessionsDeleted, registrationsReaped, pushedRequestsDeleted, durationMs: Math.max(0, deps.clock.now() - started) };
  };
  const outcome = deps.storage.tryExclusive === undefined ? await work() : await deps.storage.tryExclusive(CLEANUP_JOB, work);
  const result: CleanupResult = outcome ?? { ran: false, reason: 'running_elsewhere' };
  if (result.ran) {
    deps.logger.info({ job: 'cleanup', ...result, tokenGraceMs, refusalRetentionMs, auditRetentionMs, activityRetentionMs, usageRetentionMs }, 'clean-up finished');
  } else {
    deps.logger.info({ job: 'cleanup', ...result }, 'clean-up skipped: another instance is running it');
  }
  return result;
}

export type CleanupSchedule = JobSchedule;

/**
 * Runs the clean-up shortly after start and then on an interval, each delay jittered. A failed run
 * (storage unavailable, say) is logged as a warning and retried at the next interval; it never
 * throws into the process.
 */
export function scheduleCleanup(deps: CleanupDeps, options: CleanupOptions = {}): CleanupSchedule {
  const timing = {
    firstRunMs: options.firstRunMs ?? CLEANUP_DEFAULTS.firstRunMs,
    intervalMs: options.intervalMs ?? CLEANUP_DEFAULTS.intervalMs,
    jitter: options.jitter ?? CLEANUP_DEFAULTS.jitter,
  };
  return scheduleJob('cleanup', () => runCleanup(deps, options), timing, deps.logger, 'clean-up failed; retrying at the next interval');
}
