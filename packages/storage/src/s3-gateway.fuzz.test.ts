import fc from 'fast-check';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Gateway } from './s3-gateway.js';
import type { Creds } from './test-support/raw-s3.js';
import { rawRequest } from './test-support/raw-s3.js';
import { tempDir } from './test-support/temp-dir.js';

const alice: Creds = { accessKeyId: 'alice@example.com', secretAccessKey: 'alice-token' };
let dir: Awaited<ReturnType<typeof tempDir>>;
let gw: S3Gateway;
let url: string;

beforeAll(async () => {
  dir = await tempDir();
  gw = new S3Gateway({ dataDir: path.join(dir.path, 'data'), credentials: (id) => Promise.resolve(id === alice.accessKeyId ? { secret: alice.secretAccessKey } : undefined), minPartSize: 1 });
  url = await gw.listen();
  await rawRequest(url, { method: 'PUT', path: '/fuzz' }, alice);
  await rawRequest(url, { method: 'PUT', path: '/fuzz/obj', body: 'hello' }, alice);
});
afterAll(async () => {
  await gw.close();
  await dir[Symbol.asyncDispose]();
});

const pct = fc.constantFrom('%2F', '%2E', '%00', '%C3%28', '%FF', '%', '%%', '%E2%82%AC', '+', '..', '.', '/', '?', '&', '=', ';', '~', '%20');
const word = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('fuzz', 'obj', 'missing', 'FUZZ', 'a', 'xn--a', '..', '.'));
const segment = fc.array(fc.oneof(word.map(encodeURIComponent), pct), { maxLength: 4 }).map((p) => p.join(''));
const queryNames = fc.constantFrom(
  'uploads', 'uploadId', 'partNumber', 'delete', 'list-type', 'prefix', 'delimiter', 'marker', 'max-keys', 'continuation-token',
  'start-after', 'versions', 'versionId', 'key-marker', 'version-id-marker', 'location', 'versioning', 'acl', 'tagging',
  'encoding-type', 'fetch-owner', 'max-parts', 'part-number-marker', 'max-uploads', 'response-content-type', 'X-Amz-Expires', 'bogus',
);
const queryValue = fc.oneof(fc.constantFrom('', '2', '0', '-1', '99999999999', 'url', 'null', 'true', 'a%2Fb', '%ZZ', 'AAAA', 'ffffffffffffffffffffffffffffffff'), word.map(encodeURIComponent));
const query = fc.array(fc.tuple(queryNames, fc.option(queryValue)), { maxLength: 4 }).map((q) => q.map(([k, v]) => (v === null ? k : `${k}=${v}`)).join('&'));
const headerPairs = fc.array(
  fc.oneof(
    fc.tuple(fc.constant('range'), fc.constantFrom('bytes=0-1', 'bytes=-5', 'bytes=5-', 'bytes=9-1', 'bytes=a-b', 'bytes=0-0,2-3', 'items=0-1', 'bytes=99999999999999999999-')),
    fc.tuple(fc.constantFrom('if-match', 'if-none-match'), fc.constantFrom('*', '"x"', '', 'W/"y"')),
    fc.tuple(fc.constantFrom('if-modified-since', 'if-unmodified-since'), fc.constantFrom('garbage', 'Thu, 01 Jan 1970 00:00:00 GMT', '')),
    fc.tuple(fc.constant('x-amz-copy-source'), fc.constantFrom('/fuzz/obj', 'fuzz', '/', '%', '/fuzz/obj?versionId=1', '/other/obj', '/fuzz/%C3%28')),
    fc.tuple(fc.constant('x-amz-copy-source-range'), fc.constantFrom('bytes=0-1', 'bytes=5-1', 'x')),
    fc.tuple(fc.constant('x-amz-metadata-directive'), fc.constantFrom('COPY', 'REPLACE', 'BOGUS')),
    fc.tuple(fc.constantFrom('x-amz-checksum-crc32', 'x-amz-checksum-sha256', 'x-amz-checksum-crc64nvme', 'content-md5', 'x-amz-trailer'), fc.constantFrom('AAAAAA==', '', 'x-amz-checksum-crc32', '!!')),
    fc.tuple(fc.constant('x-amz-decoded-content-length'), fc.constantFrom('0', '5', '-1', 'abc')),
    fc.tuple(fc.constant('x-amz-meta-k'), fc.string({ maxLength: 8 }).filter((s) => /^[\x20-\x7e]*$/.test(s))),
  ),
  { maxLength: 4 },
);
const payloadHash = fc.constantFrom(undefined, 'UNSIGNED-PAYLOAD', 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD', 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD', 'nonsense', '0'.repeat(64));
const body = fc.oneof(
  fc.constant(''),
  fc.string({ maxLength: 64 }),
  fc.constantFrom('<Delete><Object><Key>obj</Key></Object></Delete>', '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>x</ETag></Part></CompleteMultipartUpload>', '5\r\nhello\r\n0\r\n\r\n', '<a><b>&amp;&#0;&#x110000;</b></a>', '<?xml version="1.0"?><Delete>'),
);

describe('S3Gateway request parser (fuzz)', () => {
  it('answers any signed request without a 5xx (501 NotImplemented excepted, as S3 does)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          method: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH'),
          segs: fc.array(segment, { maxLength: 3 }),
          q: query,
          hs: headerPairs,
          ph: payloadHash,
          b: body,
        }),
        async ({ method, segs, q, hs, ph, b }) => {
        const p = `/${segs.join('/')}${q ? `?${q}` : ''}`;
        let res;
        try {
          res = await rawRequest(url, { method, path: p, headers: Object.fromEntries(hs), body: b, ...(ph ? { payloadHash: ph } : {}) }, alice);
        } catch (e) {
          // Our own test signer cannot sign a path that is not valid percent-encoding: send it unsigned.
          if (!(e instanceof URIError)) throw e;
          res = await rawRequest(url, { method, path: p, headers: Object.fromEntries(hs), body: b, unsigned: true });
        }
        // 501 is only ever the S3 NotImplemented code (anything unexpected renders as 500 InternalError).
        const fiveXX = res.status >= 500 && res.status !== 501;
        expect(fiveXX, `${method} ${p} ${JSON.stringify(hs)} ${ph} -> ${res.status} ${res.body}`).toBe(false);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('survives garbage on the socket', async () => {
    const { port } = new URL(url);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (bytes) => {
        await new Promise<void>((resolve) => {
          const s = net.connect(Number(port), '127.0.0.1', () => s.end(Buffer.concat([Buffer.from('PUT /fuzz/x HTTP/1.1\r\n'), Buffer.from(bytes)])));
          s.on('data', () => undefined);
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          s.setTimeout(2000, () => s.destroy());
        });
      }),
      { numRuns: 100 },
    );
    // Still serving.
    const r = await rawRequest(url, { method: 'GET', path: '/fuzz/obj' }, alice);
    expect(r.body).toBe('hello');
  });
});
