#!/usr/bin/env node
// Runs every compiled *.test.js under dist/test with Node's test runner, one file at a time
// (integration tests start servers and share the machine's PostgreSQL and ports), in two passes:
//
//   1. sqlite:   the whole suite (LATCHKEY_TEST_STORAGE=sqlite). The storage contract suite runs
//                here against SQLite, memory and the machine's PostgreSQL (test/storage/*), as do
//                the PostgreSQL-only process tests (multi-instance, faults).
//   2. postgres: the integration files that start servers with test/helpers/server.ts
//                (startTestServer) again, with LATCHKEY_TEST_STORAGE=postgres: each test server on
//                its own throwaway PostgreSQL database.
//
// Node 20's `node --test` has no glob support, and given a folder it would also run helpers.
// Usage: node scripts/run-tests.mjs [--storage sqlite|postgres|both] [filter]
//   filter: substring of the file path, applied to both passes. Exit status is non-zero when any
//   pass that ran failed (or when nothing matched).
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const USAGE = 'Usage: node scripts/run-tests.mjs [--storage sqlite|postgres|both] [filter]';
const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'dist', 'test');

let storage = 'both';
let filter;
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  if (arg === '--storage' || arg.startsWith('--storage=')) {
    storage = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[++i];
    if (!['sqlite', 'postgres', 'both'].includes(storage ?? '')) {
      console.error(`--storage must be sqlite, postgres or both (got ${storage === undefined ? 'nothing' : `"${storage}"`}).\n${USAGE}`);
      process.exit(2);
    }
  } else if (arg === '--help' || arg === '-h') {
    console.log(USAGE);
    process.exit(0);
  } else if (arg.startsWith('--')) {
    console.error(`Unknown option ${arg}.\n${USAGE}`);
    process.exit(2);
  } else if (filter === undefined) {
    filter = arg;
  } else {
    console.error(`Only one filter is supported (got "${filter}" and "${arg}").\n${USAGE}`);
    process.exit(2);
  }
}

let all;
try {
  all = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.test.js')).sort();
} catch {
  all = [];
}
const matching = all.filter((f) => filter === undefined || f.includes(filter));

/**
 * A test file belongs to the PostgreSQL pass when it starts servers through
 * test/helpers/server.ts, whose storage follows LATCHKEY_TEST_STORAGE. Files that need SQLite
 * itself (reading the database file) pass `storage: 'sqlite'` to startTestServer.
 */
const usesTestServer = (f) => /\bstartTestServer\s*\(/.test(readFileSync(join(root, f), 'utf8'));

const passes = [];
if (storage !== 'postgres') passes.push({ name: 'sqlite', files: matching, what: 'the whole suite' });
if (storage !== 'sqlite') passes.push({ name: 'postgres', files: matching.filter(usesTestServer), what: 'the files that use startTestServer, each server on a throwaway PostgreSQL database' });

if (passes.every((p) => p.files.length === 0)) {
  console.error(`No test files found under ${relative(process.cwd(), root)}${filter ? ` matching "${filter}"` : ''}${storage === 'postgres' ? ' that use startTestServer' : ''}. Run npm run build first.`);
  process.exit(1);
}

const banner = (lines) => {
  const width = Math.max(...lines.map((l) => l.length)) + 4;
  const rule = '='.repeat(width);
  console.log(`\n${rule}\n${lines.map((l) => `  ${l}`).join('\n')}\n${rule}\n`);
};

/**
 * The failed tests of a TAP report (Node's tap reporter), deepest first: each `not ok` line with
 * the test names above it, and the error and location lines of its YAML block. A CI log is often
 * read from its end, so the summary names what failed without scrolling back through the run.
 */
const failuresOf = (tap) => {
  const lines = tap.split('\n');
  const stack = [];
  const failures = [];
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const m = /^(\s*)(# Subtest: |not ok \d+ - )(.*)$/.exec(line);
    if (!m) continue;
    const depth = m[1].length / 4;
    if (m[2] === '# Subtest: ') {
      stack.length = depth;
      stack[depth] = m[3];
      continue;
    }
    const detail = [];
    for (let j = i + 1; j < lines.length && !/^\s*\.\.\.\s*$/.test(lines[j]); j++) {
      const d = /^(\s*)(error|location|failureType|code): (.*)$/.exec(lines[j]);
      if (!d) continue;
      if (d[3] === '|-' || d[3] === '|') {
        // A block scalar: the message's first lines, indented deeper than its key.
        const text = [];
        for (let k = j + 1; k < lines.length && lines[k].startsWith(`${d[1]}  `) && text.length < 4; k++) text.push(lines[k].trim());
        detail.push(`${d[2]}: ${text.join(' ')}`);
      } else {
        detail.push(`${d[2]}: ${d[3]}`);
      }
    }
    // A suite fails when one of its tests does; report only the test itself.
    if (detail.some((d) => d === "failureType: 'subtestsFailed'")) continue;
    failures.push({ path: [...stack.slice(0, depth), m[3]].filter(Boolean).join(' › '), detail: detail.filter((d) => !d.startsWith('failureType')) });
  }
  return failures;
};

const results = [];
const reports = mkdtempSync(join(tmpdir(), 'latchkey-tests-'));
for (const pass of passes) {
  if (pass.files.length === 0) {
    banner([`Pass: LATCHKEY_TEST_STORAGE=${pass.name} — no matching files, skipped`]);
    results.push({ name: pass.name, status: 'skipped', files: 0, ms: 0 });
    continue;
  }
  banner([`Pass: LATCHKEY_TEST_STORAGE=${pass.name}`, `${pass.what}: ${pass.files.length} file(s)`]);
  console.log(`${pass.files.map((f) => `  ${f}`).join('\n')}\n`);
  const started = Date.now();
  const report = join(reports, `${pass.name}.tap`);
  const reporters = ['--test-reporter=tap', '--test-reporter-destination=stdout', '--test-reporter=tap', `--test-reporter-destination=${report}`];
  const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...reporters, ...pass.files.map((f) => join(root, f))], {
    stdio: 'inherit',
    env: { ...process.env, LATCHKEY_TEST_STORAGE: pass.name },
  });
  const ok = result.status === 0;
  let failures = [];
  try {
    failures = failuresOf(readFileSync(report, 'utf8'));
  } catch {
    // No report (the runner itself failed to start): the exit status says enough.
  }
  results.push({ name: pass.name, status: ok ? 'passed' : `FAILED (exit ${result.status ?? result.signal})`, files: pass.files.length, ms: Date.now() - started, failures });
}
rmSync(reports, { recursive: true, force: true });

for (const r of results.filter((x) => x.failures?.length)) {
  console.log(`\nFailed in the ${r.name} pass (${r.failures.length}):`);
  for (const f of r.failures) console.log(`  ✗ ${f.path}${f.detail.map((d) => `\n      ${d}`).join('')}`);
}

banner(results.map((r) => `${r.name.padEnd(8)} ${r.status}${r.files ? ` — ${r.files} file(s) in ${(r.ms / 1000).toFixed(1)} s` : ''}`));
process.exit(results.some((r) => r.status !== 'passed' && r.status !== 'skipped') ? 1 : 0);
