import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * Type tests of the published entry points (package.json "exports": latchkey, latchkey/api,
 * latchkey/middleware, latchkey/express, latchkey/fastify). test/types/consumer/ holds code written
 * as a user of the package writes it, importing by the package name, so it resolves through the
 * exports map to the built declarations in dist/ exactly as in an installed copy. Each file also
 * has `@ts-expect-error` lines: a misuse that must stay a compile error (if it compiled, the
 * directive itself fails the run). A renamed export, a changed option or a lost type fails here.
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

test('the published entry points type-check as a consumer uses them', { timeout: 120_000 }, () => {
  assert.ok(existsSync(join(root, 'dist', 'src', 'index.d.ts')), 'build first (npm run build): the declarations in dist/ are what consumers compile against');
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(root, 'test', 'types', 'tsconfig.json')], { cwd: root, encoding: 'utf8' });
  assert.equal(result.status, 0, `tsc reported:\n${result.stdout}${result.stderr}`);
});
