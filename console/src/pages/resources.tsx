import { useState } from 'preact/hooks';
import { del, get, list, post, put, type ResourceView } from '../api';
import { Alert, Badge, Card, ConfirmButton, Empty, Loading, PageHeader, TextField, useAction, useLoad } from '../ui';

const KIND_LABELS: Record<ResourceView['kind'], string> = { api: 'hosted API', mcp: 'hosted MCP server', external: 'external' };

const splitScopes = (text: string) => text.split(/[\s,]+/).map((s) => s.trim()).filter((s) => s !== '');

/** Resource indicators (RFC 8707): every resource clients may name, and the registered external ones. */
export function Resources() {
  const resources = useLoad(async () => list<ResourceView>(await get('/resources'), 'resources'));
  const [uri, setUri] = useState('');
  const [name, setName] = useState('');
  const [scopes, setScopes] = useState('');
  const [done, setDone] = useState<string | null>(null);
  const add = useAction();
  const change = useAction();
  return (
    <>
      <PageHeader
        title="Resources"
        intro="The resources a client may name with the resource parameter (RFC 8707): the token is issued for them (its audience) and carries only the scopes they accept. Hosted APIs and MCP servers are resources of their own; register the services outside this instance (behind the middleware, external MCP servers) here."
      />
      {change.error === undefined ? null : <Alert>{change.error}</Alert>}
      <div class="grid2 wide-left">
        <Card title="Known resources" titleId="resources-title">
          <Loading loaded={resources} />
          {resources.data === undefined ? null : resources.data.length === 0 ? (
            <Empty>No resources: no API modules loaded and none registered.</Empty>
          ) : (
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Resource</th>
                    <th scope="col">Name and kind</th>
                    <th scope="col">Scopes accepted</th>
                    <th scope="col">
                      <span class="sr-only">Actions</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {resources.data.map((r) => (
                    <tr key={`${r.kind} ${r.uri}`}>
                      <th scope="row" class="resource-uri">
                        <code class="uri">{r.uri}</code>
                      </th>
                      <td>
                        {r.name}
                        <br />
                        <Badge kind={r.kind === 'external' ? 'info' : 'muted'}>{KIND_LABELS[r.kind]}</Badge>
                      </td>
                      <td>{r.scopes.length === 0 ? <span class="muted">any</span> : r.scopes.map((s) => <code key={s}>{s} </code>)}</td>
                      <td class="actions-cell">
                        <div class="stacked-actions">
                        {r.kind !== 'external' ? null : (
                          <ConfirmButton
                            small
                            danger
                            label="Remove"
                            confirmLabel={`Remove ${r.uri}`}
                            disabled={change.busy}
                            onConfirm={() =>
                              change.run(async () => {
                                await del(`/resources/${encodeURIComponent(r.uri)}`);
                                setDone(`Resource ${r.uri} removed. New token requests naming it are refused.`);
                                resources.reload();
                              })
                            }
                          />
                        )}
                        {r.kind !== 'external' ? null : (
                          <button
                            type="button"
                            class="small"
                            disabled={change.busy}
                            onClick={() => {
                              const next = window.prompt(`Scopes ${r.uri} accepts (comma-separated; empty: any)`, r.scopes.join(','));
                              if (next === null) return;
                              void change.run(async () => {
                                await put(`/resources/${encodeURIComponent(r.uri)}`, { scopes: splitScopes(next) });
                                resources.reload();
                              });
                            }}
                          >
                            Edit scopes
                          </button>
                        )}
                        </div>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </Card>
        <form
          class="card form"
          aria-labelledby="new-resource-title"
          onSubmit={(e) => {
            e.preventDefault();
            void add.run(async () => {
              const created = await post<{ uri: string }>('/resources', { uri: uri.trim(), ...(name.trim() === '' ? {} : { name: name.trim() }), scopes: splitScopes(scopes) });
              setDone(`Resource ${created.uri} registered. Clients request tokens for it with resource=${created.uri}.`);
              setUri('');
              setName('');
              setScopes('');
              resources.reload();
            });
          }}
        >
          <h2 id="new-resource-title">Register an external resource</h2>
          <TextField label="Resource identifier" name="uri" value={uri} onInput={setUri} required hint="An absolute https URI without fragment, as clients send it: https://mcp.example.com/mcp." />
          <TextField label="Name" name="name" value={name} onInput={setName} hint="For people; default: the host." />
          <TextField label="Scopes accepted" name="scopes" value={scopes} onInput={setScopes} hint="Comma-separated; empty: any scope the application is allowed." />
          {add.error === undefined ? null : <Alert>{add.error}</Alert>}
          {done === null ? null : <Alert kind="success">{done}</Alert>}
          <div class="form-actions">
            <button type="submit" class="primary" disabled={add.busy}>
              Register resource
            </button>
          </div>
        </form>
      </div>
    </>
  );
}
