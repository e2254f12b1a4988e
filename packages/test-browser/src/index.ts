/**
 * Debian's Chromium for the browser tests of every Tether package and app: whether it is here,
 * whether a suite skips, and launching it with the flags this closed network needs. Missing, a
 * browser suite skips with a printed reason locally and fails under CI=true (`launchChromium`
 * throws there), so a machine without the browser can't turn CI green by skipping.
 *
 * Tests only: this workspace package is private and never packed.
 *
 * @example
 * ```ts
 * import { launchChromium, skipWithoutChromium } from '@tether/test-browser';
 * const skip = skipWithoutChromium('browser.test.ts');
 * describe.skipIf(skip)('in Chromium', () => {
 *   beforeAll(async () => { browser = await launchChromium(); });
 * });
 * ```
 * @module
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium, type LaunchOptions } from 'playwright-core';

/** Where Debian's `chromium` package puts the browser (`.ci/run` installs it when missing). */
export const CHROMIUM = '/usr/bin/chromium';

/**
 * Headless, and nothing that reaches for the network on its own: no QUIC, no first-run or
 * background requests, no component updates, no sync (this machine reaches no outside host).
 * `--no-sandbox` because the tests run as root.
 */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Why Chromium can't be launched (`/usr/bin/chromium not found`), or undefined when it can. */
export const chromiumMissing: string | undefined = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found`;

/** True when browser suites skip: Chromium is missing and this is not CI (`CI=true` never skips). */
export const skipChromium: boolean = chromiumMissing !== undefined && process.env.CI !== 'true';

/**
 * `skipChromium`, saying once on stdout that the suites named by `what` are skipped and why.
 * Call it once per test file, at the top.
 */
export function skipWithoutChromium(what: string): boolean {
  if (skipChromium) console.log(`${what} skipped: ${chromiumMissing} (under CI=true this fails)`);
  return skipChromium;
}

/**
 * Launches `/usr/bin/chromium` with `CHROMIUM_ARGS` (plus `options.args`). Throws at once when it
 * is missing: only reached under CI=true, where a missing browser is a failure.
 */
export function launchChromium(options: Omit<LaunchOptions, 'executablePath'> = {}): Promise<Browser> {
  if (chromiumMissing) throw new Error(`CI=true needs Chromium for the browser tests: ${chromiumMissing}`);
  return chromium.launch({ ...options, executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...(options.args ?? [])] });
}
