import { isIP } from 'node:net';
import { addressRefusal, ALLOW_PRIVATE_PROPERTY } from './address.js';
import { REFUSED_PREFIX } from '../errors/outbound.js';

export { REFUSED_PREFIX };

/**
 * The checks on an outbound URL that need no network: the scheme, credentials, and a host that is
 * an IP literal (or a loopback name) in a refused range. Registration runs these so the
 * administrator is told at once; the fetcher runs them again on every fetch, then checks what a
 * host name resolves to.
 */

/** What the outbound rules allow, read from the instance properties on every fetch. */
export interface OutboundPolicy {
  /** `latchkey.outbound.allow_private_networks`: http, and loopback / private addresses (tests, labs). */
  readonly allowPrivateNetworks: boolean;
}

export interface CheckedUrl {
  readonly url: URL;
  /** The host without IPv6 brackets. */
  readonly host: string;
  /** 4 or 6 when the host is an IP literal, else 0. */
  readonly literal: 0 | 4 | 6;
}

/** The host of a URL without the brackets of an IPv6 literal. */
export function bareHost(url: URL): string {
  return url.hostname.startsWith('[') && url.hostname.endsWith(']') ? url.hostname.slice(1, -1) : url.hostname;
}

/**
 * Checks a URL against the outbound rules; returns it parsed, or the reason it is refused (a
 * sentence without the "refused by the outbound rules" prefix). The WHATWG URL parser has already
 * turned other spellings of an IPv4 address (2130706433, 0x7f.1) into dotted form.
 */
export function checkOutboundUrl(text: string, policy: OutboundPolicy): CheckedUrl | { readonly refused: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { refused: 'it is not an absolute URL' };
  }
  const httpOk = policy.allowPrivateNetworks;
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && httpOk)) {
    const allowed = httpOk ? 'https or http' : `https (http only while ${ALLOW_PRIVATE_PROPERTY} is true, for test networks)`;
    return { refused: `it uses ${url.protocol.replace(/:$/, '')}; the scheme must be ${allowed}` };
  }
  if (url.username !== '' || url.password !== '') return { refused: 'it contains a user name or password' };
  const host = bareHost(url);
  const family = isIP(host);
  if (family === 4 || family === 6) {
    const why = addressRefusal(host, policy.allowPrivateNetworks);
    return why === undefined ? { url, host, literal: family } : { refused: why };
  }
  // RFC 6761 §6.3: localhost names resolve to loopback; say so now rather than after DNS.
  const name = host.toLowerCase().replace(/\.$/, '');
  if (!policy.allowPrivateNetworks && (name === 'localhost' || name.endsWith('.localhost'))) {
    return { refused: `${host} is a loopback name; set ${ALLOW_PRIVATE_PROPERTY} to true only for test networks` };
  }
  return { url, host, literal: 0 };
}

/** The refusal as one sentence for a registration error: `The JWKS URI "..." is refused by the outbound rules: ...`. */
export function outboundRefusalText(label: string, text: string, policy: OutboundPolicy): string | undefined {
  const checked = checkOutboundUrl(text, policy);
  return 'refused' in checked ? `${label} "${text}" is ${REFUSED_PREFIX}: ${checked.refused}.` : undefined;
}
