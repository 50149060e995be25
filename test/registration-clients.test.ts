/**
 * Registered clients shown as such on every surface, against a running test server (SQLite, or
 * PostgreSQL in the PostgreSQL pass): `apps show` prints a Registration block (source, policy,
 * registered at, last used, reaping, registration_client_uri) and `--json` a registration member;
 * an administrator-made application has none; `registration clients [--stale]` lists them at 80
 * columns with the next reap's verdict; `inspect` of a registered client's token names its
 * registration; the admin API's application view carries the same registration member (null for
 * others) and GET /registration/clients takes ?stale=true.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { createUser } from '../src/registry/users.js';
import { createApplication } from '../src/registry/applications.js';
import { createInitialAccessToken, setPolicy } from '../src/registry/registration.js';
import { createScope } from '../src/registry/scopes.js';
import { applicationDetailSchema } from '../src/registry/application-view.js';
import { adminFetch, adminToken } from './helpers/admin.js';
import { pkcePair } from './helpers/authorize-flow.js';
import { authorizeInBrowser, Browser } from './helpers/browser.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

const DAY = 86_400_000;
let server: TestServer;

async function cli(args: readonly string[], stdin = ''): Promise<Run> {
  let out = '';
  let err = '';
  const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => stdin };
  const saved = process.env.COLUMNS;
  process.env.COLUMNS = '80';
  try {
    const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
    return { code, out, err };
  } finally {
    if (saved === undefined) delete process.env.COLUMNS;
    else process.env.COLUMNS = saved;
  }
}

const fits = (text: string) => assert.deepEqual(text.split('\n').filter((l) => l.length > 80 && !l.startsWith('  latchkey ')), [], 'every line fits 80 columns');

async function register(body: Record<string, unknown>, token?: string): Promise<Record<string, unknown>> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== undefined) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${server.url}/oauth/register`, { method: 'POST', headers, body: JSON.stringify(body) });
  const json = (await res.json()) as Record<string, unknown>;
  assert.equal(res.status, 201, JSON.stringify(json));
  return json;
}

/** Ages a registration: registered (and last used, when given) so many days ago. */
async function age(clientId: string, registeredDaysAgo: number, lastUsedDaysAgo: number | null): Promise<void> {
  const r = await server.latchkey.storage.registrations.byClientId(clientId);
  assert.ok(r !== undefined);
  const now = Date.now();
  await server.latchkey.storage.registrations.update({ ...r, createdAt: now - registeredDaysAgo * DAY, updatedAt: now - registeredDaysAgo * DAY, lastUsedAt: lastUsedDaysAgo === null ? null : now - lastUsedDaysAgo * DAY });
}

describe('registered clients on every surface', () => {
  let iatId: string;
  let fresh: Record<string, unknown>;
  let stale: Record<string, unknown>;
  let admin: string;

  before(async () => {
    server = await startTestServer();
    await createScope(registryDeps(server), 'orders.read', 'Read orders');
    await setPolicy({ ...registryDeps(server), actor: 'test' }, 'agents', { scopes: ['orders.read'], authMethods: ['none'] });
    const created = await createInitialAccessToken({ ...registryDeps(server), actor: 'test' }, { policy: 'agents' });
    iatId = created.record.id;
    fresh = await register({ client_name: 'Fresh agent', redirect_uris: ['http://localhost:8090/callback'], token_endpoint_auth_method: 'none', scope: 'orders.read' }, created.token);
    await server.latchkey.storage.properties.set('latchkey.registration.mode', 'open', Date.now());
    await server.latchkey.storage.properties.set('latchkey.rate_limit.registration', '0', Date.now());
    await refreshCache(server);
    stale = await register({ client_name: 'Stale agent', redirect_uris: ['http://127.0.0.1:8091/cb'], token_endpoint_auth_method: 'none' });
    // Fresh: registered 10 days ago, used 2 days ago. Stale: registered 45 days ago, used 31 days ago.
    await age(String(fresh.client_id), 10, 2);
    await age(String(stale.client_id), 45, 31);
    await createApplication(registryDeps(server), { name: 'Admin made', grantTypes: ['client_credentials'], scopes: ['orders.read'] });
    admin = await adminToken(server);
  });
  after(async () => server.close());

  it('apps show prints the Registration block of a registered client, --json its registration member', async () => {
    const shown = await cli(['apps', 'show', String(fresh.client_id), '--issuer', server.url]);
    assert.equal(shown.code, 0, shown.err);
    assert.match(shown.out, /\nRegistration \(RFC 7591\):\n/);
    assert.match(shown.out, new RegExp(`Source\\s+initial access token ${iatId}`));
    assert.match(shown.out, /Policy\s+agents\n/);
    assert.match(shown.out, /Registered at\s+\d{4}-\d\d-\d\dT/);
    assert.match(shown.out, /Last used\s+\d{4}-\d\d-\d\dT/);
    // Used 2 days ago, reaped after 30: due in 28 days.
    const due = new Date(Date.now() + 28 * DAY).toISOString().slice(0, 10);
    assert.match(shown.out, new RegExp(`Reaped\\s+${due}T[^\\n]*, 30 days after its last use\\n`));
    assert.ok(shown.out.includes(`\n    ${server.url}/oauth/register/${String(fresh.client_id)}\n`), shown.out);
    fits(shown.out);

    const json = JSON.parse((await cli(['apps', 'show', String(stale.client_id), '--json', '--issuer', server.url])).out) as { origin: string; registration: Record<string, unknown> };
    assert.equal(json.origin, 'registration');
    assert.equal(json.registration.source, 'ip:127.0.0.1');
    assert.equal(json.registration.policy, null);
    assert.equal(json.registration.reapDue, true);
    assert.equal(json.registration.reapAfterDays, 30);
    assert.equal(json.registration.registrationClientUri, stale.registration_client_uri);
    assert.match(String(json.registration.registeredAt), /^\d{4}-\d\d-\d\dT.*Z$/);
    const staleText = await cli(['apps', 'show', String(stale.client_id)]);
    assert.match(staleText.out, /Source\s+open registration from 127\.0\.0\.1/);
    assert.match(staleText.out, /Reaped\s+due: the next reap deletes it/);

    const plain = JSON.parse((await cli(['apps', 'show', 'Admin made', '--json'])).out) as { registration: unknown };
    assert.equal(plain.registration, null, 'an administrator-made application has no registration');
    assert.doesNotMatch((await cli(['apps', 'show', 'Admin made'])).out, /Registration/);
  });

  it('reaping off: apps show says never', async () => {
    await server.latchkey.storage.properties.set('latchkey.registration.reap_after_days', '0', Date.now());
    try {
      const json = JSON.parse((await cli(['apps', 'show', String(stale.client_id), '--json'])).out) as { registration: { reapAt: unknown; reapDue: boolean } };
      assert.deepEqual([json.registration.reapAt, json.registration.reapDue], [null, false]);
      assert.match((await cli(['apps', 'show', String(stale.client_id)])).out, /Reaped\s+never \(latchkey\.registration\.reap_after_days is 0\)/);
    } finally {
      await server.latchkey.storage.properties.set('latchkey.registration.reap_after_days', '30', Date.now());
    }
  });

  it('registration clients lists every registered client at 80 columns; --stale only what the next reap deletes, as reap --dry-run does', async () => {
    const all = await cli(['registration', 'clients']);
    assert.equal(all.code, 0, all.err);
    assert.match(all.out, /CLIENT ID\s+NAME\s+SOURCE\s+POLICY\s+USED\s+REAP\n/);
    assert.ok(all.out.includes(String(fresh.client_id)) && all.out.includes(String(stale.client_id)), all.out);
    assert.ok(all.out.includes(iatId), `the source names the initial access token:\n${all.out}`);
    assert.match(all.out, /\s31d\s/);
    assert.match(all.out, /\s28d\n/);
    assert.match(all.out, /next reap/);
    assert.match(all.out, /latchkey registration reap --dry-run/);
    fits(all.out);

    const onlyStale = await cli(['registration', 'clients', '--stale']);
    assert.equal(onlyStale.code, 0, onlyStale.err);
    assert.ok(onlyStale.out.includes(String(stale.client_id)));
    assert.ok(!onlyStale.out.includes(String(fresh.client_id)), onlyStale.out);
    fits(onlyStale.out);
    const staleJson = JSON.parse((await cli(['registration', 'clients', '--stale', '--json'])).out) as { clientId: string; name: string; reapDue: boolean }[];
    const dry = JSON.parse((await cli(['registration', 'reap', '--dry-run', '--json'])).out) as { candidates: { clientId: string }[] };
    assert.deepEqual(staleJson.map((c) => c.clientId).sort(), dry.candidates.map((c) => c.clientId).sort(), '--stale lists exactly what reap would delete');
    assert.deepEqual(staleJson.map((c) => [c.name, c.reapDue]), [['Stale agent', true]]);
  });

  it('the admin API: the application view carries registration (null for others), /registration/clients?stale=true', async () => {
    const headers = { authorization: `Bearer ${admin}` };
    const one = await adminFetch(server, 'GET', `/applications/${encodeURIComponent(String(fresh.client_id))}`, { headers });
    assert.equal(one.status, 200, one.text);
    const reg = applicationDetailSchema.parse(one.json).registration as Record<string, unknown>;
    assert.equal(reg.source, `iat:${iatId}`);
    assert.equal(reg.policy, 'agents');
    assert.equal(reg.reapDue, false);
    assert.equal(reg.registrationClientUri, fresh.registration_client_uri);
    assert.match(String(reg.reapAt), /^\d{4}-\d\d-\d\dT.*Z$/);
    const adminMade = (await server.latchkey.storage.applications.list()).find((a) => a.name === 'Admin made');
    const other = await adminFetch(server, 'GET', `/applications/${encodeURIComponent(adminMade?.clientId ?? '')}`, { headers });
    assert.equal((other.json as { registration: unknown }).registration, null);

    const staleOnly = await adminFetch(server, 'GET', '/registration/clients?stale=true', { headers });
    assert.equal(staleOnly.status, 200, staleOnly.text);
    assert.deepEqual((staleOnly.json as { clientId: string }[]).map((c) => c.clientId), [String(stale.client_id)]);
    const every = (await adminFetch(server, 'GET', '/registration/clients', { headers })).json as { clientId: string; reapDue: boolean }[];
    assert.equal(every.length, 2);
    assert.equal((await adminFetch(server, 'GET', '/registration/clients?stale=maybe', { headers })).status, 400);
    const openapi = (await (await fetch(`${server.url}/admin/api/openapi.json`)).json()) as { paths: Record<string, { get?: { summary: string } }> };
    assert.match(openapi.paths['/admin/api/v1/applications/{clientId}']?.get?.summary ?? '', /registration member/);
  });

  it('inspect of a registered client\'s token names its registration', async () => {
    await createUser(registryDeps(server), { userName: 'reg-user', password: 'reg-user-password-1' });
    await refreshCache(server);
    const clientId = String(fresh.client_id);
    const { verifier, challenge } = pkcePair();
    const params = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: 'http://localhost:8090/callback', scope: 'orders.read', state: 's1', code_challenge: challenge, code_challenge_method: 'S256' });
    const page = await authorizeInBrowser(new Browser(server.url), `${server.url}/oauth/authorize?${params.toString()}`, { username: 'reg-user', password: 'reg-user-password-1' });
    const code = new URL(page.location ?? '').searchParams.get('code');
    assert.ok(code !== null, page.location);
    const tok = await tokenRequest(server.url, { form: { grant_type: 'authorization_code', client_id: clientId, code, redirect_uri: 'http://localhost:8090/callback', code_verifier: verifier } });
    assert.equal(tok.status, 200, tok.text);
    const token = String(tok.json?.access_token);
    const inspected = await cli(['inspect', '-'], token);
    assert.equal(inspected.code, 0, inspected.err);
    assert.match(inspected.out.replace(/\n\s+/g, ' '), new RegExp(`Registration\\s+dynamically registered \\(RFC 7591\\) by initial access token ${iatId} at \\d{4}-.*policy agents`));
    const json = JSON.parse((await cli(['inspect', '-', '--json'], token)).out) as { application: { origin: string; registration: { source: string; reapDue: boolean } } };
    assert.equal(json.application.origin, 'registration');
    assert.deepEqual([json.application.registration.source, json.application.registration.reapDue], [`iat:${iatId}`, false]);
    const debug = await adminFetch(server, 'POST', '/inspect', { headers: { authorization: `Bearer ${admin}` }, body: { token } });
    assert.equal(debug.status, 200, debug.text);
    assert.equal((debug.json as { application: { registration: { policy: string } } }).application.registration.policy, 'agents');
  });
});
