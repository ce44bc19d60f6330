import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { countRangeIds, rangeProblem } from './range.js';
import { formatTimeSpan, parseTimeSpan } from './timespan.js';

const SEED = /^([0-9]+|[0-9]+-[0-9]+)(,([0-9]+|[0-9]+-[0-9]+))+$/;

describe('advanced range syntax', () => {
  it('accepts every string of the seed regex with ordered bounds, plus a single number or range', () => {
    const segment = fc.tuple(fc.nat(5000), fc.nat(100)).map(([a, d]) => (d === 0 ? `${a}` : `${a}-${a + d}`));
    fc.assert(
      fc.property(fc.array(segment, { minLength: 1, maxLength: 8 }), (segs) => {
        const text = segs.join(',');
        expect(rangeProblem(text)).toBeUndefined();
        if (segs.length > 1) expect(SEED.test(text)).toBe(true);
      }),
    );
  });

  it('rejects what the seed regex rejects, and reversed or oversized bounds', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        if (!/^([0-9]+|[0-9]+-[0-9]+)(,([0-9]+|[0-9]+-[0-9]+))*$/.test(s)) expect(rangeProblem(s)).toBeDefined();
      }),
    );
    expect(rangeProblem('5-3')).toMatch(/ends before/);
    expect(rangeProblem('99999999999')).toMatch(/at most/);
  });

  it('counts distinct ids', () => {
    expect(countRangeIds('1,3-8,9,12-19')).toBe(16);
    expect(countRangeIds('0-9,5-12')).toBe(13);
  });
});

describe('TimeSpan', () => {
  it('round-trips whole seconds', () => {
    fc.assert(
      fc.property(fc.nat(100 * 86400), (s) => {
        expect(parseTimeSpan(formatTimeSpan(s))).toBe(s);
      }),
    );
    expect(formatTimeSpan(86400 + 3661)).toBe('1.01:01:01');
    expect(parseTimeSpan('1.00:00:00.5')).toBe(86400.5);
    expect(parseTimeSpan('24:00:00')).toBeUndefined();
  });
});
