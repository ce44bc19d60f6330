import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, vi } from 'vitest';
import { RgwUserProvisioner } from '../rgw-user-provisioner.js';
import { S3BlobStore } from '../s3-blob-store.js';
import { describeBlobStoreConformance } from '../test-support/blob-store-conformance.js';
import { describeS3Conformance } from '../test-support/s3-conformance.js';

const scripts = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../scripts');
const run = promisify(execFile);
const endpoint = 'http://127.0.0.1:7480';

// The first start installs the Debian packages (minutes), inside the suites' beforeAll hooks.
vi.setConfig({ hookTimeout: 600_000, testTimeout: 120_000 });

// A real S3 server: Ceph RGW from Debian packages, installed and started once for this file by the repo script.
let cluster: Promise<void> | undefined;
const up = (): Promise<void> => (cluster ??= run('bash', [path.join(scripts, 'ceph-rgw-up.sh')], { timeout: 600_000 }).then(() => undefined));
afterAll(async () => {
  if (cluster) await run('bash', [path.join(scripts, 'ceph-rgw-down.sh')], { timeout: 60_000 });
});

describeS3Conformance('Ceph RGW', async () => {
  await up();
  return {
    endpoint,
    users: [
      { accessKeyId: 'CIKEY', secretAccessKey: 'CISECRET' },
      { accessKeyId: 'CIKEY2', secretAccessKey: 'CISECRET2' },
    ],
    close: () => Promise.resolve(),
  };
});

// Hearth users on RGW: provisioned with their email as access key and their token as secret.
describeBlobStoreConformance('S3BlobStore on Ceph RGW, users provisioned by RgwUserProvisioner', async () => {
  await up();
  const tokens: Record<string, string> = { 'ann@example.com': `tok-${Date.now()}`, 'ben@example.com': 'tok-ben' };
  const prov = new RgwUserProvisioner();
  for (const [email, token] of Object.entries(tokens)) {
    await prov.ensure(email, 'an-old-token');
    await prov.ensure(email, token);
    await prov.ensure(email, token);
  }
  const store = new S3BlobStore({ endpoint, credentials: (owner) => Promise.resolve({ accessKeyId: owner, secretAccessKey: tokens[owner] ?? '' }) });
  return {
    store,
    owner: 'ann@example.com',
    other: 'ben@example.com',
    close: async () => {
      await prov.remove('ben@example.com');
    },
  };
});
