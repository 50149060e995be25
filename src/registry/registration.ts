import { randomBytes } from 'node:crypto';
import { recordChange } from '../audit/log.js';
import type { Clock } from '../core/clock.js';
import { hashSecret, randomToken, TOKEN_PREFIX } from '../core/crypto.js';
import { didYouMean } from '../core/nearest.js';
import type { Application, InitialAccessToken, RegistrationPolicy, RegistrationPolicySpec, RegistrationRecord, TokenFormat } from '../domain/model.js';
import type { Storage } from '../storage/types.js';
import { deleteApplication } from './applications.js';
import { RegistryError } from './errors.js';
import { parseHostPatterns } from './properties.js';

/**
 * Dynamic client registration (RFC 7591) as the registry keeps it: registration policies (what a
 * registered client may have), initial access tokens (who may register), and reaping (registered
 * clients nobody uses). The endpoint itself is src/endpoints/register.ts; the checks of a client's
 * metadata src/registry/client-registration.ts.
 */

export const REGISTRATION_MODE_PROPERTY = 'latchkey.registration.mode';
export const REAP_AFTER_PROPERTY = 'latchkey.registration.reap_after_days';
export const REGISTRATION_RATE_PROPERTY = 'latchkey.rate_limit.registration';
export type RegistrationMode = 'off' | 'token' | 'open';
/** The policy open registrations, and initial access tokens that name none, are checked against (when it exists). */
export const DEFAULT_POLICY = 'default';
/** The grant types a client may register for: the browser flow and its refresh tokens. */
export const REGISTRABLE_GRANTS: readonly string[] = ['authorization_code', 'refresh_token'];
/** token_endpoint_auth_method values a registered client may use (RFC 7591 §2). */
export const REGISTRATION_AUTH_METHODS: readonly string[] = ['none', 'client_secret_basic', 'client_secret_post', 'private_key_jwt'];
/** OpenID Connect Dynamic Client Registration 1.0 §2 application_type. */
export const APPLICATION_TYPES: readonly string[] = ['web', 'native'];
export const TOKEN_FORMATS: readonly TokenFormat[] = ['opaque', 'jwt'];
/** The path of the registration endpoint; a client's configuration endpoint is this plus `/<client_id>` (RFC 7592 §1). */
export const REGISTRATION_PATH = '/oauth/register';

const POLICY_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const IAT_ID = /^iat_[0-9a-z]{12}$/;
const MAX_LIST = 100;
const MAX_USES = 1_000_000;
const MAX_EXPIRY_SECONDS = 10 * 365 * 86400;

type Deps = {
  storage: Pick<Storage, 'registrationPolicies' | 'initialAccessTokens' | 'scopes'> & Partial<Pick<Storage, 'audit'>>;
  clock: Clock;
  actor?: string | undefined;
};

// ---- policies -------------------------------------------------------------------------------

/** What `registration policies set` takes: each list replaces the policy's; null clears it (no restriction); absent keeps it. */
export interface PolicyInput {
  readonly description?: string | null | undefined;
  readonly grantTypes?: readonly string[] | null | undefined;
  readonly scopes?: readonly string[] | null | undefined;
  readonly redirectHosts?: readonly string[] | null | undefined;
  readonly tokenFormats?: readonly string[] | null | undefined;
  readonly authMethods?: readonly string[] | null | undefined;
  readonly applicationTypes?: readonly string[] | null | undefined;
}

const SPEC_FIELDS = ['grantTypes', 'scopes', 'redirectHosts', 'tokenFormats', 'authMethods', 'applicationTypes'] as const;
type SpecField = (typeof SPEC_FIELDS)[number];

function checkPolicyName(name: string): string {
  if (!POLICY_NAME.test(name)) {
    throw new RegistryError('invalid_input', `A registration policy name has 1-64 letters, digits, . _ or - and starts with a letter or digit (got ${JSON.stringify(name.slice(0, 80))}).`, 'name');
  }
  return name;
}

function closedList(field: SpecField, values: readonly string[], allowed: readonly string[]): string[] {
  const unique = [...new Set(values.map((v) => v.trim()).filter((v) => v !== ''))];
  for (const v of unique) {
    if (!allowed.includes(v)) throw new RegistryError('invalid_input', `${field}: ${JSON.stringify(v.slice(0, 80))} is not one of ${allowed.join(', ')}.${didYouMean(v, allowed)}`, field);
  }
  return unique;
}

async function checkSpecField(deps: Deps, field: SpecField, values: readonly string[]): Promise<string[]> {
  if (values.length > MAX_LIST) throw new RegistryError('invalid_input', `${field} holds at most ${MAX_LIST} values.`, field);
  switch (field) {
    case 'grantTypes':
      return closedList(field, values, REGISTRABLE_GRANTS);
    case 'tokenFormats':
      return closedList(field, values, TOKEN_FORMATS);
    case 'authMethods':
      return closedList(field, values, REGISTRATION_AUTH_METHODS);
    case 'applicationTypes':
      return closedList(field, values, APPLICATION_TYPES);
    case 'redirectHosts':
      try {
        return parseHostPatterns('redirectHosts', values.join(','));
      } catch (error) {
        if (error instanceof RegistryError) throw new RegistryError('invalid_input', error.message.replace('Property redirectHosts', 'redirectHosts'), field);
        throw error;
      }
    case 'scopes': {
      const unique = [...new Set(values.map((v) => v.trim()).filter((v) => v !== ''))];
      const known = (await deps.storage.scopes.list()).map((s) => s.name);
      for (const v of unique) {
        if (!known.includes(v)) throw new RegistryError('scope_not_found', `scopes: no auth scope named ${JSON.stringify(v.slice(0, 80))}.${didYouMean(v, known)}`, field);
      }
      return unique;
    }
  }
}

/** Creates the policy, or changes the fields given of an existing one. Audited as registration_policy.set. */
export async function setPolicy(deps: Deps, name: string, input: PolicyInput): Promise<RegistrationPolicy> {
  checkPolicyName(name);
  const current = await deps.storage.registrationPolicies.byName(name);
  const spec: Record<string, readonly string[]> = { ...(current?.spec ?? {}) };
  for (const field of SPEC_FIELDS) {
    const value = input[field];
    if (value === undefined) continue;
    if (value === null) delete spec[field];
    else spec[field] = await checkSpecField(deps, field, value);
  }
  let description = current?.description ?? null;
  if (input.description !== undefined) {
    const d = input.description?.trim() ?? '';
    if (d.length > 500 || /[\x00-\x1f\x7f]/.test(d)) throw new RegistryError('invalid_input', 'A policy description has at most 500 printable characters.', 'description');
    description = d === '' ? null : d;
  }
  const now = deps.clock.now();
  const policy: RegistrationPolicy = { name, description, spec: spec as RegistrationPolicySpec, createdAt: current?.createdAt ?? now, updatedAt: now };
  await deps.storage.registrationPolicies.put(policy);
  await recordChange(deps, { action: 'registration_policy.set', target: name, before: current ?? null, after: policy });
  return policy;
}

export async function findPolicy(deps: { storage: Pick<Storage, 'registrationPolicies'> }, name: string): Promise<RegistrationPolicy> {
  const policy = await deps.storage.registrationPolicies.byName(name);
  if (policy !== undefined) return policy;
  const names = (await deps.storage.registrationPolicies.list()).map((p) => p.name);
  throw new RegistryError('registration_policy_not_found', `No registration policy is named ${JSON.stringify(name.slice(0, 80))}.${didYouMean(name, names)} List them with \`latchkey registration policies list\`.`, 'name');
}

/**
 * Deletes a policy; refused while an initial access token that can still register names it (revoke
 * the token first). Registered clients keep what they were given. Audited as registration_policy.remove.
 */
export async function removePolicy(deps: Deps, name: string): Promise<RegistrationPolicy> {
  const current = await findPolicy(deps, name);
  const now = deps.clock.now();
  const users = (await deps.storage.initialAccessTokens.list()).filter((t) => t.policy === name && iatState(t, now) === 'active');
  if (users.length > 0) {
    throw new RegistryError(
      'in_use',
      `Registration policy ${name} is named by ${users.length === 1 ? 'the initial access token' : 'the initial access tokens'} ${users.map((t) => t.id).join(', ')}. Revoke ${users.length === 1 ? 'it' : 'them'} first (\`latchkey registration tokens revoke <id>\`).`,
      'name',
    );
  }
  await deps.storage.registrationPolicies.delete(name);
  await recordChange(deps, { action: 'registration_policy.remove', target: name, before: current, after: null });
  return current;
}

/** A policy's restrictions in words, one per line (for `policies show` and the console). */
export function describePolicy(spec: RegistrationPolicySpec): string[] {
  const line = (label: string, values: readonly string[] | undefined) => `${label}: ${values === undefined ? 'any' : values.length === 0 ? 'none' : values.join(', ')}`;
  return [
    line('grant types', spec.grantTypes),
    line('scopes', spec.scopes),
    line('redirect hosts', spec.redirectHosts),
    line('token formats', spec.tokenFormats),
    line('auth methods', spec.authMethods),
    line('application types', spec.applicationTypes),
  ];
}

// ---- initial access tokens ------------------------------------------------------------------

export type IatState = 'active' | 'expired' | 'revoked' | 'used_up';

export function iatState(t: InitialAccessToken, now: number): IatState {
  if (t.revokedAt !== null) return 'revoked';
  if (t.expiresAt !== null && t.expiresAt <= now) return 'expired';
  if (t.usesLeft !== null && t.usesLeft <= 0) return 'used_up';
  return 'active';
}

export interface IatInput {
  /** How many registrations it allows; undefined: no limit. */
  readonly uses?: number | undefined;
  /** Seconds until it expires; undefined: never. */
  readonly expiresInSeconds?: number | undefined;
  /** The registration policy its registrations follow; undefined: the default policy. */
  readonly policy?: string | undefined;
}

export interface CreatedIat {
  readonly record: InitialAccessToken;
  /** Shown once; only its hash is stored. */
  readonly token: string;
}

/** A new initial access token (the token itself is returned once). Audited as initial_access_token.create (without the token). */
export async function createInitialAccessToken(deps: Deps, input: IatInput): Promise<CreatedIat> {
  if (input.uses !== undefined && (!Number.isInteger(input.uses) || input.uses < 1 || input.uses > MAX_USES)) {
    throw new RegistryError('invalid_input', `--uses is a whole number from 1 to ${MAX_USES} (got ${input.uses}).`, 'uses');
  }
  if (input.expiresInSeconds !== undefined && (!Number.isInteger(input.expiresInSeconds) || input.expiresInSeconds < 1 || input.expiresInSeconds > MAX_EXPIRY_SECONDS)) {
    throw new RegistryError('invalid_input', `--expires is between 1 second and 10 years (got ${input.expiresInSeconds} s).`, 'expires');
  }
  if (input.policy !== undefined) await findPolicy(deps, input.policy);
  const now = deps.clock.now();
  const token = randomToken(TOKEN_PREFIX.initialAccess);
  const record: InitialAccessToken = {
    id: `iat_${randomBytes(9).toString('base64url').toLowerCase().replace(/[^0-9a-z]/g, '0').slice(0, 12)}`,
    hash: hashSecret(token),
    policy: input.policy ?? null,
    usesLeft: input.uses ?? null,
    expiresAt: input.expiresInSeconds === undefined ? null : now + input.expiresInSeconds * 1000,
    createdAt: now,
    createdBy: deps.actor ?? 'system',
    lastUsedAt: null,
    revokedAt: null,
  };
  await deps.storage.initialAccessTokens.create(record);
  await recordChange(deps, { action: 'initial_access_token.create', target: record.id, before: null, after: withoutHash(record) });
  return { record, token };
}

function withoutHash(t: InitialAccessToken): Omit<InitialAccessToken, 'hash'> {
  const { hash: _hash, ...rest } = t;
  return rest;
}

export async function findInitialAccessToken(deps: { storage: Pick<Storage, 'initialAccessTokens'> }, id: string): Promise<InitialAccessToken> {
  const t = IAT_ID.test(id) ? await deps.storage.initialAccessTokens.byId(id) : undefined;
  if (t === undefined) throw new RegistryError('initial_access_token_not_found', `No initial access token has the id ${JSON.stringify(id.slice(0, 40))} (ids look like iat_0123456789ab). List them with \`latchkey registration tokens list\`.`, 'id');
  return t;
}

/** Revokes an initial access token: it registers nothing more (clients it registered stay). Audited as initial_access_token.revoke. */
export async function revokeInitialAccessToken(deps: Deps, id: string): Promise<InitialAccessToken> {
  const current = await findInitialAccessToken(deps, id);
  if (current.revokedAt !== null) return current;
  const now = deps.clock.now();
  await deps.storage.initialAccessTokens.revoke(id, now);
  const revoked = { ...current, revokedAt: now };
  await recordChange(deps, { action: 'initial_access_token.revoke', target: id, before: withoutHash(current), after: withoutHash(revoked) });
  return revoked;
}

// ---- reaping --------------------------------------------------------------------------------

export interface ReapDeps {
  readonly storage: Pick<Storage, 'registrations' | 'usage' | 'applications' | 'tokens' | 'properties'> & Partial<Pick<Storage, 'audit'>>;
  readonly clock: Clock;
  readonly actor?: string | undefined;
}

export interface ReapCandidate {
  /**
   * registration: a dynamically registered client (RFC 7591); metadata_document: an active
   * application made from a client ID metadata document that never got a token or API call (made
   * again from its document on its next use).
   */
  readonly kind: 'registration' | 'metadata_document';
  readonly clientId: string;
  readonly name: string | null;
  readonly createdAt: number;
  readonly lastUsedAt: number | null;
}

export interface ReapResult {
  /** The period applied (days); 0: reaping is off and nothing was looked at. */
  readonly days: number;
  readonly cutoff: number;
  readonly candidates: readonly ReapCandidate[];
  /** How many were deleted (0 on a dry run). */
  readonly deleted: number;
  readonly dryRun: boolean;
}

const DAY_MS = 86_400_000;
const REAP_PAGE = 500;

/** latchkey.registration.reap_after_days as stored (the default when unset or unreadable). */
export async function reapAfterDays(storage: Pick<Storage, 'properties'>): Promise<number> {
  const row = (await storage.properties.list()).find((p) => p.name === REAP_AFTER_PROPERTY);
  const n = row === undefined ? NaN : Number(row.value);
  return Number.isInteger(n) && n >= 0 ? n : 30;
}

/**
 * Deletes the dynamically registered clients not used for `days` (default the property): neither
 * a token issued nor an API call counted (the usage counts, which move each registration's last
 * use forward first) nor their registration read or changed (RFC 7592) since the cutoff. Each goes
 * as `apps delete` does: its tokens revoked, then the application, then its registration record.
 * Also deletes the active client ID metadata document applications made or changed before the
 * cutoff that never got a token or API call (unusedDocumentApplications; candidates of kind
 * metadata_document).
 */
export async function reapRegistrations(deps: ReapDeps, options: { readonly days?: number | undefined; readonly dryRun?: boolean | undefined } = {}): Promise<ReapResult> {
  const days = options.days ?? (await reapAfterDays(deps.storage));
  if (!Number.isInteger(days) || days < 0 || days > 3650) throw new RegistryError('invalid_input', `--days is a whole number from 0 to 3650 (got ${days}).`, 'days');
  const now = deps.clock.now();
  const cutoff = now - days * DAY_MS;
  const dryRun = options.dryRun ?? false;
  if (days === 0) return { days, cutoff, candidates: [], deleted: 0, dryRun };
  // Usage since the cutoff: a registration used then is not a candidate (its last use moves forward).
  const lastUse = new Map<string, number>();
  for (const row of await deps.storage.usage.list({ since: cutoff })) {
    if (row.tokens + row.calls === 0) continue;
    lastUse.set(row.clientId, Math.max(lastUse.get(row.clientId) ?? 0, row.lastUseAt));
  }
  const candidates: ReapCandidate[] = [];
  let deleted = 0;
  const seen = new Set<string>();
  // A real reap pages through unusedBefore (what it deletes or touches leaves the next page); a dry
  // run changes nothing, so the same page would come back: it reads every record once instead.
  let dryPage: RegistrationRecord[] | undefined = dryRun ? (await deps.storage.registrations.list()).filter((r) => (r.lastUsedAt ?? r.createdAt) < cutoff) : undefined;
  for (;;) {
    const fetched = dryPage ?? (await deps.storage.registrations.unusedBefore(cutoff, REAP_PAGE));
    dryPage = dryRun ? [] : undefined;
    const page = fetched.filter((r) => !seen.has(r.clientId));
    if (page.length === 0) break;
    for (const record of page) {
      seen.add(record.clientId);
      const used = lastUse.get(record.clientId);
      if (used !== undefined && used >= cutoff) {
        if (!dryRun) await deps.storage.registrations.touch(record.clientId, used);
        continue;
      }
      const app = await deps.storage.applications.byId(record.applicationId);
      candidates.push({ kind: 'registration', clientId: record.clientId, name: app?.name ?? null, createdAt: record.createdAt, lastUsedAt: record.lastUsedAt });
      if (dryRun) continue;
      await deleteRegistered(deps, record);
      deleted += 1;
    }
  }
  for (const app of await unusedDocumentApplications(deps, cutoff)) {
    candidates.push({ kind: 'metadata_document', clientId: app.clientId, name: app.name, createdAt: app.createdAt, lastUsedAt: null });
    if (dryRun) continue;
    try {
      await deleteApplication(deps, app.clientId);
      deleted += 1;
    } catch (error) {
      if (!(error instanceof RegistryError && error.code === 'application_not_found')) throw error;
    }
  }
  return { days, cutoff, candidates, deleted, dryRun };
}

/**
 * The active applications made from client ID metadata documents (origin metadata_document) that
 * were neither made nor changed since the cutoff and never got a token or an API call: no usage
 * counted since they were made and no token stored for them. Anyone can have such an application
 * made (a client_id URL at the authorization endpoint), so the ones nobody used are not kept
 * forever; deleting one is harmless, the document is the registration and the application is made
 * again on its next use. Deactivated ones are kept: an administrator's decision survives.
 */
async function unusedDocumentApplications(deps: ReapDeps, cutoff: number): Promise<Application[]> {
  const unused: Application[] = [];
  for (const app of await deps.storage.applications.list()) {
    if (app.origin !== 'metadata_document' || !app.active || app.updatedAt >= cutoff) continue;
    // From the midnight of the day it was made (usage is counted by UTC day).
    const usage = await deps.storage.usage.list({ since: app.createdAt - (app.createdAt % DAY_MS), clientId: app.clientId });
    if (usage.some((row) => row.tokens + row.calls > 0)) continue;
    if ((await deps.storage.tokens.list({ applicationId: app.id, limit: 1 })).length > 0) continue;
    unused.push(app);
  }
  return unused;
}

/** Deletes a registered client: its tokens, its application, its registration record (RFC 7592 §2.3 and reaping). */
export async function deleteRegistered(deps: ReapDeps, record: RegistrationRecord): Promise<void> {
  const app = await deps.storage.applications.byId(record.applicationId);
  if (app !== undefined) {
    try {
      await deleteApplication(deps, app.clientId);
    } catch (error) {
      if (!(error instanceof RegistryError && error.code === 'application_not_found')) throw error;
    }
  }
  await deps.storage.registrations.delete(record.clientId);
}

// ---- what every surface shows of a registered client ----------------------------------------

/** The registration of one registered client as `apps show`, the admin API, the console and `inspect` show it. */
export interface RegistrationInfo {
  readonly clientId: string;
  /** Who registered it: `iat:<initial access token id>` or `ip:<address>` (open registration). */
  readonly source: string;
  /** The source in words: the initial access token's id, or the address. */
  readonly sourceText: string;
  readonly policy: string | null;
  readonly registeredAt: number;
  readonly updatedAt: number;
  /** Its last use as reaping sees it: a token issued or an API call counted, or its registration read or changed; null: never. */
  readonly lastUsedAt: number | null;
  /** latchkey.registration.reap_after_days now (0: reaping is off). */
  readonly reapAfterDays: number;
  /** When reaping would delete it if it is not used before then; null when reaping is off. */
  readonly reapAt: number | null;
  /** Whether the next reap deletes it (unused since before the cutoff). */
  readonly reapDue: boolean;
  /** Its client configuration endpoint (RFC 7592); null when no issuer is known. */
  readonly registrationClientUri: string | null;
}

export interface RegistrationInfoDeps {
  readonly storage: Pick<Storage, 'registrations' | 'usage' | 'properties'>;
  readonly clock: Clock;
}

/** The source of a registration in words: `iat:iat_…` → the token id, `ip:1.2.3.4` → the address. */
export function sourceText(source: string): string {
  if (source.startsWith('iat:')) return `initial access token ${source.slice(4)}`;
  if (source.startsWith('ip:')) return `open registration from ${source.slice(3)}`;
  return source;
}

/** RFC 7592 §1: the registration endpoint plus `/<client_id>`. */
export function registrationClientUri(issuer: string, clientId: string): string {
  return `${issuer.replace(/\/$/, '')}${REGISTRATION_PATH}/${encodeURIComponent(clientId)}`;
}

/**
 * The registrations of `clientIds` (all when undefined), with their last use and reap date as
 * reapRegistrations would judge them now: the later of the record's last use and the usage counts
 * (since the cutoff), else the registration time; deleted by the next reap when that is before the cutoff.
 */
export async function registrationInfos(deps: RegistrationInfoDeps, options: { readonly clientIds?: readonly string[]; readonly issuer?: string | undefined } = {}): Promise<RegistrationInfo[]> {
  const records =
    options.clientIds === undefined
      ? await deps.storage.registrations.list()
      : (await Promise.all(options.clientIds.map((id) => deps.storage.registrations.byClientId(id)))).filter((r): r is RegistrationRecord => r !== undefined);
  if (records.length === 0) return [];
  const days = await reapAfterDays(deps.storage);
  const now = deps.clock.now();
  const cutoff = now - days * DAY_MS;
  const lastUse = new Map<string, number>();
  // Usage of the reap period (or the last 30 days when reaping is off): what moves a last use forward.
  const since = days === 0 ? now - 30 * DAY_MS : cutoff;
  const rows = options.clientIds !== undefined && records.length === 1 ? await deps.storage.usage.list({ since, clientId: records[0]?.clientId as string }) : await deps.storage.usage.list({ since });
  for (const row of rows) {
    if (row.tokens + row.calls === 0) continue;
    lastUse.set(row.clientId, Math.max(lastUse.get(row.clientId) ?? 0, row.lastUseAt));
  }
  return records.map((r) => {
    const used = Math.max(r.lastUsedAt ?? 0, lastUse.get(r.clientId) ?? 0);
    const lastUsedAt = used === 0 ? null : used;
    const base = lastUsedAt ?? r.createdAt;
    return {
      clientId: r.clientId,
      source: r.source,
      sourceText: sourceText(r.source),
      policy: r.policy,
      registeredAt: r.createdAt,
      updatedAt: r.updatedAt,
      lastUsedAt,
      reapAfterDays: days,
      reapAt: days === 0 ? null : base + days * DAY_MS,
      reapDue: days !== 0 && base < cutoff,
      registrationClientUri: options.issuer === undefined ? null : registrationClientUri(options.issuer, r.clientId),
    };
  });
}

/** One client's registration (undefined: it has none, e.g. an application made by an administrator). */
export async function registrationInfo(deps: RegistrationInfoDeps, clientId: string, issuer?: string): Promise<RegistrationInfo | undefined> {
  return (await registrationInfos(deps, { clientIds: [clientId], issuer }))[0];
}
