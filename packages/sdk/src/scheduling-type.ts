/**
 * How instances are scheduled (Python: `qarnot.scheduling_type`): `Flex` (low priority, low price), `OnDemand`,
 * or `Reserved` (with `targetedReservationName`).
 */
export type SchedulingType = 'Flex' | 'OnDemand' | 'Reserved';

/** Every scheduling type. */
export const SCHEDULING_TYPES: readonly SchedulingType[] = ['Flex', 'OnDemand', 'Reserved'];

/** Reads a scheduling type case-insensitively (the API may answer `"flex"`); unknown or null reads as `Flex`. */
export function parseSchedulingType(value: unknown): SchedulingType {
  if (typeof value !== 'string') return 'Flex';
  const found = SCHEDULING_TYPES.find((t) => t.toLowerCase() === value.toLowerCase());
  return found ?? 'Flex';
}
