import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addResource } from '../src/registry/resources.js';
import { apiCall, assertApiRefusal } from './helpers/api.js';
import { buildFixture, CC_PROPERTY as CC, type Fixture } from './helpers/fixture.js';
import { FIXTURE_MCP_APIS } from './helpers/mcp.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * RFC 8707 at a hosted MCP server: its identifier (<issuer>/mcp/<namespace>/<id>) is a known
 * resource accepting the scopes its tools require; a token for it is accepted there, a token for
 * another resource is refused (401 invalid_token, token.wrong_resource).
 */

const ACCEPT = 'application/json, text/event-stream';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'test', version: '1' } } };
const OTHER = 'https://other-mcp.example.test/mcp';

describe('resource indicators at hosted MCP servers', () => {
  let server: TestServer;
  let fx: Fixture<'agent'>;

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_MCP_APIS });
    fx = await buildFixture(server, {
      scopes: ['desk.write', 'desk.read'],
      users: [{ userName: 'svc-ri-agent', roles: ['itil'] }],
      properties: { [CC]: 'true' },
      apps: { agent: { name: 'RI desk agent', grantTypes: ['client_credentials'], appUser: 'svc-ri-agent', scopes: ['desk.write', 'desk.read'] } },
    });
    await addResource(registryDeps(server), { uri: OTHER });
    await refreshCache(server);
  });
  after(async () => server?.close());

  const token = async (resource: string, scope = 'desk.write') => {
    const r = await tokenRequest(server.url, { form: { grant_type: 'client_credentials', resource, scope }, basic: [fx.apps.agent.clientId, fx.apps.agent.secret] });
    assert.equal(r.status, 200, r.text);
    return String(r.json?.access_token);
  };
  const init = (bearer: string) => apiCall(server.url, { method: 'POST', path: '/mcp/acme/desk', bearer, json: INIT, headers: { accept: ACCEPT } });

  it('a token for the MCP server is accepted; one for another resource is refused with token.wrong_resource', async () => {
    const desk = `${server.url}/mcp/acme/desk`;
    const ok = await init(await token(desk));
    assert.equal(ok.status, 200, ok.text);
    const res = await init(await token(OTHER));
    const refusal = await assertApiRefusal(server.latchkey.storage, res, { status: 401, reason: 'token.wrong_resource', error: 'invalid_token', endpoint: 'mcp acme/desk' });
    assert.deepEqual([refusal.facts?.tokenAudience, refusal.facts?.expectedAudience], [[OTHER], desk]);
  });

  it('the MCP server accepts the scopes its tools require, and no other', async () => {
    const r = await tokenRequest(server.url, { form: { grant_type: 'client_credentials', resource: `${server.url}/mcp/acme/desk`, scope: 'desk.read' }, basic: [fx.apps.agent.clientId, fx.apps.agent.secret] });
    assert.equal(r.status, 400, r.text);
    assert.equal(r.json?.error, 'invalid_scope');
    assert.equal((await server.latchkey.storage.refusals.byRequestId(r.requestId))?.reason, 'resource.scope_not_accepted');
  });
});
