import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { S3BlobStore } from '../s3-blob-store.js';
import { S3Gateway } from '../s3-gateway.js';
import { describeBlobStoreConformance } from '../test-support/blob-store-conformance.js';

const tokens: Record<string, string> = { 'alice@example.com': 'alice-token', 'bob@example.com': 'bob-token' };

describeBlobStoreConformance('S3BlobStore on the embedded gateway', async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'hearth-s3bs-'));
  const gw = new S3Gateway({ dataDir, credentials: (id) => Promise.resolve(tokens[id] ? { secret: tokens[id] } : undefined) });
  const endpoint = await gw.listen();
  const store = new S3BlobStore({ endpoint, credentials: (owner) => Promise.resolve({ accessKeyId: owner, secretAccessKey: tokens[owner] ?? '' }) });
  return {
    store,
    owner: 'alice@example.com',
    other: 'bob@example.com',
    close: async () => {
      await gw.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
});
