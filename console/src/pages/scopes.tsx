import { useState } from 'preact/hooks';
import { get, list, post, type Scope } from '../api';
import { Alert, Badge, Card, Empty, Loading, PageHeader, TextField, useAction, useLoad } from '../ui';
import { DeleteScopeButton } from '../deletes';
import { DescriptionEditor } from '../describe';

export function Scopes() {
  const scopes = useLoad(async () => list<Scope>(await get('/scopes'), 'scopes'));
  const [name, setName] = useState('');
  const [desc, setDesc] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const create = useAction();
  const [deleted, setDeleted] = useState<string | null>(null);
  return (
    <>
      <PageHeader title="Scopes" intro="The permissions applications ask for and APIs require. Users see their descriptions on the consent page." />
      {deleted === null ? null : <Alert kind="success">{deleted}</Alert>}
      <div class="grid2 wide-left">
        <Card title="All scopes" titleId="scopes-title">
          <Loading loaded={scopes} />
          {scopes.data === undefined ? null : scopes.data.length === 0 ? (
            <Empty>No scopes.</Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Name</th>
                    <th scope="col">Description</th>
                    <th scope="col">
                      <span class="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {scopes.data.map((s) => (
                    <tr key={s.name}>
                      <th scope="row">
                        <code>{s.name}</code> {s.builtIn === true ? <Badge>built in</Badge> : null}
                      </th>
                      <td>{s.builtIn === true ? s.description : <DescriptionEditor what={`scope ${s.name}`} path={`/scopes/${encodeURIComponent(s.name)}`} value={s.description} onSaved={scopes.reload} />}</td>
                      <td class="actions-cell">{s.builtIn === true ? null : <DeleteScopeButton scope={s} onDeleted={(m) => (setDeleted(m), scopes.reload())} />}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
        <form
          class="card form"
          aria-labelledby="new-scope-title"
          onSubmit={(e) => {
            e.preventDefault();
            void create.run(async () => {
              await post('/scopes', { name: name.trim(), description: desc.trim() });
              setDone(`Scope ${name.trim()} created.`);
              setName('');
              setDesc('');
              scopes.reload();
            });
          }}
        >
          <h2 id="new-scope-title">New scope</h2>
          <TextField label="Scope name" name="name" value={name} onInput={setName} required hint="For example orders.read." />
          <TextField label="Description" name="description" value={desc} onInput={setDesc} hint="What it lets an application do, in words a user understands." />
          {create.error === undefined ? null : <Alert>{create.error}</Alert>}
          {done === null ? null : <Alert kind="success">{done}</Alert>}
          <div class="form-actions">
            <button type="submit" class="primary" disabled={create.busy}>
              Create scope
            </button>
          </div>
        </form>
      </div>
    </>
  );
}
