import { fileURLToPath } from 'node:url';
import { bridgeSuite } from '../test-support/run-suite.js';

bridgeSuite(fileURLToPath(new URL('./gateway.conformance.suite.ts', import.meta.url)));
