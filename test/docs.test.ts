import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
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

const readme = () => readFileSync(join(root, 'README.md'), 'utf8');

it("the README's configuration table names every LATCHKEY_ environment variable the server and the CLI read", () => {
  const used = new Set<string>();
  for (const file of readdirRecursive(join(root, 'src'))) for (const m of readFileSync(file, 'utf8').matchAll(/\bLATCHKEY_[A-Z_]+[A-Z]\b/g)) used.add(m[0]);
  const text = readme();
  const table = text.slice(text.indexOf('## Configuration'), text.indexOf('Instance properties'));
  const documented = new Set([...table.matchAll(/`(LATCHKEY_[A-Z_]+)`/g)].map((m) => m[1]));
  assert.deepEqual([...used].filter((v) => !documented.has(v)).sort(), [], 'add a row to the configuration table of README.md');
});

it("the README's prerequisites are what .ci/run provides, and its subset runner usage is the runner's", () => {
  const text = readme();
  const ci = readFileSync(join(root, '.ci', 'run'), 'utf8');
  for (const tool of ['python3, make and g++', 'PostgreSQL', 'Chromium', 'zsh', 'fish', 'curl', 'Apache httpd with mod_auth_openidc']) assert.ok(text.includes(tool), tool);
  assert.match(ci, /pg_ctlcluster/);
  for (const pkg of ['chromium', 'zsh fish', 'curl', 'apache2 libapache2-mod-auth-openidc']) assert.match(ci, new RegExp(`apt-get install -y -qq ${pkg}`), pkg);
  assert.match(ci, /policy-rc\.d/, 'apt must not start Apache as a service');
  const usage = /const USAGE = 'Usage: (node scripts\/run-tests\.mjs [^']+)'/.exec(readFileSync(join(root, 'scripts', 'run-tests.mjs'), 'utf8'))?.[1];
  assert.ok(usage !== undefined && text.includes(usage), `README shows ${usage}`);
  assert.doesNotMatch(text, /nothing else to install/);
  assert.doesNotMatch(text, /"scope":""/, 'a token response with no scope has no scope member');
});

function readdirRecursive(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((f) => f.endsWith('.ts')).map((f) => join(dir, f));
}
