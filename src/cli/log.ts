import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

/**
 * The server's logger: pino, with the level as its name (`"level":"warn"`, not 40) and the time
 * as ISO 8601 text in UTC (core/timestamps.ts: the admin API's and the CLI's format), so a line
 * reads the same to a person and to a log shipper. On a terminal (or LATCHKEY_LOG_FORMAT=pretty)
 * each line is written for a person instead: `12:00:01.234 INFO  latchkey started address=…`.
 *
 * The pretty form is a small synchronous formatter on the same stream rather than pino-pretty:
 * no dependency (pino-pretty brings a dozen), no worker thread, and the escaping of what a
 * client sent is ours (a user name at sign-in may hold terminal escape sequences).
 */
export function createServerLogger(options: { readonly level: string; readonly format: 'json' | 'pretty' | undefined; readonly stdout?: NodeJS.WriteStream | { isTTY?: boolean; write(s: string): unknown } }): PinoLogger {
  const stdout = options.stdout ?? process.stdout;
  const pretty = options.format === 'pretty' || (options.format === undefined && stdout.isTTY === true);
  const settings = {
    level: options.level,
    base: { service: 'latchkey' },
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (!pretty) return options.stdout === undefined ? pino(settings) : pino(settings, { write: (line: string) => void stdout.write(line) });
  return pino(settings, prettyStream(stdout, stdout.isTTY === true));
}

const COLOURS: Readonly<Record<string, string>> = { fatal: '\x1b[35m', error: '\x1b[31m', warn: '\x1b[33m', info: '\x1b[32m', debug: '\x1b[36m', trace: '\x1b[90m' };
const QUIET = new Set(['level', 'time', 'msg', 'service', 'pid', 'hostname']);

/** Text for a terminal: control characters (C0, DEL, C1) written as \u escapes, never sent raw. */
function safe(text: string): string {
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function value(v: unknown): string {
  // Plain printable words as they are; anything else quoted (JSON escapes C0 controls, safe() the rest).
  if (typeof v === 'string') return /^[\x21\x23-\x3c\x3e-\x7e]+$/.test(v) ? v : safe(JSON.stringify(v));
  return safe(JSON.stringify(v) ?? String(v));
}

/** One line of pino's JSON, for a person: time (local, to the ms), level, message, the other fields as key=value. */
export function prettyLine(json: string, colour = false): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return safe(json.trimEnd()) + '\n';
  }
  const at = typeof entry.time === 'string' ? new Date(entry.time) : new Date();
  const time = `${String(at.getHours()).padStart(2, '0')}:${String(at.getMinutes()).padStart(2, '0')}:${String(at.getSeconds()).padStart(2, '0')}.${String(at.getMilliseconds()).padStart(3, '0')}`;
  const level = String(entry.level ?? 'info');
  const tag = level.toUpperCase().padEnd(5);
  const fields = Object.entries(entry)
    .filter(([k]) => !QUIET.has(k))
    .map(([k, v]) => `${safe(k)}=${value(v)}`);
  const head = colour ? `${COLOURS[level] ?? ''}${tag}\x1b[0m` : tag;
  return `${time} ${head} ${safe(String(entry.msg ?? ''))}${fields.length === 0 ? '' : ` ${fields.join(' ')}`}\n`;
}

function prettyStream(stdout: { write(s: string): unknown }, colour: boolean): DestinationStream {
  return { write: (line: string) => void stdout.write(prettyLine(line, colour)) };
}
