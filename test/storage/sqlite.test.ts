import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { openSqliteStorage } from '../../src/storage/sqlite/adapter.js';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from '../../src/storage/sqlite/migrations.js';
import { makeApp, makeCode, makeSigningKey, runStorageContract } from './contract.js';

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
