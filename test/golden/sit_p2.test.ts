import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { checkSitFixture } from '../../src/golden/sit.js';
import type { TensorCheck } from '../../src/golden/types.js';
import { describeEachBackend } from '../helpers/backends.js';
import { goldenDir, haveGolden, loadFixture } from '../helpers/golden.js';

const worst = (cs: readonly TensorCheck[]): TensorCheck | undefined =>
  [...cs].sort((a, b) => b.err / Math.max(b.tol, 1e-30) - a.err / Math.max(a.tol, 1e-30))[0];

describeEachBackend('golden sit_p2 (fixture A)', (backend) => {
  it.skipIf(!haveGolden)('matches every tensor of the official SiT run', async () => {
    const { st, json } = loadFixture('sit_p2');
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const checks = await checkSitFixture({ name: 'sit_p2', dir: goldenDir, st, json });
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const leaked = tf.memory().numTensors - before;
    const failed = checks.filter((c) => !c.pass);
    const w = worst(checks);
    const maxFwd = Math.max(...checks.filter((c) => c.tol === 1e-4).map((c) => c.err));
    const maxGrad = Math.max(...checks.filter((c) => c.tol === 1e-3).map((c) => c.err));
    console.log(
      `[${backend}] sit_p2: ${checks.length} checks in ${secs}s; worst forward ${maxFwd.toExponential(2)}, worst gradient ${maxGrad.toExponential(2)}; ` +
        `worst relative to tolerance: ${w?.tensor} ${w?.err.toExponential(2)} (tol ${w?.tol})`,
    );
    expect(leaked).toBe(0);
    expect(failed.map((c) => `${c.tensor}: ${c.err.toExponential(2)} > ${c.tol}${c.note === undefined ? '' : ` (${c.note})`}`)).toEqual([]);
    expect(checks.length).toBe(88); // 87 computed tensors + 1 scalar (out.train.denoising_loss.mean)
  });
});
