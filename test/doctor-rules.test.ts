/**
 * `latchkey doctor` on report-only rules (docs/rules.md): a reporting rule that real requests
 * matched is rule_would_refuse (who, how many, why, and the fix); one that matched nothing for a
 * week is rule_no_traffic (information: enforce it, or check its target); an enforced API
 * requirement on an API the server does not serve is rule_api_not_loaded. The "would refuse"
 * records come from real calls to the fixture APIs; the counters are flushed as the server does.
 * Runs on SQLite and, with LATCHKEY_TEST_STORAGE=postgres, on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { wouldRefuseMetric } from '../src/audit/would-refuse.js';
import { ManualClock } from '../src/core/clock.js';
import { runDoctor, type Finding } from '../src/diagnostics/doctor.js';
import { createApplication, updateApplication } from '../src/registry/applications.js';
import { createRule, deleteRule, enforceRule } from '../src/registry/rules.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { ApiRouter } from '../src/resource-server/router.js';
import type { Rule } from '../src/domain/model.js';
import { adminToken, bearerClient } from './helpers/admin.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const DAY = 86_400_000;
const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';

let server: TestServer;
const apps = { reader: '', lister: '', idle: '' };
const secrets = { reader: '', lister: '' };

const ruleIds = (findings: readonly Finding[], id: string) => findings.filter((f) => f.id === id).map((f) => f.target);
const one = (findings: readonly Finding[], id: string, target: string): Finding => {
  const found = findings.filter((f) => f.id === id && f.target === target);
  assert.equal(found.length, 1, `one ${id} for ${target}: ${JSON.stringify(findings, null, 2)}`);
  return found[0] as Finding;
};

async function doctor(at?: number): Promise<Finding[]> {
  const clock = at === undefined ? server.latchkey.clock : new ManualClock(at);
  return runDoctor({ storage: server.latchkey.storage, router: server.latchkey.router, clock });
}

async function cli(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
  const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
  return { code, out, err };
}

async function token(clientId: string, secret: string): Promise<string> {
  const res = await tokenRequest(server.url, { basic: [clientId, secret], form: { grant_type: 'client_credentials', scope: 'orders.read' } });
  assert.equal(res.status, 200, res.text);
  return res.json?.access_token as string;
}

/** Waits (bounded) until `count` "would refuse" records of the rule are kept: they are written after the answer. */
async function records(rule: Rule, count: number): Promise<void> {
  const until = Date.now() + 5000;
  for (;;) {
    const kept = await server.latchkey.storage.refusals.list({ ruleId: rule.id, outcome: 'would_refuse' });
    if (kept.length >= count) return;
    assert.ok(Date.now() < until, `${kept.length} of ${count} records of ${rule.id} kept`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  server = await startTestServer({ apisDir: FIXTURE_APIS });
  const deps = registryDeps(server);
  await setProperty(deps, CC, 'true');
  for (const s of ['orders.read', 'orders.admin']) if ((await server.latchkey.storage.scopes.byName(s)) === undefined) await createScope(deps, s, s);
  await createUser(deps, { userName: 'svc-orders' });
  await createUser(deps, { userName: 'carol', password: 'carol-password-1' });
  const reader = await createApplication(deps, { name: 'Order reader', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read'] });
  const lister = await createApplication(deps, { name: 'Order lister', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read'] });
  const idle = await createApplication(deps, { name: 'Idle partner', grantTypes: ['client_credentials'], appUser: 'svc-orders', scopes: ['orders.read'] });
  apps.reader = reader.application.clientId;
  apps.lister = lister.application.clientId;
  apps.idle = idle.application.clientId;
  secrets.reader = reader.clientSecret ?? '';
  secrets.lister = lister.clientSecret ?? '';
  await refreshCache(server);
});

after(async () => {
  await server?.close();
});

describe('latchkey doctor: report-only rules', () => {
  it('no rules, no rule findings (with the APIs loaded and traffic flowing)', async () => {
    const bearer = await token(apps.reader, secrets.reader);
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer })).status, 200);
    await server.latchkey.activity.flush();
    const findings = await doctor();
    assert.deepEqual(findings.filter((f) => f.id.startsWith('rule_')), []);
    assert.deepEqual(await doctor(Date.now() + 30 * DAY).then((f) => f.filter((x) => x.id.startsWith('rule_'))), []);
  });

  it('rule_would_refuse: the clients real requests came from, how many, the latest reason, and the fix (then enforce)', async () => {
    const deps = registryDeps(server);
    const rule = await createRule(deps, { kind: 'api_requirement', target: 'acme/orders', scopes: ['orders.admin'], note: 'Admins only from July' });
    const basic = await createRule(deps, { kind: 'property', target: 'latchkey.api.basic_auth.enabled', value: 'false' });
    await refreshCache(server);
    // Freshly added: nothing matched yet, and it has not reported for a week.
    assert.deepEqual(ruleIds(await doctor(), 'rule_would_refuse'), []);
    assert.deepEqual(ruleIds(await doctor(), 'rule_no_traffic'), []);

    // Real calls: the token lacks orders.admin, so each would be refused; they succeed (report only).
    const reader = await token(apps.reader, secrets.reader);
    const lister = await token(apps.lister, secrets.lister);
    for (let i = 0; i < 3; i++) assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: reader })).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await apiCall(server.url, { path: '/api/acme/orders/7', bearer: lister })).status, 200);
    // A user's Basic call: no application. Scopes are for bearer tokens (a Basic caller acts with its
    // user's access), so only the Basic switch's rule would refuse it.
    assert.equal((await apiCall(server.url, { path: '/api/acme/reports', basic: ['carol', 'carol-password-1'] })).status, 200);
    await records(rule, 5);
    await records(basic, 1);
    await server.latchkey.activity.flush();

    const findings = await doctor();
    const f = one(findings, 'rule_would_refuse', rule.id);
    assert.equal(f.severity, 'warning');
    assert.match(f.detail, new RegExp(`^Rule ${rule.id} \\(acme/orders requires one of the scopes orders\\.admin\\) reports only: in the last 7 days it matched 5 requests it would refuse once enforced, from 2 clients: `));
    assert.match(f.detail, new RegExp(`"Order reader" \\(client id ${apps.reader}\\): 3; "Order lister" \\(client id ${apps.lister}\\): 2\\.`));
    assert.match(f.detail, /The latest kept: api\.scope_missing, request \S+ \(`latchkey explain \S+`\)\./);
    assert.match(f.fix, /^Give those clients what acme\/orders will require: one of the scopes orders\.admin, allowed to their application and requested in their tokens\. /);
    assert.match(f.fix, /The latest would have been api\.scope_missing: Add one of the required scopes/);
    assert.ok(f.fix.includes(`Then enforce the rule: latchkey rules enforce ${rule.id}.`), f.fix);
    assert.ok(f.fix.includes(`\`latchkey rules show ${rule.id}\``), f.fix);
    assert.equal(f.command, `latchkey rules show ${rule.id}`);
    assert.equal(f.link, `#/rules/${rule.id}`);
    const b = one(findings, 'rule_would_refuse', basic.id);
    assert.match(b.detail, /from 1 client: callers with no application \(users carol\): 1\./);
    assert.match(b.fix, /^Move those clients off what latchkey\.api\.basic_auth\.enabled = false refuses: HTTP Basic calls to hosted APIs \(api\.basic_auth_disabled\)\. The latest would have been api\.basic_auth_disabled\. Then enforce/);
    // The explained record is the one named.
    const latest = /request (\S+) \(`latchkey explain/.exec(f.detail)?.[1];
    assert.equal((await server.latchkey.storage.refusals.byRequestId(latest ?? ''))?.ruleId, rule.id);

    // At most five clients are named; the others are counted (counters of other clients, as another instance flushes them).
    const now = Date.now();
    await server.latchkey.storage.activity.add(Array.from({ length: 4 }, (_, i) => ({ bucket: now - (now % 60_000), metric: wouldRefuseMetric(rule.id, `other-client-${i}`), count: 1 })));
    const many = one(await doctor(), 'rule_would_refuse', rule.id);
    assert.match(many.detail, /matched 9 requests .* from 6 clients: .*; and 1 other client\./);
    assert.equal((many.detail.match(/: \d+(;|\.)/g) ?? []).length, 5, many.detail);

    // The CLI's doctor reports it too, with the fixes listed (its exit code is the admin's default
    // password's, an error on a test server: a warning alone never fails it).
    const text = await cli(['doctor', '--apis', FIXTURE_APIS]);
    assert.equal(text.code, (await doctor()).some((x) => x.severity === 'error') ? 1 : 0, text.err);
    assert.ok(text.out.includes(`rule_would_refuse (${rule.id}): Give those clients`), text.out);
    assert.ok(text.out.includes(`   latchkey rules show ${rule.id}\n`), text.out);

    // Enforced: it refuses from now on, and it is no longer a report to act on.
    await enforceRule(deps, rule.id);
    await deleteRule(deps, basic.id);
    assert.deepEqual(ruleIds(await doctor(), 'rule_would_refuse'), []);
    await refreshCache(server);
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: reader })).status, 403);
    await deleteRule(deps, rule.id);
  });

  it('rule_no_traffic (information): a week of reporting with no request matched; enforcing it, or an application gone quiet', async () => {
    const deps = registryDeps(server);
    const ropc = await createRule(deps, { kind: 'property', target: 'glide.oauth.inbound.ropc.grant_type.disabled', value: 'true', note: 'Nobody should use the password grant' });
    const idle = await createRule(deps, { kind: 'application', target: apps.idle, scopes: [] });
    const week = Date.now() + 8 * DAY;
    assert.deepEqual(ruleIds(await doctor(), 'rule_no_traffic'), [], 'not before it has reported for a week');
    const findings = await doctor(week);
    const f = one(findings, 'rule_no_traffic', ropc.id);
    assert.equal(f.severity, 'info');
    assert.equal(f.detail, `Rule ${ropc.id} (glide.oauth.inbound.ropc.grant_type.disabled = true) has reported for 8 days and matched no request in the last 7: enforcing it would refuse nobody.`);
    assert.match(f.fix, new RegExp(`^Enforce it: latchkey rules enforce ${ropc.id} \\(then: Property glide\\.oauth\\.inbound\\.ropc\\.grant_type\\.disabled is now true\\)\\. Or, if it should have matched requests, check its target`));
    assert.equal(f.command, `latchkey rules enforce ${ropc.id}`);
    // After the warnings: information comes last.
    assert.equal(findings.at(-1)?.severity, 'info');
    // Its target inactive: the rule covers nothing, and says why.
    await updateApplication(deps, apps.idle, { active: false });
    assert.match(one(await doctor(week), 'rule_no_traffic', idle.id).detail, /would refuse nobody\. Application "Idle partner" \(client id \w+\) is inactive\.$/);
    await updateApplication(deps, apps.idle, { active: true });
    // The CLI runs now, when the rules are new: nothing yet.
    const json = await cli(['doctor', '--json', '--apis', FIXTURE_APIS]);
    assert.deepEqual((JSON.parse(json.out) as Finding[]).filter((x) => x.id === 'rule_no_traffic'), []);
    // Enforced (the command the finding gives): no longer reporting, no finding; the property is set.
    await enforceRule(deps, ropc.id);
    assert.deepEqual(ruleIds(await doctor(week), 'rule_no_traffic'), [idle.id]);
    await refreshCache(server);
    assert.equal((await server.latchkey.cache.properties())['glide.oauth.inbound.ropc.grant_type.disabled'], true);
    // Reporting since 8 days ago (backdated): the CLI lists it after the warnings, counted apart.
    const stored = await server.latchkey.storage.rules.byId(idle.id);
    assert.ok(stored !== undefined);
    await server.latchkey.storage.rules.update({ ...stored, createdAt: Date.now() - 8 * DAY, updatedAt: Date.now() - 8 * DAY });
    const text = await cli(['doctor', '--apis', FIXTURE_APIS]);
    assert.match(text.out, new RegExp(`info +rule_no_traffic +Rule ${idle.id} `));
    assert.match(text.out, /\d+ errors?, \d+ warnings?, 1 for information\.\n$/);
    assert.ok(text.out.includes(`   latchkey rules enforce ${idle.id}\n`), text.out);
    await setProperty(deps, 'glide.oauth.inbound.ropc.grant_type.disabled', 'false');
    await deleteRule(deps, ropc.id);
    await deleteRule(deps, idle.id);
    await refreshCache(server);
  });

  it('rule_api_not_loaded: an enforced requirement on an API or resource this server does not serve', async () => {
    // Added without the API catalogue (as the CLI can, or before a module was removed).
    const deps = registryDeps(server);
    const gone = await createRule(deps, { kind: 'api_requirement', target: 'acme/archive', scopes: ['orders.read'] }, { mode: 'enforce' });
    const noResource = await createRule(deps, { kind: 'api_requirement', target: 'DELETE acme/orders/{id}', scopes: ['orders.admin'] }, { mode: 'enforce' });
    const reporting = await createRule(deps, { kind: 'api_requirement', target: 'acme/ledger', scopes: ['orders.read'] });
    const served = await createRule(deps, { kind: 'api_requirement', target: 'GET acme/orders/{id}', scopes: ['orders.read'] }, { mode: 'enforce' });
    const findings = await doctor();
    assert.deepEqual(ruleIds(findings, 'rule_api_not_loaded').sort(), [gone.id, noResource.id].sort());
    const f = one(findings, 'rule_api_not_loaded', gone.id);
    assert.equal(f.severity, 'warning');
    assert.match(f.detail, new RegExp(`^Rule ${gone.id} \\(acme/archive\\) is enforced, but it covers nothing here: This server serves no API acme/archive \\(it serves [^)]*acme/orders[^)]*\\)\\. It refuses nothing now`));
    assert.equal(f.command, `latchkey rules delete ${gone.id}`);
    assert.match(one(findings, 'rule_api_not_loaded', noResource.id).detail, /API acme\/orders has no resource DELETE \/\{id\} \(its resources: .*PUT \/\{id\}/);
    // Without the APIs (a doctor that was given none) it cannot tell: nothing reported.
    const blind = await runDoctor({ storage: server.latchkey.storage, router: new ApiRouter([]), clock: server.latchkey.clock });
    assert.deepEqual(ruleIds(blind, 'rule_api_not_loaded'), []);
    // Over the admin API (the console's home page reads the same findings).
    const admin = bearerClient(server, await adminToken(server));
    const res = await admin.call('GET', '/findings');
    assert.equal(res.status, 200, res.text);
    assert.deepEqual((res.json as Finding[]).filter((x) => x.id === 'rule_api_not_loaded').map((x) => x.target).sort(), [gone.id, noResource.id].sort());
    for (const r of [gone, noResource, reporting, served]) await deleteRule(deps, r.id);
    assert.deepEqual((await doctor()).filter((x) => x.id.startsWith('rule_')), []);
  });
});
