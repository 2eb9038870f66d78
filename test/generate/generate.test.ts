/** generate(): shapes and files, resumable batches, label modes, decoding through the EMA BN statistics, memory. */
import { constant } from '../../src/core/tensor.js';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useBackend, type BackendName } from '../../src/backends/index.js';
import { key } from '../../src/core/rng.js';
import { dispose } from '../../src/core/scope.js';
import type { T } from '../../src/core/tensor.js';
import { batchLabels, finishedBatches, generate, GenerateError, type GenerateModels } from '../../src/generate/generate.js';
import { denormalizeLatents, latentStatsFromBn, loadRunModels, ModelLoadError, normalizeLatents, type LoadedModels } from '../../src/generate/models.js';
import { readNpz } from '../../src/io/npz.js';
import { decodePng } from '../../src/io/png.js';
import { testBackends } from '../helpers/backends.js';
import { TINY_BIAS, TINY_SCALE, writeTinyRun } from './tiny-run.js';

const backend = (testBackends.includes('wasm') ? 'wasm' : testBackends[0]) as BackendName;
const tmp = mkdtempSync(join(tmpdir(), 'repae-gen-'));
let run = '';
let m: LoadedModels;
let models: GenerateModels;

beforeAll(async () => {
  await useBackend(backend);
  run = await writeTinyRun(tmp);
  m = await loadRunModels(run);
  models = { sit: m.sit.sit, sitCfg: m.sitCfg, vae: m.vae, vaeCfg: m.vaeCfg, stats: m.stats };
});
afterAll(() => {
  if (m !== undefined) dispose([m.sit, m.vae]);
  rmSync(tmp, { recursive: true, force: true });
});

describe.runIf(testBackends.length > 0)(`generate [${backend}]`, () => {
  it('loads the run: configs inferred from the official state dicts, latent stats from the EMA BatchNorm', async () => {
    expect(m.step).toBe(100);
    expect([m.sitCfg.depth, m.sitCfg.hiddenSize, m.sitCfg.numHeads, m.sitCfg.patchSize, m.sitCfg.inputSize, m.sitCfg.inChannels, m.sitCfg.numClasses]).toEqual([2, 32, 2, 2, 8, 4, 4]);
    expect(m.sitCfg.zDims).toEqual([8]);
    expect([m.vaeCfg.ch, m.vaeCfg.embedDim, [...m.vaeCfg.chMult]]).toEqual([32, 4, [1, 2]]);
    expect(Array.from(m.stats.scale)).toEqual(TINY_SCALE.map((s) => Math.fround(1 / Math.sqrt(Math.fround((1 / s) ** 2)))));
    expect(Array.from(m.stats.bias)).toEqual(TINY_BIAS.map(Math.fround));
    // z/scale + bias, and back
    const z = constant(tf.tensor([1, 1, 1, 1, 2, 2, 2, 2], [1, 1, 2, 4]));
    const d = denormalizeLatents(z, m.stats), back = normalizeLatents(d, m.stats);
    expect(await d.data()).toBeAllclose([2.1, 0.3, 1.3, 4, 4.1, 0.8, 2.3, 8], 1e-6);
    expect(await back.data()).toBeAllclose(await z.data(), 1e-6);
    dispose([z, d, back]);
    const st = await latentStatsFromBn(m.sit.bn);
    expect(Array.from(st.scale)).toEqual(Array.from(m.stats.scale));
  });

  it('writes the ADM npz (uint8 [N, H, W, 3] + labels) and a PNG grid, and leaves no tensors', async () => {
    const before = tf.memory().numTensors;
    const out = join(tmp, 'a');
    const r = await generate(models, { numSamples: 10, batchSize: 4, numSteps: 3, outDir: out, name: 's', progress: false, labels: 'balanced' });
    expect(tf.memory().numTensors).toBe(before);
    expect([r.numBatches, r.sampled, r.reused]).toEqual([3, 3, 0]);
    const a = readNpz(new Uint8Array(readFileSync(r.npz)));
    expect([...a.keys()]).toEqual(['arr_0', 'labels']);
    expect(a.get('arr_0')?.dtype).toBe('uint8');
    expect(a.get('arr_0')?.shape).toEqual([10, 16, 16, 3]);
    expect(Array.from(a.get('labels')?.data ?? [])).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
    const png = decodePng(new Uint8Array(readFileSync(r.grid as string)));
    // ⌈√10⌉ = 4 per row, 3 rows, 2 px padding: 4·18 + 2 = 74 wide, 3·18 + 2 = 56 high
    expect([png.width, png.height]).toEqual([74, 56]);
    expect(existsSync(r.workDir)).toBe(false);
  });

  it('resumes: finished batches in the work dir are skipped and the result is identical', async () => {
    const full = await generate(models, { numSamples: 9, batchSize: 3, numSteps: 2, sampler: 'heun', seed: 5, outDir: join(tmp, 'ref'), progress: false });
    const out = join(tmp, 'resume');
    const stop = new Error('interrupted');
    await expect(generate(models, {
      numSamples: 9, batchSize: 3, numSteps: 2, sampler: 'heun', seed: 5, outDir: out, progress: false,
      onBatch: (e) => { if (e.batch === 1) throw stop; },
    })).rejects.toBe(stop);
    expect(finishedBatches(join(out, 'samples.work'))).toEqual(['batch-000000.npz', 'batch-000001.npz']);
    const seen: boolean[] = [];
    const r = await generate(models, { numSamples: 9, batchSize: 3, numSteps: 2, sampler: 'heun', seed: 5, outDir: out, progress: false, onBatch: (e) => seen.push(e.reused) });
    expect(seen).toEqual([true, true, false]);
    expect([r.sampled, r.reused]).toEqual([1, 2]);
    expect(readFileSync(r.npz).equals(readFileSync(full.npz))).toBe(true);
  });

  it('refuses to resume a work dir started with other settings, naming the field', async () => {
    const out = join(tmp, 'mismatch');
    await generate(models, { numSamples: 2, batchSize: 2, numSteps: 1, outDir: out, progress: false, keepWork: true });
    await expect(generate(models, { numSamples: 2, batchSize: 2, numSteps: 2, outDir: out, progress: false })).rejects.toThrow(/numSteps = 1, now 2/);
  });

  it('redoes a damaged batch file instead of trusting it', async () => {
    const out = join(tmp, 'damaged');
    await generate(models, { numSamples: 4, batchSize: 2, numSteps: 1, outDir: out, progress: false, keepWork: true });
    writeFileSync(join(out, 'samples.work', 'batch-000001.npz'), 'garbage');
    const r = await generate(models, { numSamples: 4, batchSize: 2, numSteps: 1, outDir: out, progress: false });
    expect([r.sampled, r.reused]).toEqual([1, 1]);
  });

  it('samples with SDE + CFG on an interval, and checks its options', async () => {
    const r = await generate(models, { numSamples: 3, batchSize: 3, numSteps: 3, sampler: 'sde', cfgScale: 2, guidanceHigh: 0.7, outDir: join(tmp, 'sde'), progress: false, gridSize: 0 });
    expect(r.grid).toBeUndefined();
    expect(r.shape).toEqual([3, 16, 16, 3]);
    await expect(generate(models, { numSamples: 2, cfgScale: 0.5, outDir: tmp, progress: false })).rejects.toThrow(GenerateError);
    await expect(generate(models, { numSamples: 2, sampler: 'sde', numSteps: 1, outDir: tmp, progress: false })).rejects.toThrow(/numSteps/);
    await expect(generate(models, { numSamples: 2, labels: [0, 9], outDir: tmp, progress: false })).rejects.toThrow(/labels\[1\]/);
  });

  it('draws random labels from the batch key, class-balanced ones from the index', () => {
    expect(Array.from(batchLabels('balanced', key(0), 6, 4, 4))).toEqual([2, 3, 0, 1]);
    const a = batchLabels('random', key(3), 0, 64, 4);
    expect(Array.from(a)).toEqual(Array.from(batchLabels('random', key(3), 0, 64, 4)));
    expect(new Set(a).size).toBe(4);
  });

  it('names the path when a run has no checkpoint', async () => {
    const empty = join(tmp, 'empty-run');
    await expect(loadRunModels(empty)).rejects.toThrow(new RegExp(`${empty}: no such run`));
    writeFileSync(join(tmp, 'placeholder'), '');
    const noCk = mkdtempSync(join(tmp, 'nock-'));
    await expect(loadRunModels(noCk)).rejects.toThrow(ModelLoadError);
    await expect(loadRunModels(noCk)).rejects.toThrow(new RegExp(`no complete checkpoint in ${join(noCk, 'checkpoints')}`));
  });
});
