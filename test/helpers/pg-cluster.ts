/**
 * Throwaway PostgreSQL clusters made with the machine's own binaries (Debian's
 * /usr/lib/postgresql/<version>/bin: initdb, pg_ctl, pg_basebackup), for the failover test: a
 * primary with synchronous streaming replication to a standby, each in its own mkdtemp folder,
 * listening on 127.0.0.1 only on a free port, with its Unix socket in that folder (never the
 * system's). initdb refuses to run as root, so as root every command runs as the `postgres' OS
 * user (runuser), which then owns the folders.
 */
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, appendFileSync } from 'node:fs';
import { freePort } from './ports.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type RunResult } from './processes.js';

export interface PgBinaries {
  /** The bin folder of the newest installed version. */
  readonly bin: string;
  /** As root: the uid and gid of `postgres`, whom every command runs as. */
  readonly runAs?: { readonly user: string; readonly uid: number; readonly gid: number };
}

/**
 * Where the binaries are and whom to run them as; a string saying why not when they cannot be used
 * (no installed version, or root without a `postgres` user).
 */
export function findPgBinaries(): PgBinaries | string {
  const base = '/usr/lib/postgresql';
  const versions = existsSync(base) ? readdirSync(base).filter((v) => /^\d+$/.test(v) && existsSync(join(base, v, 'bin', 'initdb'))).sort((a, b) => Number(b) - Number(a)) : [];
  if (versions.length === 0) return `no PostgreSQL server binaries under ${base}/<version>/bin (apt-get install postgresql)`;
  const bin = join(base, versions[0]!, 'bin');
  if (process.getuid?.() !== 0) return { bin };
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { bin, runAs: { user: 'postgres', uid, gid } };
  } catch {
    return 'running as root, and there is no `postgres` OS user to run initdb as';
  }
}


export interface Cluster {
  readonly name: string;
  readonly dir: string;
  readonly port: number;
  /** postgres://postgres@127.0.0.1:<port>/<database> */
  url(database?: string): string;
  /** pg_ctl stop -m <mode>; never throws when it is already down. */
  stop(mode?: 'fast' | 'immediate'): Promise<RunResult>;
  /** pg_ctl promote -w: the standby becomes a primary. */
  promote(): Promise<RunResult>;
  /** pg_ctl start -w again after a stop (an old primary comes back as a primary on its old timeline). */
  start(): Promise<RunResult>;
  /** The server log so far (for failure messages). */
  log(): string;
}

/** A primary and its synchronous standby, and the folder they live in. */
export interface ReplicatedPair {
  readonly primary: Cluster;
  readonly standby: Cluster;
  /** Stops both (immediate) and removes their folder. Safe to call more than once, and after a failed start. */
  destroy(): Promise<void>;
}

/** Runs a PostgreSQL binary (as `postgres` when root), asserting exit 0. */
async function pgRun(b: PgBinaries, tool: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  const command = join(b.bin, tool);
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C', LC_ALL: 'C' };
  const r = b.runAs === undefined ? await run(command, args, { env, timeoutMs }) : await run('runuser', ['-u', b.runAs.user, '--', command, ...args], { env, timeoutMs });
  if (r.code !== 0) throw new Error(`${tool} ${args.join(' ')} exited ${r.code ?? r.signal}: ${r.stderr || r.stdout}`);
  return r;
}

function cluster(b: PgBinaries, name: string, dir: string, port: number): Cluster {
  const logFile = join(dir, '..', `${name}.log`);
  const c: Cluster = {
    name,
    dir,
    port,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    stop: (mode = 'fast') => pgRun(b, 'pg_ctl', ['-D', dir, '-m', mode, '-w', '-t', '20', 'stop']).catch((e: Error) => ({ code: 1, signal: null, stdout: '', stderr: e.message })),
    promote: () => pgRun(b, 'pg_ctl', ['-D', dir, '-w', '-t', '20', 'promote']),
    start: () => start(b, c),
    log: () => {
      try {
        return execFileSync('tail', ['-n', '40', logFile], { encoding: 'utf8' });
      } catch {
        return '';
      }
    },
  };
  return c;
}

const start = (b: PgBinaries, c: Cluster) => pgRun(b, 'pg_ctl', ['-D', c.dir, '-l', join(c.dir, '..', `${c.name}.log`), '-w', '-t', '30', 'start']);

/**
 * initdb a primary (wal_level replica, synchronous_standby_names '*', synchronous_commit on,
 * replication trusted from 127.0.0.1 only), start it, pg_basebackup -R a standby from it and start
 * that; resolves once the standby streams synchronously. On any failure what was made is removed.
 */
export async function startReplicatedPair(b: PgBinaries): Promise<ReplicatedPair> {
  const root = mkdtempSync(join(tmpdir(), 'latchkey-ha-'));
  if (b.runAs !== undefined) chownSync(root, b.runAs.uid, b.runAs.gid);
  const [pPort, sPort] = [await freePort(), await freePort()];
  const primary = cluster(b, 'primary', join(root, 'primary'), pPort);
  const standby = cluster(b, 'standby', join(root, 'standby'), sPort);
  let destroyed: Promise<void> | undefined;
  const pair: ReplicatedPair = {
    primary,
    standby,
    destroy: () =>
      (destroyed ??= (async () => {
        await Promise.all([primary.stop('immediate'), standby.stop('immediate')]);
        rmSync(root, { recursive: true, force: true });
      })()),
  };
  try {
    await pgRun(b, 'initdb', ['-D', primary.dir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], 60_000);
    // Settings for both (pg_basebackup copies postgresql.conf); the standby overrides its own below.
    const common = [
      "listen_addresses = '127.0.0.1'",
      `unix_socket_directories = '${root}'`,
      'max_connections = 60',
      'shared_buffers = 16MB',
      'wal_level = replica',
      'max_wal_senders = 4',
      'hot_standby = on',
      // The cluster dies as a process (pg_ctl stop -m immediate), never as a machine: no fsync needed to keep what was written.
      'fsync = off',
      'synchronous_commit = on',
    ];
    appendFileSync(join(primary.dir, 'postgresql.conf'), `\n${[...common, `port = ${pPort}`, "synchronous_standby_names = '*'"].join('\n')}\n`);
    // initdb -A trust already trusts replication from 127.0.0.1; say so explicitly, and nothing wider.
    appendFileSync(join(primary.dir, 'pg_hba.conf'), '\nhost replication postgres 127.0.0.1/32 trust\n');
    await start(b, primary);
    await pgRun(b, 'pg_basebackup', ['-h', '127.0.0.1', '-p', String(pPort), '-U', 'postgres', '-D', standby.dir, '-R', '-X', 'stream', '--no-sync'], 60_000);
    // Promoted, the standby must not wait for a standby of its own: no synchronous_standby_names there.
    appendFileSync(join(standby.dir, 'postgresql.auto.conf'), `\nport = ${sPort}\nsynchronous_standby_names = ''\n`);
    await start(b, standby);
    return pair;
  } catch (error) {
    const logs = `${primary.log()}\n${standby.log()}`;
    await pair.destroy();
    throw new Error(`could not start the replicated pair: ${(error as Error).message}\n${logs}`, { cause: error });
  }
}
