import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Gateway } from './s3-gateway.js';
import { tempDir } from './test-support/temp-dir.js';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const users = { 'alice@example.com': 'alice-token', 'bob@example.com': 'bob-token' } as Record<string, string>;

let dir: Awaited<ReturnType<typeof tempDir>>;
let gw: S3Gateway;
let url: string;
let python: string;

beforeAll(async () => {
  python = (await run('bash', [path.resolve(here, '../../../scripts/install-boto3.sh')], { timeout: 300_000 })).stdout.trim();
  dir = await tempDir();
  gw = new S3Gateway({ dataDir: dir.path, credentials: (id) => Promise.resolve(users[id] ? { secret: users[id] } : undefined) });
  url = await gw.listen();
});
afterAll(async () => {
  await gw?.close();
  await dir?.[Symbol.asyncDispose]();
});

describe('boto3 (the Python SDK’s S3 calls) against the gateway', () => {
  it('runs every call the Qarnot Python SDK makes', async () => {
    const script = path.join(here, 'test-support/boto3-sdk-ops.py');
    const { stdout } = await run(python, [script, url, 'alice@example.com', 'alice-token', 'bob@example.com', 'bob-token', 'boto-bucket'], { timeout: 120_000 }).catch(
      (e: { stdout?: string; stderr?: string }) => {
        throw new Error(`boto3 checks failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
      },
    );
    expect(stdout).toContain('ALL OK');
    expect(stdout).not.toContain('FAIL');
  });
});
