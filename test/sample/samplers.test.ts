import { constant, toTensor } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { expect, it } from 'vitest';
import { key } from '../../src/core/rng.js';
import { dispose } from '../../src/core/scope.js';
import type { T } from '../../src/core/tensor.js';
import { interpolate, pathCoefficientsAt, sampleTimeArray } from '../../src/models/sit/interpolant.js';
import { guidanceActive, torchLinspace, type SamplerProgress, type VelocityModel } from '../../src/sample/cfg.js';
import { eulerSampler } from '../../src/sample/euler.js';
import { eulerMaruyamaSampler, scoreFromVelocity } from '../../src/sample/sde.js';
import { describeEachBackend } from '../helpers/backends.js';

/** v(x, t, y) = x + y (per sample), recording the batch sizes, times and labels it was called with. */
function toyModel(): VelocityModel & { calls: { b: number; t: number; y: number[] }[]; settle: () => Promise<void> } {
  const calls: { b: number; t: number; y: number[] }[] = [];
  const pending: Promise<void>[] = [];
  return {
    calls,
    numClasses: 10,
    settle: async () => void (await Promise.all(pending)),
    velocity: (x: T<never>, t: T<never>, y: T<never>) => {
      const slot = calls.push({ b: x.shape[0] as number, t: NaN, y: [] }) - 1;
      const tc = tf.clone(toTensor(t)), yc = tf.clone(toTensor(y));
      pending.push(
        (async () => {
          calls[slot] = { b: x.shape[0] as number, t: (await tc.data())[0] as number, y: Array.from(await yc.data()) };
          tf.dispose([tc, yc]);
        })(),
      );
      return constant(tf.tidy(() => tf.add(toTensor(x), tf.reshape(tf.cast(toTensor(y), 'float32'), [-1, 1, 1, 1]))));
    },
  };
}

describeEachBackend('samplers (host float64 state)', () => {
  it('Euler integrates v = x exactly as the float64 recursion, reports progress and does not leak', async () => {
    const xT = constant(tf.tensor([0.5, -1, 2, 0.25], [1, 2, 2, 1]));
    const m = toyModel();
    const before = tf.memory().numTensors;
    const steps: SamplerProgress[] = [];
    const out = await eulerSampler(m, xT, [0], { numSteps: 4, onStep: (p) => steps.push(p) });
    await m.settle();
    expect(tf.memory().numTensors - before).toBe(1);
    const f = [1, 0.75, 0.5, 0.25, 0].reduce((acc, t, i, a) => (i === 0 ? acc : acc * (1 + (t - (a[i - 1] as number)))), 1);
    expect(Array.from(await out.data())).toBeAllclose([0.5 * f, -1 * f, 2 * f, 0.25 * f], 1e-6);
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4]);
    expect(steps.at(-1)?.nfe).toBe(4);
    dispose([xT, out]);
  });

  it('Heun uses 2n − 1 evaluations; guidance doubles the batch with the null class inside the interval only', async () => {
    const xT = constant(tf.ones([2, 2, 2, 1]));
    const m = toyModel();
    const out = await eulerSampler(m, xT, [3, 4], { numSteps: 4, heun: true, guidance: { scale: 2, high: 0.5 } });
    await m.settle();
    expect(m.calls.length).toBe(7);
    // t_cur = 1, .75 unguided (both evaluations); .5, .25 guided (Heun's second evaluation follows t_cur's decision).
    expect(m.calls.map((c) => c.b)).toEqual([2, 2, 2, 2, 4, 4, 4]);
    expect(m.calls[4]?.y).toEqual([3, 4, 10, 10]);
    expect(m.calls.map((c) => c.t)).toEqual([1, 0.75, 0.75, 0.5, 0.5, 0.25, 0.25].map(Math.fround));
    dispose([xT, out]);
  });

  it('Euler–Maruyama is deterministic per key, uses injected noise, and its last step is noiseless', async () => {
    const xT = constant(tf.randomNormal([2, 2, 2, 3], 0, 1, 'float32', 1));
    const m = toyModel();
    const a = await eulerMaruyamaSampler(m, xT, [0, 1], { numSteps: 5, key: key(1) });
    const b = await eulerMaruyamaSampler(m, xT, [0, 1], { numSteps: 5, key: key(1) });
    const c = await eulerMaruyamaSampler(m, xT, [0, 1], { numSteps: 5, key: key(2) });
    expect(Array.from(await a.data())).toEqual(Array.from(await b.data()));
    expect(Array.from(await a.data())).not.toEqual(Array.from(await c.data()));
    const zero = Array.from({ length: 4 }, () => new Float32Array(24));
    const d = await eulerMaruyamaSampler(m, xT, [0, 1], { numSteps: 5, noise: zero });
    const e = await eulerMaruyamaSampler(m, xT, [0, 1], { numSteps: 5, noise: zero, key: key(3) });
    await m.settle();
    expect(Array.from(await d.data())).toEqual(Array.from(await e.data()));
    expect(m.calls.slice(0, 5).map((q) => q.t)).toEqual([1, 0.76, 0.52, 0.28, 0.04].map(Math.fround));
    await expect(eulerMaruyamaSampler(m, xT, [0, 1], { numSteps: 5, noise: zero.slice(0, 2) })).rejects.toThrow(/2 injected noises for 4/);
    dispose([xT, a, b, c, d, e]);
  });
});

describeEachBackend('interpolants and time sampling', () => {
  it('linear: x_t = (1−t)x0 + tε, v = ε − x0; cosine coefficients; score of the linear path', async () => {
    const x0 = constant(tf.tensor([1, 2], [2, 1, 1, 1])), eps = constant(tf.tensor([0.5, -1], [2, 1, 1, 1]));
    const t = constant(tf.tensor([0.25, 0.5], [2, 1, 1, 1]));
    const { xt, target } = interpolate('linear', x0, eps, t);
    expect(Array.from(await xt.data())).toBeAllclose([0.875, 0.5], 1e-7);
    expect(Array.from(await target.data())).toEqual([-0.5, -3]);
    const c = pathCoefficientsAt('cosine', 0.5);
    expect(c.alpha).toBeCloseTo(Math.SQRT1_2, 12);
    expect(c.dSigma).toBeCloseTo((Math.PI / 2) * Math.SQRT1_2, 12);
    expect(scoreFromVelocity(0.3, 0.7, 0.4, 'linear')).toBeCloseTo(-((1 - 0.4) * 0.3 + 0.7) / 0.4, 12);
    const lt = sampleTimeArray(key(0), 1000, 'lognormal', 'linear');
    expect(lt.every((v) => v > 0 && v < 1)).toBe(true);
    expect(guidanceActive({ scale: 1 }, 0.5)).toBe(false);
    expect(guidanceActive({ scale: 4, low: 0, high: 0.7 }, 0.7)).toBe(true);
    expect(Array.from(torchLinspace(1, 0.04, 8)).at(-1)).toBe(0.04);
    dispose([x0, eps, t, xt, target]);
  });
});
