import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { apiCall, BAD_APIS, challengeParams, resultOf, ROOT, type ApiReply } from './helpers/api.js';
import { tokenRequest } from './helpers/oauth.js';
import { run, waitForOutput } from './helpers/processes.js';
import { freePort } from './helpers/ports.js';

const BIN = join(ROOT, 'bin', 'latchkey.js');
const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
/** The promise: a change made with the CLI is in force on the APIs within one second. */
const WITHIN_MS = 1000;

function baseEnv(dir: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LATCHKEY_DB: join(dir, 'latchkey.db'), LATCHKEY_ADMIN_PASSWORD: 'live-changes-admin-pw', LATCHKEY_LOG_LEVEL: 'info' };
  for (const k of ['LATCHKEY_PORT', 'LATCHKEY_HOST', 'LATCHKEY_BODY_LIMIT', 'LATCHKEY_APIS']) delete env[k];
  return env;
}

/** Calls `fn` every `stepMs` until `done` holds; returns the last value and when it was seen. */
async function pollUntil<T>(fn: () => Promise<T>, done: (v: T) => boolean, timeoutMs = 5000, stepMs = 10): Promise<{ value: T; at: number }> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    const at = performance.now();
    if (done(value) || at >= deadline) return { value, at };
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

describe('registry changes made with the real CLI reach a running `latchkey serve` within a second', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let server: ChildProcess;
  let serverOut = '';
  let url = '';
  let app: { clientId: string; clientSecret: string };
  const timings: Record<string, number> = {};

  async function cli(args: readonly string[]) {
    const r = await run(process.execPath, [BIN, ...args], { env, cwd: ROOT });
    assert.equal(r.code, 0, `latchkey ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r;
  }

  async function ccToken(scope?: string): Promise<string> {
    const r = await tokenRequest(url, { form: { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) }, basic: [app.clientId, app.clientSecret] });
    assert.equal(r.status, 200, r.text);
    return String(r.json?.access_token);
  }

  /**
   * Runs a CLI command and measures from the moment the CLI process has exited (its change is
   * committed) to the first API answer with `status`.
   */
  async function changeAndMeasure(label: string, args: readonly string[], call: () => Promise<ApiReply>, status: number): Promise<ApiReply> {
    assert.equal((await call()).status, 200, `${label}: the call must succeed before the change`);
    await cli(args);
    const exited = performance.now();
    const { value, at } = await pollUntil(call, (r) => r.status === status);
    const ms = Math.round(at - exited);
    timings[label] = ms;
    assert.equal(value.status, status, `${label}: still ${value.status} ${value.text} after ${ms} ms`);
    assert.ok(ms < WITHIN_MS, `${label}: took ${ms} ms after the CLI exited`);
    return value;
  }

  async function explainReason(requestId: string): Promise<string> {
    const r = await cli(['explain', requestId, '--json']);
    return (JSON.parse(r.stdout) as { reason: string }).reason;
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-live-'));
    env = baseEnv(dir);
    server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--apis', 'test/fixtures/apis'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout?.on('data', (d: Buffer) => void (serverOut += d.toString()));
    server.stderr?.on('data', (d: Buffer) => void (serverOut += d.toString()));
    const m = await waitForOutput(server, /"address":"(http:\/\/127\.0\.0\.1:\d+)"/);
    url = m[1] ?? '';
    assert.match(serverOut, /"apis":\[[^\]]*"acme\/orders"[^\]]*\]/);
    await cli(['scopes', 'create', 'orders.read']);
    await cli(['scopes', 'create', 'orders.write']);
    await cli(['users', 'create', 'svc-live', '--roles', 'itil']);
    const created = JSON.parse((await cli(['apps', 'create', '--name', 'Live changes', '--grants', 'client_credentials', '--app-user', 'svc-live', '--scopes', 'orders.read,orders.write', '--json'])).stdout) as { clientId: string; clientSecret: string };
    app = { clientId: created.clientId, clientSecret: created.clientSecret };
    await cli(['properties', 'set', CC, 'true']);
    // The server sees the property within its poll interval.
    const first = await pollUntil(
      () => tokenRequest(url, { form: { grant_type: 'client_credentials' }, basic: [app.clientId, app.clientSecret] }),
      (r) => r.status === 200,
    );
    assert.equal(first.value.status, 200, first.value.text);
  });

  after(async () => {
    if (server.exitCode === null && server.signalCode === null) {
      const exited = new Promise((resolve) => server.once('exit', resolve));
      server.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
    console.log(`# live changes: ms from CLI exit to refusal ${JSON.stringify(timings)}`);
  });

  it('serves the fixture APIs to a client-credentials token', async () => {
    const t = await ccToken();
    const r = resultOf(await apiCall(url, { path: '/api/test/echo', bearer: t }));
    assert.equal(r.caller.user.name, 'svc-live');
    assert.deepEqual(r.caller.application, { clientId: app.clientId, name: 'Live changes' });
    assert.deepEqual(resultOf(await apiCall(url, { path: '/api/acme/v1/orders/5', bearer: t })).id, '5');
  });

  it('`latchkey tokens revoke <token>`: the next API call is 401 invalid_token', async () => {
    const t = await ccToken();
    const untouched = await ccToken();
    const call = () => apiCall(url, { path: '/api/test/echo', bearer: t });
    const r = await changeAndMeasure('tokens revoke', ['tokens', 'revoke', t], call, 401);
    assert.equal(challengeParams(r.headers.get('www-authenticate')).params.error, 'invalid_token');
    assert.equal(r.json.error.detail, `reason token.revoked; request id ${r.requestId}`);
    assert.equal(await explainReason(r.requestId), 'token.revoked');
    // Only that token.
    resultOf(await apiCall(url, { path: '/api/test/echo', bearer: untouched }));
  });

  it('`latchkey users update <app user> --active false`: its tokens revoked, 401; on --active true new tokens work, the old stay revoked', async () => {
    const t = await ccToken();
    const call = () => apiCall(url, { path: '/api/test/echo', bearer: t });
    const r = await changeAndMeasure('users update --active false', ['users', 'update', 'svc-live', '--active', 'false'], call, 401);
    assert.equal(challengeParams(r.headers.get('www-authenticate')).params.error, 'invalid_token');
    assert.equal(r.json.error.detail, `reason token.revoked; request id ${r.requestId}`);
    assert.equal(await explainReason(r.requestId), 'token.revoked');
    await cli(['users', 'update', 'svc-live', '--active', 'true']);
    const exited = performance.now();
    const issue = () => tokenRequest(url, { form: { grant_type: 'client_credentials' }, basic: [app.clientId, app.clientSecret] });
    const back = await pollUntil(issue, (x) => x.status === 200);
    assert.equal(back.value.status, 200, back.value.text);
    timings['users update --active true (tokens issued again)'] = Math.round(back.at - exited);
    assert.ok(back.at - exited < WITHIN_MS);
    assert.equal((await call()).status, 401, 'the token revoked by the deactivation stays revoked');
  });

  it('`latchkey apps update <id> --scopes …` without the API scope: 403 insufficient_scope on a scope-protected API', async () => {
    const t = await ccToken('orders.read');
    const call = () => apiCall(url, { path: '/api/acme/orders/5', bearer: t });
    const r = await changeAndMeasure('apps update --scopes', ['apps', 'update', app.clientId, '--scopes', 'orders.write'], call, 403);
    const ch = challengeParams(r.headers.get('www-authenticate'));
    assert.equal(ch.params.error, 'insufficient_scope');
    assert.equal(ch.params.scope, 'orders.read');
    assert.equal(r.json.error.detail, `reason api.scope_missing; request id ${r.requestId}`);
    assert.equal(await explainReason(r.requestId), 'api.scope_missing');
    // An API without a scope requirement still serves the token, with no scopes in effect.
    assert.deepEqual(resultOf(await apiCall(url, { path: '/api/test/echo', bearer: t })).caller.scopes, []);
    // Giving the scope back restores the token (effective scopes are computed on each call).
    await cli(['apps', 'update', app.clientId, '--scopes', 'orders.read,orders.write']);
    const back = await pollUntil(call, (x) => x.status === 200);
    assert.equal(back.value.status, 200, back.value.text);
  });

  it('`latchkey apps update <id> --active false`: 401 invalid_token', async () => {
    const t = await ccToken();
    const r = await changeAndMeasure('apps update --active false', ['apps', 'update', app.clientId, '--active', 'false'], () => apiCall(url, { path: '/api/test/echo', bearer: t }), 401);
    assert.equal(r.json.error.detail, `reason token.application_inactive; request id ${r.requestId}`);
  });
});

/** Expected complaint for each folder of test/fixtures/bad-apis: the file and the problem. */
const BROKEN: Record<string, { file: string; problem: RegExp }> = {
  'duplicate-api': { file: 'b.mjs', problem: /API bad\/twice is also defined in test\/fixtures\/bad-apis\/duplicate-api\/a\.mjs/ },
  'duplicate-route': { file: 'clash.mjs', problem: /duplicate route: GET \/\{code\} and GET \/\{id\} match the same paths/ },
  'invalid-template': { file: 'template.mjs', problem: /path template "\/items\/\{bad-name\}" has an invalid segment "\{bad-name\}"/ },
  'missing-slash': { file: 'noslash.mjs', problem: /path template "items" must start with "\/"/ },
  'throws-on-import': { file: 'explodes.mjs', problem: /could not load the module: FIXTURE: REPORTS_DB_URL is not set/ },
  'unknown-setting': { file: 'typo.ts', problem: /unknown setting "securty"/ },
};

/** Resolves true when a TCP connection to the port succeeds, false when it is refused. */
function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    socket.setTimeout(500);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

describe('`latchkey serve --apis <broken folder>` refuses to start', () => {
  it('covers every folder of test/fixtures/bad-apis', () => {
    const folders = readdirSync(BAD_APIS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort();
    assert.deepEqual(folders, Object.keys(BROKEN).sort());
  });

  for (const [folder, expected] of Object.entries(BROKEN)) {
    it(`${folder}: exits non-zero quickly, names ${expected.file} and the problem, never opens the port`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'latchkey-bad-apis-'));
      try {
        const env = baseEnv(dir);
        const port = await freePort();
        const started = performance.now();
        const child = spawn(process.execPath, [BIN, 'serve', '--port', String(port), '--apis', `test/fixtures/bad-apis/${folder}`], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => void (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => void (stderr += d.toString()));
        const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
        // Probe the port for as long as the process lives: it must never accept a connection.
        let running = true;
        let probes = 0;
        let accepted = false;
        const prober = (async () => {
          while (running) {
            if (await canConnect(port)) accepted = true;
            probes++;
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
        const result = await exit;
        clearTimeout(timer);
        const elapsed = performance.now() - started;
        running = false;
        await prober;
        assert.equal(result.signal, null, `killed after ${Math.round(elapsed)} ms: it did not exit by itself. stderr: ${stderr}`);
        assert.notEqual(result.code, 0, `exit code 0; stderr: ${stderr}`);
        assert.ok(elapsed < 10_000, `took ${Math.round(elapsed)} ms to give up`);
        const path = `test/fixtures/bad-apis/${folder}/${expected.file}`;
        assert.ok(stderr.includes(path), `stderr does not name ${path}: ${stderr}`);
        assert.match(stderr, expected.problem);
        assert.match(stderr, /cannot start/);
        assert.doesNotMatch(stderr, /\n\s+at /, 'a stack trace instead of a message');
        assert.doesNotMatch(stdout, /latchkey started|"address"/);
        assert.ok(probes > 0, 'the port was never probed');
        assert.equal(accepted, false, `port ${port} accepted a connection`);
        assert.equal(await canConnect(port), false);
        // APIs are loaded before anything else: not even the database was created.
        assert.equal(existsSync(join(dir, 'latchkey.db')), false, 'the database was created before the APIs were checked');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
