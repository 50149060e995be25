/**
 * Real `latchkey serve` processes over a shared PostgreSQL database, and the real CLI pointed at
 * it: what the multi-instance and fault tests drive. Servers listen on 127.0.0.1 only, are spawned
 * in their own process group, and are killed (the whole group) by {@link ServerProcess.kill}.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from './api.js';
import { run, waitForOutput, type RunResult } from './processes.js';

export const BIN = join(ROOT, 'bin', 'latchkey.js');
export const CC_PROPERTY = 'glide.oauth.inbound.client.credential.grant_type.enabled';
export const ADMIN_PASSWORD = 'instances-admin-password';
export const INSTANCES_KEK = 'instances-key-encryption-key-0123456789';

/** The environment for the CLI and servers on `db`: nothing inherited that would point elsewhere. */
export function instanceEnv(db: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  // Instances on one database share the key-encryption key (PostgreSQL refuses to start without one).
  const env: NodeJS.ProcessEnv = { ...process.env, LATCHKEY_DB: db, LATCHKEY_ADMIN_PASSWORD: ADMIN_PASSWORD, LATCHKEY_LOG_LEVEL: 'info', LATCHKEY_KEY_ENCRYPTION_KEY: INSTANCES_KEK, ...extra };
  for (const k of ['LATCHKEY_PORT', 'LATCHKEY_HOST', 'LATCHKEY_BODY_LIMIT', 'LATCHKEY_APIS', 'LATCHKEY_TEST_STORAGE']) delete env[k];
  return env;
}

/** Runs `latchkey <args> --db <db>` and asserts it exited 0. */
export async function latchkeyCli(db: string, args: readonly string[], input?: string): Promise<RunResult> {
  const r = await run(process.execPath, [BIN, ...args, '--db', db], { env: instanceEnv(db), cwd: ROOT, timeoutMs: 20_000, ...(input === undefined ? {} : { input }) });
  assert.equal(r.code, 0, `latchkey ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r;
}

export interface ServerProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly pid: number;
  /** http://127.0.0.1:<port> */
  readonly url: string;
  /** stdout and stderr so far. */
  output(): string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  running(): boolean;
  /** Sends `signal` to the server's whole process group. */
  kill(signal?: NodeJS.Signals): void;
  /** SIGTERM, then SIGKILL to the group after `graceMs`; resolves when the process has exited. */
  stop(graceMs?: number): Promise<void>;
}

/**
 * Starts `latchkey <command> --port 0 --host 127.0.0.1` (command: `serve`, or deploy/compose.yaml's)
 * on `db` and waits for the address in its JSON start-up log line.
 */
export async function spawnServer(name: string, db: string, extraEnv: NodeJS.ProcessEnv = {}, command: readonly string[] = ['serve']): Promise<ServerProcess> {
  const child = spawn(process.execPath, [BIN, ...command, '--port', '0', '--host', '127.0.0.1'], {
    cwd: ROOT,
    env: instanceEnv(db, extraEnv),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => void (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => void (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const running = () => child.exitCode === null && child.signalCode === null;
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => {
    if (child.pid === undefined || !running()) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };
  const server: ServerProcess = {
    name,
    child,
    pid: child.pid ?? -1,
    url: '',
    output: () => out,
    exited,
    running,
    kill,
    async stop(graceMs = 5_000) {
      if (!running()) return;
      kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, graceMs)))]);
      clearTimeout(timer);
      if (running()) {
        kill('SIGKILL');
        await exited;
      }
    },
  };
  try {
    const m = await waitForOutput(child, /"address":"(http:\/\/127\.0\.0\.1:\d+)"/, 20_000);
    return { ...server, url: m[1] ?? '' };
  } catch (error) {
    kill('SIGKILL');
    throw new Error(`server ${name} did not start: ${(error as Error).message}\n${out}`, { cause: error });
  }
}

export interface Fixture {
  /** A confidential client-credentials application acting as svc-<tag>. */
  readonly cc: { id: string; clientId: string; clientSecret: string };
  /** A second one, for tests that deactivate an application. */
  readonly cc2: { id: string; clientId: string; clientSecret: string };
  /** A password + refresh_token application. */
  readonly portal: { id: string; clientId: string; clientSecret: string };
  readonly user: { name: string; password: string };
  readonly serviceUser: string;
}

const appOf = (r: RunResult) => {
  const j = JSON.parse(r.stdout) as { id: string; clientId: string; clientSecret: string };
  return { id: j.id, clientId: j.clientId, clientSecret: j.clientSecret };
};

/**
 * Sets up, with the real CLI: a service user, two client-credentials applications acting as it,
 * the client-credentials property on, a user with a password and a password application.
 */
export async function createFixture(db: string, tag: string): Promise<Fixture> {
  const serviceUser = `svc-${tag}`;
  const user = { name: `alice-${tag}`, password: `alice-${tag}-Pa55word!` };
  // `init` creates the database, the schema and the built-ins alone; the rest may run side by side.
  await latchkeyCli(db, ['init']);
  await latchkeyCli(db, ['users', 'create', serviceUser, '--roles', 'itil']);
  await Promise.all([
    latchkeyCli(db, ['users', 'create', user.name, '--password-stdin'], `${user.password}\n`),
    latchkeyCli(db, ['properties', 'set', CC_PROPERTY, 'true']),
  ]);
  const [cc, cc2, portal] = await Promise.all([
    latchkeyCli(db, ['apps', 'create', '--name', `CC ${tag}`, '--grants', 'client_credentials', '--app-user', serviceUser, '--json']),
    latchkeyCli(db, ['apps', 'create', '--name', `CC2 ${tag}`, '--grants', 'client_credentials', '--app-user', serviceUser, '--json']),
    latchkeyCli(db, ['apps', 'create', '--name', `Portal ${tag}`, '--grants', 'password,refresh_token', '--json']),
  ]);
  return { cc: appOf(cc), cc2: appOf(cc2), portal: appOf(portal), user, serviceUser };
}

/** The example API served from the default apis/ folder. */
export const WHOAMI = '/api/now/v1/whoami';
