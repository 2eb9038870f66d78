/**
 * Per-backend test suites. `REPAE_TEST_BACKENDS=cpu,wasm` restricts the set; by default every
 * backend that can run here is used, and the ones that cannot are reported (never silently passed).
 */
import { beforeAll, describe } from 'vitest';
import { available, useBackend, type BackendName } from '../../src/backends/index.js';

const wanted = process.env['REPAE_TEST_BACKENDS']?.split(',').filter(Boolean) as BackendName[] | undefined;
const all = await available();
/** Backends available here (and wanted). */
export const testBackends: BackendName[] = all
  .filter((a) => a.available && (wanted === undefined || wanted.includes(a.name)))
  .map((a) => a.name);
/** Backends that cannot run here, with why. */
export const unavailableBackends = all.filter((a) => !a.available);

/** `describe` once per available backend (the backend is activated in the suite's first hook). */
export function describeEachBackend(name: string, body: (backend: BackendName) => void, only?: readonly BackendName[]): void {
  for (const b of testBackends.filter((x) => only === undefined || only.includes(x))) {
    describe(`${name} [${b}]`, () => {
      beforeAll(() => useBackend(b));
      body(b);
    });
  }
}
