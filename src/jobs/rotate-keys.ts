import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { ACCESS_TIMELINE, newest, onTimeline, timelinesOf, type Keyring, type Timeline } from '../keys/keyring.js';
import type { RegistryCache } from '../registry/cache.js';
import type { SigningKey } from '../domain/model.js';
import { scheduleJob, type JobSchedule } from './schedule.js';

/**
 * Scheduled signing-key rotation. Every instance checks periodically whether the newest signing
 * key has been signing for `latchkey.keys.rotation_days` (default 90; 0 turns this off) and, if so,
 * rotates under the keys lock; the due-check is repeated inside the lock on a fresh read, so
 * instances that find the key due at the same time rotate once.
 *
 * A scheduled rotation publishes the new key a day before it signs (SCHEDULED_PREPUBLISH_MS):
 * nothing waits for it, so it can give resource servers that cache our JWKS far longer than the
 * max-age we send a whole day to pick the key up.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;
export const SCHEDULED_PREPUBLISH_MS = DAY;
export const ROTATION_PROPERTY = 'latchkey.keys.rotation_days';

export interface KeyRotationOptions {
  /** Time between checks (default one hour). */
  readonly intervalMs?: number;
  /** Delay before the first check (default two minutes). */
  readonly firstRunMs?: number;
  /** Each delay is stretched by up to this fraction, at random (default 0.1). */
  readonly jitter?: number;
}

export interface KeyRotationDeps {
  readonly keyring: Pick<Keyring, 'rotate' | 'canSign' | 'keys'>;
  readonly cache: Pick<RegistryCache, 'properties'>;
  readonly clock: Clock;
  readonly logger: Logger;
}

export type KeyRotationResult =
  | { readonly rotated: true; readonly kid: string; readonly activatesAt: number }
  | { readonly rotated: false; readonly reason: 'disabled' | 'not_due' | 'running_elsewhere' | 'no_kek' };

/**
 * Whether the newest key of a timeline (default: the access-token keys) has been signing for
 * `days` days at `now` (false when a next key is already waiting).
 */
export function rotationDue(keys: readonly SigningKey[], now: number, days: number, timeline: Timeline = ACCESS_TIMELINE): boolean {
  if (days <= 0) return false;
  const key = newest(onTimeline(keys, timeline));
  return key !== undefined && key.activatesAt <= now && now - key.activatesAt >= days * DAY;
}

/** One check (and rotation when due); logs what it did. Rejects when storage fails. */
export async function runKeyRotation(deps: KeyRotationDeps): Promise<KeyRotationResult> {
  if (!deps.keyring.canSign) return { rotated: false, reason: 'no_kek' };
  const days = (await deps.cache.properties())[ROTATION_PROPERTY];
  if (days <= 0) return { rotated: false, reason: 'disabled' };
  // The ID token keys (one timeline per algorithm, keys/keyring.ts) rotate on the same schedule.
  for (const timeline of timelinesOf(await deps.keyring.keys())) {
    if (timeline.purpose === 'access') continue;
    const turned = await deps.keyring.rotate({ timeline, prepublishMs: SCHEDULED_PREPUBLISH_MS, when: (keys, now) => rotationDue(keys, now, days, timeline) });
    if (turned.rotated) {
      deps.logger.info({ job: 'rotate-keys', kid: turned.key.kid, alg: turned.key.alg, purpose: 'id_token', activatesAt: new Date(turned.key.activatesAt).toISOString(), retired: turned.retired.map((k) => k.kid), rotationDays: days }, 'ID token signing key rotated on schedule');
    }
  }
  const outcome = await deps.keyring.rotate({ prepublishMs: SCHEDULED_PREPUBLISH_MS, when: (keys, now) => rotationDue(keys, now, days) });
  if (!outcome.rotated) return { rotated: false, reason: outcome.reason };
  const result = { rotated: true, kid: outcome.key.kid, activatesAt: outcome.key.activatesAt } as const;
  deps.logger.info(
    { job: 'rotate-keys', kid: result.kid, alg: outcome.key.alg, activatesAt: new Date(result.activatesAt).toISOString(), retired: outcome.retired.map((k) => k.kid), rotationDays: days },
    'signing key rotated on schedule; the new key is published now and signs from activatesAt',
  );
  return result;
}

export type KeyRotationSchedule = JobSchedule;

/** Checks shortly after start, then every interval (jittered). A failed check is logged and retried next time. */
export function scheduleKeyRotation(deps: KeyRotationDeps, options: KeyRotationOptions = {}): KeyRotationSchedule {
  const timing = { firstRunMs: options.firstRunMs ?? 2 * MINUTE, intervalMs: options.intervalMs ?? HOUR, jitter: options.jitter ?? 0.1 };
  return scheduleJob('rotate-keys', () => runKeyRotation(deps), timing, deps.logger, 'signing key rotation check failed; retrying at the next interval');
}
