/**
 * `latchkey migrate-db`: a SQLite database populated through the registry and with real tokens
 * issued by the token endpoint, copied into a fresh PostgreSQL database; then an instance on
 * PostgreSQL accepts the old tokens at an API, the old client secret and password at the token
 * endpoint, and still detects refresh-token reuse.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLatchkey, type Latchkey } from '../src/app.js';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { tokenKey } from '../src/core/crypto.js';
import type { NeutralRequest } from '../src/core/request.js';
import { createApplication } from '../src/registry/applications.js';
import { bootstrap } from '../src/registry/bootstrap.js';
import { createRule } from '../src/registry/rules.js';
import { addResource } from '../src/registry/resources.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { loadApis } from '../src/resource-server/load.js';
import { copyStorage, CopyFailedError, TargetNotEmptyError } from '../src/storage/copy.js';
import { createMemoryStorage } from '../src/storage/memory/adapter.js';
import { openPostgresStorage } from '../src/storage/postgres/adapter.js';
import { openSqliteStorage } from '../src/storage/sqlite/adapter.js';
import type { IdentityProvider, Rule, SigningKey } from '../src/domain/model.js';
import type { Storage } from '../src/storage/types.js';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.js';
import { makeIdentityProvider, makeSigningKey, makeToken } from './storage/contract.js';
import { BUILT_IN_GRANTS } from '../src/grants/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const clock = { now: () => Date.now() };
const FORM = 'application/x-www-form-urlencoded';

function request(method: string, path: string, headers: Record<string, string>, body?: string): NeutralRequest {
  return { method, path, query: new URLSearchParams(), headers, body, contentType: headers['content-type'], remoteAddress: '127.0.0.1', requestId: randomUUID() };
}
const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

async function token(lk: Latchkey, client: readonly [string, string], form: Record<string, string>) {
  const req = request('POST', '/oauth_token.do', { authorization: basic(...client), 'content-type': FORM }, new URLSearchParams(form).toString());
  const res = await lk.tokenEndpoint.handle(req);
  return { status: res.status, json: JSON.parse(res.body) as Record<string, string>, requestId: req.requestId };
}
async function whoami(lk: Latchkey, bearer: string) {
  await lk.cache.check();
  const res = await lk.apis.handle(request('GET', '/api/now/v1/whoami', { authorization: `Bearer ${bearer}` }));
  return { status: res.status, json: JSON.parse(res.body) as { result?: { user: string | null; application: { clientId: string } | null } } };
}

async function cli(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
  const code = await main(['node', 'latchkey', ...args], io);
  return { code, out, err };
}

describe('migrate-db from SQLite to PostgreSQL', () => {
  let dir: string;
  let sqlitePath: string;
  let db: TestDatabase;
  const issued: Record<string, string> = {};
  let nightly: readonly [string, string];
  let mobile: readonly [string, string];
  let refusalId: string;
  let sourceAdminHash: string | null;
  let sourceKeys: SigningKey[];
  let targetOwnKey: SigningKey;
  let idp: IdentityProvider;
  let rule: Rule;
  const wouldRequestId = randomUUID();

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-migrate-'));
    sqlitePath = join(dir, 'latchkey.db');
    const storage = openSqliteStorage({ path: sqlitePath });
    const deps = { storage, clock, grants: BUILT_IN_GRANTS };
    await bootstrap(deps, 'source-admin-password');
    await createScope(deps, 'orders.read', 'Read orders');
    await createUser(deps, { userName: 'svc-integration', roles: ['itil'] });
    await createUser(deps, { userName: 'alice', password: 'alice-password-1', roles: ['reader'] });
    const a = await createApplication(deps, { name: 'Nightly export', grantTypes: ['client_credentials'], appUser: 'svc-integration', scopes: ['orders.read'] });
    const m = await createApplication(deps, { name: 'Mobile app', grantTypes: ['password'] });
    nightly = [a.application.clientId, a.clientSecret!];
    mobile = [m.application.clientId, m.clientSecret!];
    await setProperty(deps, 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
    sourceAdminHash = (await storage.users.byName('admin'))!.passwordHash;

    const lk = createLatchkey({ storage, clock });
    await lk.start();
    const cc = await token(lk, nightly, { grant_type: 'client_credentials', scope: 'orders.read' });
    assert.equal(cc.status, 200, JSON.stringify(cc.json));
    issued.cc = cc.json.access_token!;
    const pw = await token(lk, mobile, { grant_type: 'password', username: 'alice', password: 'alice-password-1' });
    assert.equal(pw.status, 200, JSON.stringify(pw.json));
    const refreshed = await token(lk, mobile, { grant_type: 'refresh_token', refresh_token: pw.json.refresh_token! });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.json));
    issued.firstRefresh = pw.json.refresh_token!; // rotated now
    issued.access = refreshed.json.access_token!;
    issued.refresh = refreshed.json.refresh_token!;
    const revoked = await token(lk, nightly, { grant_type: 'client_credentials' });
    issued.revoked = revoked.json.access_token!;
    assert.equal((await lk.apis.handle(request('GET', '/api/now/v1/whoami', {}))).status, 404); // no APIs loaded here
    const bad = await token(lk, [nightly[0], 'wrong-secret'], { grant_type: 'client_credentials' });
    assert.equal(bad.status, 401);
    refusalId = bad.requestId;
    await lk.stop();
    await storage.tokens.revoke(tokenKey(issued.revoked), Date.now());
    await storage.tokens.insert([makeToken({ issuedAt: Date.now() - 7_200_000, expiresAt: Date.now() - 3_600_000 })]); // expired: left behind
    // Signing keys (one retired, one signing) and an identity provider; a code and a one-time id,
    // which are short-lived and not copied.
    const now = Date.now();
    await storage.keys.rotate(makeSigningKey({ activatesAt: now - 86_400_000 }), { retiresAt: 0, publishUntil: 0 });
    await storage.keys.rotate(makeSigningKey({ alg: 'RS256', activatesAt: now - 3_600_000 }), { retiresAt: now - 3_600_000, publishUntil: now + 3_600_000 });
    sourceKeys = await storage.keys.list();
    idp = makeIdentityProvider();
    await storage.identityProviders.create(idp);
    await storage.codes.insert({ hash: 'code-1', applicationId: 'a', userId: 'u', redirectUri: null, scopes: [], codeChallenge: null, issuedAt: now, expiresAt: now + 60_000, usedAt: null });
    await storage.replay.remember('jti-1', now + 60_000, now);
    // A report-only rule, and a "would refuse" record of it (a refusal record naming the rule).
    rule = await createRule(deps, { kind: 'api_requirement', target: 'acme/orders', scopes: ['orders.read'], note: 'orders.read from July' });
    // A registered external resource (RFC 8707).
    await addResource(deps, { uri: 'https://svc.example.test/api', name: 'Svc', scopes: ['orders.read'] });
    await storage.refusals.record({
      requestId: wouldRequestId, at: now, endpoint: 'api acme/orders', status: 403, error: 'insufficient_scope', reason: 'api.scope_missing', description: 'The token needs one of the scopes: orders.read.',
      hint: null, clientId: nightly[0], applicationName: 'Nightly export', userName: 'svc-integration', remoteAddress: '127.0.0.1', facts: { rule: rule.id }, ruleId: rule.id,
    });
    // Dynamic registration: a policy, an initial access token (its hash) and a registration record.
    await storage.registrationPolicies.put({ name: 'agents', description: null, spec: { grantTypes: ['authorization_code'] }, createdAt: now, updatedAt: now });
    await storage.initialAccessTokens.create({ id: 'iat_copy', hash: 'iat-hash', policy: 'agents', usesLeft: 2, expiresAt: null, createdAt: now, createdBy: 'cli:test', lastUsedAt: null, revokedAt: null });
    // Token exchange (RFC 8693): a policy.
    await storage.exchangePolicies.put({ clientId: 'reg-client', spec: { subjectApplications: ['*'], identityProviders: [], idTokens: false, resources: ['*'], scopes: ['*'], impersonation: false }, createdAt: now, updatedAt: now });
    await storage.registrations.create({ clientId: 'reg-client', applicationId: 'reg-app', tokenHash: 'rat-hash', source: 'iat:iat_copy', fingerprint: 'fp', metadata: '{}', policy: 'agents', createdAt: now, updatedAt: now, lastUsedAt: null });
    await storage.close();

    db = await createTestDatabase();
    // The target as a first `latchkey serve` on it leaves it: built-in role, scope and its own admin.
    const target = await openPostgresStorage({ url: db.url });
    await bootstrap({ storage: target, clock }, 'target-admin-password');
    targetOwnKey = makeSigningKey({ activatesAt: Date.now() });
    await target.keys.rotate(targetOwnKey, { retiresAt: 0, publishUntil: 0 }); // as the keyring's first start does
    await target.close();
  });

  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await db?.drop();
  });

  it('copies everything, reporting progress on stderr and a summary', async () => {
    const r = await cli(['migrate-db', '--from', sqlitePath, '--to', db.url, '--json']);
    assert.equal(r.code, 0, r.err);
    const summary = JSON.parse(r.out) as { tables: { table: string; source: number; copied: number; skipped: number; note: string }[]; notCopied: { what: string }[] };
    const t = Object.fromEntries(summary.tables.map((x) => [x.table, x]));
    assert.deepEqual(Object.keys(t), ['roles', 'scopes', 'users', 'applications', 'properties', 'signing_keys', 'identity_providers', 'rules', 'resources', 'registration_policies', 'exchange_policies', 'initial_access_tokens', 'registrations', 'tokens', 'refusals', 'audit', 'usage']);
    assert.deepEqual([t.signing_keys?.source, t.signing_keys?.copied], [2, 2]);
    assert.match(t.signing_keys?.note ?? '', /same key-encryption key.*the target's own key retired/);
    assert.deepEqual([t.identity_providers?.source, t.identity_providers?.copied], [1, 1]);
    assert.deepEqual(summary.notCopied.map((n) => n.what), ['authorization codes', 'one-time ids (jti) of client assertions and JWT bearer grants', 'device authorizations (RFC 8628 device and user codes)', 'pushed authorization requests (RFC 9126)']);
    assert.deepEqual([t.roles?.copied, t.roles?.skipped], [2, 1]); // itil, reader; admin was there
    assert.deepEqual([t.scopes?.copied, t.scopes?.skipped], [1, 8]); // the built-in useraccount, latchkey.admin, openid, offline_access, profile, email, phone and address were there
    assert.equal(t.users?.copied, 3);
    assert.equal(t.applications?.copied, 2);
    assert.equal(t.properties?.copied, 1);
    // cc, revoked cc, two access + two refresh (one rotated) from the password flow, one expired.
    assert.deepEqual([t.tokens?.source, t.tokens?.copied, t.tokens?.skipped], [7, 6, 1]);
    assert.equal(t.refusals?.copied, 2, 'the refusal and the "would refuse" record');
    assert.deepEqual([t.rules?.source, t.rules?.copied], [1, 1]);
    assert.deepEqual([t.resources?.source, t.resources?.copied], [1, 1]);
    assert.deepEqual([t.registration_policies?.copied, t.initial_access_tokens?.copied, t.registrations?.copied], [1, 1, 1]);
    assert.deepEqual([t.exchange_policies?.source, t.exchange_policies?.copied], [1, 1]);
    // The source instance's usage counts (its tokens and refusals, flushed at stop), every row.
    assert.ok((t.usage?.source ?? 0) >= 2, JSON.stringify(t.usage));
    assert.equal(t.usage?.copied, t.usage?.source);
    const copiedUsage = await openPostgresStorage({ url: db.url });
    try {
      const nightlyTotals = (await copiedUsage.usage.list({ since: 0, clientId: nightly[0] })).filter((u) => u.scope === '');
      assert.deepEqual(nightlyTotals.map((u) => [u.tokens, u.refusals]), [[2, 1]]);
      assert.deepEqual((await copiedUsage.resources.list()).map((r) => [r.uri, r.name, r.scopes]), [['https://svc.example.test/api', 'Svc', ['orders.read']]]);
    } finally {
      await copiedUsage.close();
    }
    assert.match(r.err, /Copying .*latchkey\.db \(sqlite\) to postgres@127\.0\.0\.1:5432\/latchkey_test_\w+ \(postgres\)/);
    assert.match(r.err, /tokens: 6 of 7 copied, 1 skipped \(expired tokens are not copied\)/);
  });

  it('leaves an instance on PostgreSQL that accepts the old tokens, secret and password, and still detects reuse', async () => {
    const storage = await openPostgresStorage({ url: db.url });
    const lk = createLatchkey({ storage, clock, router: await loadApis(join(ROOT, 'apis'), { required: true }) });
    await lk.start();
    try {
      const cc = await whoami(lk, issued.cc!);
      assert.equal(cc.status, 200, JSON.stringify(cc.json));
      assert.equal(cc.json.result?.user, 'svc-integration');
      assert.equal(cc.json.result?.application?.clientId, nightly[0]);
      assert.equal((await whoami(lk, issued.access!)).json.result?.user, 'alice');
      assert.equal((await whoami(lk, issued.revoked!)).status, 401);
      assert.equal((await token(lk, nightly, { grant_type: 'client_credentials' })).status, 200, 'the old client secret works');
      assert.equal((await token(lk, mobile, { grant_type: 'password', username: 'alice', password: 'alice-password-1' })).status, 200, 'the password hash came along');
      assert.equal((await token(lk, mobile, { grant_type: 'refresh_token', refresh_token: issued.refresh! })).status, 200, 'the live refresh token rotates');
      const reuse = await token(lk, mobile, { grant_type: 'refresh_token', refresh_token: issued.firstRefresh! });
      assert.equal(reuse.status, 400);
      assert.equal(reuse.json.error, 'invalid_grant');
      assert.equal((await whoami(lk, issued.access!)).status, 401, 'reuse of a pre-migration refresh token revoked its family');
      const admin = await storage.users.byName('admin');
      assert.equal(admin?.passwordHash, sourceAdminHash, "the source's admin replaced the target's");
      assert.equal((await storage.refusals.byRequestId(refusalId))?.reason, 'client_auth.secret_mismatch');
      assert.equal(((await lk.cache.properties())['glide.oauth.inbound.client.credential.grant_type.enabled']), true);
      // Signing keys as stored (still encrypted, same times); the target's own key retired unpublished.
      const keys = await storage.keys.list();
      for (const k of sourceKeys) assert.deepEqual(keys.find((x) => x.kid === k.kid), k);
      const own = keys.find((k) => k.kid === targetOwnKey.kid)!;
      assert.ok(own.retiresAt !== null && own.retiresAt <= Date.now() && own.publishUntil !== null && own.publishUntil <= Date.now(), JSON.stringify(own));
      assert.equal(keys.filter((k) => k.retiresAt === null).length, 1);
      assert.deepEqual(await storage.identityProviders.byId(idp.id), idp);
      // The rule as stored, and its record; the instance's rule book reads it.
      assert.deepEqual(await storage.rules.byId(rule.id), rule);
      assert.equal((await storage.refusals.byRequestId(wouldRequestId))?.ruleId, rule.id);
      assert.deepEqual((await storage.refusals.list({ ruleId: rule.id, outcome: 'would_refuse' })).map((r) => r.requestId), [wouldRequestId]);
      assert.deepEqual((await lk.rules.load()).rules.map((r) => r.id), [rule.id]);
      assert.deepEqual(await storage.codes.consume('code-1', Date.now()), { outcome: 'not_found' }, 'codes are not copied');
    } finally {
      await lk.stop();
      await storage.close();
    }
  });

  it('refuses a target that is not empty, the same database twice, and a missing source', async () => {
    const again = await cli(['migrate-db', '--from', sqlitePath, '--to', db.url]);
    assert.equal(again.code, 1);
    assert.match(again.err, /The target database is not empty: it has 1 identity provider; 2 applications; 1 property; tokens; 1 rule; 1 registered resource; 1 registration policy; 1 initial access token; 1 client registration; 1 token exchange policy; refusal records; application usage counts; roles itil, reader; scope orders\.read; users alice, svc-integration\./);
    const same = await cli(['migrate-db', '--from', sqlitePath, '--to', sqlitePath]);
    assert.equal(same.code, 2);
    assert.match(same.err, /same database/);
    const missing = await cli(['migrate-db', '--from', join(dir, 'nope.db'), '--to', join(dir, 'other.db')]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /There is no SQLite database at .*nope\.db/);
  });
});

describe('copyStorage', () => {
  it('copies signing keys as stored, the unretired one last, and retires the target\'s own', async () => {
    const source = createMemoryStorage();
    const target = createMemoryStorage();
    const now = Date.now();
    const retired = makeSigningKey({ kid: 'z-retired', activatesAt: now - 10_000 });
    const current = makeSigningKey({ kid: 'a-current', activatesAt: now - 5_000 });
    await source.keys.rotate(retired, { retiresAt: 0, publishUntil: 0 });
    await source.keys.rotate(current, { retiresAt: now - 5_000, publishUntil: now + 60_000 });
    const own = makeSigningKey({ activatesAt: now - 1_000 });
    await target.keys.rotate(own, { retiresAt: 0, publishUntil: 0 });
    const tables = await copyStorage(source, target, { now });
    assert.deepEqual(tables.find((t) => t.table === 'signing_keys')?.copied, 2);
    const copied = await target.keys.list();
    assert.deepEqual(copied.filter((k) => k.kid !== own.kid), await source.keys.list());
    assert.deepEqual(copied.find((k) => k.kid === own.kid), { ...own, retiresAt: now, publishUntil: now });

    // A target whose only key came from its first start keeps it when the source has none.
    const keyless = createMemoryStorage();
    const target2 = createMemoryStorage();
    await target2.keys.rotate(own, { retiresAt: 0, publishUntil: 0 });
    await copyStorage(keyless, target2, { now });
    assert.deepEqual(await target2.keys.list(), [own]);
  });

  it("refuses a target admin the source does not have, and explains a failure part-way", async () => {
    const source = createMemoryStorage();
    const target = createMemoryStorage();
    await bootstrap({ storage: target, clock }, 'target-admin-password');
    await source.roles.create({ name: 'admin', description: '', builtIn: true });
    await assert.rejects(copyStorage(source, target, { now: Date.now() }), (e: unknown) => e instanceof TargetNotEmptyError && /source has no user admin/.test(e.message));

    const empty = createMemoryStorage();
    await bootstrap({ storage: source, clock }, 'source-admin-password');
    await source.tokens.insert([makeToken({ expiresAt: Date.now() + 60_000 })]);
    const failing: Storage = { ...empty, tokens: { ...empty.tokens, importAll: async () => Promise.reject(new Error('database unavailable (ECONNRESET)')) } };
    await assert.rejects(copyStorage(source, failing, { now: Date.now() }), (e: unknown) => {
      assert.ok(e instanceof CopyFailedError);
      assert.equal(e.table, 'tokens');
      assert.match(e.message, /copying tokens failed: database unavailable \(ECONNRESET\)/);
      assert.equal(e.tables.find((t) => t.table === 'users')?.copied, 1);
      return true;
    });
  });
});
