import type { Generated } from 'kysely';

/** Table types for Kysely. Entities keep their wire JSON in `doc` beside the columns that filters and pages use. */
export interface UsersTable {
  id: Generated<number>;
  email: string;
  token: string;
  created_at: string;
}

export interface EntityTable {
  seq: Generated<number>;
  uuid: string;
  user_id: number;
  shortname: string;
  name: string;
  state: string;
  profile: string | null;
  pool_uuid: string | null;
  job_uuid: string | null;
  creation_date: string;
  last_modified: string;
  doc: string;
}

export interface TagTable {
  user_id: number;
  tag: string;
  entity_seq: number;
}

export interface SecretsTable {
  user_id: number;
  key: string;
  iv: Buffer;
  auth_tag: Buffer;
  ciphertext: Buffer;
  updated_at: string;
}

export interface IdempotencyTable {
  user_id: number;
  key: string;
  status: number;
  body: string;
  created_at: string;
}

export interface EntityCountsTable {
  user_id: number;
  kind: string;
  n: number;
}

export interface SnapshotsTable {
  task_uuid: string;
  id: string;
  doc: string;
}

export interface Database {
  snapshots: SnapshotsTable;
  entity_counts: EntityCountsTable;
  users: UsersTable;
  tasks: EntityTable;
  jobs: EntityTable;
  pools: EntityTable;
  task_tags: TagTable;
  job_tags: TagTable;
  pool_tags: TagTable;
  secrets: SecretsTable;
  idempotency_keys: IdempotencyTable;
}
