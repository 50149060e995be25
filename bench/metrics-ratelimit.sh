#!/usr/bin/env bash
# The cost of /metrics and rate limiting at the token endpoint, side by side: two Latchkey servers
# over their own fresh SQLite files, both pinned to one core (taskset -c 1), the shared load
# generator on the other (shared/bench/load.sh, client_credentials, durable opaque tokens),
# measured in alternation for ROUNDS rounds:
#   off: latchkey.metrics.enabled false, no rate limit (the instance defaults)
#   on:  /metrics served and scraped every SCRAPE_S seconds (as Prometheus would), a rate limit per
#        application and per source address counted on every request (limits high enough that
#        nothing is refused: the cost measured is the counting)
# The per-request metric counters (a few integer adds, ~20 ns) run in both: they are not switchable.
#
#   bash bench/metrics-ratelimit.sh                 # 3 rounds x (3 s warm-up + 10 s) per server
#   ROUNDS=1 bash bench/metrics-ratelimit.sh        # quick look
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_BENCH="${BENCH_DIR:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-/tmp/latchkey-bench}"
PORT_OFF="${PORT_OFF:-4020}"; PORT_ON="${PORT_ON:-4021}"
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-10}"; WARMUP="${WARMUP:-3}"; CONNECTIONS="${CONNECTIONS:-50}"; SCRAPE_S="${SCRAPE_S:-5}"
[ -f "$SRC_BENCH/load.sh" ] || { echo "load.sh not found in $SRC_BENCH (set BENCH_DIR)" >&2; exit 1; }
[ -f "$ROOT/dist/src/cli/main.js" ] || (cd "$ROOT" && npm run build)
mkdir -p "$WORK"
if [ ! -f "$WORK/harness/load.sh" ]; then cp -r "$SRC_BENCH" "$WORK/harness" && chmod -R u+w "$WORK/harness"; fi
[ -d "$WORK/harness/node_modules" ] || (cd "$WORK/harness" && npm ci --no-audit --no-fund >/dev/null)

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  rm -f "$WORK"/mrl-$$-*.db*
}
trap cleanup EXIT

declare -A ID SECRET PORT
PORT[off]="$PORT_OFF"; PORT[on]="$PORT_ON"
for mode in off on; do
  db="$WORK/mrl-$$-$mode.db"
  creds="$(node "$ROOT/bench/seed.mjs" "$db")"
  ID[$mode]="$(node -e 'console.log(JSON.parse(process.argv[1]).clientId)' "$creds")"
  SECRET[$mode]="$(node -e 'console.log(JSON.parse(process.argv[1]).clientSecret)' "$creds")"
  set_prop() { node "$ROOT/bin/latchkey.js" properties set "$1" "$2" --db "$db" >/dev/null; }
  if [ "$mode" = off ]; then
    set_prop latchkey.metrics.enabled false
  else
    set_prop latchkey.rate_limit.client 100000000
    set_prop latchkey.rate_limit.address 100000000
  fi
  (cd "$ROOT" && LATCHKEY_LOG_LEVEL=warn LATCHKEY_DB="$db" exec setsid taskset -c 1 node bin/latchkey.js serve --port "${PORT[$mode]}") >"$WORK/mrl-server-$mode.log" 2>&1 &
  PIDS+=($!)
done
for mode in off on; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:${PORT[$mode]}/healthz" && break; sleep 0.1; done
done
# The scraper, on the load generator's core: what Prometheus does (default interval 15 s; 5 s here).
(while sleep "$SCRAPE_S"; do taskset -c 0 curl -s -o /dev/null "http://127.0.0.1:$PORT_ON/metrics" || true; done) &
PIDS+=($!)
sample="$(curl -s -i -u "${ID[on]}:${SECRET[on]}" -d grant_type=client_credentials "http://127.0.0.1:$PORT_ON/oauth_token.do" | tr -d '\r' | grep -i '^ratelimit-' | tr '\n' ' ')"
echo "# on: a token response carries: $sample"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT_OFF/metrics")" = 404 ] && echo "# off: /metrics answers 404"

RESULTS="$WORK/metrics-ratelimit-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
for r in $(seq "$ROUNDS"); do
  for mode in off on; do
    line="$(taskset -c 0 "$WORK/harness/load.sh" --url "http://127.0.0.1:${PORT[$mode]}/oauth_token.do" --client-id "${ID[$mode]}" --client-secret "${SECRET[$mode]}" -c "$CONNECTIONS" -d "$DURATION" -w "$WARMUP" 2>/dev/null | tail -1)"
    echo "{\"round\":$r,\"mode\":\"$mode\",\"load\":$line}" >> "$RESULTS"
    echo "round $r $mode: $(node -e 'const l=JSON.parse(process.argv[1]); console.log(l.req_per_s+" req/s p99 "+l.latency_p99_ms+" ms non2xx "+l.non2xx)' "$line")"
  done
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };
const by = (m) => rows.filter((r) => r.mode === m).map((r) => r.load);
const off = by("off"), on = by("on");
const o = med(off.map((l) => l.req_per_s)), n = med(on.map((l) => l.req_per_s));
console.log("\n| server | req/s (median) | p99 ms (median) | non-2xx | req/s per round |\n|:--|--:|--:|--:|:--|");
for (const [name, ls] of [["metrics off, no rate limit", off], ["/metrics scraped, rate limits counted", on]]) {
  console.log(`| ${name} | ${med(ls.map((l) => l.req_per_s))} | ${med(ls.map((l) => l.latency_p99_ms))} | ${ls.reduce((s, l) => s + l.non2xx + l.errors, 0)} | ${ls.map((l) => Math.round(l.req_per_s)).join(" / ")} |`);
}
const per = on.map((l, i) => (100 * l.req_per_s / off[i].req_per_s).toFixed(1));
console.log(`\non / off = ${(100 * n / o).toFixed(1)} % (per round ${per.join(" %, ")} %); cost ${(100 - 100 * n / o).toFixed(1)} %   (raw: ${process.argv[1]})`);
' "$RESULTS"
