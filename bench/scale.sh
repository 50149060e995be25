#!/usr/bin/env bash
# Cost flat with size: the same workloads against a fresh database and one holding COUNT stored
# tokens (bench/seed-tokens.mjs), alternating in the same run: client-credentials issuance
# (opaque), introspection of a token, and an API call with a bearer token (bench/apis). Each
# server is pinned to core 1 and the load generator (shared harness load.sh, autocannon) to core 0.
#
#   bash bench/scale.sh                               # SQLite, 10 million tokens, 2 rounds x 5 s
#   STORAGE=postgres bash bench/scale.sh
#   BIG_DB=/path/big.db bash bench/scale.sh           # reuse a seeded database (credentials in BIG_DB.creds.json)
#
# Environment: STORAGE (sqlite|postgres), COUNT (10000000), ROUNDS (2), DURATION (5), WARMUP (2),
# CONNECTIONS (50), BIG_DB (reuse: a SQLite file or PostgreSQL URL seeded before, kept afterwards).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_BENCH="${BENCH_DIR:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-/tmp/latchkey-bench}"
STORAGE="${STORAGE:-sqlite}"; COUNT="${COUNT:-10000000}"
ROUNDS="${ROUNDS:-2}"; DURATION="${DURATION:-5}"; WARMUP="${WARMUP:-2}"; CONNECTIONS="${CONNECTIONS:-50}"
ADMIN_URL="${LATCHKEY_BENCH_PG:-postgres://postgres@127.0.0.1:5432/postgres}"
PORT="${OURS_PORT:-4030}"
[ -f "$ROOT/dist/src/cli/main.js" ] || (cd "$ROOT" && npm run build)
mkdir -p "$WORK"
if [ ! -f "$WORK/harness/load.sh" ]; then cp -r "$SRC_BENCH" "$WORK/harness" && chmod -R u+w "$WORK/harness"; fi
[ -d "$WORK/harness/node_modules" ] || (cd "$WORK/harness" && npm ci --no-audit --no-fund >/dev/null)

SERVER=""; DROP=()
cleanup() {
  [ -n "$SERVER" ] && { kill -- "-$SERVER" 2>/dev/null || kill "$SERVER" 2>/dev/null || true; }
  sleep 0.3
  for d in "${DROP[@]}"; do
    case "$d" in
      postgres*) psql "$ADMIN_URL" -qc "DROP DATABASE IF EXISTS ${d##*/} WITH (FORCE)" >/dev/null 2>&1 || true ;;
      *) rm -f "$d" "$d"-wal "$d"-shm "$d".creds.json ;;
    esac
  done
}
trap cleanup EXIT

new_db() { # name -> a fresh, migrated, seeded database location
  if [ "$STORAGE" = postgres ]; then
    local name="latchkey_scale_$1_$$"
    psql "$ADMIN_URL" -qc "CREATE DATABASE $name" >/dev/null
    echo "${ADMIN_URL%/*}/$name"
  else
    local f="$WORK/scale-$1-$$.db"; rm -f "$f"*; echo "$f"
  fi
}
FRESH="$(new_db fresh)"; DROP+=("$FRESH")
node "$ROOT/bench/seed.mjs" "$FRESH" > "$WORK/scale-fresh-$$.creds.json"
if [ -n "${BIG_DB:-}" ]; then
  BIG="$BIG_DB"; BIG_CREDS="$BIG_DB.creds.json"
  [ -f "$BIG_CREDS" ] || { echo "BIG_DB needs its credentials in $BIG_CREDS (the output of bench/seed.mjs)" >&2; exit 2; }
else
  BIG="$(new_db big)"; DROP+=("$BIG"); BIG_CREDS="$WORK/scale-big-$$.creds.json"
  node "$ROOT/bench/seed.mjs" "$BIG" > "$BIG_CREDS"
  echo "seeding $COUNT tokens..." >&2
  node "$ROOT/bench/seed-tokens.mjs" --db "$BIG" --count "$COUNT" 2>/dev/null >&2
fi
field() { node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"))[process.argv[2]])' "$1" "$2"; }

start() { # db
  (cd "$ROOT" && LATCHKEY_LOG_LEVEL=warn LATCHKEY_DB="$1" exec setsid taskset -c 1 node bin/latchkey.js serve --port "$PORT" --apis bench/apis) >"$WORK/scale-server.log" 2>&1 &
  SERVER=$!
  for _ in $(seq 200); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return 0; sleep 0.1; done
  echo "the server did not start: $(tail -5 "$WORK/scale-server.log")" >&2; exit 1
}
stop() { kill -- "-$SERVER" 2>/dev/null || kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""; sleep 0.3; }

RESULTS="$WORK/scale-$STORAGE-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
measure() { # target db creds
  local target="$1" db="$2" creds="$3" id secret token line
  id="$(field "$creds" clientId)"; secret="$(field "$creds" clientSecret)"
  start "$db"
  line="$(taskset -c 0 "$WORK/harness/load.sh" --url "http://127.0.0.1:$PORT/oauth_token.do" --client-id "$id" --client-secret "$secret" -c "$CONNECTIONS" -d "$DURATION" -w "$WARMUP" 2>/dev/null | tail -1)"
  echo "{\"round\":$r,\"target\":\"$target\",\"workload\":\"issue\",\"load\":$line}" >> "$RESULTS"
  token="$(curl -s -u "$id:$secret" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth_token.do" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).access_token)')"
  line="$(NODE_PATH="$WORK/harness/node_modules" taskset -c 0 node --input-type=module - "http://127.0.0.1:$PORT/oauth/introspect" "$(field "$creds" introspectorId)" "$(field "$creds" introspectorSecret)" "$token" "$DURATION" "$WARMUP" "$CONNECTIONS" <<'JS'
import { createRequire } from 'node:module';
const require = createRequire(process.env.NODE_PATH + '/');
const autocannon = require('autocannon');
const [url, id, secret, token, duration, warmup, connections] = process.argv.slice(2);
const request = {
  method: 'POST',
  headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
};
const sample = await (await fetch(url, request)).json();
if (sample.active !== true) throw new Error(`the token does not introspect as active: ${JSON.stringify(sample)}`);
const run = (seconds) => new Promise((resolve, reject) => autocannon({ url, connections: Number(connections), duration: seconds, ...request }, (e, r) => (e ? reject(e) : resolve(r))));
if (Number(warmup) > 0) await run(Number(warmup));
const res = await run(Number(duration));
console.log(JSON.stringify({ req_per_s: res.requests.average, latency_p50_ms: res.latency.p50, latency_p99_ms: res.latency.p99, non2xx: res.non2xx, errors: res.errors + res.timeouts }));
JS
)"
  echo "{\"round\":$r,\"target\":\"$target\",\"workload\":\"introspect\",\"load\":$line}" >> "$RESULTS"
  line="$(taskset -c 0 "$WORK/harness/load.sh" --mode bearer --token "$token" --url "http://127.0.0.1:$PORT/api/bench/v1/whoami/auth" -c "$CONNECTIONS" -d "$DURATION" -w "$WARMUP" 2>/dev/null | tail -1)"
  echo "{\"round\":$r,\"target\":\"$target\",\"workload\":\"bearer\",\"load\":$line}" >> "$RESULTS"
  stop
  echo "round $r $target done" >&2
}
for r in $(seq "$ROUNDS"); do
  # Alternate which goes first, so neither always runs on a warmer (or busier) machine.
  if [ $((r % 2)) = 1 ]; then measure fresh "$FRESH" "$WORK/scale-fresh-$$.creds.json"; measure big "$BIG" "$BIG_CREDS"
  else measure big "$BIG" "$BIG_CREDS"; measure fresh "$FRESH" "$WORK/scale-fresh-$$.creds.json"; fi
done
rm -f "$WORK/scale-fresh-$$.creds.json"
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };
const of = (t, w) => rows.filter((r) => r.target === t && r.workload === w).map((r) => r.load);
console.log(`\n${process.argv[2]}, ${process.argv[3]} stored tokens vs a fresh database (median of rounds)\n`);
console.log("| workload | fresh req/s | big req/s | big / fresh | fresh p99 ms | big p99 ms | non-2xx + errors | per round fresh / big |\n|:--|--:|--:|--:|--:|--:|--:|:--|");
for (const w of ["issue", "introspect", "bearer"]) {
  const f = of("fresh", w), b = of("big", w);
  const fr = med(f.map((l) => l.req_per_s)), br = med(b.map((l) => l.req_per_s));
  const bad = [...f, ...b].reduce((s, l) => s + l.non2xx + l.errors, 0);
  console.log(`| ${w} | ${Math.round(fr)} | ${Math.round(br)} | ${(br / fr).toFixed(3)} | ${med(f.map((l) => l.latency_p99_ms))} | ${med(b.map((l) => l.latency_p99_ms))} | ${bad} | ${f.map((l) => Math.round(l.req_per_s)).join(" ")} / ${b.map((l) => Math.round(l.req_per_s)).join(" ")} |`);
}
console.log(`\n(raw: ${process.argv[1]})`);
' "$RESULTS" "$STORAGE" "$COUNT"
