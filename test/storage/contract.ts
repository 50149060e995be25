/**
 * The storage contract: every adapter (memory, SQLite, PostgreSQL) must pass this suite.
 * Each test gets fresh storage from `open()` and releases it with the returned `cleanup()`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { type Application, type AuditEntry, type AuthorizationCode, type IdentityProvider, type NewTokenRecord, type Refusal, type ResourceRecord, type Rule, type AttemptKey, type SessionRecord, type SigningKey, type UsageRow, type User, type InitialAccessToken, type RegistrationRecord, type PushedRequest } from '../../src/domain/model.js';
import { JWT_BEARER_GRANT } from '../../src/grants/grant-type.js';
import { StorageError, type Storage, type StorageErrorCode } from '../../src/storage/types.js';
import { describeDeviceCodes } from './device-contract.js';

const T0 = 1_700_000_000_000;
const uid = (): string => randomUUID();

export function makeUser(over: Partial<User> = {}): User {
  return {
    id: uid(),
    userName: `user-${uid()}`,
    passwordHash: '$scrypt$ln=15,r=8,p=1$c2FsdA$aGFzaA',
    active: true,
    roles: ['admin', 'reader'],
    createdAt: T0,
    updatedAt: T0 + 1,
    passwordChangedAt: null,
    profile: {},
    ...over,
  };
}

export function makeApp(over: Partial<Application> = {}): Application {
  return {
    id: uid(),
    clientId: `client-${uid()}`,
    name: `app-${uid()}`,
    secretHash: 'c2VjcmV0LWhhc2g',
    secretRotatedAt: null,
    active: true,
    public: false,
    grantTypes: ['client_credentials', 'refresh_token'],
    redirectUris: ['https://example.test/cb', 'https://example.test/cb2'],
    scopes: ['read', 'write'],
    accessTokenLifespan: 3600,
    refreshTokenLifespan: 86_400,
    tokenFormat: 'jwt',
    appUserId: null,
    logoUri: null,
    audience: null,
    jwks: null,
    jwksUri: null,
    canIntrospect: false,
    adminApi: false,
    rateLimit: null,
    idTokenAlg: 'RS256',
    claimMappings: null,
    postLogoutRedirectUris: [],
    backchannelLogoutUri: null,
    backchannelLogoutSessionRequired: false,
    origin: 'admin',
    resources: null,
    parRequired: false,
    dpopRequired: false,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

export function makeToken(over: Partial<NewTokenRecord> = {}): NewTokenRecord {
  return {
    hash: `h-${uid()}`,
    kind: 'refresh',
    applicationId: uid(),
    userId: uid(),
    scopes: ['read', 'write'],
    grantType: 'password',
    issuedAt: T0,
    expiresAt: T0 + 60_000,
    familyId: uid(),
    ...over,
  };
}

export function makeSigningKey(over: Partial<SigningKey> = {}): SigningKey {
  const kid = `kid-${uid()}`;
  return {
    kid,
    alg: 'ES256',
    publicJwk: JSON.stringify({ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid, alg: 'ES256', use: 'sig' }),
    privateKeyEnc: `v1.${uid()}`,
    createdAt: T0,
    activatesAt: T0,
    retiresAt: null,
    publishUntil: null,
    purpose: 'access',
    ...over,
  };
}

export function makeCode(over: Partial<AuthorizationCode> = {}): AuthorizationCode {
  return {
    hash: `c-${uid()}`,
    applicationId: uid(),
    userId: uid(),
    redirectUri: 'https://example.test/cb',
    scopes: ['read', 'write'],
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    issuedAt: T0,
    expiresAt: T0 + 60_000,
    usedAt: null,
    nonce: 'n-0S6_WzA2Mj',
    authTime: T0 - 30_000,
    sid: 'sid-AAECAwQFBgcICQoLDA0ODw',
    claims: null,
    ...over,
  };
}

export function makeIdentityProvider(over: Partial<IdentityProvider> = {}): IdentityProvider {
  const id = uid();
  return {
    id,
    name: `idp-${id}`,
    issuer: `https://idp.example.test/${id}`,
    metadataUrl: `https://idp.example.test/${id}/.well-known/openid-configuration`,
    jwksUri: null,
    audience: 'api://latchkey',
    userClaim: 'preferred_username',
    userField: 'user_name',
    active: true,
    createdAt: T0,
    updatedAt: T0,
    ...over,
  };
}

export function makeRefusal(over: Partial<Refusal> = {}): Refusal {
  return {
    requestId: uid(),
    at: T0,
    endpoint: '/oauth/token',
    status: 400,
    error: 'invalid_grant',
    reason: 'refresh_token_reused',
    description: 'The refresh token was already used.',
    hint: null,
    clientId: null,
    applicationName: null,
    userName: null,
    remoteAddress: null,
    facts: null,
    ruleId: null,
    ...over,
  };
}

export function makeRule(over: Partial<Rule> = {}): Rule {
  return {
    id: `rule_${uid().slice(0, 12)}`,
    kind: 'api_requirement',
    target: 'acme/orders',
    spec: { scopes: ['orders.write'] },
    mode: 'report',
    note: null,
    createdAt: T0,
    createdBy: 'cli:test',
    updatedAt: T0,
    enforcedAt: null,
    enforcedBy: null,
    ...over,
  };
}

export async function rejectsWith(promise: Promise<unknown>, code: StorageErrorCode): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof StorageError, `expected StorageError, got ${String(err)}`);
    assert.equal(err.code, code);
    return true;
  });
}

const names = (rows: readonly { name: string }[]): string[] => rows.map((r) => r.name).sort();

export function runStorageContract(
  name: string,
  open: () => Promise<{ storage: Storage; cleanup: () => Promise<void> }>,
): void {
  describe(`storage contract: ${name}`, () => {
    let s: Storage;
    let cleanup: () => Promise<void>;
    beforeEach(async () => {
      ({ storage: s, cleanup } = await open());
    });
    afterEach(async () => {
      await s.close();
      await cleanup();
    });

    describe('lifecycle', () => {
      it('pings and reports its kind', async () => {
        await s.ping();
        assert.ok(['sqlite', 'postgres', 'memory'].includes(s.kind));
      });
    });

    describe('rate-limit counters', () => {
      it('count a key up to its limit within the window, then refuse; keys and limits are counted apart', async () => {
        const spec = { requests: 3, windowSeconds: 60 };
        const seen = [];
        for (let i = 0; i < 5; i++) seen.push(await s.rateCounters.consume('client', 'app-1', spec));
        assert.deepEqual(seen.map((c) => [c.allowed, c.remaining]), [[true, 2], [true, 1], [true, 0], [false, 0], [false, 0]]);
        for (const c of seen) assert.ok(c.resetMs > 0 && c.resetMs <= 60_000, `resetMs ${c.resetMs}`);
        assert.equal((await s.rateCounters.consume('client', 'app-2', spec)).allowed, true);
        assert.equal((await s.rateCounters.consume('address', 'app-1', spec)).allowed, true);
        assert.equal((await s.rateCounters.consume('client', 'app-1', { requests: 10, windowSeconds: 60 })).allowed, true);
        assert.equal(s.rateCounters.shared, s.kind === 'postgres');
      });
    });

    describe('users', () => {
      it('round trips every field', async () => {
        const a = makeUser();
        const b = makeUser({ passwordHash: null, active: false, roles: [], passwordChangedAt: T0 + 5 });
        await s.users.create(a);
        await s.users.create(b);
        assert.deepEqual(await s.users.byId(a.id), a);
        assert.deepEqual(await s.users.byName(b.userName), b);
        assert.deepEqual(await s.users.byId(b.id), b);
        const all = await s.users.list();
        assert.deepEqual(all.map((u) => u.id).sort(), [a.id, b.id].sort());
        assert.deepEqual(all.find((u) => u.id === b.id), b);
      });

      it('round trips the OpenID Connect profile fields, and clears them', async () => {
        const profile = {
          name: 'Ada Lovelace', givenName: 'Ada', familyName: 'Lovelace', email: 'ada@example.test', emailVerified: true,
          phoneNumber: '+441234567890', phoneNumberVerified: false, locale: 'en-GB', zoneinfo: 'Europe/London', picture: 'https://example.test/ada.png',
          address: { formatted: '12 St James\'s Square\nLondon', streetAddress: '12 St James\'s Square', locality: 'London', postalCode: 'SW1Y 4JH', country: 'GB' },
        };
        const a = makeUser({ profile });
        await s.users.create(a);
        assert.deepEqual(await s.users.byId(a.id), a);
        const cleared: User = { ...a, profile: {}, updatedAt: T0 + 3 };
        await s.users.update(cleared);
        assert.deepEqual(await s.users.byName(a.userName), cleared);
      });

      it('returns undefined for unknown users', async () => {
        assert.equal(await s.users.byId(uid()), undefined);
        assert.equal(await s.users.byName(uid()), undefined);
        assert.deepEqual(await s.users.list(), []);
      });

      it('rejects a duplicate id or user name with conflict', async () => {
        const a = makeUser();
        await s.users.create(a);
        await rejectsWith(s.users.create(makeUser({ id: a.id })), 'conflict');
        await rejectsWith(s.users.create(makeUser({ userName: a.userName })), 'conflict');
        assert.equal((await s.users.list()).length, 1);
      });

      it('updates an existing user and keeps the name unique', async () => {
        const a = makeUser();
        const b = makeUser();
        await s.users.create(a);
        await s.users.create(b);
        const changed: User = { ...a, userName: `renamed-${uid()}`, active: false, roles: ['x'], updatedAt: T0 + 9 };
        await s.users.update(changed);
        assert.deepEqual(await s.users.byId(a.id), changed);
        assert.equal(await s.users.byName(a.userName), undefined);
        await rejectsWith(s.users.update({ ...b, userName: changed.userName }), 'conflict');
      });

      it('rejects update of a missing user with not_found', async () => {
        await rejectsWith(s.users.update(makeUser()), 'not_found');
        assert.deepEqual(await s.users.list(), []);
      });

      it('does not share arrays with callers', async () => {
        const roles = ['a', 'b'];
        const u = makeUser({ roles });
        await s.users.create(u);
        roles.push('mutated-input');
        const read = await s.users.byId(u.id);
        assert.ok(read);
        (read.roles as string[]).push('mutated-output');
        assert.deepEqual((await s.users.byId(u.id))?.roles, ['a', 'b']);
      });
    });

    describe('roles and scopes', () => {
      it('round trip roles and reject duplicates', async () => {
        const r1 = { name: `role-${uid()}`, description: 'Admins', builtIn: true };
        const r2 = { name: `role-${uid()}`, description: '', builtIn: false };
        await s.roles.create(r1);
        await s.roles.create(r2);
        assert.deepEqual(await s.roles.byName(r1.name), r1);
        assert.deepEqual(await s.roles.byName(r2.name), r2);
        assert.equal(await s.roles.byName(uid()), undefined);
        assert.deepEqual(names(await s.roles.list()), [r1.name, r2.name].sort());
        await rejectsWith(s.roles.create({ ...r1, description: 'again' }), 'conflict');
        assert.deepEqual(await s.roles.byName(r1.name), r1);
      });

      it('round trip scopes and reject duplicates', async () => {
        const s1 = { name: `scope-${uid()}`, description: 'Read things', builtIn: true };
        const s2 = { name: `scope-${uid()}`, description: 'Write things', builtIn: false };
        await s.scopes.create(s1);
        await s.scopes.create(s2);
        assert.deepEqual(await s.scopes.byName(s1.name), s1);
        assert.deepEqual(await s.scopes.byName(s2.name), s2);
        assert.equal(await s.scopes.byName(uid()), undefined);
        assert.deepEqual(names(await s.scopes.list()), [s1.name, s2.name].sort());
        await rejectsWith(s.scopes.create({ ...s2 }), 'conflict');
        assert.equal((await s.scopes.list()).length, 2);
      });
    });

    describe('applications', () => {
      it('round trips every field', async () => {
        const a = makeApp();
        const b = makeApp({
          secretHash: null,
          secretRotatedAt: T0 + 3,
          active: false,
          public: true,
          grantTypes: ['password'],
          redirectUris: [],
          scopes: [],
          accessTokenLifespan: 1,
          refreshTokenLifespan: 2_592_000,
          tokenFormat: 'opaque',
          appUserId: uid(),
          logoUri: 'https://example.test/logo.png',
          audience: 'https://api.example.test',
          jwks: '{"keys":[{"kty":"EC","crv":"P-256","x":"x","y":"y"}]}',
          canIntrospect: true,
          origin: 'registration',
        });
        const c = makeApp({
          grantTypes: ['authorization_code', JWT_BEARER_GRANT],
          jwksUri: 'https://example.test/jwks.json',
          postLogoutRedirectUris: ['https://example.test/bye', 'https://example.test/bye?again=1'],
          backchannelLogoutUri: 'https://example.test/backchannel-logout',
          backchannelLogoutSessionRequired: true,
          parRequired: true,
          // Named by a client ID metadata document: the client id is its https URL.
          clientId: `https://client.example.test/${uid()}/metadata.json`,
          origin: 'metadata_document',
        });
        await s.applications.create(a);
        await s.applications.create(b);
        await s.applications.create(c);
        assert.deepEqual(await s.applications.byId(c.id), c);
        assert.deepEqual(await s.applications.byId(a.id), a);
        assert.deepEqual(await s.applications.byClientId(b.clientId), b);
        assert.deepEqual(await s.applications.byId(b.id), b);
        assert.equal(await s.applications.byId(uid()), undefined);
        assert.equal(await s.applications.byClientId(uid()), undefined);
        // A caller's key with U+0000 (PostgreSQL text cannot hold one) finds nothing, never an error.
        assert.equal(await s.applications.byClientId(`${b.clientId}\u0000`), undefined);
        assert.equal(await s.applications.byClientId('\u0000'), undefined);
        assert.equal(await s.users.byName('ad\u0000min'), undefined);
        const all = await s.applications.list();
        assert.deepEqual(all.map((x) => x.id).sort(), [a.id, b.id, c.id].sort());
        assert.deepEqual(all.find((x) => x.id === a.id), a);
        assert.deepEqual(all.find((x) => x.id === b.id), b);
      });

      it('rejects a duplicate id or client id with conflict', async () => {
        const a = makeApp();
        await s.applications.create(a);
        await rejectsWith(s.applications.create(makeApp({ id: a.id })), 'conflict');
        await rejectsWith(s.applications.create(makeApp({ clientId: a.clientId })), 'conflict');
        assert.equal((await s.applications.list()).length, 1);
      });

      it('updates an existing application and keeps the client id unique', async () => {
        const a = makeApp();
        const b = makeApp();
        await s.applications.create(a);
        await s.applications.create(b);
        const changed: Application = { ...a, name: 'New name', scopes: ['only'], secretHash: null, updatedAt: T0 + 7 };
        await s.applications.update(changed);
        assert.deepEqual(await s.applications.byId(a.id), changed);
        const keyed: Application = { ...changed, logoUri: 'http://localhost/logo.svg', audience: 'aud', jwksUri: 'https://example.test/keys', canIntrospect: true };
        await s.applications.update(keyed);
        assert.deepEqual(await s.applications.byId(a.id), keyed);
        const limited: Application = { ...keyed, rateLimit: '100/1m', idTokenAlg: 'ES256' };
        await s.applications.update(limited);
        assert.deepEqual(await s.applications.byId(a.id), limited);
        const mapped: Application = { ...limited, claimMappings: { roles: 'roles', department: 'familyName' } };
        await s.applications.update(mapped);
        assert.deepEqual(await s.applications.byId(a.id), mapped);
        const cleared: Application = { ...keyed, logoUri: null, audience: null, jwksUri: null, jwks: '{"keys":[]}', canIntrospect: false, rateLimit: null, claimMappings: null };
        await s.applications.update(cleared);
        assert.deepEqual(await s.applications.byId(a.id), cleared);
        await rejectsWith(s.applications.update({ ...b, clientId: a.clientId }), 'conflict');
        assert.deepEqual(await s.applications.byId(b.id), b);
      });

      it('rejects update of a missing application with not_found', async () => {
        await rejectsWith(s.applications.update(makeApp()), 'not_found');
      });

      it('does not share arrays with callers', async () => {
        const a = makeApp();
        await s.applications.create(a);
        const read = await s.applications.byId(a.id);
        assert.ok(read);
        (read.scopes as string[]).push('x');
        (read.redirectUris as string[]).push('x');
        assert.deepEqual(await s.applications.byId(a.id), a);
      });
    });

    describe('properties', () => {
      it('sets, lists and upserts', async () => {
        assert.deepEqual(await s.properties.list(), []);
        await s.properties.set('a.b', '1', T0);
        await s.properties.set('c', 'true', T0 + 1);
        await s.properties.set('a.b', '', T0 + 2);
        const rows = [...(await s.properties.list())].sort((x, y) => x.name.localeCompare(y.name));
        assert.deepEqual(rows, [
          { name: 'a.b', value: '', updatedAt: T0 + 2 },
          { name: 'c', value: 'true', updatedAt: T0 + 1 },
        ]);
      });
    });

    describeTokens(() => s);
    describeRefusalsAndChanges(() => s);
    describeExportAndJobs(() => s);
    describeKeysCodesReplayProviders(() => s);
    describeAuditAndActivity(() => s);
    describeUsage(() => s);
    describeSessionsAttemptsAndRevocation(() => s);
    describeOrderAndLimits(() => s);
    describeDeviceCodes(() => s);
  });
}

function describeTokens(get: () => Storage): void {
  describe('tokens', () => {
    it('round trips inserted tokens as active', async () => {
      const s = get();
      const a = makeToken({ kind: 'access', userId: null, scopes: [], grantType: 'client_credentials' });
      const b = makeToken();
      await s.tokens.insert([a, b]);
      await s.tokens.insert([]);
      assert.deepEqual(await s.tokens.byHash(a.hash), { ...a, status: 'active', revokedAt: null });
      assert.deepEqual(await s.tokens.byHash(b.hash), { ...b, status: 'active', revokedAt: null });
      assert.equal(await s.tokens.byHash(uid()), undefined);
    });

    it('keeps the actor (RFC 8693 act) of an exchanged token, through rotation-free inserts and imports', async () => {
      const s = get();
      const act = { sub: 'svc-agent', client_id: 'c-agent', act: { sub: 'svc-first', client_id: 'c-first' } };
      const a = makeToken({ kind: 'access', grantType: 'urn:ietf:params:oauth:grant-type:token-exchange', act });
      const plain = makeToken({ kind: 'access' });
      await s.tokens.insert([a, plain]);
      assert.deepEqual(await s.tokens.byHash(a.hash), { ...a, status: 'active', revokedAt: null });
      assert.equal((await s.tokens.byHash(plain.hash))?.act, undefined, 'no act: none read back');
    });

    it('rejects a duplicate hash with conflict', async () => {
      const s = get();
      const a = makeToken();
      await s.tokens.insert([a]);
      await rejectsWith(s.tokens.insert([makeToken({ hash: a.hash })]), 'conflict');
      const dup = makeToken();
      await rejectsWith(s.tokens.insert([dup, { ...dup }]), 'conflict');
      assert.deepEqual(await s.tokens.byHash(a.hash), { ...a, status: 'active', revokedAt: null });
    });

    it('consumes a refresh token once and inserts its replacements', async () => {
      const s = get();
      const old = makeToken();
      await s.tokens.insert([old]);
      const access = makeToken({ kind: 'access', familyId: old.familyId, issuedAt: T0 + 10 });
      const refresh = makeToken({ familyId: old.familyId, issuedAt: T0 + 10 });
      const res = await s.tokens.consumeRefresh(old.hash, T0 + 10, [access, refresh]);
      assert.equal(res.outcome, 'consumed');
      assert.ok(res.outcome === 'consumed');
      assert.deepEqual(res.token, { ...old, status: 'rotated', revokedAt: null });
      assert.equal((await s.tokens.byHash(old.hash))?.status, 'rotated');
      assert.deepEqual(await s.tokens.byHash(access.hash), { ...access, status: 'active', revokedAt: null });
      assert.deepEqual(await s.tokens.byHash(refresh.hash), { ...refresh, status: 'active', revokedAt: null });
      const again = await s.tokens.consumeRefresh(old.hash, T0 + 11, [makeToken()]);
      assert.equal(again.outcome, 'not_active');
      assert.ok(again.outcome === 'not_active');
      assert.equal(again.token.status, 'rotated');
      assert.equal(again.token.hash, old.hash);
    });

    it('reports not_found and not_active without inserting replacements', async () => {
      const s = get();
      const spare = makeToken();
      assert.deepEqual(await s.tokens.consumeRefresh(uid(), T0, [spare]), { outcome: 'not_found' });
      const access = makeToken({ kind: 'access' });
      const revoked = makeToken();
      await s.tokens.insert([access, revoked]);
      await s.tokens.revoke(revoked.hash, T0 + 1);
      const r1 = await s.tokens.consumeRefresh(access.hash, T0 + 2, [spare]);
      assert.deepEqual(r1, { outcome: 'not_active', token: { ...access, status: 'active', revokedAt: null } });
      const r2 = await s.tokens.consumeRefresh(revoked.hash, T0 + 2, [spare]);
      assert.deepEqual(r2, { outcome: 'not_active', token: { ...revoked, status: 'revoked', revokedAt: T0 + 1 } });
      assert.equal(await s.tokens.byHash(spare.hash), undefined);
    });

    it('lets exactly one of 20 concurrent consumers win', async () => {
      const s = get();
      const old = makeToken();
      await s.tokens.insert([old]);
      const replacements = Array.from({ length: 20 }, () => makeToken({ familyId: old.familyId }));
      const results = await Promise.all(
        replacements.map((r, i) => s.tokens.consumeRefresh(old.hash, T0 + i, [r])),
      );
      assert.equal(results.filter((r) => r.outcome === 'consumed').length, 1);
      assert.equal(results.filter((r) => r.outcome === 'not_active').length, 19);
      const winner = results.findIndex((r) => r.outcome === 'consumed');
      const stored = await Promise.all(replacements.map((r) => s.tokens.byHash(r.hash)));
      assert.deepEqual(stored.map((t, i) => (t === undefined) !== (i === winner)), replacements.map(() => true));
    });

    it('revokes one active token', async () => {
      const s = get();
      const t = makeToken({ kind: 'access' });
      await s.tokens.insert([t]);
      assert.equal(await s.tokens.revoke(t.hash, T0 + 5), true);
      assert.deepEqual(await s.tokens.byHash(t.hash), { ...t, status: 'revoked', revokedAt: T0 + 5 });
      assert.equal(await s.tokens.revoke(t.hash, T0 + 6), false);
      assert.equal((await s.tokens.byHash(t.hash))?.revokedAt, T0 + 5);
      assert.equal(await s.tokens.revoke(uid(), T0), false);
    });

    it('revokes active and rotated tokens of a family and counts them', async () => {
      const s = get();
      const fam = uid();
      const first = makeToken({ familyId: fam });
      const alreadyRevoked = makeToken({ familyId: fam, kind: 'access' });
      const other = makeToken();
      await s.tokens.insert([first, alreadyRevoked, other]);
      await s.tokens.revoke(alreadyRevoked.hash, T0 + 1);
      const next = makeToken({ familyId: fam });
      const nextAccess = makeToken({ familyId: fam, kind: 'access' });
      await s.tokens.consumeRefresh(first.hash, T0 + 2, [next, nextAccess]);
      assert.equal(await s.tokens.revokeFamily(fam, T0 + 3), 3);
      for (const h of [first.hash, next.hash, nextAccess.hash]) {
        const t = await s.tokens.byHash(h);
        assert.equal(t?.status, 'revoked');
        assert.equal(t?.revokedAt, T0 + 3);
      }
      assert.equal((await s.tokens.byHash(alreadyRevoked.hash))?.revokedAt, T0 + 1);
      assert.equal((await s.tokens.byHash(other.hash))?.status, 'active');
      assert.equal(await s.tokens.revokeFamily(fam, T0 + 4), 0);
      assert.equal(await s.tokens.revokeFamily(uid(), T0 + 4), 0);
    });

    it('revokes a family named after its first token (family id = that token\'s key), the first token included', async () => {
      // How tokens/issuer.ts names a family: the first access token's key. A client-credentials
      // token is a family of one; a sign-in's refresh token and its rotations join the access token's.
      const s = get();
      const access = makeToken({ kind: 'access', hash: `h-${uid()}` });
      const root = { ...access, familyId: access.hash };
      const refresh = makeToken({ familyId: root.hash });
      const alone = makeToken({ kind: 'access', grantType: 'client_credentials', hash: `h-${uid()}` });
      const single = { ...alone, familyId: alone.hash };
      const neighbour = makeToken({ kind: 'access', hash: `h-${uid()}` });
      const other = { ...neighbour, familyId: neighbour.hash };
      await s.tokens.insert([root, refresh, single, other]);
      const rotated = makeToken({ familyId: root.hash });
      await s.tokens.consumeRefresh(refresh.hash, T0 + 1, [rotated]);
      assert.equal(await s.tokens.revokeFamily(root.hash, T0 + 2), 3);
      for (const h of [root.hash, refresh.hash, rotated.hash]) assert.equal((await s.tokens.byHash(h))?.status, 'revoked', h);
      assert.equal((await s.tokens.byHash(single.hash))?.status, 'active');
      assert.equal((await s.tokens.byHash(other.hash))?.status, 'active');
      assert.equal(await s.tokens.revokeFamily(single.hash, T0 + 3), 1);
      assert.equal((await s.tokens.byHash(single.hash))?.revokedAt, T0 + 3);
      assert.equal((await s.tokens.byHash(other.hash))?.status, 'active');
      // A token whose key is the id asked for but which belongs to another family is not its first token.
      const stray = makeToken({ kind: 'access', hash: `h-${uid()}` });
      await s.tokens.insert([stray]);
      assert.equal(await s.tokens.revokeFamily(stray.hash, T0 + 4), 0);
      assert.equal((await s.tokens.byHash(stray.hash))?.status, 'active');
    });

    it('lists with filters, newest first, and a limit', async () => {
      const s = get();
      const app1 = uid();
      const app2 = uid();
      const user1 = uid();
      const a = makeToken({ applicationId: app1, userId: user1, issuedAt: T0 + 1, expiresAt: T0 + 100 });
      const b = makeToken({ applicationId: app1, userId: null, issuedAt: T0 + 3, expiresAt: T0 + 100 });
      const c = makeToken({ applicationId: app2, userId: user1, issuedAt: T0 + 2, expiresAt: T0 + 100 });
      const d = makeToken({ applicationId: app1, userId: user1, issuedAt: T0 + 4, expiresAt: T0 + 50 });
      const e = makeToken({ applicationId: app1, userId: user1, issuedAt: T0 + 5, expiresAt: T0 + 100 });
      await s.tokens.insert([a, b, c, d, e]);
      await s.tokens.revoke(e.hash, T0 + 6);
      const hashes = async (q: Parameters<Storage['tokens']['list']>[0]): Promise<string[]> =>
        (await s.tokens.list(q)).map((t) => t.hash);
      assert.deepEqual(await hashes({}), [e, d, b, c, a].map((t) => t.hash));
      assert.deepEqual(await hashes({ applicationId: app1 }), [e, d, b, a].map((t) => t.hash));
      assert.deepEqual(await hashes({ userId: user1 }), [e, d, c, a].map((t) => t.hash));
      assert.deepEqual(await hashes({ applicationId: app1, userId: user1 }), [e, d, a].map((t) => t.hash));
      assert.deepEqual(await hashes({ activeOnly: true, now: T0 + 10 }), [d, b, c, a].map((t) => t.hash));
      assert.deepEqual(await hashes({ activeOnly: true, now: T0 + 50 }), [b, c, a].map((t) => t.hash));
      assert.deepEqual(await hashes({ activeOnly: true, userId: user1, now: T0 + 60 }), [c.hash, a.hash]);
      assert.deepEqual(await hashes({ limit: 2 }), [e.hash, d.hash]);
      assert.deepEqual((await s.tokens.list({ applicationId: app2 }))[0], { ...c, status: 'active', revokedAt: null });
    });

    it('applies the default limit of 100 and uses the clock when now is omitted', async () => {
      const s = get();
      const many = Array.from({ length: 105 }, (_, i) => makeToken({ issuedAt: T0 + i }));
      await s.tokens.insert(many);
      assert.equal((await s.tokens.list({})).length, 100);
      assert.equal((await s.tokens.list({})).at(-1)?.hash, many[5]?.hash);
      assert.deepEqual(await s.tokens.list({ activeOnly: true }), []);
      const live = makeToken({ issuedAt: Date.now(), expiresAt: Date.now() + 3_600_000 });
      await s.tokens.insert([live]);
      assert.deepEqual((await s.tokens.list({ activeOnly: true })).map((t) => t.hash), [live.hash]);
    });

    it('deletes tokens that expired before a time', async () => {
      const s = get();
      const old = makeToken({ expiresAt: T0 + 10 });
      const edge = makeToken({ expiresAt: T0 + 20 });
      const fresh = makeToken({ expiresAt: T0 + 30 });
      const revokedOld = makeToken({ expiresAt: T0 + 5 });
      await s.tokens.insert([old, edge, fresh, revokedOld]);
      await s.tokens.revoke(revokedOld.hash, T0);
      assert.equal(await s.tokens.deleteExpired(T0 + 20), 2);
      assert.equal(await s.tokens.byHash(old.hash), undefined);
      assert.equal(await s.tokens.byHash(revokedOld.hash), undefined);
      assert.ok(await s.tokens.byHash(edge.hash));
      assert.ok(await s.tokens.byHash(fresh.hash));
      assert.equal(await s.tokens.deleteExpired(T0 + 20), 0);
    });
  });
}

function describeRefusalsAndChanges(get: () => Storage): void {
  describe('refusals', () => {
    it('round trips every field', async () => {
      const s = get();
      const a = makeRefusal();
      const b = makeRefusal({
        at: T0 + 1,
        endpoint: '/api/users',
        status: 401,
        error: 'invalid_token',
        reason: 'token_expired',
        hint: 'Request a new token.',
        clientId: 'client-1',
        applicationName: 'My app',
        userName: 'alice',
        remoteAddress: '::1',
        facts: { issuedAt: '2026-01-01T00:00:00.000Z', failures: 3, tokenScopes: ['a', 'b'], scopeExists: false, audience: null },
      });
      await s.refusals.record(a);
      await s.refusals.record(b);
      assert.deepEqual(await s.refusals.byRequestId(a.requestId), a);
      assert.deepEqual(await s.refusals.byRequestId(b.requestId), b);
      assert.equal(await s.refusals.byRequestId(uid()), undefined);
    });

    it('lists newest first with reason, since and limit', async () => {
      const s = get();
      const r1 = makeRefusal({ at: T0 + 1, reason: 'x' });
      const r2 = makeRefusal({ at: T0 + 3, reason: 'y' });
      const r3 = makeRefusal({ at: T0 + 2, reason: 'x' });
      const r4 = makeRefusal({ at: T0 + 4, reason: 'x' });
      for (const r of [r1, r2, r3, r4]) await s.refusals.record(r);
      const ids = async (q: Parameters<Storage['refusals']['list']>[0]): Promise<string[]> =>
        (await s.refusals.list(q)).map((r) => r.requestId);
      assert.deepEqual(await ids({}), [r4, r2, r3, r1].map((r) => r.requestId));
      assert.deepEqual(await ids({ reason: 'x' }), [r4, r3, r1].map((r) => r.requestId));
      assert.deepEqual(await ids({ since: T0 + 2 }), [r4, r2, r3].map((r) => r.requestId));
      assert.deepEqual(await ids({ reason: 'x', since: T0 + 3 }), [r4.requestId]);
      assert.deepEqual(await ids({ limit: 2 }), [r4.requestId, r2.requestId]);
      assert.deepEqual(await ids({ reason: 'none' }), []);
      assert.deepEqual((await s.refusals.list({ reason: 'y' }))[0], r2);
    });

    it('keeps "would refuse" records apart: lists real refusals unless asked, by rule on request', async () => {
      const s = get();
      const real = makeRefusal({ at: T0 + 1, reason: 'x' });
      const would = makeRefusal({ at: T0 + 2, reason: 'x', ruleId: 'rule_aaaaaaaaaaaa', status: 403 });
      const other = makeRefusal({ at: T0 + 3, reason: 'x', ruleId: 'rule_bbbbbbbbbbbb' });
      for (const r of [real, would, other]) await s.refusals.record(r);
      const ids = async (q: Parameters<Storage['refusals']['list']>[0]): Promise<string[]> => (await s.refusals.list(q)).map((r) => r.requestId);
      assert.deepEqual(await ids({}), [real.requestId]);
      assert.deepEqual(await ids({ outcome: 'refused', reason: 'x' }), [real.requestId]);
      assert.deepEqual(await ids({ outcome: 'would_refuse' }), [other.requestId, would.requestId]);
      assert.deepEqual(await ids({ outcome: 'all', since: T0 + 2 }), [other.requestId, would.requestId]);
      assert.deepEqual(await ids({ ruleId: 'rule_aaaaaaaaaaaa' }), [would.requestId]);
      assert.deepEqual(await s.refusals.byRequestId(would.requestId), would);
    });

    it('bounds the facts a caller can make large', async () => {
      const s = get();
      const r = makeRefusal({ facts: { requestedScopes: Array.from({ length: 5000 }, (_, i) => `scope-${i}`), requestedGrant: 'g'.repeat(20_000) } });
      await s.refusals.record(r);
      const back = await s.refusals.byRequestId(r.requestId);
      assert.ok(back?.facts !== null && back?.facts !== undefined);
      assert.equal((back.facts.requestedScopes as string[]).length, 10);
      assert.ok(JSON.stringify(back.facts).length <= 8_000);
    });

    it('applies the default limit of 100', async () => {
      const s = get();
      for (let i = 0; i < 103; i++) await s.refusals.record(makeRefusal({ at: T0 + i }));
      const rows = await s.refusals.list({});
      assert.equal(rows.length, 100);
      assert.equal(rows[0]?.at, T0 + 102);
    });
  });

  describe('change version', () => {
    it('grows after every registry and token-state mutation, and not on inserts', async () => {
      const s = get();
      let last = await s.changes.version();
      assert.equal(typeof last, 'number');
      const expectBump = async (what: string, op: () => Promise<unknown>): Promise<void> => {
        await op();
        const v = await s.changes.version();
        assert.ok(v > last, `version should grow after ${what} (${last} -> ${v})`);
        last = v;
      };
      const expectSame = async (what: string, op: () => Promise<unknown>): Promise<void> => {
        await op();
        assert.equal(await s.changes.version(), last, `version should not change after ${what}`);
      };
      const user = makeUser();
      const app = makeApp();
      const fam = uid();
      const t1 = makeToken({ familyId: fam });
      const t2 = makeToken({ familyId: fam });
      const t3 = makeToken({ kind: 'access' });
      await expectBump('users.create', () => s.users.create(user));
      await expectBump('users.update', () => s.users.update({ ...user, active: false }));
      await expectBump('roles.create', () => s.roles.create({ name: uid(), description: '', builtIn: false }));
      await expectBump('scopes.create', () => s.scopes.create({ name: uid(), description: '', builtIn: false }));
      await expectBump('applications.create', () => s.applications.create(app));
      await expectBump('applications.update', () => s.applications.update({ ...app, name: 'renamed' }));
      await expectBump('properties.set', () => s.properties.set('p', '1', T0));
      await expectBump('properties.set (upsert)', () => s.properties.set('p', '2', T0 + 1));
      await expectSame('tokens.insert', () => s.tokens.insert([t1, t3]));
      await expectSame('refusals.record', () => s.refusals.record(makeRefusal()));
      await expectBump('tokens.consumeRefresh', () => s.tokens.consumeRefresh(t1.hash, T0, [t2]));
      await expectBump('tokens.revoke', () => s.tokens.revoke(t3.hash, T0));
      await expectBump('tokens.revokeFamily', () => s.tokens.revokeFamily(fam, T0));
    });
  });
}

/** What migrate-db and the scheduled clean-up need: paging exports, importing as stored, deletes by age, exclusive runs. */
function describeExportAndJobs(get: () => Storage): void {
  describe('export, import, clean-up, schema, exclusive runs', () => {
    it('exports every token in hash order, page by page, whatever its state or expiry', async () => {
      const s = get();
      const batch = Array.from({ length: 7 }, (_, i) => makeToken({ hash: `h-${String(i).padStart(2, '0')}-${uid()}`, expiresAt: i % 2 === 0 ? T0 - 1 : T0 + 1 }));
      await s.tokens.insert(batch);
      await s.tokens.revoke(batch[1]!.hash, T0 + 1);
      await s.tokens.consumeRefresh(batch[3]!.hash, T0 + 2, []);
      const pages: string[][] = [];
      let after: string | undefined;
      for (;;) {
        const page = await s.tokens.exportAll(after, 3);
        if (page.length === 0) break;
        pages.push(page.map((t) => t.hash));
        after = page.at(-1)!.hash;
      }
      assert.deepEqual(pages.map((p) => p.length), [3, 3, 1]);
      assert.deepEqual(pages.flat(), batch.map((t) => t.hash).sort());
      const all = await s.tokens.exportAll();
      assert.equal(all.length, 7);
      assert.deepEqual(all.find((t) => t.hash === batch[1]!.hash), { ...batch[1], status: 'revoked', revokedAt: T0 + 1 });
      assert.equal(all.find((t) => t.hash === batch[3]!.hash)?.status, 'rotated');
      assert.deepEqual(await s.tokens.exportAll(pages.flat().at(-1)), []);
    });

    it('imports tokens with their status and revocation time, all or nothing', async () => {
      const s = get();
      const rotated = { ...makeToken(), status: 'rotated' as const, revokedAt: null };
      const revoked = { ...makeToken({ kind: 'access', userId: null, scopes: [] }), status: 'revoked' as const, revokedAt: T0 + 3 };
      const active = { ...makeToken({ familyId: rotated.familyId }), status: 'active' as const, revokedAt: null };
      const before = await s.changes.version();
      await s.tokens.importAll([rotated, revoked, active]);
      await s.tokens.importAll([]);
      assert.equal(await s.changes.version(), before, 'importing tokens does not bump the change version');
      assert.deepEqual(await s.tokens.byHash(rotated.hash), rotated);
      assert.deepEqual(await s.tokens.byHash(revoked.hash), revoked);
      assert.deepEqual(await s.tokens.byHash(active.hash), active);
      // Reuse detection works on imported state: the rotated one is not active.
      assert.equal((await s.tokens.consumeRefresh(rotated.hash, T0 + 4, [])).outcome, 'not_active');
      assert.equal(await s.tokens.revokeFamily(rotated.familyId, T0 + 5), 2);
      const fresh = { ...makeToken(), status: 'active' as const, revokedAt: null };
      await rejectsWith(s.tokens.importAll([fresh, { ...active }]), 'conflict');
      assert.equal(await s.tokens.byHash(fresh.hash), undefined);
    });

    it('deletes refusals older than a time and exports the rest in request-id order', async () => {
      const s = get();
      const old = makeRefusal({ requestId: `b-${uid()}`, at: T0 - 10 });
      const edge = makeRefusal({ requestId: `a-${uid()}`, at: T0 });
      const recent = makeRefusal({ requestId: `c-${uid()}`, at: T0 + 10 });
      for (const r of [old, edge, recent]) await s.refusals.record(r);
      assert.deepEqual((await s.refusals.exportAll()).map((r) => r.requestId), [edge, old, recent].map((r) => r.requestId));
      assert.deepEqual(await s.refusals.exportAll(edge.requestId, 1), [old]);
      assert.equal(await s.refusals.deleteOlderThan(T0), 1);
      assert.equal(await s.refusals.byRequestId(old.requestId), undefined);
      assert.deepEqual(await s.refusals.byRequestId(edge.requestId), edge);
      assert.equal(await s.refusals.deleteOlderThan(T0), 0);
      assert.deepEqual((await s.refusals.exportAll()).map((r) => r.requestId), [edge.requestId, recent.requestId]);
    });

    it('reports a schema version equal to the one the code expects', async () => {
      const v = await get().schemaVersion();
      assert.ok(v.current >= 1, JSON.stringify(v));
      assert.equal(v.current, v.expected);
    });

    it('runs exclusive work once at a time, and again after it finished', async () => {
      const s = get();
      if (s.tryExclusive === undefined) return;
      let runs = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const first = s.tryExclusive('contract-job', async () => {
        runs += 1;
        await gate;
        return 'first';
      });
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(await s.tryExclusive('contract-job', async () => (runs += 1, 'second')), undefined);
      assert.equal(await s.tryExclusive('other-job', async () => 'other'), 'other');
      release();
      assert.equal(await first, 'first');
      assert.equal(runs, 1);
      assert.equal(await s.tryExclusive('contract-job', async () => 'again'), 'again');
      await assert.rejects(s.tryExclusive('contract-job', async () => { throw new Error('job failed'); }), /job failed/);
      assert.equal(await s.tryExclusive('contract-job', async () => 'after a failure'), 'after a failure');
    });
  });
}

/** Issue 4: signing keys, authorization codes, one-time ids and identity providers. */
function describeKeysCodesReplayProviders(get: () => Storage): void {
  describe('signing keys', () => {
    it('rotates one timeline at a time: the access-token keys, or the ID token keys of one algorithm', async () => {
      const s = get();
      const access = makeSigningKey({ kid: `a-${uid()}`, activatesAt: T0 });
      await s.keys.rotate(access, { retiresAt: T0, publishUntil: T0 });
      const rs = makeSigningKey({ kid: `r-${uid()}`, alg: 'RS256', purpose: 'id_token', activatesAt: T0 + 1 });
      await s.keys.rotate(rs, { retiresAt: T0 + 1, publishUntil: T0 + 1 });
      const es = makeSigningKey({ kid: `e-${uid()}`, purpose: 'id_token', activatesAt: T0 + 2 });
      await s.keys.rotate(es, { retiresAt: T0 + 2, publishUntil: T0 + 2 });
      // Each went in beside the others: none retired.
      assert.deepEqual((await s.keys.list()).map((k) => [k.kid, k.purpose, k.retiresAt]), [[access.kid, 'access', null], [rs.kid, 'id_token', null], [es.kid, 'id_token', null]]);
      // The next RS256 ID token key retires the RS256 one only.
      const rs2 = makeSigningKey({ kid: `r2-${uid()}`, alg: 'RS256', purpose: 'id_token', activatesAt: T0 + 10 });
      await s.keys.rotate(rs2, { retiresAt: T0 + 10, publishUntil: T0 + 20 });
      const byKid = new Map((await s.keys.list()).map((k) => [k.kid, k]));
      assert.equal(byKid.get(access.kid)?.retiresAt, null);
      assert.equal(byKid.get(es.kid)?.retiresAt, null);
      assert.equal(byKid.get(rs.kid)?.retiresAt, T0 + 10);
      assert.equal(byKid.get(rs.kid)?.publishUntil, T0 + 20);
      // The next access-token key (of either algorithm) retires the access-token key only.
      const access2 = makeSigningKey({ kid: `a2-${uid()}`, alg: 'RS256', activatesAt: T0 + 30 });
      await s.keys.rotate(access2, { retiresAt: T0 + 30, publishUntil: T0 + 40 });
      const after = new Map((await s.keys.list()).map((k) => [k.kid, k]));
      assert.equal(after.get(access.kid)?.retiresAt, T0 + 30);
      assert.equal(after.get(es.kid)?.retiresAt, null);
      assert.equal(after.get(rs2.kid)?.retiresAt, null);
      assert.deepEqual(after.get(access2.kid), access2);
    });

    it('adds the first key, then rotates: every unretired key retires, the next is inserted', async () => {
      const s = get();
      assert.deepEqual(await s.keys.list(), []);
      const k1 = makeSigningKey({ kid: `a-${uid()}`, activatesAt: T0 });
      await s.keys.rotate(k1, { retiresAt: T0 + 5, publishUntil: T0 + 10 });
      assert.deepEqual(await s.keys.list(), [k1], 'nothing to retire: the first key is stored as given');

      const k2 = makeSigningKey({ alg: 'RS256', activatesAt: T0 + 100, createdAt: T0 + 50 });
      await s.keys.rotate(k2, { retiresAt: T0 + 100, publishUntil: T0 + 2_000 });
      const k1Retired = { ...k1, retiresAt: T0 + 100, publishUntil: T0 + 2_000 };
      assert.deepEqual(await s.keys.list(), [k1Retired, k2], 'listed in activation order');

      // A key already retired keeps its times; the unretired next key (k2) is retired.
      const k3 = makeSigningKey({ activatesAt: T0 + 300 });
      await s.keys.rotate(k3, { retiresAt: T0 + 300, publishUntil: T0 + 5_000 });
      assert.deepEqual(await s.keys.list(), [k1Retired, { ...k2, retiresAt: T0 + 300, publishUntil: T0 + 5_000 }, k3]);
    });

    it('a rotation that activates sooner also retires keys due to retire later (overlapping rotations)', async () => {
      const s = get();
      const k1 = makeSigningKey({ activatesAt: T0 });
      await s.keys.rotate(k1, { retiresAt: T0, publishUntil: T0 });
      // k2 waits to sign at T0+600; k1 is due to retire then.
      const k2 = makeSigningKey({ activatesAt: T0 + 600 });
      await s.keys.rotate(k2, { retiresAt: T0 + 600, publishUntil: T0 + 3_000 });
      // k3 signs at once (T0+100): k1 and the never-active k2 both retire at T0+100.
      const k3 = makeSigningKey({ activatesAt: T0 + 100 });
      await s.keys.rotate(k3, { retiresAt: T0 + 100, publishUntil: T0 + 2_000 });
      const byKid = new Map((await s.keys.list()).map((k) => [k.kid, k]));
      assert.deepEqual([byKid.get(k1.kid)?.retiresAt, byKid.get(k1.kid)?.publishUntil], [T0 + 100, T0 + 2_000]);
      assert.deepEqual([byKid.get(k2.kid)?.retiresAt, byKid.get(k2.kid)?.publishUntil], [T0 + 100, T0 + 2_000]);
      assert.equal(byKid.get(k3.kid)?.retiresAt, null);
    });

    it('rotates all or nothing: a duplicate kid is a conflict and retires nothing', async () => {
      const s = get();
      const k1 = makeSigningKey();
      await s.keys.rotate(k1, { retiresAt: T0 + 1, publishUntil: T0 + 2 });
      const before = await s.changes.version();
      await rejectsWith(s.keys.rotate(makeSigningKey({ kid: k1.kid, activatesAt: T0 + 9 }), { retiresAt: T0 + 9, publishUntil: T0 + 99 }), 'conflict');
      assert.deepEqual(await s.keys.list(), [k1]);
      assert.equal(await s.changes.version(), before, 'a failed rotation changes nothing');
    });

    it('deletes keys whose publishUntil is before a time, never an unretired key', async () => {
      const s = get();
      const old = makeSigningKey({ activatesAt: T0 });
      const mid = makeSigningKey({ activatesAt: T0 + 10 });
      const current = makeSigningKey({ activatesAt: T0 + 20 });
      await s.keys.rotate(old, { retiresAt: 0, publishUntil: 0 });
      await s.keys.rotate(mid, { retiresAt: T0 + 10, publishUntil: T0 + 100 });
      await s.keys.rotate(current, { retiresAt: T0 + 20, publishUntil: T0 + 200 });
      // old: publishUntil T0+100, mid: T0+200, current: null
      assert.equal(await s.keys.deleteUnpublished(T0 + 100), 0, 'publishUntil equal to the time is kept');
      assert.equal(await s.keys.deleteUnpublished(T0 + 101), 1);
      assert.deepEqual((await s.keys.list()).map((k) => k.kid), [mid.kid, current.kid]);
      assert.equal(await s.keys.deleteUnpublished(Number.MAX_SAFE_INTEGER), 1);
      assert.deepEqual((await s.keys.list()).map((k) => k.kid), [current.kid]);
    });
  });

  describe('authorization codes', () => {
    it('round trips a code and consumes it exactly once', async () => {
      const s = get();
      const code = makeCode();
      const bare = makeCode({ redirectUri: null, codeChallenge: null, scopes: [], nonce: null, authTime: null, sid: null });
      await s.codes.insert(code);
      await s.codes.insert(bare);
      await rejectsWith(s.codes.insert({ ...makeCode(), hash: code.hash }), 'conflict');
      assert.deepEqual(await s.codes.consume(`c-${uid()}`, T0), { outcome: 'not_found' });
      assert.deepEqual(await s.codes.consume(code.hash, T0 + 5), { outcome: 'consumed', code: { ...code, usedAt: T0 + 5 } });
      assert.deepEqual(await s.codes.consume(code.hash, T0 + 6), { outcome: 'used', code: { ...code, usedAt: T0 + 5 } }, 'the first use time stays');
      assert.deepEqual(await s.codes.consume(bare.hash, T0 + 7), { outcome: 'consumed', code: { ...bare, usedAt: T0 + 7 } });
      // Expiry is the caller's to check: an expired unused code is still consumed.
      const expired = makeCode({ expiresAt: T0 - 1 });
      await s.codes.insert(expired);
      assert.equal((await s.codes.consume(expired.hash, T0)).outcome, 'consumed');
    });

    it('lets exactly one of 20 concurrent consumers win', async () => {
      const s = get();
      const code = makeCode();
      await s.codes.insert(code);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.codes.consume(code.hash, T0 + i)));
      const winners = results.filter((r) => r.outcome === 'consumed');
      assert.equal(winners.length, 1);
      assert.equal(results.filter((r) => r.outcome === 'used').length, 19);
      const usedAt = winners[0]!.outcome === 'consumed' ? winners[0]!.code.usedAt : -1;
      for (const r of results) if (r.outcome === 'used') assert.equal(r.code.usedAt, usedAt, 'every loser sees the winner\'s use');
    });

    it('does not share arrays with callers', async () => {
      const s = get();
      const code = makeCode();
      await s.codes.insert(code);
      const r = await s.codes.consume(code.hash, T0);
      assert.equal(r.outcome, 'consumed');
      if (r.outcome === 'consumed') (r.code.scopes as string[]).push('x');
      const again = await s.codes.consume(code.hash, T0);
      assert.deepEqual(again.outcome === 'used' && again.code.scopes, ['read', 'write']);
    });

    it('deletes codes that expired before a time, used or not', async () => {
      const s = get();
      const gone = makeCode({ expiresAt: T0 - 1 });
      const goneUsed = makeCode({ expiresAt: T0 - 2 });
      const edge = makeCode({ expiresAt: T0 });
      const live = makeCode({ expiresAt: T0 + 1 });
      for (const c of [gone, goneUsed, edge, live]) await s.codes.insert(c);
      await s.codes.consume(goneUsed.hash, T0 - 5);
      assert.equal(await s.codes.deleteExpired(T0), 2);
      assert.deepEqual(await s.codes.consume(gone.hash, T0), { outcome: 'not_found' });
      assert.deepEqual(await s.codes.consume(goneUsed.hash, T0), { outcome: 'not_found' });
      assert.equal((await s.codes.consume(edge.hash, T0)).outcome, 'consumed');
      assert.equal((await s.codes.consume(live.hash, T0)).outcome, 'consumed');
      assert.equal(await s.codes.deleteExpired(T0), 0);
    });

    it('round trips a claims request and reads a code by hash, used or not', async () => {
      const s = get();
      const asked = makeCode({ claims: { userinfo: ['email', 'phone_number'], idToken: ['name'] } });
      const none = makeCode({ claims: null });
      await s.codes.insert(asked);
      await s.codes.insert(none);
      assert.deepEqual(await s.codes.byHash(asked.hash), asked);
      assert.equal((await s.codes.byHash(none.hash))?.claims ?? null, null);
      assert.equal(await s.codes.byHash(`c-${uid()}`), undefined);
      await s.codes.consume(asked.hash, T0 + 1);
      assert.deepEqual(await s.codes.byHash(asked.hash), { ...asked, usedAt: T0 + 1 });
    });

    it('keeps an expired code with a claims request while a token of its family is unexpired', async () => {
      const s = get();
      const claims = { userinfo: ['email'], idToken: [] };
      const kept = makeCode({ expiresAt: T0 - 10, claims });
      const familyGone = makeCode({ expiresAt: T0 - 10, claims });
      const plain = makeCode({ expiresAt: T0 - 10, claims: null });
      for (const c of [kept, familyGone, plain]) await s.codes.insert(c);
      await s.tokens.insert([
        makeToken({ familyId: kept.hash, grantType: 'authorization_code', expiresAt: T0 }),
        makeToken({ familyId: familyGone.hash, grantType: 'authorization_code', expiresAt: T0 - 1 }),
        makeToken({ familyId: plain.hash, grantType: 'authorization_code', expiresAt: T0 + 1000 }),
      ]);
      await s.codes.deleteExpired(T0);
      assert.ok((await s.codes.byHash(kept.hash)) !== undefined, 'its family has a token expiring at the cutoff');
      assert.equal(await s.codes.byHash(familyGone.hash), undefined, 'its family expired');
      assert.equal(await s.codes.byHash(plain.hash), undefined, 'no claims request: deleted at expiry as before');
      await s.codes.deleteExpired(T0 + 1);
      assert.equal(await s.codes.byHash(kept.hash), undefined, 'deleted once the family expired');
    });
  });

  describe('one-time ids', () => {
    it('remembers a key until it expires, then accepts it again', async () => {
      const s = get();
      const key = `jti-${uid()}`;
      assert.equal(await s.replay.remember(key, T0 + 100, T0), true);
      assert.equal(await s.replay.remember(key, T0 + 200, T0 + 50), false, 'a replay within its lifetime');
      assert.equal(await s.replay.remember(key, T0 + 200, T0 + 99), false);
      assert.equal(await s.replay.remember(`jti-${uid()}`, T0 + 100, T0), true, 'other keys are independent');
      // At its expiry time the old entry no longer counts; the new one runs to its own expiry.
      assert.equal(await s.replay.remember(key, T0 + 300, T0 + 100), true);
      assert.equal(await s.replay.remember(key, T0 + 400, T0 + 299), false);
    });

    it('lets exactly one of 20 concurrent callers win, also over an expired entry', async () => {
      const s = get();
      const fresh = `jti-${uid()}`;
      const first = await Promise.all(Array.from({ length: 20 }, () => s.replay.remember(fresh, T0 + 100, T0)));
      assert.equal(first.filter(Boolean).length, 1);
      const stale = `jti-${uid()}`;
      await s.replay.remember(stale, T0 + 10, T0);
      const second = await Promise.all(Array.from({ length: 20 }, () => s.replay.remember(stale, T0 + 500, T0 + 20)));
      assert.equal(second.filter(Boolean).length, 1);
    });

    it('deletes entries that expired before a time', async () => {
      const s = get();
      const old = `jti-${uid()}`;
      const edge = `jti-${uid()}`;
      await s.replay.remember(old, T0 - 1, T0 - 10);
      await s.replay.remember(edge, T0, T0 - 10);
      await s.replay.remember(`jti-${uid()}`, T0 + 1, T0 - 10);
      assert.equal(await s.replay.deleteExpired(T0), 1);
      assert.equal(await s.replay.deleteExpired(T0), 0);
      assert.equal(await s.replay.remember(edge, T0 + 5, T0 - 1), false, 'the entry at the edge was kept');
      assert.equal(await s.replay.deleteExpired(T0 + 10), 2);
    });
  });

  describe('rules', () => {
    it('creates, reads, lists oldest first, updates and deletes, moving the change version', async () => {
      const s = get();
      const a = makeRule({ createdAt: T0 + 2 });
      const b = makeRule({ createdAt: T0 + 1, kind: 'property', target: 'glide.oauth.inbound.client.credential.grant_type.enabled', spec: { value: 'false' }, note: 'switch off' });
      let v = await s.changes.version();
      await s.rules.create(a);
      assert.ok((await s.changes.version()) > v);
      await s.rules.create(b);
      assert.deepEqual(await s.rules.byId(a.id), a);
      assert.deepEqual((await s.rules.list()).map((r) => r.id), [b.id, a.id]);
      await rejectsWith(s.rules.create(a), 'conflict');
      const enforced: Rule = { ...a, mode: 'enforce', enforcedAt: T0 + 9, enforcedBy: 'admin', updatedAt: T0 + 9, spec: { scopes: ['x'], roles: ['itil'] } };
      v = await s.changes.version();
      await s.rules.update(enforced);
      assert.ok((await s.changes.version()) > v);
      assert.deepEqual(await s.rules.byId(a.id), enforced);
      await rejectsWith(s.rules.update(makeRule()), 'not_found');
      assert.equal(await s.rules.delete(a.id), true);
      assert.equal(await s.rules.delete(a.id), false);
      assert.equal(await s.rules.byId(a.id), undefined);
    });
  });

  describe('resources (RFC 8707)', () => {
    it('creates, reads, lists by uri, updates and deletes registered resources, moving the change version', async () => {
      const s = get();
      const b: ResourceRecord = { uri: 'https://b.example.test/api', name: 'B', description: 'the B service', scopes: ['b.read', 'b.write'], createdAt: T0, updatedAt: T0 };
      const a: ResourceRecord = { uri: 'https://a.example.test', name: 'A', description: '', scopes: [], createdAt: T0 + 1, updatedAt: T0 + 1 };
      let v = await s.changes.version();
      await s.resources.create(b);
      assert.ok((await s.changes.version()) > v);
      await s.resources.create(a);
      await rejectsWith(s.resources.create({ ...a, name: 'again' }), 'conflict');
      assert.deepEqual(await s.resources.byUri(b.uri), b);
      assert.deepEqual(await s.resources.list(), [a, b]);
      const changed: ResourceRecord = { ...b, scopes: ['b.read'], name: 'B2', updatedAt: T0 + 5 };
      v = await s.changes.version();
      await s.resources.update(changed);
      assert.ok((await s.changes.version()) > v);
      assert.deepEqual(await s.resources.byUri(b.uri), changed);
      await rejectsWith(s.resources.update({ ...a, uri: 'https://none.example.test' }), 'not_found');
      v = await s.changes.version();
      assert.equal(await s.resources.delete(a.uri), true);
      assert.ok((await s.changes.version()) > v);
      assert.equal(await s.resources.delete(a.uri), false);
      assert.equal(await s.resources.byUri(a.uri), undefined);
    });

    it('keeps an application\'s resource limit, a code\'s resources and a token\'s audience', async () => {
      const s = get();
      const limited = makeApp({ resources: ['https://a.example.test', 'https://b.example.test/api'] });
      const none = makeApp({ resources: [] });
      await s.applications.create(limited);
      await s.applications.create(none);
      assert.deepEqual(await s.applications.byId(limited.id), limited);
      assert.deepEqual((await s.applications.byId(none.id))?.resources, []);
      await s.applications.update({ ...limited, resources: null });
      assert.equal((await s.applications.byId(limited.id))?.resources, null);
      const code = makeCode({ resources: ['https://a.example.test', 'https://b.example.test/api'] });
      await s.codes.insert(code);
      const consumed = await s.codes.consume(code.hash, T0 + 1);
      assert.ok(consumed.outcome === 'consumed');
      assert.deepEqual(consumed.code.resources, ['https://a.example.test', 'https://b.example.test/api']);
      const plain = makeCode();
      await s.codes.insert(plain);
      assert.equal((await s.codes.byHash(plain.hash))?.resources, undefined);
      const scoped = makeToken({ kind: 'access', audience: ['https://a.example.test', 'https://b.example.test/api?x=1'] });
      const bare = makeToken({ kind: 'access' });
      await s.tokens.insert([scoped, bare]);
      assert.deepEqual(await s.tokens.byHash(scoped.hash), { ...scoped, status: 'active', revokedAt: null });
      assert.equal((await s.tokens.byHash(bare.hash))?.audience, undefined);
      // Rotation keeps what the replacements carry; import keeps it too.
      const refresh = makeToken({ audience: ['https://a.example.test'] });
      await s.tokens.insert([refresh]);
      const next = makeToken({ familyId: refresh.familyId, audience: ['https://a.example.test'] });
      const rotated = await s.tokens.consumeRefresh(refresh.hash, T0 + 2, [next]);
      assert.ok(rotated.outcome === 'consumed');
      assert.deepEqual(rotated.token.audience, ['https://a.example.test']);
      assert.deepEqual((await s.tokens.byHash(next.hash))?.audience, ['https://a.example.test']);
      const imported = { ...makeToken({ audience: ['https://c.example.test'] }), status: 'revoked' as const, revokedAt: T0 + 3 };
      await s.tokens.importAll([imported]);
      assert.deepEqual(await s.tokens.byHash(imported.hash), imported);
    });

    it('keeps a DPoP binding (RFC 9449): a token\'s jkt, a code\'s dpop_jkt, an application requiring DPoP', async () => {
      const s = get();
      const app = makeApp({ dpopRequired: true });
      await s.applications.create(app);
      assert.deepEqual(await s.applications.byId(app.id), app);
      await s.applications.update({ ...app, dpopRequired: false });
      assert.equal((await s.applications.byId(app.id))?.dpopRequired, false);
      const code = makeCode({ dpopJkt: 'jkt-code' });
      await s.codes.insert(code);
      const consumed = await s.codes.consume(code.hash, T0 + 1);
      assert.ok(consumed.outcome === 'consumed');
      assert.equal(consumed.code.dpopJkt, 'jkt-code');
      const plainCode = makeCode();
      await s.codes.insert(plainCode);
      assert.equal((await s.codes.byHash(plainCode.hash))?.dpopJkt, undefined);
      const bound = makeToken({ kind: 'access', jkt: 'jkt-token' });
      const bearer = makeToken({ kind: 'access' });
      await s.tokens.insert([bound, bearer]);
      assert.deepEqual(await s.tokens.byHash(bound.hash), { ...bound, status: 'active', revokedAt: null });
      assert.equal((await s.tokens.byHash(bearer.hash))?.jkt, undefined);
      const refresh = makeToken({ jkt: 'jkt-r' });
      await s.tokens.insert([refresh]);
      const next = makeToken({ familyId: refresh.familyId, jkt: 'jkt-r' });
      const rotated = await s.tokens.consumeRefresh(refresh.hash, T0 + 2, [next]);
      assert.ok(rotated.outcome === 'consumed');
      assert.equal(rotated.token.jkt, 'jkt-r');
      assert.equal((await s.tokens.byHash(next.hash))?.jkt, 'jkt-r');
      const imported = { ...makeToken({ jkt: 'jkt-i' }), status: 'revoked' as const, revokedAt: T0 + 3 };
      await s.tokens.importAll([imported]);
      assert.deepEqual(await s.tokens.byHash(imported.hash), imported);
    });
  });

  describe('dynamic registration: initial access tokens, policies, registrations', () => {
    const iat = (over: Partial<InitialAccessToken> = {}): InitialAccessToken => ({
      id: `iat_${uid().slice(0, 12)}`, hash: uid(), policy: null, usesLeft: null, expiresAt: null, createdAt: T0, createdBy: 'cli:test', lastUsedAt: null, revokedAt: null, ...over,
    });
    const reg = (over: Partial<RegistrationRecord> = {}): RegistrationRecord => ({
      clientId: uid(), applicationId: uid(), tokenHash: uid(), source: 'ip:127.0.0.1', fingerprint: uid(), metadata: '{"client_name":"x"}', policy: null,
      createdAt: T0, updatedAt: T0, lastUsedAt: null, ...over,
    });

    it('initial access tokens: create, read by id and hash, list oldest first, conflict on a second hash', async () => {
      const s = get();
      const a = iat({ createdAt: T0 + 2, policy: 'agents', usesLeft: 3, expiresAt: T0 + 1000 });
      const b = iat({ createdAt: T0 + 1 });
      await s.initialAccessTokens.create(a);
      await s.initialAccessTokens.create(b);
      assert.deepEqual(await s.initialAccessTokens.byId(a.id), a);
      assert.deepEqual(await s.initialAccessTokens.byHash(a.hash), a);
      assert.equal(await s.initialAccessTokens.byHash('nope'), undefined);
      assert.deepEqual((await s.initialAccessTokens.list()).map((t) => t.id), [b.id, a.id]);
      await rejectsWith(s.initialAccessTokens.create({ ...iat(), hash: a.hash }), 'conflict');
    });

    it('initial access tokens: consume spends uses, refuses expired, revoked and exhausted tokens', async () => {
      const s = get();
      const two = iat({ usesLeft: 2, expiresAt: T0 + 100 });
      const unlimited = iat();
      await s.initialAccessTokens.create(two);
      await s.initialAccessTokens.create(unlimited);
      const first = await s.initialAccessTokens.consume(two.hash, T0 + 1);
      assert.equal(first.outcome, 'consumed');
      assert.deepEqual(first.outcome === 'consumed' && [first.token.usesLeft, first.token.lastUsedAt], [1, T0 + 1]);
      assert.equal((await s.initialAccessTokens.consume(two.hash, T0 + 100)).outcome, 'unusable', 'expired at its expiry time');
      assert.equal((await s.initialAccessTokens.consume(two.hash, T0 + 2)).outcome, 'consumed');
      const spent = await s.initialAccessTokens.consume(two.hash, T0 + 3);
      assert.equal(spent.outcome, 'unusable');
      assert.equal(spent.outcome === 'unusable' && spent.token.usesLeft, 0);
      assert.equal((await s.initialAccessTokens.consume('unknown', T0)).outcome, 'not_found');
      for (let i = 0; i < 3; i++) assert.equal((await s.initialAccessTokens.consume(unlimited.hash, T0 + i)).outcome, 'consumed');
      assert.equal((await s.initialAccessTokens.byHash(unlimited.hash))?.usesLeft, null);
      assert.equal(await s.initialAccessTokens.revoke(unlimited.id, T0 + 5), true);
      assert.equal(await s.initialAccessTokens.revoke(unlimited.id, T0 + 6), false, 'already revoked');
      assert.equal((await s.initialAccessTokens.byId(unlimited.id))?.revokedAt, T0 + 5);
      assert.equal((await s.initialAccessTokens.consume(unlimited.hash, T0 + 7)).outcome, 'unusable');
    });

    it('initial access tokens: of concurrent registrations on the last use exactly one wins', async () => {
      const s = get();
      const one = iat({ usesLeft: 1 });
      await s.initialAccessTokens.create(one);
      const outcomes = await Promise.all(Array.from({ length: 8 }, () => s.initialAccessTokens.consume(one.hash, T0)));
      assert.equal(outcomes.filter((o) => o.outcome === 'consumed').length, 1);
    });

    it('registration policies: put creates or replaces (keeping createdAt), list by name, delete; writes move the change version', async () => {
      const s = get();
      let v = await s.changes.version();
      await s.registrationPolicies.put({ name: 'web', description: 'web apps', spec: { applicationTypes: ['web'], scopes: ['a', 'b'] }, createdAt: T0, updatedAt: T0 });
      assert.ok((await s.changes.version()) > v);
      await s.registrationPolicies.put({ name: 'Agents', description: null, spec: {}, createdAt: T0, updatedAt: T0 });
      await s.registrationPolicies.put({ name: 'web', description: null, spec: { grantTypes: ['authorization_code'] }, createdAt: T0 + 5, updatedAt: T0 + 5 });
      assert.deepEqual(await s.registrationPolicies.byName('web'), { name: 'web', description: null, spec: { grantTypes: ['authorization_code'] }, createdAt: T0, updatedAt: T0 + 5 });
      assert.deepEqual((await s.registrationPolicies.list()).map((p) => p.name), ['Agents', 'web'], 'byte order');
      v = await s.changes.version();
      assert.equal(await s.registrationPolicies.delete('web'), true);
      assert.ok((await s.changes.version()) > v);
      assert.equal(await s.registrationPolicies.delete('web'), false);
      assert.equal(await s.registrationPolicies.byName('web'), undefined);
    });

    it('exchange policies (RFC 8693): put creates or replaces (keeping createdAt), list by client id, delete; writes move the change version', async () => {
      const s = get();
      const spec = { subjectApplications: ['*'], identityProviders: ['corp'], idTokens: true, resources: ['https://a.example.test'], scopes: ['x', 'y'], impersonation: false };
      let v = await s.changes.version();
      await s.exchangePolicies.put({ clientId: 'c-web', spec, createdAt: T0, updatedAt: T0 });
      assert.ok((await s.changes.version()) > v);
      await s.exchangePolicies.put({ clientId: 'C-agent', spec: { ...spec, identityProviders: [] }, createdAt: T0, updatedAt: T0 });
      await s.exchangePolicies.put({ clientId: 'c-web', spec: { ...spec, impersonation: true }, createdAt: T0 + 5, updatedAt: T0 + 5 });
      assert.deepEqual(await s.exchangePolicies.byClientId('c-web'), { clientId: 'c-web', spec: { ...spec, impersonation: true }, createdAt: T0, updatedAt: T0 + 5 });
      assert.deepEqual((await s.exchangePolicies.list()).map((p) => p.clientId), ['C-agent', 'c-web'], 'byte order');
      v = await s.changes.version();
      assert.equal(await s.exchangePolicies.delete('c-web'), true);
      assert.ok((await s.changes.version()) > v);
      assert.equal(await s.exchangePolicies.delete('c-web'), false);
      assert.equal(await s.exchangePolicies.byClientId('c-web'), undefined);
      await s.exchangePolicies.delete('C-agent');
    });

    it('registrations: create, find by client id and by source + fingerprint (unique), update, list, delete', async () => {
      const s = get();
      const a = reg({ createdAt: T0 + 2 });
      const b = reg({ createdAt: T0 + 1, source: 'iat:iat_1', policy: 'agents' });
      await s.registrations.create(a);
      await s.registrations.create(b);
      assert.deepEqual(await s.registrations.byClientId(a.clientId), a);
      assert.deepEqual(await s.registrations.bySourceAndFingerprint(b.source, b.fingerprint), b);
      assert.equal(await s.registrations.bySourceAndFingerprint(a.source, b.fingerprint), undefined, 'another source');
      await rejectsWith(s.registrations.create(reg({ source: a.source, fingerprint: a.fingerprint })), 'conflict');
      await rejectsWith(s.registrations.create({ ...reg(), clientId: a.clientId }), 'conflict');
      assert.deepEqual((await s.registrations.list()).map((r) => r.clientId), [b.clientId, a.clientId]);
      const changed = { ...a, tokenHash: 'new-hash', metadata: '{"client_name":"y"}', updatedAt: T0 + 9 };
      await s.registrations.update(changed);
      assert.deepEqual(await s.registrations.byClientId(a.clientId), changed);
      await rejectsWith(s.registrations.update(reg()), 'not_found');
      assert.equal(await s.registrations.delete(a.clientId), true);
      assert.equal(await s.registrations.delete(a.clientId), false);
      assert.equal(await s.registrations.byClientId(a.clientId), undefined);
    });

    it('registrations: touch moves last use forward only; unusedBefore finds the unused by last use or creation', async () => {
      const s = get();
      const used = reg({ createdAt: T0 });
      const never = reg({ createdAt: T0 + 1 });
      const fresh = reg({ createdAt: T0 + 50 });
      for (const r of [used, never, fresh]) await s.registrations.create(r);
      assert.equal(await s.registrations.touch(used.clientId, T0 + 40), true);
      assert.equal(await s.registrations.touch(used.clientId, T0 + 30), true);
      assert.equal((await s.registrations.byClientId(used.clientId))?.lastUsedAt, T0 + 40, 'never back');
      assert.equal(await s.registrations.touch('nobody', T0), false);
      assert.deepEqual((await s.registrations.unusedBefore(T0 + 20)).map((r) => r.clientId), [never.clientId]);
      assert.deepEqual((await s.registrations.unusedBefore(T0 + 45)).map((r) => r.clientId), [used.clientId, never.clientId]);
      assert.deepEqual((await s.registrations.unusedBefore(T0 + 100, 1)).map((r) => r.clientId), [used.clientId]);
      assert.deepEqual(await s.registrations.unusedBefore(T0 + 100, -1), []);
    });
  });

  describe('pushed authorization requests (RFC 9126)', () => {
    const makePushed = (over: Partial<PushedRequest> = {}): PushedRequest => ({
      hash: `par-${uid()}`,
      applicationId: uid(),
      parameters: 'response_type=code&client_id=c&resource=https%3A%2F%2Fa.example&resource=https%3A%2F%2Fb.example&state=%C3%A9',
      createdAt: T0,
      expiresAt: T0 + 60_000,
      usedAt: null,
      ...over,
    });

    it('round trips a pushed request and consumes it exactly once', async () => {
      const s = get();
      const p = makePushed();
      await s.pushedRequests.insert(p);
      await rejectsWith(s.pushedRequests.insert({ ...makePushed(), hash: p.hash }), 'conflict');
      assert.deepEqual(await s.pushedRequests.consume(`par-${uid()}`, T0), { outcome: 'not_found' });
      assert.deepEqual(await s.pushedRequests.consume(p.hash, T0 + 5), { outcome: 'consumed', request: { ...p, usedAt: T0 + 5 } });
      assert.deepEqual(await s.pushedRequests.consume(p.hash, T0 + 6), { outcome: 'used', request: { ...p, usedAt: T0 + 5 } }, 'the first use time stays');
      // Expiry is the caller's to check: an expired unused one is still consumed.
      const expired = makePushed({ expiresAt: T0 - 1 });
      await s.pushedRequests.insert(expired);
      assert.equal((await s.pushedRequests.consume(expired.hash, T0)).outcome, 'consumed');
    });

    it('lets exactly one of 20 concurrent consumers win', async () => {
      const s = get();
      const p = makePushed();
      await s.pushedRequests.insert(p);
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => s.pushedRequests.consume(p.hash, T0 + i)));
      assert.equal(results.filter((r) => r.outcome === 'consumed').length, 1);
      assert.equal(results.filter((r) => r.outcome === 'used').length, 19);
    });

    it('deletes the expired ones, used or not, and keeps the others', async () => {
      const s = get();
      const old = makePushed({ expiresAt: T0 - 10 });
      const oldUsed = makePushed({ expiresAt: T0 - 10 });
      const live = makePushed({ expiresAt: T0 + 10 });
      for (const p of [old, oldUsed, live]) await s.pushedRequests.insert(p);
      await s.pushedRequests.consume(oldUsed.hash, T0 - 20);
      const before = await s.changes.version();
      assert.equal(await s.pushedRequests.deleteExpired(T0), 2);
      assert.equal(await s.changes.version(), before, 'no change version bump');
      assert.deepEqual(await s.pushedRequests.consume(old.hash, T0), { outcome: 'not_found' });
      assert.equal((await s.pushedRequests.consume(live.hash, T0)).outcome, 'consumed');
      assert.equal(await s.pushedRequests.deleteExpired(T0), 0);
    });
  });

  describe('identity providers', () => {
    it('round trips every field, by id, by name and in name order', async () => {
      const s = get();
      const a = makeIdentityProvider({ name: `b-${uid()}` });
      const b = makeIdentityProvider({ name: `a-${uid()}`, metadataUrl: null, jwksUri: 'https://login.example.test/keys', userClaim: 'sub', userField: 'id', active: false, updatedAt: T0 + 9 });
      await s.identityProviders.create(a);
      await s.identityProviders.create(b);
      assert.deepEqual(await s.identityProviders.byId(a.id), a);
      assert.deepEqual(await s.identityProviders.byName(b.name), b);
      assert.equal(await s.identityProviders.byId(uid()), undefined);
      assert.equal(await s.identityProviders.byName(uid()), undefined);
      assert.deepEqual(await s.identityProviders.list(), [b, a]);
    });

    it('keeps id, name and issuer unique', async () => {
      const s = get();
      const a = makeIdentityProvider();
      const b = makeIdentityProvider();
      await s.identityProviders.create(a);
      await s.identityProviders.create(b);
      await rejectsWith(s.identityProviders.create(makeIdentityProvider({ id: a.id })), 'conflict');
      await rejectsWith(s.identityProviders.create(makeIdentityProvider({ name: a.name })), 'conflict');
      await rejectsWith(s.identityProviders.create(makeIdentityProvider({ issuer: a.issuer })), 'conflict');
      await rejectsWith(s.identityProviders.update({ ...b, name: a.name }), 'conflict');
      await rejectsWith(s.identityProviders.update({ ...b, issuer: a.issuer }), 'conflict');
      assert.deepEqual(await s.identityProviders.byId(b.id), b);
      assert.equal((await s.identityProviders.list()).length, 2);
    });

    it('updates and deletes; a missing one is not_found or false', async () => {
      const s = get();
      const a = makeIdentityProvider();
      await s.identityProviders.create(a);
      const changed: IdentityProvider = { ...a, name: `renamed-${uid()}`, issuer: 'https://other.example.test', audience: 'x', active: false, metadataUrl: null, jwksUri: 'https://other.example.test/jwks', updatedAt: T0 + 3 };
      await s.identityProviders.update(changed);
      assert.deepEqual(await s.identityProviders.byId(a.id), changed);
      assert.equal(await s.identityProviders.byName(a.name), undefined);
      await rejectsWith(s.identityProviders.update(makeIdentityProvider()), 'not_found');
      assert.equal(await s.identityProviders.delete(uid()), false);
      assert.equal(await s.identityProviders.delete(a.id), true);
      assert.equal(await s.identityProviders.byId(a.id), undefined);
      assert.equal(await s.identityProviders.delete(a.id), false);
      // The name and issuer are free again.
      await s.identityProviders.create({ ...changed, id: uid() });
    });
  });

  describe('change version (keys, codes, one-time ids, providers)', () => {
    it('grows on key and provider changes, not on codes or one-time ids', async () => {
      const s = get();
      let last = await s.changes.version();
      const expectBump = async (what: string, op: () => Promise<unknown>): Promise<void> => {
        await op();
        const v = await s.changes.version();
        assert.ok(v > last, `version should grow after ${what} (${last} -> ${v})`);
        last = v;
      };
      const expectSame = async (what: string, op: () => Promise<unknown>): Promise<void> => {
        await op();
        assert.equal(await s.changes.version(), last, `version should not change after ${what}`);
      };
      const idp = makeIdentityProvider();
      const code = makeCode({ expiresAt: T0 - 1 });
      await expectBump('keys.rotate (first key)', () => s.keys.rotate(makeSigningKey(), { retiresAt: T0, publishUntil: T0 + 1 }));
      await expectBump('keys.rotate', () => s.keys.rotate(makeSigningKey(), { retiresAt: T0 + 1, publishUntil: T0 + 2 }));
      await expectSame('keys.deleteUnpublished (nothing)', () => s.keys.deleteUnpublished(T0));
      await expectBump('keys.deleteUnpublished', () => s.keys.deleteUnpublished(T0 + 3));
      await expectBump('identityProviders.create', () => s.identityProviders.create(idp));
      await expectBump('identityProviders.update', () => s.identityProviders.update({ ...idp, active: false }));
      await expectSame('identityProviders.delete (missing)', () => s.identityProviders.delete(uid()));
      await expectBump('identityProviders.delete', () => s.identityProviders.delete(idp.id));
      await expectSame('codes.insert', () => s.codes.insert(code));
      await expectSame('codes.consume', () => s.codes.consume(code.hash, T0));
      await expectSame('codes.consume (used)', () => s.codes.consume(code.hash, T0));
      await expectSame('codes.deleteExpired', () => s.codes.deleteExpired(T0));
      await expectSame('replay.remember', () => s.replay.remember(uid(), T0 - 1, T0 - 2));
      await expectSame('replay.deleteExpired', () => s.replay.deleteExpired(T0));
    });
  });
}

export function makeAuditEntry(over: Partial<AuditEntry> = {}): AuditEntry {
  const at = over.at ?? T0;
  return {
    id: `${at.toString(16).padStart(12, '0')}${randomUUID().replaceAll('-', '').slice(0, 20)}`,
    at,
    actor: 'cli:tester',
    action: 'application.update',
    target: 'client-1',
    before: JSON.stringify({ name: 'old' }),
    after: JSON.stringify({ name: 'new' }),
    ...over,
  };
}

/** The audit log and the per-minute activity counters (issue 6). */
function describeAuditAndActivity(get: () => Storage): void {
  describe('audit log', () => {
    it('records, lists newest first with filters and limit, deletes by age, and does not bump the change version', async () => {
      const s = get();
      const v0 = await s.changes.version();
      const a = makeAuditEntry({ at: T0, target: 'client-a', action: 'application.create', before: null });
      const b = makeAuditEntry({ at: T0 + 1000, target: 'client-a', action: 'application.update' });
      const c = makeAuditEntry({ at: T0 + 2000, target: 'prop.x', action: 'property.set', actor: 'system', after: null });
      for (const e of [b, a, c]) await s.audit.record(e);
      assert.equal(await s.changes.version(), v0, 'audit writes do not bump the change version');
      assert.deepEqual(await s.audit.list({}), [c, b, a]);
      assert.deepEqual(await s.audit.list({ target: 'client-a' }), [b, a]);
      assert.deepEqual(await s.audit.list({ action: 'property.set' }), [c]);
      assert.deepEqual(await s.audit.list({ since: T0 + 1000 }), [c, b]);
      assert.deepEqual(await s.audit.list({ limit: 1 }), [c]);
      assert.deepEqual(await s.audit.list({ target: 'client-a', action: 'application.create', since: T0 }), [a]);
      assert.deepEqual(await s.audit.exportAll(), [a, b, c]);
      assert.deepEqual(await s.audit.exportAll(a.id, 1), [b]);
      await rejectsWith(s.audit.record(a), 'conflict');
      assert.equal(await s.audit.deleteOlderThan(T0 + 1500), 2);
      assert.deepEqual(await s.audit.list({}), [c]);
      assert.equal(await s.audit.deleteOlderThan(T0), 0);
    });
  });

  describe('activity counters', () => {
    it('adds per bucket and metric, lists a series ascending from since, deletes by age', async () => {
      const s = get();
      const v0 = await s.changes.version();
      const m0 = T0 - (T0 % 60_000);
      await s.activity.add([
        { bucket: m0 + 60_000, metric: 'token.issued', count: 2 },
        { bucket: m0, metric: 'token.issued', count: 3 },
        { bucket: m0, metric: 'api.call', count: 7 },
      ]);
      await s.activity.add([
        { bucket: m0, metric: 'token.issued', count: 4 },
        { bucket: m0, metric: 'token.issued', count: 1 },
      ]);
      await s.activity.add([]);
      assert.equal(await s.changes.version(), v0, 'activity writes do not bump the change version');
      assert.deepEqual(await s.activity.series('token.issued', 0), [
        { bucket: m0, count: 8 },
        { bucket: m0 + 60_000, count: 2 },
      ]);
      assert.deepEqual(await s.activity.series('token.issued', m0 + 1), [{ bucket: m0 + 60_000, count: 2 }]);
      assert.deepEqual(await s.activity.series('api.call', 0), [{ bucket: m0, count: 7 }]);
      assert.deepEqual(await s.activity.series('api.refused', 0), []);
      assert.equal(await s.activity.deleteOlderThan(m0 + 60_000), 2);
      assert.deepEqual(await s.activity.series('token.issued', 0), [{ bucket: m0 + 60_000, count: 2 }]);
    });

    it('sums concurrent adds to the same buckets', async () => {
      const s = get();
      const m0 = T0 - (T0 % 60_000);
      const adds = Array.from({ length: 20 }, (_, i) =>
        s.activity.add([
          { bucket: m0, metric: 'api.call', count: 1 },
          { bucket: m0 + 60_000, metric: 'api.call', count: i },
          { bucket: m0, metric: 'token.refused', count: 2 },
        ]),
      );
      await Promise.all(adds);
      assert.deepEqual(await s.activity.series('api.call', 0), [
        { bucket: m0, count: 20 },
        { bucket: m0 + 60_000, count: 190 },
      ]);
      assert.deepEqual(await s.activity.series('token.refused', 0), [{ bucket: m0, count: 40 }]);
    });
  });
}

export function makeUsage(over: Partial<UsageRow> = {}): UsageRow {
  const day = T0 - (T0 % 86_400_000);
  return { clientId: 'client-a', day, scope: '', tokens: 0, calls: 0, refusals: 0, lastUseAt: 0, ...over };
}

/** Per-application usage by day (issue 14): additive upserts, the later last use, the order, the first day, deletes by age. */
function describeUsage(get: () => Storage): void {
  describe('application usage', () => {
    const D = 86_400_000;
    const d0 = T0 - (T0 % D);
    it('adds per client, day and scope, keeps the later last use, lists in order from since, and does not bump the change version', async () => {
      const s = get();
      const v0 = await s.changes.version();
      assert.equal(await s.usage.firstDay(), undefined);
      await s.usage.add([
        makeUsage({ clientId: 'client-b', day: d0, tokens: 1, lastUseAt: d0 + 5 }),
        makeUsage({ day: d0 + D, calls: 2, lastUseAt: d0 + D + 10 }),
        makeUsage({ day: d0, tokens: 3, calls: 4, refusals: 1, lastUseAt: d0 + 100 }),
        makeUsage({ day: d0, scope: 'orders.read', tokens: 3, lastUseAt: d0 + 100 }),
        // The same key twice in one add: both count.
        makeUsage({ day: d0, scope: 'orders.read', calls: 1, lastUseAt: d0 + 50 }),
      ]);
      await s.usage.add([makeUsage({ day: d0, tokens: 1, refusals: 2, lastUseAt: d0 + 40 }), makeUsage({ day: d0, scope: 'Orders.write', calls: 1, lastUseAt: d0 + 60 })]);
      await s.usage.add([]);
      assert.equal(await s.changes.version(), v0, 'usage writes do not bump the change version');
      const a0 = { clientId: 'client-a', day: d0 };
      assert.deepEqual(await s.usage.list({ since: 0 }), [
        { ...a0, scope: '', tokens: 4, calls: 4, refusals: 3, lastUseAt: d0 + 100 },
        { ...a0, scope: 'Orders.write', tokens: 0, calls: 1, refusals: 0, lastUseAt: d0 + 60 },
        { ...a0, scope: 'orders.read', tokens: 3, calls: 1, refusals: 0, lastUseAt: d0 + 100 },
        { clientId: 'client-a', day: d0 + D, scope: '', tokens: 0, calls: 2, refusals: 0, lastUseAt: d0 + D + 10 },
        { clientId: 'client-b', day: d0, scope: '', tokens: 1, calls: 0, refusals: 0, lastUseAt: d0 + 5 },
      ]);
      assert.deepEqual((await s.usage.list({ since: d0 + 1 })).map((r) => [r.clientId, r.day]), [['client-a', d0 + D]]);
      assert.deepEqual((await s.usage.list({ since: 0, clientId: 'client-b' })).map((r) => r.tokens), [1]);
      assert.deepEqual(await s.usage.list({ since: 0, clientId: 'client-c' }), []);
      assert.equal(await s.usage.firstDay(), d0);
      assert.equal(await s.usage.deleteOlderThan(d0 + D), 4);
      assert.deepEqual((await s.usage.list({ since: 0 })).map((r) => r.day), [d0 + D]);
      assert.equal(await s.usage.firstDay(), d0 + D);
      assert.equal(await s.usage.deleteOlderThan(d0), 0);
    });

    it('sums concurrent adds to the same rows (every instance adds)', async () => {
      const s = get();
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          s.usage.add([makeUsage({ day: d0, calls: 1, lastUseAt: d0 + i }), makeUsage({ day: d0, scope: 'x', tokens: 2, lastUseAt: d0 + 19 - i }), makeUsage({ clientId: 'client-b', day: d0, refusals: i })]),
        ),
      );
      assert.deepEqual(await s.usage.list({ since: 0 }), [
        makeUsage({ day: d0, calls: 20, lastUseAt: d0 + 19 }),
        makeUsage({ day: d0, scope: 'x', tokens: 40, lastUseAt: d0 + 19 }),
        makeUsage({ clientId: 'client-b', day: d0, refusals: 190 }),
      ]);
    });
  });
}

export function makeSession(over: Partial<SessionRecord> = {}): SessionRecord {
  return { id: `s-${uid()}`, kind: 'signin', userId: uid(), createdAt: T0, lastSeenAt: T0, expiresAt: T0 + 3_600_000, parentId: null, revokedAt: null, ...over };
}

function describeSessionsAttemptsAndRevocation(get: () => Storage): void {
  describe('sessions', () => {
    it('round trips, touches forward only, revokes one and all of a user, lists live ones newest first', async () => {
      const s = get();
      const v0 = await s.changes.version();
      const user = uid();
      const a = makeSession({ userId: user });
      const b = makeSession({ userId: user, kind: 'console', parentId: a.id, createdAt: T0 + 10, lastSeenAt: T0 + 10 });
      const expired = makeSession({ userId: user, expiresAt: T0 + 5 });
      const other = makeSession();
      for (const x of [a, b, expired, other]) await s.sessions.create(x);
      await rejectsWith(s.sessions.create(a), 'conflict');
      assert.deepEqual(await s.sessions.byId(b.id), b);
      assert.equal(await s.sessions.byId(uid()), undefined);
      assert.equal(await s.sessions.touch(a.id, T0 + 100), true);
      assert.equal(await s.sessions.touch(a.id, T0 + 50), true);
      assert.equal((await s.sessions.byId(a.id))?.lastSeenAt, T0 + 100, 'lastSeenAt never moves back');
      assert.deepEqual((await s.sessions.listForUser(user, T0 + 20)).map((x) => x.id), [b.id, a.id]);
      assert.equal(await s.sessions.revoke(b.id, T0 + 200), true);
      assert.equal(await s.sessions.revoke(b.id, T0 + 201), false);
      assert.equal(await s.sessions.touch(b.id, T0 + 300), false);
      assert.equal((await s.sessions.byId(b.id))?.revokedAt, T0 + 200);
      // expired is past its end at T0 + 20: not counted.
      assert.equal(await s.sessions.revokeForUser(user, T0 + 20), 1);
      assert.equal((await s.sessions.byId(a.id))?.revokedAt, T0 + 20);
      assert.equal((await s.sessions.byId(other.id))?.revokedAt, null);
      assert.deepEqual(await s.sessions.listForUser(user, T0 + 20), []);
      assert.equal(await s.changes.version(), v0, 'sessions do not bump the change version');
      // Revoked before T0 + 21 (a) or expired before it (expired): deleted; b (revoked later) and other stay.
      assert.equal(await s.sessions.deleteExpired(T0 + 21), 2);
      assert.deepEqual(await s.sessions.byId(other.id), other);
      assert.equal((await s.sessions.byId(b.id))?.revokedAt, T0 + 200);
    });

    it('notes the applications given an ID token per sid, once each, in the order noted, until their end', async () => {
      const s = get();
      const sid = `sid-${uid()}`;
      const other = `sid-${uid()}`;
      assert.deepEqual(await s.sessions.clientsOf(sid), []);
      await s.sessions.addClient(sid, 'app-b', T0 + 1, T0 + 1_000);
      await s.sessions.addClient(sid, 'app-a', T0 + 2, T0 + 1_000);
      // A second note keeps the first time (and order); another sid is apart.
      await s.sessions.addClient(sid, 'app-b', T0 + 3, T0 + 1_000);
      await s.sessions.addClient(other, 'app-c', T0 + 1, T0 + 10);
      assert.deepEqual(await s.sessions.clientsOf(sid), ['app-b', 'app-a']);
      assert.deepEqual(await s.sessions.clientsOf(other), ['app-c']);
      // Same time: by application id.
      const tie = `sid-${uid()}`;
      await s.sessions.addClient(tie, 'app-z', T0, T0 + 1_000);
      await s.sessions.addClient(tie, 'app-y', T0, T0 + 1_000);
      assert.deepEqual(await s.sessions.clientsOf(tie), ['app-y', 'app-z']);
      await s.sessions.deleteExpired(T0 + 11);
      assert.deepEqual(await s.sessions.clientsOf(other), [], 'past its end: deleted');
      assert.deepEqual(await s.sessions.clientsOf(sid), ['app-b', 'app-a']);
    });
  });

  describe('login attempts', () => {
    const W = 900_000;
    it('counts failures per key within the window, starts over after it, and expires', async () => {
      const s = get();
      const name = `u-${uid()}`;
      const pair: AttemptKey = { kind: 'pair', userName: name, source: '192.0.2.1' };
      const user: AttemptKey = { kind: 'user', userName: name, source: '' };
      const first = await s.attempts.fail([user, pair], T0, W, W);
      assert.deepEqual(first.map((r) => [r.kind, r.failures, r.windowStart, r.lastAt, r.expiresAt]), [
        ['pair', 1, T0, T0, T0 + W],
        ['user', 1, T0, T0, T0 + W],
      ]);
      const second = await s.attempts.fail([pair, user], T0 + 10, W, W);
      assert.deepEqual(second.map((r) => [r.kind, r.failures, r.windowStart, r.lastAt]), [
        ['pair', 2, T0, T0 + 10],
        ['user', 2, T0, T0 + 10],
      ]);
      // Past the window: the count starts over.
      const later = await s.attempts.fail([pair], T0 + W + 1, W, W);
      assert.deepEqual(later.map((r) => [r.failures, r.windowStart]), [[1, T0 + W + 1]]);
      assert.deepEqual((await s.attempts.get([user, pair], T0 + 20)).map((r) => [r.kind, r.failures]), [['pair', 1], ['user', 2]]);
      assert.deepEqual((await s.attempts.get([user], T0 + 10 + W)).map((r) => r.kind), [], 'expired records are not returned');
    });

    it('lets no concurrent failure be lost', async () => {
      const s = get();
      const key: AttemptKey = { kind: 'user', userName: `u-${uid()}`, source: '' };
      await Promise.all(Array.from({ length: 20 }, () => s.attempts.fail([key], T0, W, W)));
      assert.equal((await s.attempts.get([key], T0))[0]?.failures, 20);
    });

    it('a success clears the pair and remembers the source; clear and list serve the administrator', async () => {
      const s = get();
      const name = `u-${uid()}`;
      const pair: AttemptKey = { kind: 'pair', userName: name, source: '198.51.100.7' };
      const user: AttemptKey = { kind: 'user', userName: name, source: '' };
      const known: AttemptKey = { kind: 'known', userName: name, source: '198.51.100.7' };
      await s.attempts.fail([pair, user], T0, W, W);
      await s.attempts.fail([{ kind: 'pair', userName: `other-${uid()}`, source: '203.0.113.9' }], T0 + 5, W, W);
      await s.attempts.succeed(name, '198.51.100.7', T0 + 1, 30 * 86_400_000);
      const after = await s.attempts.get([pair, user, known], T0 + 2);
      assert.deepEqual(after.map((r) => [r.kind, r.failures]), [['known', 0], ['user', 1]]);
      assert.equal(after[0]?.expiresAt, T0 + 1 + 30 * 86_400_000);
      const listed = await s.attempts.list(T0 + 6);
      assert.ok(listed.every((r) => r.kind !== 'known'), 'known sources are not listed as locks');
      assert.deepEqual(listed.filter((r) => r.userName === name).map((r) => r.kind), ['user']);
      assert.ok(listed[0]!.lastAt >= listed[listed.length - 1]!.lastAt, 'most recent first');
      assert.equal((await s.attempts.list(T0 + 6, 1)).length, 1);
      assert.equal(await s.attempts.clear(name), 1);
      assert.deepEqual((await s.attempts.get([user, known], T0 + 2)).map((r) => r.kind), ['known'], 'clear keeps the known sources');
      assert.equal(await s.attempts.deleteExpired(T0 + W + 10), 1);
    });
  });

  describe('revocation by user', () => {
    it('revokes the user\'s own sign-ins family by family, and client-credentials tokens only when asked', async () => {
      const s = get();
      const user = uid();
      const famA = uid();
      const famB = uid();
      const a1 = makeToken({ userId: user, familyId: famA, grantType: 'password' });
      const a2 = makeToken({ userId: user, familyId: famA, grantType: 'password', kind: 'access' });
      // A token of the family acting for nobody (same family, other user id) still goes with it.
      const b1 = makeToken({ userId: user, familyId: famB, grantType: 'authorization_code', kind: 'access' });
      const cc = makeToken({ userId: user, grantType: 'client_credentials', kind: 'access', expiresAt: T0 + 60_000 });
      const ccExpired = makeToken({ userId: user, grantType: 'client_credentials', kind: 'access', expiresAt: T0 + 1 });
      const someoneElse = makeToken({ grantType: 'password' });
      await s.tokens.insert([a1, a2, b1, cc, ccExpired, someoneElse]);
      await s.tokens.consumeRefresh(a1.hash, T0 + 1, [makeToken({ userId: user, familyId: famA, grantType: 'refresh_token' })]);
      const v0 = await s.changes.version();
      assert.deepEqual(await s.tokens.revokeForUser(user, T0 + 10), { tokens: 4, families: 2 });
      assert.ok((await s.changes.version()) > v0, 'a revocation bumps the change version');
      for (const h of [a1.hash, a2.hash, b1.hash]) assert.equal((await s.tokens.byHash(h))?.status, 'revoked');
      assert.equal((await s.tokens.byHash(cc.hash))?.status, 'active');
      assert.equal((await s.tokens.byHash(someoneElse.hash))?.status, 'active');
      assert.deepEqual(await s.tokens.revokeForUser(user, T0 + 20, { includeClientCredentials: true }), { tokens: 1, families: 1 });
      assert.equal((await s.tokens.byHash(cc.hash))?.status, 'revoked');
      assert.equal((await s.tokens.byHash(ccExpired.hash))?.status, 'active', 'expired tokens are left as they are');
      const v1 = await s.changes.version();
      assert.deepEqual(await s.tokens.revokeForUser(user, T0 + 30, { includeClientCredentials: true }), { tokens: 0, families: 0 });
      assert.equal(await s.changes.version(), v1, 'nothing changed: no bump');
    });
  });

  describe('deletes and revocation by application', () => {
    it('deletes users, roles, scopes and applications by key, bumping the change version; a missing one is false', async () => {
      const s = get();
      const user = makeUser();
      const app = makeApp();
      const role = { name: `role-${uid()}`, description: 'Reporting', builtIn: false };
      const scope = { name: `scope-${uid()}`, description: 'Read reports', builtIn: false };
      const keep = makeUser();
      await s.users.create(user);
      await s.users.create(keep);
      await s.applications.create(app);
      await s.roles.create(role);
      await s.scopes.create(scope);
      for (const [what, del, gone] of [
        ['user', () => s.users.delete(user.id), async () => (await s.users.byId(user.id)) === undefined && (await s.users.byName(user.userName)) === undefined],
        ['application', () => s.applications.delete(app.id), async () => (await s.applications.byClientId(app.clientId)) === undefined],
        ['role', () => s.roles.delete(role.name), async () => (await s.roles.byName(role.name)) === undefined],
        ['scope', () => s.scopes.delete(scope.name), async () => (await s.scopes.byName(scope.name)) === undefined],
      ] as const) {
        const v0 = await s.changes.version();
        assert.equal(await del(), true, `${what}: deleted`);
        assert.ok(await gone(), `${what}: gone`);
        assert.ok((await s.changes.version()) > v0, `${what}: a delete bumps the change version`);
        const v1 = await s.changes.version();
        assert.equal(await del(), false, `${what}: a second delete finds nothing`);
        assert.equal(await s.changes.version(), v1, `${what}: nothing deleted, no bump`);
      }
      assert.deepEqual((await s.users.list()).map((u) => u.id), [keep.id], 'only the one user went');
      // The name of a deleted application or user may be taken again.
      await s.users.create(makeUser({ userName: user.userName }));
      await s.applications.create(makeApp({ clientId: app.clientId }));
    });

    it('updates the description of a role or a scope; a missing one is not_found', async () => {
      const s = get();
      const role = { name: `role-${uid()}`, description: 'Old', builtIn: false };
      const scope = { name: `scope-${uid()}`, description: 'Old', builtIn: false };
      await s.roles.create(role);
      await s.scopes.create(scope);
      const v0 = await s.changes.version();
      await s.roles.update({ ...role, description: 'New' });
      await s.scopes.update({ ...scope, description: 'New' });
      assert.deepEqual(await s.roles.byName(role.name), { ...role, description: 'New' });
      assert.deepEqual(await s.scopes.byName(scope.name), { ...scope, description: 'New' });
      assert.ok((await s.changes.version()) > v0, 'an update bumps the change version');
      await rejectsWith(s.roles.update({ ...role, name: `role-${uid()}` }), 'not_found');
      await rejectsWith(s.scopes.update({ ...scope, name: `scope-${uid()}` }), 'not_found');
    });

    it('revokes the unexpired active and rotated tokens of one application, and nothing else', async () => {
      const s = get();
      const appId = uid();
      const fam = uid();
      const refresh = makeToken({ applicationId: appId, familyId: fam, grantType: 'password', expiresAt: T0 + 60_000 });
      const access = makeToken({ applicationId: appId, familyId: fam, grantType: 'password', kind: 'access', expiresAt: T0 + 60_000 });
      const cc = makeToken({ applicationId: appId, grantType: 'client_credentials', kind: 'access', expiresAt: T0 + 60_000 });
      const expired = makeToken({ applicationId: appId, kind: 'access', expiresAt: T0 + 1 });
      const other = makeToken({ expiresAt: T0 + 60_000 });
      await s.tokens.insert([refresh, access, cc, expired, other]);
      const next = makeToken({ applicationId: appId, familyId: fam, grantType: 'refresh_token', expiresAt: T0 + 60_000 });
      await s.tokens.consumeRefresh(refresh.hash, T0 + 1, [next]);
      const v0 = await s.changes.version();
      assert.deepEqual(await s.tokens.revokeForApplication(appId, T0 + 10), { tokens: 4, families: 2 });
      assert.ok((await s.changes.version()) > v0, 'a revocation bumps the change version');
      for (const t of [refresh, access, cc, next]) {
        const got = await s.tokens.byHash(t.hash);
        assert.equal(got?.status, 'revoked');
        assert.equal(got?.revokedAt, T0 + 10);
      }
      assert.equal((await s.tokens.byHash(expired.hash))?.status, 'active', 'expired tokens are left as they are');
      assert.equal((await s.tokens.byHash(other.hash))?.status, 'active');
      const v1 = await s.changes.version();
      assert.deepEqual(await s.tokens.revokeForApplication(appId, T0 + 20), { tokens: 0, families: 0 });
      assert.equal(await s.changes.version(), v1, 'nothing changed: no bump');
    });

    it('revokes the unexpired tokens carrying a scope as a whole word, and nothing else', async () => {
      const s = get();
      const scope = `re%ports_${uid()}`;
      const fam = uid();
      const carrying = makeToken({ familyId: fam, scopes: ['other', scope], expiresAt: T0 + 60_000 });
      const only = makeToken({ scopes: [scope], kind: 'access', expiresAt: T0 + 60_000 });
      const longer = makeToken({ scopes: [`${scope}.write`, `x${scope}`], expiresAt: T0 + 60_000 });
      const wildcardLookalike = makeToken({ scopes: [scope.replace('%', 'X').replace('_', 'Y')], expiresAt: T0 + 60_000 });
      const expired = makeToken({ scopes: [scope], expiresAt: T0 + 1 });
      await s.tokens.insert([carrying, only, longer, wildcardLookalike, expired]);
      const v0 = await s.changes.version();
      assert.deepEqual(await s.tokens.revokeWithScope(scope, T0 + 10), { tokens: 2, families: 2 });
      assert.ok((await s.changes.version()) > v0);
      assert.equal((await s.tokens.byHash(carrying.hash))?.status, 'revoked');
      assert.equal((await s.tokens.byHash(only.hash))?.status, 'revoked');
      for (const t of [longer, wildcardLookalike, expired]) assert.equal((await s.tokens.byHash(t.hash))?.status, 'active');
      assert.deepEqual(await s.tokens.revokeWithScope(scope, T0 + 20), { tokens: 0, families: 0 });
    });
  });

  describe('tokens by key prefix (token handles)', () => {
    it('finds the tokens whose key starts with a prefix, in hash order, whatever their state', async () => {
      const s = get();
      // Keys shaped as stored (core/crypto.ts tokenKey): 12 hex digits of time, '.', the hash.
      const time = Date.now().toString(16).padStart(12, '0');
      const base = `${time}.${uid().replace(/-/g, '').slice(0, 8)}`;
      const a = makeToken({ hash: `${base}Ab_x-${uid()}` });
      const b = makeToken({ hash: `${base}Ab_y-${uid()}`, kind: 'access' });
      const c = makeToken({ hash: `${base}Ac-${uid()}`, expiresAt: T0 - 1 });
      // Lookalikes a LIKE pattern would match ('_' is a wildcard there) and the next key in byte order.
      const lookalike = makeToken({ hash: `${base}AbZx-${uid()}` });
      const next = makeToken({ hash: `${base}Ad-${uid()}` });
      await s.tokens.insert([a, b, c, lookalike, next]);
      await s.tokens.revoke(b.hash, T0 + 1);
      const keys = async (prefix: string, limit?: number) => (await s.tokens.byKeyPrefix(prefix, limit)).map((t) => t.hash);
      assert.deepEqual(await keys(`${base}Ab_`), [a.hash, b.hash].sort());
      assert.deepEqual(await keys(`${base}A`), [a.hash, b.hash, c.hash, lookalike.hash, next.hash].sort());
      assert.deepEqual(await keys(`${base}Ab_x`), [a.hash]);
      assert.deepEqual(await keys(a.hash), [a.hash], 'a whole key is its own prefix');
      assert.deepEqual(await keys(`${base}Ac`), [c.hash], 'expired tokens are found too');
      assert.deepEqual(await keys(`${base}Ab_`, 1), [[a.hash, b.hash].sort()[0]]);
      assert.deepEqual(await keys(`${base}Ae`), []);
      assert.deepEqual(await keys(''), [], 'an empty prefix matches nothing');
      const found = await s.tokens.byKeyPrefix(b.hash);
      assert.deepEqual(found, [{ ...b, status: 'revoked', revokedAt: T0 + 1 }]);
    });
  });

  describe('grouped activity counters and write health', () => {
    it('lists rows by metric prefix from since, by metric then bucket', async () => {
      const s = get();
      const m0 = T0 - (T0 % 60_000);
      await s.activity.add([
        { bucket: m0 + 60_000, metric: 'refusals|token|client_auth.unknown_client|192.0.2.1', count: 3 },
        { bucket: m0, metric: 'refusals|token|client_auth.unknown_client|192.0.2.1', count: 2 },
        { bucket: m0, metric: 'refusals|api now/x|token.unknown|192.0.2.2', count: 5 },
        { bucket: m0, metric: 'refusals}', count: 9 },
        { bucket: m0, metric: 'token.issued', count: 1 },
      ]);
      assert.deepEqual(await s.activity.list('refusals|', m0), [
        { bucket: m0, metric: 'refusals|api now/x|token.unknown|192.0.2.2', count: 5 },
        { bucket: m0, metric: 'refusals|token|client_auth.unknown_client|192.0.2.1', count: 2 },
        { bucket: m0 + 60_000, metric: 'refusals|token|client_auth.unknown_client|192.0.2.1', count: 3 },
      ]);
      assert.deepEqual(await s.activity.list('refusals|', m0 + 1), [{ bucket: m0 + 60_000, metric: 'refusals|token|client_auth.unknown_client|192.0.2.1', count: 3 }]);
    });

    it('reports healthy writes, and a probe write succeeds and leaves nothing behind', async () => {
      const s = get();
      assert.deepEqual(s.writeHealth(), { failing: false });
      assert.deepEqual(await s.probeWrite(), { failing: false });
      assert.deepEqual(await s.probeWrite(), { failing: false });
    });
  });
}

/**
 * The order and `limit` rules of every list (their JSDoc in src/storage/types.ts): ties on the sort
 * key in the documented order, and one `limit` rule. Each test collects every case that answers
 * otherwise, so a failure names all of them at once.
 */
function describeOrderAndLimits(get: () => Storage): void {
  /** Awaits `actual`; a rejection or an answer other than `expected` is noted in `wrong` under `label`. */
  async function expectEach(wrong: string[], label: string, actual: () => Promise<unknown>, expected: unknown): Promise<void> {
    try {
      const value = await actual();
      try {
        assert.deepEqual(value, expected);
      } catch {
        wrong.push(`${label}: got ${Array.isArray(value) && typeof value[0] === 'object' ? `${value.length} rows, not in the expected order` : JSON.stringify(value)}`);
      }
    } catch (error) {
      wrong.push(`${label}: rejected (${error instanceof Error ? error.message : String(error)})`);
    }
  }

  /**
   * The `limit` cases of one list holding `total` rows (more than `defaultLimit`): 0, 1, negative,
   * fractional, not finite, larger than the rows, absent. Each answer is the first `n` rows of the
   * full, ordered list.
   */
  async function checkLimits(wrong: string[], label: string, total: number, defaultLimit: number, list: (limit?: number) => Promise<readonly unknown[]>): Promise<void> {
    const all = await list(total + 10);
    if (all.length !== total) wrong.push(`${label}: limit ${total + 10} (above the ${total} rows) gave ${all.length}`);
    const cases: [number | undefined, number][] = [
      [0, 0],
      [1, 1],
      [3, 3],
      [-1, 0],
      [-1000, 0],
      [2.7, 2],
      [0.5, 0],
      [undefined, defaultLimit],
      [Number.NaN, defaultLimit],
      [Number.POSITIVE_INFINITY, defaultLimit],
      [Number.NEGATIVE_INFINITY, defaultLimit],
      [total, total],
    ];
    for (const [limit, n] of cases) {
      await expectEach(wrong, `${label} limit ${String(limit)} (want ${n} rows)`, async () => {
        const rows = await list(limit);
        return rows.length === n ? rows : `${rows.length} rows`;
      }, all.slice(0, n));
    }
  }

  describe('order and limits', () => {
    it('orders ties on the sort key by the documented tie-break', async () => {
      const s = get();
      const wrong: string[] = [];
      // tokens.list: newest first, then hash ascending.
      const tie = (p: string) => makeToken({ hash: `h-${p}-${uid()}`, issuedAt: T0 + 7 });
      const [ta, tb, tc, td] = [tie('a'), tie('b'), tie('c'), tie('d')];
      const older = makeToken({ hash: `h-0-${uid()}`, issuedAt: T0 + 6 });
      const newer = makeToken({ hash: `h-z-${uid()}`, issuedAt: T0 + 8 });
      await s.tokens.insert([td!, older, tb!, ta!, newer, tc!]);
      await expectEach(wrong, 'tokens.list ties', async () => (await s.tokens.list({})).map((t) => t.hash), [newer, ta!, tb!, tc!, td!, older].map((t) => t.hash));
      await expectEach(wrong, 'tokens.list ties, limit 2', async () => (await s.tokens.list({ limit: 2 })).map((t) => t.hash), [newer.hash, ta!.hash]);

      // refusals.list: newest first, then request id descending.
      const refusal = (p: string, at = T0 + 7) => makeRefusal({ requestId: `${p}-${uid()}`, at });
      const [ra, rb, rc] = [refusal('a'), refusal('b'), refusal('c')];
      const rOld = refusal('z', T0);
      for (const r of [ra!, rOld, rb!, rc!]) await s.refusals.record(r);
      await expectEach(wrong, 'refusals.list ties', async () => (await s.refusals.list({})).map((r) => r.requestId), [rc!, rb!, ra!, rOld].map((r) => r.requestId));

      // audit.list: newest first, then id descending.
      const entry = (p: string) => ({ ...makeAuditEntry({ at: T0 + 7 }), id: `${p}-${uid()}` });
      const [ea, eb, ec] = [entry('a'), entry('b'), entry('c')];
      for (const e of [eb, ea, ec]) await s.audit.record(e);
      await expectEach(wrong, 'audit.list ties', async () => (await s.audit.list({})).map((e) => e.id), [ec, eb, ea].map((e) => e.id));

      // applications.list: by name, then client id.
      const app = (p: string, name = 'same name') => makeApp({ name, clientId: `client-${p}-${uid()}` });
      const [aa, ab, ac] = [app('a'), app('b'), app('c')];
      const aFirst = app('z', 'a name');
      for (const a of [ac!, ab!, aFirst, aa!]) await s.applications.create(a);
      await expectEach(wrong, 'applications.list ties', async () => (await s.applications.list()).map((a) => a.clientId), [aFirst, aa!, ab!, ac!].map((a) => a.clientId));

      // sessions.listForUser: newest first, then id ascending.
      const user = uid();
      const session = (p: string, createdAt = T0 + 7) => makeSession({ id: `s-${p}-${uid()}`, userId: user, createdAt, lastSeenAt: createdAt });
      const [sa, sb, sc] = [session('a'), session('b'), session('c')];
      const sNew = session('0', T0 + 9);
      for (const x of [sc!, sa!, sNew, sb!]) await s.sessions.create(x);
      await expectEach(wrong, 'sessions.listForUser ties', async () => (await s.sessions.listForUser(user, T0)).map((x) => x.id), [sNew, sa!, sb!, sc!].map((x) => x.id));

      // attempts.list: most recent failure first, then kind, user name, source.
      const W = 900_000;
      await s.attempts.fail([{ kind: 'user', userName: 'b', source: '' }, { kind: 'pair', userName: 'b', source: '2' }], T0 + 7, W, W);
      await s.attempts.fail([{ kind: 'pair', userName: 'a', source: '9' }, { kind: 'pair', userName: 'b', source: '1' }, { kind: 'user', userName: 'a', source: '' }], T0 + 7, W, W);
      await s.attempts.fail([{ kind: 'pair', userName: 'z', source: '0' }], T0 + 8, W, W);
      await expectEach(wrong, 'attempts.list ties', async () => (await s.attempts.list(T0)).map((r) => `${r.kind}/${r.userName}/${r.source}`), [
        'pair/z/0', 'pair/a/9', 'pair/b/1', 'pair/b/2', 'user/a/', 'user/b/',
      ]);

      // keys.list: by activation, then kid.
      const key = (p: string, activatesAt = T0 + 7) => makeSigningKey({ kid: `kid-${p}-${uid()}`, activatesAt });
      const [ka, kb, kc] = [key('a'), key('b'), key('c')];
      const kFirst = key('z', T0);
      for (const k of [kc!, ka!, kFirst, kb!]) await s.keys.rotate(k, { retiresAt: T0 + 100, publishUntil: T0 + 200 });
      await expectEach(wrong, 'keys.list ties', async () => (await s.keys.list()).map((k) => k.kid), [kFirst, ka!, kb!, kc!].map((k) => k.kid));
      assert.deepEqual(wrong, []);
    });

    it('orders lists keyed by a name in byte order (upper case before lower case)', async () => {
      const s = get();
      const wrong: string[] = [];
      const given = ['beta', 'Beta', 'alpha', '_x', 'Alpha', '1a', 'alpha-2'];
      const sorted = [...given].sort();
      for (const n of given) {
        await s.users.create(makeUser({ userName: n }));
        await s.roles.create({ name: n, description: '', builtIn: false });
        await s.scopes.create({ name: n, description: '', builtIn: false });
        await s.identityProviders.create(makeIdentityProvider({ name: n }));
        await s.properties.set(`p.${n}`, 'v', T0);
      }
      await expectEach(wrong, 'users.list', async () => (await s.users.list()).map((u) => u.userName), sorted);
      await expectEach(wrong, 'roles.list', async () => (await s.roles.list()).map((r) => r.name), sorted);
      await expectEach(wrong, 'scopes.list', async () => (await s.scopes.list()).map((r) => r.name), sorted);
      await expectEach(wrong, 'identityProviders.list', async () => (await s.identityProviders.list()).map((r) => r.name), sorted);
      await expectEach(wrong, 'properties.list', async () => (await s.properties.list()).map((r) => r.name), sorted.map((n) => `p.${n}`));
      const m0 = T0 - (T0 % 60_000);
      await s.activity.add(given.flatMap((n, i) => [{ bucket: m0 + 60_000 * (i % 3), metric: `m|${n}`, count: 1 }, { bucket: m0 + 60_000 * 3, metric: `m|${n}`, count: 1 }]));
      await expectEach(wrong, 'activity.list', async () => (await s.activity.list('m|', 0)).map((r) => `${r.metric}@${(r.bucket - m0) / 60_000}`),
        sorted.flatMap((n) => [`m|${n}@${given.indexOf(n) % 3}`, `m|${n}@3`]));
      await expectEach(wrong, 'activity.series', async () => (await s.activity.series('m|beta', 0)).map((r) => r.bucket), [m0, m0 + 180_000]);
      assert.deepEqual(wrong, []);
    });

    it('applies one limit rule to every list: floor, at least 0, the default when absent or not finite', async () => {
      const s = get();
      const wrong: string[] = [];
      const total = 103;
      await s.tokens.insert(Array.from({ length: total }, (_, i) => makeToken({ issuedAt: T0 + (i % 10) })));
      await checkLimits(wrong, 'tokens.list', total, 100, (limit) => s.tokens.list(limit === undefined ? {} : { limit }));
      const prefix = `p-${uid()}.`;
      await s.tokens.insert(Array.from({ length: total }, () => makeToken({ hash: `${prefix}${uid()}` })));
      await checkLimits(wrong, 'tokens.byKeyPrefix', total, 100, (limit) => s.tokens.byKeyPrefix(prefix, limit));
      for (let i = 0; i < total; i++) await s.refusals.record(makeRefusal({ at: T0 + (i % 10) }));
      await checkLimits(wrong, 'refusals.list', total, 100, (limit) => s.refusals.list(limit === undefined ? {} : { limit }));
      await Promise.all(Array.from({ length: total }, (_, i) => s.audit.record(makeAuditEntry({ at: T0 + (i % 10) }))));
      await checkLimits(wrong, 'audit.list', total, 100, (limit) => s.audit.list(limit === undefined ? {} : { limit }));
      const keys = Array.from({ length: total }, (_, i): AttemptKey => ({ kind: 'pair', userName: `u-${i % 7}`, source: `192.0.2.${i}` }));
      await s.attempts.fail(keys.slice(0, 50), T0 + 1, 900_000, 900_000);
      await s.attempts.fail(keys.slice(50), T0 + 2, 900_000, 900_000);
      await checkLimits(wrong, 'attempts.list', total, 100, (limit) => s.attempts.list(T0, limit));
      assert.deepEqual(wrong, []);
    });

    it('pages exports by the same limit rule (default 1000)', async () => {
      const s = get();
      const wrong: string[] = [];
      const total = 1003;
      await s.tokens.insert(Array.from({ length: total }, () => makeToken()));
      await checkLimits(wrong, 'tokens.exportAll', total, 1000, (limit) => s.tokens.exportAll(undefined, limit));
      await Promise.all(Array.from({ length: total }, () => s.refusals.record(makeRefusal())));
      await checkLimits(wrong, 'refusals.exportAll', total, 1000, (limit) => s.refusals.exportAll(undefined, limit));
      for (let i = 0; i < total; i += 100) await Promise.all(Array.from({ length: Math.min(100, total - i) }, () => s.audit.record(makeAuditEntry())));
      await checkLimits(wrong, 'audit.exportAll', total, 1000, (limit) => s.audit.exportAll(undefined, limit));
      // After a key, the limit applies to what follows it.
      const all = await s.tokens.exportAll(undefined, total);
      await expectEach(wrong, 'tokens.exportAll after, limit 2.5', () => s.tokens.exportAll(all[0]!.hash, 2.5), all.slice(1, 3));
      await expectEach(wrong, 'tokens.exportAll after, limit -1', () => s.tokens.exportAll(all[0]!.hash, -1), []);
      assert.deepEqual(wrong, []);
    });
  });
}
