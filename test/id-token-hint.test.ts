import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKeyEncryption } from '../src/keys/encryption.js';
import { Keyring } from '../src/keys/keyring.js';
import type { Application } from '../src/domain/model.js';
import { openStorage } from '../src/storage/open.js';
import type { Storage } from '../src/storage/types.js';
import { createIdTokenMinter } from '../src/tokens/id-token.js';
import { IdTokenHintRejected, verifyIdTokenHint } from '../src/tokens/id-token-hint.js';
import { ManualClock } from './helpers/oauth.js';
import { TEST_KEK } from './helpers/server.js';

const ISSUER = 'https://login.example.com';

describe('id_token_hint verification (Core 1.0 §3.1.2.1, RP-Initiated Logout 1.0 §2)', () => {
  let dir: string;
  let storage: Storage;
  let keyring: Keyring;
  const clock = new ManualClock(Date.UTC(2026, 0, 1));
  let mint: ReturnType<typeof createIdTokenMinter>;
  // What the minter reads of an application.
  const app = { clientId: 'wiki', accessTokenLifespan: 1800, idTokenAlg: null } as unknown as Application;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'latchkey-hint-'));
    storage = await openStorage(join(dir, 'hint.db'));
    keyring = new Keyring({ storage, clock, encryption: createKeyEncryption(TEST_KEK) });
    await keyring.ensureKey();
    mint = createIdTokenMinter({ keyring, issuer: () => ISSUER });
  });
  after(async () => {
    await storage.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const rejected = (problem: string) => (error: unknown) => error instanceof IdTokenHintRejected && error.problem === problem;

  it('reads an ID token of this instance, expired or not, with sub, aud and sid', async () => {
    const token = await mint({ application: app, userId: 'u-1', accessToken: 'at', now: clock.now(), sid: 's-1', authTime: clock.now() - 5000 });
    const hint = await verifyIdTokenHint({ keyring, issuer: () => ISSUER }, token, clock.now());
    assert.equal(hint.sub, 'u-1');
    assert.deepEqual(hint.aud, [app.clientId]);
    assert.equal(hint.sid, 's-1');
    // A day later the token has expired; as a hint it still reads.
    const later = await verifyIdTokenHint({ keyring, issuer: () => ISSUER }, token, clock.now() + 86_400_000);
    assert.equal(later.sub, 'u-1');
  });

  it('refuses another issuer, a changed signature, an access-token key, and what is not a JWT', async () => {
    const token = await mint({ application: app, userId: 'u-1', accessToken: 'at', now: clock.now() });
    await assert.rejects(verifyIdTokenHint({ keyring, issuer: () => 'https://other.example.com' }, token, clock.now()), rejected('wrong_issuer'));
    const [h, p, s] = token.split('.') as [string, string, string];
    const flipped = `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`;
    await assert.rejects(verifyIdTokenHint({ keyring, issuer: () => ISSUER }, flipped, clock.now()), rejected('bad_signature'));
    const access = (await keyring.signingKey(clock.now())).sign({ iss: ISSUER, sub: 'u-1', aud: app.clientId, iat: 1 });
    await assert.rejects(verifyIdTokenHint({ keyring, issuer: () => ISSUER }, access, clock.now()), rejected('not_id_token'));
    for (const junk of ['', 'abc', 'a.b.c', 'x'.repeat(9000)]) await assert.rejects(verifyIdTokenHint({ keyring, issuer: () => ISSUER }, junk, clock.now()), rejected('malformed'));
    const unknown = `${Buffer.from(JSON.stringify({ alg: 'RS256', kid: 'nope' })).toString('base64url')}.${p}.${s}`;
    await assert.rejects(verifyIdTokenHint({ keyring, issuer: () => ISSUER }, unknown, clock.now()), rejected('unknown_key'));
  });
});
