import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { CONSOLE_CLIENT_ID } from '../src/registry/bootstrap.js';
import { createApplication } from '../src/registry/applications.js';
import { createUser } from '../src/registry/users.js';
import { ADMIN_PASSWORD } from './helpers/admin.js';
import { authorizeUrl, pkcePair } from './helpers/authorize-flow.js';
import { Browser, formFor, hasForm } from './helpers/browser.js';
import { checkPage, expectError, go, openConsole, signIn, type ConsoleBrowser } from './helpers/console-browser.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * The console as a complete tool (issue 13, item 4), in headless Chromium at 1280x800: signing in
 * asks only for the password; a user's page sets its password (never echoed), clears its lockout,
 * lists and ends its sessions; the refusals to deactivate the console application or the last
 * administrator show next to the control; the doctor's findings about them show on Home; and the
 * Home page's first finding (the built-in admin's first password) is fixed from the console.
 */

const PW = 'a-good-password-13';
const REDIRECT = 'https://pat.example.com/cb';

describe('the console as a complete tool', { timeout: 240_000 }, () => {
  let server: TestServer;
  let c: ConsoleBrowser;
  let page: Page;
  let codeApp = '';
  let passwordApp: [string, string] = ['', ''];
  /** Every admin API answer the page got, for "never echoed". */
  const answers: string[] = [];

  before(async () => {
    server = await startTestServer();
    const deps = registryDeps(server);
    await createUser(deps, { userName: 'pat', password: PW, roles: ['itil'] });
    await createUser(deps, { userName: 'lee', password: PW });
    codeApp = (await createApplication(deps, { name: 'Pat portal', grantTypes: ['authorization_code'], redirectUris: [REDIRECT] })).application.clientId;
    const ropc = await createApplication(deps, { name: 'Lee mobile', grantTypes: ['password'] });
    passwordApp = [ropc.application.clientId, ropc.clientSecret ?? ''];
    await refreshCache(server);
    c = await openConsole(server);
    page = c.page;
    page.on('response', async (r) => {
      if (r.url().includes('/admin/api/v1/')) answers.push(await r.text().catch(() => ''));
    });
  });
  after(async () => {
    await c?.close();
    await server?.close();
  });

  /** A browser signed in as pat on the authorization pages (a sign-in session), at another application's consent page. */
  async function patBrowser(password = PW): Promise<{ browser: Browser; url: string }> {
    const browser = new Browser(server.url);
    const url = authorizeUrl(server, { response_type: 'code', client_id: codeApp, redirect_uri: REDIRECT, code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });
    const consent = await browser.submit(url, formFor(await browser.get(url), 'sign_in'), { username: 'pat', password });
    assert.ok(hasForm(consent, 'consent'), 'another application keeps its consent page');
    return { browser, url };
  }

  test('signing in to the console asks only for the password', async () => {
    await signIn(page, 'admin', ADMIN_PASSWORD);
    assert.match(await page.locator('.whoami').innerText(), /admin/);
  });

  test("a user's page lists its sessions by handle and ends one, then all", async () => {
    const first = await patBrowser();
    const second = await patBrowser();
    await go(page, '#/users', 'Users & roles');
    await page.getByRole('link', { name: 'pat', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'pat' }).waitFor();
    const rows = page.locator('tr[data-session]');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2);
    for (const text of await rows.allInnerTexts()) assert.match(text, /Sign-in/);
    const html = await page.content();
    for (const b of [first, second]) assert.ok(!html.includes(b.browser.cookies.get('latchkey_session') ?? '-'), 'no cookie value on the page');
    await checkPage(page, 'user-detail');
    // The newest first: the second browser's.
    await rows.first().getByRole('button', { name: 'End session' }).click();
    await rows.first().getByRole('button', { name: 'Yes, end it' }).click();
    await page.getByText('Ended 1 session of pat on every instance.').waitFor();
    await page.waitForFunction(() => document.querySelectorAll('tr[data-session]').length === 1);
    assert.ok(hasForm(await second.browser.get(second.url), 'sign_in'), 'that browser signs in again');
    assert.ok(hasForm(await first.browser.get(first.url), 'consent'), 'the other stays signed in');
    await page.getByRole('button', { name: 'End all sessions' }).click();
    await page.getByRole('button', { name: 'Yes, end all 1' }).click();
    await page.getByText('No live sessions.').waitFor();
    assert.ok(hasForm(await first.browser.get(first.url), 'sign_in'));
  });

  test("setting a user's password: typed twice, never shown or echoed, its sessions end; the new one signs in", async () => {
    const signedIn = await patBrowser();
    await go(page, '#/users/pat', 'pat');
    await page.getByText('The password is still the one set when the user was created.').waitFor();
    const field = page.getByLabel('New password', { exact: true });
    assert.equal(await field.getAttribute('type'), 'password');
    assert.equal(await field.getAttribute('autocomplete'), 'new-password');
    await field.fill('pat-new-password-13');
    await page.getByLabel('Repeat the new password', { exact: true }).fill('pat-other-password');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByText('The two passwords differ: type the same password twice.').waitFor();
    await page.getByLabel('Repeat the new password', { exact: true }).fill('pat-new-password-13');
    await checkPage(page, 'user-password');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByText(/Password of pat changed\. On every instance: ended 1 session/).waitFor();
    assert.equal(await field.inputValue(), '');
    assert.equal(await page.getByLabel('Repeat the new password', { exact: true }).inputValue(), '');
    await page.getByText(/^Last changed /).waitFor();
    assert.ok(!(await page.content()).includes('pat-new-password-13'), 'not on the page');
    assert.ok(answers.length > 0 && answers.every((a) => !a.includes('pat-new-password-13')), 'not in any answer');
    assert.ok(hasForm(await signedIn.browser.get(signedIn.url), 'sign_in'), 'its session ended');
    await patBrowser('pat-new-password-13');
    const audit = await server.latchkey.storage.audit.list({ target: 'pat', action: 'user.update' });
    assert.equal(audit[0]?.actor, 'admin');
    assert.ok(!(audit[0]?.after ?? '').includes('pat-new-password-13'));
  });

  test("a locked user is unlocked from its own page; it signs in at once", async () => {
    const ropc = (password: string) => tokenRequest(server.url, { form: { grant_type: 'password', username: 'lee', password }, basic: passwordApp, from: '127.0.0.71' });
    for (let i = 0; i < 5; i++) assert.equal((await ropc(`wrong-${i}`)).status, 400);
    assert.equal((await ropc(PW)).status, 400, 'throttled');
    await go(page, '#/users', 'Users & roles');
    await page.getByRole('link', { name: 'lee', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'lee' }).waitFor();
    const card = page.locator('section[aria-labelledby="user-locks-title"]');
    await card.getByText('Locked', { exact: true }).waitFor();
    await card.getByText(/Locked until/).waitFor();
    assert.match(await card.innerText(), /127\.0\.0\.71/);
    await checkPage(page, 'user-locked');
    await card.getByRole('button', { name: 'Unlock lee' }).click();
    await page.getByText(/Cleared 2 record\(s\) of failed attempts for lee\./).waitFor();
    await card.getByText('No failed password attempts are being counted for lee.').waitFor();
    assert.equal((await ropc(PW)).status, 200);
  });

  test("a user's OpenID Connect profile is edited on its page: a refusal shows under its field, the saved claims reach the user", async () => {
    await go(page, '#/users/lee', 'lee');
    const card = page.locator('form[aria-labelledby="profile-title"]');
    await card.getByLabel('Full name', { exact: true }).fill('Lee Quinn');
    await card.getByLabel('Email', { exact: true }).fill('not-an-email');
    await card.getByRole('button', { name: 'Save profile' }).click();
    await card.locator('.field.invalid').getByText(/is not an email address/).waitFor();
    expectError(c.errors, /^HTTP 400 PATCH .*\/users\/lee$/);
    await checkPage(page, 'user-profile-refused');
    await card.getByLabel('Email', { exact: true }).fill('lee@example.com');
    await card.getByLabel('Email verified', { exact: true }).check();
    await card.getByLabel('City', { exact: true }).fill('Lyon');
    await card.getByRole('button', { name: 'Save profile' }).click();
    await page.getByText('Profile of lee saved.').waitFor();
    const lee = await server.latchkey.storage.users.byName('lee');
    assert.deepEqual(lee?.profile, { name: 'Lee Quinn', email: 'lee@example.com', emailVerified: true, address: { locality: 'Lyon' } });
    // Emptying a field clears it.
    await card.getByLabel('Full name', { exact: true }).fill('');
    // The same notice again: wait for the stored value (bounded).
    await card.getByRole('button', { name: 'Save profile' }).click();
    let cleared = false;
    for (let i = 0; i < 50 && !cleared; i++) {
      cleared = (await server.latchkey.storage.users.byName('lee'))?.profile?.name === undefined;
      if (!cleared) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(cleared, 'the emptied name was cleared');
    assert.equal((await server.latchkey.storage.users.byName('lee'))?.profile?.email, 'lee@example.com');
  });

  test('deactivating the console application or the last administrator: the refusal shows next to the control', async () => {
    await go(page, `#/applications/${CONSOLE_CLIENT_ID}`, 'Latchkey Console');
    const status = page.locator('section[aria-labelledby="status-title"]');
    await status.getByRole('button', { name: 'Deactivate' }).click();
    await status.getByRole('button', { name: 'Yes, deactivate' }).click();
    const refusal = status.locator('.field-error');
    await refusal.waitFor();
    assert.match(await refusal.innerText(), /is the built-in application the admin console signs in with; deactivating it would lock every administrator out of the console/);
    expectError(c.errors, /^HTTP 409 PATCH .*\/applications\/latchkey-console$/);
    assert.equal((await server.latchkey.storage.applications.byClientId(CONSOLE_CLIENT_ID))?.active, true);
    assert.equal(await page.locator('main .alert-error').count(), 0, 'shown by the control, not at the top');
    await checkPage(page, 'application-console-refused');

    await go(page, '#/users', 'Users & roles');
    const adminRow = page.locator('tbody tr', { has: page.getByRole('rowheader', { name: 'admin', exact: true }) });
    await adminRow.getByRole('button', { name: 'Deactivate admin' }).click();
    const message = adminRow.locator('.action-error');
    await message.waitFor();
    assert.match(await message.innerText(), /Deactivating "admin" would leave this instance with no active administrator/);
    expectError(c.errors, /^HTTP 409 PATCH .*\/users\/admin$/);
    const box = await message.boundingBox();
    const button = await adminRow.getByRole('button', { name: 'Deactivate admin' }).boundingBox();
    assert.ok(box !== null && button !== null && box.y >= button.y && box.y - (button.y + button.height) < 40, 'the message is right under the button');
    await checkPage(page, 'users-last-admin-refused');
    assert.equal((await server.latchkey.storage.users.byName('admin'))?.active, true);
  });

  test("the doctor's finding about an inactive console application shows on Home; its link leads to activating it", async () => {
    // Reached only by editing the database (the registry refuses it), as an older version could.
    const app = await server.latchkey.storage.applications.byClientId(CONSOLE_CLIENT_ID);
    assert.ok(app !== undefined);
    await server.latchkey.storage.applications.update({ ...app, active: false });
    await refreshCache(server);
    await go(page, '#/', 'Home');
    await page.getByRole('button', { name: 'Refresh' }).click();
    const finding = page.locator('[data-finding="console_application_inactive"]');
    await finding.waitFor();
    assert.match(await finding.innerText(), /nobody can sign in to the console/);
    assert.match(await finding.innerText(), /latchkey apps update latchkey-console --active true/);
    assert.match(await finding.innerText(), /^Error/);
    await checkPage(page, 'home-console-inactive');
    await finding.getByRole('link', { name: 'Open the console application' }).click();
    await page.getByRole('heading', { level: 1, name: 'Latchkey Console' }).waitFor();
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.getByText('Application activated.').waitFor();
    await go(page, '#/', 'Home');
    await page.getByRole('heading', { level: 2, name: 'Doctor' }).waitFor();
    assert.equal(await page.locator('[data-finding="console_application_inactive"]').count(), 0);
  });

  test("Home's top finding, the built-in admin's first password, is fixed in the console: set it, sign in again, gone", async () => {
    await go(page, '#/', 'Home');
    const finding = page.locator('[data-finding="admin_default_password"]');
    await finding.waitFor();
    await finding.getByRole('link', { name: 'Set a new password' }).click();
    await page.getByRole('heading', { level: 1, name: 'admin' }).waitFor();
    await page.getByText(/This is your own account: changing the password signs you out here too/).waitFor();
    await page.getByLabel('New password', { exact: true }).fill('the-admins-own-new-password');
    await page.getByLabel('Repeat the new password', { exact: true }).fill('the-admins-own-new-password');
    await page.getByRole('button', { name: 'Set password' }).click();
    await page.getByText('Your console session has ended.').waitFor();
    await page.getByText(/Password of admin changed\./).waitFor();
    await checkPage(page, 'user-own-password');
    await page.getByRole('link', { name: 'Sign in again' }).click();
    // Its sign-in session ended too: the password is asked for (the new one), and nothing else.
    await signIn(page, 'admin', 'the-admins-own-new-password', null);
    await page.getByRole('heading', { level: 2, name: 'Doctor' }).waitFor();
    assert.equal(await page.locator('[data-finding="admin_default_password"]').count(), 0);
    await checkPage(page, 'home-after-password');
  });

  test('no script errors or CSP violations on any page', () => {
    assert.deepEqual(c.errors, []);
  });
});
