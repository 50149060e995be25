/**
 * What truly differs between the SQL databases Latchkey speaks, as one small object per adapter
 * (sqlite/dialect.ts, postgres/dialect.ts). Everything else of the SQL layer (column lists, row
 * mappers, the list builder, the shared reads) is written once against it.
 */

/** A boolean column as the driver returns it: 0/1 (SQLite INTEGER) or true/false (PostgreSQL BOOLEAN). */
export type SqlBool = number | boolean;
/** A list of strings as the driver returns it: text (SQLite: JSON, or space-separated for token scopes) or an array (PostgreSQL TEXT[]). */
export type SqlList = string | string[];

/** Turns a value into its column form and back. */
export interface Codec<T, S> {
  encode(value: T): S;
  decode(stored: S): T;
}

export interface SqlDialect {
  readonly name: string;
  /** The placeholder of the n-th parameter (1-based): `?` (SQLite, bound in order) or `$n` (PostgreSQL). */
  param(n: number): string;
  /**
   * Whether a placeholder names its parameter by number, so one value may serve several places
   * (`$1` twice); when false, each place takes its own value, in the order the places appear.
   */
  readonly numberedParams: boolean;
  /** Boolean columns (`active`, `public`, `built_in`, …). */
  readonly bool: Codec<boolean, SqlBool>;
  /** String-list columns (user roles, application grant types, redirect URIs and scopes, code scopes): JSON text or TEXT[]. */
  readonly list: Codec<readonly string[], SqlList>;
  /** A token's scopes: space-separated text (SQLite) or TEXT[] (PostgreSQL). */
  readonly words: Codec<readonly string[], SqlList>;
  /** The larger of two SQL expressions: `max(a, b)` (SQLite) or `GREATEST(a, b)` (PostgreSQL). */
  greatest(a: string, b: string): string;
  /**
   * The upsert clause after `INSERT … VALUES (…)` that overwrites `columns` with the inserted values
   * when a row with the same `key` exists (both today: `ON CONFLICT (key) DO UPDATE SET c = excluded.c`;
   * MySQL would say `ON DUPLICATE KEY UPDATE c = VALUES(c)`).
   */
  upsert(key: readonly string[], columns: readonly string[]): string;
}

/** `$first, …` or `?, …`: the placeholders of `n` parameters starting at number `first`. */
export function params(d: SqlDialect, n: number, first = 1): string {
  return Array.from({ length: n }, (_, i) => d.param(first + i)).join(', ');
}

/** The `ON CONFLICT … DO UPDATE` clause SQLite and PostgreSQL share (see SqlDialect.upsert). */
export function onConflictUpdate(key: readonly string[], columns: readonly string[]): string {
  return `ON CONFLICT (${key.join(', ')}) DO UPDATE SET ${columns.map((c) => `${c} = excluded.${c}`).join(', ')}`;
}
