import type { HardwareConstraint } from '@hearth/core';

export type { HardwareConstraint };

/**
 * Builders of hardware constraints (Python: `qarnot.hardware_constraint`), one per discriminator of reference §2.3.2.
 *
 * @example
 * ```ts
 * task.hardwareConstraints = [HardwareConstraints.minimumCoreCount(8), HardwareConstraints.ssd()];
 * ```
 */
export const HardwareConstraints = {
  /** At least `coreCount` cores (`MinimumCoreHardwareConstraint`). */
  minimumCoreCount: (coreCount: number): HardwareConstraint => ({ discriminator: 'MinimumCoreHardwareConstraint', coreCount }),
  /** At most `coreCount` cores (`MaximumCoreHardwareConstraint`). */
  maximumCoreCount: (coreCount: number): HardwareConstraint => ({ discriminator: 'MaximumCoreHardwareConstraint', coreCount }),
  /** At least this many GB of RAM per core (`MinimumRamCoreRatioHardwareConstraint`). */
  minimumRamCoreRatio: (minimumMemoryGBCoreRatio: number): HardwareConstraint => ({
    discriminator: 'MinimumRamCoreRatioHardwareConstraint',
    minimumMemoryGBCoreRatio,
  }),
  /** At most this many GB of RAM per core (`MaximumRamCoreRatioHardwareConstraint`). */
  maximumRamCoreRatio: (maximumMemoryGBCoreRatio: number): HardwareConstraint => ({
    discriminator: 'MaximumRamCoreRatioHardwareConstraint',
    maximumMemoryGBCoreRatio,
  }),
  /** At least this much RAM, MB (`MinimumRamHardwareConstraint`). */
  minimumRam: (minimumMemoryMB: number): HardwareConstraint => ({ discriminator: 'MinimumRamHardwareConstraint', minimumMemoryMB }),
  /** At most this much RAM, MB (`MaximumRamHardwareConstraint`). */
  maximumRam: (maximumMemoryMB: number): HardwareConstraint => ({ discriminator: 'MaximumRamHardwareConstraint', maximumMemoryMB }),
  /** A specific hardware key (`SpecificHardwareConstraint`). */
  specificHardware: (specificationKey: string): HardwareConstraint => ({ discriminator: 'SpecificHardwareConstraint', specificationKey }),
  /** A GPU (`GpuHardwareConstraint`). */
  gpu: (): HardwareConstraint => ({ discriminator: 'GpuHardwareConstraint' }),
  /** No GPU (`NoGpuHardwareConstraint`). */
  noGpu: (): HardwareConstraint => ({ discriminator: 'NoGpuHardwareConstraint' }),
  /** An SSD (`SSDHardwareConstraint`). */
  ssd: (): HardwareConstraint => ({ discriminator: 'SSDHardwareConstraint' }),
  /** No SSD (`NoSSDHardwareConstraint`). */
  noSsd: (): HardwareConstraint => ({ discriminator: 'NoSSDHardwareConstraint' }),
  /** A CPU model (`CpuModelHardwareConstraint`). */
  cpuModel: (cpuModel: string): HardwareConstraint => ({ discriminator: 'CpuModelHardwareConstraint', cpuModel }),
} as const;

const KNOWN = new Set([
  'MinimumCoreHardwareConstraint',
  'MaximumCoreHardwareConstraint',
  'MinimumRamCoreRatioHardwareConstraint',
  'MaximumRamCoreRatioHardwareConstraint',
  'MinimumRamHardwareConstraint',
  'MaximumRamHardwareConstraint',
  'SpecificHardwareConstraint',
  'GpuHardwareConstraint',
  'NoGpuHardwareConstraint',
  'SSDHardwareConstraint',
  'NoSSDHardwareConstraint',
  'CpuModelHardwareConstraint',
]);

/** Keeps the constraints whose discriminator is known, as the Python SDK does (unknown ones read as `None`). */
export function parseHardwareConstraints(json: unknown): HardwareConstraint[] {
  if (!Array.isArray(json)) return [];
  return json.filter(
    (c): c is HardwareConstraint =>
      typeof c === 'object' && c !== null && KNOWN.has(String((c as { discriminator?: unknown }).discriminator)),
  );
}
