#!/usr/bin/env node
// Load driver of bench/dpop.sh: DPoP (RFC 9449) against plain bearer, on Latchkey and on
// oidc-provider, in one run. Each target is one of
//   token: POST grant_type=client_credentials (client_secret_basic), with or without a DPoP proof;
//   api:   GET a hosted API route with `Authorization: DPoP <token>` + a proof (ath), or with
//          `Authorization: Bearer <token>`.
// Every DPoP request carries a fresh proof (new jti, current iat; ES256, one key per target), signed
// here with jose, as a real client does: the servers check the jti against their replay stores, so
// proofs cannot be reused. The signing is timed: the driver reports the share of its core it used,
// to show it was not the bottleneck.
//
// Answers are checked: a token target must return 200 with an access_token and the expected
// token_type (DPoP or Bearer); an api target must return 200. Anything else ends the run.
//
// Usage: node bench/dpop.mjs <config.json>   (written by bench/dpop.sh)
//   config.json: {"rounds","duration","warmup","concurrency","results","targets":[{label,kind,url,dpop,basic?,tokenUrl?}]}
// Prints one line per round and target, then a table with the medians and the ratios.
import { appendFileSync, readFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { rounds, duration, warmup, concurrency, results, targets } = config;
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

async function keyFor() {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk };
}

function proof(key, htm, htu, accessToken) {
  const payload = { jti: randomBytes(16).toString('base64url'), htm, htu, iat: Math.floor(Date.now() / 1000) };
  if (accessToken !== undefined) payload.ath = createHash('sha256').update(accessToken).digest('base64url');
  return new SignJWT(payload).setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk: key.jwk }).sign(key.privateKey);
}

function send(url, method, headers, body) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${url}: request timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

const FORM = 'grant_type=client_credentials';
async function tokenRequest(target, key) {
  const headers = { authorization: target.basic, 'content-type': 'application/x-www-form-urlencoded', 'content-length': FORM.length };
  if (key !== undefined) headers.dpop = await proof(key, 'POST', target.tokenUrl ?? target.url);
  const res = await send(target.tokenUrl ?? target.url, 'POST', headers, FORM);
  if (res.status !== 200) throw new Error(`${target.label}: HTTP ${res.status} ${res.text.slice(0, 300)}`);
  const body = JSON.parse(res.text);
  const expected = key === undefined ? 'bearer' : 'dpop';
  if (typeof body.access_token !== 'string' || String(body.token_type).toLowerCase() !== expected) {
    throw new Error(`${target.label}: expected a ${expected} token, got ${res.text.slice(0, 300)}`);
  }
  return body.access_token;
}

/** One request of a target; `state` holds its key and (api) its token. */
async function once(target, state) {
  if (target.kind === 'token') {
    await tokenRequest(target, state.key);
    return;
  }
  const headers = {};
  if (state.key === undefined) headers.authorization = `Bearer ${state.token}`;
  else {
    headers.authorization = `DPoP ${state.token}`;
    headers.dpop = await proof(state.key, 'GET', target.url, state.token);
  }
  const res = await send(target.url, 'GET', headers);
  if (res.status !== 200) throw new Error(`${target.label}: HTTP ${res.status} ${res.headers['www-authenticate'] ?? ''} ${res.text.slice(0, 300)}`);
}

async function prepare(target) {
  const key = target.dpop ? await keyFor() : undefined;
  const state = { key };
  if (target.kind === 'api') state.token = await tokenRequest({ ...target, url: target.tokenUrl }, key);
  await once(target, state); // sanity request
  return state;
}

async function run(target, state, ms) {
  const end = performance.now() + ms;
  const latencies = [];
  const loop = async () => {
    while (performance.now() < end) {
      const started = performance.now();
      await once(target, state);
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return latencies;
}

const states = new Map();
for (const target of targets) states.set(target, await prepare(target));

const rows = [];
for (let r = 1; r <= rounds; r++) {
  for (const target of targets) {
    const state = states.get(target);
    await run(target, state, warmup * 1000);
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    const latencies = await run(target, state, duration * 1000);
    const elapsed = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    latencies.sort((a, b) => a - b);
    const row = {
      round: r,
      label: target.label,
      requests: latencies.length,
      req_per_s: Math.round(latencies.length / (elapsed / 1000)),
      latency_p50_ms: +latencies[Math.floor(latencies.length * 0.5)].toFixed(2),
      latency_p99_ms: +latencies[Math.floor(latencies.length * 0.99)].toFixed(2),
      driver_cpu_pct: Math.round((100 * (cpu.user + cpu.system)) / 1000 / elapsed),
    };
    rows.push(row);
    appendFileSync(results, `${JSON.stringify(row)}\n`);
    console.log(`round ${r} ${target.label}: ${row.req_per_s} req/s, p50 ${row.latency_p50_ms} ms, p99 ${row.latency_p99_ms} ms (driver CPU ${row.driver_cpu_pct} %)`);
  }
}
agent.destroy();

const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor((s.length - 1) / 2)];
};
const median = new Map();
console.log('\n| target | req/s (median) | p50 ms | p99 ms | driver CPU % |\n|:--|--:|--:|--:|--:|');
for (const t of targets) {
  const mine = rows.filter((row) => row.label === t.label);
  const rps = med(mine.map((row) => row.req_per_s));
  median.set(t.id, rps);
  console.log(`| ${t.label} | ${rps} | ${med(mine.map((row) => row.latency_p50_ms))} | ${med(mine.map((row) => row.latency_p99_ms))} | ${med(mine.map((row) => row.driver_cpu_pct))} |`);
}
console.log('');
for (const [a, b, what] of config.ratios ?? []) {
  if (median.has(a) && median.has(b)) console.log(`${what}: ${(median.get(a) / median.get(b)).toFixed(2)}x (${median.get(a)} / ${median.get(b)} req/s)`);
}
console.log(`\n(raw: ${results})`);
