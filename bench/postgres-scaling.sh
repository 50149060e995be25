#!/usr/bin/env bash
# Client-credentials throughput on PostgreSQL: one Latchkey instance, then two instances over the
# same database, beside the oidc-provider opaque peer measured in the same run with the same load
# generator (shared/bench/load.sh, autocannon).
#
#   bash bench/postgres-scaling.sh           # ROUNDS=3 DURATION=10 WARMUP=3 CONNECTIONS=50
#
# Placement on this 2-core machine: the peer and the single instance are pinned to core 1 with the
# load generator on core 0 (as in compare.sh); PostgreSQL is not pinned. For two instances nothing
# is pinned: two instances, PostgreSQL and the two load generators (25 connections each) share both
# cores, which is what "two instances on this machine" means.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_BENCH="${BENCH_DIR:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-/tmp/latchkey-bench}"
ADMIN_URL="${LATCHKEY_BENCH_PG:-postgres://postgres@127.0.0.1:5432/postgres}"
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-10}"; WARMUP="${WARMUP:-3}"; CONNECTIONS="${CONNECTIONS:-50}"
PEER_PORT=3931; A_PORT=4020; B_PORT=4021
[ -f "$ROOT/dist/src/cli/main.js" ] || (cd "$ROOT" && npm run build)
mkdir -p "$WORK"
if [ ! -f "$WORK/harness/load.sh" ]; then cp -r "$SRC_BENCH" "$WORK/harness" && chmod -R u+w "$WORK/harness"; fi
[ -d "$WORK/harness/node_modules" ] || (cd "$WORK/harness" && npm ci --no-audit --no-fund >/dev/null)
[ -d "$WORK/harness/peer-oidc-provider/node_modules" ] || (cd "$WORK/harness/peer-oidc-provider" && npm ci --no-audit --no-fund >/dev/null)

DBNAME="latchkey_bench_$$"
DB_URL="${ADMIN_URL%/*}/$DBNAME"
psql "$ADMIN_URL" -qc "CREATE DATABASE $DBNAME" >/dev/null
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  sleep 0.5
  psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS $DBNAME WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

CREDS="$(node "$ROOT/bench/seed.mjs" "$DB_URL")"
ID="$(node -e 'console.log(JSON.parse(process.argv[1]).clientId)' "$CREDS")"
SECRET="$(node -e 'console.log(JSON.parse(process.argv[1]).clientSecret)' "$CREDS")"

wait_port() { for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 did not open" >&2; exit 1; }
start() { # port pin...
  local port="$1"; shift
  (cd "$ROOT" && LATCHKEY_LOG_LEVEL=warn LATCHKEY_DB="$DB_URL" exec setsid "$@" node bin/latchkey.js serve --port "$port") >"$WORK/pg-bench-$port.log" 2>&1 &
  PIDS+=("$!"); wait_port "$port"
}
(cd "$WORK/harness/peer-oidc-provider" && PORT=$PEER_PORT TOKEN_FORMAT=opaque exec setsid taskset -c 1 node server.mjs) >"$WORK/pg-bench-peer.log" 2>&1 &
PIDS+=("$!"); wait_port $PEER_PORT

load() { # url id secret connections pin...
  local url="$1" id="$2" secret="$3" c="$4"; shift 4
  "$@" "$WORK/harness/load.sh" --url "$url" --client-id "$id" --client-secret "$secret" -c "$c" -d "$DURATION" -w "$WARMUP" 2>/dev/null | tail -1
}
RESULTS="$WORK/pg-scaling-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
for r in $(seq "$ROUNDS"); do
  line="$(load "http://127.0.0.1:$PEER_PORT/token" bench-client bench-secret-0123456789abcdef "$CONNECTIONS" taskset -c 0)"
  echo "{\"round\":$r,\"target\":\"peer\",\"loads\":[$line]}" >> "$RESULTS"
  start $A_PORT taskset -c 1
  line="$(load "http://127.0.0.1:$A_PORT/oauth_token.do" "$ID" "$SECRET" "$CONNECTIONS" taskset -c 0)"
  echo "{\"round\":$r,\"target\":\"one\",\"loads\":[$line]}" >> "$RESULTS"
  kill -- "-${PIDS[-1]}"; unset 'PIDS[-1]'; sleep 0.5
  start $A_PORT; start $B_PORT
  half=$((CONNECTIONS / 2))
  load "http://127.0.0.1:$A_PORT/oauth_token.do" "$ID" "$SECRET" "$half" > "$WORK/pg-a.json" &
  la=$!
  load "http://127.0.0.1:$B_PORT/oauth_token.do" "$ID" "$SECRET" "$half" > "$WORK/pg-b.json"
  wait "$la"
  echo "{\"round\":$r,\"target\":\"two\",\"loads\":[$(cat "$WORK/pg-a.json"),$(cat "$WORK/pg-b.json")]}" >> "$RESULTS"
  for _ in 1 2; do kill -- "-${PIDS[-1]}"; unset 'PIDS[-1]'; done; sleep 0.5
  echo "round $r done"
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };
const sum = (r) => r.loads.reduce((s, l) => s + l.req_per_s, 0);
const bad = (r) => r.loads.reduce((s, l) => s + l.non2xx + l.errors, 0);
const of = (t) => rows.filter((r) => r.target === t);
const fig = (t) => ({ rps: med(of(t).map(sum)), p99: med(of(t).map((r) => Math.max(...r.loads.map((l) => l.latency_p99_ms)))), bad: of(t).reduce((s, r) => s + bad(r), 0), per: of(t).map((r) => Math.round(sum(r))).join(" / ") });
const p = fig("peer"), one = fig("one"), two = fig("two");
console.log("\n| target | req/s (median) | p99 ms | non-2xx + errors | req/s per round |\n|:--|--:|--:|--:|:--|");
console.log(`| oidc-provider opaque (in-memory) | ${Math.round(p.rps)} | ${p.p99} | ${p.bad} | ${p.per} |`);
console.log(`| Latchkey, 1 instance, PostgreSQL | ${Math.round(one.rps)} | ${one.p99} | ${one.bad} | ${one.per} |`);
console.log(`| Latchkey, 2 instances, PostgreSQL | ${Math.round(two.rps)} | ${two.p99} | ${two.bad} | ${two.per} |`);
console.log(`\n1 instance / peer = ${(one.rps / p.rps).toFixed(2)}x; 2 instances / peer = ${(two.rps / p.rps).toFixed(2)}x; scaling 2/1 = ${(two.rps / one.rps).toFixed(2)}x   (raw: ${process.argv[1]})`);
' "$RESULTS"
