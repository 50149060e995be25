/**
 * "Would refuse" records of report-only rules (src/registry/rules.ts). A reporting rule sits on the
 * hot path of every request it covers, and may match every one of them (a required scope nobody
 * has yet): so each match is only counted in memory (the activity counters, flushed once a minute:
 * `rules.would_refuse|<rule id>|<client id>`), and a bounded number per minute is kept one by one
 * with its full explanation: the first match of each rule and client every minute (at most
 * PAIRS_PER_MINUTE pairs), then more within latchkey.rules.report_per_minute, at most
 * PER_RULE_CLIENT_PER_MINUTE per rule and client (so one busy client cannot hide the others).
 * Keeping one never delays the request: it is written after the answer is on its way.
 */
import type { Facts } from '../domain/model.js';
import type { Logger } from '../core/logger.js';
import type { OAuthError } from '../errors/oauth-error.js';
import { bucketOf } from './activity.js';
import type { RefusalCounts, RefusalInput, RefusalRecorder } from './refusals.js';

/** Prefix of the activity rows counting "would refuse" matches: `rules.would_refuse|<rule id>|<client id or ->`. */
export const WOULD_REFUSE_PREFIX = 'rules.would_refuse|';
/** The most records kept one by one per minute for one (rule, client). */
export const PER_RULE_CLIENT_PER_MINUTE = 5;
/** Distinct (rule, client) pairs remembered per minute; beyond, the client counts as '-'. */
const PAIRS_PER_MINUTE = 200;

export function wouldRefuseMetric(ruleId: string, clientId: string | undefined): string {
  return `${WOULD_REFUSE_PREFIX}${ruleId}|${(clientId ?? '-').replaceAll('|', '/').slice(0, 200)}`;
}

/** The parts of a would-refuse metric, or undefined for any other metric. */
export function parseWouldRefuseMetric(metric: string): { ruleId: string; clientId: string | null } | undefined {
  if (!metric.startsWith(WOULD_REFUSE_PREFIX)) return undefined;
  const rest = metric.slice(WOULD_REFUSE_PREFIX.length);
  const bar = rest.indexOf('|');
  if (bar === -1) return undefined;
  const clientId = rest.slice(bar + 1);
  return { ruleId: rest.slice(0, bar), clientId: clientId === '-' ? null : clientId };
}

/** The id of a "would refuse" record: `<request id>~<rule id>`. */
export function wouldRefuseRequestId(requestId: string, ruleId: string): string {
  return `${requestId}~${ruleId}`;
}

/** What a rule would have refused: the request, who sent it, the refusal it would have been. */
export interface WouldRefuse {
  readonly ruleId: string;
  readonly requestId: string;
  readonly endpoint: string;
  readonly remoteAddress: string;
  readonly error: OAuthError;
  readonly clientId?: string | undefined;
  readonly applicationName?: string | undefined;
  readonly userName?: string | undefined;
}

export interface WouldRefuseDeps {
  readonly refusals: RefusalRecorder;
  readonly counts: RefusalCounts;
  readonly clock: { now(): number };
  readonly logger: Logger;
  /** Records kept one by one per minute and instance (the property). */
  readonly perMinute: () => number;
}

export class WouldRefuseReporter {
  private minute = -1;
  private kept = 0;
  private readonly pairs = new Map<string, number>();

  constructor(private readonly deps: WouldRefuseDeps) {}

  /** Metric names by rule and client, made once (report runs on every matching request). */
  private metrics = new Map<string, Map<string, string>>();

  private metricOf(ruleId: string, clientId: string | undefined): string {
    let byClient = this.metrics.get(ruleId);
    if (byClient === undefined) {
      if (this.metrics.size >= 1000) this.metrics = new Map();
      this.metrics.set(ruleId, (byClient = new Map()));
    }
    const key = clientId ?? '';
    let metric = byClient.get(key);
    if (metric === undefined) {
      if (byClient.size >= 10_000) byClient.clear();
      byClient.set(key, (metric = wouldRefuseMetric(ruleId, clientId)));
    }
    return metric;
  }

  /**
   * Counts a match of rule `ruleId` by `clientId`; when it is to be kept one by one (the budgets),
   * builds it (`build`: the refusal it would have been, made only then) with the facts `more` adds
   * (they may read storage). Synchronous for the caller: nothing is awaited.
   */
  report(ruleId: string, clientId: string | undefined, build: () => WouldRefuse, more?: (error: OAuthError) => Promise<Facts>): void {
    const metric = this.metricOf(ruleId, clientId);
    this.deps.counts.countMetric(metric);
    const now = this.deps.clock.now();
    const minute = bucketOf(now);
    if (minute !== this.minute) {
      this.minute = minute;
      this.kept = 0;
      this.pairs.clear();
    }
    const budget = this.deps.perMinute();
    if (budget <= 0) return;
    const seen = this.pairs.get(metric) ?? 0;
    if (seen >= PER_RULE_CLIENT_PER_MINUTE) return;
    // The first match of each rule and client in the minute is kept whatever the budget (so a new
    // rule always shows whom it would refuse, with an explanation); the next ones within it.
    if (seen === 0 ? this.pairs.size >= PAIRS_PER_MINUTE : this.kept >= budget) return;
    this.pairs.set(metric, seen + 1);
    this.kept++;
    void this.keep(build, more);
  }

  private async keep(build: () => WouldRefuse, more: ((error: OAuthError) => Promise<Facts>) | undefined): Promise<void> {
    let match: WouldRefuse | undefined;
    try {
      match = build();
      const built = match;
      const facts = more === undefined ? {} : await more(built.error).catch(() => ({}));
      const input: RefusalInput = {
        // One request may match several rules, and be refused for real by an enforced one: each
        // record has its own id, the request's id and the rule's (`latchkey explain` takes it whole).
        requestId: wouldRefuseRequestId(match.requestId, match.ruleId),
        endpoint: match.endpoint,
        remoteAddress: match.remoteAddress,
        error: match.error.withFacts({ ...facts, rule: match.ruleId }),
        clientId: match.clientId,
        applicationName: match.applicationName,
        userName: match.userName,
        authenticated: true,
        ruleId: match.ruleId,
      };
      await this.deps.refusals.record(input);
    } catch (error) {
      this.deps.logger.error({ requestId: match?.requestId, err: error }, 'could not keep a "would refuse" record');
    }
  }
}
