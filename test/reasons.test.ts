import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { REASON_CODES, REASONS, type ReasonCode, type ReasonInfo } from '../src/errors/reasons.js';
import { explainRefusal, factLabel, type Explanation } from '../src/diagnostics/explain.js';
import { explainText } from '../src/cli/commands/explain.js';
import { createApplication, updateApplication, type ApplicationInput } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import type { Refusal } from '../src/domain/model.js';
import { adminFetch, sessionClient } from './helpers/admin.js';
import { apiCall, assertApiRefusal, FIXTURE_APIS, type ApiCall, type ApiReply } from './helpers/api.js';
import { assertOAuthError, ManualClock, refreshCache, registryDeps, storedTokenKey, tokenRequest, type TokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { FIXTURE_REDIRECT_URI, assertErrorPage, assertErrorRedirect, authorizeUrl, codeFixture, issueCode, pkcePair, redeemCode, requestParams, signInPage } from './helpers/authorize-flow.js';
import { authorizeInBrowser, Browser, formFor } from './helpers/browser.js';
import { SignJWT } from 'jose';
import { metricsTokenHash } from '../src/metrics/endpoint.js';
import { CLIENT_ASSERTION_TYPE } from '../src/assertions/assertion.js';
import { createIdentityProvider } from '../src/idp/registry.js';
import { JWT_BEARER_GRANT } from '../src/grants/grant-type.js';
import { generateTestKey, jwksOf, signAssertion, startIdpServer, type IdpKey, type IdpServer } from './helpers/idp-server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';

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

const ROPC_OFF = 'glide.oauth.inbound.ropc.grant_type.disabled';
const OAUTH_ACTIVE = 'com.snc.platform.security.oauth.is.active';
const LOCKOUT = 'latchkey.password.lockout.threshold';
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

async function withProperty<T>(name: string, value: string, restore: string, fn: () => Promise<T>): Promise<T> {
  await setProperty(registryDeps(server, clock), name, value);
  await refreshCache(server);
  try {
    return await fn();
  } finally {
    await setProperty(registryDeps(server, clock), name, restore);
    await refreshCache(server);
  }
}

async function refreshTokenOf(res: TokenResponse): Promise<string> {
  assert.equal(res.status, 200, res.text);
  return String(res.json?.refresh_token);
}

const CASES: Case[] = [
  // --- rate limits (issue 13): 429 too_many_requests ---
  {
    code: 'rate_limit.client_exceeded', status: 429, error: 'too_many_requests',
    record: (r) => assert.match(r.hint ?? '', /its own rate limit 1\/1h/),
    run: async () => {
      const created = await createApplication(registryDeps(server, clock), { name: 'One an hour', grantTypes: ['client_credentials'], appUser: 'svc', rateLimit: '1/1h' });
      await refreshCache(server);
      const limited = () => post({ form: { grant_type: 'client_credentials' }, basic: [created.application.clientId, created.clientSecret ?? ''] });
      assert.equal((await limited()).status, 200);
      return limited();
    },
  },
  {
    code: 'rate_limit.address_exceeded', status: 429, error: 'too_many_requests',
    run: () => withProperty('latchkey.rate_limit.address', '1', '0', async () => {
      await post({ form: { grant_type: 'client_credentials' }, basic: basic('conf') });
      return post({ form: { grant_type: 'client_credentials' }, basic: basic('conf') });
    }),
  },
  { code: 'request.invalid_content_type', status: 400, error: 'invalid_request', run: () => post({ contentType: 'application/json', body: '{"grant_type":"client_credentials"}', basic: basic('conf') }) },
  { code: 'request.body_too_large', status: 400, error: 'invalid_request', run: () => post({ form: { grant_type: 'client_credentials', pad: 'x'.repeat(20_000) }, basic: basic('conf') }) },
  { code: 'request.repeated_parameter', status: 400, error: 'invalid_request', run: () => post({ form: { grant_type: 'client_credentials', scope: ['export.read', 'export.read'] }, basic: basic('conf') }) },
  { code: 'request.credentials_in_query', status: 400, error: 'invalid_request', run: () => post({ query: 'client_secret=abc', form: { grant_type: 'client_credentials' }, basic: basic('conf') }) },
  { code: 'request.missing_grant_type', status: 400, error: 'invalid_request', run: () => post({ form: { scope: 'export.read' }, basic: basic('conf') }) },
  { code: 'request.missing_parameter', status: 400, error: 'invalid_request', record: (r) => assert.equal(r.applicationName, 'Confidential'), run: () => post({ form: { grant_type: 'password', username: 'alice' }, basic: basic('conf') }) },
  { code: 'request.method_not_allowed', status: 400, error: 'invalid_request', run: () => post({ method: 'GET', basic: basic('conf') }) },
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
  { code: 'instance.oauth_inactive', status: 400, error: 'invalid_request', run: () => withProperty(OAUTH_ACTIVE, 'false', 'true', () => cc('conf')) },
  { code: 'grant.unsupported', status: 400, error: 'unsupported_grant_type', run: () => post({ form: { grant_type: 'urn:example:magic' }, basic: basic('conf') }) },
  { code: 'grant.not_allowed_for_application', status: 400, error: 'unauthorized_client', run: () => cc('pwOnly') },
  { code: 'grant.client_credentials_disabled', status: 400, error: 'unauthorized_client', run: () => withProperty(CC, 'false', 'true', () => cc('conf')) },
  { code: 'grant.client_credentials_public_client', status: 400, error: 'unauthorized_client', run: () => post({ form: { grant_type: 'client_credentials', client_id: apps.pubcc!.clientId } }) },
  { code: 'grant.ropc_disabled', status: 400, error: 'unauthorized_client', run: () => withProperty(ROPC_OFF, 'true', 'false', () => password('conf', 'alice', PW)) },
  { code: 'application_user.missing', status: 400, error: 'unauthorized_client', run: () => cc('noUser') },
  { code: 'application_user.inactive', status: 400, error: 'unauthorized_client', record: (r) => assert.equal(r.userName, 'svc-off'), run: () => cc('offUser') },
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
  { code: 'scope.not_allowed', status: 400, error: 'invalid_scope', run: () => cc('conf', { scope: 'admin.all' }) },
  { code: 'scope.malformed', status: 400, error: 'invalid_request', run: () => cc('conf', { scope: 'export.read  export.write' }) },
  {
    code: 'scope.broader_than_grant', status: 400, error: 'invalid_scope',
    run: async () => refresh('conf', await refreshTokenOf(await password('conf', 'alice', PW, { scope: 'export.read' })), { scope: 'export.write' }),
  },
  { code: 'refresh_token.unknown', status: 400, error: 'invalid_grant', run: () => refresh('conf', 'lk_rt_this-was-never-issued') },
  {
    code: 'refresh_token.expired', status: 400, error: 'invalid_grant',
    run: async () => {
      const rt = await refreshTokenOf(await password('short', 'alice', PW));
      clock.advance(2000);
      return refresh('short', rt);
    },
  },
  {
    code: 'refresh_token.revoked', status: 400, error: 'invalid_grant',
    run: async () => {
      // Reuse of rt1 revokes the family, so the newest refresh token rt2 is now revoked.
      const rt1 = await refreshTokenOf(await password('conf', 'alice', PW));
      const rt2 = await refreshTokenOf(await refresh('conf', rt1));
      assertOAuthError(await refresh('conf', rt1), 400, 'invalid_grant');
      return refresh('conf', rt2);
    },
  },
  {
    code: 'refresh_token.reused', status: 400, error: 'invalid_grant',
    run: async () => {
      const rt = await refreshTokenOf(await password('conf', 'alice', PW));
      await refreshTokenOf(await refresh('conf', rt));
      return refresh('conf', rt);
    },
  },
  {
    code: 'refresh_token.wrong_client', status: 400, error: 'invalid_grant',
    run: async () => {
      const rt = await refreshTokenOf(await password('conf', 'alice', PW));
      return post({ form: { grant_type: 'refresh_token', refresh_token: rt, client_id: apps.pub!.clientId } });
    },
  },
  // --- token endpoint cases: authorization code (issue 4) ---
  {
    code: 'authorization_code.unknown', status: 400, error: 'invalid_grant',
    run: async () => {
      const fx = await codeFixture(server, clock);
      return redeemCode(server, fx, { code: `lk_ac_${'0'.repeat(12)}${'A'.repeat(43)}`, redirect_uri: fx.redirectUri, code_verifier: pkcePair().verifier });
    },
  },
  {
    code: 'authorization_code.expired', status: 400, error: 'invalid_grant',
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code, verifier } = await issueCode(server, fx);
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
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code, verifier } = await issueCode(server, fx);
      const first = await redeemCode(server, fx, { code, redirect_uri: fx.redirectUri, code_verifier: verifier });
      assert.equal(first.status, 200, first.text);
      const second = await redeemCode(server, fx, { code, redirect_uri: fx.redirectUri, code_verifier: verifier });
      assert.equal((await server.latchkey.storage.tokens.byHash(storedTokenKey(String(first.json?.access_token))))?.status, 'revoked');
      return second;
    },
  },
  {
    code: 'authorization_code.wrong_client', status: 400, error: 'invalid_grant',
    record: (r) => assert.equal(r.applicationName, 'Code flow (public)'),
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code, verifier } = await issueCode(server, fx);
      return redeemCode(server, fx, { code, redirect_uri: fx.redirectUri, code_verifier: verifier }, 'public');
    },
  },
  {
    code: 'authorization_code.redirect_uri_mismatch', status: 400, error: 'invalid_grant',
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code, verifier } = await issueCode(server, fx);
      return redeemCode(server, fx, { code, redirect_uri: `${fx.redirectUri}/other`, code_verifier: verifier });
    },
  },
  {
    code: 'pkce.verifier_missing', status: 400, error: 'invalid_grant',
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code } = await issueCode(server, fx);
      return redeemCode(server, fx, { code, redirect_uri: fx.redirectUri });
    },
  },
  {
    code: 'pkce.verifier_mismatch', status: 400, error: 'invalid_grant',
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code } = await issueCode(server, fx);
      return redeemCode(server, fx, { code, redirect_uri: fx.redirectUri, code_verifier: pkcePair().verifier });
    },
  },
  {
    code: 'pkce.verifier_unexpected', status: 400, error: 'invalid_grant',
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { code } = await issueCode(server, fx, { pkce: false });
      return redeemCode(server, fx, { code, redirect_uri: fx.redirectUri, code_verifier: pkcePair().verifier });
    },
  },
  {
    code: 'pkce.verifier_malformed', status: 400, error: 'invalid_request',
    run: async () => {
      const fx = await codeFixture(server, clock);
      return redeemCode(server, fx, { code: 'lk_ac_whatever', redirect_uri: fx.redirectUri, code_verifier: 'too-short' });
    },
  },
  // --- token endpoint cases: JWT bearer grant and private_key_jwt (issue 4) ---
  { code: 'assertion.malformed', status: 401, error: 'invalid_client', run: () => post({ path: '/oauth/token', form: { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: 'not-a-jwt' } }) },
  {
    code: 'assertion.missing_claim', status: 400, error: 'invalid_grant',
    record: (r) => assert.equal(r.applicationName, 'Signs its assertions'),
    run: async () => jwtBearer(await (await assertionFixture()).grant({ jti: undefined })),
  },
  {
    code: 'assertion.wrong_client', status: 401, error: 'invalid_client',
    run: async () => clientAssertion(await (await assertionFixture()).client({ iss: 'someone-else' })),
  },
  {
    code: 'assertion.unknown_issuer', status: 400, error: 'invalid_grant',
    record: (r) => assert.equal(r.clientId, 'no-such-client'),
    run: async () => jwtBearer(await (await assertionFixture()).grant({ iss: 'no-such-client' })),
  },
  {
    code: 'assertion.no_keys', status: 401, error: 'invalid_client',
    record: (r) => assert.equal(r.applicationName, 'No keys registered'),
    run: async () => {
      const fx = await assertionFixture();
      return clientAssertion(await fx.client({ iss: fx.bareClientId, sub: fx.bareClientId }));
    },
  },
  {
    code: 'assertion.algorithm_not_allowed', status: 400, error: 'invalid_grant',
    run: async () => jwtBearer(await (await assertionFixture()).grant({}, { hmacSecret: 'a-shared-secret' })),
  },
  {
    code: 'assertion.unknown_key', status: 401, error: 'invalid_client',
    run: async () => clientAssertion(await (await assertionFixture()).client({}, {}, await generateTestKey('ES256'))),
  },
  {
    code: 'assertion.bad_signature', status: 400, error: 'invalid_grant',
    run: async () => {
      const fx = await assertionFixture();
      return jwtBearer(await fx.grant({}, { kid: fx.key.kid }, await generateTestKey('ES256')));
    },
  },
  {
    code: 'assertion.wrong_audience', status: 401, error: 'invalid_client',
    run: async () => clientAssertion(await (await assertionFixture()).client({ aud: 'https://another-server.example/oauth/token' })),
  },
  {
    code: 'assertion.expired', status: 400, error: 'invalid_grant',
    run: async () => {
      const t = Math.floor(clock.now() / 1000);
      return jwtBearer(await (await assertionFixture()).grant({ iat: t - 3600, exp: t - 900 }));
    },
  },
  {
    code: 'assertion.not_yet_valid', status: 401, error: 'invalid_client',
    run: async () => {
      const t = Math.floor(clock.now() / 1000);
      return clientAssertion(await (await assertionFixture()).client({ nbf: t + 900, exp: t + 1200 }));
    },
  },
  {
    code: 'assertion.lifetime_too_long', status: 400, error: 'invalid_grant',
    run: async () => jwtBearer(await (await assertionFixture()).grant({ exp: Math.floor(clock.now() / 1000) + 30 * 86400 })),
  },
  {
    code: 'assertion.replayed', status: 401, error: 'invalid_client',
    run: async () => {
      const once = await (await assertionFixture()).client();
      assert.equal((await clientAssertion(once)).status, 200);
      return clientAssertion(once);
    },
  },
  {
    code: 'assertion.unknown_user', status: 400, error: 'invalid_grant',
    record: (r) => assert.equal(r.userName, 'nobody-by-that-name'),
    run: async () => jwtBearer(await (await assertionFixture()).grant({ sub: 'nobody-by-that-name' })),
  },
  {
    code: 'assertion.jwks_unavailable', status: 503, error: 'temporarily_unavailable',
    run: async () => {
      // The application's JWKS URI never answers: refused within the 3 s fetch timeout.
      const hanging = await startIdpServer({ now: () => clock.now() });
      try {
        hanging.hang = true;
        const fx = await assertionFixture();
        const created = await createApplication(registryDeps(server, clock), { name: 'JWKS URI down', grantTypes: [JWT_BEARER_GRANT], jwksUri: hanging.jwksUri });
        await refreshCache(server);
        return jwtBearer(await fx.grant({ iss: created.application.clientId }, {}, hanging.current));
      } finally {
        await hanging.close();
      }
    },
  },
];

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
async function accessToken(res: TokenResponse): Promise<string> {
  assert.equal(res.status, 200, res.text);
  return String(res.json?.access_token);
}
const BEARER_ONLY = 'Bearer realm="latchkey"';
const INVALID_TOKEN = /^Bearer realm="latchkey", error="invalid_token", error_description="[^"]+"$/;

const API_CASES: ApiCase[] = [
  {
    code: 'rate_limit.api_exceeded', status: 429, error: 'too_many_requests', endpoint: 'api test/echo', wwwAuthenticate: null,
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
    run: async () => {
      const t = await accessToken(await cc('api'));
      return withProperty('latchkey.rate_limit.api_user', '1', '0', async () => {
        assert.equal((await api({ path: '/api/test/echo', bearer: t })).status, 200);
        return api({ path: '/api/test/echo', bearer: t });
      });
    },
  },
  { code: 'api.credentials_missing', status: 401, error: 'invalid_request', endpoint: 'api test/echo', wwwAuthenticate: BEARER_ONLY, run: () => api({ path: '/api/test/echo' }) },
  { code: 'api.malformed_authorization', status: 400, error: 'invalid_request', endpoint: 'api test/echo', wwwAuthenticate: null, run: () => api({ path: '/api/test/echo', headers: { authorization: 'Bearer two tokens' } }) },
  {
    code: 'api.multiple_credentials', status: 400, error: 'invalid_request', endpoint: 'api test/echo', wwwAuthenticate: null,
    run: async () => {
      const t = await accessToken(await cc('api'));
      return api({ path: `/api/test/echo?access_token=${encodeURIComponent(t)}`, bearer: t });
    },
  },
  {
    code: 'api.method_not_accepted', status: 401, error: 'invalid_request', endpoint: 'api test/echo', wwwAuthenticate: BEARER_ONLY,
    record: (r) => assert.equal(r.userName, null),
    run: () => api({ path: '/api/test/echo', basic: ['dora', PW] }),
  },
  {
    code: 'api.basic_bad_credentials', status: 401, error: 'invalid_request', endpoint: 'api acme/reports', wwwAuthenticate: 'Bearer realm="latchkey", Basic realm="latchkey"',
    record: (r) => assert.equal(r.userName, 'dora'),
    run: () => api({ path: '/api/acme/reports', basic: ['dora', 'not-the-password'] }),
  },
  {
    code: 'token.unknown', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
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
      return api({ path: '/api/test/echo', bearer: foreign });
    },
  },
  {
    code: 'token.not_access_token', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => api({ path: '/api/test/echo', bearer: await refreshTokenOf(await password('conf', 'alice', PW)) }),
  },
  {
    code: 'token.expired', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const t = await accessToken(await cc('apiShort'));
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
    run: async () => {
      const t = await accessToken(await cc('api'));
      assert.equal((await api({ path: '/api/test/echo', bearer: t })).status, 200);
      assert.ok(await server.latchkey.storage.tokens.revoke(storedTokenKey(t), clock.now()));
      await refreshCache(server);
      return api({ path: '/api/test/echo', bearer: t });
    },
  },
  {
    code: 'token.application_inactive', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const t = await accessToken(await cc('apiDoomed'));
      await updateApplication(registryDeps(server, clock), apps.apiDoomed!.clientId, { active: false });
      await refreshCache(server);
      return api({ path: '/api/test/echo', bearer: t });
    },
  },
  {
    code: 'token.user_inactive', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    // Deactivating a user revokes its tokens (token.revoked); a provider's token still names it.
    run: async () => api({ path: '/api/test/echo', bearer: await (await idpFixture()).token({ sub: 'bob' }) }),
  },
  {
    code: 'api.scope_missing', status: 403, error: 'insufficient_scope', endpoint: 'api acme/orders', wwwAuthenticate: /^Bearer realm="latchkey", error="insufficient_scope", scope="orders\.read", error_description="[^"]+"$/,
    record: (r) => {
      assert.equal(r.clientId, apps.conf!.clientId);
      assert.equal(r.applicationName, 'Confidential');
      assert.equal(r.userName, 'svc');
    },
    run: async () => api({ path: '/api/acme/orders/1', bearer: await accessToken(await cc('conf')) }),
  },
  {
    code: 'api.role_missing', status: 403, error: 'access_denied', endpoint: 'api acme/desk', wwwAuthenticate: null,
    record: (r) => assert.equal(r.userName, 'svc'),
    run: async () => api({ path: '/api/acme/desk/tickets', bearer: await accessToken(await cc('conf')) }),
  },
  // --- API cases: JWT access tokens (issue 4) ---
  {
    code: 'token.signature_invalid', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const created = await createApplication(registryDeps(server, clock), { name: 'JWT caller (altered)', grantTypes: ['client_credentials'], appUser: 'svc-itil', tokenFormat: 'jwt' });
      await refreshCache(server);
      const t = await accessToken(await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [created.application.clientId, created.clientSecret ?? ''] }));
      const [h, p, sig] = t.split('.') as [string, string, string];
      // A wider scope written into the payload, our signature kept.
      const widened = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString('utf8')), scope: 'useraccount' })).toString('base64url');
      return api({ path: '/api/test/echo', bearer: `${h}.${widened}.${sig}` });
    },
  },
  {
    code: 'token.unknown_key', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
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
    run: () => api({ path: '/api/test/echo', bearer: 'e30.e30.e30' }),
  },
  {
    code: 'token.wrong_audience', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    record: (r) => assert.equal(r.userName, null),
    run: async () => {
      const created = await createApplication(registryDeps(server, clock), { name: 'JWT for the reports API', grantTypes: ['client_credentials'], appUser: 'svc-itil', tokenFormat: 'jwt', audience: 'https://reports.example.com/api' });
      await refreshCache(server);
      const t = await accessToken(await tokenRequest(server.url, { form: { grant_type: 'client_credentials' }, basic: [created.application.clientId, created.clientSecret ?? ''] }));
      return api({ path: '/api/test/echo', bearer: t });
    },
  },
  // --- API cases: external identity providers (issue 4) ---
  {
    code: 'token.unknown_issuer', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => api({ path: '/api/test/echo', bearer: await (await idpFixture()).token({ iss: 'https://unregistered-idp.example' }) }),
  },
  {
    code: 'idp.malformed', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => api({ path: '/api/test/echo', bearer: await (await idpFixture()).token({ exp: 'next week' }) }),
  },
  {
    code: 'idp.wrong_audience', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => api({ path: '/api/test/echo', bearer: await (await idpFixture()).token({ aud: 'https://some-other-api.example' }) }),
  },
  {
    code: 'idp.algorithm_not_allowed', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const fx = await idpFixture();
      const t = Math.floor(clock.now() / 1000);
      const hs = await new SignJWT({ iss: fx.idp.issuer, aud: IDP_AUDIENCE, sub: 'idp-user', exp: t + 300 }).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('guessed-secret'));
      return api({ path: '/api/test/echo', bearer: hs });
    },
  },
  {
    code: 'idp.unknown_key', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const fx = await idpFixture();
      return api({ path: '/api/test/echo', bearer: await fx.token({}, { key: await fx.idp.newKey() }) });
    },
  },
  {
    code: 'idp.bad_signature', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const fx = await idpFixture();
      return api({ path: '/api/test/echo', bearer: await fx.token({}, { key: await fx.idp.newKey(), kid: fx.idp.current.kid }) });
    },
  },
  {
    code: 'idp.token_expired', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const t = Math.floor(clock.now() / 1000);
      return api({ path: '/api/test/echo', bearer: await (await idpFixture()).token({ iat: t - 7200, exp: t - 3600 }) });
    },
  },
  {
    code: 'idp.not_yet_valid', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const t = Math.floor(clock.now() / 1000);
      return api({ path: '/api/test/echo', bearer: await (await idpFixture()).token({ nbf: t + 3600, exp: t + 7200 }) });
    },
  },
  {
    code: 'idp.lifetime_too_long', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => {
      const t = Math.floor(clock.now() / 1000);
      return api({ path: '/api/test/echo', bearer: await (await idpFixture()).token({ iat: t, exp: t + 400 * 86400 }) });
    },
  },
  {
    code: 'idp.claim_missing', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => api({ path: '/api/test/echo', bearer: await (await idpFixture()).token({ sub: undefined }) }),
  },
  {
    code: 'idp.unknown_user', status: 401, error: 'invalid_token', endpoint: 'api test/echo', wwwAuthenticate: INVALID_TOKEN,
    run: async () => api({ path: '/api/test/echo', bearer: await (await idpFixture()).token({ sub: 'not-a-local-user' }) }),
  },
  {
    code: 'idp.jwks_unavailable', status: 503, error: 'temporarily_unavailable', endpoint: 'api test/echo', wwwAuthenticate: null,
    run: async () => {
      // A registered provider whose JWKS URI never answers: refused within the 3 s fetch timeout.
      await idpFixture();
      const hanging = await startIdpServer({ issuerPath: '/hanging', now: () => clock.now() });
      try {
        await createIdentityProvider(registryDeps(server, clock), { name: 'Hanging provider', issuer: hanging.issuer, jwksUri: hanging.jwksUri, audience: IDP_AUDIENCE, check: false });
        await refreshCache(server);
        hanging.hang = true;
        return await api({ path: '/api/test/echo', bearer: await hanging.mint({ aud: IDP_AUDIENCE, sub: 'idp-user' }) });
      } finally {
        await hanging.close();
      }
    },
  },
  {
    code: 'outbound.refused', status: 503, error: 'temporarily_unavailable', endpoint: 'api test/echo', wwwAuthenticate: null,
    run: async () => {
      // A provider registered on a loopback address while the property allowed it; once it is off,
      // its metadata is not fetched.
      await idpFixture();
      const internal = await startIdpServer({ issuerPath: '/internal', now: () => clock.now() });
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
    { code: 'admin.credentials_missing', endpoint: 'admin', run: () => adminCall(undefined) },
    { code: 'admin.session_ended', endpoint: 'admin', run: () => adminCall(undefined, 'GET', '/users', { cookie: 'latchkey_console=forged.value' }) },
    {
      code: 'admin.csrf_failed', endpoint: 'admin', record: (r) => assert.equal(r.userName, 'admin'),
      run: async () => adminCall(undefined, 'POST', '/scopes', { cookie: (await sessionClient(server)).browserCookie() }),
    },
    {
      code: 'admin.external_token', endpoint: 'admin', record: (r) => assert.equal(r.userName, 'idp-user'),
      run: async () => adminCall(await (await idpFixture()).token()),
    },
    {
      code: 'admin.grant_not_allowed', endpoint: 'admin',
      run: async () => adminCall(await accessToken(await jwtBearer(await (await assertionFixture()).grant()))),
    },
    { code: 'admin.application_not_allowed', endpoint: 'admin', record: (r) => assert.equal(r.userName, 'alice'), run: async () => adminCall(await accessToken(await password('conf', 'alice', PW))) },
    { code: 'admin.scope_missing', endpoint: 'admin', run: async () => adminCall(await adminAppToken('Admin app, other scope', 'svc', 'export.read', ['export.read'])) },
    { code: 'admin.role_missing', endpoint: 'admin', record: (r) => assert.equal(r.userName, 'svc'), run: async () => adminCall(await adminAppToken('Admin app, plain user', 'svc', 'latchkey.admin')) },
    {
      code: 'scope.admin_not_grantable', endpoint: 'authorize',
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

/** A scrape of /metrics while latchkey.metrics.token_sha256 requires a token. */
async function scrape(headers: Record<string, string>): Promise<{ requestId: string }> {
  return withProperty('latchkey.metrics.token_sha256', metricsTokenHash('lk_mt_the-right-token'), '', async () => {
    const res = await fetch(`${server.url}/metrics`, { headers });
    assert.equal(res.status, 401, await res.text());
    return { requestId: res.headers.get('x-request-id') ?? '' };
  });
}

const OTHER_CASES: OtherCase[] = [
  // --- /metrics (issue 13) ---
  { code: 'metrics.credentials_missing', endpoint: 'metrics', run: () => scrape({}) },
  { code: 'metrics.token_invalid', endpoint: 'metrics', run: () => scrape({ authorization: 'Bearer lk_mt_the-wrong-token' }) },
  // --- authorization endpoint cases (issue 4) ---
  {
    code: 'authorize.client_id_missing', endpoint: 'authorize',
    run: async () => assertErrorPage(await new Browser(server.url).get(`${server.url}/oauth/authorize?response_type=code`), 400),
  },
  {
    code: 'authorize.redirect_uri_mismatch', endpoint: 'authorize',
    record: (r) => assert.equal(r.applicationName, 'Code flow (confidential)'),
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorPage(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), redirect_uri: `${fx.redirectUri}/` })), 400);
    },
  },
  {
    code: 'authorize.redirect_uri_missing', endpoint: 'authorize',
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorPage(await new Browser(server.url).get(authorizeUrl(server, { response_type: 'code', client_id: fx.unregistered.clientId })), 400);
    },
  },
  {
    code: 'authorize.response_type_missing', endpoint: 'authorize',
    run: async () => {
      const fx = await codeFixture(server, clock);
      const { response_type: _omitted, ...params } = requestParams(fx);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, params)), 'invalid_request', 'fixture-state');
    },
  },
  {
    code: 'authorize.unsupported_response_type', endpoint: 'authorize',
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, { ...requestParams(fx), response_type: 'token' })), 'unsupported_response_type', 'fixture-state');
    },
  },
  {
    code: 'authorize.state_too_long', endpoint: 'authorize',
    run: async () => {
      const fx = await codeFixture(server, clock);
      const state = 's'.repeat(2049);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, requestParams(fx, { state }))), 'invalid_request', state);
    },
  },
  {
    code: 'authorize.request_invalid', endpoint: 'authorize',
    run: async () => {
      const { browser, url, page } = await signInPage(server, await codeFixture(server, clock));
      const form = formFor(page, 'sign_in');
      return assertErrorPage(await browser.submit(url, { ...form, fields: { ...form.fields, lk_request: `x${form.fields.lk_request ?? ''}` } }, { username: 'alice', password: PW }), 400);
    },
  },
  {
    code: 'authorize.request_expired', endpoint: 'authorize',
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
    run: async () => {
      const { browser, url, page } = await signInPage(server, await codeFixture(server, clock));
      const form = formFor(page, 'sign_in');
      return assertErrorPage(await browser.submit(url, { ...form, fields: { ...form.fields, lk_csrf: 'forged' } }, { username: 'alice', password: PW }), 403);
    },
  },
  {
    code: 'authorize.consent_denied', endpoint: 'authorize',
    record: (r) => assert.equal(r.userName, 'code-flow-user'),
    run: async () => {
      const fx = await codeFixture(server, clock);
      const answer = await authorizeInBrowser(new Browser(server.url), authorizeUrl(server, requestParams(fx, { challenge: pkcePair().challenge })), { username: fx.user, password: fx.password }, 'deny');
      return assertErrorRedirect(answer, 'access_denied', 'fixture-state');
    },
  },
  {
    code: 'pkce.challenge_missing', endpoint: 'authorize',
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, requestParams(fx, { client: 'public' }))), 'invalid_request', 'fixture-state');
    },
  },
  {
    code: 'pkce.method_unsupported', endpoint: 'authorize',
    run: async () => {
      const fx = await codeFixture(server, clock);
      const params = { ...requestParams(fx, { client: 'public', challenge: pkcePair().challenge }), code_challenge_method: 'plain' };
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, params)), 'invalid_request', 'fixture-state');
    },
  },
  {
    code: 'pkce.challenge_malformed', endpoint: 'authorize',
    run: async () => {
      const fx = await codeFixture(server, clock);
      return assertErrorRedirect(await new Browser(server.url).get(authorizeUrl(server, requestParams(fx, { client: 'public', challenge: 'not-a-challenge' }))), 'invalid_request', 'fixture-state');
    },
  },
  // --- introspection and revocation cases (issue 4) ---
  {
    code: 'introspect.client_authentication_required', endpoint: 'introspect',
    record: (r) => assert.equal(r.status, 401),
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
    run: async () => {
      const deps = registryDeps(server, clock);
      const owner = await createApplication(deps, { name: 'Token owner', grantTypes: ['client_credentials'], appUser: 'svc' });
      await refreshCache(server);
      const token = await accessToken(await post({ form: { grant_type: 'client_credentials' }, basic: [owner.application.clientId, owner.clientSecret ?? ''] }));
      const res = await post({ path: '/oauth/revoke', form: { token }, basic: basic('conf') });
      assertOAuthError(res, 400, 'unauthorized_client');
      // Refused: the token still works.
      assert.equal((await api({ path: '/api/test/echo', bearer: token })).status, 200);
      return res;
    },
  },
  // --- JWKS, keys and metadata cases (issue 4) ---
  ...ADMIN_CASES(),
];

describe('every refusal reason is produced over HTTP and recorded', () => {
  const produced = new Set<string>();

  before(async () => {
    // Password hashing bounded small, so that a burst of a dozen checks yields password.busy.
    server = await startTestServer({ clock, apisDir: FIXTURE_APIS, allowPrivateNetworks: true, passwordHashing: { concurrency: 1, maxQueue: 2 } });
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

const clientAssertion = (jwt: string) => post({ path: '/oauth/token', form: { grant_type: 'client_credentials', client_assertion_type: CLIENT_ASSERTION_TYPE, client_assertion: jwt } });
const jwtBearer = (jwt: string) => post({ path: '/oauth/token', form: { grant_type: JWT_BEARER_GRANT, assertion: jwt } });

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
