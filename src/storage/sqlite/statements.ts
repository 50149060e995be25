import type { Database, Statement } from 'better-sqlite3';

export const TOKEN_COLUMNS = 'hash, kind, application_id, user_id, scopes, grant_type, issued_at, expires_at, family_id, status, revoked_at';
const APPLICATION_COLUMNS = [
  'id', 'client_id', 'name', 'secret_hash', 'secret_rotated_at', 'active', 'public', 'grant_types', 'redirect_uris', 'scopes',
  'access_token_lifespan', 'refresh_token_lifespan', 'token_format', 'app_user_id', 'created_at', 'updated_at',
  'logo_uri', 'audience', 'jwks', 'jwks_uri', 'can_introspect', 'admin_api',
];
const SIGNING_KEY_COLUMNS = 'kid, alg, public_jwk, private_key_enc, created_at, activates_at, retires_at, publish_until';
const CODE_COLUMNS = 'hash, application_id, user_id, redirect_uri, scopes, code_challenge, issued_at, expires_at, used_at';
const SESSION_COLUMNS = 'id, kind, user_id, created_at, last_seen_at, expires_at, parent_id, revoked_at';
const ATTEMPT_COLUMNS = 'kind, user_name, source, failures, window_start, last_at, expires_at';
const IDP_COLUMNS = ['id', 'name', 'issuer', 'metadata_url', 'jwks_uri', 'audience', 'user_claim', 'user_field', 'active', 'created_at', 'updated_at'];

const marks = (n: number): string => Array.from({ length: n }, () => '?').join(', ');
/** `INSERT INTO table (columns) VALUES (?, …)`. */
const insertInto = (table: string, columns: readonly string[]): string => `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${marks(columns.length)})`;
/** `UPDATE table SET every column but the first = ? … WHERE first = ?` (parameters: the rest, then the key). */
const updateAll = (table: string, columns: readonly string[]): string =>
  `UPDATE ${table} SET ${columns.slice(1).map((c) => `${c} = ?`).join(', ')} WHERE ${columns[0]} = ?`;

/** Every fixed statement the SQLite adapter runs. */
const SQL = {
  bump: "UPDATE meta SET value = value + 1 WHERE key = 'change_version'",
  version: "SELECT value FROM meta WHERE key = 'change_version'",
  userInsert: 'INSERT INTO users (id, user_name, password_hash, active, roles, created_at, updated_at, password_changed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  userUpdate: 'UPDATE users SET user_name = ?, password_hash = ?, active = ?, roles = ?, created_at = ?, updated_at = ?, password_changed_at = ? WHERE id = ?',
  userById: 'SELECT * FROM users WHERE id = ?',
  userByName: 'SELECT * FROM users WHERE user_name = ?',
  userList: 'SELECT * FROM users ORDER BY user_name',
  roleInsert: 'INSERT INTO roles (name, description, built_in) VALUES (?, ?, ?)',
  roleByName: 'SELECT * FROM roles WHERE name = ?',
  roleList: 'SELECT * FROM roles ORDER BY name',
  scopeInsert: 'INSERT INTO scopes (name, description, built_in) VALUES (?, ?, ?)',
  scopeByName: 'SELECT * FROM scopes WHERE name = ?',
  scopeList: 'SELECT * FROM scopes ORDER BY name',
  appInsert: insertInto('applications', APPLICATION_COLUMNS),
  appUpdate: updateAll('applications', APPLICATION_COLUMNS),
  appById: 'SELECT * FROM applications WHERE id = ?',
  appByClientId: 'SELECT * FROM applications WHERE client_id = ?',
  appList: 'SELECT * FROM applications ORDER BY name, client_id',
  propSet: 'INSERT INTO properties (name, value, updated_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
  propList: 'SELECT name, value, updated_at AS updatedAt FROM properties ORDER BY name',
  tokenInsert: `INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', NULL)`,
  tokenByHash: 'SELECT * FROM tokens WHERE hash = ?',
  tokenConsume: "UPDATE tokens SET status = 'rotated' WHERE hash = ? AND kind = 'refresh' AND status = 'active'",
  tokenRevoke: "UPDATE tokens SET status = 'revoked', revoked_at = ? WHERE hash = ? AND status = 'active'",
  tokenRevokeFamily: "UPDATE tokens SET status = 'revoked', revoked_at = ? WHERE family_id = ? AND status IN ('active', 'rotated')",
  tokenDeleteExpired: 'DELETE FROM tokens WHERE expires_at < ?',
  // Both use the partial index tokens_user (the WHERE must repeat its condition to use it).
  tokenUserFamilies: "SELECT DISTINCT family_id FROM tokens WHERE user_id = ? AND grant_type <> 'client_credentials' AND status IN ('active', 'rotated')",
  // Unexpired tokens only, found by the expiry index: client-credentials tokens live minutes.
  tokenRevokeUserCc: "UPDATE tokens SET status = 'revoked', revoked_at = ? WHERE expires_at > ? AND user_id = ? AND grant_type = 'client_credentials' AND status = 'active' RETURNING family_id",
  refusalInsert: 'INSERT INTO refusals (request_id, at, endpoint, status, error, reason, description, hint, client_id, application_name, user_name, remote_address) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  refusalById: 'SELECT * FROM refusals WHERE request_id = ?',
  refusalDeleteOlder: 'DELETE FROM refusals WHERE at < ?',
  refusalExport: 'SELECT * FROM refusals WHERE request_id > ? ORDER BY request_id LIMIT ?',
  tokenExport: `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash > ? ORDER BY hash LIMIT ?`,
  tokenImport: `INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  schemaVersion: 'SELECT MAX(version) FROM schema_migrations',
  keyList: `SELECT ${SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY activates_at, kid`,
  keyRetire: 'UPDATE signing_keys SET retires_at = ?, publish_until = ? WHERE retires_at IS NULL OR retires_at > ?',
  keyInsert: `INSERT INTO signing_keys (${SIGNING_KEY_COLUMNS}) VALUES (${marks(8)})`,
  keyDeleteUnpublished: 'DELETE FROM signing_keys WHERE publish_until IS NOT NULL AND publish_until < ?',
  codeInsert: `INSERT INTO authorization_codes (${CODE_COLUMNS}) VALUES (${marks(9)})`,
  codeByHash: `SELECT ${CODE_COLUMNS} FROM authorization_codes WHERE hash = ?`,
  // One statement: of concurrent consumers (any process on the file) exactly one sees a row back.
  codeConsume: `UPDATE authorization_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL RETURNING ${CODE_COLUMNS}`,
  codeDeleteExpired: 'DELETE FROM authorization_codes WHERE expires_at < ?',
  // Inserted, or taken over from an expired entry: a row comes back. A live entry: none.
  replayRemember: `INSERT INTO replay (key, expires_at) VALUES (?, ?)
    ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay.expires_at <= ? RETURNING 1`,
  replayDeleteExpired: 'DELETE FROM replay WHERE expires_at < ?',
  idpInsert: insertInto('identity_providers', IDP_COLUMNS),
  idpUpdate: updateAll('identity_providers', IDP_COLUMNS),
  idpById: `SELECT ${IDP_COLUMNS.join(', ')} FROM identity_providers WHERE id = ?`,
  idpByName: `SELECT ${IDP_COLUMNS.join(', ')} FROM identity_providers WHERE name = ?`,
  idpList: `SELECT ${IDP_COLUMNS.join(', ')} FROM identity_providers ORDER BY name`,
  idpDelete: 'DELETE FROM identity_providers WHERE id = ?',
  auditInsert: 'INSERT INTO audit (id, at, actor, action, target, before, after) VALUES (?, ?, ?, ?, ?, ?, ?)',
  auditDeleteOlder: 'DELETE FROM audit WHERE at < ?',
  auditExport: 'SELECT id, at, actor, action, target, before, after FROM audit WHERE id > ? ORDER BY id LIMIT ?',
  activityAdd: 'INSERT INTO activity (bucket, metric, count) VALUES (?, ?, ?) ON CONFLICT (metric, bucket) DO UPDATE SET count = activity.count + excluded.count',
  activitySeries: 'SELECT bucket, count FROM activity WHERE metric = ? AND bucket >= ? ORDER BY bucket',
  activityDeleteOlder: 'DELETE FROM activity WHERE bucket < ?',
  sessionInsert: `INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (${marks(8)})`,
  sessionById: `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = ?`,
  sessionTouch: 'UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id = ? AND revoked_at IS NULL',
  sessionRevoke: 'UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL',
  sessionRevokeUser: 'UPDATE sessions SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?',
  sessionListUser: `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC, id`,
  sessionDeleteExpired: 'DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?',
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
  attemptList: `SELECT ${ATTEMPT_COLUMNS} FROM login_attempts WHERE kind IN ('pair', 'user') AND expires_at > ? ORDER BY last_at DESC, kind, user_name, source LIMIT ?`,
  attemptDeleteExpired: 'DELETE FROM login_attempts WHERE expires_at < ?',
  activityList: 'SELECT bucket, metric, count FROM activity WHERE metric >= ? AND metric < ? AND bucket >= ? ORDER BY metric, bucket',
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
