import { useState } from 'preact/hooks';
import { del, get, list, patch, post, type IdpView } from '../api';
import { Alert, Badge, ConfirmButton, Empty, Loading, PageHeader, SelectField, TextField, useAction, useLoad } from '../ui';

export function Idps() {
  const idps = useLoad(async () => list<IdpView>(await get('/idps'), 'idps'));
  const [f, setF] = useState({ name: '', issuer: '', metadataUrl: '', jwksUri: '', audience: '', userClaim: 'sub', userField: 'user_name' });
  const set = (p: Partial<typeof f>) => setF((o) => ({ ...o, ...p }));
  const [notice, setNotice] = useState<string | null>(null);
  const action = useAction();
  const create = useAction();
  return (
    <>
      <PageHeader title="Identity providers" intro="External issuers whose JWTs this instance's APIs accept, each matched to a local user." />
      {notice === null ? null : <Alert kind="success">{notice}</Alert>}
      {action.error === undefined ? null : <Alert>{action.error}</Alert>}
      <section class="card" aria-labelledby="idps-title">
        <h2 id="idps-title">Providers</h2>
        <Loading loaded={idps} />
        {idps.data === undefined ? null : idps.data.length === 0 ? (
          <Empty>No identity providers.</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Issuer</th>
                  <th scope="col">Audience</th>
                  <th scope="col">User match</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {idps.data.map((p) => (
                  <tr key={p.name}>
                    <th scope="row">{p.name}</th>
                    <td>
                      <code>{p.issuer}</code>
                    </td>
                    <td>
                      <code>{p.audience}</code>
                    </td>
                    <td>
                      <code>{p.userClaim}</code> → {p.userField === 'id' ? 'user id' : 'user name'}
                    </td>
                    <td>{p.active ? <Badge kind="ok">Active</Badge> : <Badge>Inactive</Badge>}</td>
                    <td class="actions-cell">
                      <button
                        type="button"
                        class="small"
                        onClick={() =>
                          void action.run(async () => {
                            await patch(`/idps/${encodeURIComponent(p.name)}`, { active: !p.active });
                            idps.reload();
                          })
                        }
                      >
                        {p.active ? 'Deactivate' : 'Activate'}
                        <span class="sr-only"> {p.name}</span>
                      </button>{' '}
                      <ConfirmButton
                        small
                        danger
                        label="Delete"
                        confirmLabel="Yes, delete"
                        onConfirm={() =>
                          action.run(async () => {
                            await del(`/idps/${encodeURIComponent(p.name)}`);
                            setNotice(`Identity provider ${p.name} deleted.`);
                            idps.reload();
                          })
                        }
                      />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <form
        class="card form"
        aria-labelledby="new-idp-title"
        onSubmit={(e) => {
          e.preventDefault();
          void create.run(async () => {
            const b: Record<string, unknown> = { name: f.name.trim(), issuer: f.issuer.trim(), audience: f.audience.trim(), userClaim: f.userClaim.trim(), userField: f.userField };
            if (f.metadataUrl.trim() !== '') b.metadataUrl = f.metadataUrl.trim();
            if (f.jwksUri.trim() !== '') b.jwksUri = f.jwksUri.trim();
            await post('/idps', b);
            setNotice(`Identity provider ${f.name.trim()} added.`);
            setF({ name: '', issuer: '', metadataUrl: '', jwksUri: '', audience: '', userClaim: 'sub', userField: 'user_name' });
            idps.reload();
          });
        }}
      >
        <h2 id="new-idp-title">Add an identity provider</h2>
        <div class="grid2">
          <TextField label="Name" name="name" value={f.name} onInput={(v) => set({ name: v })} required />
          <TextField label="Issuer (iss)" name="issuer" value={f.issuer} onInput={(v) => set({ issuer: v })} required hint="Exactly as its tokens carry it." />
          <TextField label="Metadata URL" name="metadataUrl" value={f.metadataUrl} onInput={(v) => set({ metadataUrl: v })} hint="Its discovery document; or give a JWKS URL. Both https on a public address (see latchkey.outbound.allow_private_networks)." />
          <TextField label="JWKS URL" name="jwksUri" value={f.jwksUri} onInput={(v) => set({ jwksUri: v })} />
          <TextField label="Audience (aud)" name="audience" value={f.audience} onInput={(v) => set({ audience: v })} required hint="The aud its tokens must carry for this instance." />
          <TextField label="User claim" name="userClaim" value={f.userClaim} onInput={(v) => set({ userClaim: v })} required hint="For example sub, preferred_username or email." />
          <SelectField
            label="Matched against"
            name="userField"
            value={f.userField}
            onChange={(v) => set({ userField: v })}
            options={[
              ['user_name', 'Local user name'],
              ['id', 'Local user id'],
            ]}
          />
        </div>
        {create.error === undefined ? null : <Alert>{create.error}</Alert>}
        <div class="form-actions">
          <button type="submit" class="primary" disabled={create.busy}>
            Add identity provider
          </button>
        </div>
      </form>
    </>
  );
}
