import type { Database } from 'better-sqlite3';

/**
 * Versioned schema migrations, applied in order at open time inside one IMMEDIATE transaction, so
 * two processes opening the same file at once cannot both apply a step. Never edit a released
 * migration: add a new one.
 */
export const SQLITE_MIGRATIONS: readonly { readonly version: number; readonly name: string; readonly sql: string }[] = [
  {
    version: 1,
    name: 'registry, tokens, refusals',
    sql: `
      CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
      INSERT INTO meta (key, value) VALUES ('change_version', 1);
      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        user_name TEXT NOT NULL UNIQUE,
        password_hash TEXT,
        active INTEGER NOT NULL,
        roles TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        password_changed_at INTEGER
      );
      CREATE TABLE roles (name TEXT PRIMARY KEY, description TEXT NOT NULL, built_in INTEGER NOT NULL);
      CREATE TABLE scopes (name TEXT PRIMARY KEY, description TEXT NOT NULL, built_in INTEGER NOT NULL);
      CREATE TABLE applications (
        id TEXT PRIMARY KEY,
        client_id TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        secret_hash TEXT,
        secret_rotated_at INTEGER,
        active INTEGER NOT NULL,
        public INTEGER NOT NULL,
        grant_types TEXT NOT NULL,
        redirect_uris TEXT NOT NULL,
        scopes TEXT NOT NULL,
        access_token_lifespan INTEGER NOT NULL,
        refresh_token_lifespan INTEGER NOT NULL,
        token_format TEXT NOT NULL,
        app_user_id TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE TABLE properties (name TEXT PRIMARY KEY, value TEXT NOT NULL, updated_at INTEGER NOT NULL);
      -- Keyed by the time-ordered token key (core/crypto.ts tokenKey) so inserts append at the
      -- right edge; only the indexes the security reactions and clean-up need, both time-ordered
      -- too. Every index on a random key would cost a page write per token.
      CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        application_id TEXT NOT NULL,
        user_id TEXT,
        scopes TEXT NOT NULL,
        grant_type TEXT NOT NULL,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        family_id TEXT NOT NULL,
        status TEXT NOT NULL,
        revoked_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX tokens_family ON tokens (family_id);
      CREATE INDEX tokens_expires ON tokens (expires_at);
      CREATE TABLE refusals (
        request_id TEXT PRIMARY KEY,
        at INTEGER NOT NULL,
        endpoint TEXT NOT NULL,
        status INTEGER NOT NULL,
        error TEXT NOT NULL,
        reason TEXT NOT NULL,
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
    name: 'job leases',
    sql: `
      -- One row per named job (src/jobs): whoever moves its until time from the past into the future
      -- holds the lease (Storage.tryExclusive); it expires, so a crashed holder blocks nobody long.
      CREATE TABLE jobs (name TEXT PRIMARY KEY, holder TEXT NOT NULL, until INTEGER NOT NULL);
    `,
  },
  {
    version: 3,
    name: 'signing keys, authorization codes, one-time ids, identity providers, application keys and audience',
    sql: `
      ALTER TABLE applications ADD COLUMN logo_uri TEXT;
      ALTER TABLE applications ADD COLUMN audience TEXT;
      ALTER TABLE applications ADD COLUMN jwks TEXT;
      ALTER TABLE applications ADD COLUMN jwks_uri TEXT;
      ALTER TABLE applications ADD COLUMN can_introspect INTEGER NOT NULL DEFAULT 0;
      -- The private key is stored encrypted with the key-encryption key (keys/encryption.ts).
      CREATE TABLE signing_keys (
        kid TEXT PRIMARY KEY,
        alg TEXT NOT NULL,
        public_jwk TEXT NOT NULL,
        private_key_enc TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        activates_at INTEGER NOT NULL,
        retires_at INTEGER,
        publish_until INTEGER
      );
      -- Keyed by tokenKey() of the code (time-ordered), like tokens: the code itself is never stored.
      CREATE TABLE authorization_codes (
        hash TEXT PRIMARY KEY,
        application_id TEXT NOT NULL,
        user_id TEXT NOT NULL,
        redirect_uri TEXT,
        scopes TEXT NOT NULL,
        code_challenge TEXT,
        issued_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX authorization_codes_expires ON authorization_codes (expires_at);
      CREATE TABLE replay (key TEXT PRIMARY KEY, expires_at INTEGER NOT NULL) WITHOUT ROWID;
      CREATE INDEX replay_expires ON replay (expires_at);
      CREATE TABLE identity_providers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        issuer TEXT NOT NULL UNIQUE,
        metadata_url TEXT,
        jwks_uri TEXT,
        audience TEXT NOT NULL,
        user_claim TEXT NOT NULL,
        user_field TEXT NOT NULL,
        active INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'audit log, activity counters',
    sql: `
      -- Keyed by a time-ordered id; before/after are JSON text without secret-bearing fields.
      CREATE TABLE audit (
        id TEXT PRIMARY KEY,
        at INTEGER NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        before TEXT,
        after TEXT
      ) WITHOUT ROWID;
      CREATE INDEX audit_at ON audit (at);
      CREATE INDEX audit_target ON audit (target, at);
      -- Per-minute counters, added to by every instance (INSERT … ON CONFLICT DO UPDATE count + …).
      CREATE TABLE activity (
        bucket INTEGER NOT NULL,
        metric TEXT NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (metric, bucket)
      ) WITHOUT ROWID;
      CREATE INDEX activity_bucket ON activity (bucket);
    `,
  },
  {
    version: 5,
    name: 'admin API applications, server-side sessions, login attempts, tokens by user',
    sql: `
      ALTER TABLE applications ADD COLUMN admin_api INTEGER NOT NULL DEFAULT 0;
      -- Keyed by tokenKey() of the random session id the cookie carries (never the id itself).
      CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        user_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        last_seen_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        parent_id TEXT,
        revoked_at INTEGER
      ) WITHOUT ROWID;
      CREATE INDEX sessions_user ON sessions (user_id);
      CREATE INDEX sessions_expires ON sessions (expires_at);
      CREATE TABLE login_attempts (
        kind TEXT NOT NULL,
        user_name TEXT NOT NULL,
        source TEXT NOT NULL,
        failures INTEGER NOT NULL,
        window_start INTEGER NOT NULL,
        last_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (kind, user_name, source)
      ) WITHOUT ROWID;
      CREATE INDEX login_attempts_user ON login_attempts (user_name);
      CREATE INDEX login_attempts_expires ON login_attempts (expires_at);
      -- The user's own sign-ins, for revocation on a password change or deactivation. Partial: the
      -- client credentials grant (the hot path, one user for many tokens) pays nothing for it.
      CREATE INDEX tokens_user ON tokens (user_id, family_id) WHERE grant_type <> 'client_credentials';
      -- Storage.probeWrite: readiness finds out whether writes succeed again (a full disk freed).
      CREATE TABLE write_probe (id INTEGER PRIMARY KEY, filler BLOB NOT NULL);
    `,
  },
  {
    version: 6,
    name: 'application rate limits',
    sql: `
      -- An application's own rate limit ('100/1m', 'off'); NULL: the instance's (latchkey.rate_limit.client).
      -- The counters themselves are in memory on SQLite (storage/rate-counters.ts).
      ALTER TABLE applications ADD COLUMN rate_limit TEXT;
    `,
  },
  {
    version: 7,
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
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        updated_at INTEGER NOT NULL,
        enforced_at INTEGER,
        enforced_by TEXT
      );
    `,
  },
  {
    version: 8,
    name: 'application usage by day',
    sql: `
      -- Per application and UTC day, added to by every instance (src/audit/usage.ts): scope '' holds
      -- the totals, each other row the tokens issued with that scope and the API calls it satisfied.
      CREATE TABLE usage (
        client_id TEXT NOT NULL,
        day INTEGER NOT NULL,
        scope TEXT NOT NULL,
        tokens INTEGER NOT NULL,
        calls INTEGER NOT NULL,
        refusals INTEGER NOT NULL,
        last_use_at INTEGER NOT NULL,
        PRIMARY KEY (client_id, day, scope)
      ) WITHOUT ROWID;
      CREATE INDEX usage_day ON usage (day);
    `,
  },
  {
    version: 9,
    name: 'openid connect: id token keys, code nonce and session, application id token algorithm',
    sql: `
      -- What a key signs: 'access' (JWT access tokens) or 'id_token' (one timeline per algorithm).
      ALTER TABLE signing_keys ADD COLUMN purpose TEXT NOT NULL DEFAULT 'access';
      -- The authorization request's nonce, the sign-in time and the session's sid, for the ID token.
      ALTER TABLE authorization_codes ADD COLUMN nonce TEXT;
      ALTER TABLE authorization_codes ADD COLUMN auth_time INTEGER;
      ALTER TABLE authorization_codes ADD COLUMN sid TEXT;
      -- id_token_signed_response_alg; NULL: RS256.
      ALTER TABLE applications ADD COLUMN id_token_alg TEXT;
    `,
  },
  {
    version: 10,
    name: 'user profile claims, application claim mappings',
    sql: `
      -- OpenID Connect Core 5.1 fields of a user as one JSON object (src/registry/user-profile.ts).
      ALTER TABLE users ADD COLUMN profile TEXT;
      -- Custom UserInfo claims per application: JSON claim name -> user field (src/oidc/claims.ts).
      ALTER TABLE applications ADD COLUMN claim_mappings TEXT;
    `,
  },
  {
    version: 11,
    name: 'openid connect: the claims request parameter of an authorization code',
    sql: `
      -- The claims parameter (Core 1.0 5.5) as JSON {"userinfo":[names],"id_token":[names]}; NULL: none sent.
      ALTER TABLE authorization_codes ADD COLUMN claims TEXT;
    `,
  },
  {
    version: 12,
    name: 'openid connect logout: post-logout redirect uris, back-channel logout, applications per session',
    sql: `
      -- RP-Initiated Logout 1.0 post_logout_redirect_uris (a list, as redirect_uris).
      ALTER TABLE applications ADD COLUMN post_logout_redirect_uris TEXT NOT NULL DEFAULT '[]';
      -- Back-Channel Logout 1.0 backchannel_logout_uri and backchannel_logout_session_required.
      ALTER TABLE applications ADD COLUMN backchannel_logout_uri TEXT;
      ALTER TABLE applications ADD COLUMN backchannel_logout_session_required INTEGER NOT NULL DEFAULT 0;
      -- Which applications got an ID token in which sign-in session (by its sid), until the session's end.
      CREATE TABLE session_clients (
        sid TEXT NOT NULL,
        application_id TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (sid, application_id)
      ) WITHOUT ROWID;
      CREATE INDEX session_clients_expires ON session_clients (expires_at);
    `,
  },
  {
    version: 13,
    name: 'applications: origin (admin, dynamic registration, client id metadata document)',
    sql: `
      -- How an application came to be: 'admin', 'registration' (RFC 7591) or 'metadata_document' (its client_id is an https URL).
      ALTER TABLE applications ADD COLUMN origin TEXT NOT NULL DEFAULT 'admin';
    `,
  },
  {
    version: 14,
    name: 'resource indicators (RFC 8707): registered resources, application limits, code resources, token audience',
    sql: `
      -- Registered external resources: canonical resource identifier, the scopes a token for it may carry (JSON; [] any).
      CREATE TABLE resources (
        uri TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        scopes TEXT NOT NULL DEFAULT '[]',
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      ) WITHOUT ROWID;
      -- The resources an application may request (JSON list); NULL: any known resource.
      ALTER TABLE applications ADD COLUMN resources TEXT;
      -- The resources an authorization request named (JSON list).
      ALTER TABLE authorization_codes ADD COLUMN resources TEXT NOT NULL DEFAULT '[]';
      -- The resources a token was issued for (space-separated); NULL: none requested.
      ALTER TABLE tokens ADD COLUMN audience TEXT;
    `,
  },
  {
    version: 15,
    name: 'dynamic client registration: initial access tokens, registration policies, registrations',
    sql: `
      -- Initial access tokens (RFC 7591 §3): only the SHA-256 of each is kept.
      CREATE TABLE initial_access_tokens (
        id TEXT PRIMARY KEY,
        hash TEXT NOT NULL UNIQUE,
        policy TEXT,
        uses_left INTEGER,
        expires_at INTEGER,
        created_at INTEGER NOT NULL,
        created_by TEXT NOT NULL,
        last_used_at INTEGER,
        revoked_at INTEGER
      );
      -- Registration policies: what a dynamically registered client may have (spec: JSON).
      CREATE TABLE registration_policies (
        name TEXT PRIMARY KEY,
        description TEXT,
        spec TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      -- One row per dynamically registered client: its registration access token (hash), who
      -- registered it and the fingerprint of its metadata (de-duplication), its last use (reaping).
      CREATE TABLE registrations (
        client_id TEXT PRIMARY KEY,
        application_id TEXT NOT NULL,
        token_hash TEXT NOT NULL,
        source TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        metadata TEXT NOT NULL,
        policy TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        last_used_at INTEGER
      );
      CREATE UNIQUE INDEX registrations_source_fingerprint ON registrations (source, fingerprint);
      CREATE INDEX registrations_created ON registrations (created_at, client_id);
    `,
  },
  {
    version: 16,
    name: 'DPoP (RFC 9449): token key binding, authorization code dpop_jkt, applications requiring DPoP',
    sql: `
      -- The JWK SHA-256 thumbprint of the DPoP key a token is bound to (cnf.jkt); NULL: a bearer token.
      ALTER TABLE tokens ADD COLUMN jkt TEXT;
      -- The dpop_jkt an authorization request named (RFC 9449 §10); NULL: none.
      ALTER TABLE authorization_codes ADD COLUMN dpop_jkt TEXT;
      -- Token requests of the application must carry a DPoP proof.
      ALTER TABLE applications ADD COLUMN dpop_required INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 17,
    name: 'token exchange (RFC 8693): exchange policies, the actor of exchanged tokens',
    sql: `
      -- One token exchange policy per application (by client id; spec: JSON). A policy may outlive
      -- its application (the doctor reports it).
      CREATE TABLE exchange_policies (
        client_id TEXT PRIMARY KEY,
        spec TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      -- RFC 8693 section 4.1: the actor of a token issued by delegation (JSON); NULL: none.
      ALTER TABLE tokens ADD COLUMN act TEXT;
    `,
  },
  {
    version: 18,
    name: 'device authorization (RFC 8628): device codes',
    sql: `
      -- Device authorizations: the device code and the (normalised) user code as hashes only; the
      -- user's decision; the polling state every instance shares (interval grows on slow_down).
      CREATE TABLE device_codes (
        id TEXT PRIMARY KEY,
        device_hash TEXT NOT NULL UNIQUE,
        user_hash TEXT NOT NULL UNIQUE,
        application_id TEXT NOT NULL,
        scopes TEXT NOT NULL DEFAULT '',
        resources TEXT NOT NULL DEFAULT '[]',
        status TEXT NOT NULL DEFAULT 'pending',
        user_id TEXT,
        auth_time INTEGER,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        interval_s INTEGER NOT NULL,
        last_poll_at INTEGER,
        decided_at INTEGER,
        poll_outcome TEXT
      );
      CREATE INDEX device_codes_expires ON device_codes (expires_at);
      CREATE INDEX device_codes_pending ON device_codes (status, created_at);
    `,
  },
  {
    version: 19,
    name: 'pushed authorization requests (RFC 9126): pushed requests, application par required',
    sql: `
      -- Pushed authorization requests: only the SHA-256 of each request_uri is kept; single use (used_at).
      CREATE TABLE pushed_requests (
        hash TEXT PRIMARY KEY,
        application_id TEXT NOT NULL,
        parameters TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        used_at INTEGER
      );
      CREATE INDEX pushed_requests_expires ON pushed_requests (expires_at);
      -- RFC 9126 §6 require_pushed_authorization_requests.
      ALTER TABLE applications ADD COLUMN par_required INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 20,
    name: 'tokens by family: only tokens that joined another token\'s family',
    sql: `
      -- The first token of a family is its own family (family_id = hash): every client-credentials
      -- token, every first access token of a sign-in. They are found by their key, so the family
      -- index need not hold them, and each such token is written to one index fewer (1.3 µs of a
      -- 6.6 µs insert on the benchmark VM, docs/benchmarks.md "Tokens by family"). Statements that
      -- look a family up repeat the condition (a partial index is used only then) and find the
      -- family's first token by its key. About 0.3 s per million stored tokens, once.
      DROP INDEX tokens_family;
      CREATE INDEX tokens_family ON tokens (family_id) WHERE family_id <> hash;
    `,
  },
];

export const SQLITE_SCHEMA_VERSION = SQLITE_MIGRATIONS[SQLITE_MIGRATIONS.length - 1]?.version ?? 0;

/** Applies pending migrations; returns the versions applied. */
export function migrateSqlite(db: Database): number[] {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
  const applied: number[] = [];
  const run = db.transaction(() => {
    const current = (db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
    if (current > SQLITE_SCHEMA_VERSION) {
      throw new Error(
        `The database schema is version ${current}, newer than this Latchkey (${SQLITE_SCHEMA_VERSION}). Upgrade Latchkey.`,
      );
    }
    for (const m of SQLITE_MIGRATIONS) {
      if (m.version <= current) continue;
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, Date.now());
      applied.push(m.version);
    }
  });
  run.immediate();
  return applied;
}
