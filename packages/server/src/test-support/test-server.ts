import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { HearthServer, type HearthServerOptions } from '../hearth-server.js';

export interface TestServer {
  readonly server: HearthServer;
  readonly s3: S3Client;
  call(method: string, p: string, body?: unknown): Promise<{ status: number; json: any; text: string; headers: Headers }>; // eslint-disable-line @typescript-eslint/no-explicit-any
  /** Polls the task until it reaches a final state (or the timeout). */
  waitFinal(uuid: string, timeoutMs?: number): Promise<Record<string, any>>; // eslint-disable-line @typescript-eslint/no-explicit-any
  close(): Promise<void>;
}

/** A whole Hearth (API, gateway, local executor on the host runtime) in this process, in a temp data dir. */
export async function startTestServer(options: HearthServerOptions = {}): Promise<TestServer> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'hearth-server-'));
  const server = await HearthServer.start({ port: 0, storagePort: 0, runtime: 'host', token: 'test-token', ...options, dataDir });
  const s3 = new S3Client({
    endpoint: server.storageUrl!,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: server.user.email, secretAccessKey: server.user.token },
  });
  const call: TestServer['call'] = async (method, p, body) => {
    const res = await fetch(server.apiUrl + p, {
      method,
      headers: { authorization: server.user.token, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, headers: res.headers };
  };
  return {
    server,
    s3,
    call,
    async waitFinal(uuid, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      let t = (await call('GET', `/tasks/${uuid}`)).json as Record<string, unknown>;
      while (!['Success', 'Failure', 'Cancelled'].includes(String(t['state']))) {
        if (Date.now() > deadline) throw new Error(`task ${uuid} still ${String(t['state'])}`);
        // Long-poll: the server answers as soon as the state differs.
        t = (await call('GET', `/tasks/${uuid}?longPollSeconds=5&ifState=${String(t['state'])}`)).json as Record<string, unknown>;
      }
      return t;
    },
    async close() {
      s3.destroy();
      await server.close();
      if (!options.dataDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function shellTask(command: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'shell', profile: 'docker-batch', instanceCount: 1, constants: [{ key: 'DOCKER_CMD', value: command }], ...overrides };
}

/** Polls `probe` until it returns a value (or the timeout passes). */
export async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
