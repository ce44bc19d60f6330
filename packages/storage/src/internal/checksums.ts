import { createHash } from 'node:crypto';
import zlib from 'node:zlib';

/** The flexible checksums S3 clients send (`x-amz-checksum-<algo>`, base64 of the big-endian digest). */
export const CHECKSUM_ALGORITHMS = ['crc32', 'crc32c', 'crc64nvme', 'sha1', 'sha256'] as const;
export type ChecksumAlgorithm = (typeof CHECKSUM_ALGORITHMS)[number];

export interface Checksummer {
  update(chunk: Buffer): void;
  /** base64 digest */
  digest(): string;
}

export function isChecksumAlgorithm(s: string): s is ChecksumAlgorithm {
  return (CHECKSUM_ALGORITHMS as readonly string[]).includes(s);
}

export function checksummer(algo: ChecksumAlgorithm): Checksummer {
  switch (algo) {
    case 'crc32': {
      let crc = 0;
      return { update: (b) => (crc = zlib.crc32(b, crc)), digest: () => u32(crc) };
    }
    case 'crc32c': {
      let crc = 0xffffffff;
      return { update: (b) => (crc = crc32cUpdate(crc, b)), digest: () => u32((crc ^ 0xffffffff) >>> 0) };
    }
    case 'crc64nvme': {
      const state = { hi: 0xffffffff, lo: 0xffffffff };
      return {
        update: (b) => crc64Update(state, b),
        digest: () => {
          const out = Buffer.alloc(8);
          out.writeUInt32BE((state.hi ^ 0xffffffff) >>> 0, 0);
          out.writeUInt32BE((state.lo ^ 0xffffffff) >>> 0, 4);
          return out.toString('base64');
        },
      };
    }
    case 'sha1':
    case 'sha256': {
      const h = createHash(algo);
      return { update: (b) => h.update(b), digest: () => h.digest('base64') };
    }
  }
}

function u32(n: number): string {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b.toString('base64');
}

const C32C = new Uint32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  C32C[i] = c >>> 0;
}

function crc32cUpdate(crc: number, b: Buffer): number {
  let c = crc;
  for (let i = 0; i < b.length; i++) c = (C32C[(c ^ (b[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return c >>> 0;
}

// CRC-64/NVME (reflected polynomial 0x9a6c9329ac4bc9b5), as two 32-bit halves to stay out of BigInt in the loop.
const C64H = new Uint32Array(256);
const C64L = new Uint32Array(256);
{
  const poly = 0x9a6c9329ac4bc9b5n;
  for (let i = 0; i < 256; i++) {
    let c = BigInt(i);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ poly : c >> 1n;
    C64H[i] = Number(c >> 32n);
    C64L[i] = Number(c & 0xffffffffn);
  }
}

function crc64Update(s: { hi: number; lo: number }, b: Buffer): void {
  let { hi, lo } = s;
  for (let i = 0; i < b.length; i++) {
    const idx = (lo ^ (b[i] as number)) & 0xff;
    lo = ((lo >>> 8) | (hi << 24)) ^ (C64L[idx] as number);
    hi = (hi >>> 8) ^ (C64H[idx] as number);
  }
  s.hi = hi >>> 0;
  s.lo = lo >>> 0;
}
