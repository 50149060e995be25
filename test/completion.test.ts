/**
 * `latchkey --version` and `latchkey completion bash|zsh|fish` (issue 13, item 8): the scripts are
 * generated from the program's command tree and run in the real shells (.ci/run installs zsh and
 * fish; a missing shell fails these tests, it does not skip them).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT } from './helpers/api.js';
import { BIN } from './helpers/instances.js';
import { run } from './helpers/processes.js';

let dir: string;
const scripts: Record<string, string> = {};

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'latchkey-completion-'));
  for (const shell of ['bash', 'zsh', 'fish']) {
    const r = await run(process.execPath, [BIN, 'completion', shell], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    scripts[shell] = join(dir, `latchkey.${shell}`);
    writeFileSync(scripts[shell], r.stdout);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

it('latchkey --version and -V print the version in package.json', async () => {
  const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  for (const flag of ['--version', '-V']) {
    const r = await run(process.execPath, [BIN, flag]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${version}\n`);
  }
});

it('latchkey completion refuses a shell it does not support, with exit 2', async () => {
  const r = await run(process.execPath, [BIN, 'completion', 'pwsh']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Allowed choices are bash, zsh, fish/);
});

describe('bash', () => {
  /** Calls the completion function as bash does: COMP_WORDS and COMP_CWORD, then COMPREPLY. */
  async function complete(...words: string[]): Promise<string[]> {
    const quoted = words.map((w) => `'${w}'`).join(' ');
    const script = `source '${scripts.bash}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _latchkey; printf '%s\\n' "\${COMPREPLY[@]}"`;
    const r = await run('bash', ['--norc', '-c', script], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    return r.stdout.split('\n').filter((l) => l !== '');
  }

  it('offers the commands, the subcommands of apps (also after --db <file>), options, and shells', async () => {
    const top = await complete('latchkey', '');
    for (const c of ['serve', 'init', 'apps', 'users', 'tokens', 'completion', 'doctor']) assert.ok(top.includes(c), `${c} in ${top.join(' ')}`);
    assert.deepEqual((await complete('latchkey', 'apps', '')).sort(), ['create', 'delete', 'list', 'posture', 'rotate-secret', 'show', 'update']);
    assert.deepEqual(await complete('latchkey', '--db', 'x.db', 'apps', 'li'), ['list']);
    assert.deepEqual(await complete('latchkey', 'apps', 'create', '--na'), ['--name']);
    assert.deepEqual(await complete('latchkey', 'apps', 'create', '--name', 'x', '--acc'), ['--access-token-lifespan']);
    assert.deepEqual((await complete('latchkey', 'completion', '')).sort(), ['bash', 'fish', 'zsh']);
    assert.deepEqual((await complete('latchkey', 'rules', '')).sort(), ['add', 'delete', 'enforce', 'list', 'report', 'show']);
    assert.deepEqual((await complete('latchkey', 'rules', 'add', '')).sort(), ['api_requirement', 'application', 'property', 'rate_limit']);
    assert.deepEqual(await complete('latchkey', 'rules', 'enforce', '--y'), ['--yes']);
    // After an option that takes a value, no command is offered (a file for file options).
    assert.deepEqual(await complete('latchkey', 'apps', 'create', '--name', ''), []);
    assert.ok((await complete('latchkey', 'users', 'list', '--db', '')).includes('latchkey.bash'));
  });
});

describe('zsh', () => {
  /** Runs _latchkey with words/CURRENT as zsh's completion system sets them; _describe prints what it was given. */
  async function complete(...words: string[]): Promise<string[]> {
    const quoted = words.map((w) => `'${w}'`).join(' ');
    const script = `source '${scripts.zsh}'; _describe() { print -l -- "\${(@P)4}" }; _files() { print '(files)' }; words=(${quoted}); CURRENT=${words.length}; _latchkey`;
    const r = await run('zsh', ['-f', '-c', script], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.replace(/(?<!\\):.*$/, ''));
  }

  it('has valid syntax and offers the subcommands of apps, options and files where the tree says', async () => {
    const syntax = await run('zsh', ['-n', scripts.zsh as string]);
    assert.equal(syntax.code, 0, syntax.stderr);
    assert.deepEqual((await complete('latchkey', 'apps', '')).sort(), ['create', 'delete', 'list', 'posture', 'rotate-secret', 'show', 'update']);
    assert.deepEqual((await complete('latchkey', '--db', 'x.db', 'apps', '')).sort(), ['create', 'delete', 'list', 'posture', 'rotate-secret', 'show', 'update']);
    assert.ok((await complete('latchkey', 'apps', 'create', '--')).includes('--access-token-lifespan'));
    assert.deepEqual(await complete('latchkey', 'keys', 'list', '--db', ''), ['(files)']);
  });
});

describe('fish', () => {
  async function complete(line: string): Promise<string[]> {
    const r = await run('fish', ['--no-config', '-c', `source '${scripts.fish}'; complete -C '${line}'`], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    return r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t')[0] as string);
  }

  it('has valid syntax and offers the subcommands of apps (also after --db <file>) and options with descriptions', async () => {
    const syntax = await run('fish', ['--no-config', '-n', scripts.fish as string]);
    assert.equal(syntax.code, 0, syntax.stderr);
    assert.deepEqual((await complete('latchkey apps ')).sort(), ['create', 'delete', 'list', 'posture', 'rotate-secret', 'show', 'update']);
    assert.deepEqual(await complete('latchkey --db x.db apps cr'), ['create']);
    assert.deepEqual(await complete('latchkey apps create --na'), ['--name']);
    assert.deepEqual((await complete('latchkey completion ')).sort(), ['bash', 'fish', 'zsh']);
  });
});
