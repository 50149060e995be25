import { Fragment } from 'preact';
import { useState } from 'preact/hooks';
import { get, list, query, type AuditEntry } from '../api';
import { Empty, Loading, PageHeader, SelectField, TextField, fmtTime, useLoad } from '../ui';

const SINCE: readonly (readonly [string, string])[] = [
  ['3600000', 'Last hour'],
  ['86400000', 'Last 24 hours'],
  ['604800000', 'Last 7 days'],
  ['2592000000', 'Last 30 days'],
  ['', 'Everything'],
];

function pretty(v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'string') {
    try {
      return JSON.stringify(JSON.parse(v), null, 2);
    } catch {
      return v;
    }
  }
  return JSON.stringify(v, null, 2);
}

export function Audit(props: { params: URLSearchParams }) {
  const [target, setTarget] = useState(props.params.get('target') ?? '');
  const [window_, setWindow] = useState('604800000');
  const [filter, setFilter] = useState({ target, window: window_ });
  const [open, setOpen] = useState<string | null>(null);
  const entries = useLoad(async () => list<AuditEntry>(await get(`/audit${query({ target: filter.target.trim(), since: filter.window === '' ? undefined : Date.now() - Number(filter.window) })}`), 'entries', 'audit'), [filter]);
  return (
    <>
      <PageHeader title="Audit" intro="Who changed what, when, with the record before and after. Secrets and password hashes are never recorded." />
      <form
        class="toolbar card"
        aria-label="Filter the audit log"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ target, window: window_ });
        }}
      >
        <TextField label="Target" name="target" value={target} onInput={setTarget} placeholder="Client ID, user, property…" />
        <SelectField label="Period" value={window_} onChange={setWindow} options={SINCE} />
        <button type="submit">Apply filters</button>
      </form>
      <Loading loaded={entries} />
      {entries.data === undefined ? null : entries.data.length === 0 ? (
        <Empty>No changes recorded for this filter.</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Who</th>
                <th scope="col">Action</th>
                <th scope="col">Target</th>
                <th scope="col">
                  <span class="sr-only">Details</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {entries.data.map((e) => (
                <Fragment key={e.id}>
                  <tr>
                    <td>{fmtTime(e.at)}</td>
                    <td>{e.actor}</td>
                    <td>
                      <code>{e.action}</code>
                    </td>
                    <td>
                      <code>{e.target}</code>
                    </td>
                    <td class="actions-cell">
                      <button type="button" class="small" aria-expanded={open === e.id} aria-controls={`audit-${e.id}`} onClick={() => setOpen(open === e.id ? null : e.id)}>
                        {open === e.id ? 'Hide' : 'Before / after'}
                      </button>
                    </td>
                  </tr>
                  {open === e.id ? (
                    <tr class="detail-row">
                      <td colSpan={5} id={`audit-${e.id}`}>
                        <div class="diff">
                          <div>
                            <h3>Before</h3>
                            <pre class="code">{pretty(e.before)}</pre>
                          </div>
                          <div>
                            <h3>After</h3>
                            <pre class="code">{pretty(e.after)}</pre>
                          </div>
                        </div>
                      </td>
                    </tr>
                  ) : null}
                </Fragment>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
