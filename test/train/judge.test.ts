/** The judge of the main job: trained on fresh images of its own key, it labels better than chance, never sees the run's images, and leaks nothing. */
import { expect, it } from 'vitest';
import { useBackend } from '../../src/backends/index.js';
import { tensor } from '../../src/core/ops/index.js';
import { dispose, numTensors } from '../../src/core/scope.js';
import { flatten } from '../../src/core/tree.js';
import { key } from '../../src/core/rng.js';
import { syntheticDataset } from '../../src/data/synthetic.js';
import { decodeRunConfig } from '../../src/train/config.js';
import { judgeAccuracy, judgeImages, judgeLabels, judgeRecord, judgeWeights, restoreJudge, trainJudge } from '../../src/train/judge.js';
import { readSafetensors, writeSafetensors } from '../../src/io/safetensors.js';
import { openDataset, setupRun } from '../../src/train/run.js';

const cfg = decodeRunConfig({
  outputDir: '/tmp/unused', expName: 'run', backend: 'wasm', dataDir: 'builtin:shapes:64', resolution: 16, batchSize: 16, sitDepth: 2, sitHidden: 32, sitHeads: 2,
  encoderDepth: 1, projectorDim: 32, patchSize: 4, vaeCh: 32, vaeChMult: [1, 1], discNdf: 4, discLayers: 1, perceptualWeight: 0,
});

it('trainJudge: better than chance on fresh images, its accuracy agrees with its labels, no tensor leaks', async () => {
  await useBackend('wasm');
  const setup = setupRun(cfg, 96);
  const before = numTensors();
  const lines: string[] = [];
  const j = await trainJudge(setup, (s) => lines.push(s), { steps: 60, batchSize: 16, testSize: 100 });
  expect(lines.some((l) => l.startsWith('  judge step 60/60'))).toBe(true);
  expect(j.trainImages).toBe(960);
  expect(j.testAccuracy).toBeGreaterThan(0.25); // chance is 0.1
  expect(j.origin).toMatch(/960 freshly generated images .* on 100 further fresh images/);
  // judgeAccuracy is the fraction of judgeLabels that match, on any images
  const ds = syntheticDataset({ key: key(5), length: 20, imageSize: 16 });
  const px = new Float32Array(20 * 16 * 16 * 3);
  for (let i = 0; i < 20; i++) px.set(Array.from(ds.load(i).data, (v) => v / 127.5 - 1), i * 768);
  const x = tensor(px, [20, 16, 16, 3]);
  const labels = Array.from({ length: 20 }, (_, i) => ds.label(i));
  const pred = await judgeLabels(j, x);
  expect(await judgeAccuracy(j, x, labels)).toBeCloseTo(labels.filter((c, i) => pred[i] === c).length / 20, 12);
  await expect(judgeAccuracy(j, x, labels.slice(1))).rejects.toThrow(/20 images but 19 labels/);
  dispose(x);
  expect(numTensors() - before).toBe(flatten(j.params).length);
  dispose(j.params);
  expect(numTensors()).toBe(before);
});

it('the judge trains on images of its own key, none of them the run\'s', async () => {
  await useBackend('wasm');
  const run = openDataset(cfg);
  const seen = new Set(Array.from({ length: run.length }, (_, i) => Buffer.from(run.load(i).data).toString('base64')));
  const mine = judgeImages(setupRun(cfg, 96), { steps: 20, batchSize: 16 });
  expect(mine.length).toBe(320);
  for (let i = 0; i < mine.length; i++) expect(seen.has(Buffer.from(mine.load(i).data).toString('base64'))).toBe(false);
  // the check can fail: the run's own images are all in `seen`
  expect(seen.has(Buffer.from(run.load(3).data).toString('base64'))).toBe(true);
});

it('a saved judge restores to the same labels and is measured again on images it never saw', async () => {
  await useBackend('wasm');
  const setup = setupRun(cfg, 96);
  const j = await trainJudge(setup, () => undefined, { steps: 20, batchSize: 16, testSize: 50 });
  const file = readSafetensors(writeSafetensors(await judgeWeights(j)));
  const before = numTensors();
  const lines: string[] = [];
  const r = await restoreJudge(setup, file, judgeRecord(j, 20, 16), 'shipped in X', (l) => lines.push(l), { testSize: 50 });
  expect(r.trainImages).toBe(320);
  expect(r.origin).toMatch(/trained separately \(shipped in X\) for 20 steps of batch 16 on 320 freshly generated images.*on 50 further fresh images drawn now/);
  expect(lines).toEqual([`judge: ${r.origin}`]);
  const ds = syntheticDataset({ key: key(9), length: 12, imageSize: 16 });
  const px = new Float32Array(12 * 16 * 16 * 3);
  for (let i = 0; i < 12; i++) px.set(Array.from(ds.load(i).data, (v) => v / 127.5 - 1), i * 768);
  const x = tensor(px, [12, 16, 16, 3]);
  expect(Array.from(await judgeLabels(r, x))).toEqual(Array.from(await judgeLabels(j, x)));
  dispose([x, r.params]);
  expect(numTensors()).toBe(before);
  const bad = readSafetensors(writeSafetensors(new Map([...(await judgeWeights(j)).entries()].slice(1))));
  dispose(j.params);
  const n = numTensors();
  await expect(restoreJudge(setup, bad, judgeRecord(j, 20, 16), 'X', () => undefined)).rejects.toThrow(/checkpoint section 'judge' has no tensor '[^']+'/);
  expect(numTensors()).toBe(n);
}, 120_000);
