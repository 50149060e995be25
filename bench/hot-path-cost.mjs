#!/usr/bin/env node
// CPU cost on the token endpoint's hot path of rate limiting and of the metric counters, measured
// in process (no HTTP, no load generator), as CPU time per request: steadier than req/s on a shared
// machine. Two instances over their own SQLite files: limits off (the defaults) and limits on
// (per application and per address, high enough that nothing is refused); 50 requests in flight,
// alternating runs of 10 000, medians of 16 each. Then the metric counters alone, per call.
//   taskset -c 1 node bench/hot-path-cost.mjs
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLatchkey } from '../dist/src/app.js';
import { openSqliteStorage } from '../dist/src/storage/sqlite/adapter.js';
import { bootstrap } from '../dist/src/registry/bootstrap.js';
import { createUser } from '../dist/src/registry/users.js';
import { createApplication } from '../dist/src/registry/applications.js';
import { setProperty } from '../dist/src/registry/settings.js';
import { BUILT_IN_GRANTS } from '../dist/src/grants/index.js';

const dir = mkdtempSync(join(tmpdir(), 'latchkey-hot-path-'));
async function instance(limits) {
  const storage = openSqliteStorage({ path: join(dir, `${limits ? 'on' : 'off'}.db`) });
  const deps = { storage, clock: { now: () => Date.now() }, grants: BUILT_IN_GRANTS };
  await bootstrap(deps, 'bench-admin-password');
  await createUser(deps, { userName: 'svc-bench' });
  const { application, clientSecret } = await createApplication(deps, { name: 'Benchmark client', grantTypes: ['client_credentials'], appUser: 'svc-bench' });
  await setProperty(deps, 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
  if (limits) {
    await setProperty(deps, 'latchkey.rate_limit.client', '100000000');
    await setProperty(deps, 'latchkey.rate_limit.address', '100000000');
  }
  const latchkey = createLatchkey({ storage, kek: 'bench-key-encryption-key-0123456789abcdef' });
  await latchkey.start();
  const authorization = `Basic ${Buffer.from(`${application.clientId}:${clientSecret}`).toString('base64')}`;
  const request = () => ({
    method: 'POST', path: '/oauth_token.do', query: new URLSearchParams(), headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials', contentType: 'application/x-www-form-urlencoded', remoteAddress: '127.0.0.1', requestId: 'bench',
  });
  return { latchkey, storage, request };
}

async function cpuPerRequest(s, n) {
  const before = process.cpuUsage();
  let sent = 0;
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (sent < n) {
      sent++;
      const r = await s.latchkey.tokenEndpoint.handle(s.request());
      if (r.status !== 200) throw new Error(r.body);
    }
  }));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / n;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const off = await instance(false);
const on = await instance(true);
const a = [], b = [];
for (let i = 0; i < 16; i++) {
  a.push(await cpuPerRequest(off, 10_000));
  b.push(await cpuPerRequest(on, 10_000));
}
const [mo, mn] = [median(a), median(b)];
console.log(`token request, CPU per request: limits off ${mo.toFixed(2)} µs, limits on ${mn.toFixed(2)} µs: +${(mn - mo).toFixed(2)} µs (+${(100 * (mn / mo - 1)).toFixed(1)} % of the endpoint's own work, before HTTP)`);

// The metric counters of one token request: the request, its latency, the token issued.
const metrics = off.latchkey.metrics;
const N = 5_000_000;
const t0 = process.hrtime.bigint();
for (let i = 0; i < N; i++) {
  metrics.observeRequest('/oauth_token.do', 'POST', 200, 0.0004);
  metrics.tokenIssued('client_credentials', 'opaque');
}
console.log(`metric counters of one token request: ${(Number(process.hrtime.bigint() - t0) / N).toFixed(0)} ns`);
for (const s of [off, on]) {
  await s.latchkey.stop();
  await s.storage.close();
}
rmSync(dir, { recursive: true, force: true });
