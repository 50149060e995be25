import { isIP } from 'node:net';

/**
 * Which network addresses an outbound request of ours (a JWKS URI, an identity provider's
 * metadata) may reach. Those URLs are set by an administrator but fetched when an anonymous caller
 * sends a token naming them, so an address inside our network would turn every such request into
 * a probe of it (blind SSRF). Two tiers:
 * - `private`: loopback, private, shared, link-local, documentation and benchmark ranges. Refused
 *   unless `latchkey.outbound.allow_private_networks` is true (tests and labs).
 * - `never`: addresses nothing legitimate serves keys from (unspecified, multicast, broadcast,
 *   reserved, the cloud metadata services). Refused whatever the property says.
 * IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that
 * address, so `::ffff:10.0.0.5` is as private as `10.0.0.5`.
 * @see RFC 6890 (special-purpose address registries), RFC 1918, RFC 6598, RFC 3927, RFC 4193, RFC 4291
 */

export type AddressTier = 'private' | 'never';

export interface AddressMatch {
  readonly tier: AddressTier;
  /** How the address is described to the administrator: "a private address". */
  readonly label: string;
  /** The range it falls in, in CIDR notation. */
  readonly range: string;
}

interface Range4 {
  readonly base: number;
  readonly bits: number;
  readonly tier: AddressTier;
  readonly label: string;
}

function ipv4ToInt(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || Number(p) > 255) return undefined;
    n = n * 256 + Number(p);
  }
  return n;
}

const intToIpv4 = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');

function range4(cidr: string, tier: AddressTier, label: string): Range4 {
  const [base, bits] = cidr.split('/') as [string, string];
  return { base: ipv4ToInt(base) as number, bits: Number(bits), tier, label };
}

/** Most specific first: the first match names the address. */
const IPV4_RANGES: readonly Range4[] = [
  range4('169.254.169.254/32', 'never', 'the cloud metadata address'),
  range4('100.100.100.200/32', 'never', 'a cloud metadata address'),
  range4('255.255.255.255/32', 'never', 'the broadcast address'),
  range4('0.0.0.0/8', 'never', 'an unspecified ("this network") address'),
  range4('224.0.0.0/4', 'never', 'a multicast address'),
  range4('240.0.0.0/4', 'never', 'a reserved address'),
  range4('127.0.0.0/8', 'private', 'a loopback address'),
  range4('10.0.0.0/8', 'private', 'a private address'),
  range4('172.16.0.0/12', 'private', 'a private address'),
  range4('192.168.0.0/16', 'private', 'a private address'),
  range4('100.64.0.0/10', 'private', 'a shared (carrier-grade NAT) address'),
  range4('169.254.0.0/16', 'private', 'a link-local address'),
  range4('192.0.0.0/24', 'private', 'an IETF protocol assignment address'),
  range4('192.0.2.0/24', 'private', 'a documentation address'),
  range4('198.51.100.0/24', 'private', 'a documentation address'),
  range4('203.0.113.0/24', 'private', 'a documentation address'),
  range4('198.18.0.0/15', 'private', 'a benchmarking address'),
  range4('192.88.99.0/24', 'private', 'a 6to4 relay address'),
];

function classifyIpv4(n: number): AddressMatch | undefined {
  for (const r of IPV4_RANGES) {
    const mask = r.bits === 0 ? 0 : (~0 << (32 - r.bits)) >>> 0;
    if (((n & mask) >>> 0) === ((r.base & mask) >>> 0)) return { tier: r.tier, label: r.label, range: `${intToIpv4(r.base)}/${r.bits}` };
  }
  return undefined;
}

/** The eight 16-bit groups of an IPv6 address (a zone id is ignored); undefined if not one. */
export function parseIpv6(text: string): number[] | undefined {
  let s = text.replace(/%.*$/, '');
  const groups: number[] = [];
  const tail = /(\d{1,3}(?:\.\d{1,3}){3})$/.exec(s);
  let v4: number | undefined;
  if (tail !== null) {
    v4 = ipv4ToInt(tail[1] as string);
    if (v4 === undefined) return undefined;
    s = `${s.slice(0, -(tail[1] as string).length)}0:0`;
  }
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const parse = (part: string) => (part === '' ? [] : part.split(':'));
  const head = parse(halves[0] as string);
  const rest = halves.length === 2 ? parse(halves[1] as string) : [];
  const missing = 8 - head.length - rest.length;
  if ((halves.length === 2 && missing < 1) || (halves.length === 1 && missing !== 0)) return undefined;
  for (const g of [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...rest]) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    groups.push(parseInt(g, 16));
  }
  if (v4 !== undefined) {
    groups[6] = v4 >>> 16;
    groups[7] = v4 & 0xffff;
  }
  return groups.length === 8 ? groups : undefined;
}

interface Range6 {
  readonly groups: readonly number[];
  readonly bits: number;
  readonly tier: AddressTier;
  readonly label: string;
  readonly cidr: string;
}

function range6(cidr: string, tier: AddressTier, label: string): Range6 {
  const [base, bits] = cidr.split('/') as [string, string];
  return { groups: parseIpv6(base) as number[], bits: Number(bits), tier, label, cidr };
}

function inRange6(g: readonly number[], r: Range6): boolean {
  for (let i = 0, left = r.bits; left > 0; i++, left -= 16) {
    const mask = left >= 16 ? 0xffff : (0xffff << (16 - left)) & 0xffff;
    if (((g[i] as number) & mask) !== ((r.groups[i] as number) & mask)) return false;
  }
  return true;
}

const IPV6_RANGES: readonly Range6[] = [
  range6('::/128', 'never', 'the unspecified address'),
  range6('::1/128', 'private', 'the loopback address'),
  range6('fd00:ec2::254/128', 'never', 'the cloud metadata address'),
  range6('ff00::/8', 'never', 'a multicast address'),
  range6('64:ff9b:1::/48', 'private', 'a local-use NAT64 address'),
  range6('100::/64', 'private', 'a discard-only address'),
  range6('2001:db8::/32', 'private', 'a documentation address'),
  range6('3fff::/20', 'private', 'a documentation address'),
  range6('2001:2::/48', 'private', 'a benchmarking address'),
  range6('2001::/23', 'private', 'an IETF protocol assignment address (Teredo, ORCHID)'),
  range6('fc00::/7', 'private', 'a unique local (private) address'),
  range6('fe80::/10', 'private', 'a link-local address'),
  range6('fec0::/10', 'private', 'a site-local address'),
];

/** IPv6 forms that embed an IPv4 address, and where it sits (groups 6-7, or 1-2 for 6to4). */
const EMBEDDING: readonly { readonly range: Range6; readonly at: number; readonly what: string }[] = [
  { range: range6('::ffff:0:0/96', 'private', ''), at: 6, what: 'IPv4-mapped' },
  { range: range6('::/96', 'private', ''), at: 6, what: 'IPv4-compatible' },
  { range: range6('64:ff9b::/96', 'private', ''), at: 6, what: 'NAT64' },
  { range: range6('2002::/16', 'private', ''), at: 1, what: '6to4' },
];

function classifyIpv6(g: readonly number[]): AddressMatch | undefined {
  for (const r of IPV6_RANGES) if (inRange6(g, r)) return { tier: r.tier, label: r.label, range: r.cidr };
  for (const e of EMBEDDING) {
    if (!inRange6(g, e.range)) continue;
    const v4 = (((g[e.at] as number) << 16) >>> 0) + (g[e.at + 1] as number);
    const inner = classifyIpv4(v4);
    if (inner === undefined) return undefined;
    return { tier: inner.tier, label: `an ${e.what} form of ${intToIpv4(v4)}, ${inner.label}`, range: inner.range };
  }
  return undefined;
}

/**
 * The special-purpose range an IP address falls in, or undefined for an ordinary public address.
 * Something that is not an IP address at all is `never` (the caller resolved it; it should be one).
 */
export function classifyAddress(ip: string): AddressMatch | undefined {
  const bare = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  const family = isIP(bare.replace(/%.*$/, ''));
  if (family === 4) return classifyIpv4(ipv4ToInt(bare) as number);
  const groups = family === 6 ? parseIpv6(bare) : undefined;
  if (groups === undefined) return { tier: 'never', label: 'not an IP address', range: '-' };
  return classifyIpv6(groups);
}

export const ALLOW_PRIVATE_PROPERTY = 'latchkey.outbound.allow_private_networks';

/**
 * Why an address may not be connected to under the given setting ("10.0.0.5 is a private address
 * (10.0.0.0/8); set ..."), or undefined when it may. `subject` replaces "10.0.0.5 is".
 */
export function addressRefusal(ip: string, allowPrivateNetworks: boolean, subject = `${ip} is`): string | undefined {
  const match = classifyAddress(ip);
  if (match === undefined) return undefined;
  if (match.tier === 'private' && allowPrivateNetworks) return undefined;
  const where = match.range === '-' ? '' : ` (${match.range})`;
  const advice = match.tier === 'never' ? ', which is never fetched' : `; set ${ALLOW_PRIVATE_PROPERTY} to true only for test networks`;
  return `${subject} ${match.label}${where}${advice}`;
}
