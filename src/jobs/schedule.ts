import type { Logger } from '../core/logger.js';

/** A scheduled background job (jobs/cleanup.ts, jobs/rotate-keys.ts). */
export interface JobSchedule {
  /** Stops scheduling and waits for a run in progress to finish. */
  stop(): Promise<void>;
}

export interface JobTiming {
  /** Delay before the first run (ms). */
  readonly firstRunMs: number;
  /** Delay between the end of one run and the start of the next (ms). */
  readonly intervalMs: number;
  /** Each delay is stretched by up to this fraction at random, so instances drift apart. */
  readonly jitter: number;
}

/**
 * Runs `run` after `firstRunMs`, then `intervalMs` after each run ends, every delay jittered. A
 * failed run is logged as a warning (`failed`, with the job's name) and retried at the next
 * interval; it never throws into the process. Timers are unref'd: a schedule never keeps the
 * process alive.
 */
export function scheduleJob(job: string, run: () => Promise<unknown>, timing: JobTiming, logger: Pick<Logger, 'warn'>, failed: string): JobSchedule {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;
  const later = (ms: number): void => {
    if (stopped) return;
    timer = setTimeout(tick, Math.round(ms * (1 + Math.random() * timing.jitter)));
    timer.unref();
  };
  function tick(): void {
    running = run()
      .then(
        () => undefined,
        (error: unknown) => {
          logger.warn({ job, err: error instanceof Error ? error.message : String(error) }, failed);
        },
      )
      .finally(() => {
        running = undefined;
        later(timing.intervalMs);
      });
  }
  later(timing.firstRunMs);
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
