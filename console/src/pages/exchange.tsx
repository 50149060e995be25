import { useState } from 'preact/hooks';
import { del, get, put } from '../api';
import { Alert, ConfirmButton, Empty, Loading, PageHeader, TextField, splitList, useAction, useLoad } from '../ui';

/** A token exchange policy as the admin API answers it (GET /exchange/policies). */
interface ExchangePolicyView {
  readonly clientId: string;
  readonly summary: readonly string[];
}

/** Token exchange (RFC 8693): one policy per application; an application without one may not exchange. */
export function Exchange() {
  const policies = useLoad(() => get<ExchangePolicyView[]>('/exchange/policies'));
  const [clientId, setClientId] = useState('');
  const [subjectApps, setSubjectApps] = useState('');
  const [idps, setIdps] = useState('');
  const [resources, setResources] = useState('');
  const [scopes, setScopes] = useState('');
  const [impersonation, setImpersonation] = useState(false);
  const [idTokens, setIdTokens] = useState(false);
  const action = useAction();
  return (
    <>
      <PageHeader
        title="Token exchange"
        intro="RFC 8693 token exchange (grant token_exchange): which tokens each application may exchange for a narrower one, for which resources and scopes, and whether it may impersonate or only delegate (the new token carries act). An application without a policy may not exchange."
      />
      {action.error === undefined ? null : <Alert>{action.error}</Alert>}
      <section class="card" aria-labelledby="exchange-policies-title">
        <h2 id="exchange-policies-title">Exchange policies</h2>
        <Loading loaded={policies} />
        {policies.data === undefined ? null : policies.data.length === 0 ? (
          <Empty>No policies: no application may exchange tokens.</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Application</th>
                  <th scope="col">Allows</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {policies.data.map((p) => (
                  <tr key={p.clientId}>
                    <td>
                      <a href={`#/applications/${encodeURIComponent(p.clientId)}`}>
                        <code>{p.clientId}</code>
                      </a>
                    </td>
                    <td>{p.summary.join('; ')}</td>
                    <td>
                      <ConfirmButton small danger label="Delete" confirmLabel="Yes, delete" onConfirm={() => action.run(async () => (await del(`/exchange/policies/${encodeURIComponent(p.clientId)}`), policies.reload()))} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <div class="form">
          <TextField label="Application (client id)" value={clientId} onInput={setClientId} hint="The application that exchanges tokens (allowed the token_exchange grant)." />
          <TextField label="Subject applications" value={subjectApps} onInput={setSubjectApps} hint="Comma-separated client ids whose tokens it may exchange; self: its own; *: any; empty: none." />
          <TextField label="Identity providers" value={idps} onInput={setIdps} hint="Comma-separated provider names whose JWTs it may exchange; *: any; empty: none." />
          <TextField label="Resources" value={resources} onInput={setResources} hint="Comma-separated resource identifiers the new token may be for; *: any; empty: none." />
          <TextField label="Scopes" value={scopes} onInput={setScopes} hint="Comma-separated; *: any (always within the subject token's)." />
          <label>
            <input type="checkbox" checked={idTokens} onChange={(e) => setIdTokens((e.target as HTMLInputElement).checked)} /> ID tokens may be subject tokens
          </label>
          <label>
            <input type="checkbox" checked={impersonation} onChange={(e) => setImpersonation((e.target as HTMLInputElement).checked)} /> Allow impersonation (no actor token)
          </label>
          <button
            type="button"
            disabled={action.busy || clientId.trim() === ''}
            onClick={() =>
              action.run(async () => {
                const listOf = (text: string) => (text.trim() === '' ? [] : splitList(text));
                await put(`/exchange/policies/${encodeURIComponent(clientId.trim())}`, {
                  subjectApplications: listOf(subjectApps),
                  identityProviders: listOf(idps),
                  resources: listOf(resources),
                  scopes: listOf(scopes),
                  idTokens,
                  impersonation,
                });
                policies.reload();
              })
            }
          >
            Save policy
          </button>
        </div>
      </section>
    </>
  );
}
