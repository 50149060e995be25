import type pg from 'pg';
import { translatePg } from './errors.js';

/**
 * Storage.tryExclusive for PostgreSQL: `fn` runs while this process holds the session advisory
 * lock `hashtext(name)` on one pooled connection, taken with pg_try_advisory_lock so a second
 * caller (here or on any other instance) gets undefined at once instead of waiting. The lock is
 * released when `fn` settles; if the unlock cannot be confirmed the connection is destroyed rather
 * than returned to the pool, and the server drops a dead session's locks by itself, so a crashed
 * instance never keeps the lock. `fn` runs its own queries on other pooled connections: the pool
 * needs at least two.
 */
export function advisoryExclusive(pool: pg.Pool, isClosed: () => boolean) {
  return async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    if (isClosed()) throw translatePg(new Error('Cannot use a pool after calling end on the pool'), 'job lock');
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw translatePg(error, 'job lock');
    }
    let destroy = false;
    try {
      let locked: boolean;
      try {
        const res = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS locked', [name]);
        locked = res.rows[0]?.locked === true;
      } catch (error) {
        destroy = true;
        throw translatePg(error, 'job lock');
      }
      if (!locked) return undefined;
      try {
        return await fn();
      } finally {
        await client.query('SELECT pg_advisory_unlock(hashtext($1))', [name]).catch(() => {
          destroy = true;
        });
      }
    } finally {
      client.release(destroy);
    }
  };
}
