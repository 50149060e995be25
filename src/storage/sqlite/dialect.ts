import { onConflictUpdate, type SqlDialect, type SqlList } from '../sql/dialect.js';

/** SQLite (better-sqlite3): `?` bound in order, booleans as 0/1, string lists as JSON text, token scopes space-separated. */
export const SQLITE_DIALECT: SqlDialect = {
  name: 'sqlite',
  param: () => '?',
  numberedParams: false,
  bool: { encode: (b) => (b ? 1 : 0), decode: (v) => v === 1 },
  list: { encode: (xs) => JSON.stringify(xs), decode: (v: SqlList) => JSON.parse(v as string) as string[] },
  words: { encode: (xs) => xs.join(' '), decode: (v: SqlList) => (v === '' ? [] : (v as string).split(' ')) },
  greatest: (a, b) => `max(${a}, ${b})`,
  upsert: onConflictUpdate,
};
