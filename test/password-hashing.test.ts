/**
 * Bounded password hashing (issue 11 item 8d, docs/lockout.md): a burst of password checks beyond
 * the queue is refused at once with 503 temporarily_unavailable and Retry-After (recorded as
 * password.busy), on the token endpoint and the sign-in page alike, and while a burst of checks
 * runs, a client-credentials token request is answered without waiting behind it.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { createApplication } from '../src/registry/applications.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { authorizeUrl, codeFixture, pkcePair, requestParams } from './helpers/authorize-flow.js';
import { Browser, formFor } from './helpers/browser.js';
import { refreshCache, registryDeps, tokenRequest, type TokenResponse } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const PW = 'hashing-test-password';

describe('password hashing with bounded concurrency', () => {
  let server: TestServer;
  let pwApp: { clientId: string; secret: string };

  const ropc = (username: string): Promise<TokenResponse> =>
    tokenRequest(server.url, { form: { grant_type: 'password', username, password: 'not-the-password' }, basic: [pwApp.clientId, pwApp.secret] });

  before(async () => {
    // One hash at a time with two waiting: a burst of a dozen overflows it.
    server = await startTestServer({ passwordHashing: { concurrency: 1, maxQueue: 2 } });
    const deps = registryDeps(server);
    const p = await createApplication(deps, { name: 'Password app', grantTypes: ['password'] });
    pwApp = { clientId: p.application.clientId, secret: p.clientSecret ?? '' };
    await refreshCache(server);
  });
  after(async () => server?.close());

  it('refuses a burst beyond the queue at once with 503 and Retry-After, never another 5xx', async () => {
    // Distinct (unknown) user names, so no per-source throttling gets in the way.
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => ropc(`burst-user-${i}`)));
    const statuses = answers.map((a) => a.status);
    assert.ok(statuses.every((s) => s === 400 || s === 503), `statuses: ${statuses.join(',')}`);
    const busy = answers.filter((a) => a.status === 503);
    assert.ok(busy.length >= 1, `no 503 among ${statuses.join(',')}`);
    assert.ok(answers.filter((a) => a.status === 400).length >= 3, 'the running and queued checks were answered');
    for (const res of busy) {
      assert.equal(res.json?.error, 'temporarily_unavailable');
      assert.equal(res.json?.error_description, 'Too many sign-ins at this moment. Try again in a few seconds.');
      assert.match(res.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const refusal = await server.latchkey.storage.refusals.byRequestId(res.requestId);
      assert.equal(refusal?.reason, 'password.busy');
      assert.equal(refusal?.status, 503);
    }
    // A refusal for busy is no failure: the name was not counted.
    const busyName = (await server.latchkey.storage.refusals.byRequestId(busy[0]!.requestId))?.userName ?? '';
    assert.deepEqual((await server.latchkey.storage.attempts.list(Date.now())).filter((r) => r.userName === busyName), []);
  });

  it('the sign-in page answers a burst beyond the queue with a 503 page and Retry-After', async () => {
    const fx = await codeFixture(server);
    const url = authorizeUrl(server, requestParams(fx, { challenge: pkcePair().challenge }));
    const browsers = await Promise.all(Array.from({ length: 12 }, async () => {
      const b = new Browser(server.url);
      return { b, form: formFor(await b.get(url), 'sign_in') };
    }));
    const pages = await Promise.all(browsers.map(({ b, form }, i) => b.submit(url, form, { username: `page-burst-${i}`, password: 'not-the-password' })));
    const busy = pages.filter((p) => p.status === 503);
    assert.ok(busy.length >= 1, `statuses: ${pages.map((p) => p.status).join(',')}`);
    assert.ok(pages.every((p) => p.status === 400 || p.status === 503));
    for (const p of busy) {
      assert.match(p.text, /Too many sign-ins at this moment\. Try again in a few seconds\./);
      assert.match(p.headers.get('retry-after') ?? '', /^[1-9]\d*$/);
      assert.equal((await server.latchkey.storage.refusals.byRequestId(p.requestId))?.reason, 'password.busy');
    }
  });

  it('answers a client-credentials token request while a burst of password checks runs', async () => {
    // This machine's kind of default: one hash at a time, sixteen waiting (about a second of work).
    const busy = await startTestServer({ passwordHashing: { concurrency: 1, maxQueue: 16 } });
    try {
      const deps = registryDeps(busy);
      await createUser(deps, { userName: 'svc', password: PW });
      await setProperty(deps, 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
      const p = await createApplication(deps, { name: 'Password app', grantTypes: ['password'] });
      const c = await createApplication(deps, { name: 'CC app', grantTypes: ['client_credentials'], appUser: 'svc' });
      await refreshCache(busy);
      let finished = 0;
      const burst = Array.from({ length: 17 }, (_, i) =>
        tokenRequest(busy.url, { form: { grant_type: 'password', username: `cc-burst-${i}`, password: 'not-the-password' }, basic: [p.application.clientId, p.clientSecret ?? ''] }).then((r) => {
          finished += 1;
          return r;
        }),
      );
      // Once the first check is answered, the other sixteen are running or waiting.
      const deadline = performance.now() + 5_000;
      while (finished === 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 2));
      const t0 = performance.now();
      const cc = await tokenRequest(busy.url, { form: { grant_type: 'client_credentials' }, basic: [c.application.clientId, c.clientSecret ?? ''] });
      const ms = performance.now() - t0;
      const finishedWhenAnswered = finished;
      const answers = await Promise.all(burst);
      assert.equal(cc.status, 200, cc.text);
      assert.ok(answers.every((a) => a.status === 400), answers.map((a) => a.status).join(','));
      // Not a speed target: the token request must not wait for the password checks (generous bound).
      assert.ok(ms < 2_000, `the token request took ${ms.toFixed(0)} ms`);
      assert.ok(finishedWhenAnswered < 12, `answered only after ${finishedWhenAnswered} of 17 password checks`);
    } finally {
      await busy.close();
    }
  });
});
