/**
 * @file The training loop around the pure REPA-E step: data, encoder targets, progress, JSONL
 * metrics, sample grids, atomic checkpoints, resume, and NaN/Inf detection.
 */
import * as tf from '@tensorflow/tfjs-core';
import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fold, normal, type Key } from '../core/rng.js';
import { releaseOld, tidy } from '../core/scope.js';
import type { T } from '../core/tensor.js';
import type { Dataset } from '../data/dataset.js';
import { imageGrid } from '../io/png.js';
import type { SitWeights } from '../models/sit/params.js';
import { vaeDecode } from '../models/vae/index.js';
import type { VaeParams } from '../models/vae/params.js';
import { eulerSampler, sitVelocityModel } from '../sample/index.js';
import { batchAt, checkEncoderTokens, LatentCache, loadRunCheckpoint, saveRunCheckpoint, type RunEncoder, type RunSetup } from '../repae/run.js';
import { readMetrics, repaeStep, type RepaeState } from '../repae/step.js';

/** Thrown when a loss or gradient norm becomes NaN/Inf; names the metric and the step. @category optimizers */
export class NonFiniteLossError extends Error {
  override readonly name = 'NonFiniteLossError';
}

/** Options of {@link trainLoop}. @category optimizers */
export interface LoopOptions {
  readonly runDir: string;
  readonly setup: RunSetup;
  readonly data: Dataset;
  readonly encoder: RunEncoder;
  /** Initial state when there is nothing to resume. */
  readonly init: () => Promise<RepaeState>;
  /** Receives each progress / log line. */
  readonly log: (line: string) => void;
  /** Called with each step's metrics (after logging). */
  readonly onStep?: (step: number, metrics: Readonly<Record<string, number>>) => void;
  /** Steps to run in this call (default: up to `maxTrainSteps`). */
  readonly stopAt?: number;
  /** Draw a progress bar on stderr (default: when stderr is a TTY). */
  readonly progress?: boolean;
}

/** Decodes normalised latents through the BN running statistics (`z/scale + bias`, scale = running_var^-1/2, no eps) and the VAE. @category samplers */
export function decodeLatents(x0: T<never>, bn: SitWeights['bn'], vae: VaeParams<never>): T<never> {
  return tidy(() => {
    const z = tf.add(tf.mul(x0, tf.sqrt(bn.runningVar)), bn.runningMean) as T<never>;
    return tf.clipByValue(vaeDecode(vae, z), -1, 1) as T<never>;
  });
}

/** A preview grid: one Euler sample per class (CFG 4 on [0, 1], official preview settings but fewer steps). @category samplers */
export async function previewGrid(w: SitWeights, vae: VaeParams<never>, setup: RunSetup, key: Key, perClass = 2, steps = 25): Promise<Uint8Array> {
  const nc = setup.sit.numClasses;
  const y = Array.from({ length: nc * perClass }, (_, i) => i % nc);
  const xT = normal(key, [y.length, setup.sit.inputSize, setup.sit.inputSize, setup.sit.inChannels]);
  const x0 = await eulerSampler(sitVelocityModel(w.sit, setup.sit), xT, y, { numSteps: steps, guidance: { scale: 4, low: 0, high: 1 } });
  const img = decodeLatents(x0, w.bn, vae);
  const png = await imageGrid(img, { nrow: nc });
  tf.dispose([xT, x0, img]);
  return png;
}

const fmt = (x: number): string => (Math.abs(x) >= 100 || (Math.abs(x) < 1e-3 && x !== 0) ? x.toExponential(2) : x.toFixed(4));

function bar(step: number, total: number, t0: number, first: number, m: Readonly<Record<string, number>>): string {
  const w = 24, f = Math.min(1, step / total), done = Math.round(f * w);
  const rate = (step - first) / Math.max(1e-9, (performance.now() - t0) / 1000);
  const eta = rate > 0 ? (total - step) / rate : 0;
  const keys = ['sit_loss', 'vae_loss', 'd_loss', 'grad_norm_sit'].filter((k) => m[k] !== undefined);
  return `\r[${'#'.repeat(done)}${'.'.repeat(w - done)}] ${step}/${total} ${rate.toFixed(2)} it/s ETA ${Math.round(eta)}s ${keys.map((k) => `${k}=${fmt(m[k] as number)}`).join(' ')}\x1b[K`;
}

/**
 * Trains from the latest complete checkpoint in `runDir` (or from `init()`), one
 * {@link repaeStep} per batch, until `maxTrainSteps` (or `stopAt`). Every `logEvery` steps a JSON
 * line goes to `<runDir>/metrics.jsonl`; every `checkpointingSteps` an atomic checkpoint is
 * written; every `samplingSteps` (and at step 1) a sample grid PNG. A non-finite metric stops the
 * run with {@link NonFiniteLossError} before anything of that step is saved, so the last
 * checkpoint stays the last good one. Returns the final state (the caller disposes it).
 * @category optimizers
 */
export async function trainLoop(o: LoopOptions): Promise<RepaeState> {
  const { runDir, setup, data, encoder, log } = o;
  const cfg = setup.cfg;
  mkdirSync(join(runDir, 'samples'), { recursive: true });
  checkEncoderTokens(encoder, setup);
  const resumed = cfg.resume ? loadRunCheckpoint(runDir, setup, encoder, log) : undefined;
  let s = resumed?.state ?? (await o.init());
  if (resumed !== undefined) log(`resumed from step ${s.step} (${runDir}/checkpoints)`);
  else writeFileSync(join(runDir, 'config.json'), `${JSON.stringify(cfg, null, 2)}\n`);
  const total = Math.min(o.stopAt ?? cfg.maxTrainSteps, cfg.maxTrainSteps);
  const showBar = o.progress ?? process.stderr.isTTY === true;
  const t0 = performance.now(), first = s.step;
  let last: Record<string, number> = {};
  let cache: { readonly vae: unknown; readonly latents: LatentCache } | undefined;
  while (s.step < total) {
    const b = batchAt(data, setup, s.step);
    const zs = [encoder.features(b.pixels, b.x)];
    // Frozen VAE: latents come from the cache (encoded once per item), as train_ldm_only.py's cached mean/std.
    if (setup.step.mode === 'ldm' && cache?.vae !== s.store.vae) cache = { vae: s.store.vae, latents: new LatentCache(s.store.vae) };
    const cached = setup.step.mode === 'ldm' && cache !== undefined ? await cache.latents.batch(b) : undefined;
    const [next, m] = repaeStep(setup.step, s, { x: b.x, y: b.y, zs, ...(cached === undefined ? {} : { cached }) }, setup.stepKey);
    const vals = await readMetrics(m);
    releaseOld([b, zs, cached], null);
    const bad = Object.entries(vals).find(([, v]) => !Number.isFinite(v));
    if (bad !== undefined) {
      releaseOld(next, s);
      throw new NonFiniteLossError(`step ${s.step + 1}: ${bad[0]} is ${bad[1]}; stopping. The last good checkpoint is kept in ${join(runDir, 'checkpoints')} (lower the learning rates or check the data).`);
    }
    s = next;
    last = vals;
    if (s.step % cfg.logEvery === 0 || s.step === total) appendFileSync(join(runDir, 'metrics.jsonl'), `${JSON.stringify({ step: s.step, time: Date.now(), ...vals })}\n`);
    if (showBar) process.stderr.write(bar(s.step, total, t0, first, vals));
    else if (s.step % cfg.logEvery === 0 || s.step === total) log(`step ${s.step}/${total} ${Object.entries(vals).filter(([k]) => !k.includes('dict')).map(([k, v]) => `${k}=${fmt(v)}`).join(' ')}`);
    o.onStep?.(s.step, vals);
    if (s.step === 1 || s.step % cfg.samplingSteps === 0) {
      const png = await previewGrid({ sit: s.store.sit, proj: s.store.proj, bn: s.bn }, s.store.vae, setup, fold(setup.stepKey, 777));
      writeFileSync(join(runDir, 'samples', `${String(s.step).padStart(7, '0')}.png`), png);
    }
    if (s.step % cfg.checkpointingSteps === 0 || s.step === total) {
      const path = await saveRunCheckpoint(runDir, s, setup, encoder);
      if (showBar) process.stderr.write('\n');
      log(`checkpoint ${path}`);
    }
  }
  if (showBar) process.stderr.write('\n');
  void last;
  return s;
}
