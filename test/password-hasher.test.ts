/** The units behind the lockout: the bounded hasher (core/password-hashing.ts) and how sources are counted (registry/lockout.ts). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PasswordHasher, PasswordHashingBusy } from '../src/core/password-hashing.js';
import { lockoutLimits, pairLockedUntil, sourceOf } from '../src/registry/lockout.js';
import { resolveProperties } from '../src/registry/properties.js';

describe('sourceOf', () => {
  it('counts an IPv6 address by its /64 and an IPv4-mapped address as IPv4', () => {
    assert.equal(sourceOf('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
    assert.equal(sourceOf('2001:db8:1:2::1'), '2001:db8:1:2::/64');
    assert.equal(sourceOf('2001:0db8:0000:0002::ffff'), '2001:db8:0:2::/64');
    assert.equal(sourceOf('::1'), '0:0:0:0::/64');
    assert.equal(sourceOf('fe80::1%eth0'), 'fe80:0:0:0::/64');
    assert.equal(sourceOf('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(sourceOf('192.0.2.7'), '192.0.2.7');
    assert.equal(sourceOf(''), 'unknown');
  });

});

describe('pairLockedUntil', () => {
  it('waits 1 s at the threshold, doubling, never beyond the window or the end of the counting window', () => {
    const limits = lockoutLimits(resolveProperties([]));
    const at = (failures: number, lastAt = 10_000_000, windowStart = lastAt) => pairLockedUntil({ kind: 'pair', userName: 'u', source: 's', failures, windowStart, lastAt, expiresAt: lastAt + 900_000 }, limits) - lastAt;
    assert.deepEqual([4, 5, 6, 7, 8].map((f) => at(f)), [-10_000_000, 1_000, 2_000, 4_000, 8_000]);
    assert.equal(at(40), 900_000);
    assert.equal(at(20, 10_000_000, 10_000_000 - 800_000), 100_000, 'the count ends with its window');
  });
});

describe('PasswordHasher', () => {
  it('runs at most `concurrency` hashes, queues up to maxQueue, refuses the rest, and hashes for the registry without refusing', async () => {
    const hasher = new PasswordHasher({ concurrency: 1, maxQueue: 1 });
    const stored = await hasher.hash('right-password');
    const first = hasher.verify('right-password', stored);
    const second = hasher.verify('wrong-password', stored);
    assert.deepEqual(hasher.load(), { running: 1, queued: 1 });
    await assert.rejects(hasher.verify('x', stored), (e: unknown) => e instanceof PasswordHashingBusy && e.retryAfterSeconds >= 1);
    // New passwords wait their turn but are never refused.
    const third = hasher.hash('another-password');
    assert.deepEqual([await first, await second], [true, false]);
    assert.match(await third, /^scrypt\$/);
    assert.deepEqual(hasher.load(), { running: 0, queued: 0 });
    assert.ok(hasher.typicalMs() > 0);
    // An unknown user (no stored hash) goes through the same queue.
    assert.equal(await hasher.verify('anything', null), false);
  });
});
