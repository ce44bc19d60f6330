/**
 * The zod-free part of `@hearth/core`: states, ranges, TimeSpans, dates, error codes and wire types. Clients that
 * must import fast (the SDK) use this entry; the full index adds the zod schemas.
 * @module
 */
export * from './states.js';
export * from './advanced-range.js';
export * from './timespan.js';
export * from './dates.js';
export * from './error-codes.js';
export * from './wire.js';
