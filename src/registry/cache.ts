import type { Application, User } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { resolveProperties, type PropertyValues } from './properties.js';

type Deps = { storage: Pick<Storage, 'applications' | 'users' | 'properties' | 'changes'> };

/** The caches of RegistryCache, by the name /metrics gives them (latchkey_registry_cache_*). */
export const REGISTRY_CACHES = ['applications', 'applications_by_id', 'users', 'properties', 'verified_secrets'] as const;
export type RegistryCacheName = (typeof REGISTRY_CACHES)[number];

/** Lookups answered from memory (hits) and from storage (misses), per cache, and clears: plain counters read by /metrics. */
export class CacheStats {
  readonly hits: Record<RegistryCacheName, number> = { applications: 0, applications_by_id: 0, users: 0, properties: 0, verified_secrets: 0 };
  readonly misses: Record<RegistryCacheName, number> = { applications: 0, applications_by_id: 0, users: 0, properties: 0, verified_secrets: 0 };
  /** Whole-cache clears after a change version moved (or the storage stopped answering). */
  clears = 0;
}

/** How often the change version is checked. Changes made anywhere (CLI, another instance) are
 * seen within this interval, well inside the one-second promise. Where the storage pushes changes
 * (PostgreSQL LISTEN/NOTIFY) they are seen sooner, and polling is the fallback that bounds
 * staleness when a notification is missed; it costs one indexed read per interval. */
export const DEFAULT_POLL_MS = 250;

/** How long a change-version check may hang before the cache stops being trusted: with the
 * 250 ms poll that notices it, a partitioned instance stops trusting cached state within ~850 ms. */
const STALE_AFTER_MS = 600;

/** How long after a change-driven clear `check()` still reports a change (see check). */
const RECENT_CHANGE_MS = 1_000;

/**
 * A read-through cache of the registry for the hot path: applications by client id, users by id
 * and name, and the typed properties. The whole cache is dropped whenever the storage change
 * version moves, so a deactivation, a scope removal or a property change is in force within one
 * poll interval without a restart. Only hits are cached (a flood of unknown client ids cannot
 * grow it), and size is bounded.
 */
export class RegistryCache {
  private apps = new Map<string, Application>();
  private appsById = new Map<string, Application>();
  private usersById = new Map<string, User>();
  private secrets = new Map<string, string>();
  /** Client ids no application had when last asked (see applicationByClientId). */
  private unknownClientIds = new Set<string>();
  private props: PropertyValues | undefined;
  private version = -1;
  /** When a version change last cleared the cache (performance.now()). */
  private changedAt = -Infinity;
  /** Bumped on every clear, so a read that started before a clear cannot store a stale record. */
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  /** The check in flight, and whether another was asked for meanwhile (see refresh). */
  private checking = false;
  private recheck = false;
  /** When the check in flight started (performance.now()). */
  private checkStarted = 0;
  private readonly maxEntries = 10_000;
  private readonly listeners = new Set<() => void>();
  /** Hit and miss counts for /metrics: integer adds on the lookups, nothing else. */
  readonly stats = new CacheStats();

  constructor(private readonly deps: Deps) {}

  /** How many entries each cache holds now (for /metrics). */
  sizes(): Record<RegistryCacheName, number> {
    return { applications: this.apps.size, applications_by_id: this.appsById.size, users: this.usersById.size, properties: this.props === undefined ? 0 : 1, verified_secrets: this.secrets.size };
  }

  /** Loads the current version, subscribes to change notifications where the storage has them, and starts polling. */
  async start(pollMs = DEFAULT_POLL_MS): Promise<void> {
    await this.check();
    this.timer = setInterval(() => this.refresh(), pollMs);
    this.timer.unref();
    this.unsubscribe = this.deps.storage.changes.subscribe?.(() => this.refresh());
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /**
   * A check from the poll or a notification. One runs at a time; a poll or notification that
   * arrives while one runs makes one more run after it, so a change committed during a check is
   * never missed.
   */
  private refresh(): void {
    if (this.checking) {
      this.recheck = true;
      // A check that hangs (database unreachable, waiting out a connection timeout) must not
      // leave the cache trusted: past STALE_AFTER_MS, drop it, so requests go to storage and get
      // a clear 503 instead of an answer that may be stale.
      if (performance.now() - this.checkStarted > STALE_AFTER_MS) this.clear();
      return;
    }
    this.checking = true;
    this.checkStarted = performance.now();
    this.check()
      .catch(() => {
        // Storage unavailable: drop everything so nothing stale is trusted while it is down.
        this.clear();
      })
      .finally(() => {
        this.checking = false;
        if (this.recheck && this.timer !== undefined) {
          this.recheck = false;
          this.refresh();
        }
      });
  }

  /** Subscribe to invalidations (other caches, such as token validation, hang off this one). */
  onInvalidate(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Checks the change version now; clears the cache and returns true when it moved. Also true when
   * a poll or a notification cleared the cache for a change within the last RECENT_CHANGE_MS: a
   * caller about to refuse on what it read from the cache may have read it just before that clear
   * (with notifications, the clear for an administrator's change lands while their next request is
   * in flight), and must re-read rather than refuse on stale data. Costs at most one re-read per
   * refusal, and only shortly after a change.
   */
  async check(): Promise<boolean> {
    const v = await this.deps.storage.changes.version();
    if (v === this.version) return performance.now() - this.changedAt < RECENT_CHANGE_MS;
    this.version = v;
    this.changedAt = performance.now();
    this.clear();
    return true;
  }

  clear(): void {
    this.stats.clears++;
    this.generation++;
    this.apps = new Map();
    this.appsById = new Map();
    this.usersById = new Map();
    this.secrets = new Map();
    this.unknownClientIds = new Set();
    this.props = undefined;
    for (const l of this.listeners) l();
  }

  /** Reads through one map: a hit is returned, a miss loaded and kept unless a clear intervened. */
  private async through<T>(name: RegistryCacheName, map: () => Map<string, T>, key: string, load: (key: string) => Promise<T | undefined>): Promise<T | undefined> {
    const hit = map().get(key);
    if (hit !== undefined) {
      this.stats.hits[name]++;
      return hit;
    }
    this.stats.misses[name]++;
    const gen = this.generation;
    const value = await load(key);
    const current = map();
    if (value !== undefined && gen === this.generation && current.size < this.maxEntries) current.set(key, value);
    return value;
  }

  /**
   * An application by client id. A client id no application has is remembered too (bounded; the
   * set starts over when full, and is dropped with the rest on every registry change), so asking
   * again for an unknown id costs what asking for a known one does: a caller cannot tell them
   * apart by timing (docs/security.md). A refusal decided from it is decided again on a fresh
   * cache (registry/fresh-cache.ts), so an application created a moment ago is found.
   */
  async applicationByClientId(clientId: string): Promise<Application | undefined> {
    if (this.unknownClientIds.has(clientId)) {
      this.stats.hits.applications++;
      return undefined;
    }
    const gen = this.generation;
    const app = await this.through('applications', () => this.apps, clientId, (k) => this.deps.storage.applications.byClientId(k));
    // Ids longer than any generated one (32 characters) or imported one are not kept: memory stays bounded (10 000 x 256).
    if (app === undefined && gen === this.generation && clientId.length <= 256) {
      if (this.unknownClientIds.size >= this.maxEntries) this.unknownClientIds = new Set();
      this.unknownClientIds.add(clientId);
    }
    return app;
  }

  applicationById(id: string): Promise<Application | undefined> {
    return this.through('applications_by_id', () => this.appsById, id, (k) => this.deps.storage.applications.byId(k));
  }

  userById(id: string): Promise<User | undefined> {
    return this.through('users', () => this.usersById, id, (k) => this.deps.storage.users.byId(k));
  }

  /**
   * Client secrets that were verified against the stored hash, by client id, so a repeat request
   * compares in constant time instead of hashing again (a SHA-256 per request was the largest
   * single cost after HTTP and SQLite). Memory only, never logged or stored; dropped with the rest
   * of the cache on any registry change, so a rotated secret stops working at once.
   */
  rememberVerifiedSecret(clientId: string, secret: string): void {
    if (this.secrets.size < this.maxEntries) this.secrets.set(clientId, secret);
  }

  verifiedSecret(clientId: string): string | undefined {
    const secret = this.secrets.get(clientId);
    if (secret === undefined) this.stats.misses.verified_secrets++;
    else this.stats.hits.verified_secrets++;
    return secret;
  }

  /**
   * Cached lookups without a promise, for the hot paths; undefined on a miss. A hit counts as one;
   * a miss is counted by the read-through lookup the caller makes next.
   */
  peekApplicationByClientId(clientId: string): Application | undefined {
    const app = this.apps.get(clientId);
    if (app !== undefined) this.stats.hits.applications++;
    return app;
  }

  peekProperties(): PropertyValues | undefined {
    const props = this.props;
    if (props !== undefined) this.stats.hits.properties++;
    return props;
  }

  peekApplicationById(id: string): Application | undefined {
    const app = this.appsById.get(id);
    if (app !== undefined) this.stats.hits.applications_by_id++;
    return app;
  }

  peekUserById(id: string): User | undefined {
    const user = this.usersById.get(id);
    if (user !== undefined) this.stats.hits.users++;
    return user;
  }

  /** Users by name are not cached: the password grant reads the current hash every time. */
  userByName(userName: string): Promise<User | undefined> {
    return this.deps.storage.users.byName(userName);
  }

  async properties(): Promise<PropertyValues> {
    if (this.props !== undefined) {
      this.stats.hits.properties++;
      return this.props;
    }
    this.stats.misses.properties++;
    const gen = this.generation;
    const props = resolveProperties(await this.deps.storage.properties.list());
    if (gen === this.generation) this.props = props;
    return props;
  }
}
