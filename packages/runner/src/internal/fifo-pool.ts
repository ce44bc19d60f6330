import { execFile } from 'node:child_process';
import { mkdir, rename } from 'node:fs/promises';

const BATCH = 64;

/**
 * Node has no mkfifo(), and one `mkfifo` process per instance costs as much as the command itself on a small VM: FIFOs
 * are made 64 pairs per `mkfifo` call in `<workRoot>/.fifos` and renamed into each instance's state dir.
 */
export class FifoPool {
  readonly #dir: string;
  readonly #free: string[] = [];
  #seq = 0;
  #filling: Promise<void> | undefined;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** Moves a fresh FIFO pair to `<stateDir>/stdout` and `<stateDir>/stderr`. */
  async place(stateDir: string): Promise<void> {
    while (this.#free.length < 2) {
      this.#filling ??= this.#fill().finally(() => (this.#filling = undefined));
      await this.#filling;
    }
    const out = this.#free.pop() as string;
    const err = this.#free.pop() as string;
    await rename(out, `${stateDir}/stdout`);
    await rename(err, `${stateDir}/stderr`);
  }

  async #fill(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    const names = Array.from({ length: 2 * BATCH }, () => `${this.#dir}/${process.pid}-${this.#seq++}`);
    await new Promise<void>((resolve, reject) => execFile('mkfifo', names, (e) => (e ? reject(new Error(`mkfifo failed: ${e.message}`, { cause: e })) : resolve())));
    this.#free.push(...names);
  }
}

const pools = new Map<string, FifoPool>();

export function fifoPool(workRoot: string): FifoPool {
  let p = pools.get(workRoot);
  if (!p) {
    p = new FifoPool(`${workRoot}/.fifos`);
    pools.set(workRoot, p);
  }
  return p;
}
