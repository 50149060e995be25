/**
 * Report-only rules on hosted MCP servers (docs/rules.md): an api_requirement whose target is
 * `mcp:<namespace>/<id>` covers every request to the server, `mcp:<namespace>/<id>/<tool>` the
 * calls of one tool. Reporting, a tool call that the rule would refuse runs and leaves a "would
 * refuse" record with its explanation; enforced, it is the MCP step-up (403 insufficient_scope
 * naming the rule's scopes) and the tool never runs. Targets are checked against the loaded MCP
 * servers and tools; doctor's rule_api_not_loaded knows them. Runs on SQLite and, with
 * LATCHKEY_TEST_STORAGE=postgres, on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { explainRefusal } from '../src/diagnostics/explain.js';
import { inspectToken } from '../src/diagnostics/inspect.js';
import { runDoctor } from '../src/diagnostics/doctor.js';
import { ruleReport } from '../src/diagnostics/rules.js';
import type { Refusal, Rule } from '../src/domain/model.js';
import { RegistryError } from '../src/registry/errors.js';
import { createRule, deleteRule, enforceRule, parseMcpTarget, type RuleDeps } from '../src/registry/rules.js';
import { apiCall, challengeParams, type ApiReply } from './helpers/api.js';
import { buildFixture, CC_PROPERTY as CC } from './helpers/fixture.js';
import { FIXTURE_MCP_APIS } from './helpers/mcp.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const ACCEPT = 'application/json, text/event-stream';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'test', version: '1' } } };
const call = (name: string, args: Record<string, unknown> = {}, id = 2) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

let server: TestServer;
type App = { clientId: string; secret: string; name: string };
const apps: Record<string, App> = {};

const deps = (): RuleDeps => ({ ...registryDeps(server), actor: 'cli:mcp-rules-test', apis: { apis: server.latchkey.router.list(), mcpServers: server.latchkey.router.mcpServers() } });

async function token(app: string, scope: string): Promise<string> {
  const a = apps[app]!;
  const r = await tokenRequest(server.url, { form: { grant_type: 'client_credentials', scope }, basic: [a.clientId, a.secret] });
  assert.equal(r.status, 200, r.text);
  return String(r.json?.access_token);
}

const post = (body: unknown, bearer: string): Promise<ApiReply> => apiCall(server.url, { method: 'POST', path: '/mcp/acme/desk', bearer, json: body, headers: { accept: ACCEPT } });

async function wouldRefuse(rule: Rule, count: number): Promise<Refusal[]> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const records = await server.latchkey.storage.refusals.list({ ruleId: rule.id, outcome: 'would_refuse' });
    if (records.length >= count || Date.now() > deadline) return records;
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function add(input: Parameters<typeof createRule>[1]): Promise<Rule> {
  const rule = await createRule(deps(), input);
  await refreshCache(server);
  return rule;
}

before(async () => {
  server = await startTestServer({ apisDir: FIXTURE_MCP_APIS });
  const built = await buildFixture(server, {
    scopes: ['desk.write', 'desk.read', 'desk.admin'],
    users: [{ userName: 'svc-agent', roles: ['itil'] }],
    properties: { [CC]: 'true' },
    apps: {
      agent: { name: 'Desk agent', grantTypes: ['client_credentials'], appUser: 'svc-agent', scopes: ['desk.write', 'desk.read', 'desk.admin'] },
    },
  });
  Object.assign(apps, built.apps);
});

after(async () => {
  await server?.close();
});

describe('report-only rules on hosted MCP servers', { timeout: 60_000 }, () => {
  it('targets: mcp:<ns>/<id> and mcp:<ns>/<id>/<tool>, checked against the loaded servers and tools', async () => {
    assert.deepEqual(parseMcpTarget('mcp:acme/desk'), { namespace: 'acme', id: 'desk', tool: undefined });
    assert.deepEqual(parseMcpTarget('mcp:acme/desk/ticket_create'), { namespace: 'acme', id: 'desk', tool: 'ticket_create' });
    assert.equal(parseMcpTarget('acme/desk'), undefined);
    assert.equal(parseMcpTarget('mcp:acme'), undefined);
    const refused = async (target: string, code: string, message: RegExp) =>
      assert.rejects(createRule(deps(), { kind: 'api_requirement', target, scopes: ['desk.admin'] }), (e: unknown) => e instanceof RegistryError && e.code === code && message.test(e.message) && e.field === 'target');
    await refused('mcp:acme/dsk', 'api_not_found', /No hosted MCP server acme\/dsk\. Did you mean "?mcp:acme\/desk"?/);
    await refused('mcp:acme/desk/ticket_creat', 'api_not_found', /MCP server acme\/desk has no tool ticket_creat\..*Its tools: ping, ticket_create, ticket_close/);
    await refused('mcp:acme', 'invalid_input', /not an MCP target: give mcp:namespace\/server/);
    // A plain API target is still an API target: the MCP server is not an API.
    await refused('acme/desk', 'api_not_found', /No hosted API acme\/desk/);
  });

  it('a tool rule in report mode: the call runs and is recorded as would refuse, with its explanation; enforced, it is the step-up', async () => {
    const rule = await add({ kind: 'api_requirement', target: 'MCP:acme/desk/ticket_create', scopes: ['desk.admin'], note: 'admin scope for creating tickets' });
    assert.equal(rule.target, 'mcp:acme/desk/ticket_create', 'the canonical target');
    const t = await token('agent', 'desk.write');
    // Another tool of the server is not covered.
    assert.equal((await post(call('ping'), t)).status, 200);
    const created = await post(call('ticket_create', { title: 'Printer' }), t);
    assert.equal(created.status, 200, created.text);
    assert.match(created.text, /Created ticket \\"Printer\\"/, 'the tool ran');
    const [record] = await wouldRefuse(rule, 1);
    assert.ok(record !== undefined, 'a "would refuse" record');
    assert.equal(record.reason, 'api.scope_missing');
    assert.equal(record.endpoint, 'mcp acme/desk');
    assert.equal(record.clientId, apps.agent!.clientId);
    assert.equal(record.userName, 'svc-agent');
    assert.equal(record.requestId, `${created.headers.get('x-request-id')}~${rule.id}`);
    const e = await explainRefusal({ storage: server.latchkey.storage, supportedGrants: [...server.latchkey.grants.keys()] }, record);
    assert.equal(e.outcome, 'would_refuse');
    assert.equal(e.rule?.id, rule.id);
    assert.deepEqual(e.facts.requiredScopes, ['desk.admin']);
    assert.deepEqual(e.facts.tokenScopes, ['desk.write']);
    assert.match(e.fix ?? '', /The MCP tool ticket_create of acme\/desk requires one of desk\.admin/);
    assert.match(e.hint ?? '', new RegExp(`Rule ${rule.id} \\(mcp:acme/desk/ticket_create requires one of the scopes desk.admin\\) reports only`));
    await server.latchkey.activity.flush();
    const r = await ruleReport({ storage: server.latchkey.storage, clock: server.latchkey.clock }, rule);
    assert.deepEqual(r.clients.map((c) => [c.clientId, c.count, c.reason]), [[apps.agent!.clientId, 1, 'api.scope_missing']], 'only the covered tool call, counted once');

    // latchkey inspect (CLI and the console's debugger) says the same of the token, per tool.
    const verdict = async (tool: string) => (await inspectToken(server.latchkey, t)).apis.find((a) => a.method === 'MCP' && a.path === `/mcp/acme/desk tool ${tool}`);
    const reporting = await verdict('ticket_create');
    assert.equal(reporting?.accepted, true);
    assert.match(reporting?.why ?? '', new RegExp(`report-only rule ${rule.id} would refuse it \\(api.scope_missing`));
    assert.doesNotMatch((await verdict('ping'))?.why ?? '', /rule/);

    await enforceRule(deps(), rule.id);
    await refreshCache(server);
    const enforcing = await verdict('ticket_create');
    assert.deepEqual([enforcing?.accepted, enforcing?.reason], [false, 'api.scope_missing']);
    assert.match(enforcing?.why ?? '', new RegExp(`Rule ${rule.id} requires it`));
    const refused = await post(call('ticket_create', { title: 'Scanner' }), t);
    assert.equal(refused.status, 403, refused.text);
    const challenge = challengeParams(refused.headers.get('www-authenticate'));
    assert.equal(challenge.params.error, 'insufficient_scope');
    assert.equal(challenge.params.scope, 'desk.admin', 'the step-up names the scope the rule requires');
    assert.equal(challenge.params.resource_metadata, `${server.url}/.well-known/oauth-protected-resource/mcp/acme/desk`);
    assert.doesNotMatch(refused.text, /Created ticket/);
    const real = (await server.latchkey.storage.refusals.list({ reason: 'api.scope_missing' })).find((x) => x.requestId === refused.headers.get('x-request-id'));
    assert.ok(real !== undefined && (real.ruleId ?? null) === null, 'a real refusal');
    assert.equal(real.facts?.rule, rule.id);
    assert.match(real.hint ?? '', /on top of the definition of the MCP tool ticket_create of acme\/desk/);
    // latchkey explain names the tool and the scope to grant, and says the MCP client steps up itself.
    const explained = await explainRefusal({ storage: server.latchkey.storage, supportedGrants: [...server.latchkey.grants.keys()] }, real);
    assert.match(explained.fix ?? '', /^The MCP tool ticket_create of acme\/desk requires one of desk\.admin\. The application "Desk agent" allows desk\.admin now, but this token was granted desk\.write: request a new token with scope=desk\.admin \(an MCP client with OAuth support does so itself on the 403 insufficient_scope, the step-up/);
    assert.equal((await post(call('ping'), t)).status, 200, 'the other tools still answer');
    assert.equal((await post(call('ticket_create', { title: 'Fax' }), await token('agent', 'desk.write desk.admin'))).status, 200, 'a token with the scope is admitted');
    await deleteRule(deps(), rule.id);
    await refreshCache(server);
    assert.equal((await post(call('ticket_create', { title: 'Again' }), t)).status, 200, 'deleted, the rule refuses nothing');
  });

  it('a server rule covers every request to it (initialize too); enforced, a role it requires refuses', async () => {
    const rule = await add({ kind: 'api_requirement', target: 'mcp:acme/desk', scopes: ['desk.read'] });
    const t = await token('agent', 'desk.write');
    const init = await post(INIT, t);
    assert.equal(init.status, 200, init.text);
    const [record] = await wouldRefuse(rule, 1);
    assert.equal(record?.reason, 'api.scope_missing');
    assert.equal(record?.requestId, `${init.headers.get('x-request-id')}~${rule.id}`);
    await deleteRule(deps(), rule.id);
    const roles = await createRule(deps(), { kind: 'api_requirement', target: 'mcp:acme/desk', roles: ['admin'] }, { mode: 'enforce' });
    await refreshCache(server);
    const refused = await post(INIT, t);
    assert.equal(refused.status, 403);
    assert.equal((await server.latchkey.storage.refusals.list({ reason: 'api.role_missing' })).find((x) => x.requestId === refused.headers.get('x-request-id'))?.facts?.rule, roles.id);
    await deleteRule(deps(), roles.id);
    await refreshCache(server);
  });

  it('doctor: rule_api_not_loaded knows the MCP servers and their tools', async () => {
    const d = registryDeps(server);
    const served = await createRule(d, { kind: 'api_requirement', target: 'mcp:acme/desk/ticket_close', scopes: ['desk.admin'] }, { mode: 'enforce' });
    const noTool = await createRule(d, { kind: 'api_requirement', target: 'mcp:acme/desk/ticket_reopen', scopes: ['desk.admin'] }, { mode: 'enforce' });
    const noServer = await createRule(d, { kind: 'api_requirement', target: 'mcp:acme/helpdesk', scopes: ['desk.admin'] }, { mode: 'enforce' });
    try {
      const findings = (await runDoctor({ storage: server.latchkey.storage, router: server.latchkey.router, clock: server.latchkey.clock })).filter((f) => f.id === 'rule_api_not_loaded');
      assert.deepEqual(findings.map((f) => f.target).sort(), [noTool.id, noServer.id].sort());
      assert.match(findings.find((f) => f.target === noTool.id)?.detail ?? '', /MCP server acme\/desk has no tool ticket_reopen \(its tools: ping, ticket_create, ticket_close\)/);
      assert.match(findings.find((f) => f.target === noServer.id)?.detail ?? '', /serves no MCP server acme\/helpdesk \(it serves mcp:acme\/desk/);
      assert.ok(!findings.some((f) => f.target === served.id));
    } finally {
      for (const r of [served, noTool, noServer]) await deleteRule(d, r.id);
    }
  });
});
