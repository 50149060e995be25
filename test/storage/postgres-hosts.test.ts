/**
 * Multi-host PostgreSQL URLs (src/storage/postgres/hosts.ts) and the primary finder
 * (src/storage/postgres/primary.ts): parsing, messages without the password, which host is
 * chosen, failing fast while none fits and finding the next one by itself; then the real adapter
 * over the machine's PostgreSQL listed after a port nobody listens on. The failover between two
 * real clusters is test/postgres-failover.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../../src/errors/config.js';
import { openStorage } from '../../src/storage/open.js';
import { openPostgresStorage } from '../../src/storage/postgres/adapter.js';
import { describePostgresUrl, isFailoverSignal, isUnavailable, translatePg } from '../../src/storage/postgres/errors.js';
import { parsePostgresHosts, type PostgresHost } from '../../src/storage/postgres/hosts.js';
import { chooseHost, fits, PrimaryFinder, probeHost, type HostRole, type ProbeResult } from '../../src/storage/postgres/primary.js';
import { StorageError, type Storage } from '../../src/storage/types.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/postgres.js';
import { makeUser } from './contract.js';
import { freePort } from '../helpers/ports.js';

describe('multi-host PostgreSQL URLs', () => {
  it('one host without target_session_attrs is left exactly as written', () => {
    const url = 'postgres://lk:s3cret@db.example:6432/latchkey?sslmode=require';
    const parsed = parsePostgresHosts(url);
    assert.equal(parsed.multi, false);
    assert.deepEqual(parsed.hosts, [{ label: 'db.example:6432', url }]);
  });

  it('several hosts: one single-host URL each, target_session_attrs removed, other parameters kept; read-write by default', () => {
    const parsed = parsePostgresHosts('postgresql://lk:p%40ss@a.example:5432,b.example,[::1]:5434/latch?sslmode=require&application_name=x');
    assert.equal(parsed.multi, true);
    assert.equal(parsed.target, 'read-write');
    assert.deepEqual(parsed.hosts.map((h) => h.label), ['a.example:5432', 'b.example:5432', '[::1]:5434']);
    assert.deepEqual(parsed.hosts.map((h) => h.url), [
      'postgresql://lk:p%40ss@a.example:5432/latch?sslmode=require&application_name=x',
      'postgresql://lk:p%40ss@b.example:5432/latch?sslmode=require&application_name=x',
      'postgresql://lk:p%40ss@[::1]:5434/latch?sslmode=require&application_name=x',
    ]);
    for (const h of parsed.hosts) assert.equal(new URL(h.url).password, 'p%40ss', 'each host URL is one `pg` and URL can parse');
  });

  it('target_session_attrs read-write, primary and any are taken; with one host it still looks for a fitting one', () => {
    for (const t of ['read-write', 'primary', 'any'] as const) {
      const parsed = parsePostgresHosts(`postgres://u@h1:1,h2:2/d?target_session_attrs=${t}`);
      assert.equal(parsed.target, t);
      assert.equal(parsed.hosts[0]!.url, 'postgres://u@h1:1/d');
    }
    const single = parsePostgresHosts('postgres://u@h1/d?target_session_attrs=primary&sslmode=disable');
    assert.equal(single.multi, true);
    assert.deepEqual(single.hosts, [{ label: 'h1:5432', url: 'postgres://u@h1:5432/d?sslmode=disable' }]);
  });

  it('refuses what Latchkey cannot use, without echoing the URL', () => {
    const cases = [
      'postgres://u:topsecret@h1,h2/d?target_session_attrs=standby',
      'postgres://u:topsecret@h1,h2/d?target_session_attrs=prefer-standby',
      'postgres://u:topsecret@h1,,h2/d',
      'postgres://u:topsecret@h1:port,h2/d',
      'postgres://u:topsecret@h1:99999,h2/d',
      'postgres://u:topsecret@/d?host=h1,h2',
    ];
    for (const url of cases) {
      assert.throws(() => parsePostgresHosts(url), (e: unknown) => e instanceof ConfigError && e.code === 'config.invalid_db' && !e.message.includes('topsecret'), url);
    }
  });

  it('describePostgresUrl names every host, never the password', () => {
    assert.equal(describePostgresUrl('postgres://lk:topsecret@a:5432,b:5433/latch?target_session_attrs=any'), 'lk@a:5432,b:5433/latch');
    assert.equal(describePostgresUrl('postgres://lk:topsecret@a:5432/latch'), 'lk@a:5432/latch');
    assert.doesNotMatch(describePostgresUrl('postgres://lk:topsecret@a,,b/latch'), /topsecret/);
  });

  it('failover signals: connection loss, 08xxx, 57P01/57P02/57P03, 25006; not timeouts, deadlocks, full disks or "no primary" itself', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', '08006', '08001', '57P01', '57P02', '57P03', '25006']) assert.equal(isFailoverSignal({ code }), true, code);
    assert.equal(isFailoverSignal(new Error('Connection terminated unexpectedly')), true);
    assert.equal(isFailoverSignal(new StorageError('unavailable', 'x', { cause: { code: '57P01' } })), true);
    for (const code of ['57014', '40P01', '53100', '23505', 'ENOPRIMARY']) assert.equal(isFailoverSignal({ code }), false, code);
    // "No primary" is unavailable (503), with the finder's words as the message.
    const noPrimary = Object.assign(new Error('no writable PostgreSQL host among a:1 unreachable'), { code: 'ENOPRIMARY' });
    assert.equal(isUnavailable(noPrimary), true);
    const translated = translatePg(noPrimary, 'token');
    assert.ok(translated instanceof StorageError && translated.code === 'unavailable');
    assert.match(translated.message, /no writable PostgreSQL host among a:1/);
  });

  it('fits: target_session_attrs as libpq means it', () => {
    const table: Record<HostRole, [boolean, boolean, boolean]> = {
      primary: [true, true, true],
      'read-only': [false, true, true],
      standby: [false, false, true],
      unreachable: [false, false, false],
    };
    for (const [role, [rw, primary, any]] of Object.entries(table) as [HostRole, [boolean, boolean, boolean]][]) {
      assert.deepEqual([fits(role, 'read-write'), fits(role, 'primary'), fits(role, 'any')], [rw, primary, any], role);
    }
  });
});

describe('PrimaryFinder', () => {
  const hosts = parsePostgresHosts('postgres://u@a:1,b:2,c:3/d');
  /** A probe that answers from `roles` (changeable), counting calls. */
  const scripted = (roles: Record<string, HostRole>) => {
    const calls: string[] = [];
    return { calls, probe: async (h: PostgresHost) => (calls.push(h.label), roles[h.label] === 'unreachable' ? { role: 'unreachable' as const, detail: 'ECONNREFUSED' } : { role: roles[h.label]! }) };
  };

  it('uses the first host in the URL that fits, and reports every host', async () => {
    const roles: Record<string, HostRole> = { 'a:1': 'unreachable', 'b:2': 'standby', 'c:3': 'primary' };
    const { probe } = scripted(roles);
    const finder = new PrimaryFinder(hosts, { probeTimeoutMs: 100, probe });
    assert.equal((await finder.discover())?.label, 'c:3');
    assert.deepEqual(finder.statuses().map((s) => [s.host, s.role, s.inUse]), [['a:1', 'unreachable', false], ['b:2', 'standby', false], ['c:3', 'primary', true]]);
    finder.close();
  });

  it('none fits: no host in use, and the error says what each host is', async () => {
    const { probe } = scripted({ 'a:1': 'unreachable', 'b:2': 'standby', 'c:3': 'read-only' });
    const finder = new PrimaryFinder(hosts, { probeTimeoutMs: 100, probe });
    assert.equal(await finder.discover(), undefined);
    assert.equal(finder.current, undefined);
    const e = finder.noPrimaryError();
    assert.equal(isUnavailable(e), true);
    assert.equal(isFailoverSignal(e), false);
    assert.match(e.message, /no writable PostgreSQL host \(target_session_attrs=read-write\) among a:1 unreachable \(ECONNREFUSED\); b:2 standby; c:3 read-only/);
    finder.close();
  });

  it('a failover signal checks the host in use; when it fails, none is in use until a host fits again, found in the background', async () => {
    const roles: Record<string, HostRole> = { 'a:1': 'primary', 'b:2': 'standby', 'c:3': 'unreachable' };
    const { probe, calls } = scripted(roles);
    const changes: (string | undefined)[] = [];
    const finder = new PrimaryFinder(hosts, { probeTimeoutMs: 100, probe, minBackoffMs: 5, maxBackoffMs: 20, recheckAfterMs: 0, onChange: (h) => changes.push(h?.label) });
    await finder.discover();
    // Not a failover signal: nothing is probed.
    calls.length = 0;
    finder.suspect({ code: '57014' });
    await finder.settled();
    assert.deepEqual(calls, []);
    // A signal while the host is fine: one probe of it, nothing changes.
    finder.suspect({ code: 'ECONNRESET' });
    await finder.settled();
    assert.deepEqual(calls, ['a:1']);
    assert.equal(finder.current?.label, 'a:1');
    // The primary goes; the standby is promoted a little later.
    roles['a:1'] = 'unreachable';
    finder.suspect({ code: '57P01' });
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(finder.current, undefined, 'no host in use while none fits');
    // Many signals meanwhile start no second search.
    for (let i = 0; i < 50; i++) finder.suspect({ code: 'ECONNREFUSED' });
    roles['b:2'] = 'primary';
    // The finder's backoff timers are unref'd (they never hold a process open): keep this one alive.
    const alive = setInterval(() => undefined, 10);
    await finder.settled().finally(() => clearInterval(alive));
    assert.equal((finder.current as PostgresHost | undefined)?.label, 'b:2');
    assert.deepEqual(changes, ['a:1', undefined, 'b:2']);
    finder.close();
  });

  it('right after the host in use passed a check, further signals do not probe it again', async () => {
    const { probe, calls } = scripted({ 'a:1': 'primary', 'b:2': 'standby', 'c:3': 'standby' });
    const finder = new PrimaryFinder(hosts, { probeTimeoutMs: 100, probe, recheckAfterMs: 60_000 });
    await finder.discover();
    calls.length = 0;
    for (let i = 0; i < 20; i++) finder.suspect({ code: 'ECONNRESET' });
    await finder.settled();
    assert.deepEqual(calls, []);
    finder.close();
  });
});

describe('two primaries of one cluster: the higher timeline, or neither (chooseHost)', () => {
  const hosts = parsePostgresHosts('postgres://u@a:1,b:2,c:3/d');
  const [a, b, c] = hosts.hosts as [PostgresHost, PostgresHost, PostgresHost];
  const primary = (timeline: number, startedAt: string, systemId = '7300000000000000001'): ProbeResult => ({ role: 'primary', timeline, systemId, startedAt });
  const standby: ProbeResult = { role: 'standby', detail: 'in recovery (a standby)' };

  it('an old primary back beside the promoted standby: the promoted one (higher timeline) is used, whatever the URL order', () => {
    assert.equal(chooseHost([{ h: a, r: primary(1, 't1') }, { h: b, r: primary(2, 't2') }, { h: c, r: standby }], 'read-write').host, b);
    assert.equal(chooseHost([{ h: a, r: primary(3, 't1') }, { h: b, r: primary(2, 't2') }], 'primary').host, a);
  });

  it('two distinct servers on the same timeline: neither, and the conflict names both', () => {
    const choice = chooseHost([{ h: a, r: primary(2, 't1') }, { h: b, r: primary(2, 't2') }, { h: c, r: standby }], 'read-write');
    assert.equal(choice.host, undefined);
    assert.match(choice.conflict ?? '', /^split brain: a:1 and b:2 are writable primaries of one cluster on the same timeline \(2\)/);
  });

  it('one server listed twice (same cluster, same start): not a conflict, the first is used', () => {
    assert.equal(chooseHost([{ h: a, r: primary(1, 't1') }, { h: b, r: primary(1, 't1') }], 'read-write').host, a);
  });

  it('another cluster, an unknown identity, or target_session_attrs=any: the URL order, as libpq', () => {
    assert.equal(chooseHost([{ h: a, r: primary(1, 't1') }, { h: b, r: primary(5, 't2', '7300000000000000999') }], 'read-write').host, a);
    assert.equal(chooseHost([{ h: a, r: { role: 'primary' } }, { h: b, r: primary(5, 't2') }], 'read-write').host, a);
    assert.equal(chooseHost([{ h: a, r: standby }, { h: b, r: primary(1, 't1') }, { h: c, r: primary(2, 't2') }], 'any').host, a);
  });

  it('the finder: a split brain fails fast with the conflict; while one host is in use, a promotion elsewhere is followed within watchMs', async () => {
    const results: Record<string, ProbeResult> = { 'a:1': primary(2, 't1'), 'b:2': primary(2, 't2'), 'c:3': standby };
    const calls: string[] = [];
    const probe = async (h: PostgresHost) => (calls.push(h.label), results[h.label]!);
    const split = new PrimaryFinder(hosts, { probeTimeoutMs: 100, probe });
    assert.equal(await split.discover(), undefined);
    assert.match(split.noPrimaryError().message, /^split brain: a:1 and b:2 .*; hosts: a:1 primary \(timeline 2\); b:2 primary \(timeline 2\); c:3 standby$/);
    assert.equal(isUnavailable(split.noPrimaryError()), true);
    split.close();

    results['b:2'] = standby;
    const changes: (string | undefined)[] = [];
    const finder = new PrimaryFinder(hosts, { probeTimeoutMs: 100, probe, watchMs: 20, onChange: (h) => changes.push(h?.label) });
    assert.equal((await finder.discover())?.label, 'a:1');
    assert.deepEqual(finder.statuses().map((s) => [s.host, s.role, s.timeline, s.inUse]), [['a:1', 'primary', 2, true], ['b:2', 'standby', undefined, false], ['c:3', 'standby', undefined, false]]);
    assert.equal('systemId' in (finder.statuses()[0] as object), false, 'the cluster identity stays inside the finder');
    // c is promoted while a, cut off from it, still takes writes: c's timeline is higher.
    results['c:3'] = primary(3, 't3');
    const alive = setInterval(() => undefined, 10);
    try {
      for (let i = 0; i < 100 && finder.current?.label !== 'c:3'; i++) await new Promise((r) => setTimeout(r, 10));
    } finally {
      clearInterval(alive);
    }
    assert.equal(finder.current?.label, 'c:3');
    assert.deepEqual(changes, ['a:1', 'c:3']);
    finder.close();
    calls.length = 0;
    await new Promise((r) => setTimeout(r, 60));
    assert.deepEqual(calls, [], 'closed: no more probes');
  });

  it('the watch does not move for URL order alone: a host listed first that fits, or a primary of another cluster', async () => {
    const anyHosts = parsePostgresHosts('postgres://u@a:1,b:2/d?target_session_attrs=any');
    const results: Record<string, ProbeResult> = { 'a:1': { role: 'unreachable', detail: 'ECONNREFUSED' }, 'b:2': primary(2, 't2') };
    const probe = async (h: PostgresHost) => results[h.label]!;
    const changes: (string | undefined)[] = [];
    const finder = new PrimaryFinder(anyHosts, { probeTimeoutMs: 100, probe, watchMs: 10, onChange: (h) => changes.push(h?.label) });
    assert.equal((await finder.discover())?.label, 'b:2');
    results['a:1'] = standby; // the old primary, rebuilt as a standby, is back first in the URL
    const rwResults: Record<string, ProbeResult> = { 'a:1': { role: 'unreachable', detail: 'ECONNREFUSED' }, 'b:2': primary(2, 't2') };
    const rw = new PrimaryFinder(parsePostgresHosts('postgres://u@a:1,b:2/d'), { probeTimeoutMs: 100, probe: async (h) => rwResults[h.label]!, watchMs: 10 });
    assert.equal((await rw.discover())?.label, 'b:2');
    rwResults['a:1'] = primary(9, 'tx', '7300000000000000999'); // another cluster, higher timeline: not comparable
    const alive = setInterval(() => undefined, 5);
    await new Promise((r) => setTimeout(r, 80)).finally(() => clearInterval(alive));
    assert.equal(finder.current?.label, 'b:2');
    assert.deepEqual(changes, ['b:2']);
    assert.equal(rw.current?.label, 'b:2');
    assert.equal(rw.statuses()[0]?.checkedAt !== 0 && rw.statuses()[0]?.role, 'primary', 'the watch did probe it');
    finder.close();
    rw.close();
  });
});

describe('the adapter with several hosts, over the machine\'s PostgreSQL', () => {
  let db: TestDatabase;
  let dead: number;
  const opened: Storage[] = [];
  const withHosts = (hostList: string) => {
    const u = new URL(db.url);
    return `postgres://${u.username}${u.password ? `:${u.password}` : ''}@${hostList}${u.pathname}`;
  };

  before(async () => {
    db = await createTestDatabase();
    dead = await freePort();
  });
  after(async () => {
    await Promise.allSettled(opened.map((s) => s.close()));
    await db?.drop();
  });

  it('probeHost: the machine\'s server is a primary; a closed port is unreachable', async () => {
    const u = new URL(db.url);
    const found = await probeHost({ label: u.host, url: db.url }, 2_000);
    assert.equal(found.role, 'primary');
    // Which cluster, which server process, which timeline: from the server itself.
    const [row] = await sql<{ system_id: string; started: string; tli: string }>("SELECT (SELECT system_identifier::text FROM pg_control_system()) AS system_id, pg_postmaster_start_time()::text AS started, substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) AS tli", [], db.url);
    assert.deepEqual(found, { role: 'primary', systemId: row!.system_id, startedAt: row!.started, timeline: Number.parseInt(row!.tli, 16) });
    assert.ok(found.timeline! >= 1);
    const r = await probeHost({ label: `127.0.0.1:${dead}`, url: withHosts(`127.0.0.1:${dead}`) }, 2_000);
    assert.equal(r.role, 'unreachable');
    assert.match(r.detail ?? '', /ECONNREFUSED/);
  });

  it('a dead host listed first: the storage works on the next, and reports both', async () => {
    const u = new URL(db.url);
    const s = await openPostgresStorage({ url: withHosts(`127.0.0.1:${dead},${u.host}`) });
    opened.push(s);
    await s.users.create(makeUser({ userName: 'multi-host' }));
    assert.equal((await s.users.byName('multi-host'))?.userName, 'multi-host');
    const hosts = s.stats?.hosts?.();
    assert.deepEqual(hosts?.map((h) => [h.host, h.role, h.inUse]), [[`127.0.0.1:${dead}`, 'unreachable', false], [u.host, 'primary', true]]);
  });

  it('with one host the storage reports no host list (the plain pool)', async () => {
    const s = await openPostgresStorage({ url: db.url });
    opened.push(s);
    assert.equal(s.stats?.hosts, undefined);
  });

  it('no host fits: opening fails config.db_unreachable naming every host and what it is, never the password', async () => {
    const dead2 = await freePort();
    const url = withHosts(`127.0.0.1:${dead},127.0.0.1:${dead2}`).replace('postgres://', 'postgres://').replace(/@/, ':topsecret@');
    await assert.rejects(openStorage(url), (e: unknown) => {
      assert.ok(e instanceof ConfigError, String(e));
      assert.equal(e.code, 'config.db_unreachable');
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${dead},127\\.0\\.0\\.1:${dead2}`));
      assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${dead} unreachable \\(.*ECONNREFUSED`));
      assert.doesNotMatch(e.message, /topsecret/);
      return true;
    });
  });

  it('a bad target_session_attrs: config.invalid_db', async () => {
    await assert.rejects(openStorage(withHosts('127.0.0.1:1,127.0.0.1:2') + '?target_session_attrs=standby'), (e: unknown) => e instanceof ConfigError && e.code === 'config.invalid_db');
  });
});

describe('doctor on several PostgreSQL hosts (diagnostics/checks-database.ts)', () => {
  it('an unreachable listed host is a warning; a second writable primary is an error; one host, nothing', async () => {
    const { databaseHostChecks } = await import('../../src/diagnostics/checks-database.js');
    assert.deepEqual(databaseHostChecks(undefined), []);
    const findings = databaseHostChecks([
      { host: 'a:5432', role: 'primary', checkedAt: 1, inUse: true },
      { host: 'b:5433', role: 'unreachable', detail: 'connect ECONNREFUSED', checkedAt: 1, inUse: false },
      { host: 'c:5434', role: 'standby', detail: 'in recovery (a standby)', checkedAt: 1, inUse: false },
      { host: 'd:5435', role: 'primary', checkedAt: 1, inUse: false },
    ]);
    assert.deepEqual(findings.map((f) => [f.id, f.severity, f.target]), [['database_host_unreachable', 'warning', 'b:5433'], ['database_several_primaries', 'error', 'd:5435']]);
    assert.match(findings[0]!.detail, /ECONNREFUSED.*uses a:5432/);
    assert.equal(findings[0]!.command, 'pg_isready -h b -p 5433');
  });

  it('the old primary back on a lower timeline: the finding says Latchkey writes to the promoted one, and names both timelines', async () => {
    const { databaseHostChecks } = await import('../../src/diagnostics/checks-database.js');
    const [finding] = databaseHostChecks([
      { host: 'a:5432', role: 'primary', timeline: 1, checkedAt: 1, inUse: false },
      { host: 'b:5433', role: 'primary', timeline: 2, checkedAt: 1, inUse: true },
    ]);
    assert.equal(finding?.id, 'database_several_primaries');
    assert.match(finding!.detail, /^a:5432 \(timeline 1\) answers as a writable primary, and so does b:5433 \(timeline 2\), which Latchkey uses\./);
    assert.match(finding!.detail, /Latchkey uses b:5433, promoted later \(a higher timeline\), and writes nothing to a:5432/);
    assert.match(finding!.fix, /rebuild it as a standby of b:5433 \(pg_rewind or pg_basebackup -R\)/);
  });
});
