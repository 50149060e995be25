import type { ClientBase, QueryConfig, QueryResult } from 'pg';

/**
 * Versioned schema migrations for PostgreSQL, semantically the same schema as SQLite's
 * (src/storage/sqlite/migrations.ts) with native types: BOOLEAN flags, BIGINT millisecond times and
 * TEXT[] lists. Never edit a released migration: add a new one.
 *
 * Keys and ordered names use COLLATE "C" (byte order), whatever the database's default collation:
 * listings then sort as SQLite and the in-memory adapter sort them, and the time-ordered token keys
 * (core/crypto.ts tokenKey) really do land at the right edge of the primary key index.
 *
 * Tables are created in the connection's current schema (the first on its search_path), so one
 * database can hold several installations by giving each URL its own `options=-c search_path=…`.
 */
export const POSTGRES_MIGRATIONS: readonly { readonly version: number; readonly name: string; readonly sql: string }[] = [
  {
    version: 1,
    name: 'registry, tokens, refusals',
    sql: `
      -- The change version is the sum of CHANGE_VERSION_SHARDS counters. Every registry or
      -- token-state change increments one of them in its own transaction, chosen by the backend
      -- process, so concurrent changes (every refresh-token rotation is one) lock different rows
      -- instead of queueing on a single one until each commit is flushed. Counters only grow, so the
      -- sum grows with each commit and only on commit: a reader can never see a new version before
      -- the change it stands for.
      CREATE TABLE meta (key TEXT COLLATE "C" NOT NULL, shard SMALLINT NOT NULL, value BIGINT NOT NULL, PRIMARY KEY (key, shard));
      INSERT INTO meta (key, shard, value) SELECT 'change_version', s, CASE WHEN s = 0 THEN 1 ELSE 0 END FROM generate_series(0, 15) AS s;
      CREATE TABLE users (
        id TEXT COLLATE "C" PRIMARY KEY,
        user_name TEXT COLLATE "C" NOT NULL UNIQUE,
        password_hash TEXT,
        active BOOLEAN NOT NULL,
        roles TEXT[] NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        password_changed_at BIGINT
      );
      CREATE TABLE roles (name TEXT COLLATE "C" PRIMARY KEY, description TEXT NOT NULL, built_in BOOLEAN NOT NULL);
      CREATE TABLE scopes (name TEXT COLLATE "C" PRIMARY KEY, description TEXT NOT NULL, built_in BOOLEAN NOT NULL);
      CREATE TABLE applications (
        id TEXT COLLATE "C" PRIMARY KEY,
        client_id TEXT COLLATE "C" NOT NULL UNIQUE,
        name TEXT COLLATE "C" NOT NULL,
        secret_hash TEXT,
        secret_rotated_at BIGINT,
        active BOOLEAN NOT NULL,
        public BOOLEAN NOT NULL,
        grant_types TEXT[] NOT NULL,
        redirect_uris TEXT[] NOT NULL,
        scopes TEXT[] NOT NULL,
        access_token_lifespan BIGINT NOT NULL,
        refresh_token_lifespan BIGINT NOT NULL,
        token_format TEXT NOT NULL,
        app_user_id TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      CREATE TABLE properties (name TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL, updated_at BIGINT NOT NULL);
      -- Keyed by the time-ordered token key so inserts append at the right edge of the index; only
      -- the indexes the security reactions and clean-up need. Every index on a random key would
      -- cost a page write per token.
      CREATE TABLE tokens (
        hash TEXT COLLATE "C" PRIMARY KEY,
        kind TEXT NOT NULL,
        application_id TEXT NOT NULL,
        user_id TEXT,
        scopes TEXT[] NOT NULL,
        grant_type TEXT NOT NULL,
        issued_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        family_id TEXT COLLATE "C" NOT NULL,
        status TEXT NOT NULL,
        revoked_at BIGINT
      );
      CREATE INDEX tokens_family ON tokens (family_id);
      CREATE INDEX tokens_expires ON tokens (expires_at);
      CREATE TABLE refusals (
        request_id TEXT COLLATE "C" PRIMARY KEY,
        at BIGINT NOT NULL,
        endpoint TEXT NOT NULL,
        status INTEGER NOT NULL,
        error TEXT NOT NULL,
        reason TEXT COLLATE "C" NOT NULL,
        description TEXT NOT NULL,
        hint TEXT,
        client_id TEXT,
        application_name TEXT,
        user_name TEXT,
        remote_address TEXT
      );
      CREATE INDEX refusals_at ON refusals (at);
      CREATE INDEX refusals_reason ON refusals (reason, at);
    `,
  },
  {
    version: 2,
    name: 'signing keys, authorization codes, one-time ids, identity providers, application keys and audience',
    sql: `
      ALTER TABLE applications
        ADD COLUMN logo_uri TEXT,
        ADD COLUMN audience TEXT,
        ADD COLUMN jwks TEXT,
        ADD COLUMN jwks_uri TEXT,
        ADD COLUMN can_introspect BOOLEAN NOT NULL DEFAULT false;
      -- The private key is stored encrypted with the key-encryption key (keys/encryption.ts).
      CREATE TABLE signing_keys (
        kid TEXT COLLATE "C" PRIMARY KEY,
        alg TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        private_key_enc TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        activates_at BIGINT NOT NULL,
        retires_at BIGINT,
        publish_until BIGINT
      );
      -- Keyed by tokenKey() of the code (time-ordered), like tokens: the code itself is never stored.
      CREATE TABLE authorization_codes (
        hash TEXT COLLATE "C" PRIMARY KEY,
        application_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        redirect_uri TEXT,
        scopes TEXT[] NOT NULL,
        code_challenge TEXT,
        issued_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT
      );
      CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);
      CREATE TABLE replay (key TEXT COLLATE "C" PRIMARY KEY, expires_at BIGINT NOT NULL);
      CREATE INDEX replay_expires ON replay (expires_at);
      CREATE TABLE identity_providers (
        id TEXT COLLATE "C" PRIMARY KEY,
        name TEXT COLLATE "C" NOT NULL UNIQUE,
        issuer TEXT COLLATE "C" NOT NULL UNIQUE,
        metadata_url TEXT,
        jwks_uri TEXT,
        audience TEXT NOT NULL,
        user_claim TEXT NOT NULL,
        user_field TEXT NOT NULL,
        active BOOLEAN NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
    `,
  },
  {
    version: 3,
    name: 'audit log, activity counters',
    sql: `
      -- Keyed by a time-ordered id; before/after are JSON text without secret-bearing fields.
      CREATE TABLE audit (
        id TEXT COLLATE "C" PRIMARY KEY,
        at BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT COLLATE "C" NOT NULL,
        target TEXT COLLATE "C" NOT NULL,
        before TEXT,
        after TEXT
      );
      CREATE INDEX audit_at ON audit (at);
      CREATE INDEX audit_target ON audit (target, at);
      -- Per-minute counters, added to by every instance (INSERT … ON CONFLICT DO UPDATE count + …).
      CREATE TABLE activity (
        bucket BIGINT NOT NULL,
        metric TEXT COLLATE "C" NOT NULL,
        count BIGINT NOT NULL,
        PRIMARY KEY (metric, bucket)
      );
      CREATE INDEX activity_bucket ON activity (bucket);
    `,
  },
  {
    version: 4,
    name: 'admin API applications, server-side sessions, login attempts, tokens by user',
    sql: `
      ALTER TABLE applications ADD COLUMN admin_api BOOLEAN NOT NULL DEFAULT false;
      -- Keyed by tokenKey() of the random session id the cookie carries (never the id itself).
      CREATE TABLE sessions (
        id TEXT COLLATE "C" PRIMARY KEY,
        kind TEXT NOT NULL,
        user_id TEXT COLLATE "C" NOT NULL,
        created_at BIGINT NOT NULL,
        last_seen_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        parent_id TEXT,
        revoked_at BIGINT
      );
      CREATE INDEX sessions_user ON sessions (user_id);
      CREATE INDEX sessions_expires ON sessions (expires_at);
      CREATE TABLE login_attempts (
        kind TEXT COLLATE "C" NOT NULL,
        user_name TEXT COLLATE "C" NOT NULL,
        source TEXT COLLATE "C" NOT NULL,
        failures INTEGER NOT NULL,
        window_start BIGINT NOT NULL,
        last_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (kind, user_name, source)
      );
      CREATE INDEX login_attempts_user ON login_attempts (user_name);
      CREATE INDEX login_attempts_expires ON login_attempts (expires_at);
      -- The user's own sign-ins, for revocation on a password change or deactivation. Partial: the
      -- client credentials grant (the hot path, one user for many tokens) pays nothing for it.
      CREATE INDEX tokens_user ON tokens (user_id, family_id) WHERE grant_type <> 'client_credentials';
      -- Storage.probeWrite: readiness finds out whether writes succeed again (a full disk freed).
      CREATE TABLE write_probe (id BIGSERIAL PRIMARY KEY, filler BYTEA NOT NULL);
    `,
  },
  {
    version: 5,
    name: 'application rate limits, rate-limit counters',
    sql: `
      -- An application's own rate limit ('100/1m', 'off'); NULL: the instance's (latchkey.rate_limit.client).
      ALTER TABLE applications ADD COLUMN rate_limit TEXT;
      -- rate-limiter-flexible's RateLimiterPostgres table (storage/rate-counters.ts), shared by every
      -- instance: one row per counted key, points in the window that ends at expire (ms).
      CREATE TABLE rate_limit_counters (
        key VARCHAR(255) PRIMARY KEY,
        points INTEGER NOT NULL DEFAULT 0,
        expire BIGINT
      );
      CREATE INDEX rate_limit_counters_expire ON rate_limit_counters (expire);
    `,
  },
  {
    version: 6,
    name: 'refusal facts, report-only rules',
    sql: `
      -- The facts of the case (JSON, src/errors/facts.ts) and, on a "would refuse" record, the rule.
      ALTER TABLE refusals ADD COLUMN facts TEXT;
      ALTER TABLE refusals ADD COLUMN rule_id TEXT;
      CREATE INDEX refusals_rule ON refusals (rule_id, at) WHERE rule_id IS NOT NULL;
      -- Rules introduced in report mode before they enforce (src/registry/rules.ts).
      CREATE TABLE rules (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        target TEXT NOT NULL,
        spec TEXT NOT NULL,
        mode TEXT NOT NULL,
        note TEXT,
        created_at BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        updated_at BIGINT NOT NULL,
        enforced_at BIGINT,
        enforced_by TEXT
      );
    `,
  },
  {
    version: 7,
    name: 'application usage by day',
    sql: `
      -- Per application and UTC day, added to by every instance (src/audit/usage.ts): scope '' holds
      -- the totals, each other row the tokens issued with that scope and the API calls it satisfied.
      CREATE TABLE usage (
        client_id TEXT COLLATE "C" NOT NULL,
        day BIGINT NOT NULL,
        scope TEXT COLLATE "C" NOT NULL,
        tokens BIGINT NOT NULL,
        calls BIGINT NOT NULL,
        refusals BIGINT NOT NULL,
        last_use_at BIGINT NOT NULL,
        PRIMARY KEY (client_id, day, scope)
      );
      CREATE INDEX usage_day ON usage (day);
    `,
  },
  {
    version: 8,
    name: 'openid connect: id token keys, code nonce and session, application id token algorithm',
    sql: `
      -- What a key signs: 'access' (JWT access tokens) or 'id_token' (one timeline per algorithm).
      ALTER TABLE signing_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'access';
      -- The authorization request's nonce, the sign-in time and the session's sid, for the ID token.
      ALTER TABLE authorization_codes ADD COLUMN nonce TEXT;
      ALTER TABLE authorization_codes ADD COLUMN auth_time BIGINT;
      ALTER TABLE authorization_codes ADD COLUMN sid TEXT;
      -- id_token_signed_response_alg; NULL: RS256.
      ALTER TABLE applications ADD COLUMN id_token_alg TEXT;
    `,
  },
  {
    version: 9,
    name: 'user profile claims, application claim mappings',
    sql: `
      -- OpenID Connect Core 5.1 fields of a user as one JSON object (src/registry/user-profile.ts).
      ALTER TABLE users ADD COLUMN profile TEXT;
      -- Custom UserInfo claims per application: JSON claim name -> user field (src/oidc/claims.ts).
      ALTER TABLE applications ADD COLUMN claim_mappings TEXT;
    `,
  },
  {
    version: 10,
    name: 'openid connect: the claims request parameter of an authorization code',
    sql: `
      -- The claims parameter (Core 1.0 5.5) as JSON {"userinfo":[names],"id_token":[names]}; NULL: none sent.
      ALTER TABLE authorization_codes ADD COLUMN claims TEXT;
    `,
  },
  {
    version: 11,
    name: 'openid connect logout: post-logout redirect uris, back-channel logout, applications per session',
    sql: `
      -- RP-Initiated Logout 1.0 post_logout_redirect_uris (a list, as redirect_uris).
      ALTER TABLE applications ADD COLUMN post_logout_redirect_uris TEXT[] NOT NULL DEFAULT '{}';
      -- Back-Channel Logout 1.0 backchannel_logout_uri and backchannel_logout_session_required.
      ALTER TABLE applications ADD COLUMN backchannel_logout_uri TEXT;
      ALTER TABLE applications ADD COLUMN backchannel_logout_session_required BOOLEAN NOT NULL DEFAULT false;
      -- Which applications got an ID token in which sign-in session (by its sid), until the session's end.
      CREATE TABLE session_clients (
        sid TEXT NOT NULL,
        application_id TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (sid, application_id)
      );
      CREATE INDEX session_clients_expires ON session_clients (expires_at);
    `,
  },
  {
    version: 12,
    name: 'applications: origin (admin, dynamic registration, client id metadata document)',
    sql: `
      -- How an application came to be: 'admin', 'registration' (RFC 7591) or 'metadata_document' (its client_id is an https URL).
      ALTER TABLE applications ADD COLUMN origin TEXT NOT NULL DEFAULT 'admin';
    `,
  },
  {
    version: 13,
    name: 'resource indicators (RFC 8707): registered resources, application limits, code resources, token audience',
    sql: `
      -- Registered external resources: canonical resource identifier, the scopes a token for it may carry ({} any).
      CREATE TABLE resources (
        uri TEXT COLLATE "C" PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        scopes TEXT[] NOT NULL DEFAULT '{}',
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      -- The resources an application may request; NULL: any known resource.
      ALTER TABLE applications ADD COLUMN resources TEXT[];
      -- The resources an authorization request named.
      ALTER TABLE authorization_codes ADD COLUMN resources TEXT[] NOT NULL DEFAULT '{}';
      -- The resources a token was issued for (space-separated); NULL: none requested.
      ALTER TABLE tokens ADD COLUMN audience TEXT;
    `,
  },
  {
    version: 14,
    name: 'dynamic client registration: initial access tokens, registration policies, registrations',
    sql: `
      -- Initial access tokens (RFC 7591 §3): only the SHA-256 of each is kept.
      CREATE TABLE initial_access_tokens (
        id TEXT COLLATE "C" PRIMARY KEY,
        hash TEXT COLLATE "C" NOT NULL UNIQUE,
        policy TEXT,
        uses_left BIGINT,
        expires_at BIGINT,
        created_at BIGINT NOT NULL,
        created_by TEXT NOT NULL,
        last_used_at BIGINT,
        revoked_at BIGINT
      );
      -- Registration policies: what a dynamically registered client may have (spec: JSON).
      CREATE TABLE registration_policies (
        name TEXT COLLATE "C" PRIMARY KEY,
        description TEXT,
        spec TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      -- One row per dynamically registered client: its registration access token (hash), who
      -- registered it and the fingerprint of its metadata (de-duplication), its last use (reaping).
      CREATE TABLE registrations (
        client_id TEXT COLLATE "C" PRIMARY KEY,
        application_id TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        source TEXT COLLATE "C" NOT NULL,
        fingerprint TEXT COLLATE "C" NOT NULL,
        metadata TEXT NOT NULL,
        policy TEXT,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL,
        last_used_at BIGINT
      );
      CREATE UNIQUE INDEX registrations_source_fingerprint ON registrations (source, fingerprint);
      CREATE INDEX registrations_created ON registrations (created_at, client_id);
    `,
  },
  {
    version: 15,
    name: 'DPoP (RFC 9449): token key binding, authorization code dpop_jkt, applications requiring DPoP',
    sql: `
      -- The JWK SHA-256 thumbprint of the DPoP key a token is bound to (cnf.jkt); NULL: a bearer token.
      ALTER TABLE tokens ADD COLUMN jkt TEXT;
      -- The dpop_jkt an authorization request named (RFC 9449 §10); NULL: none.
      ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
      -- Token requests of the application must carry a DPoP proof.
      ALTER TABLE applications ADD COLUMN dpop_required BOOLEAN NOT NULL DEFAULT false;
    `,
  },
  {
    version: 16,
    name: 'token exchange (RFC 8693): exchange policies, the actor of exchanged tokens',
    sql: `
      -- One token exchange policy per application (by client id; spec: JSON). A policy may outlive
      -- its application (the doctor reports it).
      CREATE TABLE exchange_policies (
        client_id TEXT COLLATE "C" PRIMARY KEY,
        spec TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        updated_at BIGINT NOT NULL
      );
      -- RFC 8693 section 4.1: the actor of a token issued by delegation (JSON); NULL: none.
      ALTER TABLE tokens ADD COLUMN act TEXT;
    `,
  },
  {
    version: 17,
    name: 'device authorization (RFC 8628): device codes',
    sql: `
      -- Device authorizations: the device code and the (normalised) user code as hashes only; the
      -- user's decision; the polling state every instance shares (interval grows on slow_down).
      CREATE TABLE device_codes (
        id TEXT COLLATE "C" PRIMARY KEY,
        device_hash TEXT COLLATE "C" NOT NULL UNIQUE,
        user_hash TEXT COLLATE "C" NOT NULL UNIQUE,
        application_id TEXT NOT NULL,
        scopes TEXT NOT NULL DEFAULT '',
        resources TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL DEFAULT 'pending',
        user_id TEXT,
        auth_time BIGINT,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        interval_s INTEGER NOT NULL,
        last_poll_at BIGINT,
        decided_at BIGINT,
        poll_outcome TEXT
      );
      CREATE INDEX device_codes_expires ON device_codes (expires_at);
      CREATE INDEX device_codes_pending ON device_codes (status, created_at);
    `,
  },
  {
    version: 18,
    name: 'pushed authorization requests (RFC 9126): pushed requests, application par required',
    sql: `
      -- Pushed authorization requests: only the SHA-256 of each request_uri is kept; single use (used_at).
      CREATE TABLE pushed_requests (
        hash TEXT COLLATE "C" PRIMARY KEY,
        application_id TEXT NOT NULL,
        parameters TEXT NOT NULL,
        created_at BIGINT NOT NULL,
        expires_at BIGINT NOT NULL,
        used_at BIGINT
      );
      CREATE INDEX pushed_requests_expires ON pushed_requests (expires_at);
      -- RFC 9126 §6 require_pushed_authorization_requests.
      ALTER TABLE applications ADD COLUMN par_required BOOLEAN NOT NULL DEFAULT false;
    `,
  },
];

/** How many rows the change version is spread over (see migration 1). */
export const CHANGE_VERSION_SHARDS = 16;

export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS[POSTGRES_MIGRATIONS.length - 1]?.version ?? 0;

/**
 * Key of the transaction-level advisory lock that serialises migrations ("Latchkey" in ASCII, as a
 * bigint). Advisory locks are per database, so instances migrating different schemas of one database
 * merely take turns.
 */
export const MIGRATION_LOCK_KEY = '5503808189925909881';

/** Thrown when the database was migrated by a newer Latchkey than this one. */
export class SchemaTooNewError extends Error {
  constructor(
    readonly found: number,
    readonly supported: number,
  ) {
    super(`The database schema is version ${found}, newer than this Latchkey (${supported}). Upgrade Latchkey.`);
    this.name = 'SchemaTooNewError';
  }
}

/** Migrations wait for each other; give them more room than ordinary statements. */
const MIGRATION_TIMEOUT_MS = 60_000;

/**
 * Applies pending migrations in one transaction on `client`, under an advisory lock, so instances
 * starting together apply each step exactly once (the others wait, then find nothing to do).
 * Returns the versions this call applied.
 */
export async function migratePostgres(client: ClientBase): Promise<number[]> {
  const q = (text: string, values?: unknown[]): Promise<QueryResult> => {
    // query_timeout is pg's client-side read timeout; the typings know it only as a pool setting.
    const config: QueryConfig & { query_timeout: number } = { text, values, query_timeout: MIGRATION_TIMEOUT_MS + 5_000 };
    return client.query(config);
  };
  const applied: number[] = [];
  await q('BEGIN');
  try {
    await q(`SET LOCAL statement_timeout = ${MIGRATION_TIMEOUT_MS}`);
    await q(`SET LOCAL lock_timeout = ${MIGRATION_TIMEOUT_MS}`);
    await q(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`);
    await q('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)');
    const res = await q('SELECT COALESCE(MAX(version), 0)::int AS v FROM schema_migrations');
    const current = (res.rows[0] as { v: number } | undefined)?.v ?? 0;
    if (current > POSTGRES_SCHEMA_VERSION) throw new SchemaTooNewError(current, POSTGRES_SCHEMA_VERSION);
    for (const m of POSTGRES_MIGRATIONS) {
      if (m.version <= current) continue;
      await q(m.sql);
      await q('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, Date.now()]);
      applied.push(m.version);
    }
    await q('COMMIT');
    return applied;
  } catch (error) {
    await q('ROLLBACK').catch(() => undefined);
    throw error;
  }
}
