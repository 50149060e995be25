/**
 * Deleting things and the one token handle, through the real CLI (main() with a capturing IO)
 * against the database of a running test server (SQLite, or PostgreSQL in the PostgreSQL pass):
 * each delete asks on a terminal and refuses without one unless --yes; refusals name the
 * dependants; --cascade works; the tokens that depended on what was deleted are refused by the
 * running server (token endpoint, introspection, hosted API) as soon as it sees the change; every
 * delete is audited; and a token has one handle in `tokens list`, the admin API, the audit log,
 * `explain` and `inspect`, by which `tokens revoke` finds it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { tokenHandle, tokenKey } from '../src/core/crypto.js';
import { createApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { createUser } from '../src/registry/users.js';
import { adminToken, bearerClient } from './helpers/admin.js';
import { apiCall, assertApiRefusal, FIXTURE_APIS, type ApiReply } from './helpers/api.js';
import { buildFixture, CC_PROPERTY } from './helpers/fixture.js';
import { registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

interface Run {
  readonly code: number;
  readonly out: string;
  readonly err: string;
  /** The questions asked on the "terminal". */
  readonly asked: readonly string[];
}

let server: TestServer;

/** Runs the CLI on the server's database; `terminal` makes standard input a terminal that answers with these lines. */
async function cli(args: readonly string[], options: { terminal?: readonly string[]; stdin?: string } = {}): Promise<Run> {
  let out = '';
  let err = '';
  const asked: string[] = [];
  const answers = [...(options.terminal ?? [])];
  const io: IO = {
    out: (t) => void (out += t),
    err: (t) => void (err += t),
    readStdin: async () => options.stdin ?? '',
    interactive: options.terminal !== undefined,
    askLine: async (q) => {
      asked.push(q);
      return answers.shift() ?? '';
    },
  };
  const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
  return { code, out, err, asked };
}

async function json<T>(args: readonly string[], options: { stdin?: string } = {}): Promise<T> {
  const r = await cli([...args, '--json'], options);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as T;
}

/** Calls `call` until `done` says yes (the server sees a change made by another process within its poll interval), at most 5 s. */
async function eventually<T>(call: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const until = Date.now() + 5_000;
  for (;;) {
    const value = await call();
    if (done(value) || Date.now() > until) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
}

const echo = (token: string) => apiCall(server.url, { path: '/api/test/echo', bearer: token });
const refusedAtApi = (token: string): Promise<ApiReply> => eventually(() => echo(token), (r) => r.status === 401);

async function ccToken(clientId: string, secret: string, scope?: string): Promise<string> {
  const res = await tokenRequest(server.url, { basic: [clientId, secret], form: { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) } });
  assert.equal(res.status, 200, res.text);
  return String(res.json?.access_token);
}

async function auditEntries(action: string, target: string) {
  return server.latchkey.storage.audit.list({ action, target });
}

before(async () => {
  server = await startTestServer({ apisDir: FIXTURE_APIS, pollMs: 100 });
});

after(async () => server?.close());

describe('latchkey apps|users|scopes|roles delete', { timeout: 120_000 }, () => {
  it('apps delete: exit 2 without a terminal and --yes; asks on one; revokes its tokens, which the running server then refuses everywhere; audited', async () => {
    const fx = await buildFixture(server, {
      scopes: ['export.read'],
      users: [{ userName: 'svc-export' }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: {
        job: { name: 'Export job', grantTypes: ['client_credentials'], appUser: 'svc-export', scopes: ['export.read'] },
        rs: { name: 'Resource server', grantTypes: ['client_credentials'], appUser: 'svc-export', canIntrospect: true },
      },
    });
    const { clientId, secret } = fx.apps.job;
    const token = await ccToken(clientId, secret);
    assert.equal((await echo(token)).status, 200);

    const scripted = await cli(['apps', 'delete', clientId]);
    assert.equal(scripted.code, 2, scripted.err);
    assert.match(scripted.err, /not a terminal/);
    assert.match(scripted.err, /--yes/);
    const declined = await cli(['apps', 'delete', 'Export job'], { terminal: ['n'] });
    assert.equal(declined.code, 1);
    assert.match(declined.err, /Nothing was deleted/);
    assert.deepEqual(declined.asked, [`Delete application "Export job" (client id ${clientId}) and revoke its 1 active token? [y/N] `]);
    assert.equal((await echo(token)).status, 200, 'nothing changed after a no');

    const yes = await cli(['apps', 'delete', 'Export job'], { terminal: ['y'] });
    assert.equal(yes.code, 0, yes.err);
    assert.match(yes.out, new RegExp(`Deleted application "Export job" \\(client id ${clientId}\\)\\. Revoked 1 token`));
    assert.equal(await server.latchkey.storage.applications.byClientId(clientId), undefined);

    // The running server, told only through the database: the API, introspection and the token endpoint.
    const refused = await refusedAtApi(token);
    const refusal = await assertApiRefusal(server.latchkey.storage, refused, { status: 401, reason: 'token.revoked' });
    assert.ok(refusal.hint?.includes(tokenHandle(tokenKey(token))), `the refusal names the token's handle: ${refusal.hint}`);
    const introspected = await tokenRequest(server.url, { path: '/oauth/introspect', basic: [fx.apps.rs.clientId, fx.apps.rs.secret], form: { token } });
    assert.deepEqual(introspected.json, { active: false });
    const again = await tokenRequest(server.url, { basic: [clientId, secret], form: { grant_type: 'client_credentials' } });
    assert.equal(again.status, 401, again.text);
    assert.equal(again.json?.error, 'invalid_client');

    const [entry] = await auditEntries('application.delete', clientId);
    assert.ok(entry !== undefined, 'audited');
    assert.match(entry.actor, /^cli:/);
    assert.match(entry.after ?? '', /"revokedTokens":1/);
  });

  it('apps: addressed by client id or unique name everywhere; a shared name is refused with the client ids; --json names what was revoked', async () => {
    const deps = registryDeps(server);
    const a = await createApplication(deps, { name: 'Twin', grantTypes: ['password'] });
    const b = await createApplication(deps, { name: 'Twin', grantTypes: ['password'] });
    const ambiguous = await cli(['apps', 'delete', 'Twin', '--yes']);
    assert.equal(ambiguous.code, 1);
    assert.ok(ambiguous.err.includes(a.application.clientId) && ambiguous.err.includes(b.application.clientId), ambiguous.err);
    assert.match((await cli(['apps', 'show', 'Twin'])).err, /2 applications are named "Twin"/);
    const first = await json<{ deleted: string; clientId: string; revokedTokens: number }>(['apps', 'delete', a.application.clientId, '--yes']);
    assert.deepEqual(first, { deleted: 'application', clientId: a.application.clientId, name: 'Twin', revokedTokens: 0, families: 0 });
    // Now unique: the name works for show, update, rotate-secret, tokens list --app.
    assert.equal((await json<{ clientId: string }>(['apps', 'show', 'Twin'])).clientId, b.application.clientId);
    assert.equal((await json<{ application?: unknown; name: string }>(['apps', 'update', 'Twin', '--name', 'Twin two'])).name, 'Twin two');
    assert.equal((await json<{ clientId: string }>(['apps', 'rotate-secret', 'Twin two'])).clientId, b.application.clientId);
    assert.deepEqual(await json<unknown[]>(['tokens', 'list', '--app', 'Twin two']), []);
    const console = await cli(['apps', 'delete', 'latchkey-console', '--yes']);
    assert.equal(console.code, 1);
    assert.match(console.err, /built-in application the admin console signs in with/);
    const help = await cli(['apps', 'update', '--help']);
    assert.match(help.out, /<client-id\|name>/);
  });

  it('users delete: refused for an application user (naming the application) and the last administrator; otherwise ends its sessions and tokens', async () => {
    const fx = await buildFixture(server, {
      users: [{ userName: 'svc-acting' }, { userName: 'alice', password: 'alice-password-1' }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: { acting: { name: 'Acting app', grantTypes: ['client_credentials'], appUser: 'svc-acting' }, portal: { name: 'Alice portal', grantTypes: ['password'] } },
    });
    const acting = await cli(['users', 'delete', 'svc-acting', '--yes']);
    assert.equal(acting.code, 1);
    assert.match(acting.err, /application user of the application "Acting app"/);
    assert.ok(acting.err.includes(fx.apps.acting.clientId));
    const admin = await cli(['users', 'delete', 'admin', '--yes']);
    assert.equal(admin.code, 1);
    assert.match(admin.err, /no active administrator/);

    const signIn = await tokenRequest(server.url, { basic: [fx.apps.portal.clientId, fx.apps.portal.secret], form: { grant_type: 'password', username: 'alice', password: 'alice-password-1' } });
    assert.equal(signIn.status, 200, signIn.text);
    const access = String(signIn.json?.access_token);
    assert.equal((await echo(access)).status, 200);
    const asked = await cli(['users', 'delete', 'alice'], { terminal: ['yes'] });
    assert.equal(asked.code, 0, asked.err);
    assert.deepEqual(asked.asked, ['Delete user "alice", end its 0 sessions and revoke its 2 active tokens? [y/N] ']);
    assert.match(asked.out, /Deleted user alice\. Ended 0 sessions and revoked 2 tokens/);
    await assertApiRefusal(server.latchkey.storage, await refusedAtApi(access), { status: 401, reason: 'token.revoked' });
    const refreshed = await tokenRequest(server.url, { basic: [fx.apps.portal.clientId, fx.apps.portal.secret], form: { grant_type: 'refresh_token', refresh_token: String(signIn.json?.refresh_token) } });
    assert.equal(refreshed.json?.error, 'invalid_grant', refreshed.text);
    assert.equal((await auditEntries('user.delete', 'alice')).length, 1);
  });

  it('scopes delete: built-in and API-required scopes refused; a listed scope is refused naming the applications, then --cascade takes it from them and revokes its tokens', async () => {
    const fx = await buildFixture(server, {
      scopes: ['report.read'],
      users: [{ userName: 'svc-reports' }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: { reports: { name: 'Reports', grantTypes: ['client_credentials'], appUser: 'svc-reports', scopes: ['report.read'] } },
    });
    assert.match((await cli(['scopes', 'delete', 'useraccount', '--yes'])).err, /built-in scope/);
    await createScope(registryDeps(server), 'orders.read').catch(() => undefined);
    const required = await cli(['scopes', 'delete', 'orders.read', '--yes', '--apis', FIXTURE_APIS]);
    assert.equal(required.code, 1);
    assert.match(required.err, /Hosted APIs require the scope "orders\.read": GET \/api\/acme\/v2\/orders/);

    const token = await ccToken(fx.apps.reports.clientId, fx.apps.reports.secret, 'report.read');
    assert.equal((await echo(token)).status, 200);
    const listed = await cli(['scopes', 'delete', 'report.read', '--yes', '--apis', FIXTURE_APIS]);
    assert.equal(listed.code, 1);
    assert.match(listed.err, /The application "Reports" \(/);
    assert.match(listed.err, /--cascade/);
    const updated = await json<{ description: string }>(['scopes', 'update', 'report.read', '--description', 'Read the reports']);
    assert.equal(updated.description, 'Read the reports');

    const asked = await cli(['scopes', 'delete', 'report.read', '--cascade', '--apis', FIXTURE_APIS], { terminal: ['y'] });
    assert.equal(asked.code, 0, asked.err);
    assert.deepEqual(asked.asked, ['Delete scope "report.read", take it from 1 application ("Reports") and revoke every active token that carries it? [y/N] ']);
    assert.match(asked.out, /Deleted scope report\.read\. Taken from 1 application: .* Revoked 1 token carrying it/);
    assert.deepEqual((await server.latchkey.storage.applications.byClientId(fx.apps.reports.clientId))?.scopes, []);
    await assertApiRefusal(server.latchkey.storage, await refusedAtApi(token), { status: 401, reason: 'token.revoked' });
    assert.equal((await auditEntries('scope.delete', 'report.read')).length, 1);
    assert.equal((await auditEntries('application.update', fx.apps.reports.clientId)).length, 1, 'taking it from the application is audited');
  });

  it('roles create|list|update|delete: refused while users hold it (named) or an API requires it; --cascade takes it from them', async () => {
    const created = await json<{ name: string; description: string }>(['roles', 'create', 'reporting', '--description', 'Reads reports']);
    assert.deepEqual(created, { name: 'reporting', description: 'Reads reports', builtIn: false });
    assert.match((await cli(['roles', 'create', 'reporting'])).err, /already exists/);
    await json(['roles', 'update', 'reporting', '--description', 'Reads the nightly reports']);
    const roles = await json<{ name: string; description: string; users: number }[]>(['roles', 'list']);
    assert.deepEqual(roles.find((r) => r.name === 'reporting'), { name: 'reporting', description: 'Reads the nightly reports', builtIn: false, users: 0 });
    await createUser(registryDeps(server), { userName: 'bob', roles: ['reporting'] });
    const held = await cli(['roles', 'delete', 'reporting', '--yes']);
    assert.equal(held.code, 1);
    assert.match(held.err, /The user bob holds the role "reporting"/);
    assert.match((await cli(['roles', 'delete', 'admin', '--yes'])).err, /built-in role/);
    await cli(['roles', 'create', 'itil']);
    const required = await cli(['roles', 'delete', 'itil', '--yes', '--apis', FIXTURE_APIS]);
    assert.match(required.err, /Hosted APIs require the role "itil": GET \/api\/acme\/v1\/desk\/tickets/);
    const done = await json<{ deleted: string; fromUsers: string[] }>(['roles', 'delete', 'reporting', '--cascade', '--yes']);
    assert.deepEqual(done, { deleted: 'role', name: 'reporting', fromUsers: ['bob'] });
    assert.deepEqual((await server.latchkey.storage.users.byName('bob'))?.roles, []);
    assert.equal(await server.latchkey.storage.roles.byName('reporting'), undefined);
    assert.equal((await auditEntries('role.delete', 'reporting')).length, 1);
  });

  it('every delete refuses without a terminal and without --yes, with exit 2, and deletes nothing', async () => {
    await createScope(registryDeps(server), 'lonely.scope');
    await json(['roles', 'create', 'lonely-role']);
    await createUser(registryDeps(server), { userName: 'lonely-user' });
    for (const args of [['users', 'delete', 'lonely-user'], ['scopes', 'delete', 'lonely.scope'], ['roles', 'delete', 'lonely-role']]) {
      const r = await cli(args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /pass --yes/);
    }
    assert.ok((await server.latchkey.storage.users.byName('lonely-user')) !== undefined);
    assert.ok((await server.latchkey.storage.scopes.byName('lonely.scope')) !== undefined);
    assert.ok((await server.latchkey.storage.roles.byName('lonely-role')) !== undefined);
  });

  it('answers --help for the new commands', async () => {
    for (const c of [['apps', 'delete'], ['users', 'delete'], ['scopes', 'delete'], ['scopes', 'update'], ['roles', 'create'], ['roles', 'update'], ['roles', 'delete'], ['tokens', 'revoke']]) {
      const r = await cli([...c, '--help']);
      assert.equal(r.code, 0, c.join(' '));
      assert.match(r.out, /Usage: latchkey/, c.join(' '));
      if (c[1] === 'delete') assert.match(r.out, /--yes/, c.join(' '));
    }
  });
});

describe('one token handle', { timeout: 120_000 }, () => {
  it('the same handle in tokens list, the admin API, the audit log, explain and inspect; tokens revoke takes it (or a unique start of it)', async () => {
    const fx = await buildFixture(server, {
      users: [{ userName: 'svc-handles' }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: { h: { name: 'Handles app', grantTypes: ['client_credentials'], appUser: 'svc-handles' } },
    });
    const token = await ccToken(fx.apps.h.clientId, fx.apps.h.secret);
    const handle = tokenHandle(tokenKey(token));
    assert.match(handle, /^tk_[0-9a-f]{12}[\w-]{10}$/);
    const listed = await json<{ handle: string }[]>(['tokens', 'list', '--app', 'Handles app']);
    assert.deepEqual(listed.map((t) => t.handle), [handle]);
    assert.ok((await cli(['tokens', 'list', '--app', 'Handles app'])).out.includes(handle));
    const api = await bearerClient(server, await adminToken(server)).call('GET', `/tokens?application=${fx.apps.h.clientId}`);
    assert.deepEqual(api.json.map((t: { handle: string; id: string }) => [t.handle, t.id]), [[handle, handle]]);
    assert.ok(!api.text.includes(tokenKey(token)), 'the admin API shows the handle, not the stored key');

    const inspected = await json<{ token: { handle: string } }>(['inspect', '-'], { stdin: token });
    assert.equal(inspected.token.handle, handle);
    assert.match((await cli(['inspect', '-'], { stdin: token })).out, new RegExp(`Handle\\s+${handle}`));

    // A unique start of the handle is enough.
    const revoked = await json<{ handle: string; kind: string; revoked: number }>(['tokens', 'revoke', handle.slice(0, 20)]);
    assert.deepEqual(revoked, { handle, kind: 'access', revoked: 1 });
    const [entry] = await auditEntries('token.revoke', handle);
    assert.ok(entry !== undefined, 'audited under the handle');
    assert.ok(!(entry.before ?? '').includes(token) && !(entry.after ?? '').includes(token));

    const refused = await refusedAtApi(token);
    await assertApiRefusal(server.latchkey.storage, refused, { status: 401, reason: 'token.revoked' });
    const explained = await json<{ token: string; reason: string }>(['explain', refused.requestId]);
    assert.deepEqual([explained.token, explained.reason], [handle, 'token.revoked']);
    assert.match((await cli(['explain', refused.requestId])).out, new RegExp(`Token\\s+${handle}`));
    const refusals = await bearerClient(server, await adminToken(server)).call('GET', '/refusals?reason=token.revoked');
    assert.ok(refusals.json.some((r: { requestId: string; token: string }) => r.requestId === refused.requestId && r.token === handle), refusals.text);

    const already = await cli(['tokens', 'revoke', handle]);
    assert.equal(already.code, 1);
    assert.match(already.err, /already revoked/);
  });

  it('tokens revoke: an ambiguous start, a malformed or unknown handle, --app, --user, and exactly one of them', async () => {
    const fx = await buildFixture(server, {
      users: [{ userName: 'svc-bulk' }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: { a: { name: 'Bulk app', grantTypes: ['client_credentials'], appUser: 'svc-bulk' }, b: { name: 'Other bulk app', grantTypes: ['client_credentials'], appUser: 'svc-bulk' } },
    });
    const a1 = await ccToken(fx.apps.a.clientId, fx.apps.a.secret);
    const a2 = await ccToken(fx.apps.a.clientId, fx.apps.a.secret);
    const b1 = await ccToken(fx.apps.b.clientId, fx.apps.b.secret);
    // The first characters after tk_ are the issue time: tokens of the same hours share them.
    const ambiguous = await cli(['tokens', 'revoke', tokenHandle(tokenKey(a1)).slice(0, 9)]);
    assert.equal(ambiguous.code, 1);
    assert.match(ambiguous.err, /More than one token has a handle starting with/);
    assert.match((await cli(['tokens', 'revoke', 'tk_!!'])).err, /is not a token handle/);
    assert.match((await cli(['tokens', 'revoke', 'tk_ffffffffffffAAAAAAAAAA'])).err, /No token has the handle/);
    assert.equal((await cli(['tokens', 'revoke'])).code, 2);
    assert.equal((await cli(['tokens', 'revoke', 'tk_1234', '--app', 'Bulk app'])).code, 2);

    const byApp = await json<{ application: { clientId: string }; tokens: number }>(['tokens', 'revoke', '--app', 'Bulk app']);
    assert.deepEqual([byApp.application.clientId, byApp.tokens], [fx.apps.a.clientId, 2]);
    for (const t of [a1, a2]) await assertApiRefusal(server.latchkey.storage, await refusedAtApi(t), { status: 401, reason: 'token.revoked' });
    assert.equal((await echo(b1)).status, 200, 'the other application keeps its tokens');
    assert.equal((await auditEntries('token.revoke_all', fx.apps.a.clientId)).length, 1);

    // --user: the client-credentials tokens of applications acting as the user, too.
    const byUser = await json<{ user: string; tokens: number }>(['tokens', 'revoke', '--user', 'svc-bulk']);
    assert.deepEqual([byUser.user, byUser.tokens], ['svc-bulk', 1]);
    await assertApiRefusal(server.latchkey.storage, await refusedAtApi(b1), { status: 401, reason: 'token.revoked' });
    assert.equal((await auditEntries('token.revoke_all', 'svc-bulk')).length, 1);
  });
});
