#!/usr/bin/env bash
# Runs the shared side-by-side benchmark (shared/bench/compare.sh) with Latchkey added as "ours":
# client_credentials with durable opaque tokens in a fresh SQLite file, one Node process pinned to
# one core like every other target.
#
#   bash bench/compare-ours.sh                 # 3 rounds (about 3 minutes)
#   ROUNDS=1 bash bench/compare-ours.sh        # quick look
#   BENCH_DIR=/path/to/shared/bench bash bench/compare-ours.sh
#   FORMAT=jwt TARGETS="jwt ours" bash bench/compare-ours.sh   # ours issuing ES256 JWT access tokens
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_BENCH="${BENCH_DIR:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-/tmp/latchkey-bench}"
PORT="${OURS_PORT:-4000}"

[ -f "$SRC_BENCH/compare.sh" ] || { echo "compare.sh not found in $SRC_BENCH (set BENCH_DIR)" >&2; exit 1; }
[ -f "$ROOT/dist/src/cli/main.js" ] || (cd "$ROOT" && npm run build)

# shared/ is read-only: run a writable copy (node_modules are installed there once).
mkdir -p "$WORK"
if [ ! -f "$WORK/harness/compare.sh" ]; then
  cp -r "$SRC_BENCH" "$WORK/harness" && chmod -R u+w "$WORK/harness"
fi

DB="$WORK/bench-$$.db"
rm -f "$DB" "$DB-wal" "$DB-shm"
CREDS="$(node "$ROOT/bench/seed.mjs" "$DB" --format "${FORMAT:-opaque}")"
CLIENT_ID="$(node -e 'console.log(JSON.parse(process.argv[1]).clientId)' "$CREDS")"
CLIENT_SECRET="$(node -e 'console.log(JSON.parse(process.argv[1]).clientSecret)' "$CREDS")"

export OURS_URL="http://127.0.0.1:$PORT/oauth_token.do"
export OURS_CLIENT_ID="$CLIENT_ID"
export OURS_CLIENT_SECRET="$CLIENT_SECRET"
export OURS_CMD="cd '$ROOT' && LATCHKEY_LOG_LEVEL=warn LATCHKEY_DB='$DB' exec node bin/latchkey.js serve --port $PORT"
# Peak memory: sample the server's high-water RSS (VmHWM) once a second while the run lasts.
PEAK_FILE="$WORK/peak-rss-$$.txt"
: > "$PEAK_FILE"
(
  while sleep 1; do
    pid="$(pgrep -f "latchkey.js serve --port $PORT" | head -1 || true)"
    [ -n "$pid" ] && awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null >> "$PEAK_FILE"
  done
) &
SAMPLER=$!
set +e
"$WORK/harness/compare.sh" "$@"
status=$?
set -e
kill "$SAMPLER" 2>/dev/null || true
peak_kb="$(sort -n "$PEAK_FILE" | tail -1)"
[ -n "$peak_kb" ] && echo "ours: peak RSS $((peak_kb / 1024)) MiB (VmHWM)"
rm -f "$PEAK_FILE"
rm -f "$DB" "$DB-wal" "$DB-shm"
exit $status
