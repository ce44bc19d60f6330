import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { S3Gateway } from '../s3-gateway.js';
import { describeS3Conformance } from '../test-support/s3-conformance.js';

const users = [
  { accessKeyId: 'alice@example.com', secretAccessKey: 'alice-token' },
  { accessKeyId: 'bob@example.com', secretAccessKey: 'bob-token' },
] as const;

describeS3Conformance('embedded gateway', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hearth-gw-conf-'));
  const gw = new S3Gateway({
    dataDir,
    credentials: (id) => {
      const u = users.find((x) => x.accessKeyId === id);
      return Promise.resolve(u ? { secret: u.secretAccessKey } : undefined);
    },
  });
  const endpoint = await gw.listen({ host: '127.0.0.1', port: 0 });
  return {
    endpoint,
    users,
    awsStrict: true,
    close: async () => {
      await gw.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
