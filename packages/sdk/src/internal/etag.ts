import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

/** Part size of multipart uploads, and of the AWS multipart ETag computation (8 MiB, as the Python SDK). */
export const PART_SIZE = 8 * 1024 * 1024;

/**
 * The ETag S3 gives a file uploaded the way this SDK uploads it: `md5` below {@link PART_SIZE}, else
 * `md5(concat(md5 of each part))-<parts>` — the AWS multipart form. Unquoted.
 */
export async function fileEtag(path: string, partSize = PART_SIZE): Promise<string> {
  const whole = createHash('md5');
  const partDigests: Buffer[] = [];
  let part = createHash('md5');
  let inPart = 0;
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    let buf = chunk as Buffer;
    size += buf.length;
    whole.update(buf);
    while (buf.length > 0) {
      const take = Math.min(partSize - inPart, buf.length);
      part.update(buf.subarray(0, take));
      inPart += take;
      buf = buf.subarray(take);
      if (inPart === partSize) {
        partDigests.push(part.digest());
        part = createHash('md5');
        inPart = 0;
      }
    }
  }
  if (size < partSize) return whole.digest('hex');
  if (inPart > 0) partDigests.push(part.digest());
  return `${createHash('md5').update(Buffer.concat(partDigests)).digest('hex')}-${partDigests.length}`;
}

/** ETag of in-memory content uploaded in one piece. */
export function bufferEtag(data: Buffer | string): string {
  return createHash('md5').update(data).digest('hex');
}

/** Removes the quotes S3 puts around ETags. */
export function unquoteEtag(etag: string | undefined): string {
  return (etag ?? '').replace(/^W\//, '').replace(/^"|"$/g, '');
}
