import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SigningTurn } from '../src/tokens/signing-turn.js';

describe('signatures made once per event-loop turn', () => {
  it('signs every token asked for in one turn together, in order, each caller getting its own', async () => {
    const turn = new SigningTurn();
    const calls: string[] = [];
    const sign = (claims: Readonly<Record<string, unknown>>): string => {
      calls.push(String(claims.jti));
      return `signed:${String(claims.jti)}`;
    };
    const pending = ['a', 'b', 'c', 'd'].map((jti) => turn.sign(sign, { jti }));
    assert.deepEqual(calls, [], 'nothing is signed before the turn ends');
    assert.deepEqual(await Promise.all(pending), ['signed:a', 'signed:b', 'signed:c', 'signed:d']);
    assert.deepEqual(calls, ['a', 'b', 'c', 'd']);
    assert.equal(turn.bursts, 1);
    assert.equal(turn.signed, 4);
    // The next turn is a new burst.
    assert.equal(await turn.sign(sign, { jti: 'e' }), 'signed:e');
    assert.equal(turn.bursts, 2);
  });

  it('a signer that throws fails only its own token', async () => {
    const turn = new SigningTurn();
    const sign = (claims: Readonly<Record<string, unknown>>): string => {
      if (claims.jti === 'bad') throw new Error('key gone');
      return `signed:${String(claims.jti)}`;
    };
    const results = await Promise.allSettled(['x', 'bad', 'y'].map((jti) => turn.sign(sign, { jti })));
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.equal((results[1] as PromiseRejectedResult).reason.message, 'key gone');
    assert.equal((results[2] as PromiseFulfilledResult<string>).value, 'signed:y');
  });

  it('a request alone waits for no one: its token is signed as soon as its turn ends', async () => {
    const turn = new SigningTurn();
    const started = process.hrtime.bigint();
    await turn.sign(() => 't', {});
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    assert.ok(ms < 1000, `took ${ms} ms`);
    assert.equal(turn.bursts, 1);
  });
});
