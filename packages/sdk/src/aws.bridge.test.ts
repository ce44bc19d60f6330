import { bridgeSuites } from './test-support/bridge.js';

// The suites that load the AWS SDK (buckets, downloads, live server) run in a child Vitest: see vitest.config.ts.
bridgeSuites('SDK suites that load the AWS SDK');
