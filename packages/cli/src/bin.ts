import { main } from './cli.js';

main(process.argv).catch((e: unknown) => {
  console.error(`hearth: ${e instanceof Error ? e.message : String(e)}`);
  process.exit(1);
});
