import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import type { User } from '@hearth/store';

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface RequestContext {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** The authenticated user (routes marked `auth: false` get none). */
  readonly user: User;
  readonly params: Readonly<Record<string, string>>;
  readonly query: URLSearchParams;
  /** The parsed JSON body, or undefined when the request has none. */
  body(): Promise<unknown>;
}

export type Reply =
  | { readonly status: number; readonly json: unknown }
  | { readonly status: number; readonly raw: string; readonly contentType: string }
  | { readonly status: number; readonly empty: true };

export interface RouteSpec {
  readonly method: Method;
  /** Path with `{param}` segments; a last `{*param}` takes the rest of the path (secret keys contain `/`). */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  readonly auth?: boolean;
  readonly body?: z.ZodType;
  /** Status codes and what they mean, for the OpenAPI document. */
  readonly responses?: Readonly<Record<number, string>>;
  readonly handler: (ctx: RequestContext) => Promise<Reply> | Reply;
}

interface Node {
  literal: Map<string, Node>;
  param?: { name: string; node: Node };
  rest?: { name: string; routes: Map<Method, RouteSpec> };
  routes: Map<Method, RouteSpec>;
}

const newNode = (): Node => ({ literal: new Map(), routes: new Map() });

export type Match =
  | { readonly kind: 'found'; readonly route: RouteSpec; readonly params: Record<string, string> }
  | { readonly kind: 'method'; readonly allowed: Method[] }
  | { readonly kind: 'none' };

/** A segment trie: literal segments first, then one parameter, then a rest parameter. Case-insensitive literals. */
export class Router {
  private readonly root = newNode();
  readonly routes: RouteSpec[] = [];

  add(route: RouteSpec): void {
    this.routes.push(route);
    let node = this.root;
    const segments = splitPath(route.path);
    for (const [i, seg] of segments.entries()) {
      if (seg.startsWith('{*')) {
        if (i !== segments.length - 1) throw new Error(`rest parameter must be last in ${route.path}`);
        node.rest ??= { name: seg.slice(2, -1), routes: new Map() };
        node.rest.routes.set(route.method, route);
        return;
      }
      if (seg.startsWith('{')) {
        const name = seg.slice(1, -1);
        node.param ??= { name, node: newNode() };
        if (node.param.name !== name) throw new Error(`conflicting parameter names at ${route.path}`);
        node = node.param.node;
      } else {
        const key = seg.toLowerCase();
        let next = node.literal.get(key);
        if (!next) node.literal.set(key, (next = newNode()));
        node = next;
      }
    }
    if (node.routes.has(route.method)) throw new Error(`duplicate route ${route.method} ${route.path}`);
    node.routes.set(route.method, route);
  }

  match(method: string, pathname: string): Match {
    const segments = splitPath(pathname);
    const params: Record<string, string> = {};
    const found = this.walk(this.root, { segs: segments, params }, 0);
    if (!found) return { kind: 'none' };
    const route = found.get(method as Method);
    if (route) return { kind: 'found', route, params };
    return { kind: 'method', allowed: [...found.keys()] };
  }

  /** Matches `path.segs` from index `i` under `node`, filling `path.params` on the way back up. */
  private walk(node: Node, path: { segs: string[]; params: Record<string, string> }, i: number): Map<Method, RouteSpec> | undefined {
    const { segs, params } = path;
    if (i === segs.length) {
      if (node.routes.size > 0) return node.routes;
      if (node.rest) {
        params[node.rest.name] = '';
        return node.rest.routes;
      }
      return undefined;
    }
    const seg = segs[i]!;
    const lit = node.literal.get(seg.toLowerCase());
    if (lit) {
      const r = this.walk(lit, path, i + 1);
      if (r) return r;
    }
    if (node.param) {
      const r = this.walk(node.param.node, path, i + 1);
      if (r) {
        params[node.param.name] = seg;
        return r;
      }
    }
    if (node.rest) {
      params[node.rest.name] = segs.slice(i).join('/');
      return node.rest.routes;
    }
    return undefined;
  }
}

/** Splits a path into decoded segments, ignoring empty ones (so `/jobs/` is `/jobs`). */
export function splitPath(pathname: string): string[] {
  const out: string[] = [];
  for (const raw of pathname.split('/')) {
    if (raw === '') continue;
    let seg: string;
    try {
      seg = decodeURIComponent(raw);
    } catch {
      seg = raw;
    }
    out.push(seg);
  }
  return out;
}
