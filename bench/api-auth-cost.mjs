#!/usr/bin/env node
// What bearer authentication costs a hosted API call in process, without HTTP: CPU per call of
// bench/apis' ping route with a valid opaque bearer token and of the same route with authentication
// off, 10 calls in flight, alternating runs, medians. Steadier than req/s on a shared VM; it does
// not see what HTTP adds (the longer request header to parse), which
// bench/api-bearer-instructions.sh counts.
//   taskset -c 1 node bench/api-auth-cost.mjs [--runs N] [--calls N]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createLatchkey } from '../dist/src/app.js';
import { openSqliteStorage } from '../dist/src/storage/sqlite/adapter.js';
import { bootstrap } from '../dist/src/registry/bootstrap.js';
import { createUser } from '../dist/src/registry/users.js';
import { createApplication } from '../dist/src/registry/applications.js';
import { setProperty } from '../dist/src/registry/settings.js';
import { BUILT_IN_GRANTS } from '../dist/src/grants/index.js';
import { loadApis } from '../dist/src/resource-server/load.js';

const HELP = `Usage: taskset -c 1 node bench/api-auth-cost.mjs [--runs N] [--calls N]

What bearer authentication costs a hosted API call, in process (no HTTP): CPU per call of bench/apis'
ping route with a valid opaque bearer token and with authentication off, 10 calls in flight,
alternating runs, medians. Prints one line, then one JSON line.

  --runs N    runs per route (default 16)
  --calls N   calls per run (default 20000, at least 100)
  --help      this text`;
let args;
try {
  args = parseArgs({ options: { runs: { type: 'string', default: '16' }, calls: { type: 'string', default: '20000' }, help: { type: 'boolean' } } });
} catch (error) {
  console.error(`${error.message}\n${HELP}`);
  process.exit(2);
}
if (args.values.help) {
  console.log(HELP);
  process.exit(0);
}
const runs = Number(args.values.runs);
const calls = Number(args.values.calls);
if (!Number.isInteger(runs) || runs < 1 || !Number.isInteger(calls) || calls < 100) {
  console.error(`--runs must be a whole number >= 1 and --calls >= 100\n${HELP}`);
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'latchkey-api-auth-'));
const storage = openSqliteStorage({ path: join(dir, 'api.db') });
const deps = { storage, clock: { now: () => Date.now() }, grants: BUILT_IN_GRANTS };
await bootstrap(deps, 'bench-admin-password');
await createUser(deps, { userName: 'svc-bench' });
const { application, clientSecret } = await createApplication(deps, { name: 'Benchmark client', grantTypes: ['client_credentials'], appUser: 'svc-bench' });
await setProperty(deps, 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
const router = await loadApis(new URL('./apis', import.meta.url).pathname, { required: true });
const latchkey = createLatchkey({ storage, kek: 'bench-key-encryption-key-0123456789abcdef', router });
await latchkey.start();
latchkey.setDefaultIssuer?.('http://127.0.0.1:8080');
const issued = await latchkey.tokenEndpoint.handle({
  method: 'POST', path: '/oauth_token.do', query: new URLSearchParams(), headers: { authorization: `Basic ${Buffer.from(`${application.clientId}:${clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
  body: 'grant_type=client_credentials', contentType: 'application/x-www-form-urlencoded', remoteAddress: '127.0.0.1', requestId: 'bench',
});
const token = JSON.parse(issued.body).access_token;
const NO_QUERY = new URLSearchParams();
const call = (route, authorization) => ({
  method: 'GET', path: `/api/bench/whoami/${route}`, query: NO_QUERY, headers: authorization === undefined ? { host: '127.0.0.1:8080', accept: '*/*' } : { host: '127.0.0.1:8080', accept: '*/*', authorization },
  body: undefined, contentType: undefined, remoteAddress: '127.0.0.1', requestId: 'bench',
});
async function cpuPerCall(route, authorization) {
  const before = process.cpuUsage();
  let sent = 0;
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (sent < calls) {
      sent++;
      const r = await latchkey.apis.handle(call(route, authorization));
      if (r.status !== 200) throw new Error(`${route}: ${r.status} ${r.body}`);
    }
  }));
  const used = process.cpuUsage(before);
  return ((used.user + used.system) / calls) * 1000;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[(xs.length - 1) >> 1];
const open = [], auth = [];
for (let i = 0; i < 3; i++) { await cpuPerCall('ping-open'); await cpuPerCall('ping-auth', `Bearer ${token}`); }
for (let i = 0; i < runs; i++) {
  open.push(await cpuPerCall('ping-open'));
  auth.push(await cpuPerCall('ping-auth', `Bearer ${token}`));
}
const [o, a] = [median(open), median(auth)];
console.log(`ping, CPU per call in process: open ${o.toFixed(0)} ns, bearer ${a.toFixed(0)} ns: authentication +${(a - o).toFixed(0)} ns (medians of ${runs} runs of ${calls})`);
console.log(JSON.stringify({ kind: 'api-auth-cost', calls, runs, openNs: Math.round(o), bearerNs: Math.round(a), open: open.map(Math.round), bearer: auth.map(Math.round) }));
await latchkey.stop();
await storage.close();
rmSync(dir, { recursive: true, force: true });
