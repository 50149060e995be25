import { del, type LockRow } from '../api';
import { Alert, Badge, Card, Empty, Loading, fmtTime, useAction, type Loaded } from '../ui';

/** Clears a user name's failed attempts (DELETE /users/:userName/lock, audited as user.unlock). */
export async function unlock(userName: string): Promise<number> {
  const r = await del<{ cleared: number }>(`/users/${encodeURIComponent(userName)}/lock`);
  return r.cleared;
}

/** The user names that refuse attempts now, from some source or from new ones. */
export function lockedNames(locks: readonly LockRow[] | undefined): Set<string> {
  return new Set((locks ?? []).filter((l) => l.lockedUntil !== null).map((l) => l.userName));
}

/** The Unlock button of a user name (Users page rows and the lockout card share it). */
export function UnlockButton(props: { userName: string; busy: boolean; run: (task: () => Promise<void>) => unknown; onUnlocked: (message: string) => void }) {
  const name = props.userName;
  return (
    <button type="button" class="small" disabled={props.busy} onClick={() => void props.run(async () => props.onUnlocked(`Cleared ${await unlock(name)} record(s) of failed attempts for ${name}.`))}>
      Unlock<span class="sr-only"> {name}</span>
    </button>
  );
}

function LockRowView(props: { lock: LockRow; onUnlocked: (message: string) => void }) {
  const l = props.lock;
  const action = useAction();
  return (
    <tr>
      <th scope="row">{l.userName}</th>
      <td>{l.kind === 'pair' ? <code>{l.source}</code> : <span class="muted">all sources</span>}</td>
      <td>{l.failures}</td>
      <td>{fmtTime(l.lastFailureAt)}</td>
      <td>{l.lockedUntil === null ? <Badge kind="muted">Counting</Badge> : <Badge kind="warn">Locked until {fmtTime(l.lockedUntil)}</Badge>}</td>
      <td class="actions-cell">
        <UnlockButton userName={l.userName} busy={action.busy} run={action.run} onUnlocked={props.onUnlocked} />
        {action.error === undefined ? null : <Alert>{action.error}</Alert>}
      </td>
    </tr>
  );
}

/**
 * Failed password attempts being counted (docs/lockout.md): per user name and source, and per user
 * name. Unknown names are counted too, so a name here need not be a user.
 */
export function LocksCard(props: { locks: Loaded<LockRow[]>; onUnlocked: (message: string) => void }) {
  const rows = props.locks.data;
  return (
    <Card title="Password lockout" titleId="locks-title">
      <p class="muted">
        Failed password attempts in the current window. A source is throttled for a user name after too many failures from it; after many more from all sources, only sources the user signed in from
        recently may try. Unknown user names are counted too.
      </p>
      <Loading loaded={props.locks} />
      {rows === undefined ? null : rows.length === 0 ? (
        <Empty>No failed password attempts are being counted.</Empty>
      ) : (
        <div class="table-wrap">
          <table aria-labelledby="locks-title">
            <thead>
              <tr>
                <th scope="col">User name</th>
                <th scope="col">Source</th>
                <th scope="col">Failures</th>
                <th scope="col">Last failure</th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((l) => (
                <LockRowView key={`${l.kind}:${l.userName}:${l.source ?? ''}:${l.failures}`} lock={l} onUnlocked={props.onUnlocked} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}
