/**
 * The Hearth server: API, store, storage, scheduler and executor in one process.
 *
 * @example
 * ```ts
 * import { HearthServer } from '@hearth/server';
 * const server = await HearthServer.start({ dataDir: '.hearth', port: 0, storagePort: 0 });
 * console.log(server.apiUrl, server.user.email, server.user.token);
 * await server.close();
 * ```
 * @module
 */
export { HearthServer, openDataDir, newToken, DEFAULT_EMAIL, type HearthServerOptions } from './hearth-server.js';
export { BUILT_IN_PROFILES, DOCKER_BATCH } from './profiles.js';
