import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { hashSecret, tokenHandle } from '../src/core/crypto.js';
import { openSqliteStorage } from '../src/storage/sqlite/adapter.js';
import { JWT_BEARER_GRANT } from '../src/grants/grant-type.js';
import { type Storage } from '../src/storage/types.js';

const CC_PROPERTY = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Result {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

let dir: string;
let db: string;

/** Runs the CLI in-process against the test database with a capturing IO. */
async function cli(args: readonly string[], stdin = ''): Promise<Result> {
  let out = '';
  let err = '';
  const io: IO = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    readStdin: async () => stdin,
  };
  const code = await main(['node', 'latchkey', ...args, '--db', db], io);
  return { code, out, err };
}

async function json<T>(args: readonly string[], stdin = ''): Promise<T> {
  const r = await cli([...args, '--json'], stdin);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as T;
}

async function withDb<T>(fn: (storage: Storage) => Promise<T>): Promise<T> {
  const storage = openSqliteStorage({ path: db });
  try {
    return await fn(storage);
  } finally {
    await storage.close();
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-cli-'));
  db = join(dir, 't.db');
  process.env.LATCHKEY_ADMIN_PASSWORD = 'admin-password-for-tests';
  // A wide terminal: these cases read a table row or a record's value on one line (how tables wrap
  // to the terminal's width is test/cli-output.test.ts).
  process.env.COLUMNS = '400';
  // Only `init` and `serve` create a database; every other command needs one.
  const created = await cli(['init']);
  assert.equal(created.code, 0, created.err);
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('latchkey CLI', () => {
  let clientId = '';

  it('creates a user with roles and a password from stdin, never printing it', async () => {
    const r = await cli(['users', 'create', 'svc-integration', '--roles', 'itil,reporting', '--password-stdin'], 'correct-horse-battery\n');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Created user svc-integration/);
    assert.match(r.out, /Created roles: itil, reporting/);
    assert.doesNotMatch(r.out + r.err, /correct-horse|scrypt\$/);
  });

  it('lists users as JSON without password hashes', async () => {
    const users = await json<{ userName: string; roles: string[]; hasPassword: boolean; active: boolean }[]>(['users', 'list']);
    const svc = users.find((u) => u.userName === 'svc-integration');
    assert.deepEqual(svc?.roles, ['itil', 'reporting']);
    assert.equal(svc?.hasPassword, true);
    assert.ok(users.some((u) => u.userName === 'admin'));
    assert.ok(users.every((u) => !('passwordHash' in u)));
  });

  it('refuses a duplicate user with exit 1 and a message', async () => {
    const r = await cli(['users', 'create', 'svc-integration']);
    assert.equal(r.code, 1);
    assert.match(r.err, /^latchkey: A user named "svc-integration" already exists/);
    assert.equal(r.out, '');
  });

  it('updates a user and rejects a bad boolean as a usage error', async () => {
    const ok = await json<{ user: { active: boolean } }>(['users', 'update', 'svc-integration', '--active', 'false']);
    assert.equal(ok.user.active, false);
    await json(['users', 'update', 'svc-integration', '--active', 'true']);
    const bad = await cli(['users', 'update', 'svc-integration', '--active', 'maybe']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /--active takes true or false/);
    const empty = await cli(['users', 'update', 'svc-integration', '--password-stdin'], '');
    assert.equal(empty.code, 1);
    assert.match(empty.err, /standard input was empty/);
  });

  it('creates and lists scopes; lists roles', async () => {
    const created = await json<{ name: string; description: string }>(['scopes', 'create', 'export.read', '--description', 'Read the export']);
    assert.deepEqual(created, { name: 'export.read', description: 'Read the export', builtIn: false });
    const scopes = await json<{ name: string }[]>(['scopes', 'list']);
    assert.deepEqual(scopes.map((s) => s.name), ['address', 'email', 'export.read', 'latchkey.admin', 'offline_access', 'openid', 'phone', 'profile', 'useraccount']);
    const roles = await json<{ name: string; users: number }[]>(['roles', 'list']);
    assert.equal(roles.find((r) => r.name === 'itil')?.users, 1);
    const text = await cli(['scopes', 'list']);
    assert.match(text.out, /NAME\s+BUILT-IN\s+DESCRIPTION/);
  });

  it('creates an application: JSON has the client id and the secret; warnings on stderr', async () => {
    const r = await cli(['apps', 'create', '--name', 'Nightly export', '--grants', 'client_credentials', '--scopes', 'export.read', '--json']);
    assert.equal(r.code, 0, r.err);
    const app = JSON.parse(r.out) as { clientId: string; clientSecret: string; appUser: string | null };
    assert.match(app.clientId, /^[0-9a-f]{32}$/);
    assert.ok(app.clientSecret.startsWith('lk_cs_'));
    assert.equal(app.appUser, null);
    assert.match(r.err, /no application user/);
    assert.match(r.err, new RegExp(`latchkey apps update ${app.clientId} --app-user`));
    assert.match(r.err, new RegExp(`latchkey properties set ${CC_PROPERTY.replace(/\./g, '\\.')} true`));
    const stored = await withDb((s) => s.applications.byClientId(app.clientId));
    assert.equal(stored?.secretHash, hashSecret(app.clientSecret));
    clientId = app.clientId;
  });

  it('prints the secret once and a curl next step in text mode', async () => {
    const r = await cli(['apps', 'create', '--name', 'Reports', '--grants', 'password,client_credentials', '--app-user', 'svc-integration']);
    assert.equal(r.code, 0, r.err);
    const secret = /(lk_cs_[A-Za-z0-9_-]{43})/.exec(r.out)?.[1];
    assert.ok(secret !== undefined);
    assert.match(r.out, /curl -u [0-9a-f]{32}:lk_cs_[A-Za-z0-9_-]+ -d grant_type=client_credentials http:\/\/localhost:8080\/oauth_token\.do/);
    assert.match(r.out, /-d grant_type=password --data-urlencode 'username=<user-name>' --data-urlencode 'password=<password>' /);
    assert.doesNotMatch(r.err, /no application user/);
  });

  it('updates an application (app user by name, no secret unless it becomes confidential)', async () => {
    const updated = await json<{ appUser: string; clientSecret: string | null; warnings: string[] }>(['apps', 'update', clientId, '--app-user', 'svc-integration', '--access-token-lifespan', '10m']);
    assert.equal(updated.appUser, 'svc-integration');
    assert.equal(updated.clientSecret, null);
    assert.ok(updated.warnings.every((w) => !w.includes('no application user')));
    await json(['apps', 'update', clientId, '--public', 'true']);
    const back = await json<{ clientSecret: string | null; public: boolean }>(['apps', 'update', clientId, '--public', 'false']);
    assert.equal(back.public, false);
    assert.ok(back.clientSecret?.startsWith('lk_cs_'));
    const none = await cli(['apps', 'update', clientId]);
    assert.equal(none.code, 2);
    const badUser = await cli(['apps', 'update', clientId, '--app-user', 'nobody']);
    assert.equal(badUser.code, 1);
    assert.match(badUser.err, /No user named "nobody"/);
  });

  it('rotates the secret: new secret printed once, stored hash changes', async () => {
    const before = await withDb((s) => s.applications.byClientId(clientId));
    const r = await json<{ clientSecret: string }>(['apps', 'rotate-secret', clientId]);
    const afterRotate = await withDb((s) => s.applications.byClientId(clientId));
    assert.ok(r.clientSecret.startsWith('lk_cs_'));
    assert.notEqual(afterRotate?.secretHash, before?.secretHash);
    assert.equal(afterRotate?.secretHash, hashSecret(r.clientSecret));
  });

  it('lists and shows applications with the app user by name', async () => {
    const list = await json<{ clientId: string; appUser: string | null }[]>(['apps', 'list']);
    assert.equal(list.length, 2);
    const shown = await json<{ appUser: string; accessTokenLifespan: number }>(['apps', 'show', clientId]);
    assert.equal(shown.appUser, 'svc-integration');
    assert.equal(shown.accessTokenLifespan, 600);
    const text = await cli(['apps', 'show', clientId]);
    assert.match(text.out, /Application user\s+svc-integration/);
    assert.doesNotMatch(text.out, /secretHash|lk_cs_/);
    const unknown = await cli(['apps', 'show', 'nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /No application has the client id or name "nope"/);
  });

  it('creates an application with a token format, redirect URIs, logo, audience, keys and introspection, and shows them', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const priv = { ...privateKey.export({ format: 'jwk' }), kid: 'sync-1' };
    const { d: _d, ...pub } = priv;
    const jwksFile = join(dir, 'sync.jwks.json');
    writeFileSync(jwksFile, JSON.stringify({ keys: [pub] }));
    const created = await json<{ clientId: string; grantTypes: string[]; redirectUris: string[]; tokenFormat: string; audience: string; logoUri: string; jwks: { keys: { kid: string }[] }; jwksUri: null; canIntrospect: boolean; warnings: string[] }>([
      'apps', 'create', '--name', 'Orders sync', '--grants', 'authorization_code,jwt_bearer,refresh_token',
      '--redirect-uris', 'https://sync.example.com/cb', '--redirect-uri', 'https://sync.example.com/cb2?a=1,2',
      '--token-format', 'jwt', '--audience', 'https://api.example.com', '--logo-uri', 'http://localhost:3000/logo.png',
      '--jwks', jwksFile, '--can-introspect',
    ]);
    assert.deepEqual(created.grantTypes, ['authorization_code', JWT_BEARER_GRANT, 'refresh_token'], 'jwt_bearer is stored as the RFC 7523 URN');
    assert.deepEqual(created.redirectUris, ['https://sync.example.com/cb', 'https://sync.example.com/cb2?a=1,2']);
    assert.deepEqual([created.tokenFormat, created.audience, created.logoUri, created.jwksUri, created.canIntrospect], ['jwt', 'https://api.example.com', 'http://localhost:3000/logo.png', null, true]);
    assert.deepEqual(created.jwks.keys.map((k) => k.kid), ['sync-1']);
    assert.deepEqual(created.warnings, []);
    const stored = await withDb((s) => s.applications.byClientId(created.clientId));
    assert.deepEqual(JSON.parse(stored!.jwks!), { keys: [pub] });
    const text = await cli(['apps', 'show', created.clientId]);
    assert.match(text.out, /Token format\s+jwt\n/);
    assert.match(text.out, /Audience\s+https:\/\/api\.example\.com\n/);
    assert.match(text.out, /Logo\s+http:\/\/localhost:3000\/logo\.png\n/);
    assert.match(text.out, /Public keys \(JWKS\)\s+1 key: sync-1 \(EC P-256\)\n/);
    assert.match(text.out, /May introspect\s+yes\n/);

    // Update: inline JSON, then keys by URL instead; clearing with ""; --can-introspect false.
    const inline = await json<{ jwks: { keys: unknown[] } }>(['apps', 'update', created.clientId, '--jwks', JSON.stringify({ keys: [pub, { ...pub, kid: 'sync-2' }] })]);
    assert.equal(inline.jwks.keys.length, 2);
    const both = await cli(['apps', 'update', created.clientId, '--jwks-uri', 'https://sync.example.com/jwks']);
    assert.equal(both.code, 1);
    assert.match(both.err, /either a JWKS or a JWKS URI, not both\. Clear one \(--jwks '' or --jwks-uri ''\)/);
    const switched = await json<{ jwks: null; jwksUri: string; audience: null; logoUri: null; canIntrospect: boolean; tokenFormat: string; warnings: string[] }>([
      'apps', 'update', created.clientId, '--jwks', '', '--jwks-uri', 'https://sync.example.com/jwks', '--audience', '', '--logo-uri', '', '--can-introspect', 'false', '--token-format', 'opaque',
    ]);
    assert.deepEqual([switched.jwks, switched.jwksUri, switched.audience, switched.logoUri, switched.canIntrospect, switched.tokenFormat], [null, 'https://sync.example.com/jwks', null, null, false, 'opaque']);
    const noKeys = await json<{ warnings: string[] }>(['apps', 'update', created.clientId, '--jwks-uri', '', '--redirect-uris', '']);
    assert.ok(noKeys.warnings.some((w) => /JWT bearer grant but has no public keys.*--jwks <file>/.test(w)), noKeys.warnings.join('\n'));
    assert.ok(noKeys.warnings.some((w) => /authorization_code but has no redirect URI.*--redirect-uri <uri>/.test(w)), noKeys.warnings.join('\n'));
  });

  it('refuses bad values for the new application options, saying exactly what is wrong', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const rsaPrivate = { ...privateKey.export({ format: 'jwk' }), kid: 'leaked' };
    const privateFile = join(dir, 'private.jwks.json');
    writeFileSync(privateFile, JSON.stringify({ keys: [rsaPrivate] }));
    const before = (await withDb((s) => s.applications.list())).length;
    const cases: [string[], number, RegExp][] = [
      [['--jwks', privateFile], 1, /^latchkey: JWKS key 1 \(kid "leaked"\) is a private key \(it has the private members "d", "p", "q", "dp", "dq", "qi"\); give only the public key\. Treat that private key as exposed and replace it\.\n$/],
      [['--jwks', '{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}'], 1, /JWKS key 1 is a symmetric \(shared secret\) key, member "k"; give only public keys/],
      [['--jwks', '{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"BBBB"}]}'], 1, /JWKS key 1 is not a usable ES256 public key: /],
      [['--jwks', '{"keys":[]}'], 1, /The JWKS has no keys; add at least one public key\./],
      [['--jwks', '{"kty":"EC"}'], 1, /The JWKS must be a JSON object with a "keys" array/],
      [['--jwks', '{not json'], 1, /The JWKS is not valid JSON/],
      [['--jwks', join(dir, 'missing.json')], 2, /--jwks: there is no file ".*missing\.json"\. Give the path of a JWKS file, or the JWKS itself as JSON/],
      [['--jwks-uri', 'http://keys.example.com/jwks'], 1, /The JWKS URI "http:\/\/keys\.example\.com\/jwks" is refused by the outbound rules: it uses http; the scheme must be https \(http only while latchkey\.outbound\.allow_private_networks is true, for test networks\)\./],
      // Outbound rules (src/outbound): a JWKS URI is fetched on anonymous requests, so no internal address.
      [['--jwks-uri', 'https://10.0.0.5/jwks'], 1, /The JWKS URI "https:\/\/10\.0\.0\.5\/jwks" is refused by the outbound rules: 10\.0\.0\.5 is a private address \(10\.0\.0\.0\/8\); set latchkey\.outbound\.allow_private_networks to true only for test networks\./],
      [['--jwks-uri', 'https://169.254.169.254/latest/meta-data'], 1, /169\.254\.169\.254 is the cloud metadata address \(169\.254\.169\.254\/32\), which is never fetched/],
      [['--jwks-uri', 'http://127.0.0.1:8081/jwks'], 1, /is refused by the outbound rules: it uses http/],
      [['--jwks-uri', 'https://[::ffff:127.0.0.1]/jwks'], 1, /is refused by the outbound rules: ::ffff:7f00:1 is an IPv4-mapped form of 127\.0\.0\.1, a loopback address/],
      [['--jwks-uri', 'jwks.json'], 1, /The JWKS URI "jwks\.json" is not an absolute URL\./],
      [['--logo-uri', 'http://cdn.example.com/logo.png'], 1, /The logo URI "http:\/\/cdn\.example\.com\/logo\.png" must use https/],
      [['--logo-uri', 'https://user:pw@cdn.example.com/logo.png'], 1, /must not contain a user name or password/],
      [['--audience', 'x'.repeat(501)], 1, /An audience needs 1-500 printable characters\./],
      [['--token-format', 'xml'], 1, /Unknown token format "xml"\. Supported: opaque, jwt\./],
      [['--redirect-uri', 'https://a.example.com/cb#frag'], 1, /Redirect URI "https:\/\/a\.example\.com\/cb#frag" must not contain a fragment/],
      [['--redirect-uri', '/relative/cb'], 1, /Redirect URI "\/relative\/cb" is not an absolute URL\./],
    ];
    for (const [options, code, message] of cases) {
      const r = await cli(['apps', 'create', '--name', 'Refused', '--grants', 'client_credentials', ...options]);
      assert.equal(r.code, code, `${options.join(' ')}: ${r.err}`);
      assert.match(r.err, message, options.join(' '));
      assert.doesNotMatch(r.err + r.out, new RegExp(String(rsaPrivate.d).slice(0, 20)), 'the private key is never echoed');
    }
    const grants = await cli(['apps', 'create', '--name', 'Refused', '--grants', 'jwt-bearer']);
    assert.equal(grants.code, 1);
    assert.match(grants.err, /Unknown grant type "jwt-bearer"\. Did you mean "jwt_bearer"\? Supported: client_credentials, password, refresh_token, authorization_code, jwt_bearer \(= urn:ietf:params:oauth:grant-type:jwt-bearer\), device_code \(= urn:ietf:params:oauth:grant-type:device_code\), token_exchange \(= urn:ietf:params:oauth:grant-type:token-exchange\)\./);
    const urn = await json<{ clientId: string; grantTypes: string[] }>(['apps', 'create', '--name', 'By URN', '--grants', `${JWT_BEARER_GRANT},jwt_bearer`, '--jwks-uri', 'https://keys.example.com/jwks']);
    assert.deepEqual(urn.grantTypes, [JWT_BEARER_GRANT], 'the URN and its alias are one grant');
    assert.equal((await withDb((s) => s.applications.list())).length, before + 1, 'nothing refused was stored');
    const update = await cli(['apps', 'update', urn.clientId, '--jwks', privateFile]);
    assert.equal(update.code, 1);
    assert.match(update.err, /is a private key/);
    assert.equal((await withDb((s) => s.applications.byClientId(urn.clientId)))?.jwksUri, 'https://keys.example.com/jwks', 'a refused update changes nothing');
  });

  it('sets and lists properties; refuses invalid values', async () => {
    const set = await json<{ value: boolean; previous: boolean }>(['properties', 'set', CC_PROPERTY, 'true']);
    assert.deepEqual([set.value, set.previous], [true, false]);
    const list = await json<{ name: string; value: unknown; isDefault: boolean }[]>(['properties', 'list']);
    const cc = list.find((p) => p.name === CC_PROPERTY);
    assert.deepEqual([cc?.value, cc?.isDefault], [true, false]);
    const text = await cli(['properties', 'list']);
    assert.match(text.out, new RegExp(`${CC_PROPERTY.replace(/\./g, '\\.')}\\s+true \\*`));
    const bad = await cli(['properties', 'set', 'latchkey.password.lockout.threshold', 'lots']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /is an integer/);
    const unknown = await cli(['properties', 'set', 'no.such.property', 'true']);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.err, /Unknown property "no\.such\.property"/);
    const app = await cli(['apps', 'show', clientId]);
    assert.doesNotMatch(app.err, /switched off/);
  });

  it('lists tokens without revealing them and revokes by token (refresh: whole family)', async () => {
    const now = Date.now();
    await withDb(async (s) => {
      const app = await s.applications.byClientId(clientId);
      const user = await s.users.byName('svc-integration');
      assert.ok(app !== undefined && user !== undefined);
      const base = { applicationId: app.id, userId: user.id, scopes: ['export.read'], issuedAt: now, expiresAt: now + 600_000 };
      await s.tokens.insert([
        { ...base, hash: hashSecret('lk_at_cli_test_access'), kind: 'access', grantType: 'client_credentials', familyId: 'fam-a' },
        { ...base, hash: hashSecret('lk_rt_cli_test_refresh'), kind: 'refresh', grantType: 'password', familyId: 'fam-b' },
        { ...base, hash: hashSecret('lk_at_cli_test_family'), kind: 'access', grantType: 'password', familyId: 'fam-b' },
      ]);
    });
    const tokens = await json<{ handle: string; kind: string; user: string; clientId: string; status: string }[]>(['tokens', 'list', '--app', clientId]);
    assert.equal(tokens.length, 3);
    assert.ok(tokens.every((t) => /^tk_[\w-]{22}$/.test(t.handle) && t.user === 'svc-integration' && t.clientId === clientId && t.status === 'active'));
    const text = await cli(['tokens', 'list', '--user', 'svc-integration']);
    assert.doesNotMatch(text.out, /lk_at_|lk_rt_/);
    assert.ok(text.out.includes(tokenHandle(hashSecret('lk_at_cli_test_access'))));

    const family = await json<{ revoked: number; kind: string }>(['tokens', 'revoke', 'lk_rt_cli_test_refresh']);
    assert.deepEqual([family.kind, family.revoked], ['refresh', 2]);
    const single = await cli(['tokens', 'revoke', '-'], 'lk_at_cli_test_access\n');
    assert.equal(single.code, 0, single.err);
    assert.match(single.out, /Revoked the access token/);
    const again = await cli(['tokens', 'revoke', 'lk_at_cli_test_access']);
    assert.equal(again.code, 1);
    assert.match(again.err, /already revoked/);
    const unknown = await cli(['tokens', 'revoke', 'lk_at_not_a_token']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /No token issued by this instance matches/);
    assert.equal((await json<unknown[]>(['tokens', 'list'])).length, 0);
    const all = await json<{ status: string }[]>(['tokens', 'list', '--all']);
    assert.deepEqual(all.map((t) => t.status), ['revoked', 'revoked', 'revoked']);
  });

  it('explains a recorded refusal and refuses an unknown request id', async () => {
    await withDb(async (s) => {
      await s.refusals.record({
        requestId: 'req-cli-1',
        at: Date.UTC(2025, 0, 2, 3, 4, 5),
        endpoint: 'token',
        status: 400,
        error: 'unauthorized_client',
        reason: 'application_user.missing',
        description: 'This application cannot use client_credentials.',
        hint: 'Application "Nightly export" has no application user.',
        clientId,
        applicationName: 'Nightly export',
        userName: null,
        remoteAddress: '203.0.113.7',
      });
    });
    const r = await cli(['explain', 'req-cli-1']);
    assert.equal(r.code, 0, r.err);
    for (const expected of ['2025-01-02T03:04:05.000Z', 'application_user.missing', 'unauthorized_client', '203.0.113.7', 'This application cannot use client_credentials.', 'has no application user', '--app-user <user-name>', 'application.app_user']) {
      assert.ok(r.out.includes(expected), `explain output lacks ${expected}:\n${r.out}`);
    }
    const j = await json<{ reason: string; fix: string; setting: string; at: string }>(['explain', 'req-cli-1']);
    assert.equal(j.setting, 'application.app_user');
    assert.equal(j.at, '2025-01-02T03:04:05.000Z');
    const unknown = await cli(['explain', 'req-nope']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.err, /No refusal was recorded with request id "req-nope"/);
    assert.match(unknown.err, /A 503 temporarily_unavailable answer is not a refusal and is never recorded/);
  });

  it('prints the reason catalogue as text, JSON and Markdown', async () => {
    const md = await main(['node', 'latchkey', 'reasons', '--markdown'], captureOnly());
    assert.equal(md, 0);
    const r = await cli(['reasons']);
    assert.match(r.out, /grant\.client_credentials_disabled\n {2}What happened:/);
    const list = await json<{ code: string; fix: string }[]>(['reasons']);
    assert.ok(list.some((e) => e.code === 'user.locked_out'));
    const markdown = await cli(['reasons', '--markdown']);
    assert.match(markdown.out, /^# Refusal reasons/);
    assert.match(markdown.out, /\| `client_auth\.secret_mismatch` \|/);
  });

  it('answers --help for every command with exit 0', async () => {
    const commands = [
      [], ['users'], ['users', 'create'], ['users', 'update'], ['users', 'list'], ['scopes'], ['scopes', 'create'], ['scopes', 'list'],
      ['roles'], ['roles', 'list'], ['apps'], ['apps', 'create'], ['apps', 'update'], ['apps', 'rotate-secret'], ['apps', 'list'],
      ['apps', 'show'], ['properties'], ['properties', 'set'], ['properties', 'list'], ['tokens'], ['tokens', 'list'],
      ['tokens', 'revoke'], ['explain'], ['reasons'], ['serve'],
    ];
    for (const c of commands) {
      let out = '';
      const code = await main(['node', 'latchkey', ...c, '--help'], { ...captureOnly(), out: (t) => void (out += t) });
      assert.equal(code, 0, c.join(' '));
      assert.match(out, /Usage: latchkey/, c.join(' '));
    }
  });

  it('reports a usage error with exit 2', async () => {
    const r = await cli(['apps', 'create', '--grants', 'password']);
    assert.equal(r.code, 2);
    assert.match(r.err, /required option '--name <name>'/);
  });

  it('runs the real binary', async () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'latchkey.js'), 'users', 'list', '--db', db, '--json'], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const users = JSON.parse(r.stdout) as { userName: string }[];
    assert.ok(users.some((u) => u.userName === 'svc-integration'));
  });
});

function captureOnly(): IO {
  return { out: () => undefined, err: () => undefined, readStdin: async () => '' };
}
