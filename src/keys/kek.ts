import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError, parseDbLocation } from '../config/config.js';
import { checkKek, KEK_ENV, KeyEncryptionError } from './encryption.js';

/** The key file used beside a SQLite database when LATCHKEY_KEY_ENCRYPTION_KEY is not set. */
export const KEK_FILE_NAME = 'latchkey.kek';

export interface ResolvedKek {
  readonly kek: string;
  /** Where it came from: the environment, the file beside the SQLite database, or (":memory:" databases) nowhere. */
  readonly source: 'env' | 'file' | 'ephemeral';
  /** The key file, when source is 'file'. */
  readonly file?: string;
  /** True when this call created the key file. */
  readonly created: boolean;
  /** Something the operator should know (a new key file, loose file permissions), for a warning log. */
  readonly warning?: string;
}

/**
 * The key-encryption key an instance (or a CLI command) uses for a database:
 * - LATCHKEY_KEY_ENCRYPTION_KEY when set (at least 32 characters);
 * - else, for SQLite, the file `latchkey.kek` beside the database, created (mode 0600, 32 random
 *   bytes in base64url) the first time;
 * - else, for PostgreSQL, an error: instances on one database must share the KEK, and a file on one
 *   machine cannot be shared.
 */
export function resolveKek(db: string, configured: string | undefined): ResolvedKek {
  if (configured !== undefined && configured !== '') {
    try {
      return { kek: checkKek(configured), source: 'env', created: false };
    } catch (error) {
      throw new ConfigError('config.invalid_kek', (error as Error).message);
    }
  }
  const location = parseDbLocation(db);
  if (location.kind === 'postgres') {
    throw new ConfigError(
      'config.kek_required',
      `${KEK_ENV} must be set when the database is PostgreSQL: every instance on the database must use the same key-encryption key to read the shared signing keys. ` +
        `Generate one with \`openssl rand -base64 32\`, keep it in your secret store, and give it to every instance (and to CLI commands such as \`latchkey keys rotate\`).`,
    );
  }
  if (location.path === ':memory:') return { kek: randomBytes(32).toString('base64url'), source: 'ephemeral', created: false };
  const file = join(dirname(location.path), KEK_FILE_NAME);
  const read = (): ResolvedKek => {
    const kek = readFileSync(file, 'utf8').trim();
    try {
      checkKek(kek, `The key file ${file}`);
    } catch (error) {
      throw new ConfigError('config.invalid_kek', (error as KeyEncryptionError).message);
    }
    const mode = statSync(file).mode & 0o777;
    const warning =
      process.platform !== 'win32' && (mode & 0o077) !== 0
        ? `The key-encryption key file ${file} can be read by other users (mode ${mode.toString(8)}). Restrict it: chmod 600 ${file}`
        : undefined;
    return { kek, source: 'file', file, created: false, ...(warning === undefined ? {} : { warning }) };
  };
  try {
    return read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(dirname(file), { recursive: true });
  try {
    // 'wx': of two processes starting together, one creates the file and the other reads it.
    writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return read();
    throw error;
  }
  const created = read();
  return {
    ...created,
    created: true,
    warning:
      `Created the key-encryption key file ${file} (mode 0600): it encrypts the JWT signing keys stored in the database. ` +
      `Back it up with the database and keep it out of version control; without it the stored signing keys cannot be used. ` +
      `To manage the key yourself, set ${KEK_ENV} (at least 32 characters, e.g. \`openssl rand -base64 32\`) to the file's content.`,
  };
}
