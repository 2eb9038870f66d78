/** @file `repae backends`: which backends can run here, and why not. */
import { available } from '../backends/index.js';
import { parseArgs } from './args.js';

/** Prints each backend's availability; exit code 0. @category backends */
export async function backendsCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) { console.log('usage: repae backends   (lists each tfjs backend and whether it can run here)'); return 0; }
  parseArgs(argv, []);
  for (const a of await available()) console.log(`${a.name.padEnd(10)} ${a.available ? `available    ${a.detail}` : `unavailable  ${a.reason}`}`);
  return 0;
}
