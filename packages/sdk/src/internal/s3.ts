import type { S3Client } from '@aws-sdk/client-s3';
import { AbortError, MissingBucketError, QarnotError, QarnotGenericError } from '../errors.js';
import { SignedGetter } from './s3-get.js';

/** The S3 client and its module, loaded on first use so that importing the SDK stays cheap. */
export interface S3Context {
  readonly client: S3Client;
  readonly s3: typeof import('@aws-sdk/client-s3');
  /** Light signed GETs for bulk downloads (path-style endpoints only). */
  readonly getter: SignedGetter | undefined;
}

/** How to reach the storage: resolved by `Connection.connect`. */
export interface S3Settings {
  readonly endpoint: string;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly unsafe: boolean;
  /** @default true: path-style addressing (`host/bucket/key`), what self-hosted S3 servers expect. */
  readonly forcePathStyle: boolean;
}

/** Imports the AWS SDK and builds the client. */
export async function createS3Context(settings: S3Settings): Promise<S3Context> {
  const s3 = await import('@aws-sdk/client-s3');
  const https = await import('node:https');
  const http = await import('node:http');
  const client = new s3.S3Client({
    region: 'us-east-1',
    endpoint: settings.endpoint,
    forcePathStyle: settings.forcePathStyle,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    // Qarnot's storage and older S3 servers reject the new default CRC checksums (reference §1.2).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 4,
    requestHandler: {
      httpAgent: new http.Agent({ keepAlive: true, maxSockets: 64 }),
      httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 64, rejectUnauthorized: !settings.unsafe }),
    },
  });
  const getter = settings.forcePathStyle
    ? new SignedGetter({ endpoint: settings.endpoint, accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey, unsafe: settings.unsafe, region: 'us-east-1' })
    : undefined;
  return { client, s3, getter };
}

/** Maps an AWS SDK failure to the SDK's errors: `NoSuchBucket` → {@link MissingBucketError}, aborts → AbortError. */
export function mapS3Error(e: unknown, bucket: string, signal?: AbortSignal): QarnotError {
  if (e instanceof QarnotError) return e;
  const err = e as { name?: string; Code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  if (signal?.aborted || err.name === 'AbortError') return new AbortError(signal?.reason ?? e);
  const name = err.name ?? err.Code ?? '';
  if (name === 'NoSuchBucket' || (name === 'NotFound' && err.$metadata?.httpStatusCode === 404 && bucket !== '')) {
    return new MissingBucketError(`bucket '${bucket}' does not exist`, { cause: e });
  }
  return new QarnotGenericError(`storage error on bucket '${bucket}': ${name ? `${name}: ` : ''}${err.message ?? String(e)}`, {
    cause: e,
  });
}
