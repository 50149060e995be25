#!/usr/bin/env node
// How much of the token path's garbage V8 promotes to its old generation: promoted bytes per
// young-generation collection (scavenge), from --trace-gc-nvp, in process (no HTTP, no load
// generator), so the figure does not move with the machine's speed the way req/s does. Objects
// that die young cost almost nothing; promoted ones stay in the old space until the next full
// collection, and that is what grew peak RSS on PostgreSQL to about 200 MiB until 5195693
// (docs/benchmarks.md, "Peak memory on PostgreSQL").
//
//   node bench/gc-promotion.mjs [--storage sqlite|postgres|both] [--load insert|endpoint] [--seconds 8] [--sites]
//
//   --load insert    storage.tokens.insert of one token from 50 concurrent callers (the group commit alone)
//   --load endpoint  the whole token endpoint (client credentials, opaque), 50 requests in flight
//   --sites          also name the allocation sites of what was promoted (V8's sampling heap
//                    profiler with objects collected by young-generation collections left out)
//
// PostgreSQL: a throwaway database is created (and dropped) through LATCHKEY_BENCH_PG
// (default postgres://postgres@127.0.0.1:5432/postgres). Each measurement runs in a child process
// pinned to one core with `taskset -c 1` when taskset exists, with deploy/'s memory settings
// (--max-semi-space-size=8, MALLOC_ARENA_MAX=1).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const USAGE = 'usage: node bench/gc-promotion.mjs [--storage sqlite|postgres|both] [--load insert|endpoint] [--seconds N] [--sites]';

// ---- the child: one measurement --------------------------------------------------------------
if (process.env.GC_PROMOTION_CHILD === '1') {
  const { openStorage } = await import('../dist/src/storage/open.js');
  const { createLatchkey } = await import('../dist/src/app.js');
  const { mintOpaque } = await import('../dist/src/core/crypto.js');
  const { db, load, seconds, creds, sites, kek } = JSON.parse(process.env.GC_PROMOTION_SPEC);
  let stopSampling;
  if (sites) {
    const { Session } = await import('node:inspector');
    const session = new Session();
    session.connect();
    const post = (method, params = {}) => new Promise((resolve, reject) => session.post(method, params, (e, r) => (e ? reject(e) : resolve(r))));
    await post('HeapProfiler.enable');
    stopSampling = async () => (await post('HeapProfiler.stopSampling')).profile;
    // Started after a second of load (below), so start-up allocations are not in it.
    globalThis.startSampling = () => post('HeapProfiler.startSampling', { samplingInterval: 4096, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: false });
  }
  const storage = await openStorage(db);
  const latchkey = load === 'endpoint' ? createLatchkey({ storage, kek }) : undefined;
  if (latchkey !== undefined) await latchkey.start();
  const application = (await storage.applications.list({ limit: 1 }))[0];
  const authorization = `Basic ${Buffer.from(`${creds.clientId}:${creds.clientSecret}`).toString('base64')}`;
  let sent = 0;
  let failed = 0;
  const one = async () => {
    if (latchkey !== undefined) {
      const r = await latchkey.tokenEndpoint.handle({ method: 'POST', path: '/oauth_token.do', query: new URLSearchParams(), headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials', contentType: 'application/x-www-form-urlencoded', remoteAddress: '127.0.0.1', requestId: `gc-${sent}` });
      if (r.status !== 200) failed++;
      return;
    }
    const now = Date.now();
    const { key } = mintOpaque('lk_at_', now);
    await storage.tokens.insert([{ hash: key, kind: 'access', applicationId: application.id, userId: null, scopes: ['useraccount'], grantType: 'client_credentials', issuedAt: now, expiresAt: now + 1_800_000, familyId: key }]);
  };
  const started = Date.now();
  const until = started + seconds * 1000;
  if (sites) setTimeout(() => void globalThis.startSampling(), 1000);
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (Date.now() < until) {
      await one();
      sent++;
    }
  }));
  const elapsed = (Date.now() - started) / 1000;
  const profile = stopSampling === undefined ? undefined : await stopSampling();
  if (latchkey !== undefined) await latchkey.stop();
  await storage.close();
  console.log(`GC_PROMOTION_RESULT ${JSON.stringify({ calls: sent, failed, perSecond: Math.round(sent / elapsed), sites: profile === undefined ? undefined : topSites(profile) })}`);
  process.exit(0);
}

/** The allocation sites of a sampling heap profile by bytes, each with its four innermost callers. */
function topSites(profile) {
  const sites = new Map();
  const walk = (node, stack) => {
    const f = node.callFrame;
    const here = `${f.functionName || '(anonymous)'} ${f.url.replace(`file://${ROOT}/`, '').replace(/^.*\/(node_modules|dist)\//, '$1/')}:${f.lineNumber + 1}`;
    const next = [...stack, here];
    if (node.selfSize > 0) {
      const key = next.slice(-5).reverse().join(' < ');
      sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, next);
  };
  walk(profile.head, []);
  const total = [...sites.values()].reduce((a, b) => a + b, 0);
  return { totalBytes: total, top: [...sites].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([site, bytes]) => ({ site, bytes })) };
}

// ---- the parent: databases, children, the table ------------------------------------------------
const HELP = `${USAGE}

What the token path promotes to V8's old generation, in process (no HTTP): promoted bytes per
young-generation collection (--trace-gc-nvp), after the first second, with 50 callers on one core
and deploy/'s memory settings. Promoted garbage stays until the next full collection and sets the
peak RSS (docs/benchmarks.md, "Peak memory on PostgreSQL").

  --storage sqlite|postgres|both   default both; PostgreSQL uses a throwaway database created and
                                   dropped through LATCHKEY_BENCH_PG
                                   (default postgres://postgres@127.0.0.1:5432/postgres)
  --load insert|endpoint           insert: storage.tokens.insert alone (the group commit);
                                   endpoint: the whole token endpoint (client credentials, opaque).
                                   Default insert
  --seconds N                      how long each measurement runs (default 8)
  --sites                          also name the allocation sites of what was promoted (V8's
                                   sampling heap profiler, young-generation garbage left out)

Needs a build (npm run build).`;
let opts;
try {
  opts = parseArgs({ options: { storage: { type: 'string', default: 'both' }, load: { type: 'string', default: 'insert' }, seconds: { type: 'string', default: '8' }, sites: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h' } } }).values;
} catch (error) {
  console.error(`${error.message}\n${USAGE}`);
  process.exit(2);
}
if (opts.help) {
  console.log(HELP);
  process.exit(0);
}
const kinds = opts.storage === 'both' ? ['sqlite', 'postgres'] : [opts.storage];
if (!kinds.every((k) => k === 'sqlite' || k === 'postgres') || !['insert', 'endpoint'].includes(opts.load) || !(Number(opts.seconds) > 0)) {
  console.error(USAGE);
  process.exit(2);
}
const pgAdmin = process.env.LATCHKEY_BENCH_PG || 'postgres://postgres@127.0.0.1:5432/postgres';
const hasTaskset = spawnSync('taskset', ['-c', '1', 'true']).status === 0;
const dir = mkdtempSync(join(tmpdir(), 'latchkey-gc-promotion-'));
const psql = (sql) => execFileSync('psql', [pgAdmin, '-Atqc', sql], { encoding: 'utf8' });

try {
  for (const kind of kinds) {
    let db;
    let pgName;
    if (kind === 'sqlite') db = join(dir, 'gc.db');
    else {
      pgName = `latchkey_gc_${randomBytes(4).toString('hex')}`;
      psql(`CREATE DATABASE ${pgName}`);
      db = `${pgAdmin.replace(/\/[^/]*$/, '')}/${pgName}`;
    }
    try {
      const kek = randomBytes(32).toString('base64url');
      const seeded = JSON.parse(execFileSync('node', [join(ROOT, 'bench/seed-suite.mjs'), db, 'http://127.0.0.1:9/cb', 'gc-user', 'gc-password-0123456789'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, LATCHKEY_KEY_ENCRYPTION_KEY: kek } }).trim().split('\n').pop());
      const spec = { db, load: opts.load, seconds: Number(opts.seconds), creds: seeded.opaque, sites: opts.sites, kek };
      const nodeArgs = ['--max-semi-space-size=8', '--trace-gc-nvp', fileURLToPath(import.meta.url)];
      const [cmd, args] = hasTaskset ? ['taskset', ['-c', '1', 'node', ...nodeArgs]] : ['node', nodeArgs];
      const run = spawnSync(cmd, args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, GC_PROMOTION_CHILD: '1', GC_PROMOTION_SPEC: JSON.stringify(spec), MALLOC_ARENA_MAX: '1', LATCHKEY_LOG_LEVEL: 'warn' } });
      const line = run.stdout.split('\n').find((l) => l.startsWith('GC_PROMOTION_RESULT '));
      if (run.status !== 0 || line === undefined) throw new Error(`the measurement failed (exit ${run.status}): ${(run.stderr || run.stdout).slice(-2000)}`);
      const result = JSON.parse(line.slice('GC_PROMOTION_RESULT '.length));
      // Scavenges after the first second (start-up and JIT warm-up left out).
      const scavenges = run.stdout.split('\n').filter((l) => l.includes(' gc=s ')).map((l) => ({ at: Number(/(\d+) ms:/.exec(l)?.[1]), promoted: Number(/ promoted=(\d+)/.exec(l)?.[1] ?? 0) }));
      const first = scavenges[0]?.at ?? 0;
      const measured = scavenges.filter((s) => s.at >= first + 1000);
      const full = run.stdout.split('\n').filter((l) => / gc=(mc|mmc|mark-compact)\b/.test(l) || l.includes('Mark-Compact')).length;
      const mean = measured.length === 0 ? 0 : measured.reduce((a, s) => a + s.promoted, 0) / measured.length;
      console.log(`${kind.padEnd(8)} ${opts.load.padEnd(8)} ${String(result.perSecond).padStart(7)} calls/s  ${String(measured.length).padStart(5)} scavenges  promoted per scavenge: mean ${Math.round(mean).toLocaleString('en-US').padStart(9)} bytes  (${(mean * measured.length / 1048576).toFixed(1)} MiB in all)  full collections ${full}${result.failed > 0 ? `  FAILED CALLS ${result.failed}` : ''}`);
      if (result.sites !== undefined) {
        console.log(`  promoted or still live, by allocation site (${(result.sites.totalBytes / 1048576).toFixed(1)} MiB sampled):`);
        for (const s of result.sites.top) console.log(`    ${(s.bytes / 1048576).toFixed(2).padStart(7)} MiB  ${s.site}`);
      }
    } finally {
      if (pgName !== undefined) psql(`DROP DATABASE IF EXISTS ${pgName} WITH (FORCE)`);
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
