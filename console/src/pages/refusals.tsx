import { Fragment } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { get, list, query, type RefusalGroups, type RefusalRow } from '../api';
import { Checkbox, Empty, Loading, PageHeader, SelectField, TextField, fmtTime, useLoad } from '../ui';
import { GroupedRefusals } from './refusal-groups';
import { RefusalFacts } from '../facts';

type View = 'grouped' | 'requests';

export function Refusals(props: { params: URLSearchParams }) {
  const [reason, setReason] = useState(props.params.get('reason') ?? '');
  const [endpoint, setEndpoint] = useState(props.params.get('endpoint') ?? '');
  const [filter, setFilter] = useState({ reason, endpoint });
  const [live, setLive] = useState(true);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const [view, setView] = useState<View>(props.params.get('view') === 'requests' ? 'requests' : 'grouped');
  const client = props.params.get('client') ?? '';
  const params = () => ({ reason: filter.reason.trim(), endpoint: filter.endpoint.trim(), client });
  const refusals = useLoad(async () => (view === 'requests' ? list<RefusalRow>(await get(`/refusals${query({ ...params(), limit: 200 })}`), 'refusals') : []), [filter, view]);
  const groups = useLoad(async () => (view === 'grouped' ? get<RefusalGroups>(`/refusals/groups${query(params())}`) : undefined), [filter, view]);
  const reload = view === 'grouped' ? groups.reload : refusals.reload;
  useEffect(() => {
    if (!live) return;
    const t = window.setInterval(reload, 2000);
    return () => window.clearInterval(t);
  }, [live, reload]);
  const rows = (refusals.data ?? []).filter((r) => client === '' || r.clientId === client);
  const toggle = (id: string) =>
    setOpen((old) => {
      const next = new Set(old);
      if (next.has(id)) next.delete(id);
      else next.add(id);
      return next;
    });
  return (
    <>
      <PageHeader title="Refusals" intro="Every request this instance refused, newest first, with why and what fixes it: grouped by reason and application, or one row per request." />
      <form
        class="toolbar card"
        aria-label="Filter refusals"
        onSubmit={(e) => {
          e.preventDefault();
          setFilter({ reason, endpoint });
        }}
      >
        <TextField label="Reason" name="reason" value={reason} onInput={setReason} placeholder="e.g. token.revoked" />
        <TextField label="Endpoint" name="endpoint" value={endpoint} onInput={setEndpoint} placeholder="e.g. /oauth_token.do or api" />
        <SelectField
          label="View"
          name="view"
          value={view}
          onChange={(v) => setView(v === 'requests' ? 'requests' : 'grouped')}
          options={[
            ['grouped', 'Grouped by reason and application'],
            ['requests', 'Every request'],
          ]}
        />
        <button type="submit">Apply filters</button>
        <Checkbox label="Live (refresh every 2 s)" checked={live} onChange={setLive} />
      </form>
      {client === '' ? null : (
        <p class="muted">
          Showing the refusals of <code>{client}</code>. <a href="#/refusals">Show all</a>
        </p>
      )}
      {view === 'grouped' ? <Loading loaded={groups} /> : <Loading loaded={refusals} />}
      {view === 'grouped' ? groups.data === undefined ? null : <GroupedRefusals data={groups.data} open={open} toggle={toggle} /> : refusals.data === undefined ? null : rows.length === 0 ? (
        <Empty>No refusals match.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="refusals">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Endpoint</th>
                <th scope="col">Status</th>
                <th scope="col">Reason</th>
                <th scope="col">Application</th>
                <th scope="col">User</th>
                <th scope="col">
                  <span class="sr-only">Details</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => {
                const expanded = open.has(r.requestId);
                const detailId = `refusal-${r.requestId}`;
                return (
                  <Fragment key={r.requestId}>
                    <tr class={expanded ? 'expanded' : ''} data-reason={r.reason}>
                      <td>{fmtTime(r.at)}</td>
                      <td>
                        <code class="word">{r.endpoint}</code>
                      </td>
                      <td>{r.status}</td>
                      <td>
                        <code class="word">{r.reason}</code>
                      </td>
                      <td class="wrap-anywhere">{r.applicationName ?? r.clientId ?? <span class="muted">—</span>}</td>
                      <td class="wrap-anywhere">{r.userName ?? <span class="muted">—</span>}</td>
                      <td class="actions-cell">
                        <button type="button" class="small" aria-expanded={expanded} aria-controls={detailId} onClick={() => toggle(r.requestId)}>
                          {expanded ? 'Hide' : 'Explain'}
                          <span class="sr-only"> refusal {r.reason}</span>
                        </button>
                      </td>
                    </tr>
                    {expanded ? (
                      <tr class="detail-row">
                        <td colSpan={7} id={detailId}>
                          <div class="refusal-detail">
                            <p>
                              <strong>What happened:</strong> {r.explanation ?? r.description}
                            </p>
                            {r.description === '' || r.description === r.explanation ? null : (
                              <p>
                                <strong>Told the caller:</strong> {r.description}
                              </p>
                            )}
                            {r.fix === undefined || r.fix === null ? null : (
                              <p>
                                <strong>Fix:</strong> {r.fix}
                              </p>
                            )}
                            {r.hint === undefined || r.hint === null || r.hint === '' ? null : (
                              <p>
                                <strong>Hint:</strong> {r.hint}
                              </p>
                            )}
                            {r.token === undefined || r.token === null ? null : (
                              <p>
                                <strong>Token:</strong> <a href={`#/tokens?active=false&handle=${encodeURIComponent(r.token)}`}><code class="handle">{r.token}</code></a>
                              </p>
                            )}
                            {r.setting === undefined || r.setting === null ? null : (
                              <p>
                                <strong>Setting:</strong> {r.link === undefined || r.link === null ? <code>{r.setting}</code> : <a href={r.link}>{r.setting}</a>}
                              </p>
                            )}
                            <RefusalFacts requestId={r.requestId} staticFix={r.fix} />
                            <p class="muted small-text">
                              Request id <code>{r.requestId}</code>
                              {r.remoteAddress === undefined || r.remoteAddress === null ? '' : ` · from ${r.remoteAddress}`} · error <code>{r.error}</code>
                            </p>
                          </div>
                        </td>
                      </tr>
                    ) : null}
                  </Fragment>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
