/**
 * The artifact: `npm pack` the SDK (and `@hearth/core`, which it depends on and which is not published yet), install
 * the tarballs into fixture projects outside the repository, and use them from plain ESM and from strict TypeScript.
 * Third-party dependencies are linked from the repository's node_modules, so the test needs no network.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const modules = path.join(repo, 'node_modules');
let root: string;
/** sdk + core only, no third-party package at all: proves the entry point loads neither the AWS SDK nor zod. */
let lean: string;
/** sdk + core with their dependencies (linked), for the TypeScript check. */
let project: string;

function pack(pkgDir: string, into: string): string {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', into], { cwd: pkgDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const [info] = JSON.parse(out) as { filename: string }[];
  return path.join(into, info!.filename);
}

function install(tarball: string, dest: string): void {
  mkdirSync(dest, { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', dest, '--strip-components=1']);
}

beforeAll(() => {
  // Build first: a test run may start from sources only.
  execFileSync(process.execPath, [path.join(modules, 'typescript/bin/tsc'), '-b', path.join(repo, 'packages/sdk')], { stdio: 'inherit' });
  root = mkdtempSync(path.join(os.tmpdir(), 'sdk-pack-'));
  const sdkTar = pack(path.join(repo, 'packages/sdk'), root);
  const coreTar = pack(path.join(repo, 'packages/core'), root);
  lean = path.join(root, 'lean');
  project = path.join(root, 'typed');
  for (const dir of [lean, project]) {
    const nm = path.join(dir, 'node_modules');
    install(sdkTar, path.join(nm, '@hearth/sdk'));
    install(coreTar, path.join(nm, '@hearth/core'));
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'fixture', private: true, type: 'module' }));
  }
  for (const dep of ['@aws-sdk', '@smithy', 'zod', '@types']) symlinkSync(path.join(modules, dep), path.join(project, 'node_modules', dep), 'dir');
}, 180_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('the packed SDK', () => {
  it('ships dist and sources, without tests, test support or build info', () => {
    const sdk = path.join(project, 'node_modules/@hearth/sdk');
    expect(existsSync(path.join(sdk, 'dist/index.js'))).toBe(true);
    expect(existsSync(path.join(sdk, 'dist/index.d.ts'))).toBe(true);
    const all = execFileSync('find', [sdk, '-type', 'f'], { encoding: 'utf8' }).split('\n');
    expect(all.filter((f) => /\.test\.|\.suite\.|test-support|tsbuildinfo/.test(f))).toEqual([]);
    expect(readdirSync(path.join(sdk, 'dist/internal'))).toContain('http-client.js');
  });

  it('works from an ESM project with no third-party package installed: the AWS SDK and zod are never loaded', () => {
    const script = `
      import { createServer } from 'node:http';
      import { Connection, HardwareConstraints, isMissingTaskError, isInvalidArgumentError } from '@hearth/sdk';
      const server = createServer((req, res) => {
        res.setHeader('content-type', 'application/json');
        if (req.url === '/api/settings') return res.end(JSON.stringify({ storage: null }));
        res.statusCode = 404; res.end(JSON.stringify({ message: 'No such task' }));
      }).listen(0, '127.0.0.1', async () => {
        const conn = await Connection.connect({ clusterUrl: 'http://127.0.0.1:' + server.address().port + '/api', clientToken: 't', env: {} });
        const task = conn.createTask('packed', { profile: 'docker-batch', advancedRange: '0-3', hardwareConstraints: [HardwareConstraints.gpu()] });
        let bad; try { task.advancedRange = '3-1'; } catch (e) { bad = isInvalidArgumentError(e); }
        const missing = await conn.retrieveTask('nope').catch((e) => isMissingTaskError(e));
        const storage = await conn.buckets().catch((e) => e.code);
        console.log(JSON.stringify({ range: task.toJson().advancedRanges, bad, missing, storage }));
        await conn.close(); server.close();
      });`;
    writeFileSync(path.join(lean, 'esm.mjs'), script);
    expect(existsSync(path.join(lean, 'node_modules/@aws-sdk'))).toBe(false);
    const out = execFileSync(process.execPath, ['esm.mjs'], { cwd: lean, encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ range: '0-3', bad: true, missing: true, storage: 'bucket_storage_unavailable' });
  });

  it('type-checks from a strict TypeScript project (NodeNext), and the types reject misuse', () => {
    writeFileSync(
      path.join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noUncheckedIndexedAccess: true,
          exactOptionalPropertyTypes: false,
          noEmit: true,
          skipLibCheck: false,
          types: ['node'],
        },
        files: ['main.ts'],
      }),
    );
    writeFileSync(
      path.join(project, 'main.ts'),
      `import { Connection, Task, Bucket, type TaskOptions, type LocalTaskState, isQarnotError, QarnotError } from '@hearth/sdk';
       export async function main(): Promise<LocalTaskState> {
         const conn = await Connection.connect({ clusterUrl: 'http://localhost:8080', clientToken: 't' });
         const options: TaskOptions = { profile: 'docker-batch', instanceCount: 2, tags: ['a'] };
         const task: Task = conn.createTask('typed', options);
         const bucket: Bucket = conn.bucket('in').withPrefixFiltering('x/');
         task.resources = [bucket, 'other'];
         task.completionTtl = 60;
         // @ts-expect-error instanceCount is a number
         task.instanceCount = 'two';
         // @ts-expect-error unknown scheduling type
         task.schedulingType = 'Cheap';
         const finished: boolean = await task.wait({ timeout: 1, signal: AbortSignal.timeout(1000) });
         try { await task.submit(); } catch (e) { if (isQarnotError(e)) { const c: string = e.code; void c; } if (e instanceof QarnotError) void e.status; }
         for await (const t of conn.listTasks({ tagsIntersect: ['a'] })) void t.uuid;
         void finished;
         return task.state;
       }`,
    );
    const tsc = path.join(modules, 'typescript/bin/tsc');
    expect(() => execFileSync(process.execPath, [tsc, '-p', project], { cwd: project, encoding: 'utf8', stdio: 'pipe' })).not.toThrow();
  });
});
