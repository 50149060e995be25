import { didYouMean } from '../core/nearest.js';
import { RegistryError } from './errors.js';

/**
 * Instance properties, under the platform's names where one exists (sys_properties). Each has a
 * type, a default and a one-line meaning; values are stored as strings and parsed here, so a bad
 * value is refused when it is set, never discovered on a request.
 */
export interface PropertyDefinition<T extends boolean | number | string = boolean | number | string> {
  /**
   * `sha256`: the SHA-256 of a secret, as 64 hex digits ('' for none), never the secret itself.
   * `host_patterns`: host names or `*.example.com` patterns, separated by commas or spaces ('' for none).
   * `origin_patterns`: `*` (any origin), or web origins `https://app.example.com[:port]` (`https://*.example.com`
   *   for its subdomains; a bare host means https on the default port), separated by commas or spaces ('' for none).
   * `enum`: one of `values` (stored lower-case).
   */
  readonly type: T extends boolean ? 'boolean' : T extends number ? 'integer' : 'sha256' | 'host_patterns' | 'origin_patterns' | 'enum';
  readonly default: T;
  readonly description: string;
  readonly min?: number;
  readonly max?: number;
  /** `enum` properties: the values allowed, the default among them. */
  readonly values?: readonly string[];
}

export const PROPERTY_DEFINITIONS = {
  'com.snc.platform.security.oauth.is.active': {
    type: 'boolean',
    default: true,
    description: 'OAuth is active on this instance: when false, the token endpoint refuses every request.',
  },
  'glide.oauth.inbound.client.credential.grant_type.enabled': {
    type: 'boolean',
    default: false,
    description: 'Allow the client_credentials grant on this instance (off by default, as on the platform).',
  },
  'glide.oauth.inbound.ropc.grant_type.disabled': {
    type: 'boolean',
    default: false,
    description: 'Switch off the password grant (resource owner password credentials) on this instance.',
  },
  'latchkey.api.basic_auth.enabled': {
    type: 'boolean',
    default: true,
    description: 'Accept HTTP Basic (user name and password) on hosted APIs whose definition allows it; false: every API takes bearer tokens only (api.basic_auth_disabled).',
  },
  'latchkey.client_auth.client_secret_post.enabled': {
    type: 'boolean',
    default: true,
    description: 'Accept the client secret in the request body (client_secret_post, RFC 6749 §2.3.1) at the token, introspection and revocation endpoints; false: only the Authorization header (client_secret_basic) or private_key_jwt.',
  },
  'latchkey.rules.report_per_minute': {
    type: 'integer',
    default: 60,
    min: 0,
    max: 100000,
    description: 'How many "would refuse" records of report-only rules this instance keeps one by one per minute beyond the first of each rule and client (each with its explanation); past it they are only counted per rule and client. 0: count only, keep none.',
  },
  'latchkey.password.lockout.threshold': {
    type: 'integer',
    default: 5,
    min: 1,
    max: 1000,
    description: 'Failed password attempts for one user name from one source address (an IPv6 address by its /64) within the lockout window, after which that source must wait before its next attempt: 1 s, doubling with each further failure, at most the window. Other sources are not affected.',
  },
  'latchkey.password.lockout.user_threshold': {
    type: 'integer',
    default: 50,
    min: 1,
    max: 100000,
    description: 'Failed password attempts for one user name from all sources within the lockout window, after which only sources it signed in from in the last 30 days may try until the window ends. Never below latchkey.password.lockout.threshold (a lower value is refused when set, and treated as the threshold).',
  },
  'latchkey.password.lockout.window_seconds': {
    type: 'integer',
    default: 900,
    min: 1,
    max: 86400,
    description: 'How long failed password attempts are counted, in seconds: the longest wait for one source, and how long the per-user limit lasts.',
  },
  'latchkey.assertion.max_skew_seconds': {
    type: 'integer',
    default: 300,
    min: 0,
    max: 3600,
    description: 'Clock skew tolerated on the exp, nbf and iat of JWT assertions (private_key_jwt, JWT bearer grant) and of tokens from identity providers, in seconds.',
  },
  'latchkey.assertion.max_lifetime_seconds': {
    type: 'integer',
    default: 3600,
    min: 1,
    max: 86400,
    description: 'How far in the future the exp of a JWT assertion (private_key_jwt, JWT bearer grant) may be, in seconds; a later exp is refused.',
  },
  'latchkey.outbound.allow_private_networks': {
    type: 'boolean',
    default: false,
    description: 'Let outbound requests (application JWKS URIs, identity-provider metadata and keys) use http and reach loopback and private addresses. Only for test networks and labs: when false, only https to public addresses is fetched.',
  },
  'latchkey.cimd.enabled': {
    type: 'boolean',
    default: true,
    description: 'Accept client ID metadata documents: an https URL with a path used as client_id is fetched (outbound rules), validated and becomes an application of origin metadata_document. false: such a client_id is refused (cimd.disabled).',
  },
  'latchkey.cimd.allowed_domains': {
    type: 'host_patterns',
    default: '',
    description: "The hosts whose client ID metadata documents are trusted: host names or *.example.com patterns (a subdomain at any depth), separated by commas or spaces; '' for none. A document from another host is refused unless latchkey.cimd.allow_unknown_domains is true.",
  },
  'latchkey.cors.allowed_origins': {
    type: 'origin_patterns',
    default: '*',
    description: "The web origins whose JavaScript may call the credential-less endpoints (CORS): metadata, JWKS, token, revocation, introspection, UserInfo, registration and the hosted MCP servers. * for any origin; or origins such as https://app.example.com, http://localhost:5173, https://*.example.com (a bare host means https), separated by commas or spaces; '' for none. Never the authorization, sign-in, consent and logout pages, the console or the admin API; never with credentials (cookies).",
  },
  'latchkey.cors.api_allowed_origins': {
    type: 'origin_patterns',
    default: '',
    description: "The web origins whose JavaScript may call the hosted REST APIs (/api/...) with a bearer token (CORS), in the form of latchkey.cors.allowed_origins; '' (the default): none, the APIs are called from servers or through a backend. Never with credentials (cookies).",
  },
  'latchkey.cimd.allow_unknown_domains': {
    type: 'boolean',
    default: true,
    description: 'Accept client ID metadata documents from hosts outside latchkey.cimd.allowed_domains (MCP clients arrive from anywhere; every such client still needs a user to consent). false: only the allowed domains (cimd.domain_not_trusted).',
  },
  'latchkey.cimd.new_clients_per_hour': {
    type: 'integer',
    default: 200,
    min: 0,
    max: 1000000,
    description: 'New applications made from client ID metadata documents per hour, on every instance together, from hosts outside latchkey.cimd.allowed_domains (anyone can publish documents at many URLs; refetching a known one does not count); past it, such a new client is refused (cimd.new_client_limit) until the hour is over. 0: no limit.',
  },
  'latchkey.cimd.cache_default_seconds': {
    type: 'integer',
    default: 3600,
    min: 0,
    max: 86400,
    description: 'How long a client ID metadata document is used before it is fetched again when its response has no Cache-Control max-age or Expires, in seconds (then clamped between the minimum and the maximum).',
  },
  'latchkey.cimd.cache_min_seconds': {
    type: 'integer',
    default: 60,
    min: 0,
    max: 86400,
    description: 'The shortest time a client ID metadata document is used before it is fetched again, in seconds, whatever its cache headers say (no-store and no-cache included): bounds the fetches one client can cause.',
  },
  'latchkey.cimd.cache_max_seconds': {
    type: 'integer',
    default: 86400,
    min: 60,
    max: 604800,
    description: 'The longest time a client ID metadata document is used before it is fetched again, in seconds, whatever its cache headers say.',
  },
  'latchkey.cimd.stale_grace_seconds': {
    type: 'integer',
    default: 3600,
    min: 0,
    max: 604800,
    description: 'When fetching a known client ID metadata document again fails (network, status, outbound rules are not a reason to forget it), the application as last fetched keeps working for this long after the document went stale, in seconds; 0: a failed refetch refuses at once. An invalid new document is never covered.',
  },
  'latchkey.registration.mode': {
    type: 'enum',
    values: ['off', 'token', 'open'],
    default: 'token',
    description: 'Dynamic client registration (RFC 7591) at POST /oauth/register: off (the endpoint answers 404 and discovery does not name it), token (a registration needs an initial access token, `latchkey registration tokens create`), or open (anyone may register, under the registration policy named default, if there is one, and the per-source rate limit latchkey.rate_limit.registration).',
  },
  'latchkey.registration.reap_after_days': {
    type: 'integer',
    default: 30,
    min: 0,
    max: 3650,
    description: 'Dynamically registered clients that got no token (and whose registration was not read or changed) for this many days are deleted by the clean-up job and `latchkey registration reap`; 0: never reaped.',
  },
  'latchkey.idp.max_token_lifetime_seconds': {
    type: 'integer',
    default: 86400,
    min: 60,
    max: 31536000,
    description: 'The longest lifetime accepted on a token from an identity provider, in seconds: refused when exp - iat exceeds it (or, without iat, when exp is further ahead than it).',
  },
  'latchkey.keys.rotation_days': {
    type: 'integer',
    default: 90,
    min: 0,
    max: 3650,
    description: 'Rotate the JWT signing key when it has been signing for this many days (checked hourly by every instance; the new key is published a day before it signs). 0 turns scheduled rotation off.',
  },
  'latchkey.refusals.anonymous_per_minute': {
    type: 'integer',
    default: 1000,
    min: 0,
    max: 1000000,
    description: 'Refusals of callers that did not authenticate (unknown client ids, garbage tokens) recorded one by one per minute and instance; past it they are only counted per endpoint, reason and source, so anonymous traffic cannot fill the disk. Refusals of authenticated callers are always recorded.',
  },
  'latchkey.secrets.rotation_days': {
    type: 'integer',
    default: 180,
    min: 0,
    max: 3650,
    description: 'Client secrets older than this many days are reported by `latchkey doctor` (secret_rotation_due) until rotated. 0 turns the check off.',
  },
  'latchkey.posture.dormant_days': {
    type: 'integer',
    default: 30,
    min: 1,
    max: 90,
    description: 'An active application that has had no token issued and no API call admitted for this many days is dormant: `latchkey apps posture` flags it, and `latchkey doctor` (application_dormant) when its client secret still works. At most 90: usage is kept 90 days.',
  },
  'latchkey.metrics.enabled': {
    type: 'boolean',
    default: true,
    description: 'Serve GET /metrics (Prometheus text format: requests, latencies, tokens issued, refusals by reason code, caches, storage, keys; docs/metrics.md). When false, /metrics answers 404.',
  },
  'latchkey.metrics.token_sha256': {
    type: 'sha256',
    default: '',
    description: 'The SHA-256 (64 hex digits) of the bearer token /metrics requires; empty: /metrics needs no token. Set it with `latchkey metrics token`, which prints a new token once and stores only its hash.',
  },
  'latchkey.rate_limit.window_seconds': {
    type: 'integer',
    default: 60,
    min: 1,
    max: 86400,
    description: 'The window of the instance rate limits below, in seconds: each counts requests in fixed windows of this length (an application\'s or API\'s own limit carries its own window).',
  },
  'latchkey.rate_limit.client': {
    type: 'integer',
    default: 0,
    min: 0,
    max: 100000000,
    description: 'Requests per window one application may make to the token and introspection endpoints (counted after it authenticates); past it, 429. An application\'s rate limit (`apps update --rate-limit 100/1m`, or off) replaces it. 0: no limit.',
  },
  'latchkey.rate_limit.address': {
    type: 'integer',
    default: 0,
    min: 0,
    max: 100000000,
    description: 'Requests per window from one source address (an IPv6 address by its /64) to each of the token endpoint, introspection, the sign-in page and the hosted APIs, counted before authentication; past it, 429. 0: no limit.',
  },
  'latchkey.rate_limit.api': {
    type: 'integer',
    default: 0,
    min: 0,
    max: 100000000,
    description: 'Requests per window one hosted API accepts from all its authenticated callers together; past it, 429. An API definition\'s rateLimit replaces it. 0: no limit.',
  },
  'latchkey.rate_limit.api_user': {
    type: 'integer',
    default: 0,
    min: 0,
    max: 100000000,
    description: 'Requests per window one user (or application user) may make to one hosted API; past it, 429. An API definition\'s userRateLimit replaces it. 0: no limit.',
  },
  'latchkey.rate_limit.registration': {
    type: 'integer',
    default: 20,
    min: 0,
    max: 100000000,
    description: 'Dynamic client registrations (POST /oauth/register, RFC 7591) per window from one source address (an IPv6 address by its /64), counted before the initial access token is checked; past it, 429 with Retry-After. 0: no limit (doctor warns when registration is open).',
  },
  // ---- device authorization (RFC 8628) ----
  'latchkey.device.code_lifetime': {
    type: 'integer',
    default: 600,
    min: 60,
    max: 3600,
    description: 'How long a device code and its user code live, in seconds (RFC 8628 §3.2 expires_in): the user must enter the code and approve within it (device.expired_token after).',
  },
  'latchkey.device.interval': {
    type: 'integer',
    default: 5,
    min: 1,
    max: 60,
    description: 'The minimum seconds a device waits between polls of the token endpoint (RFC 8628 §3.2 interval); a poll sooner answers slow_down and adds 5 seconds for that code, on every instance.',
  },
  'latchkey.device.user_code_attempts': {
    type: 'integer',
    default: 10,
    min: 0,
    max: 100000,
    description: 'User codes one source address (an IPv6 address by its /64) may enter on /oauth/device per 15 minutes, right or wrong; past it the page refuses (device.user_code_rate_limited). 0: no limit.',
  },
  'latchkey.device.user_code_attempts_total': {
    type: 'integer',
    default: 1000,
    min: 0,
    max: 10000000,
    description: 'User codes all sources together may enter on /oauth/device per 15 minutes (on every instance together on PostgreSQL); past it the page refuses everyone (device.user_code_rate_limited) until the window ends. 0: no limit.',
  },
  'latchkey.par.lifetime': {
    type: 'integer',
    default: 60,
    min: 5,
    max: 600,
    description: 'How long a pushed authorization request (RFC 9126, POST /oauth/par) stays usable at the authorization endpoint, in seconds (its expires_in); it is used once.',
  },
  'latchkey.par.required': {
    type: 'boolean',
    default: false,
    description: 'Every application must push its authorization requests (RFC 9126 require_pushed_authorization_requests): the authorization endpoint accepts only a request_uri from POST /oauth/par. The sign-in of the built-in console is exempt. false: only applications with PAR required (`latchkey apps update --par-required true`).',
  },
  // ---- DPoP (RFC 9449) ----
  'latchkey.dpop.proof_max_age_seconds': {
    type: 'integer',
    default: 60,
    min: 5,
    max: 3600,
    description: 'How old a DPoP proof (RFC 9449) may be, by its iat, at the token endpoint and the hosted APIs, in seconds (5 more seconds are allowed into the future for clock skew); its jti is remembered that long, on every instance, so a proof is used once (dpop.iat_too_old, dpop.replayed).',
  },
  'latchkey.dpop.nonce_required': {
    type: 'boolean',
    default: false,
    description: 'Require a server nonce in every DPoP proof (RFC 9449 §8, §9): a proof without one is answered use_dpop_nonce with a DPoP-Nonce header to retry with. Nonces change every 5 minutes and every instance sharing the key-encryption key accepts them.',
  },
} as const satisfies Record<string, PropertyDefinition>;

export type PropertyName = keyof typeof PROPERTY_DEFINITIONS;
type Def<N extends PropertyName> = (typeof PROPERTY_DEFINITIONS)[N];
export type PropertyValue<N extends PropertyName> = Def<N>['type'] extends 'boolean' ? boolean : Def<N>['type'] extends 'integer' ? number : string;
export type PropertyValues = { readonly [N in PropertyName]: PropertyValue<N> };

export const PROPERTY_NAMES = Object.keys(PROPERTY_DEFINITIONS) as PropertyName[];

export function isPropertyName(name: string): name is PropertyName {
  return Object.prototype.hasOwnProperty.call(PROPERTY_DEFINITIONS, name);
}

/** Parses a raw value for a property; throws a RegistryError that says what is accepted. */
export function parsePropertyValue(name: string, raw: string): boolean | number | string {
  if (!isPropertyName(name)) {
    throw new RegistryError(
      'property_unknown',
      `Unknown property "${name}".${didYouMean(name, PROPERTY_NAMES)} Known properties: ${PROPERTY_NAMES.join(', ')}.`,
    );
  }
  const def: PropertyDefinition = PROPERTY_DEFINITIONS[name];
  const value = raw.trim().toLowerCase();
  if (def.type === 'boolean') {
    if (value === 'true') return true;
    if (value === 'false') return false;
    throw new RegistryError('property_invalid', `Property ${name} is a boolean: use true or false (got "${raw}").`);
  }
  if (def.type === 'host_patterns') return parseHostPatterns(name, raw).join(',');
  if (def.type === 'origin_patterns') return parseOriginPatterns(name, raw).join(',');
  if (def.type === 'enum') return parseEnumValue(name, def, raw);
  if (def.type === 'sha256') {
    // Never echo the value: someone may have pasted the token itself instead of its hash.
    if (value === '' || /^[0-9a-f]{64}$/.test(value)) return value;
    throw new RegistryError('property_invalid', `Property ${name} holds a SHA-256 as 64 hex digits, or nothing (''); the value given is not one. \`latchkey metrics token\` makes a token and sets its hash.`);
  }
  if (!/^-?\d+$/.test(value)) {
    throw new RegistryError('property_invalid', `Property ${name} is an integer (got "${raw}").`);
  }
  const n = Number(value);
  if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) {
    throw new RegistryError('property_invalid', `Property ${name} must be between ${def.min} and ${def.max} (got ${n}).`);
  }
  return n;
}

/** One of the listed values (lower-cased). */
function parseEnumValue(name: string, def: PropertyDefinition, raw: string): string {
  const values = def.values ?? [];
  const lower = raw.trim().toLowerCase();
  if (values.includes(lower)) return lower;
  throw new RegistryError('property_invalid', `Property ${name} is one of ${values.join(', ')} (got "${raw.slice(0, 100)}").${didYouMean(lower, values)}`);
}

const HOST_PATTERN = /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/** Host names or `*.example.com` patterns (lower-cased, without a trailing dot), from a comma or space separated list. */
export function parseHostPatterns(name: string, raw: string): string[] {
  const items = raw.split(/[\s,]+/).map((s) => s.trim().toLowerCase().replace(/\.$/, '')).filter((s) => s !== '');
  if (items.length > 100) throw new RegistryError('property_invalid', `Property ${name} holds at most 100 host patterns (got ${items.length}).`);
  for (const item of items) {
    if (item.length > 253 || !HOST_PATTERN.test(item)) {
      throw new RegistryError('property_invalid', `Property ${name} holds host names or *.example.com patterns separated by commas; "${item.slice(0, 100)}" is neither.`);
    }
  }
  return [...new Set(items)];
}

/** Whether a host matches a pattern list: exactly, or as a subdomain (at any depth) of a `*.` pattern. */
export function hostMatches(host: string, patterns: readonly string[]): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  return patterns.some((p) => (p.startsWith('*.') ? h.endsWith(p.slice(1)) && h.length > p.length - 1 : h === p));
}

const ORIGIN_PATTERN = /^(https?):\/\/([^/:?#]+)(?::(\d{1,5}))?\/?$/;

/**
 * `*`, or origins (`https://app.example.com`, `http://localhost:5173`, `https://*.example.com`; a bare
 * host is https on the default port; host names and IPv4 addresses, no IPv6 literals), normalised to `scheme://host[:port]` without the default port.
 * `*` stands alone: with it a list means any origin, so it is refused beside others (an ambiguous value).
 */
export function parseOriginPatterns(name: string, raw: string): string[] {
  const items = raw.split(/[\s,]+/).map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  if (items.length > 100) throw new RegistryError('property_invalid', `Property ${name} holds at most 100 origins (got ${items.length}).`);
  if (items.includes('*')) {
    if (items.length > 1) throw new RegistryError('property_invalid', `Property ${name} is * (any origin) alone, or a list of origins; not both.`);
    return ['*'];
  }
  const out: string[] = [];
  for (const item of items) {
    const m = ORIGIN_PATTERN.exec(item.includes('://') ? item : `https://${item}`);
    const host = m?.[2]?.replace(/\.$/, '');
    const port = m?.[3] === undefined ? undefined : Number(m[3]);
    const hostOk = host !== undefined && host.length <= 253 && HOST_PATTERN.test(host);
    if (m === null || !hostOk || (port !== undefined && (port < 1 || port > 65535))) {
      throw new RegistryError('property_invalid', `Property ${name} holds * or web origins such as https://app.example.com, http://localhost:5173 or https://*.example.com, separated by commas; "${item.slice(0, 100)}" is none of them.`);
    }
    const scheme = m[1] as string;
    const defaultPort = scheme === 'https' ? 443 : 80;
    out.push(`${scheme}://${host}${port === undefined || port === defaultPort ? '' : `:${port}`}`);
  }
  return [...new Set(out)];
}

/**
 * Whether an Origin header value is allowed by a stored origin pattern list (`*`, or normalised
 * origins, a host beginning `*.` matching its subdomains at any depth). `null` and malformed origins never match a list.
 */
export function originMatches(origin: string, stored: string): boolean {
  if (stored === '*') return true;
  if (stored === '') return false;
  const m = ORIGIN_PATTERN.exec(origin.toLowerCase());
  if (m === null || origin.endsWith('/')) return false;
  const scheme = m[1] as string;
  const host = m[2] as string;
  const port = m[3] === undefined || Number(m[3]) === (scheme === 'https' ? 443 : 80) ? '' : `:${Number(m[3])}`;
  return stored.split(',').some((p) => {
    const pm = ORIGIN_PATTERN.exec(p);
    if (pm === null || pm[1] !== scheme || (pm[3] === undefined ? '' : `:${pm[3]}`) !== port) return false;
    const ph = pm[2] as string;
    return ph.startsWith('*.') ? host.endsWith(ph.slice(1)) && host.length > ph.length - 1 : host === ph;
  });
}

/** Builds the full typed set from stored rows; unknown or unparsable stored rows fall back to defaults. */
export function resolveProperties(rows: readonly { name: string; value: string }[]): PropertyValues {
  const values: Record<string, boolean | number | string> = {};
  for (const name of PROPERTY_NAMES) values[name] = PROPERTY_DEFINITIONS[name].default;
  for (const row of rows) {
    if (!isPropertyName(row.name)) continue;
    try {
      values[row.name] = parsePropertyValue(row.name, row.value);
    } catch {
      // A value written by a newer or broken writer: keep the default rather than fail requests.
    }
  }
  return values as PropertyValues;
}
