/**
 * Report-only rules (issue 14, item 3), on a real server with the fixture APIs: a required scope
 * introduced in report mode lets every call through and lists exactly the client that would be
 * refused, with its explanation; enforce refuses it for real. The same for the instance switches
 * (Basic on APIs, client_secret_post), an application's grant and scope change and a rate limit;
 * the budgets bound what is kept. Runs on SQLite and, with LATCHKEY_TEST_STORAGE=postgres, on
 * PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { bucketOf } from '../src/audit/activity.js';
import { explainRefusal } from '../src/diagnostics/explain.js';
import { ruleReport } from '../src/diagnostics/rules.js';
import { inspectToken } from '../src/diagnostics/inspect.js';
import type { Refusal, Rule } from '../src/domain/model.js';
import { createApplication } from '../src/registry/applications.js';
import { RegistryError } from '../src/registry/errors.js';
import { createRule, deleteRule, enforceRule, reportRule, type RuleDeps } from '../src/registry/rules.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { apiCall, apiChallenge, FIXTURE_APIS } from './helpers/api.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const PW = 'a-good-password-1';

let server: TestServer;
type App = { clientId: string; secret: string };
const apps: Record<'admin' | 'reader' | 'poster' | 'sync' | 'burst', App> = {} as never;

const deps = (): RuleDeps => ({ ...registryDeps(server), actor: 'cli:rules-test', apis: { apis: server.latchkey.router.list() } });

async function tokenOf(app: App, scope?: string): Promise<string> {
  const res = await tokenRequest(server.url, { basic: [app.clientId, app.secret], form: { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) } });
  assert.equal(res.status, 200, res.text);
  return res.json?.access_token as string;
}

/** Waits for the "would refuse" records being written after the answers (they never delay a request). */
async function wouldRefuse(rule: Rule, count: number): Promise<Refusal[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const records = await server.latchkey.storage.refusals.list({ ruleId: rule.id, outcome: 'would_refuse' });
    if (records.length >= count || Date.now() > deadline) return records;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function report(rule: Rule) {
  await server.latchkey.activity.flush();
  return ruleReport({ storage: server.latchkey.storage, clock: server.latchkey.clock }, rule);
}

async function add(input: Parameters<typeof createRule>[1]): Promise<Rule> {
  const rule = await createRule(deps(), input);
  await refreshCache(server);
  return rule;
}

async function enforce(rule: Rule): Promise<Rule> {
  const done = await enforceRule(deps(), rule.id);
  await refreshCache(server);
  return done;
}

before(async () => {
  server = await startTestServer({ apisDir: FIXTURE_APIS });
  const d = registryDeps(server);
  await setProperty(d, CC, 'true');
  for (const s of ['orders.read', 'orders.write', 'orders.admin']) if ((await server.latchkey.storage.scopes.byName(s)) === undefined) await createScope(d, s, s);
  await createUser(d, { userName: 'svc-rules' });
  await createUser(d, { userName: 'dora', password: PW });
  const make = async (name: string, scopes: string[]): Promise<App> => {
    const created = await createApplication(d, { name, grantTypes: ['client_credentials'], appUser: 'svc-rules', scopes });
    return { clientId: created.application.clientId, secret: created.clientSecret ?? '' };
  };
  apps.admin = await make('Admin console sync', ['orders.read', 'orders.admin']);
  apps.reader = await make('Read-only exporter', ['orders.read']);
  apps.poster = await make('Body poster', ['orders.read']);
  apps.sync = await make('Nightly sync', ['orders.read', 'orders.write']);
  apps.burst = await make('Bursty client', ['orders.read']);
  await refreshCache(server);
});

after(async () => {
  await server?.close();
});

describe('report-only rules', { timeout: 120_000 }, () => {
  it('a required scope in report mode: both calls succeed, exactly the client without it is listed with its explanation; enforced, it is refused for real', async () => {
    const rule = await add({ kind: 'api_requirement', target: 'acme/orders', scopes: ['orders.admin'], note: 'admin scope for the orders API' });
    assert.equal(rule.mode, 'report');
    const withScope = await tokenOf(apps.admin);
    const without = await tokenOf(apps.reader);
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: withScope })).status, 200);
    const reply = await apiCall(server.url, { path: '/api/acme/orders', bearer: without });
    assert.equal(reply.status, 200, 'report mode lets the call through');
    const [record] = await wouldRefuse(rule, 1);
    assert.ok(record !== undefined, 'a "would refuse" record');
    assert.equal(record.reason, 'api.scope_missing');
    assert.equal(record.clientId, apps.reader.clientId);
    assert.equal(record.requestId, `${reply.headers.get('x-request-id')}~${rule.id}`, 'the request id the client was given, and the rule');
    // Real refusals do not include it (the call succeeded).
    assert.equal((await server.latchkey.storage.refusals.list({})).filter((r) => r.requestId === record.requestId).length, 0);

    const r = await report(rule);
    assert.deepEqual(r.clients.map((c) => [c.clientId, c.applicationName, c.count, c.reason]), [[apps.reader.clientId, 'Read-only exporter', 1, 'api.scope_missing']]);
    assert.equal(r.total, 1);
    assert.equal(r.clients[0]?.latestRequestId, record.requestId);

    // The explanation of the record: what the call lacked, against what the rule requires.
    const e = await explainRefusal({ storage: server.latchkey.storage, supportedGrants: [...server.latchkey.grants.keys()] }, record);
    assert.equal(e.outcome, 'would_refuse');
    assert.equal(e.rule?.id, rule.id);
    assert.deepEqual(e.facts.requiredScopes, ['orders.admin']);
    assert.deepEqual(e.facts.tokenScopes, ['orders.read']);
    assert.equal(e.facts.rule, rule.id);
    assert.ok((e.hint ?? '').includes(rule.id), e.hint ?? '');

    // latchkey inspect (CLI and the console's debugger) says the same of the token.
    const route = async (token: string) => (await inspectToken(server.latchkey, token)).apis.find((a) => a.path === '/api/acme/orders' && a.method === 'GET');
    const reporting = await route(without);
    assert.equal(reporting?.accepted, true);
    assert.match(reporting?.why ?? '', new RegExp(`report-only rule ${rule.id} would refuse it`));

    const enforced = await enforce(rule);
    const refusing = await route(without);
    assert.deepEqual([refusing?.accepted, refusing?.reason], [false, 'api.scope_missing']);
    assert.match(refusing?.why ?? '', new RegExp(`Rule ${rule.id} requires it`));
    assert.equal((await route(withScope))?.accepted, true);
    assert.equal(enforced.mode, 'enforce');
    assert.equal(enforced.enforcedBy, 'cli:rules-test');
    const [audit] = await server.latchkey.storage.audit.list({ target: rule.id, action: 'rule.enforce' });
    assert.equal(audit?.actor, 'cli:rules-test');
    const refused = await apiCall(server.url, { path: '/api/acme/orders', bearer: without });
    assert.equal(refused.status, 403);
    assert.match(refused.headers.get('www-authenticate') ?? '', /insufficient_scope.*orders\.admin/);
    const real = (await server.latchkey.storage.refusals.list({ reason: 'api.scope_missing' }))[0];
    assert.ok(real !== undefined && (real.ruleId ?? null) === null, 'a real refusal');
    assert.equal(real.facts?.rule, rule.id);
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: withScope })).status, 200, 'the client with the scope is still admitted');

    // Back to report, then deleted: the call is admitted again.
    await reportRule(deps(), rule.id);
    await refreshCache(server);
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: without })).status, 200);
    await deleteRule(deps(), rule.id);
    await refreshCache(server);
    assert.equal(await server.latchkey.storage.rules.byId(rule.id), undefined);
    assert.deepEqual((await server.latchkey.storage.audit.list({ target: rule.id })).map((a) => a.action).sort(), ['rule.create', 'rule.delete', 'rule.enforce', 'rule.report']);
  });

  it('a rule on one resource covers that resource only', async () => {
    const rule = await add({ kind: 'api_requirement', target: 'PUT acme/orders/{id}', scopes: ['orders.admin'] });
    const token = await tokenOf(apps.sync);
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders/7', bearer: token })).status, 200);
    assert.equal((await apiCall(server.url, { method: 'PUT', path: '/api/acme/orders/7', bearer: token, json: { x: 1 } })).status, 200);
    const records = await wouldRefuse(rule, 1);
    assert.deepEqual(records.map((r) => [r.clientId, r.facts?.path, r.facts?.method]), [[apps.sync.clientId, '/api/acme/orders/7', 'PUT']]);
    await deleteRule(deps(), rule.id);
    await refreshCache(server);
  });

  it('switching Basic off on the APIs: reported first (the call succeeds), enforced by setting the property', async () => {
    const rule = await add({ kind: 'property', target: 'latchkey.api.basic_auth.enabled', value: 'false' });
    assert.equal((await apiCall(server.url, { path: '/api/acme/reports', basic: ['dora', PW] })).status, 200);
    const [record] = await wouldRefuse(rule, 1);
    assert.deepEqual([record?.reason, record?.userName, record?.clientId], ['api.basic_auth_disabled', 'dora', null]);
    const r = await report(rule);
    assert.deepEqual(r.clients.map((c) => [c.clientId, c.count, c.userNames]), [[null, 1, ['dora']]]);
    await enforce(rule);
    const props = await server.latchkey.storage.properties.list();
    assert.equal(props.find((p) => p.name === 'latchkey.api.basic_auth.enabled')?.value, 'false');
    const refused = await apiCall(server.url, { path: '/api/acme/reports', basic: ['dora', PW] });
    assert.equal(refused.status, 401);
    assert.match(refused.headers.get('www-authenticate') ?? '', apiChallenge('/api/acme/reports'));
    assert.match(refused.text, /api\.basic_auth_disabled/);
    await setProperty(registryDeps(server), 'latchkey.api.basic_auth.enabled', 'true');
    await refreshCache(server);
    assert.equal((await apiCall(server.url, { path: '/api/acme/reports', basic: ['dora', PW] })).status, 200);
  });

  it('switching client_secret_post off: the client sending its secret in the body is listed, the Basic one is not', async () => {
    const rule = await add({ kind: 'property', target: 'latchkey.client_auth.client_secret_post.enabled', value: 'false' });
    const body = await tokenRequest(server.url, { form: { grant_type: 'client_credentials', client_id: apps.poster.clientId, client_secret: apps.poster.secret } });
    assert.equal(body.status, 200, body.text);
    await tokenOf(apps.reader);
    const records = await wouldRefuse(rule, 1);
    assert.deepEqual(records.map((r) => [r.clientId, r.reason, r.facts?.authMethod]), [[apps.poster.clientId, 'client_auth.client_secret_post_disabled', 'client_secret_post']]);
    assert.doesNotMatch(JSON.stringify(records), new RegExp(apps.poster.secret));
    await enforce(rule);
    const refused = await tokenRequest(server.url, { form: { grant_type: 'client_credentials', client_id: apps.poster.clientId, client_secret: apps.poster.secret } });
    assert.equal(refused.status, 401);
    assert.equal(refused.json?.error, 'invalid_client');
    await tokenOf(apps.poster);
    await setProperty(registryDeps(server), 'latchkey.client_auth.client_secret_post.enabled', 'true');
    await refreshCache(server);
  });

  it("an application's grant and scope change: what it would refuse is listed; enforcing updates the application", async () => {
    const grants = await add({ kind: 'application', target: apps.sync.clientId, grantTypes: ['password'] });
    const scopes = await add({ kind: 'application', target: apps.sync.clientId, scopes: ['orders.read'] });
    await tokenOf(apps.sync, 'orders.read orders.write');
    const [g] = await wouldRefuse(grants, 1);
    const [s] = await wouldRefuse(scopes, 1);
    assert.deepEqual([g?.reason, g?.facts?.requestedGrant, g?.facts?.allowedGrants], ['grant.not_allowed_for_application', 'client_credentials', ['password', 'refresh_token']]);
    assert.deepEqual([s?.reason, s?.facts?.missingScopes], ['scope.not_allowed', ['orders.write']]);
    await enforce(scopes);
    const app = await server.latchkey.storage.applications.byClientId(apps.sync.clientId);
    assert.deepEqual(app?.scopes, ['orders.read']);
    const refused = await tokenRequest(server.url, { basic: [apps.sync.clientId, apps.sync.secret], form: { grant_type: 'client_credentials', scope: 'orders.write' } });
    assert.equal(refused.status, 400);
    assert.equal(refused.json?.error, 'invalid_scope');
    await deleteRule(deps(), grants.id);
  });

  it('a rate limit: requests over it are listed as would-be 429s; enforcing sets it on the application', async () => {
    const rule = await add({ kind: 'rate_limit', target: apps.burst.clientId, value: '2/1m' });
    const minute = bucketOf(Date.now());
    for (let i = 0; i < 4; i++) await tokenOf(apps.burst);
    const records = await wouldRefuse(rule, 2);
    if (bucketOf(Date.now()) === minute) assert.equal(records.length, 2, 'the 3rd and 4th request of the minute');
    assert.ok(records.every((r) => r.reason === 'rate_limit.client_exceeded' && r.facts?.limit === '2/1m'), JSON.stringify(records.map((r) => r.facts)));
    await enforce(rule);
    assert.equal((await server.latchkey.storage.applications.byClientId(apps.burst.clientId))?.rateLimit, '2/1m');
  });

  it('bounded: past latchkey.rules.report_per_minute only counts are kept, and the counts are whole', async () => {
    await setProperty(registryDeps(server), 'latchkey.rules.report_per_minute', '2');
    const rule = await add({ kind: 'api_requirement', target: 'acme/orders', roles: ['orders-admin-role-that-dora-lacks'] }).catch(async (error: unknown) => {
      // The role must exist: the rule is refused with the command that creates it.
      assert.ok(error instanceof RegistryError && error.code === 'role_not_found', String(error));
      assert.match(error.message, /roles create orders-admin-role-that-dora-lacks/);
      await server.latchkey.storage.roles.create({ name: 'orders-admin-role-that-dora-lacks', description: '', builtIn: false });
      return add({ kind: 'api_requirement', target: 'acme/orders', roles: ['orders-admin-role-that-dora-lacks'] });
    });
    const token = await tokenOf(apps.reader);
    const minute = bucketOf(Date.now());
    for (let i = 0; i < 8; i++) assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: token })).status, 200);
    const sameMinute = bucketOf(Date.now()) === minute;
    await new Promise((r) => setTimeout(r, 200));
    // The budget is the instance's for the minute, shared with the records of the tests before.
    const records = await server.latchkey.storage.refusals.list({ ruleId: rule.id, outcome: 'would_refuse' });
    // The first of this rule and client is kept whatever the budget; the others only within it.
    assert.ok(records.length >= 1 && records.length <= (sameMinute ? 3 : 6), `the first, and at most the budget, kept one by one (${records.length})`);
    const r = await report(rule);
    assert.equal(r.clients[0]?.count, 8, 'every match is counted');
    assert.equal(r.clients[0]?.reason, 'api.role_missing');
    await setProperty(registryDeps(server), 'latchkey.rules.report_per_minute', '60');
    await deleteRule(deps(), rule.id);
    await refreshCache(server);
  });

  it('refuses rules that cannot work, saying what to give', async () => {
    const refused = async (input: Parameters<typeof createRule>[1], code: string, message: RegExp) => {
      await assert.rejects(createRule(deps(), input), (error: unknown) => {
        assert.ok(error instanceof RegistryError, String(error));
        assert.equal(error.code, code);
        assert.match(error.message, message);
        return true;
      });
    };
    await refused({ kind: 'api_requirement', target: 'acme/ordres', scopes: ['orders.admin'] }, 'api_not_found', /Did you mean "?acme\/orders"?/i);
    await refused({ kind: 'api_requirement', target: 'DELETE acme/orders/{id}', scopes: ['orders.admin'] }, 'api_not_found', /Its resources: .*PUT acme\/orders\/\{id\}/);
    await refused({ kind: 'api_requirement', target: 'acme/orders' }, 'invalid_input', /needs scopes/);
    await refused({ kind: 'api_requirement', target: 'acme/orders', scopes: ['orders.admn'] }, 'scope_not_found', /orders\.admin/);
    await refused({ kind: 'property', target: 'latchkey.api.basic_auth.enabled', value: 'true' }, 'invalid_input', /refuses nothing.*properties set/);
    await refused({ kind: 'property', target: 'latchkey.rate_limit.client', value: '5' }, 'invalid_input', /instance switch/);
    await refused({ kind: 'apllication', target: apps.reader.clientId, scopes: [] }, 'invalid_input', /Did you mean "?application"?/i);
    await refused({ kind: 'application', target: 'no-such-client', scopes: ['orders.read'] }, 'application_not_found', /no-such-client/);
    await refused({ kind: 'rate_limit', target: apps.reader.clientId, value: 'lots' }, 'invalid_input', /rate limit/i);
  });
});
