#!/usr/bin/env bash
# The benchmark suite (npm run bench): every operation measured side by side with a peer target
# and a raw-HTTP floor in the same run, at a fresh database and at 10 million stored tokens, and
# the generated sections of docs/benchmarks.md and docs/sizing.md rewritten from the run.
#
# Operations (ours / peer / floor in one table each):
#   token issuance, client_credentials, opaque and JWT (ES256): Latchkey on SQLite and on PostgreSQL
#     (one instance, a throwaway database) / oidc-provider 9.13.3 (harness peer) / raw node:http
#   introspection (RFC 7662): Latchkey / oidc-provider with introspection on (bench/peer-introspect.mjs)
#   a bearer-protected hosted API call: Latchkey with a valid token / the same route unauthenticated
#     (bench/apis whoami, whose answer names the caller, and ping, the same answer for everyone)
#   the authorization code flow end to end: Latchkey / oidc-provider (bench/peer-code-flow.mjs)
#   refresh-token rotation: Latchkey / oidc-provider with rotateRefreshToken and offline_access
# Every server is a fresh Node process pinned to SERVER_CORE (taskset); the load generator is pinned
# to LOAD_CORE; targets run round-robin, ROUNDS rounds; medians are reported with every round.
#
# Environment (defaults):
#   ROUNDS=3            rounds per target (the committed doc wants at least 3)
#   DURATION=10         measured seconds per run        WARMUP=3   warm-up seconds (discarded)
#   CONNECTIONS=50      connections (fixed requests; refresh: virtual clients)
#   FLOW_CONCURRENCY=8  code flows in flight
#   SIZES="fresh 10m"   database sizes; 10m needs bench/seed-tokens.mjs
#   TOKENS_10M=10000000 tokens seeded for the 10m size (into one SQLite and one PostgreSQL database)
#   PROFILE=1           one extra --cpu-prof run per Latchkey target (PROFILE_DURATION=5 s, not in
#                       the medians), summarised with bench/profile-summary.mjs
#   ONLY=<regex>        only the targets whose id matches (ids: floor, ours-cc-opaque-sqlite-fresh,
#                       peer-cc-jwt, ours-refresh-10m, … see bench/suite.mjs)
#   LOAD_TOOL=wrk       wrk -t1 (apt-get install -y wrk) or autocannon for fixed requests; the
#                       code flow and refresh use bench/flow-load.mjs (node fetch) either way
#   SERVER_CORE=1 LOAD_CORE=0  BENCH_WORK=$TMPDIR/latchkey-bench (raw JSONL, logs, profiles)
#   LATCHKEY_BENCH_PG=postgres://postgres@127.0.0.1:5432/postgres (admin URL: databases are created
#                       and dropped there)    BENCH_DIR=../shared/bench (the shared harness)
#   WRITE_DOCS=1        rewrite the generated sections (0: only the raw results)
#   SMOKE=1             label the generated section as a smoke run (implied by ROUNDS<3)
#   KEEP_DBS=1          keep the SQLite files of the run
#
#   bash bench/suite.sh                                   # the whole suite
#   ROUNDS=1 DURATION=3 WARMUP=1 SIZES=fresh bash bench/suite.sh    # a smoke run
#   node bench/suite-report.mjs <run folder>              # rewrite the docs from a finished run
set -euo pipefail
if [ "${1:-}" = --help ] || [ "${1:-}" = -h ]; then sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0; fi
[ $# -eq 0 ] || { echo "bench/suite.sh takes no arguments (see --help; settings are environment variables)" >&2; exit 2; }
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_BENCH="${BENCH_DIR:-$ROOT/../shared/bench}"
export BENCH_WORK="${BENCH_WORK:-$(dirname "$(mktemp -u)")/latchkey-bench}"
command -v taskset >/dev/null || { echo "taskset is needed (util-linux)" >&2; exit 1; }
[ "$(nproc)" -ge 2 ] || echo "# WARNING: fewer than 2 cores: server and load generator share a core" >&2
if [ "${LOAD_TOOL:-wrk}" = wrk ] && ! command -v wrk >/dev/null; then
  echo "wrk is not installed: apt-get install -y wrk (or LOAD_TOOL=autocannon, which saturates near 15-40k req/s on one core)" >&2; exit 1
fi
[ -f "$ROOT/dist/src/cli/main.js" ] && [ -z "${REBUILD:-}" ] || (cd "$ROOT" && npx tsc -p tsconfig.json)
# shared/ is read-only: a writable copy, with its dependencies installed there once.
mkdir -p "$BENCH_WORK"
export HARNESS="$BENCH_WORK/harness"
if [ ! -f "$HARNESS/load.mjs" ]; then
  [ -f "$SRC_BENCH/load.mjs" ] || { echo "the shared harness is not in $SRC_BENCH (set BENCH_DIR)" >&2; exit 1; }
  cp -r "$SRC_BENCH" "$HARNESS" && chmod -R u+w "$HARNESS"
fi
[ -d "$HARNESS/node_modules/autocannon" ] || (cd "$HARNESS" && npm ci --no-audit --no-fund >/dev/null)
[ -d "$HARNESS/peer-oidc-provider/node_modules/oidc-provider" ] || (cd "$HARNESS/peer-oidc-provider" && npm ci --no-audit --no-fund >/dev/null)
cd "$ROOT"
exec taskset -c "${LOAD_CORE:-0}" node bench/suite.mjs
