/**
 * The body of the background checkpointer's worker thread (checkpointer.ts): its own connection to
 * the database file, a PASSIVE checkpoint every `intervalMs`, and a clean close when asked.
 * PASSIVE never blocks the server's writers or readers: it copies what it can and leaves the rest
 * for the next round.
 */
import { parentPort, workerData } from 'node:worker_threads';
import BetterSqlite3 from 'better-sqlite3';

interface Data {
  readonly path: string;
  readonly intervalMs: number;
}

const { path, intervalMs } = workerData as Data;
const port = parentPort;
if (port === null) throw new Error('checkpoint-worker runs as a worker thread');

const db = new BetterSqlite3(path, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
// This connection only checkpoints; it must not start checkpoints of its own on commit either.
db.pragma('wal_autocheckpoint = 0');

let failures = 0;
function checkpoint(): void {
  try {
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[];
    failures = 0;
    port?.postMessage({ type: 'checkpointed', log: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 });
  } catch (error) {
    failures++;
    port?.postMessage({ type: 'failed', message: (error as Error).message, failures });
  }
}

const timer = setInterval(checkpoint, intervalMs);
port.on('message', (message: { type: string }) => {
  if (message.type === 'checkpoint') checkpoint();
  if (message.type === 'close') {
    clearInterval(timer);
    db.close();
    port.close();
  }
});
