/**
 * The body of the background checkpointer's worker thread (checkpointer.ts): its own connection to
 * the database file, a PASSIVE checkpoint every `intervalMs` (more often while the WAL is large), and
 * a clean close when asked.
 * PASSIVE never blocks the server's writers or readers: it copies what it can and leaves the rest
 * for the next round.
 *
 * Under sustained writes a PASSIVE checkpoint never catches up with the end of the WAL, so SQLite
 * never starts the WAL over and the file grows without bound (measured: 1.65 GB after 30 s of token
 * issuance). When the file passes `restartAtBytes`, the worker runs a RESTART checkpoint instead:
 * it waits for the writer lock (the server's next commit waits a few milliseconds), copies the rest,
 * and makes the next writer start the WAL from its beginning; the server connection's
 * journal_size_limit then cuts the file back. The WAL stays below the configured limit.
 */
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';

interface Data {
  readonly path: string;
  readonly intervalMs: number;
  readonly restartAtBytes: number;
}

const { path, intervalMs, restartAtBytes } = workerData as Data;
const port = parentPort;
if (port === null) throw new Error('checkpoint-worker runs as a worker thread');

const db = new BetterSqlite3(path, { fileMustExist: true });
// A RESTART checkpoint blocks new writers while it is pending (SQLite: "This mode blocks new
// database writers while it is pending"), and it waits, through this timeout, for readers to finish:
// a `latchkey tokens list` in another process reading for 130 ms held every token request that long
// (test/cli-stall). So it waits briefly and gives up; the next look (50 ms later while the WAL is
// large) tries again. PASSIVE checkpoints never wait, so this is their setting too.
db.pragma('busy_timeout = 10');
// This connection only checkpoints; it must not start checkpoints of its own on commit either.
db.pragma('wal_autocheckpoint = 0');

function walBytes(): number {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

let failures = 0;
function checkpoint(): void {
  try {
    const size = walBytes();
    const restart = size > restartAtBytes;
    const started = performance.now();
    const [row] = db.pragma(restart ? 'wal_checkpoint(RESTART)' : 'wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    failures = 0;
    port?.postMessage({ type: 'checkpointed', log: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0, walBytes: size, restarted: restart && row?.busy === 0, ms: performance.now() - started });
  } catch (error) {
    // A full disk is the operator's to fix, and checkpoints resume by themselves once space is
    // back: it is not a reason to give up on the worker (only other failures count toward that).
    if (!String((error as { code?: unknown }).code ?? '').startsWith('SQLITE_FULL')) failures++;
    port?.postMessage({ type: 'failed', message: (error as Error).message, failures });
  }
}

// Under heavy writes the WAL nears the restart size within one interval: past a quarter of the
// limit (half the restart size) the worker looks again every FAST_MS, so that it restarts the WAL
// before the server's connection has to (checkpointer.ts afterCommit).
const FAST_MS = Math.min(intervalMs, 50);
let timer: NodeJS.Timeout | undefined;
function tick(): void {
  checkpoint();
  timer = setTimeout(tick, walBytes() > restartAtBytes / 2 ? FAST_MS : intervalMs);
}
timer = setTimeout(tick, intervalMs);
port.on('message', (message: { type: string }) => {
  if (message.type === 'checkpoint') checkpoint();
  if (message.type === 'close') {
    clearTimeout(timer);
    db.close();
    port.close();
  }
});
