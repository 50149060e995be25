/**
 * The server's logs (issue 13, item 8): levels as names and ISO 8601 UTC times in JSON lines, an
 * access log line per request with LATCHKEY_ACCESS_LOG (the request id the client got; no query
 * string, no credential), readable lines on a terminal. Through real `latchkey serve` processes.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { prettyLine } from '../src/cli/log.js';
import { BIN } from './helpers/instances.js';
import { tokenRequest } from './helpers/oauth.js';
import { run } from './helpers/processes.js';

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const ADMIN_PW = 'logging-admin-password';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-logging-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function env(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LATCHKEY_')) out[k] = v;
  return { ...out, LATCHKEY_ADMIN_PASSWORD: ADMIN_PW, LATCHKEY_KEY_ENCRYPTION_KEY: 'logging-key-encryption-key-0123456789ab', ...extra };
}

interface Served {
  readonly url: string;
  output(): string;
  stop(): Promise<void>;
}

async function serve(name: string, extra: NodeJS.ProcessEnv, address: RegExp): Promise<Served> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--host', '127.0.0.1', '--db', join(dir, `${name}.db`)], { env: env(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => void (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => void (out += d.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const deadline = Date.now() + 20_000;
  let m: RegExpExecArray | null = null;
  while ((m = address.exec(out)) === null) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill('SIGKILL');
      throw new Error(`serve did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: m[1] as string,
    output: () => out,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The JSON lines of the output (the banner on stderr is text). */
const jsonLines = (out: string) => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);

describe('JSON logs with LATCHKEY_ACCESS_LOG=true', () => {
  let s: Served;
  const ids: { requestId: string; status: number; path: string; method: string }[] = [];
  const secret = 'lk_cs_never-in-a-log-line-0123456789';

  before(async () => {
    s = await serve('access', { LATCHKEY_ACCESS_LOG: 'true' }, /"address":"(http:\/\/127\.0\.0\.1:\d+)"/);
    const note = (r: { status: number; headers: Headers }, method: string, path: string) => ids.push({ requestId: r.headers.get('x-request-id') ?? '', status: r.status, method, path });
    // The token endpoint's fast path, with a credential in the Authorization header and in the query.
    const token = await tokenRequest(s.url, { path: `/oauth_token.do?client_secret=${secret}`, form: { grant_type: 'client_credentials' }, basic: ['some-client', secret] });
    note(token, 'POST', '/oauth_token.do');
    const basic = await tokenRequest(s.url, { form: { grant_type: 'client_credentials' }, basic: ['some-client', secret] });
    note(basic, 'POST', '/oauth_token.do');
    // Fastify's routes: health, an API with a bearer token, the admin API.
    note(await fetch(`${s.url}/healthz`), 'GET', '/healthz');
    note(await fetch(`${s.url}/api/now/v1/whoami?access_token=${secret}`, { headers: { authorization: `Bearer ${secret}` } }), 'GET', '/api/now/v1/whoami');
    note(await fetch(`${s.url}/admin/api/v1/users`, { headers: { authorization: `Bearer ${secret}`, cookie: `latchkey_console=${secret}` } }), 'GET', '/admin/api/v1/users');
    // The lines are written when each response ends.
    await new Promise((r) => setTimeout(r, 300));
  });
  after(async () => s.stop());

  it('every line: the level as a name, the time as ISO 8601 UTC', () => {
    const lines = jsonLines(s.output());
    assert.ok(lines.length >= ids.length + 1, s.output());
    for (const l of lines) {
      assert.ok(['trace', 'debug', 'info', 'warn', 'error', 'fatal'].includes(String(l.level)), JSON.stringify(l));
      assert.match(String(l.time), ISO);
    }
    assert.ok(lines.some((l) => l.msg === 'latchkey started' && l.level === 'info'));
  });

  it('one access line per request, with the request id the client got, method, path without the query, status and duration', () => {
    const access = jsonLines(s.output()).filter((l) => l.msg === 'request');
    assert.equal(access.length, ids.length, s.output());
    for (const want of ids) {
      assert.match(want.requestId, /^[0-9a-f-]{36}$/);
      const line = access.find((l) => l.requestId === want.requestId);
      assert.ok(line !== undefined, `no access line for ${want.method} ${want.path} (${want.requestId})`);
      assert.equal(line.method, want.method);
      assert.equal(line.path, want.path);
      assert.equal(line.status, want.status);
      assert.equal(typeof line.ms, 'number');
      assert.equal(line.remoteAddress, '127.0.0.1');
    }
    // Credentials in a query string are refused (400), unknown ones 401.
    assert.deepEqual(ids.map((i) => i.status), [400, 401, 200, 400, 401]);
  });

  it('no credential reaches the log: not the Authorization header, not a cookie, not the query string', () => {
    assert.ok(!s.output().includes(secret), 'the secret is in the log');
    assert.ok(!s.output().includes(Buffer.from(`some-client:${secret}`).toString('base64')), 'the Basic credentials are in the log');
    assert.doesNotMatch(jsonLines(s.output()).map((l) => JSON.stringify(l)).join('\n'), /authorization|cookie/i);
  });
});

describe('without LATCHKEY_ACCESS_LOG, and with a bad value', () => {
  it('no access lines by default', async () => {
    const s = await serve('quiet', {}, /"address":"(http:\/\/127\.0\.0\.1:\d+)"/);
    try {
      await fetch(`${s.url}/healthz`);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(jsonLines(s.output()).filter((l) => l.msg === 'request').length, 0);
    } finally {
      await s.stop();
    }
  });

  it('refuses to start with a value that is not true or false, naming the variable', async () => {
    const r = await run(process.execPath, [BIN, 'serve', '--port', '0', '--db', join(dir, 'bad.db')], { env: env({ LATCHKEY_ACCESS_LOG: 'maybe' }) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^latchkey: LATCHKEY_ACCESS_LOG must be true or false \(got "maybe"\)/);
    const f = await run(process.execPath, [BIN, 'serve', '--port', '0', '--db', join(dir, 'bad.db')], { env: env({ LATCHKEY_LOG_FORMAT: 'xml' }) });
    assert.equal(f.code, 1);
    assert.match(f.stderr, /LATCHKEY_LOG_FORMAT must be json or pretty/);
  });
});

describe('pretty logs', () => {
  it('LATCHKEY_LOG_FORMAT=pretty: a readable line a record: time, level, message, fields', async () => {
    const s = await serve('pretty', { LATCHKEY_LOG_FORMAT: 'pretty', LATCHKEY_ACCESS_LOG: 'true' }, /latchkey started address=(http:\/\/127\.0\.0\.1:\d+)/);
    try {
      await fetch(`${s.url}/healthz`);
      await new Promise((r) => setTimeout(r, 200));
      const out = s.output();
      assert.match(out, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}latchkey started address=http:\/\/127\.0\.0\.1:\d+ /m);
      assert.match(out, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}request requestId=[0-9a-f-]{36} method=GET path=\/healthz status=200 ms=[\d.]+ /m);
      assert.doesNotMatch(out, /^\{/m, 'no JSON line');
    } finally {
      await s.stop();
    }
  });

  it('on a terminal by themselves (script(1) gives serve a terminal), coloured', async () => {
    const cmd = `${process.execPath} ${BIN} serve --port 0 --host 127.0.0.1 --db ${join(dir, 'tty.db')} & pid=$!; sleep 6; kill -TERM $pid; wait $pid`;
    const r = await run('script', ['-qec', cmd, '/dev/null'], { env: env({}), timeoutMs: 30_000 });
    const out = r.stdout.replace(/\r/g, '');
    assert.match(out, /^\d\d:\d\d:\d\d\.\d{3} \x1b\[32mINFO \x1b\[0m latchkey started address=/m, out);
    assert.doesNotMatch(out, /^\{"level"/m);
  });

  it('write what a client sent with its control characters escaped, so no escape sequence reaches the terminal', () => {
    const line = prettyLine(JSON.stringify({ level: 'warn', time: '2026-01-31T09:30:00.123Z', msg: 'refused \u001b[2J', userName: 'mallory\u001b]0;owned\u0007', note: 'a b', n: 3 }));
    assert.doesNotMatch(line, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    assert.match(line, /^\d\d:\d\d:\d\d\.123 WARN {2}refused \\u001b\[2J userName="mallory\\u001b\]0;owned\\u0007" note="a b" n=3\n$/);
  });
});
