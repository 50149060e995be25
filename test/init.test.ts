/**
 * No accidental instances (issue 13, item 3): only `latchkey init` and `latchkey serve` create a
 * database; every other command on a missing SQLite file exits 1 naming the file and how to point
 * at the right one. `--db` goes before or after the command, and the `serve` banner's next steps
 * carry the instance's --db. Through the real `bin/latchkey.js`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { dbArguments } from '../src/cli/next-steps.js';
import { BIN } from './helpers/instances.js';
import { createTestDatabase } from './helpers/postgres.js';
import { run, type RunResult } from './helpers/processes.js';

/** An environment with no LATCHKEY_* setting of the machine's (a test sets the ones it means). */
function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LATCHKEY_')) env[k] = v;
  return { ...env, ...extra };
}

let dir: string;
const latchkey = (args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> =>
  run(process.execPath, [BIN, ...args], { cwd: options.cwd ?? dir, env: options.env ?? cleanEnv(), timeoutMs: 20_000 });

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-init-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe('a command on a missing SQLite database', () => {
  it('in a folder without one: exit 1, the absolute path of the default file, how to point elsewhere; nothing created', async () => {
    const empty = join(dir, 'elsewhere');
    mkdirSync(empty);
    const r = await latchkey(['users', 'list'], { cwd: empty });
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, new RegExp(`^latchkey: There is no Latchkey database at ${join(empty, 'data', 'latchkey.db').replace(/[.]/g, '\\.')} \\(from the default, \\./data/latchkey\\.db in `));
    assert.match(r.stderr, /--db <file or postgres:\/\/ URL> \(before or after the command\) or the LATCHKEY_DB environment variable/);
    assert.match(r.stderr, /latchkey init --db /);
    assert.doesNotMatch(r.stderr, /password/i, 'no admin was created, so no password is printed');
    assert.equal(existsSync(join(empty, 'data')), false, 'not even the data folder is created');
  });

  it('a mistyped --db, before or after the command, and a LATCHKEY_DB that names no file: each refused, naming where it came from', async () => {
    const typo = join(dir, 'latchky.db');
    for (const args of [['apps', 'list', '--db', typo], ['--db', typo, 'apps', 'list'], ['apps', '--db', typo, 'list']]) {
      const r = await latchkey(args);
      assert.equal(r.code, 1, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`There is no Latchkey database at ${typo.replace(/[.]/g, '\\.')} \\(from --db\\)`));
    }
    const r = await latchkey(['doctor'], { env: cleanEnv({ LATCHKEY_DB: typo }) });
    assert.equal(r.code, 1);
    assert.match(r.stderr, /\(from LATCHKEY_DB\)/);
    assert.equal(existsSync(typo), false);
  });
});

describe('latchkey init', () => {
  it('creates the instance, prints the generated admin password once and next steps with its --db; run again, changes nothing', async () => {
    const db = join(dir, 'new', 'lk.db');
    const first = await latchkey(['init', '--db', db]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`^Created a new Latchkey instance at ${db.replace(/[.]/g, '\\.')} \\(sqlite\\)`));
    const password = /shown only this once:\n\n {4}(\S+)\n/.exec(first.stdout)?.[1];
    assert.ok(password !== undefined && password.length >= 20, first.stdout);
    assert.match(first.stdout, new RegExp(`npx latchkey serve --db ${db.replace(/[.]/g, '\\.')}`));
    assert.match(first.stdout, new RegExp(`npx latchkey users create svc-integration --roles itil --db ${db.replace(/[.]/g, '\\.')}`));
    const before = sha256(db);

    const again = await latchkey(['init', '--db', db]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /^There is already a Latchkey database at .*lk\.db; nothing was changed\./);
    assert.doesNotMatch(again.stdout, new RegExp(password));
    assert.equal(sha256(db), before, 'the file is not even opened');

    // The instance is usable by every other command, with the admin init created.
    const users = await latchkey(['--db', db, 'users', 'list', '--json']);
    assert.equal(users.code, 0, users.stderr);
    assert.deepEqual((JSON.parse(users.stdout) as { userName: string }[]).map((u) => u.userName), ['admin']);
  });

  it('--json, with LATCHKEY_ADMIN_PASSWORD: no password printed; --db before the command works the same', async () => {
    const db = join(dir, 'json.db');
    const r = await latchkey(['--db', db, 'init', '--json'], { env: cleanEnv({ LATCHKEY_ADMIN_PASSWORD: 'chosen-admin-password' }) });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), { db, kind: 'sqlite', created: true, adminUser: 'admin', adminPassword: null });
    assert.doesNotMatch(r.stdout + r.stderr, /chosen-admin-password/);
    const again = await latchkey(['init', '--json', '--db', db]);
    assert.equal((JSON.parse(again.stdout) as { created: boolean }).created, false);
  });

  it('on PostgreSQL: creates the tables and the admin in an empty database, then says it is there', async () => {
    const pg = await createTestDatabase();
    try {
      const first = await latchkey(['init', '--db', pg.url, '--json']);
      assert.equal(first.code, 0, first.stderr);
      const created = JSON.parse(first.stdout) as { created: boolean; kind: string; db: string; adminPassword: string | null };
      assert.equal(created.created, true);
      assert.equal(created.kind, 'postgres');
      assert.match(String(created.adminPassword), /^\S{20,}$/);
      assert.doesNotMatch(created.db, /postgres:\/\//, 'described without the URL (which may hold a password)');
      const again = await latchkey(['init', '--db', pg.url]);
      assert.equal(again.code, 0);
      assert.match(again.stdout, /already a Latchkey database/);
    } finally {
      await pg.drop();
    }
  });
});

describe('latchkey serve: next steps', () => {
  /** Starts serve, reads the banner (stderr) up to the console line, stops it. */
  async function banner(args: readonly string[], cwd: string): Promise<string> {
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { cwd, env: cleanEnv({ LATCHKEY_ADMIN_PASSWORD: 'serve-admin-password' }), stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no banner within 20 s:\n${err}`)), 20_000);
        child.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          if (/Admin console: .*\n/.test(err)) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}:\n${err}`)));
      });
    } finally {
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
    }
    return err;
  }

  it('carry --db when the database is not the default, and leave it out when it is', async () => {
    const other = join(dir, 'served', 'other.db');
    const text = await banner(['--db', other], dir);
    const steps = text.split('\n').filter((l) => l.startsWith('  npx latchkey '));
    assert.equal(steps.length, 3, text);
    for (const line of steps) assert.ok(line.endsWith(` --db ${other}`), line);
    assert.match(text, new RegExp(`npx latchkey doctor --db ${other.replace(/[.]/g, '\\.')}`));

    const home = join(dir, 'default-home');
    mkdirSync(home);
    const plain = await banner([], home);
    assert.ok(existsSync(join(home, 'data', 'latchkey.db')), 'serve creates the default database');
    const plainSteps = plain.split('\n').filter((l) => l.startsWith('  npx latchkey '));
    assert.equal(plainSteps.length, 3, plain);
    for (const line of plainSteps) assert.doesNotMatch(line, /--db/);
  });
});

describe('the --db that printed next steps carry', () => {
  it('none for the default file, the file as given otherwise; a PostgreSQL URL only without its password', () => {
    assert.deepEqual(dbArguments('./data/latchkey.db'), { flag: '', note: undefined });
    assert.deepEqual(dbArguments("./my data/x.db"), { flag: " --db './my data/x.db'", note: undefined });
    assert.deepEqual(dbArguments('postgres://latchkey@db.internal:5432/latchkey'), { flag: ' --db postgres://latchkey@db.internal:5432/latchkey', note: undefined });
    const secret = dbArguments('postgres://latchkey:s3cret@db.internal:5432/latchkey');
    assert.equal(secret.flag, ' --db "$LATCHKEY_DB"');
    assert.match(String(secret.note), /Set LATCHKEY_DB/);
    assert.doesNotMatch(JSON.stringify(secret), /s3cret/);
  });
});
