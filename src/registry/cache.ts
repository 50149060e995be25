import type { Application, Storage, User } from '../storage/types.js';
import { resolveProperties, type PropertyValues } from './properties.js';

type Deps = { storage: Pick<Storage, 'applications' | 'users' | 'properties' | 'changes'> };

/** How often the change version is checked. Changes made anywhere (CLI, another instance) are
 * seen within this interval, well inside the one-second promise. */
export const DEFAULT_POLL_MS = 250;

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
  private props: PropertyValues | undefined;
  private version = -1;
  /** Bumped on every clear, so a read that started before a clear cannot store a stale record. */
  private generation = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxEntries = 10_000;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly deps: Deps) {}

  /** Loads the current version and starts polling. */
  async start(pollMs = DEFAULT_POLL_MS): Promise<void> {
    await this.check();
    this.timer = setInterval(() => {
      this.check().catch(() => {
        // Storage unavailable: drop everything so nothing stale is trusted while it is down.
        this.clear();
      });
    }, pollMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Subscribe to invalidations (other caches, such as token validation, hang off this one). */
  onInvalidate(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Checks the change version now; clears the cache and returns true when it moved. */
  async check(): Promise<boolean> {
    const v = await this.deps.storage.changes.version();
    if (v === this.version) return false;
    this.version = v;
    this.clear();
    return true;
  }

  clear(): void {
    this.generation++;
    this.apps = new Map();
    this.appsById = new Map();
    this.usersById = new Map();
    this.secrets = new Map();
    this.props = undefined;
    for (const l of this.listeners) l();
  }

  /** Reads through one map: a hit is returned, a miss loaded and kept unless a clear intervened. */
  private async through<T>(map: () => Map<string, T>, key: string, load: (key: string) => Promise<T | undefined>): Promise<T | undefined> {
    const hit = map().get(key);
    if (hit !== undefined) return hit;
    const gen = this.generation;
    const value = await load(key);
    const current = map();
    if (value !== undefined && gen === this.generation && current.size < this.maxEntries) current.set(key, value);
    return value;
  }

  applicationByClientId(clientId: string): Promise<Application | undefined> {
    return this.through(() => this.apps, clientId, (k) => this.deps.storage.applications.byClientId(k));
  }

  applicationById(id: string): Promise<Application | undefined> {
    return this.through(() => this.appsById, id, (k) => this.deps.storage.applications.byId(k));
  }

  userById(id: string): Promise<User | undefined> {
    return this.through(() => this.usersById, id, (k) => this.deps.storage.users.byId(k));
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
    return this.secrets.get(clientId);
  }

  /** Cached lookups without a promise, for the hot paths; undefined on a miss. */
  peekApplicationByClientId(clientId: string): Application | undefined {
    return this.apps.get(clientId);
  }

  peekProperties(): PropertyValues | undefined {
    return this.props;
  }

  peekApplicationById(id: string): Application | undefined {
    return this.appsById.get(id);
  }

  peekUserById(id: string): User | undefined {
    return this.usersById.get(id);
  }

  /** Users by name are not cached: the password grant reads the current hash every time. */
  userByName(userName: string): Promise<User | undefined> {
    return this.deps.storage.users.byName(userName);
  }

  async properties(): Promise<PropertyValues> {
    if (this.props !== undefined) return this.props;
    const gen = this.generation;
    const props = resolveProperties(await this.deps.storage.properties.list());
    if (gen === this.generation) this.props = props;
    return props;
  }
}
