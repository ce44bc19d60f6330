import { defineConfig } from 'vitest/config';

// Suites that load the AWS SDK (`*.suite.ts`) run under this config, started by `src/aws.bridge.test.ts`.
// The root config resolves packages with the `module` condition, which makes Node load the AWS SDK's dist-es build,
// whose extension-less relative imports Node cannot resolve (same cause and cure as packages/storage). Once the root
// config drops `module`, rename the suites to `*.test.ts` and delete the bridge.
const conditions = ['@hearth/source', 'node', 'development|production'];

export default defineConfig({
  root: '../..',
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@hearth/source'] } },
  test: {
    include: ['packages/sdk/src/**/*.suite.ts'],
    testTimeout: 120_000,
    hookTimeout: 300_000,
    pool: 'forks',
    maxWorkers: 1,
  },
});
