/**
 * Locates the developers' real data (`../shared/data`, or $REPAE_SHARED_DATA). Suites that need it
 * call `sharedDataOr()`: absent → the suite is skipped with a printed reason, except under CI, where
 * the folder must be present and its absence fails the run.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** The shared data folder. */
export const sharedData = resolve(process.env['REPAE_SHARED_DATA'] ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'data'));

/** True when `sharedData/README.md` exists. */
export const haveSharedData = existsSync(join(sharedData, 'README.md'));

/** Whether suites needing the shared data should run; prints why not, and throws under CI. */
export function sharedDataOr(suite: string): boolean {
  if (haveSharedData) return true;
  if (process.env['CI'] !== undefined && process.env['CI'] !== '' && process.env['CI'] !== 'false')
    throw new Error(`${suite}: the shared data folder ${sharedData} is missing under CI (it must be present there)`);
  console.warn(`[skip] ${suite}: ${sharedData} is absent (developer-only real data); set REPAE_SHARED_DATA to run it`);
  return false;
}
