/**
 * Where an application came from (Application.origin): made by an administrator, registered by
 * itself (RFC 7591) or named by a client ID metadata document. Every surface shows it: `apps list`
 * (a filter and the TYPE column), `apps show`, the admin API; the registry export carries only
 * administrator-made applications (the others are runtime data, like tokens), so `apply --prune`
 * never deletes a registered client.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { createApplication } from '../src/registry/applications.js';
import { adminToken, bearerClient } from './helpers/admin.js';
import { registryDeps } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

let server: TestServer;

async function cli(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: IO = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    readStdin: async () => '',
    interactive: false,
    askLine: async () => '',
  };
  const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
  return { code, out, err };
}

describe('application origin', () => {
  const cimdUrl = 'https://agent.example.test/client/metadata.json';
  before(async () => {
    server = await startTestServer();
    const deps = registryDeps(server);
    await createApplication(deps, { name: 'Made by hand', grantTypes: ['authorization_code'], redirectUris: ['https://app.example.test/cb'] });
    await createApplication(deps, { name: 'Registered agent', public: true, grantTypes: ['authorization_code'], redirectUris: ['http://127.0.0.1:3333/cb'] }, { origin: 'registration' });
    await createApplication(
      deps,
      { name: 'Document agent', public: true, grantTypes: ['authorization_code'], redirectUris: ['http://127.0.0.1:4444/cb'] },
      { origin: 'metadata_document', clientId: cimdUrl },
    );
  });
  after(async () => server?.close());

  it('apps list shows the origin in the TYPE column and filters by it; an unknown origin is refused with the choices', async () => {
    const all = await cli(['apps', 'list']);
    assert.equal(all.code, 0, all.err);
    // At 80 columns (CI) the cells wrap: the marks are read across the line breaks.
    assert.match(all.out, /\(registered/);
    assert.match(all.out, /\(metadata\s/);
    assert.match(all.out, /\sdocument\)/);
    assert.doesNotMatch(all.out, /confidentia\s*l\s+\(/, 'an administrator-made application has no mark');
    const registered = await cli(['apps', 'list', '--origin', 'registration', '--json']);
    assert.equal(registered.code, 0, registered.err);
    const rows = JSON.parse(registered.out) as { name: string; origin: string }[];
    assert.deepEqual(rows.map((r) => [r.name, r.origin]), [['Registered agent', 'registration']]);
    const admin = JSON.parse((await cli(['apps', 'list', '--origin', 'admin', '--json'])).out) as { name: string }[];
    assert.ok(admin.some((r) => r.name === 'Made by hand'));
    assert.ok(!admin.some((r) => r.name === 'Registered agent' || r.name === 'Document agent'));
    const bad = await cli(['apps', 'list', '--origin', 'dynamic']);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /Unknown origin "dynamic"\. Use one of: admin, registration, metadata_document\./);
  });

  it('apps show says where the application came from', async () => {
    const shown = await cli(['apps', 'show', cimdUrl]);
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /Origin\s+client ID metadata document \(its client id is the\s+document URL\)/);
    const hand = await cli(['apps', 'show', 'Made by hand']);
    assert.match(hand.out, /Origin\s+made by an administrator/);
  });

  it('the admin API reports the origin', async () => {
    const admin = bearerClient(server, await adminToken(server));
    const res = await admin.call('GET', '/applications');
    assert.equal(res.status, 200, res.text);
    const apps = (res.json as { items?: { name: string; origin: string }[] }).items ?? (res.json as { name: string; origin: string }[]);
    const byName = new Map(apps.map((a) => [a.name, a.origin]));
    assert.equal(byName.get('Made by hand'), 'admin');
    assert.equal(byName.get('Registered agent'), 'registration');
    assert.equal(byName.get('Document agent'), 'metadata_document');
  });

  it('the registry export lists administrator-made applications only', async () => {
    const exported = await cli(['export']);
    assert.equal(exported.code, 0, exported.err);
    assert.match(exported.out, /Made by hand/);
    assert.doesNotMatch(exported.out, /Registered agent|Document agent|agent\.example\.test/);
  });
});
