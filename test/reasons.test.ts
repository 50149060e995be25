import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { REASON_CODES, REASONS, type ReasonCode, type ReasonInfo } from '../src/errors/reasons.js';
import { explainRefusal, factLabel, type Explanation } from '../src/diagnostics/explain.js';
import { explainText } from '../src/cli/commands/explain.js';
import { createApplication, updateApplication, type ApplicationInput } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { addResource } from '../src/registry/resources.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser, updateUser } from '../src/registry/users.js';
import { sessionHandle, tokenHandle, tokenKey } from '../src/core/crypto.js';
import { unverifiedRecordKey } from '../src/tokens/jwt.js';
import type { AuditEntry, TokenRecord } from '../src/domain/model.js';
import type { Refusal } from '../src/domain/model.js';
import { adminFetch, adminToken, sessionClient } from './helpers/admin.js';
import { apiCall, apiChallenge, assertApiRefusal, FIXTURE_APIS, type ApiCall, type ApiReply } from './helpers/api.js';
import { assertOAuthError, ManualClock, refreshCache, registryDeps, storedTokenKey, tokenRequest, type TokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { FIXTURE_REDIRECT_URI, assertErrorPage, assertErrorRedirect, authorizeUrl, codeFixture, issueCode, pkcePair, redeemCode, requestParams, signInPage } from './helpers/authorize-flow.js';
import { authorizeInBrowser, Browser, formFor, hasForm, type Page } from './helpers/browser.js';
import { calculateJwkThumbprint, decodeJwt, decodeProtectedHeader, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { accessTokenHash } from '../src/tokens/dpop.js';
import { metricsTokenHash } from '../src/metrics/endpoint.js';
import { createIdTokenMinter } from '../src/tokens/id-token.js';
import { CLIENT_ASSERTION_TYPE } from '../src/assertions/assertion.js';
import { ALLOWED_ALGORITHMS } from '../src/assertions/keys.js';
import { createIdentityProvider } from '../src/idp/registry.js';
import { DEVICE_CODE_GRANT, JWT_BEARER_GRANT } from '../src/grants/grant-type.js';
import { generateTestKey, jwksOf, signAssertion, startIdpServer, type IdpKey, type IdpServer } from './helpers/idp-server.js';
import { handleKeyPrefixes, newOpaqueToken } from '../src/core/crypto.js';
import { formatWindow } from '../src/domain/rate-limit.js';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { shellWords } from './helpers/diagnostics.js';
import { selfSignedCertificate, startDocumentServer, type DocumentServer } from './helpers/document-server.js';
import { createInitialAccessToken, revokeInitialAccessToken, setPolicy as setRegistrationPolicy } from '../src/registry/registration.js';
import { setExchangePolicy } from '../src/registry/exchange-policies.js';
import { TOKEN_EXCHANGE_GRANT } from '../src/grants/grant-type.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';

// --- what the browser-flow, assertion and identity-provider cases sent, for their facts checks ---
const sent: { code?: string; tokens?: string[]; verifier?: string; challenge?: string; jwt?: string; typo?: string } = {};
/** The named facts only (absent ones as undefined), to compare with deepEqual. */
const pick = (facts: Explanation['facts'], names: readonly string[]) => Object.fromEntries(names.map((n) => [n, facts[n]]));
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
/** The issue time an authorization code carries (the time part of lk_ac_…), which is the stored code's issuedAt. */
const codeTime = (code: string | undefined) => Number.parseInt((code ?? '').slice(6, 18), 16);
const jwksKids = (jwks: string | null) => (JSON.parse(jwks ?? '{"keys":[]}') as { keys: { kid?: string }[] }).keys.map((k) => k.kid);
const sentClaims = () => decodeJwt(sent.jwt ?? '');
const sentHeader = () => decodeProtectedHeader(sent.jwt ?? '');
const claimTime = (v: unknown) => (typeof v === 'number' ? iso(v * 1000) : null);
/** The JWT facts named equal what the JWT sent said (times as ISO 8601, absent claims as null). */
function assertJwtFacts(e: Explanation, names: readonly string[]): void {
  const c = sentClaims();
  const h = sentHeader();
  const expected: Record<string, unknown> = {
    jwtAlg: h.alg ?? null, jwtKid: h.kid ?? null, jwtIss: c.iss ?? null, jwtSub: c.sub ?? null, jwtAud: c.aud ?? null,
    jwtExp: claimTime(c.exp), jwtIat: claimTime(c.iat), jwtNbf: claimTime(c.nbf), jwtJti: c.jti ?? null,
  };
  assert.deepEqual(pick(e.facts, names), Object.fromEntries(names.map((n) => [n, expected[n]])));
}
const idpOf = async (name: string) => {
  const idp = await server.latchkey.storage.identityProviders.byName(name);
  assert.ok(idp !== undefined, name);
  return idp;
};
/** Every identity-provider refusal names the provider and what its registration expects, against what the token said. */
function assertIdpFacts(e: Explanation, idp: { name: string; issuer: string; audience: string; userClaim: string; userField: string }): void {
  assert.deepEqual(pick(e.facts, ['identityProvider', 'expectedIssuer', 'expectedAudience', 'userClaim', 'userField']), { identityProvider: idp.name, expectedIssuer: idp.issuer, expectedAudience: idp.audience, userClaim: idp.userClaim, userField: idp.userField });
  assertJwtFacts(e, ['jwtIss', 'jwtSub', 'jwtAud', 'jwtKid', 'jwtExp', 'jwtIat', 'jwtNbf', 'jwtJti']);
  assert.ok(!JSON.stringify(e.facts).includes(sent.jwt ?? '?'), 'the token itself is never a fact');
}

/** Checks an explanation's facts; `e.facts` holds every fact the reason lists (checked for all cases). */
type FactCheck = (e: Explanation, r: Refusal) => void | Promise<void>;

/**
 * `latchkey explain` of a recorded refusal, as the CLI builds it (--json) and prints it (plain): every
 * fact the catalogue lists for its reason is there, under its label in the plain text; then the case's own checks.
 */
async function checkExplanation(refusal: Refusal, check: FactCheck | undefined): Promise<Explanation> {
  const e = await explainRefusal({ storage: server.latchkey.storage, supportedGrants: [...server.latchkey.grants.keys()] }, refusal);
  const listed = (REASONS as Record<string, ReasonInfo>)[refusal.reason]?.facts ?? [];
  const missing = listed.filter((name) => !Object.hasOwn(e.facts, name));
  assert.deepEqual(missing, [], `${refusal.reason}: the explanation lacks listed facts ${missing.join(', ')} (has ${JSON.stringify(e.facts)})`);
  const text = explainText(e);
  for (const name of listed) assert.ok(text.includes(factLabel(name)), `${refusal.reason}: the plain explanation has no "${factLabel(name)}" line`);
  await check?.(e, refusal);
  return e;
}

// --- what the facts checks compare with: the stored token, the audit log, the registry now ---
/** The stored record of a token we issued (opaque or JWT). */
async function recordOf(token: string): Promise<TokenRecord> {
  const record = await server.latchkey.storage.tokens.byHash(unverifiedRecordKey(token) ?? '');
  assert.ok(record !== undefined, 'the token is stored');
  return record;
}
/** The newest audit entry of `action` about `target`. */
async function auditOf(target: string, action: string): Promise<AuditEntry> {
  const [entry] = await server.latchkey.storage.audit.list({ target, action, limit: 1 });
  assert.ok(entry !== undefined, `an audit entry ${action} for ${target}`);
  return entry;
}
const appOf = async (clientId: string) => {
  const app = await server.latchkey.storage.applications.byClientId(clientId);
  assert.ok(app !== undefined);
  return app;
};
/** Values a case's run() keeps for its facts check (a token it sent, the application it made). */
const kept: Record<string, string> = {};
/** The facts of a stored token a refusal recorded: its handle, times and scopes as stored. */
async function assertTokenFacts(e: Explanation, token: string, times: readonly ('issuedAt' | 'expiredAt' | 'revokedAt')[] = ['issuedAt']): Promise<TokenRecord> {
  const record = await recordOf(token);
  assert.equal(e.facts.token, tokenHandle(record.hash));
  assert.equal(e.token, tokenHandle(record.hash));
  const stored = { issuedAt: record.issuedAt, expiredAt: record.expiresAt, revokedAt: record.revokedAt };
  for (const name of times) assert.equal(e.facts[name], iso(stored[name] ?? NaN), name);
  return record;
}
const METRICS_PROPERTY = 'latchkey.metrics.token_sha256';

const ROPC_OFF = 'glide.oauth.inbound.ropc.grant_type.disabled';
const OAUTH_ACTIVE = 'com.snc.platform.security.oauth.is.active';
const LOCKOUT = 'latchkey.password.lockout.threshold';
const SECRET_POST = 'latchkey.client_auth.client_secret_post.enabled';
const BASIC_ON_APIS = 'latchkey.api.basic_auth.enabled';
const PW = 'a-good-password-1';

type App = { clientId: string; secret: string; name: string };
const apps: Record<string, App> = {};
const clock = new ManualClock();
let server: TestServer;

interface Case {
  readonly code: ReasonCode;
  readonly status: number;
  readonly error: string;
  /** The endpoint the refusal is recorded for (default: token). */
  readonly endpoint?: string;
  /** Fields the refusal record must carry besides the reason. */
  readonly record?: (r: Refusal) => void;
  /** The facts of this case its explanation must carry (values checked against the registry, the audit log and the stored events). */
  readonly facts?: FactCheck;
  readonly run: () => Promise<TokenResponse>;
}

const post = (req: TokenRequest) => tokenRequest(server.url, req);
/** A client id with its last character changed: a typo of a real one. */
const typo = (clientId: string) => `${clientId.slice(0, -1)}${clientId.endsWith('0') ? '1' : '0'}`;
const basic = (name: string) => [apps[name]!.clientId, apps[name]!.secret] as const;
const cc = (name: string, extra: Record<string, string> = {}) => post({ form: { grant_type: 'client_credentials', ...extra }, basic: basic(name) });
const password = (name: string, username: string, pw: string, extra: Record<string, string> = {}) =>
  post({ form: { grant_type: 'password', username, password: pw, ...extra }, basic: basic(name) });
const refresh = (name: string, token: string, extra: Record<string, string> = {}) => post({ form: { grant_type: 'refresh_token', refresh_token: token, ...extra }, basic: basic(name) });

async function withProperty<T>(name: string, value: string, restore: string, fn: () => Promise<T>, actor?: string): Promise<T> {
  await setProperty({ ...registryDeps(server, clock), actor }, name, value);
  await refreshCache(server);
  try {
    return await fn();
  } finally {
    // A millisecond later, so the audit log orders the restore after the change (entries of one millisecond have no order).
    clock.advance(1);
    await setProperty({ ...registryDeps(server, clock), actor }, name, restore);
    await refreshCache(server);
  }
}

async function refreshTokenOf(res: TokenResponse): Promise<string> {
  assert.equal(res.status, 200, res.text);
  return String(res.json?.refresh_token);
}

// --- what the facts checks compare with: the registry, the audit log and the stored tokens, read through storage ---
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const storage = () => server.latchkey.storage;
const appNow = async (clientId: string) => {
  const app = await storage().applications.byClientId(clientId);
  assert.ok(app !== undefined, clientId);
  return app;
};
/** The newest audit entries about `target` (of `action`), newest first. */
const auditsOf = (target: string, action: string) => storage().audit.list({ target, action, limit: 10 });
/** The stored token a fact's handle names (exactly one). */
async function storedByHandle(handle: unknown): Promise<TokenRecord> {
  assert.equal(typeof handle, 'string');
  for (const prefix of handleKeyPrefixes(handle as string)) {
    const found = await storage().tokens.byKeyPrefix(prefix, 2);
    if (found.length === 1) return found[0] as TokenRecord;
  }
  assert.fail(`no stored token for ${String(handle)}`);
}
/** A property's stored value now, its last property.set entry, and the value it had before that one (what the refused request ran into, when the case restored it). */
async function propertyNow(name: string) {
  const row = (await storage().properties.list()).find((p) => p.name === name);
  const [last] = await auditsOf(name, 'property.set');
  assert.ok(last !== undefined, `no property.set entry for ${name}`);
  return { value: row?.value ?? null, last, refusedWith: last.before === null ? undefined : (JSON.parse(last.before) as { value?: string }).value };
}
/** Asserts the four facts of an instance switch against the registry and the audit log; returns the value it had when refused. */
async function assertProperty(e: Explanation, name: string, actor: string): Promise<void> {
  const now = await propertyNow(name);
  // The change in force when the request was refused (a later restore does not count).
  const inForce = (await auditsOf(name, 'property.set')).find((entry) => entry.at <= Date.parse(e.at));
  assert.ok(inForce !== undefined, `no property.set entry for ${name} before the refusal`);
  assert.equal(e.facts.property, name);
  assert.equal(e.facts.propertyValue, now.value);
  assert.equal(e.facts.propertySetAt, iso(inForce.at));
  assert.equal(e.facts.propertySetBy, inForce.actor);
  assert.equal(inForce.actor, actor);
}
/** The commands a fix writes in backticks (`latchkey …`), as words. */
function fixCommands(fix: string | null): string[][] {
  return [...(fix ?? '').matchAll(/`(latchkey [^`]+)`/g)].map((m) => shellWords(m[1] ?? '').slice(1));
}
/** Runs a latchkey command on the test server's database, in process (as an administrator pasting a fix would). */
async function cliRun(words: readonly string[]): Promise<void> {
  let err = '';
  const io: IO = { out: () => {}, err: (t) => void (err += t), readStdin: async () => '' };
  const code = await main(['node', 'latchkey', ...words, '--db', server.db], io);
  assert.equal(code, 0, `latchkey ${words.join(' ')}: ${err}`);
}
/** Every supported grant (the live grant registry) is named in the text. */
function assertNamesEveryGrant(text: string | null): void {
  const supported = [...server.latchkey.grants.keys()];
  assert.ok(supported.length >= 5, supported.join(', '));
  for (const g of supported) assert.ok((text ?? '').includes(g), `the fix does not name ${g}: ${text}`);
}
/** A registered external resource (RFC 8707) accepting export.read, registered once. */
const REASONS_RESOURCE = 'https://svc.reasons.test/api';
const OTHER_RESOURCE = 'https://elsewhere.reasons.test';
let resourceRegistered: Promise<unknown> | undefined;
async function registeredResource(): Promise<void> {
  resourceRegistered ??= addResource(registryDeps(server, clock), { uri: REASONS_RESOURCE, scopes: ['export.read'] });
  await resourceRegistered;
  await refreshCache(server);
}
const cases: { limited?: string; refresh?: { rt1?: string; rt2?: string }; withdrawn?: string; unknownScope?: string } = {};

const CASES: Case[] = [
  // --- rate limits (issue 13): 429 too_many_requests ---
  {
    code: 'rate_limit.client_exceeded', status: 429, error: 'too_many_requests',
    record: (r) => assert.match(r.hint ?? '', /its own rate limit 1\/1h/),
    facts: async (e) => {
      // The application's own limit, as the registry holds it; the window frees a request within the hour.
      assert.equal((await appNow(cases.limited ?? '')).rateLimit, '1/1h');
      assert.deepEqual([e.facts.limit, e.facts.limitSource], ['1/1h', 'application.rate_limit']);
      assert.ok(typeof e.facts.retryAfterSeconds === 'number' && e.facts.retryAfterSeconds >= 1 && e.facts.retryAfterSeconds <= 3600, String(e.facts.retryAfterSeconds));
    },
    run: async () => {
      const created = await createApplication(registryDeps(server, clock), { name: 'One an hour', grantTypes: ['client_credentials'], appUser: 'svc', rateLimit: '1/1h' });
      cases.limited = created.application.clientId;
      await refreshCache(server);
      const limited = () => post({ form: { grant_type: 'client_credentials' }, basic: [created.application.clientId, created.clientSecret ?? ''] });
      assert.equal((await limited()).status, 200);
      return limited();
    },
  },
  {
    code: 'rate_limit.address_exceeded', status: 429, error: 'too_many_requests',
    facts: async (e) => {
      // The instance property in force then (the case restored it since): 1 request per the window property.
      const { refusedWith } = await propertyNow('latchkey.rate_limit.address');
      const window = Number((await storage().properties.list()).find((p) => p.name === 'latchkey.rate_limit.window_seconds')?.value ?? 60);
      assert.equal(refusedWith, '1');
      assert.deepEqual([e.facts.limit, e.facts.limitSource], [`${refusedWith}/${formatWindow(window)}`, 'latchkey.rate_limit.address']);
      assert.ok(typeof e.facts.retryAfterSeconds === 'number' && e.facts.retryAfterSeconds >= 1 && e.facts.retryAfterSeconds <= window);
    },
    run: () => withProperty('latchkey.rate_limit.address', '1', '0', async () => {
      await post({ form: { grant_type: 'client_credentials' }, basic: basic('conf') });
      return post({ form: { grant_type: 'client_credentials' }, basic: basic('conf') });
    }),
  },
  { code: 'request.invalid_content_type', status: 400, error: 'invalid_request', facts: (e) => assert.equal(e.facts.contentType, 'application/json'), run: () => post({ contentType: 'application/json', body: '{"grant_type":"client_credentials"}', basic: basic('conf') }) },
  {
    code: 'request.body_too_large', status: 400, error: 'invalid_request',
    // The test server's limit (16 KiB), and the Content-Length of the form below.
    facts: (e) => assert.deepEqual([e.facts.bodyLimit, e.facts.bodyBytes], [16 * 1024, new URLSearchParams({ grant_type: 'client_credentials', pad: 'x'.repeat(20_000) }).toString().length]),
    run: () => post({ form: { grant_type: 'client_credentials', pad: 'x'.repeat(20_000) }, basic: basic('conf') }),
  },
  { code: 'request.repeated_parameter', status: 400, error: 'invalid_request', facts: (e) => assert.equal(e.facts.repeatedParameter, 'scope'), run: () => post({ form: { grant_type: 'client_credentials', scope: ['export.read', 'export.read'] }, basic: basic('conf') }) },
  { code: 'request.credentials_in_query', status: 400, error: 'invalid_request', facts: (e) => assert.equal(e.facts.queryParameter, 'client_secret'), run: () => post({ query: 'client_secret=abc', form: { grant_type: 'client_credentials' }, basic: basic('conf') }) },
  {
    code: 'request.missing_grant_type', status: 400, error: 'invalid_request',
    facts: (e) => {
      assert.deepEqual(e.facts.supportedGrants, [...server.latchkey.grants.keys()]);
      assertNamesEveryGrant(e.fix);
    },
    run: () => post({ form: { scope: 'export.read' }, basic: basic('conf') }),
  },
  { code: 'request.missing_parameter', status: 400, error: 'invalid_request', facts: (e) => assert.deepEqual([e.facts.missingParameter, e.facts.requestedGrant], ['password', 'password']), record: (r) => assert.equal(r.applicationName, 'Confidential'), run: () => post({ form: { grant_type: 'password', username: 'alice' }, basic: basic('conf') }) },
  { code: 'request.method_not_allowed', status: 400, error: 'invalid_request', facts: (e) => assert.equal(e.facts.method, 'GET'), run: () => post({ method: 'GET', basic: basic('conf') }) },
  {
    code: 'client_auth.multiple_methods', status: 400, error: 'invalid_request',
    facts: (e) => {
      assert.deepEqual(e.facts.authMethod, ['client_secret_basic', 'client_secret_post']);
      assert.deepEqual(e.facts.acceptedAuthMethods, [...server.latchkey.clientAuthMethods.keys()]);
    },
    run: () => post({ form: { grant_type: 'client_credentials', client_id: apps.conf!.clientId, client_secret: apps.conf!.secret }, basic: basic('conf') }),
  },
  {
    code: 'client_auth.malformed_header', status: 401, error: 'invalid_client',
    facts: (e) => {
      assert.equal(e.facts.authMethod, 'client_secret_basic');
      assert.deepEqual(e.facts.acceptedAuthMethods, [...server.latchkey.clientAuthMethods.keys()]);
    },
    run: () => post({ form: { grant_type: 'client_credentials' }, headers: { authorization: 'Basic !!!' } }),
  },
  {
    code: 'client_auth.missing', status: 401, error: 'invalid_client',
    facts: (e) => assert.deepEqual(e.facts.acceptedAuthMethods, ['client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt']),
    run: () => post({ form: { grant_type: 'client_credentials' } }),
  },
  {
    code: 'client_auth.unknown_client', status: 401, error: 'invalid_client',
    record: (r) => { assert.equal(r.clientId, typo(apps.conf!.clientId)); assert.equal(r.applicationName, null); },
    facts: (e) => {
      assert.equal(e.facts.authMethod, 'client_secret_basic');
      // A one-character typo of a real client id: the nearest one, for the administrator only.
      assert.equal(e.facts.nearestClientId, apps.conf!.clientId);
      assert.ok(e.fix?.includes(apps.conf!.clientId), e.fix ?? '');
    },
    run: () => post({ form: { grant_type: 'client_credentials' }, basic: [typo(apps.conf!.clientId), 'whatever'] }),
  },
  {
    code: 'client_auth.client_secret_post_disabled', status: 401, error: 'invalid_client',
    facts: async (e) => {
      await assertProperty(e, SECRET_POST, 'admin');
      assert.equal(e.facts.authMethod, 'client_secret_post');
      assert.ok(Array.isArray(e.facts.acceptedAuthMethods) && e.facts.acceptedAuthMethods.includes('client_secret_basic') && !e.facts.acceptedAuthMethods.includes('client_secret_post'), String(e.facts.acceptedAuthMethods));
      assert.doesNotMatch(JSON.stringify(e), new RegExp(apps.conf!.secret));
    },
    run: () => withProperty(SECRET_POST, 'false', 'true', () => post({ form: { grant_type: 'client_credentials', client_id: apps.conf!.clientId, client_secret: apps.conf!.secret } }), 'admin'),
  },
  {
    code: 'client_auth.secret_mismatch', status: 401, error: 'invalid_client',
    record: (r) => { assert.equal(r.clientId, apps.conf!.clientId); assert.equal(r.applicationName, 'Confidential'); },
    facts: async (e) => {
      const app = await server.latchkey.storage.applications.byClientId(apps.conf!.clientId);
      const created = (await server.latchkey.storage.audit.list({ target: apps.conf!.clientId, action: 'application.create' }))[0];
      assert.ok(app !== undefined && created !== undefined);
      assert.equal(e.facts.authMethod, 'client_secret_basic');
      assert.equal(e.facts.secretRotatedAt, new Date(app.secretRotatedAt ?? app.createdAt).toISOString());
      assert.equal(e.facts.secretRotatedBy, created.actor);
      assert.ok(e.fix?.includes(String(e.facts.secretRotatedAt)), e.fix ?? '');
    },
    run: () => post({ form: { grant_type: 'client_credentials' }, basic: [apps.conf!.clientId, 'wrong'] }),
  },
  {
    code: 'client_auth.secret_required', status: 401, error: 'invalid_client',
    facts: (e) => assert.deepEqual([e.facts.authMethod, e.facts.applicationPublic], ['none', false]),
    run: () => post({ form: { grant_type: 'client_credentials', client_id: apps.conf!.clientId } }),
  },
  {
    code: 'client_auth.public_client_secret', status: 401, error: 'invalid_client',
    facts: (e) => assert.deepEqual([e.facts.authMethod, e.facts.applicationPublic], ['client_secret_post', true]),
    run: () => post({ form: { grant_type: 'password', username: 'alice', password: PW, client_id: apps.pub!.clientId, client_secret: 'made-up' } }),
  },
  {
    code: 'client_auth.application_inactive', status: 401, error: 'invalid_client',
    facts: async (e) => {
      // Created inactive: the creation is the deactivation the audit log knows.
      const created = (await server.latchkey.storage.audit.list({ target: apps.inactive!.clientId, action: 'application.create' }))[0];
      assert.ok(created !== undefined);
      assert.equal(e.facts.applicationActive, false);
      assert.equal(e.facts.applicationDeactivatedAt, new Date(created.at).toISOString());
      assert.equal(e.facts.applicationDeactivatedBy, created.actor);
      assert.ok(e.fix?.includes(`apps update ${apps.inactive!.clientId} --active true`), e.fix ?? '');
    },
    run: () => cc('inactive'),
  },
  {
    code: 'instance.oauth_inactive', status: 400, error: 'invalid_request',
    facts: async (e) => {
      await assertProperty(e, OAUTH_ACTIVE, 'cli:ops');
      assert.equal((await propertyNow(OAUTH_ACTIVE)).refusedWith, 'false');
    },
    run: () => withProperty(OAUTH_ACTIVE, 'false', 'true', () => cc('conf'), 'cli:ops'),
  },
  {
    code: 'grant.unsupported', status: 400, error: 'unsupported_grant_type',
    facts: (e, r) => {
      assert.deepEqual([e.facts.requestedGrant, e.facts.nearestGrant], ['client_credentails', 'client_credentials']);
      assert.deepEqual(e.facts.supportedGrants, [...server.latchkey.grants.keys()]);
      assertNamesEveryGrant(e.fix);
      assert.match(e.fix ?? '', /nearest to the one sent is client_credentials/);
      // The suggestion is the administrator's: the caller was told the grants, never "did you mean".
      assert.doesNotMatch(r.description, /nearest|mean/i);
    },
    run: () => post({ form: { grant_type: 'client_credentails' }, basic: basic('conf') }),
  },
  {
    code: 'grant.not_allowed_for_application', status: 400, error: 'unauthorized_client',
    facts: async (e) => {
      const app = await appNow(apps.pwOnly!.clientId);
      assert.deepEqual([e.facts.requestedGrant, e.facts.allowedGrants], ['client_credentials', [...app.grantTypes]]);
      // The fix is a command that works: pasted, the application allows the grant.
      const commands = fixCommands(e.fix);
      assert.deepEqual(commands, [['apps', 'update', app.clientId, '--grants', [...app.grantTypes, 'client_credentials'].join(',')]]);
      for (const c of commands) await cliRun(c);
      assert.ok((await appNow(app.clientId)).grantTypes.includes('client_credentials'));
    },
    run: () => cc('pwOnly'),
  },
  {
    code: 'grant.client_credentials_disabled', status: 400, error: 'unauthorized_client',
    facts: async (e) => {
      await assertProperty(e, CC, 'cli:ops');
      assert.equal((await propertyNow(CC)).refusedWith, 'false');
    },
    run: () => withProperty(CC, 'false', 'true', () => cc('conf'), 'cli:ops'),
  },
  {
    code: 'grant.client_credentials_public_client', status: 400, error: 'unauthorized_client',
    facts: async (e) => assert.deepEqual([e.facts.requestedGrant, e.facts.applicationPublic], ['client_credentials', (await appNow(apps.pubcc!.clientId)).public]),
    run: () => post({ form: { grant_type: 'client_credentials', client_id: apps.pubcc!.clientId } }),
  },
  {
    code: 'grant.ropc_disabled', status: 400, error: 'unauthorized_client',
    facts: async (e) => {
      await assertProperty(e, ROPC_OFF, 'admin');
      assert.equal((await propertyNow(ROPC_OFF)).refusedWith, 'true');
    },
    run: () => withProperty(ROPC_OFF, 'true', 'false', () => password('conf', 'alice', PW), 'admin'),
  },
  {
    code: 'application_user.missing', status: 400, error: 'unauthorized_client',
    facts: async (e) => {
      assert.equal((await appNow(apps.noUser!.clientId)).appUserId, null);
      assert.equal(e.facts.appUser, null);
      assert.ok((e.fix ?? '').includes(`latchkey apps update ${apps.noUser!.clientId} --app-user <user-name>`), e.fix ?? '');
    },
    run: () => cc('noUser'),
  },
  {
    code: 'application_user.inactive', status: 400, error: 'unauthorized_client', record: (r) => assert.equal(r.userName, 'svc-off'),
    facts: async (e) => {
      const user = await storage().users.byName('svc-off');
      // Created inactive (before()): the audit entry that made it so.
      const [created] = await auditsOf('svc-off', 'user.create');
      assert.ok(user !== undefined && created !== undefined);
      assert.deepEqual([e.facts.appUser, e.facts.appUserActive], [user.userName, user.active]);
      assert.deepEqual([e.facts.appUserDeactivatedAt, e.facts.appUserDeactivatedBy], [iso(created.at), created.actor]);
      assert.ok((e.fix ?? '').includes('latchkey users update svc-off --active true'), e.fix ?? '');
    },
    run: () => cc('offUser'),
  },
  {
    code: 'user.bad_credentials', status: 400, error: 'invalid_grant',
    record: (r) => assert.equal(r.userName, 'alice'),
    facts: async (e) => {
      const alice = await server.latchkey.storage.users.byName('alice');
      const [pair, all] = await server.latchkey.storage.attempts.get([{ kind: 'pair', userName: 'alice', source: '127.0.0.1' }, { kind: 'user', userName: 'alice', source: '' }], clock.now());
      assert.ok(alice !== undefined && pair !== undefined && all !== undefined);
      assert.deepEqual(
        { userExists: e.facts.userExists, userActive: e.facts.userActive, failures: e.facts.failures, threshold: e.facts.threshold, userFailures: e.facts.userFailures, userThreshold: e.facts.userThreshold, lockedUntil: e.facts.lockedUntil },
        { userExists: true, userActive: true, failures: pair.failures, threshold: 5, userFailures: all.failures, userThreshold: 50, lockedUntil: null },
      );
      assert.equal(e.facts.passwordChangedAt, new Date(alice.passwordChangedAt ?? 0).toISOString());
    },
    run: () => password('conf', 'alice', 'not-the-password'),
  },
  {
    code: 'user.inactive', status: 400, error: 'invalid_grant',
    facts: async (e, r) => {
      const bob = await server.latchkey.storage.users.byName('bob');
      const created = (await server.latchkey.storage.audit.list({ target: 'bob', action: 'user.create' }))[0];
      assert.ok(bob !== undefined && created !== undefined);
      // Answered as a wrong password; only the reason and the facts say it was the right one of an inactive user.
      assert.equal(r.description, 'The user name or password is wrong.');
      assert.equal(e.facts.userActive, false);
      assert.equal(e.facts.userDeactivatedAt, new Date(created.at).toISOString());
      assert.equal(e.facts.userDeactivatedBy, created.actor);
      assert.equal(e.facts.passwordChangedAt, new Date(bob.passwordChangedAt ?? 0).toISOString());
    },
    run: () => password('conf', 'bob', PW),
  },
  {
    code: 'user.locked_out', status: 400, error: 'invalid_grant',
    facts: async (e) => {
      const [pair] = await server.latchkey.storage.attempts.get([{ kind: 'pair', userName: 'carol', source: '127.0.0.1' }], clock.now());
      assert.ok(pair !== undefined);
      // Threshold 2 reached: the source waits 1 s after the last failure.
      assert.deepEqual(
        { lockScope: e.facts.lockScope, failures: e.facts.failures, threshold: e.facts.threshold, lockedUntil: e.facts.lockedUntil, userExists: e.facts.userExists },
        { lockScope: 'source', failures: pair.failures, threshold: 2, lockedUntil: new Date(pair.lastAt + 1000).toISOString(), userExists: true },
      );
      assert.ok(e.fix?.includes('users unlock carol'), e.fix ?? '');
    },
    run: () =>
      withProperty(LOCKOUT, '2', '5', async () => {
        for (let i = 0; i < 2; i++) assertOAuthError(await password('conf', 'carol', 'wrong-password'), 400, 'invalid_grant');
        return password('conf', 'carol', PW); // the right password, but locked out
      }),
  },
  {
    code: 'password.busy', status: 503, error: 'temporarily_unavailable',
    facts: (e, r) => {
      // The bounds the server was started with (before()), and the wait the caller was told.
      assert.deepEqual([e.facts.hashingConcurrency, e.facts.hashingQueue], [1, 2]);
      assert.equal(`Retry-After: ${e.facts.retryAfterSeconds} s.`, /Retry-After: \d+ s\./.exec(r.hint ?? '')?.[0]);
    },
    run: async () => {
      // The server hashes one password at a time with two waiting (see before()): a burst overflows it.
      const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => password('conf', `busy-${i}`, 'not-the-password')));
      const busy = answers.find((a) => a.status === 503);
      assert.ok(busy !== undefined, answers.map((a) => a.status).join(','));
      assert.match(busy.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      return busy;
    },
  },
  {
    code: 'scope.not_allowed', status: 400, error: 'invalid_scope',
    facts: async (e) => {
      const app = await appNow(apps.conf!.clientId);
      assert.ok((await storage().scopes.byName('admin.all')) !== undefined);
      assert.deepEqual(
        [e.facts.requestedScopes, e.facts.allowedScopes, e.facts.missingScopes, e.facts.scopeExists],
        [['admin.all'], [...app.scopes], ['admin.all'], true],
      );
      assert.deepEqual(fixCommands(e.fix), [['apps', 'update', app.clientId, '--scopes', [...app.scopes, 'admin.all'].join(',')]]);
    },
    run: () => cc('conf', { scope: 'admin.all' }),
  },
  {
    code: 'scope.unknown', status: 400, error: 'invalid_scope',
    facts: async (e, r) => {
      const app = await appNow(cases.unknownScope ?? '');
      assert.equal(await storage().scopes.byName('export.raed'), undefined);
      assert.deepEqual(
        [e.facts.requestedScopes, e.facts.unknownScopes, e.facts.scopeExists, e.facts.nearestScope, e.facts.allowedScopes],
        [['export.raed'], ['export.raed'], false, ['export.read'], [...app.scopes]],
      );
      // What the caller was told is the RFC's invalid_scope with the same words as for a scope the application lacks.
      assert.equal(r.description, `The application Scope typo is not allowed the scope export.raed. Allowed: ${app.scopes.join(' ')}.`);
      // The fix's commands work when pasted in order: the scope is created, then allowed, and the request succeeds.
      const commands = fixCommands(e.fix);
      assert.deepEqual(commands, [['scopes', 'create', 'export.raed'], ['apps', 'update', app.clientId, '--scopes', [...app.scopes, 'export.raed'].join(',')]]);
      assert.match(e.fix ?? '', /request export\.read instead/);
      for (const c of commands) await cliRun(c);
      await refreshCache(server);
      const again = await post({ form: { grant_type: 'client_credentials', scope: 'export.raed' }, basic: [app.clientId, apps.scopeTypo!.secret] });
      assert.equal(again.status, 200, again.text);
    },
    run: async () => {
      const created = await createApplication(registryDeps(server, clock), { name: 'Scope typo', grantTypes: ['client_credentials'], appUser: 'svc', scopes: ['export.read'] });
      cases.unknownScope = created.application.clientId;
      apps.scopeTypo = { clientId: created.application.clientId, secret: created.clientSecret ?? '', name: created.application.name };
      await refreshCache(server);
      return cc('scopeTypo', { scope: 'export.raed' });
    },
  },
  // --- resource indicators (RFC 8707): invalid_target ---
  {
    code: 'resource.invalid', status: 400, error: 'invalid_target',
    facts: async (e) => assert.deepEqual([e.facts.requestedResource, e.facts.resourceProblem], ['https://svc.reasons.test/api#part', 'fragment']),
    run: () => cc('conf', { resource: 'https://svc.reasons.test/api#part' }),
  },
  {
    code: 'resource.unknown', status: 400, error: 'invalid_target',
    facts: async (e) => {
      // A typo of a registered resource: the nearest known one is named.
      assert.deepEqual([e.facts.requestedResource, e.facts.nearestResource], ['https://svc.reasons.test/apj', REASONS_RESOURCE]);
      assert.ok(e.fix?.includes('latchkey resources add'), e.fix ?? '');
    },
    run: async () => {
      await registeredResource();
      return cc('conf', { resource: 'https://svc.reasons.test/apj' });
    },
  },
  {
    code: 'resource.not_allowed', status: 400, error: 'invalid_target',
    facts: async (e, r) => {
      assert.deepEqual([e.facts.requestedResource, e.facts.allowedResources], [REASONS_RESOURCE, [...((await appNow(r.clientId ?? '')).resources ?? [])]]);
      assert.deepEqual(e.facts.allowedResources, ['https://other.reasons.test']);
    },
    run: async () => {
      await registeredResource();
      const created = await createApplication(registryDeps(server, clock), { name: 'Limited to another resource', grantTypes: ['client_credentials'], appUser: 'svc', resources: ['https://other.reasons.test'] });
      await refreshCache(server);
      return post({ form: { grant_type: 'client_credentials', resource: REASONS_RESOURCE }, basic: [created.application.clientId, created.clientSecret ?? ''] });
    },
  },
  {
    code: 'resource.not_granted', status: 400, error: 'invalid_target',
    facts: async (e) => assert.deepEqual([e.facts.requestedResource, e.facts.grantedResources], [REASONS_RESOURCE, []]),
    // A refresh token of a grant made without a resource may not widen to one.
    run: async () => {
      await registeredResource();
      return refresh('conf', await refreshTokenOf(await password('conf', 'alice', PW)), { resource: REASONS_RESOURCE });
    },
  },
  {
    code: 'resource.scope_not_accepted', status: 400, error: 'invalid_scope',
    facts: async (e) => {
      assert.deepEqual([e.facts.requestedResource, e.facts.acceptedScopes, e.facts.scopesNotAccepted, e.facts.requestedScopes], [REASONS_RESOURCE, ['export.read'], ['export.write'], ['export.write']]);
      assert.ok(e.fix?.includes('latchkey resources update'), e.fix ?? '');
    },
    run: async () => {
      await registeredResource();
      return cc('conf', { resource: REASONS_RESOURCE, scope: 'export.write' });
    },
  },
  {
    code: 'scope.withdrawn', status: 400, error: 'invalid_scope',
    facts: async (e, r) => {
      const app = await appNow(cases.withdrawn ?? '');
      const stored = await storedByHandle(e.facts.token);
      const [update] = await auditsOf(app.clientId, 'application.update');
      assert.ok(update !== undefined);
      assert.deepEqual(
        [e.facts.requestedScopes, e.facts.tokenScopes, e.facts.withdrawnScopes, e.facts.allowedScopes],
        [['export.write'], [...stored.scopes], ['export.write'], [...app.scopes]],
      );
      assert.deepEqual([e.facts.withdrawnAt, e.facts.withdrawnBy], [iso(update.at), update.actor]);
      assert.equal(update.actor, 'cli:scope-keeper');
      assert.equal(r.description, 'The application Scopes withdrawn is no longer allowed the scope export.write.');
      assert.match(e.fix ?? '', /refresh with scope=export\.read/);
    },
    run: async () => {
      const deps = registryDeps(server, clock);
      const created = await createApplication(deps, { name: 'Scopes withdrawn', grantTypes: ['password'], scopes: ['export.read', 'export.write'] });
      cases.withdrawn = created.application.clientId;
      apps.withdrawn = { clientId: created.application.clientId, secret: created.clientSecret ?? '', name: created.application.name };
      await refreshCache(server);
      const rt = await refreshTokenOf(await password('withdrawn', 'alice', PW, { scope: 'export.read export.write' }));
      await updateApplication({ ...deps, actor: 'cli:scope-keeper' }, created.application.clientId, { scopes: ['export.read'] });
      await refreshCache(server);
      return refresh('withdrawn', rt, { scope: 'export.write' });
    },
  },
  {
    code: 'scope.malformed', status: 400, error: 'invalid_request',
    facts: (e) => assert.equal(e.facts.scopeProblem, 'two spaces in a row at character 12'),
    run: () => cc('conf', { scope: 'export.read  export.write' }),
  },
  {
    code: 'scope.broader_than_grant', status: 400, error: 'invalid_scope',
    facts: async (e) => {
      const stored = await storedByHandle(e.facts.token);
      assert.deepEqual(
        [e.facts.requestedScopes, e.facts.tokenScopes, e.facts.scopesBeyondGrant, e.facts.issuedAt],
        [['export.write'], [...stored.scopes], ['export.write'], iso(stored.issuedAt)],
      );
      assert.deepEqual(stored.scopes, ['export.read']);
    },
    run: async () => refresh('conf', await refreshTokenOf(await password('conf', 'alice', PW, { scope: 'export.read' })), { scope: 'export.write' }),
  },
  {
    code: 'refresh_token.unknown', status: 400, error: 'invalid_grant',
    facts: async (e) => {
      // Well-formed, never stored: its handle names nothing, its time part is when it claims to be from.
      assert.equal(e.facts.token, tokenHandle(storedTokenKey(cases.refresh?.rt1 ?? '')));
      assert.deepEqual(await storage().tokens.byKeyPrefix(handleKeyPrefixes(String(e.facts.token))[0] ?? '', 2), []);
      assert.match(String(e.facts.tokenShape), /refresh token in this server's format that is not stored/);
      assert.equal(e.facts.issuedAt, iso(clock.now() - 3_600_000));
    },
    run: () => {
      const never = newOpaqueToken('lk_rt_', clock.now() - 3_600_000);
      cases.refresh = { rt1: never };
      return refresh('conf', never);
    },
  },
  {
    code: 'refresh_token.expired', status: 400, error: 'invalid_grant',
    facts: async (e) => {
      const stored = await storedByHandle(e.facts.token);
      const app = await appNow(apps.short!.clientId);
      assert.deepEqual([e.facts.issuedAt, e.facts.expiredAt, e.facts.refreshTokenLifespan], [iso(stored.issuedAt), iso(stored.expiresAt), app.refreshTokenLifespan]);
      assert.ok(stored.expiresAt < clock.now());
      assert.ok((e.fix ?? '').includes(`latchkey apps update ${app.clientId} --refresh-token-lifespan <duration>`), e.fix ?? '');
    },
    run: async () => {
      const rt = await refreshTokenOf(await password('short', 'alice', PW));
      clock.advance(2000);
      return refresh('short', rt);
    },
  },
  {
    code: 'refresh_token.revoked', status: 400, error: 'invalid_grant',
    facts: async (e) => {
      const stored = await storedByHandle(e.facts.token);
      assert.equal(e.facts.token, tokenHandle(storedTokenKey(cases.refresh?.rt2 ?? '')));
      assert.deepEqual([e.facts.issuedAt, e.facts.revokedAt], [iso(stored.issuedAt), iso(stored.revokedAt)]);
      // Revoked with its family when rt1 was reused: the audit entry of that revocation names the actor.
      const [entry] = await auditsOf(apps.conf!.clientId, 'token.revoke_family');
      assert.ok(entry !== undefined);
      assert.equal(JSON.parse(entry.after ?? '{}').token, tokenHandle(storedTokenKey(cases.refresh?.rt1 ?? '')));
      assert.equal(e.facts.revokedBy, `${entry.actor} (${entry.action})`);
      assert.equal(entry.actor, 'system');
    },
    run: async () => {
      // Reuse of rt1 revokes the family, so the newest refresh token rt2 is now revoked.
      const rt1 = await refreshTokenOf(await password('conf', 'alice', PW));
      const rt2 = await refreshTokenOf(await refresh('conf', rt1));
      cases.refresh = { rt1, rt2 };
      assertOAuthError(await refresh('conf', rt1), 400, 'invalid_grant');
      return refresh('conf', rt2);
    },
  },
  {
    code: 'refresh_token.reused', status: 400, error: 'invalid_grant',
    facts: async (e) => {
      const stored = await storedByHandle(e.facts.token);
      const replacement = await storage().tokens.byHash(storedTokenKey(cases.refresh?.rt2 ?? ''));
      assert.ok(replacement !== undefined);
      assert.equal(e.facts.token, tokenHandle(storedTokenKey(cases.refresh?.rt1 ?? '')));
      assert.deepEqual([e.facts.issuedAt, e.facts.exchangedAt, e.facts.revokedAt], [iso(stored.issuedAt), iso(replacement.issuedAt), iso(stored.revokedAt)]);
      // The family revoked now: both refresh tokens and both access tokens of the sign-in.
      const family = (await storage().tokens.list({ applicationId: stored.applicationId, limit: 100 })).filter((t) => t.familyId === stored.familyId);
      assert.equal(e.facts.familyRevoked, family.filter((t) => t.status === 'revoked' && t.revokedAt === stored.revokedAt).length);
      assert.equal(e.facts.familyRevoked, 4);
    },
    run: async () => {
      const rt = await refreshTokenOf(await password('conf', 'alice', PW));
      cases.refresh = { rt1: rt, rt2: await refreshTokenOf(await refresh('conf', rt)) };
      return refresh('conf', rt);
    },
  },
  {
    code: 'refresh_token.wrong_client', status: 400, error: 'invalid_grant',
    facts: async (e) => {
      const stored = await storedByHandle(e.facts.token);
      const owner = await storage().applications.byId(stored.applicationId);
      assert.equal(owner?.clientId, apps.conf!.clientId);
      assert.deepEqual([e.facts.tokenApplication, e.facts.issuedAt], [`${owner?.name} (client id ${owner?.clientId})`, iso(stored.issuedAt)]);
    },
    run: async () => {
      const rt = await refreshTokenOf(await password('conf', 'alice', PW));
      return post({ form: { grant_type: 'refresh_token', refresh_token: rt, client_id: apps.pub!.clientId } });
    },
  },
  // --- token endpoint cases: authorization code (issue 4) ---
  {
    code: 'authorization_code.unknown', status: 400, error: 'invalid_grant',
    // A code of our shape issued five minutes ago (long expired, and deleted): its time part says when.
    facts: (e) => {
      const issued = clock.now() - 5 * 60_000;
      assert.deepEqual(pick(e.facts, ['codeShape', 'codeLength', 'issuedAt', 'expiredAt']), { codeShape: 'authorization_code', codeLength: 61, issuedAt: iso(issued), expiredAt: iso(issued + 60_000) });
      assert.ok(!JSON.stringify(e.facts).includes(sent.code ?? '?'), 'the code itself is never a fact');
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      sent.code = `lk_ac_${(clock.now() - 5 * 60_000).toString(16).padStart(12, '0')}${'A'.repeat(43)}`;
      return redeemCode(server, fx, { code: sent.code, redirect_uri: fx.redirectUri, code_verifier: pkcePair().verifier });
    },
  },
  {
    code: 'authorization_code.expired', status: 400, error: 'invalid_grant',
    facts: async (e, r) => {
      const fx = await codeFixture(server, clock);
      const issued = codeTime(sent.code);
      assert.deepEqual(pick(e.facts, ['issuedAt', 'expiredAt', 'codeClientId', 'codeRedirectUri']), { issuedAt: iso(issued), expiredAt: iso(issued + 60_000), codeClientId: fx.confidential.clientId, codeRedirectUri: fx.redirectUri });
      assert.ok(r.at > issued + 60_000);
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code, verifier } = await issueCode(server, fx);
      sent.code = code;
      clock.advance(61_000);
      try {
        return await redeemCode(server, fx, { code, redirect_uri: fx.redirectUri, code_verifier: verifier });
      } finally {
        clock.advance(-61_000); // the shared clock stays near real time for the cases after this one
      }
    },
  },
  {
    code: 'authorization_code.reused', status: 400, error: 'invalid_grant',
    record: (r) => assert.equal(r.applicationName, 'Code flow (confidential)'),
    facts: async (e) => {
      const fx = await codeFixture(server, clock);
      // Redeemed first when the tokens were issued; both of them (access and refresh) revoked now.
      const tokens = await Promise.all((sent.tokens ?? []).map((t) => server.latchkey.storage.tokens.byHash(storedTokenKey(t))));
      assert.equal(tokens.length, 2);
      assert.ok(tokens.every((t) => t?.status === 'revoked'));
      assert.deepEqual(pick(e.facts, ['issuedAt', 'codeUsedAt', 'codeClientId', 'tokensRevoked']), { issuedAt: iso(codeTime(sent.code)), codeUsedAt: iso(tokens[0]!.issuedAt), codeClientId: fx.confidential.clientId, tokensRevoked: 2 });
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code, verifier } = await issueCode(server, fx);
      sent.code = code;
      const first = await redeemCode(server, fx, { code, redirect_uri: fx.redirectUri, code_verifier: verifier });
      assert.equal(first.status, 200, first.text);
      sent.tokens = [String(first.json?.access_token), String(first.json?.refresh_token)];
      const second = await redeemCode(server, fx, { code, redirect_uri: fx.redirectUri, code_verifier: verifier });
      assert.equal((await server.latchkey.storage.tokens.byHash(storedTokenKey(String(first.json?.access_token))))?.status, 'revoked');
      return second;
    },
  },
  {
    code: 'authorization_code.wrong_client', status: 400, error: 'invalid_grant',
    record: (r) => assert.equal(r.applicationName, 'Code flow (public)'),
    facts: async (e, r) => {
      const fx = await codeFixture(server, clock);
      assert.equal(r.clientId, fx.public.clientId);
      assert.deepEqual(pick(e.facts, ['codeClientId', 'issuedAt', 'codeRedirectUri']), { codeClientId: fx.confidential.clientId, issuedAt: iso(codeTime(sent.code)), codeRedirectUri: fx.redirectUri });
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code, verifier } = await issueCode(server, fx);
      sent.code = code;
      return redeemCode(server, fx, { code, redirect_uri: fx.redirectUri, code_verifier: verifier }, 'public');
    },
  },
  {
    code: 'authorization_code.redirect_uri_mismatch', status: 400, error: 'invalid_grant',
    facts: async (e) => {
      const fx = await codeFixture(server, clock);
      const app = await appOf(fx.confidential.clientId);
      assert.deepEqual(pick(e.facts, ['requestedRedirectUri', 'codeRedirectUri', 'registeredRedirectUris', 'nearestRedirectUri']), {
        requestedRedirectUri: `${fx.redirectUri}/other`, codeRedirectUri: fx.redirectUri, registeredRedirectUris: [...app.redirectUris], nearestRedirectUri: fx.redirectUri,
      });
      assert.match(e.fix ?? '', new RegExp(`^Send redirect_uri=${escape(fx.redirectUri)} in the token request`));
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code, verifier } = await issueCode(server, fx);
      return redeemCode(server, fx, { code, redirect_uri: `${fx.redirectUri}/other`, code_verifier: verifier });
    },
  },
  {
    code: 'pkce.verifier_missing', status: 400, error: 'invalid_grant',
    facts: async (e) => {
      const fx = await codeFixture(server, clock);
      assert.deepEqual(pick(e.facts, ['codeHasChallenge', 'applicationPublic', 'issuedAt']), { codeHasChallenge: true, applicationPublic: (await appOf(fx.confidential.clientId)).public, issuedAt: iso(codeTime(sent.code)) });
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code } = await issueCode(server, fx);
      sent.code = code;
      return redeemCode(server, fx, { code, redirect_uri: fx.redirectUri });
    },
  },
  {
    code: 'pkce.verifier_mismatch', status: 400, error: 'invalid_grant',
    facts: (e) => {
      assert.deepEqual(pick(e.facts, ['verifierLength', 'codeHasChallenge', 'requiredChallengeMethod', 'issuedAt']), { verifierLength: sent.verifier?.length, codeHasChallenge: true, requiredChallengeMethod: 'S256', issuedAt: iso(codeTime(sent.code)) });
      assert.ok(!JSON.stringify(e.facts).includes(sent.verifier ?? '?'), 'the verifier is never a fact');
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code } = await issueCode(server, fx);
      sent.code = code;
      sent.verifier = pkcePair().verifier;
      return redeemCode(server, fx, { code, redirect_uri: fx.redirectUri, code_verifier: sent.verifier });
    },
  },
  {
    code: 'pkce.verifier_unexpected', status: 400, error: 'invalid_grant',
    facts: (e) => {
      assert.deepEqual(pick(e.facts, ['verifierLength', 'codeHasChallenge', 'issuedAt']), { verifierLength: sent.verifier?.length, codeHasChallenge: false, issuedAt: iso(codeTime(sent.code)) });
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code } = await issueCode(server, fx, { pkce: false });
      sent.code = code;
      sent.verifier = pkcePair().verifier;
      return redeemCode(server, fx, { code, redirect_uri: fx.redirectUri, code_verifier: sent.verifier });
    },
  },
  {
    code: 'pkce.verifier_malformed', status: 400, error: 'invalid_request',
    facts: (e) => assert.deepEqual(pick(e.facts, ['verifierLength', 'verifierInvalidCharacters']), { verifierLength: 'too short!'.length, verifierInvalidCharacters: 2 }),
    run: async () => {
      const fx = await codeFixture(server, clock);
      return redeemCode(server, fx, { code: 'lk_ac_whatever', redirect_uri: fx.redirectUri, code_verifier: 'too short!' });
    },
  },
  // --- token endpoint cases: JWT bearer grant and private_key_jwt (issue 4) ---
  {
    code: 'assertion.malformed', status: 401, error: 'invalid_client',
    facts: (e) => assert.deepEqual(pick(e.facts, ['assertionType', 'assertionSegments', 'claim']), { assertionType: CLIENT_ASSERTION_TYPE, assertionSegments: 1, claim: null }),
    run: () => post({ path: '/oauth/token', form: { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: 'not-a-jwt' } }),
  },
  {
    code: 'assertion.missing_claim', status: 400, error: 'invalid_grant',
    record: (r) => assert.equal(r.applicationName, 'Signs its assertions'),
    facts: (e) => {
      assert.deepEqual(pick(e.facts, ['claim', 'jwtClaimNames']), { claim: 'jti', jwtClaimNames: Object.keys(sentClaims()) });
      assertJwtFacts(e, ['jwtIss', 'jwtSub', 'jwtJti', 'jwtExp']);
      assert.equal(e.facts.jwtJti, null);
    },
    run: async () => jwtBearer(await (await assertionFixture()).grant({ jti: undefined })),
  },
  {
    code: 'assertion.wrong_client', status: 401, error: 'invalid_client',
    facts: async (e) => {
      assertJwtFacts(e, ['jwtIss', 'jwtSub', 'jwtAud']);
      assert.deepEqual(pick(e.facts, ['jwtIss', 'jwtSub', 'expectedIssuer']), { jwtIss: 'someone-else', jwtSub: (await assertionFixture()).clientId, expectedIssuer: (await assertionFixture()).clientId });
    },
    run: async () => clientAssertion(await (await assertionFixture()).client({ iss: 'someone-else' })),
  },
  {
    code: 'assertion.unknown_issuer', status: 400, error: 'invalid_grant',
    // A one-character typo of the fixture's client id: the administrator is told the nearest.
    record: (r) => assert.equal(r.clientId, sent.typo),
    facts: async (e) => {
      const fx = await assertionFixture();
      assertJwtFacts(e, ['jwtIss', 'jwtSub']);
      assert.deepEqual(pick(e.facts, ['jwtIss', 'jwtSub', 'nearestClientId']), { jwtIss: sent.typo, jwtSub: 'svc', nearestClientId: fx.clientId });
      assert.match(e.fix ?? '', new RegExp(`the nearest client id is ${fx.clientId}`));
      assert.ok(!(e.description ?? '').includes(fx.clientId), 'the nearest client id never reaches the caller');
    },
    run: async () => {
      const fx = await assertionFixture();
      sent.typo = `${fx.clientId.slice(0, -1)}${fx.clientId.endsWith('0') ? '1' : '0'}`;
      const res = await jwtBearer(await fx.grant({ iss: sent.typo }));
      assert.ok(!res.text.includes(fx.clientId));
      return res;
    },
  },
  {
    code: 'assertion.no_keys', status: 401, error: 'invalid_client',
    record: (r) => assert.equal(r.applicationName, 'No keys registered'),
    facts: async (e) => {
      const app = await appOf((await assertionFixture()).bareClientId);
      assert.equal(app.jwks, null);
      assert.deepEqual(pick(e.facts, ['keySource', 'appJwksUri', 'registeredKids']), { keySource: 'none', appJwksUri: app.jwksUri, registeredKids: [] });
      assert.match(e.fix ?? '', new RegExp(`latchkey apps update ${app.clientId} --jwks <file>`));
    },
    run: async () => {
      const fx = await assertionFixture();
      return clientAssertion(await fx.client({ iss: fx.bareClientId, sub: fx.bareClientId }));
    },
  },
  {
    code: 'assertion.algorithm_not_allowed', status: 400, error: 'invalid_grant',
    facts: (e) => {
      assertJwtFacts(e, ['jwtAlg', 'jwtKid', 'jwtIss']);
      assert.deepEqual(pick(e.facts, ['jwtAlg', 'allowedAlgorithms']), { jwtAlg: 'HS256', allowedAlgorithms: [...ALLOWED_ALGORITHMS] });
    },
    run: async () => jwtBearer(await (await assertionFixture()).grant({}, { hmacSecret: 'a-shared-secret' })),
  },
  {
    code: 'assertion.unknown_key', status: 401, error: 'invalid_client',
    facts: async (e) => {
      const fx = await assertionFixture();
      const app = await appOf(fx.clientId);
      assertJwtFacts(e, ['jwtKid', 'jwtAlg']);
      assert.notEqual(e.facts.jwtKid, fx.key.kid);
      assert.deepEqual(pick(e.facts, ['registeredKids', 'keySource']), { registeredKids: jwksKids(app.jwks), keySource: 'jwks' });
      assert.deepEqual(e.facts.registeredKids, [fx.key.kid]);
    },
    run: async () => clientAssertion(await (await assertionFixture()).client({}, {}, await generateTestKey('ES256'))),
  },
  {
    code: 'assertion.bad_signature', status: 400, error: 'invalid_grant',
    facts: async (e) => {
      const fx = await assertionFixture();
      assertJwtFacts(e, ['jwtKid', 'jwtAlg']);
      assert.deepEqual(pick(e.facts, ['jwtKid', 'registeredKids', 'keySource']), { jwtKid: fx.key.kid, registeredKids: jwksKids((await appOf(fx.clientId)).jwks), keySource: 'jwks' });
    },
    run: async () => {
      const fx = await assertionFixture();
      return jwtBearer(await fx.grant({}, { kid: fx.key.kid }, await generateTestKey('ES256')));
    },
  },
  {
    code: 'assertion.wrong_audience', status: 401, error: 'invalid_client',
    facts: (e) => {
      assertJwtFacts(e, ['jwtAud']);
      assert.deepEqual(pick(e.facts, ['jwtAud', 'expectedAudience']), { jwtAud: 'https://another-server.example/oauth/token', expectedAudience: [server.latchkey.issuer(), `${server.latchkey.issuer()}/oauth/token`] });
      assert.match(e.fix ?? '', new RegExp(`^Set aud to ${escape(server.latchkey.issuer())}, this server's issuer identifier`));
    },
    run: async () => clientAssertion(await (await assertionFixture()).client({ aud: 'https://another-server.example/oauth/token' })),
  },
  {
    code: 'assertion.expired', status: 400, error: 'invalid_grant',
    facts: async (e) => {
      assertJwtFacts(e, ['jwtExp', 'jwtIat']);
      const t = Math.floor(clock.now() / 1000);
      assert.deepEqual(pick(e.facts, ['jwtExp', 'jwtIat', 'maxSkewSeconds']), { jwtExp: iso((t - 900) * 1000), jwtIat: iso((t - 3600) * 1000), maxSkewSeconds: (await server.latchkey.cache.properties())['latchkey.assertion.max_skew_seconds'] });
    },
    run: async () => {
      const t = Math.floor(clock.now() / 1000);
      return jwtBearer(await (await assertionFixture()).grant({ iat: t - 3600, exp: t - 900 }));
    },
  },
  {
    code: 'assertion.not_yet_valid', status: 401, error: 'invalid_client',
    facts: async (e) => {
      assertJwtFacts(e, ['jwtNbf', 'jwtIat']);
      assert.deepEqual(pick(e.facts, ['jwtNbf', 'maxSkewSeconds']), { jwtNbf: iso((Math.floor(clock.now() / 1000) + 900) * 1000), maxSkewSeconds: (await server.latchkey.cache.properties())['latchkey.assertion.max_skew_seconds'] });
    },
    run: async () => {
      const t = Math.floor(clock.now() / 1000);
      return clientAssertion(await (await assertionFixture()).client({ nbf: t + 900, exp: t + 1200 }));
    },
  },
  {
    code: 'assertion.lifetime_too_long', status: 400, error: 'invalid_grant',
    facts: async (e, r) => {
      assertJwtFacts(e, ['jwtExp']);
      const exp = sentClaims().exp ?? 0;
      assert.deepEqual(pick(e.facts, ['lifetimeSeconds', 'maxLifetimeSeconds']), { lifetimeSeconds: Math.round(exp - r.at / 1000), maxLifetimeSeconds: (await server.latchkey.cache.properties())['latchkey.assertion.max_lifetime_seconds'] });
    },
    run: async () => jwtBearer(await (await assertionFixture()).grant({ exp: Math.floor(clock.now() / 1000) + 30 * 86400 })),
  },
  {
    code: 'assertion.replayed', status: 401, error: 'invalid_client',
    facts: (e) => {
      assertJwtFacts(e, ['jwtJti', 'jwtIat', 'jwtExp', 'jwtIss']);
      assert.equal(typeof e.facts.jwtJti, 'string');
    },
    run: async () => {
      const once = await (await assertionFixture()).client();
      assert.equal((await clientAssertion(once)).status, 200);
      return clientAssertion(once);
    },
  },
  {
    code: 'assertion.unknown_user', status: 400, error: 'invalid_grant',
    record: (r) => assert.equal(r.userName, 'nobody-by-that-name'),
    facts: async (e) => {
      assert.equal(await server.latchkey.storage.users.byName('nobody-by-that-name'), undefined);
      assert.deepEqual(pick(e.facts, ['jwtSub', 'userExists']), { jwtSub: 'nobody-by-that-name', userExists: false });
      assert.match(e.fix ?? '', /latchkey users create nobody-by-that-name$/);
    },
    run: async () => jwtBearer(await (await assertionFixture()).grant({ sub: 'nobody-by-that-name' })),
  },
  {
    code: 'assertion.jwks_unavailable', status: 503, error: 'temporarily_unavailable',
    facts: async (e, r) => {
      const app = await server.latchkey.storage.applications.byClientId(r.clientId ?? '');
      assert.ok(app?.jwksUri !== null && app?.jwksUri !== undefined);
      assert.equal(e.facts.appJwksUri, app.jwksUri);
      assert.match(String(e.facts.fetchError), /timed out/);
    },
    run: async () => {
      // The application's JWKS URI never answers: refused within the 3 s fetch timeout.
      const hanging = await startIdpServer({ now: () => clock.now() });
      try {
        hanging.hang = true;
        const fx = await assertionFixture();
        const created = await createApplication(registryDeps(server, clock), { name: 'JWKS URI down', grantTypes: [JWT_BEARER_GRANT], jwksUri: hanging.jwksUri });
        await refreshCache(server);
        return await jwtBearer(await fx.grant({ iss: created.application.clientId }, {}, hanging.current));
      } finally {
        await hanging.close();
      }
    },
  },
  ...CIMD_CASES(),
  ...DEVICE_CASES(),
  ...DPOP_CASES(),
  // --- token exchange (issue 17, RFC 8693) ---
  ...EXCHANGE_CASES(),
];

// --- DPoP (RFC 9449, issue 17) ---
/** A DPoP proof key: ES256, its public JWK and thumbprint. */
async function dpopKey(): Promise<{ privateKey: CryptoKey; jwk: JWK; jkt: string }> {
  const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(publicKey);
  return { privateKey, jwk, jkt: await calculateJwkThumbprint(jwk) };
}
let dpopJti = 0;
/** A proof on the test clock (iat from it), with header and claim overrides. */
async function dpopProof(key: { privateKey: CryptoKey; jwk: JWK }, htm: string, path: string, opts: { header?: Record<string, unknown>; claims?: Record<string, unknown>; signWith?: CryptoKey } = {}): Promise<string> {
  const claims = { htm, htu: `${server.url}${path}`, iat: Math.floor(clock.now() / 1000), jti: `reasons-${++dpopJti}`, ...opts.claims };
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: key.jwk, ...opts.header } as never).sign(opts.signWith ?? key.privateKey);
}
const b64json = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
const dpopCc = (dpop: string | undefined, name = 'conf') => post({ path: '/oauth/token', form: { grant_type: 'client_credentials' }, basic: basic(name), headers: dpop === undefined ? {} : { dpop } });
const tokenPath = '/oauth/token';
/** A DPoP-bound access token of the API caller application, with its key. */
async function boundApiToken(): Promise<{ token: string; key: Awaited<ReturnType<typeof dpopKey>> }> {
  const key = await dpopKey();
  const res = await dpopCc(await dpopProof(key, 'POST', tokenPath), 'api');
  assert.equal(res.json?.token_type, 'DPoP', res.text);
  return { token: String(res.json?.access_token), key };
}
const dpopApi = (token: string, dpop: string | undefined, scheme = 'DPoP') => api({ path: '/api/test/echo', headers: { authorization: `${scheme} ${token}`, ...(dpop === undefined ? {} : { dpop }) } });
function DPOP_CHALLENGE(error: string): RegExp {
  return new RegExp(`^DPoP algs="ES256 [^"]+", error="${error}"`);
}

function DPOP_CASES(): Case[] {
  const c = (code: ReasonCode, make: (key: Awaited<ReturnType<typeof dpopKey>>) => Promise<string>, facts?: FactCheck): Case => ({
    code, status: 400, error: 'invalid_dpop_proof', ...(facts === undefined ? {} : { facts }),
    run: async () => dpopCc(await make(await dpopKey())),
  });
  const now = () => Math.floor(clock.now() / 1000);
  return [
    c('dpop.proof_malformed', async () => 'not-a-proof', (e) => assert.equal(e.facts.dpopProblem, 'not a compact JWS')),
    {
      code: 'dpop.multiple_proofs', status: 400, error: 'invalid_dpop_proof',
      facts: (e) => assert.equal(e.facts.dpopHeaders, 2),
      run: async () => {
        const key = await dpopKey();
        const headers = new Headers({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(apps.conf!.clientId)}:${encodeURIComponent(apps.conf!.secret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' });
        headers.append('dpop', await dpopProof(key, 'POST', tokenPath));
        headers.append('dpop', await dpopProof(key, 'POST', tokenPath));
        const r = await fetch(`${server.url}${tokenPath}`, { method: 'POST', headers, body: 'grant_type=client_credentials' });
        const text = await r.text();
        return { status: r.status, headers: r.headers, requestId: r.headers.get('x-request-id') ?? '', json: JSON.parse(text) as Record<string, unknown>, text };
      },
    },
    c('dpop.wrong_typ', (k) => dpopProof(k, 'POST', tokenPath, { header: { typ: 'at+jwt' } }), (e) => assert.equal(e.facts.dpopTyp, 'at+jwt')),
    c('dpop.alg_not_allowed', async (k) => `${b64json({ alg: 'HS256', typ: 'dpop+jwt', jwk: k.jwk })}.${b64json({ htm: 'POST', htu: `${server.url}${tokenPath}`, iat: now(), jti: 'hs' })}.${Buffer.alloc(32, 7).toString('base64url')}`, (e) => {
      assert.equal(e.facts.dpopAlg, 'HS256');
      assert.ok(Array.isArray(e.facts.allowedAlgs) && !e.facts.allowedAlgs.includes('HS256') && e.facts.allowedAlgs.includes('ES256'));
    }),
    c('dpop.jwk_invalid', (k) => dpopProof(k, 'POST', tokenPath, { header: { jwk: undefined } }), (e) => assert.equal(e.facts.dpopProblem, 'no jwk')),
    c('dpop.jwk_private', async () => {
      const pair = await generateKeyPair('ES256', { extractable: true });
      return dpopProof({ privateKey: pair.privateKey, jwk: await exportJWK(pair.privateKey) }, 'POST', tokenPath);
    }, (e) => assert.equal(e.facts.dpopProblem, 'jwk has d')),
    c('dpop.signature_invalid', async (k) => dpopProof(k, 'POST', tokenPath, { signWith: (await dpopKey()).privateKey }), (e) => assert.equal(e.facts.dpopAlg, 'ES256')),
    c('dpop.htm_mismatch', (k) => dpopProof(k, 'PUT', tokenPath), (e) => assert.deepEqual([e.facts.dpopHtm, e.facts.method], ['PUT', 'POST'])),
    c('dpop.htu_mismatch', (k) => dpopProof(k, 'POST', '/oauth/introspect'), (e) => assert.deepEqual([e.facts.dpopHtu, e.facts.expectedHtu], [`${server.url}/oauth/introspect`, `${server.url}${tokenPath}`])),
    c('dpop.iat_too_old', (k) => dpopProof(k, 'POST', tokenPath, { claims: { iat: now() - 3600 } }), (e) => {
      assert.deepEqual([e.facts.dpopIat, e.facts.maxAgeSeconds, e.facts.property], [iso((now() - 3600) * 1000), 60, 'latchkey.dpop.proof_max_age_seconds']);
    }),
    c('dpop.iat_in_future', (k) => dpopProof(k, 'POST', tokenPath, { claims: { iat: now() + 3600 } }), (e) => assert.equal(e.facts.dpopIat, iso((now() + 3600) * 1000))),
    c('dpop.jti_missing', (k) => dpopProof(k, 'POST', tokenPath, { claims: { jti: undefined } }), (e) => assert.equal(e.facts.dpopAlg, 'ES256')),
    {
      code: 'dpop.replayed', status: 400, error: 'invalid_dpop_proof',
      facts: (e) => assert.equal(e.facts.dpopIat, iso(now() * 1000)),
      run: async () => {
        const p = await dpopProof(await dpopKey(), 'POST', tokenPath);
        assert.equal((await dpopCc(p)).status, 200);
        return dpopCc(p);
      },
    },
    {
      code: 'dpop.nonce_missing', status: 400, error: 'use_dpop_nonce',
      facts: (e) => assert.equal(e.facts.property, 'latchkey.dpop.nonce_required'),
      run: () => withProperty('latchkey.dpop.nonce_required', 'true', 'false', async () => {
        const res = await dpopCc(await dpopProof(await dpopKey(), 'POST', tokenPath));
        assert.match(res.headers.get('dpop-nonce') ?? '', /^[0-9a-z]+\.[A-Za-z0-9_-]{22}$/);
        return res;
      }),
    },
    {
      code: 'dpop.nonce_invalid', status: 400, error: 'use_dpop_nonce',
      facts: (e) => assert.equal(e.facts.property, 'latchkey.dpop.nonce_required'),
      run: () => withProperty('latchkey.dpop.nonce_required', 'true', 'false', async () => dpopCc(await dpopProof(await dpopKey(), 'POST', tokenPath, { claims: { nonce: 'zz.not-a-nonce-of-ours' } }))),
    },
    {
      code: 'dpop.required', status: 400, error: 'invalid_dpop_proof',
      facts: (e) => assert.equal(e.facts.requestedGrant, 'client_credentials'),
      run: async () => {
        const created = await createApplication(registryDeps(server, clock), { name: 'Requires DPoP', grantTypes: ['client_credentials'], appUser: 'svc', dpopRequired: true });
        apps.dpopRequired = { clientId: created.application.clientId, secret: created.clientSecret ?? '', name: created.application.name };
        await refreshCache(server);
        return dpopCc(undefined, 'dpopRequired');
      },
    },
    {
      code: 'dpop.key_mismatch', status: 400, error: 'invalid_dpop_proof',
      facts: async (e) => {
        assert.equal(e.facts.boundJkt, kept.dpopBound);
        assert.equal(e.facts.dpopJkt, kept.dpopOther);
      },
      // A public client's refresh token is bound to its key (RFC 9449 §5); another key is refused.
      run: async () => {
        const key = await dpopKey();
        const other = await dpopKey();
        kept.dpopBound = key.jkt;
        kept.dpopOther = other.jkt;
        const issued = await post({ path: tokenPath, form: { grant_type: 'password', username: 'alice', password: PW, client_id: apps.pub!.clientId }, headers: { dpop: await dpopProof(key, 'POST', tokenPath) } });
        assert.equal(issued.json?.token_type, 'DPoP', issued.text);
        return post({ path: tokenPath, form: { grant_type: 'refresh_token', refresh_token: String(issued.json?.refresh_token), client_id: apps.pub!.clientId }, headers: { dpop: await dpopProof(other, 'POST', tokenPath) } });
      },
    },
    {
      code: 'dpop.jkt_mismatch', status: 400, error: 'invalid_grant',
      facts: (e) => assert.deepEqual([e.facts.boundJkt, e.facts.dpopJkt], [kept.dpopCodeKey, null]),
      // RFC 9449 §10: a code bound by dpop_jkt, redeemed without a proof.
      run: async () => {
        const fx = await codeFixture(server, clock);
        const key = await dpopKey();
        kept.dpopCodeKey = key.jkt;
        const { verifier, challenge } = pkcePair();
        const answer = await authorizeInBrowser(new Browser(server.url), authorizeUrl(server, { ...requestParams(fx, { challenge }), dpop_jkt: key.jkt }), { username: fx.user, password: fx.password });
        const code = new URL(answer.location ?? '').searchParams.get('code') ?? '';
        return redeemCode(server, fx, { code, code_verifier: verifier, redirect_uri: fx.redirectUri });
      },
    },
  ];
}

function DPOP_API_CASES(): ApiCase[] {
  const endpoint = 'api test/echo';
  const ath = (token: string) => accessTokenHash(token);
  const proofCase = (code: ReasonCode, claims: (token: string) => Record<string, unknown>, facts?: FactCheck, htm = 'GET', path = '/api/test/echo'): ApiCase => ({
    code, status: 401, error: 'invalid_dpop_proof', endpoint, wwwAuthenticate: DPOP_CHALLENGE('invalid_dpop_proof'), ...(facts === undefined ? {} : { facts }),
    run: async () => {
      const { token, key } = await boundApiToken();
      return dpopApi(token, await dpopProof(key, htm, path, { claims: claims(token) }));
    },
  });
  return [
    proofCase('dpop.ath_missing', () => ({}), (e) => assert.deepEqual([e.facts.dpopAlg, e.facts.method, e.facts.path], ['ES256', 'GET', '/api/test/echo'])),
    proofCase('dpop.ath_mismatch', () => ({ ath: accessTokenHash('another token') }), (e) => assert.equal(e.facts.dpopAlg, 'ES256')),
    {
      code: 'token.dpop_proof_missing', status: 401, error: 'invalid_token', endpoint, wwwAuthenticate: DPOP_CHALLENGE('invalid_token'),
      facts: (e) => assert.deepEqual([e.facts.method, e.facts.path], ['GET', '/api/test/echo']),
      run: async () => dpopApi((await boundApiToken()).token, undefined),
    },
    {
      code: 'token.dpop_bound_as_bearer', status: 401, error: 'invalid_token', endpoint, wwwAuthenticate: DPOP_CHALLENGE('invalid_token'),
      facts: (e) => {
        assert.equal(e.facts.boundJkt, kept.dpopBearerKey);
        assert.equal(e.facts.token, tokenHandle(tokenKey(kept.dpopBearer ?? '')));
      },
      run: async () => {
        const { token, key } = await boundApiToken();
        kept.dpopBearer = token;
        kept.dpopBearerKey = key.jkt;
        return dpopApi(token, undefined, 'Bearer');
      },
    },
    {
      code: 'token.dpop_not_bound', status: 401, error: 'invalid_token', endpoint, wwwAuthenticate: DPOP_CHALLENGE('invalid_token'),
      facts: (e) => assert.deepEqual([e.facts.method, e.facts.path], ['GET', '/api/test/echo']),
      run: async () => {
        const token = await accessToken(await cc('api'));
        return dpopApi(token, await dpopProof(await dpopKey(), 'GET', '/api/test/echo', { claims: { ath: ath(token) } }));
      },
    },
    {
      code: 'token.dpop_key_mismatch', status: 401, error: 'invalid_token', endpoint, wwwAuthenticate: DPOP_CHALLENGE('invalid_token'),
      facts: (e) => assert.deepEqual([e.facts.boundJkt, e.facts.dpopJkt], [kept.dpopRsBound, kept.dpopRsOther]),
      run: async () => {
        const { token, key } = await boundApiToken();
        const other = await dpopKey();
        kept.dpopRsBound = key.jkt;
        kept.dpopRsOther = other.jkt;
        return dpopApi(token, await dpopProof(other, 'GET', '/api/test/echo', { claims: { ath: ath(token) } }));
      },
    },
  ];
}

/** A refusal by a REST API (the fixture APIs in test/fixtures/apis): platform error shape, not RFC 6749 §5.2. */
interface ApiCase {
  readonly code: ReasonCode;
  readonly status: number;
  readonly error: string;
  /** `api <namespace>/<id>` */
  readonly endpoint: string;
  /** The WWW-Authenticate header: exact value, pattern, or null for none. */
  readonly wwwAuthenticate: string | RegExp | null;
  readonly record?: (r: Refusal) => void;
  /** The facts of this case its explanation must carry (values checked against the registry, the audit log and the stored events). */
  readonly facts?: FactCheck;
  readonly run: () => Promise<ApiReply>;
}

const api = (c: ApiCall) => apiCall(server.url, c);
/** An API call with an identity provider's token (remembered for the facts checks). */
const idpCall = (token: string) => {
  sent.jwt = token;
  return api({ path: '/api/test/echo', bearer: token });
};
async function accessToken(res: TokenResponse): Promise<string> {
  assert.equal(res.status, 200, res.text);
  return String(res.json?.access_token);
}
// The challenges of the fixture APIs (RFC 6750 §3 with RFC 9728 resource_metadata).
const BEARER_ONLY = apiChallenge('/api/test/echo');
const INVALID_TOKEN = apiChallenge('/api/test/echo', { error: 'invalid_token' });

/** A rate limit from an instance property the case set to 1 (and restored since): the facts name it and its window. */
async function assertInstanceLimit(e: Explanation, property: string): Promise<void> {
  const { refusedWith } = await propertyNow(property);
  const window = Number((await storage().properties.list()).find((p) => p.name === 'latchkey.rate_limit.window_seconds')?.value ?? 60);
  assert.equal(refusedWith, '1');
  assert.deepEqual([e.facts.limit, e.facts.limitSource], [`1/${formatWindow(window)}`, property]);
  assert.ok(typeof e.facts.retryAfterSeconds === 'number' && e.facts.retryAfterSeconds >= 1 && e.facts.retryAfterSeconds <= window);
}

const API_CASES: ApiCase[] = [
  ...DPOP_API_CASES(),
  {
    code: 'rate_limit.api_exceeded', status: 429, error: 'too_many_requests', endpoint: 'api test/echo', wwwAuthenticate: null,
    facts: async (e) => assertInstanceLimit(e, 'latchkey.rate_limit.api'),
    run: async () => {
      const t = await accessToken(await cc('api'));
      return withProperty('latchkey.rate_limit.api', '1', '0', async () => {
        assert.equal((await api({ path: '/api/test/echo', bearer: t })).status, 200);
        return api({ path: '/api/test/echo', bearer: t });
      });
    },
  },
  {
    code: 'rate_limit.api_user_exceeded', status: 429, error: 'too_many_requests', endpoint: 'api test/echo', wwwAuthenticate: null,
    record: (r) => assert.match(r.hint ?? '', /^User "svc-itil" calling API test\/echo/),
    facts: async (e) => assertInstanceLimit(e, 'latchkey.rate_limit.api_user'),
    run: async () => {
      const t = await accessToken(await cc('api'));
      return withProperty('latchkey.rate_limit.api_user', '1', '0', async () => {
        assert.equal((await api({ path: '/api/test/echo', bearer: t })).status, 200);
        return api({ path: '/api/test/echo', bearer: t });
      });
    },
  },
  {
    code: 'api.credentials_missing', status: 401, error: 'invalid_request', endpoint: 'api test/echo', wwwAuthenticate: BEARER_ONLY,
    facts: (e) => assert.deepEqual([e.facts.method, e.facts.path, e.facts.authMethod, e.facts.acceptedAuthMethods], ['GET', '/api/test/echo', 'none', ['bearer']]),
    run: () => api({ path: '/api/test/echo' }),
  },
  {
    code: 'api.malformed_authorization', status: 400, error: 'invalid_request', endpoint: 'api test/echo', wwwAuthenticate: null,
    facts: (e) => assert.deepEqual([e.facts.authMethod, e.facts.credentialLocations, e.facts.acceptedAuthMethods, e.facts.path], ['bearer', ['header'], ['bearer'], '/api/test/echo']),
    run: () => api({ path: '/api/test/echo', headers: { authorization: 'Bearer two tokens' } }),
  },
  {
    code: 'api.multiple_credentials', status: 400, error: 'invalid_request', endpoint: 'api test/echo', wwwAuthenticate: null,
    // The path without its query (the token was in it): never a token in a fact.
    facts: (e) => {
      assert.deepEqual([e.facts.credentialLocations, e.facts.method, e.facts.path], [['header', 'query'], 'GET', '/api/test/echo']);
      assert.doesNotMatch(JSON.stringify(e), /lk_at_/);
    },
    run: async () => {
      const t = await accessToken(await cc('api'));
      return api({ path: `/api/test/echo?access_token=${encodeURIComponent(t)}`, bearer: t });
    },
  },
  {
    code: 'api.method_not_accepted', status: 401, error: 'invalid_request', endpoint: 'api test/echo', wwwAuthenticate: BEARER_ONLY,
    record: (r) => assert.equal(r.userName, null),
    facts: (e) => assert.deepEqual([e.facts.authMethod, e.facts.acceptedAuthMethods], ['basic', ['bearer']]),
    run: () => api({ path: '/api/test/echo', basic: ['dora', PW] }),
  },
  {
    code: 'api.basic_auth_disabled', status: 401, error: 'invalid_request', endpoint: 'api acme/reports', wwwAuthenticate: apiChallenge('/api/acme/reports'),
    facts: async (e) => {
      await assertProperty(e, BASIC_ON_APIS, 'admin');
      assert.deepEqual([e.facts.authMethod, e.facts.path, e.facts.acceptedAuthMethods], ['basic', '/api/acme/reports', ['bearer']]);
      assert.doesNotMatch(JSON.stringify(e), new RegExp(PW));
    },
    run: () => withProperty(BASIC_ON_APIS, 'false', 'true', () => api({ path: '/api/acme/reports', basic: ['dora', PW] }), 'admin'),
  },
  {
    code: 'api.basic_bad_credentials', status: 401, error: 'invalid_request', endpoint: 'api acme/reports', wwwAuthenticate: apiChallenge('/api/acme/reports', { basic: true }),
    record: (r) => assert.equal(r.userName, 'dora'),
    facts: async (e) => {
      const dora = await server.latchkey.storage.users.byName('dora');
      assert.deepEqual([e.facts.authMethod, e.facts.userExists, e.facts.userActive, e.facts.path], ['basic', true, dora?.active, '/api/acme/reports']);
      assert.doesNotMatch(JSON.stringify(e), /not-the-password/);
    },
    run: () => api({ path: '/api/acme/reports', basic: ['dora', 'not-the-password'] }),
  },
  {
    code: 'token.unknown', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    // What the token says of itself: an access token issued a moment ago (so: another instance).
    facts: (e) => {
      assert.equal(e.facts.tokenKind, 'access');
      assert.equal(e.facts.claimedIssuedAt, iso(Number.parseInt(kept.foreign!.slice(6, 18), 16)));
      assert.ok(!JSON.stringify(e).includes(kept.foreign!));
    },
    run: async () => {
      // A real, well-formed token, issued by another instance.
      const other = await startTestServer();
      let foreign: string;
      try {
        const deps = registryDeps(other);
        await createUser(deps, { userName: 'svc' });
        await setProperty(deps, CC, 'true');
        const app = await createApplication(deps, { name: 'Elsewhere', grantTypes: ['client_credentials'], appUser: 'svc' });
        await refreshCache(other);
        foreign = await accessToken(await tokenRequest(other.url, { form: { grant_type: 'client_credentials' }, basic: [app.application.clientId, app.clientSecret ?? ''] }));
      } finally {
        await other.close();
      }
      assert.match(foreign, /^lk_at_/);
      kept.foreign = foreign;
      return api({ path: '/api/test/echo', bearer: foreign });
    },
  },
  {
    code: 'token.not_access_token', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      const record = await assertTokenFacts(e, kept.refresh!);
      assert.deepEqual([e.facts.tokenKind, e.facts.tokenGrant], ['refresh', record.grantType]);
    },
    run: async () => api({ path: '/api/test/echo', bearer: (kept.refresh = await refreshTokenOf(await password('conf', 'alice', PW))) }),
  },
  {
    code: 'token.expired', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      await assertTokenFacts(e, kept.expired!, ['issuedAt', 'expiredAt']);
      assert.equal(e.facts.accessTokenLifespan, (await appOf(apps.apiShort!.clientId)).accessTokenLifespan);
      assert.match(e.fix ?? '', new RegExp(`latchkey apps update ${apps.apiShort!.clientId} --access-token-lifespan`));
    },
    run: async () => {
      const t = (kept.expired = await accessToken(await cc('apiShort')));
      clock.advance(2000);
      return api({ path: '/api/test/echo', bearer: t });
    },
  },
  {
    code: 'token.revoked', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    // The refusal names whose token it was, so the Refusals list can say it.
    record: (r) => {
      assert.equal(r.clientId, apps.api!.clientId);
      assert.equal(r.applicationName, 'API caller');
      assert.equal(r.userName, 'svc-itil');
    },
    // Revoked by an administrator through the admin API: when (the stored token), who (the audit entry).
    facts: async (e) => {
      const record = await assertTokenFacts(e, kept.revoked!, ['issuedAt', 'revokedAt']);
      const entry = await auditOf(tokenHandle(record.hash), 'token.revoke');
      assert.equal(entry.actor, 'admin');
      assert.equal(e.facts.revokedBy, `${entry.actor} (token.revoke)`);
      assert.equal(e.facts.revokedAt, iso(entry.at));
    },
    run: async () => {
      const t = (kept.revoked = await accessToken(await cc('api')));
      assert.equal((await api({ path: '/api/test/echo', bearer: t })).status, 200);
      const revoked = await adminFetch(server, 'POST', '/tokens/revoke', { headers: { authorization: `Bearer ${await adminToken(server)}` }, body: { handle: tokenHandle(storedTokenKey(t)) } });
      assert.equal(revoked.status, 200, revoked.text);
      return api({ path: '/api/test/echo', bearer: t });
    },
  },
  {
    code: 'token.application_inactive', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      await assertTokenFacts(e, kept.doomed!);
      const entry = await auditOf(apps.apiDoomed!.clientId, 'application.update');
      assert.deepEqual([e.facts.applicationActive, e.facts.deactivatedAt, e.facts.deactivatedBy], [false, iso(entry.at), 'cli:reasons-test']);
      assert.equal(entry.actor, 'cli:reasons-test');
      assert.match(e.fix ?? '', new RegExp(`latchkey apps update ${apps.apiDoomed!.clientId} --active true`));
    },
    run: async () => {
      const t = (kept.doomed = await accessToken(await cc('apiDoomed')));
      await updateApplication({ ...registryDeps(server, clock), actor: 'cli:reasons-test' }, apps.apiDoomed!.clientId, { active: false });
      await refreshCache(server);
      return api({ path: '/api/test/echo', bearer: t });
    },
  },
  {
    code: 'token.user_inactive', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    // Deactivating a user revokes its tokens (token.revoked); a provider's token still names it.
    record: (r) => assert.equal(r.userName, 'bob'),
    facts: async (e) => {
      // bob was created inactive: the creation is the deactivation.
      const entry = await auditOf('bob', 'user.create');
      assert.deepEqual([e.facts.userActive, e.facts.deactivatedAt, e.facts.deactivatedBy], [false, iso(entry.at), entry.actor]);
      assert.deepEqual([e.facts.identityProvider, e.facts.tokenIssuer], ['Reasons IdP', (await idpFixture()).idp.issuer]);
    },
    run: async () => api({ path: '/api/test/echo', bearer: await (await idpFixture()).token({ sub: 'bob' }) }),
  },
  {
    code: 'api.scope_missing', status: 403, error: 'insufficient_scope', endpoint: 'api acme/orders', wwwAuthenticate: apiChallenge('/api/acme/orders', { error: 'insufficient_scope', scopes: ['orders.read'] }),
    record: (r) => {
      assert.equal(r.clientId, apps.conf!.clientId);
      assert.equal(r.applicationName, 'Confidential');
      assert.equal(r.userName, 'svc');
    },
    // A token that never had the scope: what it has against what the API requires, nothing withdrawn.
    facts: async (e) => {
      const record = await assertTokenFacts(e, kept.scoped!);
      const app = await appOf(apps.conf!.clientId);
      assert.deepEqual([e.facts.requiredScopes, e.facts.tokenScopes, e.facts.allowedScopes], [['orders.read'], record.scopes, app.scopes]);
      assert.deepEqual([e.facts.withdrawnScopes, e.facts.withdrawnAt, e.facts.withdrawnBy], [[], null, null]);
      assert.deepEqual([e.facts.method, e.facts.path], ['GET', '/api/acme/orders/1']);
      assert.ok(e.fix?.includes(`latchkey apps update ${app.clientId} --scopes ${[...app.scopes, 'orders.read'].join(',')}`), e.fix ?? '');
    },
    run: async () => api({ path: '/api/acme/orders/1', bearer: (kept.scoped = await accessToken(await cc('conf'))) }),
  },
  {
    code: 'api.role_missing', status: 403, error: 'access_denied', endpoint: 'api acme/desk', wwwAuthenticate: null,
    record: (r) => assert.equal(r.userName, 'svc'),
    facts: async (e) => {
      const svc = await server.latchkey.storage.users.byName('svc');
      assert.deepEqual([e.facts.requiredRoles, e.facts.userRoles, e.facts.authMethod], [['itil'], svc?.roles, 'bearer']);
      assert.match(e.fix ?? '', /latchkey users update svc --roles itil/);
    },
    run: async () => api({ path: '/api/acme/desk/tickets', bearer: await accessToken(await cc('conf')) }),
  },
  // --- API cases: JWT access tokens (issue 4) ---
  {
    code: 'token.signature_invalid', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      const published = (await server.latchkey.keyring.publishedJwks(clock.now())).keys.map((k) => k.kid);
      assert.deepEqual([e.facts.tokenKeyId, e.facts.publishedKeyIds], [kept.signedKid, published]);
      assert.ok(published.includes(kept.signedKid));
    },
    run: async () => {
      const created = await createApplication(registryDeps(server, clock), { name: 'JWT caller (altered)', grantTypes: ['client_credentials'], appUser: 'svc-itil', tokenFormat: 'jwt' });
      await refreshCache(server);
      const t = await accessToken(await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [created.application.clientId, created.clientSecret ?? ''] }));
      const [h, p, sig] = t.split('.') as [string, string, string];
      kept.signedKid = String(JSON.parse(Buffer.from(h, 'base64url').toString('utf8')).kid);
      // A wider scope written into the payload, our signature kept.
      const widened = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString('utf8')), scope: 'useraccount' })).toString('base64url');
      return api({ path: '/api/test/echo', bearer: `${h}.${widened}.${sig}` });
    },
  },
  {
    code: 'token.unknown_key', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      const published = (await server.latchkey.keyring.publishedJwks(clock.now())).keys.map((k) => k.kid);
      assert.deepEqual([e.facts.tokenKeyId, e.facts.publishedKeyIds, e.facts.claimedIssuedAt], ['a-key-nobody-published', published, iso(Math.floor(clock.now() / 1000) * 1000)]);
    },
    run: async () => {
      // Our issuer, a kid we never published (a key long unpublished, or another deployment's).
      const part = (v: object) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const now = Math.floor(clock.now() / 1000);
      const claims = { iss: server.url, sub: 'svc-itil', aud: server.url, exp: now + 600, iat: now, jti: `${clock.now().toString(16).padStart(12, '0')}AAAAAAAAAAAAAAAAAAAAAA`, client_id: apps.api!.clientId };
      return api({ path: '/api/test/echo', bearer: `${part({ alg: 'ES256', typ: 'at+jwt', kid: 'a-key-nobody-published' })}.${part(claims)}.${Buffer.alloc(64, 1).toString('base64url')}` });
    },
  },
  {
    code: 'token.malformed', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    // Three segments ({} . {} . {}): JWT-shaped, but no issuer to say whose it is.
    facts: (e) => assert.equal(e.facts.tokenProblem, 'It has no issuer (iss).'),
    run: () => api({ path: '/api/test/echo', bearer: 'e30.e30.e30' }),
  },
  {
    code: 'token.wrong_resource', status: 401, error: 'invalid_token', endpoint: 'api acme/orders',
    wwwAuthenticate: apiChallenge('/api/acme/orders', { error: 'invalid_token', scopes: ['orders.read'], description: 'The access token was issued for another resource.' }),
    facts: async (e) => {
      assert.deepEqual([e.facts.tokenAudience, e.facts.expectedAudience], [[OTHER_RESOURCE], `${server.url}/api/acme/orders`]);
      assert.deepEqual([e.facts.method, e.facts.path], ['GET', '/api/acme/orders/1']);
      assert.equal((await recordOf(kept.resourceToken!)).audience?.[0], OTHER_RESOURCE);
    },
    // A token for another (registered) resource, at a hosted API (RFC 8707).
    run: async () => {
      await addResource(registryDeps(server, clock), { uri: OTHER_RESOURCE });
      await refreshCache(server);
      kept.resourceToken = await accessToken(await cc('api', { resource: OTHER_RESOURCE, scope: 'orders.read' }));
      return api({ path: '/api/acme/orders/1', bearer: kept.resourceToken });
    },
  },
  {
    code: 'token.wrong_audience', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    // Our JWT, verified: the refusal names its application and user, as for any token of ours.
    record: (r) => {
      assert.equal(r.applicationName, 'JWT for the reports API');
      assert.equal(r.userName, 'svc-itil');
    },
    facts: async (e, r) => {
      await assertTokenFacts(e, kept.audienceJwt!);
      const app = await appOf(r.clientId ?? '');
      assert.deepEqual([e.facts.tokenAudience, e.facts.expectedAudience], [['https://reports.example.com/api'], server.latchkey.issuer()]);
      assert.deepEqual([e.facts.audience, e.facts.tokenFormat], [app.audience, app.tokenFormat]);
      assert.ok(e.fix?.includes(`latchkey apps update ${app.clientId} --audience ''`), e.fix ?? '');
    },
    run: async () => {
      const created = await createApplication(registryDeps(server, clock), { name: 'JWT for the reports API', grantTypes: ['client_credentials'], appUser: 'svc-itil', tokenFormat: 'jwt', audience: 'https://reports.example.com/api' });
      await refreshCache(server);
      const t = (kept.audienceJwt = await accessToken(await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [created.application.clientId, created.clientSecret ?? ''] })));
      return api({ path: '/api/test/echo', bearer: t });
    },
  },
  // --- API cases: external identity providers (issue 4) ---
  {
    code: 'token.unknown_issuer', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      const active = (await server.latchkey.storage.identityProviders.list()).filter((p) => p.active).map((p) => p.issuer);
      assert.deepEqual([e.facts.tokenIssuer, e.facts.issuer, e.facts.providerIssuers], ['https://unregistered-idp.example', server.latchkey.issuer(), active]);
    },
    run: async () => api({ path: '/api/test/echo', bearer: await (await idpFixture()).token({ iss: 'https://unregistered-idp.example' }) }),
  },
  {
    code: 'idp.malformed', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      assertIdpFacts(e, await idpOf('Reasons IdP'));
      assert.deepEqual(pick(e.facts, ['claim', 'jwtAlg', 'jwtExp']), { claim: 'exp', jwtAlg: sentHeader().alg, jwtExp: null });
    },
    run: async () => idpCall(await (await idpFixture()).token({ exp: 'next week' })),
  },
  {
    code: 'idp.wrong_audience', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      const idp = await idpOf('Reasons IdP');
      assertIdpFacts(e, idp);
      assert.deepEqual(pick(e.facts, ['jwtAud', 'expectedAudience']), { jwtAud: 'https://some-other-api.example', expectedAudience: idp.audience });
      assert.match(e.fix ?? '', /latchkey idps update 'Reasons IdP' --audience https:\/\/some-other-api\.example/);
    },
    run: async () => idpCall(await (await idpFixture()).token({ aud: 'https://some-other-api.example' })),
  },
  {
    code: 'idp.algorithm_not_allowed', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      assertIdpFacts(e, await idpOf('Reasons IdP'));
      assert.deepEqual(pick(e.facts, ['jwtAlg', 'allowedAlgorithms']), { jwtAlg: 'HS256', allowedAlgorithms: [...ALLOWED_ALGORITHMS] });
    },
    run: async () => {
      const fx = await idpFixture();
      const t = Math.floor(clock.now() / 1000);
      const hs = await new SignJWT({ iss: fx.idp.issuer, aud: IDP_AUDIENCE, sub: 'idp-user', exp: t + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('guessed-secret'));
      return idpCall(hs);
    },
  },
  {
    code: 'idp.unknown_key', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      const fx = await idpFixture();
      assertIdpFacts(e, await idpOf('Reasons IdP'));
      assert.deepEqual(pick(e.facts, ['jwtKid', 'publishedKids', 'idpJwksUri']), { jwtKid: sentHeader().kid, publishedKids: fx.idp.published.map((k) => k.kid), idpJwksUri: fx.idp.jwksUri });
      assert.ok(!fx.idp.published.some((k) => k.kid === sentHeader().kid));
    },
    run: async () => {
      const fx = await idpFixture();
      return idpCall(await fx.token({}, { key: await fx.idp.newKey() }));
    },
  },
  {
    code: 'idp.bad_signature', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      const fx = await idpFixture();
      assertIdpFacts(e, await idpOf('Reasons IdP'));
      assert.deepEqual(pick(e.facts, ['jwtKid', 'jwtAlg', 'publishedKids']), { jwtKid: fx.idp.current.kid, jwtAlg: fx.idp.current.alg, publishedKids: fx.idp.published.map((k) => k.kid) });
    },
    run: async () => {
      const fx = await idpFixture();
      return idpCall(await fx.token({}, { key: await fx.idp.newKey(), kid: fx.idp.current.kid }));
    },
  },
  {
    code: 'idp.token_expired', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      assertIdpFacts(e, await idpOf('Reasons IdP'));
      const t = Math.floor(clock.now() / 1000);
      assert.deepEqual(pick(e.facts, ['jwtExp', 'jwtIat', 'maxSkewSeconds']), { jwtExp: iso((t - 3600) * 1000), jwtIat: iso((t - 7200) * 1000), maxSkewSeconds: (await server.latchkey.cache.properties())['latchkey.assertion.max_skew_seconds'] });
    },
    run: async () => {
      const t = Math.floor(clock.now() / 1000);
      return idpCall(await (await idpFixture()).token({ iat: t - 7200, exp: t - 3600 }));
    },
  },
  {
    code: 'idp.not_yet_valid', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      assertIdpFacts(e, await idpOf('Reasons IdP'));
      assert.deepEqual(pick(e.facts, ['jwtNbf', 'maxSkewSeconds']), { jwtNbf: iso((Math.floor(clock.now() / 1000) + 3600) * 1000), maxSkewSeconds: (await server.latchkey.cache.properties())['latchkey.assertion.max_skew_seconds'] });
    },
    run: async () => {
      const t = Math.floor(clock.now() / 1000);
      return idpCall(await (await idpFixture()).token({ nbf: t + 3600, exp: t + 7200 }));
    },
  },
  {
    code: 'idp.lifetime_too_long', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      assertIdpFacts(e, await idpOf('Reasons IdP'));
      assert.deepEqual(pick(e.facts, ['lifetimeSeconds', 'maxLifetimeSeconds']), { lifetimeSeconds: 400 * 86400, maxLifetimeSeconds: (await server.latchkey.cache.properties())['latchkey.idp.max_token_lifetime_seconds'] });
    },
    run: async () => {
      const t = Math.floor(clock.now() / 1000);
      return idpCall(await (await idpFixture()).token({ iat: t, exp: t + 400 * 86400 }));
    },
  },
  {
    code: 'idp.claim_missing', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      const idp = await idpOf('Reasons IdP');
      assertIdpFacts(e, idp);
      assert.deepEqual(pick(e.facts, ['claim', 'userClaim', 'jwtClaimNames']), { claim: idp.userClaim, userClaim: 'sub', jwtClaimNames: Object.keys(sentClaims()) });
      assert.ok(!(e.facts.jwtClaimNames as string[]).includes('sub'));
    },
    run: async () => idpCall(await (await idpFixture()).token({ sub: undefined })),
  },
  {
    code: 'idp.unknown_user', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    facts: async (e) => {
      const idp = await idpOf('Reasons IdP');
      assertIdpFacts(e, idp);
      assert.equal(await server.latchkey.storage.users.byName('not-a-local-user'), undefined);
      assert.deepEqual(pick(e.facts, ['userClaim', 'userField', 'userClaimValue', 'userExists', 'userByOtherField']), { userClaim: idp.userClaim, userField: idp.userField, userClaimValue: 'not-a-local-user', userExists: false, userByOtherField: null });
      assert.match(e.fix ?? '', /latchkey users create not-a-local-user/);
    },
    run: async () => idpCall(await (await idpFixture()).token({ sub: 'not-a-local-user' })),
  },
  {
    code: 'idp.jwks_unavailable', status: 503, error: 'temporarily_unavailable', endpoint: 'api test/echo', wwwAuthenticate: null,
    facts: async (e) => {
      const idp = await idpOf('Hanging provider');
      assertIdpFacts(e, idp);
      assert.deepEqual(pick(e.facts, ['idpJwksUri', 'idpMetadataUrl']), { idpJwksUri: idp.jwksUri, idpMetadataUrl: idp.metadataUrl });
      assert.match(String(e.facts.fetchError), /timed out/);
    },
    run: async () => {
      // A registered provider whose JWKS URI never answers: refused within the 3 s fetch timeout.
      await idpFixture();
      const hanging = await startIdpServer({ issuerPath: '/hanging', now: () => clock.now() });
      try {
        await createIdentityProvider(registryDeps(server, clock), { name: 'Hanging provider', issuer: hanging.issuer, jwksUri: hanging.jwksUri, audience: IDP_AUDIENCE, check: false });
        await refreshCache(server);
        hanging.hang = true;
        return await idpCall(await hanging.mint({ aud: IDP_AUDIENCE, sub: 'idp-user' }));
      } finally {
        await hanging.close();
      }
    },
  },
  {
    code: 'outbound.refused', status: 503, error: 'temporarily_unavailable', endpoint: 'api test/echo', wwwAuthenticate: null,
    // The URL not fetched, why, and the property as it was when it refused (set by whom, when).
    facts: async (e) => {
      const property = 'latchkey.outbound.allow_private_networks';
      const [entry] = (await server.latchkey.storage.audit.list({ target: property, action: 'property.set', limit: 100 })).filter((a) => JSON.parse(a.after ?? '{}').value === 'false');
      assert.ok(entry !== undefined);
      assert.deepEqual([e.facts.outboundUrl, e.facts.property, e.facts.propertyValue], [kept.internalUrl, property, 'false']);
      assert.match(String(e.facts.outboundRefusal), /it uses http; the scheme must be https/);
      assert.deepEqual([e.facts.propertySetAt, e.facts.propertySetBy, e.facts.identityProvider], [iso(entry.at), entry.actor, 'Internal provider']);
    },
    run: async () => {
      // A provider registered on a loopback address while the property allowed it; once it is off,
      // its metadata is not fetched.
      await idpFixture();
      const internal = await startIdpServer({ issuerPath: '/internal', now: () => clock.now() });
      kept.internalUrl = internal.oidcMetadataUrl;
      try {
        await createIdentityProvider(registryDeps(server, clock), { name: 'Internal provider', issuer: internal.issuer, metadataUrl: internal.oidcMetadataUrl, audience: IDP_AUDIENCE, check: false });
        const token = await internal.mint({ aud: IDP_AUDIENCE, sub: 'idp-user' });
        return await withProperty('latchkey.outbound.allow_private_networks', 'false', 'true', () => api({ path: '/api/test/echo', bearer: token }));
      } finally {
        await internal.close();
      }
    },
  },
];

/**
 * Refusals of other endpoints (authorize, introspect, revoke, …) whose responses are not token-
 * endpoint JSON: `run` makes the request, asserts the response itself, and returns the request id
 * the refusal must be recorded under.
 */
interface OtherCase {
  readonly code: ReasonCode;
  /** The endpoint the refusal is recorded for. */
  readonly endpoint: string;
  readonly record?: (r: Refusal) => void;
  /** The facts of this case its explanation must carry (values checked against the registry, the audit log and the stored events). */
  readonly facts?: FactCheck;
  readonly run: () => Promise<{ readonly requestId: string }>;
}

/** An admin API call with a bearer token (or none), answered with its request id. */
async function adminCall(bearer: string | undefined, method = 'GET', path = '/users', headers: Record<string, string> = {}): Promise<{ requestId: string }> {
  const res = await adminFetch(server, method, path, { headers: { ...(bearer === undefined ? {} : { authorization: `Bearer ${bearer}` }), ...headers }, ...(method === 'GET' ? {} : { body: {} }) });
  assert.ok(res.status === 401 || res.status === 403, res.text);
  assert.equal(res.json.requestId, res.headers.get('x-request-id'));
  return { requestId: res.json.requestId as string };
}

/** A client-credentials token of a new application allowed the admin API, acting as `appUser`, for `scope`. */
async function adminAppToken(name: string, appUser: string, scope: string, scopes: string[] = []): Promise<string> {
  const created = await createApplication(registryDeps(server, clock), { name, grantTypes: ['client_credentials'], appUser, scopes, adminApi: true });
  await refreshCache(server);
  return accessToken(await post({ form: { grant_type: 'client_credentials', scope }, basic: [created.application.clientId, created.clientSecret ?? ''] }));
}

/** The admin API's refusals (issue 11): each produced by its attack. */
function ADMIN_CASES(): OtherCase[] {
  return [
    {
      code: 'admin.credentials_missing', endpoint: 'admin',
      facts: (e) => assert.deepEqual([e.facts.method, e.facts.path, e.facts.authMethod], ['GET', '/admin/api/v1/users', 'none']),
      run: () => adminCall(undefined),
    },
    {
      // A console session ended by an administrator changing its user's password.
      code: 'admin.session_ended', endpoint: 'admin', record: (r) => assert.equal(r.userName, 'ops-admin'),
      facts: async (e) => {
        const entry = await auditOf('ops-admin', 'user.sessions_ended');
        const value = /(?:^|; )latchkey_console=([^;]+)/.exec(kept.opsCookie!)?.[1] ?? '';
        const session = await server.latchkey.storage.sessions.byId(tokenKey(value));
        assert.ok(session !== undefined && session.revokedAt !== null);
        assert.deepEqual([e.facts.session, e.facts.sessionState, e.facts.sessionEndedAt], [sessionHandle(session.id), 'ended', iso(session.revokedAt)]);
        assert.equal(e.facts.sessionEndedAt, iso(entry.at));
        assert.equal(entry.actor, 'cli:reasons-test');
        assert.equal(e.facts.sessionEndedBy, `${entry.actor} (user.sessions_ended: password changed)`);
        assert.ok(!JSON.stringify(e).includes(value));
      },
      run: async () => {
        const deps = registryDeps(server, clock);
        await createUser(deps, { userName: 'ops-admin', password: PW, roles: ['admin'] });
        await refreshCache(server);
        const ops = await sessionClient(server, 'ops-admin', PW);
        assert.equal((await ops.call('GET', '/users')).status, 200);
        clock.advance(1000); // a password change is told by its time (passwordChangedAt)
        await updateUser({ ...deps, actor: 'cli:reasons-test' }, 'ops-admin', { password: `${PW}-changed` });
        await refreshCache(server);
        kept.opsCookie = ops.browserCookie();
        return adminCall(undefined, 'GET', '/users', { cookie: kept.opsCookie });
      },
    },
    {
      code: 'admin.csrf_failed', endpoint: 'admin', record: (r) => assert.equal(r.userName, 'admin'),
      facts: (e) => assert.deepEqual([e.facts.method, e.facts.path, e.facts.csrfTokenSent, e.facts.requestOrigin, e.facts.expectedOrigin], ['POST', '/admin/api/v1/scopes', false, null, new URL(server.latchkey.issuer()).origin]),
      run: async () => adminCall(undefined, 'POST', '/scopes', { cookie: (await sessionClient(server)).browserCookie() }),
    },
    {
      code: 'admin.external_token', endpoint: 'admin', record: (r) => assert.equal(r.userName, 'idp-user'),
      facts: async (e) => assert.deepEqual([e.facts.tokenIssuer, e.facts.identityProvider], [(await idpFixture()).idp.issuer, 'Reasons IdP']),
      run: async () => adminCall(await (await idpFixture()).token()),
    },
    {
      code: 'admin.grant_not_allowed', endpoint: 'admin',
      facts: async (e) => {
        await assertTokenFacts(e, kept.bearerGrant!);
        assert.equal(e.facts.tokenGrant, JWT_BEARER_GRANT);
      },
      run: async () => adminCall((kept.bearerGrant = await accessToken(await jwtBearer(await (await assertionFixture()).grant())))),
    },
    {
      code: 'admin.application_not_allowed', endpoint: 'admin', record: (r) => assert.equal(r.userName, 'alice'),
      facts: async (e) => {
        await assertTokenFacts(e, kept.notAdminApp!);
        assert.equal(e.facts.adminApi, (await appOf(apps.conf!.clientId)).adminApi);
        assert.ok(e.fix?.includes(`latchkey apps update ${apps.conf!.clientId} --admin-api true`), e.fix ?? '');
      },
      run: async () => adminCall((kept.notAdminApp = await accessToken(await password('conf', 'alice', PW)))),
    },
    {
      code: 'admin.scope_missing', endpoint: 'admin',
      facts: async (e, r) => {
        const record = await assertTokenFacts(e, kept.otherScope!);
        const app = await appOf(r.clientId ?? '');
        assert.deepEqual([e.facts.requiredScopes, e.facts.tokenScopes, e.facts.allowedScopes, e.facts.withdrawnScopes], [['latchkey.admin'], record.scopes, app.scopes, []]);
      },
      run: async () => adminCall((kept.otherScope = await adminAppToken('Admin app, other scope', 'svc', 'export.read', ['export.read']))),
    },
    {
      code: 'admin.role_missing', endpoint: 'admin', record: (r) => assert.equal(r.userName, 'svc'),
      facts: async (e) => {
        const svc = await server.latchkey.storage.users.byName('svc');
        assert.deepEqual([e.facts.requiredRoles, e.facts.userRoles], [['admin'], svc?.roles]);
        assert.match(e.fix ?? '', /latchkey users update svc --roles admin/);
      },
      run: async () => adminCall(await adminAppToken('Admin app, plain user', 'svc', 'latchkey.admin')),
    },
    {
      code: 'scope.admin_not_grantable', endpoint: 'authorize',
      facts: async (e, r) => {
        assert.ok(r.clientId !== null);
        assert.deepEqual([e.facts.requestedScopes, e.facts.allowedScopes], [['latchkey.admin'], [...(await appNow(r.clientId)).scopes]]);
      },
      run: async () => {
        const redirect = FIXTURE_REDIRECT_URI;
        const app = await createApplication(registryDeps(server, clock), { name: 'Wants the admin scope', grantTypes: ['authorization_code'], redirectUris: [redirect], adminApi: true });
        await refreshCache(server);
        const url = authorizeUrl(server, { response_type: 'code', client_id: app.application.clientId, redirect_uri: redirect, scope: 'latchkey.admin', state: 'fixture-state', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });
        return assertErrorRedirect(await new Browser(server.url).get(url), 'invalid_scope', 'fixture-state');
      },
    },
  ];
}

/** The facts of a refused scrape: the property that requires a token, when it was set and by whom (the audit entry that set it), what was sent. */
function metricsFacts(authMethod: string): FactCheck {
  return async (e) => {
    const [entry] = (await server.latchkey.storage.audit.list({ target: METRICS_PROPERTY, action: 'property.set', limit: 100 })).filter((a) => JSON.parse(a.after ?? '{}').value !== '');
    assert.ok(entry !== undefined);
    assert.deepEqual([e.facts.property, e.facts.propertySetAt, e.facts.propertySetBy, e.facts.authMethod], [METRICS_PROPERTY, iso(entry.at), entry.actor, authMethod]);
    assert.doesNotMatch(JSON.stringify(e), /the-wrong-token|the-right-token/);
  };
}

/** A scrape of /metrics while latchkey.metrics.token_sha256 requires a token. */
async function scrape(headers: Record<string, string>): Promise<{ requestId: string }> {
  return withProperty('latchkey.metrics.token_sha256', metricsTokenHash('lk_mt_the-right-token'), '', async () => {
    const res = await fetch(`${server.url}/metrics`, { headers });
    assert.equal(res.status, 401, await res.text());
    return { requestId: res.headers.get('x-request-id') ?? '' };
  });
}

// --- OpenID Connect UserInfo (issue 15) ---
let userinfoSetup: Promise<{ readonly clientId: string; readonly secret: string }> | undefined;
/** An application allowed openid and the password grant and client credentials (openid created if this branch has no built-in one). */
function userinfoApp(): Promise<{ readonly clientId: string; readonly secret: string }> {
  return (userinfoSetup ??= (async () => {
    const deps = registryDeps(server, clock);
    if ((await server.latchkey.storage.scopes.byName('openid')) === undefined) await createScope(deps, 'openid');
    const made = await createApplication(deps, { name: 'UserInfo RP', grantTypes: ['password', 'client_credentials'], appUser: 'svc', scopes: ['openid', 'profile'] });
    await refreshCache(server);
    return { clientId: made.application.clientId, secret: made.clientSecret ?? '' };
  })());
}
async function userinfoToken(scope: string, grant: 'password' | 'client_credentials' = 'password'): Promise<string> {
  const app = await userinfoApp();
  const form: Record<string, string> = grant === 'password' ? { grant_type: 'password', username: 'dora', password: PW, scope } : { grant_type: 'client_credentials', scope };
  return accessToken(await post({ form, basic: [app.clientId, app.secret] }));
}
const userinfoCall = (init: { method?: string; headers?: Record<string, string>; form?: Record<string, string>; query?: string } = {}) =>
  tokenRequest(server.url, { path: '/oauth/userinfo', method: init.method ?? 'GET', headers: init.headers ?? {}, ...(init.form === undefined ? {} : { form: init.form }), ...(init.query === undefined ? {} : { query: init.query }) });

function USERINFO_CASES(): OtherCase[] {
  return [
    { code: 'userinfo.method_not_allowed', endpoint: 'userinfo', facts: (e) => assert.equal(e.facts.method, 'DELETE'), run: () => userinfoCall({ method: 'DELETE' }) },
    { code: 'userinfo.credentials_missing', endpoint: 'userinfo', facts: (e) => assert.deepEqual([e.facts.method, e.facts.authMethod], ['GET', 'none']), run: () => userinfoCall() },
    {
      code: 'userinfo.malformed_authorization', endpoint: 'userinfo',
      facts: (e) => assert.deepEqual([e.facts.authMethod, e.facts.credentialLocations], ['bearer', ['header']]),
      run: () => userinfoCall({ headers: { authorization: 'Bearer two tokens' } }),
    },
    {
      code: 'userinfo.multiple_credentials', endpoint: 'userinfo',
      facts: (e) => {
        assert.deepEqual([e.facts.method, e.facts.credentialLocations], ['POST', ['header', 'body']]);
        assert.doesNotMatch(JSON.stringify(e), /lk_at_/);
      },
      run: async () => {
        const t = await userinfoToken('openid');
        return userinfoCall({ method: 'POST', headers: { authorization: `Bearer ${t}` }, form: { access_token: t } });
      },
    },
    {
      code: 'userinfo.token_in_query', endpoint: 'userinfo',
      facts: (e) => {
        assert.deepEqual(e.facts.credentialLocations, ['query']);
        assert.doesNotMatch(JSON.stringify(e), /lk_at_/);
      },
      run: async () => userinfoCall({ query: `access_token=${encodeURIComponent(await userinfoToken('openid'))}` }),
    },
    {
      code: 'userinfo.openid_scope_missing', endpoint: 'userinfo', record: (r) => assert.equal(r.userName, 'dora'),
      facts: async (e) => {
        assert.deepEqual([e.facts.tokenGrant, e.facts.tokenScopes, e.facts.requiredScopes], ['password', ['profile'], ['openid']]);
        await assertTokenFacts(e, kept.userinfoToken ?? '');
      },
      run: async () => {
        kept.userinfoToken = await userinfoToken('profile');
        return userinfoCall({ headers: { authorization: `Bearer ${kept.userinfoToken}` } });
      },
    },
    {
      code: 'userinfo.no_end_user', endpoint: 'userinfo', record: (r) => assert.equal(r.userName, 'svc'),
      facts: (e) => assert.deepEqual([e.facts.tokenGrant, e.facts.tokenScopes], ['client_credentials', ['openid']]),
      run: async () => userinfoCall({ headers: { authorization: `Bearer ${await userinfoToken('openid', 'client_credentials')}` } }),
    },
    {
      code: 'userinfo.external_token', endpoint: 'userinfo', record: (r) => assert.equal(r.userName, 'idp-user'),
      facts: async (e) => assert.deepEqual([e.facts.tokenIssuer, e.facts.identityProvider], [(await idpFixture()).idp.issuer, 'Reasons IdP']),
      run: async () => userinfoCall({ headers: { authorization: `Bearer ${await (await idpFixture()).token()}` } }),
    },
  ];
}

// --- the end-session endpoint (issue 15: RP-Initiated Logout 1.0) ---
let logoutSetup: Promise<{ clientId: string; otherClientId: string; idToken: string }> | undefined;
/** An application with a registered post-logout redirect URI, another, and a real ID token of the first. */
function logoutFixture() {
  return (logoutSetup ??= (async () => {
    const deps = registryDeps(server, clock);
    if ((await server.latchkey.storage.scopes.byName('openid')) === undefined) await createScope(deps, 'openid');
    const made = await createApplication(deps, { name: 'Logout RP', grantTypes: ['authorization_code'], redirectUris: ['https://rp.example.com/cb'], scopes: ['openid'], postLogoutRedirectUris: ['https://rp.example.com/bye'] });
    const other = await createApplication(deps, { name: 'Logout other RP', grantTypes: ['authorization_code'], redirectUris: ['https://rp.example.com/cb'], scopes: ['openid'] });
    await refreshCache(server);
    const mint = createIdTokenMinter({ keyring: server.latchkey.keyring, issuer: () => server.latchkey.issuer() });
    const idToken = await mint({ application: made.application, userId: 'user-1', accessToken: 'x', now: clock.now() });
    return { clientId: made.application.clientId, otherClientId: other.application.clientId, idToken };
  })());
}
const logoutPage = (query: string, init: { method?: string; form?: Record<string, string> } = {}) => new Browser(server.url).request(`/oauth/logout${query}`, init);

function LOGOUT_CASES(): OtherCase[] {
  return [
    { code: 'logout.method_not_allowed', endpoint: 'logout', facts: (e) => assert.equal(e.facts.method, 'DELETE'), run: () => logoutPage('', { method: 'DELETE' }) },
    { code: 'logout.hint_invalid', endpoint: 'logout', facts: (e) => assert.deepEqual([e.facts.hintProblem, e.facts.logoutClientId], ['malformed', null]), run: () => logoutPage('?id_token_hint=not-a-jwt') },
    { code: 'logout.client_unknown', endpoint: 'logout', facts: (e) => assert.deepEqual([e.facts.logoutClientId, e.facts.hintAudience], ['no-such-client', null]), run: () => logoutPage('?client_id=no-such-client') },
    {
      code: 'logout.client_mismatch', endpoint: 'logout',
      facts: async (e) => {
        const fx = await logoutFixture();
        assert.deepEqual([e.facts.logoutClientId, e.facts.hintAudience], [fx.otherClientId, [fx.clientId]]);
      },
      run: async () => {
        const fx = await logoutFixture();
        return logoutPage(`?id_token_hint=${fx.idToken}&client_id=${fx.otherClientId}`);
      },
    },
    { code: 'logout.redirect_uri_without_client', endpoint: 'logout', facts: (e) => assert.equal(e.facts.postLogoutRedirectUri, 'https://rp.example.com/bye'), run: () => logoutPage(`?post_logout_redirect_uri=${encodeURIComponent('https://rp.example.com/bye')}`) },
    {
      code: 'logout.redirect_uri_unregistered', endpoint: 'logout',
      facts: async (e) => {
        const fx = await logoutFixture();
        assert.deepEqual(pick(e.facts, ['postLogoutRedirectUri', 'registeredPostLogoutRedirectUris', 'logoutClientId']), { postLogoutRedirectUri: 'https://rp.example.com/bye/', registeredPostLogoutRedirectUris: ['https://rp.example.com/bye'], logoutClientId: fx.clientId });
      },
      run: async () => {
        const fx = await logoutFixture();
        const page = await logoutPage(`?client_id=${fx.clientId}&post_logout_redirect_uri=${encodeURIComponent('https://rp.example.com/bye/')}&state=s`);
        assert.equal(page.location, undefined, 'never redirected');
        return page;
      },
    },
    { code: 'logout.csrf_failed', endpoint: 'logout', facts: (e) => assert.deepEqual([e.facts.csrfCookiePresent, e.facts.csrfTokenPresent], [false, true]), run: () => logoutPage('', { form: { lk_action: 'logout', lk_csrf: 'forged', decision: 'sign_out' } }) },
  ];
}

// --- dynamic client registration (RFC 7591) and management (RFC 7592), issue 16 ---
let registrationSetup: Promise<{ token: string }> | undefined;
/** An initial access token (no limit), with the per-source registration limit off for these cases. */
function registrationFixture(): Promise<{ token: string }> {
  return (registrationSetup ??= (async () => {
    await setProperty(registryDeps(server, clock), 'latchkey.rate_limit.registration', '0');
    await refreshCache(server);
    return { token: (await createInitialAccessToken({ ...registryDeps(server, clock), actor: 'test' }, {})).token };
  })());
}
const REG_WEB = { client_name: 'Reasons agent', redirect_uris: ['https://agent.example.com/cb'] };
/** A registration (or management) request; asserts its status and error, answers the request id. */
async function registration(expect: { status: number; error: string }, body: unknown, options: { token?: string | null; method?: string; path?: string; contentType?: string; raw?: string } = {}): Promise<{ requestId: string }> {
  const token = options.token === undefined ? (await registrationFixture()).token : options.token;
  const res = await tokenRequest(server.url, {
    method: options.method ?? 'POST',
    path: options.path ?? '/oauth/register',
    body: options.raw ?? JSON.stringify(body),
    contentType: options.contentType ?? 'application/json',
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, expect.status, res.text);
  assert.equal(res.json?.error, expect.error, res.text);
  return res;
}
const metadataRefusal = { status: 400, error: 'invalid_client_metadata' } as const;
const redirectRefusal = { status: 400, error: 'invalid_redirect_uri' } as const;
const bearerRefused = { status: 401, error: 'invalid_token' } as const;
const fieldIs = (field: string) => (e: Explanation) => assert.equal(e.facts.metadataField, field);

function REGISTRATION_CASES(): OtherCase[] {
  return [
    {
      code: 'registration.disabled', endpoint: 'register',
      facts: (e) => assert.equal(e.facts.registrationMode, 'off'),
      run: async () => {
        await registrationFixture();
        return withProperty('latchkey.registration.mode', 'off', 'token', () => registration({ status: 404, error: 'invalid_request' }, REG_WEB));
      },
    },
    { code: 'registration.token_missing', endpoint: 'register', facts: (e) => assert.equal(e.facts.registrationMode, 'token'), run: () => registration(bearerRefused, REG_WEB, { token: null }) },
    { code: 'registration.token_unknown', endpoint: 'register', facts: (e) => assert.equal(e.facts.initialAccessTokenLength, 'lk_ia_wrong'.length), run: () => registration(bearerRefused, REG_WEB, { token: 'lk_ia_wrong' }) },
    {
      code: 'registration.token_unusable', endpoint: 'register',
      facts: (e) => {
        assert.equal(e.facts.initialAccessTokenId, kept.iatId);
        assert.equal(e.facts.initialAccessTokenState, 'revoked');
        assert.equal(e.facts.initialAccessTokenExpiredAt, null);
      },
      run: async () => {
        await registrationFixture();
        const created = await createInitialAccessToken({ ...registryDeps(server, clock), actor: 'test' }, { uses: 1 });
        await revokeInitialAccessToken({ ...registryDeps(server, clock), actor: 'test' }, created.record.id);
        kept.iatId = created.record.id;
        return registration(bearerRefused, REG_WEB, { token: created.token });
      },
    },
    { code: 'registration.body_invalid', endpoint: 'register', facts: (e) => assert.equal(e.facts.contentType, 'text/plain'), run: () => registration(metadataRefusal, undefined, { raw: 'hello', contentType: 'text/plain' }) },
    { code: 'registration.redirect_uri_invalid', endpoint: 'register', facts: fieldIs('redirect_uris'), run: () => registration(redirectRefusal, { redirect_uris: ['https://agent.example.com/cb#frag'] }) },
    {
      code: 'registration.redirect_uri_application_type', endpoint: 'register',
      facts: (e) => assert.equal(e.facts.applicationType, 'web'),
      run: () => registration(redirectRefusal, { application_type: 'web', redirect_uris: ['http://127.0.0.1:8080/cb'] }),
    },
    { code: 'registration.redirect_uris_missing', endpoint: 'register', facts: fieldIs('redirect_uris'), run: () => registration(redirectRefusal, { client_name: 'No redirects' }) },
    { code: 'registration.grant_types_invalid', endpoint: 'register', facts: fieldIs('grant_types'), run: () => registration(metadataRefusal, { ...REG_WEB, grant_types: ['client_credentials'] }) },
    { code: 'registration.auth_method_unsupported', endpoint: 'register', facts: fieldIs('token_endpoint_auth_method'), run: () => registration(metadataRefusal, { ...REG_WEB, token_endpoint_auth_method: 'tls_client_auth' }) },
    { code: 'registration.keys_invalid', endpoint: 'register', facts: fieldIs('jwks'), run: () => registration(metadataRefusal, { ...REG_WEB, token_endpoint_auth_method: 'private_key_jwt' }) },
    { code: 'registration.scope_invalid', endpoint: 'register', facts: fieldIs('scope'), run: () => registration(metadataRefusal, { ...REG_WEB, scope: 'latchkey.admin' }) },
    { code: 'registration.field_invalid', endpoint: 'register', facts: fieldIs('client_name'), run: () => registration(metadataRefusal, { ...REG_WEB, client_name: ['not', 'a', 'string'] }) },
    {
      code: 'registration.policy_refused', endpoint: 'register',
      facts: (e) => assert.deepEqual([e.facts.registrationPolicy, e.facts.metadataField], ['reasons', 'scope']),
      run: async () => {
        await registrationFixture();
        await setRegistrationPolicy({ ...registryDeps(server, clock), actor: 'test' }, 'reasons', { scopes: ['export.read'] });
        const created = await createInitialAccessToken({ ...registryDeps(server, clock), actor: 'test' }, { policy: 'reasons' });
        return registration(metadataRefusal, { ...REG_WEB, scope: 'export.write' }, { token: created.token });
      },
    },
    {
      code: 'registration.management_token_invalid', endpoint: 'register',
      facts: (e) => assert.equal(e.facts.registrationClientId, 'no-such-client'),
      run: () => registration(bearerRefused, undefined, { method: 'GET', path: '/oauth/register/no-such-client', token: 'lk_ra_wrong' }),
    },
    {
      code: 'registration.client_id_mismatch', endpoint: 'register',
      facts: (e) => assert.equal(e.facts.registrationClientId, kept.registeredClientId),
      run: async () => {
        const { token } = await registrationFixture();
        const res = await tokenRequest(server.url, { path: '/oauth/register', body: JSON.stringify({ ...REG_WEB, client_name: 'To update' }), contentType: 'application/json', headers: { authorization: `Bearer ${token}` } });
        assert.equal(res.status, 201, res.text);
        const clientId = String(res.json?.client_id);
        kept.registeredClientId = clientId;
        return registration(metadataRefusal, { ...REG_WEB, client_id: 'another-client' }, { method: 'PUT', path: `/oauth/register/${clientId}`, token: String(res.json?.registration_access_token) });
      },
    },
    {
      code: 'rate_limit.registration_exceeded', endpoint: 'register',
      facts: (e) => assert.deepEqual([e.facts.limitSource, typeof e.facts.retryAfterSeconds], ['latchkey.rate_limit.registration', 'number']),
      run: async () => {
        await registrationFixture();
        return withProperty('latchkey.rate_limit.registration', '1', '0', async () => {
          await registration({ status: 400, error: 'invalid_redirect_uri' }, { client_name: 'Counted' });
          return registration({ status: 429, error: 'too_many_requests' }, { client_name: 'Over' });
        });
      },
    },
  ];
}

// --- pushed authorization requests (RFC 9126, issue 17) ---
/** Pushes a valid request for the code fixture's confidential client; returns its request_uri. */
async function pushedUri(extra: Record<string, string> = {}): Promise<string> {
  const fx = await codeFixture(server, clock);
  const { client_id: _clientId, ...params } = requestParams(fx);
  const res = await post({ path: '/oauth/par', form: { ...params, ...extra }, basic: [fx.confidential.clientId, fx.confidential.secret] });
  assert.equal(res.status, 201, res.text);
  return String(res.json?.request_uri);
}
const parUrl = (clientId: string, requestUri: string) => `${server.url}/oauth/authorize?${new URLSearchParams({ client_id: clientId, request_uri: requestUri }).toString()}`;

function PAR_CASES(): OtherCase[] {
  return [
    {
      code: 'par.request_uri_in_request', endpoint: 'par',
      facts: (e) => assert.equal(e.facts.requestUriLength, 'urn:ietf:params:oauth:request_uri:abc'.length),
      run: async () => {
        const fx = await codeFixture(server, clock);
        const { client_id: _clientId, ...params } = requestParams(fx);
        const res = await post({ path: '/oauth/par', form: { ...params, request_uri: 'urn:ietf:params:oauth:request_uri:abc' }, basic: [fx.confidential.clientId, fx.confidential.secret] });
        assertOAuthError(res, 400, 'invalid_request');
        return res;
      },
    },
    {
      code: 'dpop.par_jkt_mismatch', endpoint: 'par',
      facts: (e) => {
        assert.equal(e.facts.dpopJkt, 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
        assert.equal(typeof e.facts.boundJkt, 'string');
      },
      run: async () => {
        const fx = await codeFixture(server, clock);
        const { client_id: _clientId, ...params } = requestParams(fx);
        const key = await dpopKey();
        const res = await post({ path: '/oauth/par', form: { ...params, dpop_jkt: 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs' }, basic: [fx.confidential.clientId, fx.confidential.secret], headers: { dpop: await dpopProof(key, 'POST', '/oauth/par') } });
        assertOAuthError(res, 400, 'invalid_dpop_proof');
        return res;
      },
    },
    {
      code: 'par.request_uri_unknown', endpoint: 'authorize',
      facts: async (e) => assert.deepEqual(pick(e.facts, ['requestUriLength', 'sentClientId']), { requestUriLength: 'urn:ietf:params:oauth:request_uri:nope'.length, sentClientId: (await codeFixture(server, clock)).confidential.clientId }),
      run: async () => assertErrorPage(await new Browser(server.url).get(parUrl((await codeFixture(server, clock)).confidential.clientId, 'urn:ietf:params:oauth:request_uri:nope')), 400),
    },
    {
      code: 'par.request_uri_used', endpoint: 'authorize',
      facts: async (e) => {
        assert.equal(e.facts.pushedClientId, (await codeFixture(server, clock)).confidential.clientId);
        assert.equal(typeof e.facts.pushedAt, 'string');
        assert.equal(typeof e.facts.pushedUsedAt, 'string');
      },
      run: async () => {
        const fx = await codeFixture(server, clock);
        const uri = await pushedUri();
        assert.equal((await new Browser(server.url).get(parUrl(fx.confidential.clientId, uri))).status, 200);
        return assertErrorPage(await new Browser(server.url).get(parUrl(fx.confidential.clientId, uri)), 400);
      },
    },
    {
      code: 'par.request_uri_wrong_client', endpoint: 'authorize',
      facts: async (e) => {
        const fx = await codeFixture(server, clock);
        assert.deepEqual(pick(e.facts, ['sentClientId', 'pushedClientId']), { sentClientId: fx.public.clientId, pushedClientId: fx.confidential.clientId });
      },
      run: async () => assertErrorPage(await new Browser(server.url).get(parUrl((await codeFixture(server, clock)).public.clientId, await pushedUri())), 400),
    },
    {
      code: 'par.request_uri_expired', endpoint: 'authorize',
      facts: (e) => {
        assert.equal(Date.parse(String(e.facts.pushedExpiredAt)) - Date.parse(String(e.facts.pushedAt)), 60_000, 'latchkey.par.lifetime');
        assert.match(e.fix ?? '', /latchkey\.par\.lifetime/);
      },
      run: async () => {
        const fx = await codeFixture(server, clock);
        const uri = await pushedUri();
        clock.advance(60_001);
        return assertErrorPage(await new Browser(server.url).get(parUrl(fx.confidential.clientId, uri)), 400);
      },
    },
    {
      code: 'par.required', endpoint: 'authorize',
      facts: (e) => {
        assert.deepEqual(pick(e.facts, ['parRequiredBy', 'property']), { parRequiredBy: 'instance', property: 'latchkey.par.required' });
        assert.match(e.fix ?? '', /--par-required false/);
      },
      run: () =>
        withProperty('latchkey.par.required', 'true', 'false', async () => {
          const fx = await codeFixture(server, clock);
          return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, requestParams(fx))), 'invalid_request', 'fixture-state');
        }),
    },
  ];
}

const OTHER_CASES: OtherCase[] = [
  ...PAR_CASES(),
  ...REGISTRATION_CASES(),
  ...DEVICE_PAGE_CASES(),
  {
    code: 'dpop.jkt_malformed', endpoint: 'authorize',
    facts: (e) => assert.equal(e.facts.dpopProblem, 'dpop_jkt of 9 characters'),
    // RFC 9449 §10: dpop_jkt is a JWK SHA-256 thumbprint; back to the client as invalid_request.
    run: async () => {
      const params = { ...requestParams(await codeFixture(server, clock), { challenge: pkcePair().challenge }), dpop_jkt: 'not-a-jkt' };
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, params)), 'invalid_request', 'fixture-state');
    },
  },
  // --- /metrics (issue 13) ---
  { code: 'metrics.credentials_missing', endpoint: 'metrics', facts: metricsFacts('none'), run: () => scrape({}) },
  { code: 'metrics.token_invalid', endpoint: 'metrics', facts: metricsFacts('bearer'), run: () => scrape({ authorization: 'Bearer lk_mt_the-wrong-token' }) },
  // --- authorization endpoint cases (issue 4) ---
  {
    code: 'authorize.client_id_missing', endpoint: 'authorize',
    // The redirect URI sent names the applications it may have come from.
    facts: async (e) => {
      const registering = (await server.latchkey.storage.applications.list()).filter((a) => a.redirectUris.includes(FIXTURE_REDIRECT_URI)).map((a) => a.clientId);
      assert.ok(registering.includes((await codeFixture(server, clock)).confidential.clientId));
      assert.deepEqual(pick(e.facts, ['requestedRedirectUri', 'redirectUriRegisteredFor']), { requestedRedirectUri: FIXTURE_REDIRECT_URI, redirectUriRegisteredFor: registering });
      assert.match(e.fix ?? '', /^Send client_id in the authorization request: the redirect URI sent is registered for the applications? /);
    },
    run: async () => {
      await codeFixture(server, clock);
      return assertErrorPage(await new Browser(server.url).get(`${server.url}/oauth/authorize?response_type=code&redirect_uri=${encodeURIComponent(FIXTURE_REDIRECT_URI)}`), 400);
    },
  },
  {
    code: 'authorize.redirect_uri_mismatch', endpoint: 'authorize',
    record: (r) => assert.equal(r.applicationName, 'Code flow (confidential)'),
    facts: async (e) => {
      const fx = await codeFixture(server, clock);
      const app = await appOf(fx.confidential.clientId);
      assert.deepEqual(pick(e.facts, ['requestedRedirectUri', 'registeredRedirectUris', 'nearestRedirectUri', 'allowedGrants']), {
        requestedRedirectUri: `${fx.redirectUri}/`, registeredRedirectUris: [...app.redirectUris], nearestRedirectUri: fx.redirectUri, allowedGrants: [...app.grantTypes],
      });
      // The fix: the nearest registered one, and the command that registers the one sent beside the current ones.
      assert.match(e.fix ?? '', new RegExp(`^Send the registered redirect URI ${escape(fx.redirectUri)}, the nearest`));
      assert.ok((e.fix ?? '').endsWith(`latchkey apps update ${app.clientId} ${[...app.redirectUris, `${fx.redirectUri}/`].map((u) => `--redirect-uri ${u}`).join(' ')}`), e.fix ?? '');
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorPage(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), redirect_uri: `${fx.redirectUri}/` })), 400);
    },
  },
  {
    code: 'authorize.redirect_uri_missing', endpoint: 'authorize',
    facts: async (e) => {
      const app = await appOf((await codeFixture(server, clock)).unregistered.clientId);
      assert.deepEqual(pick(e.facts, ['requestedRedirectUri', 'registeredRedirectUris', 'allowedGrants']), { requestedRedirectUri: null, registeredRedirectUris: [...app.redirectUris], allowedGrants: [...app.grantTypes] });
      assert.deepEqual(app.redirectUris, []);
      assert.equal(e.fix, `Register the application's redirect URI: latchkey apps update ${app.clientId} --redirect-uri <uri>`);
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorPage(await new Browser(server.url).get(authorizeUrl(server, { response_type: 'code', client_id: fx.unregistered.clientId })), 400);
    },
  },
  {
    code: 'authorize.response_type_missing', endpoint: 'authorize',
    facts: async (e) => {
      const app = await appOf((await codeFixture(server, clock)).confidential.clientId);
      assert.deepEqual(pick(e.facts, ['requestedResponseType', 'supportedResponseTypes', 'allowedGrants']), { requestedResponseType: null, supportedResponseTypes: ['code'], allowedGrants: [...app.grantTypes] });
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { response_type: _omitted, ...params } = requestParams(fx);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, params)), 'invalid_request', 'fixture-state');
    },
  },
  {
    code: 'authorize.unsupported_response_type', endpoint: 'authorize',
    facts: async (e) => {
      const app = await appOf((await codeFixture(server, clock)).confidential.clientId);
      assert.deepEqual(pick(e.facts, ['requestedResponseType', 'supportedResponseTypes', 'allowedGrants']), { requestedResponseType: 'token', supportedResponseTypes: ['code'], allowedGrants: [...app.grantTypes] });
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), response_type: 'token' })), 'unsupported_response_type', 'fixture-state');
    },
  },
  {
    code: 'authorize.nonce_malformed', endpoint: 'authorize',
    facts: (e) => {
      assert.deepEqual(pick(e.facts, ['nonceLength', 'maxNonceLength', 'nonceInvalidCharacters']), { nonceLength: 513, maxNonceLength: 512, nonceInvalidCharacters: 0 });
      assert.ok(!JSON.stringify(e.facts).includes('n'.repeat(100)), 'the nonce itself is not a fact');
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), nonce: 'n'.repeat(513) })), 'invalid_request', 'fixture-state');
    },
  },
  {
    code: 'authorize.prompt_invalid', endpoint: 'authorize',
    facts: (e) => assert.deepEqual(pick(e.facts, ['requestedPrompt', 'supportedPrompts']), { requestedPrompt: 'none login', supportedPrompts: ['none', 'login', 'consent', 'select_account'] }),
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), prompt: 'none login' })), 'invalid_request', 'fixture-state');
    },
  },
  {
    code: 'authorize.login_required', endpoint: 'authorize',
    facts: (e) => assert.deepEqual(pick(e.facts, ['requestedPrompt', 'loginRequiredBecause']), { requestedPrompt: 'none', loginRequiredBecause: 'no_session' }),
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), prompt: 'none' })), 'login_required', 'fixture-state');
    },
  },
  {
    code: 'authorize.consent_required', endpoint: 'authorize',
    record: (r) => assert.equal(r.userName, 'code-flow-user'),
    facts: (e) => assert.deepEqual(pick(e.facts, ['requestedPrompt']), { requestedPrompt: 'none' }),
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { browser, url, page } = await signInPage(server, fx);
      await browser.submit(url, formFor(page, 'sign_in'), { username: fx.user, password: fx.password });
      return assertErrorRedirect(await browser.get(authorizeUrl(server, { ...requestParams(fx), prompt: 'none' })), 'consent_required', 'fixture-state');
    },
  },
  {
    code: 'authorize.max_age_malformed', endpoint: 'authorize',
    facts: (e) => assert.deepEqual(pick(e.facts, ['requestedMaxAge']), { requestedMaxAge: '-5' }),
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), max_age: '-5' })), 'invalid_request', 'fixture-state');
    },
  },
  {
    code: 'authorize.id_token_hint_invalid', endpoint: 'authorize',
    facts: (e) => {
      assert.deepEqual(pick(e.facts, ['idTokenHintProblem']), { idTokenHintProblem: 'malformed' });
      assert.ok(!JSON.stringify(e.facts).includes('hint-garbage'), 'the hint itself is not a fact');
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), id_token_hint: 'hint-garbage' })), 'invalid_request', 'fixture-state');
    },
  },
  {
    code: 'authorize.claims_malformed', endpoint: 'authorize',
    facts: (e) => assert.deepEqual(pick(e.facts, ['claimsParameterLength']), { claimsParameterLength: 15 }),
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), claims: '{"userinfo":[]}' })), 'invalid_request', 'fixture-state');
    },
  },
  {
    code: 'authorize.request_object_unsupported', endpoint: 'authorize',
    facts: (e) => assert.equal(e.facts?.requestObjectLength, 8),
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), request: 'e30.e30.' })), 'request_not_supported', 'fixture-state');
    },
  },
  {
    code: 'authorize.request_uri_unsupported', endpoint: 'authorize',
    facts: (e) => assert.equal(e.facts?.requestObjectLength, 'urn:example:request'.length),
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), request_uri: 'urn:example:request' })), 'request_uri_not_supported', 'fixture-state');
    },
  },
  {
    code: 'authorize.response_mode_unsupported', endpoint: 'authorize',
    facts: (e) => assert.deepEqual(pick(e.facts, ['requestedResponseMode', 'supportedResponseModes']), { requestedResponseMode: 'fragment', supportedResponseModes: ['query', 'form_post'] }),
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), response_mode: 'fragment' })), 'invalid_request', 'fixture-state');
    },
  },
  {
    code: 'authorize.state_too_long', endpoint: 'authorize',
    facts: (e) => {
      assert.deepEqual(pick(e.facts, ['stateLength', 'maxStateLength']), { stateLength: 2049, maxStateLength: 2048 });
      assert.ok(!JSON.stringify(e.facts).includes('s'.repeat(100)), 'the state itself is not a fact');
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      const state = 's'.repeat(2049);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, requestParams(fx, { state }))), 'invalid_request', state);
    },
  },
  {
    code: 'authorize.request_invalid', endpoint: 'authorize',
    facts: (e) => assert.deepEqual(pick(e.facts, ['formAction', 'pendingRequestValid']), { formAction: 'sign_in', pendingRequestValid: false }),
    run: async () => {
      const { browser, url, page } = await signInPage(server, await codeFixture(server, clock));
      const form = formFor(page, 'sign_in');
      return assertErrorPage(await browser.submit(url, { ...form, fields: { ...form.fields, lk_request: `x${form.fields.lk_request ?? ''}` } }, { username: 'alice', password: PW }), 400);
    },
  },
  {
    code: 'authorize.request_expired', endpoint: 'authorize',
    // The sign-in page was shown at clock.now() (the run puts the clock back), the form sent 10 minutes and 1 ms later.
    facts: (e, r) => {
      assert.deepEqual(pick(e.facts, ['requestStartedAt', 'requestExpiredAt', 'formAction']), { requestStartedAt: iso(clock.now()), requestExpiredAt: iso(clock.now() + 10 * 60_000), formAction: 'sign_in' });
      assert.equal(r.at, clock.now() + 10 * 60_000 + 1);
    },
    run: async () => {
      const { browser, url, page } = await signInPage(server, await codeFixture(server, clock));
      clock.advance(10 * 60_000 + 1);
      try {
        return assertErrorPage(await browser.submit(url, formFor(page, 'sign_in'), { username: 'alice', password: PW }), 400);
      } finally {
        clock.advance(-(10 * 60_000 + 1));
      }
    },
  },
  {
    code: 'authorize.csrf_failed', endpoint: 'authorize',
    record: (r) => assert.equal(r.status, 403),
    // The browser sent its pre-session cookie and a token, which did not match it (forged).
    facts: (e) => {
      assert.deepEqual(pick(e.facts, ['formAction', 'csrfCookiePresent', 'csrfTokenPresent']), { formAction: 'sign_in', csrfCookiePresent: true, csrfTokenPresent: true });
      assert.ok(!JSON.stringify(e.facts).includes('forged'), 'the token itself is not a fact');
    },
    run: async () => {
      const { browser, url, page } = await signInPage(server, await codeFixture(server, clock));
      const form = formFor(page, 'sign_in');
      return assertErrorPage(await browser.submit(url, { ...form, fields: { ...form.fields, lk_csrf: 'forged' } }, { username: 'alice', password: PW }), 403);
    },
  },
  {
    code: 'authorize.consent_denied', endpoint: 'authorize',
    record: (r) => assert.equal(r.userName, 'code-flow-user'),
    facts: async (e) => {
      const fx = await codeFixture(server, clock);
      const app = await appOf(fx.confidential.clientId);
      // The consent page offered the application's scopes (the request asked for none).
      assert.deepEqual(pick(e.facts, ['requestedScopes', 'allowedScopes', 'requestedRedirectUri']), { requestedScopes: [...app.scopes], allowedScopes: [...app.scopes], requestedRedirectUri: fx.redirectUri });
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      const answer = await authorizeInBrowser(new Browser(server.url), authorizeUrl(server, requestParams(fx, { challenge: pkcePair().challenge })), { username: fx.user, password: fx.password }, 'deny');
      return assertErrorRedirect(answer, 'access_denied', 'fixture-state');
    },
  },
  {
    code: 'pkce.challenge_missing', endpoint: 'authorize',
    facts: async (e) => {
      const app = await appOf((await codeFixture(server, clock)).public.clientId);
      assert.deepEqual(pick(e.facts, ['challengeMethod', 'requiredChallengeMethod', 'applicationPublic']), { challengeMethod: null, requiredChallengeMethod: 'S256', applicationPublic: app.public });
      assert.equal(app.public, true);
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, requestParams(fx, { client: 'public' }))), 'invalid_request', 'fixture-state');
    },
  },
  {
    code: 'pkce.method_unsupported', endpoint: 'authorize',
    facts: (e) => {
      assert.deepEqual(pick(e.facts, ['challengeMethod', 'requiredChallengeMethod', 'challengeLength']), { challengeMethod: 'plain', requiredChallengeMethod: 'S256', challengeLength: 43 });
      assert.ok(!JSON.stringify(e.facts).includes(sent.challenge ?? '?'), 'the challenge itself is not a fact');
    },
    run: async () => {
      const fx = await codeFixture(server, clock);
      sent.challenge = pkcePair().challenge;
      const params = { ...requestParams(fx, { client: 'public', challenge: sent.challenge }), code_challenge_method: 'plain' };
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, params)), 'invalid_request', 'fixture-state');
    },
  },
  {
    code: 'pkce.challenge_malformed', endpoint: 'authorize',
    facts: (e) => assert.deepEqual(pick(e.facts, ['challengeLength', 'challengeMethod', 'requiredChallengeMethod']), { challengeLength: 'not-a-challenge'.length, challengeMethod: 'S256', requiredChallengeMethod: 'S256' }),
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, requestParams(fx, { client: 'public', challenge: 'not-a-challenge' }))), 'invalid_request', 'fixture-state');
    },
  },
  // --- introspection and revocation cases (issue 4) ---
  {
    code: 'introspect.client_authentication_required', endpoint: 'introspect',
    record: (r) => assert.equal(r.status, 401),
    facts: async (e, r) => {
      const app = await appOf(r.clientId ?? '');
      assert.deepEqual([e.facts.authMethod, e.facts.applicationPublic, e.facts.canIntrospect], ['none', app.public, app.canIntrospect]);
      assert.ok(e.fix?.includes(`latchkey apps update ${app.clientId} --public false --can-introspect true`), e.fix ?? '');
    },
    run: async () => {
      const deps = registryDeps(server, clock);
      const rs = await createApplication(deps, { name: 'Public introspector', grantTypes: [], public: true, canIntrospect: true });
      await refreshCache(server);
      const res = await post({ path: '/oauth/introspect', form: { token: 'lk_at_anything', client_id: rs.application.clientId } });
      assertOAuthError(res, 401, 'invalid_client');
      return res;
    },
  },
  {
    code: 'introspect.not_allowed', endpoint: 'introspect',
    record: (r) => { assert.equal(r.status, 403); assert.equal(r.applicationName, 'Not an introspector'); },
    facts: async (e, r) => {
      const app = await appOf(r.clientId ?? '');
      assert.deepEqual([e.facts.authMethod, e.facts.canIntrospect], ['client_secret_basic', app.canIntrospect]);
      assert.ok(e.fix?.includes(`latchkey apps update ${app.clientId} --can-introspect true`), e.fix ?? '');
    },
    run: async () => {
      const deps = registryDeps(server, clock);
      const app = await createApplication(deps, { name: 'Not an introspector', grantTypes: [] });
      await refreshCache(server);
      const res = await post({ path: '/oauth/introspect', form: { token: 'lk_at_anything' }, basic: [app.application.clientId, app.clientSecret ?? ''] });
      assertOAuthError(res, 403, 'unauthorized_client');
      return res;
    },
  },
  {
    code: 'revoke.wrong_client', endpoint: 'revoke',
    record: (r) => { assert.equal(r.status, 400); assert.equal(r.clientId, apps.conf!.clientId); },
    facts: async (e) => {
      await assertTokenFacts(e, kept.owned!);
      assert.deepEqual([e.facts.tokenKind, e.facts.tokenClientId], ['access', kept.owner]);
      assert.ok(e.fix?.includes(`latchkey tokens revoke ${String(e.facts.token)}`), e.fix ?? '');
    },
    run: async () => {
      const deps = registryDeps(server, clock);
      const owner = await createApplication(deps, { name: 'Token owner', grantTypes: ['client_credentials'], appUser: 'svc' });
      await refreshCache(server);
      kept.owner = owner.application.clientId;
      const token = (kept.owned = await accessToken(await post({ form: { grant_type: 'client_credentials' }, basic: [owner.application.clientId, owner.clientSecret ?? ''] })));
      const res = await post({ path: '/oauth/revoke', form: { token }, basic: basic('conf') });
      assertOAuthError(res, 400, 'unauthorized_client');
      // Refused: the token still works.
      assert.equal((await api({ path: '/api/test/echo', bearer: token })).status, 200);
      return res;
    },
  },
  // --- JWKS, keys and metadata cases (issue 4) ---
  ...ADMIN_CASES(),
  ...USERINFO_CASES(),
  ...LOGOUT_CASES(),
];

describe('every refusal reason is produced over HTTP and recorded', () => {
  const produced = new Set<string>();

  before(async () => {
    // Password hashing bounded small, so that a burst of a dozen checks yields password.busy.
    server = await startTestServer({ clock, apisDir: FIXTURE_APIS, allowPrivateNetworks: true, passwordHashing: { concurrency: 1, maxQueue: 2 }, outboundCa: selfSignedCertificate().certificate });
    const deps = registryDeps(server, clock);
    for (const s of ['export.read', 'export.write', 'admin.all']) await createScope(deps, s);
    await createUser(deps, { userName: 'svc' });
    await createUser(deps, { userName: 'svc-off', active: false });
    await createUser(deps, { userName: 'alice', password: PW });
    await createUser(deps, { userName: 'bob', password: PW, active: false });
    await createUser(deps, { userName: 'carol', password: PW });
    await createScope(deps, 'orders.read');
    await createUser(deps, { userName: 'svc-itil', roles: ['itil'] });
    await createUser(deps, { userName: 'dora', password: PW });
    await setProperty(deps, CC, 'true');
    const scopes = ['export.read', 'export.write'];
    const make = async (key: string, input: ApplicationInput) => {
      const created = await createApplication(deps, { scopes, ...input });
      apps[key] = { clientId: created.application.clientId, secret: created.clientSecret ?? '', name: created.application.name };
    };
    await make('conf', { name: 'Confidential', grantTypes: ['client_credentials', 'password'], appUser: 'svc' });
    await make('pub', { name: 'Public', grantTypes: ['password'], public: true });
    await make('pubcc', { name: 'Public CC', grantTypes: ['client_credentials'], public: true, appUser: 'svc' });
    await make('noUser', { name: 'No app user', grantTypes: ['client_credentials'] });
    await make('offUser', { name: 'Inactive app user', grantTypes: ['client_credentials'], appUser: 'svc-off' });
    await make('inactive', { name: 'Inactive', grantTypes: ['client_credentials'], appUser: 'svc', active: false });
    await make('pwOnly', { name: 'Password only', grantTypes: ['password'] });
    await make('short', { name: 'Short refresh', grantTypes: ['password'], refreshTokenLifespan: 1 });
    await make('api', { name: 'API caller', grantTypes: ['client_credentials'], appUser: 'svc-itil', scopes: ['orders.read'] });
    await make('apiShort', { name: 'API short-lived', grantTypes: ['client_credentials'], appUser: 'svc-itil', scopes: ['orders.read'], accessTokenLifespan: 1 });
    await make('apiDoomed', { name: 'API to deactivate', grantTypes: ['client_credentials'], appUser: 'svc-itil' });
    await refreshCache(server);
  });
  after(async () => server.close());

  it('the setup issues tokens (so refusals below are caused by the case, not the setup)', async () => {
    assert.equal((await cc('conf')).status, 200);
    assert.equal((await password('conf', 'alice', PW)).status, 200);
    assert.equal((await post({ form: { grant_type: 'password', username: 'alice', password: PW, client_id: apps.pub!.clientId } })).status, 200);
  });

  for (const c of CASES) {
    it(`${c.code} -> ${c.status} ${c.error}`, async () => {
      const res = await c.run();
      assertOAuthError(res, c.status, c.error);
      const refusal = await server.latchkey.storage.refusals.byRequestId(res.requestId);
      assert.ok(refusal !== undefined, `no refusal recorded for ${res.requestId}`);
      assert.equal(refusal.reason, c.code);
      assert.equal(refusal.status, c.status);
      assert.equal(refusal.error, c.error);
      assert.equal(refusal.description, res.json?.error_description);
      assert.equal(refusal.endpoint, c.endpoint ?? 'token');
      assert.equal(refusal.remoteAddress, '127.0.0.1');
      c.record?.(refusal);
      await checkExplanation(refusal, c.facts);
      produced.add(refusal.reason);
    });
  }

  it('the API setup serves a token (so API refusals below are caused by the case)', async () => {
    const r = await api({ path: '/api/acme/orders/1', bearer: await accessToken(await cc('api')) });
    assert.equal(r.status, 200, r.text);
  });

  for (const c of API_CASES) {
    it(`${c.code} -> ${c.status} ${c.error} (API)`, async () => {
      const res = await c.run();
      const refusal = await assertApiRefusal(server.latchkey.storage, res, { status: c.status, reason: c.code, error: c.error, endpoint: c.endpoint, wwwAuthenticate: c.wwwAuthenticate });
      assert.equal(refusal.remoteAddress, '127.0.0.1');
      c.record?.(refusal);
      await checkExplanation(refusal, c.facts);
      produced.add(refusal.reason);
    });
  }

  for (const c of OTHER_CASES) {
    it(`${c.code} (${c.endpoint})`, async () => {
      const { requestId } = await c.run();
      const refusal = await server.latchkey.storage.refusals.byRequestId(requestId);
      assert.ok(refusal !== undefined, `no refusal recorded for ${requestId}`);
      assert.equal(refusal.reason, c.code);
      assert.equal(refusal.endpoint, c.endpoint);
      assert.equal(refusal.remoteAddress, '127.0.0.1');
      c.record?.(refusal);
      await checkExplanation(refusal, c.facts);
      produced.add(refusal.reason);
    });
  }

  it('every reason lists the facts its explanation carries', () => {
    const bare = REASON_CODES.filter((code) => ((REASONS as Record<string, ReasonInfo>)[code]?.facts ?? []).length === 0);
    assert.deepEqual(bare, []);
  });

  it('covers the whole reason catalogue, and nothing outside it', () => {
    const all = [...CASES, ...API_CASES, ...OTHER_CASES].map((c) => c.code);
    assert.equal(new Set(all).size, all.length, 'a reason is listed twice');
    const missing = REASON_CODES.filter((code) => !produced.has(code));
    const unknown = [...produced].filter((code) => !(REASON_CODES as readonly string[]).includes(code));
    // A reason added to the catalogue needs a case above that produces it over HTTP.
    assert.deepEqual({ missing, unknown }, { missing: [], unknown: [] });
    assert.equal(produced.size, REASON_CODES.length);
  });
});

// --- helpers: JWT bearer grant, private_key_jwt and identity providers (issue 4) ---
const IDP_AUDIENCE = 'https://reasons.latchkey.test';

const clientAssertion = (jwt: string) => {
  sent.jwt = jwt;
  return post({ path: '/oauth/token', form: { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: jwt } });
};
const jwtBearer = (jwt: string) => {
  sent.jwt = jwt;
  return post({ path: '/oauth/token', form: { grant_type: JWT_BEARER_GRANT, assertion: jwt } });
};

interface AssertionFixture {
  readonly clientId: string;
  readonly bareClientId: string;
  readonly key: IdpKey;
  /** A client assertion of the fixture application (claims override; undefined removes). */
  client(claims?: Record<string, unknown>, options?: Parameters<typeof signAssertion>[2], key?: IdpKey): Promise<string>;
  /** A JWT bearer grant assertion of the fixture application for user svc. */
  grant(claims?: Record<string, unknown>, options?: Parameters<typeof signAssertion>[2], key?: IdpKey): Promise<string>;
}
let assertionSetup: Promise<AssertionFixture> | undefined;

/** An application with a registered ES256 key (and one with none), created on first use. */
function assertionFixture(): Promise<AssertionFixture> {
  return (assertionSetup ??= (async () => {
    const deps = registryDeps(server, clock);
    const key = await generateTestKey('ES256');
    const signed = await createApplication(deps, { name: 'Signs its assertions', grantTypes: ['client_credentials', JWT_BEARER_GRANT], appUser: 'svc', jwks: jwksOf(key) });
    const bare = await createApplication(deps, { name: 'No keys registered', grantTypes: ['client_credentials', JWT_BEARER_GRANT], appUser: 'svc' });
    await refreshCache(server);
    const clientId = signed.application.clientId;
    const aud = `${server.url}/oauth/token`;
    return {
      clientId,
      bareClientId: bare.application.clientId,
      key,
      client: (claims = {}, options = {}, k = key) => signAssertion(k, { iss: clientId, sub: clientId, aud, ...claims }, options, clock.now()),
      grant: (claims = {}, options = {}, k = key) => signAssertion(k, { iss: clientId, sub: 'svc', aud, ...claims }, options, clock.now()),
    };
  })());
}

interface IdpFixture {
  readonly idp: IdpServer;
  /** A token of the registered provider for user idp-user (claims override; undefined removes). */
  token(claims?: Record<string, unknown>, options?: Parameters<IdpServer['mint']>[1]): Promise<string>;
}
let idpSetup: Promise<IdpFixture> | undefined;

/** A running identity provider, registered, with a local user its tokens name; created on first use. */
function idpFixture(): Promise<IdpFixture> {
  return (idpSetup ??= (async () => {
    const idp = await startIdpServer({ issuerPath: '/reasons', now: () => clock.now() });
    const deps = registryDeps(server, clock);
    await createUser(deps, { userName: 'idp-user', roles: ['itil'] });
    await createIdentityProvider(deps, { name: 'Reasons IdP', issuer: idp.issuer, metadataUrl: idp.oidcMetadataUrl, audience: IDP_AUDIENCE });
    await refreshCache(server);
    return { idp, token: (claims = {}, options = {}) => idp.mint({ aud: IDP_AUDIENCE, sub: 'idp-user', ...claims }, options) };
  })());
}

after(async () => {
  if (idpSetup !== undefined) await (await idpSetup).idp.close();
});

// --- client ID metadata documents (issue 16): an https client_id URL at the token endpoint ---
let documents: Promise<DocumentServer> | undefined;
const documentServer = () => (documents ??= startDocumentServer());
after(async () => {
  if (documents !== undefined) await (await documents).close();
});
let documentSeq = 0;
const CIMD_DOC = { client_name: 'Reasons agent', redirect_uris: ['http://127.0.0.1:4999/cb'], token_endpoint_auth_method: 'none' };
/** A token request naming a client by its document URL. */
const cimdToken = (url: string) => post({ form: { grant_type: 'authorization_code', client_id: url, code: 'lk_ac_none', code_verifier: 'v'.repeat(43) } });
/** Serves `doc` at a fresh path (its client_id its own URL unless given) and asks the token endpoint with it. */
async function cimdCase(doc: Record<string, unknown> | ((url: string) => Record<string, unknown>) | string): Promise<TokenResponse> {
  const docs = await documentServer();
  const path = `/reasons-${++documentSeq}/client.json`;
  const url = typeof doc === 'string' ? (docs.routes.set(path, { body: doc }), docs.url(path)) : docs.document(path, doc);
  kept.cimdUrl = url;
  return cimdToken(url);
}
const cimdUrlFact = (e: Explanation) => assert.equal(e.facts.clientIdUrl, kept.cimdUrl);

function CIMD_CASES(): Case[] {
  const invalid = { status: 401, error: 'invalid_client' } as const;
  return [
    {
      code: 'cimd.disabled', ...invalid,
      facts: async (e) => {
        cimdUrlFact(e);
        await assertProperty(e, 'latchkey.cimd.enabled', 'system');
      },
      run: async () => {
        const url = (await documentServer()).document('/reasons-disabled/client.json', CIMD_DOC);
        kept.cimdUrl = url;
        return withProperty('latchkey.cimd.enabled', 'false', 'true', () => cimdToken(url));
      },
    },
    {
      code: 'cimd.invalid_client_id_url', ...invalid,
      facts: (e) => {
        assert.equal(e.facts.clientIdUrl, 'http://127.0.0.1/client.json');
        assert.match(String(e.facts.documentProblem), /it uses http; a client ID metadata document URL must use https/);
      },
      run: () => cimdToken('http://127.0.0.1/client.json'),
    },
    {
      code: 'cimd.domain_not_trusted', ...invalid,
      facts: (e) => {
        cimdUrlFact(e);
        assert.deepEqual([e.facts.clientIdHost, e.facts.allowedDomains, e.facts.property, e.facts.propertyValue], ['127.0.0.1', [], 'latchkey.cimd.allow_unknown_domains', 'false']);
      },
      run: () => withProperty('latchkey.cimd.allow_unknown_domains', 'false', 'true', () => cimdCase(CIMD_DOC)),
    },
    {
      code: 'cimd.new_client_limit', ...invalid,
      facts: (e) => {
        cimdUrlFact(e);
        assert.deepEqual([e.facts.property, e.facts.propertyValue], ['latchkey.cimd.new_clients_per_hour', '1']);
        assert.match(e.description, /try again later/);
      },
      // One new document client an hour: the first is made, the second refused.
      run: () =>
        withProperty('latchkey.cimd.new_clients_per_hour', '1', '200', async () => {
          const first = await cimdCase(CIMD_DOC);
          assert.notEqual(first.json?.error, 'invalid_client', first.text);
          assert.ok(await storage().applications.byClientId(kept.cimdUrl as string), 'the first one was made');
          return cimdCase(CIMD_DOC);
        }),
    },
    {
      code: 'cimd.fetch_refused', ...invalid,
      facts: (e) => {
        cimdUrlFact(e);
        assert.deepEqual([e.facts.outboundUrl, e.facts.property, e.facts.propertyValue], [kept.cimdUrl, 'latchkey.outbound.allow_private_networks', 'false']);
        assert.match(String(e.facts.outboundRefusal), /127\.0\.0\.1 is a loopback address/);
      },
      run: () => withProperty('latchkey.outbound.allow_private_networks', 'false', 'true', () => cimdCase(CIMD_DOC)),
    },
    {
      code: 'cimd.fetch_failed', ...invalid,
      facts: (e) => {
        cimdUrlFact(e);
        assert.match(String(e.facts.fetchError), /answered 404, not 200/);
      },
      run: async () => {
        const docs = await documentServer();
        kept.cimdUrl = docs.url('/reasons-missing/client.json');
        return cimdToken(kept.cimdUrl);
      },
    },
    {
      code: 'cimd.document_too_large', ...invalid,
      facts: (e) => {
        cimdUrlFact(e);
        assert.equal(e.facts.maxDocumentBytes, 5120);
      },
      run: () => cimdCase({ ...CIMD_DOC, padding: 'x'.repeat(6000) }),
    },
    {
      code: 'cimd.document_not_json', ...invalid,
      facts: (e) => {
        cimdUrlFact(e);
        assert.equal(typeof e.facts.documentProblem, 'string');
      },
      run: () => cimdCase('<html>not a document</html>'),
    },
    {
      code: 'cimd.client_id_mismatch', ...invalid,
      facts: (e) => {
        cimdUrlFact(e);
        assert.equal(e.facts.documentClientId, 'https://elsewhere.example.com/client.json');
      },
      run: () => cimdCase(() => ({ ...CIMD_DOC, client_id: 'https://elsewhere.example.com/client.json' })),
    },
    {
      code: 'cimd.invalid_redirect_uris', ...invalid,
      facts: (e) => {
        cimdUrlFact(e);
        assert.equal(e.facts.documentProblem, 'https://agent.example.com/cb#frag contains a fragment');
      },
      run: () => cimdCase({ ...CIMD_DOC, redirect_uris: ['https://agent.example.com/cb#frag'] }),
    },
    {
      code: 'cimd.shared_secret_auth', ...invalid,
      facts: (e) => {
        cimdUrlFact(e);
        assert.equal(e.facts.documentAuthMethod, 'client_secret_post');
      },
      run: () => cimdCase({ ...CIMD_DOC, token_endpoint_auth_method: 'client_secret_post' }),
    },
    {
      code: 'cimd.invalid_document', ...invalid,
      facts: (e) => {
        cimdUrlFact(e);
        assert.match(String(e.facts.documentProblem), /^grant_types may hold only authorization_code and refresh_token \(got client_credentials\)$/);
      },
      run: () => cimdCase({ ...CIMD_DOC, grant_types: ['client_credentials'] }),
    },
  ];
}


// --- device authorization (RFC 8628) ---
let deviceClient: Promise<{ clientId: string; otherClientId: string }> | undefined;
/** Two public applications allowed the device grant, made once. */
function deviceApps(): Promise<{ clientId: string; otherClientId: string }> {
  deviceClient ??= (async () => {
    const deps = registryDeps(server, clock);
    const a = await createApplication(deps, { name: 'Reasons device', public: true, grantTypes: [DEVICE_CODE_GRANT], scopes: ['export.read'] });
    const b = await createApplication(deps, { name: 'Reasons other device', public: true, grantTypes: [DEVICE_CODE_GRANT], scopes: ['export.read'] });
    await refreshCache(server);
    return { clientId: a.application.clientId, otherClientId: b.application.clientId };
  })();
  return deviceClient;
}
/** A new device authorization of the reasons device application. */
async function deviceStart(): Promise<{ device_code: string; user_code: string; clientId: string; otherClientId: string }> {
  const ids = await deviceApps();
  const res = await post({ path: '/oauth/device_authorization', form: { client_id: ids.clientId, scope: 'export.read' } });
  assert.equal(res.status, 200, res.text);
  return { device_code: String(res.json?.device_code), user_code: String(res.json?.user_code), ...ids };
}
const devicePoll = (deviceCode: string, clientId: string) => post({ path: '/oauth/token', form: { grant_type: DEVICE_CODE_GRANT, device_code: deviceCode, client_id: clientId } });
const DEVICE_PAGE = '/oauth/device';
/** The user-code page up to its consent form (signed in as alice), in a fresh browser. */
async function deviceConsent(userCode: string): Promise<{ browser: Browser; consent: Page }> {
  const browser = new Browser(server.url);
  const url = `${server.url}${DEVICE_PAGE}`;
  const signIn = await browser.submit(url, formFor(await browser.get(url), 'device_code'), { user_code: userCode });
  const consent = await browser.submit(url, formFor(signIn, 'sign_in'), { username: 'alice', password: PW });
  assert.equal(consent.status, 200, consent.text.slice(0, 500));
  return { browser, consent };
}
async function deviceDecide(userCode: string, decision: 'allow' | 'deny'): Promise<void> {
  const { browser, consent } = await deviceConsent(userCode);
  assert.equal((await browser.submit(`${server.url}${DEVICE_PAGE}`, formFor(consent, 'device_consent'), { decision })).status, 200);
}
const deviceTimes = (e: Explanation) => assert.ok(typeof e.facts.issuedAt === 'string' && typeof e.facts.expiredAt === 'string', JSON.stringify(e.facts));

function DEVICE_CASES(): Case[] {
  return [
    {
      code: 'device.authorization_pending', status: 400, error: 'authorization_pending',
      facts: (e) => {
        deviceTimes(e);
        assert.equal(e.facts.pollInterval, 5);
      },
      run: async () => {
        const d = await deviceStart();
        return devicePoll(d.device_code, d.clientId);
      },
    },
    {
      code: 'device.slow_down', status: 400, error: 'slow_down',
      facts: (e) => {
        assert.equal(e.facts.pollInterval, 10, 'grown by 5 seconds');
        assert.equal(typeof e.facts.lastPollAt, 'string');
      },
      run: async () => {
        const d = await deviceStart();
        assertOAuthError(await devicePoll(d.device_code, d.clientId), 400, 'authorization_pending');
        return devicePoll(d.device_code, d.clientId);
      },
    },
    {
      code: 'device.access_denied', status: 400, error: 'access_denied',
      facts: (e) => assert.equal(typeof e.facts.decidedAt, 'string'),
      run: async () => {
        const d = await deviceStart();
        await deviceDecide(d.user_code, 'deny');
        return devicePoll(d.device_code, d.clientId);
      },
    },
    {
      code: 'device.expired_token', status: 400, error: 'expired_token',
      facts: (e) => {
        deviceTimes(e);
        assert.ok(Date.parse(String(e.facts.expiredAt)) - Date.parse(String(e.facts.issuedAt)) === 600_000);
      },
      run: async () => {
        const d = await deviceStart();
        clock.advance(600_001);
        return devicePoll(d.device_code, d.clientId);
      },
    },
    {
      code: 'device.unknown_code', status: 400, error: 'invalid_grant',
      facts: (e) => assert.equal(e.facts.codeLength, 11),
      run: async () => devicePoll('lk_dc_nope!', (await deviceApps()).clientId),
    },
    {
      code: 'device.code_used', status: 400, error: 'invalid_grant',
      facts: (e) => assert.equal(typeof e.facts.decidedAt, 'string'),
      run: async () => {
        const d = await deviceStart();
        await deviceDecide(d.user_code, 'allow');
        assert.equal((await devicePoll(d.device_code, d.clientId)).status, 200);
        clock.advance(10_000);
        return devicePoll(d.device_code, d.clientId);
      },
    },
    {
      code: 'device.wrong_client', status: 400, error: 'invalid_grant',
      facts: async (e) => assert.equal(e.facts.codeClientId, (await deviceApps()).clientId),
      run: async () => {
        const d = await deviceStart();
        return devicePoll(d.device_code, d.otherClientId);
      },
    },
  ];
}

function DEVICE_PAGE_CASES(): OtherCase[] {
  const url = () => `${server.url}${DEVICE_PAGE}`;
  return [
    {
      code: 'device.user_code_unknown', endpoint: 'device',
      facts: (e) => assert.equal(e.facts.userCodeLength, 8),
      run: async () => {
        const browser = new Browser(server.url);
        const page = await browser.submit(url(), formFor(await browser.get(url()), 'device_code'), { user_code: 'bcdf-ghjk' });
        assert.equal(page.status, 400);
        return page;
      },
    },
    {
      code: 'device.not_signed_in', endpoint: 'device',
      facts: (e) => assert.equal(e.facts.userCodeLength, 8),
      run: async () => {
        const d = await deviceStart();
        const { browser, consent } = await deviceConsent(d.user_code);
        // Signed out meanwhile: only the CSRF cookie is left.
        for (const name of [...browser.cookies.keys()]) if (!name.includes('csrf')) browser.cookies.delete(name);
        const page = await browser.submit(url(), formFor(consent, 'device_consent'), { decision: 'allow' });
        assert.ok(hasForm(page, 'sign_in'), 'asked to sign in again');
        return page;
      },
    },
    {
      code: 'device.user_code_rate_limited', endpoint: 'device',
      facts: (e) => assert.deepEqual([e.facts.userCodeLimit, e.facts.userCodeLimitScope], [1, 'this source address']),
      // A limit of 1 (its count starts with the limit): the first entry is counted, the second refused.
      run: () =>
        withProperty('latchkey.device.user_code_attempts', '1', '10', async () => {
          const browser = new Browser(server.url);
          assert.equal((await browser.submit(url(), formFor(await browser.get(url()), 'device_code'), { user_code: 'BCDF-GHJK' })).status, 400);
          const page = await browser.submit(url(), formFor(await browser.get(url()), 'device_code'), { user_code: 'BCDF-GHJK' });
          assert.equal(page.status, 429);
          return page;
        }),
    },
  ];
}

// --- token exchange (issue 17, RFC 8693): the exchange.* refusals ---
const X_AT = 'urn:ietf:params:oauth:token-type:access_token';
const X_JWT = 'urn:ietf:params:oauth:token-type:jwt';
interface ExchangeFixture {
  /** A user's (alice's) access token from the password grant, with the scopes given. */
  subject(scope?: string, app?: 'xWeb' | 'xShort'): Promise<string>;
  /** The exchanging application's own token (the actor). */
  actor(): Promise<string>;
}
let exchangeSetup: Promise<ExchangeFixture> | undefined;
/** Applications for the exchange cases, created on first use: a subject app, an exchanging one with a policy, one without. */
function exchangeFixture(): Promise<ExchangeFixture> {
  return (exchangeSetup ??= (async () => {
    const deps = registryDeps(server, clock);
    await registeredResource();
    const make = async (key: string, input: ApplicationInput) => {
      const created = await createApplication(deps, { scopes: ['export.read', 'export.write'], ...input });
      apps[key] = { clientId: created.application.clientId, secret: created.clientSecret ?? '', name: created.application.name };
    };
    await make('xWeb', { name: 'Exchange subject app', grantTypes: ['password'] });
    await make('xShort', { name: 'Exchange short subject app', grantTypes: ['password'], accessTokenLifespan: 1 });
    await make('xAgent', { name: 'Exchanging agent', grantTypes: ['client_credentials', 'token_exchange'], appUser: 'svc' });
    await make('xNone', { name: 'Exchange without policy', grantTypes: ['token_exchange'] });
    await setExchangePolicy(deps, apps.xAgent!.clientId, { subjectApplications: [apps.xShort!.clientId, apps.xWeb!.clientId], resources: [REASONS_RESOURCE], scopes: ['export.read'], impersonation: false });
    await refreshCache(server);
    return {
      subject: async (scope = 'export.read', app = 'xWeb') => accessToken(await password(app, 'alice', PW, { scope })),
      actor: async () => accessToken(await cc('xAgent')),
    };
  })());
}
const exchangeAs = (app: string, form: Record<string, string>) => post({ form: { grant_type: TOKEN_EXCHANGE_GRANT, ...form }, basic: basic(app) });
/** A delegation exchange by the agent for the resource, with `form` on top. */
async function delegation(form: Record<string, string> = {}): Promise<TokenResponse> {
  const fx = await exchangeFixture();
  return exchangeAs('xAgent', { subject_token: await fx.subject(), subject_token_type: X_AT, actor_token: await fx.actor(), actor_token_type: X_AT, resource: REASONS_RESOURCE, ...form });
}

function EXCHANGE_CASES(): Case[] {
  return [
    {
      code: 'exchange.no_policy', status: 400, error: 'unauthorized_client',
      facts: (e) => {
        assert.equal(e.facts.exchangePolicy, null);
        assert.ok(e.fix?.includes('latchkey exchange policies set'), e.fix ?? '');
      },
      run: async () => exchangeAs('xNone', { subject_token: await (await exchangeFixture()).subject(), subject_token_type: X_AT }),
    },
    {
      code: 'exchange.token_type_unsupported', status: 400, error: 'invalid_request',
      facts: (e) => assert.deepEqual([e.facts.exchangeParameter, e.facts.exchangeTokenType], ['subject_token_type', 'urn:ietf:params:oauth:token-type:refresh_token']),
      run: () => delegation({ subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' }),
    },
    {
      code: 'exchange.actor_type_missing', status: 400, error: 'invalid_request',
      facts: (e) => assert.equal(e.facts.exchangeParameter, 'actor_token_type'),
      run: async () => {
        const fx = await exchangeFixture();
        return exchangeAs('xAgent', { subject_token: await fx.subject(), subject_token_type: X_AT, actor_token: await fx.actor(), resource: REASONS_RESOURCE });
      },
    },
    {
      code: 'exchange.subject_invalid', status: 400, error: 'invalid_grant',
      facts: (e) => {
        assert.equal(e.facts.exchangeTokenType, X_AT);
        assert.match(String(e.facts.exchangeTokenProblem), /no access token of this server/);
      },
      run: () => delegation({ subject_token: 'lk_at_0000000000000000000000000000000000000000000000000' }),
    },
    {
      code: 'exchange.actor_invalid', status: 400, error: 'invalid_grant',
      facts: (e) => assert.match(String(e.facts.exchangeTokenProblem), /no access token of this server/),
      run: () => delegation({ actor_token: 'not-a-token' }),
    },
    {
      code: 'exchange.subject_not_allowed', status: 400, error: 'unauthorized_client',
      facts: async (e) => {
        assert.equal(e.facts.exchangePolicy, apps.xAgent!.clientId);
        assert.equal(e.facts.subjectSource, `app:${apps.conf!.clientId}`);
        // In the policy's order (the order the administrator gave them); compared as sets.
        assert.deepEqual([...(e.facts.allowedSources as string[])].sort(), [`app:${apps.xShort!.clientId}`, `app:${apps.xWeb!.clientId}`].sort());
      },
      // A token of an application the policy does not name.
      run: async () => delegation({ subject_token: await accessToken(await password('conf', 'alice', PW, { scope: 'export.read' })) }),
    },
    {
      code: 'exchange.impersonation_not_allowed', status: 400, error: 'unauthorized_client',
      facts: (e) => assert.equal(e.facts.exchangePolicy, apps.xAgent!.clientId),
      run: async () => exchangeAs('xAgent', { subject_token: await (await exchangeFixture()).subject(), subject_token_type: X_AT, resource: REASONS_RESOURCE }),
    },
    {
      code: 'exchange.may_act_refused', status: 400, error: 'invalid_grant',
      facts: (e) => assert.deepEqual([e.facts.actorSubject, e.facts.allowedActors], [`svc (client_id ${apps.xAgent!.clientId})`, ['sub somebody-else']]),
      run: async () => {
        const idp = await idpFixture();
        const deps = registryDeps(server, clock);
        await setExchangePolicy(deps, apps.xAgent!.clientId, { identityProviders: ['Reasons IdP'] });
        await refreshCache(server);
        return delegation({ subject_token: await idp.token({ may_act: { sub: 'somebody-else' } }), subject_token_type: X_JWT });
      },
    },
    {
      code: 'exchange.audience_unknown', status: 400, error: 'invalid_target',
      facts: (e) => assert.deepEqual([e.facts.requestedAudience, e.facts.nearestResource], ['https://svc.reasons.test/apj', REASONS_RESOURCE]),
      run: async () => {
        const fx = await exchangeFixture();
        return exchangeAs('xAgent', { subject_token: await fx.subject(), subject_token_type: X_AT, actor_token: await fx.actor(), actor_token_type: X_AT, audience: 'https://svc.reasons.test/apj' });
      },
    },
    {
      code: 'exchange.target_not_allowed', status: 400, error: 'invalid_target',
      facts: (e) => assert.deepEqual([e.facts.exchangePolicy, e.facts.requestedResource, e.facts.policyResources], [apps.xAgent!.clientId, null, [REASONS_RESOURCE]]),
      run: async () => {
        const fx = await exchangeFixture();
        return exchangeAs('xAgent', { subject_token: await fx.subject(), subject_token_type: X_AT, actor_token: await fx.actor(), actor_token_type: X_AT });
      },
    },
    {
      code: 'exchange.scope_broader', status: 400, error: 'invalid_scope',
      facts: (e) => assert.deepEqual([e.facts.requestedScopes, e.facts.tokenScopes, e.facts.scopesBeyondGrant], [['export.write'], ['export.read'], ['export.write']]),
      run: () => delegation({ scope: 'export.write' }),
    },
    {
      code: 'exchange.scope_not_allowed', status: 400, error: 'invalid_scope',
      facts: (e) => assert.deepEqual([e.facts.requestedScopes, e.facts.policyScopes], [['export.write'], ['export.read']]),
      run: async () => delegation({ subject_token: await (await exchangeFixture()).subject('export.read export.write'), scope: 'export.write' }),
    },
    {
      code: 'exchange.subject_expiring', status: 400, error: 'invalid_grant',
      facts: (e) => assert.equal(typeof e.facts.expiredAt, 'string'),
      run: async () => {
        const fx = await exchangeFixture();
        const subject = await fx.subject('export.read', 'xShort');
        clock.advance(500);
        return delegation({ subject_token: subject });
      },
    },
  ];
}
