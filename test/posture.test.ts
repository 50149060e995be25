/**
 * Client posture (issue 14, item 4): a dormant application, an old secret and a `useraccount`
 * application are each flagged, with a fix that works, in `latchkey apps posture` (text and
 * --json), the admin API (GET /posture) and the console's Posture page (headless Chromium, with a
 * screenshot); `latchkey doctor` reports the worst. The counting is checked from the requests
 * themselves: the tokens, API calls and refusals of a client show up in its figures. Runs on
 * SQLite and, with LATCHKEY_TEST_STORAGE=postgres, on PostgreSQL.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import type { IO } from '../src/cli/context.js';
import { main } from '../src/cli/main.js';
import { runDoctor } from '../src/diagnostics/doctor.js';
import type { ApplicationPosture, PostureReport } from '../src/diagnostics/posture.js';
import type { Application } from '../src/domain/model.js';
import { createApplication } from '../src/registry/applications.js';
import { createScope } from '../src/registry/scopes.js';
import { setProperty } from '../src/registry/settings.js';
import { createUser } from '../src/registry/users.js';
import { ADMIN_PASSWORD, adminToken, bearerClient } from './helpers/admin.js';
import { apiCall, FIXTURE_APIS } from './helpers/api.js';
import { checkPage, go, openConsole, signIn, type ConsoleBrowser } from './helpers/console-browser.js';
import { shellWords } from './helpers/diagnostics.js';
import { refreshCache, registryDeps, tokenRequest } from './helpers/oauth.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const DAY = 86_400_000;
const CC = 'glide.oauth.inbound.client.credential.grant_type.enabled';

/** Times as the admin API and --json write them (ISO text). */
type Json<T> = T extends number ? string | number : T extends object ? { [K in keyof T]: Json<T[K]> } : T;
type PostureJson = Json<PostureReport>;

let server: TestServer;
const ids = { busy: '', dormant: '', oldSecret: '', everything: '' };
let busySecret = '';
let wouldRequestId = '';

async function cli(args: readonly string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: IO = { out: (t) => void (out += t), err: (t) => void (err += t), readStdin: async () => '' };
  const code = await main(['node', 'latchkey', ...args, '--db', server.db], io);
  return { code, out, err };
}

async function postureJson(args: readonly string[] = []): Promise<PostureJson> {
  const r = await cli(['apps', 'posture', '--json', ...args]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out) as PostureJson;
}

const appOf = (report: PostureJson, clientId: string) => {
  const found = report.applications.find((a) => a.clientId === clientId);
  assert.ok(found !== undefined, `${clientId} in the report`);
  return found as Json<ApplicationPosture>;
};
const findingIds = (a: Json<ApplicationPosture>) => a.findings.map((f) => f.id);

async function backdate(clientId: string, change: (a: Application) => Application): Promise<void> {
  const storage = server.latchkey.storage;
  const app = await storage.applications.byClientId(clientId);
  assert.ok(app !== undefined);
  await storage.applications.update(change(app));
}

before(async () => {
  server = await startTestServer({ apisDir: FIXTURE_APIS });
  const deps = registryDeps(server);
  const now = Date.now();
  await setProperty(deps, CC, 'true');
  for (const s of ['orders.read', 'orders.write']) if ((await server.latchkey.storage.scopes.byName(s)) === undefined) await createScope(deps, s, s);
  await createUser(deps, { userName: 'svc-posture' });
  const busy = await createApplication(deps, { name: 'Busy exporter', grantTypes: ['client_credentials'], appUser: 'svc-posture', scopes: ['orders.read', 'orders.write'] });
  const dormant = await createApplication(deps, { name: 'Forgotten partner', grantTypes: ['client_credentials'], appUser: 'svc-posture', scopes: ['orders.read'] });
  const old = await createApplication(deps, { name: 'Old secret sync', grantTypes: ['client_credentials'], appUser: 'svc-posture', scopes: ['orders.read'] });
  const everything = await createApplication(deps, { name: 'Everything bot', grantTypes: ['client_credentials'], appUser: 'svc-posture', scopes: ['useraccount'] });
  ids.busy = busy.application.clientId;
  ids.dormant = dormant.application.clientId;
  ids.oldSecret = old.application.clientId;
  ids.everything = everything.application.clientId;
  busySecret = busy.clientSecret ?? '';
  // Registered 60 days ago, with usage counted since 45 days ago (a row of another client then):
  // the forgotten partner has gone unused for 45 days, past latchkey.posture.dormant_days (30).
  for (const id of Object.values(ids)) await backdate(id, (a) => ({ ...a, createdAt: now - 60 * DAY, secretRotatedAt: now - 60 * DAY }));
  await backdate(ids.oldSecret, (a) => ({ ...a, secretRotatedAt: now - 200 * DAY }));
  await server.latchkey.storage.usage.add([{ clientId: ids.busy, day: now - (now % DAY) - 45 * DAY, scope: '', tokens: 9, calls: 0, refusals: 0, lastUseAt: now - 45 * DAY }]);
  await refreshCache(server);

  // Real traffic. The busy exporter: 3 tokens (orders.read), 2 API calls admitted, a wrong secret
  // and an API call its token lacks the scope for (2 refusals).
  let token = '';
  for (let i = 0; i < 3; i++) {
    const res = await tokenRequest(server.url, { basic: [ids.busy, busySecret], form: { grant_type: 'client_credentials', scope: 'orders.read' } });
    assert.equal(res.status, 200, res.text);
    token = res.json?.access_token as string;
  }
  for (let i = 0; i < 2; i++) assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: token })).status, 200);
  assert.equal((await tokenRequest(server.url, { basic: [ids.busy, 'an-old-secret'], form: { grant_type: 'client_credentials' } })).status, 401);
  assert.equal((await apiCall(server.url, { method: 'PUT', path: '/api/acme/orders/7', bearer: token, json: { x: 1 } })).status, 403);
  // Refusals naming a client id nobody registered are not counted (nor kept in memory).
  assert.equal((await tokenRequest(server.url, { basic: [`made-up-${randomUUID()}`, 'x'], form: { grant_type: 'client_credentials' } })).status, 401);
  // The old-secret sync and the everything bot are used (so not dormant); the bot's call is admitted by useraccount alone.
  for (const [id, secret] of [[ids.oldSecret, old.clientSecret], [ids.everything, everything.clientSecret]] as const) {
    const res = await tokenRequest(server.url, { basic: [id, secret ?? ''], form: { grant_type: 'client_credentials' } });
    assert.equal(res.status, 200, res.text);
    if (id === ids.everything) assert.equal((await apiCall(server.url, { path: '/api/acme/orders', bearer: res.json?.access_token as string })).status, 200);
  }
  // A report-only rule that would refuse the busy exporter: its "would refuse" record (the rules
  // themselves are another part of the issue; posture only reads the records).
  const ruleId = `rule_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
  await server.latchkey.storage.rules.create({ id: ruleId, kind: 'api_requirement', target: 'acme/orders', spec: { scopes: ['orders.admin'] }, mode: 'report', note: null, createdAt: now, createdBy: 'cli:test', updatedAt: now, enforcedAt: null, enforcedBy: null });
  wouldRequestId = randomUUID();
  await server.latchkey.storage.refusals.record({
    requestId: wouldRequestId, at: now, endpoint: 'api acme/orders', status: 403, error: 'insufficient_scope', reason: 'api.scope_missing', description: 'The token needs one of the scopes: orders.admin.',
    hint: null, clientId: ids.busy, applicationName: 'Busy exporter', userName: 'svc-posture', remoteAddress: '127.0.0.1', facts: null, ruleId,
  });
  await server.latchkey.usage.flush();
});

after(async () => {
  await server?.close();
});

describe('client posture', { timeout: 240_000 }, () => {
  it('counts each client: tokens, API calls (by the scope that admitted them) and refusals show up in its figures', async () => {
    const report = await postureJson();
    const busy = appOf(report, ids.busy);
    assert.deepEqual(busy.tokens, { last7Days: 3, last30Days: 3 });
    assert.deepEqual(busy.calls, { last7Days: 2, last30Days: 2 });
    assert.deepEqual(busy.refusals, { last7Days: 2, last30Days: 2 });
    assert.ok(typeof busy.lastUseAt === 'string' && Date.now() - Date.parse(busy.lastUseAt) < 120_000, String(busy.lastUseAt));
    assert.deepEqual(busy.scopes.map((s) => [s.scope, s.tokens30Days, s.calls30Days]), [['orders.read', 3, 2], ['orders.write', 0, 0]]);
    assert.equal(busy.dormant, false);
    const bot = appOf(report, ids.everything);
    assert.deepEqual([bot.tokens.last7Days, bot.calls.last7Days, bot.refusals.last7Days], [1, 1, 0]);
    assert.deepEqual(bot.scopes.map((s) => [s.scope, s.tokens30Days, s.calls30Days]), [['useraccount', 1, 1]]);
    const stored = await server.latchkey.storage.usage.list({ since: 0 });
    assert.ok(stored.every((r) => Object.values(ids).includes(r.clientId) || r.clientId.length > 0), 'rows of registered clients only');
    assert.equal(stored.filter((r) => r.clientId.startsWith('made-up-')).length, 0, 'an unregistered client id is not counted');
    assert.equal(typeof report.countingStartedAt, 'string');
    // The rule it would break, with the request to explain.
    assert.deepEqual(busy.wouldRefuse.map((w) => [w.count, w.latestRequestId, w.reason]), [[1, wouldRequestId, 'api.scope_missing']]);
    const would = busy.findings.find((f) => f.id === 'would_refuse');
    assert.equal(would?.command, `latchkey explain ${wouldRequestId}`);
    assert.equal((await cli(shellWords(would?.command ?? '').slice(1))).code, 0, 'the explain command runs');
  });

  it('the CLI flags the dormant application, the old secret and the useraccount application, worst first, each with a command that works', async () => {
    const report = await postureJson();
    const dormant = appOf(report, ids.dormant);
    assert.equal(dormant.dormant, true);
    const idle = Number(dormant.idleDays);
    assert.ok(idle >= 44 && idle <= 46, String(idle));
    assert.deepEqual(findingIds(dormant).slice(0, 1), ['dormant']);
    assert.equal(dormant.findings[0]?.severity, 'warning');
    assert.equal(dormant.findings[0]?.command, `latchkey apps update ${ids.dormant} --active false`);
    const old = appOf(report, ids.oldSecret);
    assert.ok(findingIds(old).includes('secret_rotation_due'));
    assert.equal(old.secret?.ageDays, 200);
    assert.equal(old.secret?.rotationDue, true);
    assert.equal(old.findings.find((f) => f.id === 'secret_rotation_due')?.command, `latchkey apps rotate-secret ${ids.oldSecret}`);
    const bot = appOf(report, ids.everything);
    assert.equal(bot.allAccess, true);
    assert.equal(bot.findings.find((f) => f.id === 'all_access_scope')?.command, `latchkey apps update ${ids.everything} --scopes ''`);
    assert.match(bot.findings.find((f) => f.id === 'all_access_scope')?.detail ?? '', /1 API call in 30 days was admitted by it alone/);
    // Worst first: every application with a warning before those with notes only or nothing.
    const ranks = report.applications.map((a) => ({ error: 0, warning: 1, info: 2 })[a.worst ?? 'info'] + (a.worst === null ? 1 : 0));
    assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b));
    // The text: a table that fits 80 columns, then every fix with its command on a line of its own.
    const text = await cli(['apps', 'posture']);
    assert.equal(text.code, 0, text.err);
    for (const line of text.out.split('\n')) if (!line.startsWith('   latchkey ')) assert.ok(line.length <= 80, `fits 80 columns: ${line}`);
    for (const command of [`latchkey apps update ${ids.dormant} --active false`, `latchkey apps rotate-secret ${ids.oldSecret}`, `latchkey apps update ${ids.everything} --scopes ''`]) {
      assert.ok(text.out.includes(`\n   ${command}\n`), command);
    }
    assert.match(text.out, /\[warning\] dormant: Forgotten partner/);
    // --app: one application, by name.
    const one = await postureJson(['--app', 'Old secret sync']);
    assert.deepEqual(one.applications.map((a) => a.clientId), [ids.oldSecret]);
    const missing = await cli(['apps', 'posture', '--app', 'no such app']);
    assert.notEqual(missing.code, 0);
  });

  it('the admin API answers the same report (GET /posture, GET /applications/:clientId/posture); doctor reports the worst', async () => {
    const api = bearerClient(server, await adminToken(server));
    const res = await api.call('GET', '/posture');
    assert.equal(res.status, 200, res.text);
    const report = res.json as PostureJson;
    assert.ok(findingIds(appOf(report, ids.dormant)).includes('dormant'));
    assert.ok(findingIds(appOf(report, ids.oldSecret)).includes('secret_rotation_due'));
    assert.ok(findingIds(appOf(report, ids.everything)).includes('all_access_scope'));
    assert.match(String(report.generatedAt), /^\d{4}-\d\d-\d\dT/);
    const one = await api.call('GET', `/applications/${ids.dormant}/posture`);
    assert.equal(one.status, 200);
    assert.deepEqual((one.json as PostureJson).applications.map((a) => a.clientId), [ids.dormant]);
    assert.equal((await api.call('GET', '/posture?app=Old%20secret%20sync')).json.applications[0].clientId, ids.oldSecret);
    assert.equal((await api.call('GET', '/applications/nope/posture')).status, 404);
    const findings = await runDoctor({ storage: server.latchkey.storage, router: server.latchkey.router, clock: server.latchkey.clock });
    const of = (id: string, target: string) => findings.filter((f) => f.id === id && f.target === target);
    assert.equal(of('application_dormant', ids.dormant).length, 1);
    assert.equal(of('application_dormant', ids.dormant)[0]?.command, `latchkey apps update ${ids.dormant} --active false`);
    assert.equal(of('secret_rotation_due', ids.oldSecret).length, 1);
    assert.equal(of('useraccount_scope_allowed', ids.everything).length, 1);
    assert.equal(findings.filter((f) => f.id === 'application_dormant').length, 1, 'only the dormant one');
    const doctor = await cli(['doctor']);
    assert.match(doctor.out, /application_dormant/);
  });

  describe('the console Posture page', () => {
    let c: ConsoleBrowser;
    let page: Page;
    before(async () => {
      c = await openConsole(server, { width: 1280, height: 800 });
      page = c.page;
      await signIn(page, 'admin', ADMIN_PASSWORD);
    });
    after(async () => {
      await c?.close();
    });

    it('flags each, sorts and filters, opens the fixes with the command; fits 1280 px; keyboard sorts', async () => {
      await go(page, '#/posture', 'Posture');
      const row = (id: string) => page.locator(`tr.posture-row[data-client="${id}"]`);
      await row(ids.dormant).waitFor();
      assert.equal(await row(ids.dormant).getAttribute('data-worst'), 'warning');
      assert.match(await row(ids.dormant).innerText(), /dormant 4\d d/);
      assert.match(await row(ids.oldSecret).innerText(), /200 d\s*due/);
      await row(ids.everything).getByRole('button', { name: /^Fixes/ }).click();
      const bot = page.locator(`#posture-${ids.everything}`);
      await bot.locator('[data-posture-finding="all_access_scope"]').waitFor();
      assert.equal(await bot.locator('[data-posture-finding="all_access_scope"] code').innerText(), `latchkey apps update ${ids.everything} --scopes ''`);
      await row(ids.dormant).getByRole('button', { name: /^Fixes/ }).click();
      const dormant = page.locator(`#posture-${ids.dormant} [data-posture-finding="dormant"]`);
      await dormant.waitFor();
      assert.equal(await dormant.locator('code').innerText(), `latchkey apps update ${ids.dormant} --active false`);
      assert.equal(await dormant.getByRole('button', { name: 'Copy command' }).count(), 1);
      await row(ids.oldSecret).getByRole('button', { name: /^Fixes/ }).click();
      await page.locator(`#posture-${ids.oldSecret} [data-posture-finding="secret_rotation_due"]`).waitFor();
      // Nothing past the right edge at 1280 px, no table scrolling sideways.
      const overflow = await page.evaluate(() => {
        const cw = document.documentElement.clientWidth;
        const out: string[] = [];
        if (document.documentElement.scrollWidth > cw) out.push(`page ${document.documentElement.scrollWidth}`);
        for (const el of document.querySelectorAll('main table, main table button, main table a')) if (el.getBoundingClientRect().right > cw + 0.5) out.push((el.textContent ?? '').slice(0, 40));
        for (const w of document.querySelectorAll('main .table-wrap')) if (w.scrollWidth > w.clientWidth + 1) out.push('a table scrolls sideways');
        return out;
      });
      assert.deepEqual(overflow, []);
      await checkPage(page, 'posture');

      // Sorting by a column: refusals, most first; the header says so.
      const refusedHeader = page.locator('th', { has: page.getByRole('button', { name: 'Refused' }) });
      await page.getByRole('button', { name: 'Refused' }).click();
      assert.equal(await refusedHeader.getAttribute('aria-sort'), 'descending');
      assert.equal(await page.locator('tr.posture-row').first().getAttribute('data-client'), ids.busy);
      // From the keyboard: the focused header button sorts with Enter (the other way round now).
      await page.getByRole('button', { name: 'Refused' }).focus();
      await page.keyboard.press('Enter');
      assert.equal(await refusedHeader.getAttribute('aria-sort'), 'ascending');
      assert.notEqual(await page.locator('tr.posture-row').first().getAttribute('data-client'), ids.busy);
      // Filters: by name, by severity, dormant only.
      await page.getByLabel('Application', { exact: true }).fill('Everything');
      await page.waitForFunction(() => document.querySelectorAll('tr.posture-row').length === 1);
      assert.equal(await page.locator('tr.posture-row').first().getAttribute('data-client'), ids.everything);
      await page.getByLabel('Application', { exact: true }).fill('');
      await page.getByLabel('Dormant only', { exact: true }).check();
      await page.waitForFunction(() => document.querySelectorAll('tr.posture-row').length === 1);
      assert.equal(await page.locator('tr.posture-row').first().getAttribute('data-client'), ids.dormant);
      await page.getByLabel('Dormant only', { exact: true }).uncheck();
      await page.getByLabel('Findings', { exact: true }).selectOption('none');
      for (const r of await page.locator('tr.posture-row').all()) assert.equal(await r.getAttribute('data-worst'), 'none');
      await checkPage(page, 'posture-filtered');
      assert.deepEqual(c.errors, []);
    });
  });

  it('the fixes work: deactivating the dormant application, rotating the old secret and dropping useraccount clear their findings', async () => {
    const before = await postureJson();
    for (const [id, finding] of [[ids.dormant, 'dormant'], [ids.oldSecret, 'secret_rotation_due'], [ids.everything, 'all_access_scope']] as const) {
      const command = appOf(before, id).findings.find((f) => f.id === finding)?.command ?? '';
      const r = await cli(shellWords(command).slice(1));
      assert.equal(r.code, 0, `${command}: ${r.err}`);
    }
    const after = await postureJson();
    assert.deepEqual(findingIds(appOf(after, ids.dormant)), [], 'an inactive application has nothing to fix');
    assert.equal(appOf(after, ids.dormant).active, false);
    assert.ok(!findingIds(appOf(after, ids.oldSecret)).includes('secret_rotation_due'));
    assert.ok(!findingIds(appOf(after, ids.everything)).includes('all_access_scope'));
  });
});
