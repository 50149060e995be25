import type { NewTokenRecord, Refusal, TokenRecord } from '../../domain/model.js';
import { actEncode, audienceEncode, factsText } from '../sql/rows.js';

/**
 * Rows as column arrays for `unnest`, so one statement with a fixed text (prepared once per
 * connection) inserts any number of rows: the PostgreSQL group commit (batcher.ts) and imports.
 */

/**
 * New tokens as twelve column arrays for `unnest`, so one statement with a fixed text (prepared once
 * per connection) inserts any number of rows. PostgreSQL arrays must be rectangular and scope lists
 * differ in length, so a token's scopes travel as one text of space-separated words, which the
 * statement splits with string_to_array: the same encoding the SQLite adapter stores. Scope names
 * never hold a space (RFC 6749 §3.3; registry/scopes.ts SCOPE_TOKEN, checked when a scope is
 * defined, registered or asked for). They travelled as JSON arrays unpacked with
 * jsonb_array_elements_text, which cost the database about 2 µs more per row (docs/benchmarks.md,
 * "PostgreSQL's work per token").
 */
export function tokenColumns(tokens: readonly NewTokenRecord[]): unknown[][] {
  const cols: unknown[][] = [[], [], [], [], [], [], [], [], [], [], [], []];
  for (const t of tokens) {
    cols[0]!.push(t.hash);
    cols[1]!.push(t.kind);
    cols[2]!.push(t.applicationId);
    cols[3]!.push(t.userId);
    cols[4]!.push(t.scopes.join(' '));
    cols[5]!.push(t.grantType);
    cols[6]!.push(t.issuedAt);
    cols[7]!.push(t.expiresAt);
    cols[8]!.push(t.familyId);
    cols[9]!.push(audienceEncode(t.audience));
    cols[10]!.push(t.jkt ?? null);
    cols[11]!.push(actEncode(t.act));
  }
  return cols;
}

/**
 * `SELECT` producing rows for `INSERT INTO tokens (TOKEN_COLUMNS)` (sql/rows.ts) from the tokenColumns arrays
 * bound at $first…$first+11 (new tokens: active, not revoked), or with `stored`, from the
 * tokenImportColumns arrays at $first…$first+13 (status and revocation time as given).
 */
export function tokenRowsFrom(first: number, stored = false): string {
  const p = (i: number): string => `$${first + i}`;
  const state = stored ? 'st, r' : "'active', NULL::bigint";
  const extra = stored ? `, ${p(12)}::text[], ${p(13)}::bigint[]` : '';
  return `SELECT h, k, a, u, string_to_array(s, ' '), g, i, e, f, ${state}, au, jk, ac
    FROM unnest(${p(0)}::text[], ${p(1)}::text[], ${p(2)}::text[], ${p(3)}::text[], ${p(4)}::text[], ${p(5)}::text[], ${p(6)}::bigint[], ${p(7)}::bigint[], ${p(8)}::text[], ${p(9)}::text[], ${p(10)}::text[], ${p(11)}::text[]${extra})
      AS t(h, k, a, u, s, g, i, e, f, au, jk, ac${stored ? ', st, r' : ''})`;
}

/** Stored tokens (status and revocation time as given) as fourteen column arrays, for importing. */
export function tokenImportColumns(tokens: readonly TokenRecord[]): unknown[][] {
  const cols = tokenColumns(tokens);
  cols.push(tokens.map((t) => t.status), tokens.map((t) => t.revokedAt));
  return cols;
}

/** Refusals as twelve column arrays for `unnest`, in COLUMNS.refusals order. */
export function refusalColumns(refusals: readonly Refusal[]): unknown[][] {
  const cols: unknown[][] = Array.from({ length: 14 }, () => []);
  for (const f of refusals) {
    const values = [f.requestId, f.at, f.endpoint, f.status, f.error, f.reason, f.description, f.hint, f.clientId, f.applicationName, f.userName, f.remoteAddress, factsText(f.facts), f.ruleId ?? null];
    values.forEach((v, i) => cols[i]!.push(v));
  }
  return cols;
}

/** `SELECT` producing refusal rows from the refusalColumns arrays bound at $first…$first+13. */
export function refusalRowsFrom(first: number): string {
  const types = ['text', 'bigint', 'text', 'integer', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text', 'text'];
  return `SELECT * FROM unnest(${types.map((t, i) => `$${first + i}::${t}[]`).join(', ')})`;
}
