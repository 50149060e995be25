/**
 * The scheduled clean-up: what it deletes, the JSON line it logs, and that instances sharing a
 * database (two storages on one PostgreSQL database, two on one SQLite file) never run it at the
 * same time.
 */
import { makeDevice } from './storage/device-contract.js';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { Logger } from '../src/core/logger.js';
import { CLEANUP_JOB, runCleanup, scheduleCleanup, type CleanupResult } from '../src/jobs/cleanup.js';
import { createMemoryStorage } from '../src/storage/memory/adapter.js';
import { openPostgresStorage } from '../src/storage/postgres/adapter.js';
import { openSqliteStorage } from '../src/storage/sqlite/adapter.js';
import type { Storage } from '../src/storage/types.js';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.js';
import { makeApp, makeAuditEntry, makeCode, makeRefusal, makeSession, makeSigningKey, makeToken } from './storage/contract.js';

const DAY = 86_400_000;
const NOW = 1_800_000_000_000;
const clock = { now: () => NOW };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A logger that keeps every line as the JSON object pino would print. */
function capture(): Logger & { lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = (level: string) => (obj: object, msg?: string) => void lines.push({ level, ...obj, msg });
  return { lines, info: log('info'), warn: log('warn'), error: log('error') };
}

/** The storage with a clean-up slow enough that a second instance surely tries while it runs. */
function slow(s: Storage, ms = 300): Storage {
  return {
    ...s,
    tokens: {
      ...s.tokens,
      deleteExpired: async (before) => {
        await sleep(ms);
        return s.tokens.deleteExpired(before);
      },
    },
  };
}

async function seed(s: Storage): Promise<void> {
  await s.tokens.insert([
    makeToken({ expiresAt: NOW - 2 * DAY }), // expired two days ago: deleted
    makeToken({ expiresAt: NOW - DAY / 2 }), // expired within the grace day: kept
    makeToken({ expiresAt: NOW + DAY }),
  ]);
  for (const at of [NOW - 31 * DAY, NOW - 40 * DAY, NOW - 29 * DAY]) await s.refusals.record(makeRefusal({ at }));
  await s.codes.insert(makeCode({ hash: 'code-old', expiresAt: NOW - 2 * DAY })); // expired two days ago: deleted
  await s.codes.insert(makeCode({ hash: 'code-grace', expiresAt: NOW - DAY / 2 })); // within the grace day: kept (reuse still detected)
  await s.codes.consume('code-grace', NOW - DAY);
  await s.replay.remember('jti-old', NOW - 1, NOW - 60_000); // expired: deleted
  await s.replay.remember('jti-live', NOW + 60_000, NOW - 60_000);
  // Three keys: one no longer published (deleted), one retired but still published, the current one.
  await s.keys.rotate(makeSigningKey({ kid: 'k-old', activatesAt: NOW - 90 * DAY }), { retiresAt: 0, publishUntil: 0 });
  await s.keys.rotate(makeSigningKey({ kid: 'k-retired', activatesAt: NOW - 30 * DAY }), { retiresAt: NOW - 30 * DAY, publishUntil: NOW - DAY });
  await s.keys.rotate(makeSigningKey({ kid: 'k-current', activatesAt: NOW - 1_000 }), { retiresAt: NOW - 1_000, publishUntil: NOW + DAY });
  // Audit entries are kept a year, activity counters 30 days.
  for (const at of [NOW - 400 * DAY, NOW - 100 * DAY]) await s.audit.record(makeAuditEntry({ at }));
  await s.activity.add([{ bucket: NOW - 31 * DAY, metric: 'api.call', count: 5 }, { bucket: NOW - DAY, metric: 'api.call', count: 2 }]);
  // Per-application usage is kept 90 days.
  await s.usage.add([
    { clientId: 'client-a', day: NOW - 91 * DAY, scope: '', tokens: 1, calls: 0, refusals: 0, lastUseAt: NOW - 91 * DAY },
    { clientId: 'client-a', day: NOW - 89 * DAY, scope: '', tokens: 2, calls: 0, refusals: 0, lastUseAt: NOW - 89 * DAY },
  ]);
  // Password-attempt counts live one lockout window after the last failure: one expired, one live.
  await s.attempts.fail([{ kind: 'pair', userName: 'gone', source: '192.0.2.1' }], NOW - 2_000_000, 900_000, 900_000);
  await s.attempts.fail([{ kind: 'user', userName: 'live', source: '' }], NOW - 1_000, 900_000, 900_000);
  // Sessions are kept a day after they end: one ended two days ago (deleted), one live.
  await s.sessions.create(makeSession({ id: 's-old', expiresAt: NOW - 2 * DAY }));
  await s.sessions.create(makeSession({ id: 's-live', userId: 'u-live', expiresAt: NOW + DAY }));
  // Device authorizations (RFC 8628) go a day after they expire, as codes: one gone, one in its grace.
  await s.deviceCodes.insert(makeDevice({ id: 'dev-old', userHash: 'dev-old', expiresAt: NOW - 2 * DAY }));
  await s.deviceCodes.insert(makeDevice({ id: 'dev-grace', userHash: 'dev-grace', expiresAt: NOW - 1_000 }));
  // Pushed authorization requests (RFC 9126) get the tokens' grace after expiry: one expired two days ago (deleted), one yesterday (kept).
  await s.pushedRequests.insert({ hash: 'par-old', applicationId: 'a', parameters: '', createdAt: NOW - 2 * DAY - 60_000, expiresAt: NOW - 2 * DAY, usedAt: null });
  await s.pushedRequests.insert({ hash: 'par-grace', applicationId: 'a', parameters: '', createdAt: NOW - DAY / 2 - 60_000, expiresAt: NOW - DAY / 2, usedAt: null });
  // Dynamically registered clients are reaped after 30 days unused: one registered 40 days ago, one yesterday.
  for (const [clientId, createdAt] of [['reg-old', NOW - 40 * DAY], ['reg-new', NOW - DAY]] as const) {
    const app = makeApp({ clientId, origin: 'registration', createdAt, updatedAt: createdAt });
    await s.applications.create(app);
    await s.registrations.create({ clientId, applicationId: app.id, tokenHash: `rat-${clientId}`, source: 'ip:192.0.2.9', fingerprint: clientId, metadata: '{}', policy: null, createdAt, updatedAt: createdAt, lastUsedAt: null });
  }
}

/** What seed() leaves after one clean-up with the defaults. */
async function assertSeedCleaned(s: Storage): Promise<void> {
  assert.deepEqual(await s.codes.consume('code-old', NOW), { outcome: 'not_found' });
  assert.equal((await s.codes.consume('code-grace', NOW)).outcome, 'used');
  assert.deepEqual(await s.pushedRequests.consume('par-old', NOW), { outcome: 'not_found' });
  assert.equal((await s.pushedRequests.consume('par-grace', NOW)).outcome, 'consumed');
  assert.equal(await s.replay.remember('jti-old', NOW + 1, NOW), true, 'a deleted one-time id is new again');
  assert.equal(await s.replay.remember('jti-live', NOW + 1, NOW), false);
  assert.equal(await s.deviceCodes.byUserHash('dev-old'), undefined);
  assert.equal((await s.deviceCodes.byUserHash('dev-grace'))?.id, 'dev-grace');
  assert.deepEqual((await s.keys.list()).map((k) => k.kid), ['k-retired', 'k-current']);
  // The audit log keeps the year, plus what the reaping did (application.delete of the reaped client, by system).
  assert.deepEqual((await s.audit.list({})).filter((e) => e.action !== 'application.delete').map((e) => e.at), [NOW - 100 * DAY]);
  assert.deepEqual((await s.audit.list({ action: 'application.delete' })).map((e) => [e.target, e.actor]), [['reg-old', 'system']]);
  assert.deepEqual(await s.activity.series('api.call', 0), [{ bucket: NOW - DAY, count: 2 }]);
  assert.deepEqual((await s.usage.list({ since: 0 })).map((r) => r.day), [NOW - 89 * DAY]);
  assert.deepEqual((await s.attempts.list(0)).map((r) => r.userName), ['live']);
  assert.equal(await s.sessions.byId('s-old'), undefined);
  assert.equal((await s.sessions.byId('s-live'))?.userId, 'u-live');
  assert.deepEqual((await s.registrations.list()).map((r) => r.clientId), ['reg-new']);
  assert.equal(await s.applications.byClientId('reg-old'), undefined, 'its application went with it');
}

describe('clean-up', () => {
  it('deletes tokens expired more than a day ago and refusals older than 30 days, and logs one JSON line with the counts', async () => {
    const storage = createMemoryStorage();
    await seed(storage);
    const logger = capture();
    const result = await runCleanup({ storage, clock, logger });
    assert.deepEqual({ ...result, durationMs: 0 }, { ran: true, tokensDeleted: 1, refusalsDeleted: 2, codesDeleted: 1, oneTimeIdsDeleted: 1, deviceCodesDeleted: 1, keysDeleted: 1, auditDeleted: 1, activityDeleted: 1, usageDeleted: 1, attemptsDeleted: 1, sessionsDeleted: 1, registrationsReaped: 1, pushedRequestsDeleted: 1, durationMs: 0 });
    assert.equal((await storage.tokens.exportAll()).length, 2);
    assert.equal((await storage.refusals.exportAll()).length, 1);
    assert.equal(logger.lines.length, 1);
    assert.deepEqual(JSON.parse(JSON.stringify(logger.lines[0])), {
      level: 'info', job: 'cleanup', ran: true, tokensDeleted: 1, refusalsDeleted: 2, codesDeleted: 1, oneTimeIdsDeleted: 1, deviceCodesDeleted: 1, keysDeleted: 1, auditDeleted: 1, activityDeleted: 1, usageDeleted: 1, attemptsDeleted: 1, sessionsDeleted: 1, registrationsReaped: 1, pushedRequestsDeleted: 1, durationMs: 0,
      tokenGraceMs: DAY, refusalRetentionMs: 30 * DAY, auditRetentionMs: 365 * DAY, activityRetentionMs: 30 * DAY, usageRetentionMs: 90 * DAY, msg: 'clean-up finished',
    });
    await assertSeedCleaned(storage);
    const custom = await runCleanup({ storage, clock, logger }, { tokenGraceMs: 0, refusalRetentionMs: 0 });
    assert.deepEqual({ ...custom, durationMs: 0 }, { ran: true, tokensDeleted: 1, refusalsDeleted: 1, codesDeleted: 1, oneTimeIdsDeleted: 0, deviceCodesDeleted: 1, keysDeleted: 0, auditDeleted: 0, activityDeleted: 0, usageDeleted: 0, attemptsDeleted: 0, sessionsDeleted: 0, registrationsReaped: 0, pushedRequestsDeleted: 1, durationMs: 0 });
  });

  it('runs on its schedule, logs a failure as a warning without throwing, and stops cleanly', async () => {
    const storage = createMemoryStorage();
    const logger = capture();
    let calls = 0;
    const failing: Storage = {
      ...storage,
      refusals: {
        ...storage.refusals,
        deleteOlderThan: async () => {
          calls += 1;
          if (calls === 1) throw new Error('database unavailable (ECONNREFUSED)');
          return 0;
        },
      },
    };
    const schedule = scheduleCleanup({ storage: failing, clock, logger }, { firstRunMs: 10, intervalMs: 30, jitter: 0.5 });
    const until = Date.now() + 3_000;
    while (calls < 3 && Date.now() < until) await sleep(10);
    await schedule.stop();
    const settled = calls;
    await sleep(100);
    assert.ok(settled >= 3, `ran ${settled} times`);
    assert.equal(calls, settled, 'nothing runs after stop()');
    assert.equal(logger.lines[0]?.level, 'warn');
    assert.match(String(logger.lines[0]?.err), /ECONNREFUSED/);
    assert.ok(logger.lines.slice(1).every((l) => l.level === 'info' && l.ran === true));
  });

  describe('across instances', () => {
    const dirs: string[] = [];
    const dbs: TestDatabase[] = [];
    after(async () => {
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
      await Promise.all(dbs.map((d) => d.drop()));
    });

    const pairs: [string, () => Promise<[Storage, Storage]>][] = [
      ['two storages on one PostgreSQL database', async () => {
        const db = await createTestDatabase();
        dbs.push(db);
        return [await openPostgresStorage({ url: db.url }), await openPostgresStorage({ url: db.url })];
      }],
      ['two storages on one SQLite file', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'latchkey-jobs-'));
        dirs.push(dir);
        return [openSqliteStorage({ path: join(dir, 'l.db') }), openSqliteStorage({ path: join(dir, 'l.db') })];
      }],
    ];

    for (const [name, open] of pairs) {
      it(`${name}: two concurrent runs do the work once, and the lock is free again afterwards`, async () => {
        const [a, b] = await open();
        try {
          await seed(a);
          const logger = capture();
          const results: CleanupResult[] = await Promise.all([runCleanup({ storage: slow(a), clock, logger }), runCleanup({ storage: slow(b), clock, logger })]);
          const ran = results.filter((r) => r.ran);
          assert.equal(ran.length, 1, JSON.stringify(results));
          assert.deepEqual(results.find((r) => !r.ran), { ran: false, reason: 'running_elsewhere' });
          assert.equal(ran[0]?.ran && ran[0].tokensDeleted, 1);
          assert.equal(ran[0]?.ran && ran[0].refusalsDeleted, 2);
          assert.deepEqual(ran[0]?.ran && [ran[0].codesDeleted, ran[0].oneTimeIdsDeleted, ran[0].keysDeleted], [1, 1, 1]);
          await assertSeedCleaned(b);
          assert.deepEqual(logger.lines.map((l) => l.ran).sort(), [false, true]);
          // Exclusion holds for any work under the name, and releases when the work is done.
          let inside = 0;
          const work = async () => {
            inside += 1;
            await sleep(200);
            return 'done';
          };
          const both = await Promise.all([a.tryExclusive!(CLEANUP_JOB, work), b.tryExclusive!(CLEANUP_JOB, work)]);
          assert.equal(inside, 1);
          assert.deepEqual(both.filter((x) => x === 'done'), ['done']);
          assert.equal(await b.tryExclusive!(CLEANUP_JOB, async () => 'b'), 'b');
          assert.equal(await a.tryExclusive!(CLEANUP_JOB, async () => 'a'), 'a');
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      });
    }
  });
});
