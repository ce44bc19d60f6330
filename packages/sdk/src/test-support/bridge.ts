import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';

const pkgDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const repoRoot = path.resolve(pkgDir, '../..');

interface Report {
  testResults: { name: string; message?: string; assertionResults: { fullName: string; status: string; failureMessages: string[] }[] }[];
}

/**
 * Runs the `*.suite.ts` files under packages/sdk/vitest.config.ts in a child Vitest and re-declares each of their
 * tests here with the child's verdict, so the root run counts them one by one (see vitest.config.ts for why).
 */
export function bridgeSuites(title: string): void {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sdk-suite-'));
  const out = path.join(tmp, 'report.json');
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'NODE_OPTIONS' && k !== 'TEST'));
  const run = spawnSync(
    process.execPath,
    [path.join(repoRoot, 'node_modules/vitest/vitest.mjs'), 'run', '--config', path.join(pkgDir, 'vitest.config.ts'), '--reporter=json', `--outputFile=${out}`],
    { cwd: pkgDir, env, encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  let report: Report | undefined;
  try {
    report = JSON.parse(readFileSync(out, 'utf8')) as Report;
  } catch {
    report = undefined;
  }
  rmSync(tmp, { recursive: true, force: true });
  describe(title, () => {
    if (!report || report.testResults.length === 0) {
      it('runs', () => {
        throw new Error(`child vitest produced no report (exit ${String(run.status)}):\n${run.stdout}\n${run.stderr}`);
      });
      return;
    }
    for (const file of report.testResults) {
      const name = path.basename(file.name);
      if (file.assertionResults.length === 0) {
        it(`loads ${name}`, () => {
          throw new Error(file.message ?? `no tests ran\n${run.stderr}`);
        });
      }
      for (const t of file.assertionResults) {
        it(`${name} > ${t.fullName}`, () => {
          if (t.status !== 'passed') throw new Error(`${t.status}: ${t.failureMessages.join('\n') || run.stderr}`);
        });
      }
    }
  });
}
