/** Status of a snapshot (Python: `qarnot.snapshot` status values; read case-insensitively, null → `Triggered`). */
export type SnapshotStatus = 'Triggered' | 'InProgress' | 'Success' | 'Failure';

/** Where and what a snapshot uploads. */
export interface SnapshotConfig {
  readonly whitelist: string | null;
  readonly blacklist: string | null;
  readonly bucket: string | null;
  readonly bucketPrefix: string | null;
}

const STATUSES: readonly SnapshotStatus[] = ['Triggered', 'InProgress', 'Success', 'Failure'];

/** An instant snapshot's status (Python: `qarnot.snapshot.Snapshot`). Read-only. */
export class Snapshot {
  /** Snapshot id, e.g. `snap_<taskUuid>_<yyyyMMddHHmmss>`. */
  readonly id: string;
  readonly taskUuid: string;
  readonly triggerDate: string | null;
  readonly lastUpdateDate: string | null;
  readonly snapshotConfig: SnapshotConfig;
  readonly status: SnapshotStatus;
  /** Bytes to upload, when known. */
  readonly sizeToUpload: number | null;
  /** Bytes uploaded so far, when known. */
  readonly transferredSize: number | null;

  constructor(json: Record<string, unknown>) {
    const s = (k: string): string | null => (typeof json[k] === 'string' ? json[k] : null);
    const n = (k: string): number | null => (typeof json[k] === 'number' ? json[k] : null);
    this.id = s('id') ?? '';
    this.taskUuid = s('taskUuid') ?? '';
    this.triggerDate = s('triggerDate');
    this.lastUpdateDate = s('lastUpdateDate');
    const c = (typeof json['snapshotConfig'] === 'object' && json['snapshotConfig'] !== null ? json['snapshotConfig'] : {}) as Record<string, unknown>;
    const cs = (k: string): string | null => (typeof c[k] === 'string' ? c[k] : null);
    this.snapshotConfig = { whitelist: cs('whitelist'), blacklist: cs('blacklist'), bucket: cs('bucket'), bucketPrefix: cs('bucketPrefix') };
    const status = s('status')?.toLowerCase();
    this.status = STATUSES.find((x) => x.toLowerCase() === status) ?? 'Triggered';
    this.sizeToUpload = n('sizeToUpload');
    this.transferredSize = n('transferredSize');
  }

  /** True once the snapshot succeeded or failed. */
  get isCompleted(): boolean {
    return this.status === 'Success' || this.status === 'Failure';
  }
}
