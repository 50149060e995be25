/**
 * Deleting from the admin console and the one token handle, in real headless Chromium: each
 * Delete opens a modal dialog that takes the focus, names what is deleted and what is revoked,
 * cancels on Escape (the focus returns to the button) and shows the server's refusal; an in_use
 * refusal of a scope or role offers the cascade. The Tokens page shows the handle the CLI and the
 * audit log show, the Refusals page names the token a refusal was about. Screenshots of the changed
 * pages go to test-artifacts/screenshots/ with the other console tests'.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { tokenHandle, tokenKey } from '../src/core/crypto.js';
import { createScope } from '../src/registry/scopes.js';
import { apiCall, FIXTURE_APIS, ROOT } from './helpers/api.js';
import { launchChromium } from './helpers/chromium.js';
import { buildFixture, CC_PROPERTY, type Fixture } from './helpers/fixture.js';
import { registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const SHOTS = join(ROOT, 'test-artifacts', 'screenshots');

async function go(page: Page, hash: string, heading: string): Promise<void> {
  await page.evaluate((h) => {
    window.location.hash = h;
  }, hash);
  await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor();
}

async function shot(page: Page, name: string): Promise<void> {
  assert.equal(await page.locator('h1').count(), 1, `${name}: one h1`);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

/** Whether the focused element is inside the open dialog. */
const focusInDialog = (page: Page) => page.evaluate(() => document.activeElement?.closest('dialog[open]') !== null && document.activeElement !== null);

describe('admin console: deleting and token handles (Chromium)', { timeout: 240_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let fx: Fixture<'job' | 'spare'>;
  let scoped = '';
  let plain = '';
  const pageErrors: string[] = [];

  const echo = (token: string) => apiCall(server.url, { path: '/api/test/echo', bearer: token });
  const cc = async (scope?: string) => {
    const r = await tokenRequest(server.url, { basic: [fx.apps.job.clientId, fx.apps.job.secret], form: { grant_type: 'client_credentials', ...(scope === undefined ? {} : { scope }) } });
    assert.equal(r.status, 200, r.text);
    return String(r.json?.access_token);
  };

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    fx = await buildFixture(server, {
      scopes: ['ui.read', 'ui.other'],
      users: [{ userName: 'svc-ui' }, { userName: 'erin', password: 'erin-password-1', roles: ['ui-role'] }],
      properties: { [CC_PROPERTY]: 'true' },
      apps: {
        job: { name: 'UI job', grantTypes: ['client_credentials'], appUser: 'svc-ui', scopes: ['ui.read', 'ui.other'] },
        spare: { name: 'UI spare', grantTypes: ['password'] },
      },
    });
    await createScope(registryDeps(server), 'orders.read', 'Read orders');
    scoped = await cc('ui.read');
    // Without a scope parameter a token gets every scope the application allows: ask for the other one.
    plain = await cc('ui.other');
    browser = await launchChromium();
    context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 860 }, locale: 'en-GB', timezoneId: 'UTC' });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(`console: ${m.text()}`);
    });
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close();
  });

  test('sign in', async () => {
    await page.goto('/console/');
    await page.getByLabel('User name', { exact: true }).fill('admin');
    await page.getByLabel('Password', { exact: true }).fill('admin-password-for-tests');
    await page.getByRole('button', { name: 'Sign in' }).click();
    // A consent page for the console itself, where this version still shows one.
    const allow = page.getByRole('button', { name: 'Allow' });
    const home = page.getByRole('heading', { level: 1, name: 'Home' });
    await Promise.race([allow.waitFor(), home.waitFor()]);
    if (await allow.isVisible()) await allow.click();
    await home.waitFor();
  });

  test('the Tokens page names each token by the handle the CLI and the audit log use', async () => {
    await go(page, `#/tokens?application=${fx.apps.job.clientId}`, 'Tokens');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    for (const t of [scoped, plain]) {
      const handle = tokenHandle(tokenKey(t));
      const row = page.locator(`tbody tr[data-token-id="${handle}"]`);
      await row.waitFor();
      assert.equal((await row.locator('code.handle').innerText()).trim(), handle);
    }
    assert.ok(!(await page.locator('main').innerText()).includes(scoped), 'never the token itself');
    await shot(page, 'lifecycle-tokens-handles');
  });

  test('Applications: Delete opens a dialog that takes the focus and names what is revoked; Escape cancels; Delete deletes', async () => {
    await go(page, '#/applications', 'Applications');
    const button = page.getByRole('button', { name: 'Delete application “UI spare”' });
    await button.click();
    const dialog = page.getByRole('dialog', { name: 'Delete application “UI spare”?' });
    await dialog.waitFor();
    await dialog.getByText(/0 active tokens are revoked at once/).waitFor();
    assert.ok(await focusInDialog(page), 'the focus moves into the dialog');
    assert.match(await dialog.innerText(), new RegExp(`client ID ${fx.apps.spare.clientId}`));
    await shot(page, 'lifecycle-delete-application-dialog');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.activeElement?.textContent?.includes('UI spare') === true);
    assert.ok((await server.latchkey.storage.applications.byClientId(fx.apps.spare.clientId)) !== undefined, 'Escape deleted nothing');

    await button.click();
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByText('Deleted application “UI spare”. Revoked 0 tokens.').waitFor();
    await page.locator(`tr[data-client-id="${fx.apps.spare.clientId}"]`).waitFor({ state: 'detached' });
    assert.equal(await server.latchkey.storage.applications.byClientId(fx.apps.spare.clientId), undefined);
    await shot(page, 'lifecycle-applications-deleted');
  });

  test('Scopes: a refusal is shown; a scope applications list is deleted with the cascade offered, and its token is refused', async () => {
    await go(page, '#/scopes', 'Scopes');
    // Descriptions are edited in place (PATCH /scopes/:name).
    await page.getByRole('button', { name: 'Edit the description of scope ui.other' }).click();
    await page.getByRole('textbox', { name: 'Description of scope ui.other' }).fill('Other parts of the UI');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Other parts of the UI').waitFor();
    assert.equal((await server.latchkey.storage.scopes.byName('ui.other'))?.description, 'Other parts of the UI');
    await page.getByRole('button', { name: 'Delete scope orders.read' }).click();
    const required = page.getByRole('dialog', { name: 'Delete scope orders.read?' });
    await required.getByRole('button', { name: 'Delete', exact: true }).click();
    await required.getByText(/Hosted APIs require the scope "orders\.read"/).waitFor();
    assert.equal(await required.getByRole('button', { name: /remove it from/ }).count(), 0, 'no cascade past an API that requires it');
    await required.getByRole('button', { name: 'Cancel' }).click();

    await page.getByRole('button', { name: 'Delete scope ui.read' }).click();
    const dialog = page.getByRole('dialog', { name: 'Delete scope ui.read?' });
    await dialog.getByText('1 application lists it: UI job.').waitFor();
    await dialog.getByText(/Every active token that carries it is revoked/).waitFor();
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await dialog.getByText(/The application "UI job" .* lists the scope "ui\.read"/).waitFor();
    await shot(page, 'lifecycle-scope-cascade-offer');
    await dialog.getByRole('button', { name: 'Delete and remove it from 1 application' }).click();
    await page.getByText('Deleted scope ui.read. Removed from 1 application. Revoked 1 token.').waitFor();
    assert.equal((await echo(scoped)).status, 401);
    assert.equal((await echo(plain)).status, 200, 'a token without the scope keeps working');
    await shot(page, 'lifecycle-scopes');
  });

  test('Users & roles: a held role is deleted with the cascade; a user is deleted; an application user is refused, naming its application', async () => {
    await go(page, '#/users', 'Users & roles');
    await page.getByRole('button', { name: 'Edit the description of role ui-role' }).click();
    await page.getByRole('textbox', { name: 'Description of role ui-role' }).fill('Uses the UI');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByText('Uses the UI').waitFor();
    await page.getByRole('button', { name: 'Delete role ui-role' }).click();
    const role = page.getByRole('dialog', { name: 'Delete role ui-role?' });
    await role.getByText(/1 user holds it: erin/).waitFor();
    await role.getByRole('button', { name: 'Delete', exact: true }).click();
    await role.getByRole('button', { name: 'Delete and remove it from 1 user' }).click();
    await page.getByText('Deleted role ui-role. Removed from 1 user.').waitFor();
    assert.deepEqual((await server.latchkey.storage.users.byName('erin'))?.roles, []);

    await page.getByRole('button', { name: 'Delete user svc-ui' }).click();
    const acting = page.getByRole('dialog', { name: 'Delete user svc-ui?' });
    await acting.getByRole('button', { name: 'Delete', exact: true }).click();
    await acting.getByText(/application user of the application "UI job"/).waitFor();
    await shot(page, 'lifecycle-user-refused');
    await page.keyboard.press('Escape');
    await acting.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Delete user erin' }).click();
    const erin = page.getByRole('dialog', { name: 'Delete user erin?' });
    await erin.getByText(/Every session of the user/).waitFor();
    await erin.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByText(/^Deleted user erin\. Ended 0 sessions; revoked 0 tokens\.$/).waitFor();
    await page.getByRole('rowheader', { name: 'erin' }).waitFor({ state: 'detached' });
    await shot(page, 'lifecycle-users');
  });

  test('Application detail: revoke all its tokens, then delete it; the Refusals page names the refused token by its handle', async () => {
    await go(page, `#/applications/${fx.apps.job.clientId}`, 'UI job');
    await page.getByRole('button', { name: 'Revoke all its tokens' }).click();
    await page.getByRole('button', { name: 'Yes, revoke them all' }).click();
    await page.getByText('Revoked 1 token of UI job.').waitFor();
    const refused = await echo(plain);
    assert.equal(refused.status, 401);
    await shot(page, 'lifecycle-application-detail');
    await page.getByRole('button', { name: 'Delete application “UI job”' }).click();
    await page.getByRole('dialog', { name: 'Delete application “UI job”?' }).getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Application deleted' }).waitFor();
    await page.getByText('Deleted application “UI job”. Revoked 0 tokens.').waitFor();

    await go(page, '#/refusals?view=requests', 'Refusals');
    const row = page.locator(`tbody tr[data-reason="token.revoked"]`).first();
    await row.waitFor({ timeout: 10_000 });
    await row.getByRole('button', { name: /^Explain/ }).click();
    const detail = page.locator('tr.detail-row').first();
    await detail.waitFor();
    assert.match(await detail.innerText(), new RegExp(`Token: ${tokenHandle(tokenKey(plain))}`));
    await shot(page, 'lifecycle-refusal-token');

    await go(page, `#/audit?target=${fx.apps.job.clientId}`, 'Audit');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('application.delete', { exact: true }).waitFor();
    assert.deepEqual(pageErrors, []);
  });
});
