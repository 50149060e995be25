import pg from 'pg';
import { CHANGE_CHANNEL } from './statements.js';

export interface ChangeListenerOptions {
  /** Where to connect; a function for several hosts (primary.ts): the host in use, undefined while none is known. */
  readonly url: string | (() => string | undefined);
  /** How long one connection attempt may take (ms). */
  readonly connectTimeoutMs: number;
  /** First and largest wait between reconnection attempts (ms); defaults 100 and 5000. */
  readonly minBackoffMs?: number;
  readonly maxBackoffMs?: number;
  /** How often the idle connection is checked with a round trip (ms; default 15000). */
  readonly heartbeatMs?: number;
}

/**
 * One dedicated connection (not from the pool: a pooled connection is handed to other queries and
 * its LISTEN would go with it) that runs `LISTEN latchkey_changes` and calls every subscriber when
 * a change is committed anywhere on the database.
 *
 * Started by the first subscriber, so CLI commands, which never subscribe, open no extra
 * connection. When the connection drops (server restart, pg_terminate_backend, network) it
 * reconnects with jittered exponential backoff, and after every (re)connection it calls the
 * subscribers once, since changes made while it was away were not announced to it. A heartbeat
 * query finds connections that died silently (no RST). It never throws into the process: every
 * error becomes a reconnection. Subscribers' own polling bounds staleness in the meantime.
 */
export class ChangeListener {
  private readonly subscribers = new Set<() => void>();
  private client: pg.Client | undefined;
  /** The URL `client` is connected to. */
  private clientUrl: string | undefined;
  private connecting = false;
  private closed = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(private readonly options: ChangeListenerOptions) {}

  subscribe(listener: () => void): () => void {
    this.subscribers.add(listener);
    if (this.client === undefined && !this.connecting && this.retryTimer === undefined) void this.connect();
    return () => {
      this.subscribers.delete(listener);
    };
  }

  /** True while LISTEN is in force (for tests and diagnostics). */
  get listening(): boolean {
    return this.client !== undefined;
  }

  /**
   * The host in use changed (primary.ts): a connection to another one is dropped, and a waiting
   * reconnection happens now rather than after its backoff.
   */
  retarget(): void {
    if (this.closed) return;
    const url = this.currentUrl();
    this.attempt = 0;
    if (this.client !== undefined) {
      if (this.clientUrl !== url) void this.client.end().catch(() => undefined); // 'end' makes it lost: a reconnection follows
      return;
    }
    if (this.retryTimer !== undefined && url !== undefined) {
      clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      void this.connect();
    }
  }

  private currentUrl(): string | undefined {
    return typeof this.options.url === 'function' ? this.options.url() : this.options.url;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.heartbeat);
    this.retryTimer = undefined;
    const client = this.client;
    this.client = undefined;
    this.subscribers.clear();
    if (client !== undefined) await client.end().catch(() => undefined);
  }

  private emit(): void {
    for (const listener of [...this.subscribers]) {
      try {
        listener();
      } catch {
        // A subscriber's failure is its own; the others still hear of the change.
      }
    }
  }

  private async connect(): Promise<void> {
    if (this.closed) return;
    const url = this.currentUrl();
    if (url === undefined) {
      this.scheduleRetry();
      return;
    }
    this.connecting = true;
    const client = new pg.Client({
      connectionString: url,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      keepAlive: true,
      application_name: 'latchkey_listener',
      query_timeout: this.options.connectTimeoutMs + 2_000,
    });
    let lost = false;
    const onLost = (): void => {
      if (lost) return;
      lost = true;
      this.lost(client);
    };
    // Without an 'error' listener a dropped connection would crash the process.
    client.on('error', onLost);
    client.on('end', onLost);
    client.on('notification', (n) => {
      if (n.channel === CHANGE_CHANNEL) this.emit();
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${CHANGE_CHANNEL}`);
    } catch {
      this.connecting = false;
      onLost();
      return;
    }
    this.connecting = false;
    if (this.closed || lost) {
      await client.end().catch(() => undefined);
      return;
    }
    this.client = client;
    this.clientUrl = url;
    this.attempt = 0;
    this.startHeartbeat(client, onLost);
    this.emit();
  }

  private startHeartbeat(client: pg.Client, onLost: () => void): void {
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      client.query('SELECT 1').catch(onLost);
    }, this.options.heartbeatMs ?? 15_000);
    this.heartbeat.unref();
  }

  private lost(client: pg.Client): void {
    if (this.client === client) {
      this.client = undefined;
      clearInterval(this.heartbeat);
    }
    client.end().catch(() => undefined);
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed) return;
    const min = this.options.minBackoffMs ?? 100;
    const max = this.options.maxBackoffMs ?? 5_000;
    const delay = Math.min(max, min * 2 ** this.attempt) * (0.5 + Math.random() / 2);
    this.attempt = Math.min(this.attempt + 1, 16);
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.connect();
    }, delay);
    this.retryTimer.unref();
  }
}
