import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * The browser the console tests drive: Debian's chromium package, never a downloaded browser
 * build. CI installs it in .ci/run; on a machine without it the tests fail (they do not skip) with
 * the command that installs it.
 */
export const CHROMIUM_PATH = process.env.LATCHKEY_CHROMIUM ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS: readonly string[] = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export const CHROMIUM_MISSING = `Chromium is not installed at ${CHROMIUM_PATH}. The console browser tests drive Debian's chromium package (never a downloaded browser): install it with
  apt-get update && apt-get install -y chromium
(.ci/run does this in CI), or point LATCHKEY_CHROMIUM at a Chromium binary.`;

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(CHROMIUM_MISSING);
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: [...CHROMIUM_ARGS], timeout: 60_000 });
}
