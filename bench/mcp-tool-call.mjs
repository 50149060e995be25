#!/usr/bin/env node
// Load driver of bench/mcp-tool-call.sh: MCP tools/call requests (JSON-RPC over the Streamable
// HTTP transport, stateless, JSON responses) against two hosted MCP servers on one Latchkey, the
// same tool on each: one requires a bearer token (validated as on every hosted API), the other has
// requiresAuthentication false. Alternates the two for ROUNDS rounds of WARMUP s (discarded) +
// DURATION s with CONCURRENCY requests in flight on keep-alive connections. Every answer must be
// HTTP 200 with a JSON-RPC result (a refusal or error counts as a failure and ends the run).
//
// Usage: node bench/mcp-tool-call.mjs <config.json>   (written by bench/mcp-tool-call.sh)
//   config.json: {"rounds","duration","warmup","concurrency","results","targets":[{label,url,token}]}
// Prints one line per round and target, then a table with the medians and the ratio.
import { appendFileSync, readFileSync } from 'node:fs';
import http from 'node:http';

const config = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const { rounds, duration, warmup, concurrency, results, targets } = config;
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });

function callOnce(target, id) {
  const body = JSON.stringify({ jsonrpc: '2.0', id, method: 'tools/call', params: { name: 'ping', arguments: { n: id } } });
  const url = new URL(target.url);
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18', 'content-length': Buffer.byteLength(body) };
  if (target.token !== null) headers.authorization = `Bearer ${target.token}`;
  return new Promise((resolve, reject) => {
    const req = http.request({ agent, host: url.hostname, port: url.port, path: url.pathname, method: 'POST', headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        if (res.statusCode !== 200) return reject(new Error(`${target.label}: HTTP ${res.statusCode} ${text.slice(0, 300)}`));
        let parsed;
        try {
          parsed = JSON.parse(text);
        } catch {
          return reject(new Error(`${target.label}: not JSON: ${text.slice(0, 300)}`));
        }
        if (parsed.result?.structuredContent?.n !== id) return reject(new Error(`${target.label}: unexpected answer ${text.slice(0, 300)}`));
        resolve();
      });
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${target.label}: request timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** CONCURRENCY loops until `ms` is over; returns completed count and latencies (ms). */
async function run(target, ms) {
  const end = performance.now() + ms;
  const latencies = [];
  let next = 1;
  const loop = async () => {
    while (performance.now() < end) {
      const started = performance.now();
      await callOnce(target, next++);
      latencies.push(performance.now() - started);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return latencies;
}

const rows = [];
for (let r = 1; r <= rounds; r++) {
  for (const target of targets) {
    await run(target, warmup * 1000);
    const started = performance.now();
    const latencies = await run(target, duration * 1000);
    const seconds = (performance.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const row = { round: r, label: target.label, requests: latencies.length, req_per_s: Math.round(latencies.length / seconds), latency_p50_ms: +latencies[Math.floor(latencies.length * 0.5)].toFixed(2), latency_p99_ms: +latencies[Math.floor(latencies.length * 0.99)].toFixed(2) };
    rows.push(row);
    appendFileSync(results, `${JSON.stringify(row)}\n`);
    console.log(`round ${r} ${target.label}: ${row.req_per_s} req/s, p50 ${row.latency_p50_ms} ms, p99 ${row.latency_p99_ms} ms`);
  }
}
agent.destroy();
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor((s.length - 1) / 2)];
};
console.log('\n| tools/call | req/s (median) | p50 ms (median) | p99 ms (median) |\n|:--|--:|--:|--:|');
const medians = targets.map((t) => {
  const mine = rows.filter((row) => row.label === t.label);
  const rps = med(mine.map((row) => row.req_per_s));
  console.log(`| ${t.label} | ${rps} | ${med(mine.map((row) => row.latency_p50_ms))} | ${med(mine.map((row) => row.latency_p99_ms))} |`);
  return rps;
});
console.log(`\n${targets[0].label} / ${targets[1].label} = ${((100 * medians[0]) / medians[1]).toFixed(1)} %   (raw: ${results})`);
