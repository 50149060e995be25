import { del, get } from '../api';
import { Alert, ConfirmButton, Empty, Loading, PageHeader, fmtTime, useAction, useLoad } from '../ui';

/** A pending device authorization as the admin API lists it (never a code). */
interface DeviceAuthorizationView {
  readonly id: string;
  readonly clientId: string | null;
  readonly applicationName: string | null;
  readonly scopes: readonly string[];
  readonly resources: readonly string[];
  readonly createdAt: string | number;
  readonly expiresAt: string | number;
  readonly intervalSeconds: number;
  readonly lastPollAt: string | number | null;
}

/** Device authorizations (RFC 8628) waiting for a user to enter their code on /oauth/device; deny one. */
export function Devices() {
  const list = useLoad(() => get<{ pending: DeviceAuthorizationView[] }>('/device-authorizations'));
  const action = useAction();
  const pending = list.data?.pending;
  return (
    <>
      <PageHeader
        title="Devices"
        intro="Device authorizations (RFC 8628) waiting for a user to enter their code on /oauth/device. Codes are stored as hashes only; deny one to make its device stop (access_denied). Approved ones are tokens: see Tokens."
      />
      {action.error === undefined ? null : <Alert>{action.error}</Alert>}
      <section class="card" aria-labelledby="devices-title">
        <h2 id="devices-title">Waiting for approval{pending === undefined ? '' : ` (${pending.length})`}</h2>
        <Loading loaded={list} />
        {pending === undefined ? null : pending.length === 0 ? (
          <Empty>No device is waiting for approval.</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Application</th>
                  <th scope="col">Scopes</th>
                  <th scope="col">Started</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Last poll</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {pending.map((d) => (
                  <tr key={d.id}>
                    <td>{d.clientId === null ? '—' : <a href={`#/applications/${encodeURIComponent(d.clientId)}`}>{d.applicationName ?? d.clientId}</a>}</td>
                    <td>{d.scopes.length === 0 ? '—' : d.scopes.join(' ')}</td>
                    <td>{fmtTime(d.createdAt)}</td>
                    <td>{fmtTime(d.expiresAt)}</td>
                    <td>{d.lastPollAt === null ? 'not yet' : `${fmtTime(d.lastPollAt)} (every ${d.intervalSeconds} s)`}</td>
                    <td>
                      <ConfirmButton small danger label="Deny" confirmLabel="Yes, deny" onConfirm={() => action.run(async () => (await del(`/device-authorizations/${d.id}`), list.reload()))} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </>
  );
}
