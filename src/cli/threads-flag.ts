/** @file `--threads N`: a flag every command accepts (the wasm backend's XNNPACK threads in Node). */
import { setDefaultThreads } from '../backends/index.js';
import { UsageError } from './args.js';

/** Help line of `--threads`. @category utility types */
export const THREADS_HELP = '  --threads N            wasm backend threads in Node (default: REPAE_THREADS, else the idle cores by the load average, 1..8; 1 = single-threaded)';

/**
 * Removes `--threads N` / `--threads=N` from `argv` and makes it the wasm thread default
 * ({@link setDefaultThreads}); a bad value is a {@link UsageError} naming the flag. Returns the
 * remaining arguments.
 * @category utility types
 */
export function takeThreadsFlag(argv: readonly string[]): string[] {
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a !== '--threads' && !a.startsWith('--threads=')) { rest.push(a); continue; }
    const v = a === '--threads' ? argv[++i] : a.slice('--threads='.length);
    const n = Number(v);
    if (v === undefined || v.trim() === '' || !Number.isInteger(n) || n < 1) throw new UsageError(`--threads expects an integer ≥ 1, got '${v ?? ''}'`);
    setDefaultThreads(n);
  }
  return rest;
}
