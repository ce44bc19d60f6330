// The storage gateway's fsyncs and file I/O run on libuv's thread pool (4 threads by default). The size is read
// once, when the pool first starts, so it is set here before anything else is imported.
process.env['UV_THREADPOOL_SIZE'] ??= '16';

const { main } = await import('./cli.js');
main(process.argv).catch((e: unknown) => {
  console.error(`hearth: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
