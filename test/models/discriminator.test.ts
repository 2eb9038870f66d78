import { constant } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { key } from '../../src/core/rng.js';
import { dispose, numTensors } from '../../src/core/scope.js';
import type { T } from '../../src/core/tensor.js';
import { leaves } from '../../src/core/tree.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import {
  discriminatorConfigFromStateDict,
  discriminatorFromStateDict,
  discriminatorStateDictSpec,
  discriminatorToStateDict,
} from '../../src/io/statedict/discriminator.js';
import { discriminator, initDiscriminator, initDiscriminatorState, PATCH_GAN } from '../../src/models/discriminator.js';
import { describeEachBackend, testBackends } from '../helpers/backends.js';

const numel = (p: unknown): number => leaves(p).reduce((a, t) => a + t.size, 0);
const SMALL = { inputNc: 3, ndf: 8, nLayers: 3 };

describe('PatchGAN discriminator: parameter counts', () => {
  it('the default has 2,765,633 parameters in 13 tensors, and 22 state-dict entries with buffers', () => {
    const spec = discriminatorStateDictSpec(PATCH_GAN);
    expect(spec).toHaveLength(22);
    expect(spec.filter((e) => !e.buffer).reduce((a, e) => a + e.shape.reduce((x, y) => x * y, 1), 0)).toBe(2_765_633);
    expect(spec.filter((e) => !e.buffer).map((e) => e.key)).toEqual([
      'main.0.weight', 'main.0.bias', 'main.2.weight', 'main.3.weight', 'main.3.bias', 'main.5.weight', 'main.6.weight',
      'main.6.bias', 'main.8.weight', 'main.9.weight', 'main.9.bias', 'main.11.weight', 'main.11.bias',
    ]);
  });
});

describeEachBackend('PatchGAN discriminator', () => {
  it('64 px → 6×6 logits; train-mode BatchNorm returns new state; too-small inputs are rejected; no leaks', async () => {
    const p = initDiscriminator(key(0), SMALL);
    const s0 = initDiscriminatorState(SMALL);
    const x = constant(tf.randomUniform([2, 64, 64, 3], -1, 1, 'float32', 3));
    const before = numTensors();
    const [logits, s1] = discriminator(p, s0, x);
    expect(numTensors()).toBe(before + 1 + 2 * 3);
    expect(logits.shape).toEqual([2, 6, 6, 1]);
    expect(s1.bn.map((b) => b.numBatchesTracked)).toEqual([1, 1, 1]);
    const m = await s1.bn[0]!.runningMean.data();
    expect(Math.max(...Array.from(m, Math.abs))).toBeGreaterThan(0);
    const tiny = constant(tf.zeros([1, 16, 16, 3]));
    expect(() => discriminator(p, s0, tiny)).toThrow('discriminator: input [1, 16, 16, 3] is too small for 3 stages');
    dispose([p, s0, x, logits, s1, tiny]);
  });
});

describeEachBackend(
  'PatchGAN discriminator at 256 px',
  () => {
    it('256 px → 30×30 logits (REPAE_SPEC §4.5)', () => {
      const p = initDiscriminator(key(0), SMALL);
      const s0 = initDiscriminatorState(SMALL);
      const x = constant(tf.zeros([1, 256, 256, 3]));
      const [logits, s1] = discriminator(p, s0, x);
      expect(logits.shape).toEqual([1, 30, 30, 1]);
      dispose([p, s0, x, logits, s1]);
    });
  },
  testBackends.filter((b) => b === 'cpu' || b === 'wasm').slice(0, 1),
);

describeEachBackend(
  'PatchGAN discriminator state dict',
  () => {
    it('default-size init: 2,765,633 parameters; state-dict round trip incl. I64 num_batches_tracked', async () => {
      const p = initDiscriminator(key(1));
      expect(numel(p)).toBe(2_765_633);
      const s = initDiscriminatorState();
      const sd = await discriminatorToStateDict(p, { bn: s.bn.map((b, i) => ({ ...b, numBatchesTracked: 7 + i })) });
      expect([...sd].map(([k, e]) => [k, e.shape])).toEqual(discriminatorStateDictSpec(PATCH_GAN).map((e) => [e.key, e.shape]));
      expect(sd.get('main.3.num_batches_tracked')).toEqual({ dtype: 'I64', shape: [], data: [7] });
      const back = readSafetensors(writeSafetensors(sd)).entries;
      expect(discriminatorConfigFromStateDict(back)).toEqual(PATCH_GAN);
      const before = numTensors();
      const { params, state } = discriminatorFromStateDict(back);
      expect(numTensors()).toBe(before + 13 + 6);
      expect(state.bn.map((b) => b.numBatchesTracked)).toEqual([7, 8, 9]);
      const sd2 = await discriminatorToStateDict(params, state);
      for (const [k, e] of sd) expect(Array.from(sd2.get(k)!.data), k).toEqual(Array.from(e.data));
      // init: conv weights N(0, 0.02), BN weights N(1, 0.02), BN biases 0
      const w = sd.get('main.8.weight')!.data as Float32Array;
      const mean = w.reduce((a, b) => a + b, 0) / w.length;
      const std = Math.sqrt(w.reduce((a, b) => a + (b - mean) ** 2, 0) / w.length);
      expect(Math.abs(mean)).toBeLessThan(1e-3);
      expect(std).toBeCloseTo(0.02, 3);
      expect(Array.from(sd.get('main.9.bias')!.data).every((v) => v === 0)).toBe(true);
      const missing = new Map(sd);
      missing.delete('main.6.running_var');
      expect(() => discriminatorFromStateDict(missing)).toThrow("discriminator state dict: missing key 'main.6.running_var' (expected shape [256])");
      expect(numTensors()).toBe(before + 13 + 6);
      dispose([p, s, params, state]);
    });
  },
  testBackends.filter((b) => b === 'cpu' || b === 'wasm').slice(0, 1),
);
