import type { OAuthError } from '../errors/oauth-error.js';
import type { Logger } from '../core/logger.js';
import type { Refusal } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { bucketOf } from './activity.js';

export interface RefusalInput {
  readonly requestId: string;
  readonly endpoint: string;
  readonly remoteAddress: string;
  readonly error: OAuthError;
  readonly clientId?: string | undefined;
  readonly applicationName?: string | undefined;
  readonly userName?: string | undefined;
  /**
   * Whether the caller proved a credential before being refused (a client that authenticated, a
   * valid token refused for its scope, a signed-in user). Refusals of callers that did not are
   * kept one by one only up to a budget per minute (see createRefusalRecorder).
   */
  readonly authenticated?: boolean | undefined;
  /** A "would refuse" record: the report-only rule that would have refused this (successful) request. */
  readonly ruleId?: string | undefined;
}

export interface RefusalRecorder {
  record(input: RefusalInput): Promise<void>;
}

/** The property that sets the budget of unauthenticated refusals recorded one by one, per minute and instance. */
export const ANONYMOUS_BUDGET_PROPERTY = 'latchkey.refusals.anonymous_per_minute';
/** Prefix of the activity rows that count refusals over the budget: `refusals.unrecorded|<endpoint>|<reason>|<source>`. */
export const UNRECORDED_PREFIX = 'refusals.unrecorded|';
/** Distinct (endpoint, reason, source) counters per minute and instance; beyond, the source is counted as 'other'. */
export const UNRECORDED_KEYS_PER_MINUTE = 100;

/** Where the counts of refusals over the budget go (audit/activity.ts ActivityCounter). */
export interface RefusalCounts {
  countMetric(metric: string, n?: number): void;
}

export interface RefusalRecorderDeps {
  readonly storage: Pick<Storage, 'refusals'>;
  readonly logger: Logger;
  readonly clock: { now(): number };
  /** The budget now (the property); unset: every refusal is recorded (unit tests, tools). */
  readonly budget?: () => number;
  readonly counts?: RefusalCounts;
  /** Told of every refusal, recorded one by one or only counted (the metrics: refusals by reason code). Synchronous. */
  readonly observe?: (endpoint: string, reason: string) => void;
}

function clip(value: string | undefined, max: number): string | null {
  if (value === undefined) return null;
  return value.length > max ? value.slice(0, max) : value;
}

/** The metric of an unrecorded refusal; its parts cannot contain the separator (ours, or clipped addresses). */
export function unrecordedMetric(endpoint: string, reason: string, source: string): string {
  return `${UNRECORDED_PREFIX}${endpoint.replaceAll('|', '/')}|${reason}|${source.replaceAll('|', '/').slice(0, 100)}`;
}

/** The parts of an unrecorded-refusal metric, or undefined for any other metric. */
export function parseUnrecordedMetric(metric: string): { endpoint: string; reason: string; source: string } | undefined {
  if (!metric.startsWith(UNRECORDED_PREFIX)) return undefined;
  const [endpoint, reason, source] = metric.slice(UNRECORDED_PREFIX.length).split('|');
  return endpoint === undefined || reason === undefined || source === undefined ? undefined : { endpoint, reason, source };
}

/**
 * The per-minute budget of unauthenticated refusals, for one instance. Anyone can send requests
 * that are refused before they authenticate (a random client id, a garbage token), as fast as the
 * network allows: recording each would let them fill the disk (measured before this change: 240k
 * rows a minute). Up to the budget they are recorded one by one (so `latchkey explain` finds the
 * ordinary misconfigured client); past it, in the same minute, they are only counted per endpoint,
 * reason and source address, in the activity counters; the first refusal of a later minute logs
 * one line saying how many the last minute counted.
 */
class AnonymousBudget {
  private minute = -1;
  private used = 0;
  private keys = new Set<string>();
  private over = 0;

  constructor(private readonly deps: RefusalRecorderDeps & { budget: () => number; counts: RefusalCounts }) {}

  /** True when this refusal may be recorded one by one; false when it was counted instead. */
  take(input: RefusalInput, now: number): boolean {
    const minute = bucketOf(now);
    if (minute !== this.minute) this.rollOver(minute);
    if (this.used < this.deps.budget()) {
      this.used++;
      return true;
    }
    let metric = unrecordedMetric(input.endpoint, input.error.reason, input.remoteAddress);
    if (!this.keys.has(metric)) {
      if (this.keys.size >= UNRECORDED_KEYS_PER_MINUTE) metric = unrecordedMetric(input.endpoint, input.error.reason, 'other');
      else this.keys.add(metric);
    }
    this.deps.counts.countMetric(metric);
    this.over++;
    return false;
  }

  private rollOver(minute: number): void {
    if (this.over > 0) {
      this.deps.logger.warn(
        { unrecorded: this.over, budget: this.deps.budget(), minute: new Date(this.minute).toISOString() },
        `${this.over} unauthenticated refusals over the per-minute budget were counted, not recorded one by one (${ANONYMOUS_BUDGET_PROPERTY})`,
      );
    }
    this.minute = minute;
    this.used = 0;
    this.over = 0;
    this.keys = new Set();
  }
}

/**
 * Records refusals (storage, for `latchkey explain`) and logs each recorded one as one JSON line.
 * Neither holds a secret or a token: only ids, names, the reason and the client-safe description.
 * Refusals of callers that proved a credential are always recorded, but for rate-limit refusals;
 * the others within a budget per minute (AnonymousBudget), so anonymous traffic (or a client
 * flooding past its rate limit) cannot grow the database without bound.
 */
export function createRefusalRecorder(deps: RefusalRecorderDeps): RefusalRecorder {
  const budget = deps.budget !== undefined && deps.counts !== undefined ? new AnonymousBudget({ ...deps, budget: deps.budget, counts: deps.counts }) : undefined;
  return {
    async record(input) {
      const at = deps.clock.now();
      // A "would refuse" record is no refusal (the request succeeded): /metrics does not count it.
      if (input.ruleId === undefined) deps.observe?.(input.endpoint, input.error.reason);
      // A client over its rate limit (429) may keep sending thousands a second, authenticated or not:
      // those refusals share the budget of the unauthenticated ones.
      const budgeted = input.authenticated !== true || input.error.status === 429;
      if (budgeted && budget !== undefined && !budget.take(input, at)) return;
      const refusal: Refusal = {
        requestId: input.requestId,
        at,
        endpoint: input.endpoint,
        status: input.error.status,
        error: input.error.error,
        reason: input.error.reason,
        description: input.error.description,
        hint: clip(input.error.hint, 1000),
        // A client id comes from the caller: clip it so a huge one cannot bloat the table or the log.
        clientId: clip(input.clientId, 200),
        applicationName: clip(input.applicationName, 200),
        userName: clip(input.userName, 200),
        remoteAddress: clip(input.remoteAddress, 100),
        facts: input.error.facts ?? null,
        ruleId: input.ruleId ?? null,
      };
      deps.logger.info(
        { requestId: refusal.requestId, endpoint: refusal.endpoint, status: refusal.status, error: refusal.error, reason: refusal.reason, clientId: refusal.clientId, userName: refusal.userName, remoteAddress: refusal.remoteAddress, ...(refusal.ruleId === null ? {} : { ruleId: refusal.ruleId }) },
        refusal.ruleId === null ? 'request refused' : 'request would be refused by a report-only rule',
      );
      try {
        await deps.storage.refusals.record(refusal);
      } catch (error) {
        deps.logger.error({ requestId: refusal.requestId, err: error }, 'could not record refusal');
      }
    },
  };
}
