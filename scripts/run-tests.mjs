#!/usr/bin/env node
// Runs every compiled *.test.js under dist/test with Node's test runner, one file at a time
// (integration tests start servers and share the machine's PostgreSQL and ports).
// Node 20's `node --test` has no glob support, and given a folder it would also run helpers.
// Usage: node scripts/run-tests.mjs [filter]   (filter: substring of the file path)
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', 'dist', 'test');
const filter = process.argv[2];
const files = readdirSync(root, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => filter === undefined || f.includes(filter))
  .sort()
  .map((f) => join(root, f));
if (files.length === 0) {
  console.error(`No test files found under ${relative(process.cwd(), root)}${filter ? ` matching "${filter}"` : ''}. Run npm run build first.`);
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
