/**
 * The usage counter (src/audit/usage.ts) on its own: per client and UTC day, the scope strings of
 * tokens split at flush, the scope that admitted a call, refusals of registered clients only, a day
 * boundary, and a failing store keeping its rows for the next flush.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { UsageCounter } from '../src/audit/usage.js';
import { ManualClock } from '../src/core/clock.js';
import type { UsageRow } from '../src/domain/model.js';
import { createMemoryStorage } from '../src/storage/memory/adapter.js';

const DAY = 86_400_000;
const D0 = 20_000 * DAY;

it('counts tokens, calls and refusals per client and day; splits scope strings; the admitting scope; registered clients only', async () => {
  const storage = createMemoryStorage();
  const clock = new ManualClock(D0 + DAY - 1000);
  const counter = new UsageCounter({ store: storage.usage, clock, known: (id) => id !== 'stranger', allAccessScope: 'useraccount' });
  counter.tokenIssued('a', 'orders.read orders.write');
  counter.tokenIssued('a', 'orders.read');
  counter.tokenIssued('a', undefined);
  counter.apiCall('a', ['orders.write', 'orders.read'], ['orders.read', 'orders.write']);
  counter.apiCall('a', ['orders.admin'], ['useraccount']);
  counter.apiCall('a', [], ['orders.read']);
  counter.refused('a');
  counter.refused('stranger');
  counter.refused(null);
  clock.advance(2000); // the next UTC day
  counter.apiCall('b', ['x'], ['x']);
  await counter.flush();
  const rows = await storage.usage.list({ since: 0 });
  const at = D0 + DAY - 1000;
  assert.deepEqual(rows, [
    { clientId: 'a', day: D0, scope: '', tokens: 3, calls: 3, refusals: 1, lastUseAt: at },
    { clientId: 'a', day: D0, scope: 'orders.read', tokens: 2, calls: 0, refusals: 0, lastUseAt: at },
    { clientId: 'a', day: D0, scope: 'orders.write', tokens: 1, calls: 1, refusals: 0, lastUseAt: at },
    { clientId: 'a', day: D0, scope: 'useraccount', tokens: 0, calls: 1, refusals: 0, lastUseAt: at },
    { clientId: 'b', day: D0 + DAY, scope: '', tokens: 0, calls: 1, refusals: 0, lastUseAt: at + 2000 },
    { clientId: 'b', day: D0 + DAY, scope: 'x', tokens: 0, calls: 1, refusals: 0, lastUseAt: at + 2000 },
  ] satisfies UsageRow[]);
  // A second flush adds (nothing pending: nothing written), and new counts add to the stored ones.
  await counter.flush();
  counter.refused('b');
  await counter.stop();
  assert.equal((await storage.usage.list({ since: D0 + DAY, clientId: 'b' }))[0]?.refusals, 1);
});

it('a failing store keeps its rows for the next flush, and never throws into a request', async () => {
  const storage = createMemoryStorage();
  const clock = new ManualClock(D0);
  let fail = true;
  const store = { ...storage.usage, add: async (rows: readonly UsageRow[]) => (fail ? Promise.reject(new Error('disk full')) : storage.usage.add(rows)) };
  const counter = new UsageCounter({ store, clock });
  counter.tokenIssued('a', 's');
  await counter.flush();
  assert.deepEqual(await storage.usage.list({ since: 0 }), []);
  counter.tokenIssued('a', 's');
  fail = false;
  await counter.flush();
  assert.deepEqual((await storage.usage.list({ since: 0 })).map((r) => [r.scope, r.tokens]), [['', 2], ['s', 2]]);
});
