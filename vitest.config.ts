import { defineConfig } from 'vitest/config';

// Tests import workspace packages from their TypeScript sources through the `@hearth/source` export condition.
// No 'module' condition: it would send Node to bundler-only builds (e.g. @aws-sdk's dist-es).
const conditions = ['@hearth/source', 'node', 'import', 'default'];

export default defineConfig({
  resolve: { conditions },
  ssr: { resolve: { conditions, externalConditions: ['@hearth/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
  },
});
