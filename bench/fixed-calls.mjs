#!/usr/bin/env node
// N GET requests to one URL over keep-alive connections, CONCURRENCY at a time; exits non-zero if
// any answer is not 200 (a counted run must not measure refusals).
//   node bench/fixed-calls.mjs <url> <n> <concurrency> [authorization]
import http from 'node:http';

const [url, nText, concText, authorization] = process.argv.slice(2);
const n = Number(nText);
const concurrency = Number(concText);
if (!url || !(n > 0) || !(concurrency > 0)) {
  console.error('Usage: node bench/fixed-calls.mjs <url> <n> <concurrency> [authorization]');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const headers = authorization ? { authorization } : {};
let sent = 0;
let bad = 0;
let firstBad;
const one = () =>
  new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) {
          bad++;
          firstBad ??= `${res.statusCode} ${Buffer.concat(chunks).toString('utf8').slice(0, 300)}`;
        }
        resolve();
      });
    });
    req.on('error', reject);
  });
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (sent < n) {
    sent++;
    await one();
  }
}));
agent.destroy();
if (bad > 0) {
  console.error(`${bad} of ${n} answers were not 200; the first: ${firstBad}`);
  process.exit(1);
}
console.log(`${n} calls to ${url}: all 200`);
