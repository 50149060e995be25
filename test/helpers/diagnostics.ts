import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { IO } from '../../src/cli/context.js';
import { main } from '../../src/cli/main.js';
import { openSqliteStorage } from '../../src/storage/sqlite/adapter.js';
import type { Storage } from '../../src/storage/types.js';

export interface CliResult {
  readonly code: number;
  readonly out: string;
  readonly err: string;
}

/** The CLI in-process against one SQLite database, with a capturing IO. */
export class CliDb {
  constructor(readonly db: string) {}

  async run(args: readonly string[], stdin = ''): Promise<CliResult> {
    let out = '';
    let err = '';
    const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => stdin };
    const code = await main(['node', 'latchkey', ...args, '--db', this.db], io);
    return { code, out, err };
  }

  async ok(args: readonly string[], stdin = ''): Promise<string> {
    const r = await this.run(args, stdin);
    assert.equal(r.code, 0, `latchkey ${args.join(' ')}: ${r.err}${r.out}`);
    return r.out;
  }

  async json<T>(args: readonly string[], stdin = ''): Promise<T> {
    return JSON.parse(await this.ok([...args, '--json'], stdin)) as T;
  }

  async storage<T>(fn: (storage: Storage) => Promise<T>): Promise<T> {
    const storage = openSqliteStorage({ path: this.db });
    try {
      return await fn(storage);
    } finally {
      await storage.close();
    }
  }
}

/** A new database in `dir` (created by `latchkey init`); an empty APIs folder beside it. */
export async function freshDb(dir: string, name: string): Promise<{ cli: CliDb; noApis: string }> {
  const cli = new CliDb(join(dir, `${name}.db`));
  const noApis = join(dir, `${name}-apis`);
  mkdirSync(noApis, { recursive: true });
  await cli.ok(['init']);
  return { cli, noApis };
}

/** Splits a shell command line into words (plain words, '…' and "…" quoting: what findings use). */
export function shellWords(line: string): string[] {
  const words: string[] = [];
  let current: string | undefined;
  let i = 0;
  while (i < line.length) {
    const c = line[i] as string;
    if (c === ' ') {
      if (current !== undefined) words.push(current);
      current = undefined;
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      current = (current ?? '') + line.slice(i + 1, end);
      i = end + 1;
    } else if (c === '\\') {
      current = (current ?? '') + (line[i + 1] ?? '');
      i += 2;
    } else {
      current = (current ?? '') + c;
      i++;
    }
  }
  if (current !== undefined) words.push(current);
  return words;
}

/**
 * Runs a finding's command through the CLI: `printf %s "$NEW_PASSWORD" | …` feeds `stdin`, `&&`
 * chains, and `replace` fills placeholders such as <client-id>.
 */
export async function runFix(cli: CliDb, command: string, options: { stdin?: string; replace?: Record<string, string> } = {}): Promise<void> {
  let line = command;
  for (const [k, v] of Object.entries(options.replace ?? {})) line = line.split(k).join(v);
  const piped = /^printf %s "\$[A-Z_]+" \| /.exec(line);
  if (piped !== null) line = line.slice(piped[0].length);
  for (const part of line.split(' && ')) {
    const words = shellWords(part);
    assert.equal(words[0], 'latchkey', part);
    await cli.ok(words.slice(1), piped === null ? '' : (options.stdin ?? ''));
  }
}
