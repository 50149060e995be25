#!/usr/bin/env bash
# Introspection (RFC 7662) throughput: one Latchkey pinned to core 1, autocannon on core 0, the
# same active token introspected over and over by a resource-server application, for ROUNDS
# rounds; FORMAT=opaque (default) or jwt. The peer (oidc-provider) is configured without
# introspection in the shared harness, so this records our figure on its own.
#
#   bash bench/introspect.sh                  # 3 rounds x (3 s warm-up + 10 s)
#   FORMAT=jwt ROUNDS=1 bash bench/introspect.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_BENCH="${BENCH_DIR:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-/tmp/latchkey-bench}"
PORT="${OURS_PORT:-4020}"
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-10}"; WARMUP="${WARMUP:-3}"; CONNECTIONS="${CONNECTIONS:-50}"
[ -f "$ROOT/dist/src/cli/main.js" ] || (cd "$ROOT" && npm run build)
mkdir -p "$WORK"
if [ ! -f "$WORK/harness/load.sh" ]; then cp -r "$SRC_BENCH" "$WORK/harness" && chmod -R u+w "$WORK/harness"; fi
[ -d "$WORK/harness/node_modules" ] || (cd "$WORK/harness" && npm ci --no-audit --no-fund >/dev/null)

DB="$WORK/introspect-bench-$$.db"
rm -f "$DB"*
CREDS="$(node "$ROOT/bench/seed.mjs" "$DB" --format "${FORMAT:-opaque}")"
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$CREDS" "$1"; }
(cd "$ROOT" && LATCHKEY_LOG_LEVEL=warn LATCHKEY_DB="$DB" exec setsid taskset -c 1 node bin/latchkey.js serve --port "$PORT") >"$WORK/introspect-bench-server.log" 2>&1 &
SERVER=$!
trap 'kill -- -$SERVER 2>/dev/null || kill $SERVER 2>/dev/null; rm -f "$DB"*' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.1; done
TOKEN="$(curl -s -u "$(field clientId):$(field clientSecret)" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth_token.do" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).access_token)')"
RESULTS="$WORK/introspect-bench-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
NODE_PATH="$WORK/harness/node_modules" taskset -c 0 node --input-type=module - "http://127.0.0.1:$PORT/oauth/introspect" "$(field introspectorId)" "$(field introspectorSecret)" "$TOKEN" "$ROUNDS" "$DURATION" "$WARMUP" "$CONNECTIONS" "$RESULTS" <<'JS'
import { createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
const require = createRequire(process.env.NODE_PATH + '/');
const autocannon = require('autocannon');
const [url, id, secret, token, rounds, duration, warmup, connections, results] = process.argv.slice(2);
const request = {
  method: 'POST',
  headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
};
const sample = await (await fetch(url, request)).json();
if (sample.active !== true) throw new Error(`the token does not introspect as active: ${JSON.stringify(sample)}`);
const run = (seconds) => new Promise((resolve, reject) => autocannon({ url, connections: Number(connections), duration: seconds, ...request }, (e, r) => (e ? reject(e) : resolve(r))));
const rows = [];
for (let r = 1; r <= Number(rounds); r++) {
  if (Number(warmup) > 0) await run(Number(warmup));
  const res = await run(Number(duration));
  const row = { round: r, req_per_s: res.requests.average, p50_ms: res.latency.p50, p99_ms: res.latency.p99, non2xx: res.non2xx, errors: res.errors + res.timeouts };
  rows.push(row);
  appendFileSync(results, JSON.stringify(row) + '\n');
  console.log(`round ${r}: ${row.req_per_s} req/s, p50 ${row.p50_ms} ms, p99 ${row.p99_ms} ms, non-2xx ${row.non2xx}, errors ${row.errors}`);
}
const med = (a) => [...a].sort((x, y) => x - y)[Math.floor((a.length - 1) / 2)];
console.log(`\nintrospection: ${med(rows.map((r) => r.req_per_s))} req/s (median of ${rows.length}), p99 ${med(rows.map((r) => r.p99_ms))} ms, non-2xx ${rows.reduce((s, r) => s + r.non2xx, 0)}   (raw: ${results})`);
JS
