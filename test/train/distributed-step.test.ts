/**
 * The data-parallel step hooks in one process (world size 1 through the single-process collective,
 * no addon needed): the step with gradient reduction, SyncBatchNorm and the injected global-index
 * randomness equals the plain step, and leaves tf.memory().numTensors flat; a consumed state, reused, is refused by name.
 */
import * as tf from '@tensorflow/tfjs-core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { singleProcessCollective } from '../../src/collective/index.js';
import { ConsumedStateError, releaseOld } from '../../src/core/scope.js';
import { batchAt, buildEncoder, initRunState, openDataset, setupRun } from '../../src/train/run.js';
import { readMetrics, repaeStep, type RepaeState } from '../../src/repae/step.js';
import { decodeRunConfig } from '../../src/train/config.js';
import { globalBatchNoise, loopParallel } from '../../src/train/distributed.js';

it('parallel hooks at world size 1 reproduce the plain step and leak no tensors', async () => {
  await useBackend('wasm');
  const cfg = decodeRunConfig({
    outputDir: mkdtempSync(join(tmpdir(), 'repae-dps-')), expName: 'run', backend: 'wasm', dataDir: 'builtin:shapes:64', resolution: 16, batchSize: 4, sitDepth: 2, sitHidden: 32,
    sitHeads: 2, encoderDepth: 1, projectorDim: 32, patchSize: 4, vaeCh: 32, vaeChMult: [1, 1], discNdf: 4, discLayers: 1, perceptualWeight: 0, encoderSteps: 3,
  });
  const data = openDataset(cfg);
  const enc = await buildEncoder(cfg, data, undefined, () => {}, cfg.encoderSteps);
  const setup = setupRun(cfg, enc.spec.dim);
  const par = loopParallel(singleProcessCollective(), setup);
  const run = async (parallel: boolean, steps: number): Promise<[RepaeState, Record<string, number>[], number[]]> => {
    const counts: number[] = [];
    let s = await initRunState(setup, data, enc, () => {});
    const logs: Record<string, number>[] = [];
    for (let i = 0; i < steps; i++) {
      const b = parallel ? par.batch(data, setup, s.step) : batchAt(data, setup, s.step);
      const zs = [enc.features(b.pixels, b.x)];
      const inject = parallel ? par.inject(s.step) : {};
      const [next, m] = repaeStep(parallel ? par.stepConfig : setup.step, s, { x: b.x, y: b.y, zs }, parallel ? par.stepKey : setup.stepKey, inject);
      logs.push(await readMetrics(m));
      releaseOld([b, zs, inject], null);
      s = next;
      counts.push(tf.memory().numTensors);
    }
    return [s, logs, counts];
  };
  const [plain, lp, cp] = await run(false, 3);
  const [par1, lq, cq] = await run(true, 3);
  // Flat from step 2 on (step 1 allocates the optimizer moments), and the same count as the plain step.
  expect(cq[2]).toBe(cq[1]);
  expect(cq[2]! - cp[2]!).toBe(cq[1]! - cp[1]!);
  for (const [k, v] of Object.entries(lp[2] as Record<string, number>)) expect(Math.abs(v - (lq[2] as Record<string, number>)[k]!), k).toBeLessThan(1e-5 * (1 + Math.abs(v)));
  const a = await plain.store.sit.xEmbedder.w.data(), b = await par1.store.sit.xEmbedder.w.data();
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  expect(d).toBeLessThan(1e-6);
  // The injected randomness is the step's own draw: rows of the global batch.
  const g = globalBatchNoise(setup, 0, 0, 4), h = globalBatchNoise(setup, 0, 2, 4);
  expect(Array.from(await h.noise!.data())).toEqual(Array.from(await g.noise!.data()).slice((await g.noise!.data()).length / 2));
  // A consumed state, passed again, fails naming the step that consumed it (not tfjs's "Tensor is disposed").
  const s0 = await initRunState(setup, data, enc, () => {});
  const b0 = batchAt(data, setup, 0);
  const batch = { x: b0.x, y: b0.y, zs: [enc.features(b0.pixels, b0.x)] };
  const [s1, m1] = repaeStep(setup.step, s0, batch, setup.stepKey);
  await readMetrics(m1);
  expect(() => repaeStep(setup.step, s0, batch, setup.stepKey)).toThrow(ConsumedStateError);
  expect(() => repaeStep(setup.step, s0, batch, setup.stepKey)).toThrow(/repaeStep: the state passed in was consumed by repaeStep \(step 0 → 1\).*Use the state that repaeStep returned/);
  releaseOld([plain, par1, g, h, s1, b0, batch, enc.weights], null);
}, 300_000);
