import { onConflictUpdate, type SqlDialect, type SqlList } from '../sql/dialect.js';

/**
 * PostgreSQL (pg, with BIGINT parsed to numbers by the adapter's pool): `$n`, BOOLEAN, and TEXT[]
 * for every string list (the driver hands back a fresh array per query, so rows are not copied).
 */
export const POSTGRES_DIALECT: SqlDialect = {
  name: 'postgres',
  param: (n) => `$${n}`,
  numberedParams: true,
  bool: { encode: (b) => b, decode: (v) => v === true },
  list: { encode: (xs) => [...xs], decode: (v: SqlList) => v as string[] },
  words: { encode: (xs) => [...xs], decode: (v: SqlList) => v as string[] },
  greatest: (a, b) => `GREATEST(${a}, ${b})`,
  upsert: onConflictUpdate,
};
