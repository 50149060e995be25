import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileMode, isLoose } from '../core/private-files.js';
import { placeholder, shellCommand, shellWord } from '../core/shell.js';
import { KEK_ENV } from '../keys/encryption.js';
import { KEK_FILE_ENV, KEK_FILE_NAME, type KekLocation } from '../keys/kek.js';
import type { Finding } from './findings.js';

/**
 * Checks on the files at rest of this instance: the SQLite database with its -wal and -shm files,
 * and the key-encryption key file. They only make sense where the database (or the key) is a local
 * file, so they run when the caller says where the files are: the CLI from --db and the
 * environment, the server (admin API, console home page) from what `serve` opened.
 */
export interface FilesAtRest {
  /** The SQLite database file; undefined for PostgreSQL and ":memory:". */
  readonly database?: string | undefined;
  /** Where the key-encryption key comes from (keys/kek.ts locateKek). */
  readonly kek?: KekLocation | undefined;
}

export function fileChecks(files: FilesAtRest, platform: NodeJS.Platform = process.platform): Finding[] {
  return [...kekBesideDatabase(files), ...loosePermissions(files, platform)];
}

const keyFileOf = (files: FilesAtRest): string | undefined =>
  files.kek !== undefined && (files.kek.source === 'file' || files.kek.source === 'env_file') ? files.kek.file : undefined;

/** Whether `file` is in `folder` or below it (a copy of the folder takes it along). */
function within(folder: string, file: string): boolean {
  const rel = relative(folder, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
}

/**
 * The key-encryption key file in the database's folder: one backup (or copy) of that folder holds
 * the signing keys and the key that decrypts them, and the session keys derived from it, so it is
 * enough to forge console sessions and sign tokens.
 */
function kekBesideDatabase(files: FilesAtRest): Finding[] {
  const kekFile = keyFileOf(files);
  // Only a key file that exists: `serve` creates the default one at its first start, and the finding is about files at rest.
  if (files.database === undefined || kekFile === undefined || !existsSync(kekFile)) return [];
  const folder = dirname(files.database);
  if (!within(folder, kekFile)) return [];
  const target = join('<key-folder>', KEK_FILE_NAME);
  return [
    {
      id: 'kek_beside_database',
      severity: 'warning',
      title: 'The key-encryption key sits beside the database',
      detail: `The key-encryption key file ${kekFile} is in the database's folder ${folder}. A copy or backup of that folder holds the encrypted signing keys and the key that opens them (and the console session keys derived from it): enough to sign tokens and forge administrator sessions.`,
      fix:
        `Keep the key apart from the database: either store the file's content in your secret store and give it to the server and every CLI command as ${KEK_ENV}, ` +
        `or copy the file to a folder outside the data folder (the command) and set ${KEK_FILE_ENV}=${target} for the server and every CLI command. ` +
        `Restart the server with the new setting, check that it starts (it refuses a wrong key), then delete ${shellWord(kekFile)} and its copies in backups.`,
      command: `${shellCommand(['install', '-d', '-m', '700', placeholder('key-folder')])} && ${shellCommand(['install', '-m', '600', kekFile])} ${target}`,
      target: kekFile,
    },
  ];
}

/** Database, WAL, SHM and key files that group or others may read (SQLite's default is 0644 minus the umask). */
function loosePermissions(files: FilesAtRest, platform: NodeJS.Platform): Finding[] {
  const db = files.database;
  const kekFile = keyFileOf(files);
  const candidates = [...(db === undefined ? [] : [db, `${db}-wal`, `${db}-shm`]), ...(kekFile === undefined ? [] : [kekFile])];
  const loose = candidates.flatMap((file) => {
    const mode = fileMode(file, platform);
    return mode !== undefined && isLoose(mode) ? [{ file, mode }] : [];
  });
  if (loose.length === 0) return [];
  return [
    {
      id: 'file_permissions_loose',
      severity: 'warning',
      title: 'Files holding secrets can be read by other users',
      detail: `${loose.map((l) => `${l.file} (mode ${l.mode.toString(8)})`).join(', ')} ${loose.length === 1 ? 'is' : 'are'} readable or writable by the group or others. The database holds the hashed credentials, the encrypted signing keys and the audit log; the key-encryption key opens the signing keys.`,
      fix: 'Restrict them to the user the server runs as (files Latchkey creates are 0600; existing files are not changed behind your back).',
      command: shellCommand(['chmod', '600', ...loose.map((l) => l.file)]),
      target: loose[0]?.file ?? '',
    },
  ];
}
