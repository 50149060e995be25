import { seal, unseal } from '../../web/signing.js';
import type { AuthorizeKit } from './context.js';

/**
 * The validated authorization request as it travels between the sign-in and consent pages: a
 * signed hidden field rather than server state, so any instance sharing the KEK can continue it.
 * Signed, not encrypted: it holds nothing the browser did not send (RFC 6749 §4.1.1).
 */

/** How long the sign-in and consent pages of one request stay usable. */
export const PENDING_REQUEST_LIFETIME_MS = 10 * 60_000;

const LABEL = 'authorize-request';

/** The authorization request, validated, as it travels between the pages (signed, not encrypted). */
export interface Pending {
  readonly v: 1;
  /** client_id */
  readonly c: string;
  /** The redirect URI in effect (sent, or the single registered one). */
  readonly r: string;
  /** Whether redirect_uri was in the request (then the token request must repeat it). */
  readonly rs: boolean;
  readonly s: readonly string[];
  readonly st: string | null;
  /** S256 code_challenge, or null. */
  readonly cc: string | null;
  /** OpenID Connect nonce, or null/absent (requests sealed before it existed). */
  readonly n?: string | null;
  /** OpenID Connect prompt values (Core 1.0 §3.1.2.1) that still matter after the first page: consent. */
  readonly p?: readonly string[];
  /** The sign-in must have started at or after this (ms): prompt=login, max_age. */
  readonly la?: number;
  /** login_hint, to prefill the sign-in page. */
  readonly lh?: string;
  /** The user (sub) an id_token_hint names: only that user's sign-in is answered. */
  readonly hs?: string;
  /** response_mode form_post; absent: query. */
  readonly rm?: 'form_post';
  /** The claims request parameter (Core 1.0 §5.5): names for UserInfo (u) and the ID token (i). */
  readonly cl?: { readonly u: readonly string[]; readonly i: readonly string[] };
  /** The page language (ui_locales), absent: en. */
  readonly lg?: string;
  /** RFC 8707: the resources the request names (canonical, checked), absent: none. */
  readonly rsc?: readonly string[];
  /** RFC 9449 §10: the dpop_jkt the request names (a JWK SHA-256 thumbprint), absent: none. */
  readonly dj?: string;
  readonly exp: number;
}

const strings = (x: unknown): boolean => Array.isArray(x) && x.every((y) => typeof y === 'string');
const optional = (x: unknown, type: 'string' | 'number'): boolean => x === undefined || typeof x === type;

function isPending(value: unknown): value is Pending {
  const p = value as Partial<Pending> | null;
  return (
    typeof p === 'object' && p !== null && p.v === 1 &&
    typeof p.c === 'string' && typeof p.r === 'string' && typeof p.rs === 'boolean' &&
    Array.isArray(p.s) && p.s.every((x) => typeof x === 'string') &&
    (p.st === null || typeof p.st === 'string') && (p.cc === null || typeof p.cc === 'string') &&
    (p.n === undefined || p.n === null || typeof p.n === 'string') &&
    (p.p === undefined || strings(p.p)) && optional(p.la, 'number') && optional(p.lh, 'string') && optional(p.hs, 'string') &&
    (p.rm === undefined || p.rm === 'form_post') && optional(p.lg, 'string') && (p.rsc === undefined || strings(p.rsc)) && optional(p.dj, 'string') &&
    (p.cl === undefined || (typeof p.cl === 'object' && p.cl !== null && strings(p.cl.u) && strings(p.cl.i))) &&
    Number.isSafeInteger(p.exp)
  );
}

export async function sealPending(kit: AuthorizeKit, pending: Pending): Promise<string> {
  return seal(await kit.requestKey(), LABEL, pending);
}

/** The pending request of a form field whose signature verifies and whose shape is ours, else undefined. */
export async function openPending(kit: AuthorizeKit, field: string | undefined): Promise<Pending | undefined> {
  const sealed = unseal(await kit.requestKey(), LABEL, field);
  return isPending(sealed) ? sealed : undefined;
}
