import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { AnswerQueue } from '../src/http/raw-token.js';

/** A stand-in for ServerResponse that records what was written to it. */
function fakeResponse(options: { destroyed?: boolean; throws?: boolean } = {}) {
  const written: { status?: number; headers?: string[]; body?: string; destroyed: boolean } = { destroyed: options.destroyed === true };
  const res = {
    get destroyed() {
      return written.destroyed;
    },
    writeHead(status: number, headers: string[]) {
      if (options.throws === true) throw new TypeError('Invalid character in header content');
      written.status = status;
      written.headers = headers;
    },
    end(body: string) {
      written.body = body;
    },
    destroy() {
      written.destroyed = true;
    },
  };
  return { res: res as unknown as ServerResponse, written };
}

describe('the raw path writes the answers of a turn together (AnswerQueue)', () => {
  it('writes nothing before the turn ends, then every answer to its own response, in order', async () => {
    const errors: unknown[] = [];
    const queue = new AnswerQueue((e) => errors.push(e));
    const fakes = Array.from({ length: 5 }, () => fakeResponse());
    fakes.forEach((f, i) => queue.send(f.res, 200, ['x-n', String(i)], `body ${i}`));
    assert.ok(fakes.every((f) => f.written.body === undefined), 'nothing is written in the same turn');
    await turn();
    fakes.forEach((f, i) => assert.deepEqual({ status: f.written.status, headers: f.written.headers, body: f.written.body }, { status: 200, headers: ['x-n', String(i)], body: `body ${i}` }));
    assert.deepEqual(errors, []);
  });

  it('skips a response whose client left, and one that cannot be written does not stop the others', async () => {
    const errors: unknown[] = [];
    const queue = new AnswerQueue((e) => errors.push(e));
    const before = fakeResponse();
    const gone = fakeResponse({ destroyed: true });
    const broken = fakeResponse({ throws: true });
    const afterwards = fakeResponse();
    for (const f of [before, gone, broken, afterwards]) queue.send(f.res, 200, [], 'ok');
    await turn();
    assert.equal(before.written.body, 'ok');
    assert.equal(gone.written.body, undefined);
    assert.equal(broken.written.body, undefined);
    assert.equal(broken.written.destroyed, true, 'the connection of an answer that could not be written is closed');
    assert.equal(afterwards.written.body, 'ok');
    assert.equal(errors.length, 1);
    assert.match(String(errors[0]), /Invalid character/);
  });

  it('takes answers queued during a flush in the next turn', async () => {
    const queue = new AnswerQueue(() => undefined);
    const first = fakeResponse();
    queue.send(first.res, 200, [], 'first');
    await turn();
    const second = fakeResponse();
    queue.send(second.res, 201, [], 'second');
    assert.equal(second.written.body, undefined);
    await turn();
    assert.equal(second.written.status, 201);
  });
});
