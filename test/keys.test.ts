import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import * as jose from 'jose';
import { createLatchkey, type Latchkey } from '../src/app.js';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { ConfigError, loadConfig, parseIssuer } from '../src/config/config.js';
import { silentLogger } from '../src/core/logger.js';
import { createKeyEncryption, deriveKey, KeyEncryptionError } from '../src/keys/encryption.js';
import { resolveKek } from '../src/keys/kek.js';
import { DEFAULT_PREPUBLISH_MS, keyStates, PUBLISH_SKEW_MS } from '../src/keys/keyring.js';
import { DAY, runKeyRotation, SCHEDULED_PREPUBLISH_MS } from '../src/jobs/rotate-keys.js';
import { createApplication } from '../src/registry/applications.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { openStorage } from '../src/storage/open.js';
import type { Storage } from '../src/storage/types.js';
import { spawn } from 'node:child_process';
import { apiCall, assertApiRefusal, FIXTURE_APIS, ROOT } from './helpers/api.js';
import { run, waitForOutput } from './helpers/processes.js';
import { ManualClock, refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { createTestDatabase } from './helpers/postgres.js';
import { startTestServer, TEST_KEK, testStorageKind, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const MIN = 60_000;
const OTHER_KEK = 'another-key-encryption-key-9876543210fedcba';

describe('key encryption (AES-256-GCM, HKDF-derived keys)', () => {
  it('round-trips, with a fresh IV each time, in the v1.<iv>.<ciphertext>.<tag> format', () => {
    const enc = createKeyEncryption(TEST_KEK);
    const a = enc.encrypt('kid-1', '{"d":"secret"}');
    const b = enc.encrypt('kid-1', '{"d":"secret"}');
    assert.match(a, /^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    assert.notEqual(a, b);
    assert.ok(!a.includes('secret'));
    assert.equal(enc.decrypt('kid-1', a), '{"d":"secret"}');
  });

  it('refuses a wrong KEK, another key id (AAD), or a tampered ciphertext with a clear error', () => {
    const sealed = createKeyEncryption(TEST_KEK).encrypt('kid-1', 'private');
    assert.throws(() => createKeyEncryption(OTHER_KEK).decrypt('kid-1', sealed), (e: unknown) => e instanceof KeyEncryptionError && /LATCHKEY_KEY_ENCRYPTION_KEY/.test(e.message) && /kid-1/.test(e.message));
    assert.throws(() => createKeyEncryption(TEST_KEK).decrypt('kid-2', sealed), KeyEncryptionError);
    const parts = sealed.split('.');
    parts[2] = Buffer.from('x').toString('base64url') + (parts[2] ?? '').slice(2);
    assert.throws(() => createKeyEncryption(TEST_KEK).decrypt('kid-1', parts.join('.')), KeyEncryptionError);
    assert.throws(() => createKeyEncryption(TEST_KEK).decrypt('kid-1', 'plain-text'), /format/);
  });

  it('derives independent 256-bit keys per purpose, the same on every instance; the signing-key purpose is reserved', () => {
    assert.equal(deriveKey(TEST_KEK, 'sessions').length, 32);
    assert.deepEqual(deriveKey(TEST_KEK, 'sessions'), deriveKey(TEST_KEK, 'sessions'));
    assert.notDeepEqual(deriveKey(TEST_KEK, 'sessions'), deriveKey(TEST_KEK, 'csrf'));
    assert.notDeepEqual(deriveKey(TEST_KEK, 'sessions'), deriveKey(OTHER_KEK, 'sessions'));
    const enc = createKeyEncryption(TEST_KEK);
    assert.deepEqual(enc.derive('sessions'), deriveKey(TEST_KEK, 'sessions'));
    assert.throws(() => enc.derive('signing-keys'), /reserved/);
  });

  it('needs a KEK of at least 32 characters', () => {
    assert.throws(() => createKeyEncryption('short'), (e: unknown) => e instanceof KeyEncryptionError && /at least 32/.test(e.message));
    assert.throws(() => loadConfig({}, { LATCHKEY_KEY_ENCRYPTION_KEY: 'x'.repeat(31) }), (e: unknown) => e instanceof ConfigError && /LATCHKEY_KEY_ENCRYPTION_KEY/.test(e.message));
    assert.equal(loadConfig({}, { LATCHKEY_KEY_ENCRYPTION_KEY: TEST_KEK }).keyEncryptionKey, TEST_KEK);
  });
});

describe('where the KEK comes from (resolveKek)', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-kek-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('SQLite without LATCHKEY_KEY_ENCRYPTION_KEY: creates latchkey.kek (mode 0600) beside the database once, with a warning, then reuses it', () => {
    const db = join(dir, 'data', 'latchkey.db');
    const first = resolveKek(db, undefined);
    assert.equal(first.source, 'file');
    assert.equal(first.created, true);
    assert.equal(first.file, join(dir, 'data', 'latchkey.kek'));
    assert.match(first.warning ?? '', /Created the key-encryption key file .*latchkey\.kek.*LATCHKEY_KEY_ENCRYPTION_KEY/s);
    if (process.platform !== 'win32') assert.equal(statSync(first.file!).mode & 0o777, 0o600);
    assert.ok(first.kek.length >= 32);
    const second = resolveKek(`sqlite:${db}`, undefined);
    assert.equal(second.created, false);
    assert.equal(second.warning, undefined);
    assert.equal(second.kek, first.kek);
  });

  it('the environment wins over the file; a too-short file or variable is refused', () => {
    const db = join(dir, 'env', 'latchkey.db');
    assert.deepEqual(resolveKek(db, TEST_KEK), { kek: TEST_KEK, source: 'env', created: false });
    assert.throws(() => resolveKek(db, 'short'), ConfigError);
    const shortDir = join(dir, 'short');
    resolveKek(join(shortDir, 'x.db'), undefined);
    writeFileSync(join(shortDir, 'latchkey.kek'), 'too-short\n');
    assert.throws(() => resolveKek(join(shortDir, 'x.db'), undefined), (e: unknown) => e instanceof ConfigError && /at least 32/.test(e.message));
  });

  it('PostgreSQL without LATCHKEY_KEY_ENCRYPTION_KEY: refuses, saying why instances must share it', () => {
    assert.throws(
      () => resolveKek('postgres://latchkey@db.internal/latchkey', undefined),
      (e: unknown) => e instanceof ConfigError && e.code === 'config.kek_required' && /LATCHKEY_KEY_ENCRYPTION_KEY must be set/.test(e.message) && /same key-encryption key/.test(e.message),
    );
    assert.equal(resolveKek('postgres://latchkey@db.internal/latchkey', TEST_KEK).source, 'env');
  });
});

describe('issuer configuration', () => {
  it('accepts https URLs and loopback http; strips a trailing slash', () => {
    assert.equal(parseIssuer('https://auth.example.com/'), 'https://auth.example.com');
    assert.equal(parseIssuer('https://auth.example.com/tenant-a'), 'https://auth.example.com/tenant-a');
    assert.equal(parseIssuer('http://localhost:8080'), 'http://localhost:8080');
    assert.equal(parseIssuer('http://127.0.0.1:8080/'), 'http://127.0.0.1:8080');
    assert.equal(parseIssuer('http://[::1]:8080'), 'http://[::1]:8080');
    assert.equal(loadConfig({ issuer: 'https://auth.example.com' }, {}).issuer, 'https://auth.example.com');
    assert.equal(loadConfig({}, { LATCHKEY_ISSUER: 'https://env.example.com' }).issuer, 'https://env.example.com');
    assert.equal(loadConfig({ issuer: 'https://flag.example.com' }, { LATCHKEY_ISSUER: 'https://env.example.com' }).issuer, 'https://flag.example.com');
    assert.equal(loadConfig({}, {}).issuer, undefined);
  });

  it('refuses plain http elsewhere, queries, fragments, credentials and non-URLs with a clear message', () => {
    for (const [raw, pattern] of [
      ['http://auth.example.com', /must use https.*localhost/],
      ['https://auth.example.com/?tenant=a', /query or fragment/],
      ['https://auth.example.com/#x', /query or fragment/],
      ['https://user:pw@auth.example.com', /user name or password/],
      ['auth.example.com', /absolute URL/],
      ['ftp://auth.example.com', /https/],
    ] as const) {
      assert.throws(() => loadConfig({}, { LATCHKEY_ISSUER: raw }), (e: unknown) => e instanceof ConfigError && e.code === 'config.invalid_issuer' && pattern.test(e.message), raw);
    }
  });
});

describe('signing keys at rest', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ storage: 'sqlite' });
  });
  after(async () => server.close());

  it('the first start creates one ES256 key; its private part is stored encrypted, never as plain JWK', () => {
    const db = new Database(server.db, { readonly: true });
    try {
      const rows = db.prepare('SELECT kid, alg, public_jwk, private_key_enc FROM signing_keys').all() as { kid: string; alg: string; public_jwk: string; private_key_enc: string }[];
      assert.equal(rows.length, 1);
      const row = rows[0]!;
      assert.equal(row.alg, 'ES256');
      assert.match(row.private_key_enc, /^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
      assert.ok(!row.private_key_enc.includes('"d"'));
      const publicJwk = JSON.parse(row.public_jwk) as Record<string, string>;
      assert.equal(publicJwk.d, undefined);
      const privateJwk = JSON.parse(createKeyEncryption(TEST_KEK).decrypt(row.kid, row.private_key_enc)) as Record<string, string>;
      assert.equal(typeof privateJwk.d, 'string');
      assert.equal(privateJwk.x, publicJwk.x);
      assert.ok(!row.private_key_enc.includes(privateJwk.d!));
      for (const file of [server.db, `${server.db}-wal`]) {
        if (existsSync(file)) assert.ok(!readFileSync(file).includes(Buffer.from(privateJwk.d!)), `the private scalar appears nowhere in ${file}`);
      }
    } finally {
      db.close();
    }
  });

  it('an instance with another KEK refuses to start, naming LATCHKEY_KEY_ENCRYPTION_KEY', async () => {
    const other = createLatchkey({ storage: server.latchkey.storage, kek: OTHER_KEK });
    try {
      await assert.rejects(other.start(), (e: unknown) => e instanceof KeyEncryptionError && /LATCHKEY_KEY_ENCRYPTION_KEY/.test(e.message) && /same/.test(e.message));
    } finally {
      await other.stop();
    }
  });

  it('without a KEK an instance publishes and verifies keys but creates none', async () => {
    const bare = createLatchkey({ storage: server.latchkey.storage });
    await bare.start();
    try {
      assert.equal((await bare.keyring.publishedJwks(Date.now())).keys.length, 1);
      await assert.rejects(bare.keyring.rotate(), /LATCHKEY_KEY_ENCRYPTION_KEY/);
      assert.throws(() => bare.secrets.derive('sessions'), /LATCHKEY_KEY_ENCRYPTION_KEY/);
    } finally {
      await bare.stop();
    }
  });
});

describe('key rotation timeline (ManualClock, fixture APIs)', () => {
  const clock = new ManualClock();
  let server: TestServer;
  let app: { id: string; secret: string };
  const cc = async () => {
    const res = await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [app.id, app.secret] });
    assert.equal(res.status, 200, res.text);
    return String(res.json?.access_token);
  };
  const kidOf = (token: string) => jose.decodeProtectedHeader(token).kid;
  const echo = (token: string) => apiCall(server.url, { path: '/api/test/echo', bearer: token });
  const jwksKids = async () => ((await (await fetch(`${server.url}/oauth/jwks`)).json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);

  before(async () => {
    server = await startTestServer({ clock, apisDir: FIXTURE_APIS });
    const deps = registryDeps(server, clock);
    await createUser(deps, { userName: 'svc-rot' });
    await setProperty(deps, CC, 'true');
    const created = await createApplication(deps, { name: 'Rotating', grantTypes: ['client_credentials'], appUser: 'svc-rot', tokenFormat: 'jwt', accessTokenLifespan: 3600 });
    app = { id: created.application.clientId, secret: created.clientSecret ?? '' };
    await refreshCache(server);
  });
  after(async () => server.close());

  it('a rotated-in key is published at once and signs only after the prepublish time', async () => {
    const before = await cc();
    const first = kidOf(before);
    const result = await server.latchkey.keyring.rotate();
    assert.ok(result.rotated);
    await refreshCache(server);
    const next = result.key.kid;
    assert.equal(result.key.activatesAt - clock.now(), DEFAULT_PREPUBLISH_MS);
    assert.deepEqual(await jwksKids(), [first, next]);
    assert.equal(kidOf(await cc()), first, 'still signing with the current key');
    clock.advance(DEFAULT_PREPUBLISH_MS - 1);
    assert.equal(kidOf(await cc()), first);
    clock.advance(1);
    const after = await cc();
    assert.equal(kidOf(after), next, 'the new key signs from its activation');
    assert.equal((await echo(before)).status, 200, 'a token of the retired key is still accepted');
    assert.equal((await echo(after)).status, 200);
  });

  it('rotate --now: tokens of the old key keep working until they expire; the old key leaves the JWKS at publishUntil', async () => {
    const old = await cc();
    const oldKid = kidOf(old)!;
    const result = await server.latchkey.keyring.rotate({ prepublishMs: 0 });
    assert.ok(result.rotated);
    await refreshCache(server);
    const fresh = await cc();
    assert.equal(kidOf(fresh), result.key.kid);
    assert.notEqual(result.key.kid, oldKid);
    // Both tokens are accepted by our APIs (the caller cache was cleared by the rotation: this verifies again).
    assert.equal((await echo(old)).status, 200);
    assert.equal((await echo(fresh)).status, 200);
    const kids = await jwksKids();
    assert.ok(kids.includes(oldKid) && kids.includes(result.key.kid), kids.join(','));
    const retired = (await server.latchkey.storage.keys.list()).find((k) => k.kid === oldKid)!;
    // Retires at the new key's activation, published for the longest JWT lifespan (3600 s) + skew.
    assert.equal(retired.retiresAt, result.key.activatesAt);
    assert.equal(retired.publishUntil, result.key.activatesAt + 3600_000 + PUBLISH_SKEW_MS);
    const states = keyStates(await server.latchkey.storage.keys.list(), clock.now());
    assert.equal(states.get(result.key.kid), 'signing');
    assert.equal(states.get(oldKid), 'retired');
    assert.equal([...states.values()].filter((s) => s === 'signing').length, 1);
    // Just before publishUntil the old key is still published; at publishUntil it is gone.
    clock.set(retired.publishUntil! - 1);
    await refreshCache(server);
    assert.ok((await jwksKids()).includes(oldKid));
    clock.set(retired.publishUntil!);
    assert.ok(!(await jwksKids()).includes(oldKid));
    assert.ok((await jwksKids()).includes(result.key.kid));
    // The old token expired long before; the new key's token too by now (1 h lifespan): refused, not served.
    await assertApiRefusal(server.latchkey.storage, await echo(old), { status: 401, reason: 'token.unknown_key', error: 'invalid_token' });
    assert.equal(keyStates(await server.latchkey.storage.keys.list(), clock.now()).get(oldKid), 'expired');
  });

  it('an expired token of a still-published key is refused as token.expired', async () => {
    const token = await cc();
    clock.advance(3600_000);
    await assertApiRefusal(server.latchkey.storage, await echo(token), { status: 401, reason: 'token.expired', error: 'invalid_token' });
  });
});

describe('scheduled rotation (latchkey.keys.rotation_days)', () => {
  const clock = new ManualClock();
  let server: TestServer;
  const job = () => runKeyRotation({ keyring: server.latchkey.keyring, cache: server.latchkey.cache, clock, logger: silentLogger });

  before(async () => {
    server = await startTestServer({ clock });
  });
  after(async () => server.close());

  it('rotates once the signing key has signed for rotation_days, publishing the new key a day ahead; once only', async () => {
    assert.deepEqual(await job(), { rotated: false, reason: 'not_due' });
    await setProperty(registryDeps(server, clock), 'latchkey.keys.rotation_days', '2');
    await refreshCache(server);
    clock.advance(2 * DAY - MIN);
    assert.deepEqual(await job(), { rotated: false, reason: 'not_due' });
    clock.advance(MIN);
    const result = await job();
    assert.ok(result.rotated);
    assert.equal(result.activatesAt, clock.now() + SCHEDULED_PREPUBLISH_MS);
    await refreshCache(server);
    // A second instance checking right after finds the new key, not yet due.
    assert.deepEqual(await job(), { rotated: false, reason: 'not_due' });
    assert.equal((await server.latchkey.storage.keys.list()).length, 2);
    clock.advance(2 * DAY + SCHEDULED_PREPUBLISH_MS);
    assert.equal((await job()).rotated, true);
  });

  it('0 turns it off', async () => {
    await setProperty(registryDeps(server, clock), 'latchkey.keys.rotation_days', '0');
    await refreshCache(server);
    clock.advance(365 * DAY);
    assert.deepEqual(await job(), { rotated: false, reason: 'disabled' });
  });
});

describe('several instances on one database', () => {
  it('instances starting together create one key between them, and see each other\'s rotation', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-keys-'));
    const database = testStorageKind() === 'postgres' ? await createTestDatabase() : undefined;
    const db = database?.url ?? join(dir, 'shared.db');
    const storages: Storage[] = [];
    const instances: Latchkey[] = [];
    try {
      for (let i = 0; i < 3; i++) storages.push(await openStorage(db));
      for (const storage of storages) instances.push(createLatchkey({ storage, kek: TEST_KEK, pollMs: 50 }));
      await Promise.all(instances.map((l) => l.start()));
      const keys = await storages[0]!.keys.list();
      assert.equal(keys.length, 1, 'one key, whatever the start order');
      const kids = await Promise.all(instances.map(async (l) => (await l.keyring.signingKey(Date.now())).kid));
      assert.deepEqual(kids, [keys[0]!.kid, keys[0]!.kid, keys[0]!.kid]);
      const rotated = await instances[0]!.keyring.rotate({ prepublishMs: 0 });
      assert.ok(rotated.rotated);
      await instances[2]!.cache.check();
      assert.equal((await instances[2]!.keyring.signingKey(Date.now())).kid, rotated.key.kid);
      assert.ok((await instances[2]!.keyring.publishedJwks(Date.now())).keys.some((k) => k.kid === rotated.key.kid));
    } finally {
      for (const l of instances) await l.stop();
      for (const s of storages) await s.close();
      await database?.drop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('latchkey keys (CLI)', () => {
  let dir: string;
  let db: string;
  const saved = process.env.LATCHKEY_KEY_ENCRYPTION_KEY;

  async function cli(args: readonly string[]) {
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
    const code = await main(['node', 'latchkey', ...args, '--db', db], io);
    return { code, out, err };
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-keys-cli-'));
    db = join(dir, 'cli.db');
    process.env.LATCHKEY_ADMIN_PASSWORD = 'admin-password-for-tests';
    delete process.env.LATCHKEY_KEY_ENCRYPTION_KEY;
    assert.equal((await cli(['init'])).code, 0);
  });
  after(() => {
    if (saved === undefined) delete process.env.LATCHKEY_KEY_ENCRYPTION_KEY;
    else process.env.LATCHKEY_KEY_ENCRYPTION_KEY = saved;
    rmSync(dir, { recursive: true, force: true });
  });

  it('keys list on a new database: an empty table and what creates the first key', async () => {
    const r = await cli(['keys', 'list']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^KID\s+ALG\s+SIGNS\s+STATE\s+CREATED\s+ACTIVATES\s+RETIRES\s+PUBLISHED UNTIL/);
    assert.match(r.out, /\(none\)/);
    assert.match(r.out, /latchkey serve/);
  });

  it('keys rotate on a new database creates the key file and a first key that signs at once', async () => {
    const r = await cli(['keys', 'rotate', '--json']);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /Created the key-encryption key file/);
    const result = JSON.parse(r.out) as { key: { state: string; alg: string }; retired: unknown[] };
    assert.equal(result.key.state, 'signing');
    assert.equal(result.key.alg, 'ES256');
    assert.deepEqual(result.retired, []);
    if (process.platform !== 'win32') assert.equal(statSync(join(dir, 'latchkey.kek')).mode & 0o777, 0o600);
  });

  it('keys rotate: the new key is next for 10 minutes by default; --prepublish and --alg; --now signs at once', async () => {
    const r = await cli(['keys', 'rotate', '--json']);
    assert.equal(r.code, 0, r.err);
    const a = JSON.parse(r.out) as { key: { kid: string; state: string; activatesAt: string }; retired: { state: string; retiresAt: string; publishUntil: string }[] };
    assert.equal(a.key.state, 'next');
    assert.ok(Math.abs(Date.parse(a.key.activatesAt) - Date.now() - 10 * MIN) < 5_000);
    assert.equal(a.retired.length, 1);
    assert.equal(a.retired[0]!.state, 'signing');
    assert.equal(a.retired[0]!.retiresAt, a.key.activatesAt);
    assert.equal(Date.parse(a.retired[0]!.publishUntil) - Date.parse(a.key.activatesAt), 1800_000 + PUBLISH_SKEW_MS);
    const b = JSON.parse((await cli(['keys', 'rotate', '--alg', 'rs256', '--prepublish', '2h', '--json'])).out) as { key: { alg: string; activatesAt: string } };
    assert.equal(b.key.alg, 'RS256');
    assert.ok(Math.abs(Date.parse(b.key.activatesAt) - Date.now() - 120 * MIN) < 5_000);
    const text = await cli(['keys', 'rotate', '--now']);
    assert.equal(text.code, 0, text.err);
    assert.match(text.out, /^Added signing key \S+ \(RS256\): published now, signs now/);
    const list = JSON.parse((await cli(['keys', 'list', '--json'])).out) as { state: string; alg: string }[];
    assert.equal(list.length, 4);
    assert.deepEqual(list.filter((k) => k.state === 'signing').map((k) => k.alg), ['RS256']);
    const table = await cli(['keys', 'list']);
    assert.match(table.out, /signing/);
    assert.match(table.out, /retired/);
  });

  it('refuses bad options (exit 2) and a KEK that cannot open the current key (exit 1, naming the variable)', async () => {
    assert.equal((await cli(['keys', 'rotate', '--alg', 'HS256'])).code, 2);
    assert.equal((await cli(['keys', 'rotate', '--now', '--prepublish', '1h'])).code, 2);
    assert.equal((await cli(['keys', 'rotate', '--prepublish', 'soon'])).code, 2);
    const before = (await cli(['keys', 'list', '--json'])).out;
    process.env.LATCHKEY_KEY_ENCRYPTION_KEY = OTHER_KEK;
    try {
      const r = await cli(['keys', 'rotate', '--now']);
      assert.equal(r.code, 1);
      assert.match(r.err, /Cannot decrypt signing key .*LATCHKEY_KEY_ENCRYPTION_KEY/);
      process.env.LATCHKEY_KEY_ENCRYPTION_KEY = 'too-short';
      const short = await cli(['keys', 'rotate']);
      assert.equal(short.code, 1);
      assert.match(short.err, /at least 32 characters/);
    } finally {
      delete process.env.LATCHKEY_KEY_ENCRYPTION_KEY;
    }
    assert.equal((await cli(['keys', 'list', '--json'])).out, before, 'nothing was added');
  });

  it('--help shows examples', async () => {
    let out = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (out += t), readStdin: async () => '' };
    assert.equal(await main(['node', 'latchkey', 'keys', 'rotate', '--help'], io), 0);
    assert.match(out, /Examples:\n\s+latchkey keys rotate/);
    assert.match(out, /--prepublish/);
  });
});

describe('latchkey serve: issuer and key-encryption key', () => {
  const BIN = join(ROOT, 'bin', 'latchkey.js');
  const cleanEnv = (): NodeJS.ProcessEnv => {
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('LATCHKEY_')) env[k] = v;
    return { ...env, LATCHKEY_ADMIN_PASSWORD: 'admin-password-for-tests' };
  };

  it('refuses to start on PostgreSQL without LATCHKEY_KEY_ENCRYPTION_KEY (before connecting)', async () => {
    const r = await run(process.execPath, [BIN, 'serve', '--port', '0', '--db', 'postgres://latchkey@127.0.0.1:1/none'], { env: cleanEnv() });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /LATCHKEY_KEY_ENCRYPTION_KEY must be set when the database is PostgreSQL/);
  });

  it('refuses an http issuer that is not loopback', async () => {
    const r = await run(process.execPath, [BIN, 'serve', '--port', '0', '--db', ':memory:', '--issuer', 'http://auth.example.com'], { env: cleanEnv() });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /must use https/);
  });

  it('on SQLite creates latchkey.kek (0600) with a warning, and serves tokens and metadata under --issuer', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'latchkey-serve-keys-'));
    const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--db', join(dir, 'data', 'lk.db'), '--issuer', 'http://localhost:7777/tenant-a/'], { cwd: dir, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (d: Buffer) => void (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => void (output += d.toString()));
    try {
      const m = await waitForOutput(child, /"address":"(http:\/\/127\.0\.0\.1:\d+)"/);
      const url = m[1]!;
      assert.match(output, /"level":"warn"[^\n]*Created the key-encryption key file/);
      assert.match(output, /"issuer":"http:\/\/localhost:7777\/tenant-a"/);
      if (process.platform !== 'win32') assert.equal(statSync(join(dir, 'data', 'latchkey.kek')).mode & 0o777, 0o600);
      const meta = (await (await fetch(`${url}/.well-known/oauth-authorization-server/tenant-a`)).json()) as Record<string, string>;
      assert.equal(meta.issuer, 'http://localhost:7777/tenant-a');
      assert.equal(meta.jwks_uri, 'http://localhost:7777/tenant-a/oauth/jwks');
      const jwks = (await (await fetch(`${url}/oauth/jwks`)).json()) as { keys: unknown[] };
      assert.equal(jwks.keys.length, 1);
    } finally {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
