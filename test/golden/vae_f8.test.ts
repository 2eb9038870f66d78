import { expect, it } from 'vitest';
import { checkVaeFixture } from '../../src/golden/vae.js';
import { numTensors } from '../../src/core/scope.js';
import { describeEachBackend } from '../helpers/backends.js';
import { goldenDir, haveGolden, loadFixture } from '../helpers/golden.js';

describeEachBackend('golden vae_f8 (fixture C)', (backend) => {
  it.skipIf(!haveGolden)('matches every forward tensor, trace and parameter gradient', async () => {
    const { st, json } = loadFixture('vae_f8');
    const before = numTensors();
    const t0 = performance.now();
    const checks = await checkVaeFixture({ name: 'vae_f8', dir: goldenDir, st, json });
    const secs = (performance.now() - t0) / 1000;
    expect(numTensors()).toBe(before);
    const failed = checks.filter((c) => !c.pass);
    const worstOf = (tol: number) =>
      checks.filter((c) => c.tol === tol && c.note?.startsWith('analytically') !== true).reduce((x, y) => (y.err > x.err ? y : x), { tensor: '-', err: 0 });
    const fwd = worstOf(1e-4), grad = worstOf(1e-3);
    const zeros = checks.filter((c) => c.note?.startsWith('analytically') === true);
    console.log(
      `[${backend}] vae_f8: ${checks.length} checks in ${secs.toFixed(1)}s; worst forward ${fwd.tensor} ${fwd.err.toExponential(2)}, ` +
        `worst gradient ${grad.tensor} ${grad.err.toExponential(2)}; ${zeros.length} analytically-zero grads, worst ratio ${Math.max(0, ...zeros.map((c) => c.err)).toExponential(2)}`,
    );
    expect(failed.map((c) => `${c.tensor}: ${c.err} > ${c.tol} ${c.note ?? ''}`)).toEqual([]);
    expect(checks.length).toBeGreaterThanOrEqual(259);
  }, 900_000);
});
