import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { openSqliteStorage } from '../../src/storage/sqlite/adapter.js';
import { SQLITE_MIGRATIONS, SQLITE_SCHEMA_VERSION } from '../../src/storage/sqlite/migrations.js';
import { runStorageContract } from './contract.js';

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
      assert.deepEqual(rows.map((r) => r.version), Array.from({ length: SQLITE_SCHEMA_VERSION }, (_, i) => i + 1));
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
