import { describe, expect, it } from 'vitest';
import type { PoolJson } from '@hearth/core';
import { periodActive, poolSizing } from './pool-sizing.js';

// Tuesday 2026-11-24, 22:30 UTC
const NOW = new Date('2026-11-24T22:30:00Z');

function pool(overrides: Partial<PoolJson>): PoolJson {
  return { elasticProperty: { isElastic: false, resizePeriod: 90 }, instanceCount: 3, ...overrides } as PoolJson;
}

describe('periodActive', () => {
  it('holds always, on the listed days within the hours, and across midnight', () => {
    expect(periodActive(undefined, NOW)).toBe(true);
    expect(periodActive([{ type: 'Always' }], NOW)).toBe(true);
    expect(periodActive([{ type: 'Weekly', days: ['tuesday'], startTimeUtc: '22:00:00', endTimeUtc: '23:00:00' }], NOW)).toBe(true);
    expect(periodActive([{ type: 'Weekly', days: ['monday'], startTimeUtc: '00:00:00', endTimeUtc: '23:59:59' }], NOW)).toBe(false);
    expect(periodActive([{ type: 'Weekly', days: ['tuesday'], startTimeUtc: '08:00:00', endTimeUtc: '18:00:00.5' }], NOW)).toBe(false);
    expect(periodActive([{ type: 'Weekly', days: ['tuesday'], startTimeUtc: '22:00:00', endTimeUtc: '02:00:00' }], NOW)).toBe(true);
  });
});

describe('poolSizing', () => {
  it('is undefined for a fixed-size pool and follows the elastic settings otherwise', () => {
    expect(poolSizing(pool({}), NOW)).toBeUndefined();
    const elastic = pool({ elasticProperty: { isElastic: true, minTotalSlots: 1, maxTotalSlots: 4, resizePeriod: 0, rampResizeFactor: 0.5 } });
    expect(poolSizing(elastic, NOW)).toEqual({ min: 1, max: 4, minIdle: 0, periodSec: 1, factor: 0.5, minIdleTimeSec: 0 });
  });

  it('takes the first enabled scaling policy, naming it', () => {
    const scaled = pool({
      scaling: {
        policies: [
          { type: 'Fixed', name: 'weekend', slotsCount: 8, enabledPeriods: [{ type: 'Weekly', days: ['saturday', 'sunday'], startTimeUtc: '00:00:00', endTimeUtc: '23:59:59' }] },
          { type: 'ManagedTasksQueue', name: 'weekdays', minTotalSlots: 2, maxTotalSlots: 6, minIdleSlots: 1, scalingFactor: 0.25 },
        ],
      },
    });
    expect(poolSizing(scaled, NOW)).toMatchObject({ min: 2, max: 6, minIdle: 1, factor: 0.25, policyName: 'weekdays' });
    const fixed = pool({ scaling: { policies: [{ type: 'Fixed', name: 'two', slotsCount: 2 }] } });
    expect(poolSizing(fixed, NOW)).toMatchObject({ min: 2, max: 2, policyName: 'two' });
    const none = pool({ scaling: { policies: [{ type: 'Fixed', name: 'monday', slotsCount: 2, enabledPeriods: [{ type: 'Weekly', days: ['monday'], startTimeUtc: '00:00:00', endTimeUtc: '23:00:00' }] }] } });
    expect(poolSizing(none, NOW)?.policyName).toBeNull();
  });
});
