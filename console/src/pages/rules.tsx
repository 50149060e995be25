import { Fragment } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import {
  createRule,
  enforceRule,
  get,
  list,
  loadRule,
  loadRules,
  reportRule,
  ruleDeletePath,
  type ApiView,
  type Application,
  type McpServerView,
  type NewRule,
  type PropertyView,
  type RuleClientView,
  type RuleKind,
  type RuleReportView,
  type RuleView,
} from '../api';
import { ConfirmDialog, DeleteButton } from '../confirm';
import { RefusalFacts } from '../facts';
import { Alert, Badge, Card, ConfirmButton, CopyButton, Empty, Loading, PageHeader, SelectField, TextField, fmtTime, splitList, useAction, useLoad } from '../ui';

/**
 * Report-only rules (GET /rules; src/registry/rules.ts): a change that would refuse requests is
 * added in report mode first; while it reports, the requests it would refuse succeed and are
 * counted, the latest of each client kept with its explanation. The list shows each rule with the
 * requests it matched in 7 days; a rule's page shows who it would refuse and why (each client's
 * latest request explained, as on the Refusals page), and enforces it after a confirmation that
 * says how many requests and clients it would have refused. The form adds one; a value the
 * registry refuses is shown under its field.
 */

const KIND_LABEL: Readonly<Record<RuleKind, string>> = {
  api_requirement: 'API requirement',
  property: 'Instance switch',
  application: 'Application change',
  rate_limit: 'Rate limit',
};

const KIND_OPTIONS: readonly (readonly [RuleKind, string])[] = [
  ['api_requirement', 'API requirement: scopes or roles a hosted API requires'],
  ['property', 'Instance switch: a property that refuses requests'],
  ['application', "Application change: its grant types or scopes"],
  ['rate_limit', "Rate limit: the instance's or an application's"],
];

const PERIODS: readonly (readonly [string, string])[] = [
  ['1', 'Last day'],
  ['7', 'Last 7 days'],
  ['30', 'Last 30 days'],
];

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const days = (n: number) => (n === 1 ? 'day' : `${n} days`);
const ruleLink = (id: string) => `#/rules/${encodeURIComponent(id)}`;

export function ModeBadge(props: { mode: RuleView['mode'] }) {
  return props.mode === 'enforce' ? <Badge kind="ok">enforce</Badge> : <Badge kind="info">report</Badge>;
}

// ---- the list and the form -------------------------------------------------------------------

export function Rules() {
  const rules = useLoad(() => loadRules(7));
  const [added, setAdded] = useState<RuleReportView | null>(null);
  return (
    <>
      <PageHeader
        title="Rules"
        intro="Changes that would refuse requests, tried in report mode first: while a rule reports, the requests it would refuse succeed and are recorded as “would refuse”, so you see who it would break before you enforce it."
        actions={
          <button type="button" onClick={rules.reload}>
            Refresh
          </button>
        }
      />
      {added === null ? null : (
        <Alert kind="success">
          Added rule <code>{added.rule.id}</code> in {added.rule.mode} mode: {added.summary}. <a href={ruleLink(added.rule.id)}>See who it would refuse</a>
        </Alert>
      )}
      <Loading loaded={rules} />
      {rules.data === undefined ? null : rules.data.length === 0 ? (
        <Empty>No rules yet. Add one below: it reports before it refuses anyone.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="rules">
            <caption class="sr-only">Rules</caption>
            <thead>
              <tr>
                <th scope="col">Rule</th>
                <th scope="col">Kind</th>
                <th scope="col">Mode</th>
                <th scope="col">Matched (7 d)</th>
                <th scope="col">Clients</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rules.data.map((r) => (
                <tr key={r.rule.id} class="rule-row" data-rule={r.rule.id} data-mode={r.rule.mode}>
                  <td>
                    <a href={ruleLink(r.rule.id)}>{r.summary}</a>
                    <br />
                    <code class="id">{r.rule.id}</code>
                    {r.rule.note === null ? null : <span class="muted small-text"> · {r.rule.note}</span>}
                  </td>
                  <td>{KIND_LABEL[r.rule.kind]}</td>
                  <td>
                    <ModeBadge mode={r.rule.mode} />
                  </td>
                  <td data-cell="total">{r.total}</td>
                  <td data-cell="clients">{r.clientCount}</td>
                  <td class="actions-cell">
                    <a class="button small" href={ruleLink(r.rule.id)}>
                      {r.rule.mode === 'report' ? 'Who it would refuse' : 'Open'}
                      <span class="sr-only"> for rule {r.rule.id}</span>
                    </a>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <AddRule
        onAdded={(r) => {
          setAdded(r);
          rules.reload();
        }}
      />
    </>
  );
}

interface RuleForm {
  kind: RuleKind;
  apiTarget: string;
  property: string;
  propertyValue: string;
  application: string;
  rateTarget: string;
  scopes: string;
  roles: string;
  grantTypes: string;
  value: string;
  note: string;
}

const EMPTY: RuleForm = { kind: 'api_requirement', apiTarget: '', property: '', propertyValue: '', application: '', rateTarget: 'instance', scopes: '', roles: '', grantTypes: '', value: '', note: '' };

/** The admin API fields each kind's form shows (a refusal naming another is shown above the buttons). */
const FIELDS: Readonly<Record<RuleKind, readonly string[]>> = {
  api_requirement: ['kind', 'target', 'scopes', 'roles', 'note'],
  property: ['kind', 'target', 'value', 'note'],
  application: ['kind', 'target', 'grantTypes', 'scopes', 'note'],
  rate_limit: ['kind', 'target', 'value', 'note'],
};

/** A space- or comma-separated list; undefined when empty (the field is left out of the body). */
function words(text: string): string[] | undefined {
  const items = splitList(text);
  return items.length === 0 ? undefined : items;
}

function bodyOf(f: RuleForm, switches: readonly PropertyView[]): NewRule {
  const note = f.note.trim() === '' ? {} : { note: f.note.trim() };
  const scopes = words(f.scopes);
  switch (f.kind) {
    case 'api_requirement': {
      const roles = words(f.roles);
      return { kind: f.kind, target: f.apiTarget.trim(), ...(scopes === undefined ? {} : { scopes }), ...(roles === undefined ? {} : { roles }), ...note };
    }
    case 'property': {
      const name = f.property || (switches[0]?.name ?? '');
      const value = f.propertyValue || String(switches.find((p) => p.name === name)?.reportFirst?.value ?? '');
      return { kind: f.kind, target: name, value, ...note };
    }
    case 'application': {
      const grantTypes = words(f.grantTypes);
      return { kind: f.kind, target: f.application, ...(grantTypes === undefined ? {} : { grantTypes }), ...(scopes === undefined ? {} : { scopes }), ...note };
    }
    case 'rate_limit':
      return { kind: f.kind, target: f.rateTarget, value: f.value.trim(), ...note };
  }
}

function AddRule(props: { onAdded: (r: RuleReportView) => void }) {
  const apis = useLoad(async () => list<ApiView>(await get('/apis'), 'apis'));
  const mcpServers = useLoad(async () => list<McpServerView>(await get('/mcp-servers'), 'servers'));
  const apps = useLoad(async () => list<Application>(await get('/applications'), 'applications'));
  const properties = useLoad(async () => list<PropertyView>(await get('/properties'), 'properties'));
  const [f, setF] = useState<RuleForm>(EMPTY);
  const set = (p: Partial<RuleForm>) => setF((old) => ({ ...old, ...p }));
  const action = useAction();
  const formRef = useRef<HTMLFormElement>(null);
  const switches = (properties.data ?? []).filter((p) => p.reportFirst !== undefined && p.reportFirst !== null);
  const applications = apps.data ?? [];
  const field = action.field?.split('.')[0];
  const shownInField = action.error !== undefined && field !== undefined && FIELDS[f.kind].includes(field);
  const err = (name: string) => (shownInField && field === name ? action.error : undefined);
  // After a refusal of a field shown, the focus goes to it (its message is under it).
  useEffect(() => {
    if (shownInField && field !== undefined) formRef.current?.querySelector<HTMLElement>(`[name="${field}"]`)?.focus();
  }, [action.error, field, shownInField]);

  const property = f.property || (switches[0]?.name ?? '');
  const chosenSwitch = switches.find((p) => p.name === property);
  const loadedApis = [...(apis.data ?? []).map((a) => `${a.namespace}/${a.id}`), ...(mcpServers.data ?? []).map((m) => `mcp:${m.namespace}/${m.id}`)];
  const appOptions = applications.map((a) => [a.clientId, `${a.name} (${a.clientId})`] as const);

  return (
    <form
      ref={formRef}
      class="card form add-rule"
      aria-labelledby="add-rule-title"
      onSubmit={(e) => {
        e.preventDefault();
        void action.run(async () => {
          const added = await createRule(bodyOf(f, switches));
          setF({ ...EMPTY, kind: f.kind });
          props.onAdded(added);
        });
      }}
    >
      <h2 id="add-rule-title">Add a rule</h2>
      <p class="muted">It starts in report mode: nothing is refused until you enforce it from its page.</p>
      <div class="grid2">
        <SelectField label="Kind" name="kind" value={f.kind} onChange={(v) => (set({ kind: v as RuleKind }), action.clear())} options={KIND_OPTIONS} error={err('kind')} />
        {f.kind === 'api_requirement' ? (
          <TextField
            label="API, resource or MCP server"
            name="target"
            value={f.apiTarget}
            onInput={(v) => set({ apiTarget: v })}
            placeholder="acme/orders or GET acme/orders/{id}"
            hint={`The whole API (namespace/api) or one resource (METHOD namespace/api/template); a hosted MCP server (mcp:namespace/server) or one of its tools (mcp:namespace/server/tool). ${loadedApis.length === 0 ? 'This instance serves no API.' : `Served here: ${loadedApis.slice(0, 8).join(', ')}${loadedApis.length > 8 ? ', …' : ''}.`}`}
            error={err('target')}
          />
        ) : null}
        {f.kind === 'property' ? (
          <SelectField
            label="Switch"
            name="target"
            value={property}
            onChange={(v) => set({ property: v, propertyValue: '' })}
            options={switches.map((p) => [p.name, p.name] as const)}
            hint={chosenSwitch?.reportFirst === undefined || chosenSwitch.reportFirst === null ? undefined : `Set to ${String(chosenSwitch.reportFirst.value)}, it refuses ${chosenSwitch.reportFirst.refuses}. Now: ${String(chosenSwitch.value)}.`}
            error={err('target')}
          />
        ) : null}
        {f.kind === 'application' ? (
          <SelectField label="Application" name="target" value={f.application} onChange={(v) => set({ application: v })} options={[['', '— Choose an application —'], ...appOptions]} error={err('target')} />
        ) : null}
        {f.kind === 'rate_limit' ? (
          <SelectField
            label="Limit of"
            name="target"
            value={f.rateTarget}
            onChange={(v) => set({ rateTarget: v })}
            options={[['instance', 'The instance default (latchkey.rate_limit.client)'], ...appOptions]}
            error={err('target')}
          />
        ) : null}
      </div>
      {f.kind === 'api_requirement' ? (
        <div class="grid2">
          <TextField label="Required scopes" name="scopes" value={f.scopes} onInput={(v) => set({ scopes: v })} hint="Space-separated: a call needs one of them. Scopes, roles or both." error={err('scopes')} />
          <TextField label="Required roles" name="roles" value={f.roles} onInput={(v) => set({ roles: v })} hint="Space-separated: the caller's user needs one of them." error={err('roles')} />
        </div>
      ) : null}
      {f.kind === 'property' ? (
        <SelectField
          label="New value"
          name="value"
          value={f.propertyValue || String(chosenSwitch?.reportFirst?.value ?? 'false')}
          onChange={(v) => set({ propertyValue: v })}
          options={[
            ['false', 'false'],
            ['true', 'true'],
          ]}
          error={err('value')}
        />
      ) : null}
      {f.kind === 'application' ? (
        <div class="grid2">
          <TextField label="New grant types" name="grantTypes" value={f.grantTypes} onInput={(v) => set({ grantTypes: v })} hint="Space-separated, replacing the application's. Empty: unchanged." error={err('grantTypes')} />
          <TextField label="New scopes" name="scopes" value={f.scopes} onInput={(v) => set({ scopes: v })} hint="Space-separated, replacing the application's. Empty: unchanged." error={err('scopes')} />
        </div>
      ) : null}
      {f.kind === 'rate_limit' ? (
        <TextField
          label="New limit"
          name="value"
          value={f.value}
          onInput={(v) => set({ value: v })}
          hint={f.rateTarget === 'instance' ? 'Requests per latchkey.rate_limit.window_seconds, for example 100.' : 'As <requests>/<window>, for example 100/1m.'}
          error={err('value')}
        />
      ) : null}
      <TextField label="Note" name="note" value={f.note} onInput={(v) => set({ note: v })} maxLength={500} hint="Optional: why, or who asked for it." error={err('note')} />
      {action.error === undefined || shownInField ? null : <Alert>{action.error}</Alert>}
      <div class="form-actions">
        <button type="submit" class="primary" disabled={action.busy}>
          Add rule
        </button>
      </div>
    </form>
  );
}

// ---- one rule ------------------------------------------------------------------------------------

function Who(props: { client: RuleClientView }) {
  const c = props.client;
  if (c.clientId === null) return <span class="muted">no client (HTTP Basic as a user)</span>;
  return (
    <>
      {c.applicationName ?? <span class="muted">unknown client</span>}
      <br />
      <code class="id">{c.clientId}</code>
    </>
  );
}

function ClientDetail(props: { client: RuleClientView; id: string }) {
  const requestId = props.client.latestRequestId ?? '';
  const command = `latchkey explain ${requestId}`;
  const cmd = useRef<HTMLElement>(null);
  return (
    <tr class="detail-row">
      <td colSpan={6} id={props.id}>
        <div class="refusal-detail">
          <h3>The latest request explained</h3>
          <RefusalFacts requestId={requestId} />
          <div class="command">
            <code ref={cmd}>{command}</code>
            <CopyButton text={command} target={() => cmd.current} label="Copy command" />
          </div>
          <p class="muted small-text">
            Request id <code>{requestId}</code>
          </p>
        </div>
      </td>
    </tr>
  );
}

function WouldRefuse(props: { report: RuleReportView; days: number }) {
  const r = props.report;
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const toggle = (key: string) =>
    setOpen((old) => {
      const next = new Set(old);
      if (next.has(key)) next.delete(key);
      else next.add(key);
      return next;
    });
  return (
    <Card title={r.rule.mode === 'enforce' ? 'Who it would have refused while it reported' : 'Who it would refuse'} titleId="would-refuse-title">
      <p class="muted" data-testid="rule-total">
        {r.total === 0
          ? `No request matched in the last ${days(props.days)}${r.rule.mode === 'report' ? ': enforcing it now would refuse nobody who called in that time.' : '.'}`
          : `${plural(r.total, 'request')} from ${plural(r.clients.length, 'client')} in the last ${days(props.days)}, since ${fmtTime(r.since)}.`}
      </p>
      {r.clients.length === 0 ? null : (
        <div class="table-wrap">
          <table class="would-refuse">
            <thead>
              <tr>
                <th scope="col">Client</th>
                <th scope="col">Requests</th>
                <th scope="col">Latest</th>
                <th scope="col">Reason</th>
                <th scope="col">Users</th>
                <th scope="col">
                  <span class="sr-only">Explain</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {r.clients.map((c) => {
                const key = c.clientId ?? '-';
                const expanded = open.has(key);
                const detailId = `would-refuse-${key}`;
                return (
                  <Fragment key={key}>
                    <tr class={expanded ? 'would-refuse-row expanded' : 'would-refuse-row'} data-client={c.clientId ?? ''}>
                      <td>
                        <Who client={c} />
                      </td>
                      <td data-cell="count">{c.count}</td>
                      <td>{c.latestAt === null ? <span class="muted">counted only</span> : fmtTime(c.latestAt)}</td>
                      <td>{c.reason === null ? <span class="muted">—</span> : <code class="word">{c.reason}</code>}</td>
                      <td class="wrap-anywhere">{c.userNames.length === 0 ? <span class="muted">—</span> : c.userNames.join(', ')}</td>
                      <td class="actions-cell">
                        {c.latestRequestId === null ? null : (
                          <button type="button" class="small" aria-expanded={expanded} aria-controls={detailId} onClick={() => toggle(key)}>
                            {expanded ? 'Hide' : 'Explain'}
                            <span class="sr-only"> the latest request of {c.applicationName ?? c.clientId ?? 'no client'}</span>
                          </button>
                        )}
                      </td>
                    </tr>
                    {expanded ? <ClientDetail client={c} id={detailId} /> : null}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </Card>
  );
}

function SpecList(props: { rule: RuleView }) {
  const { kind, spec } = props.rule;
  const words = (xs: readonly string[] | undefined) => (xs === undefined ? null : xs.length === 0 ? <span class="muted">(none)</span> : <code>{xs.join(' ')}</code>);
  return (
    <>
      {kind === 'api_requirement' && spec.scopes !== undefined ? (
        <>
          <dt>Requires a scope</dt>
          <dd>{words(spec.scopes)}</dd>
        </>
      ) : null}
      {kind === 'api_requirement' && spec.roles !== undefined ? (
        <>
          <dt>Requires a role</dt>
          <dd>{words(spec.roles)}</dd>
        </>
      ) : null}
      {kind === 'application' && spec.grantTypes !== undefined ? (
        <>
          <dt>New grant types</dt>
          <dd>{words(spec.grantTypes)}</dd>
        </>
      ) : null}
      {kind === 'application' && spec.scopes !== undefined ? (
        <>
          <dt>New scopes</dt>
          <dd>{words(spec.scopes)}</dd>
        </>
      ) : null}
      {spec.value === undefined ? null : (
        <>
          <dt>New value</dt>
          <dd>
            <code>{spec.value}</code>
          </dd>
        </>
      )}
    </>
  );
}

export function RuleDetail(props: { id: string }) {
  const [period, setPeriod] = useState(7);
  const loaded = useLoad(() => loadRule(props.id, period), [period]);
  const [notice, setNotice] = useState<string | null>(null);
  const [deleted, setDeleted] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  const enforce = useAction();
  const back = useAction();
  const enforceRef = useRef<HTMLButtonElement>(null);
  const r = loaded.data;

  if (deleted !== null)
    return (
      <>
        <PageHeader title="Rule deleted" />
        <Alert kind="success">{deleted}</Alert>
        <p>
          <a class="button" href="#/rules">
            Back to rules
          </a>
        </p>
      </>
    );

  const closeDialog = () => {
    setConfirming(false);
    enforce.clear();
    window.setTimeout(() => enforceRef.current?.focus(), 0);
  };
  const rule = r?.rule;
  return (
    <>
      <PageHeader
        title={r === undefined ? 'Rule' : r.summary}
        intro={
          <>
            Rule <code>{props.id}</code>
            {r === undefined ? null : ` · ${KIND_LABEL[r.rule.kind]}`}
          </>
        }
        actions={
          <>
            <SelectField label="Period" name="days" value={String(period)} onChange={(v) => setPeriod(Number(v))} options={PERIODS} />
            <a class="button" href="#/rules">
              All rules
            </a>
          </>
        }
      />
      {notice === null ? null : <Alert kind="success">{notice}</Alert>}
      <Loading loaded={loaded} />
      {r === undefined || rule === undefined ? null : (
        <>
          <Card title="The rule" titleId="rule-title" class="rule-card">
            <dl class="kv">
              <dt>Kind</dt>
              <dd>{KIND_LABEL[rule.kind]}</dd>
              <dt>Target</dt>
              <dd>
                <code>{rule.target}</code>
              </dd>
              <SpecList rule={rule} />
              <dt>Mode</dt>
              <dd data-testid="rule-mode">
                <ModeBadge mode={rule.mode} />
                {rule.mode === 'enforce' ? <span class="muted"> since {fmtTime(rule.enforcedAt)}, by {rule.enforcedBy ?? 'unknown'}</span> : <span class="muted"> nothing is refused yet</span>}
              </dd>
              <dt>{rule.mode === 'enforce' ? 'Enforcing did' : 'Enforcing does'}</dt>
              <dd>{r.enforcing}</dd>
              {rule.note === null ? null : (
                <>
                  <dt>Note</dt>
                  <dd>{rule.note}</dd>
                </>
              )}
              <dt>Added</dt>
              <dd>
                {fmtTime(rule.createdAt)} by {rule.createdBy}
              </dd>
            </dl>
            <div class="actions-row">
              {rule.mode === 'report' ? (
                <button type="button" class="primary" ref={enforceRef} onClick={() => setConfirming(true)}>
                  Enforce
                </button>
              ) : null}
              {rule.mode === 'enforce' && rule.kind === 'api_requirement' ? (
                <ConfirmButton
                  label="Back to report"
                  confirmLabel="Put it back to report"
                  onConfirm={() =>
                    back.run(async () => {
                      await reportRule(rule.id);
                      setNotice(`Rule ${rule.id} reports again: the calls it refused succeed, recorded as “would refuse”.`);
                      loaded.reload();
                    })
                  }
                />
              ) : null}
              <DeleteButton<{ deleted: RuleView }>
                what={`rule ${rule.id}`}
                path={ruleDeletePath(rule.id)}
                consequences={async () => [
                  `The rule “${r.summary}” is removed.`,
                  rule.mode === 'report'
                    ? 'It stops reporting; the “would refuse” records it left stay for 30 days.'
                    : rule.kind === 'api_requirement'
                      ? 'The calls it refuses are let through again, at once, on every instance.'
                      : `The change it applied stays (${r.enforcing}): change that setting to undo it.`,
                ]}
                onDeleted={() => setDeleted(`Deleted rule ${rule.id} (${r.summary}).`)}
              />
            </div>
            {back.error === undefined ? null : <Alert>{back.error}</Alert>}
          </Card>
          <WouldRefuse report={r} days={period} />
          {confirming ? (
            <ConfirmDialog
              title={`Enforce rule ${rule.id}?`}
              confirmLabel="Enforce"
              busy={enforce.busy}
              error={enforce.error}
              onCancel={closeDialog}
              onConfirm={() =>
                void enforce.run(async () => {
                  const done = await enforceRule(rule.id);
                  setConfirming(false);
                  setNotice(`Rule ${rule.id} is enforced. ${done.enforcing}`);
                  loaded.reload();
                })
              }
            >
              <p data-testid="enforce-impact">
                {r.total === 0
                  ? `It matched no request in the last ${days(period)}: enforced then, it would have refused nobody.`
                  : `In the last ${days(period)} it would have refused ${plural(r.total, 'request')} from ${plural(r.clients.length, 'client')}:`}
              </p>
              {r.clients.length === 0 ? null : (
                <ul class="consequences">
                  {r.clients.slice(0, 5).map((c) => (
                    <li key={c.clientId ?? '-'}>
                      {c.applicationName ?? c.clientId ?? 'no client'}: {plural(c.count, 'request')}
                    </li>
                  ))}
                  {r.clients.length > 5 ? <li>and {plural(r.clients.length - 5, 'more client')}</li> : null}
                </ul>
              )}
              <p>
                <strong>Enforcing:</strong> {r.enforcing}
              </p>
            </ConfirmDialog>
          ) : null}
        </>
      )}
    </>
  );
}
