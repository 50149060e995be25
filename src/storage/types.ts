/**
 * The one storage interface (the ports; the records they keep are in src/domain/model.ts). Every adapter (SQLite, PostgreSQL, in-memory) implements it and passes
 * the contract suite in test/storage/contract.ts.
 *
 * Rules every adapter keeps:
 * - It throws only {@link StorageError} (codes: not_found, conflict, unavailable) for expected
 *   conditions; protocol meaning (a reused refresh token, an inactive user) is decided by the grants.
 * - Operations that must be atomic across instances are single methods with compare-and-set
 *   semantics (`tokens.consumeRefresh`, `tokens.revokeFamily`), rather than an open transaction
 *   handed to the caller: that keeps SQLite (synchronous) and a PostgreSQL pool (asynchronous)
 *   equally race-free without holding a connection across awaits.
 * - A promise returned by a write resolves only after the write is committed, so a token is never
 *   handed to a client before it is durable.
 * - Every change to the registry or to a token's state bumps the change version, which instances
 *   poll (or are notified of) to drop their caches within one second. An adapter that can push
 *   changes (PostgreSQL LISTEN/NOTIFY) offers `changes.subscribe`; polling stays as the fallback
 *   that bounds staleness when a notification is missed.
 * - Times are integer milliseconds since the epoch.
 * - Lists come in one documented, deterministic order (each method says which), ties on the sort
 *   key broken by the record's key, so that paging and tests see the same rows on every adapter.
 *   Text keys compare in byte order (upper case before lower case; PostgreSQL columns are COLLATE "C").
 * - Every `limit` follows one rule (limits.ts `clampLimit`): absent or not a finite number means the
 *   method's default; otherwise it is rounded down, and a negative limit returns nothing. There is no
 *   maximum in storage: callers that take a limit from a request bound it first.
 */
import type { ExchangePolicy } from '../domain/model.js';
import type { ActivityRow, Application, AttemptKey, AttemptRecord, AuditEntry, AuthorizationCode, IdentityProvider, NewTokenRecord, PropertyRow, Refusal, ResourceRecord, Role, Rule, Scope, SessionRecord, SigningKey, TokenRecord, UsageRow, User, InitialAccessToken, RegistrationPolicy, RegistrationRecord, PushedRequest } from '../domain/model.js';
import type { DeviceAuthorization, DevicePollOutcome } from '../domain/model.js';
import { StorageError, type StorageErrorCode } from '../errors/storage.js';
import type { BucketHistogram } from '../core/histogram.js';
import type { RateCounters } from './rate-counters.js';

export { StorageError, type StorageErrorCode };

export type ConsumeCodeResult =
  | { readonly outcome: 'consumed'; readonly code: AuthorizationCode }
  | { readonly outcome: 'not_found' }
  | { readonly outcome: 'used'; readonly code: AuthorizationCode };

export type ConsumePushedResult =
  | { readonly outcome: 'consumed'; readonly request: PushedRequest }
  | { readonly outcome: 'not_found' }
  | { readonly outcome: 'used'; readonly request: PushedRequest };

/** What `tokens.revokeForUser` ended. */
export interface UserRevocation {
  /** Tokens (access and refresh) whose status changed to revoked. */
  readonly tokens: number;
  /** Grant families (one sign-in each) those tokens belonged to. */
  readonly families: number;
}

export interface TokenQuery {
  readonly applicationId?: string;
  readonly userId?: string;
  readonly activeOnly?: boolean;
  readonly now?: number;
  /** At most this many (default 100; the limit rule above). */
  readonly limit?: number;
}

export interface RefusalQuery {
  readonly reason?: string;
  readonly since?: number;
  /** Real refusals only (the default), "would refuse" records of report-only rules only, or both. */
  readonly outcome?: RefusalOutcome;
  /** Only the "would refuse" records of this rule. */
  readonly ruleId?: string;
  /** At most this many (default 100; the limit rule above). */
  readonly limit?: number;
}

export type RefusalOutcome = 'refused' | 'would_refuse' | 'all';

/** Report-only rules (src/registry/rules.ts); registry data: every write moves the change version. */
export interface RuleStore {
  create(rule: Rule): Promise<void>;
  /** Replaces the rule with `rule.id`; not_found when there is none. */
  update(rule: Rule): Promise<void>;
  byId(id: string): Promise<Rule | undefined>;
  /** Every rule, oldest first (by created_at, then id). */
  list(): Promise<Rule[]>;
  delete(id: string): Promise<boolean>;
}

/** Registered external resources (RFC 8707, src/registry/resources.ts); registry data: every write moves the change version. */
export interface ResourceStore {
  /** `conflict` when a resource with this uri exists. */
  create(resource: ResourceRecord): Promise<void>;
  /** Replaces the resource with `resource.uri`; not_found when there is none. */
  update(resource: ResourceRecord): Promise<void>;
  byUri(uri: string): Promise<ResourceRecord | undefined>;
  /** Every resource, by uri (unique) in byte order. */
  list(): Promise<ResourceRecord[]>;
  delete(uri: string): Promise<boolean>;
}

/** The outcome of spending one use of an initial access token. */
export type ConsumeInitialAccessResult =
  | { readonly outcome: 'consumed'; readonly token: InitialAccessToken }
  | { readonly outcome: 'not_found' }
  /** Revoked, expired at the time given, or without uses left (the token says which). */
  | { readonly outcome: 'unusable'; readonly token: InitialAccessToken };

/** Initial access tokens (RFC 7591 §3). Nothing caches them: writes do not bump the change version. */
export interface InitialAccessTokenStore {
  /** `conflict` when the id or hash exists. */
  create(token: InitialAccessToken): Promise<void>;
  byId(id: string): Promise<InitialAccessToken | undefined>;
  byHash(hash: string): Promise<InitialAccessToken | undefined>;
  /** Every token (revoked and expired ones too), oldest first (by created_at, then id). */
  list(): Promise<InitialAccessToken[]>;
  /**
   * Spends one use, atomically across instances: when the token is unrevoked, unexpired at `at`
   * and has uses left (or no limit), usesLeft goes down by one (unless unlimited) and lastUsedAt
   * becomes `at`. Of concurrent calls on a token with one use left exactly one gets `consumed`.
   */
  consume(hash: string, at: number): Promise<ConsumeInitialAccessResult>;
  /** Marks the token revoked; false when no unrevoked token has this id. */
  revoke(id: string, at: number): Promise<boolean>;
}

/** Token exchange policies (RFC 8693), one per application by client id (registry data: every write moves the change version). */
export interface ExchangePolicyStore {
  /** Creates or replaces the policy of `policy.clientId`. */
  put(policy: ExchangePolicy): Promise<void>;
  byClientId(clientId: string): Promise<ExchangePolicy | undefined>;
  /** Every policy, by client id in byte order. */
  list(): Promise<ExchangePolicy[]>;
  delete(clientId: string): Promise<boolean>;
}

/** Registration policies (registry data: every write moves the change version). */
export interface RegistrationPolicyStore {
  /** Creates or replaces the policy named `policy.name`. */
  put(policy: RegistrationPolicy): Promise<void>;
  byName(name: string): Promise<RegistrationPolicy | undefined>;
  /** Every policy, by name (unique) in byte order. */
  list(): Promise<RegistrationPolicy[]>;
  delete(name: string): Promise<boolean>;
}

/** What dynamic registration keeps per registered client. Nothing caches it: writes do not bump the change version. */
export interface RegistrationStore {
  /** `conflict` when the client id exists, or a record of the same source and fingerprint does. */
  create(record: RegistrationRecord): Promise<void>;
  /** Replaces the record of `record.clientId`; not_found when there is none. */
  update(record: RegistrationRecord): Promise<void>;
  byClientId(clientId: string): Promise<RegistrationRecord | undefined>;
  /** The record registered from `source` with this metadata fingerprint (unique per pair). */
  bySourceAndFingerprint(source: string, fingerprint: string): Promise<RegistrationRecord | undefined>;
  /** Every record, oldest first (by created_at, then client id). */
  list(): Promise<RegistrationRecord[]>;
  /** Moves lastUsedAt forward to `at` (never back); false when there is no record. */
  touch(clientId: string, at: number): Promise<boolean>;
  /**
   * The records last used (or, never used, created) before `before`, oldest first (by created_at,
   * then client id), at most `limit` (default 100; the limit rule above). What reaping deletes.
   */
  unusedBefore(before: number, limit?: number): Promise<RegistrationRecord[]>;
  delete(clientId: string): Promise<boolean>;
}

export interface UserStore {
  create(user: User): Promise<void>;
  update(user: User): Promise<void>;
  byId(id: string): Promise<User | undefined>;
  byName(userName: string): Promise<User | undefined>;
  /** Every user, by user name (unique) in byte order. */
  list(): Promise<User[]>;
  /**
   * Deletes the user row; false when there is none. Only the row: the registry (deleteUser) first
   * ends the user's tokens and sessions and refuses while an application acts as the user.
   */
  delete(id: string): Promise<boolean>;
}

export interface RoleStore {
  create(role: Role): Promise<void>;
  /** Replaces the role named `role.name` (its description); not_found when there is none. */
  update(role: Role): Promise<void>;
  byName(name: string): Promise<Role | undefined>;
  /** Every role, by name (unique) in byte order. */
  list(): Promise<Role[]>;
  /** Deletes the role; false when there is none. Users keep the name in their roles until the registry removes it. */
  delete(name: string): Promise<boolean>;
}

export interface ScopeStore {
  create(scope: Scope): Promise<void>;
  /** Replaces the scope named `scope.name` (its description); not_found when there is none. */
  update(scope: Scope): Promise<void>;
  byName(name: string): Promise<Scope | undefined>;
  /** Every scope, by name (unique) in byte order. */
  list(): Promise<Scope[]>;
  /** Deletes the scope; false when there is none. */
  delete(name: string): Promise<boolean>;
}

export interface ApplicationStore {
  create(app: Application): Promise<void>;
  update(app: Application): Promise<void>;
  byId(id: string): Promise<Application | undefined>;
  byClientId(clientId: string): Promise<Application | undefined>;
  /** Every application, by name, applications of the same name by client id (unique), in byte order. */
  list(): Promise<Application[]>;
  /** Deletes the application row; false when there is none. The registry (deleteApplication) revokes its tokens first. */
  delete(id: string): Promise<boolean>;
}

export interface PropertyStore {
  /** Values as stored (strings); typing and defaults live in registry/properties.ts. */
  set(name: string, value: string, at: number): Promise<void>;
  /** Every stored property, by name (unique) in byte order. */
  list(): Promise<PropertyRow[]>;
}

/** The outcome of trying to consume a refresh token exactly once. */
export type ConsumeResult =
  | { readonly outcome: 'consumed'; readonly token: TokenRecord }
  | { readonly outcome: 'not_found' }
  | { readonly outcome: 'not_active'; readonly token: TokenRecord };

export interface TokenStore {
  /** Stores tokens; resolves once they are committed. */
  insert(tokens: readonly NewTokenRecord[]): Promise<void>;
  byHash(hash: string): Promise<TokenRecord | undefined>;
  /**
   * The tokens whose key (`hash`) starts with `prefix` (any status, expired or not), in ascending
   * byte order of hash, at most `limit` (default 100, the limit rule above); an empty prefix
   * matches nothing. A range on the primary key (`hash >= prefix AND hash < prefix + 1`), never a
   * scan: for finding a token by its handle (core/crypto.ts tokenHandle; ask for 2 to tell a unique
   * match from an ambiguous one).
   */
  byKeyPrefix(prefix: string, limit?: number): Promise<TokenRecord[]>;
  /**
   * Atomically marks an active refresh token `rotated` and inserts its replacements. Exactly one of
   * any number of concurrent calls for the same hash gets `consumed`.
   */
  consumeRefresh(hash: string, at: number, replacements: readonly NewTokenRecord[]): Promise<ConsumeResult>;
  /** Revokes one token; returns false when no active token has this hash. */
  revoke(hash: string, at: number): Promise<boolean>;
  /** Revokes every active or rotated token of a family; returns how many changed. */
  revokeFamily(familyId: string, at: number): Promise<number>;
  /**
   * Revokes, family by family, every family holding an active or rotated token of the user that
   * was not issued by the client credentials grant (the user's own sign-ins: password,
   * authorization code, refresh, JWT bearer); with `includeClientCredentials`, also the user's
   * unexpired client-credentials access tokens (an application acting as this user). Bumps the
   * change version when anything changed. For a password change or a deactivation.
   */
  revokeForUser(userId: string, at: number, options?: { readonly includeClientCredentials?: boolean }): Promise<UserRevocation>;
  /**
   * Revokes every unexpired active or rotated token issued to the application (found by the expiry
   * index: expired tokens are refused anyway); bumps the change version when anything changed.
   * For deleting an application and `latchkey tokens revoke --app`.
   */
  revokeForApplication(applicationId: string, at: number): Promise<UserRevocation>;
  /**
   * Revokes every unexpired active or rotated token that carries the scope (found by the expiry
   * index); bumps the change version when anything changed. For deleting a scope.
   */
  revokeWithScope(scope: string, at: number): Promise<UserRevocation>;
  /** The tokens matching the query, newest first (by `issuedAt`), tokens issued at the same time by hash ascending; at most `limit` (default 100). */
  list(query: TokenQuery): Promise<TokenRecord[]>;
  /** Deletes tokens that expired before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>;
  /**
   * Every stored token (any status, expired or not) in ascending byte order of hash, starting
   * after `after` (exclusive), at most `limit` (default 1000, the limit rule above) per page: call
   * again with the last hash until a page comes back empty. For `latchkey migrate-db`.
   */
  exportAll(after?: string, limit?: number): Promise<TokenRecord[]>;
  /**
   * Stores tokens exactly as given, status and revocation time included (so rotated refresh
   * tokens keep detecting reuse after a migration); all or nothing, `conflict` when a hash exists.
   * Like `insert`, it does not bump the change version: nothing can have cached a token it adds.
   */
  importAll(tokens: readonly TokenRecord[]): Promise<void>;
}

/** The instance's signing keys (see SigningKey for the life of a key). Every change bumps the change version. */
export interface KeyStore {
  /** Every key, by `activatesAt`, keys activating at the same time by kid ascending. */
  list(): Promise<SigningKey[]>;
  /**
   * In one transaction: sets `retiresAt` and `publishUntil` on every key whose `retiresAt` is
   * null or later than the new `retiresAt` (a rotation that activates sooner supersedes one still
   * waiting, so no older key keeps signing past the new key's activation), then inserts `next`. The first key of a keyring is added the same way (nothing to retire).
   */
  rotate(next: SigningKey, retire: { readonly retiresAt: number; readonly publishUntil: number }): Promise<void>;
  /** Deletes keys whose publishUntil is before `before`; returns how many. */
  deleteUnpublished(before: number): Promise<number>;
}

export interface AuthorizationCodeStore {
  insert(code: AuthorizationCode): Promise<void>;
  /**
   * Marks an unused code used (sets usedAt) and returns it; of any number of concurrent calls for
   * one hash exactly one gets `consumed`. An already used code comes back as `used` (the caller
   * revokes what it issued). Expiry is the caller's to check. Does not bump the change version.
   */
  consume(hash: string, at: number): Promise<ConsumeCodeResult>;
  /** A code, used or not, expired or not (UserInfo reads the `claims` request of a token's grant). */
  byHash(hash: string): Promise<AuthorizationCode | undefined>;
  /**
   * Deletes the codes that expired before `before`, except those with a `claims` request whose
   * family (tokens whose familyId is the code's hash) still has a token expiring at or after
   * `before`: UserInfo answers that request for as long as the grant's tokens are kept.
   */
  deleteExpired(before: number): Promise<number>;
}

/** Device authorizations (RFC 8628): every change is one statement, so instances sharing a database agree. */
export interface DeviceCodeStore {
  /** Throws conflict when the device hash or the user hash exists (the caller draws another user code). */
  insert(device: DeviceAuthorization): Promise<void>;
  byUserHash(userHash: string): Promise<DeviceAuthorization | undefined>;
  byDeviceHash(deviceHash: string): Promise<DeviceAuthorization | undefined>;
  /**
   * Approves or denies a pending, unexpired authorization by its user code: of concurrent calls
   * exactly one gets the updated record back; undefined when none was pending.
   */
  decide(userHash: string, decision: { readonly approve: boolean; readonly userId: string; readonly authTime: number | null; readonly at: number }): Promise<DeviceAuthorization | undefined>;
  /**
   * One poll, in one statement: records the poll time; an approved authorization becomes consumed
   * (of concurrent polls exactly one gets `approved`); a pending one polled sooner than its
   * interval gets `slow_down` and its interval grows by 5 seconds. undefined: no such device code
   * issued to `applicationId` (nothing changes then).
   */
  poll(deviceHash: string, applicationId: string, at: number): Promise<{ readonly outcome: DevicePollOutcome; readonly device: DeviceAuthorization } | undefined>;
  /** Denies a pending authorization by its id (administrators); false when none was pending. */
  deny(id: string, at: number): Promise<boolean>;
  /** The pending, unexpired authorizations, newest first (created_at DESC, id). */
  listPending(now: number, limit?: number): Promise<DeviceAuthorization[]>;
  /** Every row (migrate-db copies them), in id order, a page at a time after `after`. */
  exportAll(after?: string, limit?: number): Promise<DeviceAuthorization[]>;
  deleteExpired(before: number): Promise<number>;
}

/** Pushed authorization requests (RFC 9126): short-lived, single use, shared by every instance. */
export interface PushedRequestStore {
  insert(request: PushedRequest): Promise<void>;
  /**
   * Marks an unused pushed request used (sets usedAt) and returns it; of any number of concurrent
   * calls for one hash, on any instance, exactly one gets `consumed`. One already used comes back
   * as `used`. Expiry is the caller's to check. Does not bump the change version.
   */
  consume(hash: string, at: number): Promise<ConsumePushedResult>;
  /** Deletes the pushed requests that expired before `before`, used or not; returns how many. */
  deleteExpired(before: number): Promise<number>;
}

/** One-time identifiers (the `jti` of client assertions and JWT bearer grants, RFC 7523 §3). */
export interface ReplayStore {
  /**
   * Records `key` until `expiresAt`. Resolves true the first time, false when the key is already
   * recorded and not yet expired (a replay); exactly one of concurrent calls for a key gets true.
   * Does not bump the change version.
   */
  remember(key: string, expiresAt: number, now: number): Promise<boolean>;
  deleteExpired(before: number): Promise<number>;
}

export interface IdentityProviderStore {
  create(idp: IdentityProvider): Promise<void>;
  update(idp: IdentityProvider): Promise<void>;
  byId(id: string): Promise<IdentityProvider | undefined>;
  byName(name: string): Promise<IdentityProvider | undefined>;
  /** Every provider, by name (unique) in byte order. */
  list(): Promise<IdentityProvider[]>;
  /** Returns false when no provider has this id. */
  delete(id: string): Promise<boolean>;
}

export interface RefusalStore {
  record(refusal: Refusal): Promise<void>;
  byRequestId(requestId: string): Promise<Refusal | undefined>;
  /** The refusals matching the query, newest first (by `at`), refusals of the same time by request id descending; at most `limit` (default 100). */
  list(query: RefusalQuery): Promise<Refusal[]>;
  /** Deletes refusals recorded before `before`; returns how many. */
  deleteOlderThan(before: number): Promise<number>;
  /** Every refusal in ascending byte order of request id, paged like `tokens.exportAll`. */
  exportAll(after?: string, limit?: number): Promise<Refusal[]>;
}

export interface AuditQuery {
  readonly since?: number;
  readonly target?: string;
  readonly action?: string;
  /** At most this many (default 100; the limit rule above). */
  readonly limit?: number;
}

/** The audit log. Writes do not bump the change version (nothing caches it). */
export interface AuditStore {
  record(entry: AuditEntry): Promise<void>;
  /** Newest first (by `at`), entries of the same time by id descending; at most `limit` (default 100). */
  list(query: AuditQuery): Promise<AuditEntry[]>;
  /** Deletes entries recorded before `before`; returns how many. */
  deleteOlderThan(before: number): Promise<number>;
  /** Every entry in ascending byte order of id, paged like `tokens.exportAll` (for migrate-db). */
  exportAll(after?: string, limit?: number): Promise<AuditEntry[]>;
}

/** Per-minute activity counters (src/audit/activity.ts). Writes do not bump the change version. */
export interface ActivityStore {
  /** Adds counts to per-minute buckets; additive across calls and instances (an upsert adding to the stored count). */
  add(rows: readonly ActivityRow[]): Promise<void>;
  /** The buckets of `metric` at or after `since`, ascending (a bucket is unique per metric). */
  series(metric: string, since: number): Promise<{ bucket: number; count: number }[]>;
  /** Every row whose metric starts with `prefix`, at or after `since`, by metric (byte order) then bucket ascending (for grouped counters). */
  list(prefix: string, since: number): Promise<ActivityRow[]>;
  /** Deletes buckets before `before`; returns how many rows. */
  deleteOlderThan(before: number): Promise<number>;
}

/** What `usage.list` returns: the rows of days at or after `since`, of one application or all. */
export interface UsageQuery {
  /** A time; every day whose midnight is at or after it. */
  readonly since: number;
  readonly clientId?: string;
}

/**
 * Per-application usage by UTC day (src/audit/usage.ts). Writes add (they never overwrite), so
 * every instance's counts sum; they do not bump the change version (nothing caches them).
 */
export interface UsageStore {
  /**
   * Adds each row's counts to the stored row of its (client id, day, scope), creating it when
   * absent; lastUseAt becomes the later of the two. Additive across calls and instances.
   */
  add(rows: readonly UsageRow[]): Promise<void>;
  /** The rows matching the query, by client id (byte order), day ascending, then scope (byte order; '' first). */
  list(query: UsageQuery): Promise<UsageRow[]>;
  /** The earliest day stored, or undefined when nothing is: since when usage has been counted (within the retention). */
  firstDay(): Promise<number | undefined>;
  /** Deletes the rows of days before `before`; returns how many. */
  deleteOlderThan(before: number): Promise<number>;
}

/** Server-side sessions. Nothing caches them, so writes do not bump the change version. */
export interface SessionStore {
  /** `conflict` when the id exists. */
  create(session: SessionRecord): Promise<void>;
  byId(id: string): Promise<SessionRecord | undefined>;
  /** Moves lastSeenAt forward (never back); false when no unrevoked session has this id. */
  touch(id: string, at: number): Promise<boolean>;
  /** Revokes one session; false when none unrevoked has this id. */
  revoke(id: string, at: number): Promise<boolean>;
  /** Revokes every unrevoked, unexpired session of the user; returns how many. */
  revokeForUser(userId: string, at: number): Promise<number>;
  /** The user's unrevoked sessions that have not expired at `now`, newest first (by `createdAt`), sessions created at the same time by id ascending. */
  listForUser(userId: string, now: number): Promise<SessionRecord[]>;
  /**
   * Notes that an application got an ID token in the sign-in session whose `sid` this is
   * (web/session.ts sessionSid), until `expiresAt` (the session's absolute end): what back-channel
   * logout (OpenID Connect Back-Channel Logout 1.0) tells when the session ends. Idempotent per
   * (sid, application); a second note keeps the first time.
   */
  addClient(sid: string, applicationId: string, at: number, expiresAt: number): Promise<void>;
  /** The applications noted for a sid by addClient, in the order first noted (then by id). */
  clientsOf(sid: string): Promise<string[]>;
  /** Deletes sessions that expired (or were revoked) before `before`, and the notes of addClient past their end; returns how many sessions. */
  deleteExpired(before: number): Promise<number>;
}

export interface AttemptStore {
  /**
   * Records one failure under each key, atomically per key across instances: within the window
   * (windowStart > at - windowMs) failures grows by one, otherwise the window starts over at `at`
   * with 1. Sets lastAt = at and expiresAt = at + ttlMs. Returns the records as stored, in key order.
   */
  fail(keys: readonly AttemptKey[], at: number, windowMs: number, ttlMs: number): Promise<AttemptRecord[]>;
  /** The records of these keys that have not expired at `now` (absent keys are left out). */
  get(keys: readonly AttemptKey[], now: number): Promise<AttemptRecord[]>;
  /** Stores a `known` record (failures 0) for the user and source, expiring at `at + ttlMs`, and deletes that pair's failures. */
  succeed(userName: string, source: string, at: number, ttlMs: number): Promise<void>;
  /** Deletes the `pair` and `user` records of a user name (an administrator clears a lock); returns how many. */
  clear(userName: string): Promise<number>;
  /**
   * Unexpired `pair` and `user` records, most recent failure first (by `lastAt`), records of the same
   * time by kind, user name, then source ascending; at most `limit` (default 100, the limit rule above).
   */
  list(now: number, limit?: number): Promise<AttemptRecord[]>;
  /** Deletes records that expired before `before`; returns how many. */
  deleteExpired(before: number): Promise<number>;
}

/** Whether writes are failing (disk full, read-only database file), as the last write found. */
export type WriteHealth =
  | { readonly failing: false }
  | { readonly failing: true; readonly since: number; readonly reason: string };

export interface ChangeFeed {
  /** A number that grows whenever the registry, properties or a token's state change. */
  version(): Promise<number>;
  /**
   * Calls `listener` soon after any instance commits a change that others may hold in a cache
   * (every bump except a refresh-token rotation, which changes nothing cached elsewhere; see
   * postgres/statements.ts). It may also call it spuriously, for example after reconnecting, when
   * a notification may have been missed. Returns the unsubscribe function. The listener should re-read `version()`. Absent where changes cannot be
   * pushed (SQLite, memory): callers poll `version()`, which they should do anyway as the bound on
   * staleness when a notification is lost.
   */
  subscribe?(listener: () => void): () => void;
}

/** The schema version a database has and the one this code expects (equal when ready). */
export interface SchemaVersion {
  readonly current: number;
  readonly expected: number;
}

export interface Storage {
  readonly kind: 'sqlite' | 'postgres' | 'memory';
  readonly users: UserStore;
  readonly roles: RoleStore;
  readonly scopes: ScopeStore;
  readonly applications: ApplicationStore;
  readonly properties: PropertyStore;
  readonly tokens: TokenStore;
  readonly refusals: RefusalStore;
  readonly rules: RuleStore;
  readonly resources: ResourceStore;
  readonly keys: KeyStore;
  readonly codes: AuthorizationCodeStore;
  readonly replay: ReplayStore;
  /** Device authorizations (RFC 8628). */
  readonly deviceCodes: DeviceCodeStore;
  readonly identityProviders: IdentityProviderStore;
  readonly audit: AuditStore;
  readonly activity: ActivityStore;
  readonly usage: UsageStore;
  readonly sessions: SessionStore;
  readonly attempts: AttemptStore;
  readonly initialAccessTokens: InitialAccessTokenStore;
  readonly registrationPolicies: RegistrationPolicyStore;
  readonly exchangePolicies: ExchangePolicyStore;
  readonly registrations: RegistrationStore;
  /** RFC 9126 pushed authorization requests. */
  readonly pushedRequests: PushedRequestStore;
  readonly changes: ChangeFeed;
  /** Cheap round trip used by readiness checks. */
  ping(): Promise<void>;
  /** The applied schema version and the one this code expects (readiness: equal). */
  schemaVersion(): Promise<SchemaVersion>;
  /**
   * What the last write found: failing after a write was refused for lack of space or a read-only
   * database (it answered `unavailable`), healthy again after the next write that succeeds.
   */
  writeHealth(): WriteHealth;
  /**
   * A small write that needs new space and is committed (then undone), to find out whether writes
   * succeed again without waiting for traffic (readiness checks it while writes are failing).
   * Resolves to the health after it; never rejects.
   */
  probeWrite(): Promise<WriteHealth>;
  /**
   * Runs `fn` only if no other caller, in this process or any other instance on the same database,
   * is running work under the same `name`; resolves to `fn`'s result, or to undefined without
   * running it when another holds the name. Mutual exclusion only: a second call after the first
   * finished runs again. PostgreSQL: a session advisory lock on a pooled connection (released when
   * `fn` settles, or by the server if the connection dies). SQLite: a lease row that expires, so a
   * crashed holder blocks the name for at most the lease time. Absent: run `fn` directly.
   */
  tryExclusive?<T>(name: string, fn: () => Promise<T>): Promise<T | undefined>;
  /** Rate-limit counters (rate-counters.ts): shared by every instance on PostgreSQL, in this process on SQLite and in memory. */
  readonly rateCounters: RateCounters;
  /** What the metrics read (src/metrics/): group commits and, on PostgreSQL, the pool. Absent on the memory storage. */
  readonly stats?: StorageStats;
  close(): Promise<void>;
}

/** Storage figures for `/metrics`, read at scrape time (nothing is computed per request). */
export interface StorageStats {
  /** How long each group commit took (seconds): SQLite's transaction, PostgreSQL's statement (batcher.ts). */
  readonly commitSeconds: BucketHistogram;
  /** How many writes (token requests, refusals) each group commit carried. */
  readonly commitWrites: BucketHistogram;
  /** PostgreSQL's connection pool now: connections open, idle, and callers waiting for one. */
  pool?(): { readonly total: number; readonly idle: number; readonly waiting: number; readonly max: number };
  /**
   * PostgreSQL with several hosts in its URL (docs/high-availability.md): each host as last
   * probed, in the URL's order, and which one Latchkey's connections go to. Absent with one host.
   */
  hosts?(): readonly DatabaseHostStatus[];
}

/** One host of a multi-host PostgreSQL URL, as last probed (storage/postgres/primary.ts). */
export interface DatabaseHostStatus {
  /** host:port */
  readonly host: string;
  /** primary: takes writes; read-only: not in recovery but default_transaction_read_only; standby: in recovery. */
  readonly role: 'primary' | 'read-only' | 'standby' | 'unreachable';
  /** Why it is unreachable or not usable, when it is. */
  readonly detail?: string;
  /** When this was found (ms since the epoch); 0 before the first probe. */
  readonly checkedAt: number;
  /** True for the host Latchkey's connections go to now. */
  readonly inUse: boolean;
  /**
   * A writable (or read-only, not in recovery) host's WAL timeline: each promotion starts a new,
   * higher one, so of two primaries of one cluster the higher is the one promoted last.
   */
  readonly timeline?: number;
}
