import { CHANGE_VERSION_SHARDS } from './migrations.js';
import {
  APPLICATION_COLUMNS,
  CODE_COLUMNS,
  IDP_COLUMNS,
  REFUSAL_COLUMNS,
  SIGNING_KEY_COLUMNS,
  TOKEN_COLUMNS,
  USER_COLUMNS,
  refusalRowsFrom,
  tokenRowsFrom,
} from './rows.js';

/**
 * Every fixed statement the PostgreSQL adapter runs (each prepared once per connection under its
 * name). See adapter.ts for why each write is a single statement.
 */

/** The channel every change is announced on (see bumpWhen); src/storage/postgres/listener.ts listens. */
export const CHANGE_CHANNEL = 'latchkey_changes';

/** Rows deleted per statement by the clean-up deletes. */
export const DELETE_CHUNK = 10_000;

/**
 * Wraps a statement that modifies rows (it must end where `RETURNING` may follow) so that it bumps
 * the change version when it touched at least one row, and answers how many it touched as `n`.
 */
const withBump = (statement: string): string =>
  `WITH w AS (${statement} RETURNING 1),
     b AS (${bumpWhen('EXISTS (SELECT 1 FROM w)')})
   SELECT count(*)::int AS n FROM w`;

/**
 * Increments this connection's change-version counter when `condition` holds (see migrations.ts)
 * and, with `notify`, announces it on CHANGE_CHANNEL in the same statement. NOTIFY is delivered
 * only when the transaction commits, so no instance hears of a change before it can read it. The
 * RETURNING expression runs once, for the one counter row updated; a data-modifying CTE runs to
 * completion whether or not its output is read.
 *
 * Refresh-token rotation bumps without notifying. PostgreSQL serialises the commits of all
 * transactions that notify (one cluster-wide lock, held through the commit's WAL flush): measured
 * here with 32 concurrent writers, 3,000 commits/s fell to 650-700/s with a NOTIFY each. Rotation
 * is the one frequent bump, and it changes nothing another instance caches (a rotated refresh
 * token was never cached; its access tokens stay valid), so announcing it would cap rotation
 * throughput and make every instance re-check on every rotation for nothing. Its bump is still
 * seen by polling. Everything that does change what others cache — registry and property changes,
 * revocations, a family revoked on reuse — notifies.
 */
function bumpWhen(condition: string, notify = true): string {
  return `UPDATE meta SET value = value + 1 WHERE key = 'change_version' AND shard = pg_backend_pid() % ${CHANGE_VERSION_SHARDS} AND ${condition}${
    notify ? `\n    RETURNING pg_notify('${CHANGE_CHANNEL}', '')` : ''
  }`;
}

const SESSION_COLUMNS = 'id, kind, user_id, created_at, last_seen_at, expires_at, parent_id, revoked_at';
const ATTEMPT_COLUMNS = 'kind, user_name, source, failures, window_start, last_at, expires_at';

const placeholders = (n: number, from = 1): string => Array.from({ length: n }, (_, i) => `$${from + i}`).join(', ');

export const SQL = {
  version: "SELECT sum(value)::bigint AS value FROM meta WHERE key = 'change_version'",
  userInsert: withBump(`INSERT INTO users (${USER_COLUMNS}) VALUES (${placeholders(8)})`),
  userUpdate: withBump('UPDATE users SET user_name = $2, password_hash = $3, active = $4, roles = $5, created_at = $6, updated_at = $7, password_changed_at = $8 WHERE id = $1'),
  userById: `SELECT ${USER_COLUMNS} FROM users WHERE id = $1`,
  userByName: `SELECT ${USER_COLUMNS} FROM users WHERE user_name = $1`,
  userList: `SELECT ${USER_COLUMNS} FROM users ORDER BY user_name`,
  roleInsert: withBump('INSERT INTO roles (name, description, built_in) VALUES ($1, $2, $3)'),
  roleByName: 'SELECT name, description, built_in FROM roles WHERE name = $1',
  roleList: 'SELECT name, description, built_in FROM roles ORDER BY name',
  scopeInsert: withBump('INSERT INTO scopes (name, description, built_in) VALUES ($1, $2, $3)'),
  scopeByName: 'SELECT name, description, built_in FROM scopes WHERE name = $1',
  scopeList: 'SELECT name, description, built_in FROM scopes ORDER BY name',
  appInsert: withBump(`INSERT INTO applications (${APPLICATION_COLUMNS}) VALUES (${placeholders(22)})`),
  appUpdate: withBump(
    `UPDATE applications SET client_id = $2, name = $3, secret_hash = $4, secret_rotated_at = $5, active = $6, public = $7,
       grant_types = $8, redirect_uris = $9, scopes = $10, access_token_lifespan = $11, refresh_token_lifespan = $12,
       token_format = $13, app_user_id = $14, created_at = $15, updated_at = $16,
       logo_uri = $17, audience = $18, jwks = $19, jwks_uri = $20, can_introspect = $21, admin_api = $22 WHERE id = $1`,
  ),
  appById: `SELECT ${APPLICATION_COLUMNS} FROM applications WHERE id = $1`,
  appByClientId: `SELECT ${APPLICATION_COLUMNS} FROM applications WHERE client_id = $1`,
  appList: `SELECT ${APPLICATION_COLUMNS} FROM applications ORDER BY name, client_id`,
  propSet: withBump(
    'INSERT INTO properties (name, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at',
  ),
  propList: 'SELECT name, value, updated_at AS "updatedAt" FROM properties ORDER BY name',
  tokenInsert: `INSERT INTO tokens (${TOKEN_COLUMNS}) ${tokenRowsFrom(1)}`,
  refusalInsert: `INSERT INTO refusals (${REFUSAL_COLUMNS}) ${refusalRowsFrom(1)}`,
  tokensAndRefusalsInsert: `WITH r AS (INSERT INTO refusals (${REFUSAL_COLUMNS}) ${refusalRowsFrom(10)})
    INSERT INTO tokens (${TOKEN_COLUMNS}) ${tokenRowsFrom(1)}`,
  tokenByHash: `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash = $1`,
  // The rotation, the replacements and the bump are one statement: all or nothing. A replacement
  // whose hash exists fails the whole statement (conflict) and leaves the old token active.
  tokenConsume: `WITH c AS (
      UPDATE tokens SET status = 'rotated' WHERE hash = $1 AND kind = 'refresh' AND status = 'active'
      RETURNING ${TOKEN_COLUMNS}),
    ins AS (INSERT INTO tokens (${TOKEN_COLUMNS}) ${tokenRowsFrom(2)} WHERE EXISTS (SELECT 1 FROM c)),
    b AS (${bumpWhen('EXISTS (SELECT 1 FROM c)', false)})
    SELECT * FROM c`,
  tokenRevoke: withBump("UPDATE tokens SET status = 'revoked', revoked_at = $1 WHERE hash = $2 AND status = 'active'"),
  tokenRevokeFamily: withBump("UPDATE tokens SET status = 'revoked', revoked_at = $1 WHERE family_id = $2 AND status IN ('active', 'rotated')"),
  // The user's own sign-ins (found by the partial index tokens_user) family by family, and with $3
  // the user's unexpired client-credentials tokens (found by the expiry index), in one statement.
  tokenRevokeUser: `WITH f AS (
      SELECT DISTINCT family_id FROM tokens WHERE user_id = $2 AND grant_type <> 'client_credentials' AND status IN ('active', 'rotated')),
    w AS (UPDATE tokens SET status = 'revoked', revoked_at = $1
      WHERE (family_id IN (SELECT family_id FROM f) AND status IN ('active', 'rotated'))
         OR ($3 AND expires_at > $1 AND user_id = $2 AND grant_type = 'client_credentials' AND status = 'active')
      RETURNING family_id),
    b AS (${bumpWhen('EXISTS (SELECT 1 FROM w)')})
    SELECT count(*)::int AS tokens, count(DISTINCT family_id)::int AS families FROM w`,
  // In chunks, so clearing a large backlog never runs into statement_timeout or holds many locks.
  tokenDeleteExpired: `WITH d AS (DELETE FROM tokens WHERE hash IN (SELECT hash FROM tokens WHERE expires_at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  tokenExport: `SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash > $1 ORDER BY hash LIMIT $2`,
  tokenImport: `INSERT INTO tokens (${TOKEN_COLUMNS}) ${tokenRowsFrom(1, true)}`,
  refusalById: `SELECT ${REFUSAL_COLUMNS} FROM refusals WHERE request_id = $1`,
  refusalDeleteOlder: `WITH d AS (DELETE FROM refusals WHERE request_id IN (SELECT request_id FROM refusals WHERE at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  refusalExport: `SELECT ${REFUSAL_COLUMNS} FROM refusals WHERE request_id > $1 ORDER BY request_id LIMIT $2`,
  auditInsert: 'INSERT INTO audit (id, at, actor, action, target, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7)',
  auditDeleteOlder: `WITH d AS (DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  auditExport: 'SELECT id, at, actor, action, target, before, after FROM audit WHERE id > $1 ORDER BY id LIMIT $2',
  // Rows arrive aggregated (one per metric and bucket) and sorted, so concurrent adds lock rows in
  // the same order and never deadlock; the stored count only ever grows by what each adds.
  activityAdd: `INSERT INTO activity (bucket, metric, count) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])
    ON CONFLICT (metric, bucket) DO UPDATE SET count = activity.count + excluded.count`,
  activitySeries: 'SELECT bucket, count FROM activity WHERE metric = $1 AND bucket >= $2 ORDER BY bucket',
  activityDeleteOlder: `WITH d AS (DELETE FROM activity WHERE (metric, bucket) IN (SELECT metric, bucket FROM activity WHERE bucket < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  activityList: 'SELECT bucket, metric, count FROM activity WHERE metric >= $1 AND metric < $2 AND bucket >= $3 ORDER BY metric, bucket',
  sessionInsert: `INSERT INTO sessions (${SESSION_COLUMNS}) VALUES (${placeholders(8)})`,
  sessionById: `SELECT ${SESSION_COLUMNS} FROM sessions WHERE id = $1`,
  sessionTouch: 'UPDATE sessions SET last_seen_at = GREATEST(last_seen_at, $2) WHERE id = $1 AND revoked_at IS NULL',
  sessionRevoke: 'UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL',
  sessionRevokeUser: 'UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2',
  sessionListUser: `SELECT ${SESSION_COLUMNS} FROM sessions WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2 ORDER BY created_at DESC, id`,
  sessionDeleteExpired: `WITH d AS (DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE expires_at < $1 OR revoked_at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  // Every key in one statement, in the caller's (sorted) order: concurrent failures on any instance
  // wait for each other's row locks and none is lost.
  attemptFail: `INSERT INTO login_attempts (${ATTEMPT_COLUMNS})
      SELECT k, u, s, 1, $4, $4, $5 FROM unnest($1::text[], $2::text[], $3::text[]) AS t(k, u, s)
    ON CONFLICT (kind, user_name, source) DO UPDATE SET
      failures = CASE WHEN login_attempts.expires_at > excluded.last_at AND login_attempts.window_start > $6 THEN login_attempts.failures + 1 ELSE 1 END,
      window_start = CASE WHEN login_attempts.expires_at > excluded.last_at AND login_attempts.window_start > $6 THEN login_attempts.window_start ELSE excluded.window_start END,
      last_at = excluded.last_at, expires_at = excluded.expires_at
    RETURNING ${ATTEMPT_COLUMNS}`,
  attemptGet: `SELECT a.kind, a.user_name, a.source, a.failures, a.window_start, a.last_at, a.expires_at
    FROM login_attempts a JOIN unnest($1::text[], $2::text[], $3::text[]) AS t(k, u, s) ON a.kind = t.k AND a.user_name = t.u AND a.source = t.s
    WHERE a.expires_at > $4`,
  attemptSucceed: `WITH d AS (DELETE FROM login_attempts WHERE kind = 'pair' AND user_name = $1 AND source = $2)
    INSERT INTO login_attempts (${ATTEMPT_COLUMNS}) VALUES ('known', $1, $2, 0, $3, $3, $4)
    ON CONFLICT (kind, user_name, source) DO UPDATE SET failures = 0, window_start = excluded.window_start, last_at = excluded.last_at, expires_at = excluded.expires_at`,
  attemptClear: `WITH d AS (DELETE FROM login_attempts WHERE user_name = $1 AND kind IN ('pair', 'user') RETURNING 1) SELECT count(*)::int AS n FROM d`,
  attemptList: `SELECT ${ATTEMPT_COLUMNS} FROM login_attempts WHERE kind IN ('pair', 'user') AND expires_at > $1 ORDER BY last_at DESC, kind, user_name, source LIMIT $2`,
  attemptDeleteExpired: `WITH d AS (DELETE FROM login_attempts WHERE (kind, user_name, source) IN (SELECT kind, user_name, source FROM login_attempts WHERE expires_at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  // A committed write that needs fresh space (an incompressible 4 KiB row), then its deletion.
  writeProbeInsert: "INSERT INTO write_probe (filler) VALUES (decode(md5(random()::text) || repeat(md5(random()::text), 127), 'hex')) RETURNING id",
  writeProbeDelete: 'DELETE FROM write_probe WHERE id = $1',
  schemaVersion: 'SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations',
  keyList: `SELECT ${SIGNING_KEY_COLUMNS} FROM signing_keys ORDER BY activates_at, kid`,
  // keys.rotate runs these three in one transaction after LOCK TABLE (see adapter.ts).
  keyLock: 'LOCK TABLE signing_keys IN EXCLUSIVE MODE',
  keyRetire: 'UPDATE signing_keys SET retires_at = $1, publish_until = $2 WHERE retires_at IS NULL OR retires_at > $1',
  keyInsert: withBump(`INSERT INTO signing_keys (${SIGNING_KEY_COLUMNS}) VALUES (${placeholders(8)})`),
  keyDeleteUnpublished: withBump('DELETE FROM signing_keys WHERE publish_until IS NOT NULL AND publish_until < $1'),
  codeInsert: `INSERT INTO authorization_codes (${CODE_COLUMNS}) VALUES (${placeholders(9)})`,
  codeByHash: `SELECT ${CODE_COLUMNS} FROM authorization_codes WHERE hash = $1`,
  // Compare-and-set: a concurrent consumer waits for the row lock, re-checks used_at and finds it set.
  codeConsume: `UPDATE authorization_codes SET used_at = $2 WHERE hash = $1 AND used_at IS NULL RETURNING ${CODE_COLUMNS}`,
  codeDeleteExpired: `WITH d AS (DELETE FROM authorization_codes WHERE hash IN (SELECT hash FROM authorization_codes WHERE expires_at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  // Inserted, or taken over from an expired entry: a row comes back. A concurrent inserter of the
  // same key waits for the first to commit, then takes the DO UPDATE path and finds it live.
  replayRemember: `INSERT INTO replay (key, expires_at) VALUES ($1, $2)
    ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay.expires_at <= $3 RETURNING 1 AS won`,
  replayDeleteExpired: `WITH d AS (DELETE FROM replay WHERE key IN (SELECT key FROM replay WHERE expires_at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  idpInsert: withBump(`INSERT INTO identity_providers (${IDP_COLUMNS}) VALUES (${placeholders(11)})`),
  idpUpdate: withBump(
    `UPDATE identity_providers SET name = $2, issuer = $3, metadata_url = $4, jwks_uri = $5, audience = $6, user_claim = $7,
       user_field = $8, active = $9, created_at = $10, updated_at = $11 WHERE id = $1`,
  ),
  idpById: `SELECT ${IDP_COLUMNS} FROM identity_providers WHERE id = $1`,
  idpByName: `SELECT ${IDP_COLUMNS} FROM identity_providers WHERE name = $1`,
  idpList: `SELECT ${IDP_COLUMNS} FROM identity_providers ORDER BY name`,
  idpDelete: withBump('DELETE FROM identity_providers WHERE id = $1'),
} as const;

export type StatementName = keyof typeof SQL;
