import { shown } from '../core/shell.js';
import { RegistryError } from './errors.js';

/**
 * The redirect URIs an application may register. Authorization codes are delivered to them, so each
 * must be a place only the application can receive at:
 * - https, anywhere;
 * - http only on a loopback address, for native apps listening on the machine (RFC 8252 §7.3):
 *   127.0.0.1, [::1], and `localhost`. RFC 8252 §8.3 calls `localhost` NOT RECOMMENDED (a hosts
 *   file or resolver may send it off the machine, and a firewall may treat it differently), but it
 *   is not forbidden, is what most development setups use, and this instance's own console
 *   registers <issuer>/console/callback, which is http://localhost:… on a development machine.
 *   So it is accepted; the docs point native apps at 127.0.0.1.
 * - a private-use scheme named after a domain the developer controls, reversed, so it has a period
 *   (RFC 8252 §7.1: com.example.app:/callback).
 * Everything else is refused: schemes that run script or read local data in a browser (javascript:,
 * data:, file:, vbscript:, blob:, about:), schemes without a period, user info, fragments (RFC 6749
 * §3.1.2), whitespace and control characters (a CR/LF is a header or log injection waiting to
 * happen, and `new URL` silently drops tabs and newlines, so the stored text would differ from
 * what is matched), characters RFC 3986 §2 requires percent-encoded, and overlong values.
 * Redirect URIs are matched character for character (RFC 6749 §3.1.2.3), so the text is stored as
 * given (trimmed), never normalised.
 */

export const MAX_REDIRECT_URI = 2000;

export const REDIRECT_URI_RULES =
  'A redirect URI must be https (https://app.example.com/callback), http on a loopback address (http://127.0.0.1:8400/callback; ' +
  'also [::1] or localhost), or a private-use scheme named after a domain you control, reversed, so it has a period (com.example.app:/callback).';

const LOOPBACK_HOSTS: ReadonlySet<string> = new Set(['127.0.0.1', '[::1]', 'localhost']);
/** Schemes a browser runs as script or reads from the local machine (RFC 9700 §4.1.1; RFC 8252 §8.11). */
const SCRIPT_SCHEMES: ReadonlySet<string> = new Set(['javascript', 'data', 'file', 'vbscript', 'blob', 'about', 'filesystem']);
/** A reverse domain name as a URI scheme (RFC 3986 §3.1 scheme syntax, with at least one period). */
const PRIVATE_USE_SCHEME = /^[a-z][a-z0-9+-]*(\.[a-z0-9+-]+)+$/;
/** Controls (C0, DEL, C1), format characters (bidi overrides, zero-width) and every kind of space or separator. */
const CONTROL_OR_SPACE = /[\p{Cc}\p{Cf}\p{Z}]/u;
/** RFC 3986 §2: unreserved, reserved and "%". Anything else must be percent-encoded. */
const URI_CHAR = /^[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=%]$/;
const BAD_PERCENT = /%(?![0-9A-Fa-f]{2})/;

const codePoint = (c: string) => `U+${(c.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, '0')}`;

export type RedirectUriVerdict =
  | { readonly ok: true }
  /** not_https: http off loopback (the https address would do); invalid: anything else refused. */
  | { readonly ok: false; readonly kind: 'not_https' | 'invalid'; readonly problem: string };

const invalid = (problem: string): RedirectUriVerdict => ({ ok: false, kind: 'invalid', problem });

/** What is wrong with the characters of a redirect URI, if anything (checked before parsing: `new URL` drops some). */
function characterProblem(uri: string): string | undefined {
  if (uri.length > MAX_REDIRECT_URI) return `is longer than ${MAX_REDIRECT_URI} characters`;
  const control = Array.from(uri).find((c) => CONTROL_OR_SPACE.test(c));
  if (control !== undefined) return `contains ${/[\p{Cc}\p{Cf}]/u.test(control) ? 'a control character' : 'whitespace'} (${codePoint(control)})`;
  const other = Array.from(uri).find((c) => !URI_CHAR.test(c));
  if (other !== undefined) return `contains the character "${other}" (${codePoint(other)}), which must be percent-encoded (RFC 3986 §2)`;
  if (BAD_PERCENT.test(uri)) return 'has a "%" that is not followed by two hexadecimal digits (RFC 3986 §2.1)';
  if (uri.includes('#')) return 'must not contain a fragment (RFC 6749 §3.1.2)';
  return undefined;
}

/** Whether a redirect URI may be registered, and if not, why. Pure: the registry and `latchkey doctor` share it. */
export function judgeRedirectUri(uri: string): RedirectUriVerdict {
  const chars = characterProblem(uri);
  if (chars !== undefined) return invalid(chars);
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return invalid('is not an absolute URL');
  }
  const scheme = url.protocol.slice(0, -1);
  if (SCRIPT_SCHEMES.has(scheme)) return invalid(`uses the scheme ${scheme}:, which a browser runs as script or reads from the local machine`);
  if (scheme !== 'https' && scheme !== 'http' && !PRIVATE_USE_SCHEME.test(scheme)) {
    return invalid(`uses the scheme ${scheme}:, which is neither https, http on loopback, nor a private-use scheme with a period (RFC 8252 §7.1)`);
  }
  if (url.username !== '' || url.password !== '') return invalid('must not contain a user name or password');
  if (scheme === 'http' && !LOOPBACK_HOSTS.has(url.hostname)) {
    return { ok: false, kind: 'not_https', problem: 'must use https: http is accepted only on a loopback address (127.0.0.1, [::1] or localhost; RFC 8252 §7.3)' };
  }
  return { ok: true };
}

/** Exact-match redirect URIs (RFC 6749 §3.1.2), trimmed and without duplicates; refuses any outside the rules above. */
export function checkRedirectUris(uris: readonly string[]): string[] {
  const unique = [...new Set(uris.map((u) => u.trim()).filter((u) => u !== ''))];
  for (const uri of unique) {
    const verdict = judgeRedirectUri(uri);
    if (!verdict.ok) throw new RegistryError('invalid_input', `Redirect URI ${shown(uri)} ${verdict.problem}. ${REDIRECT_URI_RULES}`, 'redirectUris');
  }
  return unique;
}

/**
 * The list an application's stored redirect URIs become under the rules: the valid ones kept, an
 * http one off loopback turned into its https address, the others dropped. For `latchkey doctor`'s fix.
 */
export function repairedRedirectUris(uris: readonly string[]): string[] {
  const out: string[] = [];
  for (const uri of uris) {
    const verdict = judgeRedirectUri(uri);
    const candidate = verdict.ok ? uri : verdict.kind === 'not_https' && /^http:\/\//i.test(uri) ? `https://${uri.slice('http://'.length)}` : undefined;
    if (candidate !== undefined && judgeRedirectUri(candidate).ok && !out.includes(candidate)) out.push(candidate);
  }
  return out;
}

/**
 * RP-Initiated Logout 1.0 §3.1 post_logout_redirect_uris: the same rules as redirect URIs (the
 * browser is sent there, with `state`), matched exactly as well; refused with the field named.
 */
export function checkPostLogoutRedirectUris(uris: readonly string[]): string[] {
  const unique = [...new Set(uris.map((u) => u.trim()).filter((u) => u !== ''))];
  for (const uri of unique) {
    const verdict = judgeRedirectUri(uri);
    if (!verdict.ok) throw new RegistryError('invalid_input', `Post-logout redirect URI ${shown(uri)} ${verdict.problem}. ${REDIRECT_URI_RULES.replace('A redirect URI', 'It')}`, 'postLogoutRedirectUris');
  }
  return unique;
}
