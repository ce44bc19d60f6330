/** Progress callback of transfers: bytes done, bytes in all, the file being transferred. */
export type TransferProgress = (read: number, total: number, filename: string) => void;

/**
 * A one-line progress bar on a TTY (stderr), or nothing when the stream is not a TTY. The SDK only draws it when
 * the caller asked for it (`liveProgress: true`, `resultsProgress: true`).
 */
export class ProgressBar {
  private last = '';
  private readonly stream: NodeJS.WriteStream;
  private readonly enabled: boolean;

  constructor(private readonly label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.stream = stream;
    this.enabled = stream.isTTY === true;
  }

  /** Redraws with `fraction` in [0, 1] and an optional suffix. */
  update(fraction: number, suffix = ''): void {
    if (!this.enabled) return;
    const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
    const width = 30;
    const filled = Math.round(f * width);
    const line = `${this.label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(f * 100).toFixed(1).padStart(5)}% ${suffix}`;
    if (line === this.last) return;
    this.last = line;
    const columns = this.stream.columns ?? 120;
    this.stream.write(`\r${line.slice(0, columns - 1).padEnd(Math.min(columns - 1, this.last.length))}`);
  }

  /** Ends the line. */
  done(): void {
    if (this.enabled && this.last !== '') this.stream.write('\n');
    this.last = '';
  }

  /** A transfer callback drawing this bar. */
  asTransferProgress(): TransferProgress {
    return (read, total, filename) => this.update(total > 0 ? read / total : 1, filename);
  }
}
