import { Fragment } from 'preact';
import { useRef, useState } from 'preact/hooks';
import { get, type ApplicationPostureView, type PostureFindingView, type PostureReportView } from '../api';
import { Alert, Badge, Checkbox, CopyButton, Empty, Loading, PageHeader, SelectField, TextField, fmtTime, useLoad } from '../ui';

/**
 * Client posture (GET /posture, the builder `latchkey apps posture` prints): one row per
 * application with its use over 7 and 30 days, its secret, its authentication strength and its
 * findings; sortable by any column, filtered by name, severity and dormancy; each application's
 * fixes (the command with Copy, the link to the setting) open under its row.
 */

type SortKey = 'worst' | 'name' | 'lastUse' | 'tokens' | 'calls' | 'refusals' | 'secret' | 'auth';
type Direction = 'ascending' | 'descending';
type SeverityFilter = 'any' | 'error' | 'warning' | 'finding' | 'none';

const COLUMNS = 9;
const RANK: Readonly<Record<string, number>> = { error: 0, warning: 1, info: 2 };
const STRENGTH: Readonly<Record<string, number>> = { none: 0, secret: 1, private_key_jwt: 2 };
const STRENGTH_TEXT: Readonly<Record<string, string>> = { none: 'none', secret: 'secret', private_key_jwt: 'private key' };
const BADGE: Readonly<Record<string, 'error' | 'warn' | 'info'>> = { error: 'error', warning: 'warn', info: 'info' };

/** Each column's order, ascending; the direction flips it. */
const ORDER: Readonly<Record<SortKey, (a: ApplicationPostureView, b: ApplicationPostureView) => number>> = {
  // Worst first is the report's own order (the server sorts it); ascending here means that order.
  worst: () => 0,
  name: (a, b) => a.name.localeCompare(b.name),
  lastUse: (a, b) => (a.lastUseAt === null ? 0 : Date.parse(a.lastUseAt)) - (b.lastUseAt === null ? 0 : Date.parse(b.lastUseAt)),
  tokens: (a, b) => a.tokens.last30Days - b.tokens.last30Days || a.tokens.last7Days - b.tokens.last7Days,
  calls: (a, b) => a.calls.last30Days - b.calls.last30Days || a.calls.last7Days - b.calls.last7Days,
  refusals: (a, b) => a.refusals.last30Days - b.refusals.last30Days || a.refusals.last7Days - b.refusals.last7Days,
  secret: (a, b) => (a.secret?.ageDays ?? -1) - (b.secret?.ageDays ?? -1),
  auth: (a, b) => (STRENGTH[a.authentication.strength] ?? 0) - (STRENGTH[b.authentication.strength] ?? 0),
};

function matches(a: ApplicationPostureView, text: string, severity: SeverityFilter, dormantOnly: boolean): boolean {
  const t = text.trim().toLowerCase();
  if (t !== '' && !a.name.toLowerCase().includes(t) && !a.clientId.toLowerCase().includes(t)) return false;
  if (dormantOnly && !a.dormant) return false;
  const worst = a.worst === null ? 3 : (RANK[a.worst] ?? 3);
  if (severity === 'error') return worst === 0;
  if (severity === 'warning') return worst <= 1;
  if (severity === 'finding') return worst <= 2;
  if (severity === 'none') return worst === 3;
  return true;
}

function SortHeader(props: { label: string; column: SortKey; sort: SortKey; direction: Direction; onSort: (k: SortKey) => void }) {
  const active = props.sort === props.column;
  return (
    <th scope="col" aria-sort={active ? props.direction : 'none'}>
      <button type="button" class="sort" onClick={() => props.onSort(props.column)}>
        {props.label}
        <span aria-hidden="true">{active ? (props.direction === 'ascending' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );
}

function Fix(props: { finding: PostureFindingView }) {
  const f = props.finding;
  const cmd = useRef<HTMLElement>(null);
  return (
    <li class={`finding finding-${f.severity}`} data-posture-finding={f.id}>
      <div class="finding-head">
        <Badge kind={BADGE[f.severity]}>{f.severity}</Badge>
        <h3>{f.title}</h3>
      </div>
      <p>{f.detail}</p>
      <p>
        <strong>Fix:</strong> {f.fix}
      </p>
      {f.command === undefined ? null : (
        <div class="command">
          <code ref={cmd}>{f.command}</code>
          <CopyButton text={f.command} target={() => cmd.current} label="Copy command" />
        </div>
      )}
      <p>
        <a href={f.link}>{f.link.startsWith('#/refusals') ? 'Open its refusals' : 'Open the application'}</a>
      </p>
    </li>
  );
}

function Details(props: { app: ApplicationPostureView; id: string }) {
  const a = props.app;
  return (
    <tr class="detail-row">
      <td colSpan={COLUMNS} id={props.id}>
        <div class="refusal-detail">
          <p class="muted small-text">
            Authentication: {a.authentication.methods.join(', ')}
            {a.secret === null ? '' : ` · secret set ${fmtTime(a.secret.setAt)}${a.secret.rotationDueAt === null ? '' : `, rotation due ${fmtTime(a.secret.rotationDueAt)}`}`}
            {a.scopes.length === 0 ? ' · no scopes' : ` · scopes (tokens / API calls in 30 days): ${a.scopes.map((s) => `${s.scope} ${s.tokens30Days}/${s.calls30Days}`).join(', ')}`}
          </p>
          {a.findings.length === 0 ? (
            <Alert kind="success">Nothing to fix.</Alert>
          ) : (
            <ul class="findings">
              {a.findings.map((f, i) => (
                <Fix finding={f} key={`${f.id}:${i}`} />
              ))}
            </ul>
          )}
        </div>
      </td>
    </tr>
  );
}

function Row(props: { app: ApplicationPostureView; expanded: boolean; toggle: () => void; detailId: string }) {
  const a = props.app;
  const pair = (c: { last7Days: number; last30Days: number }) => `${c.last7Days} / ${c.last30Days}`;
  return (
    <tr class={props.expanded ? 'posture-row expanded' : 'posture-row'} data-client={a.clientId} data-worst={a.worst ?? 'none'}>
      <td>
        <a href={`#/applications/${encodeURIComponent(a.clientId)}`}>{a.name}</a>
        <br />
        <code class="id">{a.clientId}</code>
      </td>
      <td>
        {a.lastUseAt === null ? <span class="muted">never</span> : fmtTime(a.lastUseAt)}
        {a.dormant ? (
          <>
            <br />
            <Badge kind="warn">dormant {a.idleDays} d</Badge>
          </>
        ) : null}
      </td>
      <td>{pair(a.tokens)}</td>
      <td>{pair(a.calls)}</td>
      <td>{pair(a.refusals)}</td>
      <td>{a.secret === null ? <span class="muted">none</span> : <>{a.secret.ageDays} d{a.secret.rotationDue ? <> <Badge kind="warn">due</Badge></> : null}</>}</td>
      <td>{STRENGTH_TEXT[a.authentication.strength]}</td>
      <td>{!a.active ? <Badge>inactive</Badge> : a.worst === null ? <Badge kind="ok">ok</Badge> : <Badge kind={BADGE[a.worst]}>{`${a.findings.length} · ${a.worst}`}</Badge>}</td>
      <td class="actions-cell">
        <button type="button" class="small" aria-expanded={props.expanded} aria-controls={props.detailId} onClick={props.toggle}>
          {props.expanded ? 'Hide' : 'Fixes'}
          <span class="sr-only"> for {a.name}</span>
        </button>
      </td>
    </tr>
  );
}

export function Posture(props: { params: URLSearchParams }) {
  const report = useLoad(() => get<PostureReportView>('/posture'));
  const [text, setText] = useState(props.params.get('q') ?? '');
  const [severity, setSeverity] = useState<SeverityFilter>('any');
  const [dormantOnly, setDormantOnly] = useState(false);
  const [sort, setSort] = useState<SortKey>('worst');
  const [direction, setDirection] = useState<Direction>('ascending');
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set(props.params.get('app') === null ? [] : [props.params.get('app') as string]));
  const r = report.data;
  const onSort = (k: SortKey) => {
    if (k === sort) setDirection(direction === 'ascending' ? 'descending' : 'ascending');
    else {
      setSort(k);
      setDirection(k === 'worst' || k === 'name' ? 'ascending' : 'descending');
    }
  };
  const toggle = (id: string) =>
    setOpen((old) => {
      const next = new Set(old);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  const rows = r === undefined ? [] : r.applications.filter((a) => matches(a, text, severity, dormantOnly));
  const sign = direction === 'ascending' ? 1 : -1;
  const sorted = sort === 'worst' ? (direction === 'ascending' ? rows : [...rows].reverse()) : [...rows].sort((a, b) => sign * ORDER[sort](a, b) || a.name.localeCompare(b.name));
  const header = (label: string, column: SortKey) => <SortHeader label={label} column={column} sort={sort} direction={direction} onSort={onSort} />;
  return (
    <>
      <PageHeader
        title="Posture"
        intro="Every application's use and exposure, worst first: last use, tokens, API calls and refusals over 7 and 30 days, secret age, authentication strength (none < secret < private key) and what to fix. The same report as latchkey apps posture."
        actions={<button type="button" onClick={report.reload}>Refresh</button>}
      />
      <form class="toolbar card" aria-label="Filter applications" onSubmit={(e) => e.preventDefault()}>
        <TextField label="Application" name="q" value={text} onInput={setText} placeholder="name or client id" />
        <SelectField
          label="Findings"
          name="severity"
          value={severity}
          onChange={(v) => setSeverity(v as SeverityFilter)}
          options={[
            ['any', 'Every application'],
            ['error', 'With an error'],
            ['warning', 'With a warning or an error'],
            ['finding', 'With any finding'],
            ['none', 'Nothing to fix'],
          ]}
        />
        <Checkbox label="Dormant only" checked={dormantOnly} onChange={setDormantOnly} />
      </form>
      <Loading loaded={report} />
      {r === undefined ? null : (
        <>
          <p class="muted" data-testid="posture-summary">
            {sorted.length} of {r.applications.length} application{r.applications.length === 1 ? '' : 's'}. Dormant after {r.dormantDays} days without use (latchkey.posture.dormant_days);{' '}
            {r.rotationDays > 0 ? `secrets due after ${r.rotationDays} days` : 'secret rotation not checked'} (latchkey.secrets.rotation_days);{' '}
            {r.countingStartedAt === null ? 'no use counted yet, so none is dormant.' : `use counted since ${fmtTime(r.countingStartedAt)}.`} Counts: last 7 days / last 30 days.
          </p>
          {sorted.length === 0 ? (
            <Empty>No application matches.</Empty>
          ) : (
            <div class="table-wrap">
              <table class="posture">
                <thead>
                  <tr>
                    {header('Application', 'name')}
                    {header('Last use', 'lastUse')}
                    {header('Tokens', 'tokens')}
                    {header('API calls', 'calls')}
                    {header('Refused', 'refusals')}
                    {header('Secret age', 'secret')}
                    {header('Auth', 'auth')}
                    {header('Findings', 'worst')}
                    <th scope="col">
                      <span class="sr-only">Fixes</span>
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {sorted.map((a) => {
                    const expanded = open.has(a.clientId);
                    const detailId = `posture-${a.clientId}`;
                    return (
                      <Fragment key={a.clientId}>
                        <Row app={a} expanded={expanded} toggle={() => toggle(a.clientId)} detailId={detailId} />
                        {expanded ? <Details app={a} id={detailId} /> : null}
                      </Fragment>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}
    </>
  );
}
