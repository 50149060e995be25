import { recordChange } from '../audit/log.js';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import type { Clock } from '../core/clock.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { RegistryCache } from '../registry/cache.js';
import type { KeyPurpose, SigningAlgorithm, SigningKey } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import type { KeyEncryption } from './encryption.js';
import { createAccessTokenSigner, createIdTokenSigner } from './signer.js';

/**
 * The instance's signing keys (JWT access tokens, RFC 9068): created, rotated, published.
 *
 * Keys live in storage (`storage.keys`), the private half encrypted with the key-encryption key.
 * Whether a key signs or is published at a time is a pure function of its times (see SigningKey),
 * so every instance on the database decides the same without talking to the others. This class
 * keeps the list and the decrypted keys in memory, re-reads the list after any registry change
 * (a rotation bumps the change version) or when a token names a key it does not know, and
 * imports each key once.
 *
 * The timeline of a rotation (defaults):
 *   t0            new key inserted: published in the JWKS at once, not yet signing
 *   t0 + 10 min   new key signs; the previous key retires (stops signing) but stays published
 *   … + longest access-token lifespan of the JWT applications + 5 min
 *                 previous key leaves the JWKS: every token it signed has expired
 * The prepublish window gives resource servers that cache our JWKS (we send max-age=300) time to
 * see a key before the first token signed with it reaches them.
 */

export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['ES256', 'RS256'];
export const DEFAULT_ALGORITHM: SigningAlgorithm = 'ES256';
/** How long a rotated-in key is published before it signs (twice the JWKS max-age we send). */
export const DEFAULT_PREPUBLISH_MS = 10 * 60_000;
/** Clock skew allowed for between instances and resource servers when a retired key is unpublished. */
export const PUBLISH_SKEW_MS = 5 * 60_000;
/** Used for publishUntil when no application issues JWTs yet (the platform's default access-token lifespan). */
const DEFAULT_LONGEST_LIFESPAN_MS = 1800_000;
/** The longest an ID token lives (tokens/id-token.ts): a retired ID token key stays published at least this long. */
export const ID_TOKEN_MAX_LIFETIME_MS = 3_600_000;
/** The Storage.tryExclusive name for creating and rotating keys. */
export const KEYS_LOCK = 'latchkey.keys';
/** A token naming an unknown kid re-reads the key list at most this often. */
const MISS_RELOAD_MS = 1_000;

export type KeyState = 'next' | 'signing' | 'retired' | 'expired';

/**
 * A key's state at `now` from its own times: next (published, not yet signing), signing, retired
 * (published only) or expired (unpublished). When rotations overlap (a `--now` rotation while a
 * next key waits), two keys can both be within their signing window; keyStates says which signs.
 */
export function keyState(key: SigningKey, now: number): KeyState {
  if (key.publishUntil !== null && now >= key.publishUntil) return 'expired';
  if (key.retiresAt !== null && now >= key.retiresAt) return 'retired';
  if (now < key.activatesAt) return 'next';
  return 'signing';
}

/**
 * A key timeline: the keys that take turns signing one kind of token. JWT access tokens have one
 * (whatever its algorithm: `keys rotate --alg` switches it); ID tokens have one per algorithm, so
 * an application can always have RS256 (OpenID Connect Core 1.0 §15.1) and ES256 ID tokens. A
 * rotation retires only the keys of its own timeline.
 */
export interface Timeline {
  readonly purpose: KeyPurpose;
  /** For 'id_token' timelines; ignored for 'access'. */
  readonly alg?: SigningAlgorithm;
}

export const ACCESS_TIMELINE: Timeline = { purpose: 'access' };
/** The algorithms an ID token may be signed with (id_token_signed_response_alg). */
export const ID_TOKEN_ALGORITHMS: readonly SigningAlgorithm[] = ['RS256', 'ES256'];
/** The ID token algorithm of an application that names none (Core 1.0 §15.1: RS256 must be supported). */
export const DEFAULT_ID_TOKEN_ALGORITHM: SigningAlgorithm = 'RS256';

export function purposeOf(key: SigningKey): KeyPurpose {
  return key.purpose ?? 'access';
}

/** The keys of one timeline. */
export function onTimeline(keys: readonly SigningKey[], timeline: Timeline): SigningKey[] {
  return keys.filter((k) => purposeOf(k) === timeline.purpose && (timeline.purpose === 'access' || k.alg === timeline.alg));
}

/** The timelines present in a key list (access first). */
export function timelinesOf(keys: readonly SigningKey[]): Timeline[] {
  const out: Timeline[] = [ACCESS_TIMELINE];
  for (const alg of ID_TOKEN_ALGORITHMS) if (keys.some((k) => purposeOf(k) === 'id_token' && k.alg === alg)) out.push({ purpose: 'id_token', alg });
  return out;
}

/** Every key's state at `now`, with exactly the key that signs on each timeline (see Keyring) as 'signing'. */
export function keyStates(keys: readonly SigningKey[], now: number): Map<string, KeyState> {
  const states = new Map<string, KeyState>();
  for (const timeline of timelinesOf(keys)) {
    const own = onTimeline(keys, timeline);
    const current = signingKeyAt(own, now);
    for (const key of own) {
      const state = keyState(key, now);
      states.set(key.kid, key === current && state !== 'expired' ? 'signing' : state === 'signing' ? 'retired' : state);
    }
  }
  return states;
}

/**
 * The key that signs at `now`: of the keys within their signing window, the latest activated. On
 * a clock behind the one that created the first key, the newest key (published already).
 */
export function signingKeyAt(keys: readonly SigningKey[], now: number): SigningKey | undefined {
  let best: SigningKey | undefined;
  for (const key of keys) {
    if (key.activatesAt <= now && (key.retiresAt === null || now < key.retiresAt) && (best === undefined || key.activatesAt >= best.activatesAt)) best = key;
  }
  return best ?? newest(keys);
}

export function isPublished(key: SigningKey, now: number): boolean {
  return key.publishUntil === null || now < key.publishUntil;
}

/**
 * What a JWT is signed with: a synchronous signer for one key, producing a compact JWS with the
 * protected header { alg, typ: 'at+jwt', kid } over the claims given (see keys/signer.ts).
 */
export interface SigningMaterial {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /**
   * `typ`: logout+jwt for a Back-Channel Logout token; honoured by ID-token keys only (an
   * access-token key always writes at+jwt).
   */
  readonly sign: (claims: Readonly<Record<string, unknown>>, typ?: 'logout+jwt') => string;
}

export interface VerificationKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  readonly publicKey: CryptoKey;
}

export interface KeyringDeps {
  readonly storage: Pick<Storage, 'keys' | 'applications' | 'tryExclusive'> & Partial<Pick<Storage, 'audit'>>;
  readonly clock: Clock;
  /** Absent when no key-encryption key was given: keys are published and verified, never created or used to sign. */
  readonly encryption?: KeyEncryption | undefined;
  /** Re-read the key list after any registry change (a rotation bumps the change version). */
  readonly cache?: Pick<RegistryCache, 'onInvalidate'>;
  readonly logger?: Logger;
}

export interface RotateOptions {
  /** The timeline to rotate (default: the access-token keys). */
  readonly timeline?: Timeline;
  /** Default: the algorithm of the newest key (ES256 for the first); an ID-token timeline's own algorithm. */
  readonly alg?: SigningAlgorithm;
  /** How long the new key is published before it signs; default DEFAULT_PREPUBLISH_MS (0: at once). */
  readonly prepublishMs?: number;
  /**
   * Decides, on the key list read inside the lock, whether to rotate after all (the scheduled job
   * uses it so two instances that both found the key due rotate once). Default: always.
   */
  readonly when?: (keys: readonly SigningKey[], now: number) => boolean;
  /** Who rotates, for the audit log (default 'system'). */
  readonly actor?: string | undefined;
}

export type RotateResult =
  | { readonly rotated: true; readonly key: SigningKey; readonly retired: readonly SigningKey[] }
  | { readonly rotated: false; readonly reason: 'running_elsewhere' | 'not_due' };

export class Keyring {
  private snapshot: readonly SigningKey[] | undefined;
  private stale = true;
  private generation = 0;
  private loading: Promise<readonly SigningKey[]> | undefined;
  private lastMissReload = -Infinity;
  /** Imported keys by kid: a key's material never changes, so these survive reloads. */
  private readonly signers = new Map<string, Promise<SigningMaterial>>();
  /** The same, once imported: what readySigner answers from without a promise. */
  private readonly ready = new Map<string, SigningMaterial>();
  private readonly verifiers = new Map<string, Promise<VerificationKey>>();
  private readonly publicJwks = new Map<string, JWK>();
  private readonly logger: Logger;

  constructor(private readonly deps: KeyringDeps) {
    this.logger = deps.logger ?? silentLogger;
    deps.cache?.onInvalidate(() => this.invalidate());
  }

  /** Whether this keyring can create keys and sign (a key-encryption key was given). */
  get canSign(): boolean {
    return this.deps.encryption !== undefined;
  }

  /** Forget the key list; the next use re-reads it. */
  invalidate(): void {
    this.generation++;
    this.stale = true;
  }

  /** The stored keys, oldest first (re-read after an invalidation). */
  async keys(): Promise<readonly SigningKey[]> {
    if (!this.stale && this.snapshot !== undefined) return this.snapshot;
    return this.reload();
  }

  private reload(): Promise<readonly SigningKey[]> {
    if (this.loading !== undefined) return this.loading;
    const gen = this.generation;
    // Callers arriving while this read runs wait for it (stale stays true until it lands).
    const loading = this.deps.storage.keys.list().then((list) => {
      const sorted = [...list].sort((a, b) => a.activatesAt - b.activatesAt || a.createdAt - b.createdAt);
      this.snapshot = sorted;
      // Changed again while reading: what was read may predate the change, so stay stale.
      if (gen === this.generation) this.stale = false;
      this.warm(sorted);
      return sorted as readonly SigningKey[];
    });
    this.loading = loading;
    void loading.then(
      () => {
        if (this.loading === loading) this.loading = undefined;
      },
      () => {
        if (this.loading === loading) this.loading = undefined;
      },
    );
    return loading;
  }

  /** Decrypts keys that will sign (a rotated-in key) ahead of time, so a wrong KEK shows up in the log at once. */
  private warm(keys: readonly SigningKey[]): void {
    if (this.deps.encryption === undefined) return;
    const now = this.deps.clock.now();
    for (const key of keys) {
      const state = keyState(key, now);
      if ((state === 'next' || state === 'signing') && !this.signers.has(key.kid)) {
        this.material(key).catch((error: unknown) => {
          this.logger.error({ kid: key.kid, err: error instanceof Error ? error.message : String(error) }, 'cannot use signing key');
        });
      }
    }
  }

  private currentKey(keys: readonly SigningKey[], now: number): SigningKey | undefined {
    return signingKeyAt(onTimeline(keys, ACCESS_TIMELINE), now);
  }

  private material(key: SigningKey): Promise<SigningMaterial> {
    let pending = this.signers.get(key.kid);
    if (pending === undefined) {
      const encryption = this.deps.encryption;
      if (encryption === undefined) return Promise.reject(noKek());
      pending = (async () => {
        const jwk = JSON.parse(encryption.decrypt(key.kid, key.privateKeyEnc)) as JWK;
        const sign = purposeOf(key) === 'id_token' ? await createIdTokenSigner(jwk, key.kid, key.alg, this.publicJwk(key)) : await createAccessTokenSigner(jwk, key.kid, key.alg, this.publicJwk(key));
        const material: SigningMaterial = { kid: key.kid, alg: key.alg, sign };
        this.ready.set(key.kid, material);
        return material;
      })();
      this.signers.set(key.kid, pending);
      pending.catch(() => this.signers.delete(key.kid));
    }
    return pending;
  }

  /**
   * The key to sign with at `now` without a promise, when the key list is current and that key was
   * imported already (every token request after the first); undefined otherwise: use signingKey.
   */
  readySigner(now: number): SigningMaterial | undefined {
    if (this.stale || this.snapshot === undefined) return undefined;
    const key = this.currentKey(this.snapshot, now);
    return key === undefined ? undefined : this.ready.get(key.kid);
  }

  /** The key to sign with at `now`, decrypted and imported (once per key). */
  async signingKey(now: number): Promise<SigningMaterial> {
    let keys = await this.keys();
    let key = this.currentKey(keys, now);
    if (key === undefined) {
      await this.ensureKey();
      keys = await this.keys();
      key = this.currentKey(keys, now);
      if (key === undefined) throw new Error('No signing key could be created.');
    }
    return this.material(key);
  }

  /**
   * The key that signs ID tokens of `alg` at `now` (header { alg, typ: 'JWT', kid }), decrypted
   * and imported once. The first request for an algorithm creates its timeline's first key (under
   * the keys lock, published at once), so an instance holds no RSA key until one is wanted.
   */
  async idTokenKey(alg: SigningAlgorithm, now: number): Promise<SigningMaterial> {
    if (!ID_TOKEN_ALGORITHMS.includes(alg)) throw new Error(`Unsupported ID token algorithm ${String(alg)}: use ${ID_TOKEN_ALGORITHMS.join(' or ')}.`);
    const timeline: Timeline = { purpose: 'id_token', alg };
    let key = signingKeyAt(onTimeline(await this.keys(), timeline), now);
    if (key === undefined) {
      if (this.deps.encryption === undefined) throw noKek();
      await this.exclusive(async () => {
        const fresh = await this.deps.storage.keys.list();
        if (newest(onTimeline(fresh, timeline)) === undefined) await this.insert(fresh, alg, 0, timeline);
        return true;
      });
      this.invalidate();
      for (let i = 0; i < 100; i++) {
        key = signingKeyAt(onTimeline(await this.keys(), timeline), now);
        if (key !== undefined) break;
        // Another instance holds the lock and is creating it.
        await new Promise((r) => setTimeout(r, 100));
        this.invalidate();
      }
      if (key === undefined) throw new Error(`No ${alg} ID token key exists and none could be created.`);
    }
    return this.material(key);
  }

  /** The public keys published at `now` (RFC 7517 JWK Set): next, signing and retired keys. */
  async publishedJwks(now: number): Promise<{ keys: JWK[] }> {
    const keys = await this.keys();
    const out: JWK[] = [];
    for (const key of keys) if (isPublished(key, now)) out.push(this.publicJwk(key));
    return { keys: out };
  }

  private publicJwk(key: SigningKey): JWK {
    let jwk = this.publicJwks.get(key.kid);
    if (jwk === undefined) {
      const parsed = JSON.parse(key.publicJwk) as JWK;
      jwk = Object.freeze({ ...parsed, kid: key.kid, alg: key.alg, use: 'sig' });
      this.publicJwks.set(key.kid, jwk);
    }
    return jwk;
  }

  /**
   * The public key `kid` names, if it is published at `now`. A kid not in the list read last makes
   * one re-read (at most one per second, so made-up kids cannot flood the database): another
   * instance may have just rotated.
   */
  async verificationKey(kid: string, now: number): Promise<VerificationKey | undefined> {
    let key = (await this.keys()).find((k) => k.kid === kid);
    if (key === undefined) {
      const t = performance.now();
      if (t - this.lastMissReload < MISS_RELOAD_MS) return undefined;
      this.lastMissReload = t;
      // A read already in flight may predate the rotation that added this kid: read after it.
      await this.loading?.catch(() => undefined);
      this.invalidate();
      key = (await this.keys()).find((k) => k.kid === kid);
    }
    if (key === undefined || !isPublished(key, now)) return undefined;
    let pending = this.verifiers.get(kid);
    if (pending === undefined) {
      const k = key;
      pending = (async () => ({ kid: k.kid, alg: k.alg, publicKey: (await importJWK(this.publicJwk(k), k.alg)) as CryptoKey }))();
      this.verifiers.set(kid, pending);
      pending.catch(() => this.verifiers.delete(kid));
    }
    return pending;
  }

  /**
   * Makes sure a key exists (the first start on a database creates one), under the keys lock so
   * instances starting together create one key between them, then decrypts the current key so a
   * wrong key-encryption key stops the start with a clear error. A no-op without a KEK.
   */
  async ensureKey(): Promise<void> {
    if (this.deps.encryption === undefined) return;
    let keys = await this.reload();
    const access = (list: readonly SigningKey[]) => newest(onTimeline(list, ACCESS_TIMELINE));
    if (access(keys) === undefined) {
      const created = await this.exclusive(async () => {
        const fresh = await this.deps.storage.keys.list();
        if (access(fresh) === undefined) await this.insert(fresh, DEFAULT_ALGORITHM, 0, ACCESS_TIMELINE);
        return true;
      });
      this.invalidate();
      keys = await this.keys();
      // Another instance holds the lock: it is creating the key; wait for it (up to ~10 s).
      for (let i = 0; created === undefined && access(keys) === undefined && i < 100; i++) {
        await new Promise((r) => setTimeout(r, 100));
        this.invalidate();
        keys = await this.keys();
      }
      if (access(keys) === undefined) throw new Error('No signing key exists and none could be created (another instance held the keys lock for more than 10 s).');
    }
    const current = this.currentKey(keys, this.deps.clock.now());
    if (current !== undefined) await this.material(current);
  }

  /**
   * Rotates: a new key, published at once, signing from now + prepublishMs; every key without a
   * retirement time retires then, and stays published until then + the longest access-token
   * lifespan of the JWT applications + PUBLISH_SKEW_MS. The first key of a keyring signs at once
   * (no key signs before it). Runs under the keys lock; refuses when the key-encryption key cannot
   * decrypt the current key (a rotation made with the wrong KEK would stop every instance from
   * signing when the new key activates).
   */
  async rotate(options: RotateOptions = {}): Promise<RotateResult> {
    if (this.deps.encryption === undefined) throw noKek();
    if (options.alg !== undefined && !SIGNING_ALGORITHMS.includes(options.alg)) {
      throw new Error(`Unsupported signing algorithm ${String(options.alg)}: use ${SIGNING_ALGORITHMS.join(' or ')}.`);
    }
    const prepublishMs = options.prepublishMs ?? DEFAULT_PREPUBLISH_MS;
    if (!Number.isFinite(prepublishMs) || prepublishMs < 0) throw new Error('The prepublish time must be zero or more.');
    const timeline = options.timeline ?? ACCESS_TIMELINE;
    if (timeline.purpose === 'id_token' && (timeline.alg === undefined || (options.alg !== undefined && options.alg !== timeline.alg))) throw new Error('An ID token timeline is rotated with its own algorithm.');
    const outcome = await this.exclusive(async (): Promise<RotateResult> => {
      const keys = onTimeline(await this.deps.storage.keys.list(), timeline);
      const now = this.deps.clock.now();
      if (options.when !== undefined && !options.when(keys, now)) return { rotated: false, reason: 'not_due' };
      const previous = keys.filter((k) => k.retiresAt === null);
      // The KEK must open the keys in use before a key it sealed is added beside them.
      for (const k of previous) await this.material(k);
      const alg = timeline.alg ?? options.alg ?? newest(keys)?.alg ?? DEFAULT_ALGORITHM;
      const key = await this.insert(keys, alg, previous.length === 0 ? 0 : prepublishMs, timeline);
      return { rotated: true, key, retired: previous };
    });
    this.invalidate();
    if (outcome?.rotated === true) {
      const view = (k: SigningKey) => ({ kid: k.kid, alg: k.alg, activatesAt: k.activatesAt });
      await recordChange(
        { storage: this.deps.storage, clock: this.deps.clock, actor: options.actor },
        { action: 'key.rotate', target: outcome.key.kid, before: { signing: outcome.retired.map(view) }, after: { signing: [view(outcome.key)] } },
      );
    }
    return outcome ?? { rotated: false, reason: 'running_elsewhere' };
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T | undefined> {
    const { storage } = this.deps;
    return storage.tryExclusive === undefined ? fn() : storage.tryExclusive(KEYS_LOCK, fn);
  }

  /** Generates a key and stores it through keys.rotate (retiring the keys that had no retirement time). */
  private async insert(existing: readonly SigningKey[], alg: SigningAlgorithm, prepublishMs: number, timeline: Timeline): Promise<SigningKey> {
    const encryption = this.deps.encryption;
    if (encryption === undefined) throw noKek();
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
    const publicJwk = await exportJWK(publicKey);
    const kid = await calculateJwkThumbprint(publicJwk);
    const privateJwk = await exportJWK(privateKey);
    const now = this.deps.clock.now();
    const activatesAt = now + prepublishMs;
    const key: SigningKey = {
      kid,
      alg,
      publicJwk: JSON.stringify({ ...publicJwk, kid, alg, use: 'sig' }),
      privateKeyEnc: encryption.encrypt(kid, JSON.stringify({ ...privateJwk, kid, alg, use: 'sig' })),
      createdAt: now,
      activatesAt,
      retiresAt: null,
      publishUntil: null,
      purpose: timeline.purpose,
    };
    // An ID token key's tokens live ID_TOKEN_MAX_LIFETIME_MS at most (tokens/id-token.ts).
    const longest = timeline.purpose === 'id_token' ? ID_TOKEN_MAX_LIFETIME_MS : await this.longestLifespanMs();
    await this.deps.storage.keys.rotate(key, { retiresAt: activatesAt, publishUntil: activatesAt + longest + PUBLISH_SKEW_MS });
    this.logger.info({ kid, alg, purpose: timeline.purpose, activatesAt: new Date(activatesAt).toISOString(), retired: onTimeline(existing, timeline).filter((k) => k.retiresAt === null).map((k) => k.kid) }, 'signing key added');
    return key;
  }

  /** The longest access-token lifespan of the applications that issue JWTs (default 30 minutes). */
  private async longestLifespanMs(): Promise<number> {
    let longest = DEFAULT_LONGEST_LIFESPAN_MS;
    for (const app of await this.deps.storage.applications.list()) {
      if (app.tokenFormat === 'jwt') longest = Math.max(longest, app.accessTokenLifespan * 1000);
    }
    return longest;
  }
}

/** The key with no retirement time (the newest); undefined on an empty keyring. */
export function newest(keys: readonly SigningKey[]): SigningKey | undefined {
  let best: SigningKey | undefined;
  for (const key of keys) if (key.retiresAt === null && (best === undefined || key.activatesAt >= best.activatesAt)) best = key;
  return best;
}

function noKek(): Error {
  return new Error('This instance has no key-encryption key, so it cannot create or use signing keys: set LATCHKEY_KEY_ENCRYPTION_KEY.');
}
