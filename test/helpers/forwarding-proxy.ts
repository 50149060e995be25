import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A small TCP proxy in front of a server (PostgreSQL in the tests): `silent` keeps the connections
 * open but forwards nothing (a hung database); `stop()` refuses new connections and cuts the open
 * ones (a database that went away); `start(port)` brings it back on the same port.
 * (test/helpers/tcp-proxy.ts is the richer one the fault tests use.)
 */
export class ForwardingProxy {
  private readonly sockets = new Set<Socket>();
  private server: Server | undefined;
  silent = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(port = 0): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const sock of [client, upstream]) {
        this.sockets.add(sock);
        sock.on('error', () => undefined);
        sock.on('close', () => {
          this.sockets.delete(sock);
          client.destroy();
          upstream.destroy();
        });
      }
      client.on('data', (d) => void (this.silent || upstream.write(d)));
      upstream.on('data', (d) => void (this.silent || client.write(d)));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    const closed = new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    for (const sock of this.sockets) sock.destroy();
    await closed;
    this.server = undefined;
  }
}
