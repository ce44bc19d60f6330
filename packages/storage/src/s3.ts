/**
 * External S3 for Hearth: a {@link S3BlobStore} over @aws-sdk/client-s3, and {@link RgwUserProvisioner} to give
 * Hearth users their own keys on Ceph RGW. A separate entry point (`@hearth/storage/s3`) so code that only needs the
 * embedded gateway never loads the AWS SDK.
 *
 * @example
 * ```ts
 * import { S3BlobStore, RgwUserProvisioner } from '@hearth/storage/s3';
 * await new RgwUserProvisioner().ensure(email, token);
 * const store = new S3BlobStore({ endpoint: 'http://rgw:7480', credentials: async (e) => ({ accessKeyId: e, secretAccessKey: await tokenOf(e) }) });
 * ```
 * @module
 */
export * from './s3-blob-store.js';
export * from './rgw-user-provisioner.js';
export type { BlobStore, BlobInfo, BucketRef, ObjectRef } from './blob-store.js';
