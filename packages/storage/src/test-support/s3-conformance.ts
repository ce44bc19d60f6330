import { createHash, randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

export interface S3Target {
  readonly endpoint: string;
  /** Two distinct users: bucket ownership is checked between them. */
  readonly users: readonly [{ accessKeyId: string; secretAccessKey: string }, { accessKeyId: string; secretAccessKey: string }];
  /**
   * Also check AWS behaviours Ceph RGW 16 lacks: part ETags verified on CompleteMultipartUpload, and streamed
   * (`aws-chunked`, no Content-Length) uploads with trailing checksums, the SDK's default for stream bodies.
   */
  readonly awsStrict?: boolean;
  close(): Promise<void>;
}

export const MiB = 1024 * 1024;

export function client(target: Pick<S3Target, 'endpoint'>, user: { accessKeyId: string; secretAccessKey: string }, extra: Partial<S3ClientConfig> = {}): S3Client {
  return new S3Client({ endpoint: target.endpoint, region: 'us-east-1', forcePathStyle: true, credentials: user, maxAttempts: 1, ...extra });
}

export const md5Etag = (b: Buffer | string): string => `"${createHash('md5').update(b).digest('hex')}"`;
export function multipartEtag(parts: Buffer[]): string {
  const h = createHash('md5');
  for (const p of parts) h.update(createHash('md5').update(p).digest());
  return `"${h.digest('hex')}-${parts.length}"`;
}

const unquote = (e: string | undefined): string => (e ?? '').replace(/"/g, '');

async function errorOf(p: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; $metadata?: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata?.httpStatusCode };
  }
  throw new Error('expected the call to fail');
}

/**
 * The storage conformance suite: what Hearth's clients and runner rely on, run unchanged against the embedded
 * gateway and against Ceph RGW, so the gateway is shown to behave like a real S3 server.
 */
export function describeS3Conformance(name: string, start: () => Promise<S3Target>): void {
  describe(`S3 conformance: ${name}`, () => {
    let target: S3Target;
    let s3: S3Client;
    let other: S3Client;
    const run = Math.random().toString(36).slice(2, 8);
    const b = (s: string): string => `conf-${run}-${s}`;

    beforeAll(async () => {
      target = await start();
      s3 = client(target, target.users[0]);
      other = client(target, target.users[1]);
    });
    afterAll(async () => {
      s3?.destroy();
      other?.destroy();
      await target?.close();
    });

    it('creates buckets idempotently for the owner, and keeps them from other users', async () => {
      const name = b('own');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      // The Python SDK re-creates a bucket it already has every time (Bucket(conn, name, create=True)).
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      await s3.send(new HeadBucketCommand({ Bucket: name }));
      const mine = await s3.send(new ListBucketsCommand({}));
      expect(mine.Buckets?.map((x) => x.Name)).toContain(name);
      const theirs = await other.send(new ListBucketsCommand({}));
      expect(theirs.Buckets?.map((x) => x.Name) ?? []).not.toContain(name);
      expect(await errorOf(other.send(new CreateBucketCommand({ Bucket: name })))).toMatchObject({ name: 'BucketAlreadyExists', status: 409 });
      expect((await errorOf(other.send(new HeadBucketCommand({ Bucket: name })))).status).toBe(403);
      await s3.send(new PutObjectCommand({ Bucket: name, Key: 'secret', Body: 'x' }));
      expect(await errorOf(other.send(new GetObjectCommand({ Bucket: name, Key: 'secret' })))).toMatchObject({ name: 'AccessDenied', status: 403 });
      expect(await errorOf(other.send(new PutObjectCommand({ Bucket: name, Key: 'intrude', Body: 'x' })))).toMatchObject({ name: 'AccessDenied', status: 403 });
      expect(await errorOf(other.send(new ListObjectsV2Command({ Bucket: name })))).toMatchObject({ name: 'AccessDenied', status: 403 });
      expect((await errorOf(s3.send(new HeadBucketCommand({ Bucket: b('never-made') })))).status).toBe(404);
      expect(await errorOf(s3.send(new ListObjectsV2Command({ Bucket: b('never-made') })))).toMatchObject({ name: 'NoSuchBucket', status: 404 });
      const loc = await s3.send(new GetBucketLocationCommand({ Bucket: name }));
      // Both mean the default region (RGW names its zonegroup "default").
      expect(['', 'default']).toContain(loc.LocationConstraint ?? '');
      const ver = await s3.send(new GetBucketVersioningCommand({ Bucket: name }));
      expect(ver.Status).toBeUndefined();
    });

    it('puts, gets and heads objects with metadata, content type and MD5 ETags', async () => {
      const name = b('objects');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const body = Buffer.from('hello, hearth');
      const put = await s3.send(new PutObjectCommand({ Bucket: name, Key: 'dir/hello.txt', Body: body, ContentType: 'text/plain', Metadata: { owner: 'alice', 'task-id': '42' } }));
      expect(put.ETag).toBe(md5Etag(body));
      const got = await s3.send(new GetObjectCommand({ Bucket: name, Key: 'dir/hello.txt' }));
      expect(await got.Body?.transformToString()).toBe('hello, hearth');
      expect(got.ContentType).toBe('text/plain');
      expect(got.ContentLength).toBe(body.length);
      expect(got.ETag).toBe(md5Etag(body));
      expect(got.Metadata).toEqual({ owner: 'alice', 'task-id': '42' });
      const head = await s3.send(new HeadObjectCommand({ Bucket: name, Key: 'dir/hello.txt' }));
      expect(head.ContentLength).toBe(body.length);
      expect(head.Metadata?.owner).toBe('alice');
      const empty = await s3.send(new PutObjectCommand({ Bucket: name, Key: 'empty', Body: Buffer.alloc(0) }));
      expect(empty.ETag).toBe(md5Etag(''));
      expect(await (await s3.send(new GetObjectCommand({ Bucket: name, Key: 'empty' }))).Body?.transformToString()).toBe('');
      expect(await errorOf(s3.send(new GetObjectCommand({ Bucket: name, Key: 'missing' })))).toMatchObject({ name: 'NoSuchKey', status: 404 });
      expect((await errorOf(s3.send(new HeadObjectCommand({ Bucket: name, Key: 'missing' })))).status).toBe(404);
      // Overwrite replaces atomically.
      await s3.send(new PutObjectCommand({ Bucket: name, Key: 'dir/hello.txt', Body: 'v2' }));
      expect(await (await s3.send(new GetObjectCommand({ Bucket: name, Key: 'dir/hello.txt' }))).Body?.transformToString()).toBe('v2');
    });

    it('keeps awkward keys intact', async () => {
      const name = b('keys');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const keys = ['a b/c+d=e&f.txt', 'ünï/cödé/✓.bin', '100%/50%', 'x/../y', 'quote"s\'', 'tilde~star*(paren)!', 'emoji/😀', 'a//double'];
      for (const k of keys) await s3.send(new PutObjectCommand({ Bucket: name, Key: k, Body: k }));
      for (const k of keys) expect(await (await s3.send(new GetObjectCommand({ Bucket: name, Key: k }))).Body?.transformToString()).toBe(k);
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: name }));
      const expected = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
      expect(listed.Contents?.map((c) => c.Key)).toEqual(expected);
      const v1 = await s3.send(new ListObjectsCommand({ Bucket: name, EncodingType: 'url' }));
      expect(v1.Contents?.map((c) => decodeURIComponent((c.Key ?? '').replace(/\+/g, ' ')))).toEqual(expected);
    });

    it('stores and serves a large object whole and in ranges across its 1 MiB boundaries', async () => {
      const name = b('large');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const data = randomBytes(9 * MiB + 123);
      const put = await s3.send(new PutObjectCommand({ Bucket: name, Key: 'large', Body: data }));
      expect(put.ETag).toBe(md5Etag(data));
      const whole = await s3.send(new GetObjectCommand({ Bucket: name, Key: 'large' }));
      expect(Buffer.from((await whole.Body?.transformToByteArray()) ?? []).equals(data)).toBe(true);
      for (const [start, end] of [
        [MiB - 1, 8 * MiB + 1],
        [17, data.length - 1],
      ] as const) {
        const part = await s3.send(new GetObjectCommand({ Bucket: name, Key: 'large', Range: `bytes=${start}-${end}` }));
        expect(part.ContentRange).toBe(`bytes ${start}-${end}/${data.length}`);
        expect(Buffer.from((await part.Body?.transformToByteArray()) ?? []).equals(data.subarray(start, end + 1))).toBe(true);
      }
    });

    it('serves byte ranges and conditional requests', async () => {
      const name = b('ranges');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const body = Buffer.from('0123456789');
      const { ETag } = await s3.send(new PutObjectCommand({ Bucket: name, Key: 'r', Body: body }));
      const r1 = await s3.send(new GetObjectCommand({ Bucket: name, Key: 'r', Range: 'bytes=2-5' }));
      expect(await r1.Body?.transformToString()).toBe('2345');
      expect(r1.ContentRange).toBe('bytes 2-5/10');
      expect(r1.$metadata.httpStatusCode).toBe(206);
      expect(await (await s3.send(new GetObjectCommand({ Bucket: name, Key: 'r', Range: 'bytes=-3' }))).Body?.transformToString()).toBe('789');
      expect(await (await s3.send(new GetObjectCommand({ Bucket: name, Key: 'r', Range: 'bytes=7-' }))).Body?.transformToString()).toBe('789');
      expect(await (await s3.send(new GetObjectCommand({ Bucket: name, Key: 'r', Range: 'bytes=8-100' }))).Body?.transformToString()).toBe('89');
      expect(await errorOf(s3.send(new GetObjectCommand({ Bucket: name, Key: 'r', Range: 'bytes=10-20' })))).toMatchObject({ name: 'InvalidRange', status: 416 });
      expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: name, Key: 'r', IfNoneMatch: ETag })))).status).toBe(304);
      expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: name, Key: 'r', IfMatch: '"0000"' })))).status).toBe(412);
      expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: name, Key: 'r', IfModifiedSince: new Date(Date.now() + 3600_000) })))).status).toBe(304);
      expect((await errorOf(s3.send(new GetObjectCommand({ Bucket: name, Key: 'r', IfUnmodifiedSince: new Date(Date.now() - 3600_000) })))).status).toBe(412);
      const ok = await s3.send(new GetObjectCommand({ Bucket: name, Key: 'r', IfMatch: ETag, IfModifiedSince: new Date(Date.now() - 3600_000) }));
      expect(await ok.Body?.transformToString()).toBe('0123456789');
    });

    it('lists with prefix, delimiter, pagination and start-after (v1, v2 and versions)', async () => {
      const name = b('list');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const keys = ['a/1', 'a/2', 'a/b/3', 'b/4', 'c', 'd/5', 'd/6', 'e'];
      await Promise.all(keys.map((k) => s3.send(new PutObjectCommand({ Bucket: name, Key: k, Body: k }))));
      const top = await s3.send(new ListObjectsV2Command({ Bucket: name, Delimiter: '/' }));
      expect(top.Contents?.map((c) => c.Key)).toEqual(['c', 'e']);
      expect(top.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'b/', 'd/']);
      expect(top.KeyCount).toBe(5);
      const inA = await s3.send(new ListObjectsV2Command({ Bucket: name, Prefix: 'a/', Delimiter: '/' }));
      expect(inA.Contents?.map((c) => c.Key)).toEqual(['a/1', 'a/2']);
      expect(inA.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/b/']);
      expect(inA.Contents?.[0]?.ETag).toBe(md5Etag('a/1'));
      expect(inA.Contents?.[0]?.Size).toBe(3);
      // Pages of 3 with the delimiter: common prefixes count toward max-keys.
      const seen: string[] = [];
      let token: string | undefined;
      let pages = 0;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: name, Delimiter: '/', MaxKeys: 2, ContinuationToken: token }));
        seen.push(...(page.Contents ?? []).map((c) => c.Key ?? ''), ...(page.CommonPrefixes ?? []).map((p) => p.Prefix ?? ''));
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
        pages++;
      } while (token);
      expect(seen.sort()).toEqual(['a/', 'b/', 'c', 'd/', 'e']);
      expect(pages).toBe(3);
      const after = await s3.send(new ListObjectsV2Command({ Bucket: name, StartAfter: 'b/4' }));
      expect(after.Contents?.map((c) => c.Key)).toEqual(['c', 'd/5', 'd/6', 'e']);
      // v1: marker, and NextMarker when a delimiter is given.
      const v1 = await s3.send(new ListObjectsCommand({ Bucket: name, MaxKeys: 3 }));
      expect(v1.Contents?.map((c) => c.Key)).toEqual(['a/1', 'a/2', 'a/b/3']);
      expect(v1.IsTruncated).toBe(true);
      const v1b = await s3.send(new ListObjectsCommand({ Bucket: name, Marker: 'a/b/3' }));
      expect(v1b.Contents?.map((c) => c.Key)).toEqual(['b/4', 'c', 'd/5', 'd/6', 'e']);
      const v1d = await s3.send(new ListObjectsCommand({ Bucket: name, Delimiter: '/', MaxKeys: 2 }));
      expect(v1d.CommonPrefixes?.map((p) => p.Prefix)).toEqual(['a/', 'b/']);
      expect(v1d.NextMarker).toBe('b/');
      const v1e = await s3.send(new ListObjectsCommand({ Bucket: name, Delimiter: '/', Marker: v1d.NextMarker }));
      expect([...(v1e.Contents ?? []).map((c) => c.Key), ...(v1e.CommonPrefixes ?? []).map((p) => p.Prefix)].sort()).toEqual(['c', 'd/', 'e']);
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: name, Prefix: 'd/' }));
      expect(versions.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest])).toEqual([
        ['d/5', 'null', true],
        ['d/6', 'null', true],
      ]);
      expect(versions.DeleteMarkers ?? []).toEqual([]);
    });

    it('deletes one object, a batch with VersionId "null", then the bucket', async () => {
      const name = b('delete');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      for (const k of ['x', 'y', 'z', 'w']) await s3.send(new PutObjectCommand({ Bucket: name, Key: k, Body: k }));
      expect(await errorOf(s3.send(new DeleteBucketCommand({ Bucket: name })))).toMatchObject({ name: 'BucketNotEmpty', status: 409 });
      await s3.send(new DeleteObjectCommand({ Bucket: name, Key: 'w' }));
      await s3.send(new DeleteObjectCommand({ Bucket: name, Key: 'never-existed' }));
      // What the Python SDK's Bucket.delete() does: ListObjectVersions, then DeleteObjects with VersionId.
      const versions = await s3.send(new ListObjectVersionsCommand({ Bucket: name }));
      const res = await s3.send(
        new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: (versions.Versions ?? []).map((v) => ({ Key: v.Key, VersionId: v.VersionId })) } }),
      );
      expect(res.Deleted?.map((d) => d.Key).sort()).toEqual(['x', 'y', 'z']);
      expect(res.Errors ?? []).toEqual([]);
      const quiet = await s3.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: [{ Key: 'x' }], Quiet: true } }));
      expect(quiet.Deleted ?? []).toEqual([]);
      expect((await s3.send(new ListObjectsV2Command({ Bucket: name }))).KeyCount).toBe(0);
      await s3.send(new DeleteBucketCommand({ Bucket: name }));
      expect(await errorOf(s3.send(new DeleteBucketCommand({ Bucket: name })))).toMatchObject({ name: 'NoSuchBucket', status: 404 });
    });

    it('copies objects, keeping or replacing metadata', async () => {
      const name = b('copy');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      await s3.send(new PutObjectCommand({ Bucket: name, Key: 'src dir/a', Body: 'payload', ContentType: 'text/x-a', Metadata: { m: '1' } }));
      const c1 = await s3.send(new CopyObjectCommand({ Bucket: name, Key: 'kept', CopySource: `${name}/${encodeURIComponent('src dir/a')}` }));
      // RGW leaves the quotes off the ETag in CopyObjectResult; AWS and the gateway keep them.
      expect(unquote(c1.CopyObjectResult?.ETag)).toBe(unquote(md5Etag('payload')));
      const kept = await s3.send(new GetObjectCommand({ Bucket: name, Key: 'kept' }));
      expect(await kept.Body?.transformToString()).toBe('payload');
      expect(kept.ContentType).toBe('text/x-a');
      expect(kept.Metadata).toEqual({ m: '1' });
      await s3.send(new CopyObjectCommand({ Bucket: name, Key: 'replaced', CopySource: `${name}/src%20dir/a`, MetadataDirective: 'REPLACE', ContentType: 'text/x-b', Metadata: { n: '2' } }));
      const replaced = await s3.send(new HeadObjectCommand({ Bucket: name, Key: 'replaced' }));
      expect(replaced.ContentType).toBe('text/x-b');
      expect(replaced.Metadata).toEqual({ n: '2' });
      expect(await errorOf(s3.send(new CopyObjectCommand({ Bucket: name, Key: 'z', CopySource: `${name}/missing` })))).toMatchObject({ name: 'NoSuchKey', status: 404 });
    });

    it('runs a full multipart upload with AWS multipart ETags', async () => {
      const name = b('multipart');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const p1 = Buffer.alloc(5 * MiB, 1);
      const p2 = Buffer.from('tail bytes');
      const { UploadId } = await s3.send(new CreateMultipartUploadCommand({ Bucket: name, Key: 'big', ContentType: 'application/x-big', Metadata: { kind: 'mp' } }));
      expect(UploadId).toBeTruthy();
      const e2 = await s3.send(new UploadPartCommand({ Bucket: name, Key: 'big', UploadId, PartNumber: 2, Body: p2 }));
      const e1 = await s3.send(new UploadPartCommand({ Bucket: name, Key: 'big', UploadId, PartNumber: 1, Body: p1 }));
      expect(e1.ETag).toBe(md5Etag(p1));
      const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: name }));
      expect(uploads.Uploads?.map((u) => [u.Key, u.UploadId])).toEqual([['big', UploadId]]);
      const parts = await s3.send(new ListPartsCommand({ Bucket: name, Key: 'big', UploadId }));
      expect(parts.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size])).toEqual([
        [1, md5Etag(p1), p1.length],
        [2, md5Etag(p2), p2.length],
      ]);
      if (target.awsStrict) {
        // RGW 16 completes these instead of refusing them.
        expect(await errorOf(s3.send(new CompleteMultipartUploadCommand({ Bucket: name, Key: 'big', UploadId, MultipartUpload: { Parts: [{ PartNumber: 2, ETag: e2.ETag }, { PartNumber: 1, ETag: e1.ETag }] } })))).toMatchObject({
          name: 'InvalidPartOrder',
          status: 400,
        });
        expect(await errorOf(s3.send(new CompleteMultipartUploadCommand({ Bucket: name, Key: 'big', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 3, ETag: e2.ETag }] } })))).toMatchObject({
          name: 'InvalidPart',
          status: 400,
        });
        expect(await errorOf(s3.send(new CompleteMultipartUploadCommand({ Bucket: name, Key: 'big', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }] } })))).toMatchObject({
          name: 'InvalidPart',
          status: 400,
        });
      }
      const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: name, Key: 'big', UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: e1.ETag }, { PartNumber: 2, ETag: e2.ETag }] } }));
      if (target.awsStrict) expect(done.ETag).toBe(multipartEtag([p1, p2]));
      const got = await s3.send(new GetObjectCommand({ Bucket: name, Key: 'big' }));
      const bytes = Buffer.from((await got.Body?.transformToByteArray()) ?? []);
      expect(bytes.equals(Buffer.concat([p1, p2]))).toBe(true);
      expect(got.ETag).toBe(multipartEtag([p1, p2]));
      expect(got.ContentType).toBe('application/x-big');
      expect(got.Metadata).toEqual({ kind: 'mp' });
      const gone = await errorOf(s3.send(new ListPartsCommand({ Bucket: name, Key: 'big', UploadId })));
      expect(gone.status).toBe(404);
      // AWS (and the gateway) say NoSuchUpload; RGW 16 says NoSuchKey.
      expect(target.awsStrict ? ['NoSuchUpload'] : ['NoSuchUpload', 'NoSuchKey']).toContain(gone.name);
      // The listing reports the multipart ETag too (the Python SDK's sync compares them).
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: name, Prefix: 'big' }));
      expect(listed.Contents?.[0]?.ETag).toBe(multipartEtag([p1, p2]));
    });

    it('rejects small parts, copies parts, and aborts uploads', async () => {
      const name = b('multipart2');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const small = await s3.send(new CreateMultipartUploadCommand({ Bucket: name, Key: 'small' }));
      const s1 = await s3.send(new UploadPartCommand({ Bucket: name, Key: 'small', UploadId: small.UploadId, PartNumber: 1, Body: 'tiny' }));
      const s2 = await s3.send(new UploadPartCommand({ Bucket: name, Key: 'small', UploadId: small.UploadId, PartNumber: 2, Body: 'tiny' }));
      expect(await errorOf(s3.send(new CompleteMultipartUploadCommand({ Bucket: name, Key: 'small', UploadId: small.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: s1.ETag }, { PartNumber: 2, ETag: s2.ETag }] } })))).toMatchObject({
        name: 'EntityTooSmall',
        status: 400,
      });
      await s3.send(new AbortMultipartUploadCommand({ Bucket: name, Key: 'small', UploadId: small.UploadId }));
      expect(await errorOf(s3.send(new UploadPartCommand({ Bucket: name, Key: 'small', UploadId: small.UploadId, PartNumber: 3, Body: 'x' })))).toMatchObject({ name: 'NoSuchUpload', status: 404 });
      expect(await errorOf(s3.send(new HeadObjectCommand({ Bucket: name, Key: 'small' })))).toMatchObject({ status: 404 });

      const src = Buffer.alloc(6 * MiB);
      for (let i = 0; i < src.length; i++) src[i] = i % 251;
      await s3.send(new PutObjectCommand({ Bucket: name, Key: 'source', Body: src }));
      const up = await s3.send(new CreateMultipartUploadCommand({ Bucket: name, Key: 'copied' }));
      const c1 = await s3.send(new UploadPartCopyCommand({ Bucket: name, Key: 'copied', UploadId: up.UploadId, PartNumber: 1, CopySource: `${name}/source`, CopySourceRange: `bytes=0-${5 * MiB - 1}` }));
      const c2 = await s3.send(new UploadPartCopyCommand({ Bucket: name, Key: 'copied', UploadId: up.UploadId, PartNumber: 2, CopySource: `${name}/source`, CopySourceRange: `bytes=${5 * MiB}-${src.length - 1}` }));
      expect(unquote(c1.CopyPartResult?.ETag)).toBe(unquote(md5Etag(src.subarray(0, 5 * MiB))));
      const done = await s3.send(new CompleteMultipartUploadCommand({ Bucket: name, Key: 'copied', UploadId: up.UploadId, MultipartUpload: { Parts: [{ PartNumber: 1, ETag: c1.CopyPartResult?.ETag }, { PartNumber: 2, ETag: c2.CopyPartResult?.ETag }] } }));
      if (target.awsStrict) expect(done.ETag).toBe(multipartEtag([src.subarray(0, 5 * MiB), src.subarray(5 * MiB)]));
      expect((await s3.send(new HeadObjectCommand({ Bucket: name, Key: 'copied' }))).ETag).toBe(multipartEtag([src.subarray(0, 5 * MiB), src.subarray(5 * MiB)]));
      const back = Buffer.from((await (await s3.send(new GetObjectCommand({ Bucket: name, Key: 'copied' }))).Body?.transformToByteArray()) ?? []);
      expect(back.equals(src)).toBe(true);
    });

    it('uploads through lib-storage (multipart, streamed body of unknown length)', async () => {
      const name = b('libstorage');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const chunk = Buffer.alloc(MiB, 7);
      const parts = 12;
      const upload = new Upload({ client: s3, params: { Bucket: name, Key: 'streamed', Body: Readable.from((function* () { for (let i = 0; i < parts; i++) yield chunk; })()) }, partSize: 5 * MiB, queueSize: 3 });
      await upload.done();
      const whole = Buffer.concat(Array.from({ length: parts }, () => chunk));
      expect((await s3.send(new HeadObjectCommand({ Bucket: name, Key: 'streamed' }))).ETag).toBe(multipartEtag([whole.subarray(0, 5 * MiB), whole.subarray(5 * MiB, 10 * MiB), whole.subarray(10 * MiB)]));
      const head = await s3.send(new HeadObjectCommand({ Bucket: name, Key: 'streamed' }));
      expect(head.ContentLength).toBe(parts * MiB);
      // A small body takes lib-storage's single-PUT path.
      await new Upload({ client: s3, params: { Bucket: name, Key: 'single', Body: Readable.from([Buffer.from('abc')]) } }).done();
      expect((await s3.send(new HeadObjectCommand({ Bucket: name, Key: 'single' }))).ETag).toBe(md5Etag('abc'));
    });

    it('accepts every flexible checksum, and clients that send none', async () => {
      const name = b('checksums');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      for (const algo of ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const) {
        const body = Buffer.from(`checksummed with ${algo}`);
        const put = await s3.send(new PutObjectCommand({ Bucket: name, Key: algo, Body: body, ChecksumAlgorithm: algo }));
        expect(put.ETag).toBe(md5Etag(body));
        if (!target.awsStrict) continue;
        // Streamed bodies go out aws-chunked with the checksum in a trailer.
        const streamed = await s3.send(new PutObjectCommand({ Bucket: name, Key: `${algo}-stream`, Body: Readable.from([body]), ContentLength: body.length, ChecksumAlgorithm: algo }));
        expect(streamed.ETag).toBe(md5Etag(body));
        expect(await (await s3.send(new GetObjectCommand({ Bucket: name, Key: `${algo}-stream` }))).Body?.transformToString()).toBe(body.toString());
      }
      const plain = client(target, target.users[0], { requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' });
      await plain.send(new PutObjectCommand({ Bucket: name, Key: 'plain', Body: 'no checksum' }));
      await plain.send(new DeleteObjectsCommand({ Bucket: name, Delete: { Objects: [{ Key: 'plain' }] } }));
      plain.destroy();
    });

    it('honours presigned URLs, and refuses expired ones and wrong secrets', async () => {
      const name = b('presign');
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      const putUrl = await getSignedUrl(s3, new PutObjectCommand({ Bucket: name, Key: 'p/q r.txt' }), { expiresIn: 300 });
      const put = await fetch(putUrl, { method: 'PUT', body: 'presigned body' });
      expect(put.status).toBe(200);
      const getUrl = await getSignedUrl(s3, new GetObjectCommand({ Bucket: name, Key: 'p/q r.txt' }), { expiresIn: 300 });
      const get = await fetch(getUrl);
      expect(await get.text()).toBe('presigned body');
      const expired = await getSignedUrl(s3, new GetObjectCommand({ Bucket: name, Key: 'p/q r.txt' }), { expiresIn: 1, signingDate: new Date(Date.now() - 60_000) });
      const res = await fetch(expired);
      expect(res.status).toBe(403);
      expect(await res.text()).toContain('<Code>AccessDenied</Code>');
      const tampered = getUrl.replace('q%20r.txt', 'other.txt');
      expect((await fetch(tampered)).status).toBe(403);
      const wrong = client(target, { accessKeyId: target.users[0].accessKeyId, secretAccessKey: 'not-the-secret' });
      expect(await errorOf(wrong.send(new ListBucketsCommand({})))).toMatchObject({ name: 'SignatureDoesNotMatch', status: 403 });
      const unknown = client(target, { accessKeyId: 'nobody@example.com', secretAccessKey: 'x' });
      expect(await errorOf(unknown.send(new ListBucketsCommand({})))).toMatchObject({ name: 'InvalidAccessKeyId', status: 403 });
      wrong.destroy();
      unknown.destroy();
      const anonymous = await fetch(`${target.endpoint}/${name}/p/q%20r.txt`);
      expect(anonymous.status).toBe(403);
    });
  });
}
