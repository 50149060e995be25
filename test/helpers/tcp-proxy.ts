/**
 * A TCP proxy for fault tests: put it between a Latchkey process and PostgreSQL, then cut the
 * network (every open connection reset, new ones black-holed or refused), add latency, and restore.
 * Loopback only; one proxy per test.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export type CutMode =
  /** New connections are accepted and then hang: nothing is forwarded or answered (a partition). */
  | 'blackhole'
  /** New connections are reset at once (the server is down, the port closed). */
  | 'refuse';

export interface TcpProxy {
  /** The proxy's port on 127.0.0.1. */
  readonly port: number;
  /** `url` (a postgres:// URL to the target) rewritten to go through the proxy. */
  via(url: string): string;
  /** Resets every connection, then treats new ones as `mode` says until {@link restore}. */
  cut(mode?: CutMode): void;
  /** Forwards again; connections held while black-holed are reset (their clients retry). */
  restore(): void;
  /** Delays every chunk forwarded in either direction by `ms` (0 to stop). */
  setLatency(ms: number): void;
  readonly stats: { accepted: number; forwarded: number; blackholed: number; refused: number; reset: number };
  /** Connections currently forwarded. */
  readonly open: number;
  close(): Promise<void>;
}

export async function startTcpProxy(target: { host?: string; port?: number } = {}): Promise<TcpProxy> {
  const targetHost = target.host ?? '127.0.0.1';
  const targetPort = target.port ?? 5432;
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  const held = new Set<Socket>();
  const stats = { accepted: 0, forwarded: 0, blackholed: 0, refused: 0, reset: 0 };
  let mode: CutMode | undefined;
  let latency = 0;

  const reset = (s: Socket): void => {
    if (s.destroyed) return;
    // RST rather than FIN: what a peer sees when the network drops the connection.
    if (typeof s.resetAndDestroy === 'function') s.resetAndDestroy();
    else s.destroy();
  };

  /** Forwards `from` → `to`, each chunk delayed by the current latency, order kept. */
  const forward = (from: Socket, to: Socket): void => {
    let chain = Promise.resolve();
    let pending = 0;
    from.on('data', (chunk: Buffer) => {
      if (latency === 0 && pending === 0) {
        if (!to.destroyed) to.write(chunk);
        return;
      }
      const due = Date.now() + latency;
      pending++;
      chain = chain.then(
        () =>
          new Promise<void>((resolve) => {
            setTimeout(() => {
              pending--;
              if (!to.destroyed) to.write(chunk);
              resolve();
            }, Math.max(0, due - Date.now()));
          }),
      );
    });
    from.on('end', () => void chain.then(() => to.end()));
  };

  const server: Server = createServer((client) => {
    stats.accepted++;
    client.on('error', () => undefined);
    if (mode === 'refuse') {
      stats.refused++;
      reset(client);
      return;
    }
    if (mode === 'blackhole') {
      stats.blackholed++;
      held.add(client);
      client.on('close', () => held.delete(client));
      // Read and drop whatever arrives, answer nothing.
      client.on('data', () => undefined);
      return;
    }
    stats.forwarded++;
    const upstream = connect({ host: targetHost, port: targetPort });
    upstream.on('error', () => undefined);
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      reset(client);
      reset(upstream);
    };
    client.on('close', drop);
    upstream.on('close', drop);
    forward(client, upstream);
    forward(upstream, client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    port,
    via(url) {
      const u = new URL(url);
      u.hostname = '127.0.0.1';
      u.port = String(port);
      return u.toString();
    },
    cut(how = 'blackhole') {
      mode = how;
      for (const { client, upstream } of [...pairs]) {
        stats.reset++;
        reset(client);
        reset(upstream);
      }
      pairs.clear();
    },
    restore() {
      mode = undefined;
      for (const s of [...held]) reset(s);
      held.clear();
    },
    setLatency(ms) {
      latency = Math.max(0, ms);
    },
    stats,
    get open() {
      return pairs.size;
    },
    async close() {
      mode = 'refuse';
      for (const { client, upstream } of pairs) {
        reset(client);
        reset(upstream);
      }
      for (const s of held) reset(s);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
