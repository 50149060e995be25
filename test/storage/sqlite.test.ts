import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { openSqliteStorage } from '../../src/storage/sqlite/adapter.js';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from '../../src/storage/sqlite/migrations.js';
import { makeApp, makeCode, makeSigningKey, makeToken, runStorageContract } from './contract.js';
import { SQLITE_DELETE_CHUNK, sqliteStatementText } from '../../src/storage/sqlite/statements.js';

runStorageContract('sqlite', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
  return { storage: openSqliteStorage({ path: join(dir, 'contract.db') }), cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
});

describe('sqlite migrations', () => {
  it('applies every migration once, and a second open applies none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
    const path = join(dir, 'm.db');
    try {
      await openSqliteStorage({ path }).close();
      await openSqliteStorage({ path }).close();
      const db = new BetterSqlite3(path);
      const rows = db.prepare('SELECT version FROM schema_migrations ORDER BY version').all() as { version: number }[];
      db.close();
      assert.deepEqual(rows.map((r) => r.version), SQLITE_MIGRATIONS.map((m) => m.version));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('upgrades a version-19 database: the family index keeps only tokens of another token\'s family, and families still revoke whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
    const path = join(dir, 'v19.db');
    const access = makeToken({ kind: 'access', hash: 'h-access' });
    const root = { ...access, familyId: access.hash };
    const refresh = makeToken({ familyId: root.hash });
    const cc = makeToken({ kind: 'access', grantType: 'client_credentials', hash: 'h-cc' });
    try {
      const db = new BetterSqlite3(path);
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 19)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(m.version, m.name);
      }
      const insert = db.prepare("INSERT INTO tokens (hash, kind, application_id, user_id, scopes, grant_type, issued_at, expires_at, family_id, status) VALUES (?, ?, ?, ?, 'read', ?, ?, ?, ?, 'active')");
      for (const t of [root, refresh, { ...cc, familyId: cc.hash }]) insert.run(t.hash, t.kind, t.applicationId, t.userId, t.grantType, t.issuedAt, t.expiresAt, t.familyId);
      db.close();
      const s = openSqliteStorage({ path });
      try {
        assert.deepEqual(await s.schemaVersion(), { current: SQLITE_SCHEMA_VERSION, expected: SQLITE_SCHEMA_VERSION });
        assert.equal(await s.tokens.revokeFamily(root.hash, 5), 2);
        assert.equal((await s.tokens.byHash(root.hash))?.status, 'revoked');
        assert.equal((await s.tokens.byHash(refresh.hash))?.status, 'revoked');
        assert.equal((await s.tokens.byHash(cc.hash))?.status, 'active');
        assert.equal(await s.tokens.revokeFamily(cc.hash, 6), 1);
      } finally {
        await s.close();
      }
      const check = new BetterSqlite3(path);
      const index = check.prepare("SELECT sql FROM sqlite_master WHERE name = 'tokens_family'").get() as { sql: string };
      // Only the refresh token joined another token's family: the two firsts of a family are not in the index.
      const entries = check.prepare('SELECT count(*) AS n FROM tokens INDEXED BY tokens_family WHERE family_id <> hash').get() as { n: number };
      check.close();
      assert.match(index.sql, /WHERE family_id <> hash$/);
      assert.equal(entries.n, 1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('upgrades a database from version 1 (job leases added), keeping its rows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
    const path = join(dir, 'v1.db');
    try {
      const db = new BetterSqlite3(path);
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      db.exec(SQLITE_MIGRATIONS[0]!.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, ?, 0)').run(SQLITE_MIGRATIONS[0]!.name);
      db.prepare("INSERT INTO roles (name, description, built_in) VALUES ('admin', '', 1)").run();
      db.close();
      const s = openSqliteStorage({ path });
      try {
        assert.deepEqual(await s.schemaVersion(), { current: SQLITE_SCHEMA_VERSION, expected: SQLITE_SCHEMA_VERSION });
        assert.equal((await s.roles.byName('admin'))?.builtIn, true);
        assert.equal(await s.tryExclusive!('job', async () => 'ran'), 'ran');
      } finally {
        await s.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('upgrades a version-2 database: applications keep their rows, with no keys, audience or logo and no introspection', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
    const path = join(dir, 'v2.db');
    const app = makeApp({ tokenFormat: 'opaque' });
    try {
      const db = new BetterSqlite3(path);
      db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
      for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 2)) {
        db.exec(m.sql);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)').run(m.version, m.name);
      }
      db.prepare(
        `INSERT INTO applications (id, client_id, name, secret_hash, secret_rotated_at, active, public, grant_types, redirect_uris, scopes,
           access_token_lifespan, refresh_token_lifespan, token_format, app_user_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(app.id, app.clientId, app.name, app.secretHash, app.secretRotatedAt, 1, 0, JSON.stringify(app.grantTypes), JSON.stringify(app.redirectUris),
        JSON.stringify(app.scopes), app.accessTokenLifespan, app.refreshTokenLifespan, app.tokenFormat, app.appUserId, app.createdAt, app.updatedAt);
      db.close();
      const s = openSqliteStorage({ path });
      try {
        assert.deepEqual(await s.schemaVersion(), { current: SQLITE_SCHEMA_VERSION, expected: SQLITE_SCHEMA_VERSION });
        // An application from before OpenID Connect names no ID token algorithm (null: RS256).
        assert.deepEqual(await s.applications.byId(app.id), { ...app, idTokenAlg: null });
        assert.deepEqual(await s.keys.list(), []);
      } finally {
        await s.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('consumes a code, remembers a one-time id and rotates keys once across two connections to one file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
    const path = join(dir, 'two.db');
    const a = openSqliteStorage({ path });
    const b = openSqliteStorage({ path });
    try {
      const code = makeCode();
      await a.codes.insert(code);
      const consumed = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).codes.consume(code.hash, i)));
      assert.equal(consumed.filter((r) => r.outcome === 'consumed').length, 1);
      const remembered = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).replay.remember('jti-1', 100, 0)));
      assert.equal(remembered.filter(Boolean).length, 1);
      const keys = Array.from({ length: 6 }, (_, i) => makeSigningKey({ activatesAt: i }));
      await Promise.all(keys.map((k, i) => (i % 2 ? a : b).keys.rotate(k, { retiresAt: k.activatesAt, publishUntil: k.activatesAt + 1 })));
      assert.equal((await b.keys.list()).filter((k) => k.retiresAt === null).length, 1);
    } finally {
      await a.close();
      await b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a database written by a newer Latchkey', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
    const path = join(dir, 'n.db');
    try {
      await openSqliteStorage({ path }).close();
      const db = new BetterSqlite3(path);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(SQLITE_SCHEMA_VERSION + 1, 'future', Date.now());
      db.close();
      assert.throws(() => openSqliteStorage({ path }), /newer than this Latchkey/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('sees a change made by another connection (the CLI) through the change version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
    const path = join(dir, 'c.db');
    const server = openSqliteStorage({ path });
    const cli = openSqliteStorage({ path });
    try {
      const before = await server.changes.version();
      await cli.properties.set('glide.oauth.inbound.ropc.grant_type.disabled', 'true', Date.now());
      assert.ok((await server.changes.version()) > before);
    } finally {
      await cli.close();
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('sqlite cost flat with size', () => {
  it('deletes expired tokens in bounded chunks and lets the event loop run between them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
    const storage = openSqliteStorage({ path: join(dir, 'chunks.db') });
    try {
      const now = Date.now();
      const expired = Array.from({ length: 3 * SQLITE_DELETE_CHUNK + 7 }, (_, i) => makeToken({ hash: `${(now - 90_000_000 + i).toString(16).padStart(12, '0')}.old${i}`, issuedAt: now - 90_000_000, expiresAt: now - 86_400_001 }));
      const live = makeToken({ hash: `${now.toString(16).padStart(12, '0')}.live`, issuedAt: now, expiresAt: now + 3_600_000 });
      await storage.tokens.insert([...expired, live]);
      // A timer that re-arms itself counts the event-loop turns the clean-up leaves to others.
      let turns = 0;
      let ticking = true;
      const tick = (): void => {
        turns += 1;
        if (ticking) setTimeout(tick, 0);
      };
      setTimeout(tick, 0);
      const deleted = await storage.tokens.deleteExpired(now - 86_400_000);
      ticking = false;
      assert.equal(deleted, expired.length);
      assert.ok(turns >= 3, `the event loop ran ${turns} times during a delete of 4 chunks`);
      assert.ok(await storage.tokens.byHash(live.hash));
      assert.equal(await storage.tokens.deleteExpired(now - 86_400_000), 0);
    } finally {
      await storage.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('finds tokens by the primary key and expired ones by the expiry index (no scan of the table)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-sqlite-'));
    const path = join(dir, 'plan.db');
    try {
      await openSqliteStorage({ path }).close();
      const db = new BetterSqlite3(path);
      const plan = (sql: string, ...params: unknown[]): string => (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...params) as { detail: string }[]).map((r) => r.detail).join(' | ');
      const statements = sqliteStatementText();
      assert.match(plan(statements.tokenByHash, 'x'), /^SEARCH tokens USING PRIMARY KEY \(hash=\?\)$/);
      const cleanup = plan(statements.tokenDeleteExpired, 0);
      assert.match(cleanup, /SEARCH tokens USING PRIMARY KEY \(hash=\?\)/);
      assert.match(cleanup, /SEARCH tokens USING COVERING INDEX tokens_expires \(expires_at<\?\)/);
      assert.doesNotMatch(cleanup, /SCAN tokens/);
      assert.match(statements.tokenDeleteExpired, new RegExp(`LIMIT ${SQLITE_DELETE_CHUNK}\\)$`));
      // A family: its members by the partial family index, its first token by its key (migration 20).
      const family = plan(statements.tokenRevokeFamily, 0, 'f', 'f');
      assert.match(family, /SEARCH tokens USING INDEX tokens_family \(family_id=\?\)/);
      assert.match(family, /SEARCH tokens USING PRIMARY KEY \(hash=\?\)/);
      assert.doesNotMatch(family, /SCAN tokens/);
      // The code clean-up finds a code's tokens by the family index too, not by a scan of the expiry index.
      assert.match(plan(statements.codeDeleteExpired, 0, 0), /SEARCH tokens USING INDEX tokens_family \(family_id=\?\)/);
      db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
