import { CHANGE_VERSION_SHARDS } from './migrations.js';
import { insertInto, sharedReads, updateByKey } from '../sql/queries.js';
import { ATTEMPT_COLUMNS, CODE_COLUMNS, COLUMNS, IAT_COLUMNS, PUSHED_REQUEST_COLUMNS, REFUSAL_COLUMNS, TOKEN_COLUMNS } from '../sql/rows.js';
import { POSTGRES_DIALECT as D } from './dialect.js';
import { refusalRowsFrom, tokenRowsFrom } from './unnest.js';

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

export const SQL = {
  ...sharedReads(D),
  version: "SELECT sum(value)::bigint AS value FROM meta WHERE key = 'change_version'",
  ping: 'SELECT 1',
  userInsert: withBump(insertInto(D, 'users', COLUMNS.users)),
  userUpdate: withBump(updateByKey(D, 'users', COLUMNS.users)),
  userDelete: withBump('DELETE FROM users WHERE id = $1'),
  roleInsert: withBump(insertInto(D, 'roles', COLUMNS.named)),
  roleUpdate: withBump(updateByKey(D, 'roles', COLUMNS.named)),
  roleDelete: withBump('DELETE FROM roles WHERE name = $1'),
  scopeInsert: withBump(insertInto(D, 'scopes', COLUMNS.named)),
  scopeUpdate: withBump(updateByKey(D, 'scopes', COLUMNS.named)),
  scopeDelete: withBump('DELETE FROM scopes WHERE name = $1'),
  appInsert: withBump(insertInto(D, 'applications', COLUMNS.applications)),
  appUpdate: withBump(updateByKey(D, 'applications', COLUMNS.applications)),
  appDelete: withBump('DELETE FROM applications WHERE id = $1'),
  propSet: withBump(`${insertInto(D, 'properties', ['name', 'value', 'updated_at'])} ${D.upsert(['name'], ['value', 'updated_at'])}`),
  tokenInsert: `INSERT INTO tokens (${TOKEN_COLUMNS}) ${tokenRowsFrom(1)}`,
  refusalInsert: `INSERT INTO refusals (${REFUSAL_COLUMNS}) ${refusalRowsFrom(1)}`,
  tokensAndRefusalsInsert: `WITH r AS (INSERT INTO refusals (${REFUSAL_COLUMNS}) ${refusalRowsFrom(13)})
    INSERT INTO tokens (${TOKEN_COLUMNS}) ${tokenRowsFrom(1)}`,
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
  // Unexpired tokens only, found by the expiry index (there is no index by application).
  tokenRevokeApp: `WITH w AS (UPDATE tokens SET status = 'revoked', revoked_at = $1
      WHERE expires_at > $1 AND application_id = $2 AND status IN ('active', 'rotated') RETURNING family_id),
    b AS (${bumpWhen('EXISTS (SELECT 1 FROM w)')})
    SELECT count(*)::int AS tokens, count(DISTINCT family_id)::int AS families FROM w`,
  // Scopes are a text array here: element equality, never a pattern.
  tokenRevokeScope: `WITH w AS (UPDATE tokens SET status = 'revoked', revoked_at = $1
      WHERE expires_at > $1 AND $2::text = ANY (scopes) AND status IN ('active', 'rotated') RETURNING family_id),
    b AS (${bumpWhen('EXISTS (SELECT 1 FROM w)')})
    SELECT count(*)::int AS tokens, count(DISTINCT family_id)::int AS families FROM w`,
  // In chunks, so clearing a large backlog never runs into statement_timeout or holds many locks.
  tokenDeleteExpired: `WITH d AS (DELETE FROM tokens WHERE hash IN (SELECT hash FROM tokens WHERE expires_at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  tokenImport: `INSERT INTO tokens (${TOKEN_COLUMNS}) ${tokenRowsFrom(1, true)}`,
  refusalDeleteOlder: `WITH d AS (DELETE FROM refusals WHERE request_id IN (SELECT request_id FROM refusals WHERE at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  auditInsert: insertInto(D, 'audit', COLUMNS.audit),
  auditDeleteOlder: `WITH d AS (DELETE FROM audit WHERE id IN (SELECT id FROM audit WHERE at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  // Rows arrive aggregated (one per metric and bucket) and sorted, so concurrent adds lock rows in
  // the same order and never deadlock; the stored count only ever grows by what each adds.
  activityAdd: `INSERT INTO activity (bucket, metric, count) SELECT * FROM unnest($1::bigint[], $2::text[], $3::bigint[])
    ON CONFLICT (metric, bucket) DO UPDATE SET count = activity.count + excluded.count`,
  activityDeleteOlder: `WITH d AS (DELETE FROM activity WHERE (metric, bucket) IN (SELECT metric, bucket FROM activity WHERE bucket < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  // As activityAdd: rows arrive summed per key and sorted, so concurrent adds lock rows in one order.
  usageAdd: `INSERT INTO usage (client_id, day, scope, tokens, calls, refusals, last_use_at)
      SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
    ON CONFLICT (client_id, day, scope) DO UPDATE SET tokens = usage.tokens + excluded.tokens, calls = usage.calls + excluded.calls,
      refusals = usage.refusals + excluded.refusals, last_use_at = GREATEST(usage.last_use_at, excluded.last_use_at)`,
  usageDeleteOlder: `WITH d AS (DELETE FROM usage WHERE (client_id, day, scope) IN (SELECT client_id, day, scope FROM usage WHERE day < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  sessionInsert: insertInto(D, 'sessions', COLUMNS.sessions),
  sessionTouch: `UPDATE sessions SET last_seen_at = ${D.greatest('last_seen_at', '$2')} WHERE id = $1 AND revoked_at IS NULL`,
  sessionRevoke: 'UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL',
  sessionRevokeUser: 'UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2',
  sessionClientAdd: 'INSERT INTO session_clients (sid, application_id, created_at, expires_at) VALUES ($1, $2, $3, $4) ON CONFLICT (sid, application_id) DO NOTHING',
  sessionClientsOf: 'SELECT application_id FROM session_clients WHERE sid = $1 ORDER BY created_at, application_id',
  sessionClientsDeleteExpired: 'DELETE FROM session_clients WHERE expires_at < $1',
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
  attemptDeleteExpired: `WITH d AS (DELETE FROM login_attempts WHERE (kind, user_name, source) IN (SELECT kind, user_name, source FROM login_attempts WHERE expires_at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  // A committed write that needs fresh space (an incompressible 4 KiB row), then its deletion.
  writeProbeInsert: "INSERT INTO write_probe (filler) VALUES (decode(md5(random()::text) || repeat(md5(random()::text), 127), 'hex')) RETURNING id",
  writeProbeDelete: 'DELETE FROM write_probe WHERE id = $1',
  schemaVersion: 'SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations',
  // keys.rotate runs these three in one transaction after LOCK TABLE (see adapter.ts).
  keyLock: 'LOCK TABLE signing_keys IN EXCLUSIVE MODE',
  keyRetire: "UPDATE signing_keys SET retires_at = $1, publish_until = $2 WHERE (retires_at IS NULL OR retires_at > $1) AND purpose = $3 AND (purpose = 'access' OR alg = $4)",
  keyInsert: withBump(insertInto(D, 'signing_keys', COLUMNS.signingKeys)),
  keyDeleteUnpublished: withBump('DELETE FROM signing_keys WHERE publish_until IS NOT NULL AND publish_until < $1'),
  codeInsert: insertInto(D, 'authorization_codes', COLUMNS.codes),
  // Compare-and-set: a concurrent consumer waits for the row lock, re-checks used_at and finds it set.
  codeConsume: `UPDATE authorization_codes SET used_at = $2 WHERE hash = $1 AND used_at IS NULL RETURNING ${CODE_COLUMNS}`,
  codeDeleteExpired: `WITH d AS (DELETE FROM authorization_codes WHERE hash IN (SELECT hash FROM authorization_codes c WHERE c.expires_at < $1
    AND (c.claims IS NULL OR NOT EXISTS (SELECT 1 FROM tokens t WHERE t.family_id = c.hash AND t.expires_at >= $1)) LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  // Inserted, or taken over from an expired entry: a row comes back. A concurrent inserter of the
  // same key waits for the first to commit, then takes the DO UPDATE path and finds it live.
  replayRemember: `INSERT INTO replay (key, expires_at) VALUES ($1, $2)
    ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay.expires_at <= $3 RETURNING 1 AS won`,
  replayDeleteExpired: `WITH d AS (DELETE FROM replay WHERE key IN (SELECT key FROM replay WHERE expires_at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  // RFC 9126 pushed authorization requests: single use across instances (the row lock of the UPDATE decides).
  parInsert: insertInto(D, 'pushed_requests', COLUMNS.pushedRequests),
  parConsume: `UPDATE pushed_requests SET used_at = $2 WHERE hash = $1 AND used_at IS NULL RETURNING ${PUSHED_REQUEST_COLUMNS}`,
  parByHash: `SELECT ${PUSHED_REQUEST_COLUMNS} FROM pushed_requests WHERE hash = $1`,
  parDeleteExpired: `WITH d AS (DELETE FROM pushed_requests WHERE hash IN (SELECT hash FROM pushed_requests WHERE expires_at < $1 LIMIT ${DELETE_CHUNK}) RETURNING 1)
    SELECT count(*)::int AS n FROM d`,
  ruleInsert: withBump(insertInto(D, 'rules', COLUMNS.rules)),
  ruleUpdate: withBump(updateByKey(D, 'rules', COLUMNS.rules)),
  ruleDelete: withBump('DELETE FROM rules WHERE id = $1'),
  resourceInsert: withBump(insertInto(D, 'resources', COLUMNS.resources)),
  resourceUpdate: withBump(updateByKey(D, 'resources', COLUMNS.resources)),
  resourceDelete: withBump('DELETE FROM resources WHERE uri = $1'),
  idpInsert: withBump(insertInto(D, 'identity_providers', COLUMNS.identityProviders)),
  idpUpdate: withBump(updateByKey(D, 'identity_providers', COLUMNS.identityProviders)),
  idpDelete: withBump('DELETE FROM identity_providers WHERE id = $1'),
  iatInsert: insertInto(D, 'initial_access_tokens', COLUMNS.initialAccessTokens),
  // One statement (a row lock): of concurrent registrations spending the last use exactly one sees a row back.
  iatConsume: `UPDATE initial_access_tokens SET uses_left = CASE WHEN uses_left IS NULL THEN NULL ELSE uses_left - 1 END, last_used_at = $1
    WHERE hash = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1) AND (uses_left IS NULL OR uses_left > 0) RETURNING ${IAT_COLUMNS}`,
  iatRevoke: 'WITH w AS (UPDATE initial_access_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL RETURNING 1) SELECT count(*)::int AS n FROM w',
  regPolicyPut: withBump(`${insertInto(D, 'registration_policies', COLUMNS.registrationPolicies)} ${D.upsert(['name'], ['description', 'spec', 'updated_at'])}`),
  regPolicyDelete: withBump('DELETE FROM registration_policies WHERE name = $1'),
  exchangePolicyPut: withBump(`${insertInto(D, 'exchange_policies', COLUMNS.exchangePolicies)} ${D.upsert(['client_id'], ['spec', 'updated_at'])}`),
  exchangePolicyDelete: withBump('DELETE FROM exchange_policies WHERE client_id = $1'),
  registrationInsert: insertInto(D, 'registrations', COLUMNS.registrations),
  registrationUpdate: `WITH w AS (${updateByKey(D, 'registrations', COLUMNS.registrations)} RETURNING 1) SELECT count(*)::int AS n FROM w`,
  registrationTouch: `WITH w AS (UPDATE registrations SET last_used_at = ${D.greatest('COALESCE(last_used_at, 0)', '$1')} WHERE client_id = $2 RETURNING 1) SELECT count(*)::int AS n FROM w`,
  registrationDelete: 'WITH w AS (DELETE FROM registrations WHERE client_id = $1 RETURNING 1) SELECT count(*)::int AS n FROM w',
} as const;

export type StatementName = keyof typeof SQL;
