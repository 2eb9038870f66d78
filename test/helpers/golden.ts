/** Locates and loads the shared golden fixtures (safetensors + json). */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readSafetensors, type SafeFile } from '../../src/io/safetensors.js';

/** The golden directory: $REPAE_GOLDEN or ../shared/golden relative to the project root. */
export const goldenDir = resolve(process.env['REPAE_GOLDEN'] ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'golden'));
/** True when the shared golden fixtures are present. */
export const haveGolden = existsSync(join(goldenDir, 'README.md'));

/** Loads fixture `name`: its tensors and its json. */
export function loadFixture(name: string): { st: SafeFile; json: Record<string, unknown> } {
  const st = readSafetensors(new Uint8Array(readFileSync(join(goldenDir, `${name}.safetensors`))), `${name}.safetensors`);
  const json = JSON.parse(readFileSync(join(goldenDir, `${name}.json`), 'utf8')) as Record<string, unknown>;
  return { st, json };
}

if (!haveGolden) {
  const msg = `golden fixtures not found at ${goldenDir} (set REPAE_GOLDEN): the golden tests are skipped`;
  if (process.env['CI'] !== undefined && process.env['CI'] !== 'false') throw new Error(`${msg} — not allowed in CI`);
  console.warn(msg);
}
