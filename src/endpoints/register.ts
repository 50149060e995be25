import type { RefusalRecorder } from '../audit/refusals.js';
import type { Clock } from '../core/clock.js';
import { constantTimeEqual, hashSecret, randomToken, TOKEN_PREFIX } from '../core/crypto.js';
import type { Logger } from '../core/logger.js';
import { header, mediaType, type NeutralRequest, type NeutralResponse } from '../core/request.js';
import type { Application, InitialAccessToken, RegistrationPolicy, RegistrationRecord } from '../domain/model.js';
import { callerValue } from '../errors/caller-value.js';
import { invalidClientMetadata, invalidRequest, REALM } from '../errors/errors.js';
import { factString, factTime } from '../errors/fact-values.js';
import { OAuthError } from '../errors/oauth-error.js';
import type { ReasonCode } from '../errors/reasons.js';
import { createApplication, rotateSecret, updateApplication, type CatalogueEntry } from '../registry/applications.js';
import type { RegistryCache } from '../registry/cache.js';
import { checkClientMetadata, metadataOnly, type CheckedRegistration, type RegisteredMetadata } from '../registry/client-registration.js';
import { RegistryError } from '../registry/errors.js';
import { sourceOf } from '../registry/lockout.js';
import type { PropertyValues } from '../registry/properties.js';
import { rateLimitHeaders, type RateLimits, type RateVerdict } from '../registry/rate-limits.js';
import { DEFAULT_POLICY, deleteRegistered, iatState, REGISTRATION_MODE_PROPERTY, REGISTRATION_PATH, type RegistrationMode } from '../registry/registration.js';
import { StorageError, type Storage } from '../storage/types.js';
import { answer, JSON_NO_STORE } from './shared.js';

/**
 * Dynamic client registration (RFC 7591 §3) at POST /oauth/register, and the client configuration
 * endpoint (RFC 7592) at GET, PUT and DELETE /oauth/register/<client_id>.
 *
 * - latchkey.registration.mode: off (404, not in discovery), token (an initial access token as
 *   Authorization: Bearer), open (anyone; a token may still be sent, for its policy).
 * - Per source address: latchkey.rate_limit.registration, counted first (429 with Retry-After).
 * - The metadata is checked (src/registry/client-registration.ts) against the registration policy
 *   of the initial access token, else the policy named `default` when there is one.
 * - A registered client is an application of origin `registration`; its registration record keeps
 *   the SHA-256 of its registration access token, its source (`iat:<id>` or `ip:<address>`) and the
 *   fingerprint of its metadata.
 * - De-duplication: a registration from the same source with the same metadata as an existing one
 *   returns that client (same client_id) with a new registration access token and, for a
 *   confidential client, a new client secret: the old secret and token stop working (only their
 *   hashes are kept, so the old ones cannot be handed out again). It spends no use of the token.
 * - RFC 7592: the registration access token is compared by its hash in constant time; a wrong
 *   token, a missing one and an unknown client are answered 401 alike.
 */

const DOCS = 'RFC 7591 section 3';
/** Stand-in hash compared when the client is unknown, so every refused token costs the same work. */
const DUMMY_HASH = hashSecret(randomToken(TOKEN_PREFIX.registrationAccess));
const MAX_BODY = 64 * 1024;

export interface RegistrationDeps {
  readonly storage: Pick<Storage, 'applications' | 'users' | 'scopes' | 'properties' | 'tokens' | 'registrations' | 'registrationPolicies' | 'initialAccessTokens' | 'usage'> & Partial<Pick<Storage, 'audit'>>;
  readonly cache: Pick<RegistryCache, 'properties' | 'check'>;
  readonly clock: Clock;
  readonly refusals: RefusalRecorder;
  readonly logger: Logger;
  readonly rateLimits?: RateLimits | undefined;
  readonly issuer: () => string;
  readonly grants: readonly CatalogueEntry[];
}

export interface RegistrationEndpoint {
  handle(req: NeutralRequest): Promise<NeutralResponse>;
}

export function registrationMode(props: PropertyValues): RegistrationMode {
  return props[REGISTRATION_MODE_PROPERTY] as RegistrationMode;
}

function bearerToken(req: NeutralRequest): string | undefined {
  const auth = header(req, 'authorization');
  if (auth === undefined) return undefined;
  const m = /^Bearer[ ]+([\x21-\x7e]+)\s*$/i.exec(auth);
  return m === null ? '' : m[1];
}

function bearerRefusal(reason: ReasonCode, description: string): OAuthError {
  return new OAuthError({
    error: 'invalid_token',
    status: 401,
    description,
    reason,
    headers: { 'www-authenticate': `Bearer realm="${REALM}", error="invalid_token"` },
  });
}

function json(status: number, body: object, extra: Readonly<Record<string, string>> = {}): NeutralResponse {
  return { status, headers: { ...JSON_NO_STORE, ...extra }, body: JSON.stringify(body) };
}

/** The JSON object of the request body, or the refusal. */
function jsonBody(req: NeutralRequest): Record<string, unknown> {
  const media = mediaType(req.contentType);
  const bad = (problem: string) =>
    invalidClientMetadata
      .withReason('registration.body_invalid')
      .withDescription(`The client metadata must be one JSON object sent as application/json (${DOCS}.1): ${problem}.`)
      .withFacts({ registrationProblem: problem, contentType: media === undefined ? null : callerValue(media) });
  if (media !== 'application/json') throw bad(media === undefined ? 'no Content-Type' : `Content-Type ${factString(media, 80)}`);
  const text = req.body ?? '';
  if (text.length > MAX_BODY) throw bad(`larger than ${MAX_BODY / 1024} KiB`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw bad('not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw bad(`the body is ${Array.isArray(parsed) ? 'an array' : parsed === null ? 'null' : `a ${typeof parsed}`}`);
  return parsed as Record<string, unknown>;
}

export function createRegistrationEndpoint(deps: RegistrationDeps): RegistrationEndpoint {
  const now = () => deps.clock.now();
  const clientUri = (clientId: string) => `${deps.issuer().replace(/\/$/, '')}${REGISTRATION_PATH}/${encodeURIComponent(clientId)}`;

  /** The RFC 7591 §3.2.1 body: the metadata as registered, the client's credentials, its configuration endpoint. */
  function registrationBody(app: Application, record: RegistrationRecord, metadata: RegisteredMetadata, secrets: { readonly clientSecret?: string | null; readonly accessToken?: string }): object {
    return {
      client_id: app.clientId,
      ...(secrets.clientSecret ? { client_secret: secrets.clientSecret, client_secret_expires_at: 0 } : {}),
      client_id_issued_at: Math.floor(record.createdAt / 1000),
      ...(secrets.accessToken === undefined ? {} : { registration_access_token: secrets.accessToken }),
      registration_client_uri: clientUri(app.clientId),
      ...metadata,
      // A client configuration read shows the name as it is now (an administrator may rename it).
      client_name: app.name,
    };
  }

  async function registeredMetadata(record: RegistrationRecord): Promise<RegisteredMetadata> {
    try {
      return JSON.parse(record.metadata) as RegisteredMetadata;
    } catch {
      return {} as RegisteredMetadata;
    }
  }

  /** The initial access token of the request (checked usable now), or undefined in open mode without one. */
  async function initialAccessToken(req: NeutralRequest, mode: RegistrationMode): Promise<InitialAccessToken | undefined> {
    const token = bearerToken(req);
    if (token === undefined) {
      if (mode === 'open') return undefined;
      throw bearerRefusal('registration.token_missing', 'Registration needs an initial access token (Authorization: Bearer).').withFacts({ registrationMode: mode });
    }
    const iat = token === '' ? undefined : await deps.storage.initialAccessTokens.byHash(hashSecret(token));
    if (iat === undefined) throw bearerRefusal('registration.token_unknown', 'The initial access token is not valid.').withFacts({ initialAccessTokenLength: token.length });
    const state = iatState(iat, now());
    if (state !== 'active') throw unusable(iat, state);
    return iat;
  }

  function unusable(iat: InitialAccessToken, state: string): OAuthError {
    return bearerRefusal('registration.token_unusable', 'The initial access token is not valid.').withFacts({
      initialAccessTokenId: iat.id,
      initialAccessTokenState: state,
      initialAccessTokenExpiredAt: factTime(iat.expiresAt),
    });
  }

  async function policyFor(iat: InitialAccessToken | undefined): Promise<RegistrationPolicy | undefined> {
    const name = iat?.policy ?? DEFAULT_POLICY;
    const policy = await deps.storage.registrationPolicies.byName(name);
    if (policy === undefined && iat?.policy !== null && iat?.policy !== undefined) {
      // The token names a policy deleted since (removePolicy refuses while a live token names it):
      // registering without it would widen what the token allows.
      throw invalidClientMetadata
        .withReason('registration.policy_refused')
        .withDescription('The registration policy of the initial access token no longer exists.')
        .withFacts({ registrationPolicy: name, metadataField: null, initialAccessTokenId: iat.id, registrationProblem: `policy ${name} not found` });
    }
    return policy;
  }

  async function countSource(req: NeutralRequest): Promise<RateVerdict | undefined> {
    const limits = deps.rateLimits;
    if (limits === undefined) return undefined;
    await limits.ready();
    const limit = limits.instanceLimit('registration');
    if (limit === undefined) return undefined;
    const source = sourceOf(req.remoteAddress);
    const subject = () => ({ who: `Address ${source} (registration endpoint)`, change: 'Raise latchkey.rate_limit.registration if this address is a legitimate client or a proxy for many (0: no limit).' });
    return limits.enforceNow(limit, `register|${source}`, subject) ?? (await limits.enforce(limit, `register|${source}`, subject));
  }

  /** A registry refusal of the checked metadata (a name the registry refuses, say) as invalid_client_metadata. */
  function registryRefusal(error: unknown): never {
    if (error instanceof RegistryError) {
      const field = error.field === 'name' ? 'client_name' : (error.field ?? 'client metadata');
      throw invalidClientMetadata
        .withReason('registration.field_invalid')
        .withDescription(`${field}: ${error.message}`)
        .withFacts({ metadataField: field, registrationProblem: factString(error.message, 300) });
    }
    throw error;
  }

  async function register(req: NeutralRequest): Promise<NeutralResponse> {
    const props = await deps.cache.properties();
    const mode = registrationMode(props);
    if (mode === 'off') {
      throw new OAuthError({ error: 'invalid_request', status: 404, description: 'Dynamic client registration is off on this instance.', reason: 'registration.disabled', facts: { registrationMode: mode } });
    }
    const verdict = await countSource(req);
    const rate = verdict === undefined ? {} : rateLimitHeaders(verdict);
    const iat = await initialAccessToken(req, mode);
    const body = jsonBody(req);
    const policy = await policyFor(iat);
    const checked = await checkClientMetadata(deps, body, policy, props);
    const source = iat === undefined ? `ip:${sourceOf(req.remoteAddress)}` : `iat:${iat.id}`;
    const again = await reissue(source, checked);
    if (again !== undefined) return json(201, again, rate);
    if (iat !== undefined) {
      const spent = await deps.storage.initialAccessTokens.consume(iat.hash, now());
      if (spent.outcome === 'not_found') throw bearerRefusal('registration.token_unknown', 'The initial access token is not valid.').withFacts({ initialAccessTokenLength: null });
      if (spent.outcome === 'unusable') throw unusable(spent.token, iatState(spent.token, now()));
    }
    let created: Awaited<ReturnType<typeof createApplication>>;
    try {
      created = await createApplication({ ...deps, actor: `registration:${source}` }, checked.input, { origin: 'registration' });
    } catch (error) {
      registryRefusal(error);
    }
    const accessToken = randomToken(TOKEN_PREFIX.registrationAccess);
    const at = now();
    const record: RegistrationRecord = {
      clientId: created.application.clientId,
      applicationId: created.application.id,
      tokenHash: hashSecret(accessToken),
      source,
      fingerprint: checked.fingerprint,
      metadata: JSON.stringify(checked.metadata),
      policy: policy?.name ?? null,
      createdAt: at,
      updatedAt: at,
      lastUsedAt: null,
    };
    try {
      await deps.storage.registrations.create(record);
    } catch (error) {
      // The same client registered at the same moment from the same source: keep the first.
      await deps.storage.applications.delete(created.application.id);
      if (error instanceof StorageError && error.code === 'conflict') {
        const first = await reissue(source, checked);
        if (first !== undefined) return json(201, first, rate);
      }
      throw error;
    }
    return json(201, registrationBody(created.application, record, checked.metadata, { clientSecret: created.clientSecret, accessToken }), rate);
  }

  /** The existing registration of the same metadata from the same source, with new credentials; undefined when there is none. */
  async function reissue(source: string, checked: CheckedRegistration): Promise<object | undefined> {
    const existing = await deps.storage.registrations.bySourceAndFingerprint(source, checked.fingerprint);
    if (existing === undefined) return undefined;
    const app = await deps.storage.applications.byId(existing.applicationId);
    if (app === undefined) {
      // Its application was deleted by an administrator: the record is left over.
      await deps.storage.registrations.delete(existing.clientId);
      return undefined;
    }
    const accessToken = randomToken(TOKEN_PREFIX.registrationAccess);
    const at = now();
    const record = { ...existing, tokenHash: hashSecret(accessToken), updatedAt: at, lastUsedAt: at };
    const clientSecret = app.public ? null : (await rotateSecret({ ...deps, actor: `registration:${source}` }, app.clientId)).clientSecret;
    await deps.storage.registrations.update(record);
    return registrationBody(app, record, checked.metadata, { clientSecret, accessToken });
  }

  /** RFC 7592 §2: the record whose registration access token the request carries, or the 401. */
  async function authorized(req: NeutralRequest, clientId: string): Promise<{ record: RegistrationRecord; app: Application }> {
    const token = bearerToken(req);
    const record = clientId === '' ? undefined : await deps.storage.registrations.byClientId(clientId);
    const presented = hashSecret(token ?? '');
    const matches = constantTimeEqual(presented, record?.tokenHash ?? DUMMY_HASH);
    const app = record === undefined ? undefined : await deps.storage.applications.byId(record.applicationId);
    if (token === undefined || token === '' || record === undefined || !matches || app === undefined) {
      throw bearerRefusal('registration.management_token_invalid', 'The registration access token is not valid for this client.').withFacts({ registrationClientId: factString(clientId, 200) });
    }
    return { record, app };
  }

  async function read(req: NeutralRequest, clientId: string): Promise<NeutralResponse> {
    const { record, app } = await authorized(req, clientId);
    await deps.storage.registrations.touch(record.clientId, now());
    return json(200, registrationBody(app, record, await registeredMetadata(record), {}));
  }

  async function update(req: NeutralRequest, clientId: string): Promise<NeutralResponse> {
    const { record, app } = await authorized(req, clientId);
    const body = jsonBody(req);
    if (body.client_id !== clientId) {
      throw invalidClientMetadata
        .withReason('registration.client_id_mismatch')
        .withDescription('client_id: an update must carry the client_id of the client it updates (RFC 7592 section 2.2).')
        .withFacts({ registrationClientId: factString(clientId, 200), registrationProblem: `client_id sent: ${factString(String(body.client_id), 100)}` });
    }
    const props = await deps.cache.properties();
    const policy = record.policy === null ? undefined : await deps.storage.registrationPolicies.byName(record.policy);
    const checked = await checkClientMetadata(deps, metadataOnly(body), policy, props);
    let updated: Awaited<ReturnType<typeof updateApplication>>;
    try {
      updated = await updateApplication({ ...deps, actor: `registration:${record.source}` }, app.clientId, checked.input);
    } catch (error) {
      registryRefusal(error);
    }
    const at = now();
    const next: RegistrationRecord = { ...record, fingerprint: checked.fingerprint, metadata: JSON.stringify(checked.metadata), updatedAt: at, lastUsedAt: at };
    try {
      await deps.storage.registrations.update(next);
    } catch (error) {
      // Another registration of the same source has this metadata: keep this one's fingerprint.
      if (!(error instanceof StorageError && error.code === 'conflict')) throw error;
      await deps.storage.registrations.update({ ...next, fingerprint: record.fingerprint });
    }
    return json(200, registrationBody(updated.application, next, checked.metadata, { clientSecret: updated.clientSecret }));
  }

  async function remove(req: NeutralRequest, clientId: string): Promise<NeutralResponse> {
    const { record } = await authorized(req, clientId);
    await deleteRegistered(deps, record);
    return { status: 204, headers: { 'cache-control': 'no-store', pragma: 'no-cache' }, body: '' };
  }

  async function process(req: NeutralRequest): Promise<NeutralResponse> {
    const rest = req.path.slice(REGISTRATION_PATH.length);
    if (rest === '' || rest === '/') {
      if (req.method !== 'POST') {
        throw invalidRequest.withReason('request.method_not_allowed').withDescription('The registration endpoint accepts only POST.').withHeaders({ allow: 'POST' }).withFacts({ method: callerValue(req.method, 20) });
      }
      return register(req);
    }
    let clientId: string;
    try {
      clientId = decodeURIComponent(rest.slice(1));
    } catch {
      clientId = '';
    }
    const props = await deps.cache.properties();
    if (registrationMode(props) === 'off' && req.method !== 'DELETE') {
      // Registered clients keep their applications; reading or changing registrations waits until it is on again. Deleting still works.
      throw new OAuthError({ error: 'invalid_request', status: 404, description: 'Dynamic client registration is off on this instance.', reason: 'registration.disabled', facts: { registrationMode: 'off' } });
    }
    if (req.method === 'GET') return read(req, clientId);
    if (req.method === 'PUT') return update(req, clientId);
    if (req.method === 'DELETE') return remove(req, clientId);
    throw invalidRequest
      .withReason('request.method_not_allowed')
      .withDescription('The client configuration endpoint accepts GET, PUT and DELETE (RFC 7592).')
      .withHeaders({ allow: 'GET, PUT, DELETE' })
      .withFacts({ method: callerValue(req.method, 20) });
  }

  return {
    handle: (req) => answer(deps, 'register', req, (r) => process(r)),
  };
}
