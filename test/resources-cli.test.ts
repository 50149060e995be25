/**
 * `latchkey resources` and `apps update --resources` through the real CLI (main() with a capturing
 * IO) against the database of a running test server (SQLite, or PostgreSQL in the PostgreSQL pass):
 * a resource added is stored in its canonical form and accepted by the running server at once; the
 * list shows hosted APIs and external resources with their kind and fits 80 columns; an application
 * limited with --resources is refused another resource; remove asks, then new requests for it are
 * refused.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { CONSOLE_CLIENT_ID } from '../src/registry/built-ins.js';
import { FIXTURE_APIS } from './helpers/api.js';
import { buildFixture, CC_PROPERTY, type Fixture } from './helpers/fixture.js';
import { refreshCache, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

describe('latchkey resources (RFC 8707)', () => {
  let server: TestServer;
  let fx: Fixture<'caller'>;

  async function cli(args: readonly string[], options: { terminal?: readonly string[] } = {}): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const answers = [...(options.terminal ?? [])];
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '', interactive: options.terminal !== undefined, askLine: async () => answers.shift() ?? '' };
    const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
    return { code, out, err };
  }

  const token = (resource: string) => tokenRequest(server.url, { form: { grant_type: 'client_credentials', resource }, basic: [fx.apps.caller.clientId, fx.apps.caller.secret] });

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    fx = await buildFixture(server, {
      scopes: ['tickets.read', 'tickets.write'],
      users: [{ userName: 'svc-cli-ri' }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: { caller: { name: 'CLI RI caller', grantTypes: ['client_credentials'], appUser: 'svc-cli-ri', scopes: ['tickets.read', 'tickets.write'] } },
    });
  });
  after(async () => server?.close());

  it('add stores the canonical identifier, prints next steps, and the running server accepts it', async () => {
    const added = await cli(['resources', 'add', 'HTTPS://Support.Example.Test:443/mcp/', '--name', 'Support MCP', '--scopes', 'tickets.read']);
    assert.equal(added.code, 0, added.err);
    assert.match(added.out, /Registered resource https:\/\/support\.example\.test\/mcp\./);
    assert.match(added.out, /Next steps:/);
    assert.match(added.out, /apps update <client-id> --resources https:\/\/support\.example\.test\/mcp/);
    const again = await cli(['resources', 'add', 'https://support.example.test/mcp']);
    assert.notEqual(again.code, 0);
    assert.match(again.err, /registered already/);
    await refreshCache(server);
    const res = await token('https://support.example.test/mcp');
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json?.scope, 'tickets.read', 'narrowed to the scopes the resource accepts');
  });

  it('list shows hosted APIs and external resources with their kind, within 80 columns; --json too', async () => {
    const prev = process.env.COLUMNS;
    process.env.COLUMNS = '80';
    try {
      const listed = await cli(['resources', 'list', '--apis', FIXTURE_APIS, '--issuer', server.url]);
      assert.equal(listed.code, 0, listed.err);
      for (const line of listed.out.split('\n')) assert.ok(line.length <= 80, `wider than 80 columns: ${line}`);
      assert.match(listed.out, /\/api\/acme\/orders\s+api\s+Orders/);
      assert.match(listed.out, /https:\/\/support\.example\.test\/mcp\s+external\s+Support MCP/);
    } finally {
      if (prev === undefined) delete process.env.COLUMNS;
      else process.env.COLUMNS = prev;
    }
    const json = JSON.parse((await cli(['resources', 'list', '--apis', FIXTURE_APIS, '--issuer', server.url, '--json'])).out) as { uri: string; kind: string }[];
    assert.ok(json.some((r) => r.uri === `${server.url}/api/acme/orders` && r.kind === 'api'));
    assert.ok(json.some((r) => r.uri === 'https://support.example.test/mcp' && r.kind === 'external'));
  });

  it('update changes the accepted scopes; apps update --resources limits an application (any lifts it)', async () => {
    assert.equal((await cli(['resources', 'update', 'https://support.example.test/mcp', '--scopes', 'tickets.read,tickets.write'])).code, 0);
    assert.equal((await cli(['resources', 'add', 'https://other.example.test'])).code, 0);
    const limited = await cli(['apps', 'update', fx.apps.caller.clientId, '--resources', 'https://support.example.test/mcp/']);
    assert.equal(limited.code, 0, limited.err);
    const shown = await cli(['apps', 'show', fx.apps.caller.clientId]);
    assert.match(shown.out, /Resources \(RFC 8707\)\s+https:\/\/support\.example\.test\/mcp/);
    await refreshCache(server);
    const ok = await token('https://support.example.test/mcp');
    assert.equal(ok.status, 200, ok.text);
    assert.equal(ok.json?.scope, 'tickets.read tickets.write');
    const refused = await token('https://other.example.test');
    assert.equal(refused.status, 400);
    assert.equal(refused.json?.error, 'invalid_target');
    assert.equal((await cli(['apps', 'update', fx.apps.caller.clientId, '--resources', 'any'])).code, 0);
    await refreshCache(server);
    assert.equal((await token('https://other.example.test')).status, 200);
    const bad = await cli(['apps', 'update', fx.apps.caller.clientId, '--resources', 'not a uri']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.err, /not a resource identifier/);
  });

  it('doctor reports resource_unreachable: every application limited to other resources, or no application allowed a scope it accepts', async () => {
    const findings = async () => (JSON.parse((await cli(['doctor', '--json'])).out) as { id: string; target?: string; title: string }[]).filter((f) => f.id === 'resource_unreachable');
    assert.deepEqual(await findings(), [], 'reachable while an application may request any resource');
    assert.equal((await cli(['resources', 'add', 'https://lonely.example.test', '--scopes', 'nobody.has'])).code, 0);
    const scopeless = await findings();
    assert.deepEqual(scopeless.map((f) => f.target), ['https://lonely.example.test']);
    assert.match(scopeless[0]?.title ?? '', /scope/);
    // Every active application limited to another resource: both registered resources but that one are unreachable.
    const apps = await server.latchkey.storage.applications.list();
    for (const app of apps.filter((a) => a.active && a.clientId !== CONSOLE_CLIENT_ID)) {
      assert.equal((await cli(['apps', 'update', app.clientId, '--resources', 'https://support.example.test/mcp'])).code, 0);
    }
    const limited = await findings();
    assert.ok(limited.some((f) => f.target === 'https://other.example.test' && /No application may request/.test(f.title)), JSON.stringify(limited));
    assert.ok(!limited.some((f) => f.target === 'https://support.example.test/mcp'));
    for (const app of apps.filter((a) => a.active && a.clientId !== CONSOLE_CLIENT_ID)) assert.equal((await cli(['apps', 'update', app.clientId, '--resources', 'any'])).code, 0);
    assert.equal((await cli(['resources', 'remove', 'https://lonely.example.test', '--yes'])).code, 0);
    assert.deepEqual(await findings(), []);
  });

  it('remove asks for confirmation; afterwards the resource is unknown', async () => {
    const removed = await cli(['resources', 'remove', 'https://other.example.test', '--yes']);
    assert.equal(removed.code, 0, removed.err);
    await refreshCache(server);
    const res = await token('https://other.example.test');
    assert.equal(res.status, 400);
    assert.equal(res.json?.error, 'invalid_target');
    const missing = await cli(['resources', 'remove', 'https://other.example.test', '--yes']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.err, /No registered resource/);
  });
});
