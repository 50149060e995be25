#!/usr/bin/env node
// Bulk-inserts realistic token rows into an already migrated and seeded Latchkey database (SQLite
// file or PostgreSQL URL), to measure how issuance and validation cost grow with the number of
// stored tokens. See --help.
import { parseArgs } from 'node:util';
import { createHash, hash as oneShot, randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { createRequire } from 'node:module';

const HELP = `Usage: node bench/seed-tokens.mjs --db <sqlite-file|postgres-url> --count N [options]

Bulk-inserts N token rows shaped exactly like the ones Latchkey writes (time-ordered keys: the
issue time in 12 hex digits, '.', a SHA-256 in base64url) into a database that bench/seed.mjs (or
any Latchkey start) already migrated and seeded. Nothing else in the database is changed.

The mix, by default:
  * client-credentials access tokens (share --cc-share, default 0.75) for the application's user,
    issued evenly over the last --cc-hours (default 24: what a busy server keeps, since the clean-up
    deletes a token one day after it expires), each its own family, 0.2 % revoked;
  * user sign-ins (authorization_code) over the last --days (default 30): families of 1 to 4
    access+refresh pairs (a refresh rotates the previous refresh token), the last refresh token
    active, 1 % of families revoked, refresh tokens living the application's refresh lifespan.
  So almost every client-credentials token is expired but still kept (inside the grace), a few
  are live, refresh tokens are mostly live, and the clean-up finds little to delete at first.
  Use --cc-hours 168 for a backlog (a server whose clean-up did not run for a week).

Options:
  --db URL|FILE      SQLite file or postgres:// URL (required)
  --count N          rows to insert (required; 10 million took 4.8 min on SQLite on a shared 2-core machine)
  --client-id ID     the application the tokens belong to (default: every application, round robin)
  --cc-share F       share of client-credentials access tokens (default 0.75)
  --cc-hours H       client-credentials tokens are spread over the last H hours (default 24)
  --days D           sign-in families are spread over the last D days (default 30)
  --batch N          rows per transaction (SQLite) / statement (PostgreSQL) (default 200000 / 1000000)
  --help             this text

Progress goes to stderr; one JSON line to stdout:
  {"rows","access","refresh","seconds","rowsPerSecond","dbBytes","storage"}`;

const { values } = parseArgs({
  options: {
    db: { type: 'string' },
    count: { type: 'string' },
    'client-id': { type: 'string' },
    'cc-share': { type: 'string', default: '0.75' },
    'cc-hours': { type: 'string', default: '24' },
    days: { type: 'string', default: '30' },
    batch: { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  process.stdout.write(HELP + '\n');
  process.exit(0);
}
const fail = (message) => {
  process.stderr.write(`seed-tokens: ${message}\n\n${HELP}\n`);
  process.exit(2);
};
if (values.db === undefined) fail('--db is required');
const count = Number(values.count);
if (!Number.isSafeInteger(count) || count < 1) fail('--count must be a positive integer');
const ccShare = Number(values['cc-share']);
if (!(ccShare >= 0 && ccShare <= 1)) fail('--cc-share must be between 0 and 1');
const HOUR = 3_600_000;
const ccSpan = Number(values['cc-hours']) * HOUR;
const familySpan = Number(values.days) * 24 * HOUR;
if (!(ccSpan > 0) || !(familySpan > 0)) fail('--cc-hours and --days must be positive');
const isPostgres = /^postgres(ql)?:\/\//.test(values.db);
const batch = values.batch === undefined ? (isPostgres ? 1_000_000 : 200_000) : Number(values.batch);
if (!Number.isSafeInteger(batch) || batch < 1) fail('--batch must be a positive integer');

// Rows of the two kinds. A sign-in family of k pairs is 2k rows; k cycles 1, 2, 3, 4 (mean 2.5).
const ccRows = Math.round(count * ccShare);
const familyRows = count - ccRows;
const now = Date.now() - 1000; // every seeded token is older than the ones the server will issue
const started = process.hrtime.bigint();
const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
const progress = (done) => process.stderr.write(`seed-tokens: ${done.toLocaleString('en')} / ${count.toLocaleString('en')} rows, ${seconds().toFixed(1)} s\n`);
// Unique per run, so seeding twice into one database adds rows instead of colliding.
const salt = randomBytes(8).toString('hex');
const sha = typeof oneShot === 'function' ? (s) => oneShot('sha256', s, 'base64url') : (s) => createHash('sha256').update(s).digest('base64url');

const summary = isPostgres ? await seedPostgres(values.db) : await seedSqlite(values.db);
process.stdout.write(JSON.stringify({ rows: count, ...summary, seconds: Number(seconds().toFixed(2)), rowsPerSecond: Math.round(count / seconds()) }) + '\n');

function pickApplications(apps) {
  const wanted = values['client-id'];
  const chosen = wanted === undefined ? apps : apps.filter((a) => a.client_id === wanted);
  if (chosen.length === 0) fail(wanted === undefined ? 'the database has no application: seed it first (node bench/seed.mjs <db>)' : `no application with client ID ${wanted}`);
  return chosen;
}

// ---- SQLite ------------------------------------------------------------------------------------

async function seedSqlite(path) {
  const require = createRequire(import.meta.url);
  const Database = require('better-sqlite3');
  const db = new Database(path, { fileMustExist: true });
  const hasTokens = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tokens'").get();
  if (hasTokens === undefined) fail(`${path} is not a migrated Latchkey database (no tokens table): run node bench/seed.mjs first`);
  const apps = pickApplications(db.prepare('SELECT id, client_id, app_user_id, access_token_lifespan, refresh_token_lifespan FROM applications ORDER BY created_at').all());
  const users = db.prepare('SELECT id FROM users ORDER BY created_at').all().map((u) => u.id);
  // Bulk load: no WAL for these rows (a 10 million row WAL would be gigabytes), no fsync; the
  // database goes back to WAL mode, as Latchkey opens it, at the end.
  db.pragma('journal_mode = DELETE');
  db.pragma('synchronous = OFF');
  db.pragma('cache_size = -262144'); // 256 MiB for the indexes' right edges
  const insert = db.prepare(
    'INSERT INTO tokens (hash, kind, application_id, user_id, scopes, grant_type, issued_at, expires_at, family_id, status, revoked_at, audience, jkt, act) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)',
  );
  let n = 0;
  const key = (t) => `${Math.floor(t).toString(16).padStart(12, '0').slice(-12)}.${sha(`${salt}:${n}`)}`;
  const put = (row) => {
    insert.run(row);
    n += 1;
  };
  // The two streams, merged in issue-time order (as a server would have written them).
  const ccStep = ccRows > 0 ? ccSpan / ccRows : 0;
  const famStep = familyRows > 0 ? familySpan / familyRows : 0;
  let ccDone = 0;
  let famDone = 0;
  let family = 0;
  let access = 0;
  const nextCc = () => now - ccSpan + ccDone * ccStep;
  const nextFam = () => now - familySpan + famDone * famStep;
  const chunk = db.transaction((limit) => {
    while (n < limit) {
      if (ccDone < ccRows && (famDone >= familyRows || nextCc() <= nextFam())) {
        const t = nextCc();
        const app = apps[ccDone % apps.length];
        const hash = key(t);
        const revoked = ccDone % 500 === 7;
        put([hash, 'access', app.id, app.app_user_id ?? users[ccDone % users.length] ?? null, '', 'client_credentials', Math.floor(t), Math.floor(t + app.access_token_lifespan * 1000), hash, revoked ? 'revoked' : 'active', revoked ? Math.floor(t + 60_000) : null]);
        ccDone += 1;
        access += 1;
      } else {
        // One family: k pairs (fewer when the rows run out), one lifespan of access token apart.
        const t0 = nextFam();
        const app = apps[family % apps.length];
        const user = users[family % users.length] ?? null;
        const k = Math.min(1 + (family % 4), Math.max(1, Math.floor((familyRows - famDone) / 2)));
        const revokedFamily = family % 100 === 42;
        let familyId;
        for (let j = 0; j < k && famDone < familyRows; j += 1) {
          const t = t0 + j * app.access_token_lifespan * 1000;
          const a = key(t);
          familyId ??= a;
          const revokedAt = revokedFamily ? Math.floor(t + 120_000) : null;
          put([a, 'access', app.id, user, 'useraccount', 'authorization_code', Math.floor(t), Math.floor(t + app.access_token_lifespan * 1000), familyId, revokedFamily ? 'revoked' : 'active', revokedAt]);
          famDone += 1;
          access += 1;
          if (famDone >= familyRows) break;
          const last = j === k - 1;
          put([key(t), 'refresh', app.id, user, 'useraccount', 'authorization_code', Math.floor(t), Math.floor(t + app.refresh_token_lifespan * 1000), familyId, revokedFamily ? 'revoked' : last ? 'active' : 'rotated', revokedAt]);
          famDone += 1;
        }
        family += 1;
      }
    }
  });
  while (n < count) {
    chunk(Math.min(count, n + batch));
    progress(n);
  }
  db.exec('ANALYZE tokens');
  db.pragma('journal_mode = WAL');
  db.close();
  return { access, refresh: n - access, storage: 'sqlite', dbBytes: statSync(path).size };
}

// ---- PostgreSQL --------------------------------------------------------------------------------

async function seedPostgres(url) {
  const require = createRequire(import.meta.url);
  const { Client } = require('pg');
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows: has } = await client.query("SELECT to_regclass('tokens') IS NOT NULL AS ok");
    if (!has[0].ok) fail('the database is not a migrated Latchkey database (no tokens table): run node bench/seed.mjs first');
    const apps = pickApplications((await client.query('SELECT id, client_id, app_user_id, access_token_lifespan, refresh_token_lifespan FROM applications ORDER BY created_at')).rows);
    const users = (await client.query('SELECT id FROM users ORDER BY created_at')).rows.map((u) => u.id);
    // Server-side generation: nothing but the statement crosses the wire. This session's commits
    // need not wait for the WAL flush (a bulk load; the server still commits them durably soon).
    await client.query('SET synchronous_commit = off');
    await client.query('CREATE TEMP TABLE seed_apps (i int PRIMARY KEY, id text, app_user text, atl bigint, rtl bigint)');
    await client.query('CREATE TEMP TABLE seed_users (i int PRIMARY KEY, id text)');
    for (const [i, a] of apps.entries()) await client.query('INSERT INTO seed_apps VALUES ($1, $2, $3, $4, $5)', [i, a.id, a.app_user_id, a.access_token_lifespan, a.refresh_token_lifespan]);
    for (const [i, u] of users.entries()) await client.query('INSERT INTO seed_users VALUES ($1, $2)', [i, u]);
    const nApps = apps.length;
    const nUsers = Math.max(1, users.length);
    // The key: issue time in 12 hex digits, '.', SHA-256 in base64url (like core/crypto.ts tokenKey).
    const keyOf = (t, tag) => `lpad(to_hex(${t}), 12, '0') || '.' || rtrim(translate(encode(sha256(convert_to($1 || ':' || ${tag}, 'UTF8')), 'base64'), '+/', '-_'), '=')`;
    let done = 0;
    let access = 0;
    // Client-credentials access tokens: row g of ccRows, issued evenly over ccSpan.
    for (let from = 0; from < ccRows; from += batch) {
      const to = Math.min(ccRows, from + batch) - 1;
      const r = await client.query(
        `INSERT INTO tokens (hash, kind, application_id, user_id, scopes, grant_type, issued_at, expires_at, family_id, status, revoked_at)
         SELECT k, 'access', a.id, coalesce(a.app_user, u.id), '{}', 'client_credentials', t, t + a.atl * 1000, k,
                CASE WHEN g % 500 = 7 THEN 'revoked' ELSE 'active' END, CASE WHEN g % 500 = 7 THEN t + 60000 END
         FROM (SELECT g, ($2::bigint - $3::bigint + floor(g * $4::float8))::bigint AS t FROM generate_series($5::bigint, $6::bigint) g) s
         CROSS JOIN LATERAL (SELECT ${keyOf('s.t', "'c' || s.g")} AS k) kk
         JOIN seed_apps a ON a.i = s.g % $7
         LEFT JOIN seed_users u ON u.i = s.g % $8`,
        [salt, now, ccSpan, ccRows > 0 ? ccSpan / ccRows : 0, from, to, nApps, nUsers],
      ).catch((e) => {
        throw new Error(`client-credentials rows: ${e.message}`);
      });
      done += r.rowCount;
      access += r.rowCount;
      progress(done);
    }
    // Sign-in families: family f has k = 1 + f % 4 pairs (2k rows); families are spread over
    // familySpan; the rows beyond familyRows are cut off (LIMIT), so the count is exact.
    const familiesNeeded = Math.ceil(familyRows / 5) + 4; // 2.5 pairs = 5 rows per family on average
    const famStep = familiesNeeded > 0 ? familySpan / familiesNeeded : 0;
    const familyBatch = Math.max(1, Math.floor(batch / 5));
    let famDone = 0;
    for (let from = 0; from < familiesNeeded && famDone < familyRows; from += familyBatch) {
      const to = Math.min(familiesNeeded, from + familyBatch) - 1;
      const r = await client.query(
        `WITH f AS (
           SELECT f, ($2::bigint - $3::bigint + floor(f * $4::float8))::bigint AS t0, f % 100 = 42 AS rev, 1 + f % 4 AS k
           FROM generate_series($5::bigint, $6::bigint) f),
         p AS (
           SELECT f.f, j, f.rev, f.k, a.id AS app, a.atl, a.rtl, u.id AS usr, f.t0 + j * a.atl * 1000 AS t
           FROM f JOIN seed_apps a ON a.i = f.f % $7 LEFT JOIN seed_users u ON u.i = f.f % $8
           CROSS JOIN LATERAL generate_series(0, f.k - 1) j),
         r AS (
           SELECT p.*, ${keyOf('p.t', "'a' || p.f || ':' || p.j")} AS ak, ${keyOf('p.t', "'r' || p.f || ':' || p.j")} AS rk FROM p),
         rows AS (
           SELECT r.f, r.j, 0 AS o, r.ak AS hash, 'access' AS kind, r.app, r.usr, r.t, r.t + r.atl * 1000 AS e, first_value(r.ak) OVER (PARTITION BY r.f ORDER BY r.j) AS fam,
                  CASE WHEN r.rev THEN 'revoked' ELSE 'active' END AS st, CASE WHEN r.rev THEN r.t + 120000 END AS ra FROM r
           UNION ALL
           SELECT r.f, r.j, 1, r.rk, 'refresh', r.app, r.usr, r.t, r.t + r.rtl * 1000, first_value(r.ak) OVER (PARTITION BY r.f ORDER BY r.j),
                  CASE WHEN r.rev THEN 'revoked' WHEN r.j = r.k - 1 THEN 'active' ELSE 'rotated' END, CASE WHEN r.rev THEN r.t + 120000 END FROM r),
         ins AS (
           INSERT INTO tokens (hash, kind, application_id, user_id, scopes, grant_type, issued_at, expires_at, family_id, status, revoked_at)
           SELECT hash, kind, app, usr, '{useraccount}', 'authorization_code', t, e, fam, st, ra FROM rows ORDER BY f, j, o LIMIT $9
           RETURNING kind)
         SELECT count(*)::int AS n, (count(*) FILTER (WHERE kind = 'access'))::int AS a FROM ins`,
        [salt, now, familySpan, famStep, from, to, nApps, nUsers, familyRows - famDone],
      ).catch((e) => {
        throw new Error(`sign-in rows: ${e.message}`);
      });
      famDone += r.rows[0].n;
      done += r.rows[0].n;
      access += r.rows[0].a;
      progress(done);
    }
    await client.query('ANALYZE tokens');
    const size = await client.query('SELECT pg_database_size(current_database())::bigint AS b');
    return { access, refresh: done - access, storage: 'postgres', dbBytes: Number(size.rows[0].b) };
  } finally {
    await client.end();
  }
}
