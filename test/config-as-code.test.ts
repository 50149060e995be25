import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Ajv2020 from 'ajv/dist/2020.js';
import YAML from 'yaml';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { registryJsonSchema, SCHEMA_FILE } from '../src/config-as-code/document.js';
import { NOT_EXPORTED } from '../src/config-as-code/snapshot.js';
import { CONSOLE_CLIENT_ID } from '../src/registry/bootstrap.js';
import { updateApplication } from '../src/registry/applications.js';
import { updateRole } from '../src/registry/roles.js';
import { createRule } from '../src/registry/rules.js';
import type { AuditEntry } from '../src/domain/model.js';
import { FIXTURE_APIS } from './helpers/api.js';
import { generateTestKey, jwksOf } from './helpers/idp-server.js';
import { adminToken } from './helpers/admin.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Configuration as code through the real CLI (in process, as test/cli.test.ts runs it), on the
 * storage of LATCHKEY_TEST_STORAGE: export an instance holding every kind of object, apply it to an
 * empty instance, export again (identical, YAML and JSON); dry runs, second applies, --prune, bad
 * files, secrets.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

async function cli(db: string, args: readonly string[], stdin = ''): Promise<Run> {
  let out = '';
  let err = '';
  const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => stdin };
  const code = await main(['node', 'latchkey', ...args, '--db', db], io);
  return { code, out, err };
}

async function ok(db: string, args: readonly string[], stdin = ''): Promise<string> {
  const r = await cli(db, args, stdin);
  assert.equal(r.code, 0, `latchkey ${args.join(' ')}: ${r.err}${r.out}`);
  return r.out;
}

const exportOf = (server: TestServer, format: 'yaml' | 'json' = 'yaml') => ok(server.db, ['export', '--format', format]);

async function auditOf(server: TestServer): Promise<AuditEntry[]> {
  return server.latchkey.storage.audit.list({ limit: 100_000 });
}

interface ApplyJson {
  dryRun: boolean;
  prune: boolean;
  changes: { action: string; kind: string; name: string; clientId: string | null; path: string | null; fields: { field: string; from: unknown; to: unknown }[]; note: string | null }[];
  warnings: string[];
  applied: number;
  secrets: { clientId: string; name: string; clientSecret: string }[];
}

async function applyJson(db: string, file: string, ...flags: string[]): Promise<ApplyJson> {
  return JSON.parse(await ok(db, ['apply', '-f', file, '--json', '--apis', NO_APIS, ...flags])) as ApplyJson;
}

let NO_APIS = '';

/** Fills `db` with at least one of every kind of object, through the CLI. */
async function populate(server: TestServer): Promise<void> {
  const db = server.db;
  const key = await generateTestKey();
  await ok(db, ['users', 'create', 'svc-integration', '--roles', 'itil,reporting']);
  await ok(db, ['users', 'create', 'alice', '--inactive', '--password-stdin'], 'alice-password-1\n');
  await ok(db, ['users', 'create', 'bob', '--name', 'Bob Example', '--email', 'bob@example.com', '--email-verified', 'true', '--zoneinfo', 'Europe/Paris', '--address', '{"locality":"Paris","country":"France"}']);
  await updateRole(registryDeps(server), 'reporting', 'Reads the reports');
  await ok(db, ['scopes', 'create', 'export.read', '--description', 'Read the nightly export']);
  await ok(db, ['scopes', 'create', 'orders.write']);
  await ok(db, ['properties', 'set', 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true']);
  await ok(db, ['properties', 'set', 'latchkey.keys.rotation_days', '30']);
  await ok(db, ['properties', 'set', 'latchkey.password.lockout.user_threshold', '200']);
  // Above the default per-user limit (50): apply must set the per-user limit first (it may never be below this one).
  await ok(db, ['properties', 'set', 'latchkey.password.lockout.threshold', '100']);
  const nightly = JSON.parse(await ok(db, ['apps', 'create', '--name', 'Nightly export', '--grants', 'client_credentials', '--app-user', 'svc-integration', '--scopes', 'export.read,orders.write', '--json'])) as { clientId: string };
  await updateApplication(registryDeps(server), nightly.clientId, { accessTokenLifespan: 600 });
  await ok(db, ['apps', 'create', '--name', 'Portal', '--grants', 'authorization_code,refresh_token', '--public', '--redirect-uri', 'https://portal.example.com/callback', '--redirect-uri', 'http://127.0.0.1:8400/cb', '--logo-uri', 'https://portal.example.com/logo.png', '--token-format', 'jwt', '--audience', 'https://api.example.com']);
  const orders = JSON.parse(await ok(db, ['apps', 'create', '--name', 'Orders sync', '--grants', 'jwt_bearer', '--jwks', jwksOf(key), '--token-format', 'jwt', '--json'])) as { clientId: string };
  await updateApplication(registryDeps(server), orders.clientId, { refreshTokenLifespan: 86400 });
  await ok(db, ['apps', 'create', '--name', 'Key client', '--grants', 'client_credentials', '--jwks-uri', 'https://keys.example.com/jwks.json', '--app-user', 'bob']);
  await ok(db, ['apps', 'create', '--name', 'Resource server', '--grants', 'client_credentials', '--app-user', 'bob', '--can-introspect', '--rate-limit', '600/1m']);
  await ok(db, ['apps', 'create', '--name', 'Admin scripts', '--grants', 'password', '--admin-api', 'true']);
  await ok(db, ['apps', 'create', '--name', 'Twin', '--grants', 'client_credentials', '--app-user', 'svc-integration']);
  await ok(db, ['apps', 'create', '--name', 'Twin', '--grants', 'password', '--inactive']);
  await ok(db, ['properties', 'set', 'latchkey.rate_limit.address', '300']);
  await ok(db, ['properties', 'set', 'latchkey.metrics.token_sha256', 'ab'.repeat(32)]);
  await ok(db, ['idps', 'add', '--name', 'corp', '--issuer', 'https://login.example.com', '--metadata-url', 'https://login.example.com/.well-known/openid-configuration', '--audience', 'latchkey', '--no-check']);
  await ok(db, ['idps', 'add', '--name', 'partner', '--issuer', 'https://partner.example.org', '--jwks-uri', 'https://partner.example.org/keys', '--audience', 'api://orders', '--user-claim', 'email', '--inactive', '--no-check']);
  await ok(db, ['idps', 'add', '--name', 'ids', '--issuer', 'https://ids.example.net', '--jwks-uri', 'https://ids.example.net/jwks', '--audience', 'latchkey', '--user-field', 'id', '--no-check']);
  // Rules of every kind, reporting and enforced (the enforced rate limit applied itself to "Nightly export").
  const deps = registryDeps(server);
  await createRule(deps, { kind: 'api_requirement', target: 'acme/orders', scopes: ['orders.write'], note: 'Writes need orders.write from July' });
  await createRule(deps, { kind: 'api_requirement', target: 'GET acme/orders/{id}', roles: ['itil'] }, { mode: 'enforce' });
  await createRule(deps, { kind: 'property', target: 'glide.oauth.inbound.ropc.grant_type.disabled', value: 'true' });
  await createRule(deps, { kind: 'application', target: orders.clientId, scopes: ['orders.write'] });
  await createRule(deps, { kind: 'rate_limit', target: nightly.clientId, value: '100/1m' }, { mode: 'enforce' });
}

describe('configuration as code: latchkey export / apply', () => {
  let source: TestServer;
  let target: TestServer;
  let files: string;
  let yamlExport = '';
  let jsonExport = '';

  before(async () => {
    source = await startTestServer();
    target = await startTestServer();
    files = source.dir;
    NO_APIS = join(files, 'no-apis');
    mkdirSync(NO_APIS);
    await populate(source);
  });

  after(async () => {
    await source?.close();
    await target?.close();
  });

  it('exports every kind of object in a stable order, byte-identical twice, without secrets, ids or times', async () => {
    yamlExport = await exportOf(source);
    jsonExport = await exportOf(source, 'json');
    assert.equal(await exportOf(source), yamlExport);
    assert.equal(await exportOf(source, 'json'), jsonExport);
    const doc = JSON.parse(jsonExport);
    assert.deepEqual(YAML.parse(yamlExport), doc);
    assert.equal(doc.apiVersion, 'latchkey/v1');
    assert.equal(doc.kind, 'Registry');
    assert.deepEqual(doc.properties, {
      'glide.oauth.inbound.client.credential.grant_type.enabled': true,
      'latchkey.keys.rotation_days': 30,
      // A SHA-256 property travels as its hash (the /metrics token itself is never stored).
      'latchkey.metrics.token_sha256': 'ab'.repeat(32),
      'latchkey.password.lockout.threshold': 100,
      'latchkey.password.lockout.user_threshold': 200,
      'latchkey.rate_limit.address': 300,
    });
    assert.equal(doc.applications.find((a: { name: string }) => a.name === 'Resource server')?.rateLimit, '600/1m');
    assert.deepEqual(doc.roles, [{ name: 'itil', description: '' }, { name: 'reporting', description: 'Reads the reports' }]);
    assert.deepEqual(doc.scopes.map((s: { name: string }) => s.name), ['export.read', 'orders.write']);
    assert.deepEqual(doc.users, [
      { userName: 'admin', active: true, roles: ['admin'], profile: {} },
      { userName: 'alice', active: false, roles: [], profile: {} },
      { userName: 'bob', active: true, roles: [], profile: { name: 'Bob Example', email: 'bob@example.com', emailVerified: true, zoneinfo: 'Europe/Paris', address: { locality: 'Paris', country: 'France' } } },
      { userName: 'svc-integration', active: true, roles: ['itil', 'reporting'], profile: {} },
    ]);
    const names = doc.applications.map((a: { name: string }) => a.name);
    assert.deepEqual(names, ['Admin scripts', 'Key client', 'Nightly export', 'Orders sync', 'Portal', 'Resource server', 'Twin', 'Twin']);
    const twins = doc.applications.filter((a: { name: string }) => a.name === 'Twin');
    assert.ok(twins[0].clientId < twins[1].clientId, 'applications of one name by client id');
    const admin = doc.applications.find((a: { name: string }) => a.name === 'Admin scripts');
    assert.deepEqual([admin.adminApi, admin.scopes, admin.grantTypes], [true, [], ['password', 'refresh_token']]);
    assert.equal(doc.applications.find((a: { name: string }) => a.name === 'Orders sync').jwks.keys.length, 1);
    assert.deepEqual(doc.identityProviders.map((p: { name: string }) => p.name), ['corp', 'ids', 'partner']);
    assert.ok(!doc.applications.some((a: { clientId: string }) => a.clientId === CONSOLE_CLIENT_ID), 'the built-in console application is left out');
    assert.ok(!doc.scopes.some((s: { name: string }) => s.name === 'useraccount' || s.name === 'latchkey.admin'), 'built-in scopes are left out');
    assert.ok(!('apis' in doc), 'no APIs section without --apis');
    // Nothing that differs between instances or would let anyone in.
    // (A rule's id is its identity, the same on every instance: `id: rule_…` is exported.)
    assert.doesNotMatch(yamlExport, /secret|passwordHash|scrypt|createdAt|updatedAt|enforcedAt|\bid: (?!rule_)/i);
    const nightlyId = doc.applications.find((a: { name: string }) => a.name === 'Nightly export').clientId;
    const ordersId = doc.applications.find((a: { name: string }) => a.name === 'Orders sync').clientId;
    const stored = await source.latchkey.storage.rules.list();
    const idOf = (kind: string, target: string) => stored.find((r) => r.kind === kind && r.target === target)?.id;
    // By kind, then target: the fields of each kind only, in the order given.
    assert.deepEqual(doc.rules, [
      { id: idOf('api_requirement', 'GET acme/orders/{id}'), kind: 'api_requirement', target: 'GET acme/orders/{id}', roles: ['itil'], mode: 'enforce', note: null },
      { id: idOf('api_requirement', 'acme/orders'), kind: 'api_requirement', target: 'acme/orders', scopes: ['orders.write'], mode: 'report', note: 'Writes need orders.write from July' },
      { id: idOf('property', 'glide.oauth.inbound.ropc.grant_type.disabled'), kind: 'property', target: 'glide.oauth.inbound.ropc.grant_type.disabled', value: 'true', mode: 'report', note: null },
      { id: idOf('application', ordersId), kind: 'application', target: ordersId, scopes: ['orders.write'], mode: 'report', note: null },
      { id: idOf('rate_limit', nightlyId), kind: 'rate_limit', target: nightlyId, value: '100/1m', mode: 'enforce', note: null },
    ]);
    assert.ok(doc.rules.every((r: { id?: string }) => /^rule_[0-9a-z]{12}$/.test(r.id ?? '')));
    // The enforced rate-limit rule applied its change: the application's entry says so too.
    assert.equal(doc.applications.find((a: { name: string }) => a.name === 'Nightly export').rateLimit, '100/1m');
    const storedIds = [...(await source.latchkey.storage.users.list()).map((u) => u.id), ...(await source.latchkey.storage.applications.list()).map((a) => a.id)];
    for (const id of storedIds) assert.ok(!yamlExport.includes(id), `internal id ${id} exported`);
  });

  it('exports every field of every record, but those left out on purpose (NOT_EXPORTED)', async () => {
    const storage = source.latchkey.storage;
    const doc = JSON.parse(jsonExport);
    const records = {
      user: (await storage.users.list())[0],
      role: (await storage.roles.list())[0],
      scope: (await storage.scopes.list())[0],
      application: (await storage.applications.list())[0],
      identityProvider: (await storage.identityProviders.list())[0],
      rule: (await storage.rules.list())[0],
    };
    const entries = { user: doc.users[0], role: doc.roles[0], scope: doc.scopes[0], application: doc.applications[0], identityProvider: doc.identityProviders[0], rule: doc.rules.find((r: { id: string }) => r.id === records.rule?.id) };
    for (const [kind, record] of Object.entries(records) as [keyof typeof records, object][]) {
      const exported = new Set(Object.keys(entries[kind]));
      const left = Object.keys(record).filter((field) => !exported.has(field) && !(field in NOT_EXPORTED[kind]));
      assert.deepEqual(left, [], `${kind} fields neither exported nor listed in NOT_EXPORTED (src/config-as-code/snapshot.ts)`);
    }
  });

  it('publishes the JSON Schema (the committed file is the generated one, `export --schema` prints it) and an export validates against it', async () => {
    const committed = readFileSync(join(ROOT, SCHEMA_FILE), 'utf8');
    assert.equal(committed, `${JSON.stringify(registryJsonSchema(), null, 2)}\n`, `${SCHEMA_FILE} is stale: regenerate it with node bin/latchkey.js export --schema > ${SCHEMA_FILE}`);
    const printed = await cli(source.db, ['export', '--schema']);
    assert.equal(printed.out, committed);
    const ajv = new Ajv2020.default({ strict: true, allErrors: true });
    const validate = ajv.compile(JSON.parse(committed));
    assert.ok(validate(JSON.parse(jsonExport)), JSON.stringify(validate.errors));
    assert.ok(validate(YAML.parse(yamlExport)), JSON.stringify(validate.errors));
    // The schema refuses what apply refuses on its own (it can fail).
    assert.equal(validate({ ...JSON.parse(jsonExport), users: [{ userName: 'x', password: 'p' }] }), false);
    assert.equal(validate({ apiVersion: 'latchkey/v2', kind: 'Registry' }), false);
  });

  it('applies the export to an empty instance, prints each new secret once, and the export of that instance is identical (YAML and JSON)', async () => {
    const file = join(files, 'registry.yaml');
    writeFileSync(file, yamlExport);
    const auditBefore = (await auditOf(target)).length;
    const r = await cli(target.db, ['apply', '-f', file, '--apis', NO_APIS]);
    assert.equal(r.code, 0, r.err + r.out);
    // The plan comes first, then the secrets: one row per new confidential application.
    assert.match(r.out, /^Plan: \d+ to create, \d+ to update, 0 to delete\./);
    assert.ok(r.out.indexOf('ACTION') < r.out.indexOf('Applied'));
    const doc = JSON.parse(jsonExport);
    const confidential = doc.applications.filter((a: { public: boolean }) => !a.public);
    const printed = new Map([...r.out.matchAll(/client id: +(\S+)\n +client secret: +(\S+)/g)].map((m) => [m[1] as string, m[2] as string]));
    assert.deepEqual([...printed.keys()].sort(), confidential.map((a: { clientId: string }) => a.clientId).sort(), 'one secret per new confidential application');
    assert.equal((r.out.match(/lk_cs_/g) ?? []).length, confidential.length, 'each secret printed once');
    assert.equal(await exportOf(target), yamlExport);
    assert.equal(await exportOf(target, 'json'), jsonExport);
    // The rules came across under their ids, in their modes (created, and enforced where they were).
    const rules = await target.latchkey.storage.rules.list();
    assert.deepEqual(rules.map((x) => [x.id, x.mode]).sort(), doc.rules.map((x: { id: string; mode: string }) => [x.id, x.mode]).sort());
    assert.ok(rules.filter((x) => x.mode === 'enforce').every((x) => x.enforcedBy?.startsWith('cli:') === true));
    // Every change was audited as the CLI's (one entry per object or property, actor cli:<user>).
    const added = (await auditOf(target)).slice(0, (await auditOf(target)).length - auditBefore);
    assert.ok(added.length >= 4 + 2 + 2 + 3 + 8 + 3, `${added.length} audit entries`);
    assert.ok(added.every((e) => e.actor.startsWith('cli:')));
    assert.ok(added.some((e) => e.action === 'application.create' && e.target === doc.applications[0].clientId));
    for (const rule of doc.rules) assert.ok(added.some((e) => e.action === 'rule.create' && e.target === rule.id), `rule.create ${rule.id}`);
    assert.deepEqual(added.filter((e) => e.action === 'rule.enforce').map((e) => e.target).sort(), doc.rules.filter((x: { mode: string }) => x.mode === 'enforce').map((x: { id: string }) => x.id).sort());
    // The secret printed works: a client-credentials token for the new "Nightly export".
    const nightly = doc.applications.find((a: { name: string }) => a.name === 'Nightly export');
    const secret = printed.get(nightly.clientId) as string;
    await refreshCache(target);
    const token = await tokenRequest(target.url, { basic: [nightly.clientId, secret], form: { grant_type: 'client_credentials', scope: 'export.read' } });
    assert.equal(token.status, 200, token.text);
    // The secret is stored only as a hash, and not in the audit log.
    assert.ok(!JSON.stringify(await auditOf(target)).includes(secret));
  });

  it('applying the same file twice plans and changes nothing the second time (YAML and JSON)', async () => {
    const auditBefore = await auditOf(target);
    for (const [name, text] of [['again.yaml', yamlExport], ['again.json', jsonExport]] as const) {
      const file = join(files, name);
      writeFileSync(file, text);
      const plain = await ok(target.db, ['apply', '-f', file, '--apis', NO_APIS]);
      assert.equal(plain, `No changes: the instance matches ${file}.\n`);
      const json = await applyJson(target.db, file);
      assert.deepEqual([json.changes, json.applied, json.secrets], [[], 0, []]);
    }
    assert.deepEqual(await auditOf(target), auditBefore);
  });

  it('--dry-run prints the plan and changes nothing (exit 0, export and audit unchanged)', async () => {
    const doc = JSON.parse(jsonExport);
    doc.scopes.push({ name: 'new.scope', description: 'Planned' });
    doc.users.find((u: { userName: string }) => u.userName === 'bob').roles = ['itil'];
    doc.applications.push({ name: 'Planned app', grantTypes: ['password'] });
    doc.properties['latchkey.keys.rotation_days'] = 60;
    const file = join(files, 'dry.json');
    writeFileSync(file, JSON.stringify(doc));
    const [exportBefore, auditBefore] = [await exportOf(target), await auditOf(target)];
    const r = await cli(target.db, ['apply', '-f', file, '--dry-run', '--apis', NO_APIS]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^Plan: 2 to create, 2 to update, 0 to delete\./);
    for (const word of ['latchkey.keys.rotation_days', 'value: 30 → 60', 'roles: [] → [itil]', 'Planned app (new client id)', 'secret generated, shown once']) assert.ok(r.out.includes(word), word);
    assert.match(r.out, /Dry run: nothing was changed/);
    assert.doesNotMatch(r.out, /lk_cs_/);
    const json = await applyJson(target.db, file, '--dry-run');
    assert.equal(json.dryRun, true);
    assert.deepEqual(json.changes.map((c) => `${c.action} ${c.kind} ${c.name} ${c.path}`), [
      'update property latchkey.keys.rotation_days properties["latchkey.keys.rotation_days"]',
      'create scope new.scope scopes[2]',
      'update user bob users[2]',
      `create application Planned app applications[${doc.applications.length - 1}]`,
    ]);
    const [property, scope, user, app] = json.changes;
    assert.deepEqual(property?.fields, [{ field: 'value', from: 30, to: 60 }]);
    assert.deepEqual(scope?.fields, [{ field: 'description', from: null, to: 'Planned' }]);
    assert.deepEqual(user?.fields, [{ field: 'roles', from: [], to: ['itil'] }]);
    // The plan shows what the registry will store: the grant password implies refresh_token.
    assert.deepEqual([app?.clientId, app?.fields, app?.note], [null, [{ field: 'grantTypes', from: null, to: ['password', 'refresh_token'] }], 'client id generated; secret generated, shown once']);
    assert.equal(await exportOf(target), exportBefore);
    assert.deepEqual(await auditOf(target), auditBefore);
  });

  it('a file the registry would refuse names the path of every problem, exits 1 and changes nothing', async () => {
    const cases: { edit: (doc: any) => void; expect: RegExp[] }[] = [
      { edit: (d) => (d.users[1].password = 'x'), expect: [/users\[1\]\.password: unknown field/] },
      { edit: (d) => (d.applications[2].grantTypes = ['client_credentials', 'bogus']), expect: [/applications\[2\]\.grantTypes: Unknown grant type "bogus"/] },
      {
        edit: (d) => {
          d.applications[0].redirectUris = ['javascript:alert(1)'];
          d.applications[3].scopes = ['no.such.scope'];
          d.applications[5].appUser = 'ghost';
        },
        expect: [/applications\[0\]\.redirectUris: /, /applications\[3\]\.scopes: No auth scope named "no\.such\.scope"/, /applications\[5\]\.appUser: No user named "ghost"/],
      },
      { edit: (d) => (d.properties['latchkey.keys.rotation_days'] = 'soon'), expect: [/properties\["latchkey\.keys\.rotation_days"\]: .*number/i] },
      { edit: (d) => (d.properties['no.such.property'] = true), expect: [/properties\["no\.such\.property"\]: unknown field/] },
      { edit: (d) => d.scopes.push({ name: 'useraccount' }), expect: [/scopes\[2\]\.name: useraccount is a built-in scope/] },
      { edit: (d) => d.applications.push({ clientId: CONSOLE_CLIENT_ID, name: 'Mine' }), expect: [/applications\[8\]\.clientId: latchkey-console is the built-in console application/] },
      { edit: (d) => d.users.push({ userName: 'bob' }), expect: [/users\[4\]: the user "bob" is also users\[2\]/] },
      { edit: (d) => (d.applications[1].clientId = d.applications[0].clientId), expect: [/applications\[1\]: the client id ".*" is also applications\[0\]/] },
      { edit: (d) => (d.identityProviders[0].jwksUri = 'https://x.example/jwks'), expect: [/identityProviders\[0\]\.metadataUrl: give exactly one of metadataUrl and jwksUri/] },
      { edit: (d) => (d.apiVersion = 'latchkey/v0'), expect: [/apiVersion: must be latchkey\/v1/] },
    ];
    const [exportBefore, auditBefore] = [await exportOf(target), await auditOf(target)];
    for (const [i, c] of cases.entries()) {
      const doc = JSON.parse(jsonExport);
      doc.users.find((u: { userName: string }) => u.userName === 'bob').active = false; // a valid change beside the bad ones
      c.edit(doc);
      const file = join(files, `bad-${i}.yaml`);
      writeFileSync(file, YAML.stringify(doc));
      const r = await cli(target.db, ['apply', '-f', file, '--apis', NO_APIS]);
      assert.equal(r.code, 1, `case ${i}: ${r.out}`);
      assert.match(r.err, /nothing was changed/);
      for (const re of c.expect) assert.match(r.err, re, `case ${i}`);
      assert.equal(r.out, '', 'no plan is printed for a document that cannot be applied');
    }
    const broken = join(files, 'broken.yaml');
    writeFileSync(broken, 'apiVersion: latchkey/v1\nkind: Registry\nusers: [\n');
    const r = await cli(target.db, ['apply', '-f', broken, '--apis', NO_APIS]);
    assert.equal(r.code, 1);
    assert.match(r.err, /broken\.yaml is not valid YAML or JSON: .*line 4, column 1/);
    const missing = await cli(target.db, ['apply', '-f', join(files, 'nope.yaml')]);
    assert.deepEqual([missing.code, /Cannot read .*nope\.yaml: no such file/.test(missing.err)], [1, true]);
    assert.equal(await exportOf(target), exportBefore);
    assert.deepEqual(await auditOf(target), auditBefore);
  });

  it('never deletes without --prune; with --prune deletes what the file lacks (dependants first), never the built-ins', async () => {
    const db = target.db;
    await ok(db, ['users', 'create', 'extra-user', '--roles', 'extra-role']);
    await ok(db, ['scopes', 'create', 'extra.scope']);
    await ok(db, ['apps', 'create', '--name', 'Extra app', '--grants', 'client_credentials', '--app-user', 'extra-user', '--scopes', 'extra.scope']);
    await ok(db, ['idps', 'add', '--name', 'extra-idp', '--issuer', 'https://extra.example.com', '--jwks-uri', 'https://extra.example.com/jwks', '--audience', 'x', '--no-check']);
    await ok(db, ['properties', 'set', 'latchkey.secrets.rotation_days', '90']);
    const file = join(files, 'prune.yaml');
    writeFileSync(file, yamlExport);
    assert.deepEqual((await applyJson(db, file)).changes, [], 'without --prune, what the file lacks stays');
    const planned = await applyJson(db, file, '--prune', '--dry-run');
    assert.deepEqual(planned.changes.map((c) => `${c.action} ${c.kind} ${c.name} ${c.path}`), [
      'update property latchkey.secrets.rotation_days properties',
      'delete application Extra app applications',
      'delete identityProvider extra-idp identityProviders',
      'delete user extra-user users',
      'delete scope extra.scope scopes',
      'delete role extra-role roles',
    ]);
    const r = await cli(db, ['apply', '-f', file, '--prune', '--apis', NO_APIS]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Plan: 0 to create, 1 to update, 5 to delete\./);
    assert.equal(await exportOf(target), yamlExport);
    const storage = target.latchkey.storage;
    assert.ok((await storage.applications.byClientId(CONSOLE_CLIENT_ID)) !== undefined, 'the console application stays');
    assert.deepEqual((await storage.scopes.list()).filter((s) => s.builtIn).map((s) => s.name).sort(), ['address', 'email', 'latchkey.admin', 'offline_access', 'openid', 'phone', 'profile', 'useraccount']);
    assert.ok((await storage.roles.byName('admin')) !== undefined);
    const actions = (await auditOf(target)).slice(0, 6).map((e) => e.action).sort();
    assert.deepEqual(actions, ['application.delete', 'idp.delete', 'property.set', 'role.delete', 'scope.delete', 'user.delete']);
  });

  it('--prune is refused with the dependants named when the file keeps something that needs what it would delete', async () => {
    const doc = JSON.parse(jsonExport);
    doc.users = doc.users.filter((u: { userName: string }) => u.userName !== 'bob'); // "Key client" still acts as bob
    const file = join(files, 'dangling.json');
    writeFileSync(file, JSON.stringify(doc));
    const before = await exportOf(target);
    const r = await cli(target.db, ['apply', '-f', file, '--prune', '--apis', NO_APIS]);
    assert.equal(r.code, 1);
    assert.match(r.err, /users: cannot delete user "bob" \(not in the document, --prune\): .*"Key client"/);
    assert.equal(await exportOf(target), before);
  });

  it('matches an entry without a client id by name; --secrets-out writes new secrets to a new owner-only file, never over one', async () => {
    const doc = JSON.parse(jsonExport);
    doc.applications.push({ name: 'Reporting job', grantTypes: ['client_credentials'], appUser: 'svc-integration', scopes: ['export.read'] });
    const file = join(files, 'new-app.yaml');
    writeFileSync(file, YAML.stringify(doc));
    const secrets = join(files, 'secrets.json');
    const r = await cli(target.db, ['apply', '-f', file, '--secrets-out', secrets, '--apis', NO_APIS]);
    assert.equal(r.code, 0, r.err);
    assert.doesNotMatch(r.out, /lk_cs_/, 'the secret is not printed');
    assert.match(r.out, /Wrote the client secrets of 1 new application to /);
    if (process.platform !== 'win32') assert.equal(statSync(secrets).mode & 0o777, 0o600);
    const written = JSON.parse(readFileSync(secrets, 'utf8')) as { applications: { clientId: string; name: string; clientSecret: string }[] };
    assert.equal(written.applications.length, 1);
    const app = written.applications[0] as { clientId: string; name: string; clientSecret: string };
    assert.equal(app.name, 'Reporting job');
    await refreshCache(target);
    const token = await tokenRequest(target.url, { basic: [app.clientId, app.clientSecret], form: { grant_type: 'client_credentials' } });
    assert.equal(token.status, 200, token.text);
    // Matched by its name the next time: nothing to do, so the existing secrets file is no obstacle.
    assert.deepEqual((await applyJson(target.db, file, '--secrets-out', secrets)).changes, []);
    // A new secret is never written over an existing file: refused before anything changes.
    doc.applications.push({ name: 'Another job', grantTypes: ['client_credentials'], appUser: 'bob' });
    writeFileSync(file, YAML.stringify(doc));
    const before = await exportOf(target);
    const refused = await cli(target.db, ['apply', '-f', file, '--secrets-out', secrets, '--apis', NO_APIS]);
    assert.equal(refused.code, 1);
    assert.match(refused.err, /--secrets-out .* exists already.*Nothing was changed/);
    assert.equal(await exportOf(target), before);
    assert.equal(JSON.parse(readFileSync(secrets, 'utf8')).applications[0].clientSecret, app.clientSecret);
  });

  it('reads the document from standard input and applies hand-written entries with defaults, idempotently', async () => {
    const text = [
      'apiVersion: latchkey/v1',
      'kind: Registry',
      'scopes:',
      '  - name: reports.read',
      'users:',
      '  - userName: carol',
      '    roles: [auditor]',
      'applications:',
      '  - name: Carol tool',
      '    public: true',
      '    grantTypes: [authorization_code]',
      '    redirectUris: [com.example.carol:/cb]',
      '    scopes: [reports.read]',
      '',
    ].join('\n');
    const first = JSON.parse(await ok(target.db, ['apply', '-f', '-', '--json', '--apis', NO_APIS], text)) as ApplyJson;
    assert.deepEqual(first.changes.map((c) => `${c.action} ${c.kind} ${c.name}`), ['create role auditor', 'create scope reports.read', 'create user carol', 'create application Carol tool']);
    assert.equal(first.changes[0]?.note, 'carried by users[0]');
    assert.deepEqual(first.secrets, [], 'a public application has no secret');
    const user = await target.latchkey.storage.users.byName('carol');
    assert.deepEqual([user?.active, user?.passwordHash, user?.roles], [true, null, ['auditor']], 'a user apply creates has no password');
    const second = JSON.parse(await ok(target.db, ['apply', '-f', '-', '--json', '--apis', NO_APIS], text)) as ApplyJson;
    assert.deepEqual(second.changes, []);
  });

  it('lists the APIs read-only with --apis, and warns (never fails) about APIs this instance does not serve or scopes they miss', async () => {
    const withApis = await ok(source.db, ['export', '--format', 'json', '--apis', FIXTURE_APIS]);
    const doc = JSON.parse(withApis);
    assert.ok(Array.isArray(doc.apis) && doc.apis.length > 0);
    const orders = doc.apis.find((a: { id: string }) => a.id === 'orders');
    assert.ok(orders.routes.length > 0 && orders.routes.every((r: { method: string; path: string }) => typeof r.method === 'string' && typeof r.path === 'string'));
    const file = join(files, 'apis.json');
    writeFileSync(file, withApis);
    const elsewhere = await applyJson(source.db, file, '--dry-run');
    assert.deepEqual(elsewhere.changes, [], 'the APIs section changes nothing');
    assert.ok(elsewhere.warnings.some((w) => /apis\[\d+\]: this instance does not serve the API .*orders/.test(w)), elsewhere.warnings.join('\n'));
    assert.ok(elsewhere.warnings.some((w) => /requires the scope \S+, which this instance will not have/.test(w)), elsewhere.warnings.join('\n'));
    const served = JSON.parse(await ok(source.db, ['apply', '-f', file, '--json', '--dry-run', '--apis', FIXTURE_APIS])) as ApplyJson;
    assert.ok(!served.warnings.some((w) => /does not serve|other security|does not list/.test(w)), served.warnings.join('\n'));
    assert.ok(existsSync(FIXTURE_APIS));
  });

  it('the example of docs/configuration-as-code.md applies, and applies idempotently', async () => {
    const docs = readFileSync(join(ROOT, 'docs', 'configuration-as-code.md'), 'utf8');
    const example = /<!-- example: registry document -->\n```yaml\n([\s\S]*?)```/.exec(docs)?.[1];
    assert.ok(example !== undefined, 'the example block');
    const file = join(files, 'example.yaml');
    writeFileSync(file, example);
    const fresh = await startTestServer();
    try {
      const first = await applyJson(fresh.db, file);
      assert.deepEqual(first.changes.map((c) => `${c.action} ${c.kind} ${c.name}`), [
        'update property glide.oauth.inbound.client.credential.grant_type.enabled',
        'create role itil',
        'create scope export.read',
        'create user svc-integration',
        'create application Nightly export',
        'create application Portal',
        'create identityProvider corp',
      ]);
      assert.ok(first.changes.some((c) => c.clientId === 'portal-web'));
      assert.deepEqual(first.secrets.map((s) => s.name), ['Nightly export']);
      assert.deepEqual((await applyJson(fresh.db, file)).changes, []);
    } finally {
      await fresh.close();
    }
  });

  it('rules: created under their id in their mode, enforced or put back to report, fixed once created, deleted only with --prune', async () => {
    const fresh = await startTestServer();
    try {
      const db = fresh.db;
      const write = (name: string, doc: unknown) => {
        const file = join(files, name);
        writeFileSync(file, JSON.stringify(doc));
        return file;
      };
      await applyJson(db, write('rules-base.json', JSON.parse(jsonExport)));
      const base = JSON.parse(jsonExport);
      const storage = fresh.latchkey.storage;
      const ruleAt = (doc: any, kind: string) => doc.rules.findIndex((r: { kind: string }) => r.kind === kind);
      const ordersId = base.applications.find((a: { name: string }) => a.name === 'Orders sync').clientId;
      const serverId = base.applications.find((a: { name: string }) => a.name === 'Resource server').clientId;

      // A rule to create: the plan shows it (its id given, or "new rule" when apply generates one).
      const adding = JSON.parse(jsonExport);
      adding.rules.push({ id: 'rule_000000000001', kind: 'api_requirement', target: 'acme/orders', roles: ['reporting'], note: 'Reporting only' });
      adding.rules.push({ kind: 'api_requirement', target: 'PUT acme/orders/{id}', scopes: ['export.read'] });
      const planned = await applyJson(db, write('rules-add.json', adding), '--dry-run');
      const created = planned.changes.filter((c) => c.kind === 'rule');
      assert.deepEqual(created.map((c) => [c.action, c.name, c.path, c.note]), [
        ['create', 'rule_000000000001', `rules[${adding.rules.length - 2}]`, null],
        ['create', 'new rule', `rules[${adding.rules.length - 1}]`, 'rule id generated'],
      ]);
      assert.deepEqual(created[0]?.fields, [
        { field: 'kind', from: null, to: 'api_requirement' },
        { field: 'target', from: null, to: 'acme/orders' },
        { field: 'roles', from: null, to: ['reporting'] },
        { field: 'note', from: null, to: 'Reporting only' },
      ]);
      const plain = await ok(db, ['apply', '-f', join(files, 'rules-add.json'), '--dry-run', '--apis', NO_APIS]);
      assert.match(plain, /create +rule +rule_000000000001 +kind: api_requirement; target: acme\/orders; roles: \[reporting\]/);
      assert.equal((await storage.rules.byId('rule_000000000001')), undefined, 'a dry run creates nothing');
      const added = await applyJson(db, join(files, 'rules-add.json'));
      assert.equal(added.applied, 2);
      assert.ok(added.warnings.some((w) => /rules\[\d+\] \(rule_000000000001\): this instance does not serve the API acme\/orders/.test(w)), added.warnings.join('\n'));
      const made = await storage.rules.byId('rule_000000000001');
      assert.deepEqual([made?.kind, made?.target, made?.spec, made?.mode, made?.note], ['api_requirement', 'acme/orders', { roles: ['reporting'] }, 'report', 'Reporting only']);
      // Applied again (the generated one matched by what it says): nothing to do.
      assert.deepEqual((await applyJson(db, join(files, 'rules-add.json'))).changes, []);
      const exported = JSON.parse(await exportOf(fresh, 'json'));
      assert.equal(exported.rules.length, base.rules.length + 2);

      // Enforced, then put back to report (an api_requirement): one audited step each.
      const flip = JSON.parse(JSON.stringify(exported));
      const orders = flip.rules.find((r: { id: string }) => r.id === 'rule_000000000001');
      orders.mode = 'enforce';
      const enforced = await applyJson(db, write('rules-enforce.json', flip));
      assert.deepEqual(enforced.changes.map((c) => [c.action, c.kind, c.name, c.fields]), [['update', 'rule', 'rule_000000000001', [{ field: 'mode', from: 'report', to: 'enforce' }]]]);
      assert.equal((await storage.rules.byId('rule_000000000001'))?.mode, 'enforce');
      assert.equal((await storage.audit.list({ limit: 1 }))[0]?.action, 'rule.enforce');
      assert.deepEqual((await applyJson(db, join(files, 'rules-enforce.json'))).changes, []);
      orders.mode = 'report';
      const reported = await applyJson(db, write('rules-report.json', flip));
      assert.deepEqual(reported.changes.map((c) => [c.name, c.fields]), [['rule_000000000001', [{ field: 'mode', from: 'enforce', to: 'report' }]]]);
      assert.equal((await storage.audit.list({ limit: 1 }))[0]?.action, 'rule.report');

      // Enforcing a property rule the document does not describe otherwise applies its change.
      const ropc = JSON.parse(JSON.stringify(flip));
      ropc.rules[ruleAt(ropc, 'property')].mode = 'enforce';
      const switched = await applyJson(db, write('rules-ropc.json', ropc));
      assert.deepEqual(switched.changes.map((c) => `${c.action} ${c.kind} ${c.name}`), ['update property glide.oauth.inbound.ropc.grant_type.disabled', `update rule ${ropc.rules[ruleAt(ropc, 'property')].id}`]);
      await refreshCache(fresh);
      assert.equal((await fresh.latchkey.cache.properties())['glide.oauth.inbound.ropc.grant_type.disabled'], true);
      assert.deepEqual((await applyJson(db, join(files, 'rules-ropc.json'))).changes, [], 'without --prune, the property left out stays as the rule set it');

      // An applied change cannot be put back to report: refused with its path, nothing changes.
      ropc.rules[ruleAt(ropc, 'property')].mode = 'report';
      const back = await cli(db, ['apply', '-f', write('rules-back.json', ropc), '--apis', NO_APIS]);
      assert.equal(back.code, 1);
      assert.match(back.err, /rules\[\d+\]\.mode: Rule rule_\w+ applied its change when it was enforced/);

      // Enforcing while the document says otherwise (the application's entry keeps its scopes) is refused, naming both.
      const scoped = JSON.parse(await exportOf(fresh, 'json'));
      const appRule = ruleAt(scoped, 'application');
      scoped.rules[appRule].mode = 'enforce';
      const appIndex = scoped.applications.findIndex((a: { clientId: string }) => a.clientId === ordersId);
      const before = await exportOf(fresh);
      const disagree = await cli(db, ['apply', '-f', write('rules-disagree.json', scoped), '--apis', NO_APIS]);
      assert.equal(disagree.code, 1, disagree.out);
      assert.match(disagree.err, new RegExp(`rules\\[${appRule}\\]\\.mode: enforcing rule rule_\\w+ applies application ${ordersId}: scopes orders\\.write, but applications\\[${appIndex}\\] has scopes \\[\\]`));
      assert.equal(await exportOf(fresh), before);
      // Saying it in both places applies it.
      scoped.applications[appIndex].scopes = ['orders.write'];
      const agreed = await applyJson(db, write('rules-agree.json', scoped));
      assert.deepEqual(agreed.changes.map((c) => `${c.action} ${c.kind}`), ['update application', 'update rule']);
      assert.deepEqual((await storage.applications.byClientId(ordersId))?.scopes, ['orders.write']);
      assert.deepEqual((await applyJson(db, join(files, 'rules-agree.json'))).changes, []);

      // A rule created enforced whose change the document undoes (an export of an instance where it
      // was set back): the document's value is kept, with a warning; the rule is the record.
      const undone = JSON.parse(await exportOf(fresh, 'json'));
      undone.rules.push({ id: 'rule_000000000002', kind: 'rate_limit', target: serverId, value: '50/1m', mode: 'enforce' });
      const kept = await applyJson(db, write('rules-undone.json', undone));
      assert.deepEqual(kept.changes.map((c) => `${c.action} ${c.kind} ${c.name}`), ['create rule rule_000000000002']);
      assert.ok(kept.warnings.some((w) => /rules\[\d+\]: rule rule_000000000002 .* is created enforced, .* applications\[\d+\] has rate limit 600\/1m: that is kept/.test(w)), kept.warnings.join('\n'));
      assert.equal((await storage.applications.byClientId(serverId))?.rateLimit, '600/1m');
      assert.equal((await storage.rules.byId('rule_000000000002'))?.mode, 'enforce');
      assert.deepEqual((await applyJson(db, join(files, 'rules-undone.json'))).changes, []);
      assert.deepEqual(JSON.parse(await exportOf(fresh, 'json')).applications, undone.applications);

      // What a rule says is fixed: an entry that changes it is refused, naming the field.
      const moved = JSON.parse(await exportOf(fresh, 'json'));
      const target0 = moved.rules.findIndex((r: { id: string }) => r.id === 'rule_000000000001');
      moved.rules[target0].target = 'acme/reports';
      const fixed = await cli(db, ['apply', '-f', write('rules-moved.json', moved), '--apis', NO_APIS]);
      assert.equal(fixed.code, 1);
      assert.match(fixed.err, new RegExp(`rules\\[${target0}\\]\\.target: rule rule_000000000001 says acme/orders requires one of the roles reporting .*fixed once it is created`));
      const twice = JSON.parse(await exportOf(fresh, 'json'));
      twice.rules.push({ ...twice.rules[0] });
      const dup = await cli(db, ['apply', '-f', write('rules-dup.json', twice), '--apis', NO_APIS]);
      assert.match(dup.err, new RegExp(`rules\\[${twice.rules.length - 1}\\]: the rule id "${twice.rules[0].id}" is also rules\\[0\\]`));

      // Left out: kept without --prune, deleted (first of the deletions) with it.
      const fewer = JSON.parse(await exportOf(fresh, 'json'));
      fewer.rules = fewer.rules.filter((r: { id: string }) => r.id !== 'rule_000000000001');
      fewer.applications = fewer.applications.filter((a: { name: string }) => a.name !== 'Twin');
      assert.deepEqual((await applyJson(db, write('rules-fewer.json', fewer))).changes, []);
      const pruned = await applyJson(db, join(files, 'rules-fewer.json'), '--prune');
      assert.deepEqual(pruned.changes.map((c) => `${c.action} ${c.kind} ${c.name}`), ['delete rule rule_000000000001', 'delete application Twin', 'delete application Twin']);
      assert.equal(await storage.rules.byId('rule_000000000001'), undefined);
      assert.equal((await storage.audit.list({ limit: 100 })).filter((e) => e.action === 'rule.delete' && e.target === 'rule_000000000001').length, 1);
    } finally {
      await fresh.close();
    }
  });
});

describe('configuration as code over the admin API: GET /export, POST /apply', () => {
  let server: TestServer;
  let token = '';
  let seed: TestServer;
  let seedYaml = '';

  const call = async (method: string, path: string, init: { body?: string; contentType?: string; accept?: string } = {}) => {
    const headers: Record<string, string> = { authorization: `Bearer ${token}` };
    if (init.contentType !== undefined) headers['content-type'] = init.contentType;
    if (init.accept !== undefined) headers.accept = init.accept;
    const res = await fetch(`${server.url}/admin/api/v1${path}`, { method, headers, ...(init.body === undefined ? {} : { body: init.body }) });
    const text = await res.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, type: res.headers.get('content-type') ?? '', headers: res.headers, text, json };
  };

  before(async () => {
    seed = await startTestServer();
    NO_APIS = join(seed.dir, 'no-apis');
    mkdirSync(NO_APIS, { recursive: true });
    await populate(seed);
    seedYaml = await exportOf(seed);
    server = await startTestServer();
    token = await adminToken(server);
  });
  after(async () => {
    await seed?.close();
    await server?.close();
  });

  it('exports the same document as the CLI, as JSON (default) or YAML (?format=yaml or Accept: application/yaml)', async () => {
    const json = await call('GET', '/export');
    assert.equal(json.status, 200, json.text);
    assert.match(json.type, /^application\/json/);
    assert.equal(json.text, await exportOf(server, 'json'));
    assert.equal(json.headers.get('cache-control'), 'no-store');
    const yaml = await call('GET', '/export?format=yaml');
    assert.match(yaml.type, /^application\/yaml/);
    assert.equal(yaml.text, await exportOf(server));
    assert.equal((await call('GET', '/export', { accept: 'application/yaml' })).text, yaml.text);
    const bad = await call('GET', '/export?format=xml');
    assert.deepEqual([bad.status, bad.json.field], [400, 'format']);
  });

  it('applies a YAML document: the plan, the secrets once, audited under the admin; a dry run and a second apply change nothing', async () => {
    const auditBefore = await auditOf(server);
    const dry = await call('POST', '/apply?dryRun=true', { body: seedYaml, contentType: 'application/yaml' });
    assert.equal(dry.status, 200, dry.text);
    assert.equal(dry.json.dryRun, true);
    assert.ok(dry.json.changes.length > 10);
    assert.deepEqual(dry.json.secrets, []);
    assert.deepEqual(await auditOf(server), auditBefore);
    const applied = await call('POST', '/apply', { body: seedYaml, contentType: 'application/yaml' });
    assert.equal(applied.status, 200, applied.text);
    assert.equal(applied.json.applied, dry.json.changes.length);
    assert.deepEqual(applied.json.changes, dry.json.changes);
    const nightly = applied.json.secrets.find((s: { name: string }) => s.name === 'Nightly export');
    assert.ok(nightly?.clientSecret.startsWith('lk_cs_'));
    // The cache was refreshed by the route: the new client works at once.
    const res = await tokenRequest(server.url, { basic: [nightly.clientId, nightly.clientSecret], form: { grant_type: 'client_credentials' } });
    assert.equal(res.status, 200, res.text);
    const added = (await auditOf(server)).slice(0, (await auditOf(server)).length - auditBefore.length);
    assert.ok(added.length > 10 && added.every((e) => e.actor === 'admin'));
    // The instance now holds the seed's registry, plus the admin test client the bearer token came from.
    const mine = YAML.parse((await call('GET', '/export?format=yaml')).text);
    const seeded = YAML.parse(seedYaml);
    mine.applications = mine.applications.filter((a: { name: string }) => !/password grant/.test(a.name));
    assert.deepEqual(mine, seeded);
    const again = await call('POST', '/apply', { body: seedYaml, contentType: 'application/yaml' });
    assert.deepEqual([again.status, again.json.changes, again.json.secrets], [200, [], []]);
  });

  it('refuses a document nested thousands deep (400, every time: the YAML composer would exhaust the stack), and stays up', async () => {
    const deep = {
      flow: '['.repeat(20_000),
      block: Array.from({ length: 400 }, (_, i) => `${' '.repeat(i)}- `).join('\n'),
      compact: '- '.repeat(5000),
      json: `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`,
    };
    for (let round = 0; round < 3; round++) {
      for (const [name, body] of Object.entries(deep)) {
        const res = await call('POST', '/apply?dryRun=true', { body, contentType: name === 'json' ? 'application/json' : 'application/yaml' });
        assert.equal(res.status, 400, `${name}: ${res.text.slice(0, 200)}`);
        assert.match(res.json.message, /nests too deeply/);
      }
    }
    assert.equal((await call('GET', '/export')).status, 200);
  });

  it('takes JSON bodies larger than the instance body limit (16 KiB here)', async () => {
    const doc = YAML.parse(seedYaml);
    for (let i = 0; i < 300; i++) doc.scopes.push({ name: `bulk.scope.${String(i).padStart(3, '0')}`, description: 'a scope created in bulk by a registry document' });
    const body = JSON.stringify(doc);
    assert.ok(body.length > 16 * 1024);
    const res = await call('POST', '/apply?dryRun=true', { body, contentType: 'application/json' });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.changes.filter((c: { kind: string }) => c.kind === 'scope').length, 300);
    // Past its own limit, the answer names that limit (and other routes keep the instance's).
    const huge = await call('POST', '/apply?dryRun=true', { body: 'x'.repeat(8 * 1024 * 1024 + 1), contentType: 'application/yaml' });
    assert.equal(huge.status, 413);
    assert.match(huge.json.error_description, /larger than 8388608 bytes/);
    const scope = await call('POST', '/scopes', { body: JSON.stringify({ name: 'x', description: 'x'.repeat(20_000) }), contentType: 'application/json' });
    assert.equal(scope.status, 413);
    assert.match(scope.json.error_description, /larger than 16384 bytes/);
  });

  it('a document that cannot be applied is 400 with every issue and its path, and changes nothing; ?prune deletes', async () => {
    const before = await call('GET', '/export');
    const doc = YAML.parse(seedYaml);
    doc.applications[1].grantTypes = ['bogus'];
    doc.users.push({ userName: 'not valid!' });
    const structural = await call('POST', '/apply', { body: JSON.stringify(doc), contentType: 'application/json' });
    assert.equal(structural.status, 400);
    assert.equal(structural.json.error, 'invalid_document');
    assert.deepEqual(structural.json.issues.map((i: { path: string }) => i.path), ['users[4].userName']);
    doc.users.pop();
    const refused = await call('POST', '/apply', { body: JSON.stringify(doc), contentType: 'application/json' });
    assert.deepEqual([refused.status, refused.json.error, refused.json.field], [400, 'refused', 'applications[1].grantTypes']);
    const garbage = await call('POST', '/apply', { body: '{"apiVersion":', contentType: 'application/json' });
    assert.deepEqual([garbage.status, garbage.json.error], [400, 'invalid_document']);
    const flag = await call('POST', '/apply?prune=maybe', { body: seedYaml });
    assert.deepEqual([flag.status, flag.json.field], [400, 'prune']);
    assert.equal((await call('GET', '/export')).text, before.text);
    const pruned = await call('POST', '/apply?prune=true', { body: seedYaml, contentType: 'application/yaml' });
    assert.equal(pruned.status, 200, pruned.text);
    assert.deepEqual(pruned.json.changes.map((c: { action: string; kind: string; name: string }) => `${c.action} ${c.kind} ${c.name}`), ['delete application Admin scripts (password grant)']);
  });
});
