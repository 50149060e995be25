/**
 * In-memory storage adapter. Implements the whole {@link Storage} interface with plain maps; used by
 * unit tests and as the reference behaviour for the contract suite. Every method body runs
 * synchronously before its promise resolves, so compare-and-set operations are naturally atomic.
 */
import { memoryRateCounters } from '../rate-counters.js';
import type { ExchangePolicy } from '../../domain/model.js';
import { type Application, type ActivityRow, type AttemptKey, type AttemptRecord, type AuditEntry, type AuthorizationCode, type IdentityProvider, type NewTokenRecord, type PropertyRow, type Refusal, type ResourceRecord, type Role, type Rule, type Facts, type Scope, type SessionRecord, type SigningKey, type TokenRecord, type UsageRow, type User, type InitialAccessToken, type RegistrationPolicy, type RegistrationRecord, type PushedRequest } from '../../domain/model.js';
import { clampLimit, DEFAULT_LIST_LIMIT, EXPORT_PAGE } from '../limits.js';
import { factsText } from '../sql/rows.js';
import { memoryDeviceCodes } from './device-codes.js';
import { addUsage, compareUsage, usageKey } from '../usage-rows.js';
import { StorageError, type ConsumeCodeResult, type ConsumePushedResult, type ConsumeResult, type RefusalQuery, type Storage, type TokenQuery, type UserRevocation } from '../types.js';

// As the SQL adapters read them back: profile and claim mappings are JSON, empty ones are {} and null.
const copyJson = <T>(v: T): T => JSON.parse(JSON.stringify(v)) as T;
const copyUser = (u: User): User => ({ ...u, roles: [...u.roles], profile: copyJson(u.profile ?? {}) });
const copyApp = (a: Application): Application => ({
  ...a,
  // As the SQL adapters read it back: an absent rate limit is stored as null.
  rateLimit: a.rateLimit ?? null,
  claimMappings: a.claimMappings === undefined || a.claimMappings === null || Object.keys(a.claimMappings).length === 0 ? null : copyJson(a.claimMappings),
  grantTypes: [...a.grantTypes],
  redirectUris: [...a.redirectUris],
  scopes: [...a.scopes],
  postLogoutRedirectUris: [...(a.postLogoutRedirectUris ?? [])],
  backchannelLogoutUri: a.backchannelLogoutUri ?? null,
  backchannelLogoutSessionRequired: a.backchannelLogoutSessionRequired ?? false,
  origin: a.origin ?? 'admin',
  resources: a.resources === undefined || a.resources === null ? null : [...a.resources],
  parRequired: a.parRequired ?? false,
  dpopRequired: a.dpopRequired ?? false,
});
/** As the SQL adapters read them back: a token's audience and a code's resources only when there are some. */
const copyToken = (t: TokenRecord): TokenRecord => {
  const { audience, jkt, act, ...plain } = t;
  // RFC 9449: a bound token's key thumbprint, only when there is one (as the SQL adapters read it).
  const rest = jkt === undefined || jkt === null ? plain : { ...plain, jkt };
  const copy: TokenRecord = audience === undefined || audience === null || audience.length === 0 ? { ...rest, scopes: [...t.scopes] } : { ...rest, scopes: [...t.scopes], audience: [...audience] };
  // RFC 8693 act: only when set, as the SQL adapters read it back.
  return act === undefined || act === null ? copy : { ...copy, act: JSON.parse(JSON.stringify(act)) as TokenRecord['act'] };
};
const copyCode = (c: AuthorizationCode): AuthorizationCode => {
  const { resources, dpopJkt, ...plain } = c;
  const rest = dpopJkt === undefined || dpopJkt === null ? plain : { ...plain, dpopJkt };
  return resources === undefined || resources.length === 0 ? { ...rest, scopes: [...c.scopes] } : { ...rest, scopes: [...c.scopes], resources: [...resources] };
};
const copyResource = (r: ResourceRecord): ResourceRecord => ({ ...r, scopes: [...r.scopes] });
const copyRule = (r: Rule): Rule => ({ ...r, spec: JSON.parse(JSON.stringify(r.spec)) as Rule['spec'] });

/** RefusalQuery.outcome, as the SQL adapters read it (real refusals unless asked otherwise). */
function outcomeMatches(query: RefusalQuery, r: Refusal): boolean {
  const outcome = query.outcome ?? (query.ruleId === undefined ? 'refused' : 'all');
  if (outcome === 'all') return true;
  return (outcome === 'refused') === (r.ruleId === undefined || r.ruleId === null);
}

const copyNamed = <T extends Role | Scope | PropertyRow | Refusal | SigningKey | IdentityProvider>(r: T): T => ({ ...r });
/** Byte order of two strings (their UTF-16 order, the same for every key Latchkey stores). */
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const byName = (a: { name: string }, b: { name: string }): number => compare(a.name, b.name);
const limitOf = (limit: number | undefined): number => clampLimit(limit, DEFAULT_LIST_LIMIT);

/** One page of `values` in ascending byte order of `key`, after `after` (exclusive). */
function page<T>(values: Iterable<T>, key: (v: T) => string, after: string | undefined, limit: number | undefined): T[] {
  return [...values]
    .filter((v) => after === undefined || key(v) > after)
    .sort((a, b) => compare(key(a), key(b)))
    .slice(0, clampLimit(limit, EXPORT_PAGE));
}

export function createMemoryStorage(): Storage {
  const users = new Map<string, User>();
  const roles = new Map<string, Role>();
  const scopes = new Map<string, Scope>();
  const applications = new Map<string, Application>();
  const properties = new Map<string, PropertyRow>();
  const tokens = new Map<string, TokenRecord>();
  const refusals = new Map<string, Refusal>();
  const signingKeys = new Map<string, SigningKey>();
  const codes = new Map<string, AuthorizationCode>();
  const pushed = new Map<string, PushedRequest>();
  const replay = new Map<string, number>();
  const identityProviders = new Map<string, IdentityProvider>();
  const rules = new Map<string, Rule>();
  const resources = new Map<string, ResourceRecord>();
  /** Initial access tokens by id; registration policies by name; registrations by client id. */
  const iats = new Map<string, InitialAccessToken>();
  const regPolicies = new Map<string, RegistrationPolicy>();
  /** Token exchange policies by client id. */
  const exchangePolicies = new Map<string, ExchangePolicy>();
  const copyExchangePolicy = (p: ExchangePolicy): ExchangePolicy => ({ ...p, spec: JSON.parse(JSON.stringify(p.spec)) as ExchangePolicy['spec'] });
  const registrations = new Map<string, RegistrationRecord>();
  const copyPolicy = (p: RegistrationPolicy): RegistrationPolicy => ({ ...p, spec: JSON.parse(JSON.stringify(p.spec)) as RegistrationPolicy['spec'] });
  const byCreated = <T extends { createdAt: number }>(key: (v: T) => string) => (a: T, b: T): number => a.createdAt - b.createdAt || compare(key(a), key(b));
  const audit = new Map<string, AuditEntry>();
  /** `${bucket} ${metric}` → count. */
  const activity = new Map<string, ActivityRow>();
  /** usageKey(row) → row. */
  const usage = new Map<string, UsageRow>();
  const sessions = new Map<string, SessionRecord>();
  /** sid -> application id -> [first noted, expires]. */
  const sessionClients = new Map<string, Map<string, [number, number]>>();
  /** `${kind}\u0000${userName}\u0000${source}` → record. */
  const attempts = new Map<string, AttemptRecord>();
  const attemptKey = (k: AttemptKey): string => `${k.kind}\u0000${k.userName}\u0000${k.source}`;
  const compareAttemptKeys = (a: AttemptKey, b: AttemptKey): number => {
    return compare(attemptKey(a), attemptKey(b));
  };
  let version = 0;
  const running = new Set<string>();
  const bump = (): void => {
    version += 1;
  };

  const findUserByName = (userName: string): User | undefined => {
    for (const u of users.values()) if (u.userName === userName) return u;
    return undefined;
  };
  const findAppByClientId = (clientId: string): Application | undefined => {
    for (const a of applications.values()) if (a.clientId === clientId) return a;
    return undefined;
  };

  /** Throws `conflict` when another provider (not `id`) has this name or issuer. */
  const checkIdpUnique = (idp: IdentityProvider): void => {
    for (const p of identityProviders.values()) {
      if (p.id === idp.id) continue;
      if (p.name === idp.name) throw new StorageError('conflict', `identity provider name ${idp.name} already exists`);
      if (p.issuer === idp.issuer) throw new StorageError('conflict', `identity provider issuer ${idp.issuer} already exists`);
    }
  };
  /** Deletes the entries of `map` that `expired` picks; returns how many. */
  const deleteWhere = <K, V>(map: Map<K, V>, expired: (v: V) => boolean): number => {
    let count = 0;
    for (const [k, v] of [...map]) {
      if (expired(v)) {
        map.delete(k);
        count += 1;
      }
    }
    return count;
  };

  /** Throws `conflict` if any hash is already stored or repeated within the batch. */
  const checkNewTokens = (batch: readonly NewTokenRecord[], alsoTaken?: string): void => {
    const seen = new Set<string>();
    for (const t of batch) {
      if (tokens.has(t.hash) || seen.has(t.hash) || t.hash === alsoTaken) {
        throw new StorageError('conflict', `token hash already exists`);
      }
      seen.add(t.hash);
    }
  };
  /** Revokes the unexpired active or rotated tokens that match. */
  const revokeWhere = (match: (t: TokenRecord) => boolean, at: number): UserRevocation => {
    const families = new Set<string>();
    let count = 0;
    for (const t of [...tokens.values()]) {
      if (match(t) && t.expiresAt > at && (t.status === 'active' || t.status === 'rotated')) {
        tokens.set(t.hash, { ...t, status: 'revoked', revokedAt: at });
        families.add(t.familyId);
        count += 1;
      }
    }
    if (count > 0) bump();
    return { tokens: count, families: families.size };
  };

  /** Deletes one entry; bumps the change version when it did. */
  const removeFrom = <V>(map: Map<string, V>, key: string): boolean => {
    if (!map.delete(key)) return false;
    bump();
    return true;
  };

  const storeNewTokens = (batch: readonly NewTokenRecord[]): void => {
    for (const t of batch) {
      tokens.set(t.hash, { ...t, scopes: [...t.scopes], status: 'active', revokedAt: null });
    }
  };

  return {
    kind: 'memory',

    users: {
      async create(user) {
        if (users.has(user.id)) throw new StorageError('conflict', `user id ${user.id} already exists`);
        if (findUserByName(user.userName)) {
          throw new StorageError('conflict', `user name ${user.userName} already exists`);
        }
        users.set(user.id, copyUser(user));
        bump();
      },
      async update(user) {
        if (!users.has(user.id)) throw new StorageError('not_found', `user ${user.id} not found`);
        const other = findUserByName(user.userName);
        if (other && other.id !== user.id) {
          throw new StorageError('conflict', `user name ${user.userName} already exists`);
        }
        users.set(user.id, copyUser(user));
        bump();
      },
      async byId(id) {
        const u = users.get(id);
        return u && copyUser(u);
      },
      async byName(userName) {
        const u = findUserByName(userName);
        return u && copyUser(u);
      },
      async list() {
        return [...users.values()]
          .sort((a, b) => byName({ name: a.userName }, { name: b.userName }))
          .map(copyUser);
      },
      async delete(id) {
        return removeFrom(users, id);
      },
    },

    roles: {
      async create(role) {
        if (roles.has(role.name)) throw new StorageError('conflict', `role ${role.name} already exists`);
        roles.set(role.name, copyNamed(role));
        bump();
      },
      async update(role) {
        if (!roles.has(role.name)) throw new StorageError('not_found', `role ${role.name} not found`);
        roles.set(role.name, copyNamed(role));
        bump();
      },
      async delete(name) {
        return removeFrom(roles, name);
      },
      async byName(name) {
        const r = roles.get(name);
        return r && copyNamed(r);
      },
      async list() {
        return [...roles.values()].sort(byName).map(copyNamed);
      },
    },

    scopes: {
      async create(scope) {
        if (scopes.has(scope.name)) throw new StorageError('conflict', `scope ${scope.name} already exists`);
        scopes.set(scope.name, copyNamed(scope));
        bump();
      },
      async update(scope) {
        if (!scopes.has(scope.name)) throw new StorageError('not_found', `scope ${scope.name} not found`);
        scopes.set(scope.name, copyNamed(scope));
        bump();
      },
      async delete(name) {
        return removeFrom(scopes, name);
      },
      async byName(name) {
        const s = scopes.get(name);
        return s && copyNamed(s);
      },
      async list() {
        return [...scopes.values()].sort(byName).map(copyNamed);
      },
    },

    applications: {
      async create(app) {
        if (applications.has(app.id)) {
          throw new StorageError('conflict', `application id ${app.id} already exists`);
        }
        if (findAppByClientId(app.clientId)) {
          throw new StorageError('conflict', `client id ${app.clientId} already exists`);
        }
        applications.set(app.id, copyApp(app));
        bump();
      },
      async update(app) {
        if (!applications.has(app.id)) throw new StorageError('not_found', `application ${app.id} not found`);
        const other = findAppByClientId(app.clientId);
        if (other && other.id !== app.id) {
          throw new StorageError('conflict', `client id ${app.clientId} already exists`);
        }
        applications.set(app.id, copyApp(app));
        bump();
      },
      async byId(id) {
        const a = applications.get(id);
        return a && copyApp(a);
      },
      async byClientId(clientId) {
        const a = findAppByClientId(clientId);
        return a && copyApp(a);
      },
      async delete(id) {
        return removeFrom(applications, id);
      },
      async list() {
        return [...applications.values()].sort((a, b) => byName(a, b) || compare(a.clientId, b.clientId)).map(copyApp);
      },
    },

    properties: {
      async set(name, value, at) {
        properties.set(name, { name, value, updatedAt: at });
        bump();
      },
      async list() {
        return [...properties.values()].sort(byName).map(copyNamed);
      },
    },

    tokens: {
      async insert(batch) {
        checkNewTokens(batch);
        storeNewTokens(batch);
      },
      async byHash(hash) {
        const t = tokens.get(hash);
        return t && copyToken(t);
      },
      async byKeyPrefix(prefix, limit) {
        if (prefix === '') return [];
        return [...tokens.values()]
          .filter((t) => t.hash.startsWith(prefix))
          .sort((a, b) => compare(a.hash, b.hash))
          .slice(0, limitOf(limit))
          .map(copyToken);
      },
      async consumeRefresh(hash, _at, replacements): Promise<ConsumeResult> {
        const t = tokens.get(hash);
        if (!t) return { outcome: 'not_found' };
        if (t.kind !== 'refresh' || t.status !== 'active') return { outcome: 'not_active', token: copyToken(t) };
        checkNewTokens(replacements, hash);
        // A rotated token is not revoked, so revokedAt stays null.
        const rotated: TokenRecord = { ...t, status: 'rotated' };
        tokens.set(hash, rotated);
        storeNewTokens(replacements);
        bump();
        return { outcome: 'consumed', token: copyToken(rotated) };
      },
      async revoke(hash, at) {
        const t = tokens.get(hash);
        if (!t || t.status !== 'active') return false;
        tokens.set(hash, { ...t, status: 'revoked', revokedAt: at });
        bump();
        return true;
      },
      async revokeFamily(familyId, at) {
        let count = 0;
        for (const t of tokens.values()) {
          if (t.familyId === familyId && (t.status === 'active' || t.status === 'rotated')) {
            tokens.set(t.hash, { ...t, status: 'revoked', revokedAt: at });
            count += 1;
          }
        }
        if (count > 0) bump();
        return count;
      },
      async revokeForUser(userId, at, options): Promise<UserRevocation> {
        const families = new Set<string>();
        let count = 0;
        const live = (t: TokenRecord) => t.status === 'active' || t.status === 'rotated';
        for (const t of tokens.values()) {
          if (t.userId === userId && t.grantType !== 'client_credentials' && live(t)) families.add(t.familyId);
        }
        for (const t of [...tokens.values()]) {
          const own = families.has(t.familyId) && live(t);
          const acting = options?.includeClientCredentials === true && t.userId === userId && t.grantType === 'client_credentials' && t.status === 'active' && t.expiresAt > at;
          if (own || acting) {
            tokens.set(t.hash, { ...t, status: 'revoked', revokedAt: at });
            count += 1;
            if (acting) families.add(t.familyId);
          }
        }
        if (count > 0) bump();
        return { tokens: count, families: count === 0 ? 0 : families.size };
      },
      async revokeForApplication(applicationId, at) {
        return revokeWhere((t) => t.applicationId === applicationId, at);
      },
      async revokeWithScope(scope, at) {
        return revokeWhere((t) => t.scopes.includes(scope), at);
      },
      async list(query: TokenQuery) {
        const now = query.now ?? Date.now();
        return [...tokens.values()]
          .filter(
            (t) =>
              (query.applicationId === undefined || t.applicationId === query.applicationId) &&
              (query.userId === undefined || t.userId === query.userId) &&
              (!query.activeOnly || (t.status === 'active' && t.expiresAt > now)),
          )
          .sort((a, b) => b.issuedAt - a.issuedAt || compare(a.hash, b.hash))
          .slice(0, limitOf(query.limit))
          .map(copyToken);
      },
      async deleteExpired(before) {
        let count = 0;
        for (const t of [...tokens.values()]) {
          if (t.expiresAt < before) {
            tokens.delete(t.hash);
            count += 1;
          }
        }
        return count;
      },
      async exportAll(after, limit) {
        return page(tokens.values(), (t) => t.hash, after, limit).map(copyToken);
      },
      async importAll(batch) {
        checkNewTokens(batch);
        for (const t of batch) tokens.set(t.hash, copyToken(t));
      },
    },

    refusals: {
      async record(refusal) {
        // The facts bounded and copied as the SQL adapters store them (JSON, FACTS_MAX_CHARS).
        const facts = factsText(refusal.facts);
        refusals.set(refusal.requestId, { ...refusal, facts: facts === null ? null : (JSON.parse(facts) as Facts), ruleId: refusal.ruleId ?? null });
      },
      async byRequestId(requestId) {
        const r = refusals.get(requestId);
        return r && copyNamed(r);
      },
      async list(query: RefusalQuery) {
        return [...refusals.values()]
          .filter(
            (r) =>
              (query.reason === undefined || r.reason === query.reason) &&
              (query.since === undefined || r.at >= query.since) &&
              (query.ruleId === undefined || r.ruleId === query.ruleId) &&
              outcomeMatches(query, r),
          )
          .sort((a, b) => b.at - a.at || compare(b.requestId, a.requestId))
          .slice(0, limitOf(query.limit))
          .map(copyNamed);
      },
      async deleteOlderThan(before) {
        let count = 0;
        for (const r of [...refusals.values()]) {
          if (r.at < before) {
            refusals.delete(r.requestId);
            count += 1;
          }
        }
        return count;
      },
      async exportAll(after, limit) {
        return page(refusals.values(), (r) => r.requestId, after, limit).map(copyNamed);
      },
    },

    keys: {
      async list() {
        return [...signingKeys.values()]
          .sort((a, b) => a.activatesAt - b.activatesAt || compare(a.kid, b.kid))
          .map(copyNamed);
      },
      async rotate(next, retire) {
        if (signingKeys.has(next.kid)) throw new StorageError('conflict', `signing key ${next.kid} already exists`);
        for (const k of [...signingKeys.values()]) {
          const sameTimeline = (k.purpose ?? 'access') === (next.purpose ?? 'access') && ((next.purpose ?? 'access') === 'access' || k.alg === next.alg);
          if (sameTimeline && (k.retiresAt === null || k.retiresAt > retire.retiresAt)) signingKeys.set(k.kid, { ...k, retiresAt: retire.retiresAt, publishUntil: retire.publishUntil });
        }
        signingKeys.set(next.kid, copyNamed(next));
        bump();
      },
      async deleteUnpublished(before) {
        const count = deleteWhere(signingKeys, (k) => k.publishUntil !== null && k.publishUntil < before);
        if (count > 0) bump();
        return count;
      },
    },

    codes: {
      async insert(code) {
        if (codes.has(code.hash)) throw new StorageError('conflict', 'authorization code already exists');
        codes.set(code.hash, copyCode(code));
      },
      async consume(hash, at): Promise<ConsumeCodeResult> {
        const c = codes.get(hash);
        if (!c) return { outcome: 'not_found' };
        if (c.usedAt !== null) return { outcome: 'used', code: copyCode(c) };
        const used: AuthorizationCode = { ...c, usedAt: at };
        codes.set(hash, used);
        return { outcome: 'consumed', code: copyCode(used) };
      },
      async byHash(hash) {
        const c = codes.get(hash);
        return c === undefined ? undefined : copyCode(c);
      },
      async deleteExpired(before) {
        const liveFamilies = new Set<string>();
        for (const t of tokens.values()) if (t.expiresAt >= before) liveFamilies.add(t.familyId);
        return deleteWhere(codes, (c) => c.expiresAt < before && (c.claims === undefined || c.claims === null || !liveFamilies.has(c.hash)));
      },
    },

    deviceCodes: memoryDeviceCodes(),
    pushedRequests: {
      async insert(p) {
        if (pushed.has(p.hash)) throw new StorageError('conflict', 'pushed request already exists');
        pushed.set(p.hash, { ...p });
      },
      async consume(hash, at): Promise<ConsumePushedResult> {
        const p = pushed.get(hash);
        if (!p) return { outcome: 'not_found' };
        if (p.usedAt !== null) return { outcome: 'used', request: { ...p } };
        const used: PushedRequest = { ...p, usedAt: at };
        pushed.set(hash, used);
        return { outcome: 'consumed', request: { ...used } };
      },
      async deleteExpired(before) {
        return deleteWhere(pushed, (p) => p.expiresAt < before);
      },
    },

    replay: {
      async remember(key, expiresAt, now) {
        const current = replay.get(key);
        if (current !== undefined && current > now) return false;
        replay.set(key, expiresAt);
        return true;
      },
      async deleteExpired(before) {
        return deleteWhere(replay, (expiresAt) => expiresAt < before);
      },
    },

    resources: {
      async create(resource) {
        if (resources.has(resource.uri)) throw new StorageError('conflict', `resource ${resource.uri} already exists`);
        resources.set(resource.uri, copyResource(resource));
        bump();
      },
      async update(resource) {
        if (!resources.has(resource.uri)) throw new StorageError('not_found', `resource ${resource.uri} not found`);
        resources.set(resource.uri, copyResource(resource));
        bump();
      },
      async byUri(uri) {
        const r = resources.get(uri);
        return r && copyResource(r);
      },
      async list() {
        return [...resources.values()].sort((a, b) => compare(a.uri, b.uri)).map(copyResource);
      },
      async delete(uri) {
        const deleted = resources.delete(uri);
        if (deleted) bump();
        return deleted;
      },
    },
    initialAccessTokens: {
      create: async (t) => {
        if (iats.has(t.id) || [...iats.values()].some((x) => x.hash === t.hash)) throw new StorageError('conflict', 'initial access token already exists');
        iats.set(t.id, { ...t });
      },
      byId: async (id) => { const t = iats.get(id); return t && { ...t }; },
      byHash: async (hash) => { const t = [...iats.values()].find((x) => x.hash === hash); return t && { ...t }; },
      list: async () => [...iats.values()].sort(byCreated<InitialAccessToken>((t) => t.id)).map((t) => ({ ...t })),
      consume: async (hash, at) => {
        const t = [...iats.values()].find((x) => x.hash === hash);
        if (t === undefined) return { outcome: 'not_found' };
        if (t.revokedAt !== null || (t.expiresAt !== null && t.expiresAt <= at) || (t.usesLeft !== null && t.usesLeft <= 0)) return { outcome: 'unusable', token: { ...t } };
        const spent: InitialAccessToken = { ...t, usesLeft: t.usesLeft === null ? null : t.usesLeft - 1, lastUsedAt: at };
        iats.set(t.id, spent);
        return { outcome: 'consumed', token: { ...spent } };
      },
      revoke: async (id, at) => {
        const t = iats.get(id);
        if (t === undefined || t.revokedAt !== null) return false;
        iats.set(id, { ...t, revokedAt: at });
        return true;
      },
    },
    exchangePolicies: {
      put: async (p) => {
        const current = exchangePolicies.get(p.clientId);
        exchangePolicies.set(p.clientId, copyExchangePolicy(current === undefined ? p : { ...p, createdAt: current.createdAt }));
        bump();
      },
      byClientId: async (clientId) => { const p = exchangePolicies.get(clientId); return p && copyExchangePolicy(p); },
      list: async () => [...exchangePolicies.values()].sort((a, b) => compare(a.clientId, b.clientId)).map(copyExchangePolicy),
      delete: async (clientId) => {
        const deleted = exchangePolicies.delete(clientId);
        if (deleted) bump();
        return deleted;
      },
    },
    registrationPolicies: {
      put: async (p) => {
        const current = regPolicies.get(p.name);
        regPolicies.set(p.name, copyPolicy(current === undefined ? p : { ...p, createdAt: current.createdAt }));
        bump();
      },
      byName: async (name) => { const p = regPolicies.get(name); return p && copyPolicy(p); },
      list: async () => [...regPolicies.values()].sort(byName).map(copyPolicy),
      delete: async (name) => {
        const deleted = regPolicies.delete(name);
        if (deleted) bump();
        return deleted;
      },
    },
    registrations: {
      create: async (r) => {
        if (registrations.has(r.clientId) || [...registrations.values()].some((x) => x.source === r.source && x.fingerprint === r.fingerprint)) {
          throw new StorageError('conflict', 'registration already exists');
        }
        registrations.set(r.clientId, { ...r });
      },
      update: async (r) => {
        if (!registrations.has(r.clientId)) throw new StorageError('not_found', 'registration not found');
        if ([...registrations.values()].some((x) => x.clientId !== r.clientId && x.source === r.source && x.fingerprint === r.fingerprint)) {
          throw new StorageError('conflict', 'registration already exists');
        }
        registrations.set(r.clientId, { ...r });
      },
      byClientId: async (clientId) => { const r = registrations.get(clientId); return r && { ...r }; },
      bySourceAndFingerprint: async (source, fingerprint) => {
        const r = [...registrations.values()].find((x) => x.source === source && x.fingerprint === fingerprint);
        return r && { ...r };
      },
      list: async () => [...registrations.values()].sort(byCreated<RegistrationRecord>((r) => r.clientId)).map((r) => ({ ...r })),
      touch: async (clientId, at) => {
        const r = registrations.get(clientId);
        if (r === undefined) return false;
        registrations.set(clientId, { ...r, lastUsedAt: Math.max(r.lastUsedAt ?? 0, at) });
        return true;
      },
      unusedBefore: async (before, limit) =>
        [...registrations.values()]
          .filter((r) => (r.lastUsedAt ?? r.createdAt) < before)
          .sort(byCreated<RegistrationRecord>((r) => r.clientId))
          .slice(0, Math.max(0, limitOf(limit)))
          .map((r) => ({ ...r })),
      delete: async (clientId) => registrations.delete(clientId),
    },
    rules: {
      async create(rule) {
        if (rules.has(rule.id)) throw new StorageError('conflict', `rule ${rule.id} already exists`);
        rules.set(rule.id, copyRule(rule));
        bump();
      },
      async update(rule) {
        if (!rules.has(rule.id)) throw new StorageError('not_found', `rule ${rule.id} not found`);
        rules.set(rule.id, copyRule(rule));
        bump();
      },
      async byId(id) {
        const r = rules.get(id);
        return r && copyRule(r);
      },
      async list() {
        return [...rules.values()].sort((a, b) => a.createdAt - b.createdAt || compare(a.id, b.id)).map(copyRule);
      },
      async delete(id) {
        const deleted = rules.delete(id);
        if (deleted) bump();
        return deleted;
      },
    },

    identityProviders: {
      async create(idp) {
        if (identityProviders.has(idp.id)) throw new StorageError('conflict', `identity provider id ${idp.id} already exists`);
        checkIdpUnique(idp);
        identityProviders.set(idp.id, copyNamed(idp));
        bump();
      },
      async update(idp) {
        if (!identityProviders.has(idp.id)) throw new StorageError('not_found', `identity provider ${idp.id} not found`);
        checkIdpUnique(idp);
        identityProviders.set(idp.id, copyNamed(idp));
        bump();
      },
      async byId(id) {
        const p = identityProviders.get(id);
        return p && copyNamed(p);
      },
      async byName(name) {
        for (const p of identityProviders.values()) if (p.name === name) return copyNamed(p);
        return undefined;
      },
      async list() {
        return [...identityProviders.values()].sort(byName).map(copyNamed);
      },
      async delete(id) {
        if (!identityProviders.delete(id)) return false;
        bump();
        return true;
      },
    },

    audit: {
      async record(entry) {
        if (audit.has(entry.id)) throw new StorageError('conflict', `audit entry ${entry.id} already exists`);
        audit.set(entry.id, { ...entry });
      },
      async list(query) {
        return [...audit.values()]
          .filter(
            (e) =>
              (query.since === undefined || e.at >= query.since) &&
              (query.target === undefined || e.target === query.target) &&
              (query.action === undefined || e.action === query.action),
          )
          .sort((a, b) => b.at - a.at || compare(b.id, a.id))
          .slice(0, limitOf(query.limit))
          .map((e) => ({ ...e }));
      },
      async deleteOlderThan(before) {
        return deleteWhere(audit, (e) => e.at < before);
      },
      async exportAll(after, limit) {
        return page(audit.values(), (e) => e.id, after, limit).map((e) => ({ ...e }));
      },
    },

    activity: {
      async add(rows) {
        for (const r of rows) {
          const key = `${r.bucket} ${r.metric}`;
          const current = activity.get(key);
          activity.set(key, { bucket: r.bucket, metric: r.metric, count: (current?.count ?? 0) + r.count });
        }
      },
      async series(metric, since) {
        return [...activity.values()]
          .filter((r) => r.metric === metric && r.bucket >= since)
          .sort((a, b) => a.bucket - b.bucket)
          .map((r) => ({ bucket: r.bucket, count: r.count }));
      },
      async list(prefix, since) {
        return [...activity.values()]
          .filter((r) => r.metric.startsWith(prefix) && r.bucket >= since)
          .sort((a, b) => compare(a.metric, b.metric) || a.bucket - b.bucket)
          .map((r) => ({ ...r }));
      },
      async deleteOlderThan(before) {
        return deleteWhere(activity, (r) => r.bucket < before);
      },
    },

    usage: {
      async add(rows) {
        for (const r of rows) {
          const key = usageKey(r);
          const current = usage.get(key);
          usage.set(key, current === undefined ? { ...r } : addUsage(current, r));
        }
      },
      async list(q) {
        return [...usage.values()]
          .filter((r) => r.day >= q.since && (q.clientId === undefined || r.clientId === q.clientId))
          .sort(compareUsage)
          .map((r) => ({ ...r }));
      },
      async firstDay() {
        let first: number | undefined;
        for (const r of usage.values()) if (first === undefined || r.day < first) first = r.day;
        return first;
      },
      async deleteOlderThan(before) {
        return deleteWhere(usage, (r) => r.day < before);
      },
    },

    sessions: {
      async create(session) {
        if (sessions.has(session.id)) throw new StorageError('conflict', 'session already exists');
        sessions.set(session.id, { ...session });
      },
      async byId(id) {
        const s = sessions.get(id);
        return s && { ...s };
      },
      async touch(id, at) {
        const s = sessions.get(id);
        if (s === undefined || s.revokedAt !== null) return false;
        if (at > s.lastSeenAt) sessions.set(id, { ...s, lastSeenAt: at });
        return true;
      },
      async revoke(id, at) {
        const s = sessions.get(id);
        if (s === undefined || s.revokedAt !== null) return false;
        sessions.set(id, { ...s, revokedAt: at });
        return true;
      },
      async revokeForUser(userId, at) {
        let count = 0;
        for (const s of [...sessions.values()]) {
          if (s.userId === userId && s.revokedAt === null && s.expiresAt > at) {
            sessions.set(s.id, { ...s, revokedAt: at });
            count += 1;
          }
        }
        return count;
      },
      async listForUser(userId, now) {
        return [...sessions.values()]
          .filter((s) => s.userId === userId && s.revokedAt === null && s.expiresAt > now)
          .sort((a, b) => b.createdAt - a.createdAt || compare(a.id, b.id))
          .map((s) => ({ ...s }));
      },
      async addClient(sid, applicationId, at, expiresAt) {
        const of = sessionClients.get(sid) ?? new Map<string, [number, number]>();
        if (!of.has(applicationId)) of.set(applicationId, [at, expiresAt]);
        sessionClients.set(sid, of);
      },
      async clientsOf(sid) {
        const of = sessionClients.get(sid);
        if (of === undefined) return [];
        return [...of.entries()].sort((a, b) => a[1][0] - b[1][0] || compare(a[0], b[0])).map(([id]) => id);
      },
      async deleteExpired(before) {
        for (const [sid, of] of [...sessionClients.entries()]) {
          for (const [id, [, expiresAt]] of [...of.entries()]) if (expiresAt < before) of.delete(id);
          if (of.size === 0) sessionClients.delete(sid);
        }
        return deleteWhere(sessions, (s) => s.expiresAt < before || (s.revokedAt !== null && s.revokedAt < before));
      },
    },

    attempts: {
      async fail(keys, at, windowMs, ttlMs) {
        return [...keys].sort(compareAttemptKeys).map((k) => {
          const current = attempts.get(attemptKey(k));
          const inWindow = current !== undefined && current.expiresAt > at && current.windowStart > at - windowMs;
          const record: AttemptRecord = {
            kind: k.kind,
            userName: k.userName,
            source: k.source,
            failures: inWindow ? current.failures + 1 : 1,
            windowStart: inWindow ? current.windowStart : at,
            lastAt: at,
            expiresAt: at + ttlMs,
          };
          attempts.set(attemptKey(k), record);
          return { ...record };
        });
      },
      async get(keys, now) {
        const out: AttemptRecord[] = [];
        for (const k of [...keys].sort(compareAttemptKeys)) {
          const r = attempts.get(attemptKey(k));
          if (r !== undefined && r.expiresAt > now) out.push({ ...r });
        }
        return out;
      },
      async succeed(userName, source, at, ttlMs) {
        attempts.delete(attemptKey({ kind: 'pair', userName, source }));
        attempts.set(attemptKey({ kind: 'known', userName, source }), { kind: 'known', userName, source, failures: 0, windowStart: at, lastAt: at, expiresAt: at + ttlMs });
      },
      async clear(userName) {
        return deleteWhere(attempts, (r) => r.userName === userName && (r.kind === 'pair' || r.kind === 'user'));
      },
      async list(now, limit) {
        return [...attempts.values()]
          .filter((r) => (r.kind === 'pair' || r.kind === 'user') && r.expiresAt > now)
          .sort((a, b) => b.lastAt - a.lastAt || compareAttemptKeys(a, b))
          .slice(0, limitOf(limit))
          .map((r) => ({ ...r }));
      },
      async deleteExpired(before) {
        return deleteWhere(attempts, (r) => r.expiresAt < before);
      },
    },

    changes: {
      async version() {
        return version;
      },
    },

    async ping() {},
    async schemaVersion() {
      return { current: 1, expected: 1 };
    },
    // Memory never runs out of disk; a full heap is not a condition to report.
    writeHealth: () => ({ failing: false }),
    rateCounters: memoryRateCounters(),
    probeWrite: async () => ({ failing: false }),
    // One process, so exclusion within it is all there is to keep.
    async tryExclusive<T>(name: string, fn: () => Promise<T>): Promise<T | undefined> {
      if (running.has(name)) return undefined;
      running.add(name);
      try {
        return await fn();
      } finally {
        running.delete(name);
      }
    },
    async close() {},
  };
}
