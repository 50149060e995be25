/**
 * The console's agent-facing pages in headless Chromium at 1280x800, on one server with the MCP
 * fixture folder (test/fixtures/mcp-apis: two hosted MCP servers and a REST API): the REST APIs
 * page's MCP servers (resource identifier, metadata link that answers, each tool with its scopes
 * and roles); the Resources page (hosted and external resources listed, one registered in the form
 * and removed again, a long identifier that wraps instead of overflowing); an application page
 * with its resource limit and origin badge. Each page gets a screenshot (test-artifacts/screenshots).
 * Runs on SQLite and, with LATCHKEY_TEST_STORAGE=postgres, on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { mcpResourceUri } from '../src/domain/resource-uri.js';
import { createApplication } from '../src/registry/applications.js';
import { addResource } from '../src/registry/resources.js';
import { createScope } from '../src/registry/scopes.js';
import { createUser } from '../src/registry/users.js';
import { ADMIN_PASSWORD } from './helpers/admin.js';
import { checkPage, go, openConsole, signIn, type ConsoleBrowser } from './helpers/console-browser.js';
import { FIXTURE_MCP_APIS } from './helpers/mcp.js';
import { refreshCache, registryDeps } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

/** An external resource with an identifier long enough to overflow a table cell that does not wrap it. */
const LONG_URI = 'https://agents-gateway.eu-central-1.internal.example-enterprise.com/tenants/emea-operations/mcp/servers/knowledge-base-search/v2';
const ADDED_URI = 'https://tools.example.com/mcp';

/** Nothing past the right edge of the window, no table scrolling sideways. */
async function overflow(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const cw = document.documentElement.clientWidth;
    const out: string[] = [];
    if (document.documentElement.scrollWidth > cw) out.push(`page ${document.documentElement.scrollWidth}`);
    for (const el of document.querySelectorAll('main table, main code, main a, main form, main .card')) if (el.getBoundingClientRect().right > cw + 0.5) out.push((el.textContent ?? '').slice(0, 60));
    for (const d of document.querySelectorAll('main dd')) if (d.scrollWidth > d.clientWidth + 1) out.push(`text runs out of its box: ${(d.textContent ?? '').slice(0, 60)}`);
    for (const w of document.querySelectorAll('main .table-wrap')) if (w.scrollWidth > w.clientWidth + 1) out.push(`a table scrolls sideways: ${(w.textContent ?? '').slice(0, 60)}`);
    return out;
  });
}

describe('the console: MCP servers, resources, an application limited to resources', { timeout: 60_000 }, () => {
  let server: TestServer;
  let c: ConsoleBrowser;
  let page: Page;
  let clientId = '';
  let deskUri = '';

  before(async () => {
    server = await startTestServer({ apisDir: FIXTURE_MCP_APIS });
    const deps = registryDeps(server);
    for (const s of ['desk.write', 'desk.read']) await createScope(deps, s, s);
    await createUser(deps, { userName: 'svc-console-mcp' });
    deskUri = mcpResourceUri(server.url, { namespace: 'acme', id: 'desk' });
    await addResource(deps, { uri: LONG_URI, name: 'Knowledge base search', scopes: ['desk.read'] });
    const app = await createApplication(deps, { name: 'Desk agent', grantTypes: ['client_credentials'], appUser: 'svc-console-mcp', scopes: ['desk.write', 'desk.read'], resources: [deskUri, LONG_URI] }, { origin: 'registration' });
    clientId = app.application.clientId;
    await refreshCache(server);
    c = await openConsole(server, { width: 1280, height: 800 });
    page = c.page;
    await signIn(page, 'admin', ADMIN_PASSWORD);
  });
  after(async () => {
    await c?.close();
    await server?.close();
  });

  it('the REST APIs page shows each MCP server: its resource identifier, a metadata link that answers, the tools with scopes and roles', async () => {
    await go(page, '#/apis', 'REST APIs');
    const desk = page.locator('section.card', { has: page.getByRole('heading', { level: 2, name: /Acme service desk/ }) });
    await desk.waitFor();
    assert.equal(await desk.locator('code.uri').textContent(), deskUri);
    const link = desk.getByRole('link', { name: 'metadata (RFC 9728)' });
    const href = await link.getAttribute('href');
    assert.equal(href, `${server.url}/.well-known/oauth-protected-resource/mcp/acme/desk`);
    const metadata = await fetch(href ?? '');
    assert.equal(metadata.status, 200);
    assert.equal(((await metadata.json()) as { resource?: string }).resource, deskUri);
    const rows = await desk.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
    assert.deepEqual(
      rows.map((r) => [r[0], r[2], r[3]]),
      [
        ['ping', '—', '—'],
        ['ticket_create', '—', 'desk.write'],
        ['ticket_close', 'itil', '—'],
      ],
    );
    // The open server says so, and still names the scope of its one protected tool.
    const open = page.locator('section.card', { has: page.getByRole('heading', { level: 2, name: /Acme open tools/ }) });
    await open.getByText('open (no authentication)', { exact: false }).waitFor();
    await checkPage(page, 'console-mcp-servers');
    assert.deepEqual(await overflow(page), []);
  });

  it('the Resources page lists hosted and external resources, registers one and removes it', async () => {
    await go(page, '#/resources', 'Resources');
    const table = page.locator('table', { has: page.getByRole('columnheader', { name: 'Resource' }) });
    const row = (uri: string) => table.locator('tbody tr', { has: page.locator('code', { hasText: uri }) });
    await row(deskUri).waitFor();
    assert.match((await row(deskUri).textContent()) ?? '', /hosted MCP server/);
    assert.match((await row(LONG_URI).textContent()) ?? '', /Knowledge base search.*external.*desk\.read/);
    assert.match((await row(`${server.url}/api/acme/orders`).textContent()) ?? '', /hosted API/);
    // Hosted ones cannot be removed here (they are code); external ones can.
    assert.equal(await row(deskUri).getByRole('button', { name: 'Remove' }).count(), 0);
    await checkPage(page, 'console-resources');
    assert.deepEqual(await overflow(page), []);

    await page.getByLabel('Resource identifier', { exact: true }).fill(ADDED_URI);
    await page.getByLabel('Name', { exact: true }).fill('Example tools');
    await page.getByLabel('Scopes accepted', { exact: true }).fill('desk.read');
    await page.getByRole('button', { name: 'Register resource' }).click();
    await page.getByText(`Resource ${ADDED_URI} registered.`).waitFor();
    await row(ADDED_URI).waitFor();
    assert.deepEqual((await server.latchkey.storage.resources.byUri(ADDED_URI))?.scopes, ['desk.read']);

    await row(ADDED_URI).getByRole('button', { name: 'Remove' }).click();
    await page.getByRole('button', { name: `Remove ${ADDED_URI}` }).click();
    await page.getByText(`Resource ${ADDED_URI} removed.`).waitFor();
    await row(ADDED_URI).waitFor({ state: 'detached' });
    assert.equal(await server.latchkey.storage.resources.byUri(ADDED_URI), undefined);
    assert.deepEqual(c.errors, []);
  });

  it("an application's page shows the resources it is limited to and where it came from", async () => {
    await go(page, `#/applications/${encodeURIComponent(clientId)}`, 'Desk agent');
    const status = page.locator('.card', { has: page.getByRole('heading', { level: 2, name: 'Status' }) });
    await status.locator('.badge', { hasText: 'Registered' }).waitFor();
    assert.match((await status.textContent()) ?? '', /registered itself \(dynamic client registration, RFC 7591\)/);
    const limited = page.getByRole('list', { name: 'Resources its tokens may be requested for' });
    assert.deepEqual(await limited.locator('li').allTextContents(), [deskUri, LONG_URI]);
    await checkPage(page, 'console-application-resources');
    assert.deepEqual(await overflow(page), []);
    assert.deepEqual(c.errors, []);
  });
});
