import { useState } from 'preact/hooks';
import { get, list, post, type KeyView } from '../api';
import { Alert, Badge, ConfirmButton, Empty, Loading, PageHeader, SelectField, fmtTime, useAction, useLoad } from '../ui';

const STATE_KIND = { signing: 'ok', next: 'info', retired: 'warn', expired: 'muted' } as const;

export function Keys() {
  const keys = useLoad(async () => list<KeyView>(await get('/keys'), 'keys'));
  const [alg, setAlg] = useState('ES256');
  const [notice, setNotice] = useState<string | null>(null);
  const action = useAction();
  return (
    <>
      <PageHeader title="Keys" intro="The keyring that signs JWT access tokens. Keys are published in the JWKS before they sign and after they retire." />
      {notice === null ? null : <Alert kind="success">{notice}</Alert>}
      {action.error === undefined ? null : <Alert>{action.error}</Alert>}
      <section class="card" aria-labelledby="keys-title">
        <h2 id="keys-title">Signing keys</h2>
        <Loading loaded={keys} />
        {keys.data === undefined ? null : keys.data.length === 0 ? (
          <Empty>No signing key yet: one is made when the first JWT is signed, or rotate now.</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Key id</th>
                  <th scope="col">Algorithm</th>
                  <th scope="col">State</th>
                  <th scope="col">Created</th>
                  <th scope="col">Signs from</th>
                  <th scope="col">Retires</th>
                  <th scope="col">Published until</th>
                </tr>
              </thead>
              <tbody>
                {keys.data.map((k) => (
                  <tr key={k.kid}>
                    <td>
                      <code>{k.kid}</code>
                    </td>
                    <td>{k.alg}</td>
                    <td>{k.state === undefined ? '—' : <Badge kind={STATE_KIND[k.state as keyof typeof STATE_KIND] ?? 'muted'}>{k.state}</Badge>}</td>
                    <td>{fmtTime(k.createdAt)}</td>
                    <td>{fmtTime(k.activatesAt)}</td>
                    <td>{fmtTime(k.retiresAt)}</td>
                    <td>{k.publishUntil === null ? 'while in use' : fmtTime(k.publishUntil)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section class="card form" aria-labelledby="rotate-title">
        <h2 id="rotate-title">Rotate</h2>
        <p class="muted">The new key is published at once and signs after the caches of relying parties have had time to fetch it; tokens signed by the old key stay valid until they expire.</p>
        <SelectField
          label="Algorithm of the new key"
          value={alg}
          onChange={setAlg}
          options={[
            ['ES256', 'ES256 (ECDSA P-256, recommended)'],
            ['RS256', 'RS256 (RSA 2048)'],
          ]}
        />
        <ConfirmButton
          label="Rotate signing key"
          confirmLabel="Yes, rotate"
          onConfirm={() =>
            action.run(async () => {
              await post('/keys/rotate', { alg });
              setNotice(`A new ${alg} key was added.`);
              keys.reload();
            })
          }
        />
      </section>
    </>
  );
}
