/**
 * Idle keep-alive connections (LATCHKEY_KEEP_ALIVE_TIMEOUT). A proxy in front (nginx's upstream
 * keepalive, AWS ALB: 60 s) keeps idle connections to Latchkey and sends the next request on one of
 * them; if Latchkey closed it meanwhile, the proxy answers 502 and does not retry a POST. So
 * Latchkey keeps an idle connection longer than such proxies do (72 s by default), closes it when
 * told to sooner, and still stops at once on SIGTERM. Through real `latchkey serve` processes and a
 * raw socket, as a proxy holds one.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN, instanceEnv, spawnServer } from './helpers/instances.js';
import { run } from './helpers/processes.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-keep-alive-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

const portOf = (url: string): number => Number(new URL(url).port);

/** A keep-alive connection as a proxy holds one: requests on it one at a time, and when the server closed it. */
class Connection {
  private readonly socket: Socket;
  private buffered = '';
  private waiting: (() => void) | undefined;
  closedAfterMs: number | undefined;
  private readonly opened = Date.now();

  constructor(port: number) {
    this.socket = connect(port, '127.0.0.1');
    this.socket.setEncoding('utf8');
    this.socket.on('data', (d: string) => {
      this.buffered += d;
      this.waiting?.();
    });
    this.socket.on('close', () => {
      this.closedAfterMs ??= Date.now() - this.opened;
      this.waiting?.();
    });
    this.socket.on('error', () => undefined);
  }

  /** Sends GET /healthz and answers the status line of the response (or throws when the connection closed first). */
  async get(): Promise<string> {
    this.buffered = '';
    this.socket.write('GET /healthz HTTP/1.1\r\nHost: latchkey.test\r\n\r\n');
    const deadline = Date.now() + 5_000;
    while (!/\r\n\r\n[\s\S]*\}/.test(this.buffered)) {
      if (this.closedAfterMs !== undefined) throw new Error(`the server closed the connection after ${this.closedAfterMs} ms`);
      if (Date.now() > deadline) throw new Error(`no answer: ${this.buffered}`);
      await new Promise<void>((r) => {
        this.waiting = r;
        setTimeout(r, 100);
      });
    }
    return this.buffered.split('\r\n')[0] ?? '';
  }

  close(): void {
    this.socket.destroy();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('idle keep-alive connections', () => {
  it('by default an idle connection outlives Node\'s 5 s, the next request on it is answered, and SIGTERM still stops at once', { timeout: 60_000 }, async () => {
    const s = await spawnServer('default', join(dir, 'default.db'));
    const c = new Connection(portOf(s.url));
    try {
      assert.equal(await c.get(), 'HTTP/1.1 200 OK');
      // Node's own default closed idle connections after 5 s (and a second of grace): well past that.
      await sleep(7_500);
      assert.equal(c.closedAfterMs, undefined, 'the server closed the idle connection');
      assert.equal(await c.get(), 'HTTP/1.1 200 OK');
      // An idle connection does not hold the drain for the 72 s it would stay open.
      const started = Date.now();
      s.kill('SIGTERM');
      assert.equal((await s.exited).code, 0, s.output());
      assert.ok(Date.now() - started < 10_000, `SIGTERM took ${Date.now() - started} ms with an idle connection open`);
      await sleep(100);
      assert.notEqual(c.closedAfterMs, undefined, 'the idle connection was left open after the server stopped');
    } finally {
      c.close();
      s.kill('SIGKILL');
    }
  });

  it('LATCHKEY_KEEP_ALIVE_TIMEOUT=1: the server closes an idle connection after about a second', { timeout: 60_000 }, async () => {
    const s = await spawnServer('short', join(dir, 'short.db'), { LATCHKEY_KEEP_ALIVE_TIMEOUT: '1' });
    const c = new Connection(portOf(s.url));
    try {
      const asked = Date.now();
      assert.equal(await c.get(), 'HTTP/1.1 200 OK');
      const answeredAfter = Date.now() - asked;
      await sleep(3_500);
      assert.notEqual(c.closedAfterMs, undefined, 'the idle connection is still open after 3.5 s');
      assert.ok((c.closedAfterMs ?? 0) >= 1_000 + answeredAfter - 50, `closed after ${c.closedAfterMs} ms, before the second had passed`);
    } finally {
      c.close();
      await s.stop();
    }
  });

  it('a value that is not a whole number of seconds from 1 to 3600 stops serve with a message naming the setting', { timeout: 30_000 }, async () => {
    for (const bad of ['0', 'ten', '3601']) {
      const db = join(dir, 'bad.db');
      const r = await run(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--db', db], { env: instanceEnv(db, { LATCHKEY_KEEP_ALIVE_TIMEOUT: bad }), timeoutMs: 20_000 });
      const out = r.stdout + r.stderr;
      assert.notEqual(r.code, 0, out);
      assert.match(out, new RegExp(`LATCHKEY_KEEP_ALIVE_TIMEOUT, seconds\\) must be a whole number from 1 to 3600 \\(got "${bad}"\\)`), out);
    }
  });
});
