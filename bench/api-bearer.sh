#!/usr/bin/env bash
# Bearer validation cost on an API: the same handler with a valid opaque bearer token and with
# authentication switched off, on one server pinned to one core, load generator on the other,
# alternating for ROUNDS rounds. Uses the shared load generator (shared/bench/load.sh).
#
#   bash bench/api-bearer.sh            # 3 rounds x (3 s warm-up + 10 s)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_BENCH="${BENCH_DIR:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-/tmp/latchkey-bench}"
PORT="${OURS_PORT:-4010}"
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-10}"; WARMUP="${WARMUP:-3}"; CONNECTIONS="${CONNECTIONS:-50}"
[ -f "$ROOT/dist/src/cli/main.js" ] || (cd "$ROOT" && npm run build)
mkdir -p "$WORK"
if [ ! -f "$WORK/harness/load.sh" ]; then cp -r "$SRC_BENCH" "$WORK/harness" && chmod -R u+w "$WORK/harness"; fi
[ -d "$WORK/harness/node_modules" ] || (cd "$WORK/harness" && npm ci --no-audit --no-fund >/dev/null)

DB="$WORK/api-bench-$$.db"
rm -f "$DB"*
CREDS="$(node "$ROOT/bench/seed.mjs" "$DB")"
ID="$(node -e 'console.log(JSON.parse(process.argv[1]).clientId)' "$CREDS")"
SECRET="$(node -e 'console.log(JSON.parse(process.argv[1]).clientSecret)' "$CREDS")"
(cd "$ROOT" && LATCHKEY_LOG_LEVEL=warn LATCHKEY_DB="$DB" exec setsid taskset -c 1 node bin/latchkey.js serve --port "$PORT" --apis bench/apis) >"$WORK/api-bench-server.log" 2>&1 &
SERVER=$!
trap 'kill -- -$SERVER 2>/dev/null || kill $SERVER 2>/dev/null; rm -f "$DB"*' EXIT
for _ in $(seq 50); do curl -s "http://127.0.0.1:$PORT/api/bench/whoami/open" >/dev/null && break; sleep 0.1; done
TOKEN="$(curl -s -u "$ID:$SECRET" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth_token.do" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).access_token)')"
RESULTS="$WORK/api-bench-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
for r in $(seq "$ROUNDS"); do
  for mode in open bearer; do
    if [ "$mode" = open ]; then
      args=(--mode bearer --token none --url "http://127.0.0.1:$PORT/api/bench/v1/whoami/open")
    else
      args=(--mode bearer --token "$TOKEN" --url "http://127.0.0.1:$PORT/api/bench/v1/whoami/auth")
    fi
    line="$(taskset -c 0 "$WORK/harness/load.sh" "${args[@]}" -c "$CONNECTIONS" -d "$DURATION" -w "$WARMUP" 2>/dev/null | tail -1)"
    echo "{\"round\":$r,\"route\":\"$mode\",\"load\":$line}" >> "$RESULTS"
    echo "round $r $mode: $(node -e 'const l=JSON.parse(process.argv[1]); console.log(l.req_per_s+" req/s p99 "+l.latency_p99_ms+" ms non2xx "+l.non2xx)' "$line")"
  done
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };
const by = (m) => rows.filter((r) => r.route === m).map((r) => r.load);
const open = by("open"), bearer = by("bearer");
const o = med(open.map((l) => l.req_per_s)), b = med(bearer.map((l) => l.req_per_s));
console.log("\n| route | req/s (median) | p99 ms (median) | non-2xx |\n|:--|--:|--:|--:|");
console.log(`| auth off | ${o} | ${med(open.map((l) => l.latency_p99_ms))} | ${open.reduce((s, l) => s + l.non2xx, 0)} |`);
console.log(`| valid bearer | ${b} | ${med(bearer.map((l) => l.latency_p99_ms))} | ${bearer.reduce((s, l) => s + l.non2xx, 0)} |`);
console.log(`\nbearer / auth off = ${(100 * b / o).toFixed(1)} %   (raw: ${process.argv[1]})`);
' "$RESULTS"
