import type { Database, Statement } from 'better-sqlite3';
import { insertInto, sharedReads, updateByKey } from '../sql/queries.js';
import { ATTEMPT_COLUMNS, CODE_COLUMNS, COLUMNS, IAT_COLUMNS, PUSHED_REQUEST_COLUMNS, TOKEN_COLUMNS } from '../sql/rows.js';
import { SQLITE_DIALECT as D } from './dialect.js';

/**
 * Rows one clean-up statement deletes at most (the tokens, refusals and authorization codes the
 * clean-up deletes): each chunk is its own short write transaction, and the adapter yields to the
 * event loop between chunks, so a backlog of millions of expired rows never holds the event loop
 * (and the writer) for longer than one chunk, and the WAL stays within its bound (the
 * checkpointer can restart it between chunks; one big DELETE would write every page it dirties
 * into the WAL in one transaction). One DELETE of 120k expired rows held the event loop 3 s and
 * wrote a 150 MB WAL; chunks of 1000 took about 20 ms each (sign-in tokens scattered among live
 * refresh tokens), so 500 keeps a chunk near 10 ms.
 */
export const SQLITE_DELETE_CHUNK = 500;

/** Every fixed statement the SQLite adapter runs. */
const SQL = {
  ...sharedReads(D),
  bump: "UPDATE meta SET value = value + 1 WHERE key = 'change_version'",
  version: "SELECT value FROM meta WHERE key = 'change_version'",
  userInsert: insertInto(D, 'users', COLUMNS.users),
  userUpdate: updateByKey(D, 'users', COLUMNS.users),
  userDelete: 'DELETE FROM users WHERE id = ?',
  roleInsert: insertInto(D, 'roles', COLUMNS.named),
  roleUpdate: updateByKey(D, 'roles', COLUMNS.named),
  roleDelete: 'DELETE FROM roles WHERE name = ?',
  scopeInsert: insertInto(D, 'scopes', COLUMNS.named),
  scopeUpdate: updateByKey(D, 'scopes', COLUMNS.named),
  scopeDelete: 'DELETE FROM scopes WHERE name = ?',
  appInsert: insertInto(D, 'applications', COLUMNS.applications),
  appUpdate: updateByKey(D, 'applications', COLUMNS.applications),
  appDelete: 'DELETE FROM applications WHERE id = ?',
  propSet: `${insertInto(D, 'properties', ['name', 'value', 'updated_at'])} ${D.upsert(['name'], ['value', 'updated_at'])}`,
  tokenInsert: `INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', NULL, ?, ?, ?)`,
  tokenConsume: "UPDATE tokens SET status = 'rotated' WHERE hash = ? AND kind = 'refresh' AND status = 'active'",
  tokenRevoke: "UPDATE tokens SET status = 'revoked', revoked_at = ? WHERE hash = ? AND status = 'active'",
  // The family's members by the partial index tokens_family (its condition repeated), and its first
  // token, which is its own family and not in that index, by its key (migration 20). The family
  // id is bound twice: at, family, family.
  tokenRevokeFamily: "UPDATE tokens SET status = 'revoked', revoked_at = ? WHERE (family_id = ? AND family_id <> hash OR hash = ? AND family_id = hash) AND status IN ('active', 'rotated')",
  // In chunks (SQLITE_DELETE_CHUNK), found by the expiry index (which carries the key).
  tokenDeleteExpired: `DELETE FROM tokens WHERE hash IN (SELECT hash FROM tokens WHERE expires_at < ? LIMIT ${SQLITE_DELETE_CHUNK})`,
  // Both use the partial index tokens_user (the WHERE must repeat its condition to use it).
  tokenUserFamilies: "SELECT DISTINCT family_id FROM tokens WHERE user_id = ? AND grant_type <> 'client_credentials' AND status IN ('active', 'rotated')",
  // Unexpired tokens only, found by the expiry index: client-credentials tokens live minutes.
  tokenRevokeUserCc: "UPDATE tokens SET status = 'revoked', revoked_at = ? WHERE expires_at > ? AND user_id = ? AND grant_type = 'client_credentials' AND status = 'active' RETURNING family_id",
  // Unexpired tokens only, found by the expiry index (there is no index by application).
  tokenRevokeApp: "UPDATE tokens SET status = 'revoked', revoked_at = ? WHERE expires_at > ? AND application_id = ? AND status IN ('active', 'rotated') RETURNING family_id",
  // Scopes are stored as space-separated words: a whole-word match (instr, not LIKE: a scope may hold % or _).
  tokenRevokeScope: "UPDATE tokens SET status = 'revoked', revoked_at = ? WHERE expires_at > ? AND instr(' ' || scopes || ' ', ' ' || ? || ' ') > 0 AND status IN ('active', 'rotated') RETURNING family_id",
  refusalInsert: insertInto(D, 'refusals', COLUMNS.refusals),
  refusalDeleteOlder: `DELETE FROM refusals WHERE request_id IN (SELECT request_id FROM refusals WHERE at < ? LIMIT ${SQLITE_DELETE_CHUNK})`,
  tokenImport: insertInto(D, 'tokens', COLUMNS.tokens),
  schemaVersion: 'SELECT MAX(version) FROM schema_migrations',
  keyRetire: "UPDATE signing_keys SET retires_at = ?, publish_until = ? WHERE (retires_at IS NULL OR retires_at > ?) AND purpose = ? AND (purpose = 'access' OR alg = ?)",
  keyInsert: insertInto(D, 'signing_keys', COLUMNS.signingKeys),
  keyDeleteUnpublished: 'DELETE FROM signing_keys WHERE publish_until IS NOT NULL AND publish_until < ?',
  codeInsert: insertInto(D, 'authorization_codes', COLUMNS.codes),
  // One statement: of concurrent consumers (any process on the file) exactly one sees a row back.
  codeConsume: `UPDATE authorization_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL RETURNING ${CODE_COLUMNS}`,
  codeDeleteExpired: `DELETE FROM authorization_codes WHERE hash IN (SELECT hash FROM authorization_codes WHERE expires_at < ?
    AND (claims IS NULL OR NOT EXISTS (SELECT 1 FROM tokens WHERE tokens.family_id = authorization_codes.hash AND tokens.family_id <> tokens.hash AND tokens.expires_at >= ?)) LIMIT ${SQLITE_DELETE_CHUNK})`,
  // Inserted, or taken over from an expired entry: a row comes back. A live entry: none.
  replayRemember: `INSERT INTO replay (key, expires_at) VALUES (?, ?)
    ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay.expires_at <= ? RETURNING 1`,
  replayDeleteExpired: 'DELETE FROM replay WHERE expires_at < ?',
  // RFC 9126 pushed authorization requests: single use (the UPDATE decides), expired ones deleted.
  parInsert: insertInto(D, 'pushed_requests', COLUMNS.pushedRequests),
  parConsume: `UPDATE pushed_requests SET used_at = ? WHERE hash = ? AND used_at IS NULL RETURNING ${PUSHED_REQUEST_COLUMNS}`,
  parByHash: `SELECT ${PUSHED_REQUEST_COLUMNS} FROM pushed_requests WHERE hash = ?`,
  parDeleteExpired: 'DELETE FROM pushed_requests WHERE expires_at < ?',
  ruleInsert: insertInto(D, 'rules', COLUMNS.rules),
  ruleUpdate: updateByKey(D, 'rules', COLUMNS.rules),
  ruleDelete: 'DELETE FROM rules WHERE id = ?',
  resourceInsert: insertInto(D, 'resources', COLUMNS.resources),
  resourceUpdate: updateByKey(D, 'resources', COLUMNS.resources),
  resourceDelete: 'DELETE FROM resources WHERE uri = ?',
  idpInsert: insertInto(D, 'identity_providers', COLUMNS.identityProviders),
  idpUpdate: updateByKey(D, 'identity_providers', COLUMNS.identityProviders),
  idpDelete: 'DELETE FROM identity_providers WHERE id = ?',
  auditInsert: insertInto(D, 'audit', COLUMNS.audit),
  auditDeleteOlder: 'DELETE FROM audit WHERE at < ?',
  activityAdd: 'INSERT INTO activity (bucket, metric, count) VALUES (?, ?, ?) ON CONFLICT (metric, bucket) DO UPDATE SET count = activity.count + excluded.count',
  activityDeleteOlder: 'DELETE FROM activity WHERE bucket < ?',
  usageAdd: `INSERT INTO usage (client_id, day, scope, tokens, calls, refusals, last_use_at) VALUES (?, ?, ?, ?, ?, ?, ?)
    ON CONFLICT (client_id, day, scope) DO UPDATE SET tokens = usage.tokens + excluded.tokens, calls = usage.calls + excluded.calls,
      refusals = usage.refusals + excluded.refusals, last_use_at = ${D.greatest('usage.last_use_at', 'excluded.last_use_at')}`,
  usageDeleteOlder: 'DELETE FROM usage WHERE day < ?',
  sessionInsert: insertInto(D, 'sessions', COLUMNS.sessions),
  sessionTouch: `UPDATE sessions SET last_seen_at = ${D.greatest('last_seen_at', '?')} WHERE id = ? AND revoked_at IS NULL`,
  sessionRevoke: 'UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
  sessionRevokeUser: 'UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?',
  sessionDeleteExpired: 'DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?',
  sessionClientAdd: 'INSERT INTO session_clients (sid, application_id, created_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (sid, application_id) DO NOTHING',
  sessionClientsOf: 'SELECT application_id FROM session_clients WHERE sid = ? ORDER BY created_at, application_id',
  sessionClientsDeleteExpired: 'DELETE FROM session_clients WHERE expires_at < ?',
  // One statement per key: of concurrent failures (any process on the file) none is lost.
  attemptFail: `INSERT INTO login_attempts (${ATTEMPT_COLUMNS}) VALUES (?, ?, ?, 1, ?, ?, ?)
    ON CONFLICT (kind, user_name, source) DO UPDATE SET
      failures = CASE WHEN login_attempts.expires_at > excluded.last_at AND login_attempts.window_start > ? THEN login_attempts.failures + 1 ELSE 1 END,
      window_start = CASE WHEN login_attempts.expires_at > excluded.last_at AND login_attempts.window_start > ? THEN login_attempts.window_start ELSE excluded.window_start END,
      last_at = excluded.last_at, expires_at = excluded.expires_at
    RETURNING ${ATTEMPT_COLUMNS}`,
  attemptGet: `SELECT ${ATTEMPT_COLUMNS} FROM login_attempts WHERE kind = ? AND user_name = ? AND source = ? AND expires_at > ?`,
  attemptKnown: `INSERT INTO login_attempts (${ATTEMPT_COLUMNS}) VALUES ('known', ?, ?, 0, ?, ?, ?)
    ON CONFLICT (kind, user_name, source) DO UPDATE SET failures = 0, window_start = excluded.window_start, last_at = excluded.last_at, expires_at = excluded.expires_at`,
  attemptDeletePair: "DELETE FROM login_attempts WHERE kind = 'pair' AND user_name = ? AND source = ?",
  attemptClear: "DELETE FROM login_attempts WHERE user_name = ? AND kind IN ('pair', 'user')",
  attemptDeleteExpired: 'DELETE FROM login_attempts WHERE expires_at < ?',
  iatInsert: insertInto(D, 'initial_access_tokens', COLUMNS.initialAccessTokens),
  // One statement: of concurrent registrations spending the last use (any process on the file) exactly one sees a row back.
  iatConsume: `UPDATE initial_access_tokens SET uses_left = CASE WHEN uses_left IS NULL THEN NULL ELSE uses_left - 1 END, last_used_at = ?
    WHERE hash = ? AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?) AND (uses_left IS NULL OR uses_left > 0) RETURNING ${IAT_COLUMNS}`,
  iatRevoke: 'UPDATE initial_access_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
  regPolicyPut: `${insertInto(D, 'registration_policies', COLUMNS.registrationPolicies)} ${D.upsert(['name'], ['description', 'spec', 'updated_at'])}`,
  regPolicyDelete: 'DELETE FROM registration_policies WHERE name = ?',
  exchangePolicyPut: `${insertInto(D, 'exchange_policies', COLUMNS.exchangePolicies)} ${D.upsert(['client_id'], ['spec', 'updated_at'])}`,
  exchangePolicyDelete: 'DELETE FROM exchange_policies WHERE client_id = ?',
  registrationInsert: insertInto(D, 'registrations', COLUMNS.registrations),
  registrationUpdate: updateByKey(D, 'registrations', COLUMNS.registrations),
  registrationTouch: `UPDATE registrations SET last_used_at = ${D.greatest('COALESCE(last_used_at, 0)', '?')} WHERE client_id = ?`,
  registrationDelete: 'DELETE FROM registrations WHERE client_id = ?',
  jobEnsure: "INSERT OR IGNORE INTO jobs (name, holder, until) VALUES (?, '', 0)",
  jobTake: 'UPDATE jobs SET holder = ?, until = ? WHERE name = ? AND until < ?',
  jobRenew: 'UPDATE jobs SET until = ? WHERE name = ? AND holder = ?',
  jobRelease: 'UPDATE jobs SET until = 0 WHERE name = ? AND holder = ?',
} as const;

/** Statements whose result is the first column of the first row. */
const PLUCKED: ReadonlySet<string> = new Set(['version', 'schemaVersion']);

export type Statements = { readonly [K in keyof typeof SQL]: Statement };

/** Prepares every statement once per connection. */
export function prepareStatements(db: Database): Statements {
  const entries = Object.entries(SQL).map(([name, sql]) => {
    const statement = db.prepare(sql);
    return [name, PLUCKED.has(name) ? statement.pluck() : statement] as const;
  });
  return Object.fromEntries(entries) as Statements;
}

/** The text of every fixed statement (tests read the query plans of the hot ones). */
export function sqliteStatementText(): { readonly [K in keyof typeof SQL]: string } {
  return SQL;
}
