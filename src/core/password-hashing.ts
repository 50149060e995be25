import { availableParallelism } from 'node:os';
import { hashPassword, verifyPassword } from './crypto.js';
import { PasswordHashingBusy } from '../errors/password-refusal.js';

export { PasswordHashingBusy };

/**
 * Password hashing with bounded concurrency. scrypt (N=2^14, r=8: 16 MiB and ~50–80 ms of one core)
 * runs on libuv's thread pool, which has 4 threads by default: a flood of sign-ins would run four
 * at once, saturate a 2-core machine and starve the event loop that serves every other request
 * (the token endpoint first). So at most `concurrency` hashes run at once (half the cores, at least
 * one), a bounded queue waits behind them, and a check that finds the queue full is refused at
 * once ({@link PasswordHashingBusy}) instead of waiting: the caller answers 503 with Retry-After.
 *
 * Every verification goes through here, the dummy hash for unknown user names too, so an unknown
 * name waits in the same queue and takes the same time as an existing one (RFC 6749 §10.10).
 */

export interface PasswordHashingOptions {
  /** scrypt operations at once (default: half the cores, at least 1). */
  readonly concurrency?: number;
  /** Verifications that may wait behind the running ones before new ones are refused (default 16 per running slot). */
  readonly maxQueue?: number;
}

export function defaultHashingConcurrency(): number {
  return Math.max(1, Math.floor(availableParallelism() / 2));
}

/** The first guess of a verification's time, until one has been measured (scrypt here: 50–80 ms). */
const INITIAL_ESTIMATE_MS = 60;
/** Weight of the newest measurement in the moving average. */
const SMOOTHING = 0.2;

function average(current: number | undefined, sample: number): number {
  return current === undefined ? sample : current + SMOOTHING * (sample - current);
}

export class PasswordHasher {
  readonly concurrency: number;
  readonly maxQueue: number;
  private running = 0;
  private readonly waiting: Array<() => void> = [];
  /** Moving averages: from asking to answer (queueing included), and of the scrypt work alone. */
  private latencyMs: number | undefined;
  private workMs: number | undefined;

  constructor(options: PasswordHashingOptions = {}) {
    this.concurrency = Math.max(1, Math.floor(options.concurrency ?? defaultHashingConcurrency()));
    this.maxQueue = Math.max(0, Math.floor(options.maxQueue ?? 16 * this.concurrency));
  }

  /**
   * Verifies a password against a stored hash (null: an unknown user or a user without a password,
   * checked against a dummy hash so it costs the same). Rejects with PasswordHashingBusy when the
   * queue is full.
   */
  async verify(password: string, stored: string | null): Promise<boolean> {
    if (this.running >= this.concurrency && this.waiting.length >= this.maxQueue) {
      throw new PasswordHashingBusy(this.retryAfterSeconds(), this.concurrency, this.maxQueue);
    }
    const asked = performance.now();
    const ok = await this.run(async () => {
      const started = performance.now();
      const result = await verifyPassword(password, stored);
      this.workMs = average(this.workMs, performance.now() - started);
      return result;
    });
    this.latencyMs = average(this.latencyMs, performance.now() - asked);
    return ok;
  }

  /**
   * Hashes a new password (user create and update). It waits its turn like a verification but is
   * never refused: only administrators set passwords, and a refused change would be a failed command.
   */
  hash(password: string): Promise<string> {
    return this.run(() => hashPassword(password));
  }

  /**
   * How long an answer that needs a password check takes now, from asking to answer (queueing
   * included): what a refusal that skips the check waits, so its timing tells nothing (RFC 6749 §10.10).
   */
  typicalMs(): number {
    return this.latencyMs ?? INITIAL_ESTIMATE_MS;
  }

  /** Computes the dummy hash and a first measurement, so the first sign-in is not the one to pay. */
  async warmUp(): Promise<void> {
    await this.verify('', null);
  }

  /** Running and queued operations (for tests and diagnostics). */
  load(): { running: number; queued: number } {
    return { running: this.running, queued: this.waiting.length };
  }

  private retryAfterSeconds(): number {
    // The queue drains in about maxQueue / concurrency checks' time; at least a second (Retry-After is whole seconds).
    return Math.max(1, Math.ceil(((this.maxQueue / this.concurrency + 1) * (this.workMs ?? INITIAL_ESTIMATE_MS)) / 1000));
  }

  private async run<T>(work: () => Promise<T>): Promise<T> {
    if (this.running >= this.concurrency) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else this.running++;
    try {
      return await work();
    } finally {
      // Hand the slot straight to the next in line (running stays the same), or free it.
      const next = this.waiting.shift();
      if (next === undefined) this.running--;
      else next();
    }
  }
}
