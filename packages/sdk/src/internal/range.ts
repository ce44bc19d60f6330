import { countRange, parseAdvancedRange } from '@hearth/core/lite';

/**
 * The seed's regex is `([0-9]+|[0-9]+-[0-9]+)(,([0-9]+|[0-9]+-[0-9]+))+`; a single number or range (`0-99`) is
 * accepted too, as the official SDKs send it. The parsing rules themselves are core's.
 */
const SEED_RANGE = /^([0-9]+|[0-9]+-[0-9]+)(,([0-9]+|[0-9]+-[0-9]+))*$/;

/** Returns `undefined` when `text` is a valid range, else the reason it is not. */
export function rangeProblem(text: string): string | undefined {
  if (!SEED_RANGE.test(text)) {
    return `'${text}' does not match the range syntax ([0-9]+|[0-9]+-[0-9]+)(,([0-9]+|[0-9]+-[0-9]+))*, e.g. 1,3-8,9,12-19`;
  }
  try {
    parseAdvancedRange(text);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Counts the distinct instance ids of a valid range. */
export function countRangeIds(text: string): number {
  return countRange(parseAdvancedRange(text));
}
