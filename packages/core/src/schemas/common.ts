import { z } from 'zod';
import { parseAdvancedRange } from '../advanced-range.js';
import { parseTimeSpan } from '../timespan.js';

/** A JSON integer that fits the API's int32 fields. */
export const int32 = z.int().min(-(2 ** 31)).max(2 ** 31 - 1);
export const nonNegativeInt = z.int().min(0).max(2 ** 31 - 1);

export const keyValue = z.object({ key: z.string().max(4096), value: z.string().max(65536).nullable() });
export const keyValueList = z.array(keyValue).max(1000);

export const uuidString = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, 'must be a UUID');

/** DNS label: letters, digits and hyphens, not at either end, at most 63 characters. */
export const shortname = z
  .string()
  .regex(
    /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/,
    'must be DNS compliant: 1 to 63 letters, digits or hyphens, not starting or ending with a hyphen',
  );

export const regexString = z
  .string()
  .max(4096)
  .refine((s) => {
    try {
      new RegExp(s);
      return true;
    } catch {
      return false;
    }
  }, 'must be a valid regular expression');

export const timeSpan = z.string().refine((s) => {
  try {
    return parseTimeSpan(s) >= 0;
  } catch {
    return false;
  }
}, 'must be a non-negative duration of the form [d.]hh:mm:ss[.fffffff]');

export const advancedRange = z.string().superRefine((s, ctx) => {
  try {
    parseAdvancedRange(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: `must be a range such as 1,3-8,9,12-19: ${(e as Error).message}` });
  }
});

export const tags = z.array(z.string().max(256)).max(100);
export const labels = z.record(z.string().max(256), z.string().max(4096));

export const schedulingType = z.enum(['Flex', 'OnDemand', 'Reserved']);

export const advancedBucket = z.object({
  bucketName: z.string().min(1).max(255),
  filtering: z
    .object({ prefixFiltering: z.object({ prefix: z.string().max(1024) }).nullish() })
    .nullish(),
  resourcesTransformation: z
    .object({ stripPrefix: z.object({ prefix: z.string().max(1024) }).nullish() })
    .nullish(),
  cacheTTLSec: nonNegativeInt.nullish(),
});

const hc = <D extends string, S extends z.ZodRawShape>(discriminator: D, shape: S) =>
  z.object({ discriminator: z.literal(discriminator), ...shape });

export const hardwareConstraint = z.discriminatedUnion('discriminator', [
  hc('MinimumCoreHardwareConstraint', { coreCount: nonNegativeInt }),
  hc('MaximumCoreHardwareConstraint', { coreCount: nonNegativeInt }),
  hc('MinimumRamCoreRatioHardwareConstraint', { minimumMemoryGBCoreRatio: z.number().min(0) }),
  hc('MaximumRamCoreRatioHardwareConstraint', { maximumMemoryGBCoreRatio: z.number().min(0) }),
  hc('MinimumRamHardwareConstraint', { minimumMemoryMB: z.number().min(0) }),
  hc('MaximumRamHardwareConstraint', { maximumMemoryMB: z.number().min(0) }),
  hc('SpecificHardwareConstraint', { specificationKey: z.string().max(1024) }),
  hc('GpuHardwareConstraint', {}),
  hc('NoGpuHardwareConstraint', {}),
  hc('SSDHardwareConstraint', {}),
  hc('NoSSDHardwareConstraint', {}),
  hc('CpuModelHardwareConstraint', { cpuModel: z.string().max(1024) }),
]);
export type HardwareConstraint = z.infer<typeof hardwareConstraint>;

export const forcedConstant = z.object({
  constantName: z.string().min(1).max(4096),
  forcedValue: z.string().max(65536).nullable(),
  forceExportInEnvironment: z.boolean().nullish(),
  access: z.enum(['ReadWrite', 'ReadOnly']).nullish(),
});

const str = z.string().max(4096).nullish();
export const forcedNetworkRule = z.object({
  inbound: z.boolean(),
  proto: z.enum(['tcp', 'udp']),
  name: str,
  applicationType: str,
  port: str,
  to: str,
  publicHost: str,
  publicPort: str,
  forwarder: str,
  priority: str,
  description: str,
  toQBox: z.boolean().nullish(),
  toPayload: z.boolean().nullish(),
});

export const privileges = z.object({ exportApiAndStorageCredentialsInEnvironment: z.boolean().nullish() });

export const retrySettings = z.object({
  maxTotalRetries: nonNegativeInt.nullish(),
  maxPerInstanceRetries: nonNegativeInt.nullish(),
});

export const secretsAccessRights = z.object({
  bySecret: z.array(z.object({ key: z.string().min(1).max(1024) })).max(1000).nullish(),
  byPrefix: z.array(z.object({ prefix: z.string().max(1024) })).max(1000).nullish(),
});
