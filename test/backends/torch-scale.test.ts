/**
 * The `torch` backend at scale: 200 small REPA-E steps leave tfjs tensors and native (ATen)
 * tensors/bytes flat, and a full-size step (f8d4 VAE at 256 px, SiT-B/2, batch 2: beyond the wasm
 * heap) runs. Unavailable torch is stated with its reason (see torch.test.ts).
 */
import * as tf from '@tensorflow/tfjs-core';
import os from 'node:os';
import { expect, it } from 'vitest';
import { availability, useBackend } from '../../src/backends/index.js';
import { torchLiveTensors } from '../../src/backends/torch/index.js';
import { tensor } from '../../src/core/ops/index.js';
import { fold, key as rngKey, normalArray, uniformArray } from '../../src/core/rng.js';
import { dispose } from '../../src/core/scope.js';
import { initDiscriminator, initDiscriminatorState } from '../../src/models/discriminator.js';
import { initLpipsScaling, LPIPS_CHANNELS } from '../../src/models/lpips.js';
import { proceduralVgg16 } from '../../src/models/lpips-procedural.js';
import { sitTokens } from '../../src/models/sit/config.js';
import { initSit, latentBnFromStats } from '../../src/models/sit/params.js';
import { initVae } from '../../src/models/vae/params.js';
import { setupRun } from '../../src/train/run.js';
import { initRepaeOpt, readMetrics, repaeStep, type RepaeBatch, type RepaeState } from '../../src/repae/step.js';
import { decodeRunConfig, type RunConfig } from '../../src/train/config.js';
import { emaInit } from '../../src/optim/ema.js';

const avail = await availability('torch');
if (!avail.available) it(`torch backend unavailable here: ${avail.reason}`, () => expect(avail.reason).toMatch(/build:native|libtorch|LIBTORCH/));

/** Random-init models, optimiser, EMA and one batch for `repaeStep` (as the bench's step cases). */
function prepareStep(run: Partial<RunConfig>, batchSize: number, encoderDim: number) {
  const r = decodeRunConfig(run, 'test');
  const setup = setupRun(r, encoderDim);
  const k = rngKey(1234);
  const w = initSit(fold(k, 1), setup.sit);
  dispose(w.bn);
  const bn = latentBnFromStats(new Array<number>(setup.sit.inChannels).fill(1), new Array<number>(setup.sit.inChannels).fill(0));
  const vae = initVae(fold(k, 2), setup.vae);
  const disc = initDiscriminator(fold(k, 3), setup.disc);
  const lpips = { net: proceduralVgg16(), lin: LPIPS_CHANNELS.map((ch) => tensor(new Float32Array(ch).fill(1 / ch), [1, 1, ch, 1])), ...initLpipsScaling() };
  const store = { sit: w.sit, proj: w.proj, vae, disc, lpips, enc: {} };
  let s: RepaeState = { store, opt: initRepaeOpt(setup.step, store), bn, discState: initDiscriminatorState(setup.disc), ema: emaInit({ sit: w.sit, proj: w.proj, bn }), step: 0 };
  const n = batchSize, res = r.resolution, tokens = sitTokens(setup.sit);
  const batch: RepaeBatch = {
    x: tensor(Float32Array.from(uniformArray(fold(k, 4), n * res * res * 3), (u) => 2 * u - 1), [n, res, res, 3]),
    y: tensor(Int32Array.from({ length: n }, (_, i) => i % r.numClasses), [n], 'int32'),
    zs: [tensor(Float32Array.from(normalArray(fold(k, 5), n * tokens * encoderDim)), [n, tokens, encoderDim])],
  };
  let i = 0;
  return {
    async step(): Promise<Record<string, number>> {
      const [next, m] = repaeStep(setup.step, s, batch, fold(k, 100 + i++));
      s = next;
      return readMetrics(m);
    },
    dispose: () => dispose([s, batch]),
  };
}

const SMALL: Partial<RunConfig> = { resolution: 16, vaeCh: 32, vaeChMult: [1, 1], vaeEmbedDim: 4, sitDepth: 1, sitHidden: 32, sitHeads: 2, patchSize: 2, encoderDepth: 1, projectorDim: 32, discNdf: 4, discLayers: 1, numClasses: 10 };

it.runIf(avail.available)('200 small REPA-E steps: live tfjs tensors and native tensor count/bytes stay flat', async () => {
  await useBackend('torch');
  const base = { tf: tf.memory().numTensors, native: await torchLiveTensors() };
  const p = prepareStep(SMALL, 2, 16);
  await p.step();
  const warm = { tf: tf.memory().numTensors, native: await torchLiveTensors() };
  const samples: string[] = [];
  for (let i = 1; i < 200; i++) {
    const m = await p.step();
    if (i === 1) expect(Object.values(m).every((v) => Number.isFinite(v))).toBe(true);
    if (i % 20 === 19) samples.push(JSON.stringify({ tf: tf.memory().numTensors, native: await torchLiveTensors() }));
  }
  expect(new Set(samples).size, samples.join('\n')).toBe(1);
  expect(JSON.parse(samples[0] as string)).toEqual(warm);
  p.dispose();
  expect(tf.memory().numTensors).toBe(base.tf);
  expect(await torchLiveTensors()).toEqual(base.native);
}, 3_600_000);

const GB = 1024 ** 3;
const freeGb = os.freemem() / GB;
const FULL: Partial<RunConfig> = {
  resolution: 256, vaeCh: 128, vaeChMult: [1, 2, 4, 4], vaeEmbedDim: 4, sitDepth: 12, sitHidden: 768, sitHeads: 12, patchSize: 2,
  encoderDepth: 4, projectorDim: 2048, discNdf: 64, discLayers: 3, numClasses: 1000,
};

async function bigStep(run: Partial<RunConfig>, label: string): Promise<void> {
  await useBackend('torch');
  const before = tf.memory().numTensors;
  const p = prepareStep(run, 2, 768);
  const t0 = performance.now();
  const m = await p.step();
  const ms = performance.now() - t0;
  console.log(`[torch] ${label}: ${(ms / 1000).toFixed(1)} s; rss ${(process.memoryUsage().rss / GB).toFixed(1)} GB; native ${JSON.stringify(await torchLiveTensors())}`);
  expect(Object.keys(m).length).toBeGreaterThan(3);
  expect(Object.entries(m).filter(([, v]) => !Number.isFinite(v))).toEqual([]);
  p.dispose();
  expect(tf.memory().numTensors).toBe(before);
}

// The tfjs tape keeps the activations of the step until its gradients are done. With the fused
// norms and activations (src/core/ops/fused.ts) the 256 px step peaks at 17.8 GB RSS (measured:
// /usr/bin/time -v, 2 cores at load 6-8, 784 s; before the fusion it was still growing at 16.4 GB
// when stopped on a 24 GB machine). Each size runs only where that much memory is free; the full
// size also only on request (REPAE_TEST_FULL_STEP=1), since it takes minutes even on an idle
// 2-core machine. Otherwise it is reported as skipped with what it lacks.
it.runIf(avail.available && freeGb >= 12)('a large REPA-E step runs: f8d4 VAE at 128 px, SiT-B/2 (64 tokens), batch 2 (needs ≥ 12 GB free)', async () => {
  await bigStep({ ...FULL, resolution: 128 }, 'f8d4 128 px, SiT-B/2, batch 2');
}, 3_600_000);

const FULL_GB = 20;
const fullRequested = process.env['REPAE_TEST_FULL_STEP'] === '1';
it.runIf(avail.available && freeGb >= FULL_GB && fullRequested)(`a full-size REPA-E step runs: f8d4 VAE at 256 px, SiT-B/2, batch 2 (needs ≥ ${FULL_GB} GB free)`, async () => {
  await bigStep(FULL, 'full size: f8d4 256 px, SiT-B/2, batch 2');
}, 3_600_000);

if (avail.available && (freeGb < FULL_GB || !fullRequested))
  it.skip(`full-size step (f8d4 256 px, SiT-B/2, batch 2) not run here: ${fullRequested ? '' : 'set REPAE_TEST_FULL_STEP=1 (it takes 13 min on 2 loaded cores); '}needs ≥ ${FULL_GB} GB free memory (peak RSS 17.8 GB), ${freeGb.toFixed(1)} GB free`, () => {});
