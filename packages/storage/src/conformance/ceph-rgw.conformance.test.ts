import { fileURLToPath } from 'node:url';
import { bridgeSuite } from '../test-support/run-suite.js';

bridgeSuite(fileURLToPath(new URL('./ceph-rgw.conformance.suite.ts', import.meta.url)));
