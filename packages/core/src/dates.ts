/**
 * ISO-8601 UTC with a `Z` and at most 6 fractional digits: the Python SDK parses `%Y-%m-%dT%H:%M:%S.%fZ`,
 * and `%f` takes at most 6 digits (reference §0).
 */
export function isoDate(date: Date | number = Date.now()): string {
  return new Date(date).toISOString();
}

/** Strict parser for client-supplied dates: ISO-8601 with a time zone. */
export function parseIsoDate(text: string): Date | undefined {
  if (!/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text)) return undefined;
  const d = new Date(text);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
