/**
 * The seed's advanced-range syntax, validated without pulling zod in at import time (see `packages/sdk/README`
 * notes in docs/sdk.md: `@hearth/core`'s index loads zod, which costs ~60 ms of cold import).
 *
 * The seed's regex is `([0-9]+|[0-9]+-[0-9]+)(,([0-9]+|[0-9]+-[0-9]+))+`; a single number or range (`0-99`) is
 * accepted too, as the official SDKs send it.
 */
const SEED_RANGE = /^([0-9]+|[0-9]+-[0-9]+)(,([0-9]+|[0-9]+-[0-9]+))*$/;

/** Largest instance id the API accepts (int32). */
export const MAX_INSTANCE_ID = 2 ** 31 - 1;

/** Returns `undefined` when `text` is a valid range, else the reason it is not. */
export function rangeProblem(text: string): string | undefined {
  if (!SEED_RANGE.test(text)) {
    return `'${text}' does not match the range syntax ([0-9]+|[0-9]+-[0-9]+)(,([0-9]+|[0-9]+-[0-9]+))*, e.g. 1,3-8,9,12-19`;
  }
  for (const part of text.split(',')) {
    const [a, b] = part.split('-');
    const start = Number(a);
    const end = b === undefined ? start : Number(b);
    if (start > MAX_INSTANCE_ID || end > MAX_INSTANCE_ID) return `instance ids must be at most ${MAX_INSTANCE_ID}`;
    if (end < start) return `'${part}' ends before it starts`;
  }
  return undefined;
}

/** Counts the distinct instance ids of a valid range. */
export function countRangeIds(text: string): number {
  const segments = text
    .split(',')
    .map((part) => {
      const [a, b] = part.split('-');
      const start = Number(a);
      return { start, end: b === undefined ? start : Number(b) };
    })
    .sort((x, y) => x.start - y.start);
  let count = 0;
  let covered = -1;
  for (const s of segments) {
    const from = Math.max(s.start, covered + 1);
    if (s.end >= from) count += s.end - from + 1;
    covered = Math.max(covered, s.end);
  }
  return count;
}
