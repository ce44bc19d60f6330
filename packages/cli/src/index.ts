/**
 * The `hearth` command line: `hearth server`, `hearth user create|list|delete`.
 * @module
 */
export { buildProgram, main } from './cli.js';
