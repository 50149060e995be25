import type { AttemptKind, AttemptRecord, Refusal, SessionKind, SessionRecord } from '../domain/model.js';

/**
 * Row shapes both SQL adapters share (these tables have the same columns and types in SQLite and
 * PostgreSQL: text and integers only).
 */
export interface RefusalRow {
  request_id: string;
  at: number;
  endpoint: string;
  status: number;
  error: string;
  reason: string;
  description: string;
  hint: string | null;
  client_id: string | null;
  application_name: string | null;
  user_name: string | null;
  remote_address: string | null;
}

export function refusalFromRow(r: RefusalRow): Refusal {
  return {
    requestId: r.request_id,
    at: r.at,
    endpoint: r.endpoint,
    status: r.status,
    error: r.error,
    reason: r.reason,
    description: r.description,
    hint: r.hint,
    clientId: r.client_id,
    applicationName: r.application_name,
    userName: r.user_name,
    remoteAddress: r.remote_address,
  };
}

export interface SessionRow {
  id: string;
  kind: string;
  user_id: string;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  parent_id: string | null;
  revoked_at: number | null;
}

export function sessionFromRow(r: SessionRow): SessionRecord {
  return {
    id: r.id,
    kind: r.kind as SessionKind,
    userId: r.user_id,
    createdAt: r.created_at,
    lastSeenAt: r.last_seen_at,
    expiresAt: r.expires_at,
    parentId: r.parent_id,
    revokedAt: r.revoked_at,
  };
}

/** In the column order id, kind, user_id, created_at, last_seen_at, expires_at, parent_id, revoked_at. */
export function sessionParams(s: SessionRecord): unknown[] {
  return [s.id, s.kind, s.userId, s.createdAt, s.lastSeenAt, s.expiresAt, s.parentId, s.revokedAt];
}

export interface AttemptRow {
  kind: string;
  user_name: string;
  source: string;
  failures: number;
  window_start: number;
  last_at: number;
  expires_at: number;
}

export function attemptFromRow(r: AttemptRow): AttemptRecord {
  return {
    kind: r.kind as AttemptKind,
    userName: r.user_name,
    source: r.source,
    failures: r.failures,
    windowStart: r.window_start,
    lastAt: r.last_at,
    expiresAt: r.expires_at,
  };
}

/** Keys in one fixed order, so concurrent multi-key writes take row locks in the same order. */
export function sortedAttemptKeys<K extends { kind: string; userName: string; source: string }>(keys: readonly K[]): K[] {
  const key = (k: K) => `${k.kind}\u0000${k.userName}\u0000${k.source}`;
  return [...keys].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The smallest string greater than every string that starts with `prefix` (a range scan's upper bound). */
export function prefixEnd(prefix: string): string {
  if (prefix === '') return '\u{10ffff}';
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
