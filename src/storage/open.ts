import { ConfigError, parseDbLocation } from '../config/config.js';
import { describePostgresUrl } from './postgres/errors.js';
import { openSqliteStorage } from './sqlite/adapter.js';
import type { CheckpointerOptions } from './sqlite/checkpointer.js';
import { StorageError, type Storage } from './types.js';

export interface OpenOptions {
  /** For the long-running server: SQLite checkpoints its WAL in a worker thread, off the event loop. */
  readonly backgroundCheckpoints?: CheckpointerOptions;
}

/** Opens the storage a `db` location names, applying migrations. */
export async function openStorage(db: string, options: OpenOptions = {}): Promise<Storage> {
  const location = parseDbLocation(db);
  if (location.kind === 'postgres') return openPostgres(location.url);
  try {
    return openSqliteStorage({ path: location.path, ...(options.backgroundCheckpoints === undefined ? {} : { backgroundCheckpoints: options.backgroundCheckpoints }) });
  } catch (error) {
    throw new ConfigError('config.db_open_failed', `Could not open the SQLite database at ${location.path}: ${(error as Error).message}`);
  }
}

/** Opens PostgreSQL, turning failures into messages that name the server (never the password) and what to check. */
async function openPostgres(url: string): Promise<Storage> {
  try {
    // Loaded only for PostgreSQL: a SQLite instance never holds the pg driver (~15 MiB).
    const { openPostgresStorage } = await import('./postgres/adapter.js');
    return await openPostgresStorage({ url });
  } catch (error) {
    if (error instanceof ConfigError) throw error; // the URL itself (hosts.ts): its message says what to write
    const where = describePostgresUrl(url);
    if ((error as { code?: unknown }).code === 'ERR_INVALID_URL') {
      // The URL is not echoed: it may hold a password.
      throw new ConfigError('config.invalid_db', 'The PostgreSQL URL could not be parsed. Use postgres://user:password@host:5432/database, with special characters in the password percent-encoded.');
    }
    if (error instanceof StorageError && error.code === 'unavailable') {
      throw new ConfigError('config.db_unreachable', `Could not connect to PostgreSQL at ${where}: ${reasonOf(error)}. ${hintFor(error)}`);
    }
    throw new ConfigError('config.db_open_failed', `Could not open the PostgreSQL database at ${where}: ${(error as Error).message}`);
  }
}

/** The driver's own words, without our "could not connect to …" prefix (the URL is named once). */
function reasonOf(error: StorageError): string {
  const cause = error.cause as { message?: unknown; code?: unknown } | undefined;
  const message = typeof cause?.message === 'string' && cause.message !== '' ? cause.message : typeof cause?.code === 'string' ? cause.code : error.message;
  return message.replace(/\.$/, '');
}

function hintFor(error: StorageError): string {
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  switch (code) {
    case '28P01':
    case '28000':
      return 'Check the user name and password in the URL, and that pg_hba.conf lets this user connect from this host.';
    case '3D000':
      return 'Check the database name in the URL; create the database first (createdb), Latchkey creates only its tables.';
    case 'ENOPRIMARY':
      return 'With several hosts Latchkey needs one that fits target_session_attrs (read-write by default: a primary, not in recovery, default_transaction_read_only off); check which server is the primary (SELECT pg_is_in_recovery()) and that the URL lists it.';
    case '57P03':
      return 'The server is starting up or in recovery; try again in a moment.';
    case '53300':
      return 'The server has no free connections; raise max_connections or lower the number of Latchkey instances.';
    default:
      return 'Check that PostgreSQL is running and accepts TCP connections at that host and port (pg_isready), and that the URL is right (postgres://user:password@host:5432/database).';
  }
}
