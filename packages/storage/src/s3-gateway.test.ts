import { createHash } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { text } from 'node:stream/consumers';
import zlib from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Gateway } from './s3-gateway.js';
import type { Creds } from './test-support/raw-s3.js';
import { errorCode, rawRequest, sign, signedChunks } from './test-support/raw-s3.js';
import { tempDir } from './test-support/temp-dir.js';

const alice: Creds = { accessKeyId: 'alice@example.com', secretAccessKey: 'alice-token' };
const bob: Creds = { accessKeyId: 'bob@example.com', secretAccessKey: 'bob-token' };
const carol: Creds = { accessKeyId: 'carol@example.com', secretAccessKey: 'carol-token' };
const all = [alice, bob, carol];

let dir: Awaited<ReturnType<typeof tempDir>>;
let gw: S3Gateway;
let url: string;
const req = (r: Parameters<typeof rawRequest>[1], c: Creds = alice) => rawRequest(url, r, c);
const md5hex = (b: string | Buffer): string => createHash('md5').update(b).digest('hex');

async function walk(d: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(d, { withFileTypes: true })) {
    const p = path.join(d, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

beforeAll(async () => {
  dir = await tempDir();
  gw = new S3Gateway({
    dataDir: path.join(dir.path, 'data'),
    credentials: (id) => {
      const u = all.find((x) => x.accessKeyId === id);
      return Promise.resolve(u ? { secret: u.secretAccessKey } : undefined);
    },
    // carol is limited: 2 buckets, 100 bytes.
    quotas: (id) => Promise.resolve(id === carol.accessKeyId ? { maxBuckets: 2, maxBytes: 100 } : { maxBuckets: 1000, maxBytes: 1e15 }),
    multipartMaxAgeMs: 60 * 60 * 1000,
    minPartSize: 5,
  });
  url = await gw.listen({ host: '127.0.0.1', port: 0 });
  expect((await req({ method: 'PUT', path: '/edge' })).status).toBe(200);
});
afterAll(async () => {
  await gw.close();
  await gw.close();
  await dir[Symbol.asyncDispose]();
});

describe('S3Gateway authentication', () => {
  it('refuses a clock skewed by more than 15 minutes', async () => {
    const r = await req({ method: 'GET', path: '/', date: new Date(Date.now() - 20 * 60_000) });
    expect(r.status).toBe(403);
    expect(errorCode(r.body)).toBe('RequestTimeTooSkewed');
    expect((await req({ method: 'GET', path: '/', date: new Date(Date.now() - 10 * 60_000) })).status).toBe(200);
  });

  it('refuses a body that does not match its signed SHA-256, and keeps nothing', async () => {
    const r = await req({ method: 'PUT', path: '/edge/tampered', body: 'actual', payloadHash: createHash('sha256').update('claimed').digest('hex') });
    expect(r.status).toBe(400);
    expect(errorCode(r.body)).toBe('XAmzContentSHA256Mismatch');
    expect((await req({ method: 'HEAD', path: '/edge/tampered' })).status).toBe(404);
  });

  it('verifies CRC32 and Content-MD5 when sent', async () => {
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(zlib.crc32('payload'));
    const ok = await req({ method: 'PUT', path: '/edge/crc', body: 'payload', headers: { 'x-amz-checksum-crc32': crc.toString('base64') } });
    expect(ok.status).toBe(200);
    expect(ok.headers['x-amz-checksum-crc32']).toBe(crc.toString('base64'));
    const bad = await req({ method: 'PUT', path: '/edge/crc', body: 'payload', headers: { 'x-amz-checksum-crc32': 'AAAAAA==' } });
    expect(errorCode(bad.body)).toBe('BadDigest');
    const md5bad = await req({ method: 'PUT', path: '/edge/md5', body: 'payload', headers: { 'content-md5': createHash('md5').update('other').digest('base64') } });
    expect(errorCode(md5bad.body)).toBe('BadDigest');
    const crc32c = await req({ method: 'PUT', path: '/edge/crc32c', body: '123456789', headers: { 'x-amz-checksum-crc32c': Buffer.from('e3069283', 'hex').toString('base64') } });
    expect(crc32c.status).toBe(200);
    const crc64 = await req({ method: 'PUT', path: '/edge/crc64', body: '123456789', headers: { 'x-amz-checksum-crc64nvme': Buffer.from('ae8b14860a799888', 'hex').toString('base64') } });
    expect(crc64.status).toBe(200);
    // The stored object is still the good one.
    expect(await text(await gw.blobStore.read({ owner: alice.accessKeyId, bucket: 'edge', key: 'crc' }))).toBe('payload');
  });

  it('accepts signed aws-chunked bodies and refuses a forged chunk', async () => {
    const data = Buffer.alloc(200_000, 'z');
    const date = new Date();
    const send = async (forge: boolean) => {
      const headers: Record<string, string> = {
        'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
        'content-encoding': 'aws-chunked',
        'x-amz-decoded-content-length': String(data.length),
      };
      const framed0 = signedChunks(data, 65536, { seed: '0'.repeat(64), secret: alice.secretAccessKey, date });
      headers['content-length'] = String(framed0.length);
      const seed = sign(new URL(url), { method: 'PUT', path: '/edge/chunked', date }, { creds: alice, headers });
      let framed = signedChunks(data, 65536, { seed, secret: alice.secretAccessKey, date });
      if (forge) {
        framed = Buffer.from(framed);
        const at = framed.length - 200;
        framed.writeUInt8(framed.readUInt8(at) ^ 1, at);
      }
      return rawRequest(url, { method: 'PUT', path: '/edge/chunked', headers, body: framed, unsigned: true });
    };
    const ok = await send(false);
    expect(ok.status).toBe(200);
    expect(ok.headers.etag).toBe(`"${md5hex(data)}"`);
    const forged = await send(true);
    expect(forged.status).toBe(403);
    expect(errorCode(forged.body)).toBe('SignatureDoesNotMatch');
  });

  it('an upload cut short leaves nothing visible and no temp file', async () => {
    await req({ method: 'PUT', path: '/edge/cut', body: 'x'.repeat(10), contentLength: 1000, payloadHash: 'UNSIGNED-PAYLOAD', destroyAfterBody: true });
    await new Promise((r) => setTimeout(r, 200));
    expect((await req({ method: 'HEAD', path: '/edge/cut' })).status).toBe(404);
    expect(await readdir(path.join(dir.path, 'data', 'tmp'))).toEqual([]);
  });
});

describe('S3Gateway hostile input', () => {
  it('never lets bucket names or keys escape the data dir', async () => {
    const hostileBuckets = ['..', '.', '%2e%2e', '..%2F..%2Fetc', 'a%2Fb', 'UPPER', 'a', 'x'.repeat(64), '%00abc', 'abc%00', '192.168.1.1'];
    for (const b of hostileBuckets) {
      const r = await req({ method: 'PUT', path: `/${b}` });
      expect(r.status, b).toBeGreaterThanOrEqual(400);
      expect(r.status, b).toBeLessThan(500);
    }
    const hostileKeys = ['..%2F..%2F..%2Fescape', '%2E%2E/%2E%2E/escape2', '../../../escape3', '%2Fabsolute', 'a/%2e%2e/%2e%2e/%2e%2e/%2e%2e/escape4'];
    for (const k of hostileKeys) {
      const r = await req({ method: 'PUT', path: `/edge/${k}`, body: 'evil' });
      expect(r.status, k).toBe(200);
    }
    const nul = await req({ method: 'PUT', path: '/edge/a%00b', body: 'x' });
    expect(errorCode(nul.body)).toBe('InvalidArgument');
    const long = await req({ method: 'PUT', path: `/edge/${'k'.repeat(1025)}`, body: 'x' });
    expect(errorCode(long.body)).toBe('KeyTooLongError');
    const badUtf8 = await req({ method: 'PUT', path: '/edge/%C3%28', body: 'x', unsigned: true });
    expect(badUtf8.status).toBe(400);
    // Every file the gateway wrote is inside the data dir, and nothing appeared beside it.
    expect((await readdir(dir.path)).sort()).toEqual(['data']);
    for (const f of await walk(path.join(dir.path, 'data'))) expect(f.startsWith(path.join(dir.path, 'data') + path.sep)).toBe(true);
    expect(await text(await gw.blobStore.read({ owner: alice.accessKeyId, bucket: 'edge', key: '../../../escape3' }))).toBe('evil');
  });

  it('answers malformed XML with MalformedXML', async () => {
    const up = await req({ method: 'POST', path: '/edge/mp?uploads' });
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(up.body)?.[1] ?? '';
    for (const body of ['<CompleteMultipartUpload><Part>', 'not xml', '<CompleteMultipartUpload></Wrong>', '<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>"a"</ETag></Part></CompleteMultipartUpload>', '']) {
      const r = await req({ method: 'POST', path: `/edge/mp?uploadId=${uploadId}`, body });
      expect(errorCode(r.body), body).toBe('MalformedXML');
    }
    for (const body of ['<Delete><Object><Key>a</Key></Object>', '<Delete></Delete>', '<Delete><Object></Object></Delete>', '<Delete><Object><Key>a&bogus;</Key></Object></Delete>']) {
      const r = await req({ method: 'POST', path: '/edge?delete', body });
      expect(errorCode(r.body), body).toBe('MalformedXML');
    }
    const unknownUpload = await req({ method: 'POST', path: '/edge/mp?uploadId=ffffffffffffffffffffffffffffffff', body: '<CompleteMultipartUpload/>' });
    expect(errorCode(unknownUpload.body)).toBe('NoSuchUpload');
    const traversalUpload = await req({ method: 'PUT', path: '/edge/mp?partNumber=1&uploadId=..%2F..%2Fbuckets', body: 'x' });
    expect(errorCode(traversalUpload.body)).toBe('NoSuchUpload');
  });

  it('answers unsupported features with NotImplemented, not with a wrong action', async () => {
    const r = await req({ method: 'PUT', path: '/edge/x?tagging', body: '<Tagging/>' });
    expect(errorCode(r.body)).toBe('NotImplemented');
    expect((await req({ method: 'HEAD', path: '/edge/x' })).status).toBe(404);
  });
});

describe('S3Gateway accounting and lifecycle', () => {
  it('counts buckets and bytes per user and enforces quotas', async () => {
    expect(await gw.usage(carol.accessKeyId)).toEqual({ bucketCount: 0, bytes: 0 });
    expect((await req({ method: 'PUT', path: '/carol-one' }, carol)).status).toBe(200);
    expect((await req({ method: 'PUT', path: '/carol-two' }, carol)).status).toBe(200);
    const third = await req({ method: 'PUT', path: '/carol-three' }, carol);
    expect(errorCode(third.body)).toBe('TooManyBuckets');
    expect((await req({ method: 'PUT', path: '/carol-one' }, carol)).status).toBe(200);
    expect((await req({ method: 'PUT', path: '/carol-one/a', body: 'x'.repeat(60) }, carol)).status).toBe(200);
    const over = await req({ method: 'PUT', path: '/carol-two/b', body: 'y'.repeat(60) }, carol);
    expect(over.status).toBe(403);
    expect(errorCode(over.body)).toBe('QuotaExceeded');
    expect(await gw.usage(carol.accessKeyId)).toEqual({ bucketCount: 2, bytes: 60 });
    await expect(gw.blobStore.write({ owner: carol.accessKeyId, bucket: 'carol-two', key: 'c' }, Buffer.alloc(60))).rejects.toThrow(/quota/i);
  });

  it('sweeps abandoned multipart uploads', async () => {
    const up = await req({ method: 'POST', path: '/edge/abandoned?uploads' });
    const uploadId = /<UploadId>([^<]+)<\/UploadId>/.exec(up.body)?.[1] ?? '';
    expect((await req({ method: 'PUT', path: `/edge/abandoned?partNumber=1&uploadId=${uploadId}`, body: 'part' })).status).toBe(200);
    const young = new S3Gateway({ dataDir: path.join(dir.path, 'data'), credentials: () => Promise.resolve(undefined), multipartMaxAgeMs: 0 });
    const swept = await young.sweep();
    await young.close();
    expect(swept.uploads).toBeGreaterThanOrEqual(1);
    const r = await req({ method: 'GET', path: `/edge/abandoned?uploadId=${uploadId}` });
    expect(errorCode(r.body)).toBe('NoSuchUpload');
  });

  it('shares its files with gw.blobStore both ways', async () => {
    await gw.blobStore.write({ owner: alice.accessKeyId, bucket: 'edge', key: 'from-store' }, Buffer.from('hi'));
    const got = await req({ method: 'GET', path: '/edge/from-store' });
    expect(got.body).toBe('hi');
    expect(got.headers.etag).toBe(`"${md5hex('hi')}"`);
    expect(await gw.blobStore.head({ owner: alice.accessKeyId, bucket: 'edge', key: 'chunked' })).toMatchObject({ size: 200_000 });
    await expect(gw.blobStore.bucketExists({ owner: bob.accessKeyId, bucket: 'edge' })).rejects.toThrow();
  });
});
