import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { ROOT } from './api.js';
import { launchChromium } from './chromium.js';
import type { TestServer } from './server.js';

/**
 * The console in headless Chromium for the tests of single features (test/console-admin,
 * test/console-fit): a browser on a test server, signing in through the real pages, moving between
 * pages, and the checks every page passes (labels, one h1, a main landmark) with a screenshot in
 * the folder test/console.test.ts uses.
 */

export const SHOTS = join(ROOT, 'test-artifacts', 'screenshots');

export interface ConsoleBrowser {
  readonly browser: Browser;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Script errors, CSP violations and failed loads seen so far (tests remove the ones they expect). */
  readonly errors: string[];
  close(): Promise<void>;
}

export async function openConsole(server: TestServer, viewport = { width: 1280, height: 800 }): Promise<ConsoleBrowser> {
  mkdirSync(SHOTS, { recursive: true });
  const browser = await launchChromium();
  const context = await browser.newContext({ baseURL: server.url, viewport, locale: 'en-GB', timezoneId: 'UTC' });
  context.setDefaultTimeout(15_000);
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && r.status() !== 401) errors.push(`HTTP ${r.status()} ${r.request().method()} ${r.url()}`);
  });
  return {
    browser,
    context,
    page,
    errors,
    close: async () => {
      await context.close().catch(() => undefined);
      await browser.close().catch(() => undefined);
    },
  };
}

/** Removes the first recorded error matching `pattern` (an answer the test expects), failing when there is none. */
export function expectError(errors: string[], pattern: RegExp): void {
  const i = errors.findIndex((e) => pattern.test(e));
  assert.ok(i >= 0, `expected an error like ${pattern}: ${errors.join('\n')}`);
  errors.splice(i, 1);
}

/**
 * Signs in on the instance's sign-in page (reached from /console/ or from "Sign in again") and
 * lands on Home: no consent page on the way (the console is first-party).
 */
export async function signIn(page: Page, username: string, password: string, start: string | null = '/console/'): Promise<void> {
  if (start !== null) await page.goto(start);
  await page.getByLabel('User name', { exact: true }).waitFor();
  assert.match(page.url(), /\/oauth\/authorize\?/);
  const committed: string[] = [];
  const onNavigated = (f: ReturnType<Page['mainFrame']>) => {
    if (f === page.mainFrame()) committed.push(f.url());
  };
  page.on('framenavigated', onNavigated);
  await page.getByLabel('User name', { exact: true }).fill(username);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(/\/console\/(#.*)?$/);
  await page.getByRole('heading', { level: 1, name: 'Home' }).waitFor();
  page.off('framenavigated', onNavigated);
  assert.ok(!committed.some((u) => /\/oauth\/authorize/.test(u)), `no consent page: ${committed.join(' → ')}`);
}

/** Goes to a console route and waits for its heading (and, when the page changed, for the focus on it). */
export async function go(page: Page, hash: string, heading: string | RegExp): Promise<void> {
  // The console moves the focus to the heading when the page (the route's path) changes.
  const moved = await page.evaluate((h) => {
    const path = (x: string) => (x === '' ? '#/' : x.split('?')[0]);
    const changed = path(window.location.hash) !== path(h);
    window.location.hash = h;
    return changed;
  }, hash);
  await page.getByRole('heading', { level: 1, name: heading, exact: typeof heading === 'string' }).waitFor();
  if (!moved) return;
  await page.waitForFunction(() => document.activeElement?.id === 'page-title');
}

/** Every form control labelled, one h1, a main landmark; then a full-page screenshot `<name>.png`. */
export async function checkPage(page: Page, name: string): Promise<void> {
  const unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('input, select, textarea')]
      .filter((el) => !(el instanceof HTMLInputElement && el.type === 'hidden'))
      .filter((el) => {
        const labels = (el as HTMLInputElement).labels;
        const labelled = (labels !== null && labels.length > 0 && [...labels].some((l) => (l.textContent ?? '').trim() !== '')) || (el.getAttribute('aria-label') ?? '').trim() !== '' || (el.getAttribute('aria-labelledby') ?? '').trim() !== '';
        return !labelled;
      })
      .map((el) => el.outerHTML.slice(0, 200)),
  );
  assert.deepEqual(unlabelled, [], `${name}: every form control needs a label`);
  assert.equal(await page.locator('h1').count(), 1, `${name}: one h1 per page`);
  assert.equal(await page.locator('main').count(), 1, `${name}: a main landmark`);
  await page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
}
