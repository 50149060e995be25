import { useState } from 'preact/hooks';
import { get, list, post, query, type Application, type TokenRow } from '../api';
import { Alert, Badge, ConfirmButton, Empty, Loading, PageHeader, SelectField, TextField, Checkbox, appName, fmtTime, useAction, useLoad, userName } from '../ui';

export function Tokens(props: { params: URLSearchParams }) {
  const [application, setApplication] = useState(props.params.get('application') ?? '');
  const [user, setUser] = useState(props.params.get('user') ?? '');
  const [activeOnly, setActiveOnly] = useState(props.params.get('active') !== 'false');
  const [filter, setFilter] = useState({ application, user, activeOnly });
  const apps = useLoad(async () => list<Application>(await get('/applications'), 'applications'));
  const tokens = useLoad(async () => list<TokenRow>(await get(`/tokens${query({ application: filter.application, user: filter.user.trim(), active: filter.activeOnly ? 'true' : undefined })}`), 'tokens'), [filter]);
  const action = useAction();
  const [notice, setNotice] = useState<string | null>(null);
  const canRevokeAll = filter.application !== '' || filter.user.trim() !== '';
  // A refusal's "Token" link names one token: its row is marked.
  const highlight = props.params.get('handle');
  return (
    <>
      <PageHeader title="Tokens" intro="Access and refresh tokens issued by this instance, each named by its handle (tk_…), as the CLI, the audit log and the refusals name it: a token itself is never stored." />
      <form
        class="toolbar card"
        aria-label="Filter tokens"
        onSubmit={(e) => {
          e.preventDefault();
          setNotice(null);
          setFilter({ application, user, activeOnly });
        }}
      >
        <SelectField label="Application" name="application" value={application} onChange={setApplication} options={[['', 'All applications'], ...(apps.data ?? []).map((a) => [a.clientId, a.name] as const)]} />
        <TextField label="User" name="user" value={user} onInput={setUser} placeholder="User name" />
        <Checkbox label="Active only" checked={activeOnly} onChange={setActiveOnly} />
        <button type="submit">Apply filters</button>
      </form>
      {notice === null ? null : <Alert kind="success">{notice}</Alert>}
      {action.error === undefined ? null : <Alert>{action.error}</Alert>}
      <div class="bar">
        <span class="muted">{tokens.data === undefined ? '' : `${tokens.data.length} token${tokens.data.length === 1 ? '' : 's'}`}</span>
        <ConfirmButton
          label={canRevokeAll ? 'Revoke all matching tokens' : 'Revoke all (pick an application or user)'}
          confirmLabel="Yes, revoke them all"
          danger
          disabled={!canRevokeAll}
          onConfirm={() =>
            action.run(async () => {
              const b: Record<string, string> = {};
              if (filter.application !== '') b.application = filter.application;
              if (filter.user.trim() !== '') b.user = filter.user.trim();
              const r = await post<{ revoked: number }>('/tokens/revoke-all', b);
              setNotice(`Revoked ${r.revoked} token${r.revoked === 1 ? '' : 's'}.`);
              tokens.reload();
            })
          }
        />
      </div>
      <Loading loaded={tokens} />
      {tokens.data === undefined ? null : tokens.data.length === 0 ? (
        <Empty>No tokens match.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="tokens">
            <thead>
              <tr>
                <th scope="col">Handle</th>
                <th scope="col">Kind</th>
                <th scope="col">Application</th>
                <th scope="col">User</th>
                <th scope="col">Scopes</th>
                <th scope="col">Issued</th>
                <th scope="col">Expires</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {tokens.data.map((t) => (
                <tr key={t.id} data-token-id={t.id} class={t.id === highlight ? 'expanded' : undefined}>
                  <td>
                    <code class="handle">{t.handle ?? t.id}</code>
                  </td>
                  <td>
                    {t.kind}
                    {t.format === undefined ? '' : ` (${t.format})`}
                  </td>
                  <td>{t.applicationName ?? appName(t.application)}</td>
                  <td class="wrap-anywhere">{userName(t.user)}</td>
                  <td class="wrap-anywhere">{t.scopes.length === 0 ? <span class="muted">—</span> : t.scopes.join(' ')}</td>
                  <td>{fmtTime(t.issuedAt)}</td>
                  <td>{fmtTime(t.expiresAt)}</td>
                  <td>
                    <Badge kind={t.status === 'active' ? 'ok' : t.status === 'revoked' ? 'error' : 'muted'}>{t.status}</Badge>
                  </td>
                  <td class="actions-cell">
                    {t.status === 'active' ? (
                      <button
                        type="button"
                        class="small danger"
                        disabled={action.busy}
                        onClick={() =>
                          void action.run(async () => {
                            await post(`/tokens/${encodeURIComponent(t.id)}/revoke`, {});
                            setNotice('Token revoked.');
                            tokens.reload();
                          })
                        }
                      >
                        Revoke<span class="sr-only"> token {t.handle ?? t.id}</span>
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
