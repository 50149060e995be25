import { decodeJwt, decodeProtectedHeader, type JWTPayload } from 'jose';
import type { Clock } from '../core/clock.js';
import type { Keyring } from '../keys/keyring.js';
import type { BearerValidator } from '../resource-server/bearer.js';
import type { ApiRouter } from '../resource-server/router.js';
import type { Storage } from '../storage/types.js';
import { TOKEN_PREFIX, tokenHandle, tokenKey } from '../core/crypto.js';
import type { NeutralRequest } from '../core/request.js';
import { OAuthError } from '../errors/oauth-error.js';
import { isReasonCode, reasonInfo } from '../errors/reasons.js';
import { effectiveScopes } from '../grants/scope.js';
import { presented } from '../resource-server/authenticate.js';
import { type Application, type ApplicationOrigin, type TokenKind, type TokenRecord , type ActClaim } from '../domain/model.js';
import { registrationInfo } from '../registry/registration.js';
import { StorageError } from '../storage/types.js';
import { isJwtShaped, jtiKey, AccessJwtRejected, verifyAccessJwt, type AccessJwtClaims } from '../tokens/jwt.js';
import { CompiledRules } from '../registry/rule-book.js';
import { judgeApis, judgeMcpServers, type ApiVerdict, type BearerOutcome } from './inspect-apis.js';

export type { ApiVerdict } from './inspect-apis.js';

/** What `latchkey inspect` and the console's token debugger show about one token. */
export interface Inspection {
  readonly token: {
    readonly format: 'opaque' | 'jwt' | 'unknown';
    readonly kind: TokenKind | null;
    /** The first 10 characters and '…': the only form in which the token is ever shown. */
    readonly preview: string;
    /** Its handle (tk_…, core/crypto.ts tokenHandle) when this instance has a record of it: the name every surface uses. */
    readonly handle: string | null;
  };
  /** Whether this instance has a record of the token. */
  readonly found: boolean;
  /** Usable now (as what it is: an access token on our APIs, a refresh token at the token endpoint). */
  readonly valid: boolean;
  /** The reason code (src/errors/reasons.ts) when not valid. */
  readonly reason: string | null;
  readonly explanation: string | null;
  /** For a JWT: its iss, and who would validate it (this instance, an identity provider, nobody). */
  readonly issuer: string | null;
  readonly handledBy: string;
  readonly application: {
    readonly clientId: string;
    readonly name: string;
    readonly active: boolean;
    /** How it came to be (Application.origin). */
    readonly origin: ApplicationOrigin;
    /** For a dynamically registered client: who registered it, under which policy, when reaping would delete it; else null. */
    readonly registration: InspectedRegistration | null;
  } | null;
  readonly user: { readonly name: string; readonly active: boolean; readonly roles: readonly string[] } | null;
  readonly scopes: readonly string[];
  /** Scopes in effect now: those granted, intersected with what the application allows today. */
  readonly effectiveScopes: readonly string[];
  readonly issuedAt: number | null;
  readonly expiresAt: number | null;
  /** RFC 8707: the resources the token was issued for (its audience); null: none requested (the application's audience applies). */
  readonly audience: readonly string[] | null;
  /** RFC 9449: the thumbprint of the DPoP key the token is bound to (cnf.jkt); null: a bearer token. */
  readonly dpopJkt: string | null;
  /**
   * RFC 8693 §4.1: who acts for the user (a token from a token exchange with an actor token); null:
   * nobody. `family`: the handle of the token that started its family (tk_…; an exchanged token
   * carries its subject's, so revoking that sign-in revokes it too); null when not found.
   */
  readonly act: ActClaim | null;
  readonly family: string | null;
  readonly grantType: string | null;
  readonly apis: readonly ApiVerdict[];
}

/** What inspection says of a registered client's registration (registry/registration.ts RegistrationInfo, in brief). */
export interface InspectedRegistration {
  readonly source: string;
  readonly sourceText: string;
  readonly policy: string | null;
  readonly registeredAt: number;
  readonly lastUsedAt: number | null;
  readonly reapAt: number | null;
  readonly reapDue: boolean;
}

/** The parts of the instance (a Latchkey, src/app.ts) inspection reads. */
export interface InspectDeps {
  readonly storage: Storage;
  readonly clock: Clock;
  readonly keyring: Keyring;
  readonly bearer: BearerValidator;
  readonly router: ApiRouter;
  issuer(): string;
  setDefaultIssuer(url: string): void;
}

/** Used as the issuer when none is configured and the token is not ours: it matches no token. */
const NO_ISSUER = 'urn:latchkey:issuer-not-configured';

export function preview(token: string): string {
  return token.length <= 10 ? `${token.slice(0, 3)}…` : `${token.slice(0, 10)}…`;
}

interface Verdict {
  reason: string | null;
  detail?: string;
}

function explain(v: Verdict): string | null {
  if (v.reason === null) return null;
  const base = isReasonCode(v.reason) ? reasonInfo(v.reason).explanation : v.reason;
  return v.detail === undefined ? base : `${base} ${v.detail}`;
}

/** As the bearer validator: an access token of an application whose audience is another server is refused by our APIs. */
function audienceVerdict(deps: InspectDeps, appName: string, audience: string | null): Verdict {
  if (audience === null) return { reason: null };
  const ours = knownIssuer(deps);
  if (ours === audience) return { reason: null };
  const issuer = ours === undefined ? 'this instance (no issuer is known to this run: pass --issuer to check)' : ours;
  return { reason: 'token.wrong_audience', detail: `Application "${appName}" has the audience ${audience.slice(0, 200)}; our APIs accept only tokens for ${issuer}.` };
}

async function inspectedApplication(deps: InspectDeps, app: Application): Promise<NonNullable<Inspection['application']>> {
  let registration: InspectedRegistration | null = null;
  if (app.origin === 'registration') {
    const r = await registrationInfo(deps, app.clientId);
    if (r !== undefined) registration = { source: r.source, sourceText: r.sourceText, policy: r.policy, registeredAt: r.registeredAt, lastUsedAt: r.lastUsedAt, reapAt: r.reapAt, reapDue: r.reapDue };
  }
  return { clientId: app.clientId, name: app.name, active: app.active, origin: app.origin ?? 'admin', registration };
}

/** The validity of a stored token now, by kind: the checks of the bearer validator and the refresh grant. */
async function recordVerdict(deps: InspectDeps, record: TokenRecord, now: number): Promise<{ verdict: Verdict; facts: Partial<Inspection> }> {
  const [app, user] = await Promise.all([deps.storage.applications.byId(record.applicationId), record.userId === null ? undefined : deps.storage.users.byId(record.userId)]);
  const facts: Partial<Inspection> = {
    application: app === undefined ? null : await inspectedApplication(deps, app),
    user: user === undefined ? null : { name: user.userName, active: user.active, roles: [...user.roles] },
    scopes: [...record.scopes],
    effectiveScopes: app === undefined ? [] : effectiveScopes(record.scopes, app),
    issuedAt: record.issuedAt,
    expiresAt: record.expiresAt,
  };
  const refresh = record.kind === 'refresh';
  let verdict: Verdict = { reason: null };
  if (record.status === 'rotated') verdict = { reason: 'refresh_token.reused', detail: 'This refresh token was already exchanged: presenting it again would revoke its whole family.' };
  else if (record.status === 'revoked') verdict = { reason: refresh ? 'refresh_token.revoked' : 'token.revoked', ...(record.revokedAt === null ? {} : { detail: `Revoked at ${new Date(record.revokedAt).toISOString()}.` }) };
  else if (record.expiresAt <= now) verdict = { reason: refresh ? 'refresh_token.expired' : 'token.expired', detail: `Expired at ${new Date(record.expiresAt).toISOString()}.` };
  else if (app === undefined || !app.active) verdict = { reason: 'token.application_inactive', ...(app === undefined ? {} : { detail: `Application "${app.name}" (${app.clientId}).` }) };
  else if (record.userId !== null && (user === undefined || !user.active)) verdict = { reason: 'token.user_inactive', ...(user === undefined ? {} : { detail: `User ${user.userName}.` }) };
  // A token issued for resources (RFC 8707) names its audience itself: each API decides (judgeApis).
  else if (!refresh && (record.audience === undefined || record.audience === null || record.audience.length === 0)) verdict = audienceVerdict(deps, app.name, app.audience);
  return { verdict, facts };
}

function decode(token: string): { header: { kid?: unknown }; claims: JWTPayload } | undefined {
  try {
    return { header: decodeProtectedHeader(token), claims: decodeJwt(token) };
  } catch {
    return undefined;
  }
}

/** An issuer to name the APIs' resource identifiers under: not the placeholder of a run that knows none. */
function usableIssuer(issuer: string | undefined): string | undefined {
  return issuer === undefined || issuer === NO_ISSUER ? undefined : issuer;
}

function knownIssuer(deps: InspectDeps): string | undefined {
  try {
    return deps.issuer();
  } catch {
    return undefined;
  }
}

const JWT_REASONS = { signature: 'token.signature_invalid', unknown_kid: 'token.unknown_key', expired: 'token.expired', malformed: 'token.malformed', issuer: 'token.unknown_issuer' } as const;

/** Runs the bearer validator the APIs use (one call; every route shares the outcome). */
async function bearerOutcome(deps: InspectDeps, token: string): Promise<BearerOutcome> {
  try {
    const req: NeutralRequest = { method: 'GET', path: '/api/', query: new URLSearchParams(), headers: { authorization: `Bearer ${token}` }, body: undefined, contentType: undefined, remoteAddress: '', requestId: 'inspect' };
    presented(req, undefined, ['bearer']);
    return { caller: await deps.bearer.validate(token) };
  } catch (error) {
    if (error instanceof OAuthError) return { error };
    throw error;
  }
}

/**
 * Explains one token: what it is, whose it is, whether it is valid now (and if not, the reason
 * code), and for every loaded API route whether that route would accept it and why. Read-only (it
 * revokes nothing; a rotated refresh token is only looked at). The token is never returned or
 * echoed, except as its 10-character preview.
 */
export async function inspectToken(deps: InspectDeps, raw: string): Promise<Inspection> {
  // A pasted Authorization header value is accepted too.
  const token = raw.trim().replace(/^bearer\s+/i, '');
  const now = deps.clock.now();
  let format: Inspection['token']['format'] = 'unknown';
  let kind: TokenKind | null = null;
  let record: TokenRecord | undefined;
  let verdict: Verdict = { reason: null };
  let facts: Partial<Inspection> = {};
  let issuer: string | null = null;
  let handledBy = 'this instance';

  if (isJwtShaped(token)) {
    format = 'jwt';
    kind = 'access';
    const decoded = decode(token);
    const iss = typeof decoded?.claims.iss === 'string' ? decoded.claims.iss : undefined;
    issuer = iss ?? null;
    const kid = typeof decoded?.header.kid === 'string' ? decoded.header.kid : undefined;
    const ours = kid !== undefined && (await deps.keyring.verificationKey(kid, now)) !== undefined;
    // A CLI run knows no issuer unless configured: a JWT signed with one of our keys names it.
    if (knownIssuer(deps) === undefined) deps.setDefaultIssuer(ours && iss !== undefined ? iss : NO_ISSUER);
    const own = knownIssuer(deps);
    if (decoded === undefined || iss === undefined) {
      verdict = { reason: 'token.malformed' };
    } else if (iss !== own) {
      const idp = (await deps.storage.identityProviders.list()).find((p) => p.issuer === iss);
      handledBy = idp === undefined ? 'nobody: no identity provider has this issuer' : `identity provider "${idp.name}"${idp.active ? '' : ' (inactive)'}`;
      facts = {
        issuedAt: typeof decoded.claims.iat === 'number' ? decoded.claims.iat * 1000 : null,
        expiresAt: typeof decoded.claims.exp === 'number' ? decoded.claims.exp * 1000 : null,
      };
      if (idp === undefined || !idp.active) verdict = { reason: 'token.unknown_issuer', detail: `iss ${iss.slice(0, 200)}.` };
    } else {
      let claims: AccessJwtClaims | undefined;
      try {
        claims = await verifyAccessJwt({ keyring: deps.keyring, issuer: deps.issuer, clock: deps.clock }, token);
      } catch (error) {
        if (error instanceof StorageError || !(error instanceof AccessJwtRejected)) throw error;
        verdict = { reason: JWT_REASONS[error.code], detail: error.message };
        claims = error.claims;
      }
      if (claims !== undefined) {
        record = await deps.storage.tokens.byHash(jtiKey(claims.jti));
        if (record === undefined && verdict.reason === null) verdict = { reason: 'token.unknown' };
      }
    }
  } else if (/^[A-Za-z0-9\-._~+/]+=*$/.test(token)) {
    format = 'opaque';
    kind = token.startsWith(TOKEN_PREFIX.refresh) ? 'refresh' : token.startsWith(TOKEN_PREFIX.access) ? 'access' : null;
    record = await deps.storage.tokens.byHash(tokenKey(token));
    if (record === undefined) verdict = { reason: kind === 'refresh' ? 'refresh_token.unknown' : 'token.unknown' };
  } else {
    verdict = { reason: 'token.malformed', detail: 'It is neither an opaque token nor a JWT (check for spaces or a missing part).' };
  }

  if (record !== undefined) {
    kind = record.kind;
    const judged = await recordVerdict(deps, record, now);
    facts = judged.facts;
    if (verdict.reason === null) verdict = judged.verdict;
  }

  const outcome = format === 'unknown' ? { error: new OAuthError({ error: 'invalid_request', status: 400, description: 'The Authorization header must be Bearer followed by one token.', reason: 'api.malformed_authorization' }) } : await bearerOutcome(deps, token);
  // An external token's user and scopes are known only once its provider has validated it.
  if ('caller' in outcome && record === undefined) {
    const c = outcome.caller;
    facts = { ...facts, user: c.user === null ? null : { name: c.user.name, active: true, roles: [...c.user.roles] }, scopes: [...c.scopes], effectiveScopes: [...c.scopes] };
  }
  if (!('caller' in outcome) && verdict.reason === null && record === undefined) verdict = { reason: outcome.error.reason, detail: outcome.error.description };

  const book = new CompiledRules(await deps.storage.rules.list());
  return {
    token: { format, kind, preview: preview(token), handle: record === undefined ? null : tokenHandle(record.hash) },
    found: record !== undefined,
    valid: verdict.reason === null,
    reason: verdict.reason,
    explanation: explain(verdict),
    issuer,
    handledBy,
    application: facts.application ?? null,
    user: facts.user ?? null,
    scopes: facts.scopes ?? [],
    effectiveScopes: facts.effectiveScopes ?? [],
    issuedAt: facts.issuedAt ?? null,
    expiresAt: facts.expiresAt ?? null,
    audience: record?.audience === undefined || record.audience === null || record.audience.length === 0 ? null : [...record.audience],
    dpopJkt: record?.jkt ?? null,
    act: record?.act ?? null,
    family: record === undefined ? null : tokenHandle(record.familyId),
    grantType: record?.grantType ?? null,
    apis: [...judgeApis(deps.router.list(), outcome, book, usableIssuer(knownIssuer(deps)), record?.audience), ...judgeMcpServers(deps.router.mcpServers(), outcome, usableIssuer(knownIssuer(deps)), record?.audience, book)],
  };
}
