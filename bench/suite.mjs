#!/usr/bin/env node
// The benchmark suite's driver (run it through bench/suite.sh, which prepares the harness and
// reads the same environment variables; `bash bench/suite.sh --help` lists them).
//
// For every target (a server + a load), round-robin for ROUNDS rounds: start the server alone
// (a fresh process pinned to SERVER_CORE), one sanity request, a warm-up (discarded), reset the
// kernel's RSS high-water mark (echo 5 > /proc/PID/clear_refs), read the counters (server CPU,
// PostgreSQL's pg_stat_database for the target's database, or SQLite's row counts and Latchkey's
// /metrics group-commit counters), measure with the load generator pinned to LOAD_CORE, read the
// counters again and VmHWM, stop the server. One JSON line per measurement goes to
// $BENCH_WORK/suite-<UTC>/results.jsonl; bench/suite-report.mjs turns the file into the generated
// sections of docs/benchmarks.md and docs/sizing.md.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const env = process.env;
const num = (k, d) => (env[k] === undefined || env[k] === '' ? d : Number(env[k]));
const cfg = {
  rounds: num('ROUNDS', 3),
  duration: num('DURATION', 10),
  warmup: num('WARMUP', 3),
  connections: num('CONNECTIONS', 50),
  flowConcurrency: num('FLOW_CONCURRENCY', 8),
  sizes: (env.SIZES || 'fresh 10m').split(/[\s,]+/).filter(Boolean),
  tokens10m: num('TOKENS_10M', 10_000_000),
  profile: (env.PROFILE ?? '1') === '1',
  profileDuration: num('PROFILE_DURATION', 5),
  only: env.ONLY ? new RegExp(env.ONLY) : undefined,
  tool: env.LOAD_TOOL || 'wrk',
  serverCore: env.SERVER_CORE || '1',
  loadCore: env.LOAD_CORE || '0',
  // PostgreSQL's processes are pinned here for the run (default: the load generator's core), so a
  // Latchkey on PostgreSQL has its core to itself as on SQLite, and the database works beside it as
  // on its own host in production. PG_CORE=none leaves them where the scheduler puts them.
  pgCore: env.PG_CORE || env.LOAD_CORE || '0',
  // Node options and memory settings of every Latchkey server: those of deploy/ (Dockerfile,
  // latchkey.service): V8's young generation at 8 MiB semi-spaces, one glibc malloc arena.
  oursNodeArgs: (env.OURS_NODE_ARGS ?? '--max-semi-space-size=8').split(/\s+/).filter(Boolean),
  oursMallocArenas: env.OURS_MALLOC_ARENA_MAX ?? '1',
  pgAdmin: env.LATCHKEY_BENCH_PG || 'postgres://postgres@127.0.0.1:5432/postgres',
  harness: env.HARNESS,
  work: env.BENCH_WORK,
  writeDocs: (env.WRITE_DOCS ?? '1') === '1',
  keepDbs: env.KEEP_DBS === '1',
};
if (!cfg.harness || !cfg.work) throw new Error('run through bench/suite.sh (HARNESS and BENCH_WORK unset)');
if (!['wrk', 'autocannon'].includes(cfg.tool)) throw new Error('LOAD_TOOL must be wrk or autocannon');
for (const s of cfg.sizes) if (!['fresh', '10m'].includes(s)) throw new Error(`SIZES: unknown size ${s} (fresh, 10m)`);
const STAMP = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');
const RUN = join(cfg.work, `suite-${STAMP}`);
mkdirSync(RUN, { recursive: true });
const RESULTS = join(RUN, 'results.jsonl');
const NO_APIS = join(RUN, 'no-apis');
mkdirSync(NO_APIS, { recursive: true });
const META = join(RUN, 'meta.json');
const log = (s) => process.stdout.write(`${s}\n`);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const PEER_DIR = join(cfg.harness, 'peer-oidc-provider');
const REDIRECT_URI = 'http://127.0.0.1:4999/callback'; // never listened on: the driver reads the code from the redirect
const USER = { userName: 'bench-user', password: 'bench-user-password-0123' };
const KEK = randomBytes(32).toString('base64url');
const basic = (id, secret) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

// ---- targets ------------------------------------------------------------------------------------
// op: the table it belongs to; role: ours | peer | floor | open (bearer route without authentication)
const T = [];
const add = (t) => T.push({ port: 4100 + T.length, ...t });
add({ id: 'floor', op: 'floor', role: 'floor', size: 'fresh', server: { kind: 'floor' }, load: 'fixed', what: 'raw node:http (harness baseline/server.mjs), token-shaped JSON' });
for (const size of ['fresh', '10m']) {
  for (const storage of ['sqlite', 'postgres']) {
    for (const format of ['opaque', 'jwt']) {
      add({ id: `ours-cc-${format}-${storage}-${size}`, op: `cc-${format}`, role: 'ours', size, storage, server: { kind: 'ours' }, load: 'fixed', format, what: `Latchkey, ${storage === 'sqlite' ? 'SQLite' : 'PostgreSQL (1 instance)'}` });
    }
  }
  // What deploy/'s memory settings (--max-semi-space-size=8, MALLOC_ARENA_MAX=1) cost and save.
  if (size === 'fresh') add({ id: 'ours-cc-opaque-sqlite-fresh-v8-defaults', op: 'cc-opaque', role: 'ours', size, storage: 'sqlite', server: { kind: 'ours', nodeArgs: [], defaults: true }, load: 'fixed', format: 'opaque', what: "Latchkey, SQLite, without deploy/'s memory settings (V8's 16 MiB semi-spaces, glibc's default malloc arenas)" });
  add({ id: `ours-introspect-${size}`, op: 'introspect', role: 'ours', size, storage: 'sqlite', server: { kind: 'ours' }, load: 'fixed', what: 'Latchkey, SQLite, opaque token' });
  add({ id: `ours-api-bearer-${size}`, op: 'api-bearer', role: 'ours', size, storage: 'sqlite', server: { kind: 'ours', apis: true }, load: 'fixed', what: 'Latchkey hosted API, valid opaque bearer token' });
  add({ id: `ours-code-flow-${size}`, op: 'code-flow', role: 'ours', size, storage: 'sqlite', server: { kind: 'ours' }, load: 'code', what: 'Latchkey, SQLite' });
  add({ id: `ours-refresh-${size}`, op: 'refresh', role: 'ours', size, storage: 'sqlite', server: { kind: 'ours' }, load: 'refresh', what: 'Latchkey, SQLite' });
}
add({ id: 'peer-cc-opaque', op: 'cc-opaque', role: 'peer', size: 'fresh', server: { kind: 'peer-cc', format: 'opaque' }, load: 'fixed', what: 'oidc-provider 9.13.3, opaque (in-memory)' });
add({ id: 'peer-cc-jwt', op: 'cc-jwt', role: 'peer', size: 'fresh', server: { kind: 'peer-cc', format: 'jwt' }, load: 'fixed', what: 'oidc-provider 9.13.3, JWT ES256' });
add({ id: 'peer-introspect', op: 'introspect', role: 'peer', size: 'fresh', server: { kind: 'peer-introspect' }, load: 'fixed', what: 'oidc-provider 9.13.3 (bench/peer-introspect.mjs, in-memory)' });
add({ id: 'open-api', op: 'api-bearer', role: 'open', size: 'fresh', storage: 'sqlite', server: { kind: 'ours', apis: true }, load: 'fixed', what: 'the same route with authentication off' });
// whoami answers with the caller, so its authenticated answer is longer; ping answers the same body
// to everyone, so its pair differs only in authentication.
add({ id: 'ours-api-ping-fresh', op: 'api-ping', role: 'ours', size: 'fresh', storage: 'sqlite', server: { kind: 'ours', apis: true }, load: 'fixed', route: 'ping', what: 'Latchkey hosted API, valid opaque bearer token' });
add({ id: 'open-api-ping', op: 'api-ping', role: 'open', size: 'fresh', storage: 'sqlite', server: { kind: 'ours', apis: true }, load: 'fixed', route: 'ping', what: 'the same route with authentication off' });
add({ id: 'peer-code-flow', op: 'code-flow', role: 'peer', size: 'fresh', server: { kind: 'peer-code' }, load: 'code', what: 'oidc-provider 9.13.3 (bench/peer-code-flow.mjs, in-memory)' });
add({ id: 'peer-refresh', op: 'refresh', role: 'peer', size: 'fresh', server: { kind: 'peer-code', refresh: true }, load: 'refresh', what: 'oidc-provider 9.13.3, rotateRefreshToken, offline_access' });

// Round-robin order: the rows of one table next to each other (ours fresh and 10m, the peer, the
// unauthenticated route), so the ratios inside a table compare measurements a minute apart at most,
// not the two ends of a round (the machine's speed drifts within a round).
const OP_ORDER = ['floor', 'cc-opaque', 'cc-jwt', 'introspect', 'api-bearer', 'api-ping', 'code-flow', 'refresh'];
T.sort((a, b) => OP_ORDER.indexOf(a.op) - OP_ORDER.indexOf(b.op) || a.port - b.port);
const targets = T.filter((t) => cfg.sizes.includes(t.size) && (cfg.only === undefined || cfg.only.test(t.id)));
if (targets.length === 0) throw new Error('no target left (SIZES / ONLY)');
const runtimeIds = new Set();

// ---- processes ----------------------------------------------------------------------------------
const children = new Set();
function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    try { child.kill(signal); } catch { /* gone */ }
  }
}
function cleanupAll() {
  for (const c of children) killGroup(c, 'SIGKILL');
}
process.on('exit', cleanupAll);
for (const s of ['SIGINT', 'SIGTERM']) process.on(s, () => { cleanupAll(); process.exit(130); });

function startProcess(name, cmd, args, { cwd = ROOT, extraEnv = {}, pin = cfg.serverCore } = {}) {
  const logFile = join(RUN, `${name}.log`);
  const out = { fd: undefined };
  const child = spawn('taskset', ['-c', pin, cmd, ...args], { cwd, env: { ...env, ...extraEnv }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks = [];
  child.stdout.on('data', (d) => { chunks.push(d); appendFileSync(logFile, d); });
  child.stderr.on('data', (d) => appendFileSync(logFile, d));
  child.exited = new Promise((r) => child.on('exit', r));
  children.add(child);
  child.logFile = logFile;
  void out;
  return child;
}
async function stopProcess(child) {
  killGroup(child, 'SIGTERM');
  const done = await Promise.race([child.exited.then(() => true), sleep(15000).then(() => false)]);
  if (!done) killGroup(child, 'SIGKILL');
  await child.exited;
  children.delete(child);
}
async function waitReady(url, child) {
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) throw new Error(`server exited during start-up; log: ${child.logFile}\n${readFileSync(child.logFile, 'utf8').slice(-2000)}`);
    try {
      const r = await fetch(url);
      if (r.status < 500) { await r.arrayBuffer(); return; }
    } catch { /* not yet */ }
    await sleep(100);
  }
  throw new Error(`not ready: ${url} (log ${child.logFile})`);
}

const procStatus = (pid, key) => {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch { return undefined; }
};
/** CPU seconds (user + system, every thread) of a process. */
const cpuSeconds = (pid) => {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch { return 0; }
};
/** The node process under `taskset` (taskset execs, so it is the child itself). */
const serverPid = (child) => child.pid;

// ---- databases ----------------------------------------------------------------------------------
const psql = (sql, url = cfg.pgAdmin) => execFileSync('psql', [url, '-Atqc', sql], { encoding: 'utf8' }).trim();
const createdPg = [];
const createdFiles = [];
const dbs = new Map(); // key -> { url, creds, seed }
let pgSeq = 0;
function seedDb(url) {
  const out = execFileSync('node', [join(ROOT, 'bench/seed-suite.mjs'), url, REDIRECT_URI, USER.userName, USER.password], { cwd: ROOT, encoding: 'utf8', env: { ...env, LATCHKEY_KEY_ENCRYPTION_KEY: KEK } });
  return JSON.parse(out.trim().split('\n').at(-1));
}
function newDb(storage, name) {
  if (storage === 'postgres') {
    const db = `latchkey_suite_${process.pid}_${++pgSeq}`;
    psql(`CREATE DATABASE ${db}`);
    createdPg.push(db);
    return { url: `${cfg.pgAdmin.replace(/\/[^/]*$/, '')}/${db}`, pgName: db };
  }
  const file = join(RUN, `${name}.db`);
  createdFiles.push(file);
  return { url: file };
}
function seedTokens(db, count, clientId) {
  const script = join(ROOT, 'bench/seed-tokens.mjs');
  if (!existsSync(script)) throw new Error('bench/seed-tokens.mjs is missing: the 10m size needs it (SIZES=fresh runs without it)');
  const t0 = Date.now();
  const r = spawnSync('node', [script, '--db', db.url, '--count', String(count), '--client-id', clientId], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], env: { ...env, LATCHKEY_KEY_ENCRYPTION_KEY: KEK } });
  if (r.status !== 0) throw new Error(`seed-tokens failed (exit ${r.status})`);
  const summary = JSON.parse(r.stdout.trim().split('\n').at(-1));
  return { ...summary, seconds: (Date.now() - t0) / 1000 };
}
/** The database of a target: fresh = its own, seeded on first use; 10m = one per storage, seeded up front. */
function dbOf(t) {
  const key = t.size === 'fresh' ? t.id : `${t.storage}-10m`;
  if (!dbs.has(key)) {
    const db = newDb(t.storage, key);
    db.creds = seedDb(db.url);
    if (t.size === '10m') {
      log(`# seeding ${cfg.tokens10m} tokens into the ${t.storage} database (bench/seed-tokens.mjs)…`);
      db.seed = seedTokens(db, cfg.tokens10m, db.creds.opaque.clientId);
      log(`# seeded in ${db.seed.seconds.toFixed(0)} s: ${JSON.stringify(db.seed)}`);
    }
    dbs.set(key, db);
  }
  return dbs.get(key);
}

// ---- counters -----------------------------------------------------------------------------------
const sqliteRequire = createRequire(join(ROOT, 'package.json'));
function sqliteRows(file) {
  const Database = sqliteRequire('better-sqlite3');
  const d = new Database(file, { readonly: true, fileMustExist: true });
  try {
    d.pragma('busy_timeout = 5000');
    const tables = d.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'").all().map((r) => r.name);
    const counts = {};
    for (const name of tables) counts[name] = d.prepare(`SELECT count(*) AS n FROM "${name.replace(/"/g, '""')}"`).get().n;
    return counts;
  } finally {
    d.close();
  }
}
async function metricsOf(port, attempt = 1) {
  try {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const val = (name) => text.split('\n').filter((l) => l.startsWith(name)).reduce((s, l) => s + Number(l.split(' ').at(-1)), 0);
    return { group_commits: val('latchkey_storage_commit_duration_seconds_count'), batched_writes: val('latchkey_storage_commit_writes_sum') };
  } catch (error) {
    // A keep-alive socket from before the load may have been closed by the server meanwhile: one
    // more try on a new connection, then the column is left empty (and the reason logged).
    if (attempt === 1) {
      log(`# /metrics on port ${port}: ${error?.cause?.code ?? error?.message ?? error}; trying once more`);
      await sleep(200);
      return metricsOf(port, 2);
    }
    log(`# /metrics on port ${port} could not be read: ${error?.cause?.code ?? error?.message ?? error}`);
    return undefined;
  }
}
function pgStats(db) {
  const [commits, changes] = psql(`SELECT xact_commit, tup_inserted + tup_updated + tup_deleted FROM pg_stat_database WHERE datname = '${db}'`).split('|').map(Number);
  return { commits, changes };
}
const pgBackends = (db) => psql(`SELECT pid FROM pg_stat_activity WHERE datname = '${db}'`).split('\n').filter(Boolean).map(Number);

async function snapshot(ctx) {
  const s = { at: performance.now(), serverCpu: cpuSeconds(ctx.pid) };
  if (ctx.db?.pgName) {
    // Backends flush their counters to pg_stat_database at most once a second (and, when idle,
    // later): read until two reads 0.5 s apart agree (at most 12 s).
    let prev = pgStats(ctx.db.pgName);
    const t0 = Date.now();
    for (;;) {
      await sleep(500);
      const cur = pgStats(ctx.db.pgName);
      if ((cur.commits === prev.commits && cur.changes === prev.changes && Date.now() - t0 >= 1000) || Date.now() - t0 > 12000) { prev = cur; break; }
      prev = cur;
    }
    s.pgWait = (Date.now() - t0) / 1000;
    s.pg = prev;
    ctx.backends ??= pgBackends(ctx.db.pgName);
    s.dbCpu = ctx.backends.reduce((sum, p) => sum + cpuSeconds(p), 0);
  } else if (ctx.db) {
    s.rows = sqliteRows(ctx.db.url);
  }
  if (ctx.ours) s.metrics = await metricsOf(ctx.port);
  return s;
}

// ---- load ---------------------------------------------------------------------------------------
function wrk(spec, seconds, connections) {
  const script = join(cfg.harness, 'wrk', spec.method === 'POST' ? 'token-post.lua' : 'bearer.lua');
  const r = spawnSync('taskset', ['-c', cfg.loadCore, 'wrk', '-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, spec.url], {
    encoding: 'utf8',
    env: { ...env, WRK_METHOD: spec.method, WRK_AUTHORIZATION: spec.authorization ?? '', WRK_BODY: spec.body ?? '' },
  });
  const line = (r.stdout ?? '').split('\n').reverse().find((l) => l.startsWith('{"wrk":'));
  if (!line) throw new Error(`wrk gave no result: ${r.stdout} ${r.stderr}`);
  const w = JSON.parse(line);
  const secs = w.duration_us / 1e6;
  return {
    tool: 'wrk -t1', req_per_s: Math.round((w.requests / secs) * 10) / 10, latency_p50_ms: w.p50_us / 1000, latency_p99_ms: w.p99_us / 1000,
    total_responses: w.requests, non2xx: w.errors.status, errors: w.errors.connect + w.errors.read + w.errors.write + w.errors.timeout, duration_s: Math.round(secs * 100) / 100,
  };
}
async function autocannon(spec, seconds, connections) {
  // runs in-process (this driver is on LOAD_CORE: suite.sh pins it)
  const ac = createRequire(join(cfg.harness, 'package.json'))('autocannon');
  const headers = { ...(spec.authorization ? { authorization: spec.authorization } : {}), ...(spec.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) };
  const res = await new Promise((resolve, reject) => ac({ url: spec.url, connections, duration: seconds, method: spec.method, headers, body: spec.body, timeout: 10 }, (e, x) => (e ? reject(e) : resolve(x))));
  return { tool: 'autocannon', req_per_s: res.requests.average, latency_p50_ms: res.latency.p50, latency_p99_ms: res.latency.p99, total_responses: res.requests.total, non2xx: res.non2xx, errors: res.errors + res.timeouts, duration_s: res.duration };
}
const fixedLoad = (spec, seconds) => (cfg.tool === 'wrk' ? wrk(spec, seconds, cfg.connections) : autocannon(spec, seconds, cfg.connections));

async function sane(spec, check) {
  const r = await fetch(spec.url, { method: spec.method, headers: { ...(spec.authorization ? { authorization: spec.authorization } : {}), ...(spec.body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) }, body: spec.body });
  const text = await r.text();
  let j;
  try { j = JSON.parse(text); } catch { /* checked below */ }
  if (r.status < 200 || r.status > 299 || j === undefined || !check(j)) throw new Error(`sanity request to ${spec.url} failed: ${r.status} ${text.slice(0, 300)}`);
  return j;
}
const ccBody = 'grant_type=client_credentials';
async function ccToken(url, id, secret) {
  return (await sane({ url, method: 'POST', authorization: basic(id, secret), body: ccBody }, (j) => typeof j.access_token === 'string')).access_token;
}

// ---- one measurement ----------------------------------------------------------------------------
async function measure(t, round, { profile = false } = {}) {
  const ctx = { port: t.port, ours: t.server.kind === 'ours' };
  const name = `${t.id}-r${round}${profile ? '-prof' : ''}`;
  const base = `http://127.0.0.1:${t.port}`;
  const profDir = join(RUN, 'profiles', t.id);
  let child;
  if (t.server.kind === 'ours') {
    ctx.db = dbOf(t);
    // A token server hosts no APIs (an empty folder: the repository's ./apis holds TypeScript
    // examples, which would load tsx and the MCP SDK); the API targets host bench/apis.
    const args = [...(t.server.nodeArgs ?? cfg.oursNodeArgs), ...(profile ? ['--cpu-prof', '--cpu-prof-dir', profDir] : []), 'bin/latchkey.js', 'serve', '--port', String(t.port), '--apis', t.server.apis ? 'bench/apis' : NO_APIS];
    const memory = t.server.defaults || cfg.oursMallocArenas === '' ? {} : { MALLOC_ARENA_MAX: cfg.oursMallocArenas };
    child = startProcess(name, 'node', args, { extraEnv: { LATCHKEY_LOG_LEVEL: 'warn', LATCHKEY_DB: ctx.db.url, LATCHKEY_KEY_ENCRYPTION_KEY: KEK, ...memory } });
    await waitReady(`${base}/healthz`, child);
  } else if (t.server.kind === 'floor') {
    child = startProcess(name, 'node', ['server.mjs'], { cwd: join(cfg.harness, 'baseline'), extraEnv: { PORT: String(t.port) } });
    await waitReady(base, child);
  } else if (t.server.kind === 'peer-cc') {
    child = startProcess(name, 'node', ['server.mjs'], { cwd: PEER_DIR, extraEnv: { PORT: String(t.port), TOKEN_FORMAT: t.server.format, JWT_ALG: 'ES256' } });
    await waitReady(`${base}/.well-known/openid-configuration`, child);
  } else if (t.server.kind === 'peer-introspect') {
    child = startProcess(name, 'node', [join(ROOT, 'bench/peer-introspect.mjs')], { extraEnv: { PORT: String(t.port), OIDC_PROVIDER_DIR: PEER_DIR } });
    await waitReady(`${base}/.well-known/openid-configuration`, child);
  } else {
    child = startProcess(name, 'node', [join(ROOT, 'bench/peer-code-flow.mjs')], {
      extraEnv: { PORT: String(t.port), OIDC_PROVIDER_DIR: PEER_DIR, BENCH_CLIENT_ID: 'bench-rp', BENCH_CLIENT_SECRET: 'bench-rp-secret-0123456789abcdef', BENCH_REDIRECT_URI: REDIRECT_URI, BENCH_USER: USER.userName, BENCH_PASSWORD: USER.password, ...(t.server.refresh ? { BENCH_REFRESH: '1' } : {}) },
    });
    await waitReady(`${base}/.well-known/openid-configuration`, child);
  }
  ctx.pid = serverPid(child);
  try {
    const c = ctx.db?.creds;
    let result;
    if (t.load === 'fixed') {
      let spec;
      if (t.role === 'floor') spec = { url: `${base}/token`, method: 'POST', authorization: basic('bench-client', 'bench-secret-0123456789abcdef'), body: ccBody };
      else if (t.op.startsWith('cc-') && t.role === 'ours') spec = { url: `${base}/oauth_token.do`, method: 'POST', authorization: basic(c[t.format].clientId, c[t.format].clientSecret), body: ccBody };
      else if (t.op.startsWith('cc-')) spec = { url: `${base}/token`, method: 'POST', authorization: basic('bench-client', 'bench-secret-0123456789abcdef'), body: ccBody };
      else if (t.op === 'introspect' && t.role === 'ours') {
        const at = await ccToken(`${base}/oauth_token.do`, c.opaque.clientId, c.opaque.clientSecret);
        spec = { url: `${base}/oauth/introspect`, method: 'POST', authorization: basic(c.introspector.clientId, c.introspector.clientSecret), body: `token=${encodeURIComponent(at)}&token_type_hint=access_token` };
      } else if (t.op === 'introspect') {
        const at = await ccToken(`${base}/token`, 'bench-client', 'bench-secret-0123456789abcdef');
        spec = { url: `${base}/token/introspection`, method: 'POST', authorization: basic('bench-rs', 'bench-rs-secret-0123456789abcdef'), body: `token=${encodeURIComponent(at)}&token_type_hint=access_token` };
      } else if (t.role === 'ours') {
        const at = await ccToken(`${base}/oauth_token.do`, c.opaque.clientId, c.opaque.clientSecret);
        spec = { url: `${base}/api/bench/v1/whoami/${t.route === 'ping' ? 'ping-auth' : 'auth'}`, method: 'GET', authorization: `Bearer ${at}` };
      } else spec = { url: `${base}/api/bench/v1/whoami/${t.route === 'ping' ? 'ping-open' : 'open'}`, method: 'GET' };
      const check = t.op === 'introspect' ? (j) => j.active === true : t.op.startsWith('api-') ? () => true : (j) => typeof j.access_token === 'string';
      await sane(spec, check);
      ctx.rssBase = procStatus(ctx.pid, 'VmRSS');
      if (cfg.warmup > 0) await fixedLoad(spec, cfg.warmup);
      writeFileSync(`/proc/${ctx.pid}/clear_refs`, '5');
      const before = await snapshot(ctx);
      const load = await fixedLoad(spec, profile ? cfg.profileDuration : cfg.duration);
      ctx.connections = ctx.db?.pgName ? pgBackends(ctx.db.pgName).length : undefined;
      const after = await snapshot(ctx);
      result = { load, before, after };
    } else {
      const flowTarget = t.role === 'ours'
        ? { issuer: base, authorizeUrl: `${base}/oauth/authorize`, tokenUrl: `${base}/oauth/token`, jwksUrl: `${base}/oauth/jwks`, clientId: c.rp.clientId, clientSecret: c.rp.clientSecret, scope: 'openid' }
        : { issuer: base, authorizeUrl: `${base}/auth`, tokenUrl: `${base}/token`, jwksUrl: `${base}/jwks`, clientId: 'bench-rp', clientSecret: 'bench-rp-secret-0123456789abcdef', ...(t.load === 'refresh' ? { scope: 'openid offline_access', extraParams: { prompt: 'consent' } } : { scope: 'openid' }) };
      const file = join(RUN, `${name}.json`);
      const concurrency = t.load === 'code' ? cfg.flowConcurrency : cfg.connections;
      writeFileSync(file, JSON.stringify({ mode: t.load, label: t.id, redirectUri: REDIRECT_URI, ...USER, ...flowTarget, concurrency, warmup: cfg.warmup, duration: profile ? cfg.profileDuration : cfg.duration }));
      ctx.rssBase = procStatus(ctx.pid, 'VmRSS');
      const driver = spawn('taskset', ['-c', cfg.loadCore, 'node', join(ROOT, 'bench/flow-load.mjs'), file], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
      children.add(driver);
      let out = '';
      let err = '';
      const ready = new Promise((resolve, reject) => {
        driver.stdout.on('data', (d) => { out += d; if (out.includes('# ready\n')) resolve(); });
        driver.on('exit', (code) => reject(new Error(`flow-load.mjs exited ${code} before measuring: ${err.slice(-1500)}`)));
      });
      driver.stderr.on('data', (d) => { err += d; });
      const exited = new Promise((r) => driver.on('exit', r));
      await ready;
      writeFileSync(`/proc/${ctx.pid}/clear_refs`, '5');
      const before = await snapshot(ctx);
      driver.stdin.write('go\n');
      await exited;
      children.delete(driver);
      const line = out.split('\n').reverse().find((l) => l.startsWith('{'));
      if (!line) throw new Error(`flow-load.mjs gave no result: ${err.slice(-1500)}`);
      if (err.trim()) appendFileSync(join(RUN, `${name}.driver.log`), err);
      const after = await snapshot(ctx);
      result = { load: JSON.parse(line), before, after };
    }
    const { load, before, after } = result;
    const elapsed = (after.at - before.at) / 1000;
    const row = {
      kind: 'suite', id: t.id, op: t.op, role: t.role, size: t.size, storage: t.storage, what: t.what, round, profile,
      tool: load.tool ?? cfg.tool, connections: load.connections ?? cfg.connections, ...load,
      rss_base_kb: ctx.rssBase, rss_peak_kb: procStatus(ctx.pid, 'VmHWM'),
      server_cpu_cores: +((after.serverCpu - before.serverCpu) / load.duration_s).toFixed(3),
    };
    const n = load.total_responses;
    if (before.pg) {
      row.db = { kind: 'postgres', commits_per_req: +((after.pg.commits - before.pg.commits) / n).toFixed(3), rows_written_per_req: +((after.pg.changes - before.pg.changes) / n).toFixed(3), connections: ctx.connections, stats_wait_s: [before.pgWait, after.pgWait], backend_cpu_cores: +((after.dbCpu - before.dbCpu) / load.duration_s).toFixed(3) };
    } else if (before.rows) {
      const delta = Object.keys(after.rows).reduce((s, k) => s + Math.abs(after.rows[k] - (before.rows[k] ?? 0)), 0);
      row.db = { kind: 'sqlite', net_rows_per_req: +(delta / n).toFixed(3) };
    }
    if (before.metrics && after.metrics) {
      row.db = { ...row.db, group_commits_per_req: +((after.metrics.group_commits - before.metrics.group_commits) / n).toFixed(4), batched_writes_per_req: +((after.metrics.batched_writes - before.metrics.batched_writes) / n).toFixed(3) };
    }
    void elapsed;
    return row;
  } finally {
    await stopProcess(child);
    if (profile) {
      // one file per thread (the checkpoint worker writes its own): the main thread's has the most samples
      const files = existsSync(profDir) ? readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(profDir, f)).sort((a, b) => statSync(b).size - statSync(a).size) : [];
      ctx.profileFile = files[0];
      if (files[0]) for (const other of files.slice(1)) rmSync(other); // the next profiled run of this target starts clean
      measure.lastProfile = ctx.profileFile;
    }
  }
}

// ---- the run ------------------------------------------------------------------------------------
const profiled = cfg.profile ? targets.filter((t) => t.role === 'ours') : [];
const runs = targets.length * cfg.rounds + profiled.length;
const perRun = (t, d) => cfg.warmup + d + 3 + (t.storage === 'postgres' ? 2.5 : 0) + (t.load !== 'fixed' ? 2 : 0);
let estimate = targets.reduce((s, t) => s + cfg.rounds * perRun(t, cfg.duration), 0) + profiled.reduce((s, t) => s + perRun(t, cfg.profileDuration), 0);
const seedStorages = new Set(targets.filter((t) => t.size === '10m').map((t) => t.storage));
const seedEstimate = [...seedStorages].reduce((s, st) => s + cfg.tokens10m / (st === "postgres" ? 30000 : 30000), 0);
log(`# bench suite: ${targets.length} targets x ${cfg.rounds} rounds${profiled.length ? ` + ${profiled.length} profiled runs` : ''} = ${runs} runs; ${cfg.warmup} s warm-up + ${cfg.duration} s each; ${cfg.connections} connections (flows: ${cfg.flowConcurrency}); tool ${cfg.tool}`);
log(`# estimated: ${Math.round(estimate / 60)} min of measurement${seedStorages.size ? ` + about ${Math.round(seedEstimate / 60)} min of seeding ${cfg.tokens10m} tokens into ${[...seedStorages].join(' and ')} (a guess at the seeder's rate)` : ''}`);
log(`# raw results: ${RESULTS}`);
const started = Date.now();
const meta = {
  started: new Date().toISOString(), commit: spawnSync('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim(),
  dirty: spawnSync('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).stdout.trim() !== '',
  nproc: cpus().length, cpu: cpus()[0]?.model, mem_gib: +(totalmem() / 2 ** 30).toFixed(1), node: process.version,
  wrk: (spawnSync('wrk', ['-v'], { encoding: 'utf8' }).stdout || '').split('\n')[0].split(' [')[0] || undefined,
  postgres: psql('SHOW server_version'), pg_max_connections: Number(psql('SHOW max_connections')),
  config: { ...cfg, only: env.ONLY || undefined, harness: undefined, work: undefined, pgAdmin: undefined },
  results: RESULTS, seeds: {}, profiles: {}, smoke: env.SMOKE === '1' || cfg.rounds < 3,
};
// 10m databases first, so that seeding is not inside a round
for (const st of seedStorages) {
  const t = targets.find((x) => x.size === '10m' && x.storage === st);
  dbOf(t);
  meta.seeds[st] = dbs.get(`${st}-10m`).seed;
}
// After seeding (which uses every core): PostgreSQL beside the load generator (cfg.pgCore), restored to every core at exit.
const allCores = `0-${cpus().length - 1}`;
function pinPostgres(cores) {
  const pids = (spawnSync('pgrep', ['-u', 'postgres'], { encoding: 'utf8' }).stdout || '').split('\n').filter(Boolean);
  for (const pid of pids) spawnSync('taskset', ['-a', '-p', '-c', cores, pid], { stdio: 'ignore' });
  return pids.length;
}
if (cfg.pgCore !== 'none' && targets.some((t) => t.storage === 'postgres')) {
  const n = pinPostgres(cfg.pgCore);
  meta.pg_pinned = n > 0 ? cfg.pgCore : undefined;
  log(`# PostgreSQL's ${n} processes pinned to core ${cfg.pgCore} for the run (PG_CORE=none to leave them)`);
  process.on('exit', () => pinPostgres(allCores));
}
let i = 0;
try {
  for (let round = 1; round <= cfg.rounds; round++) {
    for (const t of targets) {
      i++;
      const eta = Math.round((estimate - (Date.now() - started) / 1000) / 60);
      process.stdout.write(`[${i}/${runs}] ${t.id} round ${round} … `);
      const row = await measure(t, round);
      appendFileSync(RESULTS, JSON.stringify(row) + '\n');
      runtimeIds.add(t.id);
      log(`${row.req_per_s} req/s, p50 ${row.latency_p50_ms} ms, p99 ${row.latency_p99_ms} ms, peak RSS ${Math.round(row.rss_peak_kb / 1024)} MiB${row.db ? `, db ${JSON.stringify(row.db)}` : ''}${row.non2xx || row.errors ? `, NON-2XX ${row.non2xx} ERRORS ${row.errors}` : ''} (~${Math.max(eta, 0)} min left)`);
    }
  }
  for (const t of profiled) {
    i++;
    process.stdout.write(`[${i}/${runs}] ${t.id} profiled (--cpu-prof, ${cfg.profileDuration} s; not in the medians) … `);
    const row = await measure(t, 0, { profile: true });
    row.profile_file = measure.lastProfile;
    appendFileSync(RESULTS, JSON.stringify(row) + '\n');
    const summary = join(ROOT, 'bench/profile-summary.mjs');
    if (row.profile_file && existsSync(summary)) {
      const r = spawnSync('node', [summary, row.profile_file, '--top', '12', '--markdown'], { encoding: 'utf8' });
      // the doc names the profile by its file name only (the run folder is this machine's)
      meta.profiles[t.id] = r.status === 0 ? r.stdout.split(dirname(row.profile_file) + '/').join('') : `profile-summary.mjs failed: ${r.stderr.slice(0, 500)}`;
    } else {
      meta.profiles[t.id] = row.profile_file ? `(bench/profile-summary.mjs is missing; the profile is ${row.profile_file.split('/').at(-1)} in the run folder)` : '(no profile was written)';
    }
    log(`${row.req_per_s} req/s; profile ${row.profile_file ?? 'missing'}`);
  }
} finally {
  meta.finished = new Date().toISOString();
  meta.total_s = Math.round((Date.now() - started) / 1000);
  writeFileSync(META, JSON.stringify(meta, null, 1));
  for (const db of createdPg) {
    try { psql(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`); } catch (e) { log(`# could not drop ${db}: ${e.message}`); }
  }
  if (!cfg.keepDbs) for (const f of createdFiles) for (const s of ['', '-wal', '-shm']) rmSync(f + s, { force: true });
}
log(`# done in ${Math.floor(meta.total_s / 60)} min ${meta.total_s % 60} s; raw results ${RESULTS}, meta ${META}, logs ${RUN}`);
if (cfg.writeDocs) {
  const r = spawnSync('node', [join(ROOT, 'bench/suite-report.mjs'), RUN], { cwd: ROOT, stdio: 'inherit' });
  process.exit(r.status ?? 1);
}
