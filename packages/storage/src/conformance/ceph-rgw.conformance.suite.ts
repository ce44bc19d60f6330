import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describeS3Conformance } from '../test-support/s3-conformance.js';

const scripts = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../scripts');
const run = promisify(execFile);

// A real S3 server: Ceph RGW from Debian packages, installed and started by the repo script.
describeS3Conformance('Ceph RGW', async () => {
  await run('bash', [path.join(scripts, 'ceph-rgw-up.sh')], { timeout: 600_000 });
  return {
    endpoint: 'http://127.0.0.1:7480',
    users: [
      { accessKeyId: 'CIKEY', secretAccessKey: 'CISECRET' },
      { accessKeyId: 'CIKEY2', secretAccessKey: 'CISECRET2' },
    ],
    close: async () => {
      await run('bash', [path.join(scripts, 'ceph-rgw-down.sh')], { timeout: 60_000 });
    },
  };
});
