import type { Clock } from '../core/clock.js';
import type { Logger } from '../core/logger.js';
import { newId } from '../core/crypto.js';
import type { Application, ApplicationOrigin, Facts } from '../domain/model.js';
import type { GrantType } from '../grants/grant-type.js';
import { OAuthError } from '../errors/oauth-error.js';
import { invalidClient } from '../errors/errors.js';
import { factString } from '../errors/fact-values.js';
import type { ReasonCode } from '../errors/reasons.js';
import { refusalIn, statusMessage, OutboundFailed, type OutboundFetcher, type OutboundResponse } from '../outbound/fetch.js';
import { ALLOW_PRIVATE_PROPERTY } from '../outbound/address.js';
import { recordChange } from '../audit/log.js';
import type { Storage } from '../storage/types.js';
import { RegistryError } from './errors.js';
import { checkGrants, checkJwks, checkJwksUri, checkWebUrl, DEFAULT_ACCESS_TOKEN_LIFESPAN, DEFAULT_REFRESH_TOKEN_LIFESPAN, type CatalogueEntry } from './applications.js';
import type { RegistryCache } from './cache.js';
import { policyOf } from './outbound-policy.js';
import { hostMatches, parseHostPatterns, type PropertyValues } from './properties.js';
import { checkRedirectUris } from './redirect-uris.js';
import { ADMIN_SCOPE, ALL_ACCESS_SCOPE } from './scopes.js';

/**
 * OAuth Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document; the MCP
 * authorization specification's preferred registration): a client_id that is an https URL with a
 * path names a JSON document the client publishes there. It is fetched with the safe outbound
 * fetcher (the outbound rules, no redirects, 5 KB, 3 s), validated, and materialized as an
 * application of origin `metadata_document` whose client id is the URL, so tokens, revocation,
 * the console, posture and explained refusals treat it like any other application.
 *
 * Caching: a fetched document is used for as long as its response's Cache-Control max-age (or
 * Expires) says, clamped to latchkey.cimd.cache_min_seconds..cache_max_seconds; no-store and
 * no-cache mean the minimum; no header means latchkey.cimd.cache_default_seconds. Freshness is kept
 * in this process; instances share the document only through the application row: an instance
 * that has not fetched it itself uses the row for the minimum time after its last change, then
 * fetches it. When a refetch fails (network, timeout, a status other than 200), the application as
 * last fetched keeps working until latchkey.cimd.stale_grace_seconds after it went stale; an
 * outbound-rule refusal, a document that became invalid, the trust policy or the switch being off
 * are never covered by the grace.
 */

/** The draft's advice: a document is a few fields; 5 KB is plenty. */
export const MAX_DOCUMENT_BYTES = 5 * 1024;
/** How long one document fetch may take (less than the fetcher's own 3 s: a browser is waiting). */
export const DOCUMENT_TIMEOUT_MS = 3_000;
const MAX_URL = 2000;
const MAX_REDIRECT_URIS = 20;
const ORIGIN: ApplicationOrigin = 'metadata_document';
/** The grant types a document may ask for (a browser client: the code flow and its refresh tokens). */
const DOCUMENT_GRANTS: readonly string[] = ['authorization_code', 'refresh_token'];
const SHARED_SECRET_METHODS: ReadonlySet<string> = new Set(['client_secret_basic', 'client_secret_post', 'client_secret_jwt']);
/** Freshness entries kept per process (one per client id): bounded. */
const MAX_ENTRIES = 10_000;

const PROPERTY = {
  enabled: 'latchkey.cimd.enabled',
  allowed: 'latchkey.cimd.allowed_domains',
  unknown: 'latchkey.cimd.allow_unknown_domains',
  newClients: 'latchkey.cimd.new_clients_per_hour',
} as const;
/** The rate-counter family of new document applications (one instance-wide key, shared on PostgreSQL). */
const NEW_CLIENTS_COUNTER = 'cimd_new_client';
const NEW_CLIENTS_KEY = 'instance';

/** Whether an application was made from a client ID metadata document (origin `metadata_document`). */
export function isMetadataDocumentApplication(app: Application): boolean {
  return app.origin === ORIGIN;
}

/**
 * Whether a client_id is meant as a client ID metadata document URL: it starts with a URL scheme
 * followed by `//` (https://, or http:// which is then refused with its reason). A generated or
 * administrator-chosen client id never looks like this; one that does is still served as the
 * application that has it.
 */
export function looksLikeDocumentUrl(clientId: string): boolean {
  // Every token request asks this of its client id: most have no "://" at all.
  return clientId.includes('://') && /^[a-z][a-z0-9+.-]*:\/\//i.test(clientId);
}

/** The URL without its query, bounded (a fact never carries more). */
function shownUrl(text: string): string {
  try {
    const url = new URL(text);
    return `${url.protocol}//${url.host}${url.pathname}${url.search === '' ? '' : '?…'}`.slice(0, 300);
  } catch {
    return factString(text.split('?')[0], 300) ?? '';
  }
}

/** A refusal about a document: invalid_client (RFC 6749 §5.2: the client is not known to be good). */
function refusal(reason: ReasonCode, description: string, url: string, facts: Facts = {}, hint?: string): OAuthError {
  const error = invalidClient.withReason(reason).withDescription(description).withFacts({ clientIdUrl: shownUrl(url), ...facts });
  return hint === undefined ? error : error.withHint(hint);
}

/** Why the URL cannot name a document (draft §3), or undefined when it can. */
export function documentUrlProblem(text: string): string | undefined {
  if (text.length > MAX_URL) return `it is longer than ${MAX_URL} characters`;
  if (/[\x00-\x20\x7f-\x9f]/.test(text)) return 'it contains a space or a control character';
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'it is not an absolute URL';
  }
  if (url.protocol !== 'https:') return `it uses ${url.protocol.replace(/:$/, '')}; a client ID metadata document URL must use https`;
  if (url.username !== '' || url.password !== '') return 'it contains a user name or password';
  if (text.includes('#')) return 'it contains a fragment';
  if (url.pathname === '/' || url.pathname === '') return 'it has no path (the document is at a path, such as /oauth/client.json)';
  // The raw text: the URL parser would have resolved them away.
  const rawPath = text.slice(text.indexOf('//') + 2).replace(/^[^/?]*/, '').split('?')[0] ?? '';
  if (rawPath.split('/').some((s) => s === '.' || s === '..' || /^%2e(%2e)?$/i.test(s) || /^\.%2e$|^%2e\.$/i.test(s))) return 'its path has . or .. segments';
  return undefined;
}

/**
 * How long a response may be used, in seconds, from its Cache-Control and Expires (RFC 9111):
 * no-store / no-cache → 0, max-age (s-maxage is for shared caches, not us), else Expires - Date,
 * else undefined (no freshness information).
 */
export function responseLifetime(res: Pick<OutboundResponse, 'cacheControl' | 'expires' | 'date'>, now: number): number | undefined {
  const directives = (res.cacheControl ?? '').toLowerCase().split(',').map((d) => d.trim());
  if (directives.some((d) => d === 'no-store' || d === 'no-cache' || d.startsWith('no-cache='))) return 0;
  const maxAge = directives.find((d) => d.startsWith('max-age='));
  if (maxAge !== undefined) {
    const n = Number.parseInt(maxAge.slice('max-age='.length).replace(/"/g, ''), 10);
    return Number.isFinite(n) && n >= 0 ? n : 0;
  }
  if (res.expires !== undefined) {
    const expires = Date.parse(res.expires);
    // An invalid Expires (0, a past date) means already expired (RFC 9111 §5.3).
    if (!Number.isFinite(expires)) return 0;
    const date = res.date === undefined ? Number.NaN : Date.parse(res.date);
    return Math.max(0, Math.floor((expires - (Number.isFinite(date) ? date : now)) / 1000));
  }
  return undefined;
}

/** The lifetime clamped to the properties' bounds, in seconds. */
export function clampedLifetime(lifetime: number | undefined, props: PropertyValues): number {
  const min = props['latchkey.cimd.cache_min_seconds'];
  const max = Math.max(min, props['latchkey.cimd.cache_max_seconds']);
  return Math.min(max, Math.max(min, lifetime ?? props['latchkey.cimd.cache_default_seconds']));
}

/** What a valid document makes of an application: the fields it decides. */
export interface DocumentFields {
  readonly name: string;
  readonly public: boolean;
  readonly grantTypes: readonly GrantType[];
  readonly redirectUris: readonly string[];
  readonly scopes: readonly string[];
  readonly logoUri: string | null;
  readonly jwks: string | null;
  readonly jwksUri: string | null;
}

export interface DocumentDeps {
  readonly storage: Pick<Storage, 'applications' | 'scopes'> & Partial<Pick<Storage, 'audit'>>;
  readonly grants: readonly CatalogueEntry[];
}

type Json = Record<string, unknown>;

/** Validates a fetched document for `url`; returns the application fields, or throws the refusal. */
export async function validateDocument(deps: DocumentDeps, url: string, body: Buffer, props: PropertyValues): Promise<DocumentFields> {
  let doc: unknown;
  try {
    doc = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw refusal('cimd.document_not_json', 'The client ID metadata document is not valid JSON.', url, { documentProblem: factString((error as Error).message, 200) });
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw refusal('cimd.document_not_json', 'The client ID metadata document is not a JSON object.', url, { documentProblem: `it is ${Array.isArray(doc) ? 'an array' : doc === null ? 'null' : `a ${typeof doc}`}` });
  }
  const d = doc as Json;
  if (d.client_id !== url) {
    throw refusal('cimd.client_id_mismatch', 'The client_id in the client ID metadata document is not the URL it was fetched from.', url, { documentClientId: factString(d.client_id, 300) });
  }
  const invalid = (problem: string) => refusal('cimd.invalid_document', `The client ID metadata document is not acceptable: ${problem}.`, url, { documentProblem: problem });
  // ---- authentication: never a shared secret ----
  if (d.client_secret !== undefined || d.client_secret_expires_at !== undefined) {
    throw refusal('cimd.shared_secret_auth', 'The client ID metadata document carries a client secret; a client known by its document cannot have one.', url, { documentAuthMethod: 'client_secret' });
  }
  const method = d.token_endpoint_auth_method ?? 'none';
  if (typeof method !== 'string') throw invalid('token_endpoint_auth_method is not a string');
  if (SHARED_SECRET_METHODS.has(method)) {
    throw refusal('cimd.shared_secret_auth', `The client ID metadata document asks for ${factString(method, 50)}, a shared-secret method; use none or private_key_jwt.`, url, { documentAuthMethod: factString(method, 50) });
  }
  if (method !== 'none' && method !== 'private_key_jwt') throw invalid(`token_endpoint_auth_method ${factString(method, 50)} is not supported (none or private_key_jwt)`);
  // ---- redirect URIs ----
  const redirectUris = d.redirect_uris;
  const badRedirects = (problem: string) => refusal('cimd.invalid_redirect_uris', `The redirect_uris of the client ID metadata document are not acceptable: ${problem}.`, url, { documentProblem: problem });
  if (!Array.isArray(redirectUris) || redirectUris.length === 0) throw badRedirects('redirect_uris must be a non-empty array of URIs');
  if (redirectUris.length > MAX_REDIRECT_URIS) throw badRedirects(`it lists more than ${MAX_REDIRECT_URIS}`);
  for (const [i, u] of redirectUris.entries()) {
    if (typeof u !== 'string') throw badRedirects(`item ${i + 1} is not a string`);
    if (!URL.canParse(u)) throw badRedirects(`${factString(u, 200)} is not an absolute URI`);
    if (u.includes('#')) throw badRedirects(`${factString(u, 200)} contains a fragment`);
  }
  let redirects: string[];
  try {
    redirects = checkRedirectUris(redirectUris as string[]);
  } catch (error) {
    if (error instanceof RegistryError) throw badRedirects(factString(error.message, 300) ?? 'refused');
    throw error;
  }
  // ---- grant and response types ----
  const grantTypes = d.grant_types ?? ['authorization_code'];
  if (!Array.isArray(grantTypes) || grantTypes.some((g) => typeof g !== 'string')) throw invalid('grant_types is not an array of strings');
  const other = (grantTypes as string[]).filter((g) => !DOCUMENT_GRANTS.includes(g));
  if (other.length > 0) throw invalid(`grant_types may hold only authorization_code and refresh_token (got ${factString(other.join(' '), 100)})`);
  if (!(grantTypes as string[]).includes('authorization_code')) throw invalid('grant_types must include authorization_code');
  const responseTypes = d.response_types;
  if (responseTypes !== undefined && (!Array.isArray(responseTypes) || responseTypes.some((r) => r !== 'code'))) throw invalid('response_types may hold only code');
  // ---- names and URLs shown on the consent page ----
  const name = d.client_name;
  if (name !== undefined && (typeof name !== 'string' || name.trim() === '' || name.length > 200 || /[\x00-\x1f\x7f]/.test(name))) throw invalid('client_name must be a string of 1-200 printable characters');
  const web = (field: 'logo_uri' | 'client_uri', label: string): string | null => {
    const v = d[field];
    if (v === undefined) return null;
    if (typeof v !== 'string') throw invalid(`${field} is not a string`);
    try {
      return checkWebUrl(label, field, v);
    } catch (error) {
      if (error instanceof RegistryError) throw invalid(`${field}: ${factString(error.message, 200)}`);
      throw error;
    }
  };
  const logoUri = web('logo_uri', 'The logo_uri');
  web('client_uri', 'The client_uri');
  // ---- keys for private_key_jwt ----
  let jwks: string | null = null;
  let jwksUri: string | null = null;
  if (d.jwks !== undefined && d.jwks_uri !== undefined) throw invalid('it has both jwks and jwks_uri');
  try {
    if (d.jwks !== undefined) jwks = await checkJwks(JSON.stringify(d.jwks));
    if (d.jwks_uri !== undefined) {
      if (typeof d.jwks_uri !== 'string') throw invalid('jwks_uri is not a string');
      jwksUri = checkJwksUri(d.jwks_uri, policyOf(props));
    }
  } catch (error) {
    if (error instanceof RegistryError) throw invalid(factString(error.message, 300) ?? 'its keys are refused');
    throw error;
  }
  if (method === 'private_key_jwt' && jwks === null && jwksUri === null) throw invalid('private_key_jwt needs jwks or jwks_uri');
  // ---- scopes: those it names that exist here, else every auth scope but the reserved ones ----
  if (d.scope !== undefined && typeof d.scope !== 'string') throw invalid('scope is not a string');
  const known = (await deps.storage.scopes.list()).map((s) => s.name).filter((s) => s !== ADMIN_SCOPE && s !== ALL_ACCESS_SCOPE);
  const asked = typeof d.scope === 'string' ? d.scope.split(' ').filter((s) => s !== '') : undefined;
  const scopes = asked === undefined ? known : known.filter((s) => asked.includes(s));
  let grants: GrantType[];
  try {
    grants = checkGrants(grantTypes as string[], deps.grants);
  } catch (error) {
    if (error instanceof RegistryError) throw invalid(factString(error.message, 300) ?? 'grant_types');
    throw error;
  }
  return {
    name: typeof name === 'string' ? name.trim() : new URL(url).host,
    public: method === 'none',
    grantTypes: grants,
    redirectUris: redirects,
    scopes,
    logoUri,
    jwks,
    jwksUri,
  };
}

/** Whether an application already has what a document says (then nothing is written). */
function sameFields(app: Application, fields: DocumentFields): boolean {
  const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((v, i) => v === b[i]);
  return (
    app.name === fields.name &&
    app.public === fields.public &&
    same(app.grantTypes, fields.grantTypes) &&
    same(app.redirectUris, fields.redirectUris) &&
    same(app.scopes, fields.scopes) &&
    app.logoUri === fields.logoUri &&
    app.jwks === fields.jwks &&
    app.jwksUri === fields.jwksUri
  );
}

interface Freshness {
  /** The document is used without fetching until then (ms). */
  readonly freshUntil: number;
  /** A refetch failing until then keeps the application as last fetched (ms). */
  readonly graceUntil: number;
}

export interface ClientMetadataDocumentsDeps extends DocumentDeps {
  /** rateCounters: where new applications are counted for latchkey.cimd.new_clients_per_hour (without it: not limited). */
  readonly storage: Pick<Storage, 'applications' | 'scopes'> & Partial<Pick<Storage, 'audit' | 'rateCounters'>>;
  readonly cache: Pick<RegistryCache, 'applicationByClientId' | 'peekApplicationByClientId' | 'properties' | 'peekProperties' | 'check'>;
  readonly clock: Clock;
  readonly fetcher: OutboundFetcher;
  readonly logger: Logger;
}

/** The documents this process knows: fetching, validating, materializing and caching them. */
export class ClientMetadataDocuments {
  private readonly fresh = new Map<string, Freshness>();
  /** One fetch per document at a time: concurrent requests for it wait for the same one. */
  private readonly inflight = new Map<string, Promise<Application>>();

  constructor(private readonly deps: ClientMetadataDocumentsDeps) {}

  private async props(): Promise<PropertyValues> {
    return this.deps.cache.peekProperties() ?? (await this.deps.cache.properties());
  }

  /**
   * The application for a client id: the registered one when an application that did not come
   * from a document has it; for a document URL, the application its document makes (fetched when
   * stale), or the refusal; undefined when nothing has this client id.
   */
  async application(clientId: string): Promise<Application | undefined> {
    const cached = this.deps.cache.peekApplicationByClientId(clientId) ?? (await this.deps.cache.applicationByClientId(clientId));
    if (cached !== undefined && !isMetadataDocumentApplication(cached)) return cached;
    if (!looksLikeDocumentUrl(clientId)) return cached;
    const props = await this.props();
    if (!props[PROPERTY.enabled]) {
      throw refusal('cimd.disabled', 'This server does not accept client ID metadata documents; the application must be registered.', clientId, { property: PROPERTY.enabled });
    }
    const problem = documentUrlProblem(clientId);
    if (problem !== undefined) {
      throw refusal('cimd.invalid_client_id_url', `The client_id is not a valid client ID metadata document URL: ${problem}.`, clientId, { documentProblem: problem });
    }
    const host = new URL(clientId).hostname.replace(/^\[|\]$/g, '');
    const allowed = parseHostPatterns(PROPERTY.allowed, props[PROPERTY.allowed]);
    const trusted = hostMatches(host, allowed);
    if (!trusted && !props[PROPERTY.unknown]) {
      throw refusal('cimd.domain_not_trusted', `Client ID metadata documents from ${factString(host, 100)} are not trusted by this server.`, clientId, {
        clientIdHost: factString(host, 253),
        allowedDomains: allowed.slice(0, 20),
        property: PROPERTY.unknown,
        propertyValue: 'false',
      });
    }
    const now = this.deps.clock.now();
    // The row decides: an application an administrator deleted is fetched (and made) again.
    const known = cached;
    const freshness = this.fresh.get(clientId) ?? (known === undefined ? undefined : this.fromRow(known, props));
    if (known !== undefined && freshness !== undefined && now < freshness.freshUntil) return known;
    let pending = this.inflight.get(clientId);
    if (pending === undefined) {
      pending = this.refetch(clientId, known, freshness, props, !trusted).finally(() => this.inflight.delete(clientId));
      this.inflight.set(clientId, pending);
    }
    return await pending;
  }

  /** An application row this process has not fetched itself: fresh for the minimum time after its last change. */
  private fromRow(app: Application, props: PropertyValues): Freshness {
    const freshUntil = app.updatedAt + props['latchkey.cimd.cache_min_seconds'] * 1000;
    return { freshUntil, graceUntil: freshUntil + props['latchkey.cimd.stale_grace_seconds'] * 1000 };
  }

  private remember(clientId: string, freshness: Freshness): void {
    if (this.fresh.size >= MAX_ENTRIES && !this.fresh.has(clientId)) this.fresh.clear();
    this.fresh.set(clientId, freshness);
  }

  /** `limited`: a new application from this document counts against latchkey.cimd.new_clients_per_hour (a host outside the allowed domains). */
  private async refetch(url: string, known: Application | undefined, previous: Freshness | undefined, props: PropertyValues, limited: boolean): Promise<Application> {
    let res: OutboundResponse;
    try {
      res = await this.deps.fetcher.get(url, { accept: 'application/json', maxBytes: MAX_DOCUMENT_BYTES, timeoutMs: DOCUMENT_TIMEOUT_MS });
      if (res.status !== 200) throw new OutboundFailed(statusMessage(url, res.status));
    } catch (error) {
      const refused = refusalIn(error);
      if (refused !== undefined) {
        throw refusal('cimd.fetch_refused', 'The client ID metadata document URL is refused by the outbound rules of this server.', url, {
          outboundUrl: shownUrl(refused.url),
          outboundRefusal: refused.why.slice(0, 300),
          property: ALLOW_PRIVATE_PROPERTY,
          propertyValue: String(props[ALLOW_PRIVATE_PROPERTY]),
        }, `GET ${shownUrl(url)} was refused: ${refused.why}`);
      }
      const message = error instanceof Error ? error.message : String(error);
      if (/returned more than \d+ bytes/.test(message)) {
        throw refusal('cimd.document_too_large', `The client ID metadata document is larger than ${MAX_DOCUMENT_BYTES} bytes.`, url, { maxDocumentBytes: MAX_DOCUMENT_BYTES });
      }
      const now = this.deps.clock.now();
      // A known document whose refetch fails: the application as last fetched, within the grace period.
      if (known !== undefined && previous !== undefined && now < previous.graceUntil) {
        this.deps.logger.warn({ clientId: shownUrl(url), err: message }, 'client ID metadata document refetch failed; using the one last fetched');
        // Not asked again before the minimum time, and never beyond the grace.
        this.remember(url, { freshUntil: Math.min(previous.graceUntil, now + props['latchkey.cimd.cache_min_seconds'] * 1000), graceUntil: previous.graceUntil });
        return known;
      }
      throw refusal('cimd.fetch_failed', 'The client ID metadata document could not be fetched.', url, { fetchError: factString(message.replace(/\?[^ ]*/g, '?…'), 300) });
    }
    const fields = await validateDocument(this.deps, url, res.body, props);
    const now = this.deps.clock.now();
    const app = await this.materialize(url, known, fields, now, limited ? props[PROPERTY.newClients] : 0);
    const freshUntil = now + clampedLifetime(responseLifetime(res, now), props) * 1000;
    this.remember(url, { freshUntil, graceUntil: freshUntil + props['latchkey.cimd.stale_grace_seconds'] * 1000 });
    return app;
  }

  /**
   * Counts one new application against `perHour` (0: no limit) across every instance (the shared
   * rate counters on PostgreSQL); throws cimd.new_client_limit when it is over. Counters that fail
   * let it through (logged): a database hiccup must not refuse every new client.
   */
  private async countNewClient(url: string, perHour: number): Promise<void> {
    const counters = this.deps.storage.rateCounters;
    if (perHour <= 0 || counters === undefined) return;
    let allowed: boolean;
    try {
      allowed = (await counters.consume(NEW_CLIENTS_COUNTER, NEW_CLIENTS_KEY, { requests: perHour, windowSeconds: 3600 })).allowed;
    } catch (error) {
      this.deps.logger.warn({ err: error }, 'rate counters unavailable; new client ID metadata document applications are not counted meanwhile');
      return;
    }
    if (allowed) return;
    throw refusal(
      'cimd.new_client_limit',
      'This server accepts no more new clients by client ID metadata document for now; try again later.',
      url,
      { property: PROPERTY.newClients, propertyValue: String(perHour) },
      `${perHour} applications were already made from client ID metadata documents of hosts outside latchkey.cimd.allowed_domains in this hour (${PROPERTY.newClients} = ${perHour}).`,
    );
  }

  /**
   * Creates the application, or updates it when the document changed; unchanged: nothing is
   * written. A new one is first counted against `newPerHour` (countNewClient; 0: not counted).
   */
  private async materialize(url: string, known: Application | undefined, fields: DocumentFields, now: number, newPerHour: number): Promise<Application> {
    const audit = { storage: this.deps.storage, clock: this.deps.clock, actor: 'client-id-metadata-document' };
    // Another instance may have made it meanwhile: the row decides.
    const current = known ?? (await this.deps.storage.applications.byClientId(url));
    if (current !== undefined) {
      if (!isMetadataDocumentApplication(current)) return current;
      if (sameFields(current, fields)) return current;
      const updated: Application = { ...current, ...fields, updatedAt: now };
      await this.deps.storage.applications.update(updated);
      await recordChange(audit, { action: 'application.update', target: url, before: current, after: updated });
      await this.deps.cache.check();
      return updated;
    }
    await this.countNewClient(url, newPerHour);
    const app: Application = {
      id: newId(),
      clientId: url,
      ...fields,
      secretHash: null,
      secretRotatedAt: null,
      active: true,
      accessTokenLifespan: DEFAULT_ACCESS_TOKEN_LIFESPAN,
      refreshTokenLifespan: DEFAULT_REFRESH_TOKEN_LIFESPAN,
      tokenFormat: 'opaque',
      appUserId: null,
      audience: null,
      canIntrospect: false,
      adminApi: false,
      rateLimit: null,
      idTokenAlg: 'RS256',
      claimMappings: null,
      postLogoutRedirectUris: [],
      backchannelLogoutUri: null,
      backchannelLogoutSessionRequired: false,
      parRequired: false,
      origin: ORIGIN,
      createdAt: now,
      updatedAt: now,
    };
    try {
      await this.deps.storage.applications.create(app);
    } catch (error) {
      // Two instances fetched it at once: the other's row stands.
      const other = await this.deps.storage.applications.byClientId(url);
      if (other !== undefined) return other;
      throw error;
    }
    await recordChange(audit, { action: 'application.create', target: url, before: null, after: app });
    await this.deps.cache.check();
    return app;
  }

  /**
   * The registry cache as an endpoint reads it, with client ID metadata documents resolved:
   * `applicationByClientId` fetches a stale document (or refuses it), `peekApplicationByClientId`
   * never answers for a document URL (so every request goes through the checks above). `asPage`:
   * refusals as the authorization endpoint shows them (400 pages, never redirects).
   */
  view<C extends object>(cache: C, options: { readonly asPage?: boolean } = {}): C {
    const resolve = async (clientId: string): Promise<Application | undefined> => {
      try {
        return await this.application(clientId);
      } catch (error) {
        if (options.asPage === true && error instanceof OAuthError && error.status === 401) {
          throw new OAuthError({ error: 'invalid_request', status: 400, reason: error.reason, description: error.description, ...(error.hint === undefined ? {} : { hint: error.hint }), ...(error.facts === undefined ? {} : { facts: error.facts }) });
        }
        throw error;
      }
    };
    const peek = (clientId: string): Application | undefined => (looksLikeDocumentUrl(clientId) ? undefined : this.deps.cache.peekApplicationByClientId(clientId));
    // Each method bound once (and again only if the cache's own is replaced): the token endpoint
    // reads several of them per request, and a bind per read was a new function each time.
    const bound = new Map<PropertyKey, { readonly of: unknown; readonly fn: unknown }>();
    return new Proxy(cache, {
      get(target, prop) {
        if (prop === 'applicationByClientId') return resolve;
        if (prop === 'peekApplicationByClientId') return peek;
        const value: unknown = Reflect.get(target, prop, target);
        if (typeof value !== 'function') return value;
        const known = bound.get(prop);
        if (known !== undefined && known.of === value) return known.fn;
        const fn = (value as (...args: unknown[]) => unknown).bind(target);
        bound.set(prop, { of: value, fn });
        return fn;
      },
    });
  }
}
