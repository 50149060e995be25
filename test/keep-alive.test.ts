/**
 * Idle keep-alive connections (LATCHKEY_KEEP_ALIVE_TIMEOUT). A proxy in front (nginx's upstream
 * keepalive, AWS ALB: 60 s) keeps idle connections to Latchkey and sends the next request on one of
 * them; if Latchkey closed it meanwhile, the proxy answers 502 and does not retry a POST. So
 * Latchkey keeps an idle connection longer than such proxies do (72 s by default), closes it when
 * told to sooner, and still stops at once on SIGTERM. Through real `latchkey serve` processes and a
 * raw socket, as a proxy holds one.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { BIN } from './helpers/instances.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-keep-alive-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function env(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LATCHKEY_')) out[k] = v;
  return { ...out, LATCHKEY_ADMIN_PASSWORD: 'keep-alive-admin-password', LATCHKEY_KEY_ENCRYPTION_KEY: 'keep-alive-key-encryption-key-0123456789', LATCHKEY_LOG_FORMAT: 'json', ...extra };
}

interface Served {
  readonly port: number;
  readonly child: ChildProcess;
  readonly exited: Promise<number | null>;
  output(): string;
}

async function serve(name: string, extra: NodeJS.ProcessEnv): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--db', join(dir, `${name}.db`)], { env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => void (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => void (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 20_000;
  let m: RegExpExecArray | null = null;
  while ((m = /"address":"http:\/\/127\.0\.0\.1:(\d+)"/.exec(out)) === null) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`serve did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port: Number(m[1]), child, exited, output: () => out };
}

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
    const s = await serve('default', {});
    const c = new Connection(s.port);
    try {
      assert.equal(await c.get(), 'HTTP/1.1 200 OK');
      // Node's own default closed idle connections after 5 s (and a second of grace): well past that.
      await sleep(7_500);
      assert.equal(c.closedAfterMs, undefined, 'the server closed the idle connection');
      assert.equal(await c.get(), 'HTTP/1.1 200 OK');
      // An idle connection does not hold the drain for the 72 s it would stay open.
      const started = Date.now();
      s.child.kill('SIGTERM');
      assert.equal(await s.exited, 0, s.output());
      assert.ok(Date.now() - started < 10_000, `SIGTERM took ${Date.now() - started} ms with an idle connection open`);
      await sleep(100);
      assert.notEqual(c.closedAfterMs, undefined, 'the idle connection was left open after the server stopped');
    } finally {
      c.close();
      s.child.kill('SIGKILL');
    }
  });

  it('LATCHKEY_KEEP_ALIVE_TIMEOUT=1: the server closes an idle connection after about a second', { timeout: 60_000 }, async () => {
    const s = await serve('short', { LATCHKEY_KEEP_ALIVE_TIMEOUT: '1' });
    const c = new Connection(s.port);
    try {
      const asked = Date.now();
      assert.equal(await c.get(), 'HTTP/1.1 200 OK');
      const answeredAfter = Date.now() - asked;
      await sleep(3_500);
      assert.notEqual(c.closedAfterMs, undefined, 'the idle connection is still open after 3.5 s');
      assert.ok((c.closedAfterMs ?? 0) >= 1_000 + answeredAfter - 50, `closed after ${c.closedAfterMs} ms, before the second had passed`);
    } finally {
      c.close();
      s.child.kill('SIGTERM');
      await s.exited;
    }
  });

  it('a value that is not a whole number of seconds from 1 to 3600 stops serve with a message naming the setting', { timeout: 30_000 }, async () => {
    for (const bad of ['0', 'ten', '3601']) {
      const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--db', join(dir, 'bad.db')], { env: env({ LATCHKEY_KEEP_ALIVE_TIMEOUT: bad }), stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout?.on('data', (d: Buffer) => void (out += d.toString()));
      child.stderr?.on('data', (d: Buffer) => void (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      assert.notEqual(code, 0, out);
      assert.match(out, new RegExp(`LATCHKEY_KEEP_ALIVE_TIMEOUT, seconds\\) must be a whole number from 1 to 3600 \\(got "${bad}"\\)`), out);
    }
  });
});
