/**
 * Where an instance keeps its data, on the admin API's GET /overview and on the console's Home
 * page: the storage kind, and for a PostgreSQL URL with several hosts (docs/high-availability.md)
 * each host as last probed, the same list /readyz gives. The multi-host server here lists a closed
 * loopback port first and the machine's PostgreSQL second, so it runs on the second and reports
 * the first unreachable.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { adminToken, ADMIN_PASSWORD, bearerClient } from './helpers/admin.js';
import { checkPage, go, openConsole, signIn, type ConsoleBrowser } from './helpers/console-browser.js';
import { createTestDatabase, sql, type TestDatabase } from './helpers/postgres.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { freePort } from './helpers/ports.js';

describe('the database on /overview and the console Home page', { timeout: 120_000 }, () => {
  let db: TestDatabase;
  let multi: TestServer;
  let single: TestServer;
  let live = '';
  let dead = '';
  let timeline = 0;
  let c: ConsoleBrowser | undefined;

  before(async () => {
    db = await createTestDatabase();
    const u = new URL(db.url);
    live = u.host;
    dead = `127.0.0.1:${await freePort()}`;
    const url = db.url.replace(`@${u.host}/`, `@${dead},${u.host}/`);
    assert.notEqual(url, db.url, 'the test database URL has the form postgres://user@host:port/db');
    multi = await startTestServer({ shareDb: { db: url, storageKind: 'postgres' } });
    single = await startTestServer();
  });
  after(async () => {
    await c?.close();
    await multi?.close();
    await single?.close();
    await db?.drop();
  });

  it('GET /overview: several hosts, each with its role and which is in use; the same as /readyz', async () => {
    const admin = bearerClient(multi, await adminToken(multi));
    const overview = await admin.call('GET', '/overview');
    assert.equal(overview.status, 200, overview.text);
    const database = overview.json.database as { kind: string; hosts: { host: string; role: string; inUse: boolean; detail?: string; timeline?: number; checkedAt: string | null }[] };
    assert.equal(database.kind, 'postgres');
    assert.deepEqual(database.hosts.map((h) => [h.host, h.role, h.inUse]), [[dead, 'unreachable', false], [live, 'primary', true]]);
    // The timeline of the host not in recovery, as the server itself reports it; none for the dead one.
    const [row] = await sql<{ tli: string }>('SELECT substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tli', [], db.url);
    timeline = Number.parseInt(row!.tli, 16);
    assert.deepEqual(database.hosts.map((h) => h.timeline), [undefined, timeline]);
    assert.match(database.hosts[0]!.detail ?? '', /ECONNREFUSED/);
    for (const h of database.hosts) assert.ok(h.checkedAt !== null && !Number.isNaN(Date.parse(h.checkedAt)), JSON.stringify(h));
    const ready = (await (await fetch(`${multi.url}/readyz`)).json()) as { hosts: { host: string; role: string; inUse: boolean; timeline?: number }[] };
    assert.deepEqual(ready.hosts.map((h) => [h.host, h.role, h.inUse, h.timeline]), database.hosts.map((h) => [h.host, h.role, h.inUse, h.timeline]));
    assert.doesNotMatch(overview.text, /postgres:\/\//, 'no URL (and so no password) on the overview');
  });

  it('GET /overview with one database: its kind and no host list', async () => {
    const admin = bearerClient(single, await adminToken(single));
    const overview = await admin.call('GET', '/overview');
    assert.equal(overview.status, 200, overview.text);
    assert.deepEqual(overview.json.database, { kind: single.storageKind });
  });

  it('the console Home page shows the hosts, the one in use and the unreachable one', async () => {
    c = await openConsole(multi);
    const { page } = c;
    await signIn(page, 'admin', ADMIN_PASSWORD);
    await go(page, '#/', 'Home');
    const card = page.locator('section', { has: page.getByRole('heading', { name: 'Database' }) });
    await card.locator('table.database-hosts').waitFor();
    const rows = await card.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
    assert.equal(rows.length, 2, JSON.stringify(rows));
    assert.equal(rows[0]![0], dead);
    assert.equal(rows[0]![1], 'unreachable');
    assert.equal(rows[0]![2], '—', 'no timeline for a host that did not answer');
    assert.equal(rows[0]![3], '—');
    assert.match(rows[0]![4]!, /ECONNREFUSED/);
    assert.equal(rows[1]!.length, 6);
    assert.deepEqual([rows[1]![0], rows[1]![1], rows[1]![3]], [live, 'primary', 'in use']);
    assert.match(rows[1]![2]!, /^\d+$/, 'the primary\'s timeline');
    assert.equal(rows[1]![2], String(timeline));
    assert.match(await card.textContent() ?? '', /PostgreSQL, 2 hosts/);
    await checkPage(page, 'home-database-hosts');
    assert.deepEqual(c.errors, []);
  });
});
