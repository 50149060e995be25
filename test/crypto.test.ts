import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantTimeEqual, hashPassword, hashSecret, mintOpaque, newOpaqueToken, tokenHandle, tokenKey, verifyPassword } from '../src/core/crypto.js';

describe('opaque tokens', () => {
  it('carry a prefix, 12 hex digits of issue time and 43 base64url characters (256 bits)', () => {
    const now = Date.UTC(2026, 10, 28);
    const token = newOpaqueToken('lk_at_', now);
    assert.match(token, /^lk_at_[0-9a-f]{12}[A-Za-z0-9_-]{43}$/);
    assert.equal(parseInt(token.slice(6, 18), 16), now);
  });

  it('are stored under the time part and a SHA-256 of the whole token, the same whether minted or parsed', () => {
    for (let i = 0; i < 200; i++) {
      const { token, key } = mintOpaque('lk_rt_', Date.now());
      assert.equal(tokenKey(token), key);
      assert.equal(key, `${token.slice(6, 18)}.${hashSecret(token)}`);
      assert.ok(!key.includes(token.slice(18)), 'the key holds no part of the secret');
    }
  });

  it('keys sort by issue time, so inserts append to the index', () => {
    const a = mintOpaque('lk_at_', 1_000_000).key;
    const b = mintOpaque('lk_at_', 1_000_001).key;
    assert.ok(a < b);
  });

  it('never repeat', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 10_000; i++) seen.add(newOpaqueToken('lk_at_', 0));
    assert.equal(seen.size, 10_000);
  });

  it('a string that is not one of ours gets a key that no issued token has', () => {
    assert.equal(tokenKey('not-a-token'), hashSecret('not-a-token'));
    assert.ok(!tokenKey('not-a-token').includes('.'));
    assert.equal(tokenHandle(mintOpaque('lk_at_', 5).key).length, 12);
  });
});

describe('comparisons and passwords', () => {
  it('compares in constant time, including different lengths', () => {
    assert.equal(constantTimeEqual('abc', 'abc'), true);
    assert.equal(constantTimeEqual('abc', 'abd'), false);
    assert.equal(constantTimeEqual('abc', 'abcd'), false);
  });

  it('hashes passwords with scrypt and verifies them', async () => {
    const hash = await hashPassword('correct horse');
    assert.match(hash, /^scrypt\$16384\$8\$1\$/);
    assert.equal(await verifyPassword('correct horse', hash), true);
    assert.equal(await verifyPassword('wrong horse', hash), false);
    assert.equal(await verifyPassword('anything', null), false);
    assert.equal(await verifyPassword('x', 'garbage'), false);
  });
});
