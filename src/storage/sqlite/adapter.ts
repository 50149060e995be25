import { randomUUID } from 'node:crypto';
import { dirname } from 'node:path';
import BetterSqlite3, { type Database, type Statement } from 'better-sqlite3';
import { createPrivateFile, ensurePrivateDir } from '../../core/private-files.js';
import { type Application, type ActivityRow, type AttemptKey, type AuditEntry, type AuthorizationCode, type IdentityProvider, type NewTokenRecord, type PropertyRow, type Refusal, type ResourceRecord, type Role, type Rule, type Scope, type SigningKey, type TokenRecord, type UsageRow, type User } from '../../domain/model.js';
import { StorageError, type ConsumeCodeResult, type ConsumePushedResult, type ConsumeResult, type Storage, type TokenQuery, type UserRevocation, type WriteHealth } from '../types.js';
import { clampLimit, DEFAULT_LIST_LIMIT, EXPORT_PAGE } from '../limits.js';
import { listQueries, updateValues, type ListQuery } from '../sql/queries.js';
import { actEncode, exchangeRows, type ExchangePolicyRow, audienceEncode, prefixEnd, sortedAttemptKeys, sqlRows, type ApplicationRow, type AttemptRow, type AuthorizationCodeRow, type IdentityProviderRow, type NamedRow, type RefusalRow, type RuleRow, type ResourceRow, type SessionRow, type SigningKeyRow, type TokenRow, type UserRow, registrationRows, type InitialAccessTokenRow, type RegistrationPolicyRow, type RegistrationRow, type PushedRequestRow, pushedRequestFromRow, pushedRequestParams } from '../sql/rows.js';
import { writeHealthTracker } from '../sql/write-health.js';
import { WriteBatcher } from './batcher.js';
import { memoryRateCounters } from '../rate-counters.js';
import { BackgroundCheckpointer, type CheckpointerOptions } from './checkpointer.js';
import { SQLITE_DIALECT } from './dialect.js';
import { migrateSqlite, SQLITE_SCHEMA_VERSION } from './migrations.js';
import { prepareStatements, SQLITE_DELETE_CHUNK } from './statements.js';
import { sqliteDeviceCodes } from './device-codes.js';

export interface SqliteOptions {
  /** File path, or ':memory:'. */
  readonly path: string;
  /** WAL checkpoints in a worker thread instead of inside commits (checkpointer.ts): for the server. */
  readonly backgroundCheckpoints?: CheckpointerOptions;
}

const limitOf = (limit: number | undefined): number => clampLimit(limit, DEFAULT_LIST_LIMIT);
const pageOf = (limit: number | undefined): number => clampLimit(limit, EXPORT_PAGE);
const {
  applicationFromRow, applicationParams, attemptFromRow, auditFromRow, auditParams, codeFromRow, codeParams, identityProviderFromRow, identityProviderParams, ruleFromRow, ruleParams, resourceFromRow, resourceParams,
  namedFromRow, namedParams, refusalFromRow, refusalParams, sessionFromRow, sessionParams, signingKeyFromRow, signingKeyParams, tokenFromRow, userFromRow, userParams,
} = sqlRows(SQLITE_DIALECT);
const LISTS = listQueries(SQLITE_DIALECT);
const { iatFromRow, iatParams, policyFromRow, policyParams, registrationFromRow, registrationParams } = registrationRows;
const words = SQLITE_DIALECT.words.encode;
/** How long a job lease lasts without renewal (Storage.tryExclusive). */
const LEASE_MS = 10 * 60_000;

/**
 * Driver codes (extended codes included: SQLITE_IOERR_WRITE, SQLITE_READONLY_DBMOVED, …) that mean
 * the database cannot take writes now: no space left (SQLITE_FULL, also a max_page_count limit),
 * a read-only file or file system, an I/O error. Nothing about the request is wrong: callers answer
 * 503 and retry.
 */
const WRITE_FAILURES = ['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN'];

/** Turns driver errors into storage errors; everything else is rethrown untouched. */
function translate(error: unknown, what: string): never {
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (code.startsWith('SQLITE_CONSTRAINT')) throw new StorageError('conflict', `${what} already exists`, { cause: error });
    if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED' || WRITE_FAILURES.some((c) => code.startsWith(c))) {
      throw new StorageError('unavailable', `database unavailable (${code})`, { cause: error });
    }
  }
  throw error;
}

function safeTranslate(error: unknown, what: string): unknown {
  try {
    translate(error, what);
  } catch (e) {
    return e;
  }
}

/** The driver code of a failure that means writes cannot be taken (see WRITE_FAILURES), else undefined. */
function writeFailureCode(error: unknown): string | undefined {
  const cause = error instanceof StorageError ? error.cause : error;
  const code = (cause as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' && WRITE_FAILURES.some((c) => code.startsWith(c)) ? code : undefined;
}

/**
 * Opens (creating if needed) a SQLite database and applies pending migrations. A new database is
 * created owner-only (0600, in a 0700 folder when the folder is new) before the driver opens it:
 * SQLite would create it with 0644 minus the umask, readable by every local user, and gives the
 * -wal and -shm files the database file's mode. An existing file keeps its mode: the operator may
 * have widened it on purpose (a backup agent's group), and a server that silently changes files it
 * did not create surprises; `latchkey doctor` and the serve start-up log warn with the chmod instead.
 */
export function openSqliteStorage(options: SqliteOptions): Storage {
  if (options.path !== ':memory:') {
    ensurePrivateDir(dirname(options.path));
    createPrivateFile(options.path);
  }
  const db: Database = new BetterSqlite3(options.path);
  db.pragma('journal_mode = WAL');
  // NORMAL in WAL mode: a commit survives a process crash; only an OS crash may lose the last ones.
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  db.pragma('foreign_keys = ON');
  migrateSqlite(db);

  const { health, note: noteWrite } = writeHealthTracker((error) => {
    const code = writeFailureCode(error);
    return code === undefined ? undefined : describeWriteFailure(code);
  });
  /** Runs fn; a driver error becomes a storage error. `write` marks operations that change the database. */
  function guard<T>(what: string, fn: () => T, write = false): Promise<T> {
    try {
      const value = fn();
      if (write) noteWrite();
      return Promise.resolve(value);
    } catch (error) {
      if (write) noteWrite(error);
      return Promise.reject(safeTranslate(error, what));
    }
  }
  const fileBacked = options.path !== ':memory:';
  const checkpointer = fileBacked && options.backgroundCheckpoints !== undefined ? new BackgroundCheckpointer(db, options.path, options.backgroundCheckpoints) : undefined;
  // After each group commit, the checkpointer may make the writer wait for the disk (the WAL bound).
  const afterBatch = checkpointer === undefined ? noteWrite : (error?: unknown) => {
    noteWrite(error);
    if (error === undefined) checkpointer.afterCommit();
  };
  const batcher = new WriteBatcher(db, 256, (e) => safeTranslate(e, 'record'), afterBatch);

  const s = prepareStatements(db);
  /** The list queries' statements, prepared once per text (one per combination of filters). */
  const listed = new Map<string, Statement>();
  const list = <R>(q: ListQuery): R[] => {
    let statement = listed.get(q.text);
    if (statement === undefined) listed.set(q.text, (statement = db.prepare(q.text)));
    return statement.all(...q.values) as R[];
  };

  /**
   * Runs a chunked delete (SQLITE_DELETE_CHUNK rows a statement, each its own transaction) until a
   * chunk comes back short. Between two chunks it leaves the event loop to the requests (and the
   * write batcher's group commits) for as long as the chunk took: a backlog of expired rows takes
   * at most half of the server's time while it is worked off, and never blocks it for more than
   * one chunk. Returns the total.
   */
  const deleteInChunks = async (what: string, statement: Statement, ...params: unknown[]): Promise<number> => {
    let total = 0;
    for (;;) {
      const started = performance.now();
      const n = await guard(what, () => statement.run(...params).changes, true);
      total += n;
      if (n < SQLITE_DELETE_CHUNK) return total;
      await new Promise<void>((resolve) => setTimeout(resolve, Math.max(1, performance.now() - started)));
    }
  };

  /** Runs a registry mutation and bumps the change version in the same transaction. */
  const mutate = (what: string, fn: () => number | void): Promise<void> =>
    guard(what, () => {
      db.transaction(() => {
        const changed = fn();
        if (changed === 0) throw new StorageError('not_found', `${what} not found`);
        s.bump.run();
      }).immediate();
    }, true);

  /** Deletes one row by its key; bumps the change version when it did. */
  const remove = (what: string, statement: Statement, key: string): Promise<boolean> =>
    guard(what, () => db.transaction(() => {
      const deleted = statement.run(key).changes === 1;
      if (deleted) s.bump.run();
      return deleted;
    }).immediate(), true);

  const revokeMatching = (statement: Statement) =>
    db.transaction((key: string, at: number): UserRevocation => {
      const rows = statement.all(at, at, key) as { family_id: string }[];
      if (rows.length > 0) s.bump.run();
      return { tokens: rows.length, families: new Set(rows.map((r) => r.family_id)).size };
    });
  const revokeForApplication = revokeMatching(s.tokenRevokeApp);
  const revokeWithScope = revokeMatching(s.tokenRevokeScope);

  const insertToken = (t: NewTokenRecord): void => {
    s.tokenInsert.run(t.hash, t.kind, t.applicationId, t.userId, words(t.scopes), t.grantType, t.issuedAt, t.expiresAt, t.familyId, audienceEncode(t.audience), t.jkt ?? null, actEncode(t.act));
  };

  const importTokens = db.transaction((tokens: readonly TokenRecord[]) => {
    for (const t of tokens) {
      s.tokenImport.run(t.hash, t.kind, t.applicationId, t.userId, words(t.scopes), t.grantType, t.issuedAt, t.expiresAt, t.familyId, t.status, t.revokedAt, audienceEncode(t.audience), t.jkt ?? null, actEncode(t.act));
    }
  });

  /** Takes the lease on `name` when it is free or expired (see Storage.tryExclusive). */
  const takeLease = db.transaction((name: string, holder: string): boolean => {
    const now = Date.now();
    s.jobEnsure.run(name);
    return s.jobTake.run(holder, now + LEASE_MS, name, now).changes === 1;
  });

  const tryExclusive = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    const holder = randomUUID();
    if (!(await guard('job lease', () => takeLease.immediate(name, holder)))) return undefined;
    // Renewed while the work runs, so only a holder that died lets the lease lapse.
    const renew = setInterval(() => {
      try {
        s.jobRenew.run(Date.now() + LEASE_MS, name, holder);
      } catch {
        // Busy or closing: the next renewal (or the lease time) covers it.
      }
    }, LEASE_MS / 3);
    renew.unref();
    try {
      return await fn();
    } finally {
      clearInterval(renew);
      try {
        s.jobRelease.run(name, holder);
      } catch {
        // The lease lapses by itself.
      }
    }
  };

  const consume = db.transaction((hash: string, replacements: readonly NewTokenRecord[]): ConsumeResult => {
    const row = s.tokenByHash.get(hash) as TokenRow | undefined;
    if (row === undefined) return { outcome: 'not_found' };
    if (s.tokenConsume.run(hash).changes !== 1) return { outcome: 'not_active', token: tokenFromRow(row) };
    for (const t of replacements) insertToken(t);
    s.bump.run();
    return { outcome: 'consumed', token: tokenFromRow({ ...row, status: 'rotated' }) };
  });

  /** Retires every unretired key and adds the next, with the bump, in one IMMEDIATE transaction. */
  const rotateKeys = db.transaction((next: SigningKey, retiresAt: number, publishUntil: number) => {
    s.keyRetire.run(retiresAt, publishUntil, retiresAt, next.purpose ?? 'access', next.alg);
    s.keyInsert.run(...signingKeyParams(next));
    s.bump.run();
  });

  const addActivity = db.transaction((rows: readonly ActivityRow[]) => {
    for (const r of rows) s.activityAdd.run(r.bucket, r.metric, r.count);
  });

  const addUsage = db.transaction((rows: readonly UsageRow[]) => {
    for (const r of rows) s.usageAdd.run(r.clientId, r.day, r.scope, r.tokens, r.calls, r.refusals, r.lastUseAt);
  });

  /** Families of the user's own sign-ins, then each revoked (with the user's live client-credentials tokens, if asked), one transaction. */
  const revokeForUser = db.transaction((userId: string, at: number, includeClientCredentials: boolean): UserRevocation => {
    const families = new Set((s.tokenUserFamilies.all(userId) as { family_id: string }[]).map((r) => r.family_id));
    let tokens = 0;
    for (const family of families) tokens += s.tokenRevokeFamily.run(at, family, family).changes;
    if (includeClientCredentials) {
      for (const r of s.tokenRevokeUserCc.all(at, at, userId) as { family_id: string }[]) {
        tokens += 1;
        families.add(r.family_id);
      }
    }
    if (tokens > 0) s.bump.run();
    return { tokens, families: tokens === 0 ? 0 : families.size };
  });

  const attemptFail = db.transaction((keys: readonly AttemptKey[], at: number, windowMs: number, ttlMs: number) =>
    sortedAttemptKeys(keys).map((k) => attemptFromRow(s.attemptFail.get(k.kind, k.userName, k.source, at, at, at + ttlMs, at - windowMs, at - windowMs) as AttemptRow)),
  );
  const attemptSucceed = db.transaction((userName: string, source: string, at: number, ttlMs: number) => {
    s.attemptDeletePair.run(userName, source);
    s.attemptKnown.run(userName, source, at, at, at + ttlMs);
  });

  /**
   * A committed write that needs a fresh page (a 4 KiB row), then its deletion: on a full disk or
   * a read-only file the first commit fails. Not a registry change: no version bump.
   */
  const probeInsert = db.prepare('INSERT INTO write_probe (filler) VALUES (randomblob(4096))');
  const probeDelete = db.prepare('DELETE FROM write_probe');
  const probeWrite = async (): Promise<WriteHealth> => {
    try {
      probeInsert.run();
      probeDelete.run();
      noteWrite();
    } catch (error) {
      noteWrite(error);
      // Not a space or permission problem (busy, say): the health stays as the last real write left it.
    }
    return health();
  };

  const consumeCode = (hash: string, at: number): ConsumeCodeResult => {
    const won = s.codeConsume.get(at, hash) as AuthorizationCodeRow | undefined;
    if (won !== undefined) return { outcome: 'consumed', code: codeFromRow(won) };
    const row = s.codeByHash.get(hash) as AuthorizationCodeRow | undefined;
    return row === undefined ? { outcome: 'not_found' } : { outcome: 'used', code: codeFromRow(row) };
  };

  const consumePushed = (hash: string, at: number): ConsumePushedResult => {
    const won = s.parConsume.get(at, hash) as PushedRequestRow | undefined;
    if (won !== undefined) return { outcome: 'consumed', request: pushedRequestFromRow(won) };
    const row = s.parByHash.get(hash) as PushedRequestRow | undefined;
    return row === undefined ? { outcome: 'not_found' } : { outcome: 'used', request: pushedRequestFromRow(row) };
  };

  return {
    kind: 'sqlite',
    users: {
      create: (u: User) => mutate('user', () => void s.userInsert.run(...userParams(u))),
      update: (u: User) => mutate('user', () => s.userUpdate.run(...updateValues(SQLITE_DIALECT, userParams(u))).changes),
      byId: (id) => guard('user', () => mapOpt(s.userById.get(id) as UserRow | undefined, userFromRow)),
      byName: (name) => guard('user', () => mapOpt(s.userByName.get(name) as UserRow | undefined, userFromRow)),
      list: () => guard('user', () => (s.userList.all() as UserRow[]).map(userFromRow)),
      delete: (id) => remove('user', s.userDelete, id),
    },
    roles: {
      create: (r: Role) => mutate('role', () => void s.roleInsert.run(...namedParams(r))),
      update: (r: Role) => mutate('role', () => s.roleUpdate.run(...updateValues(SQLITE_DIALECT, namedParams(r))).changes),
      delete: (name) => remove('role', s.roleDelete, name),
      byName: (name) => guard('role', () => mapOpt(s.roleByName.get(name) as NamedRow | undefined, namedFromRow)),
      list: () => guard('role', () => (s.roleList.all() as NamedRow[]).map(namedFromRow)),
    },
    scopes: {
      create: (sc: Scope) => mutate('scope', () => void s.scopeInsert.run(...namedParams(sc))),
      update: (sc: Scope) => mutate('scope', () => s.scopeUpdate.run(...updateValues(SQLITE_DIALECT, namedParams(sc))).changes),
      delete: (name) => remove('scope', s.scopeDelete, name),
      byName: (name) => guard('scope', () => mapOpt(s.scopeByName.get(name) as NamedRow | undefined, namedFromRow)),
      list: () => guard('scope', () => (s.scopeList.all() as NamedRow[]).map(namedFromRow)),
    },
    applications: {
      create: (a: Application) => mutate('application', () => void s.appInsert.run(...applicationParams(a))),
      update: (a: Application) => mutate('application', () => s.appUpdate.run(...updateValues(SQLITE_DIALECT, applicationParams(a))).changes),
      byId: (id) => guard('application', () => mapOpt(s.appById.get(id) as ApplicationRow | undefined, applicationFromRow)),
      byClientId: (cid) => guard('application', () => mapOpt(s.appByClientId.get(cid) as ApplicationRow | undefined, applicationFromRow)),
      list: () => guard('application', () => (s.appList.all() as ApplicationRow[]).map(applicationFromRow)),
      delete: (id) => remove('application', s.appDelete, id),
    },
    properties: {
      set: (name, value, at) => mutate('property', () => void s.propSet.run(name, value, at)),
      list: () => guard('property', () => s.propList.all() as PropertyRow[]),
    },
    tokens: {
      insert: (tokens) => batcher.enqueue(() => { for (const t of tokens) insertToken(t); }),
      byHash: (hash) => guard('token', () => mapOpt(s.tokenByHash.get(hash) as TokenRow | undefined, tokenFromRow)),
      byKeyPrefix: (prefix, limit) => guard('token', () => (prefix === '' ? [] : (s.tokenByPrefix.all(prefix, prefixEnd(prefix), clampLimit(limit, DEFAULT_LIST_LIMIT)) as TokenRow[]).map(tokenFromRow))),
      consumeRefresh: (hash, _at, replacements) => guard('token', () => consume.immediate(hash, replacements), true),
      revoke: (hash, at) =>
        guard('token', () => db.transaction(() => {
          const changed = s.tokenRevoke.run(at, hash).changes === 1;
          if (changed) s.bump.run();
          return changed;
        }).immediate(), true),
      revokeFamily: (familyId, at) =>
        guard('token', () => db.transaction(() => {
          const n = s.tokenRevokeFamily.run(at, familyId, familyId).changes;
          if (n > 0) s.bump.run();
          return n;
        }).immediate(), true),
      revokeForUser: (userId, at, options) => guard('token', () => revokeForUser.immediate(userId, at, options?.includeClientCredentials === true), true),
      revokeForApplication: (applicationId, at) => guard('token', () => revokeForApplication.immediate(applicationId, at), true),
      revokeWithScope: (scope, at) => guard('token', () => revokeWithScope.immediate(scope, at), true),
      list: (q: TokenQuery) => guard('token', () => list<TokenRow>(LISTS.tokens(q)).map(tokenFromRow)),
      deleteExpired: (before) => deleteInChunks('token', s.tokenDeleteExpired, before),
      exportAll: (after, limit) => guard('token', () => (s.tokenExport.all(after ?? '', pageOf(limit)) as TokenRow[]).map(tokenFromRow)),
      importAll: (tokens) => guard('token', () => importTokens.immediate(tokens)),
    },
    refusals: {
      record: (f: Refusal) => batcher.enqueue(() => void s.refusalInsert.run(...refusalParams(f))),
      byRequestId: (id) => guard('refusal', () => mapOpt(s.refusalById.get(id) as RefusalRow | undefined, refusalFromRow)),
      list: (q) => guard('refusal', () => list<RefusalRow>(LISTS.refusals(q)).map(refusalFromRow)),
      deleteOlderThan: (before) => deleteInChunks('refusal', s.refusalDeleteOlder, before),
      exportAll: (after, limit) => guard('refusal', () => (s.refusalExport.all(after ?? '', pageOf(limit)) as RefusalRow[]).map(refusalFromRow)),
    },
    keys: {
      list: () => guard('signing key', () => (s.keyList.all() as SigningKeyRow[]).map(signingKeyFromRow)),
      rotate: (next, retire) => guard('signing key', () => rotateKeys.immediate(next, retire.retiresAt, retire.publishUntil)),
      deleteUnpublished: (before) =>
        guard('signing key', () => db.transaction(() => {
          const n = s.keyDeleteUnpublished.run(before).changes;
          if (n > 0) s.bump.run();
          return n;
        }).immediate()),
    },
    codes: {
      insert: (c: AuthorizationCode) => guard('authorization code', () => void s.codeInsert.run(...codeParams(c)), true),
      consume: (hash, at) => guard('authorization code', () => consumeCode(hash, at), true),
      byHash: (hash) => guard('authorization code', () => mapOpt(s.codeByHash.get(hash) as AuthorizationCodeRow | undefined, codeFromRow)),
      deleteExpired: (before) => deleteInChunks('authorization code', s.codeDeleteExpired, before, before),
    },
    deviceCodes: sqliteDeviceCodes(db, guard),
    pushedRequests: {
      insert: (p) => guard('pushed request', () => void s.parInsert.run(...pushedRequestParams(p)), true),
      consume: (hash, at) => guard('pushed request', () => consumePushed(hash, at), true),
      deleteExpired: (before) => guard('pushed request', () => s.parDeleteExpired.run(before).changes),
    },
    replay: {
      remember: (key, expiresAt, now) => guard('one-time id', () => s.replayRemember.get(key, expiresAt, now) !== undefined, true),
      deleteExpired: (before) => guard('one-time id', () => s.replayDeleteExpired.run(before).changes),
    },
    rules: {
      create: (r: Rule) => mutate('rule', () => void s.ruleInsert.run(...ruleParams(r))),
      update: (r: Rule) => mutate('rule', () => s.ruleUpdate.run(...updateValues(SQLITE_DIALECT, ruleParams(r))).changes),
      byId: (id) => guard('rule', () => mapOpt(s.ruleById.get(id) as RuleRow | undefined, ruleFromRow)),
      list: () => guard('rule', () => (s.ruleList.all() as RuleRow[]).map(ruleFromRow)),
      delete: (id) => remove('rule', s.ruleDelete, id),
    },
    resources: {
      create: (r: ResourceRecord) => mutate('resource', () => void s.resourceInsert.run(...resourceParams(r))),
      update: (r: ResourceRecord) => mutate('resource', () => s.resourceUpdate.run(...updateValues(SQLITE_DIALECT, resourceParams(r))).changes),
      byUri: (uri) => guard('resource', () => mapOpt(s.resourceByUri.get(uri) as ResourceRow | undefined, resourceFromRow)),
      list: () => guard('resource', () => (s.resourceList.all() as ResourceRow[]).map(resourceFromRow)),
      delete: (uri) => remove('resource', s.resourceDelete, uri),
    },
    initialAccessTokens: {
      create: (t) => guard('initial access token', () => void s.iatInsert.run(...iatParams(t)), true),
      byId: (id) => guard('initial access token', () => mapOpt(s.iatById.get(id) as InitialAccessTokenRow | undefined, iatFromRow)),
      byHash: (hash) => guard('initial access token', () => mapOpt(s.iatByHash.get(hash) as InitialAccessTokenRow | undefined, iatFromRow)),
      list: () => guard('initial access token', () => (s.iatList.all() as InitialAccessTokenRow[]).map(iatFromRow)),
      consume: (hash, at) =>
        guard('initial access token', () => {
          const spent = s.iatConsume.get(at, hash, at) as InitialAccessTokenRow | undefined;
          if (spent !== undefined) return { outcome: 'consumed' as const, token: iatFromRow(spent) };
          const found = s.iatByHash.get(hash) as InitialAccessTokenRow | undefined;
          return found === undefined ? { outcome: 'not_found' as const } : { outcome: 'unusable' as const, token: iatFromRow(found) };
        }, true),
      revoke: (id, at) => guard('initial access token', () => s.iatRevoke.run(at, id).changes === 1, true),
    },
    exchangePolicies: {
      put: (p) => mutate('exchange policy', () => void s.exchangePolicyPut.run(...exchangeRows.exchangePolicyParams(p))),
      byClientId: (clientId) => guard('exchange policy', () => mapOpt(s.exchangePolicyByClientId.get(clientId) as ExchangePolicyRow | undefined, exchangeRows.exchangePolicyFromRow)),
      list: () => guard('exchange policy', () => (s.exchangePolicyList.all() as ExchangePolicyRow[]).map(exchangeRows.exchangePolicyFromRow)),
      delete: (clientId) => remove('exchange policy', s.exchangePolicyDelete, clientId),
    },
    registrationPolicies: {
      put: (p) => mutate('registration policy', () => void s.regPolicyPut.run(...policyParams(p))),
      byName: (name) => guard('registration policy', () => mapOpt(s.regPolicyByName.get(name) as RegistrationPolicyRow | undefined, policyFromRow)),
      list: () => guard('registration policy', () => (s.regPolicyList.all() as RegistrationPolicyRow[]).map(policyFromRow)),
      delete: (name) => remove('registration policy', s.regPolicyDelete, name),
    },
    registrations: {
      create: (r) => guard('registration', () => void s.registrationInsert.run(...registrationParams(r)), true),
      update: (r) =>
        guard('registration', () => {
          if (s.registrationUpdate.run(...updateValues(SQLITE_DIALECT, registrationParams(r))).changes === 0) throw new StorageError('not_found', 'registration not found');
        }, true),
      byClientId: (clientId) => guard('registration', () => mapOpt(s.registrationByClientId.get(clientId) as RegistrationRow | undefined, registrationFromRow)),
      bySourceAndFingerprint: (source, fingerprint) =>
        guard('registration', () => mapOpt(s.registrationBySource.get(source, fingerprint) as RegistrationRow | undefined, registrationFromRow)),
      list: () => guard('registration', () => (s.registrationList.all() as RegistrationRow[]).map(registrationFromRow)),
      touch: (clientId, at) => guard('registration', () => s.registrationTouch.run(at, clientId).changes === 1, true),
      unusedBefore: (before, limit) => guard('registration', () => (s.registrationUnused.all(before, limitOf(limit)) as RegistrationRow[]).map(registrationFromRow)),
      delete: (clientId) => guard('registration', () => s.registrationDelete.run(clientId).changes === 1, true),
    },
    identityProviders: {
      create: (p: IdentityProvider) => mutate('identity provider', () => void s.idpInsert.run(...identityProviderParams(p))),
      update: (p: IdentityProvider) => mutate('identity provider', () => s.idpUpdate.run(...updateValues(SQLITE_DIALECT, identityProviderParams(p))).changes),
      byId: (id) => guard('identity provider', () => mapOpt(s.idpById.get(id) as IdentityProviderRow | undefined, identityProviderFromRow)),
      byName: (name) => guard('identity provider', () => mapOpt(s.idpByName.get(name) as IdentityProviderRow | undefined, identityProviderFromRow)),
      list: () => guard('identity provider', () => (s.idpList.all() as IdentityProviderRow[]).map(identityProviderFromRow)),
      delete: (id) =>
        guard('identity provider', () => db.transaction(() => {
          const deleted = s.idpDelete.run(id).changes === 1;
          if (deleted) s.bump.run();
          return deleted;
        }).immediate()),
    },
    audit: {
      record: (e: AuditEntry) => guard('audit entry', () => void s.auditInsert.run(...auditParams(e)), true),
      list: (q) => guard('audit entry', () => list<AuditEntry>(LISTS.audit(q)).map(auditFromRow)),
      deleteOlderThan: (before) => guard('audit entry', () => s.auditDeleteOlder.run(before).changes),
      exportAll: (after, limit) => guard('audit entry', () => (s.auditExport.all(after ?? '', pageOf(limit)) as AuditEntry[]).map(auditFromRow)),
    },
    activity: {
      add: (rows) => guard('activity', () => void addActivity.immediate(rows), true),
      series: (metric, since) => guard('activity', () => s.activitySeries.all(metric, since) as { bucket: number; count: number }[]),
      list: (prefix, since) => guard('activity', () => s.activityList.all(prefix, prefixEnd(prefix), since) as ActivityRow[]),
      deleteOlderThan: (before) => guard('activity', () => s.activityDeleteOlder.run(before).changes),
    },
    usage: {
      add: (rows) => guard('usage', () => void addUsage.immediate(rows), true),
      list: (q) => guard('usage', () => (q.clientId === undefined ? s.usageList.all(q.since) : s.usageListClient.all(q.clientId, q.since)) as UsageRow[]),
      firstDay: () => guard('usage', () => (s.usageFirstDay.get() as { day: number | null } | undefined)?.day ?? undefined),
      deleteOlderThan: (before) => guard('usage', () => s.usageDeleteOlder.run(before).changes),
    },
    sessions: {
      create: (x) => guard('session', () => void s.sessionInsert.run(...sessionParams(x)), true),
      byId: (id) => guard('session', () => mapOpt(s.sessionById.get(id) as SessionRow | undefined, sessionFromRow)),
      touch: (id, at) => guard('session', () => s.sessionTouch.run(at, id).changes === 1, true),
      revoke: (id, at) => guard('session', () => s.sessionRevoke.run(at, id).changes === 1, true),
      revokeForUser: (userId, at) => guard('session', () => s.sessionRevokeUser.run(at, userId, at).changes, true),
      listForUser: (userId, now) => guard('session', () => (s.sessionListUser.all(userId, now) as SessionRow[]).map(sessionFromRow)),
      addClient: (sid, applicationId, at, expiresAt) => guard('session', () => void s.sessionClientAdd.run(sid, applicationId, at, expiresAt), true),
      clientsOf: (sid) => guard('session', () => (s.sessionClientsOf.all(sid) as { application_id: string }[]).map((r) => r.application_id)),
      deleteExpired: (before) =>
        guard('session', () => {
          s.sessionClientsDeleteExpired.run(before);
          return s.sessionDeleteExpired.run(before, before).changes;
        }),
    },
    attempts: {
      fail: (keys, at, windowMs, ttlMs) => guard('login attempt', () => attemptFail.immediate(keys, at, windowMs, ttlMs), true),
      get: (keys, now) =>
        guard('login attempt', () =>
          sortedAttemptKeys(keys).flatMap((k) => {
            const row = s.attemptGet.get(k.kind, k.userName, k.source, now) as AttemptRow | undefined;
            return row === undefined ? [] : [attemptFromRow(row)];
          }),
        ),
      succeed: (userName, source, at, ttlMs) => guard('login attempt', () => attemptSucceed.immediate(userName, source, at, ttlMs), true),
      clear: (userName) => guard('login attempt', () => s.attemptClear.run(userName).changes, true),
      list: (now, limit) => guard('login attempt', () => (s.attemptList.all(now, limitOf(limit)) as AttemptRow[]).map(attemptFromRow)),
      deleteExpired: (before) => guard('login attempt', () => s.attemptDeleteExpired.run(before).changes),
    },
    changes: {
      version: () => guard('change version', () => Number(s.version.get())),
    },
    ping: () => guard('ping', () => void db.prepare('SELECT 1').get()),
    schemaVersion: () => guard('schema', () => ({ current: Number(s.schemaVersion.get() ?? 0), expected: SQLITE_SCHEMA_VERSION })),
    writeHealth: health,
    probeWrite,
    rateCounters: memoryRateCounters(),
    stats: { commitSeconds: batcher.commitSeconds, commitWrites: batcher.commitWrites },
    tryExclusive,
    close: async () => {
      batcher.flush();
      await checkpointer?.close();
      // The server leaves a single, complete database file behind. A CLI command does not: a
      // TRUNCATE checkpoint holds off every writer until the whole WAL is copied, which stalled a
      // loaded server for up to a second; when the command is the last connection, SQLite's own
      // close checkpoints and removes the WAL anyway.
      if (fileBacked && checkpointer !== undefined) {
        try {
          db.pragma('wal_checkpoint(TRUNCATE)');
        } catch {
          // Another process holds the database: it will checkpoint.
        }
      }
      db.close();
    },
  };
}

/** What the administrator reads in /readyz and the logs about a refused write. */
function describeWriteFailure(code: string): string {
  if (code.startsWith('SQLITE_FULL')) return `the database or its disk is full (${code}): free disk space`;
  if (code.startsWith('SQLITE_READONLY')) return `the database file is read-only (${code}): check its permissions, its folder's and the file system's mount`;
  return `the database file cannot be written (${code}): check the disk and the file system`;
}

function mapOpt<R, T>(row: R | undefined, map: (r: R) => T): T | undefined {
  return row === undefined ? undefined : map(row);
}

