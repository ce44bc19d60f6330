/** Encodes one URL path segment. */
export function enc(segment: string): string {
  return encodeURIComponent(segment);
}
