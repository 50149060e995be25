import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { constantTimeEqual, handleIn, handleKeyPrefixes, hashPassword, hashSecret, mintOpaque, newOpaqueToken, tokenHandle, tokenHint, tokenKey, verifyPassword } from '../src/core/crypto.js';

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
  });
});

describe('token handles', () => {
  it('are tk_ and the first 22 characters of the stored key without its dot: a prefix of it, never the token', () => {
    const { token, key } = mintOpaque('lk_at_', Date.UTC(2026, 0, 1));
    const handle = tokenHandle(key);
    assert.equal(handle, `tk_${key.slice(0, 12)}${key.slice(13, 23)}`);
    assert.match(handle, /^tk_[0-9a-f]{12}[\w-]{10}$/);
    assert.ok(!handle.includes(token.slice(6)) && !token.includes(handle.slice(3)), 'nothing of the token itself');
    assert.equal(tokenHandle(tokenKey(token)), handle);
    // A bare hash (a token stored by an older version) keeps its first 22 characters.
    assert.equal(tokenHandle(hashSecret('x')), `tk_${hashSecret('x').slice(0, 22)}`);
  });

  it('map back to the key prefixes a lookup uses, whole or started, and nothing else', () => {
    const { key } = mintOpaque('lk_rt_', 1_700_000_000_000);
    const handle = tokenHandle(key);
    assert.deepEqual(handleKeyPrefixes(handle), [key.slice(0, 23), handle.slice(3)]);
    assert.ok(key.startsWith(handleKeyPrefixes(handle)[0] ?? '-'));
    assert.deepEqual(handleKeyPrefixes(handle.slice(0, 10)), [handle.slice(3, 10)]);
    for (const bad of ['tk_', 'tk_abc', 'tk_ab$d', `${handle}x`, 'lk_at_abcd', 'abcd']) assert.deepEqual(handleKeyPrefixes(bad), [], bad);
  });

  it('are found in a refusal hint', () => {
    const handle = tokenHandle(mintOpaque('lk_at_', 5).key);
    assert.equal(handleIn(tokenHint(mintOpaque('lk_at_', 5).key, 'Detail.'))?.length, handle.length);
    assert.equal(handleIn(`Token ${handle}. It belongs to another application.`), handle);
    assert.equal(handleIn('No token here, tk_short.'), undefined);
    assert.equal(handleIn(null), undefined);
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
