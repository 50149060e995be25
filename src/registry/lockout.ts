import type { PropertyValues } from './properties.js';

interface Entry {
  failures: number;
  windowStart: number;
  lockedUntil: number;
}

/**
 * Failed-password lockout, per user name, so a password grant (or Basic auth on an API) cannot be
 * used to guess passwords. Only existing users are tracked, and the table is bounded, so random
 * user names cannot grow it. Per process: each instance counts its own attempts.
 */
export class PasswordLockout {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly maxEntries = 100_000) {}

  isLocked(userName: string, now: number): boolean {
    const e = this.entries.get(userName);
    return e !== undefined && e.lockedUntil > now;
  }

  recordFailure(userName: string, now: number, props: PropertyValues): void {
    const windowMs = props['latchkey.password.lockout.window_seconds'] * 1000;
    const threshold = props['latchkey.password.lockout.threshold'];
    let e = this.entries.get(userName);
    if (e === undefined || now - e.windowStart > windowMs) {
      if (e === undefined && this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next().value;
        if (oldest !== undefined) this.entries.delete(oldest);
      }
      e = { failures: 0, windowStart: now, lockedUntil: 0 };
      this.entries.set(userName, e);
    }
    e.failures++;
    if (e.failures >= threshold) e.lockedUntil = now + windowMs;
  }

  reset(userName: string): void {
    this.entries.delete(userName);
  }
}
