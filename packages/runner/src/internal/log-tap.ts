/**
 * Watches one output stream without keeping it: remembers only the last `tailBytes` (to quote in errors) and a
 * bounded partial line (to spot progress lines). Memory stays flat whatever the command writes.
 */
export class LogTap {
  readonly #tailBytes: number;
  readonly #onLine: ((line: string) => void) | undefined;
  #tail: Buffer[] = [];
  #tailLen = 0;
  #partial = '';
  #partialOverflow = false;

  constructor(tailBytes: number, onLine?: (line: string) => void) {
    this.#tailBytes = tailBytes;
    this.#onLine = onLine;
  }

  push(chunk: Buffer): void {
    this.#tail.push(chunk);
    this.#tailLen += chunk.length;
    while (this.#tailLen - (this.#tail[0]?.length ?? 0) >= this.#tailBytes && this.#tail.length > 1) {
      this.#tailLen -= (this.#tail.shift() as Buffer).length;
    }
    if (this.#tail.length > 64) this.#tail = [Buffer.concat(this.#tail).subarray(-this.#tailBytes)];
    if (!this.#onLine) return;
    // Only lines shorter than 1 KB can be progress lines: longer ones are skipped, never buffered.
    let text = chunk.toString('utf8');
    for (;;) {
      const nl = text.indexOf('\n');
      if (nl < 0) break;
      const piece = text.slice(0, nl);
      text = text.slice(nl + 1);
      if (!this.#partialOverflow && this.#partial.length + piece.length <= 1024) this.#onLine(this.#partial + piece);
      this.#partial = '';
      this.#partialOverflow = false;
    }
    if (this.#partial.length + text.length > 1024) {
      this.#partialOverflow = true;
      this.#partial = '';
    } else if (!this.#partialOverflow) this.#partial += text;
  }

  /** The last `n` lines of what was kept. */
  lastLines(n: number): string[] {
    const text = Buffer.concat(this.#tail).subarray(-this.#tailBytes).toString('utf8');
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    return lines.slice(-n);
  }

  text(): string {
    return Buffer.concat(this.#tail).subarray(-this.#tailBytes).toString('utf8');
  }
}

const DEFAULT_PROGRESS = /^\s*HEARTH_PROGRESS\s*[=:]\s*([0-9]+(?:\.[0-9]+)?)\s*%?\s*$/;

/** Returns a line → percent parser: `HEARTH_PROGRESS=NN` always, plus the task's own pattern (first group = percent). */
export function progressParser(pattern: string | null | undefined): (line: string) => number | undefined {
  let custom: RegExp | undefined;
  try {
    custom = pattern ? new RegExp(pattern) : undefined;
  } catch {
    custom = undefined; // a broken pattern must not fail the instance
  }
  return (line) => {
    const m = DEFAULT_PROGRESS.exec(line) ?? custom?.exec(line);
    if (!m || m[1] === undefined) return undefined;
    const n = Number(m[1]);
    return Number.isFinite(n) ? Math.max(0, Math.min(100, n)) : undefined;
  };
}
