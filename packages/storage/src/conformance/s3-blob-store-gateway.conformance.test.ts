import { fileURLToPath } from 'node:url';
import { bridgeSuite } from '../test-support/run-suite.js';

bridgeSuite(fileURLToPath(new URL('./s3-blob-store-gateway.conformance.suite.ts', import.meta.url)));
