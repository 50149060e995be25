import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigError, loadConfig } from '../src/config/config.js';
import type { Finding } from '../src/diagnostics/doctor.js';
import { resolveKek } from '../src/keys/kek.js';
import { openSqliteStorage } from '../src/storage/sqlite/adapter.js';
import { ADMIN_PASSWORD, adminToken, bearerClient } from './helpers/admin.js';
import { CliDb } from './helpers/diagnostics.js';
import { run, waitForOutput } from './helpers/processes.js';
import { startTestServer } from './helpers/server.js';

/**
 * Files at rest: the SQLite database with its -wal and -shm files, its folder and the
 * key-encryption key file are created owner-only whatever the umask; the doctor (CLI, admin API,
 * console home page) reports a key file beside the database and files others can read; the key
 * can live in a file elsewhere (LATCHKEY_KEY_ENCRYPTION_KEY_FILE), for the server and the CLI alike.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BIN = join(ROOT, 'bin', 'latchkey.js');
const POSIX = process.platform !== 'win32';
const mode = (path: string) => statSync(path).mode & 0o777;
const ids = (findings: readonly Finding[]) => findings.map((f) => f.id);

/** `latchkey doctor --json` through the CLI (exit 1 is fine: a fresh database reports its first admin password). */
async function doctor(cli: CliDb): Promise<Finding[]> {
  const noApis = join(dir, 'no-apis');
  mkdirSync(noApis, { recursive: true });
  const r = await cli.run(['doctor', '--json', '--apis', noApis]);
  assert.ok(r.code === 0 || r.code === 1, r.err);
  return JSON.parse(r.out) as Finding[];
}

let dir: string;
let savedUmask: number;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-files-'));
  process.env.LATCHKEY_ADMIN_PASSWORD = ADMIN_PASSWORD;
  delete process.env.LATCHKEY_KEY_ENCRYPTION_KEY;
  delete process.env.LATCHKEY_KEY_ENCRYPTION_KEY_FILE;
  // A permissive umask (as on systems with per-user groups): what Latchkey creates must still be owner-only.
  savedUmask = process.umask(0o002);
});
after(() => {
  process.umask(savedUmask);
  rmSync(dir, { recursive: true, force: true });
});

/** A fresh environment for spawned commands: no LATCHKEY_* from the test runner. */
function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LATCHKEY_')) env[k] = v;
  return { ...env, LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD, LATCHKEY_LOG_LEVEL: 'info', ...extra };
}

describe('files Latchkey creates are owner-only', { skip: !POSIX && 'POSIX file modes' }, () => {
  it('openSqliteStorage (as `serve` opens it): the database, -wal and -shm 0600 while open, new folders 0700', async () => {
    const db = join(dir, 'serve', 'nested', 'latchkey.db');
    const storage = openSqliteStorage({ path: db, backgroundCheckpoints: {} });
    try {
      await storage.scopes.create({ name: 'files.read', description: '', builtIn: false });
      for (const f of [db, `${db}-wal`, `${db}-shm`]) assert.equal(mode(f), 0o600, f);
      assert.equal(mode(join(dir, 'serve', 'nested')), 0o700);
      assert.equal(mode(join(dir, 'serve')), 0o700);
    } finally {
      await storage.close();
    }
  });

  it('latchkey init and migrate-db --to create their databases 0600; the key file is created 0600 in a 0700 folder', async () => {
    const cli = new CliDb(join(dir, 'cli', 'latchkey.db'));
    await cli.ok(['init']);
    assert.equal(mode(cli.db), 0o600);
    assert.equal(mode(join(dir, 'cli')), 0o700);
    const target = join(dir, 'copy', 'copy.db');
    const copied = await run(process.execPath, [BIN, 'migrate-db', '--from', cli.db, '--to', target], { env: cleanEnv({}) });
    assert.equal(copied.code, 0, copied.stderr);
    assert.equal(mode(target), 0o600);
    assert.equal(mode(join(dir, 'copy')), 0o700);
    const kek = resolveKek(join(dir, 'kek-here', 'x.db'), undefined);
    assert.equal(kek.created, true);
    assert.equal(mode(kek.file ?? ''), 0o600);
    assert.equal(mode(join(dir, 'kek-here')), 0o700);
  });

  it('an existing database keeps its mode (not changed behind the operator’s back) and the doctor reports it with the chmod', async () => {
    const db = join(dir, 'loose', 'latchkey.db');
    mkdirSync(join(dir, 'loose'));
    closeSync(openSync(db, 'w', 0o644));
    chmodSync(db, 0o644);
    const cli = new CliDb(db);
    const findings = await doctor(cli);
    assert.equal(mode(db), 0o644);
    const loose = findings.find((f) => f.id === 'file_permissions_loose');
    assert.ok(loose !== undefined, JSON.stringify(findings));
    assert.equal(loose.severity, 'warning');
    assert.match(loose.detail, /latchkey\.db \(mode 644\)/);
    assert.equal(loose.command, `chmod 600 ${db} ${db}-wal ${db}-shm`);
    chmodSync(db, 0o600);
    assert.ok(!ids(await doctor(cli)).includes('file_permissions_loose'));
  });
});

describe('doctor: the key-encryption key beside the database', { skip: !POSIX && 'POSIX file modes' }, () => {
  it('is reported (CLI) while the key file sits beside the database; not with the key in the environment or in a file elsewhere', async () => {
    const cli = new CliDb(join(dir, 'beside', 'latchkey.db'));
    await cli.ok(['init']);
    assert.ok(!ids(await doctor(cli)).includes('kek_beside_database'), 'no key file yet: nothing to report');
    const kek = resolveKek(cli.db, undefined);
    const beside = (await doctor(cli)).find((f) => f.id === 'kek_beside_database');
    assert.ok(beside !== undefined);
    assert.equal(beside.severity, 'warning');
    assert.equal(beside.target, kek.file);
    assert.match(beside.fix, /LATCHKEY_KEY_ENCRYPTION_KEY\b/);
    assert.match(beside.fix, /LATCHKEY_KEY_ENCRYPTION_KEY_FILE=<key-folder>\/latchkey\.kek/);
    assert.equal(beside.command, `install -d -m 700 <key-folder> && install -m 600 ${kek.file} <key-folder>/latchkey.kek`);

    process.env.LATCHKEY_KEY_ENCRYPTION_KEY = kek.kek;
    try {
      assert.ok(!ids(await doctor(cli)).includes('kek_beside_database'));
    } finally {
      delete process.env.LATCHKEY_KEY_ENCRYPTION_KEY;
    }
    const elsewhere = join(dir, 'secrets', 'latchkey.kek');
    mkdirSync(join(dir, 'secrets'), { mode: 0o700 });
    writeFileSync(elsewhere, `${kek.kek}\n`, { mode: 0o600 });
    process.env.LATCHKEY_KEY_ENCRYPTION_KEY_FILE = elsewhere;
    try {
      const found = ids(await doctor(cli));
      assert.ok(!found.includes('kek_beside_database') && !found.includes('file_permissions_loose'), found.join());
      // A key file others can read is reported wherever it is.
      chmodSync(elsewhere, 0o644);
      const loose = (await doctor(cli)).find((f) => f.id === 'file_permissions_loose');
      assert.equal(loose?.command, `chmod 600 ${elsewhere}`);
      chmodSync(elsewhere, 0o600);
    } finally {
      delete process.env.LATCHKEY_KEY_ENCRYPTION_KEY_FILE;
    }
  });

  it('the admin API (console home page) reports loose files of the database the server runs on', async () => {
    const server = await startTestServer({ storage: 'sqlite' });
    try {
      const admin = bearerClient(server, await adminToken(server, 'admin', ADMIN_PASSWORD));
      assert.ok(!ids((await admin.call('GET', '/findings')).json as Finding[]).includes('file_permissions_loose'));
      chmodSync(server.db, 0o640);
      const overview = await admin.call('GET', '/overview');
      const loose = (overview.json.findings as Finding[]).find((f) => f.id === 'file_permissions_loose');
      assert.ok(loose !== undefined, overview.text);
      assert.ok(loose.command?.startsWith(`chmod 600 ${server.db}`), loose.command);
    } finally {
      await server.close();
    }
  });
});

describe('LATCHKEY_KEY_ENCRYPTION_KEY_FILE', () => {
  it('reads the key from the file; refuses a missing file (with the command to create it), a short key, and both settings at once', () => {
    const file = join(dir, 'kekfile', 'key');
    mkdirSync(join(dir, 'kekfile'), { mode: 0o700 });
    const key = randomBytes(32).toString('base64');
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
    const db = join(dir, 'kekfile-db', 'x.db');
    const resolved = resolveKek(db, undefined, file);
    assert.deepEqual(resolved, { kek: key, source: 'env_file', file, created: false });
    assert.ok(!existsSync(join(dir, 'kekfile-db', 'latchkey.kek')), 'no key file is created beside the database');
    // PostgreSQL takes it too: every instance can mount the same secret file.
    assert.equal(resolveKek('postgres://latchkey@db.internal/latchkey', undefined, file).kek, key);
    assert.throws(() => resolveKek(db, undefined, join(dir, 'kekfile', 'missing')), (e: unknown) => e instanceof ConfigError && e.code === 'config.kek_file_unreadable' && /umask 077 && openssl rand -base64 32 >/.test(e.message));
    writeFileSync(join(dir, 'kekfile', 'short'), 'short\n', { mode: 0o600 });
    assert.throws(() => resolveKek(db, undefined, join(dir, 'kekfile', 'short')), (e: unknown) => e instanceof ConfigError && /at least 32/.test(e.message));
    assert.throws(() => loadConfig({}, { LATCHKEY_KEY_ENCRYPTION_KEY: key, LATCHKEY_KEY_ENCRYPTION_KEY_FILE: file }), (e: unknown) => e instanceof ConfigError && e.code === 'config.kek_conflict');
    assert.equal(loadConfig({}, { LATCHKEY_KEY_ENCRYPTION_KEY_FILE: file }).keyEncryptionKeyFile, file);
    if (POSIX) {
      chmodSync(file, 0o644);
      assert.match(resolveKek(db, undefined, file).warning ?? '', /can be read by other users \(mode 644\)\. Restrict it: chmod 600 /);
    }
  });

  it('end to end: serve and a CLI command use the key from the file; the admin API reports a key beside the database and loose files only where they are', { timeout: 90_000 }, async () => {
    const keyDir = join(dir, 'e2e-keys');
    mkdirSync(keyDir, { mode: 0o700 });
    const keyFile = join(keyDir, 'kek');
    writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const apart = await startServe(join(dir, 'e2e', 'data', 'lk.db'), { LATCHKEY_KEY_ENCRYPTION_KEY_FILE: keyFile });
    try {
      assert.match(apart.output(), /"kekSource":"env_file"/);
      assert.ok(!existsSync(join(dir, 'e2e', 'data', 'latchkey.kek')), 'no key file beside the database');
      if (POSIX) {
        for (const f of [apart.db, `${apart.db}-wal`, `${apart.db}-shm`]) assert.equal(mode(f), 0o600, f);
        assert.equal(mode(join(dir, 'e2e', 'data')), 0o700);
      }
      // A CLI command on the same database with the same setting opens the server's signing keys.
      const env = cleanEnv({ LATCHKEY_DB: apart.db, LATCHKEY_KEY_ENCRYPTION_KEY_FILE: keyFile });
      const rotate = await run(process.execPath, [BIN, 'keys', 'rotate', '--now'], { env });
      assert.equal(rotate.code, 0, rotate.stderr);
      assert.equal((await findingsOf(apart.url, env)).filter((f) => f.id === 'kek_beside_database' || f.id === 'file_permissions_loose').length, 0);
      const jwks = await eventuallyJwks(apart.url, 2);
      assert.equal(jwks, 2);
    } finally {
      await apart.stop();
    }

    // The default: the key file beside the database, and a database file others can read.
    const db = join(dir, 'e2e-default', 'lk.db');
    mkdirSync(join(dir, 'e2e-default'));
    closeSync(openSync(db, 'w', 0o644));
    chmodSync(db, 0o644);
    const beside = await startServe(db, {});
    try {
      assert.match(beside.output(), /"level":"warn"[^\n]*"finding":"file_permissions_loose"[^\n]*chmod 600 /);
      const found = await findingsOf(beside.url, cleanEnv({ LATCHKEY_DB: db }));
      assert.deepEqual(ids(found).filter((id) => id === 'kek_beside_database' || id === 'file_permissions_loose').sort(), ['file_permissions_loose', 'kek_beside_database']);
    } finally {
      await beside.stop();
    }
  });
});

interface Serve {
  readonly url: string;
  readonly db: string;
  output(): string;
  stop(): Promise<void>;
}

async function startServe(db: string, extra: Record<string, string>): Promise<Serve> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--db', db], { cwd: dir, env: cleanEnv(extra), stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => void (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => void (output += d.toString()));
  const stop = async () => {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  try {
    const m = await waitForOutput(child, /"address":"(http:\/\/127\.0\.0\.1:\d+)"/);
    return { url: m[1] ?? '', db, output: () => output, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The admin API's findings of a running server, with a token of the admin (an application made with the CLI). */
async function findingsOf(url: string, env: NodeJS.ProcessEnv): Promise<Finding[]> {
  const created = await run(process.execPath, [BIN, 'apps', 'create', '--name', `Admin tool ${randomBytes(4).toString('hex')}`, '--grants', 'password', '--admin-api', 'true', '--json'], { env });
  assert.equal(created.code, 0, created.stderr);
  const app = JSON.parse(created.stdout) as { clientId: string; clientSecret: string };
  for (let i = 0; ; i++) {
    const res = await fetch(`${url}/oauth_token.do`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${app.clientId}:${app.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', username: 'admin', password: ADMIN_PASSWORD, scope: 'latchkey.admin' }).toString(),
    });
    const body = (await res.json()) as { access_token?: string };
    // The server sees the new application within a second (it polls for registry changes).
    if (res.status !== 200 && i < 20) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    assert.equal(res.status, 200, JSON.stringify(body));
    const found = await fetch(`${url}/admin/api/v1/findings`, { headers: { authorization: `Bearer ${body.access_token}` } });
    const text = await found.text();
    assert.equal(found.status, 200, text);
    return JSON.parse(text) as Finding[];
  }
}

async function eventuallyJwks(url: string, count: number): Promise<number> {
  let n = 0;
  for (let i = 0; i < 30; i++) {
    n = (((await (await fetch(`${url}/oauth/jwks`)).json()) as { keys: unknown[] }).keys ?? []).length;
    if (n >= count) return n;
    await new Promise((r) => setTimeout(r, 100));
  }
  return n;
}
