import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { IndexEntry } from './key-index.js';
import { KeyIndex } from './key-index.js';
import { compareKeys } from './key-order.js';

const entry = (size: number): IndexEntry => ({ size, etag: `"${size}"`, lastModified: 0 });

/** Every key of the index in listing order, page by page (pages of `pageSize`, no prefix or delimiter). */
function listAll(idx: KeyIndex, pageSize: number): string[] {
  const out: string[] = [];
  let startAfter = '';
  for (;;) {
    const page = idx.listPage({ prefix: '', delimiter: '', startAfter, maxKeys: pageSize });
    out.push(...page.contents.map(([k]) => k));
    if (!page.isTruncated || page.nextMarker === undefined) return out;
    startAfter = page.nextMarker;
  }
}

// Small alphabets make collisions (overwrites, deletes of present keys) common; the astral and U+E000+ characters
// are where UTF-16 order and S3's code-point order disagree.
const key = fc.string({ unit: fc.constantFrom('a', 'b', '/', 'z', '\u00e9', '\uE000', '\u{1F600}'), minLength: 1, maxLength: 4 });
const op = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), key, size: fc.nat(100) }),
  fc.record({ kind: fc.constant('delete' as const), key }),
  fc.record({ kind: fc.constant('list' as const), pageSize: fc.integer({ min: 1, max: 7 }) }),
);

describe('KeyIndex', () => {
  it('lists exactly the live keys in code-point order under random inserts, overwrites, deletes and listings', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const idx = new KeyIndex();
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            idx.set(o.key, entry(o.size));
            model.set(o.key, o.size);
          } else if (o.kind === 'delete') {
            idx.delete(o.key);
            model.delete(o.key);
          } else {
            expect(listAll(idx, o.pageSize)).toEqual([...model.keys()].sort(compareKeys));
          }
        }
        expect(listAll(idx, 1000)).toEqual([...model.keys()].sort(compareKeys));
        expect(idx.size).toBe(model.size);
        expect(idx.bytes).toBe([...model.values()].reduce((a, b) => a + b, 0));
      }),
      { numRuns: 300 },
    );
  });

  it('stays exact across batch merges (more pending keys than one batch holds)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 5000 }), { minLength: 1500, maxLength: 4000 }), fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 3000 }), (ins, del) => {
        const idx = new KeyIndex();
        const model = new Set<string>();
        // Astral characters in some keys force code-point order for the merges too.
        const name = (n: number): string => (n % 7 === 0 ? `k\u{1F600}${n}` : n % 5 === 0 ? `k\uE000${n}` : `k${n}`);
        for (const n of ins) {
          idx.set(name(n), entry(1));
          model.add(name(n));
        }
        expect(listAll(idx, 1000)).toEqual([...model].sort(compareKeys));
        for (const n of del) {
          idx.delete(name(n));
          model.delete(name(n));
        }
        expect(listAll(idx, 997)).toEqual([...model].sort(compareKeys));
      }),
      { numRuns: 20 },
    );
  });

  it('from() sorts once and agrees with inserting one by one', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(key, fc.nat(10))), (pairs) => {
        const bulk = KeyIndex.from(pairs.map(([k, s]) => [k, entry(s)] as const));
        const one = new KeyIndex();
        for (const [k, s] of pairs) one.set(k, entry(s));
        expect(listAll(bulk, 3)).toEqual(listAll(one, 1000));
        expect(bulk.bytes).toBe(one.bytes);
        expect(bulk.size).toBe(one.size);
      }),
    );
  });

  it('pages with a prefix and a delimiter from the middle of a large bucket', () => {
    const idx = new KeyIndex();
    for (let i = 0; i < 20_000; i++) idx.set(`dir${i % 10}/obj-${String(i).padStart(6, '0')}`, entry(1));
    const page = idx.listPage({ prefix: 'dir3/', delimiter: '', startAfter: 'dir3/obj-010003', maxKeys: 5 });
    expect(page.contents.map(([k]) => k)).toEqual(['dir3/obj-010013', 'dir3/obj-010023', 'dir3/obj-010033', 'dir3/obj-010043', 'dir3/obj-010053']);
    const dirs = idx.listPage({ prefix: '', delimiter: '/', startAfter: '', maxKeys: 1000 });
    expect(dirs.commonPrefixes).toEqual(Array.from({ length: 10 }, (_, i) => `dir${i}/`));
  });
});
