import os from 'node:os';
import { Worker } from 'node:worker_threads';

/**
 * MD5 of large uploads on worker threads. The ETag of a single PUT is the MD5 of its bytes, and OpenSSL's MD5 runs at
 * about 700 MB/s on one core: on the event loop it caps a large PUT at roughly half that, since the same thread also
 * reads the socket. The upload's bytes arrive here in shared-memory slots (direct-io.ts), which the event loop writes
 * to the file while a worker hashes them.
 */

// Runs in the worker (CommonJS, eval'd): one hash per upload id, updated in message order, so the digest is the MD5
// of the slots in the order they were sent. Every update is acknowledged so the sender can reuse the slot.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const hashes = new Map();
parentPort.on('message', (m) => {
  let h = hashes.get(m.id);
  if (m.op === 'update') {
    if (!h) hashes.set(m.id, (h = createHash('md5')));
    h.update(new Uint8Array(m.buffer, m.offset, m.length));
    parentPort.postMessage({ id: m.id, op: 'update' });
  } else if (m.op === 'digest') {
    hashes.delete(m.id);
    parentPort.postMessage({ id: m.id, op: 'digest', digest: (h ?? createHash('md5')).digest() });
  } else {
    hashes.delete(m.id);
    parentPort.postMessage({ id: m.id, op: 'drop' });
  }
});
`;

interface Waiter {
  resolve(value: Uint8Array | undefined): void;
  reject(e: Error): void;
}

interface WorkerMessage {
  id: number;
  op: 'update' | 'digest' | 'drop';
  digest?: Uint8Array;
}

/** One worker thread and the uploads hashing on it; a worker that dies fails its uploads and is replaced on next use. */
class HashThread {
  readonly #waiters = new Map<number, Waiter[]>();
  #worker: Worker | undefined;
  /** Requests not answered yet: while there are some the worker keeps the process alive, idle it does not. */
  #pending = 0;

  get load(): number {
    return this.#waiters.size;
  }

  open(id: number): void {
    this.#waiters.set(id, []);
  }

  /** `bytes`: for an update, a view of the shared-memory slot to hash. */
  send(id: number, op: 'update' | 'digest' | 'drop', bytes?: Uint8Array): Promise<Uint8Array | undefined> {
    const worker = this.#start();
    const queue = this.#waiters.get(id);
    if (!queue) return Promise.reject(new Error(`md5 upload ${id} is not open`));
    if (this.#pending++ === 0) worker.ref();
    return new Promise((resolve, reject) => {
      queue.push({ resolve, reject });
      worker.postMessage({ id, op, buffer: bytes?.buffer, offset: bytes?.byteOffset, length: bytes?.byteLength });
    });
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true, name: 'hearth-md5' });
    worker.on('message', (m: WorkerMessage) => {
      if (--this.#pending === 0) worker.unref();
      const queue = this.#waiters.get(m.id);
      const waiter = queue?.shift();
      if (m.op !== 'update') this.#waiters.delete(m.id);
      waiter?.resolve(m.digest);
    });
    const fail = (e: Error): void => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#pending = 0;
      // Their hash state died with the worker: these uploads fail, and later sends for them find no queue.
      for (const queue of this.#waiters.values()) for (const w of queue) w.reject(e);
      this.#waiters.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the md5 worker exited with code ${code}`)));
    // Unreferenced while idle (after the listeners, which re-reference it); send() references it while it works.
    worker.unref();
    this.#worker = worker;
    return worker;
  }
}

const threads: HashThread[] = Array.from({ length: Math.max(1, Math.min(4, os.availableParallelism() - 1)) }, () => new HashThread());
let nextId = 0;

/** The MD5 of one upload, computed on a worker thread from shared-memory slots sent in order. */
export class WorkerMd5 {
  readonly #id = ++nextId;
  readonly #thread: HashThread;

  constructor() {
    // The least busy thread; ties go to the first, so a lone upload always finds a warm worker.
    this.#thread = threads.reduce((a, b) => (b.load < a.load ? b : a));
    this.#thread.open(this.#id);
  }

  /** Hashes `slot[0, length)` next; resolves once the worker no longer reads the slot. */
  async update(slot: Buffer, length: number): Promise<void> {
    await this.#thread.send(this.#id, 'update', slot.subarray(0, length));
  }

  /** The raw digest of everything sent; call after the last update resolved. */
  async digest(): Promise<Buffer> {
    const d = await this.#thread.send(this.#id, 'digest');
    if (!d) throw new Error('the md5 worker sent no digest');
    return Buffer.from(d.buffer, d.byteOffset, d.byteLength);
  }

  /** Forgets the upload (it failed); updates sent before still resolve. */
  drop(): void {
    this.#thread.send(this.#id, 'drop').catch(() => undefined);
  }
}
