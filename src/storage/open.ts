import { ConfigError, parseDbLocation } from '../config/config.js';
import { openSqliteStorage } from './sqlite/adapter.js';
import type { Storage } from './types.js';

/** Opens the storage a `db` location names, applying migrations. */
export async function openStorage(db: string): Promise<Storage> {
  const location = parseDbLocation(db);
  if (location.kind === 'postgres') {
    throw new ConfigError('config.postgres_unavailable', 'PostgreSQL storage is not available in this version of Latchkey; use a SQLite file path.');
  }
  try {
    return openSqliteStorage({ path: location.path });
  } catch (error) {
    throw new ConfigError('config.db_open_failed', `Could not open the SQLite database at ${location.path}: ${(error as Error).message}`);
  }
}
