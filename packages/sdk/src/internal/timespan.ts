// The TimeSpan helpers live in @hearth/core's zod-free entry; the SDK's modules import them from here.
export { formatTimeSpan, tryParseTimeSpan as parseTimeSpan } from '@hearth/core/lite';
