/**
 * PostgreSQL storage adapter: the {@link Storage} interface over a `pg` connection pool.
 *
 * Every write is one SQL statement, so it is its own transaction (atomic, committed before its
 * promise resolves) and holds no connection across awaits. A registry or token-state change and the
 * change-version bump it implies travel in one statement as data-modifying CTEs; the bump runs last,
 * so the counter row it locks (one of several, see migrations.ts) is held only from the end of the
 * statement to its commit. Compare-and-set operations (`consumeRefresh`, `revoke`, `revokeFamily`) are single
 * conditional UPDATEs: under READ COMMITTED a concurrent writer waits for the row lock and then
 * re-checks the WHERE clause against the committed row, so across any number of instances exactly
 * one caller wins.
 *
 * The statements are in statements.ts. A change other instances may have cached is also announced
 * with NOTIFY in the statement that makes it; listener.ts holds the one connection that LISTENs
 * (opened by the first `changes.subscribe`), and exclusive.ts the advisory lock behind
 * `tryExclusive`.
 */
import pg from 'pg';
import type { CustomTypesConfig, QueryResultRow } from 'pg';
import { type ActivityRow, type Application, type AttemptKey, type AuditEntry, type NewTokenRecord, type PropertyRow, type Refusal, type SigningKey, type TokenRecord, type UsageRow, type User } from '../../domain/model.js';
import { StorageError, type AuditQuery, type ConsumeCodeResult, type ConsumePushedResult, type ConsumeResult, type RefusalQuery, type Storage, type TokenQuery, type UserRevocation, type WriteHealth } from '../types.js';
import { clampLimit, DEFAULT_LIST_LIMIT, EXPORT_PAGE } from '../limits.js';
import { listQueries, type ListQuery } from '../sql/queries.js';
import { exchangeRows, type ExchangePolicyRow, prefixEnd, sortedAttemptKeys, sqlRows, type ApplicationRow, type AttemptRow, type IdentityProviderRow, type NamedRow, type RefusalRow, type RuleRow, type ResourceRow, type SessionRow, type SigningKeyRow, type TokenRow, type UserRow, registrationRows, type InitialAccessTokenRow, type RegistrationPolicyRow, type RegistrationRow, pushedRequestFromRow, pushedRequestParams } from '../sql/rows.js';
import { writeHealthTracker } from '../sql/write-health.js';
import { sumUsageRows } from '../usage-rows.js';
import { PgWriteBatcher } from './batcher.js';
import { postgresRateCounters } from '../rate-counters.js';
import { POSTGRES_DIALECT } from './dialect.js';
import { describePostgresUrl, isUnavailable, translatePg, writeFailureReason } from './errors.js';
import { advisoryExclusive } from './exclusive.js';
import { ChangeListener } from './listener.js';
import { parsePostgresHosts } from './hosts.js';
import { FailoverPool, PrimaryFinder } from './primary.js';
import { POSTGRES_SCHEMA_VERSION, migratePostgres } from './migrations.js';
import { refusalColumns, tokenColumns, tokenImportColumns } from './unnest.js';
import { DELETE_CHUNK, SQL, type StatementName } from './statements.js';
import { postgresDeviceCodes } from './device-codes.js';
import type { DeviceCodeRow } from '../sql/device-codes.js';

export interface PostgresOptions {
  /**
   * postgres://user:password@host:port/database?… (libpq-style parameters as `pg` understands them),
   * or several hosts, postgres://user:password@host1:5432,host2:5432/database, with
   * target_session_attrs read-write (the default), primary or any: Latchkey uses the first that
   * fits and moves to another when it fails (primary.ts).
   */
  readonly url: string;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /** How long to wait for a connection, new or from the pool, before failing `unavailable` (default 3000). */
  readonly connectTimeoutMs?: number;
  /** Server-side statement_timeout (default 5000); the client gives up 1 s later if no answer comes. */
  readonly statementTimeoutMs?: number;
}

/** Statements that change the database (anything not a plain SELECT): their outcome is the write health. */
const WRITES: ReadonlySet<StatementName> = new Set((Object.keys(SQL) as StatementName[]).filter((n) => !/^\s*SELECT\b/i.test(SQL[n])));
const INT8_OID = 20;

/**
 * BIGINT columns (millisecond times, lifespans, the change version) as numbers: every value we store
 * is far below 2^53. Per pool rather than through pg.types, so other pg users in the process keep
 * the driver's defaults.
 */
const TYPES: CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format)) as CustomTypesConfig['getTypeParser'],
};

const limitOf = (limit: number | undefined): number => clampLimit(limit, DEFAULT_LIST_LIMIT);
const pageOf = (limit: number | undefined): number => clampLimit(limit, EXPORT_PAGE);
const {
  applicationFromRow, applicationParams, attemptFromRow, auditFromRow, auditParams, codeFromRow, codeParams, identityProviderFromRow, identityProviderParams, ruleFromRow, ruleParams, resourceFromRow, resourceParams,
  namedFromRow, namedParams, refusalFromRow, sessionFromRow, sessionParams, signingKeyFromRow, signingKeyParams, tokenFromRow, userFromRow, userParams,
} = sqlRows(POSTGRES_DIALECT);
const LISTS = listQueries(POSTGRES_DIALECT);
const { iatFromRow, iatParams, policyFromRow, policyParams, registrationFromRow, registrationParams } = registrationRows;

/**
 * Opens a pool to the database at `options.url`, checks that it answers, and applies pending
 * migrations. Rejects with StorageError('unavailable') when the server cannot be reached, and with
 * the migration's error (for example a schema newer than this Latchkey) otherwise.
 */
/**
 * With several hosts, how often every host is probed again while one is in use: a standby promoted
 * while the old primary still takes writes is followed within this long (docs/high-availability.md).
 */
export const HOST_WATCH_MS = 10_000;

export async function openPostgresStorage(options: PostgresOptions): Promise<Storage> {
  const statementTimeout = options.statementTimeoutMs ?? 5_000;
  const connectTimeout = options.connectTimeoutMs ?? 3_000;
  const poolSize = Math.max(1, options.poolSize ?? 10);
  const hosts = parsePostgresHosts(options.url);
  let listener: ChangeListener | undefined;
  const finder = hosts.multi ? new PrimaryFinder(hosts, { probeTimeoutMs: connectTimeout, watchMs: HOST_WATCH_MS, onChange: () => listener?.retarget() }) : undefined;
  if (finder !== undefined && (await finder.discover()) === undefined) {
    finder.close();
    throw new StorageError('unavailable', `could not connect to PostgreSQL at ${describePostgresUrl(options.url)}: ${finder.describe()}`, { cause: finder.noPrimaryError() });
  }
  const config: pg.PoolConfig = {
    connectionString: finder?.current?.url ?? options.url,
    max: poolSize,
    connectionTimeoutMillis: connectTimeout,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: 'latchkey',
    statement_timeout: statementTimeout,
    // The client-side backstop: a server that stops answering altogether cannot hang a request.
    query_timeout: statementTimeout + 1_000,
    idle_in_transaction_session_timeout: 10_000,
    types: TYPES,
  };
  // One host: a plain pool, as it always was. Several: the same pool, routed to the primary.
  const pool = finder === undefined ? new pg.Pool(config) : new FailoverPool(config, finder);
  // An idle connection that breaks (server restart, network) is dropped by the pool, which emits the
  // error here; without a listener it would crash the process. The next query connects anew.
  pool.on('error', () => undefined);

  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    finder?.close();
    await pool.end().catch(() => undefined);
    if (!isUnavailable(error)) throw error; // not a connection problem: a malformed URL, say
    const reason = error instanceof Error ? error.message || (error as { code?: string }).code || error.name : String(error);
    throw new StorageError('unavailable', `could not connect to PostgreSQL at ${describePostgresUrl(options.url)}: ${reason}`, { cause: error });
  }
  try {
    await migratePostgres(client);
    client.release();
  } catch (error) {
    client.release(error instanceof Error ? error : true);
    finder?.close();
    await pool.end().catch(() => undefined);
    throw translatePg(error, 'schema');
  }
  listener = new ChangeListener({ url: finder === undefined ? options.url : () => finder.current?.url, connectTimeoutMs: connectTimeout });
  return createPostgresStorage(pool, poolSize, listener, finder);
}

function createPostgresStorage(pool: pg.Pool, poolSize: number, listener: ChangeListener, finder: PrimaryFinder | undefined): Storage {
  let closed = false;
  let closing: Promise<void> | undefined;

  const closedError = (): StorageError => new StorageError('unavailable', 'the PostgreSQL storage is closed');

  const { health, note: noteWrite } = writeHealthTracker(writeFailureReason);

  /** Runs one fixed statement, prepared once per connection under its name. */
  const run = async <R extends QueryResultRow>(what: string, name: StatementName, values: unknown[]): Promise<R[]> => {
    if (closed) throw closedError();
    const write = WRITES.has(name);
    try {
      const res = await pool.query<R>({ name: `latchkey_${name}`, text: SQL[name], values });
      if (write) noteWrite();
      return res.rows;
    } catch (error) {
      if (write) noteWrite(error);
      throw translatePg(error, what);
    }
  };

  /** Runs a list query (sql/queries.ts), prepared once per connection under its name like the fixed statements. */
  const runList = async <R extends QueryResultRow>(what: string, q: ListQuery): Promise<R[]> => {
    if (closed) throw closedError();
    try {
      return (await pool.query<R>({ name: `latchkey_${q.name}`, text: q.text, values: q.values })).rows;
    } catch (error) {
      throw translatePg(error, what);
    }
  };

  const one = async <R extends QueryResultRow, T>(what: string, name: StatementName, values: unknown[], map: (r: R) => T): Promise<T | undefined> => {
    // PostgreSQL text cannot hold U+0000 (it refuses the query, 22021): no stored row has a key
    // with one, so a lookup by such a key (a caller's client_id, user name ...) finds nothing.
    if (values.some((v) => typeof v === 'string' && v.includes('\u0000'))) return undefined;
    const rows = await run<R>(what, name, values);
    return rows[0] === undefined ? undefined : map(rows[0]);
  };

  /** A registry mutation (with its bump); a statement that touched no row means not_found. */
  const mutate = async (what: string, name: StatementName, values: unknown[]): Promise<void> => {
    const rows = await run<{ n: number }>(what, name, values);
    if ((rows[0]?.n ?? 0) === 0) throw new StorageError('not_found', `${what} not found`);
  };

  const touched = async (what: string, name: StatementName, values: unknown[]): Promise<number> =>
    (await run<{ n: number }>(what, name, values))[0]?.n ?? 0;

  /** Runs a plain UPDATE (no RETURNING) and answers how many rows it changed. */
  const touchedRows = async (what: string, name: StatementName, values: unknown[]): Promise<number> => {
    if (closed) throw closedError();
    try {
      const res = await pool.query({ name: `latchkey_${name}`, text: SQL[name], values });
      noteWrite();
      return res.rowCount ?? 0;
    } catch (error) {
      noteWrite(error);
      throw translatePg(error, what);
    }
  };

  const commitBatch = async (tokens: readonly NewTokenRecord[], refusals: readonly Refusal[]): Promise<void> => {
    try {
      await commitRows(tokens, refusals);
      noteWrite();
    } catch (error) {
      noteWrite(error);
      throw error;
    }
  };
  /**
   * One group-commit statement. Its column arrays are emptied once it has finished: pg's query
   * object keeps its values, and measured under load, with pg's read timeout (query_timeout) armed
   * on every query, the rows' strings outlived the commit long enough for V8 to promote them to
   * the old generation (they died young with the timer off, or with the arrays emptied). With the
   * batcher's plain literal, this took peak RSS under token load from 190-210 MiB to about 135
   * (docs/benchmarks.md, "Peak memory on PostgreSQL").
   */
  const insertColumns = async (name: StatementName, columns: unknown[][]): Promise<void> => {
    try {
      await pool.query({ name: `latchkey_${name}`, text: SQL[name], values: columns });
    } finally {
      for (const column of columns) column.length = 0;
    }
  };
  const commitRows = async (tokens: readonly NewTokenRecord[], refusals: readonly Refusal[]): Promise<void> => {
    if (tokens.length > 0 && refusals.length > 0) await insertColumns('tokensAndRefusalsInsert', [...tokenColumns(tokens), ...refusalColumns(refusals)]);
    else if (tokens.length > 0) await insertColumns('tokenInsert', tokenColumns(tokens));
    else if (refusals.length > 0) await insertColumns('refusalInsert', refusalColumns(refusals));
  };
  // Half the pool at most for group commits; the rest stays free for reads and single writes.
  const maxInFlight = Math.max(1, Math.ceil(poolSize / 2));
  const batcher = new PgWriteBatcher(commitBatch, (error, write) => translatePg(error, write.tokens.length > 0 ? 'token' : 'refusal'), maxInFlight);

  const rateCounters = postgresRateCounters(pool);

  const enqueue = (tokens: readonly NewTokenRecord[], refusals: readonly Refusal[]): Promise<void> => {
    if (closed) return Promise.reject(closedError());
    // Copy now: the caller may reuse its arrays before the batch is committed.
    return batcher.enqueue({ tokens: tokens.map((t) => ({ ...t, scopes: [...t.scopes] })), refusals: refusals.map((r) => ({ ...r })) });
  };

  const consumeRefresh = async (hash: string, replacements: readonly NewTokenRecord[]): Promise<ConsumeResult> => {
    const rows = await run<TokenRow>('token', 'tokenConsume', [hash, ...tokenColumns(replacements)]);
    if (rows[0] !== undefined) return { outcome: 'consumed', token: tokenFromRow(rows[0]) };
    // Lost (or nothing to consume): read the row as now committed, in a fresh snapshot, to say why.
    const current = await one('token', 'tokenByHash', [hash], tokenFromRow);
    return current === undefined ? { outcome: 'not_found' } : { outcome: 'not_active', token: current };
  };

  /** Runs a chunked delete until a chunk comes back short; returns the total. */
  const deleteInChunks = async (what: string, name: StatementName, before: number): Promise<number> => {
    let total = 0;
    for (;;) {
      const n = await touched(what, name, [before]);
      total += n;
      if (n < DELETE_CHUNK) return total;
    }
  };

  const importTokens = async (tokens: readonly TokenRecord[]): Promise<void> => {
    if (tokens.length > 0) await run('token', 'tokenImport', tokenImportColumns(tokens));
    else if (closed) throw closedError();
  };

  /**
   * keys.rotate: one transaction on one pooled connection. The table lock (readers unaffected) makes
   * concurrent rotations take turns, so the second one sees and retires the key the first added;
   * a single statement could not, its snapshot being taken before the other commits.
   */
  const rotateKeys = async (next: SigningKey, retire: { readonly retiresAt: number; readonly publishUntil: number }): Promise<void> => {
    if (closed) throw closedError();
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (error) {
      throw translatePg(error, 'signing key');
    }
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      try {
        await client.query({ name: 'latchkey_keyLock', text: SQL.keyLock });
        await client.query({ name: 'latchkey_keyRetire', text: SQL.keyRetire, values: [retire.retiresAt, retire.publishUntil, next.purpose ?? 'access', next.alg] });
        await client.query({ name: 'latchkey_keyInsert', text: SQL.keyInsert, values: signingKeyParams(next) });
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch((e: unknown) => {
          broken = e instanceof Error ? e : new Error(String(e));
        });
        throw error;
      }
    } catch (error) {
      broken ??= isUnavailable(error) ? (error as Error) : undefined;
      throw translatePg(error, 'signing key');
    } finally {
      client.release(broken ?? false);
    }
  };

  const consumeCode = async (hash: string, at: number): Promise<ConsumeCodeResult> => {
    const won = await one('authorization code', 'codeConsume', [hash, at], codeFromRow);
    if (won !== undefined) return { outcome: 'consumed', code: won };
    const current = await one('authorization code', 'codeByHash', [hash], codeFromRow);
    return current === undefined ? { outcome: 'not_found' } : { outcome: 'used', code: current };
  };

  const consumePushed = async (hash: string, at: number): Promise<ConsumePushedResult> => {
    const won = await one('pushed request', 'parConsume', [hash, at], pushedRequestFromRow);
    if (won !== undefined) return { outcome: 'consumed', request: won };
    const current = await one('pushed request', 'parByHash', [hash], pushedRequestFromRow);
    return current === undefined ? { outcome: 'not_found' } : { outcome: 'used', request: current };
  };

  const listTokens = async (q: TokenQuery) => (await runList<TokenRow>('token', LISTS.tokens(q))).map(tokenFromRow);
  const listRefusals = async (q: RefusalQuery) => (await runList<RefusalRow>('refusal', LISTS.refusals(q))).map(refusalFromRow);
  const listAudit = async (q: AuditQuery) => (await runList<AuditEntry>('audit entry', LISTS.audit(q))).map(auditFromRow);

  const addActivity = async (rows: readonly ActivityRow[]): Promise<void> => {
    const sums = new Map<string, ActivityRow>();
    for (const r of rows) {
      const key = `${r.metric}\u0000${r.bucket}`;
      sums.set(key, { bucket: r.bucket, metric: r.metric, count: (sums.get(key)?.count ?? 0) + r.count });
    }
    const sorted = [...sums.values()].sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : a.bucket - b.bucket));
    if (sorted.length === 0) {
      if (closed) throw closedError();
      return;
    }
    await run('activity', 'activityAdd', [sorted.map((r) => r.bucket), sorted.map((r) => r.metric), sorted.map((r) => r.count)]);
  };

  const addUsage = async (rows: readonly UsageRow[]): Promise<void> => {
    const sorted = sumUsageRows(rows);
    if (sorted.length === 0) {
      if (closed) throw closedError();
      return;
    }
    const column = <K extends keyof UsageRow>(k: K) => sorted.map((r) => r[k]);
    await run('usage', 'usageAdd', [column('clientId'), column('day'), column('scope'), column('tokens'), column('calls'), column('refusals'), column('lastUseAt')]);
  };

  const revokeForUser = async (userId: string, at: number, includeClientCredentials: boolean): Promise<UserRevocation> => {
    const row = (await run<{ tokens: number; families: number }>('token', 'tokenRevokeUser', [at, userId, includeClientCredentials]))[0];
    return { tokens: row?.tokens ?? 0, families: row?.families ?? 0 };
  };

  const revokeMatching = async (name: 'tokenRevokeApp' | 'tokenRevokeScope', key: string, at: number): Promise<UserRevocation> => {
    const row = (await run<{ tokens: number; families: number }>('token', name, [at, key]))[0];
    return { tokens: row?.tokens ?? 0, families: row?.families ?? 0 };
  };

  /** Keys as three parallel arrays (unnest), sorted so concurrent writers lock rows in one order. */
  const attemptArrays = (keys: readonly AttemptKey[]): [string[], string[], string[]] => {
    const sorted = sortedAttemptKeys(keys);
    return [sorted.map((k) => k.kind), sorted.map((k) => k.userName), sorted.map((k) => k.source)];
  };
  const byKeyOrder = (rows: AttemptRow[]) => sortedAttemptKeys(rows.map(attemptFromRow));

  const probeWrite = async (): Promise<WriteHealth> => {
    try {
      const inserted = await run<{ id: string }>('write probe', 'writeProbeInsert', []);
      if (inserted[0] !== undefined) await run('write probe', 'writeProbeDelete', [inserted[0].id]);
    } catch {
      // run() noted a space or read-only failure; anything else (unreachable) leaves the health as it was.
    }
    return health();
  };

  return {
    kind: 'postgres',
    users: {
      create: (u: User) => mutate('user', 'userInsert', userParams(u)),
      update: (u: User) => mutate('user', 'userUpdate', userParams(u)),
      byId: (id) => one('user', 'userById', [id], userFromRow),
      byName: (name) => one('user', 'userByName', [name], userFromRow),
      list: async () => (await run<UserRow>('user', 'userList', [])).map(userFromRow),
      delete: async (id) => (await touched('user', 'userDelete', [id])) > 0,
    },
    roles: {
      create: (r) => mutate('role', 'roleInsert', namedParams(r)),
      update: (r) => mutate('role', 'roleUpdate', namedParams(r)),
      delete: async (name) => (await touched('role', 'roleDelete', [name])) > 0,
      byName: (name) => one('role', 'roleByName', [name], namedFromRow),
      list: async () => (await run<NamedRow>('role', 'roleList', [])).map(namedFromRow),
    },
    scopes: {
      create: (sc) => mutate('scope', 'scopeInsert', namedParams(sc)),
      update: (sc) => mutate('scope', 'scopeUpdate', namedParams(sc)),
      delete: async (name) => (await touched('scope', 'scopeDelete', [name])) > 0,
      byName: (name) => one('scope', 'scopeByName', [name], namedFromRow),
      list: async () => (await run<NamedRow>('scope', 'scopeList', [])).map(namedFromRow),
    },
    applications: {
      create: (a: Application) => mutate('application', 'appInsert', applicationParams(a)),
      update: (a: Application) => mutate('application', 'appUpdate', applicationParams(a)),
      byId: (id) => one('application', 'appById', [id], applicationFromRow),
      byClientId: (cid) => one('application', 'appByClientId', [cid], applicationFromRow),
      list: async () => (await run<ApplicationRow>('application', 'appList', [])).map(applicationFromRow),
      delete: async (id) => (await touched('application', 'appDelete', [id])) > 0,
    },
    properties: {
      set: (name, value, at) => mutate('property', 'propSet', [name, value, at]),
      list: () => run<PropertyRow>('property', 'propList', []),
    },
    tokens: {
      insert: (tokens) => (tokens.length === 0 ? (closed ? Promise.reject(closedError()) : Promise.resolve()) : enqueue(tokens, [])),
      byHash: (hash) => one('token', 'tokenByHash', [hash], tokenFromRow),
      byKeyPrefix: async (prefix, limit) => (prefix === '' ? [] : (await run<TokenRow>('token', 'tokenByPrefix', [prefix, prefixEnd(prefix), clampLimit(limit, DEFAULT_LIST_LIMIT)])).map(tokenFromRow)),
      consumeRefresh: (hash, _at, replacements) => consumeRefresh(hash, replacements),
      revoke: async (hash, at) => (await touched('token', 'tokenRevoke', [at, hash])) > 0,
      revokeFamily: (familyId, at) => touched('token', 'tokenRevokeFamily', [at, familyId]),
      revokeForUser: (userId, at, options) => revokeForUser(userId, at, options?.includeClientCredentials === true),
      revokeForApplication: (applicationId, at) => revokeMatching('tokenRevokeApp', applicationId, at),
      revokeWithScope: (scope, at) => revokeMatching('tokenRevokeScope', scope, at),
      list: listTokens,
      deleteExpired: (before) => deleteInChunks('token', 'tokenDeleteExpired', before),
      exportAll: async (after, limit) => (await run<TokenRow>('token', 'tokenExport', [after ?? '', pageOf(limit)])).map(tokenFromRow),
      importAll: importTokens,
    },
    refusals: {
      record: (f: Refusal) => enqueue([], [f]),
      byRequestId: (id) => one('refusal', 'refusalById', [id], refusalFromRow),
      list: listRefusals,
      deleteOlderThan: (before) => deleteInChunks('refusal', 'refusalDeleteOlder', before),
      exportAll: async (after, limit) => (await run<RefusalRow>('refusal', 'refusalExport', [after ?? '', pageOf(limit)])).map(refusalFromRow),
    },
    keys: {
      list: async () => (await run<SigningKeyRow>('signing key', 'keyList', [])).map(signingKeyFromRow),
      rotate: rotateKeys,
      deleteUnpublished: (before) => touched('signing key', 'keyDeleteUnpublished', [before]),
    },
    codes: {
      insert: async (c) => void (await run('authorization code', 'codeInsert', codeParams(c))),
      consume: consumeCode,
      byHash: (hash) => one('authorization code', 'codeByHash', [hash], codeFromRow),
      deleteExpired: (before) => deleteInChunks('authorization code', 'codeDeleteExpired', before),
    },
    deviceCodes: postgresDeviceCodes(async (what, name, text, values, write) => {
      if (closed) throw closedError();
      try {
        const res = await pool.query<DeviceCodeRow>({ name, text, values });
        if (write) noteWrite();
        return res.rows;
      } catch (error) {
        if (write) noteWrite(error);
        throw translatePg(error, what);
      }
    }),
    pushedRequests: {
      insert: async (p) => void (await run('pushed request', 'parInsert', pushedRequestParams(p))),
      consume: consumePushed,
      deleteExpired: (before) => deleteInChunks('pushed request', 'parDeleteExpired', before),
    },
    replay: {
      remember: async (key, expiresAt, now) => (await run('one-time id', 'replayRemember', [key, expiresAt, now])).length === 1,
      deleteExpired: (before) => deleteInChunks('one-time id', 'replayDeleteExpired', before),
    },
    rules: {
      create: (r) => mutate('rule', 'ruleInsert', ruleParams(r)),
      update: (r) => mutate('rule', 'ruleUpdate', ruleParams(r)),
      byId: (id) => one('rule', 'ruleById', [id], ruleFromRow),
      list: async () => (await run<RuleRow>('rule', 'ruleList', [])).map(ruleFromRow),
      delete: async (id) => (await touched('rule', 'ruleDelete', [id])) > 0,
    },
    resources: {
      create: (r) => mutate('resource', 'resourceInsert', resourceParams(r)),
      update: (r) => mutate('resource', 'resourceUpdate', resourceParams(r)),
      byUri: (uri) => one('resource', 'resourceByUri', [uri], resourceFromRow),
      list: async () => (await run<ResourceRow>('resource', 'resourceList', [])).map(resourceFromRow),
      delete: async (uri) => (await touched('resource', 'resourceDelete', [uri])) > 0,
    },
    initialAccessTokens: {
      create: async (t) => void (await run('initial access token', 'iatInsert', iatParams(t))),
      byId: (id) => one('initial access token', 'iatById', [id], iatFromRow),
      byHash: (hash) => one('initial access token', 'iatByHash', [hash], iatFromRow),
      list: async () => (await run<InitialAccessTokenRow>('initial access token', 'iatList', [])).map(iatFromRow),
      consume: async (hash, at) => {
        if (hash.includes('\u0000')) return { outcome: 'not_found' as const };
        const spent = (await run<InitialAccessTokenRow>('initial access token', 'iatConsume', [at, hash]))[0];
        if (spent !== undefined) return { outcome: 'consumed' as const, token: iatFromRow(spent) };
        const found = await one('initial access token', 'iatByHash', [hash], iatFromRow);
        return found === undefined ? { outcome: 'not_found' as const } : { outcome: 'unusable' as const, token: found };
      },
      revoke: async (id, at) => (await touched('initial access token', 'iatRevoke', [at, id])) > 0,
    },
    exchangePolicies: {
      put: async (p) => void (await touched('exchange policy', 'exchangePolicyPut', exchangeRows.exchangePolicyParams(p))),
      byClientId: (clientId) => one('exchange policy', 'exchangePolicyByClientId', [clientId], exchangeRows.exchangePolicyFromRow),
      list: async () => (await run<ExchangePolicyRow>('exchange policy', 'exchangePolicyList', [])).map(exchangeRows.exchangePolicyFromRow),
      delete: async (clientId) => (await touched('exchange policy', 'exchangePolicyDelete', [clientId])) > 0,
    },
    registrationPolicies: {
      put: async (p) => void (await touched('registration policy', 'regPolicyPut', policyParams(p))),
      byName: (name) => one('registration policy', 'regPolicyByName', [name], policyFromRow),
      list: async () => (await run<RegistrationPolicyRow>('registration policy', 'regPolicyList', [])).map(policyFromRow),
      delete: async (name) => (await touched('registration policy', 'regPolicyDelete', [name])) > 0,
    },
    registrations: {
      create: async (r) => void (await run('registration', 'registrationInsert', registrationParams(r))),
      update: (r) => mutate('registration', 'registrationUpdate', registrationParams(r)),
      byClientId: (clientId) => one('registration', 'registrationByClientId', [clientId], registrationFromRow),
      bySourceAndFingerprint: (source, fingerprint) => one('registration', 'registrationBySource', [source, fingerprint], registrationFromRow),
      list: async () => (await run<RegistrationRow>('registration', 'registrationList', [])).map(registrationFromRow),
      touch: async (clientId, at) => (await touched('registration', 'registrationTouch', [at, clientId])) > 0,
      unusedBefore: async (before, limit) => (await run<RegistrationRow>('registration', 'registrationUnused', [before, limitOf(limit)])).map(registrationFromRow),
      delete: async (clientId) => (await touched('registration', 'registrationDelete', [clientId])) > 0,
    },
    identityProviders: {
      create: (p) => mutate('identity provider', 'idpInsert', identityProviderParams(p)),
      update: (p) => mutate('identity provider', 'idpUpdate', identityProviderParams(p)),
      byId: (id) => one('identity provider', 'idpById', [id], identityProviderFromRow),
      byName: (name) => one('identity provider', 'idpByName', [name], identityProviderFromRow),
      list: async () => (await run<IdentityProviderRow>('identity provider', 'idpList', [])).map(identityProviderFromRow),
      delete: async (id) => (await touched('identity provider', 'idpDelete', [id])) > 0,
    },
    audit: {
      record: async (e: AuditEntry) => void (await run('audit entry', 'auditInsert', auditParams(e))),
      list: listAudit,
      deleteOlderThan: (before) => deleteInChunks('audit entry', 'auditDeleteOlder', before),
      exportAll: async (after, limit) => (await run<AuditEntry>('audit entry', 'auditExport', [after ?? '', pageOf(limit)])).map(auditFromRow),
    },
    activity: {
      add: addActivity,
      series: (metric, since) => run<{ bucket: number; count: number }>('activity', 'activitySeries', [metric, since]),
      list: (prefix, since) => run<ActivityRow>('activity', 'activityList', [prefix, prefixEnd(prefix), since]),
      deleteOlderThan: (before) => deleteInChunks('activity', 'activityDeleteOlder', before),
    },
    usage: {
      add: addUsage,
      list: (q) => (q.clientId === undefined ? run<UsageRow>('usage', 'usageList', [q.since]) : run<UsageRow>('usage', 'usageListClient', [q.clientId, q.since])),
      firstDay: async () => (await run<{ day: number | null }>('usage', 'usageFirstDay', []))[0]?.day ?? undefined,
      deleteOlderThan: (before) => deleteInChunks('usage', 'usageDeleteOlder', before),
    },
    sessions: {
      create: async (x) => void (await run('session', 'sessionInsert', sessionParams(x))),
      byId: (id) => one('session', 'sessionById', [id], sessionFromRow),
      touch: async (id, at) => (await touchedRows('session', 'sessionTouch', [id, at])) > 0,
      revoke: async (id, at) => (await touchedRows('session', 'sessionRevoke', [id, at])) > 0,
      revokeForUser: (userId, at) => touchedRows('session', 'sessionRevokeUser', [userId, at]),
      listForUser: async (userId, now) => (await run<SessionRow>('session', 'sessionListUser', [userId, now])).map(sessionFromRow),
      addClient: async (sid, applicationId, at, expiresAt) => void (await run('session', 'sessionClientAdd', [sid, applicationId, at, expiresAt])),
      clientsOf: async (sid) => (await run<{ application_id: string }>('session', 'sessionClientsOf', [sid])).map((r) => r.application_id),
      deleteExpired: async (before) => {
        await run('session', 'sessionClientsDeleteExpired', [before]);
        return deleteInChunks('session', 'sessionDeleteExpired', before);
      },
    },
    attempts: {
      fail: async (keys, at, windowMs, ttlMs) =>
        keys.length === 0 ? [] : byKeyOrder(await run<AttemptRow>('login attempt', 'attemptFail', [...attemptArrays(keys), at, at + ttlMs, at - windowMs])),
      get: async (keys, now) => (keys.length === 0 ? [] : byKeyOrder(await run<AttemptRow>('login attempt', 'attemptGet', [...attemptArrays(keys), now]))),
      succeed: async (userName, source, at, ttlMs) => void (await run('login attempt', 'attemptSucceed', [userName, source, at, at + ttlMs])),
      clear: (userName) => touched('login attempt', 'attemptClear', [userName]),
      list: async (now, limit) => (await run<AttemptRow>('login attempt', 'attemptList', [now, limitOf(limit)])).map(attemptFromRow),
      deleteExpired: (before) => deleteInChunks('login attempt', 'attemptDeleteExpired', before),
    },
    writeHealth: health,
    probeWrite,
    rateCounters,
    stats: {
      commitSeconds: batcher.commitSeconds,
      commitWrites: batcher.commitWrites,
      pool: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount, max: poolSize }),
      ...(finder === undefined ? {} : { hosts: () => finder.statuses() }),
    },
    changes: {
      version: async () => (await run<{ value: number }>('change version', 'version', []))[0]?.value ?? 0,
      subscribe: (l) => (closed ? () => undefined : listener.subscribe(l)),
    },
    ping: async () => {
      await run('ping', 'ping', []);
    },
    schemaVersion: async () => ({ current: (await run<{ v: number }>('schema', 'schemaVersion', []))[0]?.v ?? 0, expected: POSTGRES_SCHEMA_VERSION }),
    tryExclusive: advisoryExclusive(pool, () => closed),
    close: () => {
      closing ??= (async () => {
        closed = true;
        rateCounters.stop();
        // Writes already accepted are committed before the pool goes.
        await batcher.flush();
        await listener.close();
        finder?.close();
        await pool.end();
      })();
      return closing;
    },
  };
}
