/**
 * Plain-text tables for terminals: column widths from the content, long cells clipped with '…'.
 * No colours, so output pastes cleanly into tickets.
 */
export function renderTable(headers: readonly string[], rows: readonly (readonly unknown[])[], maxCell = 60): string {
  const cells = rows.map((r) => headers.map((_, i) => clip(formatCell(r[i]), maxCell)));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (values: readonly string[]) => values.map((v, i) => v.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const out = [line(headers), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
  if (rows.length === 0) out.push('(none)');
  return out.join('\n') + '\n';
}

function formatCell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  if (Array.isArray(value)) return value.length === 0 ? '-' : value.join(',');
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  // Cells can hold text an anonymous caller chose (a user name presented at sign-in): no control
  // character reaches the terminal, where an escape sequence could rewrite the screen.
  return String(value).replace(/[\r\n\t]/g, ' ').replace(/[\x00-\x1f\x7f-\x9f]/g, '?');
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** Key/value block for one record. */
export function renderRecord(entries: readonly (readonly [string, unknown])[]): string {
  const width = Math.max(...entries.map(([k]) => k.length));
  return entries.map(([k, v]) => `${k.padEnd(width)}  ${formatCell(v)}`).join('\n') + '\n';
}

export function isoTime(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined ? null : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
