// Helpers shared by the bench modules: start the real hearth server as a child process, percentiles.
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export function tempDir(prefix = 'hearth-bench-') {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Starts `hearth server` on free ports; resolves { apiUrl, storageUrl, token, child, stop() }. */
export async function startHearth({ dataDir = tempDir(), token = 'bench-token', args = [] } = {}) {
  const child = spawn(process.execPath, [path.join(ROOT, 'packages/cli/bin/hearth.js'), 'server', '--port', '0', '--storage-port', '0', '--data-dir', dataDir, '--token', token, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  const deadline = Date.now() + 60_000;
  while (!/Hearth API:\s+\S+/.test(out)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`hearth server did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const apiUrl = /Hearth API:\s+(\S+)/.exec(out)[1];
  const storage = /Hearth storage:\s+(\S+)/.exec(out)?.[1];
  return {
    apiUrl,
    storageUrl: storage && storage.startsWith('http') ? storage : null,
    token,
    dataDir,
    child,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
}

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}
