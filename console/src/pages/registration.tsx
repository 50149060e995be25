import { useRef, useState } from 'preact/hooks';
import { del, get, post, put } from '../api';
import { Alert, Badge, ConfirmButton, CopyButton, Empty, Loading, NumberField, PageHeader, TextField, fmtTime, splitList, useAction, useLoad } from '../ui';

/** GET /registration: dynamic client registration at a glance. */
interface RegistrationSummary {
  readonly mode: string;
  readonly rateLimit: number;
  readonly reapAfterDays: number;
  readonly tokens: Readonly<Record<string, number>>;
  readonly policies: number;
  readonly registeredClients: number;
}

/** An initial access token as listed (never the token itself). */
interface InitialAccessTokenView {
  readonly id: string;
  readonly state: 'active' | 'expired' | 'revoked' | 'used_up';
  readonly usesLeft: number | null;
  readonly expiresAt: string | number | null;
  readonly policy: string | null;
  readonly createdBy: string;
  readonly createdAt: string | number;
}

interface PolicyView {
  readonly name: string;
  readonly description: string | null;
  readonly summary: readonly string[];
}

const STATE_KIND = { active: 'ok', expired: 'muted', revoked: 'warn', used_up: 'muted' } as const;

export function Registration() {
  const summary = useLoad(() => get<RegistrationSummary>('/registration'));
  const tokens = useLoad(() => get<InitialAccessTokenView[]>('/registration/tokens'));
  const policies = useLoad(() => get<PolicyView[]>('/registration/policies'));
  const [uses, setUses] = useState('1');
  const [hours, setHours] = useState('24');
  const [policy, setPolicy] = useState('');
  const [created, setCreated] = useState<{ id: string; token: string } | null>(null);
  const [policyName, setPolicyName] = useState('');
  const [policyScopes, setPolicyScopes] = useState('');
  const [policyHosts, setPolicyHosts] = useState('');
  const [policyMethods, setPolicyMethods] = useState('');
  const tokenRef = useRef<HTMLElement>(null);
  const action = useAction();
  const reload = () => {
    summary.reload();
    tokens.reload();
    policies.reload();
  };
  const s = summary.data;
  return (
    <>
      <PageHeader
        title="Registration"
        intro="Dynamic client registration (RFC 7591) at POST /oauth/register: initial access tokens, registration policies and the clients that registered themselves."
      />
      {action.error === undefined ? null : <Alert>{action.error}</Alert>}
      <section class="card" aria-labelledby="reg-summary-title">
        <h2 id="reg-summary-title">Overview</h2>
        <Loading loaded={summary} />
        {s === undefined ? null : (
          <dl class="kv">
            <dt>Mode</dt>
            <dd>
              <Badge kind={s.mode === 'off' ? 'muted' : s.mode === 'open' ? 'warn' : 'ok'}>{s.mode}</Badge>{' '}
              <a href="#/properties/latchkey.registration.mode">change</a>
            </dd>
            <dt>Rate limit per address</dt>
            <dd>{s.rateLimit === 0 ? 'none' : `${s.rateLimit} per window`}</dd>
            <dt>Registered clients</dt>
            <dd>
              {s.registeredClients} <a href="#/applications">applications</a>
            </dd>
            <dt>Reaped after</dt>
            <dd>{s.reapAfterDays === 0 ? 'never' : `${s.reapAfterDays} days unused`}</dd>
            <dt>Active tokens</dt>
            <dd>{s.tokens.active ?? 0}</dd>
            <dt>Policies</dt>
            <dd>{s.policies}</dd>
          </dl>
        )}
      </section>

      <section class="card" aria-labelledby="reg-tokens-title">
        <h2 id="reg-tokens-title">Initial access tokens</h2>
        {created === null ? null : (
          <Alert kind="success">
            Token {created.id}, shown only once: <code ref={tokenRef}>{created.token}</code> <CopyButton text={created.token} target={() => tokenRef.current} label="Copy token" />
          </Alert>
        )}
        <Loading loaded={tokens} />
        {tokens.data === undefined ? null : tokens.data.length === 0 ? (
          <Empty>No initial access tokens.</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Id</th>
                  <th scope="col">State</th>
                  <th scope="col">Uses left</th>
                  <th scope="col">Expires</th>
                  <th scope="col">Policy</th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {tokens.data.map((t) => (
                  <tr key={t.id}>
                    <td>
                      <code>{t.id}</code>
                    </td>
                    <td>
                      <Badge kind={STATE_KIND[t.state]}>{t.state === 'used_up' ? 'used up' : t.state}</Badge>
                    </td>
                    <td>{t.usesLeft ?? 'any'}</td>
                    <td>{t.expiresAt === null ? 'never' : fmtTime(t.expiresAt)}</td>
                    <td>{t.policy ?? '—'}</td>
                    <td>
                      {fmtTime(t.createdAt)} by {t.createdBy}
                    </td>
                    <td>
                      {t.state !== 'active' ? null : (
                        <ConfirmButton small danger label="Revoke" confirmLabel="Yes, revoke" onConfirm={() => action.run(async () => (await del(`/registration/tokens/${t.id}`), reload()))} />
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <div class="form">
          <NumberField label="Uses" value={uses} onInput={setUses} min={1} hint="How many clients it may register; empty: no limit." />
          <NumberField label="Valid for (hours)" value={hours} onInput={setHours} min={1} hint="Empty: until revoked." />
          <TextField label="Policy" value={policy} onInput={setPolicy} hint="A registration policy name; empty: the policy named default, if any." />
          <button
            type="button"
            disabled={action.busy}
            onClick={() =>
              action.run(async () => {
                const body = {
                  ...(uses.trim() === '' ? {} : { uses: Number(uses) }),
                  ...(hours.trim() === '' ? {} : { expiresInSeconds: Number(hours) * 3600 }),
                  ...(policy.trim() === '' ? {} : { policy: policy.trim() }),
                };
                const made = await post<{ id: string; token: string }>('/registration/tokens', body);
                setCreated({ id: made.id, token: made.token });
                reload();
              })
            }
          >
            Create token
          </button>
        </div>
      </section>

      <section class="card" aria-labelledby="reg-policies-title">
        <h2 id="reg-policies-title">Registration policies</h2>
        <Loading loaded={policies} />
        {policies.data === undefined ? null : policies.data.length === 0 ? (
          <Empty>No policies: registered clients may have anything the instance supports.</Empty>
        ) : (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Allows</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {policies.data.map((p) => (
                  <tr key={p.name}>
                    <td>
                      <code>{p.name}</code>
                      {p.description === null ? null : <div class="muted">{p.description}</div>}
                    </td>
                    <td>{p.summary.join('; ')}</td>
                    <td>
                      <ConfirmButton small danger label="Delete" confirmLabel="Yes, delete" onConfirm={() => action.run(async () => (await del(`/registration/policies/${encodeURIComponent(p.name)}`), reload()))} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <div class="form">
          <TextField label="Name" value={policyName} onInput={setPolicyName} hint="default applies to open registrations and tokens that name none." />
          <TextField label="Scopes" value={policyScopes} onInput={setPolicyScopes} hint="Comma-separated; empty: any." />
          <TextField label="Redirect hosts" value={policyHosts} onInput={setPolicyHosts} hint="Comma-separated, *.example.com for subdomains; empty: any." />
          <TextField label="Auth methods" value={policyMethods} onInput={setPolicyMethods} hint="none, client_secret_basic, client_secret_post, private_key_jwt; empty: any." />
          <button
            type="button"
            disabled={action.busy || policyName.trim() === ''}
            onClick={() =>
              action.run(async () => {
                const listOf = (text: string) => (text.trim() === '' ? null : splitList(text));
                await put(`/registration/policies/${encodeURIComponent(policyName.trim())}`, { scopes: listOf(policyScopes), redirectHosts: listOf(policyHosts), authMethods: listOf(policyMethods) });
                reload();
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
