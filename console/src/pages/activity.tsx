import { useState } from 'preact/hooks';
import { get, type Activity } from '../api';
import { BarChart, utcDateTime } from '../chart';
import { Empty, Loading, PageHeader, SelectField, fmtTime, useLoad } from '../ui';

const W = 520;

function ReasonChart(props: { rows: readonly { reason: string; count: number }[] }) {
  const rows = [...props.rows].sort((a, b) => b.count - a.count).slice(0, 12);
  const max = Math.max(1, ...rows.map((r) => r.count));
  // The reason code above its bar, full width: codes are long (client_auth.secret_mismatch) and
  // must never be clipped.
  const rowH = 40;
  const h = rows.length * rowH + 4;
  return (
    <section class="card chart-card" aria-labelledby="by-reason-title">
      <div class="chart-head">
        <h2 id="by-reason-title">Refusals by reason</h2>
      </div>
      {rows.length === 0 ? (
        <Empty>No refusals in this period.</Empty>
      ) : (
        <svg viewBox={`0 0 ${W} ${h}`} class="chart bars" role="img" aria-label={`Refusals by reason: ${rows.map((r) => `${r.reason} ${r.count}`).join(', ')}`}>
          {rows.map((r, i) => {
            const bw = ((W - 40) * r.count) / max;
            return (
              <g key={r.reason}>
                <text class="bar-label" x={0} y={i * rowH + 14}>
                  {r.reason}
                </text>
                <rect class="bar" x={0} y={i * rowH + 20} width={Math.max(2, bw)} height={14} rx={3} />
                <text class="bar-value" x={Math.max(2, bw) + 6} y={i * rowH + 32}>
                  {r.count}
                </text>
              </g>
            );
          })}
        </svg>
      )}
    </section>
  );
}

/**
 * Refusals of callers that did not authenticate, past latchkey.refusals.anonymous_per_minute in
 * their minute: only counted (by endpoint, reason and source), so a flood cannot fill the disk.
 */
function Unrecorded(props: { data: Activity['unrecorded'] }) {
  const d = props.data;
  if (d === undefined || d.total === 0) return null;
  return (
    <section class="card unrecorded" aria-labelledby="unrecorded-title">
      <h2 id="unrecorded-title">Unrecorded refusals</h2>
      <p class="muted">
        {d.total} refusals of callers that did not authenticate arrived past the per-minute budget (property <a href="#/properties/latchkey.refusals.anonymous_per_minute">latchkey.refusals.anonymous_per_minute</a>): they were counted, not recorded one by one, so <code>latchkey explain</code> does not find them. Refusals of authenticated callers are always recorded.
      </p>
      <table>
        <thead>
          <tr>
            <th scope="col">Endpoint</th>
            <th scope="col">Reason</th>
            <th scope="col">Source</th>
            <th scope="col">Count</th>
            <th scope="col">Last seen</th>
          </tr>
        </thead>
        <tbody>
          {d.top.map((u) => (
            <tr key={`${u.endpoint}|${u.reason}|${u.source}`}>
              <td>{u.endpoint}</td>
              <td>
                <code>{u.reason}</code>
              </td>
              <td>{u.source}</td>
              <td>{u.count}</td>
              <td>{fmtTime(u.lastMinute)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** The periods of GET /activity?period= (src/admin/routes/activity-period.ts); auto fits the data. */
const PERIODS: readonly (readonly [string, string])[] = [
  ['auto', 'Fit to the data'],
  ['1h', 'Last hour, by minute'],
  ['6h', 'Last 6 hours, by 5 minutes'],
  ['24h', 'Last 24 hours, by 15 minutes'],
  ['7d', 'Last 7 days, by 6 hours'],
  ['30d', 'Last 30 days, by day'],
];

export function ActivityPage() {
  const [period, setPeriod] = useState('auto');
  const activity = useLoad(() => get<Activity>(`/activity?period=${period}`), [period]);
  const a = activity.data;
  return (
    <>
      <PageHeader
        title="Activity"
        intro="Tokens issued, API calls and refusals over time, counted by every instance."
        actions={
          <>
            <SelectField label="Period" value={period} onChange={setPeriod} options={PERIODS} />
            <button type="button" onClick={activity.reload}>
              Refresh
            </button>
          </>
        }
      />
      <Loading loaded={activity} />
      {a === undefined ? null : (
        <>
          <p class="muted" data-testid="activity-period">
            Showing <strong>{(a.periodLabel ?? '').toLowerCase()}</strong>
            {a.auto === true ? ', the shortest period that shows everything counted in the last 30 days' : ''} ({utcDateTime(a.since ?? 0)} to {utcDateTime(a.until ?? 0)}).
          </p>
          <div class="charts">
            <BarChart title="Tokens issued" id="chart-tokens" cls="c-tokens" unit="tokens issued" points={a.series.tokenIssued} bucketMs={a.bucketMs} />
            <BarChart title="API calls" id="chart-api" cls="c-api" unit="API calls" points={a.series.apiCalls} bucketMs={a.bucketMs} />
            <BarChart title="Refusals" id="chart-refusals" cls="c-refusals" unit="refusals" points={a.series.refusals} bucketMs={a.bucketMs} />
            <ReasonChart rows={a.refusalsByReason} />
            <Unrecorded data={a.unrecorded} />
          </div>
        </>
      )}
    </>
  );
}
