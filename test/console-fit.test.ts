import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import { newId } from '../src/core/crypto.js';
import { createApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { ADMIN_PASSWORD } from './helpers/admin.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { authorizeUrl, pkcePair } from './helpers/authorize-flow.js';
import { Browser, formFor } from './helpers/browser.js';
import { checkPage, go, openConsole, signIn, type ConsoleBrowser } from './helpers/console-browser.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/**
 * Every console page on a 1280x800 screen with realistic long data (long application, user, scope
 * and provider names, 32-character client ids, many scopes per token): no table ends past the
 * viewport, no action button is off-screen, no table scrolls sideways. Then the activity charts
 * (a period that fits the data, dated UTC axes, values on hover and from the keyboard, a table of
 * the numbers) and the refusals grouped by reason and client.
 */

const PW = 'a-good-password-13';
const MINUTE = 60_000;
const LONG_APP = 'Quarterly financial reconciliation exporter for the EMEA region (production, do not delete)';
const PORTAL = 'Partner portal for distributors and resellers in Central and Eastern Europe';
const SERVICE_USER = 'svc-finance-reconciliation-emea-production@corp.example.com';
const PERSON = 'j.random.contractor.with.a.long.name@partner.example.org';
const SCOPES = ['finance.reconciliation.emea.read', 'finance.reconciliation.emea.write', 'reports.quarterly-summary.read'];
const UNKNOWN_CLIENT = 'legacy-integration-client-0123456789abcdef0123456789abcdef';

interface Overflow {
  readonly problems: string[];
  readonly tables: number;
  readonly buttons: number;
}

/** What ends past the viewport's right edge: the page, any table, any button or link in a table; any table that scrolls sideways. */
function overflow(page: Page): Promise<Overflow> {
  return page.evaluate(() => {
    const cw = document.documentElement.clientWidth;
    const problems: string[] = [];
    if (document.documentElement.scrollWidth > cw) problems.push(`the page is ${document.documentElement.scrollWidth} px wide (viewport ${cw})`);
    let tables = 0;
    let buttons = 0;
    for (const t of document.querySelectorAll('main table')) {
      const r = t.getBoundingClientRect();
      if (r.width === 0) continue;
      tables++;
      const head = (t.querySelector('thead')?.textContent ?? '').replace(/\s+/g, ' ').trim().slice(0, 60);
      if (r.right > cw + 0.5) problems.push(`table "${head}" ends at ${Math.round(r.right)} px`);
      for (const b of t.querySelectorAll('button, a')) {
        const br = b.getBoundingClientRect();
        if (br.width === 0) continue;
        buttons++;
        if (br.right > cw + 0.5) problems.push(`"${(b.textContent ?? '').trim()}" in table "${head}" ends at ${Math.round(br.right)} px`);
      }
    }
    for (const w of document.querySelectorAll('main .table-wrap')) {
      if (w.scrollWidth > w.clientWidth + 1) problems.push(`a table scrolls sideways: ${w.scrollWidth} px in ${w.clientWidth} px`);
    }
    return { problems, tables, buttons };
  });
}

async function assertFits(page: Page, name: string, expect: { tables?: number; buttons?: number } = {}): Promise<void> {
  const o = await overflow(page);
  assert.deepEqual(o.problems, [], `${name} at 1280 px`);
  assert.ok(o.tables >= (expect.tables ?? 0), `${name}: ${o.tables} tables checked`);
  assert.ok(o.buttons >= (expect.buttons ?? 0), `${name}: ${o.buttons} buttons checked`);
  await checkPage(page, `fit-${name}`);
}

describe('the console fits a 1280 px screen; charts and refusal groups', { timeout: 300_000 }, () => {
  let server: TestServer;
  let c: ConsoleBrowser;
  let page: Page;
  let longApp = '';
  let accessToken = '';

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    const deps = registryDeps(server);
    await setProperty(deps, 'glide.oauth.inbound.client.credential.grant_type.enabled', 'true');
    for (const s of SCOPES) await createScope(deps, s, `Read and write the ${s} data of the quarterly reconciliation, for auditors and the finance operations team`);
    await createUser(deps, { userName: SERVICE_USER, roles: ['finance.reconciliation.emea.approver', 'reports.reader', 'itil'] });
    await createUser(deps, { userName: PERSON, password: PW, roles: ['partner.portal.distributor.administrator'] });
    const created = await createApplication(deps, { name: LONG_APP, grantTypes: ['client_credentials'], appUser: SERVICE_USER, scopes: SCOPES });
    longApp = created.application.clientId;
    const portal = await createApplication(deps, { name: PORTAL, grantTypes: ['authorization_code', 'password'], redirectUris: ['https://partners.example.com/oauth/callback/central-and-eastern-europe/distributors'] });
    await server.latchkey.storage.identityProviders.create({
      id: newId(),
      name: 'Contoso Entra ID (production tenant for employees and contractors)',
      issuer: 'https://login.microsoftonline.com/01234567-89ab-cdef-0123-456789abcdef/v2.0',
      metadataUrl: 'https://login.microsoftonline.com/01234567-89ab-cdef-0123-456789abcdef/v2.0/.well-known/openid-configuration',
      jwksUri: null,
      audience: 'api://latchkey-production-0123456789abcdef',
      userClaim: 'preferred_username',
      userField: 'user_name',
      active: true,
      createdAt: Date.now(),
      updatedAt: Date.now(),
    });
    await refreshCache(server);
    const secret = created.clientSecret ?? '';
    for (let i = 0; i < 5; i++) {
      const res = await tokenRequest(server.url, { basic: [longApp, secret], form: { grant_type: 'client_credentials', scope: SCOPES.join(' ') } });
      assert.equal(res.status, 200, res.text);
      accessToken = res.json?.access_token as string;
    }
    assert.equal((await apiCall(server.url, { path: '/api/test/echo', bearer: accessToken })).status, 200);
    // Refusals: the same wrong secret six times, an unknown client three times, a bad bearer twice.
    for (let i = 0; i < 6; i++) assert.equal((await tokenRequest(server.url, { basic: [longApp, 'an-old-secret'], form: { grant_type: 'client_credentials' } })).status, 401);
    for (let i = 0; i < 3; i++) assert.equal((await tokenRequest(server.url, { basic: [UNKNOWN_CLIENT, 'x'], form: { grant_type: 'client_credentials' } })).status, 401);
    for (let i = 0; i < 2; i++) assert.equal((await apiCall(server.url, { path: '/api/test/echo', bearer: 'lk_at_not-a-token' })).status, 401);
    // A locked person, signed in on the authorization pages (a session on its page).
    for (let i = 0; i < 5; i++) await tokenRequest(server.url, { basic: [portal.application.clientId, portal.clientSecret ?? ''], form: { grant_type: 'password', username: PERSON, password: `wrong-${i}` }, from: '127.0.0.72' });
    const browser = new Browser(server.url);
    const url = authorizeUrl(server, { response_type: 'code', client_id: portal.application.clientId, redirect_uri: 'https://partners.example.com/oauth/callback/central-and-eastern-europe/distributors', code_challenge: pkcePair().challenge, code_challenge_method: 'S256' });
    await browser.submit(url, formFor(await browser.get(url), 'sign_in'), { username: PERSON, password: PW });
    c = await openConsole(server, { width: 1280, height: 800 });
    page = c.page;
    await signIn(page, 'admin', ADMIN_PASSWORD);
  });
  after(async () => {
    await c?.close();
    await server?.close();
  });

  test('every page at 1280x800: tables and their buttons on screen, nothing scrolls sideways', async () => {
    await go(page, '#/', 'Home');
    await page.locator('[data-finding]').first().waitFor();
    await assertFits(page, 'home');

    await go(page, '#/applications', 'Applications');
    await page.getByRole('link', { name: LONG_APP }).waitFor();
    await assertFits(page, 'applications', { tables: 1 });
    await go(page, `#/applications/${longApp}`, LONG_APP);
    await assertFits(page, 'application-detail');

    await go(page, '#/posture', 'Posture');
    await page.locator(`tr.posture-row[data-client="${longApp}"]`).getByRole('button', { name: /^Fixes/ }).click();
    await page.locator(`#posture-${longApp} [data-posture-finding]`).first().waitFor();
    await assertFits(page, 'posture', { tables: 1, buttons: 4 });

    await go(page, '#/users', 'Users & roles');
    await page.getByRole('link', { name: PERSON }).waitFor();
    await page.locator('tbody tr', { hasText: '127.0.0.72' }).waitFor();
    await assertFits(page, 'users', { tables: 2, buttons: 8 });
    await go(page, `#/users/${encodeURIComponent(PERSON)}`, PERSON);
    await page.locator('tr[data-session]').first().waitFor();
    await assertFits(page, 'user-detail', { tables: 1, buttons: 1 });

    await go(page, '#/scopes', 'Scopes');
    await page.getByText(SCOPES[0] as string).first().waitFor();
    await assertFits(page, 'scopes');
    await go(page, '#/properties', 'Properties');
    await assertFits(page, 'properties');
    await go(page, '#/apis', 'REST APIs');
    await page.getByRole('heading', { level: 2, name: /Echo/ }).waitFor();
    await assertFits(page, 'apis');

    // The page the issue names: the Tokens table with its Revoke buttons.
    await go(page, '#/tokens', 'Tokens');
    await page.locator('tbody tr', { hasText: LONG_APP }).first().waitFor();
    assert.ok((await page.getByRole('button', { name: /^Revoke token/ }).count()) >= 5);
    await assertFits(page, 'tokens', { tables: 1, buttons: 5 });

    await go(page, '#/refusals', 'Refusals');
    await page.locator('tr.group-row').first().waitFor();
    await page.locator('tr.group-row').first().getByRole('button', { name: /^Show requests/ }).click();
    await page.locator('tr.detail-row table.requests').waitFor();
    await assertFits(page, 'refusals-grouped', { tables: 2, buttons: 1 });
    await go(page, '#/refusals?view=requests', 'Refusals');
    await page.locator('tbody tr[data-reason]').first().getByRole('button', { name: /^Explain/ }).click();
    await page.locator('tr.detail-row').waitFor();
    await assertFits(page, 'refusals-requests', { tables: 1, buttons: 5 });

    await go(page, '#/activity', 'Activity');
    await page.locator('svg.timeline').first().waitFor();
    for (const s of await page.locator('details.chart-table summary').all()) await s.click();
    await assertFits(page, 'activity');

    await go(page, '#/audit', 'Audit');
    await page.locator('tbody tr', { hasText: 'application.create' }).first().getByRole('button', { name: 'Before / after' }).click();
    await page.locator('.diff').waitFor();
    await assertFits(page, 'audit', { tables: 1, buttons: 5 });

    await go(page, '#/inspect', 'Token debugger');
    await page.getByLabel('Token', { exact: true }).fill(accessToken);
    await page.getByRole('button', { name: 'Inspect' }).click();
    await page.getByRole('heading', { level: 2, name: /Valid/ }).waitFor();
    await assertFits(page, 'inspect');

    await go(page, '#/keys', 'Keys');
    await page.getByRole('heading', { level: 2, name: 'Signing keys' }).waitFor();
    await assertFits(page, 'keys');
    await go(page, '#/idps', 'Identity providers');
    await page.getByText(/Contoso Entra ID/).first().waitFor();
    await assertFits(page, 'idps', { tables: 1, buttons: 2 });
  });

  test('refusals of the same reason and client are one row with a count, first and last seen; expanding lists the requests', async () => {
    await go(page, '#/refusals', 'Refusals');
    const mismatch = page.locator(`tr.group-row[data-group-reason="client_auth.secret_mismatch"][data-client="${longApp}"]`);
    await mismatch.waitFor();
    assert.equal(await mismatch.count(), 1, 'six refusals, one row');
    const cells = await mismatch.locator('td').allInnerTexts();
    assert.match(cells[0] ?? '', /client_auth\.secret_mismatch/);
    assert.ok((cells[1] ?? '').includes(LONG_APP) && (cells[1] ?? '').includes(longApp), cells[1]);
    assert.equal((cells[2] ?? '').trim(), '6');
    assert.match(cells[3] ?? '', /\d\d:\d\d:\d\d/);
    assert.match(cells[4] ?? '', /\d\d:\d\d:\d\d/);
    const unknown = page.locator(`tr.group-row[data-group-reason="client_auth.unknown_client"]`);
    assert.equal(await unknown.count(), 1);
    assert.equal(((await unknown.locator('td').allInnerTexts())[2] ?? '').trim(), '3');
    const toggle = mismatch.getByRole('button', { name: /^Show requests/ });
    await toggle.click();
    assert.equal(await mismatch.getByRole('button', { name: /^Hide/ }).getAttribute('aria-expanded'), 'true');
    const detail = page.locator('tr.detail-row').first();
    await detail.getByText('Latest 6 of 6 requests').waitFor();
    assert.equal(await detail.locator('tr[data-request-id]').count(), 6);
    assert.match(await detail.innerText(), /What happened:[\s\S]*Fix:/);
    // The live refresh keeps it open.
    await page.waitForTimeout(2_300);
    assert.equal(await page.locator('tr.detail-row tr[data-request-id]').count(), 6);
    await checkPage(page, 'refusals-grouped');
    // One row per request in the other view: the six are six rows there.
    await page.getByLabel('View', { exact: true }).selectOption('requests');
    await page.locator('tbody tr[data-reason="client_auth.secret_mismatch"]').nth(5).waitFor();
  });

  test('activity charts: a period that fits the data, dated UTC axes, the value of a bar on hover and from the keyboard, the numbers as a table', async () => {
    const now = Date.now();
    const minute = now - (now % MINUTE);
    const seeded = minute - 7 * MINUTE;
    await server.latchkey.storage.activity.add([
      { bucket: minute - 30 * MINUTE, metric: 'token.issued', count: 2 },
      { bucket: seeded, metric: 'token.issued', count: 7 },
      { bucket: minute - 12 * MINUTE, metric: 'api.call', count: 11 },
    ]);
    await go(page, '#/activity', 'Activity');
    const period = page.getByTestId('activity-period');
    await period.waitFor();
    // Everything counted is from the last hour: the last hour by minute, not a day squashed into a spike.
    assert.match(await period.innerText(), /Showing last hour, by minute, the shortest period that shows everything counted/);
    const chart = page.getByTestId('chart-tokens');
    assert.equal(await chart.locator('rect.bar').count(), 60);
    const labels = await chart.locator('.x-label').allTextContents();
    assert.ok(labels.length >= 4 && labels.length <= 7, labels.join(' '));
    for (const l of labels) assert.match(l, /^\d\d:\d0$/, 'every 10 minutes');
    // The date under the first tick is that tick's UTC day: the last instant at or before now with
    // the tick's time of day (in the hour after midnight UTC the first tick may be on either day).
    const [tickH, tickM] = (labels[0] ?? '').split(':').map(Number) as [number, number];
    const tickDay = new Date(now);
    tickDay.setUTCHours(tickH, tickM, 0, 0);
    if (tickDay.getTime() > now) tickDay.setUTCDate(tickDay.getUTCDate() - 1);
    const day = `${tickDay.getUTCDate()} ${['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][tickDay.getUTCMonth()]}`;
    assert.equal(await chart.locator('.x-date').first().textContent(), day, 'the axis is dated');
    assert.match(await page.locator('.chart-note').first().innerText(), /Times in UTC; one bar is 1 min\./);

    // Hover the seeded minute: its value (7 plus whatever the real issuances of that minute added).
    const answer = await page.evaluate(async () => (await fetch('/admin/api/v1/activity?period=1h')).json() as Promise<{ series: { tokenIssued: [number, number][] } }>);
    const count = answer.series.tokenIssued.find(([t]) => t === seeded)?.[1];
    assert.ok(count !== undefined && count >= 7, `${count}`);
    const hh = (t: number) => new Date(t).toISOString().slice(11, 16);
    const range = `${hh(seeded)}–${hh(seeded + MINUTE)} UTC`;
    const hit = chart.locator(`rect.hit[data-bucket="${seeded}"]`);
    assert.match((await hit.locator('title').textContent()) ?? '', new RegExp(`${range}: ${count} tokens issued$`));
    await hit.hover();
    const tip = page.getByTestId('chart-tokens-tip');
    await tip.waitFor();
    assert.match(await tip.textContent() ?? '', new RegExp(`${range}${count} tokens issued`));
    await checkPage(page, 'activity-hover');

    // The keyboard: the chart takes the focus, the arrow keys move from bar to bar, the value is read out.
    await page.mouse.move(0, 0);
    await chart.focus();
    await page.keyboard.press('End');
    await page.keyboard.press('ArrowLeft');
    const live = chart.locator('xpath=following-sibling::p[@aria-live="polite"]');
    const last = answer.series.tokenIssued[answer.series.tokenIssued.length - 2];
    assert.ok(last !== undefined);
    await page.waitForFunction(([id, text]) => document.querySelector(`[data-testid="${id}"] ~ p[aria-live]`)?.textContent?.includes(text) === true, ['chart-tokens', `${hh(last[0])}–`] as const);
    assert.match((await live.textContent()) ?? '', / tokens issued$/);
    assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-testid')), 'chart-tokens');

    // The numbers as a table.
    const table = page.locator('section[aria-labelledby="chart-tokens-title"] details.chart-table');
    await table.locator('summary').click();
    await table.locator('tr', { hasText: range }).getByText(String(count), { exact: true }).waitFor();

    // Older counts: the period grows to the day, by 15 minutes, its axis every few hours.
    await server.latchkey.storage.activity.add([{ bucket: minute - 20 * 60 * MINUTE, metric: 'token.issued', count: 3 }]);
    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.getByText(/Showing last 24 hours, by 15 minutes/).waitFor();
    assert.equal(await chart.locator('rect.bar').count(), 96);
    for (const l of await chart.locator('.x-label').allTextContents()) assert.match(l, /^\d\d:00$/);
    await checkPage(page, 'activity-day');
    // Chosen by hand: a week, by 6 hours, its axis by day.
    await page.getByLabel('Period', { exact: true }).selectOption('7d');
    await page.getByText(/Showing last 7 days, by 6 hours \(/).waitFor();
    const days = await chart.locator('.x-label').allTextContents();
    assert.ok(days.length >= 4, days.join(' '));
    for (const d of days) assert.match(d, /^\d{1,2} [A-Z][a-z]{2}$/);
    await checkPage(page, 'activity-week');
  });

  test('no script errors or CSP violations on any page', () => {
    assert.deepEqual(c.errors, []);
  });
});
