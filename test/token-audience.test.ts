import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { inspectToken } from '../src/diagnostics/inspect.js';
import { createApplication, updateApplication } from '../src/registry/applications.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { apiCall, apiChallenge, assertApiRefusal, FIXTURE_APIS } from './helpers/api.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Issue 11 item 8c: our hosted APIs accept only tokens meant for this instance. An application
 * whose audience is another resource server gets tokens for that server; before, its opaque
 * tokens (which carry no aud) were accepted by our APIs as well, so a token handed to the other
 * service could be replayed here.
 */

const OTHER = 'https://orders.example.com';
// The challenge of the echo API (RFC 6750 §3 with RFC 9728 resource_metadata).
const INVALID_TOKEN = apiChallenge('/api/test/echo', { error: 'invalid_token' });

describe('tokens for another audience on our APIs', () => {
  let server: TestServer;

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    const deps = registryDeps(server);
    await setProperty(deps, 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
    await createUser(deps, { userName: 'svc' });
  });
  after(async () => server?.close());

  async function appWithToken(name: string, input: { audience?: string; tokenFormat?: string }): Promise<{ clientId: string; token: string }> {
    const created = await createApplication(registryDeps(server), { name, grantTypes: ['client_credentials'], appUser: 'svc', ...input });
    await refreshCache(server);
    const res = await tokenRequest(server.url, { basic: [created.application.clientId, created.clientSecret ?? ''], form: { grant_type: 'client_credentials' } });
    assert.equal(res.status, 200, res.text);
    return { clientId: created.application.clientId, token: String(res.json?.access_token) };
  }

  const echo = (bearer: string) => apiCall(server.url, { path: '/api/test/echo', bearer });

  it('an opaque token of an application whose audience is another server is refused: token.wrong_audience, naming the audience', async () => {
    const { token } = await appWithToken('Orders service client', { audience: OTHER });
    const res = await echo(token);
    const refusal = await assertApiRefusal(server.latchkey.storage, res, { status: 401, reason: 'token.wrong_audience', wwwAuthenticate: INVALID_TOKEN });
    assert.equal(refusal.applicationName, 'Orders service client');
    assert.match(refusal.hint ?? "", /^Token tk_[A-Za-z0-9_-]+\. /, "the hint names the token by its handle");
    assert.equal(refusal.hint?.replace(/^Token tk_[A-Za-z0-9_-]+\. /, ""), `Application "Orders service client" has the audience ${OTHER}; this instance is ${server.url}.`);
    // Refused again from memory too (the refusal is not cached as a success).
    assert.equal((await echo(token)).status, 401);
  });

  it('the application\'s current audience decides: setting it refuses tokens already issued (opaque and JWT); clearing it accepts them again', async () => {
    for (const tokenFormat of ['opaque', 'jwt'] as const) {
      const { clientId, token } = await appWithToken(`Moves away (${tokenFormat})`, { tokenFormat });
      assert.equal((await echo(token)).status, 200);
      await updateApplication(registryDeps(server), clientId, { audience: OTHER });
      await refreshCache(server);
      await assertApiRefusal(server.latchkey.storage, await echo(token), { status: 401, reason: 'token.wrong_audience', wwwAuthenticate: INVALID_TOKEN });
      await updateApplication(registryDeps(server), clientId, { audience: '' });
      await refreshCache(server);
      assert.equal((await echo(token)).status, 200, `${tokenFormat}: accepted again once the audience is this instance`);
    }
  });

  it('an audience equal to this instance\'s issuer is this instance', async () => {
    const { token } = await appWithToken('Names us', { audience: server.url });
    assert.equal((await echo(token)).status, 200);
  });

  it('latchkey inspect (CLI and console debugger) says the same', async () => {
    const { token } = await appWithToken('Inspected', { audience: OTHER });
    const inspected = await inspectToken(server.latchkey, token);
    assert.equal(inspected.valid, false);
    assert.equal(inspected.reason, 'token.wrong_audience');
    assert.match(inspected.explanation ?? '', /Application "Inspected" has the audience https:\/\/orders\.example\.com; our APIs accept only tokens for http:\/\/127\.0\.0\.1:\d+\./);
    let out = '';
    const io: IO = { out: (t) => void (out += t), err: () => undefined, readStdin: async () => token };
    const code = await main(['node', 'latchkey', 'inspect', '-', '--json', '--issuer', server.url, '--apis', FIXTURE_APIS, '--db', server.db], io);
    assert.equal(code, 0, 'the inspection ran');
    const json = JSON.parse(out) as { valid: boolean; reason: string; apis: { accepted: boolean; reason: string | null }[] };
    assert.equal(json.reason, 'token.wrong_audience');
    assert.ok(json.apis.some((a) => !a.accepted && a.reason === 'token.wrong_audience'), 'the routes that need a token refuse it for that reason');
  });
});
