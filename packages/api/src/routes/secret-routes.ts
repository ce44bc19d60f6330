import { secretValue, validateInput } from '@hearth/core';
import { ApiError, badRequest, notFound } from '../api-error.js';
import type { ApiContext } from '../api-server.js';
import type { RequestContext, RouteSpec } from '../router.js';
import { jsonReply } from './collection.js';

const MAX_KEY = 1024;

/** Secret keys are paths (`a/b/c`); surrounding slashes are dropped as the Python SDK does. */
function secretKey(ctx: RequestContext): string {
  const key = (ctx.params['key'] ?? '').replace(/^\/+|\/+$/g, '');
  if (key === '') throw badRequest("Invalid secret key: 'key' must not be empty", 'key');
  if (key.length > MAX_KEY) throw badRequest(`Invalid secret key: at most ${MAX_KEY} characters`, 'key');
  if (key.split('/').some((part) => part === '')) throw badRequest("Invalid secret key: empty path segment ('//')", 'key');
  return key;
}

export function secretRoutes(app: ApiContext): RouteSpec[] {
  const store = app.store;
  return [
    {
      method: 'GET',
      path: '/secrets-manager/data/{*key}',
      summary: 'Read a secret: `{value}`',
      tag: 'secrets',
      handler: async (ctx) => {
        const key = secretKey(ctx);
        const value = await store.getSecret(ctx.user.id, key);
        if (value === undefined) throw notFound(`Secret not found: '${key}'`);
        return jsonReply(200, { value });
      },
    },
    {
      method: 'PUT',
      path: '/secrets-manager/data/{*key}',
      summary: 'Create a secret from `{"Value"}`; 409 when it exists',
      tag: 'secrets',
      body: secretValue,
      handler: async (ctx) => {
        const key = secretKey(ctx);
        const { value } = validateInput(secretValue, await ctx.body(), 'secret');
        if (!(await store.putSecret(ctx.user.id, key, { value, mode: 'create' }))) {
          throw new ApiError('conflict', `Secret already exists: '${key}'`);
        }
        return { status: 201, empty: true };
      },
    },
    {
      method: 'PATCH',
      path: '/secrets-manager/data/{*key}',
      summary: 'Update a secret from `{"Value"}`; 404 when missing',
      tag: 'secrets',
      body: secretValue,
      handler: async (ctx) => {
        const key = secretKey(ctx);
        const { value } = validateInput(secretValue, await ctx.body(), 'secret');
        if (!(await store.putSecret(ctx.user.id, key, { value, mode: 'update' }))) throw notFound(`Secret not found: '${key}'`);
        return { status: 204, empty: true };
      },
    },
    {
      method: 'DELETE',
      path: '/secrets-manager/data/{*key}',
      summary: 'Delete a secret',
      tag: 'secrets',
      handler: async (ctx) => {
        const key = secretKey(ctx);
        if (!(await store.deleteSecret(ctx.user.id, key))) throw notFound(`Secret not found: '${key}'`);
        return { status: 204, empty: true };
      },
    },
    {
      method: 'GET',
      path: '/secrets-manager/search/{*prefix}',
      summary: 'Keys under a prefix, relative to it; a trailing `/` marks a folder',
      tag: 'secrets',
      handler: async (ctx) => {
        const prefix = (ctx.params['prefix'] ?? '').replace(/^\/+|\/+$/g, '');
        const base = prefix === '' ? '' : `${prefix}/`;
        const keys = new Set<string>();
        for (const k of await store.secretKeys(ctx.user.id, base)) {
          const rest = k.slice(base.length);
          const slash = rest.indexOf('/');
          keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
        }
        return jsonReply(200, { keys: [...keys] });
      },
    },
  ];
}
