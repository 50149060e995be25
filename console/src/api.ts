import type { Finding } from '../../src/domain/finding.js';
/**
 * The admin API client: every call goes to /admin/api/v1 with the session cookie; every
 * state-changing call carries the CSRF token from GET /session. A 401 sends the browser to the
 * console's sign-in.
 */

import type { ApplicationDetailView, ApplicationView } from '../../src/registry/application-view.js';

export const API_BASE = '/admin/api/v1';

/** Every time in an admin API answer: ISO 8601 text in UTC (src/core/timestamps.ts). */
export type Timestamp = string;
export const LOGIN_URL = '/console/login';

export interface SessionInfo {
  readonly user: { readonly name: string; readonly roles: readonly string[] };
  readonly csrfToken: string;
  readonly expiresAt: Timestamp;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    /** The whole error body (an in_use refusal's `dependants`). */
    readonly body?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}

let csrfToken: string | null = null;
/** When the last sign-in redirect was started: several 401s at once redirect once, but a redirect
 * that another navigation cancelled (a hash change right after it) must not block the next one. */
let redirectedAt = -Infinity;

function toLogin(): never {
  if (Date.now() - redirectedAt > 2_000) {
    redirectedAt = Date.now();
    window.location.assign(LOGIN_URL);
  }
  throw new ApiError(401, 'unauthenticated', 'Your console session has ended. Signing in again…');
}

async function parse(res: Response): Promise<unknown> {
  const text = await res.text();
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

export async function loadSession(): Promise<SessionInfo> {
  const res = await fetch(`${API_BASE}/session`, { credentials: 'same-origin', headers: { accept: 'application/json' }, cache: 'no-store' });
  if (res.status === 401) toLogin();
  const body = (await parse(res)) as SessionInfo & { error?: string; message?: string };
  if (!res.ok) throw new ApiError(res.status, body?.error ?? 'error', body?.message ?? `The session could not be read (${res.status}).`);
  csrfToken = body.csrfToken;
  return body;
}

export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') {
    if (csrfToken === null) await loadSession();
    headers['x-csrf-token'] = csrfToken ?? '';
  }
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${API_BASE}${path}`, {
    method,
    headers,
    credentials: 'same-origin',
    cache: 'no-store',
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (res.status === 401) toLogin();
  const data = await parse(res);
  if (!res.ok) {
    const e = (data ?? {}) as { error?: string; message?: string; field?: string };
    throw new ApiError(res.status, e.error ?? 'error', e.message ?? `The request failed (${res.status}).`, e.field, data !== null && typeof data === 'object' ? (data as Record<string, unknown>) : undefined);
  }
  return data as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown) => api<T>('POST', path, body ?? {});
export const patch = <T>(path: string, body: unknown) => api<T>('PATCH', path, body);
export const put = <T>(path: string, body: unknown) => api<T>('PUT', path, body);
export const del = <T>(path: string) => api<T>('DELETE', path);

export async function logout(): Promise<void> {
  await api('POST', '/session/logout', {});
  csrfToken = null;
}

/** Builds a query string from the non-empty values. */
export function query(params: Record<string, string | number | boolean | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '' && v !== false) q.set(k, String(v));
  const s = q.toString();
  return s === '' ? '' : `?${s}`;
}

// ---- shapes (the contract in the design; fields the server may leave out are optional) --------

// A doctor finding: the server's own type (src/domain/finding.ts, a leaf module, types only).
export type { Finding };

/** One host of a multi-host PostgreSQL URL, as last probed (GET /overview, as in /readyz). */
export interface DatabaseHost {
  readonly host: string;
  readonly role: 'primary' | 'read-only' | 'standby' | 'unreachable';
  readonly inUse: boolean;
  readonly detail?: string;
  /** The WAL timeline of a host not in recovery: of two primaries of one cluster, the higher was promoted last and is the one used. */
  readonly timeline?: number;
  /** ISO time of the last probe; null before the first. */
  readonly checkedAt: string | null;
}

export interface Overview {
  readonly counts: { readonly applications: number; readonly users: number; readonly activeTokens: number; readonly refusals24h: number };
  readonly findings: readonly Finding[];
  readonly database: { readonly kind: 'sqlite' | 'postgres' | 'memory'; readonly hosts?: readonly DatabaseHost[] };
}

/** A grant of the instance's catalogue (GET /grants): the console's application kinds and grant labels. */
export interface GrantInfo {
  readonly grantType: string;
  readonly alias: string | null;
  readonly label: string;
  readonly summary: string;
  readonly parameters: readonly { readonly name: string; readonly required: boolean; readonly description: string }[];
  readonly clientAuth: 'confidential' | 'public_allowed' | 'identifies_client';
  /** The grant types an application of this kind gets; null when it is not a kind of its own. */
  readonly preset: readonly string[] | null;
  readonly adminApi: boolean;
  readonly example: string | null;
}

/** A kind of application: a grant with a preset, named by its alias or else its grant type (as POST /applications takes it). */
export type AppKind = string;
export const kindOf = (g: GrantInfo): AppKind => g.alias ?? g.grantType;

/** The instance's grant catalogue. */
export async function loadGrants(): Promise<GrantInfo[]> {
  return list<GrantInfo>(await get('/grants'), 'grants');
}

/** The admin API's application view: one shape with the server's (src/registry/application-view.ts, its zod schema). */
export type Application = ApplicationView;

/** GET /applications/:clientId: the view and the registration of a registered client (null for others); src/registry/application-view.ts. */
export type ApplicationWithRegistration = ApplicationDetailView;
/** A dynamically registered client's registration: who registered it, its policy, its last use, when reaping deletes it. */
export type RegistrationInfo = NonNullable<ApplicationDetailView['registration']>;

export interface SecretAnswer {
  readonly application: Application;
  readonly clientSecret: string | null;
  readonly curl?: string | null;
}

export interface User {
  readonly id?: string;
  readonly userName: string;
  readonly active: boolean;
  readonly roles: readonly string[];
  readonly createdAt?: Timestamp;
  readonly updatedAt?: Timestamp;
  readonly passwordChangedAt?: Timestamp | null;
  readonly hasPassword?: boolean;
  /** OpenID Connect Core §5.1 fields (only those with a value). */
  readonly profile?: UserProfile;
}

/** A user's standard claims as the admin API names them (camelCase model names). */
export interface UserProfile {
  readonly name?: string;
  readonly givenName?: string;
  readonly familyName?: string;
  readonly email?: string;
  readonly emailVerified?: boolean;
  readonly phoneNumber?: string;
  readonly phoneNumberVerified?: boolean;
  readonly locale?: string;
  readonly zoneinfo?: string;
  readonly picture?: string;
  readonly address?: { readonly formatted?: string; readonly streetAddress?: string; readonly locality?: string; readonly region?: string; readonly postalCode?: string; readonly country?: string };
}

/** A live session of a user (GET /users/:userName/sessions): named by a handle of its stored hash, never its cookie. */
export interface SessionRow {
  readonly handle: string;
  readonly kind: 'signin' | 'console';
  readonly startedAt: Timestamp;
  readonly lastSeenAt: Timestamp;
  readonly endsAt: Timestamp;
  readonly expiresAt: Timestamp;
  readonly parent: string | null;
  /** The caller's own browser (this console session, or the sign-in it came from). */
  readonly current: boolean;
  /** A sign-in session's sid (as in its ID and logout tokens); null for a console session. */
  readonly sid: string | null;
  /** The applications given an ID token through this sign-in session. */
  readonly applications: readonly { readonly clientId: string; readonly name: string }[];
}

/** A password-attempt count (GET /locks): one user name from one source (pair), or from all (user). */
export interface LockRow {
  readonly kind: 'pair' | 'user';
  readonly userName: string;
  readonly source: string | null;
  readonly failures: number;
  readonly lastFailureAt: Timestamp;
  readonly lockedUntil: Timestamp | null;
  readonly expiresAt: Timestamp;
}

export interface Role {
  readonly name: string;
  readonly description: string;
  readonly builtIn?: boolean;
}

export type Scope = Role;

/** A resource clients may name with resource (RFC 8707): GET /resources. */
export interface ResourceView {
  readonly uri: string;
  readonly kind: 'api' | 'mcp' | 'external';
  readonly name: string;
  readonly description: string;
  /** The scopes a token for it may carry; empty: any. */
  readonly scopes: readonly string[];
  readonly key?: string;
  readonly version?: string;
}

export interface PropertyView {
  readonly name: string;
  readonly value: boolean | number | string;
  readonly default: boolean | number | string;
  readonly type: string;
  readonly description: string;
  readonly isDefault?: boolean;
  readonly min?: number;
  readonly max?: number;
  /** enum properties: the values allowed. */
  readonly values?: readonly string[];
  /** An instance switch that refuses requests: the value a report-only rule of it sets, and what that refuses (null: not such a switch). */
  readonly reportFirst?: { readonly value: boolean; readonly refuses: string } | null;
}

export interface ApiRouteView {
  readonly method: string;
  readonly path: string;
  readonly version?: string | null;
  readonly description?: string;
  readonly security: { readonly requiresAuthentication: boolean; readonly roles: readonly string[]; readonly scopes: readonly string[]; readonly authMethods: readonly string[] };
}

export interface ApiView {
  readonly namespace: string;
  readonly id: string;
  readonly name?: string;
  readonly description?: string;
  readonly versions?: readonly string[];
  /** Its own rate limits (`1000/1m`, `off`); null: the instance's latchkey.rate_limit.api / api_user. */
  readonly rateLimit?: string | null;
  readonly userRateLimit?: string | null;
  /** Every scope the API declares (API-level and per route). */
  readonly scopes?: readonly string[];
  /** Its protected resources (RFC 9728): the canonical identifier first (version null), then one per version. */
  readonly resources?: readonly { readonly resource: string; readonly metadataUrl: string; readonly version: string | null }[];
  readonly routes: readonly ApiRouteView[];
}

/** A hosted MCP server (GET /mcp-servers). */
export interface McpServerView {
  readonly kind: 'mcp';
  readonly namespace: string;
  readonly id: string;
  readonly name: string;
  readonly description?: string;
  readonly path: string;
  /** Its resource identifier (RFC 8707) and the URL of its metadata (RFC 9728); null while no issuer is known. */
  readonly resource?: string | null;
  readonly metadataUrl?: string | null;
  /** Every scope the server and its tools declare (scopes_supported). */
  readonly scopes?: readonly string[];
  readonly rateLimit: string | null;
  readonly userRateLimit: string | null;
  readonly security: { readonly requiresAuthentication: boolean; readonly scopes: readonly string[]; readonly roles: readonly string[] };
  readonly tools: readonly { readonly name: string; readonly description: string; readonly security: { readonly scopes: readonly string[]; readonly roles: readonly string[] } }[];
}

export interface TokenRow {
  /** The token's handle (tk_…): the one name of a token on every surface. */
  readonly id: string;
  readonly handle?: string;
  readonly kind: string;
  readonly format?: string;
  readonly application: string | { readonly clientId: string; readonly name: string } | null;
  readonly applicationName?: string | null;
  readonly user: string | { readonly userName?: string; readonly name?: string } | null;
  readonly scopes: readonly string[];
  readonly issuedAt: Timestamp;
  readonly expiresAt: Timestamp;
  readonly status: string;
}

export interface RefusalRow {
  readonly requestId: string;
  readonly at: Timestamp;
  readonly endpoint: string;
  readonly status: number;
  readonly error: string;
  readonly reason: string;
  readonly description: string;
  readonly hint?: string | null;
  readonly clientId?: string | null;
  readonly applicationName?: string | null;
  readonly userName?: string | null;
  readonly remoteAddress?: string | null;
  readonly explanation?: string | null;
  readonly fix?: string | null;
  readonly setting?: string | null;
  readonly link?: string | null;
  /** The handle of the token the refusal was about, when one was presented and identified. */
  readonly token?: string | null;
}

/** One refusal explained (GET /refusals/{id}): the row with the facts of this case and the fix written for it. */
export interface RefusalExplained extends RefusalRow {
  readonly outcome: 'refused' | 'would_refuse';
  readonly rule: { readonly id: string; readonly kind: string; readonly target: string; readonly mode: string } | null;
  readonly facts: Readonly<Record<string, string | number | boolean | null | readonly string[]>>;
  readonly factLabels: Readonly<Record<string, string>>;
}

/** Refusals of one reason and client (GET /refusals/groups), with their latest requests. */
export interface RefusalGroup {
  readonly key: string;
  readonly reason: string;
  readonly clientId: string | null;
  readonly applicationName: string | null;
  readonly count: number;
  readonly firstAt: Timestamp;
  readonly lastAt: Timestamp;
  readonly endpoints: readonly string[];
  readonly statuses: readonly number[];
  readonly users: readonly string[];
  readonly sources: number;
  readonly explanation: string | null;
  readonly fix: string | null;
  readonly setting: string | null;
  readonly link: string | null;
  readonly requests: readonly RefusalRow[];
}

export interface RefusalGroups {
  readonly scanned: number;
  readonly complete: boolean;
  readonly groups: readonly RefusalGroup[];
}

export interface Activity {
  /** With ?period=: the period shown (auto picks one), its buckets (every bucket, zeros included) and their time zone. */
  readonly period?: string;
  readonly periodLabel?: string;
  readonly auto?: boolean;
  readonly since?: number;
  readonly until?: number;
  readonly timeZone?: string;
  readonly bucketMs: number;
  readonly series: { readonly tokenIssued: readonly (readonly [number, number])[]; readonly apiCalls: readonly (readonly [number, number])[]; readonly refusals: readonly (readonly [number, number])[] };
  readonly refusalsByReason: readonly { readonly reason: string; readonly count: number }[];
  /** Unauthenticated refusals past the per-minute budget: counted, not recorded one by one. */
  readonly unrecorded?: { readonly total: number; readonly top: readonly { readonly endpoint: string; readonly reason: string; readonly source: string; readonly count: number; readonly lastMinute: Timestamp }[] };
}

export interface AuditEntry {
  readonly id: string;
  readonly at: Timestamp;
  readonly actor: string;
  readonly action: string;
  readonly target: string;
  readonly before: unknown;
  readonly after: unknown;
}

export interface Inspection {
  readonly token: { readonly format: string; readonly kind: string | null; readonly handle?: string | null };
  readonly found: boolean;
  readonly valid: boolean;
  readonly reason: string | null;
  readonly explanation: string | null;
  readonly application: {
    readonly clientId: string;
    readonly name: string;
    readonly active: boolean;
    readonly origin?: Application['origin'];
    /** For a registered client: its registration in brief; null otherwise. */
    readonly registration?: Pick<RegistrationInfo, 'source' | 'sourceText' | 'policy' | 'registeredAt' | 'lastUsedAt' | 'reapAt' | 'reapDue'> | null;
  } | null;
  readonly user: { readonly name: string; readonly active: boolean; readonly roles: readonly string[] } | null;
  readonly scopes: readonly string[];
  readonly effectiveScopes: readonly string[];
  /** RFC 8707: the resources the token was issued for; null: none requested. */
  readonly audience?: readonly string[] | null;
  /** RFC 9449: the thumbprint of the DPoP key the token is bound to (cnf.jkt); null: a bearer token. */
  readonly dpopJkt?: string | null;
  readonly issuedAt: Timestamp | null;
  readonly expiresAt: Timestamp | null;
  readonly apis: readonly { readonly namespace: string; readonly id: string; readonly version?: string; readonly method: string; readonly path: string; readonly accepted: boolean; readonly why: string }[];
}

export interface KeyView {
  readonly kid: string;
  readonly alg: string;
  readonly state?: string;
  readonly createdAt: Timestamp;
  readonly activatesAt: Timestamp;
  readonly retiresAt: Timestamp | null;
  readonly publishUntil: Timestamp | null;
}

export interface IdpView {
  readonly id?: string;
  readonly name: string;
  readonly issuer: string;
  readonly metadataUrl: string | null;
  readonly jwksUri: string | null;
  readonly audience: string;
  readonly userClaim: string;
  readonly userField: string;
  readonly active: boolean;
}

/** Unwraps list answers that come either as an array or as `{ <key>: [...] }`. */
export function list<T>(data: unknown, ...keys: string[]): T[] {
  if (Array.isArray(data)) return data as T[];
  if (data !== null && typeof data === 'object') {
    for (const k of [...keys, 'items', 'rows', 'data']) {
      const v = (data as Record<string, unknown>)[k];
      if (Array.isArray(v)) return v as T[];
    }
  }
  return [];
}

/** One finding of an application's posture (GET /posture; src/diagnostics/posture-findings.ts). */
export interface PostureFindingView {
  readonly id: string;
  readonly severity: 'error' | 'warning' | 'info';
  readonly title: string;
  readonly detail: string;
  readonly fix: string;
  readonly command?: string;
  readonly link: string;
}

export interface PostureCounts {
  readonly last7Days: number;
  readonly last30Days: number;
}

/** One application's posture (src/diagnostics/posture.ts ApplicationPosture, times as ISO text). */
export interface ApplicationPostureView {
  readonly clientId: string;
  readonly name: string;
  readonly active: boolean;
  readonly public: boolean;
  readonly lastUseAt: Timestamp | null;
  readonly idleDays: number;
  readonly dormant: boolean;
  readonly tokens: PostureCounts;
  readonly calls: PostureCounts;
  readonly refusals: PostureCounts;
  readonly secret: { readonly setAt: Timestamp; readonly ageDays: number; readonly rotationDueAt: Timestamp | null; readonly rotationDue: boolean } | null;
  readonly authentication: { readonly strength: 'none' | 'secret' | 'private_key_jwt'; readonly methods: readonly string[] };
  readonly allAccess: boolean;
  readonly scopes: readonly { readonly scope: string; readonly tokens30Days: number; readonly calls30Days: number; readonly lastUsedAt: Timestamp | null }[];
  readonly unusedScopes: readonly string[];
  readonly wouldRefuse: readonly { readonly ruleId: string; readonly kind: string; readonly target: string; readonly count: number; readonly lastAt: Timestamp; readonly latestRequestId: string; readonly reason: string }[];
  readonly findings: readonly PostureFindingView[];
  readonly worst: 'error' | 'warning' | 'info' | null;
}

export interface PostureReportView {
  readonly generatedAt: Timestamp;
  readonly dormantDays: number;
  readonly rotationDays: number;
  readonly countingStartedAt: Timestamp | null;
  readonly applications: readonly ApplicationPostureView[];
}

// ---- report-only rules (GET /rules, src/admin/routes/rules.ts; src/diagnostics/rules.ts) -------

export type RuleKind = 'api_requirement' | 'property' | 'application' | 'rate_limit';
export type RuleMode = 'report' | 'enforce';

/** A rule as stored (src/domain/model.ts Rule, times as ISO text). */
export interface RuleView {
  readonly id: string;
  readonly kind: RuleKind;
  readonly target: string;
  readonly spec: { readonly scopes?: readonly string[]; readonly roles?: readonly string[]; readonly grantTypes?: readonly string[]; readonly value?: string };
  readonly mode: RuleMode;
  readonly note: string | null;
  readonly createdAt: Timestamp;
  readonly createdBy: string;
  readonly updatedAt: Timestamp;
  readonly enforcedAt: Timestamp | null;
  readonly enforcedBy: string | null;
}

/** One client a rule would refuse: its requests matched in the period and the latest one kept (GET /refusals/{id} explains it). */
export interface RuleClientView {
  readonly clientId: string | null;
  readonly applicationName: string | null;
  readonly count: number;
  readonly latestAt: Timestamp | null;
  readonly latestRequestId: string | null;
  readonly reason: string | null;
  readonly userNames: readonly string[];
}

/** GET /rules/{id}: who the rule would refuse, and why. `since`: ms since the epoch. */
export interface RuleReportView {
  readonly rule: RuleView;
  readonly summary: string;
  readonly enforcing: string;
  readonly since: number;
  readonly total: number;
  readonly clients: readonly RuleClientView[];
}

/** A row of GET /rules: the report without its clients, counted. */
export type RuleRow = Omit<RuleReportView, 'clients'> & { readonly clientCount: number };

/** The body of POST /rules. */
export interface NewRule {
  readonly kind: RuleKind;
  readonly target: string;
  readonly scopes?: readonly string[];
  readonly roles?: readonly string[];
  readonly grantTypes?: readonly string[];
  readonly value?: string;
  readonly note?: string;
  readonly mode?: RuleMode;
}

const rulePath = (id: string) => `/rules/${encodeURIComponent(id)}`;

export const loadRules = (days = 7) => get<RuleRow[]>(`/rules${query({ days })}`);
export const loadRule = (id: string, days = 7) => get<RuleReportView>(`${rulePath(id)}${query({ days })}`);
export const createRule = (rule: NewRule) => post<RuleReportView>('/rules', rule);
export const enforceRule = (id: string) => post<RuleReportView>(`${rulePath(id)}/enforce`);
export const reportRule = (id: string) => post<RuleReportView>(`${rulePath(id)}/report`);
/** The path DELETE /rules/{id} takes (the Delete button's). */
export const ruleDeletePath = rulePath;
