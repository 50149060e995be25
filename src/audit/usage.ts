/**
 * Per-application usage, per UTC day: tokens issued, API calls admitted, refusals, the last use,
 * and which scopes were used (a token issued with a scope, an API call a scope satisfied). What
 * `latchkey apps posture` (src/diagnostics/posture.ts) reads to tell a dormant application, an
 * unused scope or a client that keeps being refused.
 *
 * Counting is on the hot path (every token issued, every API call), so like the activity counters
 * (activity.ts) a count is an integer add into memory, nothing awaited: the client's entry of the
 * current day is one Map lookup, and the scopes are counted under the token's scope string as the
 * token response carries it (split into scopes only when flushed), so a request allocates nothing
 * once its client has been seen in the current flush period. A timer (unref'd) flushes every few
 * seconds to `storage.usage`, which adds (every instance's counts sum); `stop()` flushes the rest.
 * A failed flush is logged and its rows are kept for the next one (bounded: rows of days older
 * than yesterday are dropped rather than kept forever); it never reaches a request.
 */
import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import type { UsageRow } from '../domain/model.js';
import type { UsageStore } from '../storage/types.js';

export const USAGE_DAY_MS = 86_400_000;
/** How often counts are written to storage. */
export const USAGE_FLUSH_MS = 5_000;
/** Distinct scope strings counted per client and flush period; past it they are split at once (bounds memory against odd requests). */
const SCOPE_KEYS_PER_CLIENT = 64;
/** Distinct clients counted per flush period when no `known` check is given (refusals name any client id a caller sends). */
const CLIENTS_PER_PERIOD = 10_000;

/** The UTC day `at` falls in: its midnight (ms). */
export function usageDayOf(at: number): number {
  return at - (at % USAGE_DAY_MS);
}

export interface UsageCounterDeps {
  readonly store: UsageStore;
  readonly clock: Clock;
  readonly logger?: Logger;
  readonly flushMs?: number;
  /**
   * Whether a client id is a registered application (the registry cache, synchronous). Refusals
   * are counted only for those: a refusal may name any client id the caller made up.
   */
  readonly known?: (clientId: string) => boolean;
  /** The all-access scope (registry/scopes.ts ALL_ACCESS_SCOPE): it satisfies an API call that none of the required scopes did. */
  readonly allAccessScope?: string;
}

interface ScopeUse {
  tokens: number;
  calls: number;
  lastUseAt: number;
}

interface ClientUse {
  tokens: number;
  calls: number;
  refusals: number;
  lastUseAt: number;
  /** Scope strings of issued tokens (space-separated, as the token response's `scope`) → their use. */
  readonly tokenScopes: Map<string, ScopeUse>;
  /** The scope that admitted each API call → its use. */
  readonly callScopes: Map<string, ScopeUse>;
}

const newClientUse = (): ClientUse => ({ tokens: 0, calls: 0, refusals: 0, lastUseAt: 0, tokenScopes: new Map(), callScopes: new Map() });

function scopeUse(map: Map<string, ScopeUse>, scope: string): ScopeUse {
  let use = map.get(scope);
  if (use === undefined) {
    use = { tokens: 0, calls: 0, lastUseAt: 0 };
    map.set(scope, use);
  }
  return use;
}

export class UsageCounter {
  /** day → client id → counts not yet written. */
  private pending = new Map<number, Map<string, ClientUse>>();
  /** The current day and its clients (saves a lookup per count). */
  private day = -1;
  private clients: Map<string, ClientUse> = new Map();
  /** Rows a failed flush could not write, for the next one. */
  private retry: UsageRow[] = [];
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private readonly flushMs: number;

  constructor(private readonly deps: UsageCounterDeps) {
    this.flushMs = deps.flushMs ?? USAGE_FLUSH_MS;
  }

  /** A token issued to the client, with its granted scopes as the token response writes them (space-separated; undefined: none). */
  tokenIssued(clientId: string, scope: string | undefined): void {
    const now = this.deps.clock.now();
    const use = this.use(clientId, now);
    if (use === undefined) return;
    use.tokens++;
    use.lastUseAt = now;
    if (scope === undefined || scope === '') return;
    const map = use.tokenScopes.size < SCOPE_KEYS_PER_CLIENT || use.tokenScopes.has(scope) ? use.tokenScopes : undefined;
    if (map !== undefined) {
      const s = scopeUse(map, scope);
      s.tokens++;
      s.lastUseAt = now;
      return;
    }
    // Past the bound: counted scope by scope (the rare client that asks for ever new combinations).
    for (const one of scope.split(' ')) {
      const s = scopeUse(use.callScopes, one);
      s.tokens++;
      s.lastUseAt = now;
    }
  }

  /**
   * An API call admitted for the client's token: `required` the resource's scopes (one of them
   * suffices), `granted` the token's scopes in effect. The scope that admitted it is the first
   * required one the token has, else the all-access scope; none when nothing was required.
   */
  apiCall(clientId: string, required: readonly string[], granted: readonly string[]): void {
    const now = this.deps.clock.now();
    const use = this.use(clientId, now);
    if (use === undefined) return;
    use.calls++;
    use.lastUseAt = now;
    if (required.length === 0) return;
    let scope: string | undefined;
    for (let i = 0; i < required.length; i++) {
      if (granted.includes(required[i] as string)) {
        scope = required[i];
        break;
      }
    }
    const all = this.deps.allAccessScope;
    if (scope === undefined && all !== undefined && granted.includes(all)) scope = all;
    if (scope === undefined) return;
    const s = scopeUse(use.callScopes, scope);
    s.calls++;
    s.lastUseAt = now;
  }

  /** A request of the client refused (a registered client only, see `known`). */
  refused(clientId: string | null | undefined): void {
    if (clientId === null || clientId === undefined || clientId === '') return;
    if (this.deps.known !== undefined && !this.deps.known(clientId)) return;
    const use = this.use(clientId, this.deps.clock.now());
    if (use !== undefined) use.refusals++;
  }

  /** The client's counts of the current day, created on its first count of the flush period. */
  private use(clientId: string, now: number): ClientUse | undefined {
    if (now - this.day >= USAGE_DAY_MS || now < this.day) this.roll(usageDayOf(now));
    let use = this.clients.get(clientId);
    if (use === undefined) {
      if (this.deps.known === undefined && this.clients.size >= CLIENTS_PER_PERIOD) return undefined;
      use = newClientUse();
      this.clients.set(clientId, use);
    }
    return use;
  }

  private roll(day: number): void {
    this.day = day;
    let clients = this.pending.get(day);
    if (clients === undefined) {
      clients = new Map();
      this.pending.set(day, clients);
    }
    this.clients = clients;
  }

  /** Starts the periodic flush (idempotent). */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.flush(), this.flushMs);
    this.timer.unref();
  }

  /** Stops the periodic flush and writes what is pending. */
  async stop(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /** Writes pending counts to storage; resolves when written (or, on failure, logged and kept). Never rejects. */
  flush(): Promise<void> {
    const previous = this.flushing ?? Promise.resolve();
    const next = previous.then(() => this.write());
    this.flushing = next;
    void next.finally(() => {
      if (this.flushing === next) this.flushing = undefined;
    });
    return next;
  }

  private take(): UsageRow[] {
    const taken = this.pending;
    this.pending = new Map();
    this.day = -1;
    this.clients = new Map();
    const rows = this.retry;
    this.retry = [];
    for (const [day, clients] of taken) for (const [clientId, use] of clients) rows.push(...rowsOf(clientId, day, use));
    return rows;
  }

  private async write(): Promise<void> {
    const rows = this.take();
    if (rows.length === 0) return;
    try {
      await this.deps.store.add(rows);
    } catch (error) {
      this.deps.logger?.warn({ err: error, rows: rows.length }, 'application usage not written; retrying with the next flush');
      const oldest = usageDayOf(this.deps.clock.now()) - USAGE_DAY_MS;
      this.retry.push(...rows.filter((r) => r.day >= oldest));
    }
  }
}

/** The rows of one client's day: its totals (scope '') and one row per scope used. */
function rowsOf(clientId: string, day: number, use: ClientUse): UsageRow[] {
  const rows: UsageRow[] = [{ clientId, day, scope: '', tokens: use.tokens, calls: use.calls, refusals: use.refusals, lastUseAt: use.lastUseAt }];
  const scopes = new Map<string, ScopeUse>();
  const add = (scope: string, u: ScopeUse) => {
    const s = scopeUse(scopes, scope);
    s.tokens += u.tokens;
    s.calls += u.calls;
    s.lastUseAt = Math.max(s.lastUseAt, u.lastUseAt);
  };
  for (const [granted, u] of use.tokenScopes) for (const scope of granted.split(' ')) if (scope !== '') add(scope, u);
  for (const [scope, u] of use.callScopes) add(scope, u);
  for (const [scope, u] of scopes) rows.push({ clientId, day, scope, tokens: u.tokens, calls: u.calls, refusals: 0, lastUseAt: u.lastUseAt });
  return rows;
}
