// Chromium for the console's browser tests and its benchmark: /usr/bin/chromium (the Debian package,
// scripts/chromium-up.sh) driven by playwright-core, or why it cannot run here (the caller then skips,
// saying so).
import fs from 'node:fs';

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

// playwright's objects are used loosely in the tests (page.$$eval callbacks run in the browser)
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Any = any;

/** playwright-core's chromium, or why it cannot be used ('' when it can). */
export async function chromiumOrWhy(): Promise<{ chromium: Any; why: string }> {
  let pw: Any;
  try {
    const name = 'playwright-core';
    pw = await import(/* @vite-ignore */ name);
  } catch {
    return { chromium: undefined, why: 'the npm package playwright-core is not installed' };
  }
  if (!fs.existsSync(CHROMIUM)) return { chromium: undefined, why: `${CHROMIUM} is missing (run scripts/chromium-up.sh)` };
  return { chromium: pw.chromium, why: '' };
}

/** A headless Chromium with the flags this machine needs. */
export function launchChromium(chromium: Any): Promise<Any> {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS, headless: true });
}
