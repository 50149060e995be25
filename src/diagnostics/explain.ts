/**
 * The explanation of one refusal (or "would refuse" record): the catalogue's rule (what happened,
 * the setting) with the facts of this case and a fix generated from the live configuration. One
 * builder for every surface: `latchkey explain` (plain and --json), the admin API
 * (GET /refusals/{id}) and the console's Refusals page.
 *
 * Facts (src/errors/facts.ts) are what the refusing code recorded (OAuthError.withFacts) plus, for
 * each fact the reason lists (ReasonInfo.facts) and the record lacks, the value a resolver finds in
 * the registry and the audit log now (src/diagnostics/explain/resolvers-*.ts). The reason's fix is
 * the catalogue's unless a live fix (src/diagnostics/explain/fixes-*.ts) writes it from the facts.
 */
import { handleIn, handleKeyPrefixes } from '../core/crypto.js';
import type { Application, AuditEntry, Facts, FactValue, Refusal, Rule, TokenRecord, User } from '../domain/model.js';
import { FACTS, isFactName, type FactName } from '../errors/facts.js';
import { isReasonCode, REASONS, type ReasonCode, type ReasonInfo } from '../errors/reasons.js';
import type { Storage } from '../storage/types.js';
import { COMMON_RESOLVERS } from './explain/resolvers-common.js';
import { TOKEN_SIDE_FIXES, TOKEN_SIDE_RESOLVERS } from './explain/token-side.js';
import { API_SIDE_FIXES, API_SIDE_RESOLVERS } from './explain/api-side.js';
import { BROWSER_SIDE_FIXES, BROWSER_SIDE_RESOLVERS } from './explain/browser-side.js';
import { CALLERS_SIDE_FIXES, CALLERS_SIDE_RESOLVERS } from './explain/callers-side.js';

export interface ExplainDeps {
  readonly storage: Pick<Storage, 'applications' | 'users' | 'scopes' | 'roles' | 'tokens' | 'audit' | 'properties' | 'rules' | 'identityProviders'>;
  /** The grant types this server supports now (its grant registry): a fix never lists a stale set. */
  readonly supportedGrants: readonly string[];
  /** Now (ms), for "expired 5 minutes before the request" style facts. */
  readonly now?: () => number;
}

/** What resolvers and live fixes see: the refusal, the recorded facts, and memoized lookups. */
export interface ExplainContext {
  readonly refusal: Refusal;
  readonly deps: ExplainDeps;
  readonly recorded: Facts;
  /** A fact of this case: recorded, else resolved (each resolver runs at most once). */
  fact(name: FactName): Promise<FactValue | undefined>;
  /** The application the refusal names (by client id), now. */
  application(): Promise<Application | undefined>;
  /** The user the refusal names (by user name), now. */
  user(): Promise<User | undefined>;
  /** The stored token the refusal names (by its handle), if it is still stored. */
  token(): Promise<TokenRecord | undefined>;
  /** The audit entries about `target`, newest first (at most 100), optionally of one action. */
  audit(target: string, action?: string): Promise<AuditEntry[]>;
}

/** Finds one fact from the registry, the audit log or the other facts; undefined when it cannot be known. */
export type FactResolver = (ctx: ExplainContext) => Promise<FactValue | undefined>;
/** The fix written from this case's facts and the live configuration; undefined: the catalogue's. */
export type LiveFix = (ctx: ExplainContext, facts: Facts) => Promise<string | undefined> | string | undefined;

const RESOLVERS: Partial<Record<FactName, FactResolver>> = { ...COMMON_RESOLVERS, ...TOKEN_SIDE_RESOLVERS, ...API_SIDE_RESOLVERS, ...BROWSER_SIDE_RESOLVERS, ...CALLERS_SIDE_RESOLVERS };
const FIXES: Partial<Record<ReasonCode, LiveFix>> = { ...TOKEN_SIDE_FIXES, ...API_SIDE_FIXES, ...BROWSER_SIDE_FIXES, ...CALLERS_SIDE_FIXES };

/** The resolvers and live fixes known (for the tests that every listed fact can be found). */
export const explainRegistry = { resolvers: RESOLVERS, fixes: FIXES };

export interface Explanation {
  readonly requestId: string;
  /** ISO 8601. */
  readonly at: string;
  readonly endpoint: string;
  readonly status: number;
  readonly error: string;
  readonly reason: string;
  /** What the caller was told (error_description). */
  readonly description: string;
  readonly clientId: string | null;
  readonly applicationName: string | null;
  readonly userName: string | null;
  readonly remoteAddress: string | null;
  /** The token's handle, when the refusal is about one. */
  readonly token: string | null;
  readonly hint: string | null;
  /** `refused`, or `would_refuse`: a report-only rule would have refused this request, which succeeded. */
  readonly outcome: 'refused' | 'would_refuse';
  readonly rule: Pick<Rule, 'id' | 'kind' | 'target' | 'mode'> | null;
  /** The catalogue's explanation (null for a reason this version does not know). */
  readonly explanation: string | null;
  /** The fix, from this case's facts where the reason has a live fix. */
  readonly fix: string | null;
  readonly setting: string | null;
  /** The facts of this case, by name (src/errors/facts.ts); the reason's listed facts first. */
  readonly facts: Facts;
}

export const iso = (ms: number | null | undefined): string | null => (ms === null || ms === undefined ? null : new Date(ms).toISOString());

function createContext(deps: ExplainDeps, refusal: Refusal): ExplainContext {
  const recorded: Facts = refusal.facts ?? {};
  const memo = <T>(load: () => Promise<T>): (() => Promise<T>) => {
    let p: Promise<T> | undefined;
    return () => (p ??= load());
  };
  const resolved = new Map<FactName, Promise<FactValue | undefined>>();
  const application = memo(async () => (refusal.clientId === null ? undefined : deps.storage.applications.byClientId(refusal.clientId).catch(() => undefined)));
  const user = memo(async () => (refusal.userName === null ? undefined : deps.storage.users.byName(refusal.userName).catch(() => undefined)));
  const token = memo(async () => {
    const handle = typeof recorded.token === 'string' ? recorded.token : handleIn(refusal.hint);
    if (handle === undefined) return undefined;
    for (const prefix of handleKeyPrefixes(handle)) {
      const found = await deps.storage.tokens.byKeyPrefix(prefix, 2).catch(() => []);
      if (found.length === 1) return found[0];
    }
    return undefined;
  });
  const ctx: ExplainContext = {
    refusal,
    deps,
    recorded,
    application,
    user,
    token,
    audit: (target, action) => deps.storage.audit.list({ target, ...(action === undefined ? {} : { action }), limit: 100 }).catch(() => []),
    fact(name) {
      if (Object.hasOwn(recorded, name)) return Promise.resolve(recorded[name]);
      let p = resolved.get(name);
      if (p === undefined) {
        const resolver = RESOLVERS[name];
        p = resolver === undefined ? Promise.resolve(undefined) : resolver(ctx).catch(() => undefined);
        resolved.set(name, p);
      }
      return p;
    },
  };
  return ctx;
}

function catalogueEntry(reason: string): ReasonInfo | undefined {
  return isReasonCode(reason) ? REASONS[reason] : undefined;
}

/** The explanation of a stored refusal. Reads the registry and the audit log; writes nothing. */
export async function explainRefusal(deps: ExplainDeps, refusal: Refusal): Promise<Explanation> {
  const info = catalogueEntry(refusal.reason);
  const ctx = createContext(deps, refusal);
  const facts: Record<string, FactValue> = {};
  for (const name of info?.facts ?? []) {
    const value = await ctx.fact(name);
    if (value !== undefined) facts[name] = value;
  }
  // Recorded facts the reason does not list are shown too (after the listed ones).
  for (const [name, value] of Object.entries(ctx.recorded)) if (!Object.hasOwn(facts, name) && value !== undefined) facts[name] = value;
  let rule: Explanation['rule'] = null;
  if (refusal.ruleId !== undefined && refusal.ruleId !== null) {
    const found = await deps.storage.rules.byId(refusal.ruleId).catch(() => undefined);
    facts.rule = refusal.ruleId;
    if (found !== undefined) {
      rule = { id: found.id, kind: found.kind, target: found.target, mode: found.mode };
      facts.ruleMode = found.mode;
    }
  }
  const live = info !== undefined && isReasonCode(refusal.reason) ? await FIXES[refusal.reason]?.(ctx, facts) : undefined;
  const handle = typeof facts.token === 'string' ? facts.token : (handleIn(refusal.hint) ?? null);
  return {
    requestId: refusal.requestId,
    at: new Date(refusal.at).toISOString(),
    endpoint: refusal.endpoint,
    status: refusal.status,
    error: refusal.error,
    reason: refusal.reason,
    description: refusal.description,
    clientId: refusal.clientId,
    applicationName: refusal.applicationName,
    userName: refusal.userName,
    remoteAddress: refusal.remoteAddress,
    token: handle,
    hint: refusal.hint,
    outcome: refusal.ruleId === undefined || refusal.ruleId === null ? 'refused' : 'would_refuse',
    rule,
    explanation: info?.explanation ?? null,
    fix: live ?? info?.fix ?? null,
    setting: info?.setting ?? null,
    facts,
  };
}

/** A fact's value as one line of text. */
export function factText(value: FactValue): string {
  if (value === null) return '(none)';
  if (Array.isArray(value)) return value.length === 0 ? '(none)' : value.join(', ');
  return String(value);
}

/** The label of a fact (its name for one this version does not know). */
export function factLabel(name: string): string {
  return isFactName(name) ? FACTS[name].label : name;
}
