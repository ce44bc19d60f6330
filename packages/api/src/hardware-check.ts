import { assertNever, type HardwareConstraint } from '@hearth/core';
import { ApiError } from './api-error.js';
import type { NodeHardware } from './api-options.js';

/**
 * Refuses at submit what no node can ever satisfy, with the 402 "hardware constraint" message the Python SDK
 * recognises (reference §1.3). Returns normally when every constraint can be met.
 */
export function checkHardwareConstraints(constraints: readonly HardwareConstraint[], node: NodeHardware): void {
  for (const c of constraints) {
    const why = unsatisfiable(c, node);
    if (why) throw new ApiError('hardware_constraint', `Unsatisfiable hardware constraint ${c.discriminator}: ${why}`);
  }
}

function unsatisfiable(c: HardwareConstraint, node: NodeHardware): string | undefined {
  switch (c.discriminator) {
    case 'MinimumCoreHardwareConstraint':
      return c.coreCount > node.cores ? `asks for ${c.coreCount} cores, nodes have ${node.cores}` : undefined;
    case 'MaximumCoreHardwareConstraint':
      return c.coreCount < 1 ? 'asks for fewer than 1 core' : undefined;
    case 'MinimumRamHardwareConstraint':
      return c.minimumMemoryMB > node.memoryMB ? `asks for ${c.minimumMemoryMB} MB, nodes have ${node.memoryMB} MB` : undefined;
    case 'MaximumRamHardwareConstraint':
      return c.maximumMemoryMB <= 0 ? 'asks for no memory at all' : undefined;
    case 'MinimumRamCoreRatioHardwareConstraint': {
      const ratio = node.memoryMB / 1024 / node.cores;
      return c.minimumMemoryGBCoreRatio > ratio
        ? `asks for ${c.minimumMemoryGBCoreRatio} GB per core, nodes have ${ratio.toFixed(2)}`
        : undefined;
    }
    case 'MaximumRamCoreRatioHardwareConstraint':
      return undefined;
    case 'GpuHardwareConstraint':
      return node.gpu ? undefined : 'no node of this server has a GPU';
    case 'NoGpuHardwareConstraint':
    case 'SSDHardwareConstraint':
    case 'NoSSDHardwareConstraint':
      return undefined;
    case 'SpecificHardwareConstraint':
      return `no node offers the specification '${c.specificationKey}'`;
    case 'CpuModelHardwareConstraint':
      return node.cpuModel.toLowerCase().includes(c.cpuModel.toLowerCase())
        ? undefined
        : `nodes have '${node.cpuModel}', not '${c.cpuModel}'`;
    default:
      return assertNever(c);
  }
}
