import type { z } from 'zod';

/**
 * Makes a parsed JSON value match a schema's spelling before validation: object keys and enum values are
 * case-insensitive on the Qarnot API (Python sends camelCase, C# PascalCase, `Value` in secrets, `ResultsCacheTTLSec`).
 * Keys the schema does not know are kept as they are; free-form maps (labels) keep their keys.
 */
export function normalizeInput(schema: z.ZodType, value: unknown): unknown {
  return walk(schema, value, 0);
}

interface Def {
  type: string;
  shape?: Record<string, Schema>;
  element?: Schema;
  innerType?: Schema;
  options?: Schema[];
  discriminator?: string;
  valueType?: Schema;
  entries?: Record<string, string | number>;
  values?: unknown[];
  getter?: () => Schema;
  in?: Schema;
}
interface Schema {
  _zod: { def: Def };
}

const MAX_DEPTH = 64;
const keyMaps = new WeakMap<object, Map<string, string>>();

function keyMap(shape: Record<string, Schema>): Map<string, string> {
  let map = keyMaps.get(shape);
  if (!map) {
    map = new Map(Object.keys(shape).map((k) => [k.toLowerCase(), k]));
    keyMaps.set(shape, map);
  }
  return map;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function walk(schema: Schema, value: unknown, depth: number): unknown {
  if (depth > MAX_DEPTH || value === null || value === undefined) return value;
  const def = schema._zod.def;
  switch (def.type) {
    case 'object':
      return isPlainObject(value) && def.shape ? normalizeObject(def.shape, value, depth) : value;
    case 'array':
      return Array.isArray(value) && def.element ? value.map((v) => walk(def.element!, v, depth + 1)) : value;
    case 'record':
      if (!isPlainObject(value) || !def.valueType) return value;
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(def.valueType!, v, depth + 1)]));
    case 'enum':
      return typeof value === 'string' ? matchCase(Object.values(def.entries ?? {}), value) : value;
    case 'literal':
      return typeof value === 'string' ? matchCase(def.values ?? [], value) : value;
    case 'union':
      return walkUnion(def, value, depth);
    case 'lazy':
      return def.getter ? walk(def.getter(), value, depth + 1) : value;
    case 'pipe':
      return def.in ? walk(def.in, value, depth + 1) : value;
    case 'optional':
    case 'nullable':
    case 'default':
    case 'prefault':
    case 'readonly':
    case 'nonoptional':
    case 'catch':
      return def.innerType ? walk(def.innerType, value, depth + 1) : value;
    default:
      return value;
  }
}

function normalizeObject(shape: Record<string, Schema>, value: Record<string, unknown>, depth: number) {
  const map = keyMap(shape);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const canonical = map.get(k.toLowerCase());
    if (canonical === undefined) {
      if (!(k in out)) out[k] = v;
      continue;
    }
    out[canonical] = walk(shape[canonical]!, v, depth + 1);
  }
  return out;
}

function matchCase(candidates: readonly unknown[], value: string): unknown {
  const lower = value.toLowerCase();
  for (const c of candidates) if (typeof c === 'string' && c.toLowerCase() === lower) return c;
  return value;
}

function objectShape(schema: Schema): Record<string, Schema> | undefined {
  let s: Schema | undefined = schema;
  for (let i = 0; s && i < 8; i++) {
    const d: Def = s._zod.def;
    if (d.type === 'object') return d.shape;
    s = d.innerType ?? (d.type === 'lazy' && d.getter ? d.getter() : undefined);
  }
  return undefined;
}

/** Picks the union member a value is meant for: by discriminator when there is one, else by the most known keys. */
function walkUnion(def: Def, value: unknown, depth: number): unknown {
  const options = def.options ?? [];
  if (!isPlainObject(value)) {
    for (const o of options) {
      const t = o._zod.def.type;
      if ((t === 'enum' || t === 'literal') && typeof value === 'string') {
        const v = walk(o, value, depth + 1);
        if (v !== value) return v;
      }
      if (t === 'array' && Array.isArray(value)) return walk(o, value, depth + 1);
    }
    return value;
  }
  let best: Schema | undefined;
  let bestScore = -1;
  for (const o of options) {
    const shape = objectShape(o);
    if (!shape) continue;
    const map = keyMap(shape);
    let score = 0;
    for (const k of Object.keys(value)) if (map.has(k.toLowerCase())) score++;
    if (def.discriminator) {
      const discKey = Object.keys(value).find((k) => k.toLowerCase() === def.discriminator!.toLowerCase());
      const disc = shape[def.discriminator];
      const want = disc?._zod.def.values ?? [];
      const got = discKey === undefined ? undefined : value[discKey];
      if (typeof got === 'string' && want.some((w) => typeof w === 'string' && w.toLowerCase() === got.toLowerCase())) {
        score += 1000;
      }
    }
    if (score > bestScore) {
      best = o;
      bestScore = score;
    }
  }
  return best ? walk(best, value, depth + 1) : value;
}
