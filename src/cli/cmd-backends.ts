/** @file `repae backends`: which backends can run here, and why not. */
import { available } from '../backends/index.js';

/** Prints each backend's availability; exit code 0. @category backends */
export async function backendsCommand(_argv: readonly string[]): Promise<number> {
  for (const a of await available()) console.log(`${a.name.padEnd(10)} ${a.available ? `available    ${a.detail}` : `unavailable  ${a.reason}`}`);
  return 0;
}
