/**
 * Where `tether serve` takes its drain settings from: defaults for a Kubernetes rolling update
 * (5 s delay, 10 s spread, 25 s deadline: inside the default 30 s grace period), then the config
 * file, then TETHER_DRAIN_*, then the flags. The drain itself is rolling-restart.test.ts.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterEach, expect, it } from 'vitest';
import { serveOptions } from '../src/cli.js';
import { SERVER_DEFAULTS } from '../src/index.js';

const saved = { ...process.env };
afterEach(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});
const logger = pino({ level: 'silent' });
const drain = (o: { drainDelay?: unknown; drainSpread?: unknown; drainDeadline?: unknown }) => [
  o.drainDelay,
  o.drainSpread,
  o.drainDeadline,
];

it('drains by default for 5 s, then over 10 s, within 25 s; the config file, TETHER_DRAIN_* and flags override in that order', async () => {
  for (const key of ['TETHER_DRAIN_DELAY', 'TETHER_DRAIN_SPREAD', 'TETHER_DRAIN_DEADLINE']) delete process.env[key];
  Object.assign(process.env, { TETHER_JWT_SECRET: 'drain-options-secret', TETHER_BROKER: 'memory' });
  expect(SERVER_DEFAULTS.serve).toEqual({ drainDelay: '5s', drainSpread: '10s', drainDeadline: '25s' });
  expect(drain(await serveOptions({}, logger))).toEqual(['5s', '10s', '25s']);

  const config = join(mkdtempSync(join(tmpdir(), 'tether-drain-')), 'tether.json');
  writeFileSync(config, JSON.stringify({ drainDelay: '2s', drainSpread: '3s', drainDeadline: '20s' }));
  process.env.TETHER_CONFIG = config;
  expect(drain(await serveOptions({}, logger))).toEqual(['2s', '3s', '20s']);

  Object.assign(process.env, { TETHER_DRAIN_DELAY: '4s', TETHER_DRAIN_SPREAD: '6000' });
  expect(drain(await serveOptions({}, logger))).toEqual(['4s', '6000', '20s']);

  expect(drain(await serveOptions({ drainDelay: '1s', drainDeadline: '9s' }, logger))).toEqual(['1s', '6000', '9s']);
});
