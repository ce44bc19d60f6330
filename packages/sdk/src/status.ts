/** CPU time spent per CPU model. */
export interface ExecutionTimeByCpuModel {
  readonly model: string;
  /** Seconds. */
  readonly time: number;
  readonly core: number;
}

/** CPU time × GHz spent per CPU model. */
export interface ExecutionTimeGhzByCpuModel {
  readonly model: string;
  readonly timeGhz: number;
  readonly clockRatio: number;
  readonly core: number;
}

/** A port forward open on a running instance. */
export interface ActiveForward {
  readonly applicationPort: number;
  readonly forwarderPort: number;
  readonly forwarderHost: string;
  readonly bindAddress: string | null;
}

/** Live figures of one running instance (Python: `qarnot.status.PerRunningInstanceInfo`). */
export interface PerRunningInstanceInfo {
  readonly phase: string;
  readonly instanceId: number;
  readonly maxFrequencyGHz: number;
  readonly currentFrequencyGHz: number;
  readonly cpuUsage: number;
  readonly maxMemoryMB: number;
  readonly currentMemoryMB: number;
  readonly memoryUsage: number;
  readonly networkInKbps: number;
  readonly networkOutKbps: number;
  readonly progress: number;
  readonly executionTimeSec: number;
  readonly executionTimeGHz: number;
  readonly cpuModel: string;
  readonly coreCount: number;
  readonly clockRatio: number;
  readonly executionAttemptCount: number;
  readonly activeForwards: readonly ActiveForward[];
  readonly vpnConnections: readonly { readonly nodeIPAddressCidr: string; readonly vpnName: string }[];
}

/** Live figures over all running instances (Python: `qarnot.status.RunningInstancesInfo`). */
export interface RunningInstancesInfo {
  readonly perRunningInstanceInfo: readonly PerRunningInstanceInfo[];
  readonly timestamp: string | null;
  readonly averageFrequencyGHz: number;
  readonly maxFrequencyGHz: number;
  readonly minFrequencyGHz: number;
  readonly averageMaxFrequencyGHz: number;
  readonly averageCpuUsage: number;
  readonly clusterPowerIndicator: number;
  readonly averageMemoryUsage: number;
  readonly averageNetworkInKbps: number;
  readonly averageNetworkOutKbps: number;
  readonly totalNetworkInKbps: number;
  readonly totalNetworkOutKbps: number;
  readonly snapshotResults: readonly unknown[];
  readonly runningCoreCountByCpuModel: readonly unknown[];
}

type Json = Record<string, unknown>;
const num = (j: Json, k: string): number => (typeof j[k] === 'number' ? j[k] : 0);
const strOrNull = (j: Json, k: string): string | null => (typeof j[k] === 'string' ? j[k] : null);
const str = (j: Json, k: string): string => (typeof j[k] === 'string' ? j[k] : '');
const arr = <T>(j: Json, k: string): T[] => (Array.isArray(j[k]) ? (j[k] as T[]) : []);

/** Progress and timings of a task or pool (Python: `qarnot.status.Status`). Read-only. */
export class Status {
  /** Resource download progress, %. */
  readonly downloadProgress: number;
  /** Execution progress, 0–100. */
  readonly executionProgress: number;
  /** Result upload progress, %. */
  readonly uploadProgress: number;
  /** Running instances. */
  readonly instanceCount: number;
  /** TimeSpan strings and their value in seconds. */
  readonly downloadTime: string;
  readonly downloadTimeSec: number;
  readonly environmentTime: string;
  readonly environmentTimeSec: number;
  readonly executionTime: string;
  readonly executionTimeSec: number;
  readonly uploadTime: string;
  readonly uploadTimeSec: number;
  readonly wallTime: string;
  readonly wallTimeSec: number;
  /** Instance ranges, e.g. `0-3`. */
  readonly succeededRange: string;
  readonly executedRange: string;
  readonly failedRange: string;
  readonly startedOnceRange: string;
  readonly timestamp: string | null;
  readonly lastUpdateTimestamp: string | null;
  readonly executionTimeByCpuModel: readonly ExecutionTimeByCpuModel[];
  readonly executionTimeGhzByCpuModel: readonly ExecutionTimeGhzByCpuModel[];
  readonly runningInstancesInfo: RunningInstancesInfo | null;

  constructor(json: Json) {
    this.downloadProgress = num(json, 'downloadProgress');
    this.executionProgress = num(json, 'executionProgress');
    this.uploadProgress = num(json, 'uploadProgress');
    this.instanceCount = num(json, 'instanceCount');
    this.downloadTime = str(json, 'downloadTime');
    this.downloadTimeSec = num(json, 'downloadTimeSec');
    this.environmentTime = str(json, 'environmentTime');
    this.environmentTimeSec = num(json, 'environmentTimeSec');
    this.executionTime = str(json, 'executionTime');
    this.executionTimeSec = num(json, 'executionTimeSec');
    this.uploadTime = str(json, 'uploadTime');
    this.uploadTimeSec = num(json, 'uploadTimeSec');
    this.wallTime = str(json, 'wallTime');
    this.wallTimeSec = num(json, 'wallTimeSec');
    this.succeededRange = str(json, 'succeededRange');
    this.executedRange = str(json, 'executedRange');
    this.failedRange = str(json, 'failedRange');
    this.startedOnceRange = str(json, 'startedOnceRange');
    this.timestamp = strOrNull(json, 'timestamp');
    this.lastUpdateTimestamp = strOrNull(json, 'lastUpdateTimestamp');
    this.executionTimeByCpuModel = arr(json, 'executionTimeByCpuModel');
    this.executionTimeGhzByCpuModel = arr(json, 'executionTimeGhzByCpuModel');
    const rii = json['runningInstancesInfo'];
    this.runningInstancesInfo = typeof rii === 'object' && rii !== null ? parseRunningInstancesInfo(rii as Json) : null;
  }
}

function parseRunningInstancesInfo(j: Json): RunningInstancesInfo {
  return {
    perRunningInstanceInfo: arr<Json>(j, 'perRunningInstanceInfo').map((p) => ({
      phase: str(p, 'phase'),
      instanceId: num(p, 'instanceId'),
      maxFrequencyGHz: num(p, 'maxFrequencyGHz'),
      currentFrequencyGHz: num(p, 'currentFrequencyGHz'),
      cpuUsage: num(p, 'cpuUsage'),
      maxMemoryMB: num(p, 'maxMemoryMB'),
      currentMemoryMB: num(p, 'currentMemoryMB'),
      memoryUsage: num(p, 'memoryUsage'),
      networkInKbps: num(p, 'networkInKbps'),
      networkOutKbps: num(p, 'networkOutKbps'),
      progress: num(p, 'progress'),
      executionTimeSec: num(p, 'executionTimeSec'),
      executionTimeGHz: num(p, 'executionTimeGHz'),
      cpuModel: str(p, 'cpuModel'),
      coreCount: num(p, 'coreCount'),
      clockRatio: num(p, 'clockRatio'),
      executionAttemptCount: num(p, 'executionAttemptCount'),
      activeForwards: arr(p, 'activeForwards'),
      vpnConnections: arr(p, 'vpnConnections'),
    })),
    timestamp: strOrNull(j, 'timestamp'),
    averageFrequencyGHz: num(j, 'averageFrequencyGHz'),
    maxFrequencyGHz: num(j, 'maxFrequencyGHz'),
    minFrequencyGHz: num(j, 'minFrequencyGHz'),
    averageMaxFrequencyGHz: num(j, 'averageMaxFrequencyGHz'),
    averageCpuUsage: num(j, 'averageCpuUsage'),
    clusterPowerIndicator: num(j, 'clusterPowerIndicator'),
    averageMemoryUsage: num(j, 'averageMemoryUsage'),
    averageNetworkInKbps: num(j, 'averageNetworkInKbps'),
    averageNetworkOutKbps: num(j, 'averageNetworkOutKbps'),
    totalNetworkInKbps: num(j, 'totalNetworkInKbps'),
    totalNetworkOutKbps: num(j, 'totalNetworkOutKbps'),
    snapshotResults: arr(j, 'snapshotResults'),
    runningCoreCountByCpuModel: arr(j, 'runningCoreCountByCpuModel'),
  };
}
