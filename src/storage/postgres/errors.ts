import { StorageError } from '../types.js';
import { parsePostgresHosts } from './hosts.js';

/** Node socket errors that mean "the server cannot be reached right now". */
const NETWORK_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'EHOSTDOWN', 'ENETUNREACH', 'ENETDOWN',
  'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED', 'ENOENT', /* a Unix socket that is not there */
]);

/**
 * SQLSTATEs that mean the server is unavailable, shutting down, overloaded, or could not finish in
 * time — conditions a caller can retry later rather than bugs.
 */
const UNAVAILABLE_SQLSTATES = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now (starting up, in recovery)
  '57P05', // idle_session_timeout
  '57014', // query_canceled (statement_timeout)
  '55P03', // lock_not_available (lock_timeout)
  '53300', // too_many_connections
  '53000', '53100', '53200', // insufficient resources, disk full, out of memory
  '25006', // read_only_sql_transaction: a standby, or default_transaction_read_only (writes only)
  '40001', // serialization_failure
  '40P01', // deadlock_detected
  '25P03', // idle_in_transaction_session_timeout
  '3D000', // invalid_catalog_name: the database does not exist (dropped under us)
  '28000', '28P01', // authorization: the credentials stopped working
]);

/** Messages pg and pg-pool use for connection trouble (they carry no code). */
const UNAVAILABLE_MESSAGES = [
  'timeout exceeded when trying to connect',
  'Connection terminated',
  'Query read timeout',
  'Client has encountered a connection error',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
  'connection timeout',
];

/** True when `error` says the database could not be reached or could not answer in time. */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof StorageError) return error.code === 'unavailable';
  if (typeof error !== 'object' || error === null) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code === NO_PRIMARY_CODE || NETWORK_CODES.has(code) || UNAVAILABLE_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.includes(m))) return true;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error && isUnavailable(cause);
}

/** The code of the error the adapter raises itself while no usable host is known (primary.ts). */
export const NO_PRIMARY_CODE = 'ENOPRIMARY';

/** SQLSTATEs that say this server is going away or cannot take this session's writes: look for the primary again. */
const FAILOVER_SQLSTATES = new Set(['57P01', '57P02', '57P03', '25006']);

/**
 * True when `error` may mean the host in use is no longer the primary (it went away, shuts down,
 * is in recovery, or is read-only): connection errors, 08xxx, 57P01/57P02/57P03 and 25006. A
 * statement timeout, a deadlock or a full disk are not: the same server would answer them again.
 */
export function isFailoverSignal(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if (error instanceof StorageError) return error.code === 'unavailable' && isFailoverSignal(error.cause);
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code === NO_PRIMARY_CODE) return false;
    if (NETWORK_CODES.has(code) || FAILOVER_SQLSTATES.has(code) || code.startsWith('08')) return true;
  }
  const message = (error as { message?: unknown }).message;
  if (typeof message === 'string' && UNAVAILABLE_MESSAGES.some((m) => message.includes(m))) return true;
  const cause = (error as { cause?: unknown }).cause;
  return cause !== undefined && cause !== error && isFailoverSignal(cause);
}

/** Turns a driver error into a {@link StorageError} where one applies; anything else is returned as is. */
export function translatePg(error: unknown, what: string): unknown {
  if (error instanceof StorageError) return error;
  const code = (error as { code?: unknown } | null)?.code;
  if (code === '23505') return new StorageError('conflict', `${what} already exists`, { cause: error });
  if (isUnavailable(error)) {
    const detail = typeof code === 'string' && code !== NO_PRIMARY_CODE ? code : (error as Error).message;
    return new StorageError('unavailable', `database unavailable (${detail})`, { cause: error });
  }
  return error;
}

/**
 * Where a connection URL points, for messages: `user@host:port/database`, never the password
 * (nor any other query parameter, which may hold one).
 */
export function describePostgresUrl(url: string): string {
  let several: readonly string[] | undefined;
  try {
    const parsed = parsePostgresHosts(url);
    if (parsed.hosts.length > 1) several = parsed.hosts.map((h) => h.label);
    if (parsed.multi) url = parsed.hosts[0]!.url;
  } catch {
    return 'the PostgreSQL servers (the URL could not be parsed)';
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'the PostgreSQL server (the URL could not be parsed)';
  }
  const decode = (s: string): string => {
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  };
  const host = decode(u.hostname) || u.searchParams.get('host') || 'localhost';
  const port = u.port || '5432';
  const database = decode(u.pathname.replace(/^\//, '')) || decode(u.username) || '(default database)';
  const user = u.username ? `${decode(u.username)}@` : '';
  return `${user}${several === undefined ? `${host}:${port}` : several.join(',')}/${database}`;
}

/** SQLSTATEs that mean writes cannot be taken now, though reads may still work. */
const WRITE_FAILURE_SQLSTATES: Readonly<Record<string, string>> = {
  '53100': 'the PostgreSQL server is out of disk space (53100 disk_full): free space on its data volume',
  '25006': 'the PostgreSQL server takes no writes (25006 read_only_sql_transaction): a standby or a read-only setting; point Latchkey at the primary',
  '53000': 'the PostgreSQL server lacks resources to write (53000 insufficient_resources)',
};

/** For write health: what a failed write says about the server's ability to write, else undefined. */
export function writeFailureReason(error: unknown): string | undefined {
  const cause = error instanceof StorageError ? error.cause : error;
  const code = (cause as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? WRITE_FAILURE_SQLSTATES[code] : undefined;
}
