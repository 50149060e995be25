/**
 * The console's Rules page in headless Chromium at 1280x800 (console/src/pages/rules.tsx): a rule
 * added in the form (a refused target shown under its field first) is listed in report mode;
 * after real calls to the hosted API its page shows the one client it would refuse, whose latest
 * request opens its explanation ("would be refused"); Enforce asks first, saying how many requests
 * and clients it would have refused, and the rule is then enforced (the call is refused) and
 * listed so. Runs on SQLite and, with LATCHKEY_TEST_STORAGE=postgres, on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { createApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { ADMIN_PASSWORD } from './helpers/admin.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { checkPage, expectError, go, openConsole, signIn, type ConsoleBrowser } from './helpers/console-browser.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';

/** Nothing past the right edge of the window, no table scrolling sideways. */
async function overflow(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const cw = document.documentElement.clientWidth;
    const out: string[] = [];
    if (document.documentElement.scrollWidth > cw) out.push(`page ${document.documentElement.scrollWidth}`);
    for (const el of document.querySelectorAll('main table, main table button, main table a, main form, main .card')) if (el.getBoundingClientRect().right > cw + 0.5) out.push((el.textContent ?? '').slice(0, 40));
    for (const w of document.querySelectorAll('main .table-wrap')) if (w.scrollWidth > w.clientWidth + 1) out.push('a table scrolls sideways');
    return out;
  });
}

describe('the console Rules page', { timeout: 180_000 }, () => {
  let server: TestServer;
  let c: ConsoleBrowser;
  let page: Page;
  const tokens = { has: '', lacks: '' };
  let lacksId = '';
  let hasId = '';

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_APIS });
    const deps = registryDeps(server);
    await setProperty(deps, CC, 'true');
    for (const s of ['orders.read', 'orders.admin']) if ((await server.latchkey.storage.scopes.byName(s)) === undefined) await createScope(deps, s, s);
    await createUser(deps, { userName: 'svc-console-rules' });
    const has = await createApplication(deps, { name: 'Warehouse admin', grantTypes: ['client_credentials'], appUser: 'svc-console-rules', scopes: ['orders.read', 'orders.admin'] });
    const lacks = await createApplication(deps, { name: 'Storefront reader', grantTypes: ['client_credentials'], appUser: 'svc-console-rules', scopes: ['orders.read'] });
    hasId = has.application.clientId;
    lacksId = lacks.application.clientId;
    await refreshCache(server);
    for (const [key, id, secret, scope] of [['has', hasId, has.clientSecret, 'orders.read orders.admin'], ['lacks', lacksId, lacks.clientSecret, 'orders.read']] as const) {
      const res = await tokenRequest(server.url, { basic: [id, secret ?? ''], form: { grant_type: 'client_credentials', scope } });
      assert.equal(res.status, 200, res.text);
      tokens[key] = res.json?.access_token as string;
    }
    c = await openConsole(server, { width: 1280, height: 800 });
    page = c.page;
    await signIn(page, 'admin', ADMIN_PASSWORD);
  });
  after(async () => {
    await c?.close();
    await server?.close();
  });

  it('adds a rule in the form, shows who it would refuse after traffic, enforces it through the confirmation', async () => {
    await go(page, '#/rules', 'Rules');
    await page.getByText('No rules yet.').waitFor();

    // A target the registry refuses: its message under the field, which is marked and focused.
    await page.getByLabel('Kind', { exact: true }).selectOption('api_requirement');
    const target = page.getByLabel('API, resource or MCP server', { exact: true });
    await target.fill('acme/ordrs');
    await page.getByLabel('Required scopes', { exact: true }).fill('orders.admin');
    await page.getByLabel('Note', { exact: true }).fill('orders.admin for the spring release');
    await page.getByRole('button', { name: 'Add rule' }).click();
    const targetField = page.locator('.field', { has: target });
    await targetField.locator('.field-error').waitFor();
    assert.match(await targetField.locator('.field-error').innerText(), /No hosted API acme\/ordrs\. Did you mean "acme\/orders"\?/);
    assert.equal(await target.getAttribute('aria-invalid'), 'true');
    await page.waitForFunction(() => document.activeElement?.getAttribute('name') === 'target');
    expectError(c.errors, /HTTP 404 POST .*\/admin\/api\/v1\/rules$/);

    await target.fill('acme/orders');
    await page.getByRole('button', { name: 'Add rule' }).click();
    await page.locator('.alert-success', { hasText: 'Added rule' }).waitFor();
    const rules = await server.latchkey.storage.rules.list();
    assert.equal(rules.length, 1);
    const ruleId = rules[0]?.id ?? '';
    assert.equal(rules[0]?.createdBy, 'admin');
    const row = page.locator(`tr.rule-row[data-rule="${ruleId}"]`);
    await row.waitFor();
    assert.equal(await row.getAttribute('data-mode'), 'report');
    assert.equal(await row.locator('.badge').innerText(), 'report');
    assert.match(await row.innerText(), /acme\/orders requires one of the scopes orders\.admin/);
    assert.equal(await row.locator('[data-cell="total"]').innerText(), '0');

    // Real traffic: the rule reports, so both clients' calls succeed; one of them lacks the scope.
    const wouldRefuse: string[] = [];
    for (const key of ['has', 'lacks', 'lacks'] as const) {
      const res = await apiCall(server.url, { path: '/api/acme/orders', bearer: tokens[key] });
      assert.equal(res.status, 200, res.text);
      // A would-refuse record's id: the request id the client was given, then the rule's.
      if (key === 'lacks') wouldRefuse.push(`${res.requestId}~${ruleId}`);
    }
    const until = Date.now() + 10_000;
    while ((await server.latchkey.storage.refusals.list({ ruleId, outcome: 'would_refuse' })).length < 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
    await server.latchkey.activity.flush();

    await page.getByRole('button', { name: 'Refresh' }).click();
    await page.waitForFunction((id) => document.querySelector(`tr.rule-row[data-rule="${id}"] [data-cell="total"]`)?.textContent === '2', ruleId);
    assert.equal(await row.locator('[data-cell="clients"]').innerText(), '1');
    assert.deepEqual(await overflow(page), []);
    await checkPage(page, 'rules');

    // The rule's page: exactly the client without the scope, its latest request explained.
    await row.getByRole('link', { name: /^Who it would refuse/ }).click();
    await page.getByRole('heading', { level: 1, name: 'acme/orders requires one of the scopes orders.admin' }).waitFor();
    assert.match(await page.locator('.page-header .intro').innerText(), new RegExp(`Rule ${ruleId} · API requirement`));
    const client = page.locator('tr.would-refuse-row');
    await client.first().waitFor();
    assert.equal(await client.count(), 1);
    assert.equal(await client.getAttribute('data-client'), lacksId);
    assert.equal(await page.locator(`tr.would-refuse-row[data-client="${hasId}"]`).count(), 0);
    assert.equal(await client.locator('[data-cell="count"]').innerText(), '2');
    assert.match(await client.innerText(), /Storefront reader[\s\S]*api\.scope_missing[\s\S]*svc-console-rules/);
    await client.getByRole('button', { name: /^Explain/ }).click();
    const facts = page.locator('.refusal-facts');
    await facts.waitFor();
    assert.ok(wouldRefuse.includes((await facts.getAttribute('data-request-id')) ?? ''), 'the latest request of the client');
    assert.match(await facts.innerText(), new RegExp(`Would be refused by the report-only rule ${ruleId}`));
    assert.match(await page.locator('.refusal-detail .command code').innerText(), /^latchkey explain [0-9a-f-]{36}~rule_[0-9a-z]{12}$/);
    assert.deepEqual(await overflow(page), []);
    await checkPage(page, 'rules-detail');

    // Enforce asks first, saying what it would have refused; Escape cancels, the focus returns.
    await page.getByRole('button', { name: 'Enforce', exact: true }).click();
    const dialog = page.locator('dialog.confirm-dialog');
    await dialog.waitFor();
    assert.match(await dialog.locator('[data-testid="enforce-impact"]').innerText(), /In the last 7 days it would have refused 2 requests from 1 client:/);
    assert.match(await dialog.innerText(), /Storefront reader: 2 requests/);
    assert.match(await dialog.innerText(), /refuses calls to acme\/orders/);
    await checkPage(page, 'rules-enforce-confirm');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    await page.waitForFunction(() => document.activeElement?.textContent === 'Enforce');
    assert.equal((await server.latchkey.storage.rules.byId(ruleId))?.mode, 'report');

    await page.getByRole('button', { name: 'Enforce', exact: true }).click();
    await dialog.getByRole('button', { name: 'Enforce', exact: true }).click();
    await page.locator('.alert-success', { hasText: `Rule ${ruleId} is enforced.` }).waitFor();
    await page.locator('[data-testid="rule-mode"] .badge', { hasText: 'enforce' }).waitFor();
    assert.match(await page.locator('[data-testid="rule-mode"]').innerText(), /enforce since .* by admin/);
    assert.equal(await page.getByRole('button', { name: 'Back to report' }).count(), 1);
    const stored = await server.latchkey.storage.rules.byId(ruleId);
    assert.deepEqual([stored?.mode, stored?.enforcedBy], ['enforce', 'admin']);
    await refreshCache(server);
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: tokens.lacks })).status, 403, 'enforced: the call is refused');
    assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: tokens.has })).status, 200);

    await go(page, '#/rules', 'Rules');
    await page.locator(`tr.rule-row[data-rule="${ruleId}"][data-mode="enforce"]`).waitFor();
    assert.equal(await page.locator(`tr.rule-row[data-rule="${ruleId}"] .badge`).innerText(), 'enforce');
    assert.deepEqual(c.errors, []);
  });

  it('puts the enforced requirement back to report, then deletes it through its dialog', async () => {
    const ruleId = (await server.latchkey.storage.rules.list())[0]?.id ?? '';
    await page.locator(`tr.rule-row[data-rule="${ruleId}"]`).getByRole('link', { name: /^Open/ }).click();
    await page.getByRole('button', { name: 'Back to report' }).click();
    await page.getByRole('button', { name: 'Put it back to report' }).click();
    await page.locator('.alert-success', { hasText: 'reports again' }).waitFor();
    await page.locator('[data-testid="rule-mode"] .badge', { hasText: 'report' }).waitFor();
    assert.equal((await server.latchkey.storage.rules.byId(ruleId))?.mode, 'report');

    await page.getByRole('button', { name: `Delete rule ${ruleId}` }).click();
    const dialog = page.locator('dialog.confirm-dialog');
    assert.match(await dialog.innerText(), /It stops reporting/);
    await dialog.getByRole('button', { name: 'Delete', exact: true }).click();
    await page.getByRole('heading', { level: 1, name: 'Rule deleted' }).waitFor();
    assert.equal(await server.latchkey.storage.rules.byId(ruleId), undefined);
    await page.getByRole('link', { name: 'Back to rules' }).click();
    await page.getByText('No rules yet.').waitFor();
    assert.deepEqual(c.errors, []);
  });
});
