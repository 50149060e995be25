import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { main } from '../src/cli/main.js';

const root = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '..', '..');

it('docs/reasons.md is the output of `latchkey reasons --markdown` (regenerate it after editing src/errors/reasons.ts)', async () => {
  let out = '';
  const code = await main(['node', 'latchkey', 'reasons', '--markdown'], { out: (t) => void (out += t), err: () => {}, readStdin: async () => '' });
  assert.equal(code, 0);
  assert.equal(readFileSync(join(root, 'docs', 'reasons.md'), 'utf8'), out);
});
