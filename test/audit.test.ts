/**
 * The audit log and the activity counters (issue 6): CLI changes are recorded with actor
 * cli:<os user>, before and after, and never a secret or a hash; `latchkey audit` shows them;
 * token requests and API calls are counted per minute and flushed to storage.
 */
import assert from 'node:assert/strict';
import BetterSqlite3 from 'better-sqlite3';
import { readFileSync, existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { after, before, describe, it } from 'node:test';
import { ActivityCounter, bucketOf } from '../src/audit/activity.js';
import { changedFields, cliActor, recordChange, redact } from '../src/audit/log.js';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { hashSecret } from '../src/core/crypto.js';
import { createApplication, rotateSecret } from '../src/registry/applications.js';
import { createMemoryStorage } from '../src/storage/memory/adapter.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { refreshCache, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { BUILT_IN_GRANTS } from '../src/grants/index.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const ACTOR = `cli:${userInfo().username}`;

interface Result {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

describe('audit log and activity', () => {
  let server: TestServer;
  let clientId = '';
  const secrets: string[] = [];
  let accessToken = '';

  async function cli(args: readonly string[], stdin = ''): Promise<Result> {
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => stdin };
    const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
    return { code, out, err };
  }
  async function json<T>(args: readonly string[], stdin = ''): Promise<T> {
    const r = await cli([...args, '--json'], stdin);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.out) as T;
  }
  const entries = (q: { target?: string; action?: string } = {}) => server.latchkey.storage.audit.list({ ...q, limit: 1000 });
  const parsed = (text: string | null) => (text === null ? null : (JSON.parse(text) as Record<string, unknown>));

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    // A wide terminal: the table cases read one row a line, an application's creation included
    // (wrapping is test/cli-output.test.ts).
    process.env.COLUMNS = '4000';
  });
  after(async () => server.close());

  describe('CLI changes are audited', () => {
    it('users create/update: actor cli:<os user>, before and after, no password hash', async () => {
      assert.equal(cliActor(), ACTOR);
      await json(['users', 'create', 'svc-audit', '--roles', 'itil', '--password-stdin'], 'first-Passw0rd\n');
      await json(['users', 'update', 'svc-audit', '--roles', 'itil,reporting', '--password-stdin'], 'second-Passw0rd\n');
      const [update, create] = await entries({ target: 'svc-audit' });
      assert.equal(create?.action, 'user.create');
      assert.equal(create?.actor, ACTOR);
      assert.equal(create?.before, null);
      assert.deepEqual(parsed(create!.after)?.roles, ['itil']);
      assert.equal(parsed(create!.after)?.password, 'set');
      assert.equal(update?.action, 'user.update');
      assert.equal(update?.actor, ACTOR);
      assert.deepEqual(parsed(update!.before)?.roles, ['itil']);
      assert.deepEqual(parsed(update!.after)?.roles, ['itil', 'reporting']);
      assert.equal(parsed(update!.after)?.password, 'changed');
      for (const e of [create!, update!]) assert.doesNotMatch(`${e.before} ${e.after}`, /passwordHash|scrypt|Passw0rd/);
      // The role the update created is audited too.
      assert.equal((await entries({ target: 'reporting', action: 'role.create' })).length, 1);
    });

    it('apps create/update/rotate-secret: before and after, "secret rotated", never the secret or its hash', async () => {
      await json(['properties', 'set', CC, 'true']);
      const created = await json<{ clientId: string; clientSecret: string }>(['apps', 'create', '--name', 'Audited app', '--grants', 'client_credentials', '--app-user', 'svc-audit']);
      clientId = created.clientId;
      secrets.push(created.clientSecret);
      await json(['apps', 'update', clientId, '--name', 'Audited app (renamed)', '--access-token-lifespan', '10m']);
      const rotated = await json<{ clientSecret: string }>(['apps', 'rotate-secret', clientId]);
      secrets.push(rotated.clientSecret);
      const [rotation, update, create] = await entries({ target: clientId });
      assert.deepEqual([create?.action, update?.action, rotation?.action], ['application.create', 'application.update', 'application.rotate_secret']);
      for (const e of [create, update, rotation]) assert.equal(e?.actor, ACTOR);
      assert.equal(parsed(create!.after)?.name, 'Audited app');
      assert.equal(parsed(create!.after)?.secret, 'set');
      assert.deepEqual(
        changedFields(update!).map((c) => [c.field, c.before, c.after]),
        [['name', 'Audited app', 'Audited app (renamed)'], ['accessTokenLifespan', 1800, 600], ['updatedAt', parsed(update!.before)?.updatedAt, parsed(update!.after)?.updatedAt]],
      );
      assert.equal(parsed(rotation!.after)?.secret, 'rotated');
      assert.equal(parsed(rotation!.before)?.secret, 'set');
      for (const e of [create!, update!, rotation!]) {
        const text = `${e.before} ${e.after}`;
        assert.doesNotMatch(text, /secretHash/);
        for (const s of secrets) {
          assert.ok(!text.includes(s), 'no client secret in the audit log');
          assert.ok(!text.includes(hashSecret(s)), 'no secret hash in the audit log');
        }
      }
    });

    it('properties set: the old and the new value', async () => {
      await json(['properties', 'set', 'latchkey.password.lockout.threshold', '7']);
      const [e] = await entries({ target: 'latchkey.password.lockout.threshold' });
      assert.equal(e?.action, 'property.set');
      assert.equal(e?.actor, ACTOR);
      assert.equal(e?.before, null, 'never set before: the default applied');
      assert.deepEqual(parsed(e!.after), { value: '7' });
      await json(['properties', 'set', 'latchkey.password.lockout.threshold', '9']);
      const [second] = await entries({ target: 'latchkey.password.lockout.threshold' });
      assert.deepEqual([parsed(second!.before), parsed(second!.after)], [{ value: '7' }, { value: '9' }]);
      const [cc] = await entries({ target: CC });
      assert.deepEqual(parsed(cc!.after), { value: 'true' });
    });

    it('tokens revoke: by the token handle, never the token', async () => {
      await refreshCache(server);
      const r = await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [clientId, secrets[1]!] });
      assert.equal(r.status, 200, r.text);
      accessToken = String(r.json?.access_token);
      const revoked = await json<{ handle: string }>(['tokens', 'revoke', '-'], accessToken);
      const [e] = await entries({ action: 'token.revoke' });
      assert.equal(e?.target, revoked.handle);
      assert.match(revoked.handle, /^tk_[\w-]{22}$/);
      assert.equal(e?.actor, ACTOR);
      assert.deepEqual(parsed(e!.after), { handle: revoked.handle, kind: 'access', status: 'revoked', revoked: 1 });
      assert.ok(!JSON.stringify(e).includes(accessToken));
    });

    it('keeps no secret, secret hash, password hash or token anywhere in the audit table', async () => {
      const all = await entries();
      const text = JSON.stringify(all);
      for (const s of secrets) {
        assert.ok(!text.includes(s));
        assert.ok(!text.includes(hashSecret(s)));
      }
      assert.ok(!text.includes(accessToken));
      assert.doesNotMatch(text, /scrypt|secretHash|passwordHash|privateKeyEnc/);
      const user = await server.latchkey.storage.users.byName('svc-audit');
      assert.ok(user?.passwordHash != null && !text.includes(user.passwordHash));
      if (server.storageKind === 'sqlite') {
        // The audit table's rows as stored, read with SQLite itself, and the file's bytes (with
        // its write-ahead log): the secrets themselves are nowhere in the database.
        const db = new BetterSqlite3(server.db, { readonly: true, fileMustExist: true });
        const rows = JSON.stringify(db.prepare('SELECT * FROM audit').all());
        db.close();
        assert.ok(rows.includes('application.rotate_secret'));
        for (const s of secrets) {
          assert.ok(!rows.includes(s) && !rows.includes(hashSecret(s)), 'no secret or secret hash in the audit table');
        }
        assert.ok(!rows.includes(user!.passwordHash!), 'no password hash in the audit table');
        const bytes = [server.db, `${server.db}-wal`].filter(existsSync).map((f) => readFileSync(f).toString('latin1')).join('');
        for (const s of secrets) assert.ok(!bytes.includes(s), 'a client secret is in the database file');
        assert.ok(!bytes.includes(accessToken), 'a token is in the database file');
      }
    });

    it('`latchkey audit` lists entries newest first with WHEN, ACTOR, ACTION, TARGET and CHANGES; filters; --json', async () => {
      const r = await cli(['audit', '--target', clientId]);
      assert.equal(r.code, 0, r.err);
      const lines = r.out.trimEnd().split('\n');
      assert.match(lines[0] ?? '', /^WHEN\s+ACTOR\s+ACTION\s+TARGET\s+CHANGES$/);
      assert.equal(lines.length, 2 + 3);
      assert.match(lines[2] ?? '', new RegExp(`${ACTOR.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\s+application\\.rotate_secret\\s+${clientId}\\s+.*secret: set→rotated`));
      assert.match(lines[3] ?? '', /application\.update .*name: Audited app→Audited app \(renamed\); accessTokenLifespan: 30m→10m/);
      assert.match(lines[4] ?? '', /application\.create .*name=Audited app/);
      assert.doesNotMatch(r.out, /updatedAt/);
      const props = await json<{ action: string; before: unknown; after: unknown; changes: string; at: string }[]>(['audit', '--action', 'property.set', '--since', '1h']);
      assert.ok(props.length >= 3 && props.every((p) => p.action === 'property.set'));
      assert.deepEqual(props[0]?.after, { value: '9' });
      assert.equal(props[0]?.changes, 'value: 7→9');
      assert.match(props[0]?.at ?? '', /^\d{4}-\d\d-\d\dT/);
      assert.equal((await json<unknown[]>(['audit', '--limit', '2'])).length, 2);
      const bad = await cli(['audit', '--since', 'yesterday']);
      assert.equal(bad.code, 2);
      assert.match(bad.err, /--since takes a duration/);
    });
  });

  describe('activity counters', () => {
    it('counts token requests (issued and refused) and API calls (all and refused), flushed to storage', async () => {
      const { latchkey } = server;
      await latchkey.activity.flush();
      const since = bucketOf(Date.now()) - 60_000;
      const total = async (metric: string) => (await latchkey.storage.activity.series(metric, since)).reduce((n, r) => n + r.count, 0);
      const before = { issued: await total('token.issued'), refused: await total('token.refused'), calls: await total('api.call'), apiRefused: await total('api.refused') };
      const tokens: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [clientId, secrets[1]!] });
        assert.equal(r.status, 200, r.text);
        tokens.push(String(r.json?.access_token));
      }
      for (let i = 0; i < 2; i++) {
        const r = await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [clientId, 'wrong-secret'] });
        assert.equal(r.status, 401);
      }
      for (const t of tokens) assert.equal((await apiCall(server.url, { path: '/api/test/echo', bearer: t })).status, 200);
      assert.equal((await apiCall(server.url, { path: '/api/test/echo' })).status, 401);
      assert.equal((await apiCall(server.url, { path: '/api/test/echo', bearer: 'lk_at_not-a-token' })).status, 401);
      await latchkey.activity.flush();
      assert.equal(await total('token.issued'), before.issued + 3);
      assert.equal(await total('token.refused'), before.refused + 2);
      assert.equal(await total('api.call'), before.calls + 5);
      assert.equal(await total('api.refused'), before.apiRefused + 2);
      const series = await latchkey.storage.activity.series('token.issued', since);
      assert.ok(series.every((r) => r.bucket % 60_000 === 0));
    });
  });
});

describe('audit helpers', () => {
  it('redacts secret-bearing fields at any depth and keeps times', () => {
    assert.deepEqual(redact({ a: 1, secretHash: 'h', passwordHash: 'p', privateKeyEnc: 'k', clientSecret: 's', nested: [{ password: 'x', ok: true }], secretRotatedAt: 5, passwordChangedAt: 6 }), {
      a: 1,
      nested: [{ ok: true }],
      secretRotatedAt: 5,
      passwordChangedAt: 6,
    });
  });

  it('records actor system by default, and a failing audit store does not fail the change', async () => {
    const storage = createMemoryStorage();
    const clock = { now: () => 1_700_000_000_000 };
    await recordChange({ storage, clock }, { action: 'x.y', target: 't', before: null, after: { a: 1 } });
    const [e] = await storage.audit.list({});
    assert.equal(e?.actor, 'system');
    assert.match(e?.id ?? '', /^[0-9a-f]{32}$/);
    const broken = { ...storage, audit: { ...storage.audit, record: async () => Promise.reject(new Error('disk full')) } };
    const app = await createApplication({ storage: broken, clock, grants: BUILT_IN_GRANTS }, { name: 'A', grantTypes: ['client_credentials'] });
    const again = await rotateSecret({ storage: broken, clock, actor: 'alice' }, app.application.clientId);
    assert.ok(again.clientSecret);
  });

  it('the activity counter adds per minute, flushes, and keeps counts a failing store refused', async () => {
    const storage = createMemoryStorage();
    let now = 1_700_000_000_000;
    let fail = true;
    const store = { ...storage.activity, add: async (rows: Parameters<typeof storage.activity.add>[0]) => (fail ? Promise.reject(new Error('down')) : storage.activity.add(rows)) };
    const warnings: unknown[] = [];
    const counter = new ActivityCounter({ store, clock: { now: () => now }, logger: { info() {}, warn: (o) => void warnings.push(o), error() {} } });
    counter.count('api.call');
    counter.count('api.call');
    now += 60_000;
    counter.count('api.call');
    counter.count('token.issued', 5);
    await counter.flush();
    assert.equal(warnings.length, 1);
    fail = false;
    await counter.stop();
    const m = bucketOf(1_700_000_000_000);
    assert.deepEqual(await storage.activity.series('api.call', 0), [{ bucket: m, count: 2 }, { bucket: m + 60_000, count: 1 }]);
    assert.deepEqual(await storage.activity.series('token.issued', 0), [{ bucket: m + 60_000, count: 5 }]);
    await counter.flush();
    assert.deepEqual(await storage.activity.series('api.call', 0), [{ bucket: m, count: 2 }, { bucket: m + 60_000, count: 1 }], 'nothing counted twice');
  });
});
