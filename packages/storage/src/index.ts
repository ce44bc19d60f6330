/**
 * Hearth storage: the embedded S3-compatible gateway, and the {@link BlobStore} the server uses to read resources
 * and write results.
 * @module
 */
export * from './blob-store.js';
export * from './fs-blob-store.js';
export * from './s3-gateway.js';
