import { useState } from 'preact/hooks';

/**
 * A bar chart of counts over time, one bar per bucket (the admin API's /activity?period=): dated
 * axes in UTC (the buckets are UTC minutes, hours and days), the value of a bar on hover, and for
 * the keyboard the chart takes the focus and the arrow keys move from bar to bar, the value read
 * out; every non-empty bucket is also listed in a table under "Show the numbers". No inline
 * styles (the console's CSP): the tooltip is drawn inside the SVG.
 */

export type Point = readonly [number, number];

const W = 520;
const H = 196;
const PAD = { l: 40, r: 12, t: 12, b: 40 };
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

const two = (n: number) => String(n).padStart(2, '0');
/** 14:05 (UTC). */
export const utcTime = (t: number) => `${two(new Date(t).getUTCHours())}:${two(new Date(t).getUTCMinutes())}`;
/** 1 Dec (UTC). */
export const utcDay = (t: number) => `${new Date(t).getUTCDate()} ${MONTHS[new Date(t).getUTCMonth()]}`;
/** 1 Dec 2026 (UTC). */
const utcDate = (t: number) => `${utcDay(t)} ${new Date(t).getUTCFullYear()}`;
/** 1 Dec 2026 14:05 UTC. */
export const utcDateTime = (t: number) => `${utcDate(t)} ${utcTime(t)} UTC`;

/** The time range of a bucket, in words: "1 Dec 2026 14:05–14:06 UTC" or "1 Dec 2026 UTC" for a day. */
export function bucketLabel(t: number, bucketMs: number): string {
  if (bucketMs >= DAY) return `${utcDate(t)} UTC`;
  const end = t + bucketMs;
  const endText = utcDay(end) === utcDay(t) || end % DAY === 0 ? utcTime(end) : `${utcDay(end)} ${utcTime(end)}`;
  return `${utcDate(t)} ${utcTime(t)}–${endText === '00:00' ? '24:00' : endText} UTC`;
}

/** How far apart the axis labels are: the smallest step that gives at most 7 labels (a week: one a day, whatever the time of day). */
const STEPS = [10 * MINUTE, 15 * MINUTE, 30 * MINUTE, HOUR, 2 * HOUR, 3 * HOUR, 4 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 5 * DAY, 7 * DAY];
function tickStep(spanMs: number, bucketMs: number): number {
  return STEPS.find((s) => s >= bucketMs && spanMs / s <= 7) ?? 7 * DAY;
}

function niceMax(n: number): number {
  if (n <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(n));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= n) return m * p;
  return 10 * p;
}

export interface BarChartProps {
  readonly title: string;
  readonly id: string;
  readonly cls: string;
  /** Every bucket of the period, ascending, zeros included. */
  readonly points: readonly Point[];
  readonly bucketMs: number;
  /** What one count is, for the values: "tokens issued". */
  readonly unit: string;
}

export function BarChart(props: BarChartProps) {
  const { points, bucketMs } = props;
  const [active, setActive] = useState<number | null>(null);
  const total = points.reduce((s, [, n]) => s + n, 0);
  const peak = Math.max(0, ...points.map(([, n]) => n));
  const max = niceMax(peak);
  const iw = W - PAD.l - PAD.r;
  const ih = H - PAD.t - PAD.b;
  const start = points[0]?.[0] ?? 0;
  const end = (points[points.length - 1]?.[0] ?? start) + bucketMs;
  const x = (t: number) => PAD.l + ((t - start) / Math.max(1, end - start)) * iw;
  const y = (n: number) => PAD.t + ih - (n / max) * ih;
  const slot = iw / Math.max(1, points.length);
  const step = tickStep(end - start, bucketMs);
  const ticks: number[] = [];
  for (let t = Math.ceil(start / step) * step; t < end; t += step) ticks.push(t);
  const valueText = (i: number) => {
    const p = points[i];
    return p === undefined ? '' : `${bucketLabel(p[0], bucketMs)}: ${p[1]} ${props.unit}`;
  };
  const move = (e: KeyboardEvent) => {
    const last = points.length - 1;
    const current = active ?? last;
    const next = { ArrowLeft: current - 1, ArrowRight: current + 1, Home: 0, End: last }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    setActive(Math.max(0, Math.min(last, next)));
  };
  const tip = active === null ? undefined : points[active];
  const summary = `${props.title}: ${total} in total, at most ${peak} in one bar of ${bucketLabelShort(bucketMs)}; times in UTC. Use the arrow keys for the value of each bar.`;
  return (
    <section class="card chart-card" aria-labelledby={`${props.id}-title`}>
      <div class="chart-head">
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        <span class="chart-total" data-testid={`${props.id}-total`}>
          {total} in total
        </span>
      </div>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        class={`chart timeline ${props.cls}`}
        role="img"
        aria-label={summary}
        tabIndex={0}
        data-testid={props.id}
        onKeyDown={move}
        onFocus={() => setActive((a) => a ?? Math.max(0, points.length - 1))}
        onBlur={() => setActive(null)}
        onMouseLeave={() => setActive(null)}
      >
        {[0, max / 2, max].map((t) => (
          <g key={t}>
            <line class="grid" x1={PAD.l} x2={W - PAD.r} y1={y(t)} y2={y(t)} />
            <text class="axis" x={PAD.l - 6} y={y(t) + 4} text-anchor="end">
              {Number.isInteger(t) ? t : t.toFixed(1)}
            </text>
          </g>
        ))}
        <line class="baseline" x1={PAD.l} x2={W - PAD.r} y1={PAD.t + ih} y2={PAD.t + ih} />
        {ticks.map((t, i) => {
          const newDay = i === 0 || utcDay(t) !== utcDay(ticks[i - 1] as number);
          return (
            <g key={t} class="x-tick">
              <line class="tick" x1={x(t)} x2={x(t)} y1={PAD.t + ih} y2={PAD.t + ih + 4} />
              <text class="axis x-label" x={x(t)} y={PAD.t + ih + 16} text-anchor="middle">
                {step >= DAY ? utcDay(t) : utcTime(t)}
              </text>
              {step < DAY && newDay ? (
                <text class="axis x-date" x={x(t)} y={PAD.t + ih + 30} text-anchor="middle">
                  {utcDay(t)}
                </text>
              ) : null}
            </g>
          );
        })}
        {points.map(([t, n], i) => (
          <rect key={t} class={active === i ? 'bar active' : 'bar'} x={x(t) + slot * 0.1} y={y(n)} width={Math.max(1, slot * 0.8)} height={Math.max(0, PAD.t + ih - y(n))} />
        ))}
        {/* Full-height targets, so a bar of 0 or 1 can be hovered too. */}
        {points.map(([t], i) => (
          <rect key={`hit-${t}`} class="hit" data-bucket={t} x={x(t)} y={PAD.t} width={slot} height={ih} onMouseEnter={() => setActive(i)}>
            <title>{valueText(i)}</title>
          </rect>
        ))}
        {tip === undefined || active === null ? null : <Tip x={x(tip[0]) + slot / 2} lines={[bucketLabel(tip[0], bucketMs), `${tip[1]} ${props.unit}`]} id={`${props.id}-tip`} />}
      </svg>
      <p class="chart-note muted">
        Times in UTC; one bar is {bucketLabelShort(bucketMs)}.
      </p>
      <p class="sr-only" aria-live="polite">
        {active === null ? '' : valueText(active)}
      </p>
      <details class="chart-table">
        <summary>Show the numbers</summary>
        {total === 0 ? (
          <p class="muted">Nothing counted in this period.</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">When (UTC)</th>
                <th scope="col">Count</th>
              </tr>
            </thead>
            <tbody>
              {points
                .filter(([, n]) => n > 0)
                .map(([t, n]) => (
                  <tr key={t}>
                    <td>{bucketLabel(t, bucketMs)}</td>
                    <td>{n}</td>
                  </tr>
                ))}
            </tbody>
          </table>
        )}
      </details>
    </section>
  );
}

/** "15 min", "6 h", "1 day". */
export function bucketLabelShort(bucketMs: number): string {
  if (bucketMs >= DAY) return bucketMs === DAY ? '1 day' : `${bucketMs / DAY} days`;
  if (bucketMs >= HOUR) return `${bucketMs / HOUR} h`;
  return `${bucketMs / MINUTE} min`;
}

/** The hovered (or focused) bar's value, in a box above the chart area, kept inside the chart. */
function Tip(props: { x: number; lines: readonly string[]; id: string }) {
  const width = Math.max(...props.lines.map((l) => l.length)) * 6.6 + 16;
  const left = Math.min(Math.max(PAD.l, props.x - width / 2), W - PAD.r - width);
  return (
    <g class="tip" data-testid={props.id} aria-hidden="true">
      <line class="tip-line" x1={props.x} x2={props.x} y1={PAD.t} y2={H - PAD.b} />
      <rect class="tip-box" x={left} y={PAD.t} width={width} height={props.lines.length * 16 + 8} rx={4} />
      {props.lines.map((l, i) => (
        <text key={l} class={i === 0 ? 'tip-text' : 'tip-text tip-value'} x={left + 8} y={PAD.t + 16 + i * 16}>
          {l}
        </text>
      ))}
    </g>
  );
}
