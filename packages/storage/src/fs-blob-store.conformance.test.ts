import { FsBlobStore } from './fs-blob-store.js';
import { describeBlobStoreConformance } from './test-support/blob-store-conformance.js';
import { tempDir } from './test-support/temp-dir.js';

describeBlobStoreConformance('FsBlobStore', async () => {
  const dir = await tempDir();
  return { store: new FsBlobStore(dir.path), owner: 'alice@example.com', other: 'bob@example.com', close: () => dir[Symbol.asyncDispose]() };
});
