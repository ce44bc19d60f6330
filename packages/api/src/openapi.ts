import { z } from 'zod';
import type { RouteSpec } from './router.js';

/** Builds the OpenAPI 3.1 document from the route table and the same zod schemas that validate requests. */
export function openApiDocument(routes: readonly RouteSpec[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/\{\*(\w+)\}/g, '{$1}');
    const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    const responses: Record<string, { description: string }> = {};
    for (const [code, description] of Object.entries(r.responses ?? { 200: 'OK' })) responses[code] = { description };
    if (r.auth !== false) responses['401'] ??= { description: 'missing or unknown token' };
    responses['400'] ??= { description: 'invalid input; the message names the field' };
    (paths[path] ??= {})[r.method.toLowerCase()] = {
      summary: r.summary,
      tags: [r.tag],
      ...(params.length ? { parameters: params } : {}),
      ...(r.body
        ? {
            requestBody: {
              required: true,
              content: {
                'application/json': { schema: z.toJSONSchema(r.body, { unrepresentable: 'any', io: 'input', cycles: 'ref' }) },
              },
            },
          }
        : {}),
      responses,
      ...(r.auth === false ? { security: [] } : {}),
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Hearth API',
      version: '0.1.0',
      description:
        'The Qarnot-compatible REST API of Hearth. Input property names and enum values are case-insensitive; output is camelCase.',
    },
    components: {
      securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } },
    },
    security: [{ token: [] }],
    paths,
  };
}
