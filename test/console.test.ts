import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { apiCall, FIXTURE_APIS, ROOT } from './helpers/api.js';
import { CHROMIUM_MISSING, CHROMIUM_PATH, launchChromium } from './helpers/chromium.js';
import { startTestServer, type TestServer } from './helpers/server.js';
import { paste } from './helpers/shell.js';
import { tokenRequest } from './helpers/oauth.js';
import { createApplication } from '../src/registry/applications.js';
import { createUser } from '../src/registry/users.js';

/**
 * The admin console in real headless Chromium (Debian's package, see helpers/chromium.ts): the
 * main journey through the real sign-in page (no consent page: the console is first-party), the
 * Application Registry, tokens, refusals and the doctor, with keyboard-only use, labels on every
 * control, and a screenshot of each main page in test-artifacts/screenshots/.
 */

const ADMIN = { username: 'admin', password: 'admin-password-for-tests' };
const SHOTS = join(ROOT, 'test-artifacts', 'screenshots');
const CC_PROPERTY = 'glide.oauth.inbound.client.credential.grant_type.enabled';

/** Every input, select and textarea on the page that has no label (nor aria-label / aria-labelledby). */
async function unlabelled(page: Page): Promise<string[]> {
  return page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => !(el instanceof HTMLInputElement && el.type === 'hidden'))
      .filter((el) => {
        const labels = (el as HTMLInputElement).labels;
        const labelled = (labels !== null && labels.length > 0 && [...labels].some((l) => (l.textContent ?? '').trim() !== '')) || (el.getAttribute('aria-label') ?? '').trim() !== '' || (el.getAttribute('aria-labelledby') ?? '').trim() !== '';
        return !labelled;
      })
      .map((el) => el.outerHTML.slice(0, 200)),
  );
}

/** Checks the page's form controls are labelled and that it has one h1, then saves a screenshot. */
async function checkPage(page: Page, name: string): Promise<void> {
  assert.deepEqual(await unlabelled(page), [], `${name}: every form control needs a label`);
  assert.equal(await page.locator('h1').count(), 1, `${name}: one h1 per page`);
  assert.equal(await page.locator('main').count(), 1, `${name}: a main landmark`);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}

async function go(page: Page, hash: string, heading: string): Promise<void> {
  const moved = await page.evaluate((h) => {
    const changed = window.location.hash !== h && !(h === '#/' && window.location.hash === '');
    window.location.hash = h;
    return changed;
  }, hash);
  await page.getByRole('heading', { level: 1, name: heading, exact: true }).waitFor();
  if (!moved) return;
  // The console moves the focus to the new page's heading just after it renders; a key pressed
  // before that lands on the old page. Waiting for it also checks that the focus does move.
  await page.waitForFunction(
    (h) => document.activeElement?.id === 'page-title' && document.activeElement.textContent?.trim() === h,
    heading,
  );
}

/** The visible focus indicator of the focused element: its outline (none → ''). */
async function focusIndicator(page: Page): Promise<{ tag: string; label: string; outline: string }> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (el === null || el === document.body) return { tag: 'body', label: '', outline: '' };
    const s = getComputedStyle(el);
    const outline = s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0 ? `${s.outlineWidth} ${s.outlineStyle}` : '';
    const label = (el as HTMLInputElement).labels?.[0]?.textContent ?? el.textContent ?? '';
    return { tag: el.tagName.toLowerCase(), label: label.trim(), outline };
  });
}

/** Presses Tab until the focused element's label is `label` (at most `max` presses), checking each stop shows focus. */
async function tabTo(page: Page, label: string, max = 60): Promise<void> {
  for (let i = 0; i < max; i++) {
    await page.keyboard.press('Tab');
    const f = await focusIndicator(page);
    assert.notEqual(f.outline, '', `focus on <${f.tag}> "${f.label}" has no visible outline`);
    if (f.label === label) return;
  }
  assert.fail(`"${label}" was not reached with ${max} presses of Tab`);
}

// Fails (never skips) where the browser is missing, saying how to install it.
test('Chromium is installed for the console browser tests', () => {
  assert.ok(existsSync(CHROMIUM_PATH), CHROMIUM_MISSING);
});

describe('admin console in Chromium', { timeout: 240_000 }, () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchChromium();
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    context = await browser.newContext({ baseURL: server.url, viewport: { width: 1280, height: 860 }, locale: 'en-GB', timezoneId: 'UTC' });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.url });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`page error: ${e.message}`));
    page.on('console', (m) => {
      // A CSP violation or a script error shows up here.
      if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) pageErrors.push(`console: ${m.text()}`);
    });
    // Failed loads, except the 401 that ends the session in the last test.
    page.on('response', (r) => {
      if (r.status() >= 400 && r.status() !== 401) pageErrors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
    });
  });

  after(async () => {
    await context?.close().catch(() => undefined);
    await browser?.close().catch(() => undefined);
    await server?.close();
  });

  test('sign in as admin through the sign-in page, with no consent page for the console', async () => {
    const first = await page.goto('/console/');
    assert.ok(first !== null);
    // Not signed in: off to the instance's own sign-in page.
    await page.getByLabel('User name', { exact: true }).waitFor();
    assert.match(page.url(), /\/oauth\/authorize\?/);
    assert.match(new URL(page.url()).searchParams.get('client_id') ?? '', /latchkey-console/);
    await page.screenshot({ path: join(SHOTS, 'sign-in.png') });
    await page.getByLabel('User name', { exact: true }).fill(ADMIN.username);
    await page.getByLabel('Password', { exact: true }).fill(ADMIN.password);
    // The console is first-party: the password is all it asks for (another application still gets
    // the consent page: test/console-admin.test.ts).
    const navigations: string[] = [];
    page.on('framenavigated', (f) => {
      if (f === page.mainFrame()) navigations.push(f.url());
    });
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/console\/(#.*)?$/);
    assert.equal(await page.getByRole('button', { name: 'Allow' }).count(), 0);
    assert.ok(!navigations.some((u) => /\/oauth\/authorize/.test(u)), `no page between the sign-in and the console: ${navigations.join(' → ')}`);
    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
    await page.getByText('Signed in as').waitFor();
    assert.match(await page.locator('.whoami').innerText(), /admin/);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name.includes('latchkey_console') && !c.name.includes('login'));
    assert.ok(session !== undefined, `a console session cookie: ${cookies.map((c) => c.name).join(', ')}`);
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
  });

  test('the console page is not frameable and allows no inline script', async () => {
    const res = await page.goto('/console/');
    assert.ok(res !== null);
    assert.equal(res.status(), 200);
    const headers = res.headers();
    assert.equal(headers['x-frame-options'], 'DENY');
    assert.match(headers['content-security-policy'] ?? '', /frame-ancestors 'none'/);
    assert.match(headers['content-security-policy'] ?? '', /script-src 'self'/);
    assert.doesNotMatch(headers['content-security-policy'] ?? '', /unsafe-inline/);
    assert.equal(headers['referrer-policy'], 'no-referrer');
    // Without a session too, and on the assets.
    const anonymous = await fetch(`${server.url}/console/`, { redirect: 'manual' });
    assert.equal(anonymous.headers.get('x-frame-options'), 'DENY');
    assert.match(anonymous.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    const script = await page.locator('script[src]').first().getAttribute('src');
    assert.ok(script !== null && script.startsWith('/console/assets/'), `script ${script}`);
    const asset = await fetch(`${server.url}${script}`);
    assert.equal(asset.status, 200);
    assert.equal(asset.headers.get('x-frame-options'), 'DENY');
    assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline script');
    assert.equal(await page.locator('style').count(), 0, 'no inline style element');
    // A page that frames the console gets nothing: the browser refuses to render it.
    const framing = await context.newPage();
    await framing.route('http://framer.test/', (route) => route.fulfill({ contentType: 'text/html', body: `<iframe src="${server.url}/console/" width="400" height="300"></iframe>` }));
    await framing.goto('http://framer.test/');
    await framing.waitForTimeout(500);
    const frame = framing.frames().find((f) => f.url().startsWith(server.url));
    const framedText = frame === undefined ? '' : await frame.evaluate(() => document.body?.innerText ?? '').catch(() => '');
    assert.doesNotMatch(framedText, /Latchkey|Home/, 'the console must not render inside a frame');
    await framing.close();
    await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
  });

  let clientId = '';
  let clientSecret = '';
  let accessToken = '';

  test('create an application user and a client-credentials application; the secret is shown once and copies', async () => {
    await go(page, '#/users', 'Users & roles');
    await checkPage(page, 'users');
    await page.getByRole('textbox', { name: 'User name', exact: true }).fill('svc-reports');
    await page.getByRole('textbox', { name: 'Roles', exact: true }).fill('itil');
    await page.getByRole('button', { name: 'Create user' }).click();
    await page.getByText('User svc-reports created.').waitFor();
    await page.getByRole('rowheader', { name: 'svc-reports' }).waitFor();

    await go(page, '#/applications', 'Applications');
    await page.getByRole('link', { name: 'New application' }).click();
    await page.getByRole('heading', { level: 1, name: 'New application' }).waitFor();
    // The kind picker: one radio per kind.
    for (const kind of ['Client credentials', 'Password', 'Authorization code', 'JWT bearer']) await page.getByRole('radio', { name: new RegExp(`^${kind}`) }).waitFor();
    await page.getByRole('radio', { name: /^Authorization code/ }).check();
    await page.getByLabel('Redirect URIs', { exact: true }).waitFor();
    await page.getByRole('radio', { name: /^Client credentials/ }).check();
    await page.getByLabel('Name', { exact: true }).fill('Reports service');
    await page.getByLabel('Application user', { exact: true }).selectOption('svc-reports');
    await checkPage(page, 'application-new');
    await page.getByRole('button', { name: 'Create application' }).click();

    await page.getByRole('heading', { level: 1, name: 'Application created' }).waitFor();
    clientSecret = (await page.getByTestId('client-secret').innerText()).trim();
    clientId = (await page.getByTestId('client-id').innerText()).trim();
    assert.ok(clientSecret.length >= 20, `secret ${clientSecret}`);
    assert.ok(clientId.length > 0);
    const curl = await page.getByTestId('curl').innerText();
    assert.match(curl, /grant_type=client_credentials/);
    assert.ok(curl.includes(clientId));
    await page.getByRole('button', { name: 'Copy secret' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    assert.equal(await page.evaluate(() => navigator.clipboard.readText()), clientSecret);
    await checkPage(page, 'application-secret');

    // Shown once: the application's page never shows it again.
    await page.getByRole('link', { name: 'Open the application' }).click();
    await page.getByRole('heading', { level: 1, name: 'Reports service' }).waitFor();
    assert.equal(await page.getByText(clientSecret).count(), 0);
    await checkPage(page, 'application-detail');
    // Edit a field.
    await page.getByLabel('Access token lifespan (seconds)', { exact: true }).fill('900');
    await page.getByRole('button', { name: 'Save changes' }).click();
    await page.getByText('Changes saved.').waitFor();
    await page.getByText('Opaque, 15 min').waitFor();
    // Deactivate, then activate again.
    await page.getByRole('button', { name: 'Deactivate' }).click();
    await page.getByRole('button', { name: 'Yes, deactivate' }).click();
    await page.getByText('Application deactivated.').waitFor();
    await page.getByRole('button', { name: 'Activate' }).click();
    await page.getByText('Application activated.').waitFor();
    // Rotate the secret: the new one is shown once; the old one stops working.
    const oldSecret = clientSecret;
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('button', { name: 'Yes, rotate now' }).click();
    await page.getByRole('heading', { level: 2, name: 'Client secret for Reports service' }).waitFor();
    clientSecret = (await page.getByTestId('client-secret').innerText()).trim();
    assert.notEqual(clientSecret, oldSecret);
    await page.getByRole('button', { name: 'I have saved the secret' }).click();
    assert.equal(await page.getByText(clientSecret).count(), 0);
    const old = await fetch(`${server.url}/oauth_token.do`, { method: 'POST', headers: { authorization: `Basic ${Buffer.from(`${clientId}:${oldSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=client_credentials' });
    assert.equal(old.status, 401);

    await go(page, '#/applications', 'Applications');
    await page.getByRole('link', { name: 'Reports service' }).waitFor();
    await checkPage(page, 'applications');
    // Search.
    await page.getByRole('searchbox', { name: 'Search applications' }).fill('no-such-application');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText('No application matches “no-such-application”.').waitFor();
    await page.getByRole('searchbox', { name: 'Search applications' }).fill('reports');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: 'Reports service' }).waitFor();
    assert.equal(await page.locator('tbody tr').count(), 1);
  });

  test('the doctor reports the switched-off grant on Home; fixing it on Properties clears the finding', async () => {
    await go(page, '#/', 'Home');
    const finding = page.locator('[data-finding="client_credentials_disabled"]');
    await finding.waitFor();
    assert.match(await finding.innerText(), /Fix:/);
    assert.match(await finding.innerText(), new RegExp(`latchkey properties set ${CC_PROPERTY.replace(/\./g, '\\.')} true`));
    await checkPage(page, 'home');
    // Its link leads to the setting.
    await finding.getByRole('link', { name: 'Change the setting' }).click();
    await page.getByRole('heading', { level: 1, name: 'Properties' }).waitFor();
    const card = page.locator(`[data-property="${CC_PROPERTY}"]`);
    const box = card.getByRole('checkbox');
    assert.equal(await box.isChecked(), false);
    assert.match(await card.innerText(), /Default: false/);
    await box.check();
    await checkPage(page, 'properties');
    await card.getByRole('button', { name: /^Save/ }).click();
    await page.getByText(`Saved: ${CC_PROPERTY} is now true.`).waitFor();
    assert.equal(await page.locator(`[data-property="${CC_PROPERTY}"]`).getByRole('checkbox').isChecked(), true);
    // A number property has a number input.
    assert.equal(await page.locator('[data-property="latchkey.password.lockout.threshold"] input[type="number"]').count(), 1);

    await go(page, '#/', 'Home');
    await page.getByRole('heading', { level: 2, name: 'Doctor' }).waitFor();
    assert.equal(await page.locator('[data-finding="client_credentials_disabled"]').count(), 0);
  });

  test('a token obtained with the secret is listed, revoked, and its refusal explained', async () => {
    const res = await fetch(`${server.url}/oauth_token.do`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    const body = (await res.json()) as { access_token?: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    accessToken = body.access_token ?? '';
    assert.equal((await apiCall(server.url, { path: '/api/test/echo', bearer: accessToken })).status, 200);

    await go(page, '#/tokens', 'Tokens');
    await page.getByLabel('Application', { exact: true }).selectOption(clientId);
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const row = page.locator('tbody tr', { hasText: 'svc-reports' });
    await row.waitFor();
    assert.equal(await row.count(), 1);
    assert.match(await row.innerText(), /Reports service/);
    assert.ok(!(await page.locator('main').innerText()).includes(accessToken), 'the token itself is never shown');
    await checkPage(page, 'tokens');
    await row.getByRole('button', { name: /^Revoke/ }).click();
    await page.getByText('Token revoked.').waitFor();
    await page.getByText('No tokens match.').waitFor();

    const refused = await apiCall(server.url, { path: '/api/test/echo', bearer: accessToken });
    assert.equal(refused.status, 401);
    assert.ok(refused.requestId !== '');

    await go(page, '#/refusals?view=requests', 'Refusals');
    // Live: the refusal appears by polling, without reloading.
    const refusal = page.locator('tbody tr[data-reason]').first();
    await refusal.waitFor();
    await page.locator('tbody tr[data-reason="token.revoked"]').first().waitFor({ timeout: 10_000 });
    const revokedRow = page.locator('tbody tr[data-reason="token.revoked"]').first();
    await revokedRow.getByRole('button', { name: /^Explain/ }).click();
    const detail = page.locator('tr.detail-row').first();
    await detail.waitFor();
    const text = await detail.innerText();
    assert.match(text, /What happened:/);
    assert.match(text, /Fix:/);
    assert.ok(text.includes(refused.requestId), `the refusal of request ${refused.requestId}: ${text}`);
    assert.equal(await revokedRow.getByRole('button', { name: /^Hide/ }).getAttribute('aria-expanded'), 'true');
    // Filters.
    await page.getByLabel('Reason', { exact: true }).fill('token.revoked');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForTimeout(300);
    const reasons = await page.locator('tbody tr[data-reason]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-reason')));
    assert.ok(reasons.length > 0 && reasons.every((r) => r === 'token.revoked'), reasons.join(', '));
    // The explained row stays open across refreshes and filters.
    await page.locator('tr.detail-row').first().waitFor();
    await checkPage(page, 'refusals');
  });

  test('a user whose source is throttled after failed passwords shows as Locked on Users; Unlock clears it', async () => {
    const deps = { storage: server.latchkey.storage, clock: server.latchkey.clock, grants: server.latchkey.catalogue };
    await createUser(deps, { userName: 'locked-lucy', password: 'locked-lucy-password' });
    const app = await createApplication(deps, { name: 'Lockout password app', grantTypes: ['password'] });
    await server.latchkey.cache.check();
    const ropc = (password: string) => tokenRequest(server.url, { form: { grant_type: 'password', username: 'locked-lucy', password }, basic: [app.application.clientId, app.clientSecret ?? ''], from: '127.0.0.70' });
    for (let i = 0; i < 5; i++) assert.equal((await ropc(`wrong-${i}`)).status, 400);
    await go(page, '#/applications', 'Applications');
    await go(page, '#/users', 'Users & roles');
    const row = page.getByRole('row', { name: /locked-lucy/ }).first();
    await row.getByText('Locked', { exact: true }).waitFor();
    await page.getByRole('heading', { level: 2, name: 'Password lockout' }).waitFor();
    await page.locator('tbody tr', { hasText: '127.0.0.70' }).getByText(/Locked until/).waitFor();
    await checkPage(page, 'users-locked');
    await row.getByRole('button', { name: 'Unlock locked-lucy' }).click();
    await page.getByText('Cleared 2 record(s) of failed attempts for locked-lucy.').waitFor();
    await page.locator('tbody tr', { hasText: '127.0.0.70' }).waitFor({ state: 'detached' });
    // The source that was throttled gets in at once.
    assert.equal((await ropc('locked-lucy-password')).status, 200);
    assert.equal((await server.latchkey.storage.audit.list({})).filter((e) => e.action === 'user.unlock' && e.target === 'locked-lucy')[0]?.actor, 'admin');
  });

  test('token debugger, activity, audit, APIs, keys and identity providers pages', async () => {
    await go(page, '#/inspect', 'Token debugger');
    await page.getByLabel('Token', { exact: true }).fill(accessToken);
    await page.getByRole('button', { name: 'Inspect' }).click();
    await page.getByRole('heading', { level: 2, name: /Not valid/ }).waitFor();
    assert.match(await page.locator('main').innerText(), /token\.revoked|revoked/i);
    await checkPage(page, 'inspect');

    // Refusals past the anonymous budget are only counted (audit/refusals.ts): the page lists them.
    const minute = Date.now() - (Date.now() % 60_000);
    await server.latchkey.storage.activity.add([{ bucket: minute, metric: 'refusals.unrecorded|token|client_auth.unknown_client|203.0.113.9', count: 4200 }]);
    await go(page, '#/activity', 'Activity');
    await page.getByRole('heading', { level: 2, name: 'Refusals by reason' }).waitFor();
    await page.getByRole('heading', { level: 2, name: 'Unrecorded refusals' }).waitFor();
    assert.match(await page.locator('main').innerText(), /4200 refusals of callers that did not authenticate[\s\S]*203\.0\.113\.9/);
    assert.ok((await page.locator('svg.chart').count()) >= 3);
    await page.locator('svg.bars').waitFor();
    await checkPage(page, 'activity');

    await go(page, '#/audit', 'Audit');
    await page.locator('tbody tr', { hasText: 'application.create' }).first().waitFor();
    await page.locator('tbody tr', { hasText: 'property.set' }).first().getByRole('button', { name: 'Before / after' }).click();
    await page.locator('.diff').waitFor();
    assert.doesNotMatch(await page.locator('main').innerText(), new RegExp(clientSecret));
    await checkPage(page, 'audit');

    await go(page, '#/apis', 'REST APIs');
    await page.getByRole('heading', { level: 2, name: /Echo/ }).waitFor();
    // Each API's protected resource identifiers (RFC 9728), with a link to the metadata.
    await page.locator(`code[data-resource="${server.url}/api/acme/v1/orders"]`).waitFor();
    assert.equal(await page.locator(`a[data-metadata="${server.url}/.well-known/oauth-protected-resource/api/acme/orders"]`).getAttribute('href'), `${server.url}/.well-known/oauth-protected-resource/api/acme/orders`);
    await checkPage(page, 'apis');

    await go(page, '#/keys', 'Keys');
    await page.getByRole('heading', { level: 2, name: 'Signing keys' }).waitFor();
    await page.getByRole('button', { name: 'Rotate signing key' }).click();
    await page.getByRole('button', { name: 'Yes, rotate' }).click();
    await page.getByText(/A new ES256 key was added/).waitFor();
    await page.locator('tbody tr').first().waitFor();
    await checkPage(page, 'keys');

    await go(page, '#/idps', 'Identity providers');
    await page.getByRole('heading', { level: 2, name: 'Providers' }).waitFor();
    await checkPage(page, 'idps');

    // Dynamic client registration: an initial access token is created and shown once, then listed by id.
    await go(page, '#/registration', 'Registration');
    await page.getByRole('heading', { level: 2, name: 'Initial access tokens' }).waitFor();
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.getByText(/shown only once: lk_ia_/).waitFor();
    await page.locator('tbody tr code', { hasText: /^iat_/ }).first().waitFor();
    await page.getByLabel('Name').fill('console-policy');
    await page.getByLabel('Scopes').fill('useraccount');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.locator('tbody tr code', { hasText: 'console-policy' }).waitFor();
    await checkPage(page, 'registration');
    // Token exchange (RFC 8693): a policy is saved for an application, then listed by its client id.
    const exchanger = (await server.latchkey.storage.applications.list()).find((a) => a.clientId !== 'latchkey-console') ?? (await server.latchkey.storage.applications.list())[0];
    assert.ok(exchanger !== undefined);
    await go(page, '#/exchange', 'Token exchange');
    await page.getByRole('heading', { level: 2, name: 'Exchange policies' }).waitFor();
    await page.getByLabel('Application (client id)').fill(exchanger.clientId);
    await page.getByLabel('Subject applications').fill('*');
    await page.getByLabel('Resources').fill('*');
    await page.getByLabel('Scopes').fill('*');
    await page.getByRole('button', { name: 'Save policy' }).click();
    await page.locator('tbody tr code', { hasText: exchanger.clientId }).waitFor();
    assert.equal((await server.latchkey.storage.exchangePolicies.byClientId(exchanger.clientId))?.spec.scopes[0], '*');
    await checkPage(page, 'exchange');
    await server.latchkey.storage.exchangePolicies.delete(exchanger.clientId);
    // The mode is an enum property: chosen from its values on the Properties page.
    // (The page focuses the named property, not its heading: not through go().)
    await page.evaluate(() => {
      window.location.hash = '#/properties/latchkey.registration.mode';
    });
    const card = page.locator('li[data-property="latchkey.registration.mode"]');
    await card.getByLabel('Value of latchkey.registration.mode').selectOption('open');
    await card.getByRole('button', { name: 'Save latchkey.registration.mode' }).click();
    await page.getByText('Saved: latchkey.registration.mode is now open.').waitFor();
    // The page reloads the properties after a save and re-renders the card with the saved value
    // (its "changed" badge): choose the next value on that card, not on the one being replaced.
    await card.getByText('changed', { exact: true }).waitFor();
    await card.getByLabel('Value of latchkey.registration.mode').selectOption('token');
    await card.getByRole('button', { name: 'Save latchkey.registration.mode' }).click();
    await page.getByText('Saved: latchkey.registration.mode is now token.').waitFor();
  });

  test('keyboard only: skip link, then create a scope with Tab, typing and Enter, focus always visible', async () => {
    await go(page, '#/scopes', 'Scopes');
    await checkPage(page, 'scopes');
    // From the top of the document, the first Tab reaches the skip link.
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Scopes' }).waitFor();
    await page.keyboard.press('Tab');
    const skip = await focusIndicator(page);
    assert.equal(skip.label, 'Skip to content');
    assert.notEqual(skip.outline, '');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'main');

    await tabTo(page, 'Scope name');
    await page.keyboard.type('reports.read');
    await page.keyboard.press('Tab');
    assert.equal((await focusIndicator(page)).label, 'Description');
    await page.keyboard.type('Read the reports');
    await page.keyboard.press('Tab');
    const button = await focusIndicator(page);
    assert.equal(button.label, 'Create scope');
    assert.notEqual(button.outline, '');
    await page.keyboard.press('Enter');
    await page.getByText('Scope reports.read created.').waitFor();
    await page.getByRole('rowheader', { name: /reports\.read/ }).waitFor();

    // Space toggles a checkbox; the nav is reachable by keyboard too.
    await go(page, '#/tokens', 'Tokens');
    await tabTo(page, 'Active only');
    const before = await page.getByLabel('Active only', { exact: true }).isChecked();
    await page.keyboard.press('Space');
    assert.equal(await page.getByLabel('Active only', { exact: true }).isChecked(), !before);
  });

  test('a redirect URI outside the rules is refused next to its field; the curl of an accepted one pastes safely', async () => {
    await go(page, '#/applications/new', 'New application');
    await page.getByRole('radio', { name: /^Authorization code/ }).check();
    await page.getByLabel('Name', { exact: true }).fill('Native app');
    const uris = page.getByLabel('Redirect URIs', { exact: true });
    await uris.fill('javascript:alert(document.domain)');
    await page.getByRole('button', { name: 'Create application' }).click();
    const error = page.locator('.field-error');
    await error.waitFor();
    assert.match(await error.innerText(), /uses the scheme javascript:/);
    assert.match(await error.innerText(), /com\.example\.app:\/callback/);
    assert.equal(await uris.getAttribute('aria-invalid'), 'true');
    const errorId = (await error.getAttribute('id')) ?? '';
    assert.ok(((await uris.getAttribute('aria-describedby')) ?? '').split(' ').includes(errorId), 'the error describes the field');
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('name')), 'redirectUris', 'the focus is on the refused field');
    assert.equal(await page.locator('.alert-error').count(), 0, 'shown by the field, not in an alert');
    await checkPage(page, 'application-redirect-refused');
    // That refusal (HTTP 400) is the expected one; the page-error check stays on for everything else.
    const refused = pageErrors.findIndex((e) => /^HTTP 400 POST .*\/admin\/api\/v1\/applications$/.test(e));
    assert.ok(refused >= 0, pageErrors.join('\n'));
    pageErrors.splice(refused, 1);

    // A URI the rules accept may still hold shell syntax: the ready-to-run curl quotes it.
    const hostile = "https://native.example.com/cb?next=$(touch$IFS'pwned')&x=1;y='2'";
    await uris.fill(hostile);
    await page.getByRole('button', { name: 'Create application' }).click();
    await page.getByRole('heading', { level: 1, name: 'Application created' }).waitFor();
    const id = (await page.getByTestId('client-id').innerText()).trim();
    const secret = (await page.getByTestId('client-secret').innerText()).trim();
    const pasted = await paste(await page.getByTestId('curl').innerText());
    assert.equal(pasted.pwned, false, 'pasting the console curl ran a command');
    assert.deepEqual(pasted.calls, [['curl', '-u', `${id}:${secret}`, '-d', 'grant_type=authorization_code', '-d', 'code=<code>', '-d', 'code_verifier=<verifier>', '--data-urlencode', `redirect_uri=${hostile}`, `${server.url}/oauth_token.do`]]);
  });

  test('no script errors or CSP violations on any page', () => {
    assert.deepEqual(pageErrors, []);
  });

  test('a 401 from the admin API sends the browser to sign in', async () => {
    await go(page, '#/scopes', 'Scopes');
    // Let the page's own requests finish first: each answer renews the session cookie, and one
    // still in flight would put it back after clearCookies (seen once as a timeout below).
    await page.waitForLoadState('networkidle');
    // The session ends (cookie gone); the next API call answers 401 and the app goes to sign in.
    await context.clearCookies();
    await page.evaluate(() => {
      window.location.hash = '#/users';
    });
    await page.waitForURL(/\/oauth\/authorize\?/);
    await page.getByLabel('Password', { exact: true }).waitFor();
    assert.match(page.url(), /\/oauth\/authorize\?/);
  });
});
