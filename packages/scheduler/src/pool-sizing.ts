import type { PoolJson } from '@hearth/core';

/** How many slots a pool should have, and how fast it gets there (elastic settings or the active scaling policy). */
export interface PoolSizing {
  readonly min: number;
  readonly max: number;
  readonly minIdle: number;
  /** How often the size is checked. */
  readonly periodSec: number;
  /** Share of the gap closed in one step (at least one slot). */
  readonly factor: number;
  /** How long a pool keeps slots it does not need before it shrinks. */
  readonly minIdleTimeSec: number;
  /** The scaling policy in force (`null`: none is enabled now, the size stays); undefined for elastic settings. */
  readonly policyName?: string | null;
}

const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'] as const;

type Loose = Record<string, unknown>;

function num(o: Loose, key: string, fallback: number): number {
  const v = o[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** Whether one of the periods holds at `now` (no periods: always). Weekly periods may wrap past midnight. */
export function periodActive(periods: unknown, now: Date): boolean {
  if (!Array.isArray(periods) || periods.length === 0) return true;
  const day = DAYS[now.getUTCDay()];
  const time = now.toISOString().slice(11, 19);
  return (periods as Loose[]).some((p) => {
    if (p['type'] === 'Always') return true;
    if (p['type'] !== 'Weekly' || !Array.isArray(p['days']) || !(p['days'] as unknown[]).includes(day)) return false;
    const start = typeof p['startTimeUtc'] === 'string' ? p['startTimeUtc'].slice(0, 8) : '';
    const end = typeof p['endTimeUtc'] === 'string' ? p['endTimeUtc'].slice(0, 8) : '';
    return start <= end ? start <= time && time < end : time >= start || time < end;
  });
}

/**
 * The sizing in force for a pool at `now`: the first enabled scaling policy (`Fixed`: exactly `slotsCount`;
 * `ManagedTasksQueue`: like elastic settings), else its elastic settings; undefined for a fixed-size pool.
 * Checked every `elasticProperty.resizePeriod` seconds (at least 1).
 */
export function poolSizing(doc: PoolJson, now: Date): PoolSizing | undefined {
  const elastic = doc.elasticProperty as Loose;
  const periodSec = Math.max(1, num(elastic, 'resizePeriod', 90));
  const policies = doc.scaling?.['policies'];
  if (Array.isArray(policies) && policies.length > 0) {
    const active = (policies as Loose[]).find((p) => periodActive(p['enabledPeriods'], now));
    if (!active) return { min: 0, max: Number.MAX_SAFE_INTEGER, minIdle: 0, periodSec, factor: 1, minIdleTimeSec: 0, policyName: null };
    const policyName = typeof active['name'] === 'string' ? active['name'] : null;
    if (active['type'] === 'Fixed') {
      const n = Math.max(0, Math.floor(num(active, 'slotsCount', 0)));
      return { min: n, max: n, minIdle: 0, periodSec, factor: 1, minIdleTimeSec: 0, policyName };
    }
    const min = Math.max(0, Math.floor(num(active, 'minTotalSlots', 0)));
    return {
      min,
      max: Math.max(min, Math.floor(num(active, 'maxTotalSlots', Math.max(min, 1)))),
      minIdle: Math.max(0, Math.floor(num(active, 'minIdleSlots', 0))),
      periodSec,
      factor: Math.min(1, Math.max(0.01, num(active, 'scalingFactor', 1))),
      minIdleTimeSec: Math.max(0, num(active, 'minIdleTimeSeconds', 0)),
      policyName,
    };
  }
  if (elastic['isElastic'] !== true) return undefined;
  const min = Math.max(0, Math.floor(num(elastic, 'minTotalSlots', 0)));
  return {
    min,
    max: Math.max(min, Math.floor(num(elastic, 'maxTotalSlots', 1))),
    minIdle: Math.max(0, Math.floor(num(elastic, 'minIdleSlots', 0))),
    periodSec,
    factor: Math.min(1, Math.max(0.01, num(elastic, 'rampResizeFactor', 1))),
    minIdleTimeSec: Math.max(0, num(elastic, 'minIdleTimeSeconds', 0)),
  };
}
