/**
 * Debian's Chromium for the client's browser tests, from the one helper every package uses
 * (@tether/test-browser): missing, a browser test skips with a printed reason locally and fails
 * under CI=true (`launchChromium` throws there).
 */
export { launchChromium, skipWithoutChromium } from '@tether/test-browser';
