import { defineConfig } from 'vitest/config';

// Suites that load the AWS SDK (`*.suite.ts`) run under this config, started by the `*.test.ts` bridges beside them
// (test-support/run-suite.ts). The root config resolves packages with the `module` condition, which makes Node load
// the SDK's dist-es build, whose extension-less relative imports Node cannot resolve. Once the root config drops
// `module` (keep `@hearth/source`, `node`), rename the suites to `*.test.ts` and delete the bridges.
const conditions = ['@hearth/source', 'node', 'development|production'];

export default defineConfig({
  root: '../..',
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@hearth/source'] } },
  test: {
    include: ['packages/storage/src/**/*.suite.ts'],
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
