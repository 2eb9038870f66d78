import { tidy } from '../../src/core/scope.js';
import { constant } from '../../src/core/tensor.js';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, afterAll, describe, expect, it } from 'vitest';
import { key } from '../../src/core/rng.js';
import { dispose, numTensors } from '../../src/core/scope.js';
import type { T } from '../../src/core/tensor.js';
import { hingeLoss, initLecamState, vaeDiscriminatorLoss } from '../../src/losses/disc.js';
import {
  discriminatorFactorAt,
  ganGeneratorLoss,
  klLoss,
  l1Loss,
  L1_LPIPS_KL_GAN,
  lpipsLoss,
  vaeGeneratorLoss,
  vaeLossConfigFromOfficial,
} from '../../src/losses/vae.js';
import { discriminator, initDiscriminator, initDiscriminatorState, type DiscriminatorParams, type DiscriminatorState } from '../../src/models/discriminator.js';
import { initLpipsScaling, LPIPS_CHANNELS, type LpipsParams } from '../../src/models/lpips.js';
import { proceduralVgg16 } from '../../src/models/lpips-procedural.js';
import { posteriorFromMoments } from '../../src/models/vae/posterior.js';
import { describeEachBackend } from '../helpers/backends.js';

const c = (x: tf.Tensor): T<never> => constant(x);
const num = async (x: T<string>): Promise<number> => {
  const v = (await x.data())[0] as number;
  expect(Number.isFinite(v)).toBe(true);
  return v;
};

describe('VAE loss configuration', () => {
  it('mirrors configs/l1_lpips_kl_gan.yaml and the discriminator_start schedule', () => {
    const yaml = {
      discriminator_start: 0, discriminator_factor: 1.0, discriminator_weight: 0.1, quantizer_weight: 1.0, perceptual_loss: 'lpips',
      perceptual_weight: 1.0, reconstruction_loss: 'l1', reconstruction_weight: 1.0, lecam_regularization_weight: 0.0, kl_weight: 1e-6, logvar_init: 0.0,
    };
    expect(vaeLossConfigFromOfficial(yaml)).toEqual(L1_LPIPS_KL_GAN);
    const d2 = vaeLossConfigFromOfficial({ ...yaml, discriminator_start: 2 });
    expect([0, 1, 2, 3].map((s) => discriminatorFactorAt(d2, s))).toEqual([0, 0, 1, 1]);
    expect(() => vaeLossConfigFromOfficial({ reconstruction_loss: 'l3' })).toThrow(/reconstruction_loss/);
    expect(() => vaeLossConfigFromOfficial({ perceptual_loss: 'convnext_s' })).toThrow(/perceptual_loss/);
  });
});

describeEachBackend('VAE losses', () => {
  let lp: LpipsParams<never>;
  let disc: DiscriminatorParams<never>;
  let s0: DiscriminatorState;
  let x: T<never>, xHat: T<never>, moments: T<never>;
  beforeAll(() => {
    lp = { net: proceduralVgg16(), lin: LPIPS_CHANNELS.map((ch) => c(tf.fill([1, 1, ch, 1], 0.02))), ...initLpipsScaling() };
    disc = initDiscriminator(key(0), { inputNc: 3, ndf: 8, nLayers: 3 });
    s0 = initDiscriminatorState({ inputNc: 3, ndf: 8, nLayers: 3 });
    x = c(tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 1));
    xHat = c(tf.randomUniform([2, 32, 32, 3], -1, 1, 'float32', 2));
    moments = c(tf.randomNormal([2, 4, 4, 8], 0, 1, 'float32', 3));
  });
  afterAll(() => dispose([lp, disc, s0, x, xHat, moments]));

  it('generator mode = L1 + LPIPS + 1e-6·KL + 0.1·(−mean D(x̂)), one train-mode D forward, no leaks', async () => {
    const before = numTensors();
    const post = posteriorFromMoments(moments);
    const r = vaeGeneratorLoss({ lpips: lp, disc, discState: s0 }, x, xHat, post, 0);
    const parts = tidy(() => {
      const [logits] = discriminator(disc, s0, xHat);
      return [l1Loss(x, xHat), lpipsLoss(lp, x, xHat), klLoss(post), ganGeneratorLoss(logits)];
    });
    const [l1, lpv, kl, gan] = await Promise.all(parts.map(num)) as [number, number, number, number];
    expect(await num(r.loss)).toBeCloseTo(l1 + lpv + 1e-6 * kl + 0.1 * gan, 5);
    expect(await num(r.dict.reconstructionLoss)).toBeCloseTo(l1, 6);
    expect(await num(r.dict.klLoss)).toBeCloseTo(1e-6 * kl, 10);
    expect(await num(r.dict.ganLoss)).toBeCloseTo(gan, 6);
    expect(r.dict.discriminatorFactor).toBe(1);
    expect(r.dict.dWeight).toBe(0.1);
    expect(r.discState.bn.map((b) => b.numBatchesTracked)).toEqual([1, 1, 1]);
    const off = vaeGeneratorLoss({ lpips: lp, disc, discState: s0 }, x, xHat, post, 0, { ...L1_LPIPS_KL_GAN, discriminatorStart: 5 });
    expect(off.discState).toBe(s0);
    expect(await num(off.dict.weightedGanLoss)).toBe(0);
    expect(off.dict.discriminatorFactor).toBe(0);
    expect(await num(off.loss)).toBeCloseTo(l1 + lpv + 1e-6 * kl, 5);
    dispose([post.mean, post.logvar, post.std, post.var, r, parts, off.loss, off.dict]);
    expect(numTensors()).toBe(before);
  });

  it('discriminator mode: factor·hinge over two train-mode forwards (real, then fake); LeCam when weighted', async () => {
    const real = c(tf.tensor1d([0.5, -2, 1.5])), fake = c(tf.tensor1d([-0.5, 0.2, -1.5]));
    const h = hingeLoss(real, fake);
    expect(await num(h)).toBeCloseTo(0.5 * ((0.5 + 3 + 0) / 3 + (0.5 + 1.2 + 0) / 3), 6);
    dispose([real, fake, h]);
    const before = numTensors();
    const r = vaeDiscriminatorLoss(disc, s0, x, xHat, 0);
    expect(r.discState.bn.map((b) => b.numBatchesTracked)).toEqual([2, 2, 2]);
    expect(r.lecam).toBeUndefined();
    const manual = tidy(() => {
      const [lr, s1] = discriminator(disc, s0, x);
      const [lf] = discriminator(disc, s1, xHat);
      return hingeLoss(lr, lf);
    });
    expect(await num(r.loss)).toBeCloseTo(await num(manual), 6);
    const off = vaeDiscriminatorLoss(disc, s0, x, xHat, 0, { ...L1_LPIPS_KL_GAN, discriminatorStart: 1 });
    expect(await num(off.loss)).toBe(0);
    const ema = initLecamState();
    const lc = vaeDiscriminatorLoss(disc, s0, x, xHat, 0, { ...L1_LPIPS_KL_GAN, lecamRegularizationWeight: 0.5 }, ema);
    const lr = await num(lc.dict.logitsReal), lf = await num(lc.dict.logitsFake);
    expect(await num(lc.dict.lecamLoss)).toBeCloseTo(0.5 * (Math.max(lr, 0) ** 2 + Math.max(-lf, 0) ** 2), 6);
    expect(await num(lc.loss)).toBeCloseTo((await num(manual)) + (await num(lc.dict.lecamLoss)), 6);
    expect(await num(lc.lecam!.emaRealLogitsMean)).toBeCloseTo(0.001 * lr, 8);
    dispose([r, manual, off.loss, off.dict, off.discState, ema, lc]);
    expect(numTensors()).toBe(before);
  });
});
