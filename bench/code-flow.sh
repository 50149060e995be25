#!/usr/bin/env bash
# The OpenID Connect authorization code flow end to end (authorize → sign-in → consent → code →
# token with ID token), flows per second, Latchkey against oidc-provider 9.13.3 in the same run.
#
# Both servers are started here, each one Node process pinned to SERVER_CORE (default 1) with
# taskset; the driver (bench/code-flow.mjs) runs on LOAD_CORE (default 0) and drives one server at
# a time, alternating, for ROUNDS rounds of WARMUP s (discarded) + DURATION s, with CONCURRENCY
# fresh browsers in flight (one flow each, no session reuse: every flow signs in).
#   ours: Latchkey on a fresh SQLite file, seeded by bench/seed-code-flow.mjs (a confidential
#         application: authorization_code, scope openid, one redirect URI; a user with a password).
#   peer: bench/peer-code-flow.mjs, oidc-provider from the shared harness's peer-oidc-provider,
#         with its own sign-in + consent pages and the same password hashing (scrypt N=2^14, r=8).
#
#   bash bench/code-flow.sh                       # 3 rounds x (3 s + 10 s) x 2 targets, about 1.5 min
#   ROUNDS=1 DURATION=5 bash bench/code-flow.sh   # quick look
#   CONCURRENCY=16 bash bench/code-flow.sh
#   OURS_PROF=1 PEER_PROF=1 bash bench/code-flow.sh   # also write CPU profiles (--cpu-prof) to $BENCH_WORK
#
# Exit code: non-zero when a flow failed (the driver prints the first failure).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_BENCH="${BENCH_DIR:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-$(dirname "$(mktemp -u)")/latchkey-bench}"   # $TMPDIR (or the system temp folder)/latchkey-bench
OURS_PORT="${OURS_PORT:-4030}"; PEER_PORT="${PEER_PORT:-3910}"
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-10}"; WARMUP="${WARMUP:-3}"; CONCURRENCY="${CONCURRENCY:-8}"
SERVER_CORE="${SERVER_CORE:-1}"; LOAD_CORE="${LOAD_CORE:-0}"
REDIRECT_URI="http://127.0.0.1:4999/callback"   # never listened on: the driver reads the code from the redirect
USER_NAME="bench-user"; PASSWORD="bench-user-password-0123"
PEER_CLIENT_ID="bench-rp"; PEER_CLIENT_SECRET="bench-rp-secret-0123456789abcdef"

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
DB="$WORK/code-flow-$$.db"
rm -f "$DB" "$DB-wal" "$DB-shm"
CREDS="$(node "$ROOT/bench/seed-code-flow.mjs" "$DB" "$REDIRECT_URI" "$USER_NAME" "$PASSWORD")"
field() { node -e 'console.log(JSON.parse(process.argv[1])[process.argv[2]])' "$CREDS" "$1"; }
KEK="$(node -e 'console.log(require("crypto").randomBytes(32).toString("base64url"))')"

OURS_FLAGS=()
[ "${OURS_PROF:-0}" = 1 ] && OURS_FLAGS=(--cpu-prof --cpu-prof-dir "$WORK/code-flow-prof-$STAMP/ours")
PEER_FLAGS=()
[ "${PEER_PROF:-0}" = 1 ] && PEER_FLAGS=(--cpu-prof --cpu-prof-dir "$WORK/code-flow-prof-$STAMP/peer")
(cd "$ROOT" && LATCHKEY_LOG_LEVEL=warn LATCHKEY_DB="$DB" LATCHKEY_KEY_ENCRYPTION_KEY="$KEK" \
  exec setsid taskset -c "$SERVER_CORE" node "${OURS_FLAGS[@]}" bin/latchkey.js serve --port "$OURS_PORT") >"$WORK/code-flow-ours-$STAMP.log" 2>&1 &
OURS=$!
(PORT="$PEER_PORT" OIDC_PROVIDER_DIR="$WORK/harness/peer-oidc-provider" BENCH_CLIENT_ID="$PEER_CLIENT_ID" BENCH_CLIENT_SECRET="$PEER_CLIENT_SECRET" \
  BENCH_REDIRECT_URI="$REDIRECT_URI" BENCH_USER="$USER_NAME" BENCH_PASSWORD="$PASSWORD" \
  exec setsid taskset -c "$SERVER_CORE" node "${PEER_FLAGS[@]}" "$ROOT/bench/peer-code-flow.mjs") >"$WORK/code-flow-peer-$STAMP.log" 2>&1 &
PEER=$!
cleanup() {
  # SIGTERM (not SIGKILL) so that --cpu-prof can write its profile on the way out.
  kill -TERM -- "-$OURS" 2>/dev/null || kill "$OURS" 2>/dev/null || true
  kill -TERM -- "-$PEER" 2>/dev/null || kill "$PEER" 2>/dev/null || true
  for _ in $(seq 50); do kill -0 "$OURS" 2>/dev/null || kill -0 "$PEER" 2>/dev/null || break; sleep 0.1; done
  rm -f "$DB" "$DB-wal" "$DB-shm"
}
trap cleanup EXIT
ready() { for _ in $(seq 150); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; echo "not ready: $1 (logs in $WORK)" >&2; return 1; }
ready "http://127.0.0.1:$OURS_PORT/healthz"
ready "http://127.0.0.1:$PEER_PORT/.well-known/openid-configuration"

RESULTS="$WORK/code-flow-$STAMP.jsonl"
CONFIG="$WORK/code-flow-$STAMP.json"
OURS_BASE="http://127.0.0.1:$OURS_PORT"; PEER_BASE="http://127.0.0.1:$PEER_PORT"
node -e '
const [oursPid, peerPid, ours, peer, id, secret, redirectUri, userName, password, peerId, peerSecret, rounds, duration, warmup, concurrency, results] = process.argv.slice(1);
const target = (label, description, pid, issuer, authorize, token, jwks, clientId, clientSecret) =>
  ({ label, description, pid: Number(pid), issuer, authorizeUrl: issuer + authorize, tokenUrl: issuer + token, jwksUrl: issuer + jwks, clientId, clientSecret, redirectUri, userName, password });
console.log(JSON.stringify({ rounds: +rounds, duration: +duration, warmup: +warmup, concurrency: +concurrency, results, targets: [
  target("latchkey", "**Latchkey** (SQLite: session, code, tokens committed)", oursPid, ours, "/oauth/authorize", "/oauth/token", "/oauth/jwks", id, secret),
  target("oidc-provider", "oidc-provider 9.13.3 (in-memory adapter, not durable)", peerPid, peer, "/auth", "/token", "/jwks", peerId, peerSecret),
] }));
' "$OURS" "$PEER" "$OURS_BASE" "$PEER_BASE" "$(field clientId)" "$(field clientSecret)" "$REDIRECT_URI" "$USER_NAME" "$PASSWORD" \
  "$PEER_CLIENT_ID" "$PEER_CLIENT_SECRET" "$ROUNDS" "$DURATION" "$WARMUP" "$CONCURRENCY" "$RESULTS" > "$CONFIG"

echo "code flow: ours $OURS_BASE, peer $PEER_BASE, both on core $SERVER_CORE; driver on core $LOAD_CORE; $ROUNDS rounds x ($WARMUP s + $DURATION s), $CONCURRENCY flows in flight"
set +e
(cd "$ROOT" && taskset -c "$LOAD_CORE" node bench/code-flow.mjs "$CONFIG")
status=$?
set -e
for pid in "$OURS" "$PEER"; do
  hwm="$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
  [ -n "$hwm" ] && echo "peak RSS (VmHWM) of $([ "$pid" = "$OURS" ] && echo ours || echo peer): $((hwm / 1024)) MiB"
done
[ "${OURS_PROF:-0}${PEER_PROF:-0}" != 00 ] && echo "CPU profiles: $WORK/code-flow-prof-$STAMP/ (written when the servers stop)"
exit $status
