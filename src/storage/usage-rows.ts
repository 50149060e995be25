import type { UsageRow } from '../domain/model.js';

/** The key of a usage row: its application, day and scope. */
export function usageKey(r: Pick<UsageRow, 'clientId' | 'day' | 'scope'>): string {
  return `${r.clientId}\u0000${r.day}\u0000${r.scope}`;
}

/** Adds `b`'s counts to `a` (same key): counts summed, the later last use kept. */
export function addUsage(a: UsageRow, b: UsageRow): UsageRow {
  return { clientId: a.clientId, day: a.day, scope: a.scope, tokens: a.tokens + b.tokens, calls: a.calls + b.calls, refusals: a.refusals + b.refusals, lastUseAt: Math.max(a.lastUseAt, b.lastUseAt) };
}

const byteOrder = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The order of `usage.list`: client id, day, scope ('' first), text in byte order. */
export function compareUsage(a: UsageRow, b: UsageRow): number {
  return byteOrder(a.clientId, b.clientId) || a.day - b.day || byteOrder(a.scope, b.scope);
}

/**
 * The rows summed per key and sorted (compareUsage): one row per key in one statement (PostgreSQL
 * refuses ON CONFLICT touching a row twice), and concurrent adds lock rows in the same order.
 */
export function sumUsageRows(rows: readonly UsageRow[]): UsageRow[] {
  const sums = new Map<string, UsageRow>();
  for (const r of rows) {
    const key = usageKey(r);
    const current = sums.get(key);
    sums.set(key, current === undefined ? { ...r } : addUsage(current, r));
  }
  return [...sums.values()].sort(compareUsage);
}
