import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { dockerAnswers, type DockerClientOptions } from './docker-execution.js';

let bwrap: Promise<string | undefined> | undefined;

/** Path of `bwrap` on PATH, looked up once per process. */
export function findBwrap(): Promise<string | undefined> {
  bwrap ??= (async () => {
    for (const dir of (process.env['PATH'] ?? '/usr/bin:/bin').split(':')) {
      const p = path.join(dir || '.', 'bwrap');
      try {
        await access(p, constants.X_OK);
        return p;
      } catch {
        // next
      }
    }
    return undefined;
  })();
  return bwrap;
}

const engines = new Map<string, Promise<boolean>>();

/** Whether the docker engine answers, asked once per engine address per process. */
export function dockerAvailable(client: DockerClientOptions | undefined): Promise<boolean> {
  const key = `${client?.bin ?? 'docker'}|${client?.host ?? process.env['DOCKER_HOST'] ?? ''}`;
  let p = engines.get(key);
  if (!p) {
    p = dockerAnswers(client);
    engines.set(key, p);
  }
  return p;
}
