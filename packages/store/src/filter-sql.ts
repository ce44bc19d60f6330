import { sql, type RawBuilder, type SqlBool } from 'kysely';
import type { Filter, FilterLeaf } from '@hearth/core';
import { StoreInputError } from './store-errors.js';

/** How one entity kind exposes its filterable fields (PascalCase paths as the C# SDK names them, reference §1.4). */
export interface FilterFields {
  /** Field (lower-cased) → indexed column. */
  readonly columns: Readonly<Record<string, string>>;
  /** Fields (lower-cased) that are JSON arrays, where Equal means "contains". */
  readonly arrays: ReadonlySet<string>;
  /** Every accepted field (lower-cased) → JSON path in the document. */
  readonly paths: Readonly<Record<string, string>>;
  /** The tag table, used for `Tags`. */
  readonly tagTable: string;
}

type Sql = RawBuilder<unknown>;

/** Compiles a filter tree to a SQL predicate over `e` (the entity table alias). Values are always bound. */
export function compileFilter(filter: Filter, fields: FilterFields, depth = 0): RawBuilder<SqlBool> {
  if (depth > 32) throw new StoreInputError('filter', 'filter is nested too deeply');
  if ('filters' in filter) {
    const parts = filter.filters.map((f) => compileFilter(f, fields, depth + 1));
    if (parts.length === 0) return sql<SqlBool>`1 = 1`;
    const joiner = filter.operator === 'And' ? sql` AND ` : sql` OR `;
    return sql<SqlBool>`(${sql.join(parts, joiner)})`;
  }
  return compileLeaf(filter, fields);
}

function leafValues(leaf: FilterLeaf): unknown[] {
  if (Array.isArray(leaf.values)) return leaf.values;
  if (Array.isArray(leaf.value)) return leaf.value as unknown[];
  if (leaf.value === undefined) throw new StoreInputError('filter.values', `operator ${leaf.operator} needs a list of values`);
  return [leaf.value];
}

function scalarValue(leaf: FilterLeaf): unknown {
  const v = leaf.value;
  if (v === undefined || Array.isArray(v)) {
    throw new StoreInputError('filter.value', `operator ${leaf.operator} on '${leaf.field}' needs a single value`);
  }
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

/** `/regex/flags` as the Qarnot CLI sends for Like; a bare string is taken as a regex too. */
export function likePattern(value: unknown): string {
  if (typeof value !== 'string') throw new StoreInputError('filter.value', 'Like needs a string such as "/^prefix/"');
  const m = /^\/(.*)\/([a-z]*)$/s.exec(value);
  const source = m ? m[1]! : value;
  const flags = m ? m[2]! : '';
  try {
    new RegExp(source, flags);
  } catch {
    throw new StoreInputError('filter.value', `'${value}' is not a valid regular expression`);
  }
  return JSON.stringify([source, flags]);
}

function compileLeaf(leaf: FilterLeaf, fields: FilterFields): RawBuilder<SqlBool> {
  const key = leaf.field.toLowerCase();
  const path = fields.paths[key];
  if (path === undefined) throw new StoreInputError('filter.field', `'${leaf.field}' is not a filterable field`);

  if (key === 'tags') return tagLeaf(leaf, fields.tagTable);
  if (fields.arrays.has(key)) return arrayLeaf(leaf, path);

  const column = fields.columns[key];
  const expr: Sql = column ? sql.ref(`e.${column}`) : sql`json_extract(e.doc, ${path})`;
  return comparison(leaf, expr);
}

function comparison(leaf: FilterLeaf, expr: Sql): RawBuilder<SqlBool> {
  switch (leaf.operator) {
    case 'Equal':
      return leaf.value === null ? sql<SqlBool>`${expr} IS NULL` : sql<SqlBool>`${expr} = ${scalarValue(leaf)}`;
    case 'NotEqual':
      return leaf.value === null
        ? sql<SqlBool>`${expr} IS NOT NULL`
        : sql<SqlBool>`(${expr} IS NULL OR ${expr} <> ${scalarValue(leaf)})`;
    case 'In':
    case 'NotIn': {
      const values = leafValues(leaf).map((v) => (typeof v === 'boolean' ? (v ? 1 : 0) : v));
      if (values.length === 0) return leaf.operator === 'In' ? sql<SqlBool>`1 = 0` : sql<SqlBool>`1 = 1`;
      const list = sql.join(values.map((v) => sql`${v}`));
      return leaf.operator === 'In'
        ? sql<SqlBool>`${expr} IN (${list})`
        : sql<SqlBool>`(${expr} IS NULL OR ${expr} NOT IN (${list}))`;
    }
    case 'LessThan':
      return sql<SqlBool>`${expr} < ${scalarValue(leaf)}`;
    case 'LessThanOrEqual':
      return sql<SqlBool>`${expr} <= ${scalarValue(leaf)}`;
    case 'GreaterThan':
      return sql<SqlBool>`${expr} > ${scalarValue(leaf)}`;
    case 'GreaterThanOrEqual':
      return sql<SqlBool>`${expr} >= ${scalarValue(leaf)}`;
    case 'Like':
      return sql<SqlBool>`hearth_regexp(${likePattern(leaf.value)}, ${expr})`;
  }
}

function tagLeaf(leaf: FilterLeaf, tagTable: string): RawBuilder<SqlBool> {
  const has = (tag: unknown) =>
    sql<SqlBool>`EXISTS (SELECT 1 FROM ${sql.table(tagTable)} t WHERE t.user_id = e.user_id AND t.tag = ${tag} AND t.entity_seq = e.seq)`;
  switch (leaf.operator) {
    case 'Equal':
      return has(scalarValue(leaf));
    case 'NotEqual':
      return sql<SqlBool>`NOT ${has(scalarValue(leaf))}`;
    case 'In':
    case 'NotIn': {
      const values = leafValues(leaf);
      if (values.length === 0) return leaf.operator === 'In' ? sql<SqlBool>`1 = 0` : sql<SqlBool>`1 = 1`;
      const any = sql<SqlBool>`EXISTS (SELECT 1 FROM ${sql.table(tagTable)} t WHERE t.user_id = e.user_id AND t.entity_seq = e.seq AND t.tag IN (${sql.join(values.map((v) => sql`${v}`))}))`;
      return leaf.operator === 'In' ? any : sql<SqlBool>`NOT ${any}`;
    }
    case 'Like':
      return sql<SqlBool>`EXISTS (SELECT 1 FROM ${sql.table(tagTable)} t WHERE t.user_id = e.user_id AND t.entity_seq = e.seq AND hearth_regexp(${likePattern(leaf.value)}, t.tag))`;
    case 'LessThan':
    case 'LessThanOrEqual':
    case 'GreaterThan':
    case 'GreaterThanOrEqual':
      throw new StoreInputError('filter.operator', `operator ${leaf.operator} does not apply to Tags`);
  }
}

function arrayLeaf(leaf: FilterLeaf, path: string): RawBuilder<SqlBool> {
  const contains = (cond: RawBuilder<SqlBool>) =>
    sql<SqlBool>`EXISTS (SELECT 1 FROM json_each(e.doc, ${path}) j WHERE ${cond})`;
  switch (leaf.operator) {
    case 'Equal':
      return contains(sql<SqlBool>`j.value = ${scalarValue(leaf)}`);
    case 'NotEqual':
      return sql<SqlBool>`NOT ${contains(sql<SqlBool>`j.value = ${scalarValue(leaf)}`)}`;
    case 'In':
    case 'NotIn': {
      const values = leafValues(leaf);
      if (values.length === 0) return leaf.operator === 'In' ? sql<SqlBool>`1 = 0` : sql<SqlBool>`1 = 1`;
      const any = contains(sql<SqlBool>`j.value IN (${sql.join(values.map((v) => sql`${v}`))})`);
      return leaf.operator === 'In' ? any : sql<SqlBool>`NOT ${any}`;
    }
    case 'Like':
      return contains(sql<SqlBool>`hearth_regexp(${likePattern(leaf.value)}, j.value)`);
    case 'LessThan':
    case 'LessThanOrEqual':
    case 'GreaterThan':
    case 'GreaterThanOrEqual':
      throw new StoreInputError('filter.operator', `operator ${leaf.operator} does not apply to the list field '${leaf.field}'`);
  }
}

/** Builds the field table from PascalCase names; nested names use dots (`Dependencies.DependsOn`). */
export function filterFields(options: {
  names: readonly string[];
  columns: Readonly<Record<string, string>>;
  arrays: readonly string[];
  tagTable: string;
}): FilterFields {
  // Null-prototype maps: a client's field name such as "constructor" or "__proto__" must not find Object.prototype.
  const paths: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const n of options.names) {
    paths[n.toLowerCase()] = '$.' + n.split('.').map((p) => p.charAt(0).toLowerCase() + p.slice(1)).join('.');
  }
  const columns: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(options.columns)) columns[k.toLowerCase()] = v;
  return { paths, columns, arrays: new Set(options.arrays.map((a) => a.toLowerCase())), tagTable: options.tagTable };
}
