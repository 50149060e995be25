import { createHash, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, importJWK, jwtVerify, type JWK } from 'jose';
import type { Clock } from '../core/clock.js';
import type { HeaderValue } from '../core/request.js';
import type { Facts } from '../domain/model.js';
import type { ReasonCode } from '../errors/reasons.js';
import type { Storage } from '../storage/types.js';
import { mac, macEqual } from '../web/signing.js';

/**
 * DPoP proofs (RFC 9449): the checks of §4.3, framework-free. The token endpoint (§5) and the
 * resource servers (§7) call verifyDpopProof with the request's method and URL; a resource server
 * adds the access token (for `ath`). Signatures and thumbprints are jose's; nothing home-made.
 */

/** The JWS algorithms a proof may use (§4.2: asymmetric only; never none or an HMAC). Discovery advertises them. */
export const DPOP_ALGS: readonly string[] = ['ES256', 'ES384', 'ES512', 'EdDSA', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const ALGS = new Set(DPOP_ALGS);

/** The property: how old (seconds) a proof's iat may be; plus CLOCK_SKEW_SECONDS into the future. */
export const DPOP_MAX_AGE_PROPERTY = 'latchkey.dpop.proof_max_age_seconds';
/** The property: every proof must carry a nonce this server gave (§8, §9). */
export const DPOP_NONCE_PROPERTY = 'latchkey.dpop.nonce_required';
/** A proof may say it was made this many seconds in the future (the client's clock runs ahead). */
export const DPOP_CLOCK_SKEW_SECONDS = 5;
/** How long one nonce window lasts (ms); the current and the previous window's nonce are accepted. */
export const DPOP_NONCE_WINDOW_MS = 5 * 60 * 1000;
/** The HKDF purpose of the nonce key (keys/ key-encryption key derive). */
export const DPOP_NONCE_KEY_PURPOSE = 'dpop-nonce/v1';

/** The JWK members that only a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4; RFC 8037 §2). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** Why a proof was refused; each is its own reason code. */
export type DpopProblem =
  | 'dpop.proof_malformed'
  | 'dpop.multiple_proofs'
  | 'dpop.wrong_typ'
  | 'dpop.alg_not_allowed'
  | 'dpop.jwk_invalid'
  | 'dpop.jwk_private'
  | 'dpop.signature_invalid'
  | 'dpop.htm_mismatch'
  | 'dpop.htu_mismatch'
  | 'dpop.iat_too_old'
  | 'dpop.iat_in_future'
  | 'dpop.jti_missing'
  | 'dpop.replayed'
  | 'dpop.ath_missing'
  | 'dpop.ath_mismatch'
  | 'dpop.nonce_missing'
  | 'dpop.nonce_invalid';

/** A refused proof: the reason, a client-safe description, and the facts for the administrator. */
export class DpopRejected extends Error {
  constructor(
    readonly reason: DpopProblem & ReasonCode,
    message: string,
    readonly facts: Facts = {},
  ) {
    super(message);
    this.name = 'DpopRejected';
  }
  /** A nonce problem: answered with error use_dpop_nonce and a fresh DPoP-Nonce (§8, §9). */
  get nonceProblem(): boolean {
    return this.reason === 'dpop.nonce_missing' || this.reason === 'dpop.nonce_invalid';
  }
}

/**
 * Server nonces (§8, §9) every instance accepts without storing them: HMAC of a time window with a
 * key all instances share (derived from the key-encryption key), the current and previous window.
 */
export class DpopNonces {
  private key: Uint8Array | undefined;
  constructor(
    private readonly deps: { readonly clock: Clock; readonly derive?: () => Uint8Array | Promise<Uint8Array> },
  ) {}

  private async keyOf(): Promise<Uint8Array> {
    if (this.key !== undefined) return this.key;
    let key: Uint8Array | undefined;
    try {
      key = this.deps.derive === undefined ? undefined : await this.deps.derive();
    } catch {
      key = undefined;
    }
    // Without a key-encryption key there is nothing shared: a per-process key (one instance only).
    this.key = key ?? randomBytes(32);
    return this.key;
  }

  private static nonceOf(key: Uint8Array, window: number): string {
    return `${window.toString(36)}.${mac(key, `dpop-nonce.${window}`).slice(0, 22)}`;
  }

  /** The nonce of the current window. */
  async current(): Promise<string> {
    return DpopNonces.nonceOf(await this.keyOf(), Math.floor(this.deps.clock.now() / DPOP_NONCE_WINDOW_MS));
  }

  /** Whether a nonce is this window's or the previous one's. */
  async valid(nonce: string): Promise<boolean> {
    const dot = nonce.indexOf('.');
    if (dot <= 0 || nonce.length > 64) return false;
    const window = Number.parseInt(nonce.slice(0, dot), 36);
    const now = Math.floor(this.deps.clock.now() / DPOP_NONCE_WINDOW_MS);
    if (!Number.isSafeInteger(window) || (window !== now && window !== now - 1)) return false;
    return macEqual(nonce, DpopNonces.nonceOf(await this.keyOf(), window));
  }
}

export interface DpopDeps {
  readonly storage: Pick<Storage, 'replay'>;
  readonly clock: Clock;
  readonly nonces?: DpopNonces;
}

export interface DpopCheck {
  /** The request's method (htm). */
  readonly method: string;
  /** The request's URL as the client used it (htu): query and fragment are ignored. */
  readonly url: string;
  /** At a resource server: the access token presented, for `ath`. */
  readonly accessToken?: string;
  /** How old a proof may be, in seconds (the property). */
  readonly maxAgeSeconds: number;
  /** Refuse a proof without a valid server nonce. */
  readonly nonceRequired: boolean;
}

export interface DpopProof {
  /** The JWK SHA-256 thumbprint (RFC 7638) of the proof's key: what tokens are bound to (cnf.jkt). */
  readonly jkt: string;
  readonly jti: string;
  readonly iat: number;
}

/** The one DPoP header of a request, or undefined; more than one is refused (§4.3 check 1). */
export function dpopHeader(value: HeaderValue): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) {
    if (value.length === 1) return value[0];
    throw new DpopRejected('dpop.multiple_proofs', 'Send exactly one DPoP header.', { dpopHeaders: value.length });
  }
  // Node joins repeated unknown headers with ", "; a compact JWS has no comma.
  if (value.includes(',')) throw new DpopRejected('dpop.multiple_proofs', 'Send exactly one DPoP header.', { dpopHeaders: value.split(',').length });
  return value;
}

/** base64url(SHA-256(access token)): the `ath` claim (§4.2). */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

/**
 * The htu comparison form (§4.3 check 9): scheme and host lower-cased, default port dropped, no
 * query or fragment, the path normalised (dot segments, percent-encoding case) by WHATWG URL.
 */
export function normaliseHtu(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  return `${url.protocol}//${url.host}${url.pathname.replace(/%[0-9a-f]{2}/g, (m) => m.toUpperCase())}`;
}

/**
 * Public keys of recent proofs, imported once: a client signs every proof with one key, and
 * importing a JWK (WebCrypto importKey) costs more than verifying the signature (measured: the
 * largest share of a DPoP token request's time before this cache). Keyed by the alg and the jwk
 * member exactly as sent; bounded, the oldest entry dropped first. A key that fails to import is
 * never cached.
 */
const KEY_CACHE_SIZE = 1024;
const keyCache = new Map<string, { readonly key: CryptoKey; readonly jkt: string }>();

async function proofKey(jwk: JWK, alg: string): Promise<{ readonly key: CryptoKey; readonly jkt: string }> {
  const id = `${alg} ${JSON.stringify(jwk)}`;
  const cached = keyCache.get(id);
  if (cached !== undefined) return cached;
  const key = await importJWK(jwk, alg);
  if (key instanceof Uint8Array) throw new Error('symmetric key');
  const entry = { key, jkt: await calculateJwkThumbprint(jwk, 'sha256') };
  if (keyCache.size >= KEY_CACHE_SIZE) keyCache.delete(keyCache.keys().next().value as string);
  keyCache.set(id, entry);
  return entry;
}

// The signature may be empty (alg none): refused by the alg check, with its own reason.
const PROOF_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * Verifies one DPoP proof (§4.3) and records its jti (single use, through storage.replay: shared
 * by every instance on one database). Throws DpopRejected. Checks in the order of §4.3.
 */
export async function verifyDpopProof(deps: DpopDeps, proof: string, check: DpopCheck): Promise<DpopProof> {
  if (proof.length > 8192 || !PROOF_SHAPE.test(proof)) throw new DpopRejected('dpop.proof_malformed', 'The DPoP header is not a JWT.', { dpopProblem: 'not a compact JWS' });
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(proof);
  } catch {
    throw new DpopRejected('dpop.proof_malformed', 'The DPoP proof header is not base64url-encoded JSON.', { dpopProblem: 'header not JSON' });
  }
  if (header.typ !== 'dpop+jwt') throw new DpopRejected('dpop.wrong_typ', 'The DPoP proof must have typ dpop+jwt.', { dpopTyp: String(header.typ ?? '(none)').slice(0, 40) });
  const alg = header.alg;
  if (typeof alg !== 'string' || !ALGS.has(alg)) throw new DpopRejected('dpop.alg_not_allowed', `The DPoP proof alg is not allowed. Allowed: ${DPOP_ALGS.join(', ')}.`, { dpopAlg: String(alg ?? '(none)').slice(0, 40), allowedAlgs: [...DPOP_ALGS] });
  const jwk = header.jwk as JWK | undefined;
  if (jwk === undefined || typeof jwk !== 'object' || jwk === null || Array.isArray(jwk) || typeof jwk.kty !== 'string') {
    throw new DpopRejected('dpop.jwk_invalid', 'The DPoP proof header must carry the public key as jwk.', { dpopAlg: alg, dpopProblem: 'no jwk' });
  }
  for (const member of PRIVATE_MEMBERS) {
    if (member in jwk) throw new DpopRejected('dpop.jwk_private', 'The DPoP proof jwk contains private key material; send the public key only.', { dpopProblem: `jwk has ${member}` });
  }
  let payload: Record<string, unknown>;
  let jkt: string;
  try {
    const imported = await proofKey(jwk, alg);
    jkt = imported.jkt;
    payload = (await jwtVerify(proof, imported.key, { typ: 'dpop+jwt', algorithms: [alg] })).payload as Record<string, unknown>;
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    if (name === 'JWSSignatureVerificationFailed') throw new DpopRejected('dpop.signature_invalid', 'The DPoP proof signature does not verify with its jwk.', { dpopAlg: alg });
    if (name === 'JWTInvalid' || name === 'JWSInvalid' || name === 'JWTClaimValidationFailed') throw new DpopRejected('dpop.proof_malformed', 'The DPoP proof payload is not a valid JWT claims set.', { dpopProblem: name });
    throw new DpopRejected('dpop.jwk_invalid', 'The DPoP proof jwk is not a usable public key for its alg.', { dpopAlg: alg, dpopProblem: (error instanceof Error ? error.message : 'invalid').slice(0, 120) });
  }
  const jti = payload.jti;
  if (typeof jti !== 'string' || jti === '' || jti.length > 256) throw new DpopRejected('dpop.jti_missing', 'The DPoP proof must have a jti (a unique id).', { dpopAlg: alg });
  if (payload.htm !== check.method) {
    throw new DpopRejected('dpop.htm_mismatch', `The DPoP proof htm must be the request method ${check.method}.`, { dpopHtm: String(payload.htm ?? '(none)').slice(0, 20), method: check.method });
  }
  const htu = typeof payload.htu === 'string' ? normaliseHtu(payload.htu) : undefined;
  const expected = normaliseHtu(check.url);
  if (htu === undefined || htu !== expected) {
    throw new DpopRejected('dpop.htu_mismatch', `The DPoP proof htu must be the request URL ${expected ?? check.url} (without query and fragment).`, { dpopHtu: String(payload.htu ?? '(none)').slice(0, 300), expectedHtu: (expected ?? check.url).slice(0, 300) });
  }
  const iat = payload.iat;
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw new DpopRejected('dpop.proof_malformed', 'The DPoP proof must have a numeric iat.', { dpopProblem: 'no iat' });
  const now = deps.clock.now() / 1000;
  if (iat > now + DPOP_CLOCK_SKEW_SECONDS) {
    throw new DpopRejected('dpop.iat_in_future', 'The DPoP proof iat is in the future: check the client clock.', { dpopIat: new Date(Math.trunc(iat) * 1000).toISOString(), maxAgeSeconds: check.maxAgeSeconds });
  }
  if (iat < now - check.maxAgeSeconds) {
    throw new DpopRejected('dpop.iat_too_old', `The DPoP proof is older than ${check.maxAgeSeconds} seconds: make a new proof for each request.`, { dpopIat: new Date(Math.trunc(iat) * 1000).toISOString(), maxAgeSeconds: check.maxAgeSeconds, property: DPOP_MAX_AGE_PROPERTY });
  }
  if (check.accessToken !== undefined) {
    if (payload.ath === undefined) throw new DpopRejected('dpop.ath_missing', 'The DPoP proof must have ath, the hash of the access token, at a resource server.', { dpopAlg: alg });
    if (typeof payload.ath !== 'string' || !macEqual(payload.ath, accessTokenHash(check.accessToken))) throw new DpopRejected('dpop.ath_mismatch', 'The DPoP proof ath is not the hash of this access token.', { dpopAlg: alg });
  }
  if (check.nonceRequired) {
    const nonce = payload.nonce;
    if (nonce === undefined) throw new DpopRejected('dpop.nonce_missing', 'Resource server requires nonce in DPoP proof', { property: DPOP_NONCE_PROPERTY });
    if (typeof nonce !== 'string' || deps.nonces === undefined || !(await deps.nonces.valid(nonce))) throw new DpopRejected('dpop.nonce_invalid', 'The DPoP nonce is not valid (any more): use the DPoP-Nonce of this response.', { property: DPOP_NONCE_PROPERTY });
  }
  // Single use (§11.1): for as long as the proof would be accepted, on every instance.
  const until = Math.ceil((iat + DPOP_CLOCK_SKEW_SECONDS + check.maxAgeSeconds) * 1000) + 1000;
  const first = await deps.storage.replay.remember(`dpop:${createHash('sha256').update(`${jkt}.${jti}`).digest('base64url')}`, until, deps.clock.now());
  if (!first) throw new DpopRejected('dpop.replayed', 'This DPoP proof was used before: make a new proof (new jti) for each request.', { dpopIat: new Date(Math.trunc(iat) * 1000).toISOString() });
  return { jkt, jti, iat };
}

/** What the token endpoint and the resource servers verify proofs with. */
export interface DpopVerifierDeps extends DpopDeps {
  /** The issuer: the token endpoint's htu is the issuer plus the path the client used. */
  readonly issuer: () => string;
}

/** The properties a proof check reads. */
export interface DpopSettings {
  readonly maxAgeSeconds: number;
  readonly nonceRequired: boolean;
}

/** The settings of the instance's properties (the property registry's values). */
export function dpopSettings(properties: { readonly [DPOP_MAX_AGE_PROPERTY]: number; readonly [DPOP_NONCE_PROPERTY]: boolean }): DpopSettings {
  return { maxAgeSeconds: properties[DPOP_MAX_AGE_PROPERTY], nonceRequired: properties[DPOP_NONCE_PROPERTY] };
}
