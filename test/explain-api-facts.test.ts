/**
 * The facts of token and API refusals against the change that caused them (issue 14, item 1): a
 * token revoked by an administrator (CLI, admin API) names that administrator, whatever the change
 * that revoked it (one token, every token of an application, a password change, a deactivation, a
 * delete of the application, of a scope); a client's own revocation says that no audited change did
 * it; a scope withdrawn from the application after the token was issued reads as withdrawn (when,
 * by whom), not as a scope the token never had; the times of an expired token survive its record's
 * purge; a forged console cookie is told apart from an ended session. The same facts in
 * `latchkey explain --json`. The caller's answer never carries them.
 */
import assert from 'node:assert/strict';
import { userInfo } from 'node:os';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { explainText } from '../src/cli/commands/explain.js';
import { tokenHandle } from '../src/core/crypto.js';
import { explainRefusal, type Explanation } from '../src/diagnostics/explain.js';
import type { AuditEntry, TokenRecord } from '../src/domain/model.js';
import { createApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { unverifiedRecordKey } from '../src/tokens/jwt.js';
import { adminFetch, adminToken, bearerClient, type AdminClient } from './helpers/admin.js';
import { apiCall, assertApiRefusal, FIXTURE_APIS, type ApiReply } from './helpers/api.js';
import { ManualClock, refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const PW = 'a-good-password-1';
const CLI_ACTOR = `cli:${userInfo().username}`;
const iso = (ms: number) => new Date(ms).toISOString();

describe('explanations of token and API refusals name the change and its actor', () => {
  const clock = new ManualClock();
  let server: TestServer;
  let admin: AdminClient;
  let n = 0;

  async function cli(args: readonly string[], stdin = ''): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => stdin };
    const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
    await refreshCache(server);
    return { code, out, err };
  }

  /** A new confidential application with the client credentials (and password) grant, and its token. */
  async function appWithToken(options: { appUser?: string; scopes?: string[]; scope?: string } = {}) {
    const name = `Facts app ${++n}`;
    const created = await createApplication(registryDeps(server, clock), { name, grantTypes: ['client_credentials', 'password'], appUser: options.appUser ?? 'svc', scopes: options.scopes ?? [] });
    await refreshCache(server);
    const basic = [created.application.clientId, created.clientSecret ?? ''] as const;
    const res = await tokenRequest(server.url, { form: { grant_type: 'client_credentials', ...(options.scope === undefined ? {} : { scope: options.scope }) }, basic });
    assert.equal(res.status, 200, res.text);
    return { clientId: created.application.clientId, basic, token: String(res.json?.access_token) };
  }

  const echo = (token: string, path = '/api/test/echo') => apiCall(server.url, { path, bearer: token });

  async function recordOf(token: string): Promise<TokenRecord> {
    const record = await server.latchkey.storage.tokens.byHash(unverifiedRecordKey(token) ?? '');
    assert.ok(record !== undefined);
    return record;
  }

  async function auditOf(target: string, action: string): Promise<AuditEntry> {
    const [entry] = await server.latchkey.storage.audit.list({ target, action, limit: 1 });
    assert.ok(entry !== undefined, `audit ${action} ${target}`);
    return entry;
  }

  /** The refusal of `res` (a 401 token.revoked by default), explained as `latchkey explain` does. */
  async function explained(res: ApiReply, reason = 'token.revoked', status = 401): Promise<Explanation> {
    const refusal = await assertApiRefusal(server.latchkey.storage, res, { status, reason: reason as never });
    // The caller is told nothing of it.
    assert.doesNotMatch(res.text, /revokedBy|withdrawn|cli:|tk_/);
    const e = await explainRefusal({ storage: server.latchkey.storage, supportedGrants: [...server.latchkey.grants.keys()] }, refusal);
    for (const label of ['Revoked at', 'Revoked by', 'Issued at']) if (reason === 'token.revoked') assert.ok(explainText(e).includes(label), label);
    return e;
  }

  /** A revoked token's facts: when (the stored token), who (the audit entry that revoked it). */
  async function assertRevokedBy(e: Explanation, token: string, entry: AuditEntry, detail = ''): Promise<void> {
    const record = await recordOf(token);
    assert.equal(e.facts.token, tokenHandle(record.hash));
    assert.equal(e.facts.issuedAt, iso(record.issuedAt));
    assert.equal(e.facts.revokedAt, iso(record.revokedAt ?? NaN));
    assert.equal(e.facts.revokedBy, `${entry.actor} (${entry.action}${detail})`);
  }

  before(async () => {
    server = await startTestServer({ clock, apisDir: FIXTURE_APIS });
    const deps = registryDeps(server, clock);
    await setProperty(deps, CC, 'true');
    for (const s of ['orders.read', 'export.read', 'gone.soon']) await createScope(deps, s);
    await createUser(deps, { userName: 'svc' });
    await createUser(deps, { userName: 'svc-doomed' });
    await createUser(deps, { userName: 'svc-lonely' });
    await createUser(deps, { userName: 'alice', password: PW });
    await refreshCache(server);
    admin = bearerClient(server, await adminToken(server));
  });
  after(async () => server.close());

  it('`latchkey tokens revoke <handle>`: revoked by the CLI actor (token.revoke), in `latchkey explain --json` too', async () => {
    const { token } = await appWithToken();
    const handle = tokenHandle((await recordOf(token)).hash);
    assert.equal((await cli(['tokens', 'revoke', handle])).code, 0);
    const res = await echo(token);
    const e = await explained(res);
    const entry = await auditOf(handle, 'token.revoke');
    assert.equal(entry.actor, CLI_ACTOR);
    await assertRevokedBy(e, token, entry);
    const json = await cli(['explain', res.requestId, '--json']);
    assert.equal(json.code, 0, json.err);
    const viaCli = JSON.parse(json.out) as Explanation;
    assert.deepEqual(viaCli.facts, e.facts);
    const plain = await cli(['explain', res.requestId]);
    assert.match(plain.out, new RegExp(`Revoked by\\s+${CLI_ACTOR} \\(token\\.revoke\\)`));
  });

  it('`latchkey tokens revoke --app`: every token of the application, revoked by the CLI actor (token.revoke_all)', async () => {
    const { clientId, token } = await appWithToken();
    assert.equal((await cli(['tokens', 'revoke', '--app', clientId])).code, 0);
    await assertRevokedBy(await explained(await echo(token)), token, await auditOf(clientId, 'token.revoke_all'));
  });

  it("a password change by the CLI revokes the user's tokens: revoked by that change (user.sessions_ended: password changed)", async () => {
    const { basic } = await appWithToken();
    const res = await tokenRequest(server.url, { form: { grant_type: 'password', username: 'alice', password: PW }, basic });
    assert.equal(res.status, 200, res.text);
    const token = String(res.json?.access_token);
    clock.advance(1000); // the change is told by passwordChangedAt
    assert.equal((await cli(['users', 'update', 'alice', '--password-stdin'], 'another-good-password-2\n')).code, 0);
    const entry = await auditOf('alice', 'user.sessions_ended');
    assert.equal(entry.actor, CLI_ACTOR);
    await assertRevokedBy(await explained(await echo(token)), token, entry, ': password changed');
  });

  it('an administrator deactivating the application user (admin API): revoked by the admin (user.sessions_ended: deactivated)', async () => {
    const { token } = await appWithToken({ appUser: 'svc-lonely' });
    const res = await admin.call('PATCH', '/users/svc-lonely', { active: false });
    assert.equal(res.status, 200, res.text);
    await refreshCache(server);
    const entry = await auditOf('svc-lonely', 'user.sessions_ended');
    assert.equal(entry.actor, 'admin');
    await assertRevokedBy(await explained(await echo(token)), token, entry, ': deactivated');
  });

  it('an administrator deleting the application (admin API): revoked by the admin (application.delete), found although the application is gone', async () => {
    const { clientId, token } = await appWithToken({ appUser: 'svc-doomed' });
    const res = await admin.call('DELETE', `/applications/${clientId}`);
    assert.equal(res.status, 200, res.text);
    await refreshCache(server);
    const entry = await auditOf(clientId, 'application.delete');
    assert.equal(entry.actor, 'admin');
    await assertRevokedBy(await explained(await echo(token)), token, entry);
  });

  it('an administrator deleting a scope the token carries (admin API, cascade): revoked by the admin (scope.delete)', async () => {
    const { token } = await appWithToken({ scopes: ['gone.soon'], scope: 'gone.soon' });
    const res = await admin.call('DELETE', '/scopes/gone.soon?cascade=true');
    assert.equal(res.status, 200, res.text);
    await refreshCache(server);
    const entry = await auditOf('gone.soon', 'scope.delete');
    assert.equal(entry.actor, 'admin');
    await assertRevokedBy(await explained(await echo(token)), token, entry, ': scope gone.soon');
  });

  it("the client's own revocation (RFC 7009) is no audited change, and the explanation says so", async () => {
    const { token, basic } = await appWithToken();
    const res = await tokenRequest(server.url, { path: '/oauth/revoke', form: { token }, basic });
    assert.equal(res.status, 200, res.text);
    const e = await explained(await echo(token));
    assert.equal(e.facts.revokedAt, iso((await recordOf(token)).revokedAt ?? NaN));
    assert.match(String(e.facts.revokedBy), /^no audited change: the client itself \(the revocation endpoint, RFC 7009\)/);
  });

  it('a scope withdrawn from the application after the token was issued: withdrawn (when, by whom), with a fix that works', async () => {
    const { clientId, token } = await appWithToken({ scopes: ['orders.read', 'export.read'], scope: 'orders.read export.read' });
    assert.equal((await echo(token, '/api/acme/orders/1')).status, 200);
    const res = await admin.call('PATCH', `/applications/${clientId}`, { scopes: ['export.read'] });
    assert.equal(res.status, 200, res.text);
    await refreshCache(server);
    const e = await explained(await echo(token, '/api/acme/orders/1'), 'api.scope_missing', 403);
    const entry = await auditOf(clientId, 'application.update');
    assert.equal(entry.actor, 'admin');
    const record = await recordOf(token);
    assert.deepEqual(e.facts.tokenScopes, record.scopes);
    assert.deepEqual([e.facts.requiredScopes, e.facts.allowedScopes, e.facts.withdrawnScopes], [['orders.read'], ['export.read'], ['orders.read']]);
    assert.deepEqual([e.facts.withdrawnAt, e.facts.withdrawnBy, e.facts.token], [iso(entry.at), 'admin', tokenHandle(record.hash)]);
    assert.match(e.fix ?? '', /withdrawn from the application at .* by admin/);
    assert.ok(e.fix?.includes(`latchkey apps update ${clientId} --scopes export.read,orders.read`), e.fix ?? '');
    // The command the fix offers works.
    assert.equal((await cli(['apps', 'update', clientId, '--scopes', 'export.read,orders.read'])).code, 0);
  });

  it('an API that requires a scope no auth scope is named after: the fix creates it first', async () => {
    // acme/orders PUT requires orders.write, which this instance does not have.
    const { clientId, token } = await appWithToken({ scopes: ['orders.read'], scope: 'orders.read' });
    const e = await explained(await apiCall(server.url, { method: 'PUT', path: '/api/acme/orders/1', bearer: token, json: {} }), 'api.scope_missing', 403);
    assert.deepEqual(e.facts.requiredScopes, ['orders.write']);
    assert.match(e.fix ?? '', /1\. create the scope .*latchkey scopes create orders\.write; 2\. add it to the application: latchkey apps update [0-9a-f]+ --scopes orders\.read,orders\.write/);
    assert.ok(e.fix?.includes(clientId));
  });

  it('a forged console cookie is not an ended session of this instance', async () => {
    const res = await adminFetch(server, 'GET', '/users', { headers: { cookie: 'latchkey_console=lk_ss_000000000000AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' } });
    assert.equal(res.status, 401);
    const refusal = await server.latchkey.storage.refusals.byRequestId(res.json.requestId as string);
    assert.equal(refusal?.reason, 'admin.session_ended');
    const e = await explainRefusal({ storage: server.latchkey.storage, supportedGrants: [] }, refusal!);
    assert.match(String(e.facts.sessionState), /^not a console session of this instance/);
    assert.equal(e.facts.session, undefined);
  });

  it('an expired token whose record was purged keeps its times (recorded with the refusal)', async () => {
    const created = await createApplication(registryDeps(server, clock), { name: 'Short-lived', grantTypes: ['client_credentials'], appUser: 'svc', accessTokenLifespan: 1 });
    await refreshCache(server);
    const res = await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [created.application.clientId, created.clientSecret ?? ''] });
    const token = String(res.json?.access_token);
    const record = await recordOf(token);
    clock.advance(2000);
    const refused = await echo(token);
    assert.ok((await server.latchkey.storage.tokens.deleteExpired(clock.now())) >= 1);
    assert.equal(await server.latchkey.storage.tokens.byHash(record.hash), undefined);
    const e = await explained(refused, 'token.expired');
    assert.deepEqual([e.facts.token, e.facts.issuedAt, e.facts.expiredAt], [tokenHandle(record.hash), iso(record.issuedAt), iso(record.expiresAt)]);
    assert.equal(e.facts.accessTokenLifespan, 1);
  });
});
