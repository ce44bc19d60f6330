import { S3Error } from './s3-error.js';

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

/** S3 bucket-naming rules; a valid name is also a safe single path segment (no `/`, no `..`). */
export function isValidBucketName(name: string): boolean {
  return (
    BUCKET_RE.test(name) &&
    !name.includes('..') &&
    !name.includes('.-') &&
    !name.includes('-.') &&
    !IPV4_RE.test(name) &&
    !name.startsWith('xn--') &&
    !name.startsWith('sthree-') &&
    !name.endsWith('-s3alias') &&
    !name.endsWith('--ol-s3')
  );
}

export function assertBucketName(name: string): void {
  if (!isValidBucketName(name)) throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', { extra: { BucketName: name } });
}

export const MAX_KEY_BYTES = 1024;
// With the u flag, a surrogate class matches only unpaired halves.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Keys are never used as paths (files are named by the key's SHA-256), so `..` and `/` are harmless and kept as S3
 * keeps them. A NUL cannot be written in an XML listing, so it is refused, like an empty or over-long key.
 */
export function assertKey(key: string): void {
  if (key.length === 0) throw new S3Error('InvalidArgument', 'The object key must not be empty.');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new S3Error('KeyTooLongError', 'Your key is too long.');
  if (key.includes('\0')) throw new S3Error('InvalidArgument', 'The object key must not contain a NUL character.');
  if (LONE_SURROGATE.test(key)) throw new S3Error('InvalidArgument', 'The object key is not valid UTF-8.');
}
