/** The device codes (RFC 8628) part of the storage contract (contract.ts runs it for every adapter). */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import type { DeviceAuthorization } from '../../src/domain/model.js';
import { StorageError, type Storage } from '../../src/storage/types.js';

const T0 = 1_700_000_000_000;

export function makeDevice(over: Partial<DeviceAuthorization> = {}): DeviceAuthorization {
  return {
    id: randomUUID(),
    deviceHash: `d-${randomUUID()}`,
    userHash: `u-${randomUUID()}`,
    applicationId: randomUUID(),
    scopes: ['openid', 'read'],
    resources: ['https://api.example.test/'],
    status: 'pending',
    userId: null,
    authTime: null,
    createdAt: T0,
    expiresAt: T0 + 600_000,
    intervalSeconds: 5,
    lastPollAt: null,
    decidedAt: null,
    ...over,
  };
}

export function describeDeviceCodes(get: () => Storage): void {
  describe('device codes', () => {
    it('round trips, refuses a duplicate user code, and finds by user code', async () => {
      const s = get();
      const d = makeDevice();
      await s.deviceCodes.insert(d);
      assert.deepEqual(await s.deviceCodes.byUserHash(d.userHash), d);
      await assert.rejects(s.deviceCodes.insert(makeDevice({ userHash: d.userHash })), (e: unknown) => e instanceof StorageError && e.code === 'conflict');
      assert.equal(await s.deviceCodes.byUserHash('u-none'), undefined);
      const bare = makeDevice({ scopes: [], resources: [] });
      await s.deviceCodes.insert(bare);
      assert.deepEqual(await s.deviceCodes.byUserHash(bare.userHash), bare);
    });

    it('polls: pending, slow_down growing the interval by 5 s, then approved once and consumed', async () => {
      const s = get();
      const d = makeDevice();
      await s.deviceCodes.insert(d);
      assert.equal(await s.deviceCodes.poll('d-none', d.applicationId, T0), undefined);
      assert.equal(await s.deviceCodes.poll(d.deviceHash, 'another-app', T0), undefined, 'another application polls nothing');
      assert.deepEqual(await s.deviceCodes.byDeviceHash(d.deviceHash), d, 'and changes nothing');
      assert.equal((await s.deviceCodes.poll(d.deviceHash, d.applicationId, T0 + 1000))?.outcome, 'pending');
      const fast = await s.deviceCodes.poll(d.deviceHash, d.applicationId, T0 + 2000);
      assert.equal(fast?.outcome, 'slow_down');
      assert.equal(fast?.device.intervalSeconds, 10);
      assert.equal(fast?.device.lastPollAt, T0 + 2000);
      // 10 s after the last poll is soon enough for the new interval.
      assert.equal((await s.deviceCodes.poll(d.deviceHash, d.applicationId, T0 + 12_000))?.outcome, 'pending');
      const approved = await s.deviceCodes.decide(d.userHash, { approve: true, userId: 'user-1', authTime: T0 + 100, at: T0 + 13_000 });
      assert.equal(approved?.status, 'approved');
      assert.equal(approved?.userId, 'user-1');
      assert.equal(approved?.authTime, T0 + 100);
      assert.equal(await s.deviceCodes.decide(d.userHash, { approve: false, userId: 'user-2', authTime: null, at: T0 + 13_001 }), undefined, 'decided once');
      const won = await s.deviceCodes.poll(d.deviceHash, d.applicationId, T0 + 30_000);
      assert.equal(won?.outcome, 'approved');
      assert.equal(won?.device.status, 'consumed');
      assert.deepEqual(won?.device.scopes, d.scopes);
      assert.equal((await s.deviceCodes.poll(d.deviceHash, d.applicationId, T0 + 60_000))?.outcome, 'consumed');
    });

    it('gives approved to exactly one of concurrent polls', async () => {
      const s = get();
      const d = makeDevice();
      await s.deviceCodes.insert(d);
      await s.deviceCodes.decide(d.userHash, { approve: true, userId: 'user-1', authTime: null, at: T0 + 1 });
      const results = await Promise.all(Array.from({ length: 10 }, () => s.deviceCodes.poll(d.deviceHash, d.applicationId, T0 + 10_000)));
      assert.equal(results.filter((r) => r?.outcome === 'approved').length, 1);
      assert.equal(results.filter((r) => r?.outcome === 'consumed').length, 9);
    });

    it('denies (by user code or by id), answers expired, lists pending, deletes expired', async () => {
      const s = get();
      const denied = makeDevice();
      const byAdmin = makeDevice({ createdAt: T0 + 1 });
      const expired = makeDevice({ expiresAt: T0 + 10 });
      for (const d of [denied, byAdmin, expired]) await s.deviceCodes.insert(d);
      assert.deepEqual((await s.deviceCodes.listPending(T0 + 20)).map((d) => d.id), [byAdmin.id, denied.id]);
      assert.equal((await s.deviceCodes.decide(denied.userHash, { approve: false, userId: 'u', authTime: null, at: T0 + 20 }))?.status, 'denied');
      assert.equal((await s.deviceCodes.poll(denied.deviceHash, denied.applicationId, T0 + 30))?.outcome, 'denied');
      assert.equal(await s.deviceCodes.deny(byAdmin.id, T0 + 20), true);
      assert.equal(await s.deviceCodes.deny(byAdmin.id, T0 + 21), false);
      assert.equal((await s.deviceCodes.poll(byAdmin.deviceHash, byAdmin.applicationId, T0 + 30))?.outcome, 'denied');
      assert.equal(await s.deviceCodes.decide(expired.userHash, { approve: true, userId: 'u', authTime: null, at: T0 + 10 }), undefined, 'an expired code cannot be approved');
      assert.equal((await s.deviceCodes.poll(expired.deviceHash, expired.applicationId, T0 + 10))?.outcome, 'expired');
      assert.deepEqual(await s.deviceCodes.listPending(T0 + 20), []);
      assert.equal((await s.deviceCodes.exportAll()).length, 3);
      assert.equal(await s.deviceCodes.deleteExpired(T0 + 11), 1);
      assert.equal(await s.deviceCodes.byUserHash(expired.userHash), undefined);
      assert.equal(await s.deviceCodes.deleteExpired(T0 + 11), 0);
    });
  });
}
