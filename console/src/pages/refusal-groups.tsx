import { Fragment } from 'preact';
import type { RefusalGroup, RefusalGroups } from '../api';
import { Badge, Empty, fmtTime } from '../ui';
import { RefusalFacts } from '../facts';

/**
 * Refusals grouped by reason and client (GET /refusals/groups): one row per group with its count
 * and when it was first and last seen; expanding it shows what the reason means, what fixes it,
 * and its latest requests (the Every request view lists them all).
 */

const COLUMNS = 6;

function who(g: RefusalGroup) {
  if (g.clientId === null) return <span class="muted">no client</span>;
  return (
    <>
      {g.applicationName ?? <span class="muted">unknown client</span>}
      <br />
      <code class="id" title={g.clientId}>
        {g.clientId}
      </code>
    </>
  );
}

function GroupDetail(props: { group: RefusalGroup; id: string }) {
  const g = props.group;
  const latest = g.requests[0];
  const all = `#/refusals?view=requests&reason=${encodeURIComponent(g.reason)}${g.clientId === null ? '' : `&client=${encodeURIComponent(g.clientId)}`}`;
  return (
    <tr class="detail-row">
      <td colSpan={COLUMNS} id={props.id}>
        <div class="refusal-detail">
          <p>
            <strong>What happened:</strong> {g.explanation ?? latest?.description}
          </p>
          {latest === undefined || latest.description === '' || latest.description === g.explanation ? null : (
            <p>
              <strong>Told the caller:</strong> {latest.description}
            </p>
          )}
          {g.fix === null ? null : (
            <p>
              <strong>Fix:</strong> {g.fix}
            </p>
          )}
          {g.setting === null ? null : (
            <p>
              <strong>Setting:</strong> {g.link === null ? <code>{g.setting}</code> : <a href={g.link}>{g.setting}</a>}
            </p>
          )}
          {latest === undefined ? null : (
            <>
              <h3>The latest request explained</h3>
              <RefusalFacts requestId={latest.requestId} staticFix={g.fix} />
            </>
          )}
          <p class="muted small-text">
            Endpoints {g.endpoints.join(', ')} · status {g.statuses.join(', ')} · {g.sources} source address{g.sources === 1 ? '' : 'es'}
            {g.users.length === 0 ? '' : ` · users ${g.users.join(', ')}`}
          </p>
          <h3>
            Latest {g.requests.length} of {g.count} request{g.count === 1 ? '' : 's'}
          </h3>
          <table class="requests">
            <thead>
              <tr>
                <th scope="col">When</th>
                <th scope="col">Endpoint</th>
                <th scope="col">User</th>
                <th scope="col">Source</th>
                <th scope="col">Request id</th>
              </tr>
            </thead>
            <tbody>
              {g.requests.map((r) => (
                <tr key={r.requestId} data-request-id={r.requestId}>
                  <td>{fmtTime(r.at)}</td>
                  <td>
                    <code class="word">{r.endpoint}</code> {r.status}
                  </td>
                  <td class="wrap-anywhere">{r.userName ?? <span class="muted">—</span>}</td>
                  <td>{r.remoteAddress ?? <span class="muted">—</span>}</td>
                  <td>
                    <code class="id">{r.requestId}</code>
                    {r.hint === undefined || r.hint === null || r.hint === '' ? null : <div class="muted small-text">{r.hint}</div>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {g.count > g.requests.length ? (
            <p>
              <a href={all}>All {g.count} requests of this group</a>
            </p>
          ) : null}
        </div>
      </td>
    </tr>
  );
}

export function GroupedRefusals(props: { data: RefusalGroups; open: ReadonlySet<string>; toggle: (key: string) => void }) {
  const { groups } = props.data;
  if (groups.length === 0) return <Empty>No refusals match.</Empty>;
  return (
    <>
      <p class="muted">
        {groups.reduce((n, g) => n + g.count, 0)} refusals in {groups.length} group{groups.length === 1 ? '' : 's'} of the same reason and client
        {props.data.complete ? '' : ` (the ${props.data.scanned} most recent refusals)`}.
      </p>
      <div class="table-wrap">
        <table class="refusal-groups">
          <thead>
            <tr>
              <th scope="col">Reason</th>
              <th scope="col">Application</th>
              <th scope="col">Refusals</th>
              <th scope="col">First seen</th>
              <th scope="col">Last seen</th>
              <th scope="col">
                <span class="sr-only">Details</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {groups.map((g, i) => {
              const expanded = props.open.has(g.key);
              const detailId = `group-${i}`;
              return (
                <Fragment key={g.key}>
                  <tr class={expanded ? 'group-row expanded' : 'group-row'} data-group-reason={g.reason} data-client={g.clientId ?? ''}>
                    <td>
                      <code class="word">{g.reason}</code>
                    </td>
                    <td>{who(g)}</td>
                    <td>
                      <Badge kind={g.count > 1 ? 'warn' : 'muted'}>{g.count}</Badge>
                    </td>
                    <td>{fmtTime(g.firstAt)}</td>
                    <td>{fmtTime(g.lastAt)}</td>
                    <td class="actions-cell">
                      <button type="button" class="small" aria-expanded={expanded} aria-controls={detailId} onClick={() => props.toggle(g.key)}>
                        {expanded ? 'Hide' : 'Show requests'}
                        <span class="sr-only">
                          {' '}
                          of {g.reason} {g.clientId ?? 'without a client'}
                        </span>
                      </button>
                    </td>
                  </tr>
                  {expanded ? <GroupDetail group={g} id={detailId} /> : null}
                </Fragment>
              );
            })}
          </tbody>
        </table>
      </div>
    </>
  );
}
