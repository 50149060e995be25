/**
 * PostgreSQL change notifications (LISTEN/NOTIFY) between storages on one database, as between
 * instances: a committed change reaches the other storage's subscribers within a second, the
 * listener survives its connection being killed, and the registry cache reacts at once rather
 * than at its next poll.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RegistryCache } from '../../src/registry/cache.js';
import { openPostgresStorage } from '../../src/storage/postgres/adapter.js';
import type { Storage } from '../../src/storage/types.js';
import { createTestDatabase, sql, type TestDatabase } from '../helpers/postgres.js';
import { makeCode, makeIdentityProvider, makeSigningKey, makeToken, makeUser } from './contract.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Counts a storage's notifications; `next` waits for one more than seen so far. */
function listen(s: Storage) {
  let count = 0;
  const waiters = new Set<() => void>();
  const unsubscribe = s.changes.subscribe!(() => {
    count += 1;
    for (const w of waiters) w();
  });
  return {
    get count() {
      return count;
    },
    unsubscribe,
    /** Resolves with the time it took once `count` exceeds `than`; rejects after `ms`. */
    async after(than: number, ms: number): Promise<number> {
      const started = Date.now();
      if (count > than) return 0;
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no notification within ${ms} ms`));
        }, ms);
        function check(): void {
          if (count <= than) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        }
        waiters.add(check);
      });
      return Date.now() - started;
    },
  };
}

/** Backend pids of the Latchkey listener connections on `db`. */
const listenerPids = async (db: TestDatabase): Promise<number[]> =>
  (await sql<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = 'latchkey_listener'", [db.name])).map((r) => r.pid);

async function eventually(what: string, ms: number, test: () => Promise<boolean>): Promise<void> {
  const until = Date.now() + ms;
  while (!(await test())) {
    if (Date.now() > until) assert.fail(`${what} did not happen within ${ms} ms`);
    await sleep(25);
  }
}

describe('postgres change notifications between two storages on one database', () => {
  let db: TestDatabase;
  let a: Storage;
  let b: Storage;
  before(async () => {
    db = await createTestDatabase();
    a = await openPostgresStorage({ url: db.url });
    b = await openPostgresStorage({ url: db.url, connectTimeoutMs: 1_000 });
  });
  after(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    await db?.drop();
  });

  it('opens no listener connection until something subscribes', async () => {
    assert.deepEqual(await listenerPids(db), []);
  });

  it('delivers a mutation made through one storage to the other within a second, and only on real changes', async () => {
    const heard = listen(b);
    try {
      await heard.after(0, 3_000); // connected: one call after every (re)connection
      let seen = heard.count;
      const user = makeUser();
      await a.users.create(user);
      assert.ok((await heard.after(seen, 1_000)) < 1_000);
      seen = heard.count;
      const token = makeToken({ kind: 'access' });
      await a.tokens.insert([token]);
      await a.refusals.record({ requestId: 'r-1', at: 1, endpoint: 'token', status: 400, error: 'x', reason: 'y', description: '', hint: null, clientId: null, applicationName: null, userName: null, remoteAddress: null });
      assert.equal(await a.tokens.revoke('no-such-token', 1), false);
      await sleep(300);
      assert.equal(heard.count, seen, 'inserts and no-op mutations announce nothing');
      await a.tokens.revoke(token.hash, 2);
      await heard.after(seen, 1_000);
      seen = heard.count;
      await a.users.update({ ...user, active: false });
      await heard.after(seen, 1_000);
      // Rotation bumps the version (polling sees it) without a notification; reuse revokes the
      // family, which is announced.
      const refresh = makeToken();
      await a.tokens.insert([refresh]);
      seen = heard.count;
      const version = await b.changes.version();
      assert.equal((await a.tokens.consumeRefresh(refresh.hash, 3, [makeToken({ familyId: refresh.familyId })])).outcome, 'consumed');
      assert.ok((await b.changes.version()) > version);
      await sleep(300);
      assert.equal(heard.count, seen, 'a rotation is not announced');
      assert.equal(await a.tokens.revokeFamily(refresh.familyId, 4), 2);
      await heard.after(seen, 1_000);
    } finally {
      heard.unsubscribe();
    }
  });

  it('announces key and identity-provider changes, not authorization codes or one-time ids', async () => {
    const heard = listen(b);
    try {
      await eventually('the listener connecting', 3_000, async () => (await listenerPids(db)).length === 1);
      await sleep(100);
      let seen = heard.count;
      await a.keys.rotate(makeSigningKey(), { retiresAt: 1, publishUntil: 2 });
      await heard.after(seen, 1_000);
      seen = heard.count;
      const idp = makeIdentityProvider();
      await a.identityProviders.create(idp);
      await heard.after(seen, 1_000);
      seen = heard.count;
      await a.identityProviders.delete(idp.id);
      await heard.after(seen, 1_000);
      seen = heard.count;
      const code = makeCode();
      await a.codes.insert(code);
      await a.codes.consume(code.hash, 5);
      await a.replay.remember('jti-notify', 10, 5);
      await a.keys.deleteUnpublished(0);
      await sleep(300);
      assert.equal(heard.count, seen, 'codes, one-time ids and a delete that removed nothing announce nothing');
    } finally {
      heard.unsubscribe();
    }
  });

  it('reconnects after its connection is terminated, and notifies again', async () => {
    const heard = listen(b);
    try {
      await eventually('the listener connecting', 3_000, async () => (await listenerPids(db)).length === 1);
      const [old] = await listenerPids(db);
      const seen = heard.count;
      await sql('SELECT pg_terminate_backend($1)', [old]);
      // After reconnecting it calls its subscribers once (changes while away were not announced).
      await heard.after(seen, 5_000);
      await eventually('a new listener connection', 3_000, async () => {
        const pids = await listenerPids(db);
        return pids.length === 1 && pids[0] !== old;
      });
      const now = heard.count;
      await a.properties.set('glide.oauth.inbound.ropc.grant_type.disabled', 'true', Date.now());
      assert.ok((await heard.after(now, 1_000)) < 1_000);
    } finally {
      heard.unsubscribe();
    }
  });

  it('makes the registry cache drop its entries at once, without waiting for its poll', async () => {
    const cache = new RegistryCache({ storage: b });
    await cache.start(60_000); // polling every minute: only a notification can be this quick
    try {
      await sleep(200); // let the subscription's connection call settle
      let invalidated = 0;
      cache.onInvalidate(() => void (invalidated += 1));
      const started = Date.now();
      await a.properties.set('latchkey.password.lockout.threshold', '7', Date.now());
      await eventually('the cache being cleared', 1_000, async () => invalidated > 0);
      assert.ok(Date.now() - started < 1_000);
      assert.equal((await cache.properties())['latchkey.password.lockout.threshold'], 7);
    } finally {
      cache.stop();
    }
  });

  it('closes the listener connection with the storage', async () => {
    const c = await openPostgresStorage({ url: db.url });
    const heard = listen(c);
    await heard.after(0, 3_000);
    const before = await listenerPids(db);
    await c.close();
    await eventually('the listener connection closing', 2_000, async () => (await listenerPids(db)).length === before.length - 1);
    assert.equal(typeof c.changes.subscribe!(() => undefined), 'function', 'subscribing to a closed storage is harmless');
  });
});
