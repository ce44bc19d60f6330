import { Command, InvalidArgumentError, Option } from 'commander';
import { HearthServer, newToken, openDataDir } from '@hearth/server';

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port from 0 to 65535');
  return n;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

function email(value: string): string {
  if (!/^[^\s@]+@[^\s@]+$/.test(value)) throw new InvalidArgumentError('expected an email address');
  return value;
}

async function runServer(opts: {
  host: string;
  port: number;
  storagePort: number;
  dataDir: string;
  token?: string;
  email?: string;
  executor: string;
  runtime: string;
  slots?: number;
  sandbox: string;
}): Promise<void> {
  if (opts.executor !== 'local') throw new Error(`the '${opts.executor}' executor is not available in this build; use --executor local`);
  // Handlers first: a signal that arrives while the server starts still shuts it down cleanly.
  const stopped = new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      console.log(`Received ${signal}, shutting down`);
      resolve();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  const server = await HearthServer.start({
    host: opts.host,
    port: opts.port,
    storagePort: opts.storagePort,
    dataDir: opts.dataDir,
    ...(opts.token ? { token: opts.token } : {}),
    ...(opts.email ? { email: opts.email } : {}),
    runtime: opts.runtime as 'auto' | 'docker' | 'host',
    ...(opts.slots ? { slots: opts.slots } : {}),
    sandbox: opts.sandbox as 'auto' | 'bwrap' | 'none',
  });
  console.log(`Hearth API:     ${server.apiUrl}`);
  console.log(`Hearth storage: ${server.storageUrl ?? '(none)'}`);
  console.log(`User email:     ${server.user.email}`);
  console.log(`User token:     ${server.user.token}`);
  console.log(`Data dir:       ${server.dataDir}`);
  await stopped;
  await server.close();
}

export function buildProgram(): Command {
  const program = new Command('hearth').description('Hearth: a self-hostable batch compute platform speaking the Qarnot API');
  program
    .command('server')
    .description('Start the API, storage and executor in one process')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'API port (0 = any free port)', port, 8080)
    .option('--storage-port <port>', 'storage (S3) port (0 = any free port)', port, 8081)
    .option('--data-dir <dir>', 'where the database and buckets live', '.hearth')
    .option('--token <token>', "the default user's API token")
    .option('--email <email>', "the default user's email", email)
    .addOption(new Option('--executor <executor>', 'where instances run').choices(['local', 'slurm']).default('local'))
    .addOption(new Option('--runtime <runtime>', 'how instances run').choices(['auto', 'docker', 'host']).default('auto'))
    .option('--slots <n>', 'instances run at once by the local executor (default: cores)', positiveInt)
    .addOption(
      new Option('--sandbox <mode>', 'host runtime isolation (auto = bubblewrap when installed)').choices(['auto', 'bwrap', 'none']).default('auto'),
    )
    .action(runServer);

  const user = program.command('user').description('Manage users of a data dir (works whether or not a server runs on it)');
  user
    .command('create')
    .requiredOption('--data-dir <dir>', 'the data dir', '.hearth')
    .requiredOption('--email <email>', "the user's email (their S3 access key)", email)
    .option('--token <token>', 'the API token (default: random)')
    .action(async (o: { dataDir: string; email: string; token?: string }) => {
      const store = await openDataDir(o.dataDir);
      try {
        const created = await store.createUser({ email: o.email, token: o.token ?? newToken() });
        console.log(created.token);
      } finally {
        await store.close();
      }
    });
  user
    .command('list')
    .requiredOption('--data-dir <dir>', 'the data dir', '.hearth')
    .action(async (o: { dataDir: string }) => {
      const store = await openDataDir(o.dataDir);
      try {
        for (const u of await store.listUsers()) console.log(`${u.email}\t${u.createdAt}`);
      } finally {
        await store.close();
      }
    });
  user
    .command('delete')
    .requiredOption('--data-dir <dir>', 'the data dir', '.hearth')
    .requiredOption('--email <email>', 'the user to delete, with everything they own', email)
    .action(async (o: { dataDir: string; email: string }) => {
      const store = await openDataDir(o.dataDir);
      try {
        if (!(await store.deleteUser(o.email))) throw new Error(`no user with email ${o.email}`);
        console.log(`deleted ${o.email}`);
      } finally {
        await store.close();
      }
    });
  return program;
}

export async function main(argv: readonly string[]): Promise<void> {
  await buildProgram().parseAsync([...argv]);
}
