import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { REASONS } from '../src/errors/reasons.js';
import { curl, eventually, run, waitForOutput, type CurlResult } from './helpers/processes.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'latchkey.js');
const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const ADMIN_PW = 'quickstart-admin-password';
const ALICE_PW = 'alice-Pa55word-quickstart';

describe('quick start with the real CLI binary and curl', () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let server: ChildProcess;
  let serverOut = '';
  let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  let url = '';
  /** Everything secret seen on the way: none of it may reach the database file or the server log. */
  const secrets = new Set<string>([ADMIN_PW, ALICE_PW]);
  const refusals: { requestId: string; reason: string }[] = [];
  let export_: { clientId: string; clientSecret: string };
  let portal: { clientId: string; clientSecret: string };

  async function cli(args: readonly string[], input?: string) {
    const r = await run(process.execPath, [BIN, ...args], { env, cwd: ROOT, ...(input === undefined ? {} : { input }) });
    assert.equal(r.code, 0, `latchkey ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
    return r;
  }

  const token = (args: readonly string[]) => curl([...args, `${url}/oauth_token.do`]);
  const cc = () => token(['-u', `${export_.clientId}:${export_.clientSecret}`, '-d', 'grant_type=client_credentials']);
  const describes = (text: string) => (r: CurlResult) => typeof r.json?.error_description === 'string' && r.json.error_description.includes(text);
  const keep = (r: CurlResult) => {
    for (const k of ['access_token', 'refresh_token']) if (typeof r.json?.[k] === 'string') secrets.add(r.json[k] as string);
    return r;
  };

  function assertRefused(r: CurlResult, status: number, error: string): void {
    assert.equal(r.status, status, r.body);
    assert.equal(r.json?.error, error, r.body);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.match(r.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/);
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-quickstart-'));
    env = { ...process.env, LATCHKEY_DB: join(dir, 't.db'), LATCHKEY_ADMIN_PASSWORD: ADMIN_PW, LATCHKEY_LOG_LEVEL: 'info' };
    for (const k of ['LATCHKEY_PORT', 'LATCHKEY_HOST', 'LATCHKEY_BODY_LIMIT']) delete env[k];
    server = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    server.stdout?.on('data', (d: Buffer) => void (serverOut += d.toString()));
    server.stderr?.on('data', (d: Buffer) => void (serverOut += d.toString()));
    exited = new Promise((resolve) => server.on('exit', (code, signal) => resolve({ code, signal })));
    const m = await waitForOutput(server, /"address":"(http:\/\/127\.0\.0\.1:\d+)"/);
    url = m[1] ?? '';
  });

  after(() => {
    if (server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates the service user and the application, which warns that the grant is off', async () => {
    await cli(['users', 'create', 'svc-integration', '--roles', 'itil']);
    const r = await cli(['apps', 'create', '--name', 'Nightly export', '--grants', 'client_credentials', '--app-user', 'svc-integration', '--json']);
    const app = JSON.parse(r.stdout) as { clientId: string; clientSecret: string; warnings: string[]; appUser: string };
    assert.match(app.clientId, /^[0-9a-f]{32}$/);
    assert.match(app.clientSecret, /^lk_cs_/);
    assert.equal(app.appUser, 'svc-integration');
    assert.ok(app.warnings.some((w) => w.includes(CC)), JSON.stringify(app.warnings));
    export_ = { clientId: app.clientId, clientSecret: app.clientSecret };
    secrets.add(app.clientSecret);
  });

  it('refuses client credentials while the instance property is off, naming the property', async () => {
    const r = await cc();
    assertRefused(r, 400, 'unauthorized_client');
    assert.match(String(r.json?.error_description), new RegExp(CC.replace(/\./g, '\\.')));
    refusals.push({ requestId: r.headers['x-request-id'] ?? '', reason: 'grant.client_credentials_disabled' });
  });

  it('issues a token within a second of `properties set`', async () => {
    await cli(['properties', 'set', CC, 'true']);
    const r = keep(await eventually(cc, (x) => x.status === 200));
    assert.equal(r.status, 200, r.body);
  });

  it('says so when the application has no application user', async () => {
    await cli(['apps', 'update', export_.clientId, '--no-app-user']);
    const r = await eventually(cc, describes('no application user'));
    assertRefused(r, 400, 'unauthorized_client');
    assert.equal(r.json?.error_description, 'The application Nightly export has no application user. An administrator must set one (OAuth Application User).');
  });

  it('names an inactive application user', async () => {
    await cli(['users', 'create', 'svc-disabled', '--inactive']);
    await cli(['apps', 'update', export_.clientId, '--app-user', 'svc-disabled']);
    const r = await eventually(cc, describes('svc-disabled'));
    assertRefused(r, 400, 'unauthorized_client');
    assert.equal(r.json?.error_description, 'The application user svc-disabled of Nightly export is inactive. An administrator must activate it.');
  });

  it('issues a Bearer token for 1800 s once the application user is fixed', async () => {
    await cli(['apps', 'update', export_.clientId, '--app-user', 'svc-integration']);
    const r = keep(await eventually(cc, (x) => x.status === 200));
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json?.token_type, 'Bearer');
    assert.equal(r.json?.expires_in, 1800);
    assert.equal(r.json?.refresh_token, undefined);
    assert.equal(r.headers['cache-control'], 'no-store');
    // The quick start ends with a call to the example API, with real curl, as the README shows.
    const api = await curl(['-H', `Authorization: Bearer ${String(r.json?.access_token)}`, `${url}/api/now/v1/whoami`]);
    assert.equal(api.status, 200, api.body);
    const result = (api.json as { result?: { user?: string; roles?: string[]; application?: { name?: string }; authenticated_with?: string } } | undefined)?.result;
    assert.equal(result?.user, 'svc-integration');
    assert.deepEqual(result?.roles, ['itil']);
    assert.equal(result?.application?.name, 'Nightly export');
    assert.equal(result?.authenticated_with, 'bearer');
  });

  it('runs the password grant with refresh rotation and reuse detection', async () => {
    await cli(['users', 'create', 'alice', '--password-stdin'], `${ALICE_PW}\n`);
    const r = await cli(['apps', 'create', '--name', 'Portal', '--grants', 'password', '--json']);
    portal = JSON.parse(r.stdout) as { clientId: string; clientSecret: string };
    secrets.add(portal.clientSecret);
    const auth = ['-u', `${portal.clientId}:${portal.clientSecret}`];
    const first = keep(await eventually(() => token([...auth, '-d', 'grant_type=password', '-d', 'username=alice', '--data-urlencode', `password=${ALICE_PW}`]), (x) => x.status === 200));
    assert.equal(first.status, 200, first.body);
    const rt1 = String(first.json?.refresh_token);
    assert.match(rt1, /^lk_rt_/);
    const second = keep(await token([...auth, '-d', 'grant_type=refresh_token', '-d', `refresh_token=${rt1}`]));
    assert.equal(second.status, 200, second.body);
    const rt2 = String(second.json?.refresh_token);
    assert.notEqual(rt2, rt1);
    assertRefused(await token([...auth, '-d', 'grant_type=refresh_token', '-d', `refresh_token=${rt1}`]), 400, 'invalid_grant');
    assertRefused(await token([...auth, '-d', 'grant_type=refresh_token', '-d', `refresh_token=${rt2}`]), 400, 'invalid_grant');
  });

  it('answers a wrong secret with 401 invalid_client and WWW-Authenticate', async () => {
    const r = await token(['-u', `${export_.clientId}:lk_cs_wrong`, '-d', 'grant_type=client_credentials']);
    assertRefused(r, 401, 'invalid_client');
    assert.equal(r.headers['www-authenticate'], 'Basic realm="latchkey", charset="UTF-8"');
    refusals.push({ requestId: r.headers['x-request-id'] ?? '', reason: 'client_auth.secret_mismatch' });
  });

  it('refuses credentials in the query string with 400', async () => {
    const r = await curl(['-u', `${export_.clientId}:${export_.clientSecret}`, '-d', 'grant_type=client_credentials', `${url}/oauth_token.do?client_secret=${export_.clientSecret}`]);
    assertRefused(r, 400, 'invalid_request');
    assert.match(String(r.json?.error_description), /client_secret was sent in the URL query/);
  });

  it('`latchkey explain <request-id>` prints the reason code and the fix', async () => {
    assert.equal(refusals.length, 2);
    for (const { requestId, reason } of refusals) {
      const r = await cli(['explain', requestId]);
      assert.match(r.stdout, new RegExp(requestId));
      assert.ok(r.stdout.includes(reason), r.stdout);
      const j = JSON.parse((await cli(['explain', requestId, '--json'])).stdout) as { reason: string; fix: string; clientId: string };
      // The fix: the catalogue's, or one written from this case's facts (a wrong secret names when
      // the secret in force was set); the plain record prints the same one, wrapped to the
      // terminal's width (80 columns without a terminal): read it as words.
      const words = (text: string) => text.replace(/\s+/g, ' ').trim();
      assert.ok(j.fix.length > 0);
      if (reason !== 'client_auth.secret_mismatch') assert.equal(j.fix, REASONS[reason as keyof typeof REASONS].fix);
      else assert.match(j.fix, /The secret in force was set at .* by cli:/);
      assert.ok(words(r.stdout).includes(words(j.fix)), r.stdout);
      assert.equal(j.reason, reason);
      assert.equal(j.clientId, export_.clientId);
    }
  });

  it('stops cleanly on SIGTERM and leaves no secret, token or password in the database or the log', async () => {
    assert.ok(server.kill('SIGTERM'));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('server did not stop within 10 s')), 10_000);
    });
    const result = await Promise.race([exited, timeout]).finally(() => clearTimeout(timer));
    assert.deepEqual(result, { code: 0, signal: null }, serverOut.slice(-2000));
    assert.match(serverOut, /"msg":"stopped"/);
    const files = ['t.db', 't.db-wal', 't.db-shm'].map((f) => join(dir, f)).filter((f) => existsSync(f));
    assert.ok(files.length >= 1);
    // The adapter checkpoints on close: nothing may be left in the WAL.
    const wal = join(dir, 't.db-wal');
    if (existsSync(wal)) assert.equal(readFileSync(wal).length, 0, 'WAL not checkpointed on shutdown');
    assert.ok(secrets.size >= 8, `only ${secrets.size} secrets collected`);
    const blobs = [...files.map((f) => ({ name: f, bytes: readFileSync(f) })), { name: 'server log', bytes: Buffer.from(serverOut, 'utf8') }];
    for (const { name, bytes } of blobs) {
      for (const s of secrets) assert.equal(bytes.indexOf(Buffer.from(s, 'utf8')), -1, `${name} contains a secret (${s.slice(0, 8)}…)`);
    }
    // Sanity: the scan can find something that is stored.
    assert.notEqual(readFileSync(join(dir, 't.db')).indexOf(Buffer.from('svc-integration', 'utf8')), -1);
  });
});
