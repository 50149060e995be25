/**
 * One explanation on every surface: a token revoked by an administrator (through the admin API)
 * and then presented to a hosted API is refused; `latchkey explain --json`, the plain
 * `latchkey explain`, GET /admin/api/v1/refusals/{id} and the console's Refusals page (headless
 * Chromium) all carry the same facts of the case — when the token was revoked (the stored time)
 * and who revoked it (the audit entry's actor). A screenshot goes to test-artifacts/screenshots/.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { tokenHandle, tokenKey } from '../src/core/crypto.js';
import { adminFetch, adminToken } from './helpers/admin.js';
import { apiCall, FIXTURE_APIS, ROOT } from './helpers/api.js';
import { launchChromium } from './helpers/chromium.js';
import { buildFixture, CC_PROPERTY, type Fixture } from './helpers/fixture.js';
import { tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const SHOTS = join(ROOT, 'test-artifacts', 'screenshots');

async function cli(server: TestServer, args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '', interactive: false, askLine: async () => '' };
  const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
  return { code, out, err };
}

describe('the facts of a refusal on every surface', { timeout: 180_000 }, () => {
  let server: TestServer;
  let fx: Fixture<'job'>;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let requestId = '';
  let handle = '';
  let revokedAt = '';
  let cliFacts: Record<string, unknown> = {};
  let bearer: Record<string, string> = {};

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    fx = await buildFixture(server, {
      scopes: ['facts.read'],
      users: [{ userName: 'svc-facts' }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: { job: { name: 'Facts job', grantTypes: ['client_credentials'], appUser: 'svc-facts', scopes: ['facts.read'] } },
    });
    const issued = await tokenRequest(server.url, { basic: [fx.apps.job.clientId, fx.apps.job.secret], form: { grant_type: 'client_credentials' } });
    assert.equal(issued.status, 200, issued.text);
    const token = String(issued.json?.access_token);
    handle = tokenHandle(tokenKey(token));
    bearer = { authorization: `Bearer ${await adminToken(server)}` };
    const revoked = await adminFetch(server, 'POST', '/tokens/revoke', { body: { handle }, headers: bearer });
    assert.equal(revoked.status, 200, JSON.stringify(revoked.json));
    const stored = await server.latchkey.storage.tokens.byHash(tokenKey(token));
    assert.ok(stored?.revokedAt !== null && stored?.revokedAt !== undefined, 'the token is revoked in storage');
    revokedAt = new Date(stored.revokedAt).toISOString();
    // Within the cache's poll interval the API sees the revocation.
    for (let i = 0; i < 50; i++) {
      const r = await apiCall(server.url, { path: '/api/test/echo', bearer: token });
      if (r.status === 401) {
        requestId = r.requestId;
        break;
      }
      await new Promise((done) => setTimeout(done, 100));
    }
    assert.notEqual(requestId, '', 'the revoked token is refused');
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close();
  });

  test('latchkey explain --json: when it was revoked (the stored time) and by whom (the audit entry)', async () => {
    const r = await cli(server, ['explain', requestId, '--json']);
    assert.equal(r.code, 0, r.err);
    const e = JSON.parse(r.out) as { reason: string; outcome: string; token: string; facts: Record<string, unknown> };
    assert.equal(e.reason, 'token.revoked');
    assert.equal(e.outcome, 'refused');
    assert.equal(e.token, handle);
    const audit = (await server.latchkey.storage.audit.list({ target: handle, action: 'token.revoke' }))[0];
    assert.ok(audit !== undefined, 'the revocation is audited under the handle');
    assert.equal(e.facts.revokedAt, revokedAt);
    assert.match(String(e.facts.revokedBy), new RegExp(`^${audit.actor}\\b`));
    assert.equal(audit.actor, 'admin');
    cliFacts = e.facts;
  });

  test('latchkey explain (plain) prints the same facts under their labels', async () => {
    const r = await cli(server, ['explain', requestId]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Facts of this case/);
    assert.match(r.out, new RegExp(`Revoked at\\s+${revokedAt.replace(/\./g, '\\.')}`));
    assert.match(r.out, /Revoked by\s+admin/);
  });

  test('GET /refusals/{id} carries the same facts and their labels', async () => {
    const r = await adminFetch(server, 'GET', `/refusals/${requestId}`, { headers: bearer });
    assert.equal(r.status, 200);
    const body = r.json as { facts: Record<string, unknown>; factLabels: Record<string, string>; outcome: string };
    assert.deepEqual(body.facts, cliFacts);
    assert.equal(body.outcome, 'refused');
    assert.equal(body.factLabels.revokedBy, 'Revoked by');
  });

  test('the console shows the facts when the refusal is opened', async () => {
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    await page.goto('/console/');
    await page.getByLabel('User name', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('admin-password-for-tests');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    await page.evaluate(() => {
      window.location.hash = '#/refusals?view=requests&reason=token.revoked';
    });
    await page.getByRole('heading', { level: 1, name: 'Refusals' }).waitFor();
    await page.getByRole('button', { name: /Explain refusal token\.revoked/ }).first().click();
    const facts = page.locator(`div.refusal-facts[data-request-id="${requestId}"] table.facts`);
    await facts.waitFor();
    const shown = Object.fromEntries(
      await facts.locator('tr').evaluateAll((rows) => rows.map((row) => [row.getAttribute('data-fact') ?? '', row.querySelector('td')?.textContent ?? ''])),
    ) as Record<string, string>;
    assert.equal(shown.revokedAt, revokedAt);
    assert.match(shown.revokedBy ?? '', /^admin\b/);
    for (const name of Object.keys(cliFacts)) assert.ok(Object.hasOwn(shown, name), `the console shows fact ${name}`);
    await page.screenshot({ path: join(SHOTS, 'refusal-facts.png'), fullPage: true });
  });
});
