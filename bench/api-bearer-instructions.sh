#!/usr/bin/env bash
# What bearer validation costs a hosted API call, in CPU instructions (valgrind's callgrind counts
# them: the same total for the same work, whatever else the machine is doing, where req/s on this
# VM drifts by 10-20 % between runs a minute apart). One server runs under callgrind with
# instrumentation off; after a warm-up (JIT) of WARMUP calls per route, each route is counted for
# CALLS calls, alternating, ROUNDS times, with the counters zeroed before each; the main thread's
# instructions are counted (the event loop, where every request runs). Routes (bench/apis):
# whoami (its answer names the caller, so the authenticated one is longer) and ping (the same body
# for everyone: the two differ only in authentication).
#
#   bash bench/api-bearer-instructions.sh          # about 3 minutes; needs valgrind (apt-get install valgrind)
#   ROUNDS=3 CALLS=2000 WARMUP=4000 CONCURRENCY=10
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ROUNDS="${ROUNDS:-3}"; CALLS="${CALLS:-2000}"; WARMUP="${WARMUP:-4000}"; CONCURRENCY="${CONCURRENCY:-10}"
PORT="${OURS_PORT:-4011}"
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install -y valgrind)" >&2; exit 1; }
[ -f "$ROOT/dist/src/cli/main.js" ] || (cd "$ROOT" && npm run build)
WORK="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-instr-XXXXXX")"
DB="$WORK/api.db"
CREDS="$(node "$ROOT/bench/seed.mjs" "$DB")"
ID="$(node -e 'console.log(JSON.parse(process.argv[1]).clientId)' "$CREDS")"
SECRET="$(node -e 'console.log(JSON.parse(process.argv[1]).clientSecret)' "$CREDS")"
(cd "$ROOT" && LATCHKEY_LOG_LEVEL=warn LATCHKEY_DB="$DB" MALLOC_ARENA_MAX=1 exec setsid valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes \
  --callgrind-out-file="$WORK/callgrind.out" node --max-semi-space-size=8 bin/latchkey.js serve --port "$PORT" --apis bench/apis) >"$WORK/server.log" 2>&1 &
SERVER=$!
trap 'kill -- -$SERVER 2>/dev/null || kill $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 240); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.5; done
curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" || { echo "the server did not start under valgrind:" >&2; tail -20 "$WORK/server.log" >&2; exit 1; }
TOKEN="$(curl -s -u "$ID:$SECRET" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth_token.do" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).access_token)')"
API="http://127.0.0.1:$PORT/api/bench/v1/whoami"
calls() { node "$ROOT/bench/fixed-calls.mjs" "$1" "$2" "$CONCURRENCY" "${3:-}"; }
VG="$(pgrep -f "callgrind-out-file=$WORK/callgrind.out" | head -1)"
echo "warm-up: $WARMUP calls per route (not counted)"
for route in auth open ping-auth ping-open; do calls "$API/$route" "$WARMUP" "$([ "${route%open}" = "$route" ] && echo "Bearer $TOKEN")" >/dev/null; done
callgrind_control -i on "$VG" >/dev/null 2>&1
n=0
declare -A SUM
for r in $(seq "$ROUNDS"); do
  for route in open auth ping-open ping-auth; do
    callgrind_control -z "$VG" >/dev/null 2>&1
    calls "$API/$route" "$CALLS" "$([ "${route%open}" = "$route" ] && echo "Bearer $TOKEN")" >/dev/null
    n=$((n + 1))
    callgrind_control -d "r$r-$route" "$VG" >/dev/null 2>&1
    # The main thread's count (thread 1): V8's compiler and GC helper threads and libuv's pool run
    # on their own clocks and would add whatever they happened to do during the window.
    file="$(ls -t "$WORK"/callgrind.out.*-01 | head -1)"
    total="$(awk '/^summary:/ {print $2; exit}' "$file")"
    per=$((total / CALLS))
    SUM[$route]="${SUM[$route]:-} $per"
    echo "round $r  $route  $per instructions per call"
  done
done
median() { tr ' ' '\n' | grep -v '^$' | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for pair in "whoami:auth:open" "ping:ping-auth:ping-open"; do
  IFS=: read -r name a o <<<"$pair"
  ma="$(echo "${SUM[$a]}" | median)"; mo="$(echo "${SUM[$o]}" | median)"
  node -e "const [n,a,o]=process.argv.slice(1).map((x,i)=>i?Number(x):x); console.log(\`\${n}: bearer \${a} vs open \${o} instructions per call (medians of $ROUNDS): bearer costs +\${a-o} (+\${((a/o-1)*100).toFixed(1)} %); at equal instructions per second that is \${(o/a*100).toFixed(1)} % of the open route's rate\`)" "$name" "$ma" "$mo"
done
