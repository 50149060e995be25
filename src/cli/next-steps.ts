import { resolve } from 'node:path';
import { DEFAULT_DB, parseDbLocation } from '../config/config.js';
import { shellWord } from '../core/shell.js';

/**
 * The `--db …` that the commands printed by `serve` and `init` carry, so that pasting them in
 * another terminal reaches the same instance: nothing for the default database, the file as it was
 * given for another one. A PostgreSQL URL is printed when it holds no password; with a password,
 * the commands say `--db "$LATCHKEY_DB"` and `note` tells the reader to set it (the password is
 * never printed).
 */
export function dbArguments(db: string): { readonly flag: string; readonly note: string | undefined } {
  const location = parseDbLocation(db);
  if (location.kind === 'sqlite') {
    return { flag: location.path === resolve(DEFAULT_DB) ? '' : ` --db ${shellWord(db)}`, note: undefined };
  }
  let password = true;
  try {
    password = new URL(location.url).password !== '';
  } catch {
    password = true;
  }
  if (!password) return { flag: ` --db ${shellWord(location.url)}`, note: undefined };
  return { flag: ' --db "$LATCHKEY_DB"', note: "Set LATCHKEY_DB to this instance's postgres:// URL in that terminal first." };
}

/** The first commands of the quick start, each with the instance's --db. */
export function quickStartCommands(db: string, prefix = 'npx latchkey'): string[] {
  const { flag, note } = dbArguments(db);
  return [
    ...(note === undefined ? [] : [`  # ${note}`]),
    `  ${prefix} users create svc-integration --roles itil${flag}`,
    `  ${prefix} apps create --name "Nightly export" --grants client_credentials --app-user svc-integration${flag}`,
    `  ${prefix} properties set glide.oauth.inbound.client.credential.grant_type.enabled true${flag}`,
  ];
}
