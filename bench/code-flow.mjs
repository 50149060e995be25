#!/usr/bin/env node
// Load driver of bench/code-flow.sh: the OpenID Connect authorization code flow end to end, as many
// fresh browsers at once, against each target in turn (round-robin) for ROUNDS rounds.
//
// One flow = a new cookie jar (no session reuse) → GET the authorization URL (response_type=code,
// scope=openid, state, nonce, PKCE S256) → follow the server's redirects → the sign-in page →
// POST user name + password → the consent page → POST Allow → the redirect to redirect_uri with
// code, state and iss → POST the token request (client_secret_basic, code_verifier) → the answer
// must have an access_token and an id_token. Every flow checks state, iss and the token response;
// the first flow of every target and of every round also verifies the ID token (signature against
// the target's JWKS, iss, aud, exp, nonce, at_hash).
//
// Usage: node bench/code-flow.mjs <targets.json>   (written by bench/code-flow.sh)
//   targets.json: {"rounds","duration","warmup","concurrency","results","targets":[{label,issuer,
//   authorizeUrl,tokenUrl,jwksUrl,clientId,clientSecret,redirectUri,userName,password}]}
// Exit code: 0 when every flow succeeded, 1 when one failed (the first failure is printed).
import { appendFileSync, readFileSync } from 'node:fs';
import { cpuMs, flow, verifyIdToken } from './oidc-flow.mjs';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { rounds, duration, warmup, concurrency, results, targets } = config;

/** Runs flows on `concurrency` workers for `seconds`; flows started before the end are finished. */
async function run(t, seconds, verifyFirst) {
  const cpuBefore = cpuMs(t.pid);
  const durations = [];
  let requests = 0;
  let failure;
  let verified = false;
  const started = performance.now();
  const end = started + seconds * 1000;
  const worker = async () => {
    while (failure === undefined && performance.now() < end) {
      const t0 = performance.now();
      try {
        const result = await flow(t);
        if (verifyFirst && !verified) {
          verified = true;
          await verifyIdToken(t, result);
        }
        durations.push(performance.now() - t0);
        requests += result.requests;
      } catch (error) {
        failure ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (performance.now() - started) / 1000;
  const cpuAfter = cpuMs(t.pid);
  const measured = cpuBefore !== undefined && cpuAfter !== undefined && durations.length > 0;
  const perFlow = (k) => (measured ? +((cpuAfter[k] - cpuBefore[k]) / durations.length).toFixed(1) : undefined);
  durations.sort((a, b) => a - b);
  const pct = (p) => (durations.length === 0 ? NaN : durations[Math.min(durations.length - 1, Math.ceil((p / 100) * durations.length) - 1)]);
  return {
    flows: durations.length, elapsed_s: +elapsed.toFixed(3), flows_per_s: +(durations.length / elapsed).toFixed(2),
    p50_ms: +pct(50).toFixed(1), p99_ms: +pct(99).toFixed(1), requests_per_flow: durations.length ? +(requests / durations.length).toFixed(1) : 0,
    server_cpu_ms_per_flow: perFlow('process'), event_loop_cpu_ms_per_flow: perFlow('loop'),
    server_cpu_share: measured ? +((cpuAfter.process - cpuBefore.process) / 1000 / elapsed).toFixed(2) : undefined,
    failure: failure === undefined ? undefined : String(failure.message ?? failure),
  };
}

// ---- the run -----------------------------------------------------------------------------------
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
let failed = false;
for (const t of targets) {
  try {
    const sample = await flow(t);
    const { header, claims } = await verifyIdToken(t, sample);
    console.log(`${t.label}: sanity flow ok, ${sample.requests} HTTP requests; ID token ${JSON.stringify(header)} ${JSON.stringify(claims)}`);
  } catch (error) {
    console.error(`${t.label}: sanity flow FAILED: ${error.message ?? error}`);
    process.exit(1);
  }
}
const rows = [];
for (let r = 1; r <= rounds && !failed; r++) {
  for (const t of targets) {
    if (warmup > 0) {
      const w = await run(t, warmup, false);
      if (w.failure !== undefined) {
        console.error(`round ${r} ${t.label} warm-up: a flow FAILED: ${w.failure}`);
        failed = true;
        break;
      }
    }
    const m = await run(t, duration, true);
    const row = { kind: 'code-flow', round: r, label: t.label, concurrency, duration_s_requested: duration, warmup_s: warmup, ...m };
    rows.push(row);
    appendFileSync(results, JSON.stringify(row) + '\n');
    console.log(`round ${r} ${t.label.padEnd(14)} ${String(m.flows_per_s).padStart(7)} flows/s  p50 ${m.p50_ms} ms  p99 ${m.p99_ms} ms  (${m.flows} flows, ${m.requests_per_flow} requests each; server CPU ${m.server_cpu_ms_per_flow} ms per flow (event loop ${m.event_loop_cpu_ms_per_flow}), ${m.server_cpu_share} cores)${m.failure ? `  FAILED: ${m.failure}` : ''}`);
    if (m.failure !== undefined) {
      failed = true;
      break;
    }
  }
}

const [ours, peer] = targets.map((t) => rows.filter((row) => row.label === t.label));
if (ours.length > 0 && peer.length > 0) {
  console.log(`\n| target (${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC, ${ours.length} rounds, ${concurrency} flows in flight) | flows/s | p50 ms | p99 ms | server CPU ms per flow (all threads) | event-loop CPU ms per flow | HTTP requests per flow | flows/s per round |`);
  console.log('|:---|---:|---:|---:|---:|---:|---:|:---|');
  for (const [t, rs] of [[targets[0], ours], [targets[1], peer]]) {
    console.log(`| ${t.description ?? t.label} | ${med(rs.map((x) => x.flows_per_s))} | ${med(rs.map((x) => x.p50_ms))} | ${med(rs.map((x) => x.p99_ms))} | ${med(rs.map((x) => x.server_cpu_ms_per_flow ?? NaN))} | ${med(rs.map((x) => x.event_loop_cpu_ms_per_flow ?? NaN))} | ${rs[0].requests_per_flow} | ${rs.map((x) => x.flows_per_s).join(' / ')} |`);
  }
  const perRound = ours.slice(0, peer.length).map((o, i) => (o.flows_per_s / peer[i].flows_per_s).toFixed(2));
  const overall = med(ours.map((x) => x.flows_per_s)) / med(peer.map((x) => x.flows_per_s));
  console.log(`\n${targets[0].label} / ${targets[1].label}: ${overall.toFixed(2)}x overall (medians), per round ${perRound.map((x) => `${x}x`).join(', ')}   (raw: ${results})`);
  for (const [key, what] of [['server_cpu_ms_per_flow', 'server CPU per flow (all threads)'], ['event_loop_cpu_ms_per_flow', 'event-loop CPU per flow (all but the password hash)']]) {
    const ratio = med(peer.map((x) => x[key] ?? NaN)) / med(ours.map((x) => x[key] ?? NaN));
    if (Number.isFinite(ratio)) console.log(`${what}, ${targets[1].label} / ${targets[0].label}: ${ratio.toFixed(2)}x (per round ${ours.slice(0, peer.length).map((o, i) => `${(peer[i][key] / o[key]).toFixed(2)}x`).join(', ')})`);
  }
}
process.exit(failed ? 1 : 0);
