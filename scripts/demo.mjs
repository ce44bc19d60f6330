#!/usr/bin/env node
// Hearth's main job, end to end on the embedded default: one process runs the server, its S3 storage and the local
// executor; the TypeScript SDK uploads resources, submits a 4-instance task, follows it, and downloads the results.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { HearthServer } from '@hearth/server';
import { Connection } from '@hearth/sdk';

const dataDir = mkdtempSync(path.join(os.tmpdir(), 'hearth-demo-'));
const outputDir = path.resolve('demo-output');
const server = await HearthServer.start({ dataDir, port: 0, storagePort: 0 });
console.log(`Hearth server at ${server.apiUrl}, storage at ${server.storageUrl} (data in ${dataDir})`);

try {
  const conn = await Connection.connect({ clusterUrl: server.apiUrl, clientToken: server.user.token });
  const input = await conn.createBucket('demo-input');
  await input.addString('The quick brown fox jumps over the lazy dog\n', 'scene/words.txt');
  console.log('uploaded scene/words.txt to bucket demo-input');

  const task = conn.createTask('demo-render', { profile: 'docker-batch', instanceCount: 4 });
  // Each instance "renders" one frame: the word at its index, upper-cased, written as a result file.
  task.constants['DOCKER_CMD'] =
    'word=$(tr " " "\\n" < words.txt | sed -n "$((INSTANCE_ID + 1))p"); ' +
    'echo "frame $INSTANCE_ID of $INSTANCE_COUNT: $word"; ' +
    'echo "$word" | tr a-z A-Z > frame-$INSTANCE_ID.txt';
  task.resources = [input.withPrefixFiltering('scene/').withStripPrefix('scene/')];
  task.results = conn.bucket('demo-output');
  task.resultsWhitelist = '^frame-';

  const finished = await task.run({ outputDir, jobTimeout: 300 });
  console.log(`task ${task.uuid} finished=${finished} state=${task.state}`);
  console.log('--- stdout');
  process.stdout.write(await task.stdout());
  console.log('--- results downloaded to', outputDir);
  for (const f of readdirSync(outputDir).sort()) console.log(`${f}: ${readFileSync(path.join(outputDir, f), 'utf8').trim()}`);
  await conn.close();
  if (task.state !== 'Success') process.exitCode = 1;
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
