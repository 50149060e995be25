import { useState } from 'preact/hooks';
import { get, list, patch, post, type LockRow, type Role, type User } from '../api';
import { Alert, Badge, Card, Checkbox, Empty, Loading, PageHeader, TextField, splitList, useAction, useLoad } from '../ui';
import { LocksCard, lockedNames, UnlockButton } from './locks';
import { DeleteRoleButton, DeleteUserButton } from '../deletes';
import { DescriptionEditor } from '../describe';

/** What a change ended on the server (sessions; tokens on a password change or deactivation), or null for nothing. */
function endedText(ended: { sessions: number; tokens: number; families: number } | undefined): string | null {
  if (ended === undefined || (ended.sessions === 0 && ended.tokens === 0)) return null;
  const parts: string[] = [];
  if (ended.sessions > 0) parts.push(`ended ${ended.sessions} session${ended.sessions === 1 ? '' : 's'}`);
  if (ended.tokens > 0) parts.push(`revoked ${ended.tokens} token${ended.tokens === 1 ? '' : 's'} of ${ended.families} sign-in${ended.families === 1 ? '' : 's'}`);
  return `On every instance: ${parts.join('; ')}.`;
}

function UserRow(props: { user: User; locked: boolean; onChanged: () => void; onUnlocked: (message: string) => void; onDeleted: (message: string) => void }) {
  const u = props.user;
  const [roles, setRoles] = useState(u.roles.join(' '));
  const action = useAction();
  // The active switch has its own action, so a refusal (the last administrator) shows next to it.
  const status = useAction();
  const [ended, setEnded] = useState<string | null>(null);
  const change = (run: typeof action.run, body: Record<string, unknown>) => run(async () => {
    const answer = (await patch(`/users/${encodeURIComponent(u.userName)}`, body)) as { ended?: { sessions: number; tokens: number; families: number } } | undefined;
    setEnded(endedText(answer?.ended));
    props.onChanged();
  });
  const save = (body: Record<string, unknown>) => change(action.run, body);
  return (
    <tr>
      <th scope="row">
        <a href={`#/users/${encodeURIComponent(u.userName)}`}>{u.userName}</a>
      </th>
      <td>
        <form
          class="inline-form"
          onSubmit={(e) => {
            e.preventDefault();
            void save({ roles: splitList(roles) });
          }}
        >
          <label class="sr-only" for={`roles-${u.userName}`}>
            Roles of {u.userName}
          </label>
          <input id={`roles-${u.userName}`} type="text" value={roles} onInput={(e) => setRoles((e.currentTarget as HTMLInputElement).value)} />
          <button type="submit" class="small" disabled={action.busy}>
            Save roles
          </button>
        </form>
        {action.error === undefined ? null : <Alert>{action.error}</Alert>}
        {ended === null ? null : <Alert kind="success">{ended}</Alert>}
      </td>
      <td>
        {u.active ? <Badge kind="ok">Active</Badge> : <Badge kind="muted">Inactive</Badge>} {props.locked ? <Badge kind="warn">Locked</Badge> : null}
      </td>
      <td class="actions-cell">
        <button type="button" class="small" disabled={action.busy || status.busy} onClick={() => void change(status.run, { active: !u.active })}>
          {u.active ? 'Deactivate' : 'Activate'}
          <span class="sr-only"> {u.userName}</span>
        </button>
        {props.locked ? ' ' : null}
        {props.locked ? (
          <UnlockButton userName={u.userName} busy={action.busy} run={action.run} onUnlocked={props.onUnlocked} />
        ) : null}{' '}
        <DeleteUserButton user={u} onDeleted={props.onDeleted} disabled={action.busy || status.busy} />
        {status.error === undefined ? null : (
          <p class="field-error action-error" role="alert">
            {status.error}
          </p>
        )}
      </td>
    </tr>
  );
}

export function Users() {
  const users = useLoad(async () => list<User>(await get('/users'), 'users'));
  const roles = useLoad(async () => list<Role>(await get('/roles'), 'roles'));
  const locks = useLoad(async () => list<LockRow>(await get('/locks')));
  const [name, setName] = useState('');
  const [password, setPassword] = useState('');
  const [userRoles, setUserRoles] = useState('');
  const [active, setActive] = useState(true);
  const [done, setDone] = useState<string | null>(null);
  const create = useAction();
  const [roleName, setRoleName] = useState('');
  const [roleDesc, setRoleDesc] = useState('');
  const createRole = useAction();
  const locked = lockedNames(locks.data);
  const unlocked = (message: string) => {
    setDone(message);
    locks.reload();
  };
  return (
    <>
      <PageHeader title="Users & roles" intro="Local users (people, and the application users that client-credentials tokens act as) and the roles APIs require. Open a user to set its password or end its sessions." />
      {done === null ? null : <Alert kind="success">{done}</Alert>}
      <Card title="Users" titleId="users-title">
        <Loading loaded={users} />
        {users.data === undefined ? null : users.data.length === 0 ? (
          <Empty>No users.</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">User name</th>
                  <th scope="col">Roles (space-separated)</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {users.data.map((u) => (
                  <UserRow key={`${u.userName}:${u.roles.join(',')}:${u.active}`} user={u} locked={locked.has(u.userName)} onChanged={users.reload} onUnlocked={unlocked} onDeleted={(m) => (setDone(m), users.reload())} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Card>
      <LocksCard locks={locks} onUnlocked={unlocked} />
      <div class="grid2">
        <form
          class="card form"
          aria-labelledby="new-user-title"
          onSubmit={(e) => {
            e.preventDefault();
            void create.run(async () => {
              const b: Record<string, unknown> = { userName: name.trim(), roles: splitList(userRoles), active };
              if (password !== '') b.password = password;
              await post('/users', b);
              setDone(`User ${name.trim()} created.`);
              setName('');
              setPassword('');
              setUserRoles('');
              users.reload();
            });
          }}
        >
          <h2 id="new-user-title">New user</h2>
          <TextField label="User name" name="userName" value={name} onInput={setName} required autoComplete="off" />
          <TextField label="Password" name="password" type="password" value={password} onInput={setPassword} autoComplete="new-password" hint="Leave empty for an application user that never signs in with a password." />
          <TextField label="Roles" name="roles" value={userRoles} onInput={setUserRoles} hint="Space-separated, for example itil admin." />
          <Checkbox label="Active" checked={active} onChange={setActive} />
          {create.error === undefined ? null : <Alert>{create.error}</Alert>}
          <div class="form-actions">
            <button type="submit" class="primary" disabled={create.busy}>
              Create user
            </button>
          </div>
        </form>
        <section class="card" aria-labelledby="roles-title">
          <h2 id="roles-title">Roles</h2>
          <Loading loaded={roles} />
          {roles.data === undefined ? null : (
            <ul class="plain-list">
              {roles.data.map((r) => (
                <li key={r.name}>
                  <code>{r.name}</code> {r.builtIn === true ? <Badge>built in</Badge> : null}
                  {r.builtIn === true ? (
                    r.description === '' ? null : <span class="muted"> — {r.description}</span>
                  ) : (
                    <>
                      {' '}
                      <span class="muted">— </span>
                      <DescriptionEditor what={`role ${r.name}`} path={`/roles/${encodeURIComponent(r.name)}`} value={r.description} onSaved={roles.reload} />{' '}
                      <DeleteRoleButton role={r} onDeleted={(m) => (setDone(m), roles.reload(), users.reload())} />
                    </>
                  )}
                </li>
              ))}
            </ul>
          )}
          <form
            class="form"
            aria-labelledby="new-role-title"
            onSubmit={(e) => {
              e.preventDefault();
              void createRole.run(async () => {
                await post('/roles', { name: roleName.trim(), description: roleDesc.trim() });
                setDone(`Role ${roleName.trim()} created.`);
                setRoleName('');
                setRoleDesc('');
                roles.reload();
              });
            }}
          >
            <h3 id="new-role-title">New role</h3>
            <TextField label="Role name" name="roleName" value={roleName} onInput={setRoleName} required />
            <TextField label="Role description" name="roleDescription" value={roleDesc} onInput={setRoleDesc} />
            {createRole.error === undefined ? null : <Alert>{createRole.error}</Alert>}
            <div class="form-actions">
              <button type="submit" disabled={createRole.busy}>
                Create role
              </button>
            </div>
          </form>
        </section>
      </div>
    </>
  );
}
