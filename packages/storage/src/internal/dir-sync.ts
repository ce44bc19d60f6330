import { open } from 'node:fs/promises';

/**
 * Makes directory entries durable with group commit: `sync(dir)` resolves once an fsync of `dir` that *started after
 * the call* has completed, so every rename or unlink done in `dir` before the call is on disk. Concurrent callers share
 * fsyncs: while one runs, everyone who arrives meanwhile waits for the next one, which starts as soon as the running one
 * ends, so N concurrent commits into a directory cost about two fsyncs, not N.
 *
 * (Joining the fsync already running would be wrong: it may have started before the caller's rename.)
 */
export class DirSync {
  readonly #dirs = new Map<string, { running: Promise<void>; next: Promise<void> | undefined }>();
  /** fsyncs actually issued; tests read it to see grouping happen. */
  fsyncs = 0;

  sync(dir: string): Promise<void> {
    const state = this.#dirs.get(dir);
    if (!state) return this.#start(dir);
    state.next ??= state.running.then(
      () => this.#start(dir),
      () => this.#start(dir),
    );
    return state.next;
  }

  #start(dir: string): Promise<void> {
    const running = this.#fsync(dir);
    const state = { running, next: undefined as Promise<void> | undefined };
    this.#dirs.set(dir, state);
    const done = (): void => {
      // The next batch (if any) replaced this state when it started; only the last one clears the entry.
      if (this.#dirs.get(dir) === state && state.next === undefined) this.#dirs.delete(dir);
    };
    running.then(done, done);
    return running;
  }

  async #fsync(dir: string): Promise<void> {
    this.fsyncs++;
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}
