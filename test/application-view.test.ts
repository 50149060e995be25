import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { applicationDetailSchema, applicationViewSchema } from '../src/registry/application-view.js';
import { ADMIN_PASSWORD, adminToken, bearerClient, type AdminClient } from './helpers/admin.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const JWKS = JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0', use: 'sig', kid: 'k1' }] });

async function cliJson(db: string, args: readonly string[]): Promise<Record<string, unknown>> {
  let out = '';
  const io: IO = { out: (t) => void (out += t), err: () => {}, readStdin: async () => '' };
  const code = await main(['node', 'latchkey', ...args, '--json', '--db', db], io);
  assert.equal(code, 0, out);
  return JSON.parse(out) as Record<string, unknown>;
}

/** One application view (src/registry/application-view.ts): the admin API answers it, the CLI's JSON carries every field of it. */
describe('application view', () => {
  let server: TestServer;
  let admin: AdminClient;

  before(async () => {
    server = await startTestServer();
    admin = bearerClient(server, await adminToken(server, 'admin', ADMIN_PASSWORD));
  });
  after(async () => server?.close());

  it('every admin API answer about an application is the view, exactly (no secret hash, no unknown field)', async () => {
    const created = await admin.call('POST', '/applications', { name: 'View CC', kind: 'client_credentials' });
    assert.equal(created.status, 201, created.text);
    const jb = await admin.call('POST', '/applications', { name: 'View JB', kind: 'jwt_bearer', jwks: JWKS });
    assert.equal(jb.status, 201, jb.text);
    const clientId = created.json.application.clientId as string;
    const answers: unknown[] = [
      created.json.application,
      jb.json.application,
      ...((await admin.call('GET', '/applications')).json as unknown[]),
    ];
    const patched = await admin.call('PATCH', `/applications/${clientId}`, { active: false });
    assert.equal(patched.status, 200, patched.text);
    answers.push(patched.json.application ?? patched.json);
    for (const answer of answers) applicationViewSchema.parse(answer);
    // One application: the view and its registration member (null: not a registered client).
    const one = applicationDetailSchema.parse((await admin.call('GET', `/applications/${clientId}`)).json);
    assert.equal(one.registration, null);
    assert.equal(created.json.application.hasSecret, true);
    assert.equal(jb.json.application.jwks, JWKS);
  });

  it('`apps show --json` and `apps list --json` carry every field of the view (times as the same ISO text, the JWKS as a document)', async () => {
    const jb = await admin.call('POST', '/applications', { name: 'View JB 2', kind: 'jwt_bearer', jwks: JWKS });
    const view = applicationViewSchema.parse(jb.json.application);
    const shown = await cliJson(server.db, ['apps', 'show', view.clientId]);
    assert.deepEqual(Object.keys(view).filter((k) => !(k in shown)), []);
    for (const k of Object.keys(view) as (keyof typeof view)[]) {
      if (k === 'jwks') assert.deepEqual(shown.jwks, JSON.parse(JWKS));
      else assert.deepEqual(shown[k], view[k], k);
    }
    const listed = (await cliJson(server.db, ['apps', 'list'])) as unknown as Record<string, unknown>[];
    const row = listed.find((a) => a.clientId === view.clientId);
    assert.ok(row !== undefined);
    assert.deepEqual(Object.keys(view).filter((k) => !(k in row)), []);
  });
});
