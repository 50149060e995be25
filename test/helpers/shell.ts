import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';

/**
 * Runs a command Latchkey printed for a person to paste, through a real shell, with the programs it
 * calls replaced by argv printers: proves that hostile values in it arrive as the words intended and
 * run nothing. Hostile test values try to create the file `pwned` in the working folder.
 */

/** The file every hostile value tries to create (relative to the shell's working folder). */
export const MARKER = 'pwned';

/** Values that run `touch pwned` when pasted unquoted (or inside double quotes) into a POSIX shell. */
export const HOSTILE = [
  '$(touch pwned)',
  '`touch pwned`',
  'a;touch pwned',
  'a|touch pwned',
  'a&&touch pwned',
  'a&touch pwned&',
  "it's $(touch pwned)",
  '"$(touch pwned)"',
  'a\ntouch pwned',
  '$(touch${IFS}pwned)',
] as const;

export interface Pasted {
  /** One argv per replaced program called, in order (the program's name first). */
  readonly calls: string[][];
  /** Whether the marker file exists afterwards (it must not). */
  readonly pwned: boolean;
  readonly code: number | null;
  readonly stderr: string;
}

const DEFAULT_PROGRAMS = ['latchkey', 'curl', 'chmod', 'install', 'npx'];

/**
 * `command` as a person would paste it, after `fill` replaces placeholders such as <client-id>
 * (text replacement, as a person would edit it). `shell` is bash unless told (sh for POSIX).
 */
export async function paste(command: string, options: { fill?: Record<string, string>; programs?: readonly string[]; shell?: 'bash' | 'sh' } = {}): Promise<Pasted> {
  let line = command;
  for (const [k, v] of Object.entries(options.fill ?? {})) line = line.split(k).join(v);
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-paste-'));
  try {
    const stubs = (options.programs ?? DEFAULT_PROGRAMS).map((p) => `${p}() { printf '%s\\0' ${p} "$@"; printf '\\036\\0'; }`).join('\n');
    const shell = options.shell ?? 'bash';
    const args = shell === 'bash' ? ['--noprofile', '--norc', '-c', `${stubs}\n${line}`] : ['-c', `${stubs}\n${line}`];
    const r = await runShell(shell, args, dir);
    const calls: string[][] = [];
    let current: string[] = [];
    for (const word of r.stdout.split('\0').slice(0, -1)) {
      if (word === '\x1e') {
        calls.push(current);
        current = [];
      } else current.push(word);
    }
    return { calls, pwned: existsSync(join(dir, MARKER)), code: r.code, stderr: r.stderr };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs the shell with no standard input (a pasted command reads none), bounded to 10 s. */
function runShell(shell: string, args: readonly string[], cwd: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(shell, args, { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, NEW_PASSWORD: 'new-password' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => void (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => void (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
