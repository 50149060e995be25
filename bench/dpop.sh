#!/usr/bin/env bash
# DPoP (RFC 9449) cost, in one run: DPoP-bound client credentials against the same without DPoP on
# Latchkey, against oidc-provider 9.13.3's DPoP client credentials (and its plain ones), and a
# DPoP-protected hosted API call against the same call with a bearer token.
#
# Both servers are started here, each one Node process pinned to SERVER_CORE (default 1) with
# taskset; the driver (bench/dpop.mjs) runs on LOAD_CORE (default 0), signs a fresh ES256 proof for
# every DPoP request (new jti: both servers refuse a replayed proof), and drives one target at a
# time, alternating, for ROUNDS rounds of WARMUP s (discarded) + DURATION s with CONCURRENCY
# requests in flight on keep-alive connections.
#   ours: Latchkey on a fresh SQLite file (bench/seed.mjs: a client-credentials application, opaque
#         tokens, every token and every proof's jti committed), hosted API bench/apis (whoami).
#   peer: bench/peer-dpop.mjs, oidc-provider from the shared harness's peer-oidc-provider with
#         features.dPoP on (in-memory adapter: tokens and jti records not durable).
#
#   bash bench/dpop.sh                        # 3 rounds x 6 targets x (3 s + 10 s), about 4 min
#   ROUNDS=1 DURATION=5 bash bench/dpop.sh    # quick look
#
# Exit code: non-zero when a request failed (the driver prints it).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_BENCH="${BENCH_DIR:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-$(dirname "$(mktemp -u)")/latchkey-bench}"
OURS_PORT="${OURS_PORT:-4050}"; PEER_PORT="${PEER_PORT:-3920}"
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-10}"; WARMUP="${WARMUP:-3}"; CONCURRENCY="${CONCURRENCY:-32}"
SERVER_CORE="${SERVER_CORE:-1}"; LOAD_CORE="${LOAD_CORE:-0}"
PEER_CLIENT_ID="bench-client"; PEER_CLIENT_SECRET="bench-secret-0123456789abcdef"

for port in "$OURS_PORT" "$PEER_PORT"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "port $port is already in use" >&2; exit 1; fi
done
[ -f "$ROOT/dist/src/cli/main.js" ] || (cd "$ROOT" && npm run build)
# shared/ is read-only: use a writable copy, with oidc-provider installed there once.
mkdir -p "$WORK"
if [ ! -f "$WORK/harness/peer-oidc-provider/package.json" ]; then
  [ -f "$SRC_BENCH/peer-oidc-provider/package.json" ] || { echo "the shared harness is not in $SRC_BENCH (set BENCH_DIR)" >&2; exit 1; }
  cp -r "$SRC_BENCH" "$WORK/harness" && chmod -R u+w "$WORK/harness"
fi
[ -d "$WORK/harness/peer-oidc-provider/node_modules/oidc-provider" ] || (cd "$WORK/harness/peer-oidc-provider" && npm ci --no-audit --no-fund >/dev/null)

STAMP="$(date -u +%Y%m%dT%H%M%SZ)"
DB="$WORK/dpop-$$.db"
rm -f "$DB" "$DB-wal" "$DB-shm"
CREDS="$(node "$ROOT/bench/seed.mjs" "$DB")"
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$CREDS" "$1"; }
(cd "$ROOT" && LATCHKEY_LOG_LEVEL=warn LATCHKEY_DB="$DB" exec setsid taskset -c "$SERVER_CORE" node bin/latchkey.js serve --port "$OURS_PORT" --apis bench/apis) >"$WORK/dpop-ours-$STAMP.log" 2>&1 &
OURS=$!
(PORT="$PEER_PORT" OIDC_PROVIDER_DIR="$WORK/harness/peer-oidc-provider" BENCH_CLIENT_ID="$PEER_CLIENT_ID" BENCH_CLIENT_SECRET="$PEER_CLIENT_SECRET" \
  exec setsid taskset -c "$SERVER_CORE" node "$ROOT/bench/peer-dpop.mjs") >"$WORK/dpop-peer-$STAMP.log" 2>&1 &
PEER=$!
cleanup() {
  kill -TERM -- "-$OURS" 2>/dev/null || kill "$OURS" 2>/dev/null || true
  kill -TERM -- "-$PEER" 2>/dev/null || kill "$PEER" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$OURS" 2>/dev/null || kill -0 "$PEER" 2>/dev/null || break; sleep 0.1; done
  rm -f "$DB" "$DB-wal" "$DB-shm" "${CONFIG:-}"
}
trap cleanup EXIT
ready() { for _ in $(seq 150); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "not ready: $1 (logs in $WORK)" >&2; return 1; }
ready "http://127.0.0.1:$OURS_PORT/healthz"
ready "http://127.0.0.1:$PEER_PORT/.well-known/openid-configuration"

RESULTS="$WORK/dpop-$STAMP.jsonl"
CONFIG="$WORK/dpop-$STAMP.json"
node -e '
const [oursPort, peerPort, id, secret, peerId, peerSecret, rounds, duration, warmup, concurrency, results] = process.argv.slice(1);
const basic = (a, b) => "Basic " + Buffer.from(`${encodeURIComponent(a)}:${encodeURIComponent(b)}`).toString("base64");
const ours = `http://127.0.0.1:${oursPort}`, peer = `http://127.0.0.1:${peerPort}`;
const api = `${ours}/api/bench/v1/whoami/auth`;
console.log(JSON.stringify({ rounds: +rounds, duration: +duration, warmup: +warmup, concurrency: +concurrency, results, targets: [
  { id: "ours-cc-dpop", label: "Latchkey client credentials, DPoP", kind: "token", url: `${ours}/oauth_token.do`, dpop: true, basic: basic(id, secret) },
  { id: "ours-cc", label: "Latchkey client credentials, Bearer", kind: "token", url: `${ours}/oauth_token.do`, dpop: false, basic: basic(id, secret) },
  { id: "peer-cc-dpop", label: "oidc-provider client credentials, DPoP", kind: "token", url: `${peer}/token`, dpop: true, basic: basic(peerId, peerSecret) },
  { id: "peer-cc", label: "oidc-provider client credentials, Bearer", kind: "token", url: `${peer}/token`, dpop: false, basic: basic(peerId, peerSecret) },
  { id: "ours-api-dpop", label: "Latchkey hosted API call, DPoP", kind: "api", url: api, tokenUrl: `${ours}/oauth_token.do`, dpop: true, basic: basic(id, secret) },
  { id: "ours-api", label: "Latchkey hosted API call, Bearer", kind: "api", url: api, tokenUrl: `${ours}/oauth_token.do`, dpop: false, basic: basic(id, secret) },
], ratios: [
  ["ours-cc-dpop", "peer-cc-dpop", "Latchkey DPoP client credentials / oidc-provider DPoP client credentials"],
  ["ours-cc-dpop", "ours-cc", "Latchkey DPoP client credentials / Latchkey Bearer client credentials"],
  ["peer-cc-dpop", "peer-cc", "oidc-provider DPoP / oidc-provider Bearer"],
  ["ours-cc", "peer-cc", "Latchkey Bearer client credentials / oidc-provider Bearer"],
  ["ours-api-dpop", "ours-api", "Latchkey DPoP API call / Latchkey Bearer API call"],
] }));
' "$OURS_PORT" "$PEER_PORT" "$(field clientId)" "$(field clientSecret)" "$PEER_CLIENT_ID" "$PEER_CLIENT_SECRET" "$ROUNDS" "$DURATION" "$WARMUP" "$CONCURRENCY" "$RESULTS" > "$CONFIG"

echo "dpop: ours http://127.0.0.1:$OURS_PORT, peer http://127.0.0.1:$PEER_PORT, both on core $SERVER_CORE; driver on core $LOAD_CORE; $ROUNDS rounds x ($WARMUP s + $DURATION s), $CONCURRENCY requests in flight"
set +e
(cd "$ROOT" && taskset -c "$LOAD_CORE" node bench/dpop.mjs "$CONFIG")
status=$?
set -e
for pid in "$OURS" "$PEER"; do
  hwm="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
  [ -n "$hwm" ] && echo "peak RSS (VmHWM) of $([ "$pid" = "$OURS" ] && echo ours || echo peer): $((hwm / 1024)) MiB"
done
exit $status
