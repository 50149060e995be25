#!/usr/bin/env bash
# A tools/call through a hosted MCP server with bearer validation, against the same tool on a
# hosted MCP server with requiresAuthentication false, requests per second side by side in one run.
# One Latchkey (SQLite, bench/apis: bench/apis/mcp-bench.mjs) pinned to SERVER_CORE with taskset;
# the driver (bench/mcp-tool-call.mjs) on LOAD_CORE, alternating the two servers for ROUNDS rounds
# of WARMUP s (discarded) + DURATION s, CONCURRENCY requests in flight. The token is an opaque
# client-credentials token (bench/seed.mjs), validated on every call (cached after the first, as
# in production).
#
#   bash bench/mcp-tool-call.sh                      # 3 rounds x 2 x (3 s + 10 s), about 80 s
#   ROUNDS=1 DURATION=5 bash bench/mcp-tool-call.sh  # quick look
#
# Exit code: non-zero when a call failed (the driver prints it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
WORK="${BENCH_WORK:-$(dirname "$(mktemp -u)")/latchkey-bench}"
PORT="${OURS_PORT:-4040}"
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-10}"; WARMUP="${WARMUP:-3}"; CONCURRENCY="${CONCURRENCY:-32}"
SERVER_CORE="${SERVER_CORE:-1}"; LOAD_CORE="${LOAD_CORE:-0}"
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then echo "port $PORT is already in use" >&2; exit 1; fi
[ -f "$ROOT/dist/src/cli/main.js" ] || (cd "$ROOT" && npm run build)
mkdir -p "$WORK"
DB="$WORK/mcp-bench-$$.db"
rm -f "$DB"*
CREDS="$(node "$ROOT/bench/seed.mjs" "$DB")"
ID="$(node -e 'console.log(JSON.parse(process.argv[1]).clientId)' "$CREDS")"
SECRET="$(node -e 'console.log(JSON.parse(process.argv[1]).clientSecret)' "$CREDS")"
(cd "$ROOT" && LATCHKEY_LOG_LEVEL=warn LATCHKEY_DB="$DB" exec setsid taskset -c "$SERVER_CORE" node bin/latchkey.js serve --port "$PORT" --apis bench/apis) >"$WORK/mcp-bench-server.log" 2>&1 &
SERVER=$!
trap 'kill -- -$SERVER 2>/dev/null || kill $SERVER 2>/dev/null; rm -f "$DB"* "$CONFIG"' EXIT
CONFIG="$WORK/mcp-bench-$$.json"
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.1; done
TOKEN="$(curl -s -u "$ID:$SECRET" -d grant_type=client_credentials "http://127.0.0.1:$PORT/oauth_token.do" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).access_token)')"
RESULTS="$WORK/mcp-bench-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
node -e '
const [rounds, duration, warmup, concurrency, results, port, token] = process.argv.slice(1);
process.stdout.write(JSON.stringify({ rounds: +rounds, duration: +duration, warmup: +warmup, concurrency: +concurrency, results, targets: [
  { label: "bearer (requiresAuthentication true)", url: `http://127.0.0.1:${port}/mcp/bench/tools`, token },
  { label: "no authentication", url: `http://127.0.0.1:${port}/mcp/bench/tools-open`, token: null },
] }));
' "$ROUNDS" "$DURATION" "$WARMUP" "$CONCURRENCY" "$RESULTS" "$PORT" "$TOKEN" > "$CONFIG"
taskset -c "$LOAD_CORE" node "$ROOT/bench/mcp-tool-call.mjs" "$CONFIG"
