import { useEffect, useRef, useState } from 'preact/hooks';
import { get, kindOf, list, loadGrants, patch, post, query, type AppKind, type Application, type ApplicationWithRegistration, type GrantInfo, type RegistrationInfo, type SecretAnswer, type User } from '../api';
import { Alert, Badge, Card, Checkbox, ConfirmButton, CopyButton, Empty, Loading, NumberField, PageHeader, SelectField, TextArea, TextField, fmtDuration, fmtTime, lines, splitList, useAction, useId, useLoad } from '../ui';
import { DeleteApplicationButton } from '../deletes';

/** Where an application came from (Application.origin): a badge in the list, a line on its page. */
const ORIGIN_BADGE: Record<Application['origin'], string> = { admin: 'Admin', registration: 'Registered', metadata_document: 'Metadata document' };
const ORIGIN_TEXT: Record<Application['origin'], string> = {
  admin: 'made by an administrator.',
  registration: 'registered itself (dynamic client registration, RFC 7591).',
  metadata_document: 'a client ID metadata document: its client ID is the URL of the document it publishes.',
};

const JWT_BEARER = 'urn:ietf:params:oauth:grant-type:jwt-bearer';

/** The grant catalogue (GET /grants): kinds and labels come from the server, so a host's own grants appear too. */
function useGrants() {
  return useLoad(loadGrants);
}

const labelOf = (grants: readonly GrantInfo[] | undefined) => (g: string) => grants?.find((x) => x.grantType === g)?.label ?? g;

function appUserOf(a: Application): string {
  return a.appUser ?? '';
}

export function SecretPanel(props: { answer: SecretAnswer; onDone?: () => void }) {
  const secretRef = useRef<HTMLElement>(null);
  const curlRef = useRef<HTMLElement>(null);
  const { application, clientSecret, curl } = props.answer;
  return (
    <section class="card secret-panel" aria-labelledby="secret-title">
      <h2 id="secret-title" tabIndex={-1} ref={(el) => el?.focus()}>
        Client secret for {application.name}
      </h2>
      {clientSecret === null ? (
        <p>This application is public: it has no client secret.</p>
      ) : (
        <>
          <Alert kind="info">Copy the secret now: it is shown only this once and cannot be read again. If it is lost, rotate the secret.</Alert>
          <dl class="kv">
            <dt>Client ID</dt>
            <dd>
              <code data-testid="client-id">{application.clientId}</code>
            </dd>
            <dt>Client secret</dt>
            <dd class="secret-row">
              <code class="secret" data-testid="client-secret" ref={secretRef}>
                {clientSecret}
              </code>
              <CopyButton text={clientSecret} target={() => secretRef.current} label="Copy secret" />
            </dd>
          </dl>
        </>
      )}
      {curl === undefined || curl === null || curl === '' ? null : (
        <>
          <h3>Try it</h3>
          <p class="muted">A ready-to-run request for a token:</p>
          <pre class="code" data-testid="curl">
            <code ref={curlRef}>{curl}</code>
          </pre>
          <CopyButton text={curl} target={() => curlRef.current} label="Copy curl command" />
        </>
      )}
      {props.onDone === undefined ? null : (
        <p>
          <button type="button" class="primary" onClick={props.onDone}>
            I have saved the secret
          </button>
        </p>
      )}
    </section>
  );
}

export function Applications() {
  const [q, setQ] = useState('');
  const [applied, setApplied] = useState('');
  const apps = useLoad(async () => list<Application>(await get(`/applications${query({ q: applied })}`), 'applications'), [applied]);
  const grantLabel = labelOf(useGrants().data);
  const [deleted, setDeleted] = useState<string | null>(null);
  return (
    <>
      <PageHeader
        title="Applications"
        intro="The Application Registry: every client that may ask for tokens."
        actions={
          <a class="button primary" href="#/applications/new">
            New application
          </a>
        }
      />
      <form
        class="toolbar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setApplied(q.trim());
        }}
      >
        <TextField label="Search applications" value={q} onInput={setQ} type="search" placeholder="Name or client ID" />
        <button type="submit">Search</button>
      </form>
      {deleted === null ? null : <Alert kind="success">{deleted}</Alert>}
      <Loading loaded={apps} />
      {apps.data === undefined ? null : apps.data.length === 0 ? (
        <Empty>{applied === '' ? 'No applications yet.' : `No application matches “${applied}”.`}</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <caption class="sr-only">Applications</caption>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Client ID</th>
                <th scope="col">Grants</th>
                <th scope="col">Token</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {apps.data.map((a) => (
                <tr key={a.clientId} data-client-id={a.clientId}>
                  <td>
                    <a href={`#/applications/${encodeURIComponent(a.clientId)}`}>{a.name}</a>
                    {a.origin === 'admin' ? null : (
                      <>
                        {' '}
                        <Badge kind="muted">{ORIGIN_BADGE[a.origin]}</Badge>
                      </>
                    )}
                  </td>
                  <td>
                    <code>{a.clientId}</code>
                  </td>
                  <td>{a.grantTypes.map(grantLabel).join(', ')}</td>
                  <td>{a.tokenFormat === 'jwt' ? 'JWT' : 'Opaque'}</td>
                  <td>{a.active ? <Badge kind="ok">Active</Badge> : <Badge kind="muted">Inactive</Badge>}</td>
                  <td class="actions-cell">
                    <DeleteApplicationButton app={a} small onDeleted={(m) => (setDeleted(m), apps.reload())} />
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

interface FormState {
  name: string;
  appUser: string;
  scopes: string;
  redirectUris: string;
  public: boolean;
  tokenFormat: string;
  accessTokenLifespan: string;
  refreshTokenLifespan: string;
  logoUri: string;
  audience: string;
  jwks: string;
  jwksUri: string;
  canIntrospect: boolean;
  adminApi: boolean;
  /** RFC 9449: token requests must carry a DPoP proof. */
  dpopRequired: boolean;
  rateLimit: string;
  idTokenSignedResponseAlg: string;
  postLogoutRedirectUris: string;
  backchannelLogoutUri: string;
  backchannelLogoutSessionRequired: boolean;
  /** RFC 8707: one resource identifier per line; empty: any known resource. */
  resources: string;
  /** RFC 9126 require_pushed_authorization_requests. */
  parRequired: boolean;
  grantTypes: string[];
}

function emptyForm(): FormState {
  return { name: '', appUser: '', scopes: '', redirectUris: '', public: false, tokenFormat: 'opaque', accessTokenLifespan: '', refreshTokenLifespan: '', logoUri: '', audience: '', jwks: '', jwksUri: '', canIntrospect: false, adminApi: false, dpopRequired: false, rateLimit: '', idTokenSignedResponseAlg: 'RS256', postLogoutRedirectUris: '', backchannelLogoutUri: '', backchannelLogoutSessionRequired: false, resources: '', parRequired: false, grantTypes: [] };
}

function formOf(a: Application): FormState {
  return {
    name: a.name,
    appUser: appUserOf(a),
    scopes: a.scopes.join(' '),
    redirectUris: a.redirectUris.join('\n'),
    public: a.public,
    tokenFormat: a.tokenFormat,
    accessTokenLifespan: String(a.accessTokenLifespan),
    refreshTokenLifespan: String(a.refreshTokenLifespan),
    logoUri: a.logoUri ?? '',
    audience: a.audience ?? '',
    jwks: a.jwks ?? '',
    jwksUri: a.jwksUri ?? '',
    canIntrospect: a.canIntrospect,
    adminApi: a.adminApi,
    dpopRequired: a.dpopRequired ?? false,
    rateLimit: a.rateLimit ?? '',
    idTokenSignedResponseAlg: a.idTokenSignedResponseAlg,
    postLogoutRedirectUris: (a.postLogoutRedirectUris ?? []).join('\n'),
    backchannelLogoutUri: a.backchannelLogoutUri ?? '',
    backchannelLogoutSessionRequired: a.backchannelLogoutSessionRequired ?? false,
    resources: (a.resources ?? []).join('\n'),
    parRequired: a.parRequired ?? false,
    grantTypes: [...a.grantTypes],
  };
}

function useUsers() {
  return useLoad(async () => list<User>(await get('/users'), 'users'));
}

/** The admin API fields the form shows (as Fields renders them), so a refusal naming one is shown next to it. */
function visibleFields(grants: readonly string[], editing: boolean): ReadonlySet<string> {
  const shown = ['name', 'scopes', 'tokenFormat', 'audience', 'resources', 'accessTokenLifespan', 'refreshTokenLifespan', 'rateLimit'];
  if (grants.includes('authorization_code')) shown.push('redirectUris', 'logoUri', 'idTokenSignedResponseAlg', 'postLogoutRedirectUris', 'backchannelLogoutUri');
  if (grants.includes(JWT_BEARER) || editing) shown.push('jwks', 'jwksUri');
  return new Set(shown);
}

/** A refusal to show next to its field, or in an alert when no field shown is named. */
interface Refusal {
  readonly error: string | undefined;
  readonly field: string | undefined;
}

const inField = (r: Refusal, grants: readonly string[], editing: boolean) => r.error !== undefined && r.field !== undefined && visibleFields(grants, editing).has(r.field);

/** The form field a refusal names: `redirectUris.2` (an item of a list) is the redirectUris field. */
const fieldOf = (field: string | undefined) => field?.split('.')[0];

/** After a refusal of a field shown, puts the focus on it (its message is under it). */
function useFocusRefused(r: Refusal, shownInField: boolean) {
  useEffect(() => {
    if (shownInField && r.field !== undefined) document.querySelector<HTMLElement>(`form [name="${r.field}"]`)?.focus();
  }, [r.error, r.field, shownInField]);
}

/** The fields shared by create and edit; which appear depends on the grants. */
function Fields(props: { f: FormState; set: (patch: Partial<FormState>) => void; grants: readonly string[]; users: readonly User[]; editing: boolean; refusal: Refusal }) {
  const { f, set, grants } = props;
  const err = (field: string) => (props.refusal.field === field ? props.refusal.error : undefined);
  const has = (g: string) => grants.includes(g);
  const userOptions: (readonly [string, string])[] = [['', '— None —'], ...props.users.map((u) => [u.userName, `${u.userName}${u.active ? '' : ' (inactive)'}`] as const)];
  if (f.appUser !== '' && !props.users.some((u) => u.userName === f.appUser)) userOptions.push([f.appUser, f.appUser]);
  return (
    <>
      <TextField label="Name" value={f.name} onInput={(v) => set({ name: v })} required maxLength={100} name="name" error={err('name')} />
      {has('client_credentials') ? (
        <SelectField label="Application user" name="appUser" value={f.appUser} onChange={(v) => set({ appUser: v })} options={userOptions} hint="The user that client-credentials tokens act as: its roles decide what the application may call. Create a dedicated user on Users & roles." />
      ) : null}
      <TextField label="Scopes" name="scopes" value={f.scopes} onInput={(v) => set({ scopes: v })} hint="Space-separated scopes the application may ask for; empty for none." error={err('scopes')} />
      {has('authorization_code') ? (
        <>
          <TextArea
            label="Redirect URIs"
            name="redirectUris"
            value={f.redirectUris}
            onInput={(v) => set({ redirectUris: v })}
            hint="One per line, matched exactly: https (https://app.example.com/callback), http only on 127.0.0.1, [::1] or localhost, or a private-use scheme with a period for native apps (com.example.app:/callback)."
            mono
            error={err('redirectUris')}
          />
          {props.editing ? null : <Checkbox label="Public client (no secret; PKCE required)" checked={f.public} onChange={(v) => set({ public: v })} hint="For single-page and mobile applications that cannot keep a secret." />}
          <TextField label="Logo URL" name="logoUri" value={f.logoUri} onInput={(v) => set({ logoUri: v })} hint="Shown on the consent page; https." error={err('logoUri')} />
        </>
      ) : null}
      {has(JWT_BEARER) || props.editing ? (
        <>
          <TextArea label="Public keys (JWKS)" name="jwks" value={f.jwks} onInput={(v) => set({ jwks: v })} rows={4} mono hint="The application's JSON Web Key Set, for the JWT bearer grant and private_key_jwt. Or give a JWKS URL." error={err('jwks')} />
          <TextField label="JWKS URL" name="jwksUri" value={f.jwksUri} onInput={(v) => set({ jwksUri: v })} hint="Where to fetch the keys instead: https on a public address (private and loopback addresses are refused unless latchkey.outbound.allow_private_networks is true)." error={err('jwksUri')} />
        </>
      ) : null}
      {has('authorization_code') ? (
        <SelectField
          label="ID token signature (OpenID Connect)"
          name="idTokenSignedResponseAlg"
          value={f.idTokenSignedResponseAlg}
          onChange={(v) => set({ idTokenSignedResponseAlg: v })}
          options={[
            ['RS256', 'RS256 (the default; every OpenID client supports it)'],
            ['ES256', 'ES256'],
          ]}
        />
      ) : null}
      {has('authorization_code') ? (
        <>
          <TextArea
            label="Post-logout redirect URIs (OpenID Connect)"
            name="postLogoutRedirectUris"
            value={f.postLogoutRedirectUris}
            onInput={(v) => set({ postLogoutRedirectUris: v })}
            hint="Where /oauth/logout may send the browser after signing out: one per line, matched exactly, the rules of redirect URIs."
            mono
            error={err('postLogoutRedirectUris')}
          />
          <TextField
            label="Back-channel logout URL (OpenID Connect)"
            name="backchannelLogoutUri"
            value={f.backchannelLogoutUri}
            onInput={(v) => set({ backchannelLogoutUri: v })}
            hint="Where a logout token is POSTed when a session the application signed in through ends: https (http only on loopback, with latchkey.outbound.allow_private_networks). Empty: none."
            error={err('backchannelLogoutUri')}
          />
          <Checkbox label="Logout tokens must carry the session id (sid)" checked={f.backchannelLogoutSessionRequired} onChange={(v) => set({ backchannelLogoutSessionRequired: v })} hint="backchannel_logout_session_required; Latchkey always sends sid." />
          <Checkbox label="Pushed authorization requests required (PAR)" checked={f.parRequired} onChange={(v) => set({ parRequired: v })} hint="RFC 9126 require_pushed_authorization_requests: the application must POST its authorization parameters to /oauth/par and send the browser with the request_uri it gets." />
        </>
      ) : null}
      <div class="grid2">
        <SelectField
          label="Access token format"
          name="tokenFormat"
          value={f.tokenFormat}
          onChange={(v) => set({ tokenFormat: v })}
          options={[
            ['opaque', 'Opaque'],
            ['jwt', 'JWT (RFC 9068)'],
          ]}
        />
        <TextField label="Audience (JWT aud)" name="audience" value={f.audience} onInput={(v) => set({ audience: v })} hint="Empty: this instance's issuer (its own APIs)." error={err('audience')} />
        <TextArea label="Resources (RFC 8707)" name="resources" value={f.resources} onInput={(v) => set({ resources: v })} hint="The only resources its tokens may be requested for, one identifier per line (see Resources). Empty: any known resource." error={err('resources')} />
        <NumberField label="Access token lifespan (seconds)" name="accessTokenLifespan" value={f.accessTokenLifespan} onInput={(v) => set({ accessTokenLifespan: v })} min={1} hint={props.editing ? undefined : 'Empty for the default (1800).'} error={err('accessTokenLifespan')} />
        <NumberField label="Refresh token lifespan (seconds)" name="refreshTokenLifespan" value={f.refreshTokenLifespan} onInput={(v) => set({ refreshTokenLifespan: v })} min={1} hint={props.editing ? undefined : 'Empty for the default (8640000).'} error={err('refreshTokenLifespan')} />
      </div>
      <TextField
        label="Rate limit"
        name="rateLimit"
        value={f.rateLimit}
        onInput={(v) => set({ rateLimit: v })}
        maxLength={40}
        hint="Requests it may make to the token and introspection endpoints, as <requests>/<window> (100/1m, 20/10s, 5000/1h), or off for none; past it, 429. Empty: the instance default (latchkey.rate_limit.client)."
        error={err('rateLimit')}
      />
      <Checkbox label="May introspect tokens (resource server)" checked={f.canIntrospect} onChange={(v) => set({ canIntrospect: v })} />
      <Checkbox
        label="May administer this instance (admin API)"
        checked={f.adminApi}
        onChange={(v) => set({ adminApi: v })}
        hint="Its tokens with the scope latchkey.admin act on the admin API when their user has the admin role. Never granted on a consent page; JWT bearer and identity-provider tokens never qualify."
      />
      <Checkbox
        label="Requires DPoP (sender-constrained tokens, RFC 9449)"
        checked={f.dpopRequired}
        onChange={(v) => set({ dpopRequired: v })}
        hint="Token requests without a DPoP proof are refused (dpop.required): every token is bound to the client's key and useless without it."
      />
    </>
  );
}

function body(f: FormState, includeEmpty: boolean): Record<string, unknown> {
  const b: Record<string, unknown> = {
    name: f.name.trim(),
    scopes: splitList(f.scopes),
    redirectUris: lines(f.redirectUris),
    tokenFormat: f.tokenFormat,
    idTokenSignedResponseAlg: f.idTokenSignedResponseAlg,
    postLogoutRedirectUris: lines(f.postLogoutRedirectUris),
    backchannelLogoutSessionRequired: f.backchannelLogoutSessionRequired,
    parRequired: f.parRequired,
    canIntrospect: f.canIntrospect,
    adminApi: f.adminApi,
    dpopRequired: f.dpopRequired,
  };
  const resources = lines(f.resources);
  if (resources.length > 0) b.resources = resources;
  else if (includeEmpty) b.resources = null;
  const optional: readonly (readonly [string, string])[] = [
    ['logoUri', f.logoUri],
    ['audience', f.audience],
    ['jwks', f.jwks],
    ['jwksUri', f.jwksUri],
    ['rateLimit', f.rateLimit],
    ['backchannelLogoutUri', f.backchannelLogoutUri],
  ];
  for (const [k, v] of optional) if (v.trim() !== '') b[k] = v.trim();
  else if (includeEmpty) b[k] = null;
  if (f.accessTokenLifespan.trim() !== '') b.accessTokenLifespan = Number(f.accessTokenLifespan);
  if (f.refreshTokenLifespan.trim() !== '') b.refreshTokenLifespan = Number(f.refreshTokenLifespan);
  return b;
}

export function NewApplication() {
  const [kind, setKind] = useState<AppKind>('client_credentials');
  const catalogue = useGrants();
  const kinds = (catalogue.data ?? []).filter((g) => g.preset !== null);
  const [f, setF] = useState<FormState>(emptyForm);
  const [created, setCreated] = useState<SecretAnswer | null>(null);
  const users = useUsers();
  const action = useAction();
  const set = (p: Partial<FormState>) => setF((old) => ({ ...old, ...p }));
  const kindName = useId('kind');
  const grants = kinds.find((g) => kindOf(g) === kind)?.preset ?? [];
  const refusal: Refusal = { error: action.error, field: fieldOf(action.field) };
  const shownInField = inField(refusal, grants, false);
  useFocusRefused(refusal, shownInField);

  if (created !== null)
    return (
      <>
        <PageHeader title="Application created" intro={`${created.application.name} is registered.`} />
        <SecretPanel answer={created} />
        <p class="actions-row">
          <a class="button primary" href={`#/applications/${encodeURIComponent(created.application.clientId)}`}>
            Open the application
          </a>
          <a class="button" href="#/applications">
            Back to applications
          </a>
        </p>
      </>
    );

  return (
    <>
      <PageHeader title="New application" intro="Pick how the application gets its tokens, then fill in its details." />
      <form
        class="card form"
        onSubmit={(e) => {
          e.preventDefault();
          void action.run(async () => {
            const b = body(f, false);
            b.kind = kind;
            if (kind === 'client_credentials' && f.appUser !== '') b.appUser = f.appUser;
            if (kind === 'authorization_code') b.public = f.public;
            setCreated(await post<SecretAnswer>('/applications', b));
          });
        }}
      >
        <fieldset class="kinds">
          <legend>Kind of application</legend>
          <div class="kind-grid">
            {kinds.map((g) => {
              const k = kindOf(g);
              return (
                <label class={`kind ${kind === k ? 'selected' : ''}`} key={k} for={`${kindName}-${k}`}>
                  <input type="radio" id={`${kindName}-${k}`} name="kind" value={k} checked={kind === k} onChange={() => setKind(k)} />
                  <span class="kind-title">{g.label}</span>
                  <span class="kind-text">{g.summary}</span>
                </label>
              );
            })}
          </div>
        </fieldset>
        <Fields f={f} set={set} grants={grants} users={users.data ?? []} editing={false} refusal={refusal} />
        {action.error === undefined || shownInField ? null : <Alert>{action.error}</Alert>}
        <div class="form-actions">
          <button type="submit" class="primary" disabled={action.busy}>
            Create application
          </button>
          <a class="button" href="#/applications">
            Cancel
          </a>
        </div>
      </form>
    </>
  );
}

/** A registered client's registration (RFC 7591): who registered it, its policy, its last use, when reaping deletes it. */
function RegistrationCard(props: { registration: RegistrationInfo | null }) {
  const r = props.registration;
  return (
    <Card title="Registration" titleId="registration-card-title">
      {r === null ? (
        <p class="muted">Registered dynamically, but its registration record is gone: it cannot manage itself (RFC 7592).</p>
      ) : (
        <dl class="kv">
          <dt>Source</dt>
          <dd>{r.source.startsWith('iat:') ? <>Initial access token <code>{r.source.slice(4)}</code></> : r.sourceText}</dd>
          <dt>Policy</dt>
          <dd>{r.policy === null ? 'None' : <a href="#/registration">{r.policy}</a>}</dd>
          <dt>Registered</dt>
          <dd>{fmtTime(r.registeredAt)}</dd>
          <dt>Last used</dt>
          <dd>{r.lastUsedAt === null ? 'Never' : fmtTime(r.lastUsedAt)}</dd>
          <dt>Reaping</dt>
          <dd>
            {r.reapAt === null ? (
              'Off (latchkey.registration.reap_after_days is 0)'
            ) : r.reapDue ? (
              <Badge kind="warn">Due: the next reap deletes it</Badge>
            ) : (
              <>Deleted {fmtTime(r.reapAt)} unless used before ({r.reapAfterDays} days unused)</>
            )}
          </dd>
          <dt>Configuration URI</dt>
          <dd>{r.registrationClientUri === null ? '—' : <code>{r.registrationClientUri}</code>}</dd>
        </dl>
      )}
    </Card>
  );
}

export function ApplicationDetail(props: { clientId: string }) {
  const path = `/applications/${encodeURIComponent(props.clientId)}`;
  const app = useLoad(async () => {
    const d = await get<{ application?: ApplicationWithRegistration } & ApplicationWithRegistration>(path);
    return d.application ?? d;
  });
  const users = useUsers();
  const catalogue = useGrants();
  const grantLabel = labelOf(catalogue.data);
  const [f, setF] = useState<FormState | null>(null);
  const [saved, setSaved] = useState<string | null>(null);
  const [secret, setSecret] = useState<SecretAnswer | null>(null);
  const [deleted, setDeleted] = useState<string | null>(null);
  const action = useAction();
  const a = app.data;
  const form = f ?? (a === undefined ? null : formOf(a));
  const set = (p: Partial<FormState>) => setF((old) => ({ ...(old ?? form ?? emptyForm()), ...p }));
  const refusal: Refusal = { error: action.error, field: fieldOf(action.field) };
  const shownInField = form !== null && inField(refusal, form.grantTypes, true);
  useFocusRefused(refusal, shownInField);

  // Activation has its own action: a refusal (the built-in console application) shows next to its button.
  const status = useAction();
  const apply = async (change: Record<string, unknown>, message: string, run = action.run) => {
    setSaved(null);
    await run(async () => {
      const r = await patch<{ application?: Application }>(path, change);
      setF(r.application === undefined ? null : formOf(r.application));
      app.reload();
      setSaved(message);
    });
  };

  if (deleted !== null)
    return (
      <>
        <PageHeader title="Application deleted" />
        <Alert kind="success">{deleted}</Alert>
        <p>
          <a class="button" href="#/applications">
            Back to applications
          </a>
        </p>
      </>
    );

  return (
    <>
      <PageHeader
        title={a === undefined ? 'Application' : a.name}
        intro={a === undefined ? undefined : <>Client ID <code>{a.clientId}</code></>}
        actions={
          <a class="button" href="#/applications">
            All applications
          </a>
        }
      />
      <Loading loaded={app} />
      {saved === null ? null : <Alert kind="success">{saved}</Alert>}
      {action.error === undefined || shownInField ? null : <Alert>{action.error}</Alert>}
      {secret === null ? null : <SecretPanel answer={secret} onDone={() => setSecret(null)} />}
      {a === undefined || form === null ? null : (
        <div class="detail-grid">
          <form
            class="card form"
            aria-labelledby="edit-title"
            onSubmit={(e) => {
              e.preventDefault();
              const b = body(form, true);
              b.grantTypes = form.grantTypes;
              b.appUser = form.appUser === '' ? null : form.appUser;
              void apply(b, 'Changes saved.');
            }}
          >
            <h2 id="edit-title">Settings</h2>
            <fieldset>
              <legend>Grant types</legend>
              <div class="checks">
                {(catalogue.data ?? []).map(({ grantType: g, label }) => (
                  <Checkbox key={g} label={label} checked={form.grantTypes.includes(g)} onChange={(on) => set({ grantTypes: on ? [...form.grantTypes, g] : form.grantTypes.filter((x) => x !== g) })} />
                ))}
              </div>
            </fieldset>
            <Fields f={form} set={set} grants={form.grantTypes} users={users.data ?? []} editing refusal={refusal} />
            <div class="form-actions">
              <button type="submit" class="primary" disabled={action.busy}>
                Save changes
              </button>
              <button type="button" onClick={() => setF(null)} disabled={f === null}>
                Discard changes
              </button>
            </div>
          </form>
          <div class="side">
            <Card title="Status" titleId="status-title">
              <p>{a.active ? <Badge kind="ok">Active</Badge> : <Badge kind="muted">Inactive</Badge>}</p>
              <p class="muted">
                Origin: <Badge kind={a.origin === 'admin' ? 'info' : 'muted'}>{ORIGIN_BADGE[a.origin]}</Badge> {ORIGIN_TEXT[a.origin]}
              </p>
              <p class="muted">{a.active ? 'Deactivating refuses its token requests and the tokens it already has.' : 'Inactive: its token requests and tokens are refused.'}</p>
              {a.active ? (
                <ConfirmButton label="Deactivate" confirmLabel="Yes, deactivate" danger disabled={status.busy} onConfirm={() => apply({ active: false }, 'Application deactivated.', status.run)} />
              ) : (
                <button type="button" class="primary" disabled={status.busy} onClick={() => void apply({ active: true }, 'Application activated.', status.run)}>
                  Activate
                </button>
              )}
              {status.error === undefined ? null : (
                <p class="field-error" role="alert">
                  {status.error}
                </p>
              )}
            </Card>
            {a.origin === 'registration' ? <RegistrationCard registration={'registration' in a ? a.registration : null} /> : null}
            <Card title="Client secret" titleId="secret-card-title">
              {a.public ? (
                <p class="muted">Public application: no secret.</p>
              ) : (
                <>
                  <p class="muted">Last rotated: {fmtTime(a.secretRotatedAt ?? a.createdAt ?? null)}</p>
                  <p class="muted">Rotating issues a new secret at once; the old one stops working.</p>
                  <ConfirmButton
                    label="Rotate secret"
                    confirmLabel="Yes, rotate now"
                    danger
                    onConfirm={() =>
                      action.run(async () => {
                        setSecret(await post<SecretAnswer>(`${path}/rotate-secret`, {}));
                        app.reload();
                      })
                    }
                  />
                </>
              )}
            </Card>
            <Card title="Summary" titleId="summary-title">
              <dl class="kv">
                <dt>Grants</dt>
                <dd>{a.grantTypes.map(grantLabel).join(', ') || '—'}</dd>
                <dt>Access tokens</dt>
                <dd>
                  {a.tokenFormat === 'jwt' ? 'JWT' : 'Opaque'}, {fmtDuration(a.accessTokenLifespan)}
                </dd>
                <dt>Admin API</dt>
                <dd>{a.adminApi ? 'Allowed (scope latchkey.admin)' : 'Not allowed'}</dd>
                <dt>Resources</dt>
                <dd>
                  {a.resources === undefined || a.resources === null || a.resources.length === 0 ? (
                    'Any known resource (RFC 8707)'
                  ) : (
                    <ul class="uri-list" aria-label="Resources its tokens may be requested for">
                      {a.resources.map((r) => (
                        <li key={r}>
                          <code class="uri">{r}</code>
                        </li>
                      ))}
                    </ul>
                  )}
                </dd>
                <dt>Rate limit</dt>
                <dd>{a.rateLimit === null ? 'Instance default (latchkey.rate_limit.client)' : a.rateLimit === 'off' ? 'Off (no limit)' : `${a.rateLimit} (token and introspection requests)`}</dd>
                {a.grantTypes.includes('authorization_code') ? (
                  <>
                    <dt>Sign-out</dt>
                    <dd>
                      {a.backchannelLogoutUri === null ? 'No back-channel logout' : <>Back-channel logout to <code>{a.backchannelLogoutUri}</code> (deliveries in its history)</>}
                      {a.postLogoutRedirectUris.length === 0 ? null : (
                        <>
                          ; after sign-out to <code>{a.postLogoutRedirectUris.join(', ')}</code>
                        </>
                      )}
                    </dd>
                  </>
                ) : null}
                <dt>Created</dt>
                <dd>{fmtTime(a.createdAt ?? null)}</dd>
                <dt>Updated</dt>
                <dd>{fmtTime(a.updatedAt ?? null)}</dd>
              </dl>
              <p>
                <a href={`#/tokens?application=${encodeURIComponent(a.clientId)}`}>Its tokens</a> · <a href={`#/refusals?client=${encodeURIComponent(a.clientId)}`}>Its refusals</a> · <a href={`#/audit?target=${encodeURIComponent(a.clientId)}`}>Its history</a>
              </p>
            </Card>
            <Card title="Tokens and deletion" titleId="lifecycle-title">
              <p class="muted">Revoking its tokens refuses them at once, on every instance; the application keeps working for new token requests.</p>
              <ConfirmButton
                label="Revoke all its tokens"
                confirmLabel="Yes, revoke them all"
                danger
                onConfirm={() =>
                  action.run(async () => {
                    const r = await post<{ revoked: number }>('/tokens/revoke', { application: a.clientId });
                    setSaved(`Revoked ${r.revoked} token${r.revoked === 1 ? '' : 's'} of ${a.name}.`);
                  })
                }
              />
              <p class="muted">Deleting the application revokes its tokens and removes it from the registry.</p>
              <DeleteApplicationButton app={a} onDeleted={setDeleted} />
            </Card>
          </div>
        </div>
      )}
    </>
  );
}
