/**
 * Test databases on the machine's PostgreSQL (CI starts it; see .ci/run). LATCHKEY_TEST_PG names an
 * administrative connection (default: the `postgres` database as user `postgres` on 127.0.0.1).
 * PostgreSQL being unreachable makes these tests fail, never skip.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const ADMIN_URL = process.env.LATCHKEY_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** The admin URL pointed at another database on the same server. */
export function databaseUrl(database: string, base = ADMIN_URL): string {
  const u = new URL(base);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Runs statements on a short-lived connection to `url` (the admin database by default). */
export async function sql<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values: unknown[] = [], url = ADMIN_URL): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000, query_timeout: 30_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new Error(
      `PostgreSQL is not reachable at ${new URL(url).host} (${(error as Error).message}). These tests need it: start it ` +
        '(pg_ctlcluster --skip-systemctl-redirect <version> main start) or set LATCHKEY_TEST_PG to an admin URL.',
      { cause: error },
    );
  }
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /** Drops the database, ending any connection still open to it. */
  drop(): Promise<void>;
}

/** Creates an empty database with a unique name (latchkey_test_<pid>_<random>). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `latchkey_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  await sql(`CREATE DATABASE ${name}`);
  let dropped: Promise<void> | undefined;
  return {
    name,
    url: databaseUrl(name),
    drop: () => (dropped ??= sql(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`).then(() => undefined)),
  };
}
