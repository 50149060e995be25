/** Loopback ports for tests: one that nothing listens on now (bound on 127.0.0.1, then released). */
import { createServer } from 'node:net';

/**
 * A port free on 127.0.0.1 right now: for a server a test starts on it next, or as a port that
 * refuses connections (a dead host in a URL).
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
