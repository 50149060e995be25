/**
 * Report-only rules through the admin API (src/admin/routes/rules.ts): a rule added with
 * POST /rules reports; a bad body is a 400 naming the field; an unknown rule is 404 rule_not_found
 * and an unknown API 404 api_not_found with the nearest name; after real calls to a hosted API the
 * report (GET /rules/{id}) lists exactly the client its requirement would refuse, with a request
 * whose explanation (GET /refusals/{id}) says "would refuse"; enforcing (audited under the admin's
 * name) makes it refuse, putting it back to report lets the calls through again, deleting it ends
 * it. Runs on SQLite and, with LATCHKEY_TEST_STORAGE=postgres, on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { adminToken, bearerClient, type AdminClient } from './helpers/admin.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';

let server: TestServer;
let admin: AdminClient;
/** Two clients of the orders API: one whose tokens carry orders.admin, one whose tokens do not. */
const clients = { has: { id: '', secret: '', token: '' }, lacks: { id: '', secret: '', token: '' } };
let ruleId = '';

async function token(c: { id: string; secret: string }, scope: string): Promise<string> {
  const res = await tokenRequest(server.url, { basic: [c.id, c.secret], form: { grant_type: 'client_credentials', scope } });
  assert.equal(res.status, 200, res.text);
  return res.json?.access_token as string;
}

/** GET /rules/{id} until `ready` holds (a "would refuse" record is written just after the answer), at most 10 s. */
async function reportWhen(id: string, ready: (report: any) => boolean): Promise<any> {
  const until = Date.now() + 10_000;
  for (;;) {
    await server.latchkey.activity.flush();
    const res = await admin.call('GET', `/rules/${id}`);
    assert.equal(res.status, 200, res.text);
    if (ready(res.json) || Date.now() > until) return res.json;
    await new Promise((r) => setTimeout(r, 50));
  }
}

before(async () => {
  server = await startTestServer({ apisDir: FIXTURE_APIS });
  const deps = registryDeps(server);
  await setProperty(deps, CC, 'true');
  for (const s of ['orders.read', 'orders.admin']) if ((await server.latchkey.storage.scopes.byName(s)) === undefined) await createScope(deps, s, s);
  await createUser(deps, { userName: 'svc-rules' });
  const has = await createApplication(deps, { name: 'Orders admin tool', grantTypes: ['client_credentials'], appUser: 'svc-rules', scopes: ['orders.read', 'orders.admin'] });
  const lacks = await createApplication(deps, { name: 'Orders reader', grantTypes: ['client_credentials'], appUser: 'svc-rules', scopes: ['orders.read'] });
  clients.has = { id: has.application.clientId, secret: has.clientSecret ?? '', token: '' };
  clients.lacks = { id: lacks.application.clientId, secret: lacks.clientSecret ?? '', token: '' };
  await refreshCache(server);
  admin = bearerClient(server, await adminToken(server));
});

after(async () => {
  await server?.close();
});

describe('report-only rules through the admin API', { timeout: 120_000 }, () => {
  it('adds a rule in report mode (POST /rules): audited under the admin, listed by GET /rules', async () => {
    const res = await admin.call('POST', '/rules', { kind: 'api_requirement', target: 'acme/orders', scopes: ['orders.admin'], note: 'orders.admin before the spring release' });
    assert.equal(res.status, 201, res.text);
    const report = res.json;
    ruleId = report.rule.id;
    assert.match(ruleId, /^rule_[0-9a-z]{12}$/);
    assert.equal(report.rule.mode, 'report');
    assert.equal(report.rule.createdBy, 'admin');
    assert.deepEqual(report.rule.spec, { scopes: ['orders.admin'] });
    assert.equal(report.rule.note, 'orders.admin before the spring release');
    assert.equal(report.summary, 'acme/orders requires one of the scopes orders.admin');
    assert.match(report.enforcing, /refuses calls to acme\/orders/);
    assert.deepEqual([report.total, report.clients], [0, []]);
    assert.match(report.rule.createdAt, /^\d{4}-\d\d-\d\dT/);
    const listed = await admin.call('GET', '/rules');
    assert.equal(listed.status, 200, listed.text);
    assert.deepEqual(listed.json.map((r: any) => [r.rule.id, r.rule.mode, r.total, r.clientCount, r.summary]), [[ruleId, 'report', 0, 0, report.summary]]);
    const audit = await admin.call('GET', `/audit?action=rule.create&target=${ruleId}`);
    assert.deepEqual(audit.json.map((e: any) => [e.actor, e.after.id]), [['admin', ruleId]]);
    // The same rule twice is refused, naming the first.
    const again = await admin.call('POST', '/rules', { kind: 'api_requirement', target: 'acme/orders', scopes: ['orders.admin'] });
    assert.equal(again.status, 400, again.text);
    assert.match(again.json.message, new RegExp(ruleId));
  });

  it('a bad body is 400 naming the field; an unknown API is 404 api_not_found with the nearest name', async () => {
    const cases: [unknown, string, string][] = [
      [{ kind: 'api_requirement', target: 'acme/orders' }, 'invalid_input', 'scopes'],
      [{ kind: 'firewall', target: 'acme/orders' }, 'invalid_input', 'kind'],
      [{ kind: 'api_requirement', target: 'acme/orders', scopes: 'orders.admin' }, 'invalid_input', 'scopes'],
      [{ kind: 'api_requirement', target: 'not an api', scopes: ['orders.admin'] }, 'invalid_input', 'target'],
      [{ kind: 'api_requirement', target: 'acme/orders', scopes: ['orders.nope'] }, 'scope_not_found', 'scopes'],
      [{ kind: 'property', target: 'latchkey.api.basic_auth.enabled', value: true }, 'invalid_input', 'value'],
      [{ kind: 'property', target: 'latchkey.api.basic_auth.enabled', value: 'no' }, 'property_invalid', 'value'],
      [{ kind: 'rate_limit', target: 'instance', value: 'lots' }, 'property_invalid', 'value'],
      [{ kind: 'rate_limit', target: 'instance', value: 0 }, 'invalid_input', 'value'],
      [{ kind: 'api_requirement', target: 'acme/orders', scopes: ['orders.admin'], mode: 'later' }, 'invalid_input', 'mode'],
    ];
    for (const [body, error, field] of cases) {
      const res = await admin.call('POST', '/rules', body);
      assert.equal(res.status, error === 'scope_not_found' ? 404 : 400, `${JSON.stringify(body)}: ${res.text}`);
      assert.equal(res.json.error, error, JSON.stringify(body));
      assert.equal(res.json.field, field, JSON.stringify(body));
    }
    const unknown = await admin.call('POST', '/rules', { kind: 'api_requirement', target: 'acme/ordrs', scopes: ['orders.admin'] });
    assert.equal(unknown.status, 404, unknown.text);
    assert.equal(unknown.json.error, 'api_not_found');
    assert.equal(unknown.json.field, 'target');
    assert.match(unknown.json.message, /Did you mean "acme\/orders"\?/);
    const resource = await admin.call('POST', '/rules', { kind: 'api_requirement', target: 'DELETE acme/orders/{id}', scopes: ['orders.admin'] });
    assert.equal(resource.status, 404, resource.text);
    assert.equal(resource.json.error, 'api_not_found');
    // None of them was added.
    assert.deepEqual((await admin.call('GET', '/rules')).json.map((r: any) => r.rule.id), [ruleId]);
    assert.equal((await admin.call('GET', '/rules/x?days=0')).status, 400);
  });

  it('an unknown rule is 404 rule_not_found on every route', async () => {
    for (const [method, path] of [['GET', '/rules/rule_000000000000'], ['POST', '/rules/rule_000000000000/enforce'], ['POST', '/rules/nope/report'], ['DELETE', '/rules/nope']] as const) {
      const res = await admin.call(method, path);
      assert.equal(res.status, 404, `${method} ${path}: ${res.text}`);
      assert.equal(res.json.error, 'rule_not_found');
    }
  });

  it('after real calls the report lists exactly the client without the scope, with a request that explains as would_refuse', async () => {
    clients.has.token = await token(clients.has, 'orders.read orders.admin');
    clients.lacks.token = await token(clients.lacks, 'orders.read');
    const ids: string[] = [];
    for (const c of [clients.has, clients.lacks, clients.has, clients.lacks]) {
      const res = await apiCall(server.url, { path: '/api/acme/orders', bearer: c.token });
      assert.equal(res.status, 200, `a reporting rule refuses nothing: ${res.text}`);
      if (c === clients.lacks) ids.push(res.requestId);
    }
    const report = await reportWhen(ruleId, (r) => r.total >= 2 && r.clients[0]?.latestRequestId !== null);
    assert.deepEqual(report.clients.map((c: any) => [c.clientId, c.applicationName, c.count, c.reason]), [[clients.lacks.id, 'Orders reader', 2, 'api.scope_missing']]);
    assert.equal(report.total, 2);
    const latest = report.clients[0].latestRequestId as string;
    // A would-refuse record's id is the request id the client was given, then the rule's.
    assert.ok(ids.map((id) => `${id}~${ruleId}`).includes(latest), `${latest} is one of ${ids.join(', ')} (with ~${ruleId})`);
    assert.deepEqual(report.clients[0].userNames, ['svc-rules']);
    assert.match(report.clients[0].latestAt, /^\d{4}-\d\d-\d\dT/);
    const explained = await admin.call('GET', `/refusals/${latest}`);
    assert.equal(explained.status, 200, explained.text);
    assert.equal(explained.json.outcome, 'would_refuse');
    assert.equal(explained.json.rule.id, ruleId);
    assert.equal(explained.json.clientId, clients.lacks.id);
    const listed = (await admin.call('GET', '/rules?days=1')).json.find((r: any) => r.rule.id === ruleId);
    assert.deepEqual([listed.total, listed.clientCount], [2, 1]);
  });

  it('enforce (audited under the admin) refuses the client; back to report lets it through; delete ends the rule', async () => {
    const enforced = await admin.call('POST', `/rules/${ruleId}/enforce`);
    assert.equal(enforced.status, 200, enforced.text);
    assert.equal(enforced.json.rule.mode, 'enforce');
    assert.equal(enforced.json.rule.enforcedBy, 'admin');
    assert.match(enforced.json.rule.enforcedAt, /^\d{4}-\d\d-\d\dT/);
    const audit = await admin.call('GET', `/audit?action=rule.enforce&target=${ruleId}`);
    assert.deepEqual(audit.json.map((e: any) => [e.actor, e.before.mode, e.after.mode]), [['admin', 'report', 'enforce']]);
    const refused = await apiCall(server.url, { path: '/api/acme/orders', bearer: clients.lacks.token });
    assert.equal(refused.status, 403, refused.text);
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: clients.has.token })).status, 200);
    const twice = await admin.call('POST', `/rules/${ruleId}/enforce`);
    assert.equal(twice.status, 400, twice.text);
    assert.match(twice.json.message, /enforced already/);

    const back = await admin.call('POST', `/rules/${ruleId}/report`);
    assert.equal(back.status, 200, back.text);
    assert.deepEqual([back.json.rule.mode, back.json.rule.enforcedBy], ['report', null]);
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: clients.lacks.token })).status, 200);
    assert.equal((await admin.call('GET', `/audit?action=rule.report&target=${ruleId}`)).json[0]?.actor, 'admin');

    const deleted = await admin.call('DELETE', `/rules/${ruleId}`);
    assert.equal(deleted.status, 200, deleted.text);
    assert.equal(deleted.json.deleted.id, ruleId);
    assert.equal((await admin.call('GET', `/rules/${ruleId}`)).status, 404);
    assert.equal((await admin.call('GET', `/audit?action=rule.delete&target=${ruleId}`)).json[0]?.actor, 'admin');
    assert.deepEqual((await admin.call('GET', '/rules')).json, []);
  });

  it('a property rule added enforced at once sets the property (mode: enforce); reporting it back is refused', async () => {
    const res = await admin.call('POST', '/rules', { kind: 'property', target: 'latchkey.client_auth.client_secret_post.enabled', value: false, mode: 'enforce' });
    assert.equal(res.status, 201, res.text);
    assert.equal(res.json.rule.mode, 'enforce');
    assert.deepEqual(res.json.rule.spec, { value: 'false' });
    assert.equal(res.json.enforcing, 'Property latchkey.client_auth.client_secret_post.enabled is now false.');
    const props = (await admin.call('GET', '/properties')).json as { name: string; value: unknown }[];
    assert.equal(props.find((p) => p.name === 'latchkey.client_auth.client_secret_post.enabled')?.value, false);
    const back = await admin.call('POST', `/rules/${res.json.rule.id}/report`);
    assert.equal(back.status, 400, back.text);
    assert.match(back.json.message, /change that setting back/);
  });
});
