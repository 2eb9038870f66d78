import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { checkRepaeStepFixture } from '../../src/golden/repae-step.js';
import { describeEachBackend } from '../helpers/backends.js';
import { goldenDir, haveGolden, loadFixture } from '../helpers/golden.js';

// The cpu backend's Conv2DBackpropFilter is the pure-JS reference (minutes for the VGG16/VAE
// backward here); the step runs on wasm, webgpu and torch (libtorch).
describeEachBackend('golden repae_step (fixture G): two full REPA-E iterations', (backend) => {
  it.skipIf(!haveGolden)('matches losses, grad norms and every parameter state within the README tolerances', async () => {
    const { st, json } = loadFixture('repae_step');
    const before = tf.memory().numTensors;
    const t0 = performance.now();
    const checks = await checkRepaeStepFixture({ name: 'repae_step', dir: goldenDir, st, json });
    const failed = checks.filter((c) => !c.pass);
    console.log(`[${backend}] repae_step: ${checks.length} checks in ${((performance.now() - t0) / 1000).toFixed(1)}s; closest to its tolerance: ${[...checks].sort((a, b) => b.err / b.tol - a.err / a.tol)[0]?.tensor}`);
    expect(tf.memory().numTensors - before).toBe(0);
    expect(failed.map((c) => `${c.tensor}: ${c.err.toExponential(2)} > ${c.tol}`)).toEqual([]);
    expect(checks.filter((c) => c.tensor.startsWith('step1.out.')).length).toBeGreaterThanOrEqual(19);
    expect(checks.filter((c) => c.tensor.startsWith('after')).length).toBe(14);
  }, 600_000);
}, ['wasm', 'webgpu', 'torch']);
