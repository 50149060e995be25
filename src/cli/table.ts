import { isoTimestamp } from '../core/timestamps.js';

/**
 * Plain-text tables for terminals: column widths from the content, narrowed to fit the terminal's
 * width, long cells wrapped onto more lines (never clipped: a note or a fix is read in full). No
 * colours, so output pastes cleanly into tickets.
 */

export interface TableOptions {
  /** Columns never wrapped (identifiers an operator copies: a token handle, a client id). */
  readonly whole?: readonly number[];
}

/** Between two columns. */
const GAP = 2;
/** The narrowest a wrapped column gets (its header may be wider: a header is never wrapped). */
const MIN_COLUMN = 8;

/**
 * The width tables fit: COLUMNS when set (scripts and tests choose it), else the terminal's, else
 * 80 (output to a pipe or a file).
 */
export function terminalWidth(env: NodeJS.ProcessEnv = process.env, stdout: { isTTY?: boolean; columns?: number } = process.stdout): number {
  const fromEnv = Number(env.COLUMNS);
  if (Number.isInteger(fromEnv) && fromEnv >= 20) return fromEnv;
  if (stdout.isTTY === true && typeof stdout.columns === 'number' && stdout.columns >= 20) return stdout.columns;
  return 80;
}

/**
 * Renders a table of `headers` and `rows` at most `width` characters wide (default: the
 * terminal's). Columns that fit keep their width; the others share what is left and wrap.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly unknown[])[], width = terminalWidth(), options: TableOptions = {}): string {
  const cells = rows.map((r) => headers.map((_, i) => formatCell(r[i])));
  const natural = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const longestWord = headers.map((_, i) => Math.max(0, ...cells.map((r) => longestWordOf(r[i] ?? ''))));
  const whole = new Set(options.whole ?? []);
  const widths = fitColumns(headers, natural, longestWord, width, whole);
  const line = (values: readonly string[]) => values.map((v, i) => v.padEnd(widths[i] ?? 0)).join(' '.repeat(GAP)).trimEnd();
  const out = [line(headers), line(widths.map((w) => '-'.repeat(w)))];
  for (const row of cells) {
    const wrapped = row.map((cell, i) => wrap(cell, widths[i] ?? cell.length));
    const height = Math.max(...wrapped.map((w) => w.length));
    for (let k = 0; k < height; k++) out.push(line(wrapped.map((w) => w[k] ?? '')));
  }
  if (rows.length === 0) out.push('(none)');
  return out.join('\n') + '\n';
}

/**
 * Column widths that fit `width`, in three tries: every column at its natural width; else every
 * column at least as wide as its longest word (so only between words is anything wrapped), the
 * room left shared out to the columns that want more, narrowest first; else the same from a
 * floor of 8 (or the header), cutting long words. A table that cannot fit even then is wider
 * than the terminal rather than unreadable.
 */
function fitColumns(headers: readonly string[], natural: readonly number[], longestWord: readonly number[], width: number, whole: ReadonlySet<number>): number[] {
  const room = width - GAP * (natural.length - 1);
  const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);
  if (sum(natural) <= room) return [...natural];
  const byWords = natural.map((n, i) => (whole.has(i) ? n : Math.min(n, Math.max((headers[i] ?? '').length, longestWord[i] ?? 0))));
  const floors = sum(byWords) <= room ? byWords : natural.map((n, i) => (whole.has(i) ? n : Math.min(n, Math.max((headers[i] ?? '').length, MIN_COLUMN))));
  const widths = [...floors];
  // Water-filling: one character at a time to the narrowest column that is still short of its natural width.
  for (let left = room - sum(floors); left > 0; left--) {
    let pick = -1;
    for (let i = 0; i < widths.length; i++) {
      if ((widths[i] ?? 0) < (natural[i] ?? 0) && (pick === -1 || (widths[i] ?? 0) < (widths[pick] ?? 0))) pick = i;
    }
    if (pick === -1) break;
    widths[pick] = (widths[pick] ?? 0) + 1;
  }
  return widths;
}

/** The longest run without a space or a comma: the narrowest a cell wraps to without cutting a word. */
function longestWordOf(text: string): number {
  return Math.max(0, ...text.split(/[ ,]/).map((w, i, all) => w.length + (i < all.length - 1 ? 1 : 0)));
}

/**
 * Where a word may break when it must: after the separators of lists and URL paths first, then
 * after those inside names (a property name's dots, a host's dots).
 */
const SOFT_BREAKS: readonly (readonly string[])[] = [
  [',', '/', '&', '?', '='],
  ['.', '_', '-', ':'],
];

/**
 * Breaks `text` into lines of at most `width`: at spaces, else after a separator (a list's comma,
 * a URL's slash, a property name's dot); a word with neither is cut (a client id, a hash).
 */
export function wrap(text: string, width: number): string[] {
  if (text.length <= width || width < 1) return [text];
  const lines: string[] = [];
  let rest = text;
  while (rest.length > width) {
    const window = rest.slice(0, width + 1);
    let cut = window.lastIndexOf(' ');
    if (cut > 0) {
      lines.push(rest.slice(0, cut).trimEnd());
      rest = rest.slice(cut + 1).trimStart();
      continue;
    }
    const head = rest.slice(0, width);
    // The first kind of separator that leaves a third of the line or more; else any; else cut.
    const at = SOFT_BREAKS.map((tier) => Math.max(...tier.map((c) => head.lastIndexOf(c))));
    const soft = at.find((i) => i >= width / 3) ?? Math.max(...at);
    cut = soft > 0 ? soft + 1 : width;
    lines.push(rest.slice(0, cut));
    rest = rest.slice(cut);
  }
  if (rest !== '') lines.push(rest);
  return lines;
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.join(',');
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  // Cells can hold text an anonymous caller chose (a user name presented at sign-in): no control
  // character reaches the terminal, where an escape sequence could rewrite the screen.
  return String(value).replace(/[\r\n\t]/g, ' ').replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}

/** Key/value block for one record; long values wrap under themselves, within `width`. */
export function renderRecord(entries: readonly (readonly [string, unknown])[], width = terminalWidth()): string {
  const keyWidth = Math.max(...entries.map(([k]) => k.length));
  const room = Math.max(width - keyWidth - GAP, 20);
  return (
    entries
      .map(([k, v]) => wrap(formatCell(v), room).map((part, i) => `${(i === 0 ? k : '').padEnd(keyWidth)}${' '.repeat(GAP)}${part}`.trimEnd()).join('\n'))
      .join('\n') + '\n'
  );
}

/** A time for JSON and tables: ISO 8601 in UTC with milliseconds (`2026-01-31T09:30:00.123Z`), as the admin API and the logs write it. */
export function isoTime(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : isoTimestamp(ms);
}
