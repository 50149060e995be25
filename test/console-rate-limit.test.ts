/**
 * The console and rate limits, in headless Chromium: the application page shows the application's
 * rate limit (or that the instance default applies), its form sets one (a value the registry
 * refuses is shown next to the field), and a 429 the limit caused is on the Refusals page under
 * its reason code. Screenshots in test-artifacts/screenshots/ (application-rate-limit*.png).
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ROOT } from './helpers/api.js';
import { launchChromium } from './helpers/chromium.js';
import { buildFixture, CC_PROPERTY, type Fixture } from './helpers/fixture.js';
import { tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const SHOTS = join(ROOT, 'test-artifacts', 'screenshots');

describe('console: rate limits', { timeout: 120_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let page: Page;
  let fx: Fixture<'limited' | 'plain'>;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startTestServer();
    fx = await buildFixture(server, {
      users: [{ userName: 'svc-console', roles: [] }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: {
        limited: { name: 'Limited client', grantTypes: ['client_credentials'], appUser: 'svc-console', rateLimit: '1/1m' },
        plain: { name: 'Plain client', grantTypes: ['client_credentials'], appUser: 'svc-console' },
      },
    });
    browser = await launchChromium();
    const context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 900 }, locale: 'en-GB', timezoneId: 'UTC' });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    await page.goto('/console/');
    await page.getByLabel('User name', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('admin-password-for-tests');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // The console may or may not ask for consent to itself (issue 13 removes that page).
    const allow = page.getByRole('button', { name: 'Allow' });
    await Promise.race([allow.waitFor().then(() => allow.click()), page.waitForURL(/\/console\/(#.*)?$/)]);
    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
  });
  after(async () => {
    await browser?.close().catch(() => undefined);
    await server?.close();
  });

  it("the application page shows its rate limit, and its form changes it (a bad value is refused at the field)", async () => {
    await page.goto(`/console/#/applications/${fx.apps.limited.clientId}`);
    await page.getByRole('heading', { level: 1, name: 'Limited client' }).waitFor();
    const summary = page.locator('dl.kv');
    await summary.getByText('1/1m (token and introspection requests)').waitFor();
    const field = page.getByLabel('Rate limit', { exact: true });
    assert.equal(await field.inputValue(), '1/1m');
    await page.screenshot({ path: join(SHOTS, 'application-rate-limit.png'), fullPage: true });

    await field.fill('lots');
    await page.getByRole('button', { name: 'Save changes' }).click();
    const error = page.locator('.field.invalid').filter({ has: page.getByLabel('Rate limit', { exact: true }) });
    await error.getByText(/<requests>\/<window>/).first().waitFor();
    await page.screenshot({ path: join(SHOTS, 'application-rate-limit-refused.png'), fullPage: true });

    await field.fill('120/1m');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Changes saved.').waitFor();
    await summary.getByText('120/1m (token and introspection requests)').waitFor();
    assert.equal((await server.latchkey.storage.applications.byClientId(fx.apps.limited.clientId))?.rateLimit, '120/1m');

    await page.goto(`/console/#/applications/${fx.apps.plain.clientId}`);
    await page.getByRole('heading', { level: 1, name: 'Plain client' }).waitFor();
    await page.locator('dl.kv').getByText('Instance default (latchkey.rate_limit.client)').waitFor();
  });

  it('a 429 is on the Refusals page under its reason code', async () => {
    await server.latchkey.storage.applications.update({ ...(await server.latchkey.storage.applications.byClientId(fx.apps.plain.clientId))!, rateLimit: '1/1h' });
    await server.latchkey.cache.check();
    const basic = [fx.apps.plain.clientId, fx.apps.plain.secret] as const;
    assert.equal((await tokenRequest(server.url, { basic, form: { grant_type: 'client_credentials' } })).status, 200);
    const over = await tokenRequest(server.url, { basic, form: { grant_type: 'client_credentials' } });
    assert.equal(over.status, 429);
    await page.goto('/console/#/refusals');
    await page.getByRole('heading', { level: 1, name: 'Refusals' }).waitFor();
    await page.getByText('rate_limit.client_exceeded').first().waitFor();
    await page.screenshot({ path: join(SHOTS, 'refusals-rate-limit.png'), fullPage: true });
  });
});
