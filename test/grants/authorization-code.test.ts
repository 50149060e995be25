import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { randomToken, tokenKey } from '../../src/core/crypto.js';
import type { Application } from '../../src/domain/model.js';
import { authorizationCode } from '../../src/grants/authorization-code.js';
import { createApplication } from '../../src/registry/applications.js';
import { createUser } from '../../src/registry/users.js';
import { grantKit, refused, type GrantKit } from './kit.js';

const REDIRECT = 'https://app.example.com/cb';
const VERIFIER = 'v'.repeat(43);
const CHALLENGE = createHash('sha256').update(VERIFIER, 'ascii').digest('base64url');

async function setup() {
  const kit = grantKit();
  await createUser(kit.registry, { userName: 'alice' });
  const a = await createApplication(kit.registry, { name: 'Web', grantTypes: ['authorization_code', 'refresh_token'], redirectUris: [REDIRECT] });
  const b = await createApplication(kit.registry, { name: 'Other', grantTypes: ['authorization_code'], redirectUris: [REDIRECT] });
  return { kit, app: await kit.app(a.application.clientId), other: await kit.app(b.application.clientId) };
}

/** A code as the authorization endpoint stores it. */
async function code(kit: GrantKit, app: Application, options: { challenge?: string | null; redirectUri?: string | null } = {}): Promise<string> {
  const value = randomToken('lk_ac_');
  const now = kit.clock.now();
  const user = await kit.storage.users.byName('alice');
  await kit.storage.codes.insert({
    hash: tokenKey(value), applicationId: app.id, userId: user?.id ?? '', redirectUri: options.redirectUri === undefined ? REDIRECT : options.redirectUri,
    scopes: [], codeChallenge: options.challenge === undefined ? CHALLENGE : options.challenge, issuedAt: now, expiresAt: now + 60_000, usedAt: null,
  });
  return value;
}

describe('authorization_code grant module (memory storage, no HTTP)', () => {
  it('redeems a code once for tokens of one family (named by the code); a second redemption revokes them', async () => {
    const { kit, app } = await setup();
    const c = await code(kit, app);
    const body = await kit.run(authorizationCode, app, { grant_type: 'authorization_code', code: c, code_verifier: VERIFIER, redirect_uri: REDIRECT });
    assert.match(body.refresh_token ?? '', /^lk_rt_/);
    const tokens = await kit.storage.tokens.list({ activeOnly: true, now: kit.clock.now(), limit: 10 });
    assert.deepEqual([...new Set(tokens.map((t) => t.familyId))], [tokenKey(c)]);
    await refused(kit.run(authorizationCode, app, { code: c, code_verifier: VERIFIER, redirect_uri: REDIRECT }), 'invalid_grant', 'authorization_code.reused');
    assert.equal((await kit.storage.tokens.list({ activeOnly: true, now: kit.clock.now(), limit: 10 })).length, 0);
  });

  it('refuses an unknown code, another client\'s, a wrong or missing verifier, a different redirect URI, an expired code', async () => {
    const { kit, app, other } = await setup();
    await refused(kit.run(authorizationCode, app, { code: 'nothing' }), 'invalid_grant', 'authorization_code.unknown');
    await refused(kit.run(authorizationCode, other, { code: await code(kit, app), code_verifier: VERIFIER, redirect_uri: REDIRECT }), 'invalid_grant', 'authorization_code.wrong_client');
    await refused(kit.run(authorizationCode, app, { code: await code(kit, app), code_verifier: 'w'.repeat(43), redirect_uri: REDIRECT }), 'invalid_grant', 'pkce.verifier_mismatch');
    await refused(kit.run(authorizationCode, app, { code: await code(kit, app), redirect_uri: REDIRECT }), 'invalid_grant', 'pkce.verifier_missing');
    await refused(kit.run(authorizationCode, app, { code: await code(kit, app), code_verifier: 'short' }), 'invalid_request', 'pkce.verifier_malformed');
    await refused(kit.run(authorizationCode, app, { code: await code(kit, app), code_verifier: VERIFIER, redirect_uri: 'https://app.example.com/other' }), 'invalid_grant', 'authorization_code.redirect_uri_mismatch');
    await refused(kit.run(authorizationCode, app, { code: await code(kit, app, { challenge: null }), code_verifier: VERIFIER, redirect_uri: REDIRECT }), 'invalid_grant', 'pkce.verifier_unexpected');
    const late = await code(kit, app);
    kit.clock.advance(61_000);
    await refused(kit.run(authorizationCode, app, { code: late, code_verifier: VERIFIER, redirect_uri: REDIRECT }), 'invalid_grant', 'authorization_code.expired');
  });
});
