import { spawn, type ChildProcess } from 'node:child_process';

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a command to completion (bounded by `timeoutMs`), feeding `input` on stdin. */
export function run(command: string, args: readonly string[], options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => void (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => void (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    // A command that exits before reading its input (zsh -n) closes the pipe: not an error of the test.
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

export interface CurlResult {
  readonly status: number;
  /** Lower-case header names. */
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly json: Record<string, unknown> | undefined;
}

/** Runs real curl with -s -i and splits status line, headers and body. */
export async function curl(args: readonly string[]): Promise<CurlResult> {
  const r = await run('curl', ['-s', '-i', '--max-time', '10', ...args]);
  if (r.code !== 0) throw new Error(`curl exited ${r.code}: ${r.stderr}`);
  const split = r.stdout.indexOf('\r\n\r\n');
  const head = split === -1 ? r.stdout : r.stdout.slice(0, split);
  const body = split === -1 ? '' : r.stdout.slice(split + 4);
  const [statusLine, ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(statusLine ?? '')?.[1] ?? NaN);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(body) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status, headers, body, json };
}

/** Calls `fn` until `done` holds or `timeoutMs` passes; returns the last result either way. */
export async function eventually<T>(fn: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 1500, stepMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (done(value) || Date.now() >= deadline) return value;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

/** Waits for a line on the child's stdout matching `pattern`; resolves with the first match. */
export function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${pattern}; output so far:\n${seen}`));
    }, timeoutMs);
    const onData = (d: Buffer | string) => {
      seen += d.toString();
      const m = pattern.exec(seen);
      if (m !== null) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`process exited (${code}) before ${pattern}; output:\n${seen}`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', onData);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', onData);
    child.on('exit', onExit);
  });
}
