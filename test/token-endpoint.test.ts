import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { hashSecret } from '../src/core/crypto.js';
import { CLIENT_AUTH_FAILED } from '../src/errors/errors.js';
import { updateApplication } from '../src/registry/applications.js';
import {
  assertOAuthError, assertRefusal, basicHeader, ManualClock, percentEncodeAll, refreshCache, registryDeps, storedTokenKey, tokenRequest, type TokenResponse,
} from './helpers/oauth.js';
import { buildFixture } from './helpers/fixture.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ALICE_PW = 'alice-password-1';

type App = { clientId: string; secret: string };

async function setup(server: TestServer, clock?: ManualClock): Promise<{ cc: App; pw: App }> {
  const scopes = ['export.read', 'export.write'];
  const { apps } = await buildFixture(
    server,
    {
      scopes: ['export.read', 'export.write', 'admin.all'],
      users: [{ userName: 'svc-integration', roles: ['itil'] }, { userName: 'alice', password: ALICE_PW }],
      properties: { [CC]: 'true' },
      apps: {
        cc: { name: 'Nightly export', grantTypes: ['client_credentials'], appUser: 'svc-integration', scopes },
        pw: { name: 'Portal', grantTypes: ['password'], scopes },
      },
    },
    clock,
  );
  const { cc, pw } = apps;
  return {
    cc: { clientId: cc.clientId, secret: cc.secret },
    pw: { clientId: pw.clientId, secret: pw.secret },
  };
}

function assertSuccess(res: TokenResponse, scope: string, withRefresh: boolean): void {
  assert.equal(res.status, 200, res.text);
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(res.headers.get('pragma'), 'no-cache');
  assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
  assert.match(res.requestId, UUID);
  const keys = ['access_token', 'expires_in', 'scope', 'token_type', ...(withRefresh ? ['refresh_token'] : [])].sort();
  assert.deepEqual(Object.keys(res.json ?? {}).sort(), keys);
  assert.equal(res.json?.token_type, 'Bearer');
  assert.equal(res.json?.expires_in, 1800);
  assert.equal(res.json?.scope, scope);
  assert.match(String(res.json?.access_token), /^lk_at_[A-Za-z0-9_-]{43,}$/);
  if (withRefresh) assert.match(String(res.json?.refresh_token), /^lk_rt_[A-Za-z0-9_-]{43,}$/);
}

describe('token endpoint over HTTP', () => {
  let server: TestServer;
  let cc: App;
  let pw: App;
  const ccForm = { grant_type: 'client_credentials' };
  const password = (extra: Record<string, string> = {}) => ({ form: { grant_type: 'password', username: 'alice', password: ALICE_PW, ...extra }, basic: [pw.clientId, pw.secret] as const });
  const refresh = (token: string, extra: Record<string, string> = {}) => ({ form: { grant_type: 'refresh_token', refresh_token: token, ...extra }, basic: [pw.clientId, pw.secret] as const });

  before(async () => {
    server = await startTestServer();
    ({ cc, pw } = await setup(server));
  });
  after(async () => server.close());

  it('issues a client-credentials token: 200, no-store, Bearer, 1800 s, the app scopes, no refresh token', async () => {
    for (const path of ['/oauth_token.do', '/oauth/token']) {
      const res = await tokenRequest(server.url, { path, form: ccForm, basic: [cc.clientId, cc.secret] });
      assertSuccess(res, 'export.read export.write', false);
    }
  });

  it('answers every request of a burst on its own connection, also when one client leaves before its answer', { timeout: 20_000 }, async () => {
    // The raw path writes the answers of one event-loop turn together (raw-token.ts AnswerQueue):
    // each must still reach its own socket, and a socket gone meanwhile must not stop the others.
    const { hostname, port } = new URL(server.url);
    const body = 'grant_type=client_credentials';
    const request = `POST /oauth_token.do HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: ${basicHeader(cc.clientId, cc.secret)}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const sockets: Socket[] = await Promise.all(Array.from({ length: 24 }, () => new Promise<Socket>((resolve, reject) => {
      const s = connect(Number(port), hostname, () => resolve(s));
      s.once('error', reject);
    })));
    const answers = sockets.map((s, i) => new Promise<string>((resolve) => {
      let text = '';
      s.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        const head = text.indexOf('\r\n\r\n');
        const length = /content-length: (\d+)/i.exec(text)?.[1];
        if (head !== -1 && length !== undefined && text.length >= head + 4 + Number(length)) resolve(text);
      });
      s.on('close', () => resolve(i === 5 ? 'left' : text));
      s.on('error', () => undefined);
    }));
    // All written in one turn, so the server reads them together; client 5 leaves at once.
    for (const s of sockets) s.write(request);
    sockets[5]!.destroy();
    const texts = await Promise.all(answers);
    const tokens = new Set<string>();
    texts.forEach((text, i) => {
      if (i === 5) return;
      assert.match(text, /^HTTP\/1\.1 200 /, `client ${i}: ${text.slice(0, 200)}`);
      tokens.add(JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)).access_token as string);
    });
    assert.equal(tokens.size, 23, 'each client got a token of its own');
    for (const s of sockets) s.destroy();
    assertSuccess(await tokenRequest(server.url, { form: ccForm, basic: [cc.clientId, cc.secret] }), 'export.read export.write', false);
  });

  it('issues a password-grant token with a refresh token and the requested scope', async () => {
    assertSuccess(await tokenRequest(server.url, password({ scope: 'export.read' })), 'export.read', true);
  });

  it('decodes client_secret_basic credentials that are percent-encoded (RFC 6749 2.3.1)', async () => {
    assertSuccess(await tokenRequest(server.url, { form: ccForm, headers: { authorization: basicHeader(cc.clientId, cc.secret, percentEncodeAll) } }), 'export.read export.write', false);
    assertSuccess(await tokenRequest(server.url, { form: ccForm, headers: { authorization: basicHeader(cc.clientId, cc.secret, encodeURIComponent) } }), 'export.read export.write', false);
    // Lower-case scheme and base64 without padding issues: the scheme is case-insensitive (RFC 7617).
    const lower = basicHeader(cc.clientId, cc.secret).replace(/^Basic/, 'basic');
    assertSuccess(await tokenRequest(server.url, { form: ccForm, headers: { authorization: lower } }), 'export.read export.write', false);
  });

  it('decodes a secret with reserved characters sent form-encoded by Basic and by post', async () => {
    // Generated secrets are base64url; a secret with ':', '+', '%', space and non-ASCII is set through storage.
    const special = 'p@ss:w+rd %/é~';
    const app = (await server.latchkey.storage.applications.byClientId(cc.clientId))!;
    await server.latchkey.storage.applications.update({ ...app, secretHash: hashSecret(special) });
    await refreshCache(server);
    try {
      assertSuccess(await tokenRequest(server.url, { form: ccForm, basic: [cc.clientId, special] }), 'export.read export.write', false);
      assertSuccess(await tokenRequest(server.url, { form: { ...ccForm, client_id: cc.clientId, client_secret: special } }), 'export.read export.write', false);
      // Not form-encoded: '+' would mean a space and '% ' is no escape, so the header is refused.
      const raw = await tokenRequest(server.url, { form: ccForm, headers: { authorization: basicHeader(cc.clientId, special, (s) => s) } });
      assertOAuthError(raw, 401, 'invalid_client');
      await assertRefusal(server.latchkey.storage, raw, 'client_auth.malformed_header');
    } finally {
      await server.latchkey.storage.applications.update(app);
      await refreshCache(server);
    }
  });

  it('accepts client_secret_post, and a body client_id equal to the Basic one', async () => {
    assertSuccess(await tokenRequest(server.url, { form: { ...ccForm, client_id: cc.clientId, client_secret: cc.secret } }), 'export.read export.write', false);
    assertSuccess(await tokenRequest(server.url, { form: { ...ccForm, client_id: cc.clientId }, basic: [cc.clientId, cc.secret] }), 'export.read export.write', false);
    const other = await tokenRequest(server.url, { form: { ...ccForm, client_id: pw.clientId }, basic: [cc.clientId, cc.secret] });
    assertOAuthError(other, 400, 'invalid_request');
    await assertRefusal(server.latchkey.storage, other, 'client_auth.multiple_methods');
  });

  it('refuses Basic and body credentials together with 400 invalid_request', async () => {
    const res = await tokenRequest(server.url, { form: { ...ccForm, client_id: cc.clientId, client_secret: cc.secret }, basic: [cc.clientId, cc.secret] });
    assertOAuthError(res, 400, 'invalid_request');
    assert.match(String(res.json?.error_description), /not both/);
    await assertRefusal(server.latchkey.storage, res, 'client_auth.multiple_methods');
  });

  it('refuses credentials in the query string, but ignores harmless query parameters', async () => {
    for (const query of [`client_secret=${cc.secret}`, `client_id=${cc.clientId}`, 'grant_type=client_credentials', 'scope=export.read']) {
      const res = await tokenRequest(server.url, { query, form: ccForm, basic: [cc.clientId, cc.secret] });
      assertOAuthError(res, 400, 'invalid_request');
      assert.equal(res.json?.error_description, `The parameter ${query.split('=')[0]} was sent in the URL query. Send it in the form-encoded request body.`);
      await assertRefusal(server.latchkey.storage, res, 'request.credentials_in_query');
    }
    assertSuccess(await tokenRequest(server.url, { query: 'trace=1', form: ccForm, basic: [cc.clientId, cc.secret] }), 'export.read export.write', false);
  });

  it('refuses a repeated parameter', async () => {
    const res = await tokenRequest(server.url, { form: { grant_type: ['client_credentials', 'client_credentials'] }, basic: [cc.clientId, cc.secret] });
    assertOAuthError(res, 400, 'invalid_request');
    assert.equal(res.json?.error_description, 'The parameter grant_type was sent more than once.');
    await assertRefusal(server.latchkey.storage, res, 'request.repeated_parameter');
  });

  it('refuses a body that is not form-encoded; accepts a charset parameter', async () => {
    for (const contentType of ['application/json', 'text/plain', 'multipart/form-data; boundary=x']) {
      const res = await tokenRequest(server.url, { contentType, body: 'grant_type=client_credentials', basic: [cc.clientId, cc.secret] });
      assertOAuthError(res, 400, 'invalid_request');
      await assertRefusal(server.latchkey.storage, res, 'request.invalid_content_type');
    }
    const missing = await tokenRequest(server.url, { contentType: null, body: 'grant_type=client_credentials', basic: [cc.clientId, cc.secret] });
    assertOAuthError(missing, 400, 'invalid_request');
    assertSuccess(await tokenRequest(server.url, { contentType: 'Application/X-WWW-Form-Urlencoded; charset=UTF-8', form: ccForm, basic: [cc.clientId, cc.secret] }), 'export.read export.write', false);
  });

  it('refuses an oversized body with 400', async () => {
    const res = await tokenRequest(server.url, { form: { ...ccForm, pad: 'x'.repeat(17 * 1024) }, basic: [cc.clientId, cc.secret] });
    assertOAuthError(res, 400, 'invalid_request');
    assert.equal(res.json?.error_description, 'The request body is larger than 16384 bytes.');
    await assertRefusal(server.latchkey.storage, res, 'request.body_too_large');
  });

  it('refuses GET (and other methods) with 400 and Allow: POST', async () => {
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const res = await tokenRequest(server.url, { method, form: ccForm, basic: [cc.clientId, cc.secret] });
      assertOAuthError(res, 400, 'invalid_request');
      assert.equal(res.headers.get('allow'), 'POST');
      await assertRefusal(server.latchkey.storage, res, 'request.method_not_allowed');
    }
  });

  it('answers a wrong secret and an unknown client id identically: 401 invalid_client, WWW-Authenticate', async () => {
    const wrongSecret = `${cc.secret.slice(0, -1)}${cc.secret.endsWith('A') ? 'B' : 'A'}`;
    const wrong = await tokenRequest(server.url, { form: ccForm, basic: [cc.clientId, wrongSecret] });
    const unknown = await tokenRequest(server.url, { form: ccForm, basic: ['0123456789abcdef0123456789abcdef', cc.secret] });
    const wrongPost = await tokenRequest(server.url, { form: { ...ccForm, client_id: cc.clientId, client_secret: 'nope' } });
    for (const res of [wrong, unknown, wrongPost]) {
      assertOAuthError(res, 401, 'invalid_client');
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="latchkey", charset="UTF-8"');
      assert.equal(res.json?.error_description, CLIENT_AUTH_FAILED);
    }
    assert.equal(wrong.text, unknown.text);
    await assertRefusal(server.latchkey.storage, wrong, 'client_auth.secret_mismatch');
    await assertRefusal(server.latchkey.storage, unknown, 'client_auth.unknown_client');
    await assertRefusal(server.latchkey.storage, wrongPost, 'client_auth.secret_mismatch');
  });

  it('rotates refresh tokens; reusing the old one revokes the new one too', async () => {
    const first = await tokenRequest(server.url, password());
    assertSuccess(first, 'export.read export.write', true);
    const rt1 = String(first.json?.refresh_token);
    const second = await tokenRequest(server.url, refresh(rt1));
    assertSuccess(second, 'export.read export.write', true);
    const rt2 = String(second.json?.refresh_token);
    assert.notEqual(rt2, rt1);
    assert.notEqual(second.json?.access_token, first.json?.access_token);
    const reuse = await tokenRequest(server.url, refresh(rt1));
    assertOAuthError(reuse, 400, 'invalid_grant');
    await assertRefusal(server.latchkey.storage, reuse, 'refresh_token.reused');
    const after = await tokenRequest(server.url, refresh(rt2));
    assertOAuthError(after, 400, 'invalid_grant');
    await assertRefusal(server.latchkey.storage, after, 'refresh_token.revoked');
    // The access token minted by the rotation is revoked with its family.
    const access = await server.latchkey.storage.tokens.byHash(storedTokenKey(String(second.json?.access_token)));
    assert.equal(access?.status, 'revoked');
  });

  it('refuses a refresh with a broader scope; narrows on request; follows scopes removed from the app', async () => {
    const first = await tokenRequest(server.url, password({ scope: 'export.read' }));
    assertSuccess(first, 'export.read', true);
    const broader = await tokenRequest(server.url, refresh(String(first.json?.refresh_token), { scope: 'export.read export.write' }));
    assertOAuthError(broader, 400, 'invalid_scope');
    assert.equal(broader.json?.error_description, 'The scope export.write was not part of the original grant.');
    await assertRefusal(server.latchkey.storage, broader, 'scope.broader_than_grant');
    // The refused request did not consume the token.
    const both = await tokenRequest(server.url, password());
    const narrowed = await tokenRequest(server.url, refresh(String(both.json?.refresh_token), { scope: 'export.write' }));
    assertSuccess(narrowed, 'export.write', true);
    assertSuccess(await tokenRequest(server.url, refresh(String(first.json?.refresh_token))), 'export.read', true);
    // Removing a scope from the application takes effect on the next refresh.
    const full = await tokenRequest(server.url, password());
    await updateApplication(registryDeps(server), pw.clientId, { scopes: ['export.read'] });
    await refreshCache(server);
    try {
      assertSuccess(await tokenRequest(server.url, refresh(String(full.json?.refresh_token))), 'export.read', true);
    } finally {
      await updateApplication(registryDeps(server), pw.clientId, { scopes: ['export.read', 'export.write'] });
      await refreshCache(server);
    }
  });

  it('keeps the original scope on a refresh token rotated with a narrower scope (RFC 6749 section 6)', async () => {
    // "If a new refresh token is issued, the refresh token scope MUST be identical to that of the
    // refresh token included by the client in the request"; an omitted scope means the original grant.
    const full = await tokenRequest(server.url, password());
    const narrowed = await tokenRequest(server.url, refresh(String(full.json?.refresh_token), { scope: 'export.read' }));
    assertSuccess(narrowed, 'export.read', true);
    assertSuccess(await tokenRequest(server.url, refresh(String(narrowed.json?.refresh_token))), 'export.read export.write', true);
  });

  it('checks requested scopes against the application; none requested means the app default', async () => {
    const res = await tokenRequest(server.url, { form: { ...ccForm, scope: 'export.read admin.all' }, basic: [cc.clientId, cc.secret] });
    assertOAuthError(res, 400, 'invalid_scope');
    assert.equal(res.json?.error_description, 'The application Nightly export is not allowed the scope admin.all. Allowed: export.read export.write.');
    await assertRefusal(server.latchkey.storage, res, 'scope.not_allowed');
    assertSuccess(await tokenRequest(server.url, { form: ccForm, basic: [cc.clientId, cc.secret] }), 'export.read export.write', false);
    assertSuccess(await tokenRequest(server.url, { form: { ...ccForm, scope: 'export.write' }, basic: [cc.clientId, cc.secret] }), 'export.write', false);
  });

  it('lets exactly one of 10 concurrent uses of a refresh token succeed', async () => {
    const first = await tokenRequest(server.url, password());
    const rt = String(first.json?.refresh_token);
    const results = await Promise.all(Array.from({ length: 10 }, () => tokenRequest(server.url, refresh(rt))));
    const ok = results.filter((r) => r.status === 200);
    assert.equal(ok.length, 1, results.map((r) => `${r.status} ${r.text}`).join('\n'));
    for (const r of results.filter((x) => x.status !== 200)) {
      assertOAuthError(r, 400, 'invalid_grant');
      const refusal = await server.latchkey.storage.refusals.byRequestId(r.requestId);
      assert.ok(refusal?.reason === 'refresh_token.reused' || refusal?.reason === 'refresh_token.revoked', refusal?.reason);
    }
    // The concurrent reuse revoked the family, including the winner's new refresh token.
    const winner = await tokenRequest(server.url, refresh(String(ok[0]?.json?.refresh_token)));
    assertOAuthError(winner, 400, 'invalid_grant');
    await assertRefusal(server.latchkey.storage, winner, 'refresh_token.revoked');
  });
});

describe('refresh token expiry (manual clock)', () => {
  const clock = new ManualClock(Date.UTC(2030, 0, 1));
  let server: TestServer;
  let pw: App;
  const refresh = (token: string) => ({ form: { grant_type: 'refresh_token', refresh_token: token }, basic: [pw.clientId, pw.secret] as const });

  before(async () => {
    server = await startTestServer({ clock });
    ({ pw } = await setup(server, clock));
    await updateApplication(registryDeps(server, clock), pw.clientId, { refreshTokenLifespan: 3600 });
    await refreshCache(server);
  });
  after(async () => server.close());

  it('refuses a refresh token after its lifespan; rotation does not extend the family lifetime', async () => {
    const first = await tokenRequest(server.url, { form: { grant_type: 'password', username: 'alice', password: ALICE_PW }, basic: [pw.clientId, pw.secret] });
    assertSuccess(first, 'export.read export.write', true);
    clock.advance(3599_000);
    const rotated = await tokenRequest(server.url, refresh(String(first.json?.refresh_token)));
    assertSuccess(rotated, 'export.read export.write', true);
    clock.advance(1000);
    const expired = await tokenRequest(server.url, refresh(String(rotated.json?.refresh_token)));
    assertOAuthError(expired, 400, 'invalid_grant');
    assert.equal(expired.json?.error_description, 'The refresh token is invalid, expired or revoked. Obtain a new token with the original grant.');
    await assertRefusal(server.latchkey.storage, expired, 'refresh_token.expired');
  });
});
