/**
 * Core types shared by every Hearth package: the Qarnot wire schemas, states, ranges, durations and error codes.
 *
 * @example
 * ```ts
 * import { parseAdvancedRange, countRange } from '@hearth/core';
 * countRange(parseAdvancedRange('1,3-8')); // 7
 * ```
 * @module
 */
export * from './states.js';
export * from './advanced-range.js';
export * from './timespan.js';
export * from './dates.js';
export * from './error-codes.js';
export * from './normalize-input.js';
export * from './validation.js';
export * from './schemas/common.js';
export * from './schemas/task.js';
export * from './schemas/job.js';
export * from './schemas/pool.js';
export * from './schemas/query.js';
export * from './wire.js';
