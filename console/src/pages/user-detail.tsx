import { useState } from 'preact/hooks';
import { del, get, list, patch, type LockRow, type SessionRow, type User } from '../api';
import { Alert, Badge, Card, ConfirmButton, Empty, Loading, PageHeader, TextField, fmtTime, useAction, useLoad } from '../ui';
import { UnlockButton } from './locks';
import { ProfileCard } from './user-profile';

/**
 * One user: set its password (never shown, never echoed back), activate or deactivate it, clear
 * its password lockout, and see and end its sessions. `me` is the signed-in administrator: changing
 * your own password ends your sessions too, this one included.
 */

type Ended = { sessions: number; tokens: number; families: number };

/** What a password change or deactivation ended on the server, in words. */
export function endedText(ended: Ended | undefined): string | null {
  if (ended === undefined || (ended.sessions === 0 && ended.tokens === 0)) return null;
  const parts: string[] = [];
  if (ended.sessions > 0) parts.push(`ended ${ended.sessions} session${ended.sessions === 1 ? '' : 's'}`);
  if (ended.tokens > 0) parts.push(`revoked ${ended.tokens} token${ended.tokens === 1 ? '' : 's'} of ${ended.families} sign-in${ended.families === 1 ? '' : 's'}`);
  return `On every instance: ${parts.join('; ')}.`;
}

const MIN_PASSWORD = 8;

function PasswordCard(props: { user: User; me: boolean; onChanged: (message: string, signedOut: boolean) => void }) {
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [mismatch, setMismatch] = useState<string | undefined>(undefined);
  const action = useAction();
  const name = props.user.userName;
  const changed = props.user.passwordChangedAt;
  return (
    <form
      class="card form"
      aria-labelledby="password-title"
      onSubmit={(e) => {
        e.preventDefault();
        setMismatch(undefined);
        if (password.length < MIN_PASSWORD) return setMismatch(`A password needs at least ${MIN_PASSWORD} characters.`);
        if (password !== again) return setMismatch('The two passwords differ: type the same password twice.');
        void action.run(async () => {
          const answer = await patch<{ ended?: Ended }>(`/users/${encodeURIComponent(name)}`, { password });
          // Never kept in the page once sent.
          setPassword('');
          setAgain('');
          props.onChanged(`Password of ${name} changed. ${endedText(answer.ended) ?? ''}`.trim(), props.me);
        });
      }}
    >
      <h2 id="password-title">Password</h2>
      <p class="muted">
        {props.user.hasPassword === false
          ? 'This user has no password: it cannot sign in with one (an application user). Setting one lets it sign in.'
          : changed === null || changed === undefined || Date.parse(changed) <= Date.parse(props.user.createdAt ?? '1970-01-01T00:00:00Z')
            ? 'The password is still the one set when the user was created.'
            : `Last changed ${fmtTime(changed)}.`}{' '}
        A new password ends the user's sessions and revokes its tokens on every instance.
      </p>
      {props.me ? <Alert kind="info">This is your own account: changing the password signs you out here too. Sign in again with the new password.</Alert> : null}
      <TextField label="New password" name="newPassword" type="password" value={password} onInput={setPassword} autoComplete="new-password" required hint={`At least ${MIN_PASSWORD} characters.`} />
      <TextField label="Repeat the new password" name="repeatPassword" type="password" value={again} onInput={setAgain} autoComplete="new-password" required error={mismatch} />
      {action.error === undefined ? null : <Alert>{action.error}</Alert>}
      <div class="form-actions">
        <button type="submit" class="primary" disabled={action.busy}>
          Set password
        </button>
      </div>
    </form>
  );
}

function StatusCard(props: { user: User; onChanged: (message: string) => void }) {
  const u = props.user;
  const action = useAction();
  const set = (active: boolean) =>
    action.run(async () => {
      const answer = await patch<{ ended?: Ended }>(`/users/${encodeURIComponent(u.userName)}`, { active });
      props.onChanged(`${u.userName} ${active ? 'activated' : 'deactivated'}. ${endedText(answer.ended) ?? ''}`.trim());
    });
  return (
    <Card title="Status" titleId="user-status-title">
      <p>{u.active ? <Badge kind="ok">Active</Badge> : <Badge kind="muted">Inactive</Badge>}</p>
      <p class="muted">{u.active ? 'Deactivating refuses its sign-ins and tokens at once.' : 'Inactive: it cannot sign in and its tokens are refused.'}</p>
      {u.active ? (
        <ConfirmButton label="Deactivate" confirmLabel="Yes, deactivate" danger disabled={action.busy} onConfirm={() => set(false)} />
      ) : (
        <button type="button" class="primary" disabled={action.busy} onClick={() => void set(true)}>
          Activate
        </button>
      )}
      {action.error === undefined ? null : <p class="field-error" role="alert">{action.error}</p>}
    </Card>
  );
}

function LockCard(props: { userName: string; onUnlocked: (message: string) => void }) {
  const locks = useLoad(async () => list<LockRow>(await get('/locks?limit=1000')).filter((l) => l.userName === props.userName));
  const action = useAction();
  const rows = locks.data;
  const locked = (rows ?? []).some((l) => l.lockedUntil !== null);
  return (
    <Card title="Password lockout" titleId="user-locks-title">
      <Loading loaded={locks} />
      {rows === undefined ? null : rows.length === 0 ? (
        <Empty>No failed password attempts are being counted for {props.userName}.</Empty>
      ) : (
        <>
          <p>
            {locked ? <Badge kind="warn">Locked</Badge> : <Badge kind="muted">Counting</Badge>}{' '}
            {rows.reduce((n, l) => n + (l.kind === 'pair' ? l.failures : 0), 0)} failed attempts from {rows.filter((l) => l.kind === 'pair').length} source(s).
          </p>
          <ul class="plain-list">
            {rows.map((l) => (
              <li key={`${l.kind}:${l.source ?? ''}`}>
                {l.kind === 'pair' ? <code>{l.source}</code> : <span class="muted">all sources</span>}: {l.failures} failure{l.failures === 1 ? '' : 's'}, last {fmtTime(l.lastFailureAt)}
                {l.lockedUntil === null ? null : <> · <Badge kind="warn">Locked until {fmtTime(l.lockedUntil)}</Badge></>}
              </li>
            ))}
          </ul>
          <UnlockButton
            userName={props.userName}
            busy={action.busy}
            run={action.run}
            onUnlocked={(message) => {
              props.onUnlocked(message);
              locks.reload();
            }}
          />
          {action.error === undefined ? null : <Alert>{action.error}</Alert>}
        </>
      )}
    </Card>
  );
}

const KIND: Record<SessionRow['kind'], string> = { signin: 'Sign-in', console: 'Console' };

function SessionsCard(props: { userName: string; onEnded: (message: string, signedOut: boolean) => void }) {
  const path = `/users/${encodeURIComponent(props.userName)}/sessions`;
  const sessions = useLoad(async () => (await get<{ sessions: SessionRow[] }>(path)).sessions);
  const action = useAction();
  const rows = sessions.data;
  const end = (target: string, current: boolean) =>
    action.run(async () => {
      const r = await del<{ ended: number }>(target);
      props.onEnded(`Ended ${r.ended} session${r.ended === 1 ? '' : 's'} of ${props.userName} on every instance.`, current);
      if (!current) sessions.reload();
    });
  return (
    <Card title="Sessions" titleId="user-sessions-title">
      <p class="muted">
        Browsers signed in as {props.userName}: sign-in sessions of the authorization pages, and console sessions. Ending one signs that browser out at its next request, and the applications signed in through it are told by back-channel logout (ending a sign-in also ends the
        console sessions started from it); tokens already issued stay valid until revoked on <a href={`#/tokens?user=${encodeURIComponent(props.userName)}`}>Tokens</a>.
      </p>
      <Loading loaded={sessions} />
      {action.error === undefined ? null : <Alert>{action.error}</Alert>}
      {rows === undefined ? null : rows.length === 0 ? (
        <Empty>No live sessions.</Empty>
      ) : (
        <>
          <div class="table-wrap">
            <table aria-labelledby="user-sessions-title">
              <thead>
                <tr>
                  <th scope="col">Session</th>
                  <th scope="col">Kind</th>
                  <th scope="col">Started</th>
                  <th scope="col">Last used</th>
                  <th scope="col">Ends if unused</th>
                  <th scope="col">Signed in to</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {rows.map((s) => (
                  <tr key={s.handle} data-session={s.handle}>
                    <th scope="row">
                      <code>{s.handle}</code> {s.current ? <Badge kind="info">this browser</Badge> : null}
                    </th>
                    <td>{KIND[s.kind]}</td>
                    <td>{fmtTime(s.startedAt)}</td>
                    <td>{fmtTime(s.lastSeenAt)}</td>
                    <td>{fmtTime(s.endsAt)}</td>
                    <td>
                      {s.applications.length === 0 ? <span class="muted">—</span> : s.applications.map((a) => a.name).join(', ')}
                      {s.sid === null ? null : (
                        <>
                          <br />
                          <span class="muted">
                            sid <code>{s.sid}</code>
                          </span>
                        </>
                      )}
                    </td>
                    <td class="actions-cell">
                      <ConfirmButton
                        small
                        danger
                        label="End session"
                        confirmLabel={s.current ? 'Yes, sign me out' : 'Yes, end it'}
                        disabled={action.busy}
                        onConfirm={() => end(`${path}/${encodeURIComponent(s.handle)}`, s.current)}
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="form-actions">
            <ConfirmButton
              danger
              label="End all sessions"
              confirmLabel={`Yes, end all ${rows.length}`}
              disabled={action.busy}
              onConfirm={() => end(path, rows.some((s) => s.current))}
            />
          </div>
        </>
      )}
    </Card>
  );
}

export function UserDetail(props: { userName: string; me: string }) {
  const name = props.userName;
  const user = useLoad(() => get<User>(`/users/${encodeURIComponent(name)}`));
  const [notice, setNotice] = useState<string | null>(null);
  const [signedOut, setSignedOut] = useState(false);
  const u = user.data;
  const done = (message: string, endsMine = false) => {
    setNotice(message);
    // Our own session ended with it: nothing more to load here; the next page asks to sign in.
    if (endsMine) setSignedOut(true);
    else user.reload();
  };
  return (
    <>
      <PageHeader
        title={name}
        intro={u === undefined ? undefined : <>Roles: {u.roles.length === 0 ? <span class="muted">none</span> : u.roles.map((r) => <code key={r}>{r} </code>)}</>}
        actions={
          <a class="button" href="#/users">
            All users
          </a>
        }
      />
      {notice === null ? null : <Alert kind="success">{notice}</Alert>}
      {signedOut ? (
        <p>
          Your console session has ended.{' '}
          <a class="button primary" href="/console/login">
            Sign in again
          </a>
        </p>
      ) : (
        <>
          <Loading loaded={user} />
          {u === undefined ? null : (
            <div class="detail-grid">
              <div>
                <PasswordCard user={u} me={u.userName === props.me} onChanged={done} />
                <SessionsCard userName={u.userName} onEnded={done} key={notice ?? ''} />
                <ProfileCard user={u} onChanged={(m) => done(m)} />
              </div>
              <div class="side">
                <StatusCard user={u} onChanged={(m) => done(m)} />
                <LockCard userName={u.userName} onUnlocked={(m) => setNotice(m)} />
                <Card title="History" titleId="user-history-title">
                  <dl class="kv">
                    <dt>Created</dt>
                    <dd>{fmtTime(u.createdAt ?? null)}</dd>
                    <dt>Updated</dt>
                    <dd>{fmtTime(u.updatedAt ?? null)}</dd>
                  </dl>
                  <p>
                    <a href={`#/tokens?user=${encodeURIComponent(u.userName)}`}>Its tokens</a> · <a href={`#/audit?target=${encodeURIComponent(u.userName)}`}>Its history</a>
                  </p>
                </Card>
              </div>
            </div>
          )}
        </>
      )}
    </>
  );
}
