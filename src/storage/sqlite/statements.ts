import type { Database, Statement } from 'better-sqlite3';

export const TOKEN_COLUMNS = 'hash, kind, application_id, user_id, scopes, grant_type, issued_at, expires_at, family_id, status, revoked_at';

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
  appInsert: 'INSERT INTO applications (id, client_id, name, secret_hash, secret_rotated_at, active, public, grant_types, redirect_uris, scopes, access_token_lifespan, refresh_token_lifespan, token_format, app_user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  appUpdate: 'UPDATE applications SET client_id = ?, name = ?, secret_hash = ?, secret_rotated_at = ?, active = ?, public = ?, grant_types = ?, redirect_uris = ?, scopes = ?, access_token_lifespan = ?, refresh_token_lifespan = ?, token_format = ?, app_user_id = ?, created_at = ?, updated_at = ? WHERE id = ?',
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
  refusalInsert: 'INSERT INTO refusals (request_id, at, endpoint, status, error, reason, description, hint, client_id, application_name, user_name, remote_address) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
  refusalById: 'SELECT * FROM refusals WHERE request_id = ?',
  refusalDeleteOlder: 'DELETE FROM refusals WHERE at < ?',
  refusalExport: 'SELECT * FROM refusals WHERE request_id > ? ORDER BY request_id LIMIT ?',
  tokenExport: `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash > ? ORDER BY hash LIMIT ?`,
  tokenImport: `INSERT INTO tokens (${TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  schemaVersion: 'SELECT MAX(version) FROM schema_migrations',
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
