import { DPOP_ALGS } from '../src/tokens/dpop.js';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport, StreamableHTTPError } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { apiCall, apiChallenge, assertApiRefusal, assertNoStack, challengeParams, type ApiReply } from './helpers/api.js';
import { FIXTURE_MCP_APIS } from './helpers/mcp.js';
import { buildFixture, CC_PROPERTY as CC } from './helpers/fixture.js';
import { ManualClock, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { compileMcpServer } from '../src/resource-server/compile-mcp.js';
import { loadMcpSdk } from '../src/resource-server/mcp-sdk.js';
import { hostedMcpResources } from '../src/resource-server/mcp.js';
import { ApiDefinitionError } from '../src/errors/api.js';
import { adminToken, bearerClient } from './helpers/admin.js';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';


const ACCEPT = 'application/json, text/event-stream';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'test', version: '1' } } };
const call = (name: string, args: Record<string, unknown> = {}, id = 2) => ({ jsonrpc: '2.0', id, method: 'tools/call', params: { name, arguments: args } });

type App = { clientId: string; secret: string; name: string };

describe('hosted MCP servers (defineMcpServer) on the MCP SDK transport', () => {
  const clock = new ManualClock();
  let server: TestServer;
  const apps: Record<string, App> = {};
  const clients: Client[] = [];

  async function token(app: string, scope?: string): Promise<string> {
    const a = apps[app]!;
    const r = await tokenRequest(server.url, { form: { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) }, basic: [a.clientId, a.secret] });
    assert.equal(r.status, 200, r.text);
    return String(r.json?.access_token);
  }

  /** The official SDK client, connected with a bearer token (requestInit headers). */
  async function connect(path: string, bearer?: string): Promise<Client> {
    const transport = new StreamableHTTPClientTransport(new URL(`${server.url}${path}`), bearer === undefined ? {} : { requestInit: { headers: { authorization: `Bearer ${bearer}` } } });
    const client = new Client({ name: 'latchkey-test', version: '1.0.0' });
    clients.push(client);
    await client.connect(transport);
    return client;
  }

  const post = (path: string, body: unknown, bearer?: string, headers: Record<string, string> = {}): Promise<ApiReply> =>
    apiCall(server.url, { method: 'POST', path, ...(bearer === undefined ? {} : { bearer }), ...(typeof body === 'string' ? { body, contentType: 'application/json' } : { json: body }), headers: { accept: ACCEPT, ...headers } });

  before(async () => {
    server = await startTestServer({ clock, apisDir: FIXTURE_MCP_APIS });
    const built = await buildFixture(
      server,
      {
        scopes: ['desk.write', 'desk.read'],
        users: [{ userName: 'svc-agent', roles: ['itil'] }, { userName: 'svc-plain' }],
        properties: { [CC]: 'true' },
        apps: {
          agent: { name: 'Desk agent', grantTypes: ['client_credentials'], appUser: 'svc-agent', scopes: ['desk.write', 'desk.read'] },
          plain: { name: 'Plain agent', grantTypes: ['client_credentials'], appUser: 'svc-plain', scopes: ['desk.write', 'desk.read'] },
        },
      },
      clock,
    );
    Object.assign(apps, built.apps);
  });
  after(async () => {
    for (const c of clients) await c.close().catch(() => undefined);
    await server.close();
  });

  it('the SDK client initializes, lists the tools and calls them', async () => {
    const client = await connect('/mcp/acme/desk', await token('agent', 'desk.write'));
    assert.equal(client.getServerVersion()?.name, 'Acme service desk');
    assert.equal(client.getInstructions(), 'Tickets, for tests.');
    const { tools } = await client.listTools();
    assert.deepEqual(tools.map((t) => t.name), ['ping', 'ticket_create', 'ticket_close']);
    assert.deepEqual(tools[1]?.inputSchema, { type: 'object', properties: { title: { type: 'string', minLength: 1 } }, required: ['title'] });
    const ping = await client.callTool({ name: 'ping', arguments: {} });
    assert.deepEqual(ping.structuredContent, { pong: true, user: 'svc-agent', scopes: ['desk.write'] });
    const created = await client.callTool({ name: 'ticket_create', arguments: { title: 'Printer' } });
    assert.deepEqual(created.content, [{ type: 'text', text: 'Created ticket "Printer"' }]);
    const closed = await client.callTool({ name: 'ticket_close', arguments: { id: 'T1' } });
    assert.deepEqual(closed.content, [{ type: 'text', text: 'Closed T1' }]);
  });

  it('tool errors are results with isError: invalid arguments, an ApiError, a failing handler (no stack, no message of the exception)', async () => {
    const client = await connect('/mcp/acme/desk', await token('agent', 'desk.write'));
    const invalid = await client.callTool({ name: 'ticket_create', arguments: { title: 42 } });
    assert.equal(invalid.isError, true);
    assert.match(JSON.stringify(invalid.content), /Invalid arguments for ticket_create/);
    const conflict = await client.callTool({ name: 'ticket_create', arguments: { title: 'conflict' } });
    assert.equal(conflict.isError, true);
    assert.deepEqual(conflict.content, [{ type: 'text', text: 'A ticket with that title exists: pick another title' }]);
    const crash = await client.callTool({ name: 'ticket_create', arguments: { title: 'crash' } });
    assert.equal(crash.isError, true);
    assert.doesNotMatch(JSON.stringify(crash.content), /boom/);
    assertNoStack(JSON.stringify(crash.content));
    await assert.rejects(client.callTool({ name: 'no_such_tool', arguments: {} }), /Unknown tool: no_such_tool/);
  });

  it('no token: 401 with a Bearer challenge, recorded as api.credentials_missing; the SDK client cannot connect', async () => {
    const res = await post('/mcp/acme/desk', INIT);
    // RFC 9728 §5.1: the challenge names the server's own metadata; a server without scopes of its own names its tools'.
    await assertApiRefusal(server.latchkey.storage, res, { status: 401, reason: 'api.credentials_missing', endpoint: 'mcp acme/desk', wwwAuthenticate: apiChallenge('/mcp/acme/desk', { scopes: ['desk.write'] }) });
    assert.equal(challengeParams(res.headers.get('www-authenticate')).params.resource_metadata, `${server.url}/.well-known/oauth-protected-resource/mcp/acme/desk`);
    await assert.rejects(connect('/mcp/acme/desk'), (e: unknown) => e instanceof StreamableHTTPError && e.code === 401);
    const bad = await post('/mcp/acme/desk', INIT, 'lk_at_not-a-real-token');
    await assertApiRefusal(server.latchkey.storage, bad, { status: 401, reason: 'token.unknown', error: 'invalid_token', endpoint: 'mcp acme/desk', wwwAuthenticate: apiChallenge('/mcp/acme/desk', { error: 'invalid_token', scopes: ['desk.write'] }) });
    assert.equal(challengeParams(bad.headers.get('www-authenticate')).params.error, 'invalid_token');
  });

  it('a tool whose scope the token lacks: 403 insufficient_scope naming the scope (the step-up), recorded; other tools still work', async () => {
    const t = await token('agent', 'desk.read');
    const res = await post('/mcp/acme/desk', call('ticket_create', { title: 'x' }), t);
    const refusal = await assertApiRefusal(server.latchkey.storage, res, {
      status: 403,
      reason: 'api.scope_missing',
      error: 'insufficient_scope',
      endpoint: 'mcp acme/desk',
      wwwAuthenticate: apiChallenge('/mcp/acme/desk', { error: 'insufficient_scope', scopes: ['desk.write'], description: 'The token needs one of the scopes: desk.write.' }),
    });
    assert.equal(challengeParams(res.headers.get('www-authenticate')).params.scope, 'desk.write');
    assert.equal(refusal.userName, 'svc-agent');
    assert.equal(refusal.clientId, apps.agent!.clientId);
    assert.match(refusal.hint ?? '', /MCP tool ticket_create of acme\/desk/);
    // In a batch too (older protocol revisions allow one): the whole request is refused.
    const batch = await post('/mcp/acme/desk', [call('ping', {}, 5), call('ticket_create', { title: 'y' }, 6)], t);
    assert.equal(batch.status, 403);
    // The SDK client sees the 403 (without an auth provider it cannot step up, so it fails).
    const client = await connect('/mcp/acme/desk', t);
    assert.equal((await client.callTool({ name: 'ping', arguments: {} })).isError, undefined);
    await assert.rejects(client.callTool({ name: 'ticket_create', arguments: { title: 'z' } }), (e: unknown) => e instanceof StreamableHTTPError && e.code === 403);
  });

  it('a tool needing a role the user lacks: 403 api.role_missing', async () => {
    const t = await token('plain', 'desk.write');
    const res = await post('/mcp/acme/desk', call('ticket_close', { id: 'T1' }), t);
    await assertApiRefusal(server.latchkey.storage, res, { status: 403, reason: 'api.role_missing', error: 'access_denied', endpoint: 'mcp acme/desk', wwwAuthenticate: null });
  });

  it('a server without authentication: anyone lists and calls; a tool with a scope still needs a token (401, then 403)', async () => {
    const client = await connect('/mcp/acme/open');
    const ping = await client.callTool({ name: 'ping', arguments: {} });
    assert.deepEqual(ping.structuredContent, { pong: true, user: null, scopes: [] });
    const anonymous = await post('/mcp/acme/open', call('secret'));
    // The 401 is the tool's: it names the tool's scope, and the open server's own metadata.
    await assertApiRefusal(server.latchkey.storage, anonymous, { status: 401, reason: 'api.credentials_missing', endpoint: 'mcp acme/open', wwwAuthenticate: apiChallenge('/mcp/acme/open', { scopes: ['desk.write'] }) });
    const lacking = await post('/mcp/acme/open', call('secret'), await token('agent', 'desk.read'));
    await assertApiRefusal(server.latchkey.storage, lacking, { status: 403, reason: 'api.scope_missing', endpoint: 'mcp acme/open', wwwAuthenticate: apiChallenge('/mcp/acme/open', { error: 'insufficient_scope', scopes: ['desk.write'] }) });
    const ok = await post('/mcp/acme/open', call('secret'), await token('agent', 'desk.write'));
    assert.equal(ok.status, 200, ok.text);
    assert.deepEqual(ok.json.result.content, [{ type: 'text', text: 'the secret' }]);
  });

  it('malformed bodies and wrong methods get 4xx, never 5xx', async () => {
    const t = await token('agent', 'desk.write');
    const bodies: unknown[] = ['', '{', 'null', '42', '"x"', '[]', '[1,2]', '{}', '{"jsonrpc":"2.0"}', '{"jsonrpc":"2.0","id":1,"method":"tools/call"}',
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":7}}', '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ping","arguments":"x"}}',
      '{"jsonrpc":"1.0","id":1,"method":"tools/list"}', '{"jsonrpc":"2.0","id":{},"method":"tools/list"}', '\u0000', '{"__proto__":{"x":1},"jsonrpc":"2.0","id":1,"method":"ping"}'];
    for (const body of bodies) {
      const res = await post('/mcp/acme/desk', body, t);
      assert.ok(res.status < 500, `${JSON.stringify(body)} → ${res.status} ${res.text}`);
      assertNoStack(res.text);
    }
    const wrongType = await apiCall(server.url, { method: 'POST', path: '/mcp/acme/desk', bearer: t, body: JSON.stringify(INIT), contentType: 'text/plain', headers: { accept: ACCEPT } });
    assert.equal(wrongType.status, 415);
    const noAccept = await apiCall(server.url, { method: 'POST', path: '/mcp/acme/desk', bearer: t, json: INIT, headers: { accept: 'text/html' } });
    assert.equal(noAccept.status, 406);
    for (const method of ['GET', 'DELETE', 'PUT']) {
      const res = await apiCall(server.url, { method, path: '/mcp/acme/desk', bearer: t, headers: { accept: ACCEPT } });
      assert.equal(res.status, 405, `${method} ${res.text}`);
      assert.equal(res.headers.get('allow'), 'POST');
    }
    const unknown = await post('/mcp/acme/nope', INIT, t);
    assert.equal(unknown.status, 404);
    const deeper = await post('/mcp/acme/desk/extra', INIT, t);
    assert.equal(deeper.status, 404);
    const big = await post('/mcp/acme/desk', JSON.stringify({ ...call('ticket_create', { title: 'x'.repeat(2_000_000) }) }), t);
    assert.equal(big.status, 413);
  });

  it('the MCP server is counted in the metrics under mcp:<ns>/<id>', async () => {
    const res = await fetch(`${server.url}/metrics`);
    const text = await res.text();
    assert.match(text, /latchkey_api_calls_total\{api="mcp:acme\/desk",status="200"\} \d+/);
    assert.match(text, /latchkey_api_calls_total\{api="mcp:acme\/desk",status="403"\} \d+/);
  });

  it('every surface lists the MCP servers: apis list (table and --json), the admin API, inspect', async () => {
    const cli = async (...args: string[]) => {
      let out = '';
      let err = '';
      const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
      const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
      return { code, out, err };
    };
    const table = await cli('apis', 'list', '--apis', FIXTURE_MCP_APIS);
    assert.equal(table.code, 0, table.err);
    assert.match(table.out, /acme\/desk\s+\/mcp\/acme\/desk\s+ticket_create\s+bearer\s+desk\.write/);
    assert.match(table.out, /acme\/open\s+\/mcp\/acme\/open\s+ping\s+none/);
    assert.match(table.out, /  acme\/desk\n    resource  http:\/\/127\.0\.0\.1:8080\/mcp\/acme\/desk\n    metadata  http:\/\/127\.0\.0\.1:8080\/\.well-known\/oauth-protected-resource\/mcp\/acme\/desk\n/);
    // The MCP section fits 80 columns (CI's width) with the ids and endpoints unwrapped.
    // (The resource and metadata URLs have lines of their own, never wrapped: they are copied.)
    const url = /^    (resource|metadata)  https?:\/\/\S+$/;
    for (const line of table.out.slice(table.out.indexOf('MCP servers')).split('\n')) assert.ok(line.length <= 80 || url.test(line), `wider than 80: ${line}`);
    const json = await cli('apis', 'list', '--apis', FIXTURE_MCP_APIS, '--json');
    const rows = JSON.parse(json.out) as { kind?: string; api: string; tool?: string; scopes: string[]; roles: string[]; resource?: string; resourceMetadata?: string }[];
    assert.deepEqual([...new Set(rows.filter((r) => r.kind === 'mcp').map((r) => r.resourceMetadata))], [
      'http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp/acme/desk',
      'http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp/acme/open',
    ]);
    const shown = await cli('apis', 'show', 'acme/desk', '--apis', FIXTURE_MCP_APIS, '--issuer', 'https://auth.example.com');
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /MCP server\s+acme\/desk/);
    assert.match(shown.out, /    resource  https:\/\/auth\.example\.com\/mcp\/acme\/desk\n    metadata  https:\/\/auth\.example\.com\/\.well-known\/oauth-protected-resource\/mcp\/acme\/desk\n/);
    assert.match(shown.out, /ticket_create\s+desk\.write/);
    for (const line of shown.out.split('\n')) assert.ok(line.length <= 80 || url.test(line), `wider than 80: ${line}`);
    const shownJson = JSON.parse((await cli('apis', 'show', 'acme/desk', '--apis', FIXTURE_MCP_APIS, '--issuer', 'https://auth.example.com', '--json')).out) as Record<string, unknown>;
    assert.deepEqual([shownJson.kind, shownJson.resource, shownJson.resourceMetadata, shownJson.scopes], ['mcp', 'https://auth.example.com/mcp/acme/desk', 'https://auth.example.com/.well-known/oauth-protected-resource/mcp/acme/desk', ['desk.write']]);
    const unknown = await cli('apis', 'show', 'acme/nope', '--apis', FIXTURE_MCP_APIS);
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.err, /Known: acme\/orders, acme\/desk, acme\/open/);
    assert.deepEqual(rows.filter((r) => r.kind === 'mcp').map((r) => [r.api, r.tool, r.scopes, r.roles]), [
      ['acme/desk', 'ping', [], []],
      ['acme/desk', 'ticket_create', ['desk.write'], []],
      ['acme/desk', 'ticket_close', [], ['itil']],
      ['acme/open', 'ping', [], []],
      ['acme/open', 'secret', ['desk.write'], []],
    ]);
    const listed = await bearerClient(server, await adminToken(server)).call('GET', '/mcp-servers');
    assert.equal(listed.status, 200, listed.text);
    const views = listed.json as { id: string; path: string; resource: string; metadataUrl: string; scopes: string[]; tools: { name: string; security: { scopes: string[] } }[] }[];
    assert.deepEqual(views.map((v) => v.path), ['/mcp/acme/desk', '/mcp/acme/open']);
    assert.deepEqual(views.map((v) => [v.resource, v.metadataUrl, v.scopes]), [
      [`${server.url}/mcp/acme/desk`, `${server.url}/.well-known/oauth-protected-resource/mcp/acme/desk`, ['desk.write']],
      [`${server.url}/mcp/acme/open`, `${server.url}/.well-known/oauth-protected-resource/mcp/acme/open`, ['desk.write']],
    ]);
    assert.deepEqual(views[0]?.tools.find((t) => t.name === 'ticket_create')?.security.scopes, ['desk.write']);
    const inspectedText = await cli('inspect', await token('agent', 'desk.read'), '--apis', FIXTURE_MCP_APIS, '--issuer', server.url);
    assert.equal(inspectedText.code, 0, inspectedText.err);
    // Each MCP server's resource and metadata once, beside the REST API's (keyed by resource: acme/orders is not acme/desk).
    assert.ok(inspectedText.out.includes(`  acme/desk  ${server.url}/mcp/acme/desk\n    metadata  ${server.url}/.well-known/oauth-protected-resource/mcp/acme/desk\n`), inspectedText.out);
    assert.ok(inspectedText.out.includes(`  acme/orders  ${server.url}/api/acme/orders\n`), inspectedText.out);
    const inspected = await cli('inspect', await token('agent', 'desk.read'), '--apis', FIXTURE_MCP_APIS, '--json');
    assert.equal(inspected.code, 0, inspected.err);
    const verdicts = (JSON.parse(inspected.out) as { apis: { method: string; tool?: string; accepted: boolean; reason: string | null }[] }).apis.filter((a) => a.method === 'MCP');
    assert.deepEqual(verdicts.map((v) => [v.tool, v.accepted, v.reason]), [
      ['ping', true, null],
      ['ticket_create', false, 'api.scope_missing'],
      ['ticket_close', true, null],
      ['ping', true, null],
      ['secret', false, 'api.scope_missing'],
    ]);
  });

  it('each MCP server has its own RFC 9728 document at the path-inserted well-known URL, and the instance document counts its scopes', async () => {
    for (const [id, name] of [['desk', 'Acme service desk'], ['open', 'Acme open tools']] as const) {
      const res = await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp/acme/${id}`);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
      assert.equal(res.headers.get('access-control-allow-origin'), '*');
      assert.deepEqual(await res.json(), {
        resource: `${server.url}/mcp/acme/${id}`,
        authorization_servers: [server.url],
        scopes_supported: ['desk.write'],
        bearer_methods_supported: ['header'],
        dpop_signing_alg_values_supported: [...DPOP_ALGS],
        resource_name: name,
      });
    }
    // The URL a 401 names is the document served (what an MCP client fetches next).
    const challenge = challengeParams((await post('/mcp/acme/desk', INIT)).headers.get('www-authenticate')).params;
    const named = await fetch(challenge.resource_metadata ?? '');
    assert.equal(((await named.json()) as { resource: string }).resource, `${server.url}/mcp/acme/desk`);
    assert.equal((await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp/acme/nope`)).status, 404);
    assert.equal((await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp/acme/desk/extra`)).status, 404);
    const preflight = await fetch(`${server.url}/.well-known/oauth-protected-resource/mcp/acme/desk`, { method: 'OPTIONS', headers: { origin: 'https://client.example', 'access-control-request-method': 'GET' } });
    assert.equal(preflight.status, 204);
    const instance = (await (await fetch(`${server.url}/.well-known/oauth-protected-resource`)).json()) as { scopes_supported?: string[] };
    assert.ok(instance.scopes_supported?.includes('desk.write'), JSON.stringify(instance));
  });

  it('hostedMcpResources names each server as a protected resource: its resource URI, scopes and name', () => {
    const resources = hostedMcpResources(`${server.url}/`, server.latchkey.router.mcpServers());
    assert.deepEqual(resources.map((r) => [r.resource, r.scopes, r.name]), [
      [`${server.url}/mcp/acme/desk`, ['desk.write'], 'Acme service desk'],
      [`${server.url}/mcp/acme/open`, ['desk.write'], 'Acme open tools'],
    ]);
  });
});

describe('defineMcpServer definitions are validated at load with clear messages', () => {
  before(loadMcpSdk);
  const tool = { name: 't', description: 'd', inputSchema: { type: 'object' }, handler: () => 'x' };
  const cases: [string, unknown, RegExp][] = [
    ['no tools', { namespace: 'a', id: 'b', tools: [] }, /tools: an MCP server needs at least one tool/],
    ['a bad tool name', { namespace: 'a', id: 'b', tools: [{ ...tool, name: 'has space' }] }, /tools\.0\.name: a tool name is 1 to 64/],
    ['a schema that is not an object', { namespace: 'a', id: 'b', tools: [{ ...tool, inputSchema: { type: 'string' } }] }, /inputSchema must be a JSON Schema object/],
    ['an invalid JSON Schema', { namespace: 'a', id: 'b', tools: [{ ...tool, inputSchema: { type: 'object', properties: { x: { type: 'nope' } } } }] }, /tool "t": inputSchema is not a valid JSON Schema/],
    ['two tools with one name', { namespace: 'a', id: 'b', tools: [tool, tool] }, /two tools are named "t"/],
    ['an unknown setting', { namespace: 'a', id: 'b', tools: [tool], resources: [] }, /unknown setting "resources"/],
    ['an unknown tool setting', { namespace: 'a', id: 'b', tools: [{ ...tool, scopes: ['x'] }] }, /tools\.0: unknown setting "scopes"/],
    ['Basic auth', { namespace: 'a', id: 'b', tools: [tool], security: { authMethods: ['basic'] } }, /security: unknown setting "authMethods"/],
    ['a handler that is no function', { namespace: 'a', id: 'b', tools: [{ ...tool, handler: 'x' }] }, /handler must be a function/],
  ];
  for (const [name, value, message] of cases) {
    it(name, () => {
      assert.throws(() => compileMcpServer('mcp/x.mjs', value), (e: unknown) => e instanceof ApiDefinitionError && e.file === 'mcp/x.mjs' && message.test(e.message));
    });
  }
});
