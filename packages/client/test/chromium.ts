/**
 * Debian's Chromium for the browser tests: whether it is here, and launching it with the flags
 * this closed network needs. Missing, a browser test skips with a printed reason locally and
 * fails under CI=true (`launchChromium` throws there).
 */
import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? undefined : `${CHROMIUM} not found`;

/** True when the browser tests of `file` should skip (Chromium missing, not CI); says why once. */
export function skipWithoutChromium(file: string): boolean {
  const skip = missing !== undefined && process.env.CI !== 'true';
  if (skip) console.log(`${file} skipped: ${missing} (under CI=true this fails)`);
  return skip;
}

export function launchChromium(): Promise<Browser> {
  if (missing) throw new Error(`CI=true needs Chromium: ${missing}`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
