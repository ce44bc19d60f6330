/**
 * Instance ranges in the seed's syntax: comma-separated numbers and inclusive `a-b` ranges, e.g. `1,3-8,9,12-19`.
 * A single number or range (`0-99`) is accepted too, as the official SDKs send it.
 */
export interface RangeSegment {
  readonly start: number;
  readonly end: number;
}

const SEGMENT = /^([0-9]+)(?:-([0-9]+))?$/;

/** Largest instance id accepted: keeps every id a safe integer and every range countable. */
export const MAX_INSTANCE_ID = 2 ** 31 - 1;

export class RangeSyntaxError extends Error {
  override readonly name = 'RangeSyntaxError';
}

/** Parses and normalises a range: segments sorted, overlapping and adjacent segments merged. */
export function parseAdvancedRange(text: string): RangeSegment[] {
  const trimmed = text.trim();
  if (trimmed === '') throw new RangeSyntaxError('range is empty');
  const segments: RangeSegment[] = [];
  for (const part of trimmed.split(',')) {
    const m = SEGMENT.exec(part.trim());
    if (!m) throw new RangeSyntaxError(`'${part}' is not a number or a range such as 3-8`);
    const start = Number(m[1]);
    const end = m[2] === undefined ? start : Number(m[2]);
    if (start > MAX_INSTANCE_ID || end > MAX_INSTANCE_ID) {
      throw new RangeSyntaxError(`instance ids must be at most ${MAX_INSTANCE_ID}`);
    }
    if (end < start) throw new RangeSyntaxError(`'${part}' ends before it starts`);
    segments.push({ start, end });
  }
  return mergeSegments(segments);
}

export function mergeSegments(segments: readonly RangeSegment[]): RangeSegment[] {
  const sorted = [...segments].sort((a, b) => a.start - b.start);
  const merged: RangeSegment[] = [];
  for (const s of sorted) {
    const last = merged[merged.length - 1];
    if (last && s.start <= last.end + 1) {
      merged[merged.length - 1] = { start: last.start, end: Math.max(last.end, s.end) };
    } else {
      merged.push(s);
    }
  }
  return merged;
}

export function countRange(segments: readonly RangeSegment[]): number {
  return segments.reduce((n, s) => n + (s.end - s.start + 1), 0);
}

/** Formats segments back to the compact wire form (`0-3,7`). */
export function formatRange(segments: readonly RangeSegment[]): string {
  return segments.map((s) => (s.start === s.end ? String(s.start) : `${s.start}-${s.end}`)).join(',');
}

/** Builds the compact range of a set of instance ids. */
export function rangeOfIds(ids: Iterable<number>): string {
  return formatRange(mergeSegments([...ids].map((id) => ({ start: id, end: id }))));
}

/** Iterates the instance ids of a range in ascending order without materialising them all. */
export function* rangeIds(segments: readonly RangeSegment[]): Generator<number> {
  for (const s of segments) for (let i = s.start; i <= s.end; i++) yield i;
}
