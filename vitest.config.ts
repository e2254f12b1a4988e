import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Tests import workspace packages by name; the `source` export condition points them at
// src/, so `npm test` needs no build first and a stack trace shows the TypeScript line.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'apps/*/test/**/*.test.ts',
      'apps/*/*/test/**/*.test.ts',
    ],
    testTimeout: 20_000,
    hookTimeout: 20_000,
    // Several suites start servers and child processes; two cores cannot run many at once.
    maxWorkers: 2,
  },
  root: fileURLToPath(new URL('.', import.meta.url)),
});
