import { Fragment } from 'preact';
import { get, list, type ApiView, type McpServerView } from '../api';
import { Badge, Empty, Loading, PageHeader, useLoad } from '../ui';

const none = <span class="muted">—</span>;

export function Apis() {
  const apis = useLoad(async () => list<ApiView>(await get('/apis'), 'apis'));
  const mcp = useLoad(async () => list<McpServerView>(await get('/mcp-servers'), 'servers'));
  return (
    <>
      <PageHeader title="REST APIs" intro="Every API this instance serves, each route with the security it enforces. Each API is a protected resource: clients name its identifier as resource, and discover the authorization server from its metadata." />
      <Loading loaded={apis} />
      {apis.data === undefined ? null : apis.data.length === 0 ? (
        <Empty>No APIs are loaded. Start the instance with --apis &lt;folder&gt; to serve some.</Empty>
      ) : (
        apis.data.map((a) => {
          const titleId = `api-${a.namespace}-${a.id}`;
          return (
            <section class="card" key={titleId} aria-labelledby={titleId}>
              <h2 id={titleId}>
                {a.name ?? a.id} <code class="muted">/api/{a.namespace}/{a.id}</code>
              </h2>
              {a.description === undefined || a.description === '' ? null : <p class="muted">{a.description}</p>}
              {a.versions !== undefined && a.versions.length > 0 ? <p class="muted">Versions: {a.versions.join(', ')}</p> : null}
              {a.resources === undefined || a.resources.length === 0 ? null : (
                <dl class="kv" aria-label={`Protected resources of ${a.name ?? a.id}`}>
                  {a.resources.map((r) => (
                    <Fragment key={r.resource}>
                      <dt>{r.version === null ? 'Resource' : `Resource ${r.version}`}</dt>
                      <dd>
                        <code class="uri" data-resource={r.resource}>{r.resource}</code>{' '}
                        <a href={r.metadataUrl} target="_blank" rel="noreferrer" data-metadata={r.metadataUrl}>
                          metadata (RFC 9728)
                        </a>
                      </dd>
                    </Fragment>
                  ))}
                </dl>
              )}
              <p class="muted">
                Rate limits: {a.rateLimit ?? 'instance default (latchkey.rate_limit.api)'} for all callers, {a.userRateLimit ?? 'instance default (latchkey.rate_limit.api_user)'} per user
              </p>
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">Method</th>
                      <th scope="col">Path</th>
                      <th scope="col">Authentication</th>
                      <th scope="col">Roles</th>
                      <th scope="col">Scopes</th>
                      <th scope="col">Methods accepted</th>
                    </tr>
                  </thead>
                  <tbody>
                    {a.routes.map((r) => (
                      <tr key={`${r.version ?? ''}${r.method} ${r.path}`}>
                        <td>
                          <span class={`method method-${r.method.toLowerCase()}`}>{r.method}</span>
                        </td>
                        <td>
                          <code>{r.path}</code>
                        </td>
                        <td>{r.security.requiresAuthentication ? <Badge kind="info">Required</Badge> : <Badge kind="warn">Open</Badge>}</td>
                        <td>{r.security.roles.length === 0 ? none : r.security.roles.join(', ')}</td>
                        <td>{r.security.scopes.length === 0 ? none : r.security.scopes.join(', ')}</td>
                        <td>{r.security.requiresAuthentication ? r.security.authMethods.join(', ') : none}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </section>
          );
        })
      )}
      <McpServers servers={mcp.data} />
    </>
  );
}

/** The hosted MCP servers: each tool with the scopes and roles a tools/call needs (a token without them gets 403 insufficient_scope). */
function McpServers({ servers }: { servers: readonly McpServerView[] | undefined }) {
  if (servers === undefined || servers.length === 0) return null;
  return (
    <>
      <h2>MCP servers</h2>
      <p class="muted">Hosted MCP servers (defineMcpServer), on the Streamable HTTP transport. Each is a protected resource: an MCP client discovers the authorization server from its metadata (the first 401 names it). Connect an MCP client to the path; docs/agents-and-mcp.md.</p>
      {servers.map((s) => {
        const titleId = `mcp-${s.namespace}-${s.id}`;
        return (
          <section class="card" key={titleId} aria-labelledby={titleId}>
            <h2 id={titleId}>
              {s.name} <code class="muted">{s.path}</code>
            </h2>
            {s.description === undefined || s.description === '' ? null : <p class="muted">{s.description}</p>}
            {s.resource === undefined || s.resource === null || s.metadataUrl === undefined || s.metadataUrl === null ? null : (
              <dl class="kv" aria-label={`Protected resource of ${s.name}`}>
                <dt>Resource</dt>
                <dd>
                  <code class="uri" data-resource={s.resource}>{s.resource}</code>{' '}
                  <a href={s.metadataUrl} target="_blank" rel="noreferrer" data-metadata={s.metadataUrl}>
                    metadata (RFC 9728)
                  </a>
                </dd>
              </dl>
            )}
            <p class="muted">
              Server: {s.security.requiresAuthentication ? 'bearer token required' : 'open (no authentication)'}
              {s.security.scopes.length > 0 ? `; scopes ${s.security.scopes.join(', ')}` : ''}
              {s.security.roles.length > 0 ? `; roles ${s.security.roles.join(', ')}` : ''}
            </p>
            <div class="table-wrap">
              <table>
                <thead>
                  <tr>
                    <th scope="col">Tool</th>
                    <th scope="col">Description</th>
                    <th scope="col">Roles</th>
                    <th scope="col">Scopes</th>
                  </tr>
                </thead>
                <tbody>
                  {s.tools.map((t) => (
                    <tr key={t.name}>
                      <td>
                        <code>{t.name}</code>
                      </td>
                      <td>{t.description}</td>
                      <td>{t.security.roles.length === 0 ? none : t.security.roles.join(', ')}</td>
                      <td>{t.security.scopes.length === 0 ? none : t.security.scopes.join(', ')}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        );
      })}
    </>
  );
}
