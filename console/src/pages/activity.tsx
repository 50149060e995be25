import { useState } from 'preact/hooks';
import { get, type Activity } from '../api';
import { Empty, Loading, PageHeader, SelectField, useLoad } from '../ui';

type Point = readonly [number, number];

const W = 520;
const H = 170;
const PAD = { l: 36, r: 10, t: 10, b: 24 };

function niceMax(n: number): number {
  if (n <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

const hhmm = (t: number | string) => new Date(t).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

/** Fills the buckets with no entry with zero, so the chart shows quiet minutes as quiet. */
function fill(points: readonly Point[], since: number, until: number, bucketMs: number): Point[] {
  const step = Math.max(bucketMs, Math.ceil((until - since) / 120 / bucketMs) * bucketMs);
  const start = Math.floor(since / step) * step;
  const sums = new Map<number, number>();
  for (const [t, n] of points) {
    const b = Math.floor(t / step) * step;
    sums.set(b, (sums.get(b) ?? 0) + n);
  }
  const out: Point[] = [];
  for (let t = start; t <= until; t += step) out.push([t, sums.get(t) ?? 0]);
  return out;
}

function TimeChart(props: { title: string; id: string; points: readonly Point[]; cls: string; since: number; until: number; bucketMs: number }) {
  const data = fill(props.points, props.since, props.until, props.bucketMs);
  const total = props.points.reduce((s, [, n]) => s + n, 0);
  const max = niceMax(Math.max(0, ...data.map(([, n]) => n)));
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const x = (i: number) => PAD.l + (data.length <= 1 ? 0 : (i / (data.length - 1)) * iw);
  const y = (n: number) => PAD.t + ih - (n / max) * ih;
  const line = data.map(([, n], i) => `${i === 0 ? 'M' : 'L'}${x(i).toFixed(1)},${y(n).toFixed(1)}`).join(' ');
  const area = `${line} L${x(data.length - 1).toFixed(1)},${(PAD.t + ih).toFixed(1)} L${x(0).toFixed(1)},${(PAD.t + ih).toFixed(1)} Z`;
  const ticks = [0, max / 2, max];
  const xTicks = data.length < 2 ? [] : [0, Math.floor((data.length - 1) / 2), data.length - 1];
  return (
    <section class="card chart-card" aria-labelledby={`${props.id}-title`}>
      <div class="chart-head">
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        <span class="chart-total" data-testid={`${props.id}-total`}>
          {total} in total
        </span>
      </div>
      <svg viewBox={`0 0 ${W} ${H}`} class={`chart ${props.cls}`} role="img" aria-label={`${props.title}: ${total} in total, at most ${Math.max(0, ...data.map(([, n]) => n))} in one interval`}>
        {ticks.map((t) => (
          <g key={t}>
            <line class="grid" x1={PAD.l} x2={W - PAD.r} y1={y(t)} y2={y(t)} />
            <text class="axis" x={PAD.l - 6} y={y(t) + 4} text-anchor="end">
              {Number.isInteger(t) ? t : t.toFixed(1)}
            </text>
          </g>
        ))}
        {xTicks.map((i) => (
          <text key={i} class="axis" x={x(i)} y={H - 6} text-anchor={i === 0 ? 'start' : i === data.length - 1 ? 'end' : 'middle'}>
            {hhmm(data[i]![0])}
          </text>
        ))}
        <path class="area" d={area} />
        <path class="line" d={line} />
      </svg>
    </section>
  );
}

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
    <section class="card" aria-labelledby="unrecorded-title">
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
              <td>{hhmm(u.lastMinute)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

export function ActivityPage() {
  const [hours, setHours] = useState('24');
  const activity = useLoad(async () => ({ at: Date.now(), data: await get<Activity>(`/activity?hours=${hours}`) }), [hours]);
  const a = activity.data;
  const until = a?.at ?? Date.now();
  const since = until - Number(hours) * 3600_000;
  return (
    <>
      <PageHeader
        title="Activity"
        intro="Tokens issued, API calls and refusals over time, counted per minute by every instance."
        actions={
          <>
            <SelectField
              label="Period"
              value={hours}
              onChange={setHours}
              options={[
                ['1', 'Last hour'],
                ['6', 'Last 6 hours'],
                ['24', 'Last 24 hours'],
                ['168', 'Last 7 days'],
              ]}
            />
            <button type="button" onClick={activity.reload}>
              Refresh
            </button>
          </>
        }
      />
      <Loading loaded={activity} />
      {a === undefined ? null : (
        <div class="charts">
          <TimeChart title="Tokens issued" id="chart-tokens" cls="c-tokens" points={a.data.series.tokenIssued} since={since} until={until} bucketMs={a.data.bucketMs} />
          <TimeChart title="API calls" id="chart-api" cls="c-api" points={a.data.series.apiCalls} since={since} until={until} bucketMs={a.data.bucketMs} />
          <TimeChart title="Refusals" id="chart-refusals" cls="c-refusals" points={a.data.series.refusals} since={since} until={until} bucketMs={a.data.bucketMs} />
          <ReasonChart rows={a.data.refusalsByReason} />
          <Unrecorded data={a.data.unrecorded} />
        </div>
      )}
    </>
  );
}
