/**
 * The registry's deletes and guards (issue 13), on the in-memory storage: what each delete ends,
 * what it refuses and names, what --cascade does, and that the instance always keeps an active
 * administrator and its console application. The CLI, admin API and console tests drive the same
 * functions through their surfaces.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { ManualClock } from '../src/core/clock.js';
import { BUILT_IN_GRANTS } from '../src/grants/index.js';
import { createApplication, deleteApplication, findApplication, updateApplication } from '../src/registry/applications.js';
import { bootstrap, CONSOLE_CLIENT_ID, ensureConsoleApplication } from '../src/registry/bootstrap.js';
import { createRole, deleteRole, updateRole } from '../src/registry/roles.js';
import { createScope, deleteScope, updateScope } from '../src/registry/scopes.js';
import { createUser, deleteUser, updateUser } from '../src/registry/users.js';
import { RegistryError } from '../src/registry/errors.js';
import { createMemoryStorage } from '../src/storage/memory/adapter.js';
import type { Storage } from '../src/storage/types.js';

const refusedWith = async (p: Promise<unknown>, code: string, ...mentions: string[]): Promise<void> => {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof RegistryError, String(e));
    assert.equal(e.code, code, e.message);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" should mention ${m}`);
    return true;
  });
};

describe('registry lifecycle: deletes and guards', () => {
  let storage: Storage;
  const clock = new ManualClock(Date.UTC(2026, 11, 1));
  const deps = () => ({ storage, clock, grants: BUILT_IN_GRANTS, actor: 'test' });

  beforeEach(async () => {
    storage = createMemoryStorage();
    await bootstrap({ storage, clock }, 'first-password');
    await ensureConsoleApplication({ storage, clock }, 'http://127.0.0.1:8080');
  });

  const token = async (applicationId: string, userId: string | null, scopes: string[] = []) => {
    const hash = `h-${Math.random()}`;
    await storage.tokens.insert([{ hash, kind: 'access', applicationId, userId, scopes, grantType: 'client_credentials', issuedAt: clock.now(), expiresAt: clock.now() + 60_000, familyId: hash }]);
    return hash;
  };

  it('finds an application by client id or by unique name; a shared name is refused with the client ids', async () => {
    const a = await createApplication(deps(), { name: 'Nightly export', grantTypes: ['client_credentials'] });
    assert.equal((await findApplication(deps(), 'Nightly export')).clientId, a.application.clientId);
    assert.equal((await findApplication(deps(), a.application.clientId)).name, 'Nightly export');
    const b = await createApplication(deps(), { name: 'Nightly export', grantTypes: ['client_credentials'] });
    await refusedWith(findApplication(deps(), 'Nightly export'), 'application_ambiguous', a.application.clientId, b.application.clientId);
    await refusedWith(findApplication(deps(), 'nothing'), 'application_not_found', 'latchkey apps list');
  });

  it('deleting an application revokes its tokens and audits it; the console application cannot be deleted or deactivated', async () => {
    const { application } = await createApplication(deps(), { name: 'Nightly export', grantTypes: ['client_credentials'] });
    const hash = await token(application.id, null);
    const other = await token('someone-else', null);
    const deleted = await deleteApplication(deps(), 'Nightly export');
    assert.equal(deleted.tokens, 1);
    assert.equal((await storage.tokens.byHash(hash))?.status, 'revoked');
    assert.equal((await storage.tokens.byHash(other))?.status, 'active');
    assert.equal(await storage.applications.byClientId(application.clientId), undefined);
    const entry = (await storage.audit.list({ action: 'application.delete' }))[0];
    assert.equal(entry?.target, application.clientId);
    assert.equal(entry?.actor, 'test');
    await refusedWith(deleteApplication(deps(), CONSOLE_CLIENT_ID), 'built_in', 'console');
    await refusedWith(updateApplication(deps(), CONSOLE_CLIENT_ID, { active: false }), 'built_in', 'lock every administrator out');
    assert.equal((await storage.applications.byClientId(CONSOLE_CLIENT_ID))?.active, true);
  });

  it('refuses to delete, deactivate or demote the last active administrator; allows it once another exists', async () => {
    await refusedWith(deleteUser(deps(), 'admin'), 'last_administrator', 'no active administrator', '--roles');
    await refusedWith(updateUser(deps(), 'admin', { active: false }), 'last_administrator', 'Deactivating');
    await refusedWith(updateUser(deps(), 'admin', { roles: ['itil'] }), 'last_administrator', 'Removing the admin role');
    // An inactive admin does not count.
    await createUser(deps(), { userName: 'backup', password: 'backup-password', roles: ['admin'], active: false });
    await refusedWith(deleteUser(deps(), 'admin'), 'last_administrator');
    await updateUser(deps(), 'backup', { active: true });
    const deleted = await deleteUser(deps(), 'admin');
    assert.equal(deleted.user.userName, 'admin');
    await refusedWith(updateUser(deps(), 'backup', { active: false }), 'last_administrator');
  });

  it('deleting a user is refused while an application acts as it, and otherwise ends its sessions and tokens', async () => {
    const { user } = await createUser(deps(), { userName: 'svc-integration', roles: ['itil'] });
    const { application } = await createApplication(deps(), { name: 'Nightly export', grantTypes: ['client_credentials'], appUser: 'svc-integration' });
    await refusedWith(deleteUser(deps(), 'svc-integration'), 'in_use', '"Nightly export"', application.clientId, '--app-user');
    await updateApplication(deps(), application.clientId, { appUser: null });
    const hash = await token(application.id, user.id);
    await storage.sessions.create({ id: 's1', kind: 'signin', userId: user.id, createdAt: clock.now(), lastSeenAt: clock.now(), expiresAt: clock.now() + 60_000, parentId: null, revokedAt: null });
    const deleted = await deleteUser(deps(), 'svc-integration');
    assert.deepEqual([deleted.tokens, deleted.sessions], [1, 1]);
    assert.equal((await storage.tokens.byHash(hash))?.status, 'revoked');
    assert.equal(await storage.users.byName('svc-integration'), undefined);
    assert.equal((await storage.audit.list({ action: 'user.delete' }))[0]?.target, 'svc-integration');
  });

  it('deleting a scope: built-ins and API requirements refuse; listing applications refuse unless cascade, which takes it from them and revokes tokens carrying it', async () => {
    await createScope(deps(), 'reports.read', 'Read');
    await updateScope(deps(), 'reports.read', 'Read the reports');
    assert.equal((await storage.scopes.byName('reports.read'))?.description, 'Read the reports');
    const { application } = await createApplication(deps(), { name: 'Reports', grantTypes: ['client_credentials'], scopes: ['reports.read'] });
    const carrying = await token(application.id, null, ['reports.read']);
    const plain = await token(application.id, null, []);
    await refusedWith(deleteScope(deps(), 'useraccount'), 'built_in');
    await refusedWith(deleteScope({ ...deps(), apiRequirements: (kind, name) => (kind === 'scope' && name === 'reports.read' ? ['GET /api/x/v1/reports'] : []) }, 'reports.read', { cascade: true }), 'in_use', 'GET /api/x/v1/reports');
    await refusedWith(deleteScope(deps(), 'reports.read'), 'in_use', '"Reports"', '--cascade');
    const deleted = await deleteScope(deps(), 'reports.read', { cascade: true });
    assert.deepEqual(deleted.applications, [application.clientId]);
    assert.equal(deleted.tokens, 1);
    assert.deepEqual((await storage.applications.byId(application.id))?.scopes, []);
    assert.equal((await storage.tokens.byHash(carrying))?.status, 'revoked');
    assert.equal((await storage.tokens.byHash(plain))?.status, 'active');
    assert.equal(await storage.scopes.byName('reports.read'), undefined);
  });

  it('roles: create with a description, update it; delete refuses the built-in admin role, holders unless cascade, and API requirements', async () => {
    await createRole(deps(), 'reporting', 'Reads reports');
    await refusedWith(createRole(deps(), 'reporting'), 'role_exists');
    await refusedWith(createRole(deps(), 'bad name'), 'invalid_input');
    await updateRole(deps(), 'reporting', 'Reads the reports');
    assert.equal((await storage.roles.byName('reporting'))?.description, 'Reads the reports');
    await createUser(deps(), { userName: 'ann', roles: ['reporting', 'itil'] });
    await refusedWith(deleteRole(deps(), 'admin'), 'built_in');
    await refusedWith(deleteRole({ ...deps(), apiRequirements: (kind) => (kind === 'role' ? ['GET /api/x/v1/reports'] : []) }, 'reporting', { cascade: true }), 'in_use', 'GET /api/x/v1/reports');
    await refusedWith(deleteRole(deps(), 'reporting'), 'in_use', 'ann', '--cascade');
    const deleted = await deleteRole(deps(), 'reporting', { cascade: true });
    assert.deepEqual(deleted.users, ['ann']);
    assert.deepEqual((await storage.users.byName('ann'))?.roles, ['itil']);
    assert.equal(await storage.roles.byName('reporting'), undefined);
    assert.equal((await storage.audit.list({ action: 'role.delete' }))[0]?.target, 'reporting');
  });
});
