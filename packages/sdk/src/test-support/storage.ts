import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { S3Gateway } from '@hearth/storage';
import { Connection } from '../connection.js';
import { RecordingServer } from './recording-server.js';

/** A real Hearth S3 gateway on a free port, and a connection whose API is a recording server pointing at it. */
export interface StorageHarness {
  readonly gateway: S3Gateway;
  readonly api: RecordingServer;
  readonly conn: Connection;
  readonly dir: string;
  close(): Promise<void>;
}

export async function startStorage(): Promise<StorageHarness> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sdk-s3-'));
  const email = 'storage-user@example.com';
  const token = 'storage-token';
  const gateway = new S3Gateway({
    dataDir: path.join(dir, 'storage'),
    credentials: (k) => Promise.resolve(k === email ? { secret: token } : undefined),
  });
  const storageUrl = await gateway.listen({ port: 0 });
  const api = (await RecordingServer.start()).withBootstrap(storageUrl, email);
  const conn = await Connection.connect({ clusterUrl: api.url, clientToken: token, env: {} });
  return {
    gateway,
    api,
    conn,
    dir,
    async close() {
      await conn.close();
      await api.close();
      await gateway.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
