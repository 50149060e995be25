import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError, kekSettings, parseDbLocation } from '../config/config.js';
import { ensurePrivateDir, fileMode, isLoose, writePrivateFile } from '../core/private-files.js';
import { shellWord } from '../core/shell.js';
import { checkKek, KEK_ENV, KeyEncryptionError } from './encryption.js';

/** The key file used beside a SQLite database when no key-encryption key is configured. */
export const KEK_FILE_NAME = 'latchkey.kek';
/** The setting naming a file that holds the key-encryption key (config/config.ts kekSettings). */
export const KEK_FILE_ENV = 'LATCHKEY_KEY_ENCRYPTION_KEY_FILE';

/**
 * Where the key-encryption key comes from: the environment (LATCHKEY_KEY_ENCRYPTION_KEY), the file
 * LATCHKEY_KEY_ENCRYPTION_KEY_FILE names ('env_file'), the file beside the SQLite database
 * ('file'), or (":memory:" databases) nowhere ('ephemeral').
 */
export type KekSource = 'env' | 'env_file' | 'file' | 'ephemeral';

export interface KekLocation {
  readonly source: KekSource;
  /** The key file, when source is 'env_file' or 'file'. */
  readonly file?: string;
}

export interface ResolvedKek extends KekLocation {
  readonly kek: string;
  /** True when this call created the key file. */
  readonly created: boolean;
  /** Something the operator should know (a new key file, loose file permissions), for a warning log. */
  readonly warning?: string;
}

/**
 * Where the key-encryption key of a database comes from, without reading or creating anything (for
 * `latchkey doctor`). Throws for PostgreSQL without a setting: instances on one database must share
 * the KEK, and a file created on one machine cannot be shared.
 */
export function locateKek(db: string, configured: string | undefined, configuredFile?: string): KekLocation {
  if (configured !== undefined && configured !== '' && configuredFile !== undefined && configuredFile !== '') {
    throw new ConfigError('config.kek_conflict', `Both ${KEK_ENV} and ${KEK_FILE_ENV} are set; set only one.`);
  }
  if (configured !== undefined && configured !== '') return { source: 'env' };
  if (configuredFile !== undefined && configuredFile !== '') return { source: 'env_file', file: configuredFile };
  const location = parseDbLocation(db);
  if (location.kind === 'postgres') {
    throw new ConfigError(
      'config.kek_required',
      `${KEK_ENV} must be set when the database is PostgreSQL (or ${KEK_FILE_ENV}, the path of a file holding it): every instance on the database must use the same key-encryption key to read the shared signing keys. ` +
        `Generate one with \`openssl rand -base64 32\`, keep it in your secret store, and give it to every instance (and to CLI commands such as \`latchkey keys rotate\`).`,
    );
  }
  if (location.path === ':memory:') return { source: 'ephemeral' };
  return { source: 'file', file: join(dirname(location.path), KEK_FILE_NAME) };
}

/** As resolveKek, with the settings read from the environment: what CLI commands use. */
export function resolveKekFromEnv(db: string, env: NodeJS.ProcessEnv = process.env): ResolvedKek {
  const settings = kekSettings(env);
  return resolveKek(db, settings.keyEncryptionKey, settings.keyEncryptionKeyFile);
}

/**
 * The key-encryption key an instance (or a CLI command) uses for a database:
 * - LATCHKEY_KEY_ENCRYPTION_KEY when set (at least 32 characters);
 * - else the file LATCHKEY_KEY_ENCRYPTION_KEY_FILE names, which must exist;
 * - else, for SQLite, the file `latchkey.kek` beside the database, created (mode 0600, 32 random
 *   bytes in base64url) the first time;
 * - else, for PostgreSQL, an error (see locateKek).
 */
export function resolveKek(db: string, configured: string | undefined, configuredFile?: string): ResolvedKek {
  const location = locateKek(db, configured, configuredFile);
  if (location.source === 'env') {
    try {
      return { kek: checkKek(configured ?? ''), source: 'env', created: false };
    } catch (error) {
      throw new ConfigError('config.invalid_kek', (error as Error).message);
    }
  }
  if (location.source === 'ephemeral') return { kek: randomBytes(32).toString('base64url'), source: 'ephemeral', created: false };
  const file = location.file ?? '';
  if (location.source === 'env_file') return readKeyFile(file, 'env_file');
  try {
    return readKeyFile(file, 'file');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  return createKeyFile(file);
}

/**
 * Reads a key file. A file readable by group or others is used with a warning, not refused: secret
 * mounts of container platforms are often 0644 or 0444 (Kubernetes secret volumes default to 0644)
 * yet readable only inside the container, and refusing them would break those deployments; on a
 * shared host, the warning here, in `latchkey doctor` and on the console's home page gives the chmod.
 */
function readKeyFile(file: string, source: 'env_file' | 'file'): ResolvedKek {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (source === 'file') throw error;
    throw new ConfigError(
      'config.kek_file_unreadable',
      code === 'ENOENT'
        ? `${KEK_FILE_ENV} names ${file}, which does not exist. Correct the path, or create the file (owner-only): (umask 077 && openssl rand -base64 32 > ${shellWord(file)})`
        : `${KEK_FILE_ENV} names ${file}, which cannot be read (${code ?? (error as Error).message}). Make it a file this user can read, owner-only: chmod 600 ${shellWord(file)}`,
    );
  }
  const kek = text.trim();
  try {
    checkKek(kek, `The key file ${file}`);
  } catch (error) {
    throw new ConfigError('config.invalid_kek', (error as KeyEncryptionError).message);
  }
  const mode = fileMode(file);
  const warning =
    mode !== undefined && isLoose(mode)
      ? `The key-encryption key file ${file} can be read by other users (mode ${mode.toString(8)}). Restrict it: chmod 600 ${shellWord(file)}`
      : undefined;
  return { kek, source, file, created: false, ...(warning === undefined ? {} : { warning }) };
}

function createKeyFile(file: string): ResolvedKek {
  ensurePrivateDir(dirname(file));
  try {
    writePrivateFile(file, `${randomBytes(32).toString('base64url')}\n`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readKeyFile(file, 'file');
    throw error;
  }
  return {
    ...readKeyFile(file, 'file'),
    created: true,
    warning:
      `Created the key-encryption key file ${file} (mode 0600): it encrypts the JWT signing keys stored in the database. ` +
      `Without it the stored signing keys cannot be used; keep it out of version control. It sits beside the database, so one copy of that folder holds both: ` +
      `to keep them apart, set ${KEK_ENV} (the file's content, from your secret store) or ${KEK_FILE_ENV} (a file outside the data folder); see \`latchkey doctor\`.`,
  };
}
