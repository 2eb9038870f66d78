/** @file `repae backends`: which backends can run here, and why not. */
import { availableParallelism, loadavg } from 'node:os';
import { available, useBackend, wasmThreads } from '../backends/index.js';
import { parseArgs } from './args.js';

/** Prints each backend's availability (and the wasm backend's threads, by starting it); exit code 0. @category backends */
export async function backendsCommand(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help')) { console.log('usage: repae backends [--threads N]   (lists each tfjs backend and whether it can run here; starts wasm to report its threads)'); return 0; }
  parseArgs(argv, []);
  for (const a of await available()) {
    let extra = '';
    if (a.name === 'wasm' && a.available) {
      await useBackend('wasm');
      const t = wasmThreads();
      extra = t.actual === undefined ? '' : `; ${t.actual} thread${t.actual === 1 ? '' : 's'} of ${availableParallelism()} core(s), load average ${(loadavg()[0] ?? 0).toFixed(1)} (--threads N or REPAE_THREADS to change)`;
    }
    console.log(`${a.name.padEnd(10)} ${a.available ? `available    ${a.detail}${extra}` : `unavailable  ${a.reason}`}`);
  }
  return 0;
}
