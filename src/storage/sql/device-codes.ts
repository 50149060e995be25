import type { DeviceAuthorization, DevicePollOutcome, DeviceStatus } from '../../domain/model.js';

/**
 * The device_codes table (RFC 8628) as both SQL databases speak it: the statements are written
 * once with named parameters (`:name`), turned into `@name` for SQLite (better-sqlite3 binds an
 * object) or `$n` for PostgreSQL (bound in the order of {@link DEVICE_PARAMS}). Scopes are
 * space-separated text and resources JSON text in both, so the row mapping is one function.
 */

export const DEVICE_COLUMNS_LIST = [
  'id',
  'device_hash',
  'user_hash',
  'application_id',
  'scopes',
  'resources',
  'status',
  'user_id',
  'auth_time',
  'created_at',
  'expires_at',
  'interval_s',
  'last_poll_at',
  'decided_at',
] as const;
export const DEVICE_COLUMNS = DEVICE_COLUMNS_LIST.join(', ');

export interface DeviceCodeRow {
  id: string;
  device_hash: string;
  user_hash: string;
  application_id: string;
  scopes: string;
  resources: string;
  status: string;
  user_id: string | null;
  auth_time: number | string | null;
  created_at: number | string;
  expires_at: number | string;
  interval_s: number | string;
  last_poll_at: number | string | null;
  decided_at: number | string | null;
  poll_outcome?: string | null;
}

const num = (v: number | string): number => (typeof v === 'number' ? v : Number(v));
const optNum = (v: number | string | null): number | null => (v === null ? null : num(v));

export function deviceFromRow(r: DeviceCodeRow): DeviceAuthorization {
  return {
    id: r.id,
    deviceHash: r.device_hash,
    userHash: r.user_hash,
    applicationId: r.application_id,
    scopes: r.scopes === '' ? [] : r.scopes.split(' '),
    resources: JSON.parse(r.resources) as string[],
    status: r.status as DeviceStatus,
    userId: r.user_id,
    authTime: optNum(r.auth_time),
    createdAt: num(r.created_at),
    expiresAt: num(r.expires_at),
    intervalSeconds: num(r.interval_s),
    lastPollAt: optNum(r.last_poll_at),
    decidedAt: optNum(r.decided_at),
  };
}

/** The row's values by column name (an insert, or a copy by migrate-db). */
export function deviceValues(d: DeviceAuthorization): Record<(typeof DEVICE_COLUMNS_LIST)[number], string | number | null> {
  return {
    id: d.id,
    device_hash: d.deviceHash,
    user_hash: d.userHash,
    application_id: d.applicationId,
    scopes: d.scopes.join(' '),
    resources: JSON.stringify(d.resources),
    status: d.status,
    user_id: d.userId,
    auth_time: d.authTime,
    created_at: d.createdAt,
    expires_at: d.expiresAt,
    interval_s: d.intervalSeconds,
    last_poll_at: d.lastPollAt,
    decided_at: d.decidedAt,
  };
}

export function pollOutcomeOf(r: DeviceCodeRow): DevicePollOutcome {
  return (r.poll_outcome ?? 'pending') as DevicePollOutcome;
}

/** The named parameters of every statement, in the order PostgreSQL binds them ($1 …). */
export const DEVICE_PARAMS = [...DEVICE_COLUMNS_LIST, 'now', 'approve', 'limit', 'after'] as const;
export type DeviceParam = (typeof DEVICE_PARAMS)[number];

/**
 * One poll. Every SET expression reads the row as it was before this statement (both databases),
 * and a concurrent poll of the same row waits for this one's row lock and then reads its result
 * (PostgreSQL READ COMMITTED re-evaluates the row), so of two polls of an approved code exactly one
 * sees `approved` and the other `consumed`. RFC 8628 §3.5: a pending code polled sooner than its
 * interval answers slow_down, and the interval grows by 5 seconds.
 */
const TOO_SOON = `last_poll_at IS NOT NULL AND :now - last_poll_at < interval_s * 1000`;
const OUTCOME = `CASE WHEN expires_at <= :now THEN 'expired' WHEN status = 'approved' THEN 'approved' WHEN status <> 'pending' THEN status
      WHEN ${TOO_SOON} THEN 'slow_down' ELSE 'pending' END`;

const STATEMENTS = {
  deviceInsert: `INSERT INTO device_codes (${DEVICE_COLUMNS}) VALUES (${DEVICE_COLUMNS_LIST.map((c) => `:${c}`).join(', ')})`,
  deviceByUserHash: `SELECT ${DEVICE_COLUMNS} FROM device_codes WHERE user_hash = :user_hash`,
  deviceDecide: `UPDATE device_codes SET status = CASE WHEN :approve = 1 THEN 'approved' ELSE 'denied' END, user_id = :user_id, auth_time = :auth_time, decided_at = :now
    WHERE user_hash = :user_hash AND status = 'pending' AND expires_at > :now RETURNING ${DEVICE_COLUMNS}`,
  devicePoll: `UPDATE device_codes SET
      status = CASE WHEN expires_at > :now AND status = 'approved' THEN 'consumed' ELSE status END,
      interval_s = CASE WHEN expires_at > :now AND status = 'pending' AND ${TOO_SOON} THEN interval_s + 5 ELSE interval_s END,
      poll_outcome = ${OUTCOME},
      last_poll_at = :now
    WHERE device_hash = :device_hash AND application_id = :application_id RETURNING ${DEVICE_COLUMNS}, poll_outcome`,
  deviceByDeviceHash: `SELECT ${DEVICE_COLUMNS} FROM device_codes WHERE device_hash = :device_hash`,
  deviceDeny: `UPDATE device_codes SET status = 'denied', decided_at = :now WHERE id = :id AND status = 'pending' AND expires_at > :now RETURNING id`,
  deviceListPending: `SELECT ${DEVICE_COLUMNS} FROM device_codes WHERE status = 'pending' AND expires_at > :now ORDER BY created_at DESC, id LIMIT :limit`,
  deviceExport: `SELECT ${DEVICE_COLUMNS} FROM device_codes WHERE id > :after ORDER BY id LIMIT :limit`,
  deviceDeleteExpired: `DELETE FROM device_codes WHERE expires_at < :now RETURNING id`,
} as const;

export type DeviceStatementName = keyof typeof STATEMENTS;

export interface DeviceStatement {
  readonly text: string;
  /** The parameter names in placeholder order (PostgreSQL: $1 is the first). */
  readonly names: readonly DeviceParam[];
}

/** The statements for SQLite (`@name`) or PostgreSQL (`$n`, numbered by first appearance). */
export function deviceStatements(dialect: 'sqlite' | 'postgres'): Record<DeviceStatementName, DeviceStatement> {
  const out = {} as Record<DeviceStatementName, DeviceStatement>;
  for (const [name, sql] of Object.entries(STATEMENTS) as [DeviceStatementName, string][]) {
    const names: DeviceParam[] = [];
    const text = sql.replace(/:([a-z_]+)/g, (_, p: DeviceParam) => {
      let i = names.indexOf(p);
      if (i === -1) i = names.push(p) - 1;
      if (dialect === 'sqlite') return `@${p}`;
      // PostgreSQL cannot infer the type of a parameter compared with a number in some places.
      return p === 'approve' || p === 'now' || p === 'limit' || p === 'auth_time' ? `$${i + 1}::bigint` : `$${i + 1}`;
    });
    out[name] = { text, names };
  }
  return out;
}

/** The values of a statement's parameters in placeholder order (PostgreSQL). */
export function deviceArgs(statement: DeviceStatement, values: Partial<Record<DeviceParam, string | number | null>>): unknown[] {
  return statement.names.map((n) => values[n] ?? null);
}

/** The values of a statement's parameters as the object better-sqlite3 binds (exactly the names it uses). */
export function deviceNamedArgs(statement: DeviceStatement, values: Partial<Record<DeviceParam, string | number | null>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of statement.names) out[n] = values[n] ?? null;
  return out;
}
