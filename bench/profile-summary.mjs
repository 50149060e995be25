#!/usr/bin/env node
// Summarizes a V8 CPU profile (node --cpu-prof): self time by function and by category. See --help.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const HELP = `Usage: node bench/profile-summary.mjs <file.cpuprofile> [--top N] [--markdown] [--json]

Prints the self time of a V8 CPU profile (node --cpu-prof, or a .cpuprofile saved from DevTools)
two ways:
  * by category: node:http (the JavaScript HTTP layer), llhttp (the native parser), sockets
    (net, streams, libuv writes), SQLite (better-sqlite3), pg (node-postgres), crypto, JSON,
    GC, Latchkey src/<folder> (one row per top folder of src/), other dependencies, other
    Node.js internals, (program) (native code V8 does not attribute) and (idle);
  * by function: the top N functions (default 25) with their file and line.
Percentages are of the busy time (everything but idle); the header gives the profile's span.
V8 records no frame of its own for most native addon methods (better-sqlite3's run/get/all), so
their time is charged to the JavaScript function that calls them: SQLite work done by Latchkey
shows under Latchkey src/storage, not under SQLite (which then holds the wrappers: exec, the
transaction function).

Options:
  --top N       functions to list (default 25)
  --markdown    GitHub tables instead of aligned text
  --json        one JSON object {spanMs, busyMs, idleMs, categories, functions} instead of tables
  --help        this text`;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, markdown: { type: 'boolean', default: false }, json: { type: 'boolean', default: false }, help: { type: 'boolean', default: false } },
});
if (values.help) {
  process.stdout.write(HELP + '\n');
  process.exit(0);
}
const file = positionals[0];
const top = Number(values.top);
if (file === undefined || !Number.isSafeInteger(top) || top < 0) {
  process.stderr.write(`profile-summary: ${file === undefined ? 'a .cpuprofile file is required' : '--top must be a whole number'}\n\n${HELP}\n`);
  process.exit(2);
}
let profile;
try {
  profile = JSON.parse(readFileSync(file, 'utf8'));
} catch (error) {
  process.stderr.write(`profile-summary: cannot read ${file}: ${error.message}\n`);
  process.exit(1);
}
if (!Array.isArray(profile.nodes) || !Array.isArray(profile.samples) || !Array.isArray(profile.timeDeltas)) {
  process.stderr.write(`profile-summary: ${file} is not a V8 CPU profile (no nodes, samples, timeDeltas)\n`);
  process.exit(1);
}

// Self time per node: each sample is charged the interval up to the next sample (the last one the
// mean interval), in microseconds.
const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
const selfUs = new Map();
const { samples, timeDeltas } = profile;
const spanUs = (profile.endTime ?? 0) - (profile.startTime ?? 0);
const meanUs = samples.length > 0 ? spanUs / samples.length : 0;
for (let i = 0; i < samples.length; i += 1) {
  const dt = i + 1 < timeDeltas.length ? timeDeltas[i + 1] : meanUs;
  selfUs.set(samples[i], (selfUs.get(samples[i]) ?? 0) + Math.max(0, dt));
}

const SQLITE_NATIVE = new Set(['run', 'get', 'all', 'iterate', 'exec', 'prepare', 'pragma', 'transaction', 'step', 'pluck', 'raw', 'bind', 'columns']);
const CRYPTO_NATIVE = new Set(['hash', 'digest', 'update', 'randomFillSync', 'randomBytes', 'timingSafeEqual', 'pbkdf2Sync', 'scryptSync', 'sign', 'verify', 'oneShotDigest', 'Hash', 'Hmac']);
const SOCKET_NATIVE = new Set(['writev', 'writeBuffer', 'writeUtf8String', 'writeLatin1String', 'writeAsciiString', 'onStreamRead', 'shutdown', 'close', 'readStart', 'readStop']);
const LLHTTP_NATIVE = new Set(['execute', 'finish', 'initialize', 'consume', 'unconsume', 'getCurrentBuffer']);

/** The category of one call frame. */
function categorize(frame) {
  const name = frame.functionName ?? '';
  const url = frame.url ?? '';
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return '(idle)';
  if (name === '(program)' || name === '(root)') return '(program)';
  const src = /\/(?:dist\/)?src\/([^/]+)(\/)?/.exec(url);
  if (src !== null && !url.includes('/node_modules/')) return src[2] === undefined ? 'Latchkey src (top level)' : `Latchkey src/${src[1]}`;
  if (/node_modules\/better-sqlite3\//.test(url)) return 'SQLite';
  if (/node_modules\/(pg|pg-protocol|pg-pool|pg-types|pg-connection-string|postgres-[a-z]+)\//.test(url)) return 'pg';
  if (url.includes('/node_modules/')) return 'other dependencies';
  if (/^node:(_http_|http$|https$|internal\/http)/.test(url)) return 'node:http';
  if (/^node:(net|stream|dgram|tls|_tls|internal\/(streams|stream_base_commons|net|js_stream_socket|tls|dns))/.test(url)) return 'sockets';
  if (/^node:(crypto|internal\/crypto)/.test(url)) return 'crypto';
  if (url === '') {
    if (name === 'stringify' || name === 'parse' || name.startsWith('JSON')) return 'JSON';
    if (SQLITE_NATIVE.has(name)) return 'SQLite';
    if (CRYPTO_NATIVE.has(name)) return 'crypto';
    if (SOCKET_NATIVE.has(name)) return 'sockets';
    if (LLHTTP_NATIVE.has(name) || /HTTPParser|llhttp/.test(name)) return 'llhttp';
    return 'other native';
  }
  if (url.startsWith('node:')) return 'other Node.js internals';
  // Latchkey files outside src/ (bin/, bench/, test/), and anything else.
  return 'other';
}

/** A short location: the path from dist/, node_modules/ or the repository, and the 1-based line. */
function location(frame) {
  const url = (frame.url ?? '').replace(/^file:\/\//, '');
  if (url === '') return '(native)';
  const short = url.includes('/node_modules/') ? url.slice(url.lastIndexOf('/node_modules/') + 1) : url.includes('/dist/') ? url.slice(url.indexOf('/dist/') + 1) : url.replace(/^.*\/(bin|bench|src|test)\//, '$1/');
  return `${short}:${(frame.lineNumber ?? -1) + 1}`;
}

let idleUs = 0;
const byCategory = new Map();
const byFunction = new Map();
for (const [id, us] of selfUs) {
  const node = nodes.get(id);
  if (node === undefined) continue;
  const frame = node.callFrame ?? {};
  const category = categorize(frame);
  if (category === '(idle)') idleUs += us;
  byCategory.set(category, (byCategory.get(category) ?? 0) + us);
  if (category === '(idle)') continue;
  const key = `${frame.functionName || '(anonymous)'}\u0000${location(frame)}`;
  const f = byFunction.get(key) ?? { name: frame.functionName || '(anonymous)', where: location(frame), category, us: 0 };
  f.us += us;
  byFunction.set(key, f);
}
const totalUs = [...selfUs.values()].reduce((s, v) => s + v, 0);
const busyUs = totalUs - idleUs;
const ms = (us) => us / 1000;
const pct = (us) => (busyUs > 0 ? (100 * us) / busyUs : 0);
const categories = [...byCategory].filter(([c]) => c !== '(idle)').sort((a, b) => b[1] - a[1]).map(([category, us]) => ({ category, ms: ms(us), percent: pct(us) }));
const functions = [...byFunction.values()].sort((a, b) => b.us - a.us).slice(0, top).map((f) => ({ function: f.name, where: f.where, category: f.category, ms: ms(f.us), percent: pct(f.us) }));

if (values.json) {
  process.stdout.write(JSON.stringify({ spanMs: ms(spanUs), busyMs: ms(busyUs), idleMs: ms(idleUs), categories, functions }) + '\n');
  process.exit(0);
}

const fmtMs = (v) => v.toFixed(1);
const fmtPct = (v) => `${v.toFixed(1)} %`;
function table(headers, rows, align) {
  if (values.markdown) {
    const esc = (s) => String(s).replaceAll('|', '\\|');
    return [`| ${headers.join(' | ')} |`, `|${align.map((a) => (a === 'r' ? '--:' : ':--')).join('|')}|`, ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`)].join('\n');
  }
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (r) => r.map((c, i) => (align[i] === 'r' ? String(c).padStart(widths[i]) : String(c).padEnd(widths[i]))).join('  ').trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const out = [];
out.push(`${values.markdown ? '**Profile**' : 'Profile'} ${file}: span ${fmtMs(ms(spanUs))} ms, busy ${fmtMs(ms(busyUs))} ms, idle ${fmtMs(ms(idleUs))} ms, ${samples.length} samples`);
out.push('');
out.push(values.markdown ? '**Self time by category**' : 'Self time by category');
out.push('');
out.push(table(['category', 'self ms', '% of busy'], categories.map((c) => [c.category, fmtMs(c.ms), fmtPct(c.percent)]), ['l', 'r', 'r']));
out.push('');
out.push(values.markdown ? `**Top ${functions.length} functions by self time**` : `Top ${functions.length} functions by self time`);
out.push('');
out.push(table(['function', 'where', 'category', 'self ms', '% of busy'], functions.map((f) => [f.function, f.where, f.category, fmtMs(f.ms), fmtPct(f.percent)]), ['l', 'l', 'l', 'r', 'r']));
process.stdout.write(out.join('\n') + '\n');
