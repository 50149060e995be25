import { closeSync, mkdirSync, openSync, statSync, writeFileSync } from 'node:fs';

/**
 * Files that hold secrets, or what protects them (the SQLite database with its WAL and SHM files,
 * the key-encryption key file, a database written by `latchkey migrate-db`), are created readable
 * by their owner only, whatever the process umask. Every such file is created through here.
 */

export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_DIR_MODE = 0o700;

/** Creates the folder and any missing parents, owner-only (0700); an existing folder is left as it is. */
export function ensurePrivateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Creates an empty owner-only (0600) file unless one exists, which is left untouched. Returns true
 * when it created the file. SQLite gives a database's -wal and -shm files the database file's
 * permissions, so creating the database this way before the driver opens it covers all three.
 */
export function createPrivateFile(path: string): boolean {
  try {
    closeSync(openSync(path, 'wx', PRIVATE_FILE_MODE));
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * Writes a new owner-only (0600) file. 'wx': fails with EEXIST when the file is there, so of two
 * processes starting together one writes it and the other reads what it wrote.
 */
export function writePrivateFile(path: string, data: string): void {
  writeFileSync(path, data, { mode: PRIVATE_FILE_MODE, flag: 'wx' });
}

/**
 * The permission bits of an existing file (e.g. 0o644), or undefined when it does not exist or on
 * Windows, where POSIX modes say nothing about who can read a file.
 */
export function fileMode(path: string, platform: NodeJS.Platform = process.platform): number | undefined {
  if (platform === 'win32') return undefined;
  try {
    return statSync(path).mode & 0o777;
  } catch {
    return undefined;
  }
}

/** Whether a mode lets the group or others read, write or run the file. */
export const isLoose = (mode: number): boolean => (mode & 0o077) !== 0;
