import { createHash } from 'node:crypto';
import type { Hash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { Checksummer, ChecksumAlgorithm } from './checksums.js';
import { checksummer, isChecksumAlgorithm } from './checksums.js';
import { S3Error } from './s3-error.js';
import type { AuthResult } from './sigv4.js';
import { chunkStringToSign, EMPTY_SHA256, hmacHex, safeEqualHex, sha256hex, trailerStringToSign } from './sigv4.js';

const CRLF = Buffer.from('\r\n');
const MAX_LINE = 8192;

export interface DecodedBody {
  /** The object's bytes; throws an S3Error at the end when a length, hash, signature or checksum does not match. */
  readonly body: AsyncIterable<Buffer>;
  /** The declared object length, when the client gave one. */
  readonly length: number | undefined;
  /** Checksums sent by the client and verified; complete once `body` is exhausted. */
  readonly checksums: Record<string, string>;
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Turns a request into the object's bytes: undoes `aws-chunked` framing (verifying chunk signatures), and verifies
 * `x-amz-content-sha256`, `Content-MD5` and any `x-amz-checksum-*` (header or trailer) as the bytes stream past.
 * Nothing is buffered beyond one network read, so memory stays flat whatever the size.
 */
export function decodeBody(src: AsyncIterable<Buffer>, headers: IncomingHttpHeaders, auth: AuthResult): DecodedBody {
  const chunked = auth.payload.kind === 'chunked';
  const lenHeader = chunked ? header(headers, 'x-amz-decoded-content-length') : header(headers, 'content-length');
  let length: number | undefined;
  if (lenHeader !== undefined) {
    if (!/^\d{1,16}$/.test(lenHeader)) throw new S3Error('InvalidArgument', 'The content length is not valid.');
    length = Number(lenHeader);
  }
  const sha = auth.payload.kind === 'sha256' ? createHash('sha256') : undefined;
  const expectSha = auth.payload.kind === 'sha256' ? auth.payload.hash : undefined;
  const contentMd5 = header(headers, 'content-md5');
  if (contentMd5 !== undefined && !/^[A-Za-z0-9+/]{22}==$/.test(contentMd5)) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was an invalid.');
  const md5 = contentMd5 !== undefined ? createHash('md5') : undefined;

  const sums = new Map<ChecksumAlgorithm, { c: Checksummer; expected: string | undefined }>();
  for (const name of Object.keys(headers)) {
    if (!name.startsWith('x-amz-checksum-')) continue;
    // Other x-amz-checksum-* headers (algorithm, type, mode) describe rather than carry a checksum.
    const algo = name.slice('x-amz-checksum-'.length);
    if (!isChecksumAlgorithm(algo)) continue;
    sums.set(algo, { c: checksummer(algo), expected: header(headers, name) });
  }
  const trailerNames = (header(headers, 'x-amz-trailer') ?? '')
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  if (trailerNames.length && !(chunked && auth.payload.kind === 'chunked' && auth.payload.trailer)) {
    throw new S3Error('InvalidRequest', 'x-amz-trailer needs a STREAMING-*-TRAILER payload.');
  }
  for (const t of trailerNames) {
    const algo = t.startsWith('x-amz-checksum-') ? t.slice('x-amz-checksum-'.length) : '';
    if (!isChecksumAlgorithm(algo)) throw new S3Error('InvalidRequest', `Unsupported trailer ${t}.`);
    sums.set(algo, { c: checksummer(algo), expected: undefined });
  }

  const checksums: Record<string, string> = {};
  const trailers = new Map<string, string>();
  async function* run(): AsyncGenerator<Buffer> {
    const source = chunked ? dechunk(src, auth, trailers) : src;
    let count = 0;
    for await (const c of source) {
      count += c.length;
      if (length !== undefined && count > length) throw new S3Error('InvalidRequest', 'The body is longer than its declared length.');
      sha?.update(c);
      md5?.update(c);
      for (const s of sums.values()) s.c.update(c);
      yield c;
    }
    if (length !== undefined && count !== length) throw new S3Error('IncompleteBody', 'You did not provide the number of bytes specified by the Content-Length HTTP header.');
    if (sha && sha.digest('hex') !== expectSha) {
      throw new S3Error('XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }
    if (md5 && md5.digest('base64') !== contentMd5) throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.');
    for (const [algo, s] of sums) {
      const expected = s.expected ?? trailers.get(`x-amz-checksum-${algo}`);
      if (expected === undefined) throw new S3Error('InvalidRequest', `The x-amz-checksum-${algo} trailer is missing.`);
      if (s.c.digest() !== expected) throw new S3Error('BadDigest', `The ${algo.toUpperCase()} you specified did not match the calculated checksum.`);
      checksums[algo] = expected;
    }
  }
  return { body: run(), length, checksums };
}

type State = 'size' | 'data' | 'crlf' | 'trailer' | 'done';

async function* dechunk(src: AsyncIterable<Buffer>, auth: AuthResult, trailers: Map<string, string>): AsyncGenerator<Buffer> {
  const signed = auth.payload.kind === 'chunked' && auth.payload.signed;
  // A property, not a local: TypeScript would otherwise narrow it across the closures that change it.
  const st: { state: State } = { state: 'size' };
  let remaining = 0;
  let chunkSig = '';
  let prevSig = auth.seedSignature;
  let hash: Hash | undefined;
  let trailerSig: string | undefined;
  const trailerLines: string[] = [];
  let rest: Buffer | undefined;
  const bad = (msg: string): S3Error => new S3Error('IncompleteBody', `Malformed aws-chunked body: ${msg}.`);
  const checkSig = (chunkHash: string): void => {
    if (!signed) return;
    const want = hmacHex(auth.signingKey, chunkStringToSign(auth, prevSig, chunkHash));
    if (!safeEqualHex(want, chunkSig)) throw new S3Error('SignatureDoesNotMatch', 'The chunk signature does not match.');
    prevSig = chunkSig;
  };
  const onLine = (line: string): void => {
    if (st.state === 'size') {
      const m = /^([0-9a-fA-F]{1,15})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(line);
      if (!m) throw bad('bad chunk header');
      if (signed && !m[2]) throw new S3Error('SignatureDoesNotMatch', 'A chunk signature is missing.');
      chunkSig = m[2] ?? '';
      remaining = parseInt(m[1] as string, 16);
      if (remaining === 0) {
        checkSig(EMPTY_SHA256);
        st.state = 'trailer';
      } else {
        hash = signed ? createHash('sha256') : undefined;
        st.state = 'data';
      }
      return;
    }
    // trailer section
    if (line === '') {
      st.state = 'done';
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw bad('bad trailer');
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'x-amz-trailer-signature') trailerSig = value;
    else {
      trailers.set(name, value);
      trailerLines.push(`${name}:${value}\n`);
    }
  };

  for await (const piece of src) {
    const data = rest ? Buffer.concat([rest, piece]) : piece;
    rest = undefined;
    let off = 0;
    while (off < data.length) {
      if (st.state === 'data') {
        const n = Math.min(remaining, data.length - off);
        const slice = data.subarray(off, off + n);
        hash?.update(slice);
        off += n;
        remaining -= n;
        if (remaining === 0) st.state = 'crlf';
        yield slice;
        continue;
      }
      if (st.state === 'crlf') {
        if (data.length - off < 2) break;
        if (data[off] !== 13 || data[off + 1] !== 10) throw bad('missing CRLF after chunk data');
        off += 2;
        checkSig(hash ? hash.digest('hex') : '');
        hash = undefined;
        st.state = 'size';
        continue;
      }
      if (st.state === 'done') throw bad('data after the final chunk');
      const nl = data.indexOf(CRLF, off);
      if (nl < 0) {
        if (data.length - off > MAX_LINE) throw bad('line too long');
        break;
      }
      const line = data.toString('latin1', off, nl);
      off = nl + 2;
      onLine(line);
    }
    if (off < data.length) rest = Buffer.from(data.subarray(off));
  }
  if (st.state === 'trailer' && rest && rest.length) {
    // Tolerate a last trailer line without its CRLF.
    onLine(rest.toString('latin1'));
    rest = undefined;
  }
  if (st.state !== 'trailer' && st.state !== 'done') throw new S3Error('IncompleteBody', 'The aws-chunked body ended before its final chunk.');
  if (rest && rest.length) throw bad('data after the final chunk');
  if (signed && auth.payload.kind === 'chunked' && auth.payload.trailer) {
    if (trailerSig === undefined) throw new S3Error('SignatureDoesNotMatch', 'The trailer signature is missing.');
    const want = hmacHex(auth.signingKey, trailerStringToSign(auth, prevSig, sha256hex(trailerLines.join(''))));
    if (!safeEqualHex(want, trailerSig)) throw new S3Error('SignatureDoesNotMatch', 'The trailer signature does not match.');
  }
}
