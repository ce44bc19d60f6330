/** A filter of the paginate endpoints (reference §1.4). */
export type Filter =
  | { operator: 'And' | 'Or'; filters: Filter[] }
  | { operator: string; field: string; value?: unknown; values?: unknown[] };

/**
 * The Python SDK's tag filter: `tagsIntersect` (all of) wins over `tags` (any of); a single tag is a bare `Equal`
 * leaf; no tag is no filter. `Equal` on the array field `Tags` means "contains".
 */
export function tagFilter(tags: readonly string[] | undefined, tagsIntersect: readonly string[] | undefined): Filter | undefined {
  const all = tagsIntersect ?? [];
  const any = tags ?? [];
  const leaf = (t: string): Filter => ({ operator: 'Equal', field: 'Tags', value: t });
  if (all.length > 0) return all.length === 1 ? leaf(all[0] as string) : { operator: 'And', filters: all.map(leaf) };
  if (any.length > 0) return any.length === 1 ? leaf(any[0] as string) : { operator: 'Or', filters: any.map(leaf) };
  return undefined;
}

/** Combines filters with `And`, dropping absent ones. */
export function andFilters(...filters: (Filter | undefined)[]): Filter | undefined {
  const present = filters.filter((f): f is Filter => f !== undefined);
  if (present.length <= 1) return present[0];
  return { operator: 'And', filters: present };
}
