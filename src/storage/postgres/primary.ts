/**
 * Several PostgreSQL hosts (a primary and its standbys, hosts.ts): which one Latchkey uses, and
 * finding the next one when it fails.
 *
 * {@link PrimaryFinder} probes the hosts (a short connection each, `pg_is_in_recovery()` and
 * `transaction_read_only`) and keeps the first that fits target_session_attrs as the one in use.
 * {@link FailoverPool} is the adapter's pg.Pool for such a URL: its new connections go to the
 * host in use, and an error that may mean that host is no longer the primary (isFailoverSignal)
 * makes the finder check it. When the check fails, the host in use is forgotten at once: every
 * request from then on fails fast with StorageError('unavailable') (503 + Retry-After) instead
 * of waiting for a connection, the connections to that host are cut (a request in flight on one
 * fails now rather than at its timeout), and the hosts are probed again in the background with
 * jittered exponential backoff until one fits; the pool then connects there. Nothing restarts.
 *
 * Two writable primaries of one cluster (the same system identifier) mean an old primary came back
 * after a failover, or a partition left it writable beside the promoted standby: the one on the
 * higher WAL timeline is the one promoted last, and it is the one used, whatever the URL's order.
 * Two distinct servers on the same timeline cannot be told apart: neither is used (split brain:
 * requests fail fast) until one is a standby again. With `watchMs`, every host is probed again at
 * that interval while one is in use, so a promotion elsewhere is followed within it.
 *
 * With one host and no target_session_attrs none of this is used: the adapter opens a plain pool.
 */
import pg from 'pg';
import { isFailoverSignal, NO_PRIMARY_CODE } from './errors.js';
import type { PostgresHost, PostgresHosts, TargetSessionAttrs } from './hosts.js';
import type { DatabaseHostStatus } from '../types.js';

/** What a probe found a host to be. */
export type HostRole = DatabaseHostStatus['role'];
export type HostStatus = DatabaseHostStatus;

export interface PrimaryFinderOptions {
  /** How long one probe may take to connect and answer (ms). */
  readonly probeTimeoutMs: number;
  /** First and largest wait between rounds of probes while no host fits (ms); defaults 100 and 2000. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** After the host in use passed a check, further errors within this long do not check it again (ms; default 500). */
  readonly recheckAfterMs?: number;
  /** Told when the host in use changes (undefined: none fits for now). */
  readonly onChange?: (host: PostgresHost | undefined, previous: PostgresHost | undefined) => void;
  /** While a host is in use, probe every host again at this interval (ms; 0, the default: never). */
  readonly watchMs?: number;
  /** Injectable for tests: how a host is probed (default {@link probeHost}). */
  readonly probe?: (host: PostgresHost, timeoutMs: number) => Promise<ProbeResult>;
}

/** What one probe of a host found. */
export interface ProbeResult extends Omit<HostStatus, 'host' | 'inUse' | 'checkedAt'> {
  /** pg_control_system()'s system_identifier: one cluster's primary and the standbys made from it share it. */
  readonly systemId?: string;
  /** When the server process started: with systemId, tells two URLs of one server from two servers. */
  readonly startedAt?: string;
}

/** Which host to use of those probed: one, or none and why (two primaries that cannot be told apart). */
export interface HostChoice {
  readonly host: PostgresHost | undefined;
  /** Set when hosts fit but none is used: a split brain. */
  readonly conflict?: string;
}

/**
 * libpq's choice (the first host in the URL's order that fits target_session_attrs), except among
 * hosts of the first one's cluster that are not in recovery: there the highest WAL timeline wins,
 * because each promotion starts a higher one. Two distinct servers sharing the highest timeline
 * win neither. Hosts of another cluster (another system identifier) are not compared: the URL's
 * order holds, and `latchkey doctor` reports them.
 */
export function chooseHost(results: readonly { readonly h: PostgresHost; readonly r: ProbeResult }[], target: TargetSessionAttrs): HostChoice {
  const fitting = results.filter(({ r }) => fits(r.role, target));
  const first = fitting[0];
  if (first === undefined) return { host: undefined };
  const known = (r: ProbeResult) => r.role !== 'standby' && r.systemId !== undefined && r.timeline !== undefined;
  if (target === 'any' || !known(first.r)) return { host: first.h };
  const kin = fitting.filter(({ r }) => known(r) && r.systemId === first.r.systemId);
  const top = Math.max(...kin.map(({ r }) => r.timeline as number));
  const best = kin.filter(({ r }) => r.timeline === top);
  const servers = new Map<string, PostgresHost[]>();
  for (const { h, r } of best) servers.set(`${r.startedAt ?? h.label}`, [...(servers.get(`${r.startedAt ?? h.label}`) ?? []), h]);
  if (servers.size > 1) {
    const names = [...servers.values()].map((hs) => hs.map((h) => h.label).join(' = '));
    return {
      host: undefined,
      conflict: `split brain: ${names.join(' and ')} are writable primaries of one cluster on the same timeline (${top}), so neither is used until one of them is a standby again`,
    };
  }
  return { host: best[0]!.h };
}

/** Whether a host with `role` is one Latchkey may use under `target` (libpq's meaning of target_session_attrs). */
export function fits(role: HostRole, target: TargetSessionAttrs): boolean {
  if (role === 'unreachable') return false;
  if (target === 'any') return true;
  if (target === 'primary') return role !== 'standby';
  return role === 'primary';
}

const reasonOf = (error: unknown): string => {
  const e = error as { code?: unknown; message?: unknown } | null;
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  return message !== undefined && code !== undefined && !message.includes(code) ? `${message} (${code})` : message ?? code ?? String(error);
};

/**
 * Connects to one host and asks what it is: in recovery (a standby), read-only
 * (default_transaction_read_only), or a writable primary. Never throws. A server that refuses
 * connections with 57P03 (starting up, or a standby without hot_standby) counts as a standby.
 */
export async function probeHost(host: PostgresHost, timeoutMs: number): Promise<ProbeResult> {
  const client = new pg.Client({ connectionString: host.url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs, application_name: 'latchkey_probe' });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    client.end().catch(() => undefined);
    if ((error as { code?: unknown }).code === '57P03') return { role: 'standby', detail: `not accepting connections yet: ${reasonOf(error)}` };
    return { role: 'unreachable', detail: reasonOf(error) };
  }
  try {
    let row: ProbeRow | undefined;
    try {
      row = (await client.query<ProbeRow>(PROBE_SQL)).rows[0];
    } catch (error) {
      // A server where the control functions are not granted to this role: what it is, without which cluster and timeline.
      if ((error as { code?: unknown }).code !== '42501') throw error;
      row = (await client.query<ProbeRow>(PROBE_SQL_BASIC)).rows[0];
    }
    if (row?.standby === true) return { role: 'standby', detail: 'in recovery (a standby)' };
    const identity = {
      ...(typeof row?.tli === 'string' && /^[0-9A-F]{8}$/i.test(row.tli) ? { timeline: Number.parseInt(row.tli, 16) } : {}),
      ...(typeof row?.system_id === 'string' ? { systemId: row.system_id } : {}),
      ...(typeof row?.started === 'string' ? { startedAt: row.started } : {}),
    };
    if (row?.read_only === 'on') return { role: 'read-only', detail: 'takes no writes (default_transaction_read_only is on)', ...identity };
    return { role: 'primary', ...identity };
  } catch (error) {
    return { role: 'unreachable', detail: reasonOf(error) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

interface ProbeRow {
  readonly standby: boolean;
  readonly read_only: string;
  readonly system_id?: string | null;
  readonly started?: string | null;
  /** The first 8 hex digits of the current WAL file's name: the timeline (null in recovery). */
  readonly tli?: string | null;
}

const PROBE_SQL_BASIC = "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS read_only";
const PROBE_SQL =
  "SELECT pg_is_in_recovery() AS standby, current_setting('transaction_read_only') AS read_only, " +
  '(SELECT system_identifier::text FROM pg_control_system()) AS system_id, pg_postmaster_start_time()::text AS started, ' +
  'CASE WHEN pg_is_in_recovery() THEN NULL ELSE substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8) END AS tli';

interface Tracked {
  readonly host: string;
  readonly client: pg.Client;
}

export class PrimaryFinder {
  private inUse: PostgresHost | undefined;
  private last: PostgresHost;
  private readonly status = new Map<string, HostStatus>();
  private checking: Promise<void> | undefined;
  private confirmedAt = 0;
  private closed = false;
  private wake: (() => void) | undefined;
  private readonly clients = new Set<Tracked>();
  private readonly probe: NonNullable<PrimaryFinderOptions['probe']>;
  private conflict: string | undefined;
  /** Each host's cluster (system identifier) as last probed: timelines compare within one cluster only. */
  private readonly cluster = new Map<string, string | undefined>();
  private readonly watcher: ReturnType<typeof setInterval> | undefined;

  constructor(
    readonly hosts: PostgresHosts,
    private readonly options: PrimaryFinderOptions,
  ) {
    this.last = hosts.hosts[0]!;
    this.probe = options.probe ?? probeHost;
    for (const h of hosts.hosts) this.status.set(h.label, { host: h.label, role: 'unreachable', detail: 'not probed yet', checkedAt: 0, inUse: false });
    const every = options.watchMs ?? 0;
    if (every > 0) {
      this.watcher = setInterval(() => {
        if (this.closed || this.checking !== undefined || this.inUse === undefined) return;
        this.checking = this.watch().finally(() => {
          this.checking = undefined;
        });
      }, every);
      this.watcher.unref();
    }
  }

  /** The host new connections go to; undefined while none fits (requests then fail fast). */
  get current(): PostgresHost | undefined {
    return this.inUse;
  }

  /** Every host as last probed, in the URL's order. */
  statuses(): HostStatus[] {
    return this.hosts.hosts.map((h) => ({ ...this.status.get(h.label)!, inUse: this.inUse === h }));
  }

  /** Why requests fail now, for the error they get: which host is what. */
  describe(): string {
    if (this.conflict !== undefined) return `${this.conflict}; hosts: ${this.statuses().map((s) => `${s.host} ${s.role}${s.timeline === undefined ? '' : ` (timeline ${s.timeline})`}`).join('; ')}`;
    const what = this.statuses().map((s) => `${s.host} ${s.role}${s.detail === undefined ? '' : ` (${s.detail})`}`);
    return `no ${this.hosts.target === 'any' ? 'reachable' : 'writable'} PostgreSQL host (target_session_attrs=${this.hosts.target}) among ${what.join('; ')}`;
  }

  /** The error a request gets while no host fits: unavailable (isUnavailable), not a failover signal. */
  noPrimaryError(): Error {
    return Object.assign(new Error(this.describe()), { code: NO_PRIMARY_CODE });
  }

  /** Probes every host once, at the same time, and uses the first (in the URL's order) that fits. */
  async discover(): Promise<PostgresHost | undefined> {
    const { host: found } = await this.probeAll();
    if (!this.closed) this.use(found);
    if (found !== undefined) this.confirmedAt = Date.now();
    return found;
  }

  /** Probes every host at once and records what each is; returns the host to use (chooseHost). */
  private async probeAll(): Promise<HostChoice> {
    const results = await Promise.all(this.hosts.hosts.map(async (h) => ({ h, r: await this.probe(h, this.options.probeTimeoutMs) })));
    const at = Date.now();
    for (const { h, r } of results) {
      const { systemId, startedAt: _t, ...status } = r;
      this.status.set(h.label, { host: h.label, ...status, checkedAt: at, inUse: false });
      this.cluster.set(h.label, systemId);
    }
    const choice = chooseHost(results, this.hosts.target);
    this.conflict = choice.conflict;
    return choice;
  }

  /**
   * The periodic look at every host while one is in use: stays, moves to a primary promoted since
   * (a higher timeline of the same cluster), or, when the one in use no longer fits or a split
   * brain appears, stops using any and searches as after a failed check.
   */
  private async watch(): Promise<void> {
    const current = this.inUse;
    const { host } = await this.probeAll();
    if (this.closed || current === undefined) return;
    const now = this.status.get(current.label);
    const stillFits = now !== undefined && fits(now.role, this.hosts.target);
    if (host !== undefined) {
      // Another host is only worth a move when the one in use no longer fits, or the other was
      // promoted after it (a higher timeline): not merely for coming first in the URL.
      const other = this.status.get(host.label);
      const kin = this.cluster.get(host.label) !== undefined && this.cluster.get(host.label) === this.cluster.get(current.label);
      const newer = kin && other?.timeline !== undefined && now?.timeline !== undefined && other.timeline > now.timeline;
      if (host === current || !stillFits || newer) this.use(host);
      this.confirmedAt = Date.now();
      return;
    }
    this.use(undefined);
    await this.search();
  }

  /**
   * An error from a query: when it may mean the host in use stopped being the primary, check that
   * host (at most one check at a time, none right after one passed) and fail over if it did.
   */
  suspect(error: unknown): void {
    if (this.closed || this.checking !== undefined || !isFailoverSignal(error)) return;
    if (this.inUse !== undefined && Date.now() - this.confirmedAt < (this.options.recheckAfterMs ?? 500)) return;
    this.checking = this.check().finally(() => {
      this.checking = undefined;
    });
  }

  /** Resolves when no check or search is running (for tests and close). */
  async settled(): Promise<void> {
    while (this.checking !== undefined) await this.checking;
  }

  close(): void {
    this.closed = true;
    if (this.watcher !== undefined) clearInterval(this.watcher);
    this.wake?.();
  }

  /** The client class the pool creates connections with: to the host in use, each remembered so a failover can cut it. */
  clientClass(): typeof pg.Client {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const finder = this;
    return class RoutedClient extends pg.Client {
      constructor(config?: pg.ClientConfig) {
        const host = finder.inUse ?? finder.last;
        super({ ...config, connectionString: host.url });
        const tracked: Tracked = { host: host.label, client: this };
        finder.clients.add(tracked);
        this.once('end', () => finder.clients.delete(tracked));
      }
    };
  }

  private async check(): Promise<void> {
    const host = this.inUse;
    if (host !== undefined) {
      const { systemId: _s, startedAt: _t, ...r } = await this.probe(host, this.options.probeTimeoutMs);
      const at = Date.now();
      this.status.set(host.label, { host: host.label, ...r, checkedAt: at, inUse: false });
      if (fits(r.role, this.hosts.target)) {
        this.confirmedAt = at;
        return;
      }
      this.use(undefined);
    }
    await this.search();
  }

  /** Searches until a host fits, backing off; every round probes all hosts at once. */
  private async search(): Promise<void> {
    const min = this.options.minBackoffMs ?? 100;
    const max = this.options.maxBackoffMs ?? 2_000;
    for (let attempt = 0; !this.closed; attempt++) {
      if ((await this.discover()) !== undefined) return;
      const delay = Math.min(max, min * 2 ** Math.min(attempt, 16)) * (0.5 + Math.random() / 2);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        timer.unref();
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  private use(host: PostgresHost | undefined): void {
    const previous = this.inUse;
    if (host === previous) return;
    this.inUse = host;
    if (host !== undefined) this.last = host;
    // Connections to any other host are cut: a request on one fails now (and is retried by its
    // client) rather than at its timeout, and no write goes to a server that is no longer the one in use.
    for (const t of [...this.clients]) {
      if (t.host === host?.label) continue;
      this.clients.delete(t);
      (t.client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
    }
    this.options.onChange?.(host, previous);
  }
}

/**
 * The pool for several hosts: connections to the finder's host in use; while none is known,
 * `connect` (which `query` uses too) fails at once with the finder's unavailable error; and each
 * query's failure is shown to the finder. The single-host pool is a plain pg.Pool.
 */
export class FailoverPool extends pg.Pool {
  constructor(
    config: pg.PoolConfig,
    private readonly finder: PrimaryFinder,
  ) {
    super({ ...config, Client: finder.clientClass() as unknown as NonNullable<pg.PoolConfig['Client']> });
  }

  override connect(callback?: (err: Error | undefined, client: pg.PoolClient | undefined, done: (release?: unknown) => void) => void): never {
    const finder = this.finder;
    if (finder.current === undefined) {
      const error = finder.noPrimaryError();
      if (callback === undefined) return Promise.reject(error) as never;
      process.nextTick(() => callback(error, undefined, () => undefined));
      return undefined as never;
    }
    if (callback === undefined) {
      return (pg.Pool.prototype.connect as () => Promise<pg.PoolClient>).call(this).catch((error: unknown) => {
        finder.suspect(error);
        throw error;
      }) as never;
    }
    return pg.Pool.prototype.connect.call(this, callback as never) as never;
  }

  override query(...args: unknown[]): never {
    const result = (pg.Pool.prototype.query as (...a: unknown[]) => unknown).apply(this, args);
    if (result instanceof Promise) {
      return result.catch((error: unknown) => {
        this.finder.suspect(error);
        throw error;
      }) as never;
    }
    return result as never;
  }
}
