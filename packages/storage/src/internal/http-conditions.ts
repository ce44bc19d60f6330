import type { IncomingHttpHeaders } from 'node:http';

/** Range and conditional-request rules for GET/HEAD/Copy, as S3 applies them (RFC 7232/7233 with S3's choices). */

export type RangeResult = { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/** One `bytes=` range; S3 ignores syntactically invalid or multiple ranges and serves the whole object. */
export function parseRange(header: string | undefined, size: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header);
  if (!m) return { kind: 'full' };
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return { kind: 'full' };
  if (a === '') {
    const n = Number(b);
    if (n === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  if (b !== '' && Number(b) < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  const end = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  return { kind: 'partial', start, end };
}

function etagList(h: string): string[] {
  return h.split(',').map((s) => s.trim().replace(/^W\//, ''));
}

function matches(h: string, etag: string): boolean {
  const bare = etag.replace(/"/g, '');
  return etagList(h).some((e) => e === '*' || e.replace(/"/g, '') === bare);
}

function httpDate(h: string | undefined): number | undefined {
  if (h === undefined) return undefined;
  const t = Date.parse(h);
  return Number.isFinite(t) ? t : undefined;
}

export interface Validators {
  readonly etag: string;
  readonly lastModified: number;
}

/**
 * Evaluates If-Match / If-Unmodified-Since / If-None-Match / If-Modified-Since (optionally with a header prefix,
 * `x-amz-copy-source-` for copies). Returns the status to answer instead of the object, if any.
 */
export function evaluateConditions(headers: IncomingHttpHeaders, v: Validators, prefix = ''): 304 | 412 | undefined {
  const get = (n: string): string | undefined => {
    const x = headers[prefix + n];
    return Array.isArray(x) ? x.join(',') : x;
  };
  const modified = Math.floor(v.lastModified / 1000) * 1000;
  const ifMatch = get('if-match');
  if (ifMatch !== undefined) {
    if (!matches(ifMatch, v.etag)) return 412;
  } else {
    const ius = httpDate(get('if-unmodified-since'));
    if (ius !== undefined && modified > ius) return 412;
  }
  const ifNone = get('if-none-match');
  if (ifNone !== undefined) {
    if (matches(ifNone, v.etag)) return prefix ? 412 : 304;
  } else {
    const ims = httpDate(get('if-modified-since'));
    if (ims !== undefined && modified <= ims) return prefix ? 412 : 304;
  }
  return undefined;
}
