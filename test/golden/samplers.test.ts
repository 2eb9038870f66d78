import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { checkSamplersFixture } from '../../src/golden/samplers.js';
import { describeEachBackend } from '../helpers/backends.js';
import { goldenDir, haveGolden, loadFixture } from '../helpers/golden.js';

describeEachBackend('golden samplers (fixture F)', (backend) => {
  it.skipIf(!haveGolden)('reproduces every model call and final sample of the official samplers', async () => {
    const { st, json } = loadFixture('samplers');
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const checks = await checkSamplersFixture({ name: 'samplers', dir: goldenDir, st, json });
    const secs = ((performance.now() - t0) / 1000).toFixed(1);
    const leaked = tf.memory().numTensors - before;
    const failed = checks.filter((c) => !c.pass);
    const w = [...checks].sort((a, b) => b.err - a.err)[0];
    const worstSample = Math.max(...checks.filter((c) => c.tensor.endsWith('.sample')).map((c) => c.err));
    console.log(
      `[${backend}] samplers: ${checks.length} checks in ${secs}s; worst final sample ${worstSample.toExponential(2)}; worst overall ${w?.tensor} ${w?.err.toExponential(2)}`,
    );
    expect(leaked).toBe(0);
    expect(failed.map((c) => `${c.tensor}: ${c.err.toExponential(2)} > ${c.tol}${c.note === undefined ? '' : ` (${c.note})`}`)).toEqual([]);
    // Every out.* and trace.* tensor of the fixture (6 samples + 62 calls × 4 tensors).
    expect(checks.length).toBe(6 + 62 * 4);
  });
});
