#!/usr/bin/env node
// Load driver of bench/suite.mjs for the two multi-step operations, against one target:
//   --mode code     the OpenID Connect authorization code flow end to end, CONCURRENCY fresh browsers
//                   in flight (bench/oidc-flow.mjs: sign-in, consent, code, token request with PKCE);
//                   one "request" here is one whole flow.
//   --mode refresh  refresh-token rotation: CONCURRENCY virtual clients each get a refresh token
//                   from one code flow first (not measured), then each sends grant_type=refresh_token
//                   with the refresh token it holds, checks that the answer carries a NEW refresh
//                   token and an access token, keeps the new one, and repeats (closed loop).
// Both run a warm-up (discarded), then print `# ready` on stdout and wait for one line on stdin
// (the suite reads the server's counters there), then measure for the duration and print one
// JSON line (the shape of the harness's load.mjs: req_per_s, latency_p50_ms, latency_p99_ms,
// non2xx, errors...). Every response of the measurement is checked; a failed one is counted in
// non2xx/errors and the first failure is printed to stderr.
//
// Usage: node bench/flow-load.mjs <target.json>
//   target.json: {mode, label, issuer, authorizeUrl, tokenUrl, jwksUrl, clientId, clientSecret,
//   redirectUri, userName, password, scope?, extraParams?, concurrency, warmup, duration}
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { basic, flow, verifyIdToken } from './oidc-flow.mjs';

const t = JSON.parse(readFileSync(process.argv[2], 'utf8'));
if (!['code', 'refresh'].includes(t.mode)) throw new Error('mode must be code|refresh');
const concurrency = Number(t.concurrency);

async function refresh(rt) {
  const res = await fetch(t.tokenUrl, {
    method: 'POST',
    headers: { authorization: basic(t.clientId, t.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: rt }).toString(),
  });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`refresh: ${res.status} ${text.slice(0, 300)}`);
  const j = JSON.parse(text);
  if (typeof j.access_token !== 'string' || typeof j.refresh_token !== 'string' || j.refresh_token === rt) throw new Error(`refresh: no new refresh token in ${text.slice(0, 300)}`);
  return j.refresh_token;
}

// sanity: one flow with the ID token verified (and, for refresh, one rotation)
const sample = await flow(t);
await verifyIdToken(t, sample);
const holders = [];
if (t.mode === 'refresh') {
  if (typeof sample.tokens.refresh_token !== 'string') throw new Error(`${t.label}: the code flow gave no refresh token: ${JSON.stringify(sample.tokens)}`);
  holders.push(await refresh(sample.tokens.refresh_token));
  while (holders.length < concurrency) {
    const batch = await Promise.all(Array.from({ length: Math.min(4, concurrency - holders.length) }, () => flow(t)));
    for (const b of batch) holders.push(b.tokens.refresh_token);
  }
}

let firstFailure;
async function run(seconds, measure) {
  const lat = [];
  let failures = 0;
  const started = performance.now();
  const end = started + seconds * 1000;
  const worker = async (i) => {
    while (performance.now() < end) {
      const t0 = performance.now();
      try {
        if (t.mode === 'code') await flow(t);
        else holders[i] = await refresh(holders[i]);
        if (measure) lat.push(performance.now() - t0);
      } catch (error) {
        failures++;
        firstFailure ??= error;
        if (t.mode === 'refresh') holders[i] = (await flow(t)).tokens.refresh_token; // a fresh family, so the loop goes on
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => worker(i)));
  const elapsed = (performance.now() - started) / 1000;
  lat.sort((a, b) => a - b);
  const pct = (p) => (lat.length === 0 ? null : +lat[Math.min(lat.length - 1, Math.ceil((p / 100) * lat.length) - 1)].toFixed(3));
  return { req_per_s: +(lat.length / elapsed).toFixed(1), latency_p50_ms: pct(50), latency_p99_ms: pct(99), total_responses: lat.length, non2xx: failures, errors: 0, duration_s: +elapsed.toFixed(2) };
}

if (t.warmup > 0) await run(Number(t.warmup), false);
process.stdout.write('# ready\n');
const rl = createInterface({ input: process.stdin });
await new Promise((resolve) => rl.once('line', resolve));
rl.close();
const stats = await run(Number(t.duration), true);
if (firstFailure !== undefined) process.stderr.write(`${t.label}: first failure: ${firstFailure.message ?? firstFailure}\n`);
process.stdout.write(JSON.stringify({ kind: 'load', label: t.label, tool: `bench/flow-load.mjs (${t.mode})`, mode: t.mode, url: t.mode === 'code' ? t.authorizeUrl : t.tokenUrl, connections: concurrency, duration_s_requested: Number(t.duration), warmup_s: Number(t.warmup), ...stats }) + '\n');
process.exit(stats.non2xx ? 2 : 0);
