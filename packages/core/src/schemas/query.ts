import { z } from 'zod';

export const FILTER_OPERATORS = [
  'Equal',
  'NotEqual',
  'In',
  'NotIn',
  'LessThan',
  'LessThanOrEqual',
  'GreaterThan',
  'GreaterThanOrEqual',
  'Like',
] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

const scalar = z.union([z.string().max(4096), z.number(), z.boolean(), z.null()]);

export interface FilterLeaf {
  operator: FilterOperator;
  field: string;
  value?: unknown;
  values?: unknown[] | null;
}
export interface FilterNode {
  operator: 'And' | 'Or';
  filters: Filter[];
}
export type Filter = FilterLeaf | FilterNode;

export const filterLeaf = z.object({
  operator: z.enum(FILTER_OPERATORS),
  field: z.string().min(1).max(255),
  value: z.union([scalar, z.array(scalar).max(1000)]).optional(),
  values: z.array(scalar).max(1000).nullish(),
});

/** The filter grammar of reference §1.4: And/Or nodes over leaves. */
export const filter: z.ZodType<Filter> = z.lazy(() =>
  z.union([
    z.object({ operator: z.enum(['And', 'Or']), filters: z.array(filter).max(100) }),
    filterLeaf,
  ]),
);

/** `POST /{tasks,pools,jobs}[/summaries]/paginate` body. The Node SDK sends it PascalCase; keys are case-insensitive. */
export const pageRequest = z.object({
  filter: filter.nullish(),
  token: z.string().max(1024).nullish(),
  maximumResults: z.int().min(0).max(100_000).nullish(),
  orderBy: z.string().max(255).nullish(),
  orderType: z.enum(['Ascending', 'Descending']).nullish(),
});
export type PageRequest = z.infer<typeof pageRequest>;

/** `POST /{tasks,pools,jobs}/search` body (C# SDK data-detail request). */
export const searchRequest = z.object({
  select: z.object({ fields: z.array(z.string().max(255)).max(200).nullish() }).nullish(),
  filter: filter.nullish(),
  maximumResults: z.int().min(0).max(100_000).nullish(),
});
export type SearchRequest = z.infer<typeof searchRequest>;

export const secretValue = z.object({ value: z.string().max(1_048_576) });
