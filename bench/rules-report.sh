#!/usr/bin/env bash
# The cost of a report-only rule on the hot path of a bearer-protected API, side by side: two
# Latchkey servers over their own fresh SQLite files, both pinned to one core (taskset -c 1), the
# shared load generator on the other (shared/bench/load.sh, GET + Bearer, one valid token each),
# measured in alternation for ROUNDS rounds on the same route (GET /api/bench/v1/whoami/auth):
#   none:   no rule
#   report: a report-only api_requirement on bench/whoami requiring a scope the token lacks, so
#           EVERY call matches it (the worst case): each is counted, a few a minute are kept with
#           their explanation (audit/would-refuse.ts), and every call still succeeds (non-2xx 0).
#
#   bash bench/rules-report.sh                 # 3 rounds x (3 s warm-up + 10 s) per server
#   ROUNDS=1 bash bench/rules-report.sh        # quick look
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC_BENCH="${BENCH_DIR:-$ROOT/../shared/bench}"
WORK="${BENCH_WORK:-/tmp/latchkey-bench}"
PORT_NONE="${PORT_NONE:-4030}"; PORT_REPORT="${PORT_REPORT:-4031}"
ROUNDS="${ROUNDS:-3}"; DURATION="${DURATION:-10}"; WARMUP="${WARMUP:-3}"; CONNECTIONS="${CONNECTIONS:-50}"
[ -f "$SRC_BENCH/load.sh" ] || { echo "load.sh not found in $SRC_BENCH (set BENCH_DIR)" >&2; exit 1; }
[ -f "$ROOT/dist/src/cli/main.js" ] || (cd "$ROOT" && npm run build)
mkdir -p "$WORK"
if [ ! -f "$WORK/harness/load.sh" ]; then cp -r "$SRC_BENCH" "$WORK/harness" && chmod -R u+w "$WORK/harness"; fi
[ -d "$WORK/harness/node_modules" ] || (cd "$WORK/harness" && npm ci --no-audit --no-fund >/dev/null)

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -- "-$p" 2>/dev/null || kill "$p" 2>/dev/null || true; done
  rm -f "$WORK"/rules-$$-*.db*
}
trap cleanup EXIT

declare -A PORT TOKEN DB
PORT[none]="$PORT_NONE"; PORT[report]="$PORT_REPORT"
for mode in none report; do
  db="$WORK/rules-$$-$mode.db"; DB[$mode]="$db"
  node "$ROOT/bench/seed.mjs" "$db" >"$WORK/rules-$$-$mode.creds"
  if [ "$mode" = report ]; then
    # The rule, through the registry as the CLI and the admin API add it (report mode).
    node --input-type=module -e '
      import { openStorage } from "'"$ROOT"'/dist/src/storage/open.js";
      import { createScope } from "'"$ROOT"'/dist/src/registry/scopes.js";
      import { createRule } from "'"$ROOT"'/dist/src/registry/rules.js";
      import { BUILT_IN_GRANTS } from "'"$ROOT"'/dist/src/grants/index.js";
      const storage = await openStorage(process.argv[1]);
      const deps = { storage, clock: { now: () => Date.now() }, grants: BUILT_IN_GRANTS, actor: "bench" };
      await createScope(deps, "bench.admin", "A scope the benchmark token lacks");
      const rule = await createRule(deps, { kind: "api_requirement", target: "bench/whoami", scopes: ["bench.admin"] });
      console.log("# report: rule " + rule.id + " (" + rule.mode + ") requires bench.admin on bench/whoami");
      await storage.close();
    ' "$db"
  fi
  (cd "$ROOT" && LATCHKEY_LOG_LEVEL=warn LATCHKEY_DB="$db" exec setsid taskset -c 1 node bin/latchkey.js serve --port "${PORT[$mode]}" --apis bench/apis) >"$WORK/rules-server-$mode.log" 2>&1 &
  PIDS+=($!)
done
for mode in none report; do
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:${PORT[$mode]}/healthz" && break; sleep 0.1; done
  creds="$(cat "$WORK/rules-$$-$mode.creds")"
  id="$(node -e 'console.log(JSON.parse(process.argv[1]).clientId)' "$creds")"
  secret="$(node -e 'console.log(JSON.parse(process.argv[1]).clientSecret)' "$creds")"
  TOKEN[$mode]="$(curl -s -u "$id:$secret" -d grant_type=client_credentials "http://127.0.0.1:${PORT[$mode]}/oauth_token.do" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0)).access_token)')"
done

RESULTS="$WORK/rules-report-$(date -u +%Y%m%dT%H%M%SZ).jsonl"
for r in $(seq "$ROUNDS"); do
  for mode in none report; do
    line="$(taskset -c 0 "$WORK/harness/load.sh" --mode bearer --token "${TOKEN[$mode]}" --url "http://127.0.0.1:${PORT[$mode]}/api/bench/v1/whoami/auth" -c "$CONNECTIONS" -d "$DURATION" -w "$WARMUP" 2>/dev/null | tail -1)"
    echo "{\"round\":$r,\"mode\":\"$mode\",\"load\":$line}" >> "$RESULTS"
    echo "round $r $mode: $(node -e 'const l=JSON.parse(process.argv[1]); console.log(l.req_per_s+" req/s p99 "+l.latency_p99_ms+" ms non2xx "+l.non2xx)' "$line")"
  done
done
# What the report-only server kept: records one by one (bounded a minute), every match counted.
node --input-type=module -e '
  import { openStorage } from "'"$ROOT"'/dist/src/storage/open.js";
  const storage = await openStorage(process.argv[1]);
  const kept = await storage.refusals.list({ outcome: "would_refuse", limit: 100000 });
  console.log("# report: would-refuse records kept one by one: " + kept.length + " (" + [...new Set(kept.map((r) => r.reason))].join(", ") + ")");
  await storage.close();
' "${DB[report]}"
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map(JSON.parse);
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor((s.length - 1) / 2)]; };
const by = (m) => rows.filter((r) => r.mode === m).map((r) => r.load);
const none = by("none"), report = by("report");
const o = med(none.map((l) => l.req_per_s)), n = med(report.map((l) => l.req_per_s));
console.log("\n| server | req/s (median) | p99 ms (median) | non-2xx | req/s per round |\n|:--|--:|--:|--:|:--|");
for (const [name, ls] of [["no rule", none], ["report-only rule matching every call", report]]) {
  console.log(`| ${name} | ${med(ls.map((l) => l.req_per_s))} | ${med(ls.map((l) => l.latency_p99_ms))} | ${ls.reduce((s, l) => s + l.non2xx + l.errors, 0)} | ${ls.map((l) => Math.round(l.req_per_s)).join(" / ")} |`);
}
const per = report.map((l, i) => (100 * l.req_per_s / none[i].req_per_s).toFixed(1));
console.log(`\nreport / none = ${(100 * n / o).toFixed(1)} % (per round ${per.join(" %, ")} %); cost ${(100 - 100 * n / o).toFixed(1)} %   (raw: ${process.argv[1]})`);
' "$RESULTS"
