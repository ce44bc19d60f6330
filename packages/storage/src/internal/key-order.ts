/**
 * S3 orders keys by their UTF-8 bytes, which is Unicode code point order. JavaScript compares UTF-16 code units,
 * which disagrees only between surrogates (U+D800–DFFF) and U+E000–FFFF; shifting both ranges fixes that.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) return fix(ca) - fix(cb);
  }
  return a.length - b.length;
}

function fix(cu: number): number {
  if (cu < 0xd800) return cu;
  if (cu < 0xe000) return cu + 0x2000;
  return cu - 0x800;
}
