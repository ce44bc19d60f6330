import { compareKeys } from './key-order.js';

export interface IndexEntry {
  readonly size: number;
  readonly etag: string;
  readonly lastModified: number;
}

export interface ListPageOptions {
  readonly prefix: string;
  readonly delimiter: string;
  /** Exclusive: items (keys or common prefixes) up to and including this one are skipped. */
  readonly startAfter: string;
  readonly maxKeys: number;
}

export interface ListPage {
  readonly contents: Array<[string, IndexEntry]>;
  readonly commonPrefixes: string[];
  readonly isTruncated: boolean;
  /** The last key or common prefix returned; the next page starts after it. */
  readonly nextMarker: string | undefined;
}

/**
 * The sorted key index of one bucket, kept in memory so a 1,000-key page costs a binary search and a slice, not a
 * directory walk. Inserts and deletes are applied lazily at the next listing, so a burst of writes costs one merge.
 */
export class KeyIndex {
  readonly #entries = new Map<string, IndexEntry>();
  #sorted: string[] = [];
  readonly #added = new Set<string>();
  readonly #removed = new Set<string>();
  #bytes = 0;
  /** True once a key holds a character where UTF-16 and code-point order differ; until then native sort is exact. */
  #needsCodePointOrder = false;

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get(key: string): IndexEntry | undefined {
    return this.#entries.get(key);
  }

  set(key: string, entry: IndexEntry): void {
    const old = this.#entries.get(key);
    if (old) this.#bytes -= old.size;
    else if (this.#removed.has(key)) this.#removed.delete(key);
    else this.#added.add(key);
    if (!this.#needsCodePointOrder && /[\uD800-\uFFFF]/.test(key)) this.#needsCodePointOrder = true;
    this.#entries.set(key, entry);
    this.#bytes += entry.size;
  }

  delete(key: string): void {
    const old = this.#entries.get(key);
    if (!old) return;
    this.#entries.delete(key);
    this.#bytes -= old.size;
    if (!this.#added.delete(key)) this.#removed.add(key);
  }

  #settle(): string[] {
    if (this.#added.size === 0 && this.#removed.size === 0) return this.#sorted;
    if (this.#added.size > 1000 || this.#removed.size > 0) {
      const keep = this.#removed.size > 0 ? this.#sorted.filter((k) => !this.#removed.has(k)) : this.#sorted;
      const merged = keep.concat([...this.#added]);
      // Native comparison (no callback) is several times faster and exact while no key needs code-point order.
      if (this.#needsCodePointOrder) merged.sort(compareKeys);
      else merged.sort();
      this.#sorted = merged;
    } else {
      for (const k of this.#added) this.#sorted.splice(lowerBound(this.#sorted, k, 0), 0, k);
    }
    this.#added.clear();
    this.#removed.clear();
    return this.#sorted;
  }

  listPage(options: ListPageOptions): ListPage {
    const { prefix, delimiter, startAfter, maxKeys } = options;
    const keys = this.#settle();
    const contents: Array<[string, IndexEntry]> = [];
    const commonPrefixes: string[] = [];
    let last: string | undefined;
    let truncated = false;
    const from = compareKeys(startAfter, prefix) >= 0 ? upperBound(keys, startAfter) : lowerBound(keys, prefix, 0);
    let i = from;
    while (i < keys.length) {
      const key = keys[i] as string;
      if (!key.startsWith(prefix)) break;
      const cut = delimiter ? key.indexOf(delimiter, prefix.length) : -1;
      if (cut >= 0) {
        const cp = key.slice(0, cut + delimiter.length);
        if (cp !== startAfter) {
          if (contents.length + commonPrefixes.length >= maxKeys) {
            truncated = true;
            break;
          }
          commonPrefixes.push(cp);
          last = cp;
        }
        i = endOfRun(keys, i, cp);
        continue;
      }
      if (contents.length + commonPrefixes.length >= maxKeys) {
        truncated = true;
        break;
      }
      contents.push([key, this.#entries.get(key) as IndexEntry]);
      last = key;
      i++;
    }
    return { contents, commonPrefixes, isTruncated: truncated, nextMarker: truncated ? last : undefined };
  }
}

function lowerBound(keys: readonly string[], k: string, from: number): number {
  let lo = from;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid] as string, k) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function upperBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(keys[mid] as string, k) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** First index at or after `from` whose key does not start with `p` (keys with a prefix form one sorted run). */
function endOfRun(keys: readonly string[], from: number, p: string): number {
  let lo = from;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((keys[mid] as string).startsWith(p)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
