import { existsSync, mkdirSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';

/** Debian's Chromium; the test runner passes HERALD_CHROMIUM when it is elsewhere. */
export const CHROMIUM_PATH = process.env.HERALD_CHROMIUM ?? '/usr/bin/chromium';

/** A reason to skip browser tests, or false when Chromium is there. */
export const skipWithoutChromium: string | false = existsSync(CHROMIUM_PATH) ? false : `Chromium not found at ${CHROMIUM_PATH} (apt-get install -y chromium)`;

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
  });
}

export const ARTIFACTS_DIR = 'test-artifacts';

/** Saves a full-page screenshot as test-artifacts/<name>.png (gitignored) for people to look at. */
export async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(ARTIFACTS_DIR, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS_DIR}/${name}.png`, fullPage: true });
}
