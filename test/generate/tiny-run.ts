/**
 * Builds a tiny run directory for the sampling/eval/export tests without the training loop:
 * random-init SiT (EMA = a perturbed copy with non-trivial latent BN statistics), VAE and
 * discriminator, written with `saveCheckpoint` in the official state-dict names, plus `state.json`
 * whose `config` is a RunConfig.
 */
import { toTensor } from '../../src/core/tensor.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { fold, key } from '../../src/core/rng.js';
import { dispose } from '../../src/core/scope.js';
import { saveCheckpoint, type JsonObject } from '../../src/io/checkpoint.js';
import type { SafeWriteEntry } from '../../src/io/safetensors.js';
import { discriminatorToStateDict } from '../../src/io/statedict/discriminator.js';
import type { StateDict } from '../../src/io/statedict/entries.js';
import { sitToStateDict } from '../../src/io/statedict/sit.js';
import { vaeToStateDict } from '../../src/io/statedict/vae.js';
import { initDiscriminator, initDiscriminatorState } from '../../src/models/discriminator.js';
import { customSitConfig, type SitConfig } from '../../src/models/sit/config.js';
import { initSit, latentBnFromStats, type SitWeights } from '../../src/models/sit/params.js';
import { vaeConfig, vaeDownsampling, type VaeConfig } from '../../src/models/vae/config.js';
import { initVae } from '../../src/models/vae/params.js';
import { decodeRunConfig, type RunConfig } from '../../src/train/config.js';

/** The tiny run's config: 16 px images, VAE 32ch ×[1, 2] (f2, 4 latent channels), SiT depth 2, width 32, p2 (16 tokens), 4 classes. */
export const tinyRunConfig = (over: Partial<RunConfig> = {}): RunConfig =>
  decodeRunConfig({
    expName: 'tiny', resolution: 16, sitDepth: 2, sitHidden: 32, sitHeads: 2, patchSize: 2, encoderDepth: 1, projectorDim: 16,
    numClasses: 4, vaeCh: 32, vaeChMult: [1, 2], vaeEmbedDim: 4, discNdf: 8, discLayers: 1, dataDir: 'builtin:shapes:16', ...over,
  });

/** Latent statistics written into the EMA BatchNorm (`scale = var^-1/2`). */
export const TINY_SCALE = [0.5, 2, 1, 0.25];
export const TINY_BIAS = [0.1, -0.2, 0.3, 0];

const toWrite = (sd: StateDict): Map<string, SafeWriteEntry> => new Map([...sd].map(([k, e]) => [k, { dtype: e.dtype, shape: e.shape, data: e.data }]));

/** Gives the zero-initialised adaLN/final layers small random values so the SiT's output is not identically 0. */
function perturb(w: SitWeights, seed: number): SitWeights {
  return tf.tidy(() => perturbIn(w, seed) as unknown as tf.TensorContainer) as unknown as SitWeights;
}
function perturbIn(w: SitWeights, seed: number): SitWeights {
  const r = (t: tf.Tensor, k: number): tf.Tensor => tf.add(t, tf.mul(tf.randomNormal(t.shape, 0, 1, 'float32', seed + k), 0.05));
  const sit = {
    ...w.sit,
    blocks: w.sit.blocks.map((b, i) => ({ ...b, adaLN: { w: r(toTensor(b.adaLN.w), 10 + i), b: b.adaLN.b } })),
    finalLayer: { adaLN: { w: r(toTensor(w.sit.finalLayer.adaLN.w), 1), b: w.sit.finalLayer.adaLN.b }, linear: { w: r(toTensor(w.sit.finalLayer.linear.w), 2), b: w.sit.finalLayer.linear.b } },
  };
  return { ...w, sit: sit as unknown as SitWeights['sit'] };
}

/** Configs of the tiny run (as the loader must infer them). */
export function tinyConfigs(run: RunConfig): { sit: SitConfig; vae: VaeConfig } {
  const vae = vaeConfig({ embedDim: run.vaeEmbedDim, ch: run.vaeCh, chMult: run.vaeChMult, attnResolutions: [] });
  const sit = customSitConfig({
    depth: run.sitDepth, hiddenSize: run.sitHidden, numHeads: run.sitHeads, patchSize: run.patchSize, inputSize: run.resolution / vaeDownsampling(vae),
    inChannels: run.vaeEmbedDim, encoderDepth: run.encoderDepth, zDims: [8], projectorDim: run.projectorDim, numClasses: run.numClasses,
    classDropoutProb: run.cfgProb, bnMomentum: run.bnMomentum, qkNorm: run.qkNorm,
  });
  return { sit, vae };
}

/**
 * Writes a tiny run at `<dir>/tiny` with one checkpoint at `step` (sections sit, ema, vae, disc);
 * returns the run directory. Creates no lasting tensors.
 */
export async function writeTinyRun(dir = mkdtempSync(join(tmpdir(), 'repae-tiny-')), step = 100, over: Partial<RunConfig> = {}): Promise<string> {
  const run = tinyRunConfig(over);
  const { sit: sitCfg, vae: vaeCfg } = tinyConfigs(run);
  const k = key(42);
  const before = tf.memory().numTensors;
  const base = initSit(fold(k, 1), sitCfg);
  const live = perturb(base, 1);
  const emaRaw = perturb(base, 2);
  const ema: SitWeights = { ...emaRaw, bn: latentBnFromStats(TINY_SCALE, TINY_BIAS) };
  const vae = initVae(fold(k, 2), vaeCfg);
  const discCfg = { inputNc: 3, ndf: run.discNdf, nLayers: run.discLayers };
  const disc = initDiscriminator(fold(k, 3), discCfg);
  const discState = initDiscriminatorState(discCfg);
  const runDir = join(dir, run.expName);
  saveCheckpoint(runDir, step, {
    sit: await sitToStateDict(live, sitCfg),
    ema: await sitToStateDict(ema, sitCfg),
    vae: toWrite(await vaeToStateDict(vae)),
    disc: toWrite(await discriminatorToStateDict(disc, discState)),
  }, { format: 'repae-run-1', config: run as unknown as JsonObject });
  dispose([base, live, emaRaw, ema, vae, disc, discState]);
  if (tf.memory().numTensors !== before) throw new Error(`writeTinyRun leaked ${tf.memory().numTensors - before} tensors`);
  return runDir;
}
