import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A loopback https server for client ID metadata documents (and anything else a test wants served
 * over TLS), with a self-signed certificate for 127.0.0.1 made by the machine's openssl when the
 * test starts. The Latchkey under test trusts it through its outbound CA option:
 * `startTestServer({ allowPrivateNetworks: true, outboundCa: docs.certificate })` (in-process), or
 * NODE_EXTRA_CA_CERTS=<a file with docs.certificate> for a spawned `latchkey serve`.
 */

export interface SelfSigned {
  readonly key: string;
  readonly certificate: string;
}

let made: SelfSigned | undefined;

/** One key and certificate (P-256, CN and subjectAltName 127.0.0.1 and localhost, valid 2 days) per test process. */
export function selfSignedCertificate(): SelfSigned {
  if (made !== undefined) return made;
  const dir = mkdtempSync(join(tmpdir(), 'latchkey-tls-'));
  try {
    const key = join(dir, 'key.pem');
    const cert = join(dir, 'cert.pem');
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2',
      '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    ], { stdio: 'ignore', timeout: 20_000 });
    made = { key: readFileSync(key, 'utf8'), certificate: readFileSync(cert, 'utf8') };
    return made;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a path answers: a status, headers and a body; `stallMs`: send the headers, then nothing for that long. */
export interface Route {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
  stallMs?: number;
}

export interface DocumentServer {
  /** https://127.0.0.1:<port> */
  readonly origin: string;
  readonly certificate: string;
  /** path → what it answers (changeable while running). */
  readonly routes: Map<string, Route>;
  /** path → how many requests it got. */
  readonly hits: Map<string, number>;
  /** The URL of a path on this server. */
  url(path: string): string;
  /** Serves a JSON document at `path` (its client_id defaults to its own URL), with headers; returns the URL. */
  document(path: string, doc: Record<string, unknown> | ((url: string) => Record<string, unknown>), headers?: Record<string, string>): string;
  close(): Promise<void>;
}

export async function startDocumentServer(): Promise<DocumentServer> {
  const tls = selfSignedCertificate();
  const routes = new Map<string, Route>();
  const hits = new Map<string, number>();
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer({ key: tls.key, cert: tls.certificate }, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const route = routes.get(path);
    if (route === undefined) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(route.status ?? 200, { 'content-type': 'application/json', ...(route.headers ?? {}) });
    if (route.stallMs !== undefined) {
      res.write(' ');
      const t = setTimeout(() => {
        timers.delete(t);
        res.end();
      }, route.stallMs);
      timers.add(t);
      return;
    }
    res.end(route.body ?? '');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const url = (path: string) => `${origin}${path}`;
  return {
    origin,
    certificate: tls.certificate,
    routes,
    hits,
    url,
    document(path, doc, headers = {}) {
      const u = url(path);
      const body = typeof doc === 'function' ? doc(u) : { client_id: u, ...doc };
      routes.set(path, { body: JSON.stringify(body), headers });
      return u;
    },
    async close() {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
