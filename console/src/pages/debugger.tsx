import { useState } from 'preact/hooks';
import { post, type Inspection } from '../api';
import { Alert, Badge, Card, TextArea, fmtTime, useAction } from '../ui';
import { PageHeader } from '../ui';

export function Debugger() {
  const [token, setToken] = useState('');
  const [result, setResult] = useState<Inspection | null>(null);
  const action = useAction();
  return (
    <>
      <PageHeader title="Token debugger" intro="Paste a token to see what it is, whether it is valid, and which APIs would accept it. The token is sent to this instance only, and is not stored." />
      <form
        class="card form"
        aria-label="Inspect a token"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(async () => setResult(await post<Inspection>('/inspect', { token: token.trim() })));
        }}
      >
        <TextArea label="Token" name="token" value={token} onInput={setToken} rows={4} mono placeholder="Paste an access or refresh token" />
        {action.error === undefined ? null : <Alert>{action.error}</Alert>}
        <div class="form-actions">
          <button type="submit" class="primary" disabled={action.busy || token.trim() === ''}>
            Inspect
          </button>
          <button
            type="button"
            onClick={() => {
              setToken('');
              setResult(null);
            }}
          >
            Clear
          </button>
        </div>
      </form>
      {result === null ? null : (
        <section class="card" aria-labelledby="inspection-title" aria-live="polite">
          <h2 id="inspection-title">
            {result.valid ? <Badge kind="ok">Valid</Badge> : <Badge kind="error">Not valid</Badge>} {result.token.format === 'jwt' ? 'JWT' : result.token.format === 'opaque' ? 'Opaque' : 'Unrecognized'} {result.token.kind ?? ''} token
          </h2>
          {result.reason === null ? null : (
            <Alert kind={result.valid ? 'info' : 'error'}>
              <code>{result.reason}</code>
              {result.explanation === null ? '' : ` — ${result.explanation}`}
            </Alert>
          )}
          <dl class="kv">
            <dt>Known to this instance</dt>
            <dd>{result.found ? 'Yes' : 'No'}</dd>
            {result.token.handle === undefined || result.token.handle === null ? null : (
              <>
                <dt>Handle</dt>
                <dd>
                  <code class="handle">{result.token.handle}</code>
                </dd>
              </>
            )}
            <dt>Application</dt>
            <dd>
              {result.application === null ? (
                '—'
              ) : (
                <>
                  <a href={`#/applications/${encodeURIComponent(result.application.clientId)}`}>{result.application.name}</a> <code>{result.application.clientId}</code> {result.application.active ? null : <Badge>inactive</Badge>}
                  {result.application.origin === 'registration' ? (
                    <p class="muted">
                      {result.application.registration === undefined || result.application.registration === null
                        ? 'Dynamically registered (RFC 7591); its registration record is gone.'
                        : `Dynamically registered (RFC 7591) by ${result.application.registration.sourceText}, policy ${result.application.registration.policy ?? 'none'}, last used ${result.application.registration.lastUsedAt === null ? 'never' : fmtTime(result.application.registration.lastUsedAt)}; ${result.application.registration.reapAt === null ? 'reaping is off' : result.application.registration.reapDue ? 'the next reap deletes it' : `reaped ${fmtTime(result.application.registration.reapAt)} unless used`}.`}
                    </p>
                  ) : null}
                </>
              )}
            </dd>
            <dt>User</dt>
            <dd>
              {result.user === null ? (
                '—'
              ) : (
                <>
                  {result.user.name} {result.user.active ? null : <Badge>inactive</Badge>} <span class="muted">roles: {result.user.roles.join(', ') || 'none'}</span>
                </>
              )}
            </dd>
            <dt>Scopes granted</dt>
            <dd>{result.scopes.join(' ') || '—'}</dd>
            <dt>Effective scopes</dt>
            <dd>{result.effectiveScopes.join(' ') || '—'}</dd>
            <dt>Audience (resources)</dt>
            <dd>{result.audience === undefined || result.audience === null ? 'none requested' : result.audience.join(' ')}</dd>
            <dt>DPoP binding (cnf.jkt)</dt>
            <dd>{result.dpopJkt === undefined || result.dpopJkt === null ? 'none (a bearer token)' : <code>{result.dpopJkt}</code>}</dd>
            <dt>Issued</dt>
            <dd>{fmtTime(result.issuedAt)}</dd>
            <dt>Expires</dt>
            <dd>{fmtTime(result.expiresAt)}</dd>
          </dl>
          {result.apis.length === 0 ? null : (
            <Card title="Which APIs accept it" titleId="apis-accept-title">
              <div class="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th scope="col">API</th>
                      <th scope="col">Route</th>
                      <th scope="col">Accepted</th>
                      <th scope="col">Why</th>
                    </tr>
                  </thead>
                  <tbody>
                    {result.apis.map((a, i) => (
                      <tr key={i}>
                        <td class="nowrap">
                          <code>
                            {a.namespace}/{a.id}
                            {a.version === undefined ? '' : `/${a.version}`}
                          </code>
                        </td>
                        <td>
                          <code>
                            {a.method} {a.path}
                          </code>
                        </td>
                        <td>{a.accepted ? <Badge kind="ok">Yes</Badge> : <Badge kind="error">No</Badge>}</td>
                        <td>{a.why}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </Card>
          )}
        </section>
      )}
    </>
  );
}
